"""Position sizing: small sizers that each answer "how many?" for one order, and compose.

Every sizer's ``size(ctx)`` is a Decimal quantity ``>= 0`` on the instrument's lot grid (a
magnitude; the side is the caller's), computed exactly from a :class:`SizingContext`, then cut
to its :class:`Limits` and to buying power (the opening part of the order) and rounded down to
the lot; under a minimum it is 0. Bad parameters or inputs raise
:class:`~fillforge.errors.SizingError` naming the field and the value. ``docs/sizing.md`` has
every formula with its units.

- :class:`FixedAmount`, :class:`FixedQuantity`, :class:`PercentOfEquity`;
- :class:`RiskBased`: equity x risk fraction / stop distance per share (a fixed distance, an ATR
  multiple, or the context's);
- :class:`Kelly`: fractional and capped, risking the Kelly fraction of equity to the stop;
- :class:`VolatilityTarget`: weight = target volatility / realised volatility, capped;
- :class:`SignalScaled` and :class:`CorrelationAdjusted` scale another sizer;
- ``sizer.with_limits(Limits(...))`` sets the limits of any of them.
"""

from fillforge.sizing.base import Sizer
from fillforge.sizing.context import NO_LIMITS, Limits, SizingContext, div, mul
from fillforge.sizing.scaling import CorrelationAdjusted, SignalScaled, book_weights, covariance_row
from fillforge.sizing.sizers import (
    FixedAmount,
    FixedQuantity,
    Kelly,
    PercentOfEquity,
    RiskBased,
    VolatilityTarget,
)

__all__ = [
    "NO_LIMITS",
    "CorrelationAdjusted",
    "FixedAmount",
    "FixedQuantity",
    "Kelly",
    "Limits",
    "PercentOfEquity",
    "RiskBased",
    "SignalScaled",
    "Sizer",
    "SizingContext",
    "VolatilityTarget",
    "book_weights",
    "covariance_row",
    "div",
    "mul",
]
