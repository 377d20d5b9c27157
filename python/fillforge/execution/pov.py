"""Percentage of volume (POV): trade at a set share of the volume the market prints.

POV follows the market rather than a timetable, so it is a small tracker, not a schedule: the
algorithm tells it the volume it sees (:meth:`PovTracker.observe`) and asks how much it may send
now (:meth:`PovTracker.allowed`). Its promise: what has been sent (filled plus still working)
never passes ``rate`` times the volume observed by as much as one child, because a child is
only allowed while the parent is behind its target, and is at most ``max_child``.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, Decimal

from fillforge.errors import ExecutionError
from fillforge.execution.schedules import _non_negative, _on_grid, _positive, _rate

__all__ = ["PovTracker"]


class PovTracker:
    """The participation bookkeeping of one POV parent.

    ``rate`` in (0, 1] is the share of observed volume to trade; children are between
    ``min_child`` and ``max_child``, whole multiples of ``lot``. The volume given to
    :meth:`observe` is the market's as printed (it includes the parent's own fills when the tape
    does; the rate is a share of whatever is given)."""

    __slots__ = ("_observed", "lot", "max_child", "min_child", "rate")

    def __init__(self, rate: Decimal, min_child: Decimal, max_child: Decimal, lot: Decimal) -> None:
        self.rate = _rate(rate)
        self.lot = _positive(lot, "lot")
        self.min_child = _on_grid(min_child, self.lot, "min_child") * self.lot
        self.max_child = _on_grid(max_child, self.lot, "max_child") * self.lot
        if self.max_child < self.min_child:
            raise ExecutionError("max_child", max_child, f"below min_child={min_child}")
        self._observed = Decimal(0)

    def __repr__(self) -> str:
        return (
            f"PovTracker(rate={self.rate}, min_child={self.min_child}, "
            f"max_child={self.max_child}, lot={self.lot}, observed={self._observed})"
        )

    @property
    def observed(self) -> Decimal:
        """The volume observed so far."""
        return self._observed

    def target(self) -> Decimal:
        """What the parent should have sent by now: ``rate * observed``."""
        return self.rate * self._observed

    def observe(self, volume: Decimal) -> None:
        """Count ``volume`` (>= 0) traded in the market."""
        self._observed += _non_negative(volume, "volume")

    def allowed(
        self, filled: Decimal, working: Decimal = Decimal(0), leaves: Decimal | None = None
    ) -> Decimal:
        """The size of the child the parent may send now, 0 for none.

        ``filled`` is what the parent has filled, ``working`` what its live children still
        have open, ``leaves`` (optional) what is left of the parent unsent. While ``filled +
        working`` is below the target, the shortfall rounded up to the lot and held between
        ``min_child`` and ``max_child`` (and never above ``leaves``); at or above it, nothing.
        """
        sent = _non_negative(filled, "filled") + _non_negative(working, "working")
        behind = self.target() - sent
        if behind <= 0:
            return Decimal(0)
        lots = (behind / self.lot).to_integral_value(rounding=ROUND_CEILING)
        child = min(max(lots * self.lot, self.min_child), self.max_child)
        if leaves is not None:
            child = min(child, _non_negative(leaves, "leaves"))
        return child
