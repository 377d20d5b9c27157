"""The worker that runs one parent order on any :class:`~fillforge.broker.Broker`.

:class:`ParentWorker` cuts the parent into slices (a schedule), sends a child at each slice's
due time, follows every child through the broker's order events, and applies the
:class:`~fillforge.execution.parent.WorkRules` (timeout and fallback, partial-fill threshold,
slippage limit, retries, the end time). It uses only the broker's interface: its clock, its
timers and its event subscription, so the same worker runs on the simulated broker (in
simulated time, deterministically) and on a live one (in wall time). The rules are in
``docs/execution.md`` ("Working a parent"). How children reach the broker is
:mod:`~fillforge.execution.sender`'s; how the broker calls back, :mod:`~fillforge.execution.
callbacks`' (one step at a time, whatever thread or call it comes from).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal

from fillforge.broker import Broker
from fillforge.errors import ExecutionError
from fillforge.execution.callbacks import ParentTimers, StepQueue, clock_of
from fillforge.execution.children import Child, Intent, Mode, Task
from fillforge.execution.options import Schedule
from fillforge.execution.parent import (
    Parent,
    ParentOrder,
    ParentRecord,
    ParentSnapshot,
    ParentState,
    WorkRules,
)
from fillforge.execution.pricing import BPS
from fillforge.execution.retry import is_transient
from fillforge.execution.schedules import Slice, twap
from fillforge.execution.sender import ChildSender, Pricing, beyond, near_touch
from fillforge.orders.enums import OrderSide, OrderStatus, OrderType
from fillforge.orders.models import Fill, Instrument, OrderEvent, parent_of, split_child_id
from fillforge.orders.order import Order
from fillforge.time import Clock

__all__ = ["ParentObserver", "ParentWorker", "Pricing", "Progress", "Schedule", "near_touch"]

ParentObserver = Callable[[str, ParentSnapshot], None]
"""Told ``(what changed, the parent's snapshot after it)``: ``started``, ``paused``,
``resumed``, ``amended``, ``completed``, ``cancelled``, ``failed`` or ``restored``."""

_ZERO = Decimal(0)
_S = ParentState
_REFUSED = (OrderStatus.REJECTED, OrderStatus.DENIED)


@dataclass(frozen=True, slots=True)
class Progress:
    """A parent's progress at ``ts``: ``filled + working + leaves == qty`` always.

    ``queued`` is the part of ``leaves`` that children waiting for the child rate limit ask for
    (they are sent when it lets them through). ``scheduled`` is what the schedule had sent by
    now, ``deviation = filled - scheduled`` (positive: ahead). ``slippage_bps`` is the cost of
    the average price against the arrival price, positive when it costs (a buy above, a sell
    below).
    """

    ts: int
    state: ParentState
    qty: Decimal
    filled: Decimal
    working: Decimal
    leaves: Decimal
    avg_price: Decimal | None
    scheduled: Decimal
    deviation: Decimal
    arrival_price: Decimal | None
    slippage_bps: Decimal | None
    children: int
    reason: str | None
    queued: Decimal = _ZERO


class ParentWorker:
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
        self.broker = broker
        self.instrument = instrument
        self.rules = rules if rules is not None else WorkRules()
        self._schedule: Schedule = schedule or (lambda q, s, e, lot: twap(q, s, e, slices, lot))
        self._now = clock_of(broker, clock)
        self._rec = ParentRecord(parent)
        self._prefix = f"{parent.parent_id}-c"
        self._queue = StepQueue()
        self._lock = self._queue.lock
        self._post = self._queue.post
        self._timers = ParentTimers(broker, parent.parent_id, self._queue, self._now)
        self._sender = ChildSender(
            broker,
            instrument,
            self.rules,
            pricing or near_touch,
            transient,
            self._timers,
            self._now,
            self._fail,
            parent.parent_id,
        )
        self._children = self._sender.children
        self._tasks: list[Task] = []  # the open ones (closed tasks are dropped as found)
        self._unended: list[Child] = []  # children not known to have ended (pruned as found)
        self._filled = _ZERO  # every child's fills, kept as their events arrive
        self._notional = _ZERO
        self._plan: list[tuple[int, Decimal]] = []
        self._gen = 0
        self._rejects = 0
        self._ending = False
        self._swept = False
        self._arrival: Decimal | None = parent.decision_price
        self._first_mid: Decimal | None = None
        self._first_ns: int | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._subscribe, self._following = subscribe, False
        self._slices = slices
        self._plan_ns, self._plan_base = 0, _ZERO
        self._observer: ParentObserver | None = None
        self.before_slice: Callable[[], None] | None = None
        """Called at each slice's time once a child was sent, before the slice's child: the
        middle of the schedule (the crash tests' ``schedule`` point)."""

    # ----- what users read ------------------------------------------------------------------

    @property
    def parent(self) -> Parent:
        return self._rec.view

    @property
    def children(self) -> list[Order]:
        """The children as the broker's orders (the live order of each replace chain)."""
        out = []
        for c in self._children.values():
            if c.order_id is not None:
                out.append(self.broker.get_order(c.order_id))
        return out

    @property
    def fills(self) -> list[Fill]:
        """Every child's fills, in time order (then by child)."""
        out = [f for c in self._children.values() for f in c.fills.values()]
        out.sort(key=lambda f: f.ts_event)
        return out

    @property
    def arrival_price(self) -> Decimal | None:
        """The parent's decision price, or the mid when work started (None before)."""
        return self._arrival

    @property
    def first_child_mid(self) -> Decimal | None:
        """The mid the broker quoted when the first child was sent (None: none sent yet, or
        no two-sided quote then): the shortfall's ``P_0``."""
        return self._first_mid

    @property
    def first_child_ns(self) -> int | None:
        """When the first child was sent (None: none yet)."""
        return self._first_ns

    @property
    def filled(self) -> Decimal:
        return self._filled

    @property
    def working(self) -> Decimal:
        self._unended = [c for c in self._unended if not c.ended]
        return sum((c.working for c in self._unended), _ZERO)

    @property
    def leaves(self) -> Decimal:
        """What is neither filled nor working at the broker (children waiting for the rate
        limit included: :attr:`queued`)."""
        return self._rec.spec.qty - self.filled - self.working

    @property
    def queued(self) -> Decimal:
        """What children waiting for the child rate limit ask for (part of :attr:`leaves`)."""
        return self._sender.queued

    def progress(self) -> Progress:
        spec, now = self._rec.spec, self._now()
        filled = self.filled
        working = self.working
        avg = self._notional / filled if filled else None
        scheduled = self._scheduled(now)
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
            plan_ns=self._plan_ns,
            plan_base=self._plan_base,
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

    def _adopt_child(self, order: Order) -> None:
        split = split_child_id(order.client_order_id)
        if split is None or split[0] != self._rec.id or order.replaced_by is not None:
            return
        n = split[1]
        mode: Mode = "market" if order.request.type is OrderType.MARKET else "policy"
        task = Task(order.order_qty, attempts=1, mode=mode)
        child = Child(n, order.client_order_id, task, order.order_qty, order.limit_price, mode, 0)
        child.sent_ns, child.order_id, child.sent = order.created_ts, order.id, True
        child.fills = dict(order.fills)
        child.status, child.resting = order.status, child.limit_price is not None
        task.children.append(child)
        if order.status.is_terminal:
            child.ended, child.reason, task.closed = True, order.reason, True
        else:
            child.working = order.leaves_qty
            task.child = child
            self._tasks.append(task)
            self._unended.append(child)
        self._children[child.client_order_id] = child
        self._sender.last_n = max(self._sender.last_n, n)
        self._filled += child.filled
        self._notional += child.notional

    def _take_up(self, snap: ParentSnapshot) -> None:
        state = self._rec.state
        if ParentState(state).is_done:
            if any(c.live for c in self._unended):  # its last children's ends are to come
                self._changed("restored")
            else:
                self.close()
            return
        now = self._now()
        self._cut(snap.plan_ns, snap.plan_base, now)
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

    def _timeout_step(self, child: Child) -> Callable[[int], None]:
        return lambda t: self._on_timeout(child)

    def _cut(self, plan_ns: int, base: Decimal, now: int) -> None:
        """The plan as :meth:`_replan` cut it at ``plan_ns`` from ``base``; timers for the
        slices still to come and the end."""
        spec, lot = self._rec.spec, self.instrument.lot_size
        begin = max(plan_ns, spec.start_ns)
        rest = spec.qty - base
        slices = self._schedule(rest, begin, spec.end_ns, lot) if rest > 0 else []
        plan, cum = [(plan_ns, base)], base
        for s in slices:
            cum += s.qty
            plan.append((s.due_ns, cum))
        self._gen += 1
        self._plan, self._plan_ns, self._plan_base = plan, plan_ns, base
        gen = self._gen
        for i, (due, _) in enumerate(plan[1:], 1):
            if due > now:
                self._timers.set(f"s{gen}.{i}", due, self._slice_step(gen, i))
        if not self._ending:
            self._timers.set("end", spec.end_ns, lambda t: self._on_end())

    def _need(self, trigger: str) -> None:
        if not self._rec.allowed(trigger):
            raise ExecutionError("state", self._rec.state, f"cannot {trigger} a parent here")

    # ----- the plan and its slices ------------------------------------------------------------

    def _open_tasks(self) -> list[Task]:
        self._tasks = [t for t in self._tasks if not t.closed]
        return self._tasks

    def _committed(self) -> Decimal:
        """Filled, plus what open slices hold (at the broker or about to be)."""
        return self.filled + sum((t.remaining for t in self._open_tasks()), _ZERO)

    def _replan(self, now: int) -> None:
        """Plan the rest from now: the schedule of what is not yet committed, its timers."""
        for i in range(len(self._plan)):
            self._timers.drop(f"s{self._gen}.{i}")
        self._gen += 1
        spec, lot = self._rec.spec, self.instrument.lot_size
        base = self._committed()
        rest = spec.qty - base
        begin = max(now, spec.start_ns)
        slices: list[Slice] = []
        if rest > 0 and begin < spec.end_ns:  # at the end time, the end's sweep takes the rest
            slices = self._schedule(rest, begin, spec.end_ns, lot)
            if sum((s.qty for s in slices), _ZERO) != rest:
                raise ExecutionError("schedule", slices, f"the slices do not sum to {rest}")
        plan, cum = [(now, base)], base
        for s in slices:
            if not begin <= s.due_ns <= spec.end_ns:
                raise ExecutionError("schedule", s, f"due outside [{begin}, {spec.end_ns}]")
            cum += s.qty
            plan.append((s.due_ns, cum))
        self._plan = plan
        self._plan_ns, self._plan_base = now, base
        gen = self._gen
        for i, (due, _) in enumerate(plan[1:], 1):
            self._timers.set(f"s{gen}.{i}", due, self._slice_step(gen, i))
        self._timers.set("end", spec.end_ns, lambda t: self._on_end())

    def _scheduled(self, now: int) -> Decimal:
        done = _ZERO
        for due, cum in self._plan:
            if due <= now:
                done = cum
        return min(done, self._rec.spec.qty)

    def _slice_step(self, gen: int, i: int) -> Callable[[int], None]:
        return lambda t: self._on_slice(gen, i)

    def _on_slice(self, gen: int, i: int) -> None:
        if gen == self._gen and self._rec.state == _S.WORKING and not self._ending:
            if self.before_slice is not None and self._children:
                self.before_slice()
            self._send_deficit(self._plan[i][1])

    def _catch_up(self, now: int) -> None:
        if self._rec.state == _S.WORKING and not self._ending:
            self._send_deficit(self._scheduled(now))

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

    # ----- children -------------------------------------------------------------------------

    def _next(self, task: Task) -> None:
        """Send the task's next child, or close it, by its mode and attempts (the rules)."""
        rules = self.rules
        if task.remaining <= 0 or self._rec.state != _S.WORKING:
            task.closed = True
            return
        if task.mode == "policy" and task.attempts >= rules.max_attempts:
            if rules.fallback == "none":
                task.closed = True
                return
            task.mode = "ladder" if rules.fallback == "ladder" else "market"
        if task.mode == "ladder":
            if task.rung >= rules.ladder_steps:
                task.mode = "market"
            else:
                task.rung += 1
        task.attempts += 1
        self._send(task)

    def _send(self, task: Task) -> None:
        if self._first_ns is None:
            self._first_ns = self._now()
            self._first_mid = self._mid()
        child = self._sender.send(self._rec.spec, task)
        self._unended.append(child)
        timeout = self.rules.timeout_ns
        if timeout is not None and child.resting and not child.ended:
            self._timers.set(
                f"t{child.n}", self._now() + timeout, lambda t: self._on_timeout(child)
            )

    def _cancel_child(self, child: Child, intent: Intent) -> None:
        if self._sender.cancel(child, intent):
            self._child_ended(child)

    def _cancel_all(self, intent: Intent) -> None:
        for c in [c for c in self._unended if not c.ended]:
            self._cancel_child(c, intent)
        for t in self._tasks:
            if t.child is None or t.child.ended:
                t.closed = True

    # ----- events ---------------------------------------------------------------------------

    def feed(self, e: OrderEvent) -> None:
        """Take one of the broker's order events (other orders' are ignored, and all are once
        the worker stopped following the broker: :meth:`close`)."""
        if not self._following or not e.client_order_id.startswith(self._prefix):
            return
        self._post(lambda: self._apply(e))

    def _apply(self, e: OrderEvent) -> None:
        child = self._children.get(e.client_order_id)
        if child is None:
            return
        if e.fill is None:
            filled, ended = child.apply(e)
        else:  # the running totals move by what this event changes in the child's fills
            before, paid = child.filled, child.notional
            filled, ended = child.apply(e)
            self._filled += child.filled - before
            self._notional += child.notional - paid
        if e.status in (OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED, OrderStatus.FILLED):
            self._rejects = 0
        if filled:
            self._on_fill()
        if ended:
            self._child_ended(child)

    def _on_fill(self) -> None:
        if self._rec.state not in (_S.WORKING, _S.PAUSED):
            return
        spec = self._rec.spec
        if self.filled >= spec.qty:
            self._finish("complete", None)
            return
        limit = self.rules.slippage_limit_bps
        cost = self._cost_bps(self.progress().avg_price)
        if limit is not None and cost is not None and cost > limit:
            why = f"slippage {cost:.2f} bps past the limit {limit} bps (arrival {self._arrival})"
            self._stop("cancel", why)

    def _child_ended(self, child: Child) -> None:
        self._timers.drop(f"t{child.n}")
        task = child.task
        if task.child is child:
            task.child = None
        if child.status in _REFUSED:  # by the venue, or denied before it (a risk gate)
            self._rejects += 1
            if self._rejects >= self.rules.max_rejects:
                self._fail(f"{self._rejects} children rejected in a row: {child.reason}")
        state = self._rec.state
        if (
            state != _S.WORKING
            or child.intent in ("accept", "pause", "stop", "end")
            or child.status is OrderStatus.FILLED
            or (task.mode == "market" and child.intent != "reprice")
            or self._ending
        ):
            task.closed = True
        elif not task.closed:
            if child.intent == "reprice":
                task.attempts -= 1
                if task.mode == "ladder":
                    task.rung -= 1
            self._next(task)
        self._settle()

    def _on_timeout(self, child: Child) -> None:
        if child.ended or child.cancel_asked:
            return
        timeout, now = self.rules.timeout_ns, self._now()
        if timeout is not None and (child.queued or now < child.sent_ns + timeout):
            # The clock starts once the child is sent, not while it waits for the rate limit.
            due = now + timeout if child.queued else child.sent_ns + timeout
            self._timers.set(f"t{child.n}", due, lambda t: self._on_timeout(child))
            return
        task, t = child.task, self.rules.partial_threshold
        accept = t is not None and task.filled >= task.qty * t
        self._cancel_child(child, "accept" if accept else "retry")

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

    # ----- prices ---------------------------------------------------------------------------

    def _mid(self) -> Decimal | None:
        q = self.broker.latest_quote(self._rec.spec.symbol)
        if q is None or q.bid_price is None or q.ask_price is None:
            return None
        return (q.bid_price + q.ask_price) / 2

    def _cost_bps(self, avg: Decimal | None) -> Decimal | None:
        arrival = self._arrival
        if avg is None or arrival is None:
            return None
        sign = 1 if self._rec.spec.side is OrderSide.BUY else -1
        return sign * (avg - arrival) / arrival * BPS

    def _lots(self, qty: Decimal) -> Decimal:
        lot = self.instrument.lot_size
        return max((qty / lot).to_integral_value(ROUND_FLOOR) * lot, _ZERO)

    def __repr__(self) -> str:
        return f"ParentWorker({self._rec.view!r}, filled={self.filled}, working={self.working})"
