"""The kill switch cancels every open order and flattens every position, on ``SimulatedBroker``
(without latency, and with cancels in flight: the flattening waits for them) and on the served
paper account (``AlpacaBroker`` against ``fillforge serve alpaca`` in another process). It is
idempotent, bypasses the halted state it sets, and fires by hand or on a breach."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
from order_helpers import gtc_limit
from polling import eventually
from served_helpers import SCRIPTED_AAPL_MSFT, alpaca_broker
from test_risk_limits import SYMBOLS, Desk

from fillforge.alpaca import ServedAlpaca, served_alpaca
from fillforge.orders.enums import OrderSide, OrderStatus, OrderType
from fillforge.orders.models import Instrument, OrderRequest
from fillforge.risk import (
    Breach,
    MaxOrderQty,
    MaxPosition,
    RiskEvent,
    RiskGate,
    RiskManager,
    TradingState,
)
from fillforge.sim.broker import SimulatedBroker
from fillforge.sim.feeds import empty_feed
from fillforge.sim.latency import Delay, LatencyModel
from fillforge.sim.venue import Venue

D = Decimal
MS = 1_000_000


def _book(d: Desk) -> None:
    """Long AAA, short BBB, and resting orders in AAA, BBB and CCC."""
    d.market("AAA", "buy", 100)
    d.market("BBB", "sell", 40)
    d.limit("AAA", "buy", 10, "95.00")
    d.limit("BBB", "sell", 5, "105.00")
    d.limit("CCC", "buy", 7, "90.00")
    assert len(d.broker.orders(open_only=True)) == 3


def test_kill_cancels_everything_and_flattens_long_and_short() -> None:
    d = Desk([])
    _book(d)
    seen: list[RiskEvent] = []
    d.manager.subscribe(seen.append)
    report = d.gate.kill(flatten=True, reason="fat finger upstream")
    assert len(report.canceled) == 3
    assert len(report.flattening) == 2
    assert report.failed == {}
    d.broker.run()
    assert d.broker.orders(open_only=True) == []
    assert d.broker.positions() == {}
    flat = [d.broker.get_order(i) for i in report.flattening]
    assert {(o.symbol, o.request.side, o.request.type, o.order_qty) for o in flat} == {
        ("AAA", OrderSide.SELL, OrderType.MARKET, 100),
        ("BBB", OrderSide.BUY, OrderType.MARKET, 40),
    }
    assert all(o.status is OrderStatus.FILLED for o in flat)
    assert d.manager.state is TradingState.HALTED
    assert d.manager.killed
    kinds = [e.kind for e in seen]
    assert kinds[0] == "state"
    assert kinds.count("flatten") == 2
    assert "kill" in kinds
    assert d.manager.counters["kill_switch"] == 1
    d.denied(d.market("AAA", "buy", 1), "halted")  # halted until reset by hand
    d.manager.reset("resolved")
    d.passed(d.market("AAA", "buy", 1))


def test_kill_without_flatten_keeps_the_positions() -> None:
    d = Desk([])
    _book(d)
    report = d.gate.kill()
    assert report.flattening == ()
    assert d.broker.orders(open_only=True) == []
    assert {s: p.qty for s, p in d.broker.positions().items()} == {"AAA": 100, "BBB": -40}


def _slow_desk() -> Desk:
    """A desk whose orders and cancels take 5 ms to reach the venue."""
    d = Desk([])
    venue = Venue(
        "SLOW",
        calendar=None,
        latency=LatencyModel(entry=Delay.fixed(5 * MS), cancel=Delay.fixed(5 * MS)),
    )
    for s in SYMBOLS:
        venue.add(Instrument(symbol=s), empty_feed())
    d.broker = SimulatedBroker(venue, cash=D(100_000), start_ns=10**9)
    for s in SYMBOLS:
        d.price(s, "100.00")
    d.manager = RiskManager(d.broker, [], refresh_ns=0)
    d.gate = RiskGate(d.broker, manager=d.manager)
    return d


def test_with_cancels_in_flight_the_flattening_waits_and_a_second_kill_adds_nothing() -> None:
    d = _slow_desk()
    d.market("AAA", "buy", 100)
    d.limit("AAA", "buy", 10, "95.00")
    d.broker.run(until_ns=d.broker.now() + 10 * MS)
    assert d.broker.positions()["AAA"].qty == 100
    first = d.gate.kill(flatten=True)
    assert len(first.canceled) == 1
    assert first.flattening == ()
    assert first.waiting == ("AAA",)  # its buy may still fill: flatten once it is gone
    again = d.gate.kill(flatten=True)
    assert (again.canceled, again.flattening) == ((), ())  # the cancel is already asked
    d.broker.run(until_ns=d.broker.now() + 6 * MS)  # the cancel lands; the flattening goes
    flat = d.manager.kill_switch.flattening
    assert list(flat.values()) == ["AAA"]
    third = d.gate.kill(flatten=True)
    assert third.flattening == ()  # the open flattening order covers the position
    d.broker.run(until_ns=d.broker.now() + 20 * MS)
    assert d.broker.positions() == {}
    assert d.broker.orders(open_only=True) == []
    sells = [o for o in d.broker.orders() if o.request.side is OrderSide.SELL]
    assert [o.order_qty for o in sells] == [100]  # one flattening order, never two


def test_a_breach_configured_to_flatten_fires_the_kill_switch() -> None:
    d = Desk([MaxOrderQty(500)], on_breach={"max_order_qty": Breach.FLATTEN})
    d.market("AAA", "buy", 300)
    d.limit("BBB", "buy", 5, "95.00")
    d.denied(d.market("AAA", "buy", 501), "max_order_qty")
    d.broker.run()
    assert d.manager.state is TradingState.HALTED
    assert d.broker.positions() == {}
    assert d.broker.orders(open_only=True) == []


def test_kill_fires_with_nothing_to_do() -> None:
    d = Desk([MaxPosition(qty=10)])
    report = d.gate.kill(flatten=True)
    assert report.canceled == report.flattening == report.waiting == ()
    assert d.manager.state is TradingState.HALTED


# ----- the served paper account -----------------------------------------------------------------


@pytest.fixture(scope="module")
def served() -> Iterator[ServedAlpaca]:
    with served_alpaca(*SCRIPTED_AAPL_MSFT, "--duration", "300") as server:
        yield server


def test_kill_cancels_and_flattens_on_the_served_paper_account(served: ServedAlpaca) -> None:
    with alpaca_broker(served) as live:
        gate = RiskGate(live, [MaxOrderQty(1000)])
        buy = gate.submit(OrderRequest(symbol="AAPL", side=OrderSide.BUY, qty=D(10)))
        short = gate.submit(OrderRequest(symbol="MSFT", side=OrderSide.SELL, qty=D(6)))
        assert eventually(lambda: buy.status is OrderStatus.FILLED)
        assert eventually(lambda: short.status is OrderStatus.FILLED)
        resting = [
            gate.submit(gtc_limit("AAPL", OrderSide.BUY, 1, "90.00")),
            gate.submit(gtc_limit("MSFT", OrderSide.SELL, 1, "60.00")),
        ]
        assert eventually(lambda: all(o.status is OrderStatus.NEW for o in resting))
        denied = gate.submit(OrderRequest(symbol="AAPL", side=OrderSide.BUY, qty=D(5000)))
        assert denied.status is OrderStatus.DENIED  # the same controls on paper
        assert {s: p.qty for s, p in live.positions().items()} == {"AAPL": 10, "MSFT": -6}

        report = gate.kill(flatten=True, reason="test")
        assert sorted(report.canceled) == sorted(o.id for o in resting)
        # Both symbols had working orders: they flatten once those are canceled, not before
        # (a market order against the account's own working order is a wash trade).
        assert eventually(lambda: live.positions() == {}), live.positions()
        assert eventually(lambda: not live.orders(open_only=True))
        assert all(o.status is OrderStatus.CANCELED for o in resting)
        flat = [
            o
            for o in live.orders()
            if o.request.type is OrderType.MARKET and o.id not in (buy.id, short.id)
        ]
        assert {(o.symbol, o.request.side, o.order_qty) for o in flat} == {
            ("AAPL", OrderSide.SELL, 10),
            ("MSFT", OrderSide.BUY, 6),
        }
        assert gate.manager.state is TradingState.HALTED
        later = gate.submit(OrderRequest(symbol="AAPL", side=OrderSide.BUY, qty=D(1)))
        assert later.status is OrderStatus.DENIED
        again = gate.kill(flatten=True)
        assert (again.canceled, again.flattening) == ((), ())
        gate.close()
