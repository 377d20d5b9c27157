"""One strategy, unchanged, on four brokers: ``SimulatedBroker``, ``AlpacaBroker`` against the
served Alpaca venue (alpaca-py), ``CcxtBroker`` against the served Binance venue (ccxt) and
``IbkrBroker`` against the local IB gateway (ib_async), each run by the same
:class:`~fillforge.strategy.Runner` on the same scripted prices: the same fills (the order they
belong to, side, price, quantity) on each (issue 20, "What to show").

The strategy (:class:`DipThenProtect`, a :class:`~fillforge.strategy.Strategy`) decides on its
own order events only, so what it does never depends on how fast a broker polls: it rests a bid
at the start; once the bid has filled, it sells a quarter at market and protects the rest with a
stop-limit. The test moves the market in three steps, each once the strategy has done what the
last step called for (the same on every broker). The simulated leg is the venues' own
``SimulatedBroker`` driven as the runner drives a live broker (its events on the runner's
thread; every call under one lock, as the servers' simulation thread serialises theirs), so the
scripted prices reach all four the same way.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any, cast

import pytest

from fillforge.broker import Broker
from fillforge.orders.enums import OrderSide, OrderStatus
from fillforge.orders.models import OrderRequest
from fillforge.sim.broker import SimulatedBroker
from fillforge.strategy import FillRecord, Runner, Strategy

D = Decimal
Script = Callable[[Callable[[SimulatedBroker], Any]], Any]
START_NS = 1_717_509_600_000_000_000  # 2024-06-04 10:00 New York: the US market is open


class DipThenProtect(Strategy):
    """Bid ``qty`` at ``entry``; when it has filled, sell a quarter at market and the rest on a
    stop-limit (``stop``, ``limit``)."""

    def __init__(self, symbol: str, qty: Decimal, entry: Decimal, stop: Decimal, limit: Decimal):
        self.symbol, self.qty = symbol, qty
        self.entry, self.stop, self.limit = entry, stop, limit
        self.entry_id: str | None = None
        self.protected = False

    def on_start(self) -> None:
        self.entry_id = self._send(side="buy", type="limit", qty=self.qty, limit_price=self.entry)

    def on_fill(self, fill: FillRecord) -> None:
        entry = self.ctx.broker.get_order(fill.order_id)
        if fill.order_id != self.entry_id or entry.status is not OrderStatus.FILLED:
            return
        if self.protected:
            return
        self.protected = True
        part = self.qty / 4
        self._send(side="sell", type="market", qty=part, time_in_force="day")
        self._send(
            side="sell",
            type="stop_limit",
            qty=self.qty - part,
            stop_price=self.stop,
            limit_price=self.limit,
        )

    def _send(self, **terms: Any) -> str:
        fields = {"symbol": self.symbol, "time_in_force": "gtc", **terms}
        return self.ctx.submit(OrderRequest.model_validate(fields)).id


class LiveSim:
    """A ``SimulatedBroker`` the runner drives as a live broker (every call under one lock, the
    events queued to the runner's thread); :meth:`script` moves its market under the same lock."""

    def __init__(self, sim: SimulatedBroker) -> None:
        self._sim = sim
        self._lock = threading.RLock()

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._sim, name)
        if not callable(attr):
            return attr

        def locked(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                return attr(*args, **kwargs)

        return locked

    def script(self, fn: Callable[[SimulatedBroker], Any]) -> Any:
        with self._lock:
            return fn(self._sim)


def _market(symbol: str, bid: str, ask: str, size: int = 1000) -> Callable[[SimulatedBroker], None]:
    def move(b: SimulatedBroker) -> None:
        b.quote(symbol, D(bid), D(ask), bid_size=D(size), ask_size=D(size))

    return move


def _print(symbol: str, price: str) -> Callable[[SimulatedBroker], None]:
    def trade(b: SimulatedBroker) -> None:
        b.trade(symbol, D(price), D(1000), aggressor=OrderSide.SELL)

    return trade


def _until(check: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"not in time: {what}"
        time.sleep(0.01)


def run_everywhere(broker: Broker, symbol: str, venue: str, script: Script) -> list[Any]:
    """The strategy on ``broker`` (``venue``: the symbol the venue knows), the three market
    steps, and the fills: (order number, side, price, quantity)."""
    strategy = DipThenProtect(symbol, D(20), D("99.95"), D("99.50"), D("99.40"))
    runner = Runner(strategy, broker, symbols=[symbol], equity_every="none")
    ran = threading.Thread(target=lambda: runner.run(timeout_s=60), daemon=True)
    script(_market(venue, "100.00", "100.02"))
    ran.start()

    def mine(open_only: bool = False) -> list[Any]:
        return broker.orders(open_only=open_only, symbol=symbol)

    try:
        _until(lambda: len(mine(True)) == 1, "the bid rests")
        script(_market(venue, "99.90", "99.94"))  # the offer comes down through the bid
        _until(lambda: len(mine(True)) == 1 and len(mine()) == 3, "the exits are placed")
        script(_market(venue, "99.48", "99.52"))
        script(_print(venue, "99.50"))  # the stop's print
        _until(lambda: not mine(True) and strategy.protected, "every order is done")
        _until(lambda: sum(o.cum_qty for o in mine()) == D(40), "the fills are known")
    finally:
        runner.stop()
        ran.join(timeout=30)
    assert runner.result is not None
    number = {o.id: i for i, o in enumerate(sorted(mine(), key=lambda o: o.created_ts))}
    return [
        (number[f.order_id], f.side.value, f.price, f.qty)
        for f in sorted(runner.result.fills, key=lambda f: (number[f.order_id], f.time_ns))
    ]


EXPECTED = [
    (0, "buy", D("99.94"), D(20)),
    (1, "sell", D("99.90"), D(5)),
    (2, "sell", D("99.48"), D(15)),
]


@contextmanager
def simulated() -> Iterator[tuple[Broker, Script]]:
    from fillforge.binance import scripted_broker

    live = LiveSim(scripted_broker(start_ns=START_NS, cash=D(10_000)))
    yield cast(Broker, live), live.script


@contextmanager
def alpaca() -> Iterator[tuple[Broker, Script]]:
    from fillforge.alpaca import AlpacaServer
    from fillforge.alpaca import scripted_broker as alpaca_venue
    from fillforge.alpaca.broker import AlpacaBroker

    sim = alpaca_venue(("AAPL",), start_ns=START_NS)
    key, secret = f"PK{secrets.token_hex(8).upper()}", secrets.token_urlsafe(24)
    with AlpacaServer(sim, key_id=key, secret_key=secret) as server:
        broker = AlpacaBroker(
            key, secret, url_override=server.base_url, stream_url=server.stream_url
        )
        with broker:
            yield broker, server.call


@contextmanager
def ccxt_binance() -> Iterator[tuple[Broker, Script]]:
    import ccxt

    from fillforge.binance import BinanceServer, scripted_broker
    from fillforge.venues.ccxt import CcxtBroker

    key, secret = secrets.token_hex(16), secrets.token_hex(32)
    sim = scripted_broker(start_ns=START_NS, cash=D(10_000))
    with BinanceServer(sim, api_key=key, secret_key=secret, speed=None) as server:
        ex = ccxt.binance({"apiKey": key, "secret": secret, "urls": {"api": server.urls}})
        with CcxtBroker(ex, poll_every=0.05) as broker:
            yield broker, server.call


@contextmanager
def ibkr() -> Iterator[tuple[Broker, Script]]:
    from fillforge.ibkr import IbGateway
    from fillforge.ibkr import scripted_broker as ib_venue
    from fillforge.venues.ibkr import IbkrBroker

    sim = ib_venue(["AAPL"], start_ns=START_NS)
    with (
        IbGateway(sim) as gateway,
        IbkrBroker(port=gateway.port, client_id=7, reconnect_every=0.05) as broker,
    ):
        yield broker, gateway.call


LEGS = {
    "simulated": (simulated, "BTCUSDT", "BTCUSDT"),
    "alpaca": (alpaca, "AAPL", "AAPL"),
    "ccxt-binance": (ccxt_binance, "BTC/USDT", "BTCUSDT"),
    "ibkr": (ibkr, "AAPL", "AAPL"),
}


@pytest.mark.parametrize("leg", sorted(LEGS))
def test_the_same_strategy_gets_the_same_fills_on_every_broker(leg: str) -> None:
    make, symbol, venue = LEGS[leg]
    with make() as (broker, script):
        assert run_everywhere(broker, symbol, venue, script) == EXPECTED
