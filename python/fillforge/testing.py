"""pytest plugin: a simulated venue and broker, ready for a strategy test.

Registered through the ``pytest11`` entry point, so installing fillforge makes the fixtures
available in any test suite::

    def test_dip_buyer_fills(sim):
        sim.quote("100.00", "100.02")
        order = sim.buy_limit("99.50", 100)
        sim.path("99.90", "99.45", "99.70")
        sim.assert_filled(order, qty=100, price="99.50")

Fixtures: ``sim`` (a :class:`SimHarness`), ``sim_broker``, ``sim_venue``, ``sim_instrument``;
``alpaca_server``: a running Alpaca-compatible server on 127.0.0.1 with scripted prices, whose
``key_id``, ``secret_key``, ``base_url`` and ``stream_url`` an unmodified alpaca-py client uses.
Everything is imported lazily, so the plugin costs nothing in suites that do not use it.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from fillforge.alpaca.server import AlpacaServer
    from fillforge.orders.models import Fill, Instrument, OrderRequest
    from fillforge.orders.order import Order
    from fillforge.sim.broker import SimulatedBroker
    from fillforge.sim.venue import Venue

Number = Decimal | int | str


def _d(x: Number) -> Decimal:
    return x if isinstance(x, Decimal) else Decimal(x)


class SimHarness:
    """A scripted market for one instrument on a simulated venue, and helpers to assert on it.

    Prices and sizes accept Decimal, int or str. The clock moves 1 ms per scripted event.
    """

    def __init__(self, broker: SimulatedBroker, symbol: str, step_ns: int = 1_000_000) -> None:
        self.broker = broker
        self.symbol = symbol
        self.step_ns = step_ns
        self._last: Decimal | None = None

    @property
    def instrument(self) -> Instrument:
        return self.broker.venue.market(self.symbol).instrument

    def _tick(self) -> int:
        return self.broker.now() + self.step_ns

    def quote(self, bid: Number | None, ask: Number | None, size: Number = 100) -> None:
        """Show ``bid`` / ``ask`` (None: empty side) with ``size`` on each."""
        self.broker.quote(
            self.symbol,
            None if bid is None else _d(bid),
            None if ask is None else _d(ask),
            bid_size=_d(size),
            ask_size=_d(size),
            ts=self._tick(),
        )

    def trade(self, price: Number, qty: Number = 100, *, aggressor: str = "sell") -> None:
        """Print a trade; ``aggressor`` "sell" takes the bids, "buy" the offers."""
        from fillforge.orders.enums import OrderSide

        side = OrderSide.SELL if aggressor == "sell" else OrderSide.BUY
        self.broker.trade(self.symbol, _d(price), _d(qty), aggressor=side, ts=self._tick())
        self._last = _d(price)

    def path(self, *prices: Number, qty: Number = 100) -> None:
        """A scripted price path. At each price, a trade takes everything resting at or through
        it on the side the price moved toward (a fall sells into the bids, so a resting bid at or
        above it fills at its own price), then a one-tick-wide quote of ``qty`` shows around it."""
        inst = self.instrument
        sweep = inst.lot_size * 10**15
        for p in map(_d, prices):
            falling = self._last is not None and p < self._last
            self.trade(p, sweep, aggressor="sell" if falling else "buy")
            tick = inst.tick_size
            self.quote(p if falling else p - tick, p + tick if falling else p, size=qty)

    def submit(self, request: OrderRequest) -> Order:
        return self.broker.submit(request)

    def buy_limit(self, price: Number, qty: Number, tif: str = "gtc") -> Order:
        return self._limit("buy", price, qty, tif)

    def sell_limit(self, price: Number, qty: Number, tif: str = "gtc") -> Order:
        return self._limit("sell", price, qty, tif)

    def market(self, side: str, qty: Number) -> Order:
        from fillforge.orders.enums import OrderSide, OrderType
        from fillforge.orders.models import OrderRequest

        return self.broker.submit(
            OrderRequest(
                symbol=self.symbol, side=OrderSide(side), type=OrderType.MARKET, qty=_d(qty)
            )
        )

    def _limit(self, side: str, price: Number, qty: Number, tif: str) -> Order:
        from fillforge.orders.enums import OrderSide, OrderTimeInForce, OrderType
        from fillforge.orders.models import OrderRequest

        return self.broker.submit(
            OrderRequest(
                symbol=self.symbol,
                side=OrderSide(side),
                type=OrderType.LIMIT,
                time_in_force=OrderTimeInForce(tif),
                qty=_d(qty),
                limit_price=_d(price),
            )
        )

    def fills(self, order: Order) -> list[Fill]:
        """The fills of ``order`` and of the orders it replaced or that replaced it."""
        chain = self.broker.manager.chain(order.id)
        return list(chain[-1].fills.values())

    def assert_filled(
        self, order: Order, *, qty: Number | None = None, price: Number | None = None
    ) -> None:
        """Assert ``order`` filled ``qty`` (default: all of it), each fill at ``price`` if given."""
        o = self.broker.manager.chain(order.id)[-1]
        want = o.order_qty if qty is None else _d(qty)
        assert o.cum_qty == want, f"{o.id}: filled {o.cum_qty}, expected {want} ({o.status})"
        if price is not None:
            prices = sorted({f.price for f in o.fills.values()})
            assert prices == [_d(price)], f"{o.id}: fill prices {prices}, expected {price}"

    def assert_unfilled(self, order: Order) -> None:
        o = self.broker.manager.chain(order.id)[-1]
        assert o.cum_qty == 0, f"{o.id}: filled {o.cum_qty}, expected nothing ({o.status})"


@pytest.fixture
def sim_instrument() -> Instrument:
    """``TEST``: a US equity on a one-cent tick, one-share lots."""
    from fillforge.orders.models import Instrument

    return Instrument(symbol="TEST", tick_size=Decimal("0.01"))


@pytest.fixture
def sim_venue(sim_instrument: Instrument) -> Venue:
    """A venue without sessions or latency, listing ``sim_instrument`` on a scripted feed."""
    from fillforge.sim.feeds import empty_feed
    from fillforge.sim.venue import Venue

    venue = Venue("TESTX", calendar=None)
    venue.add(sim_instrument, empty_feed())
    return venue


@pytest.fixture
def sim_broker(sim_venue: Venue) -> SimulatedBroker:
    """A :class:`~fillforge.sim.broker.SimulatedBroker` with 1,000,000 in cash."""
    from fillforge.sim.broker import SimulatedBroker

    return SimulatedBroker(sim_venue, cash=Decimal(1_000_000))


@pytest.fixture
def sim(sim_broker: SimulatedBroker, sim_instrument: Instrument) -> SimHarness:
    """A :class:`SimHarness` on ``sim_broker`` for ``sim_instrument``."""
    return SimHarness(sim_broker, sim_instrument.symbol)


#: When the ``alpaca_server`` fixture's clock starts: a Monday at 10:00 New York time, in regular
#: hours (an epoch-nanosecond instant). Override the ``alpaca_server_start`` fixture for another.
ALPACA_SERVER_START_NS: int = 1_795_446_000 * 10**9  # 2026-11-23T10:00:00-05:00


@pytest.fixture
def alpaca_server_start() -> int:
    """The instant (epoch ns) the ``alpaca_server`` fixture's clock starts at:
    :data:`ALPACA_SERVER_START_NS` unless a suite overrides this fixture. A fixed instant, so a
    test's outcome never depends on the hour it runs."""
    return ALPACA_SERVER_START_NS


@pytest.fixture
def alpaca_server(alpaca_server_start: int) -> Iterator[AlpacaServer]:
    """An Alpaca-compatible server on an ephemeral 127.0.0.1 port, trading ``AAPL``, ``MSFT`` and
    ``SPY`` on scripted prices (``server.call(lambda b: b.quote(...))``), 100,000 in cash, a
    fresh random key pair; its clock starts at ``alpaca_server_start`` (a weekday in regular
    hours) and then runs at the wall clock's pace."""
    import secrets

    from fillforge.alpaca import AlpacaServer, scripted_broker

    broker = scripted_broker(("AAPL", "MSFT", "SPY"), start_ns=alpaca_server_start)
    server = AlpacaServer(
        broker, key_id=f"PK{secrets.token_hex(8).upper()}", secret_key=secrets.token_urlsafe(24)
    )
    with server:
        yield server
