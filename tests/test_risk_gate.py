"""``RiskGate``: a ``Broker`` around any broker. A denied order never reaches the broker, ends
``denied`` (Alpaca's ``rejected``) with its code, and shows up in every order query and event
feed of the gate; everything else passes through; ``AsyncAdapter(gate)`` is its async twin."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from test_risk_limits import Desk

from fillforge.broker import Broker
from fillforge.errors import DuplicateClientOrderIdError, RiskDeniedError, RiskError
from fillforge.orders.enums import EventKind, OrderSide, OrderStatus
from fillforge.orders.models import OrderEvent, OrderRequest
from fillforge.risk import MaxOrderQty, RiskGate, RiskManager
from fillforge.sim.aio import AsyncAdapter

D = Decimal


def _buy(qty: int, cid: str | None = None) -> OrderRequest:
    return OrderRequest(symbol="AAA", side=OrderSide.BUY, qty=D(qty), client_order_id=cid)


def test_the_gate_is_a_broker() -> None:
    d = Desk([])
    assert isinstance(d.gate, Broker)
    for name in [n for n in dir(Broker) if not n.startswith("_")]:
        assert callable(getattr(d.gate, name)), name


def test_a_denied_order_is_seen_everywhere_the_gate_shows_orders() -> None:
    d = Desk([MaxOrderQty(10)])
    stream = d.gate.events()
    heard: list[OrderEvent] = []
    d.gate.subscribe(heard.append)
    ok = d.gate.submit(_buy(5, "fine-1"))
    no = d.gate.submit(_buy(50, "fat-1"))
    assert no.id == "risk-1"
    assert no.status is OrderStatus.DENIED
    assert no.status.alpaca == "rejected"
    assert no.leaves_qty == 0
    assert d.gate.get_order(no.id) is no
    assert d.gate.get_order_by_client_id("fat-1") is no
    assert d.gate.get_order_by_client_id("fine-1") is ok
    assert d.gate.orders() == [ok, no]
    assert d.gate.orders(symbol="AAA") == [ok, no]
    assert d.gate.orders(open_only=True) == []
    assert d.gate.denied() == [no]
    assert d.broker.orders() == [ok]  # the broker never saw it
    events = list(stream)
    assert [e.kind for e in events if e.order_id == no.id] == [EventKind.CREATED, EventKind.DENIED]
    assert [e.kind for e in events if e.order_id == ok.id][-1] is EventKind.FILL
    denial = next(e for e in events if e.kind is EventKind.DENIED)
    assert denial.reason is not None
    assert denial.reason.startswith("max_order_qty: ")
    assert no.reason == denial.reason  # the code read off the order itself
    assert ok.reason is None
    assert [e.order_id for e in heard] == [e.order_id for e in events]
    e = d.gate.denial(no.id)
    assert e is not None
    assert (e.code, e.field, e.value) == ("max_order_qty", "qty", 50)
    assert d.gate.denial(ok.id) is None


def test_a_denied_order_cannot_reuse_a_client_order_id_the_broker_knows() -> None:
    d = Desk([MaxOrderQty(10)])
    d.gate.submit(_buy(5, "mine"))
    with pytest.raises(DuplicateClientOrderIdError):
        d.gate.submit(_buy(50, "mine"))
    d.gate.submit(_buy(50, "again"))
    with pytest.raises(DuplicateClientOrderIdError):
        d.gate.submit(_buy(51, "again"))


def test_raise_denied_raises_and_still_records() -> None:
    d = Desk([MaxOrderQty(10)])
    gate = RiskGate(d.broker, manager=d.manager, raise_denied=True)
    with pytest.raises(RiskDeniedError) as e:
        gate.submit(_buy(11))
    assert e.value.code == "max_order_qty"
    assert d.manager.counters["max_order_qty"] == 1
    assert gate.orders() == []


def test_everything_else_passes_through() -> None:
    d = Desk([])
    g, b = d.gate, d.broker
    o = g.submit(_buy(3))
    assert g.positions() == b.positions()
    assert g.account() == b.account()
    assert g.clock() == b.clock()
    assert g.now_ns() == b.now()
    assert g.latest_quote("AAA") == b.latest_quote("AAA")
    assert g.last_trade("AAA") == b.last_trade("AAA")
    fired: list[int] = []
    g.set_timer("t", fired.append, at_ns=b.now() + 10)
    g.set_timer("u", fired.append, at_ns=b.now() + 20)
    g.cancel_timer("u")
    quotes: list[object] = []
    stop = g.subscribe_quotes("AAA", quotes.append)
    b.run(until_ns=b.now() + 100)
    d.price("AAA", "100.50")
    stop()
    assert len(fired) == 1
    assert quotes
    trades: list[object] = []
    g.subscribe_trades("AAA", trades.append)()
    g.subscribe_bars("AAA", trades.append)()
    assert g.get_order(o.id) is b.get_order(o.id)
    assert "RiskGate" in repr(g)


def test_a_manager_over_another_broker_is_refused() -> None:
    a, b = Desk([]), Desk([])
    with pytest.raises(RiskError) as e:
        RiskGate(a.broker, manager=b.manager)
    assert e.value.field == "manager"


def test_the_async_twin_runs_the_same_controls() -> None:
    d = Desk([MaxOrderQty(10)])

    async def main() -> tuple[OrderStatus, OrderStatus]:
        twin = AsyncAdapter(d.gate)
        ok = await twin.submit(_buy(5))
        no = await twin.submit(_buy(50))
        assert (await twin.get_order(no.id)) is no
        return ok.status, no.status

    assert asyncio.run(main()) == (OrderStatus.FILLED, OrderStatus.DENIED)


def test_closing_the_gate_stops_following_the_broker() -> None:
    d = Desk([])
    heard: list[OrderEvent] = []
    d.gate.subscribe(heard.append)
    d.gate.close()
    d.broker.submit(_buy(1))
    assert heard == []
    assert isinstance(d.manager, RiskManager)


def test_an_execution_worker_through_the_gate_sees_its_children_denied() -> None:
    from fillforge.execution.parent import ParentOrder, ParentState, WorkRules
    from fillforge.execution.worker import ParentWorker
    from fillforge.orders.models import Instrument
    from fillforge.risk import MaxPosition

    d = Desk([MaxPosition(qty=30)])
    now, s = d.broker.now(), 10**9
    parent = ParentOrder(
        parent_id="P1",
        symbol="AAA",
        side=OrderSide.BUY,
        qty=D(60),
        start_ns=now,
        end_ns=now + 60 * s,
    )
    w = ParentWorker(d.gate, parent, Instrument(symbol="AAA"), rules=WorkRules(max_attempts=1))
    w.start()
    d.broker.run(until_ns=now + 120 * s)
    assert w.parent.state is ParentState.FAILED
    assert w.parent.reason is not None
    assert "max_position_qty" in w.parent.reason
    assert d.broker.orders() == []  # no child reached the broker
    assert d.manager.counters["max_position_qty"] >= 1


def test_the_docs_example_runs() -> None:
    import re
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[1] / "docs" / "risk-manager.md").read_text()
    block = re.search(r"```python\n(.*?)```", doc, re.S)
    assert block is not None
    d = Desk([])
    d.gate.close()
    d.manager.close()
    scope: dict[str, object] = {"broker": d.broker, "request": _buy(10)}
    exec(block.group(1), scope)
    gate = scope["broker"]
    assert isinstance(gate, RiskGate)
    assert gate.manager.state == "halted"  # the example ends with the kill switch
    assert d.broker.positions() == {}  # ... which flattened the 10 bought
