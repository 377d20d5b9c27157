"""The sizer base: a sizer computes a raw quantity (:meth:`Sizer.unrounded`), and
:meth:`Sizer.size` applies its limits, buying power and the lot to it. That last step is the same
for every sizer and is done here only."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Self

from fillforge.errors import SizingError
from fillforge.sizing.context import (
    NO_LIMITS,
    ZERO,
    Limits,
    SizingContext,
    in_range,
    mul_up,
    number,
)

__all__ = ["Sizer"]


@dataclass(frozen=True, kw_only=True)
class Sizer(ABC):
    """A position sizer: ``size(ctx)`` is the quantity to trade, a Decimal ``>= 0`` on the
    instrument's lot grid (a magnitude: the side is the caller's). Every sizer takes
    ``limits=`` (:class:`~fillforge.sizing.Limits`); :meth:`with_limits` gives a copy with
    others. A sizer of your own subclasses this and implements :meth:`unrounded`."""

    limits: Limits = NO_LIMITS

    def __post_init__(self) -> None:
        if not isinstance(self.limits, Limits):
            raise SizingError("limits", self.limits, "must be a Limits")

    @abstractmethod
    def unrounded(self, ctx: SizingContext) -> Decimal:
        """The size before limits, buying power and the lot: may be fractional or negative
        (read as 0). Round a quotient toward zero if anything (:func:`~fillforge.sizing.div`),
        never up: the rounding to the lot is a floor of this value."""

    def size(self, ctx: SizingContext) -> Decimal:
        """The quantity to trade: :meth:`unrounded`, cut to the limits and to buying power
        (for the opening part), rounded down to the lot; 0 under a minimum."""
        if not isinstance(ctx, SizingContext):
            raise SizingError("ctx", ctx, "must be a SizingContext")
        raw = self.unrounded(ctx)
        if not isinstance(raw, Decimal) or not raw.is_finite():
            raise SizingError("unrounded", raw, f"{type(self).__name__} must give a finite Decimal")
        return self.limits.apply(raw, ctx)

    def with_limits(self, limits: Limits) -> Self:
        """This sizer with ``limits`` instead of its own."""
        return replace(self, limits=limits)


def stop_distance(
    ctx: SizingContext, fixed: Decimal | None, atr_multiple: Decimal | None
) -> Decimal:
    """The stop's distance from the entry in price per share: the sizer's fixed distance, else
    ``atr_multiple * ctx.atr``, else ``ctx.stop_distance``. Missing or zero is refused."""
    if fixed is not None:
        return fixed
    if atr_multiple is not None:
        if ctx.atr is None:
            raise SizingError("atr", None, "an ATR-multiple stop needs ctx.atr")
        distance = mul_up(atr_multiple, number("atr", ctx.atr))
        if distance <= ZERO:
            raise SizingError("atr", ctx.atr, "a zero ATR gives no stop distance")
        return distance
    if ctx.stop_distance is None:
        raise SizingError(
            "stop_distance", None, "give a stop distance: the sizer's, an atr_multiple, or ctx's"
        )
    return ctx.stop_distance


def stop_settings(stop: object, atr_multiple: object) -> tuple[Decimal | None, Decimal | None]:
    """A sizer's own stop: a fixed distance per share (Decimal > 0) or an ATR multiple (> 0),
    at most one of them."""
    if stop is not None and atr_multiple is not None:
        raise SizingError(
            "atr_multiple", atr_multiple, "give stop_distance or atr_multiple, not both"
        )
    fixed = None if stop is None else in_range("stop_distance", stop, ZERO, is_money=True)
    multiple = None if atr_multiple is None else in_range("atr_multiple", atr_multiple, ZERO)
    return fixed, multiple
