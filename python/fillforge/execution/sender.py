"""How a parent's children reach the broker: :class:`ChildSender` prices a child, builds its
request, submits and cancels it, and retries what a transient error stopped.

Prices (``docs/execution.md``, "Working a parent"): the policy's price comes from the pricing
callable (None: market); the ladder's rung ``k`` of ``n`` is ``near + (far - near) * k / n``
between the touches; a price beyond the parent's limit is moved to the limit, and every price is
put on the tick grid in the protective direction (a buy down, a sell up). A market child of a
parent with a limit is a limit at that limit, immediate-or-cancel.

Retries: a transient error (:func:`~fillforge.execution.retry.is_transient`) on a submit or a
cancel is tried again after a backoff on the broker's clock, at most ``max_retries`` times; the
child keeps its client order id, and before a submit is tried again the broker is asked for
that id, so a first try that went through is adopted, never doubled. Any other error on a
submit is fatal: the parent fails and the error is raised at once.

Pacing: every submit (a first try or a retry) passes the broker's child rate limit
(:mod:`~fillforge.execution.pacing`); a child over it waits in the parent's line and is sent when
the limit lets it through. Cancels are not paced.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from decimal import Decimal

from fillforge.broker import Broker
from fillforge.errors import DuplicateClientOrderIdError, FillforgeError
from fillforge.execution.callbacks import ParentTimers
from fillforge.execution.children import Child, Intent, Task
from fillforge.execution.pacing import Pacer, limiter_for
from fillforge.execution.parent import ParentOrder, WorkRules, child_client_order_id
from fillforge.execution.pricing import static_limit
from fillforge.execution.retry import Backoff
from fillforge.orders.enums import OrderSide, OrderStatus, OrderTimeInForce, OrderType
from fillforge.orders.models import Instrument, OrderRequest

__all__ = ["ChildSender", "Pricing", "near_touch"]

Pricing = Callable[[Broker, ParentOrder], Decimal | None]
"""A child's limit price from the market (None: send it at market)."""

_ZERO = Decimal(0)


def near_touch(broker: Broker, parent: ParentOrder) -> Decimal | None:
    """The default price: the near touch (the bid for a buy, the ask for a sell); None (market)
    when the broker shows no quote on that side."""
    q = broker.latest_quote(parent.symbol)
    if q is None:
        return None
    return q.bid_price if parent.side is OrderSide.BUY else q.ask_price


def beyond(side: OrderSide, price: Decimal, limit: Decimal) -> bool:
    """Whether ``price`` is worse for ``side`` than ``limit``."""
    return price > limit if side is OrderSide.BUY else price < limit


class ChildSender:
    """Sends, re-sends and cancels one parent's children on ``broker``; keeps them by client
    order id in :attr:`children`. ``fatal(reason)`` is told when a child cannot be sent."""

    def __init__(
        self,
        broker: Broker,
        instrument: Instrument,
        rules: WorkRules,
        pricing: Pricing,
        transient: Callable[[BaseException], bool],
        timers: ParentTimers,
        now: Callable[[], int],
        fatal: Callable[[str], None],
        parent_id: str,
    ) -> None:
        self._broker, self._instrument, self._rules = broker, instrument, rules
        self._pricing, self._transient = pricing, transient
        self._timers, self._now, self._fatal = timers, now, fatal
        self._backoff = Backoff(
            rules.backoff_ns, rules.max_backoff_ns, zlib.crc32(parent_id.encode())
        )
        limiter = limiter_for(broker, rules.child_rate_limit, rules.child_rate_window_ns, now)
        self._pacer = Pacer(limiter, timers, now)
        self.children: dict[str, Child] = {}
        self.last_n = 0  # the highest child number used (a recovered parent skips past its own)

    @property
    def queued(self) -> Decimal:
        """What the children waiting for the rate limit ask for."""
        return self._pacer.queued

    # ----- sending --------------------------------------------------------------------------

    def send(self, spec: ParentOrder, task: Task) -> Child:
        """Send the task's next child for what it has left, priced by its mode."""
        price = self._price(spec, task)
        limit, tif = spec.limit_price, OrderTimeInForce.DAY
        if price is None and limit is not None:
            price, tif = limit, OrderTimeInForce.IOC  # "market" within the parent's limit
        elif price is not None:
            if limit is not None and beyond(spec.side, price, limit):
                price = limit
            price = self._to_tick(spec.side, price)
        n = self.last_n = self.last_n + 1
        cid = child_client_order_id(spec.parent_id, n)
        child = Child(n, cid, task, task.remaining, price, task.mode, self._now())
        child.resting = price is not None and tif is OrderTimeInForce.DAY
        self.children[cid] = child
        task.child = child
        task.children.append(child)
        request = OrderRequest(
            symbol=spec.symbol,
            side=spec.side,
            type=OrderType.MARKET if price is None else OrderType.LIMIT,
            time_in_force=tif,
            qty=child.qty,
            limit_price=price,
            client_order_id=cid,
        )
        self._pacer.send(child, lambda: self._submit(child, request))
        return child

    def _price(self, spec: ParentOrder, task: Task) -> Decimal | None:
        if task.mode == "market":
            return None
        if task.mode == "policy":
            return self._pricing(self._broker, spec)
        q = self._broker.latest_quote(spec.symbol)
        if q is None or q.bid_price is None or q.ask_price is None:
            return None
        near, far = q.bid_price, q.ask_price
        if spec.side is OrderSide.SELL:
            near, far = far, near
        return near + (far - near) * task.rung / self._rules.ladder_steps

    def _to_tick(self, side: OrderSide, price: Decimal) -> Decimal:
        """Onto the tick grid, in the protective direction (a buy down, a sell up): the
        static limit at no offset."""
        return static_limit(price, side, _ZERO, self._instrument.tick_size)

    def _submit(self, child: Child, request: OrderRequest) -> None:
        child.working, child.sent_ns = child.qty, self._now()
        try:
            order = self._broker.submit(request)
        except DuplicateClientOrderIdError:
            self._adopt(child)  # an earlier try went through
            return
        except Exception as e:
            child.working = _ZERO
            if self._transient(e):
                if not self._adopt(child):
                    self._retry(child, e, lambda: self._resubmit(child, request))
                return
            child.ended, child.status, child.reason = True, OrderStatus.DENIED, str(e)
            self._fatal(f"child {child.client_order_id} refused: {e}")
            raise
        child.sent = True
        if child.order_id is None:
            child.order_id = order.id

    def _resubmit(self, child: Child, request: OrderRequest) -> None:
        """A retry is paced too, at the head of the line (it keeps its turn)."""
        self._pacer.send(child, lambda: self._submit(child, request), first=True)

    def _adopt(self, child: Child) -> bool:
        """Take the broker's order of the child's client order id, if it has one."""
        try:
            order = self._broker.get_order_by_client_id(child.client_order_id)
        except LookupError:
            return False
        child.sent, child.order_id = True, order.id
        if not child.ended:
            child.working = order.leaves_qty
        return True

    def _retry(self, child: Child, e: BaseException, again: Callable[[], None]) -> None:
        if child.retries >= self._rules.max_retries:
            child.ended, child.status, child.reason = True, OrderStatus.DENIED, str(e)
            self._fatal(f"child {child.client_order_id}: {e} after {child.retries} retries")
            return
        delay = self._backoff.delay_ns(child.retries)
        child.retries += 1
        self._timers.set(f"r{child.n}", self._now() + delay, lambda t: again())

    # ----- cancelling -----------------------------------------------------------------------

    def cancel(self, child: Child, intent: Intent) -> bool:
        """Ask the broker to cancel ``child`` (``intent`` says what its remainder does then).
        A child waiting to be sent again is ended here: returns True when it was."""
        child.intent = intent
        if child.ended:
            return False
        if not child.sent:  # waiting to be sent (again): it never will be
            self._timers.drop(f"r{child.n}")
            self._pacer.remove(child)
            child.ended, child.status = True, OrderStatus.CANCELED
            return True
        if not child.cancel_asked and child.order_id is not None:
            child.cancel_asked = True
            self._send_cancel(child)
        return False

    def _send_cancel(self, child: Child) -> None:
        assert child.order_id is not None
        try:
            self._broker.cancel(child.order_id)
        except Exception as e:
            if self._transient(e):
                self._retry(child, e, lambda: self._send_cancel(child))
            elif not isinstance(e, FillforgeError):
                raise
            # a typed refusal: the order has ended or is ending, and its event tells
