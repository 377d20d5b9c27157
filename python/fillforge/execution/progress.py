"""A parent's progress as its worker reports it (:meth:`~fillforge.execution.worker.
ParentWorker.progress`)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from fillforge.execution.parent import ParentState

__all__ = ["Progress"]

_ZERO = Decimal(0)


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
