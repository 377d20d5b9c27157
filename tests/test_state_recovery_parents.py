"""Parents survive a crash in the middle of their schedule (issue 18).

A TWAP parent is worked on a simulated broker that outlives the process; the process dies
between two slices (:class:`Mortal`: everything it hooked into the broker is taken off at once),
and a new engine takes the parent up from its last snapshot (what the journal holds) and the
broker's orders. The recovered run must do what an uncrashed twin does on the same tape, its
quantity conserved at every step, no child id used twice, never over-filled.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_state_recovery_support import Mortal

from fillforge.errors import ExecutionError
from fillforge.execution.engine import ExecutionEngine
from fillforge.execution.parent import ParentOrder, ParentSnapshot, ParentState, WorkRules
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
RULES = WorkRules(timeout_ns=4 * S, max_attempts=2)


def market() -> SimulatedBroker:
    venue = Venue(calendar=None)
    venue.add(AAA, empty_feed())
    b = SimulatedBroker(venue, cash=D(10_000_000), start_ns=0)
    b.quote("AAA", D("100.00"), D("100.02"), bid_size=D(20), ask_size=D(500), ts=0)
    return b


def spec(qty: int = 60, pid: str = "P1", end: int = 50) -> ParentOrder:
    return ParentOrder(
        parent_id=pid, symbol="AAA", side=OrderSide.BUY, qty=D(qty), start_ns=S, end_ns=end * S
    )


def tape(b: SimulatedBroker, seconds: range, check: Callable[[], None] = lambda: None) -> None:
    """The same market every run: a print through the bid every 3 s, the quote lifting at 30 s."""
    for t in seconds:
        b.run(until_ns=t * S)
        if t % 3 == 0:
            b.trade("AAA", D("100.00"), D(12))
        if t == 30:
            b.quote("AAA", D("100.01"), D("100.03"), bid_size=D(5), ask_size=D(500))
        check()


def children(b: SimulatedBroker, pid: str = "P1") -> list[tuple[str, Decimal, Decimal, str]]:
    return [
        (o.client_order_id, o.order_qty, o.cum_qty, o.state)
        for o in b.orders()
        if o.client_order_id.startswith(f"{pid}-c")
    ]


class Journalled:
    """The last snapshot of each parent, as the journal would hold it."""

    def __init__(self) -> None:
        self.last: dict[str, ParentSnapshot] = {}
        self.kinds: list[str] = []

    def __call__(self, pid: str, kind: str, snap: ParentSnapshot) -> None:
        self.kinds.append(kind)
        self.last[pid] = ParentSnapshot.model_validate(snap.model_dump(mode="json"))


def twin(qty: int = 60, slices: int = 4, until: int = 70) -> SimulatedBroker:
    b = market()
    ExecutionEngine(b).submit(spec(qty), AAA, rules=RULES, slices=slices)
    tape(b, range(1, until))
    return b


def crashed(
    kill_at: int, back_at: int, qty: int = 60, slices: int = 4, until: int = 70
) -> tuple[SimulatedBroker, ExecutionEngine, Journalled]:
    b = market()
    first = Mortal(b)
    journal = Journalled()
    engine = ExecutionEngine(first)
    engine.observe(journal)
    engine.submit(spec(qty), AAA, rules=RULES, slices=slices)
    tape(b, range(1, kill_at))
    first.die()
    tape(b, range(kill_at, back_at))
    second = ExecutionEngine(Mortal(b))
    second.observe(journal)
    second.restore(journal.last["P1"], AAA)
    w = second.worker("P1")

    def conserved() -> None:
        pr = w.progress()
        assert pr.filled + pr.working + pr.leaves == pr.qty
        assert D(0) <= pr.filled <= pr.qty

    conserved()
    tape(b, range(back_at, until), conserved)
    return b, second, journal


def test_a_parent_killed_between_slices_and_taken_up_at_once_is_its_uncrashed_twin() -> None:
    reference = twin()
    b, engine, journal = crashed(kill_at=14, back_at=14)
    assert children(b) == children(reference)
    assert engine.get("P1").state is ParentState.COMPLETED
    assert engine.worker("P1").filled == D(60)
    assert b.positions()["AAA"].qty == reference.positions()["AAA"].qty == D(60)
    assert journal.kinds[0] == "started"
    assert "restored" in journal.kinds
    assert journal.kinds[-1] == "completed"


def test_slices_missed_while_down_are_caught_up_in_one_child_then_the_timetable_goes_on() -> None:
    # slices of 15 at 1, 13.25, 25.5 and 37.75 s; the process runs to 13 s and is back at 28 s:
    # the slices at 13.25 and 25.5 s were missed.
    b, engine, _ = crashed(kill_at=14, back_at=29)
    sent = children(b)
    ids = [c[0] for c in sent]
    assert len(ids) == len(set(ids))  # no client order id twice
    w = engine.worker("P1")
    assert w.parent.state is ParentState.COMPLETED
    assert w.filled == D(60) == b.positions()["AAA"].qty
    # the restart sent the deficit at once, one child for both missed slices; the last slice
    # came at its own time
    at_restart = [o for o in b.orders() if o.created_ts == 28 * S]
    assert [o.order_qty for o in at_restart] == [D(30)]
    assert [o.order_qty for o in b.orders() if o.created_ts == 37_750_000_000] == [D(15)]


def test_a_child_working_at_the_crash_is_re_attached_not_sent_again() -> None:
    b, engine, _ = crashed(kill_at=2, back_at=2, until=3)
    w = engine.worker("P1")
    assert [c[0] for c in children(b)] == ["P1-c1"]  # nothing new: c1 still works its slice
    assert w.working + w.filled == D(15)
    assert w.progress().children == 1


def test_an_end_time_passed_while_down_sweeps_the_rest_at_once() -> None:
    b, engine, _ = crashed(kill_at=14, back_at=55, until=60)
    w = engine.worker("P1")
    assert w.parent.state is ParentState.COMPLETED
    assert b.positions()["AAA"].qty == D(60)
    sweep = [o for o in b.orders() if o.created_ts == 54 * S]
    assert [str(o.request.type) for o in sweep] == ["market"]


def test_a_finished_parent_is_restored_finished_and_sends_nothing() -> None:
    b, engine, _ = crashed(kill_at=69, back_at=69, until=75)
    before = children(b)
    w = engine.worker("P1")
    assert w.parent.state is ParentState.COMPLETED
    assert w.filled == D(60)
    tape(b, range(75, 80))
    assert children(b) == before


def test_restore_refuses_what_it_cannot_take_up() -> None:
    b = market()
    engine = ExecutionEngine(b)
    engine.submit(spec(), AAA, rules=RULES)
    snap = engine.worker("P1").snapshot()
    with pytest.raises(ExecutionError) as e:
        engine.restore(snap, AAA)
    assert e.value.field == "parent_id"
    with pytest.raises(ExecutionError) as e:
        ExecutionEngine(b).restore("not a snapshot", AAA)  # type: ignore[arg-type]
    assert e.value.field == "snapshot"


@settings(max_examples=15, deadline=None)
@given(
    qty=st.integers(10, 90),
    slices=st.integers(1, 6),
    kill_at=st.integers(2, 45),
    down=st.integers(0, 20),
)
def test_any_crash_point_conserves_the_parent_and_finishes_its_quantity(
    qty: int, slices: int, kill_at: int, down: int
) -> None:
    b, engine, _ = crashed(kill_at, kill_at + down, qty=qty, slices=slices, until=80)
    w = engine.worker("P1")
    ids = [c[0] for c in children(b)]
    assert len(ids) == len(set(ids))
    assert w.parent.state is ParentState.COMPLETED
    assert w.filled == D(qty) == b.positions()["AAA"].qty
    assert sum((c[2] for c in children(b)), D(0)) == D(qty)  # never over-filled


def _lifecycle(
    act: Callable[[ExecutionEngine], None], at: int, kill_at: int
) -> tuple[SimulatedBroker, ExecutionEngine, Journalled, ExecutionEngine]:
    """Submit, ``act`` on the parent at ``at`` s, die at ``kill_at`` s, take it up."""
    b = market()
    first = Mortal(b)
    journal = Journalled()
    engine = ExecutionEngine(first)
    engine.observe(journal)
    engine.submit(spec(), AAA, rules=RULES, slices=4)
    tape(b, range(1, at))
    act(engine)
    tape(b, range(at, kill_at))
    first.die()
    second = ExecutionEngine(Mortal(b))
    second.observe(journal)
    second.restore(journal.last["P1"], AAA)
    return b, engine, journal, second


def test_a_paused_parent_comes_back_paused_and_resumes_with_its_timetable() -> None:
    b, _, journal, engine = _lifecycle(lambda e: e.pause("P1"), at=5, kill_at=20)
    assert journal.kinds[:2] == ["started", "paused"]
    assert engine.get("P1").state is ParentState.PAUSED
    before = children(b)
    tape(b, range(20, 30))
    assert children(b) == before  # paused: nothing sent
    engine.resume("P1")
    tape(b, range(30, 70))
    w = engine.worker("P1")
    assert w.parent.state is ParentState.COMPLETED
    assert w.filled == D(60) == b.positions()["AAA"].qty


def test_an_amended_parent_comes_back_with_its_new_terms() -> None:
    b, _, journal, engine = _lifecycle(lambda e: e.amend("P1", qty=D(40)), at=5, kill_at=20)
    assert "amended" in journal.kinds
    assert engine.get("P1").spec.qty == D(40)
    tape(b, range(20, 70))
    w = engine.worker("P1")
    assert w.parent.state is ParentState.COMPLETED
    assert w.filled == D(40) == b.positions()["AAA"].qty


def test_a_cancelled_parent_stays_cancelled() -> None:
    b, _, journal, engine = _lifecycle(lambda e: e.cancel("P1", "by hand"), at=5, kill_at=20)
    assert journal.kinds[-1] == "cancelled"
    p = engine.get("P1")
    assert (p.state, p.reason) == (ParentState.CANCELLED, "by hand")
    before = children(b)
    tape(b, range(20, 70))
    assert children(b) == before


def test_a_worker_on_its_own_is_restored_the_same_way() -> None:
    b = market()
    first = Mortal(b)
    w = ParentWorker(first, spec(), AAA, rules=RULES, slices=4)
    kept: list[ParentSnapshot] = []
    w.observe(lambda kind, snap: kept.append(snap))
    w.start()
    tape(b, range(1, 20))
    first.die()
    again = ParentWorker(Mortal(b), spec(), AAA, rules=RULES, slices=4)
    again.restore(kept[-1])
    tape(b, range(20, 70))
    assert again.parent.state is ParentState.COMPLETED
    assert again.filled == D(60) == b.positions()["AAA"].qty
    with pytest.raises(ExecutionError) as e:
        again.restore(kept[-1])  # once only: it is no longer pending
    assert e.value.field == "state"


@settings(max_examples=60, deadline=None)
@given(
    qty=st.integers(1, 10**6),
    start=st.integers(0, 2**60),
    length=st.integers(1, 2**40),
    limit=st.none() | st.decimals(min_value="0.01", max_value="100000", places=2),
    policy=st.sampled_from(["twap", "vwap", "is", "pov", "iceberg", "limit"]),
    state=st.sampled_from(list(ParentState)),
    base=st.integers(0, 10**6),
    rules=st.builds(
        WorkRules,
        timeout_ns=st.none() | st.integers(1, 10**12),
        fallback=st.sampled_from(["market", "ladder", "none"]),
        at_end=st.sampled_from(["market", "stop"]),
        child_rate_limit=st.integers(1, 10**6),
    ),
)
def test_a_parent_snapshot_round_trips_through_json(
    qty: int,
    start: int,
    length: int,
    limit: Decimal | None,
    policy: str,
    state: ParentState,
    base: int,
    rules: WorkRules,
) -> None:
    snap = ParentSnapshot(
        spec=ParentOrder(
            parent_id="P.1:x",
            symbol="AAA",
            side=OrderSide.SELL,
            qty=D(qty),
            start_ns=start,
            end_ns=start + length,
            limit_price=limit,
            decision_price=D("99.995"),
            policy=policy,
        ),
        rules=rules,
        slices=7,
        state=state,
        plan_ns=start,
        plan_base=D(min(base, qty)),
        arrival_price=D("100.005"),
        children=3,
    )
    assert ParentSnapshot.model_validate(snap.model_dump(mode="json")) == snap
