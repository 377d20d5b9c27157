"""ParentWorker on the simulated broker with a scripted market: each rule fires in its own
scenario (timeout fallback to market and to the ladder, the partial-fill threshold, the slippage
stop, pause and resume, amend, cancel, rejected children, transient and fatal broker errors); a
TWAP gives the same children and fills on every run; and a hypothesis stateful test drives
random child outcomes (under a loose or a tight child rate limit) and checks quantity
conservation against the broker after every step."""

from __future__ import annotations

import contextlib
import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule
from polling import eventually
from served_helpers import alpaca_broker

from fillforge.alpaca.server import AlpacaServer
from fillforge.broker import Broker
from fillforge.errors import ExecutionError, FillforgeError, InsufficientBuyingPowerError
from fillforge.execution.parent import ParentOrder, ParentState, WorkRules
from fillforge.execution.worker import ParentWorker
from fillforge.orders.enums import OrderSide, OrderStatus, OrderTimeInForce, OrderType
from fillforge.orders.models import Instrument, OrderEvent, OrderRequest
from fillforge.orders.order import Order
from fillforge.sim.broker import SimulatedBroker
from fillforge.sim.feeds import empty_feed
from fillforge.sim.venue import Venue
from fillforge.time import NS_PER_SECOND, Clock, WallClock

D = Decimal
S = NS_PER_SECOND
MS = S // 1000
INST = Instrument(symbol="TEST")
CASH = D(1_000_000)


class ScriptedBroker(SimulatedBroker):
    """The simulated broker on an empty feed (the market is scripted), which can be told to
    have the venue reject the next children (sent for the close auction, which the data does
    not have) or to raise from the next submits, before or after the order went through."""

    def __init__(self, cash: Decimal = CASH) -> None:
        venue = Venue(calendar=None)
        venue.add(INST, empty_feed())
        super().__init__(venue, cash=cash, start_ns=0)
        self.reject_next = 0
        self.raise_before: list[BaseException] = []
        self.raise_after: list[BaseException] = []

    def submit(self, request: OrderRequest) -> Order:
        if self.raise_before:
            raise self.raise_before.pop(0)
        if self.reject_next:
            self.reject_next -= 1
            request = request.model_copy(
                update={
                    "type": OrderType.LIMIT,
                    "limit_price": request.limit_price or D("100.00"),
                    "time_in_force": OrderTimeInForce.CLS,
                }
            )
        order = super().submit(request)
        if self.raise_after:
            raise self.raise_after.pop(0)
        return order


def market(bid: str = "100.00", ask: str = "100.02", bid_size: int = 100) -> ScriptedBroker:
    b = ScriptedBroker()
    b.quote("TEST", D(bid), D(ask), bid_size=D(bid_size), ts=0)
    return b


def parent(qty: int = 100, start: int = 10, end: int = 50, **kw: Any) -> ParentOrder:
    return ParentOrder(
        parent_id="P1",
        symbol="TEST",
        side=kw.pop("side", OrderSide.BUY),
        qty=D(qty),
        start_ns=start * S,
        end_ns=end * S,
        **kw,
    )


def work(b: ScriptedBroker, p: ParentOrder, **kw: Any) -> ParentWorker:
    w = ParentWorker(b, p, INST, **kw)
    w.start()
    return w


def sent(b: SimulatedBroker) -> list[tuple[str, int, str, Decimal | None, Decimal]]:
    """Each child as sent: (client order id, second, type, limit, qty), in order."""
    chains = [o for o in b.orders() if o.client_order_id.startswith("P1-c") and o.replaces is None]
    return [
        (
            o.client_order_id,
            o.created_ts // S,
            o.request.type.value,
            o.request.limit_price,
            o.order_qty,
        )
        for o in chains
    ]


def at(b: SimulatedBroker, second: float) -> None:
    b.run(until_ns=int(second * S))


# ----- determinism ---------------------------------------------------------------------------


def _twap_run() -> tuple[str, ParentWorker]:
    b = market()
    log: list[dict[str, Any]] = []

    def record(e: OrderEvent) -> None:
        if e.client_order_id.startswith("P1-c"):
            log.append(json.loads(e.model_dump_json()))

    b.subscribe(record)
    w = work(b, parent(), slices=4, rules=WorkRules(timeout_ns=4 * S))
    # The market: prints that reach the bid queue, a quote that moves up, then down.
    at(b, 11)
    b.trade("TEST", D("100.00"), D(110))  # 100 ahead of c1, 10 to it; the bid is gone
    at(b, 12)
    b.quote("TEST", D("100.00"), D("100.02"), bid_size=D(50))
    at(b, 24)
    b.quote("TEST", D("100.01"), D("100.03"), bid_size=D(5))
    at(b, 25)
    b.trade("TEST", D("100.01"), D(30))
    at(b, 38)
    b.quote("TEST", D("99.99"), D("100.01"), bid_size=D(0))
    at(b, 60)
    return json.dumps(log, sort_keys=True), w


def test_a_twap_on_a_scripted_market_gives_the_same_children_and_fills_every_run() -> None:
    first, w = _twap_run()
    again, _ = _twap_run()
    assert first == again
    assert w.parent.state is ParentState.COMPLETED
    assert w.filled == D(100)
    assert sent(w.broker)[:3] == [  # type: ignore[arg-type]
        ("P1-c1", 10, "limit", D("100.00"), D(25)),
        ("P1-c2", 14, "limit", D("100.00"), D(15)),  # c1's 10 filled; the rest tried again
        ("P1-c3", 18, "limit", D("100.00"), D(15)),
    ]


# ----- timeout and fallback ------------------------------------------------------------------


def test_a_resting_child_times_out_and_falls_back_to_market() -> None:
    b = market()
    w = work(b, parent(qty=10), rules=WorkRules(timeout_ns=5 * S, max_attempts=1))
    at(b, 14)
    assert sent(b) == [("P1-c1", 10, "limit", D("100.00"), D(10))]
    assert w.working == D(10)
    at(b, 16)
    assert sent(b)[1] == ("P1-c2", 15, "market", None, D(10))
    p = w.progress()
    assert (p.state, p.filled, p.avg_price, p.leaves) == (
        ParentState.COMPLETED,
        D(10),
        D("100.02"),
        0,
    )
    assert b.get_order_by_client_id("P1-c1").status is OrderStatus.CANCELED


@pytest.mark.parametrize(
    ("side", "prices", "cost"),
    [
        (OrderSide.BUY, ["100.00", "100.01", "100.02"], D(0)),  # bought at arrival
        (OrderSide.SELL, ["100.02", "100.01", "100.00"], D("0.02") / D("100.02") * 10_000),
    ],
)
def test_the_ladder_steps_to_the_far_touch(
    side: OrderSide, prices: list[str], cost: Decimal
) -> None:
    b = market()
    rules = WorkRules(timeout_ns=5 * S, max_attempts=1, fallback="ladder", ladder_steps=2)
    w = work(b, parent(qty=10, side=side, decision_price=D("100.02")), rules=rules)
    at(b, 30)
    # The near touch, half way, then the far touch, which crosses and fills.
    assert [(c, t, price) for c, t, _, price, _ in sent(b)] == [
        ("P1-c1", 10, D(prices[0])),
        ("P1-c2", 15, D(prices[1])),
        ("P1-c3", 20, D(prices[2])),
    ]
    p = w.progress()
    assert p.state is ParentState.COMPLETED
    assert p.slippage_bps == cost  # positive is a cost: a sell below arrival


def test_attempts_at_the_policy_price_come_before_the_fallback() -> None:
    b = market()
    work(b, parent(qty=10), rules=WorkRules(timeout_ns=5 * S, max_attempts=3))
    at(b, 30)
    assert [(t, kind) for _, t, kind, _, _ in sent(b)] == [
        (10, "limit"),
        (15, "limit"),
        (20, "limit"),
        (25, "market"),
    ]


# ----- partial fills -------------------------------------------------------------------------


@pytest.mark.parametrize(("threshold", "accepted"), [("0.5", True), ("0.7", False)])
def test_a_partly_filled_slice_is_accepted_at_the_threshold_else_retried(
    threshold: str, accepted: bool
) -> None:
    b = market(bid_size=1)
    rules = WorkRules(timeout_ns=5 * S, partial_threshold=D(threshold), at_end="stop")
    w = work(b, parent(qty=100, end=100), rules=rules)
    at(b, 12)
    b.trade("TEST", D("100.00"), D(61))  # 1 ahead in the queue, 60 of 100 to the child
    assert w.filled == D(60)
    b.quote("TEST", D("100.00"), D("100.02"), bid_size=D(1))
    at(b, 16)
    if accepted:  # 60% >= 50%: the rest of the child is cancelled and goes back to the parent
        assert len(sent(b)) == 1
        assert (w.working, w.leaves) == (0, D(40))
    else:  # 60% < 70%: the remainder is retried at once
        assert sent(b)[1] == ("P1-c2", 15, "limit", D("100.00"), D(40))
        assert (w.working, w.leaves) == (D(40), 0)
    at(b, 101)
    if accepted:
        assert w.parent.state is ParentState.CANCELLED
        assert w.parent.reason == "the end time came with 40 unfilled"


# ----- slippage ------------------------------------------------------------------------------


def test_the_slippage_limit_stops_the_parent_and_records_why() -> None:
    b = market()
    p = parent(qty=100, decision_price=D("100.00"))
    w = work(b, p, slices=2, pricing=lambda br, sp: None, rules=WorkRules(slippage_limit_bps=D(1)))
    at(b, 60)
    # The first slice bought 50 at 100.02, 2 bps over arrival: stop, send nothing more.
    assert sent(b) == [("P1-c1", 10, "market", None, D(50))]
    pr = w.progress()
    assert pr.state is ParentState.CANCELLED
    assert pr.slippage_bps == D(2)
    assert pr.reason is not None
    assert pr.reason.startswith("slippage 2.00 bps past the limit 1 bps")
    assert (pr.filled, pr.working, pr.leaves) == (D(50), 0, D(50))


def test_within_the_slippage_limit_the_parent_completes() -> None:
    b = market()
    p = parent(qty=100, decision_price=D("100.00"))
    w = work(b, p, slices=2, pricing=lambda br, sp: None, rules=WorkRules(slippage_limit_bps=D(3)))
    at(b, 60)
    assert w.parent.state is ParentState.COMPLETED


# ----- pause, resume, cancel, amend ----------------------------------------------------------


def test_pause_cancels_the_working_child_and_resume_catches_up() -> None:
    b = market()
    w = work(b, parent(qty=100, start=10, end=50), slices=4)
    at(b, 11)
    assert w.working == D(25)
    w.pause()
    assert w.parent.state is ParentState.PAUSED
    assert (w.working, w.leaves) == (0, D(100))
    at(b, 36)  # two more slices come due while paused: nothing is sent
    assert len(sent(b)) == 1
    with pytest.raises(ExecutionError) as e:
        w.pause()
    assert e.value.field == "state"
    w.resume()
    # By 36 s the schedule had sent 75 (slices at 10, 20, 30): one child catches up.
    assert sent(b)[1] == ("P1-c2", 36, "limit", D("100.00"), D(75))
    assert w.progress().deviation == D(-75)


def test_cancel_stops_the_children_and_the_schedule() -> None:
    b = market()
    w = work(b, parent(qty=100), slices=4)
    at(b, 11)
    w.cancel("the signal flipped")
    assert w.parent.state is ParentState.CANCELLED
    assert w.parent.reason == "the signal flipped"
    assert b.get_order_by_client_id("P1-c1").status is OrderStatus.CANCELED
    at(b, 60)
    assert len(sent(b)) == 1
    assert (w.filled, w.working, w.leaves) == (0, 0, D(100))
    with pytest.raises(ExecutionError):
        w.resume()


def test_amend_quantity_replans_and_refuses_going_below_what_is_committed() -> None:
    b = market()
    w = work(b, parent(qty=100, start=10, end=50), slices=4)
    at(b, 11)
    with pytest.raises(ExecutionError) as e:
        w.amend(qty=D(20))  # 25 working
    assert (e.value.field, e.value.value) == ("qty", D(20))
    assert w.parent.spec.qty == D(100)
    with pytest.raises(ExecutionError) as e:
        w.amend(end_ns=5 * S)
    assert e.value.field == "end_ns"
    w.amend(qty=D(175))
    assert w.parent.spec.qty == D(175)
    at(b, 21)
    # The 150 not yet committed is planned again from 11 s over 4 slices: 38, 38, 37, 37.
    assert sent(b)[1][1:] == (11, "limit", D("100.00"), D(38))
    assert sent(b)[2][1:] == (20, "limit", D("100.00"), D(38))
    p = w.progress()
    assert p.filled + p.working + p.leaves == D(175)


def test_amend_limit_reprices_a_child_resting_beyond_it() -> None:
    b = market()
    w = work(b, parent(qty=10, limit_price=D("100.05")))
    at(b, 11)
    assert sent(b)[0][3] == D("100.00")
    w.amend(limit_price=D("99.98"))
    assert sent(b)[1] == ("P1-c2", 11, "limit", D("99.98"), D(10))
    assert b.get_order_by_client_id("P1-c1").status is OrderStatus.CANCELED
    assert w.working == D(10)


def test_amend_end_time_moves_the_end_sweep() -> None:
    b = market()
    w = work(b, parent(qty=10, end=100))
    at(b, 11)
    w.amend(end_ns=20 * S)
    at(b, 21)
    assert sent(b)[1] == ("P1-c2", 20, "market", None, D(10))
    assert w.parent.state is ParentState.COMPLETED


# ----- rejections and broker errors ----------------------------------------------------------


def test_a_rejected_child_is_retried_and_rejections_in_a_row_fail_the_parent() -> None:
    b = market()
    b.reject_next = 1
    w = work(b, parent(qty=10), rules=WorkRules(max_rejects=2))
    at(b, 11)
    assert b.get_order_by_client_id("P1-c1").status is OrderStatus.REJECTED
    assert b.get_order_by_client_id("P1-c2").status is OrderStatus.NEW  # retried
    assert w.working == D(10)

    b2 = market()
    b2.reject_next = 2
    w2 = work(b2, parent(qty=10), rules=WorkRules(max_rejects=2))
    at(b2, 11)
    assert w2.parent.state is ParentState.FAILED
    assert w2.parent.reason == (
        "2 children rejected in a row: the replayed data has no closing auction price ahead"
    )
    assert (w2.filled, w2.working, w2.leaves) == (0, 0, D(10))


def test_a_transient_error_is_retried_on_the_broker_clock_never_twice() -> None:
    b = market()
    b.raise_before = [ConnectionError("reset"), TimeoutError()]
    w = work(b, parent(qty=10), rules=WorkRules(backoff_ns=S, max_backoff_ns=10 * S))
    at(b, 10.5)
    assert sent(b) == []
    assert w.leaves == D(10)
    at(b, 20)
    [(cid, t, *_)] = sent(b)  # one child, sent once, after 1 s then 2 s (plus jitter)
    assert cid == "P1-c1"
    assert 13 <= t <= 15
    assert w.working == D(10)


def test_a_submit_that_went_through_before_the_error_is_adopted_not_resent() -> None:
    b = market()
    b.raise_after = [ConnectionError("the answer was lost")]
    w = work(b, parent(qty=10))
    at(b, 20)
    assert len(sent(b)) == 1
    assert w.working == D(10)


def test_a_fatal_error_raises_at_once_and_fails_the_parent() -> None:
    b = ScriptedBroker(cash=D(100))
    b.quote("TEST", D("100.00"), D("100.02"), ts=0)
    w = ParentWorker(b, parent(qty=10, start=0), INST)
    with pytest.raises(InsufficientBuyingPowerError):
        w.start()  # the first slice is due now: sent at once
    assert w.parent.state is ParentState.FAILED
    assert w.parent.reason is not None
    assert "insufficient buying power" in w.parent.reason
    assert w.leaves == D(10)


def test_bad_worker_arguments_are_refused() -> None:
    b = market()
    with pytest.raises(ExecutionError) as e:
        ParentWorker(b, parent(qty=10), INST, slices=0)
    assert e.value.field == "slices"
    with pytest.raises(ExecutionError) as e:
        ParentWorker(b, parent(qty=15), Instrument(symbol="TEST", lot_size=D(10)))
    assert e.value.field == "qty"
    w = ParentWorker(b, parent(qty=10, start=0, end=1), INST)
    at(b, 2)
    with pytest.raises(ExecutionError) as e:
        w.start()
    assert e.value.field == "end_ns"
    assert w.parent.state is ParentState.PENDING


# ----- the same parent on the served Alpaca paper account ----------------------------------


def _timeout_to_market(b: Broker, start_ns: int, clock: Clock | None = None) -> ParentWorker:
    p = ParentOrder(
        parent_id="A1",
        symbol="AAPL",
        side=OrderSide.BUY,
        qty=D(10),
        start_ns=start_ns,
        end_ns=start_ns + 60 * S,
    )
    rules = WorkRules(timeout_ns=300 * MS, max_attempts=1)
    w = ParentWorker(b, p, Instrument(symbol="AAPL"), rules=rules, clock=clock)
    w.start()
    return w


def _children(b: Broker) -> list[tuple[str, str, Decimal | None, Decimal, Decimal, str]]:
    return [
        (o.client_order_id, o.request.type.value, o.limit_price, o.order_qty, o.cum_qty, o.state)
        for o in sorted(b.orders(), key=lambda o: o.client_order_id)
        if o.client_order_id.startswith("A1-c")
    ]


def test_the_same_parent_gives_the_same_children_on_alpaca_and_on_the_simulator(
    alpaca_server: AlpacaServer,
) -> None:
    alpaca_server.call(lambda b: b.quote("AAPL", D("100.00"), D("100.02")))
    clock = WallClock()
    live = alpaca_broker(
        alpaca_server,
        clock=clock,  # the clock its timers run on, which the worker must tell the time by
    )
    try:
        live.connect()
        w = _timeout_to_market(live, clock.now_ns(), clock)
        eventually(lambda: w.parent.state.is_done, 10)
        assert w.parent.state is ParentState.COMPLETED
        on_alpaca = _children(live)
    finally:
        live.close()

    venue = Venue(calendar=None)
    venue.add(Instrument(symbol="AAPL"), empty_feed())
    sim = SimulatedBroker(venue, start_ns=0)
    sim.quote("AAPL", D("100.00"), D("100.02"))
    ws = _timeout_to_market(sim, 0)
    sim.run(until_ns=S)
    assert ws.parent.state is ParentState.COMPLETED
    assert (
        _children(sim)
        == on_alpaca
        == [
            ("A1-c1", "limit", D("100.00"), D(10), D(0), "canceled"),
            ("A1-c2", "market", None, D(10), D(10), "filled"),
        ]
    )


class _HourAhead:
    """A clock an hour ahead of the machine's: a worker that told the time by the wall clock
    instead of the broker's would plan the parent an hour late."""

    def __init__(self) -> None:
        self._wall = WallClock()

    def now_ns(self) -> int:
        return self._wall.now_ns() + 3600 * S


def test_a_worker_on_alpaca_tells_the_time_by_the_broker_without_a_clock(
    alpaca_server: AlpacaServer,
) -> None:
    alpaca_server.call(lambda b: b.quote("AAPL", D("100.00"), D("100.02")))
    clock = _HourAhead()
    live = alpaca_broker(
        alpaca_server,
        clock=clock,
    )
    try:
        live.connect()
        now = live.now_ns()
        assert now - clock.now_ns() <= 0 < now - WallClock().now_ns()
        w = _timeout_to_market(live, now)  # no clock=: the broker's now_ns
        eventually(lambda: w.parent.state.is_done, 10)
        assert w.parent.state is ParentState.COMPLETED
        assert [c[:2] for c in _children(live)] == [("A1-c1", "limit"), ("A1-c2", "market")]
    finally:
        live.close()


# ----- conservation under random child outcomes ----------------------------------------------


class Conservation(RuleBasedStateMachine):
    """Random markets, child cancels, replaces, rejections, pauses and amends; after every step
    the worker's filled and working match the broker's children and nothing is lost or doubled:
    filled + working + leaves = qty, with leaves >= 0."""

    @initialize(
        qty=st.integers(1, 300),
        slices=st.integers(1, 5),
        timeout=st.sampled_from([None, 2, 5]),
        threshold=st.sampled_from([None, D("0.3"), D("0.9")]),
        fallback=st.sampled_from(["market", "ladder", "none"]),
        at_end=st.sampled_from(["market", "stop"]),
        pace=st.sampled_from([None, (1, 2), (2, 5)]),
    )
    def start(
        self,
        qty: int,
        slices: int,
        timeout: int | None,
        threshold: Decimal | None,
        fallback: str,
        at_end: str,
        pace: tuple[int, int] | None,
    ) -> None:
        self.b = market(bid_size=10)
        limit, window = (150, 60) if pace is None else pace  # a tight child rate limit: queues
        rules = WorkRules(
            child_rate_limit=limit,
            child_rate_window_ns=window * S,
            timeout_ns=None if timeout is None else timeout * S,
            partial_threshold=threshold,
            fallback=fallback,
            at_end=at_end,
            max_attempts=2,
            max_rejects=4,
        )
        self.w = work(self.b, parent(qty=qty, start=1, end=60), slices=slices, rules=rules)
        self.t = 0

    @rule(dt=st.integers(1, 8))
    def advance(self, dt: int) -> None:
        self.t += dt
        at(self.b, self.t)

    @rule(bid=st.integers(9_990, 10_010), spread=st.integers(1, 3), size=st.integers(1, 50))
    def quote(self, bid: int, spread: int, size: int) -> None:
        b = D(bid) / 100
        self.b.quote("TEST", b, b + D(spread) / 100, bid_size=D(size), ask_size=D(size))

    @rule(price=st.integers(9_990, 10_010), qty=st.integers(1, 80))
    def trade(self, price: int, qty: int) -> None:
        self.b.trade("TEST", D(price) / 100, D(qty))

    def _live(self) -> list[Order]:
        return [o for o in self.w.children if o.status.is_open]

    @rule(i=st.integers(0, 10))
    def cancel_a_child(self, i: int) -> None:
        live = self._live()
        if live:
            with contextlib.suppress(FillforgeError):  # a cancel or replace outstanding
                self.b.cancel(live[i % len(live)].id)

    @rule(i=st.integers(0, 10), price=st.integers(9_990, 10_010), cut=st.booleans())
    def replace_a_child(self, i: int, price: int, cut: bool) -> None:
        live = [o for o in self._live() if o.limit_price is not None and o.leaves_qty > 1]
        if live:
            o = live[i % len(live)]
            qty = o.cum_qty + o.leaves_qty - 1 if cut else None
            with contextlib.suppress(FillforgeError):
                self.b.replace(o.id, limit_price=D(price) / 100, qty=qty)

    @rule(dice=st.integers(0, 3))
    def reject_the_next_child(self, dice: int) -> None:
        if dice == 0:  # now and then: four in a row fail the parent
            self.b.reject_next += 1

    @precondition(lambda self: self.w.parent.state is ParentState.WORKING)
    @rule()
    def pause(self) -> None:
        self.w.pause()

    @precondition(lambda self: self.w.parent.state is ParentState.PAUSED)
    @rule()
    def resume(self) -> None:
        self.w.resume()

    @precondition(lambda self: not self.w.parent.state.is_done)
    @rule(more=st.integers(0, 50))
    def amend(self, more: int) -> None:
        self.w.amend(qty=self.w.filled + self.w.working + self.w.leaves + more)

    @invariant()
    def quantity_is_conserved(self) -> None:
        w, qty = self.w, self.w.parent.spec.qty
        p = w.progress()
        assert p.filled + p.working + p.leaves == qty
        assert p.leaves >= 0
        assert p.filled <= qty
        assert 0 <= p.queued <= p.leaves  # children waiting for the rate limit are not sent
        if p.queued:
            event("a child waited for the rate limit")
        if p.state is not ParentState.WORKING:
            assert p.queued == 0  # paused or done: what waited went back to leaves
        children = [  # the broker's: the live order of each child's replace chain
            o
            for o in self.b.orders()
            if o.client_order_id.startswith("P1-c") and o.replaced_by is None
        ]
        assert p.filled == sum((o.cum_qty for o in children), D(0))
        assert p.working == sum((o.leaves_qty for o in children if o.status.is_open), D(0))
        ids = [o.client_order_id for o in children]
        assert len(ids) == len(set(ids))  # never a duplicate child

    def teardown(self) -> None:
        if hasattr(self, "b"):
            at(self.b, max(self.t, 60) + 10)
            p = self.w.progress()
            assert p.filled + p.working + p.leaves == self.w.parent.spec.qty
            assert p.state.is_done  # every parent is finished by its end time
            assert p.working == 0
            assert p.queued == 0


Conservation.TestCase.settings = settings(max_examples=100, stateful_step_count=40, deadline=None)
test_quantity_is_conserved_whatever_the_children_do = Conservation.TestCase
