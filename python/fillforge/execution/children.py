"""A parent's children as the worker follows them: :class:`Child` (one child order, by its client
order id, across its replace chain) and :class:`Task` (one slice's quantity, worked by one child
at a time, with its attempts and fallback step).

Everything here is bookkeeping from the broker's order events; nothing talks to a broker.
A child's fills are kept by trade id (a correction updates one, a bust removes it, a duplicate
is ignored), its open quantity is the last ``leaves_qty`` its live order reported, and it has
ended when its live order reaches a terminal status other than ``replaced``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

from fillforge.orders.enums import EventKind, OrderStatus
from fillforge.orders.models import Fill, OrderEvent

__all__ = ["Child", "Intent", "Mode", "Task"]

Mode = Literal["policy", "ladder", "market"]
"""How a child is priced: by the pricing callable, on the reprice ladder, or at market."""
Intent = Literal["retry", "accept", "reprice", "pause", "stop", "end"]
"""Why the worker asked to cancel a child, which decides what its remainder does."""

_ZERO = Decimal(0)
_FILLS = (EventKind.FILL, EventKind.PARTIAL_FILL, EventKind.TRADE_CORRECT)


@dataclass(slots=True, eq=False)
class Child:
    """One child order: ``qty`` asked at ``limit_price`` (None: market) in ``mode``."""

    n: int
    client_order_id: str
    task: Task
    qty: Decimal
    limit_price: Decimal | None
    mode: Mode
    sent_ns: int
    order_id: str | None = None
    fills: dict[str, Fill] = field(default_factory=dict)
    working: Decimal = _ZERO
    sent: bool = False
    ended: bool = False
    status: OrderStatus | None = None
    reason: str | None = None
    intent: Intent | None = None
    cancel_asked: bool = False
    retries: int = 0
    resting: bool = False  # a limit order for the day (one the timeout applies to)
    queued: bool = False  # waiting for the child rate limit (not yet at the broker)

    @property
    def filled(self) -> Decimal:
        return sum((f.qty for f in self.fills.values()), _ZERO)

    @property
    def notional(self) -> Decimal:
        return sum((f.price * f.qty for f in self.fills.values()), _ZERO)

    @property
    def live(self) -> bool:
        """At the broker and not ended."""
        return self.sent and not self.ended

    def apply(self, e: OrderEvent) -> tuple[bool, bool]:
        """Follow one event of this child's orders; returns (it filled, it ended now)."""
        filled = False
        if e.fill is not None and e.kind in _FILLS:
            self.fills[e.fill.trade_id] = e.fill
            filled = True
        elif e.kind is EventKind.TRADE_CANCEL and e.fill is not None:
            self.fills.pop(e.fill.trade_id, None)
            filled = True
        if self.order_id is None:
            self.order_id = e.order_id
        if e.order_id != self.order_id:
            return filled, False  # an earlier order of the replace chain: its fills only
        if e.kind is EventKind.REPLACED and e.related_id is not None:
            self.order_id = e.related_id
            return filled, False
        self.sent = True
        self.status = e.status
        if e.status.is_terminal:
            self.working = _ZERO
            if not self.ended:
                self.ended = True
                self.reason = e.reason
                return filled, True
            return filled, False
        self.working = e.leaves_qty
        return filled, False


@dataclass(slots=True, eq=False)
class Task:
    """One slice's ``qty``, worked by one child at a time until filled or given back."""

    qty: Decimal
    attempts: int = 0
    mode: Mode = "policy"
    rung: int = 0
    closed: bool = False
    child: Child | None = None
    children: list[Child] = field(default_factory=list)

    @property
    def filled(self) -> Decimal:
        return sum((c.filled for c in self.children), _ZERO)

    @property
    def remaining(self) -> Decimal:
        return max(self.qty - self.filled, _ZERO)
