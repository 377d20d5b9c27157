"""The adaptive mix: join, improve or cross as a parent falls behind its schedule.

How far behind is a fraction of the parent: ``behind = max(scheduled - filled, 0) / qty`` (the
worker's :attr:`~fillforge.execution.worker.Progress.deviation` is ``filled - scheduled``). The
decision (:meth:`AdaptiveMix.action`) is a pure function of it and two thresholds:

* ``behind < improve_at``: **join**, rest at the near touch (the bid for a buy, the ask for a
  sell);
* ``improve_at <= behind < cross_at``: **improve**, one tick inside the near touch when the
  spread is at least two ticks wide (else join: one tick inside a one-tick spread would cross);
* ``behind >= cross_at``: **cross**, take the far touch (the ask for a buy, the bid for a sell).

Further behind never gives a less aggressive action, and for one quote the price never moves
away from the far touch as the action gets more aggressive. :class:`AdaptivePricing` is the
mix as the worker's ``pricing`` callable. The rules are in ``docs/execution.md`` ("Adaptive
mix").
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import IntEnum
from typing import Protocol

from fillforge.broker import Broker
from fillforge.errors import ExecutionError
from fillforge.execution.parent import ParentOrder
from fillforge.execution.schedules import Slice, _decimal, _non_negative, _positive
from fillforge.orders.enums import OrderSide

__all__ = [
    "Action",
    "AdaptiveMix",
    "AdaptivePricing",
    "ProgressLike",
    "adaptive_price",
    "behind",
    "behind_schedule",
]

_ZERO = Decimal(0)


class Action(IntEnum):
    """How aggressively a child is priced, least first (the order is the aggressiveness)."""

    JOIN = 0
    IMPROVE = 1
    CROSS = 2


class ProgressLike(Protocol):
    """What the mix reads of a parent's progress (:class:`~fillforge.execution.worker.Progress`
    is one): its quantity and ``deviation = filled - scheduled`` (positive: ahead)."""

    @property
    def qty(self) -> Decimal: ...

    @property
    def deviation(self) -> Decimal: ...


def behind(qty: Decimal, deviation: Decimal) -> Decimal:
    """How far behind, as a fraction of ``qty``: ``max(-deviation, 0) / qty`` (0 when ahead)."""
    q = _positive(qty, "qty")
    d = _decimal(deviation, "deviation")
    return max(-d, _ZERO) / q


def behind_schedule(schedule: Sequence[Slice], now_ns: int, filled: Decimal) -> Decimal:
    """How far behind a given ``schedule`` a parent that has ``filled`` is at ``now_ns``: what
    the slices due by then sum to, less ``filled``, as a fraction of the whole schedule."""
    if not schedule:
        raise ExecutionError("schedule", list(schedule), "no slices")
    total = sum((s.qty for s in schedule), _ZERO)
    due = sum((s.qty for s in schedule if s.due_ns <= now_ns), _ZERO)
    return behind(total, _non_negative(filled, "filled") - due)


@dataclass(frozen=True, slots=True)
class AdaptiveMix:
    """The thresholds, fractions of the parent behind schedule: improve from ``improve_at``,
    cross from ``cross_at`` (``0 <= improve_at <= cross_at``; equal skips improving)."""

    improve_at: Decimal = Decimal("0.1")
    cross_at: Decimal = Decimal("0.25")

    def __post_init__(self) -> None:
        improve = _non_negative(self.improve_at, "improve_at")
        cross = _non_negative(self.cross_at, "cross_at")
        if cross < improve:
            raise ExecutionError("cross_at", self.cross_at, f"below improve_at={improve}")
        object.__setattr__(self, "improve_at", improve)
        object.__setattr__(self, "cross_at", cross)

    def action(self, behind: Decimal) -> Action:
        """The action for a parent ``behind`` (a fraction, see :func:`behind`)."""
        b = _non_negative(behind, "behind")
        if b >= self.cross_at:
            return Action.CROSS
        if b >= self.improve_at:
            return Action.IMPROVE
        return Action.JOIN


def adaptive_price(
    action: Action,
    side: OrderSide,
    bid: Decimal | None,
    ask: Decimal | None,
    tick: Decimal,
) -> Decimal | None:
    """The limit for ``action`` on ``side`` in the quote ``bid``/``ask`` (the module's rules).
    None, a market order, when the side it would price from is empty, as the worker's default
    :func:`~fillforge.execution.sender.near_touch` does."""
    t = _positive(tick, "tick")
    if not isinstance(side, OrderSide):
        raise ExecutionError("side", side, "expected an OrderSide")
    if bid is not None and ask is not None and ask < bid:
        raise ExecutionError("ask", ask, f"below the bid {bid}")
    buy = side is OrderSide.BUY
    near, far = (bid, ask) if buy else (ask, bid)
    if action is Action.CROSS:
        return far
    if near is None:
        return None
    if action is Action.IMPROVE and far is not None and abs(far - near) >= 2 * t:
        return near + t if buy else near - t
    return near


@dataclass(slots=True)
class AdaptivePricing:
    """The mix as a ``pricing`` callable for
    :class:`~fillforge.execution.worker.ParentWorker`: ``(broker, parent) -> limit``.

    It reads how far behind the parent is from ``progress`` (a callable returning a
    :class:`ProgressLike`, e.g. the worker's own ``progress``). The worker is built with the
    pricing, so the pricing follows the worker after::

        pricing = AdaptivePricing(AdaptiveMix(D("0.1"), D("0.25")), instrument.tick_size)
        worker = ParentWorker(broker, parent, instrument, pricing=pricing)
        pricing.follow(worker.progress)

    Each decision is kept in :attr:`decisions` as ``(behind, action, price)``.
    """

    mix: AdaptiveMix
    tick: Decimal
    progress: Callable[[], ProgressLike] | None = None
    decisions: list[tuple[Decimal, Action, Decimal | None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not isinstance(self.mix, AdaptiveMix):
            raise ExecutionError("mix", self.mix, "expected an AdaptiveMix")
        self.tick = _positive(self.tick, "tick")

    def follow(self, progress: Callable[[], ProgressLike]) -> None:
        if not callable(progress):
            raise ExecutionError("progress", progress, "expected a callable returning progress")
        self.progress = progress

    def __call__(self, broker: Broker, parent: ParentOrder) -> Decimal | None:
        if self.progress is None:
            raise ExecutionError("progress", None, "call follow() with the parent's progress")
        p = self.progress()
        late = behind(p.qty, p.deviation)
        action = self.mix.action(late)
        q = broker.latest_quote(parent.symbol)
        price = (
            None
            if q is None
            else adaptive_price(action, parent.side, q.bid_price, q.ask_price, self.tick)
        )
        self.decisions.append((late, action, price))
        return price
