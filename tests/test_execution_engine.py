"""ExecutionEngine: many parents on one broker, one subscription to its events, each event to
the worker whose child it is; the parents share the broker's child rate limit."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from decimal import Decimal

import pytest

from fillforge.errors import ExecutionError
from fillforge.execution.engine import ExecutionEngine
from fillforge.execution.options import AmendTerms, WorkOptions
from fillforge.execution.parent import ParentOrder, ParentState, WorkRules
from fillforge.execution.worker import ParentWorker
from fillforge.orders.enums import OrderSide
from fillforge.orders.models import Instrument
from fillforge.sim.broker import SimulatedBroker
from fillforge.sim.feeds import empty_feed
from fillforge.sim.venue import Venue
from fillforge.time import NS_PER_SECOND

D = Decimal
S = NS_PER_SECOND
AAA = Instrument(symbol="AAA")
BBB = Instrument(symbol="BBB")
RULES = WorkRules(timeout_ns=3 * S, max_attempts=1)


def market() -> SimulatedBroker:
    venue = Venue(calendar=None)
    venue.add(AAA, empty_feed())
    venue.add(BBB, empty_feed())
    b = SimulatedBroker(venue, cash=D(10_000_000), start_ns=0)
    b.quote("AAA", D("100.00"), D("100.02"), bid_size=D(20), ts=0)
    b.quote("BBB", D("50.00"), D("50.02"), bid_size=D(20), ts=0)
    return b


def parent(pid: str, symbol: str, qty: int, start: int = 1, end: int = 40) -> ParentOrder:
    return ParentOrder(
        parent_id=pid,
        symbol=symbol,
        side=OrderSide.BUY,
        qty=D(qty),
        start_ns=start * S,
        end_ns=end * S,
    )


def subscribers(b: SimulatedBroker) -> int:
    return len(b.manager._subscribers)


def script(b: SimulatedBroker, check: Callable[[], None] = lambda: None) -> None:
    """The same market for every run: prints through both bids, then the quotes move."""
    for second, step in [
        (2, lambda: b.trade("AAA", D("100.00"), D(25))),  # 20 ahead of P1's child, 5 to it
        (5, lambda: b.trade("BBB", D("50.00"), D(30))),
        (14, lambda: b.quote("AAA", D("100.01"), D("100.03"), bid_size=D(0))),
        (15, lambda: b.trade("AAA", D("100.01"), D(7))),
        (22, lambda: b.trade("BBB", D("50.00"), D(4))),
    ]:
        b.run(until_ns=second * S)
        check()
        step()
    for second in range(25, 61, 5):
        b.run(until_ns=second * S)
        check()


def summary(w: ParentWorker) -> list[tuple[str, str, Decimal, Decimal, str]]:
    return [(o.client_order_id, o.symbol, o.order_qty, o.cum_qty, o.state) for o in w.children]


def test_fills_reach_their_parent_as_if_each_worked_alone() -> None:
    b = market()
    engine = ExecutionEngine(b)
    p1 = engine.submit(parent("P1", "AAA", 30), AAA, rules=RULES, slices=3)
    p2 = engine.submit(parent("P2", "BBB", 20), BBB, rules=RULES, slices=2)
    assert (p1.id, p2.id) == ("P1", "P2")
    w1, w2 = engine.worker("P1"), engine.worker("P2")

    def conserved() -> None:
        for w in (w1, w2):
            pr = w.progress()
            assert pr.filled + pr.working + pr.leaves == pr.qty
            assert pr.filled == sum((o.cum_qty for o in w.children), D(0))

    script(b, conserved)
    assert [p.state for p in engine.parents()] == [ParentState.COMPLETED] * 2
    assert (w1.filled, w2.filled) == (D(30), D(20))
    for w, sym in ((w1, "AAA"), (w2, "BBB")):  # each fill is one of its own children's
        assert {b.get_order(f.order_id).symbol for f in w.fills} == {sym}
        assert sum((f.qty for f in w.fills), D(0)) == w.filled
    assert all(o.client_order_id.startswith("P1-c") for o in w1.children)

    # Each parent alone, on its own broker and the same market, does exactly the same.
    alone = []
    for pid, sym, qty, inst, n in (("P1", "AAA", 30, AAA, 3), ("P2", "BBB", 20, BBB, 2)):
        solo = market()
        w = ParentWorker(solo, parent(pid, sym, qty), inst, rules=RULES, slices=n)
        w.start()
        script(solo)
        alone.append(summary(w))
    assert alone == [summary(w1), summary(w2)]
    assert len(w1.children) > 3  # the script made it retry


def test_one_subscription_for_any_number_of_parents() -> None:
    b = market()
    before = subscribers(b)
    engine = ExecutionEngine(b)
    assert subscribers(b) == before
    for i in range(200):
        engine.submit(parent(f"P{i}", "AAA", 10), AAA, rules=RULES, slices=2)
    assert subscribers(b) == before + 1
    assert len(engine.parents()) == 200
    engine.close()
    assert subscribers(b) == before
    # A worker on its own subscribes for itself.
    ParentWorker(b, parent("alone", "AAA", 10), AAA).start()
    assert subscribers(b) == before + 1


def test_a_duplicate_parent_id_is_refused_and_changes_nothing() -> None:
    b = market()
    engine = ExecutionEngine(b)
    engine.submit(parent("P1", "AAA", 30), AAA, rules=RULES)
    subs, orders = subscribers(b), len(b.orders())
    with pytest.raises(ExecutionError) as e:
        engine.submit(parent("P1", "BBB", 10), BBB)
    assert (e.value.field, e.value.value) == ("parent_id", "P1")
    assert [p.spec.symbol for p in engine.parents()] == ["AAA"]
    assert (subscribers(b), len(b.orders())) == (subs, orders)
    with pytest.raises(ExecutionError) as e:
        engine.get("nope")
    assert (e.value.field, e.value.value) == ("parent_id", "nope")


def test_a_parent_the_worker_refuses_is_not_kept() -> None:
    b = market()
    b.run(until_ns=50 * S)
    engine = ExecutionEngine(b)
    with pytest.raises(ExecutionError) as e:
        engine.submit(parent("P1", "AAA", 30), AAA)  # its end (40 s) is past
    assert e.value.field == "end_ns"
    assert engine.parents() == []
    engine.submit(parent("P1", "AAA", 30, start=50, end=90), AAA)  # the id is free again
    assert engine.get("P1").state is ParentState.WORKING


def test_cancelling_one_parent_leaves_the_other_working() -> None:
    b = market()
    engine = ExecutionEngine(b)
    engine.submit(parent("P1", "AAA", 30), AAA, rules=RULES, slices=3)
    engine.submit(parent("P2", "BBB", 20), BBB, rules=RULES, slices=2)
    b.run(until_ns=3 * S)
    engine.cancel("P1", "enough")
    b.run(until_ns=4 * S)
    assert engine.get("P1").state is ParentState.CANCELLED
    assert engine.get("P1").reason == "enough"
    assert all(
        o.state == "canceled" or o.cum_qty == o.order_qty for o in engine.worker("P1").children
    )
    assert engine.get("P2").state is ParentState.WORKING
    b.run(until_ns=60 * S)
    assert engine.get("P2").state is ParentState.COMPLETED
    assert engine.worker("P2").filled == D(20)
    assert engine.worker("P1").filled < D(30)


def test_pause_resume_and_amend_reach_the_named_parent_only() -> None:
    b = market()
    engine = ExecutionEngine(b)
    engine.submit(parent("P1", "AAA", 30), AAA, rules=RULES, slices=3)
    engine.submit(parent("P2", "BBB", 20), BBB, rules=RULES, slices=2)
    b.run(until_ns=2 * S)
    engine.pause("P1")
    engine.amend("P2", qty=D(40))
    b.run(until_ns=3 * S)
    assert engine.get("P1").state is ParentState.PAUSED
    assert (engine.get("P2").state, engine.get("P2").spec.qty) == (ParentState.WORKING, D(40))
    engine.resume("P1")
    b.run(until_ns=60 * S)
    assert [(p.id, p.state) for p in engine.parents()] == [
        ("P1", ParentState.COMPLETED),
        ("P2", ParentState.COMPLETED),
    ]
    assert engine.worker("P2").filled == D(40)


def test_the_parents_share_the_brokers_child_rate_limit() -> None:
    b = market()
    engine = ExecutionEngine(b)
    rules = WorkRules(child_rate_limit=1, child_rate_window_ns=10 * S)
    engine.submit(parent("P1", "AAA", 10), AAA, rules=rules)
    engine.submit(parent("P2", "BBB", 10), BBB, rules=rules)
    b.run(until_ns=2 * S)
    assert [o.client_order_id for o in b.orders()] == ["P1-c1"]
    assert engine.progress("P2").queued == D(10)  # waits for the one limit both share
    b.run(until_ns=12 * S)
    first = {o.client_order_id: o.created_ts for o in b.orders()}
    assert first == {"P1-c1": 1 * S, "P2-c1": 11 * S}
    assert engine.progress("P2").queued == D(0)


def test_a_closed_engine_takes_no_parent_and_follows_nothing() -> None:
    b = market()
    engine = ExecutionEngine(b)
    engine.submit(parent("P1", "AAA", 30), AAA, rules=RULES)
    b.run(until_ns=1 * S)
    engine.close()
    filled = engine.worker("P1").filled
    b.trade("AAA", D("100.00"), D(100))
    b.run(until_ns=60 * S)
    assert engine.worker("P1").filled == filled  # events after close are not followed
    with pytest.raises(ExecutionError) as e:
        engine.submit(parent("P2", "BBB", 10), BBB)
    assert e.value.field == "engine"


# ----- the keywords are written once ------------------------------------------------------------


def _keyword_only(fn: Callable[..., object]) -> set[str]:
    params = inspect.signature(fn).parameters.values()
    return {p.name for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY}


def test_the_engine_takes_the_workers_keywords_as_one_typed_dict() -> None:
    # ParentWorker spells its keywords out; the engine passes WorkOptions and AmendTerms on, so
    # a keyword added to the worker must be added to the TypedDict (or be one the engine sets).
    engine_sets = {"clock", "subscribe", "transient"}
    assert set(WorkOptions.__annotations__) == _keyword_only(ParentWorker) - engine_sets
    assert set(AmendTerms.__annotations__) == _keyword_only(ParentWorker.amend)
    for fn, name in ((ExecutionEngine.submit, "options"), (ExecutionEngine.amend, "terms")):
        last = list(inspect.signature(fn).parameters.values())[-1]
        assert (last.name, last.kind) == (name, inspect.Parameter.VAR_KEYWORD)


def test_an_unknown_keyword_is_refused_before_anything_is_held() -> None:
    b = market()
    engine = ExecutionEngine(b)
    with pytest.raises(TypeError):
        engine.submit(parent("P1", "AAA", 10), AAA, slice=3)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        engine.submit(parent("P1", "AAA", 10), AAA, clock=None)  # type: ignore[call-arg]
    assert engine.parents() == []
    assert b.orders() == []
    engine.submit(parent("P1", "AAA", 10), AAA, rules=RULES, slices=2)
    with pytest.raises(TypeError):
        engine.amend("P1", quantity=D(5))  # type: ignore[call-arg]
