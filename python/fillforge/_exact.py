"""The one conversion of a number to Decimal, importable from every layer.

A binary float becomes the decimal it prints as (its shortest ``repr``: ``0.1`` is
``Decimal("0.1")``, not the float's exact binary value ``0.1000000000000000055511151231257827...``).
Money arithmetic and its argument checks live in :mod:`fillforge.portfolio._exact` (which refuses
floats outright); this is for the edges where a float has to come in (statistics, JSON, signals).
"""

from __future__ import annotations

from decimal import Decimal

__all__ = ["to_decimal"]


def to_decimal(value: float | int | str | Decimal) -> Decimal:
    """``value`` as a Decimal: a float (a numpy ``float64`` too) as the decimal it prints as, an
    int, decimal text or a Decimal exactly. NaN and infinities convert (to Decimal's own); a
    caller that needs a finite number checks ``is_finite()``. Bad text raises
    :class:`decimal.InvalidOperation`."""
    if isinstance(value, float):
        return Decimal(repr(float(value)))  # float(): a numpy float's repr is "np.float64(...)"
    return Decimal(value)
