"""The worker that runs one parent order on any :class:`~fillforge.broker.Broker`.

:class:`ParentWorker` cuts the parent into slices (a schedule), sends a child at each slice's
due time, follows every child through the broker's order events, and applies the
:class:`~fillforge.execution.parent.WorkRules` (timeout and fallback, partial-fill threshold,
slippage limit, retries, the end time). It uses only the broker's interface: its clock, its
timers and its event subscription, so the same worker runs on the simulated broker (in
simulated time, deterministically) and on a live one (in wall time). The rules are in
``docs/execution.md`` ("Working a parent"). How children reach the broker is
:mod:`~fillforge.execution.sender`'s; how the broker calls back, :mod:`~fillforge.execution.
callbacks`' (one step at a time, whatever thread or call it comes from); the rules applied to
each child, :mod:`~fillforge.execution.child_work`'s (the worker's base class); the timetable,
:mod:`~fillforge.execution.slice_plan`'s.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from decimal import Decimal

from fillforge.broker import Broker
from fillforge.errors import ExecutionError
from fillforge.execution.callbacks import ParentTimers, StepQueue, clock_of
from fillforge.execution.child_work import ChildWork
from fillforge.execution.children import Task
from fillforge.execution.options import Schedule
from fillforge.execution.parent import (
    Parent,
    ParentOrder,
    ParentRecord,
    ParentSnapshot,
    ParentState,
    WorkRules,
)
from fillforge.execution.progress import Progress
from fillforge.execution.retry import is_transient
from fillforge.execution.schedules import twap
from fillforge.execution.sender import Pricing, beyond, near_touch
from fillforge.execution.slice_plan import SlicePlan
from fillforge.orders.models import Instrument, parent_of
from fillforge.orders.order import Order
from fillforge.time import Clock

__all__ = ["ParentObserver", "ParentWorker", "Pricing", "Progress", "Schedule", "near_touch"]

ParentObserver = Callable[[str, ParentSnapshot], None]
"""Told ``(what changed, the parent's snapshot after it)``: ``started``, ``paused``,
``resumed``, ``amended``, ``completed``, ``cancelled``, ``failed`` or ``restored``."""

_ZERO = Decimal(0)
_S = ParentState


class ParentWorker(ChildWork):
    """Works ``parent`` on ``broker`` (its ``instrument`` gives the grids) under ``rules``.

    ``schedule`` cuts the quantity into slices (default: TWAP in ``slices`` equal parts);
    ``pricing`` prices each child (default: :func:`near_touch`). The time is ``clock``'s (default:
    the broker's own ``now_ns`` when it is a :class:`~fillforge.time.Clock`, as the simulated
    and the Alpaca brokers are, else its ``clock()``). Nothing is sent before :meth:`start`.
    Children's client order ids are ``<parent id>-c<n>``. With ``subscribe=False`` the worker
    does not follow the broker's events itself: whoever made it hands it each one
    (:meth:`feed`), as :class:`~fillforge.execution.engine.ExecutionEngine` does.
    """

    def __init__(
        self,
        broker: Broker,
        parent: ParentOrder,
        instrument: Instrument,
        *,
        rules: WorkRules | None = None,
        schedule: Schedule | None = None,
        slices: int = 1,
        pricing: Pricing | None = None,
        transient: Callable[[BaseException], bool] = is_transient,
        clock: Clock | None = None,
        subscribe: bool = True,
    ) -> None:
        if not isinstance(parent, ParentOrder):
            raise ExecutionError("parent", parent, "expected a ParentOrder")
        if isinstance(slices, bool) or not isinstance(slices, int) or slices < 1:
            raise ExecutionError("slices", slices, "expected an int >= 1")
        parent.check(instrument)
        now = clock_of(broker, clock)
        queue = StepQueue()
        timers = ParentTimers(broker, parent.parent_id, queue, now)
        self._lock = queue.lock
        self._post = queue.post
        self._ending = False
        self._swept = False
        self._arrival: Decimal | None = parent.decision_price
        self._unsubscribe: Callable[[], None] | None = None
        self._subscribe, self._following = subscribe, False
        self._slices = slices
        rules = rules if rules is not None else WorkRules()
        rec = ParentRecord(parent)
        super().__init__(
            broker, instrument, rules, rec, pricing or near_touch, transient, timers, now
        )
        self._plan = SlicePlan(
            schedule or (lambda q, s, e, lot: twap(q, s, e, slices, lot)),
            instrument.lot_size,
            timers,
            self._on_slice,
            self._on_end,
        )
        self._observer: ParentObserver | None = None
        self.before_slice: Callable[[], None] | None = None
        """Called at each slice's time once a child was sent, before the slice's child: the
        middle of the schedule (the crash tests' ``schedule`` point)."""

    # ----- what users read ------------------------------------------------------------------

    @property
    def parent(self) -> Parent:
        return self._rec.view

    @property
    def arrival_price(self) -> Decimal | None:
        """The parent's decision price, or the mid when work started (None before)."""
        return self._arrival

    @property
    def leaves(self) -> Decimal:
        """What is neither filled nor working at the broker (children waiting for the rate
        limit included: :attr:`queued`)."""
        return self._rec.spec.qty - self.filled - self.working

    def progress(self) -> Progress:
        spec, now = self._rec.spec, self._now()
        filled = self.filled
        working = self.working
        avg = self._avg_price()
        scheduled = self._plan.scheduled(now, spec.qty)
        return Progress(
            ts=now,
            state=ParentState(self._rec.state),
            qty=spec.qty,
            filled=filled,
            working=working,
            leaves=spec.qty - filled - working,
            avg_price=avg,
            scheduled=scheduled,
            deviation=filled - scheduled,
            arrival_price=self._arrival,
            slippage_bps=self._cost_bps(avg),
            children=len(self._children),
            reason=self._rec.reason,
            queued=self.queued,
        )

    # ----- what users do --------------------------------------------------------------------

    def start(self) -> None:
        """Start working: plan the slices from now, set their timers and the end timer."""
        with self._lock:
            self._need("start")
            now = self._now()
            if self._rec.spec.end_ns <= now:
                raise ExecutionError("end_ns", self._rec.spec.end_ns, f"already past (now {now})")
            self._rec.fire("start")
        self._post(self._begin)

    def _begin(self) -> None:
        self._following = True
        if self._subscribe:
            self._unsubscribe = self.broker.subscribe(self.feed)
        if self._arrival is None:
            self._arrival = self._mid()
        self._replan(self._now())
        self._changed("started")

    def pause(self) -> None:
        """Stop sending; the working children are cancelled and their remainder comes back."""
        with self._lock:
            self._need("pause")
            self._rec.fire("pause")
            self._changed("paused")
        self._post(lambda: self._cancel_all("pause"))

    def resume(self) -> None:
        """Work again, catching up at once with what the schedule has sent by now."""
        with self._lock:
            self._need("resume")
            self._rec.fire("resume")
            self._changed("resumed")
        self._post(lambda: self._catch_up(self._now()))

    def cancel(self, reason: str = "cancelled") -> None:
        """Stop for good: the working children are cancelled."""
        with self._lock:
            self._need("cancel")
        self._post(lambda: self._stop("cancel", reason))

    def amend(
        self,
        *,
        qty: Decimal | None = None,
        limit_price: Decimal | None = None,
        end_ns: int | None = None,
    ) -> None:
        """Change the quantity (not below what is filled and working), the limit (children
        resting beyond it are repriced) or the end time (after now); the rest of the schedule is
        planned again from now. A refused change raises ExecutionError and changes nothing."""
        with self._lock:
            spec = self._rec.spec
            if ParentState(self._rec.state).is_done:
                raise ExecutionError("state", self._rec.state, "a finished parent cannot change")
            changes: dict[str, object] = {}
            if qty is not None:
                floor = self.filled + self.working + self.queued
                if qty < floor:
                    raise ExecutionError(
                        "qty",
                        qty,
                        f"below what is filled, working and queued ({floor}): pause first",
                    )
                changes["qty"] = qty
            if limit_price is not None:
                changes["limit_price"] = limit_price
            if end_ns is not None:
                now = self._now()
                if isinstance(end_ns, int) and end_ns <= now:
                    raise ExecutionError("end_ns", end_ns, f"not after now ({now})")
                changes["end_ns"] = end_ns
            new = ParentOrder(**{**spec.model_dump(), **changes})
            new.check(self.instrument)
            self._rec.spec = new
        self._post(lambda: self._after_amend(limit_price is not None))

    def send_now(self, qty: Decimal) -> Decimal:
        """Send a child for ``qty`` now, outside the schedule, for policies that react to the
        market rather than a timetable (POV's participation, an iceberg's refill). It is cut to
        the lot grid and to what is neither filled nor held by an open slice; returns what was
        sent (0: nothing, e.g. the parent is not working, or at its end)."""
        if not isinstance(qty, Decimal) or not qty.is_finite() or qty < 0:
            raise ExecutionError("qty", qty, "expected a finite Decimal >= 0")
        with self._lock:
            if self._rec.state != _S.WORKING or self._ending:
                return _ZERO
            sent = self._lots(min(qty, self._rec.spec.qty - self._committed()))
            if sent > 0:
                self._post(lambda: self._send_deficit(self._committed() + sent))
            return sent

    def close(self) -> None:
        """Stop following the broker's events and timers (the parent's children stay as they
        are at the broker)."""
        with self._lock:
            self._timers.clear()
            self._following = False
            if self._unsubscribe is not None:
                self._unsubscribe()
                self._unsubscribe = None

    # ----- recovery (docs/state-recovery.md) -------------------------------------------------

    def observe(self, observer: ParentObserver | None) -> None:
        """Tell ``observer`` every change of the parent's lifecycle or plan, with the snapshot
        after it (None: stop telling)."""
        self._observer = observer

    def _changed(self, kind: str) -> None:
        if self._observer is not None:
            self._observer(kind, self.snapshot())

    def snapshot(self) -> ParentSnapshot:
        """What rebuilds this parent after a restart (:meth:`restore`)."""
        rec = self._rec
        return ParentSnapshot(
            spec=rec.spec,
            rules=self.rules,
            slices=self._slices,
            state=ParentState(rec.state),
            reason=rec.reason,
            ended_ns=rec.ended_ns,
            plan_ns=self._plan.ns,
            plan_base=self._plan.base,
            arrival_price=self._arrival,
            first_child_mid=self._first_mid,
            first_child_ns=self._first_ns,
            ending=self._ending,
            swept=self._swept,
            children=self._sender.last_n,
            filled=self._filled,
        )

    def restore(
        self, snap: ParentSnapshot, children: Iterable[Order] | None = None, *, last_child: int = 0
    ) -> None:
        """Take up the parent ``snap`` describes, instead of :meth:`start`: its state, its
        children (the broker's orders ``<parent>-c<n>``, fills and all; a live one keeps
        working), and its plan, cut again at the same time from the same base so the schedule
        gives the same slices. A working parent then catches up at once with what its schedule
        had sent by now (the slices missed while it was down, as one child, as :meth:`resume`
        does), and follows its timetable for the rest; an end time passed while down applies
        its ``at_end`` rule now. New children are numbered after ``last_child`` and every child
        seen, so no client order id is used twice. ``children`` default: the broker's orders
        whose client order id names the parent, read once the worker follows the events (an
        event after the read is applied after it; fills count once, by trade id)."""
        with self._lock:
            self._need("start")
            rec = self._rec
            if snap.spec != rec.spec:
                raise ExecutionError("spec", snap.spec.parent_id, "not this worker's parent")
            rec.state, rec.reason, rec.ended_ns = snap.state, snap.reason, snap.ended_ns
            self._arrival = snap.arrival_price
            self._first_mid, self._first_ns = snap.first_child_mid, snap.first_child_ns
            self._ending, self._swept = snap.ending, snap.swept
            self._sender.last_n = max(last_child, snap.children)
            self._following = True  # events from here on queue behind this step
            if self._subscribe:
                self._unsubscribe = self.broker.subscribe(self.feed)
            if children is None:
                pid = rec.id
                children = [o for o in self.broker.orders() if parent_of(o.client_order_id) == pid]
            for order in sorted(children, key=lambda o: o.created_ts):
                self._adopt_child(order)
        self._post(lambda: self._take_up(snap))

    def _take_up(self, snap: ParentSnapshot) -> None:
        state = self._rec.state
        if ParentState(state).is_done:
            if any(c.live for c in self._unended):  # its last children's ends are to come
                self._changed("restored")
            else:
                self.close()
            return
        now = self._now()
        self._plan.cut(self._rec.spec, snap.plan_ns, snap.plan_base, now=now, end=not self._ending)
        timeout = self.rules.timeout_ns
        for c in self._unended:
            if timeout is not None and c.resting and c.live:
                self._timers.set(f"t{c.n}", c.sent_ns + timeout, self._timeout_step(c))
        self._changed("restored")
        if self._filled >= self._rec.spec.qty:
            self._finish("complete", None)
        elif self._ending:
            self._settle()
        else:
            self._catch_up(now)

    def _need(self, trigger: str) -> None:
        if not self._rec.allowed(trigger):
            raise ExecutionError("state", self._rec.state, f"cannot {trigger} a parent here")

    # ----- the plan and its slices ------------------------------------------------------------

    def _replan(self, now: int) -> None:
        """Plan the rest from now: the schedule of what is not yet committed, its timers."""
        self._plan.cut(self._rec.spec, now, self._committed())

    def _on_slice(self, target: Decimal) -> None:
        if self._rec.state == _S.WORKING and not self._ending:
            if self.before_slice is not None and self._children:
                self.before_slice()
            self._send_deficit(target)

    def _catch_up(self, now: int) -> None:
        if self._rec.state == _S.WORKING and not self._ending:
            self._send_deficit(self._plan.scheduled(now, self._rec.spec.qty))

    def _send_deficit(self, target: Decimal) -> None:
        qty = self._lots(min(target, self._rec.spec.qty) - self._committed())
        if qty > 0:
            task = Task(qty)
            self._tasks.append(task)
            self._next(task)

    def _after_amend(self, limit_changed: bool) -> None:
        state = self._rec.state
        if state in (_S.WORKING, _S.PAUSED) and not self._ending:
            if self.filled >= self._rec.spec.qty:
                self._finish("complete", None)
                return
            self._replan(self._now())
        if limit_changed:
            limit = self._rec.spec.limit_price
            for c in list(self._children.values()):
                price = c.limit_price
                if (
                    not c.ended
                    and price is not None
                    and limit is not None
                    and beyond(self._rec.spec.side, price, limit)
                ):
                    self._cancel_child(c, "reprice")
        if not ParentState(self._rec.state).is_done:
            self._changed("amended")

    def _on_fill(self) -> None:
        if self._rec.state not in (_S.WORKING, _S.PAUSED):
            return
        spec = self._rec.spec
        if self.filled >= spec.qty:
            self._finish("complete", None)
            return
        limit = self.rules.slippage_limit_bps
        cost = self._cost_bps(self._avg_price())
        if limit is not None and cost is not None and cost > limit:
            why = f"slippage {cost:.2f} bps past the limit {limit} bps (arrival {self._arrival})"
            self._stop("cancel", why)

    # ----- the end --------------------------------------------------------------------------

    def _on_end(self) -> None:
        state = self._rec.state
        if state == _S.PAUSED:
            self._stop("cancel", "the end time came while paused")
        elif state == _S.WORKING:
            self._ending = True
            self._cancel_all("end")
            self._settle()

    def _settle(self) -> None:
        """After a child ends: at the end time, sweep the remainder once, then finish; a
        finished parent stops following the broker once no child works."""
        self._unended = [c for c in self._unended if not c.ended]
        busy = any(c.live for c in self._unended) or any(
            t.child is not None and not t.child.ended for t in self._open_tasks()
        )
        if self._ending and not busy and self._rec.state == _S.WORKING:
            rest = self._lots(self._rec.spec.qty - self.filled)
            if rest > 0 and self.rules.at_end == "market" and not self._swept:
                self._swept = True
                task = Task(rest, mode="market")
                self._tasks.append(task)
                task.attempts = 1
                self._send(task)
                return
            if rest > 0:
                self._finish("cancel", f"the end time came with {rest} unfilled")
            else:
                self._finish("complete", None)
            return
        if ParentState(self._rec.state).is_done and not busy:
            self.close()

    def _stop(self, trigger: str, reason: str) -> None:
        if self._rec.allowed(trigger):
            self._finish(trigger, reason)
            self._cancel_all("stop")

    def _fail(self, reason: str) -> None:
        if self._rec.allowed("fail"):
            self._finish("fail", reason)
            self._cancel_all("stop")

    def _finish(self, trigger: str, reason: str | None) -> None:
        self._rec.fire(trigger, reason, self._now())
        self._changed(str(self._rec.state))
        self._timers.clear()
        if not any(c.live for c in self._unended):
            self.close()

    def __repr__(self) -> str:
        return f"ParentWorker({self._rec.view!r}, filled={self.filled}, working={self.working})"
