"""A parent's children under its :class:`~fillforge.execution.parent.WorkRules`:
:class:`ChildWork` sends each slice's child, follows it through the broker's order events, and
applies the rules to it (the timeout and the partial-fill threshold, the retries and the
fallback to the reprice ladder or market, the run of rejects). It is the base of
:class:`~fillforge.execution.worker.ParentWorker`, which owns the parent's lifecycle and plan
and supplies what a fill, a failure and a child's end mean for the parent."""

from __future__ import annotations

from collections.abc import Callable
from decimal import ROUND_FLOOR, Decimal

from fillforge.broker import Broker
from fillforge.execution.callbacks import ParentTimers
from fillforge.execution.children import Child, Intent, Mode, Task
from fillforge.execution.parent import ParentRecord, ParentState, WorkRules
from fillforge.execution.pricing import BPS, quote_mid
from fillforge.execution.sender import ChildSender, Pricing
from fillforge.orders.enums import OrderSide, OrderStatus, OrderType
from fillforge.orders.models import Fill, Instrument, OrderEvent, split_child_id
from fillforge.orders.order import Order

__all__ = ["ChildWork"]

_ZERO = Decimal(0)
_S = ParentState
_REFUSED = (OrderStatus.REJECTED, OrderStatus.DENIED)


class ChildWork:
    """The children of the parent ``rec`` records, worked on ``broker`` (a base class: the
    worker supplies ``_post``, ``_on_fill``, ``_fail`` and ``_settle``)."""

    _post: Callable[[Callable[[], None]], None]  # the worker's step queue
    _following: bool
    _ending: bool
    _arrival: Decimal | None

    def __init__(
        self,
        broker: Broker,
        instrument: Instrument,
        rules: WorkRules,
        rec: ParentRecord,
        pricing: Pricing,
        transient: Callable[[BaseException], bool],
        timers: ParentTimers,
        now: Callable[[], int],
    ) -> None:
        self.broker = broker
        self.instrument = instrument
        self.rules = rules
        self._rec = rec
        self._now = now
        self._timers = timers
        parent_id = rec.spec.parent_id
        self._prefix = f"{parent_id}-c"
        self._sender = ChildSender(
            broker, instrument, rules, pricing, transient, timers, now, self._fail, parent_id
        )
        self._children = self._sender.children
        self._tasks: list[Task] = []  # the open ones (closed tasks are dropped as found)
        self._unended: list[Child] = []  # children not known to have ended (pruned as found)
        self._filled = _ZERO  # every child's fills, kept as their events arrive
        self._notional = _ZERO
        self._rejects = 0
        self._first_mid: Decimal | None = None
        self._first_ns: int | None = None

    def _on_fill(self) -> None:
        raise NotImplementedError  # what a fill means for the parent

    def _fail(self, reason: str) -> None:
        raise NotImplementedError  # the parent fails

    def _settle(self) -> None:
        raise NotImplementedError  # after a child ends: the end's sweep, the parent's finish

    # ----- what users read ------------------------------------------------------------------

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
    def queued(self) -> Decimal:
        """What children waiting for the child rate limit ask for (part of :attr:`leaves`)."""
        return self._sender.queued

    # ----- sending --------------------------------------------------------------------------

    def _open_tasks(self) -> list[Task]:
        self._tasks = [t for t in self._tasks if not t.closed]
        return self._tasks

    def _committed(self) -> Decimal:
        """Filled, plus what open slices hold (at the broker or about to be)."""
        return self.filled + sum((t.remaining for t in self._open_tasks()), _ZERO)

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
            self._timers.set(f"t{child.n}", self._now() + timeout, self._timeout_step(child))

    def _timeout_step(self, child: Child) -> Callable[[int], None]:
        return lambda t: self._on_timeout(child)

    def _cancel_child(self, child: Child, intent: Intent) -> None:
        if self._sender.cancel(child, intent):
            self._child_ended(child)

    def _cancel_all(self, intent: Intent) -> None:
        for c in [c for c in self._unended if not c.ended]:
            self._cancel_child(c, intent)
        for t in self._tasks:
            if t.child is None or t.child.ended:
                t.closed = True

    def _adopt_child(self, order: Order) -> None:
        """Take up a child the broker holds (a restart): its fills, and its work if live."""
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
            self._timers.set(f"t{child.n}", due, self._timeout_step(child))
            return
        task, t = child.task, self.rules.partial_threshold
        accept = t is not None and task.filled >= task.qty * t
        self._cancel_child(child, "accept" if accept else "retry")

    # ----- prices ---------------------------------------------------------------------------

    def _avg_price(self) -> Decimal | None:
        filled = self.filled
        return self._notional / filled if filled else None

    def _mid(self) -> Decimal | None:
        return quote_mid(self.broker.latest_quote(self._rec.spec.symbol))

    def _cost_bps(self, avg: Decimal | None) -> Decimal | None:
        arrival = self._arrival
        if avg is None or arrival is None:
            return None
        sign = 1 if self._rec.spec.side is OrderSide.BUY else -1
        return sign * (avg - arrival) / arrival * BPS

    def _lots(self, qty: Decimal) -> Decimal:
        lot = self.instrument.lot_size
        return max((qty / lot).to_integral_value(ROUND_FLOOR) * lot, _ZERO)
