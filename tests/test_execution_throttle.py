"""Pacing children (issue #16): every child submit passes the broker's child rate limit; a child
over it waits in its parent's line and goes, in order, when the window lets it through; never
dropped, doubled or reordered. Pausing or cancelling gives the waiting quantity back; parents on
one broker share one limit; bad limits are refused."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from fillforge.errors import ExecutionError
from fillforge.execution.parent import ParentOrder, ParentState, WorkRules
from fillforge.execution.schedules import Slice
from fillforge.execution.worker import ParentWorker
from fillforge.orders.enums import OrderSide
from fillforge.orders.models import Instrument
from fillforge.sim.broker import SimulatedBroker
from fillforge.sim.feeds import empty_feed
from fillforge.sim.venue import Venue
from fillforge.time import NS_PER_SECOND

D = Decimal
S = NS_PER_SECOND
INST = Instrument(symbol="TEST")
T0 = 10 * S  # every slice is due here
WINDOW = 60 * S


def broker() -> SimulatedBroker:
    venue = Venue(calendar=None)
    venue.add(INST, empty_feed())
    b = SimulatedBroker(venue, cash=D(10_000_000), start_ns=0)
    b.quote("TEST", D("100.00"), D("100.02"), bid_size=D(100), ts=0)
    return b


def all_at_once(qty: Decimal, start_ns: int, end_ns: int, lot: Decimal) -> list[Slice]:
    """One lot per slice, every slice due at the start: a burst of children."""
    return [Slice(start_ns, lot) for _ in range(int(qty / lot))]


def work(b: SimulatedBroker, pid: str = "P1", qty: int = 200, **rules: Any) -> ParentWorker:
    p = ParentOrder(
        parent_id=pid,
        symbol="TEST",
        side=OrderSide.BUY,
        qty=D(qty),
        start_ns=T0,
        end_ns=300 * S,
    )
    w = ParentWorker(b, p, INST, rules=WorkRules(**rules), schedule=all_at_once)
    w.start()
    return w


def run_to(b: SimulatedBroker, t: int) -> None:
    """Run the simulation through ``t`` (timers due at ``t`` included)."""
    b.run(until_ns=t + 1)


def children(b: SimulatedBroker, pid: str = "P1") -> list[tuple[int, int]]:
    """Each child of ``pid`` in the order the broker took them: (child number, time sent)."""
    return [
        (int(o.client_order_id.rpartition("-c")[2]), o.created_ts)
        for o in b.orders()
        if o.client_order_id.startswith(f"{pid}-c")
    ]


def test_150_go_at_once_and_the_rest_at_the_window_edge_in_order() -> None:
    b = broker()
    w = work(b)
    run_to(b, T0)
    sent = children(b)
    assert [t for _, t in sent] == [T0] * 150
    p = w.progress()
    assert (p.working, p.queued, p.leaves) == (D(150), D(50), D(50))
    assert p.filled + p.working + p.leaves == p.qty

    run_to(b, T0 + WINDOW - 1)  # a nanosecond before the edge: still waiting
    assert len(children(b)) == 150

    run_to(b, T0 + WINDOW)
    sent = children(b)
    assert [n for n, _ in sent] == list(range(1, 201))  # in order, none lost, none doubled
    assert [t for _, t in sent[150:]] == [T0 + WINDOW] * 50
    p = w.progress()
    assert (p.working, p.queued, p.leaves) == (D(200), D(0), D(0))


def test_a_tighter_limit_paces_in_several_windows() -> None:
    b = broker()
    work(b, qty=25, child_rate_limit=10, child_rate_window_ns=S)
    run_to(b, T0 + 5 * S)
    times = [t for _, t in children(b)]
    assert times == [T0] * 10 + [T0 + S] * 10 + [T0 + 2 * S] * 5
    assert [n for n, _ in children(b)] == list(range(1, 26))


@pytest.mark.parametrize("how", ["cancel", "pause"])
def test_stopping_while_queued_gives_the_quantity_back_and_sends_nothing_later(how: str) -> None:
    b = broker()
    w = work(b)
    run_to(b, T0)
    if how == "cancel":
        w.cancel("enough")
    else:
        w.pause()
    p = w.progress()
    assert p.queued == 0
    assert p.filled + p.working + p.leaves == p.qty
    run_to(b, T0 + 2 * WINDOW)
    assert len(children(b)) == 150  # the waiting 50 were never sent
    p = w.progress()
    assert p.queued == 0
    assert p.working == 0  # the 150 sent were cancelled too
    assert p.leaves == p.qty
    want = ParentState.CANCELLED if how == "cancel" else ParentState.PAUSED
    assert p.state is want


def test_resume_after_a_pause_sends_what_is_due_through_the_limit_once() -> None:
    b = broker()
    w = work(b)
    run_to(b, T0)
    w.pause()
    run_to(b, T0 + 10 * S)
    w.resume()  # the window still holds the first 150: the catch-up child waits
    assert w.progress().queued == D(200)
    run_to(b, T0 + WINDOW)
    ids = [n for n, _ in children(b)]
    assert len(ids) == len(set(ids)) == 151
    assert children(b)[-1][1] == T0 + WINDOW
    p = w.progress()
    assert (p.working, p.queued) == (D(200), D(0))


def test_two_parents_on_one_broker_share_the_limit() -> None:
    b = broker()
    a = work(b, "A", qty=100)
    c = work(b, "B", qty=100)
    run_to(b, T0)
    assert len(children(b, "A")) + len(children(b, "B")) == 150
    assert a.progress().queued + c.progress().queued == 50
    run_to(b, T0 + WINDOW)
    for pid in ("A", "B"):
        assert [n for n, _ in children(b, pid)] == list(range(1, 101))
    other = broker()  # another broker has its own limit
    work(other, "A", qty=100)
    run_to(other, T0)
    assert len(children(other, "A")) == 100


def test_another_limit_on_a_broker_already_pacing_is_refused() -> None:
    b = broker()
    work(b, "A", qty=10)
    p = ParentOrder(
        parent_id="B", symbol="TEST", side=OrderSide.BUY, qty=D(1), end_ns=S, start_ns=0
    )
    with pytest.raises(ExecutionError) as e:
        ParentWorker(b, p, INST, rules=WorkRules(child_rate_limit=10))
    assert e.value.field == "child_rate_limit"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("child_rate_limit", 0),
        ("child_rate_limit", -1),
        ("child_rate_limit", True),
        ("child_rate_limit", 1.5),
        ("child_rate_limit", "150"),
        ("child_rate_limit", 1 << 25),
        ("child_rate_window_ns", 0),
        ("child_rate_window_ns", -S),
        ("child_rate_window_ns", 1 << 63),
        ("child_rate_window_ns", None),
    ],
)
def test_bad_limits_are_refused_naming_the_field(field: str, value: object) -> None:
    with pytest.raises(ExecutionError) as e:
        WorkRules(**{field: value})
    assert e.value.field == field
    assert repr(value) in str(e.value) or str(value) in str(e.value)


def test_the_default_matches_alpacas_150_a_minute() -> None:
    r = WorkRules()
    assert (r.child_rate_limit, r.child_rate_window_ns) == (150, 60 * S)


def test_a_timeout_counts_from_when_the_child_was_sent_not_queued() -> None:
    b = broker()
    w = work(b, qty=2, child_rate_limit=1, child_rate_window_ns=10 * S, timeout_ns=2 * S)
    run_to(b, T0 + 10 * S)
    by_id = {o.client_order_id: o for o in b.orders()}
    assert by_id["P1-c2"].created_ts == T0 + 10 * S  # waited a window behind c1
    assert by_id["P1-c2"].status.is_open  # sent just now: its timeout has not run yet
    run_to(b, T0 + 12 * S - 1)
    assert b.get_order_by_client_id("P1-c2").status.is_open
    run_to(b, T0 + 12 * S)
    assert not b.get_order_by_client_id("P1-c2").status.is_open  # 2 s after it was sent
    p = w.progress()
    assert p.filled + p.working + p.leaves == p.qty


def test_a_new_limit_price_remakes_a_queued_child_beyond_it_at_the_back_of_the_line() -> None:
    b = broker()
    w = work(b, qty=3, child_rate_limit=1, child_rate_window_ns=10 * S)
    run_to(b, T0)
    assert w.progress().queued == 2
    w.amend(limit_price=D("99.00"))  # below the bid every child was priced at
    run_to(b, T0 + 30 * S)
    sent = [(o.client_order_id, o.limit_price, o.status.is_open) for o in b.orders()]
    # c1 rested at the bid and was cancelled; c2 and c3 were never sent: each was taken out of
    # the line and remade at the new limit, behind the others.
    assert sent == [
        ("P1-c1", D("100.00"), False),
        ("P1-c4", D("99.00"), True),
        ("P1-c5", D("99.00"), True),
        ("P1-c6", D("99.00"), True),
    ]
    p = w.progress()
    assert p.queued == 0
    assert p.filled + p.working == D(3)


def test_a_submit_retried_after_a_transient_error_keeps_its_turn() -> None:
    class Flaky(SimulatedBroker):
        fail_next = 0

        def submit(self, request: Any) -> Any:
            if self.fail_next:
                self.fail_next -= 1
                raise TimeoutError("the connection timed out")
            return super().submit(request)

    venue = Venue(calendar=None)
    venue.add(INST, empty_feed())
    b = Flaky(venue, cash=D(10_000_000), start_ns=0)
    b.quote("TEST", D("100.00"), D("100.02"), bid_size=D(100), ts=0)
    b.fail_next = 1
    work(b, qty=3, child_rate_limit=2, child_rate_window_ns=10 * S, backoff_ns=S)
    run_to(b, T0 + 30 * S)
    sent = [(o.client_order_id, o.created_ts) for o in b.orders()]
    # c1 failed (a unit of the limit spent), c2 went; c1's retry waits at the head of the line
    # and goes before c3 when the window lets one more through.
    assert sent == [("P1-c2", T0), ("P1-c1", T0 + 10 * S), ("P1-c3", T0 + 10 * S)]


def test_a_broker_that_cannot_carry_the_shared_limit_is_refused() -> None:
    class Slotted:
        __slots__ = ()

    p = ParentOrder(
        parent_id="A", symbol="TEST", side=OrderSide.BUY, qty=D(1), start_ns=0, end_ns=S
    )
    with pytest.raises(ExecutionError) as e:
        ParentWorker(Slotted(), p, INST)  # type: ignore[arg-type]
    assert e.value.field == "broker"
