"""IbkrBroker on unmodified ib_async against the local IB gateway over real sockets: orders,
brackets, OCO, modify, cancel, commissions, positions, the account; a connection dropped while
a fill happens, then reconnected: the fill is applied exactly once; through JournalledBroker."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from polling import wait_for

pytest.importorskip("ib_async")

from fillforge.broker import Broker
from fillforge.errors import BrokerUnavailableError, IbkrError, OrderValidationError
from fillforge.ibkr import IbGateway, scripted_broker
from fillforge.journal import Journal
from fillforge.journal.broker import JournalledBroker
from fillforge.journal.rebuild import rebuild
from fillforge.orders.enums import OrderSide, OrderStatus
from fillforge.orders.models import OrderRequest, StopLoss, TakeProfit
from fillforge.sim.broker import SimulatedBroker
from fillforge.time import WallClock
from fillforge.venues.ibkr import IbkrBroker

D = Decimal


@pytest.fixture
def gateway() -> Iterator[IbGateway]:
    sim = scripted_broker(["AAPL", "MSFT"], start_ns=WallClock().now_ns())
    sim.quote("AAPL", D("100.00"), D("100.02"), bid_size=D(500), ask_size=D(500))
    sim.quote("MSFT", D("300.00"), D("300.05"))
    with IbGateway(sim) as g:
        yield g


@pytest.fixture
def broker(gateway: IbGateway) -> Iterator[IbkrBroker]:
    with IbkrBroker(port=gateway.port, client_id=9, reconnect_every=0.05, timeout=10) as b:
        yield b


def limit(side: str, qty: int, price: str, **extra: object) -> OrderRequest:
    return OrderRequest(
        symbol="AAPL",
        side=OrderSide(side),
        type="limit",
        time_in_force="gtc",
        qty=D(qty),
        limit_price=D(price),
        **extra,  # type: ignore[arg-type]
    )


def market(side: str, qty: int, symbol: str = "AAPL") -> OrderRequest:
    return OrderRequest(symbol=symbol, side=OrderSide(side), type="market", qty=D(qty))


def buyers_take(gateway: IbGateway, price: str) -> None:
    """A print at ``price`` lifting every offer up to it (1000 shares)."""

    def run(sim: SimulatedBroker) -> None:
        sim.trade("AAPL", D(price), D(1000), aggressor=OrderSide.BUY)

    gateway.call(run)


def test_it_is_a_broker(broker: IbkrBroker) -> None:
    assert isinstance(broker, Broker)


def test_instrument_from_contract_details(broker: IbkrBroker) -> None:
    inst = broker.instrument("AAPL")
    assert (inst.tick_size, inst.lot_size, inst.min_qty) == (D("0.01"), 1, 1)
    with pytest.raises(OrderValidationError) as e:
        broker.instrument("NOPE")
    assert e.value.field == "symbol"


def test_market_order_fills_with_commission_and_position(broker: IbkrBroker) -> None:
    o = broker.submit(market("buy", 10))
    wait_for(lambda: o.status is OrderStatus.FILLED)
    [fill] = o.fills.values()
    assert (fill.price, fill.qty, fill.commission) == (D("100.02"), 10, 1)
    assert broker.positions()["AAPL"].qty == 10
    # Whole share counts are integers, as Alpaca and the simulator report them (IB sends 10.0).
    assert (str(fill.qty), str(o.cum_qty), str(broker.positions()["AAPL"].qty)) == ("10",) * 3
    acct = broker.account()
    assert acct.cash == D(1_000_000) - D("1000.20") - 1
    assert acct.fees_paid == 1


def test_limit_rests_is_replaced_then_cancelled(broker: IbkrBroker) -> None:
    o = broker.submit(limit("buy", 5, "99.00"))
    wait_for(lambda: o.status is OrderStatus.NEW)
    broker.replace(o.id, limit_price=D("99.50"))
    assert o.status is OrderStatus.REPLACED
    [new] = broker.orders(open_only=True)
    assert (new.limit_price, new.order_qty) == (D("99.50"), 5)
    broker.cancel(new.id)
    wait_for(lambda: new.status is OrderStatus.CANCELED)


def test_stop_waits_for_the_market(broker: IbkrBroker, gateway: IbGateway) -> None:
    o = broker.submit(
        OrderRequest(symbol="AAPL", side="buy", type="stop", qty=D(3), stop_price=D("101.00"))
    )
    wait_for(lambda: o.status is OrderStatus.NEW)
    buyers_take(gateway, "101.00")
    wait_for(lambda: o.status is OrderStatus.FILLED)


def test_bracket_entry_fills_then_take_profit_cancels_stop(
    broker: IbkrBroker, gateway: IbGateway
) -> None:
    entry = broker.submit(
        limit(
            "buy",
            3,
            "100.02",
            order_class="bracket",
            take_profit=TakeProfit(limit_price=D("101.00")),
            stop_loss=StopLoss(stop_price=D("99.00")),
        )
    )
    assert entry.group_id is not None
    group = broker.manager.groups[entry.group_id]
    take, stop = group.exits
    wait_for(lambda: entry.status is OrderStatus.FILLED)
    wait_for(lambda: take.status is OrderStatus.NEW and stop.status is OrderStatus.NEW)
    buyers_take(gateway, "101.00")
    wait_for(lambda: take.status is OrderStatus.FILLED)
    wait_for(lambda: stop.status is OrderStatus.CANCELED)
    wait_for(lambda: "AAPL" not in broker.positions())


def test_oco_one_fill_cancels_the_other(broker: IbkrBroker, gateway: IbGateway) -> None:
    broker.submit(market("buy", 2))
    wait_for(lambda: broker.positions().get("AAPL") is not None)
    first = broker.submit(
        OrderRequest(
            symbol="AAPL",
            side="sell",
            type="limit",
            time_in_force="gtc",
            qty=D(2),
            order_class="oco",
            take_profit=TakeProfit(limit_price=D("101.00")),
            stop_loss=StopLoss(stop_price=D("98.00")),
        )
    )
    assert first.group_id is not None
    take, stop = broker.manager.groups[first.group_id].exits
    wait_for(lambda: take.status is OrderStatus.NEW and stop.status is OrderStatus.NEW)
    buyers_take(gateway, "101.00")
    wait_for(lambda: take.status is OrderStatus.FILLED)
    wait_for(lambda: stop.status is OrderStatus.CANCELED)


def test_cancel_all(broker: IbkrBroker) -> None:
    a = broker.submit(limit("buy", 1, "90.00"))
    b = broker.submit(limit("sell", 1, "110.00"))
    wait_for(lambda: a.status is OrderStatus.NEW and b.status is OrderStatus.NEW)
    broker.cancel_all()
    wait_for(lambda: a.status is OrderStatus.CANCELED and b.status is OrderStatus.CANCELED)


def test_bad_input_gets_typed_errors_and_sends_nothing(broker: IbkrBroker) -> None:
    with pytest.raises(OrderValidationError) as e:
        broker.submit(limit("buy", 1, "100.001"))
    assert e.value.field == "limit_price"
    with pytest.raises(OrderValidationError) as e:
        broker.submit(OrderRequest(symbol="AAPL", side="buy", type="market", notional=D(100)))
    assert e.value.field == "notional"
    o = broker.submit(limit("buy", 1, "99.00"))
    wait_for(lambda: o.status is OrderStatus.NEW)
    with pytest.raises(OrderValidationError):
        broker.replace(o.id, limit_price=D("99.001"))
    assert o.status is OrderStatus.NEW
    assert len(broker.orders()) == 1


def test_a_modify_ib_refuses_raises_ibkr_error_and_changes_nothing(broker: IbkrBroker) -> None:
    o = broker.submit(limit("buy", 1, "99.00"))
    wait_for(lambda: o.status is OrderStatus.NEW)
    with pytest.raises(IbkrError) as e:
        broker.replace(o.id, qty=D(100_000))  # beyond the account's buying power
    assert e.value.code == 321  # IB's validation error: the order works on unchanged
    assert o.status is OrderStatus.NEW
    assert o.order_qty == 1


def test_fill_while_disconnected_is_applied_exactly_once(
    broker: IbkrBroker, gateway: IbGateway
) -> None:
    resting = broker.submit(limit("sell", 4, "100.50"))
    wait_for(lambda: resting.status is OrderStatus.NEW)
    events = []
    broker.subscribe(events.append)
    gateway.drop(9)  # the network fails ...
    buyers_take(gateway, "100.50")  # ... while the order fills
    wait_for(lambda: broker.reconnects == 1, timeout=15)
    wait_for(lambda: resting.status is OrderStatus.FILLED)
    assert resting.cum_qty == 4
    assert len(resting.fills) == 1
    assert broker.reconcile() == 0  # read back again: nothing new
    assert sum(1 for e in events if e.fill is not None) == 1
    assert broker.positions()["AAPL"].qty == -4


def test_submit_while_down_is_sent_once_after_the_reconnect(
    broker: IbkrBroker, gateway: IbGateway
) -> None:
    broker.instrument("AAPL")  # known before the connection drops
    broker._auto = False  # hold the reconnect until the order has been tried
    gateway.drop(9)
    wait_for(lambda: not broker.connected)
    o = broker.submit(market("buy", 3))
    assert o.status is OrderStatus.PENDING_NEW
    broker.connect()
    wait_for(lambda: o.status is OrderStatus.FILLED)
    broker.reconcile()
    assert len(o.fills) == 1
    assert len(broker.executions()) == 1


def test_through_journalled_broker_fills_are_journalled_once(
    broker: IbkrBroker, gateway: IbGateway, tmp_path: Path
) -> None:
    journal = Journal.open(tmp_path / "ib.journal")
    jb = JournalledBroker(broker, journal)
    bought = jb.submit(market("buy", 6))
    resting = jb.submit(limit("sell", 6, "100.50"))
    wait_for(lambda: bought.status is OrderStatus.FILLED and resting.status is OrderStatus.NEW)
    gateway.drop(9)
    buyers_take(gateway, "100.50")
    wait_for(lambda: broker.reconnects == 1, timeout=15)
    wait_for(lambda: resting.status is OrderStatus.FILLED)
    broker.reconcile()
    jb.detach()
    journal.close()
    book = rebuild(Journal.open(tmp_path / "ib.journal", readonly=True))
    execs = {f.execution.execId for f in broker.executions()}
    assert set(book.fills) == execs
    assert len(execs) == 2


def test_partial_fill_then_replace_keeps_what_filled(
    broker: IbkrBroker, gateway: IbGateway
) -> None:
    o = broker.submit(limit("sell", 10, "100.50"))
    wait_for(lambda: o.status is OrderStatus.NEW)

    def lift(sim: SimulatedBroker, qty: int) -> None:  # the 500 offered at 100.02 first
        sim.trade("AAPL", D("100.50"), D(500 + qty), aggressor=OrderSide.BUY)
        sim.quote("AAPL", D("100.00"), D("100.02"), bid_size=D(500), ask_size=D(500))

    gateway.call(lambda sim: lift(sim, 4))
    wait_for(lambda: o.cum_qty == 4)
    assert o.status is OrderStatus.PARTIALLY_FILLED
    broker.replace(o.id, qty=D(7), limit_price=D("100.40"))  # 7 in all: 3 more, at 100.40
    [new] = broker.orders(open_only=True)
    assert (new.order_qty, new.limit_price, new.cum_qty) == (7, D("100.40"), 4)
    gateway.call(lambda sim: lift(sim, 10))
    wait_for(lambda: new.status is OrderStatus.FILLED)
    assert new.cum_qty == 7
    assert broker.positions()["AAPL"].qty == -7
    [ib_fill] = [f for f in broker.executions() if f.execution.shares == 3]
    assert ib_fill.execution.cumQty == 7  # one IB order throughout


def test_quote_and_trade_subscriptions_stream(broker: IbkrBroker, gateway: IbGateway) -> None:
    quotes: list[tuple[Decimal | None, Decimal | None]] = []
    trades: list[Decimal] = []
    stop_q = broker.subscribe_quotes("AAPL", lambda q: quotes.append((q.bid_price, q.ask_price)))
    stop_t = broker.subscribe_trades("AAPL", lambda t: trades.append(t.price))
    latest = broker.latest_quote("AAPL")
    assert latest is not None
    assert (latest.bid_price, latest.ask_price) == (D("100.00"), D("100.02"))
    gateway.call(lambda sim: sim.quote("AAPL", D("100.10"), D("100.12")))
    wait_for(lambda: (D("100.10"), D("100.12")) in quotes)
    buyers_take(gateway, "100.12")
    wait_for(lambda: D("100.12") in trades)
    stop_q()
    stop_t()
    seen = len(quotes)
    gateway.call(lambda sim: sim.quote("AAPL", D("100.20"), D("100.22")))
    latest = broker.latest_quote("AAPL")  # a snapshot now: the stream is cancelled
    assert latest is not None
    assert latest.bid_price == D("100.20")
    assert len(quotes) == seen


def test_same_orders_same_fills_as_the_simulated_broker_itself() -> None:
    """The same orders on a SimulatedBroker and through IbkrBroker -> gateway -> an identical
    SimulatedBroker: the same fills (price, quantity, commission), in the same order."""

    def venue() -> SimulatedBroker:
        sim = scripted_broker(["AAPL"], start_ns=1_700_000_000_000_000_000)
        sim.quote("AAPL", D("100.00"), D("100.02"), bid_size=D(7), ask_size=D(9))
        return sim

    orders = [
        market("buy", 12),  # the 9 offered at 100.02; the rest finds nothing, cancelled
        limit("sell", 5, "100.00"),  # 5 of the 7 bid
        market("sell", 2),  # the other 2
        limit("buy", 4, "99.50"),  # rests, until a print at 99.50
    ]

    def script(sim: SimulatedBroker) -> None:
        sim.trade("AAPL", D("99.50"), D(50), aggressor=OrderSide.SELL)

    direct = venue()
    for r in orders:
        direct.submit(r)
    script(direct)
    want = [(f.price, f.qty, f.commission) for o in direct.orders() for f in o.fills.values()]
    with (
        IbGateway(venue(), speed=None) as g,
        IbkrBroker(port=g.port, client_id=3, timeout=10) as b,
    ):
        placed = []
        for r in orders:
            placed.append(b.submit(r))
            wait_for(lambda o=placed[-1]: o.status is not OrderStatus.PENDING_NEW)
        g.call(script)
        wait_for(lambda: sum(o.cum_qty for o in placed) == sum(o.cum_qty for o in direct.orders()))
        got = [(f.price, f.qty, f.commission) for o in placed for f in o.fills.values()]
    assert got == want
    assert len(want) >= 4


def test_no_gateway_is_a_typed_error() -> None:
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(BrokerUnavailableError) as e, IbkrBroker(port=port, timeout=2):
        pass
    assert e.value.field == "port"
    with pytest.raises(OrderValidationError):
        IbkrBroker(port=port, client_id=-1)


def test_requests_while_down_change_nothing(broker: IbkrBroker, gateway: IbGateway) -> None:
    o = broker.submit(limit("buy", 2, "99.00"))
    wait_for(lambda: o.status is OrderStatus.NEW)
    broker._auto = False  # stay down
    gateway.drop(9)
    wait_for(lambda: not broker.connected)
    with pytest.raises(BrokerUnavailableError):
        broker.cancel(o.id)
    assert o.status is OrderStatus.NEW
    with pytest.raises(BrokerUnavailableError):
        broker.replace(o.id, limit_price=D("99.10"))
    assert (o.status, o.limit_price) == (OrderStatus.NEW, D("99.00"))
    with pytest.raises(BrokerUnavailableError):
        broker.cancel_all()
    assert o.status is OrderStatus.NEW
    broker.connect()
    broker.cancel(o.id)
    wait_for(lambda: o.status is OrderStatus.CANCELED)
