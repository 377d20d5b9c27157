"""The stand-alone sizers: a fixed amount, a fixed quantity, a percent of equity, risk-based (a
stop distance or an ATR multiple), Kelly (fractional and capped), and a volatility target.

Each checks its parameters when made (:class:`~fillforge.errors.SizingError` naming the field
and the value) and computes its raw size exactly; :meth:`~fillforge.sizing.Sizer.size` then
applies the limits, buying power and the lot. The formulas, with their units, are in
``docs/sizing.md``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from fillforge.errors import SizingError
from fillforge.sizing.base import Sizer, stop_distance, stop_settings
from fillforge.sizing.context import (
    ONE,
    ZERO,
    SizingContext,
    div,
    in_range,
    mul,
    mul_up,
    number,
    sub,
)

__all__ = [
    "FixedAmount",
    "FixedQuantity",
    "Kelly",
    "PercentOfEquity",
    "RiskBased",
    "VolatilityTarget",
]

Num = Decimal | float | int


def _set(obj: object, **values: object) -> None:
    for name, value in values.items():
        object.__setattr__(obj, name, value)


@dataclass(frozen=True)
class FixedAmount(Sizer):
    """Spend ``notional`` (currency, Decimal > 0): ``qty = notional / price``."""

    notional: Decimal

    def __post_init__(self) -> None:
        super().__post_init__()
        _set(self, notional=in_range("notional", self.notional, ZERO, is_money=True))

    def unrounded(self, ctx: SizingContext) -> Decimal:
        return div(self.notional, ctx.price)


@dataclass(frozen=True)
class FixedQuantity(Sizer):
    """Always ``qty`` shares (Decimal > 0), rounded down to the lot."""

    qty: Decimal

    def __post_init__(self) -> None:
        super().__post_init__()
        _set(self, qty=in_range("qty", self.qty, ZERO, is_money=True))

    def unrounded(self, ctx: SizingContext) -> Decimal:
        return self.qty


@dataclass(frozen=True)
class PercentOfEquity(Sizer):
    """Put ``fraction`` of equity in the position: ``qty = equity * fraction / price``.
    ``fraction`` is in (0, 1] (0.1 is 10%)."""

    fraction: Num
    _f: Decimal = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        super().__post_init__()
        _set(self, _f=in_range("fraction", self.fraction, ZERO, ONE))

    def unrounded(self, ctx: SizingContext) -> Decimal:
        return div(mul(ctx.equity, self._f), ctx.price)


@dataclass(frozen=True)
class RiskBased(Sizer):
    """Risk ``risk_fraction`` of equity between the entry and the stop:
    ``qty = equity * risk_fraction / stop distance per share``.

    The stop distance is ``stop_distance`` (price per share) if given, else ``atr_multiple *
    ctx.atr``, else ``ctx.stop_distance``. Units: currency / (currency per share) = shares. (The
    formula that divides by ``ATR * price`` instead gives currency / currency**2 per share**2:
    not a quantity at all; see ``docs/sizing.md``.)"""

    risk_fraction: Num
    stop_distance: Decimal | None = None
    atr_multiple: Num | None = None
    _risk: Decimal = field(init=False, repr=False, compare=False)
    _stop: tuple[Decimal | None, Decimal | None] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        super().__post_init__()
        risk = in_range("risk_fraction", self.risk_fraction, ZERO, ONE)
        _set(self, _risk=risk, _stop=stop_settings(self.stop_distance, self.atr_multiple))

    def unrounded(self, ctx: SizingContext) -> Decimal:
        return div(mul(ctx.equity, self._risk), stop_distance(ctx, *self._stop))


@dataclass(frozen=True)
class Kelly(Sizer):
    """The Kelly criterion, fractional and capped, sizing the equity at risk.

    ``f* = p - (1 - p) / b`` for win rate ``p`` in (0, 1) and win/loss ratio ``b`` (average win
    over average loss, > 0) is the fraction of equity to lose on a losing trade. The sizer risks
    ``min(fraction * f*, cap)`` of equity (0 when the edge is not positive) between the entry and
    the stop, as :class:`RiskBased` does: the average loss is taken to be the stop distance, which
    comes from ``stop_distance``, ``atr_multiple`` or ``ctx.stop_distance`` as there. Half Kelly
    (``fraction=0.5``) keeps about three quarters of full Kelly's growth with half its
    volatility."""

    win_rate: Num
    win_loss_ratio: Num
    fraction: Num = 0.5
    cap: Num = 0.25
    stop_distance: Decimal | None = None
    atr_multiple: Num | None = None
    # The fraction risked is _num / _den, or _cap when that is smaller (_num 0: no edge). It is
    # kept as a ratio so that a size divides once: p=0.5, b=3 risks exactly 1/3.
    _num: Decimal = field(init=False, repr=False, compare=False)
    _den: Decimal = field(init=False, repr=False, compare=False)
    _cap: Decimal | None = field(init=False, repr=False, compare=False)
    _stop: tuple[Decimal | None, Decimal | None] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        super().__post_init__()
        p = in_range("win_rate", self.win_rate, ZERO, ONE)
        if p == ONE:
            raise SizingError("win_rate", self.win_rate, "must be under 1 (no sure bets)")
        b = in_range("win_loss_ratio", self.win_loss_ratio, ZERO)
        scale = in_range("fraction", self.fraction, ZERO, ONE)
        cap = in_range("cap", self.cap, ZERO, ONE)
        # fraction * f* = fraction * (p * b - (1 - p)) / b
        num = mul(max(sub(mul(p, b), sub(ONE, p)), ZERO), scale)
        capped = cap if num >= mul(cap, b) else None
        stop = stop_settings(self.stop_distance, self.atr_multiple)
        _set(self, _num=num, _den=b, _cap=capped, _stop=stop)

    @property
    def risk_fraction(self) -> float:
        """The fraction of equity this sizer risks per trade: ``min(fraction * f*, cap)``, 0
        without an edge."""
        return float(self._cap if self._cap is not None else div(self._num, self._den))

    def unrounded(self, ctx: SizingContext) -> Decimal:
        if self._num == ZERO:
            return ZERO
        distance = stop_distance(ctx, *self._stop)
        if self._cap is not None:
            return div(mul(ctx.equity, self._cap), distance)
        return div(mul(ctx.equity, self._num), mul_up(self._den, distance))


@dataclass(frozen=True)
class VolatilityTarget(Sizer):
    """Hold the position at ``target_annual_vol`` (0.15 is 15% a year): weight ``w =
    min(target / ctx.realised_vol, max_leverage)`` of equity, ``qty = w * equity / price``.
    ``ctx.realised_vol`` is the symbol's annualised realised volatility (``fillforge.indicators
    .RealisedVol(window, periods_per_year=252)`` on daily returns); a zero volatility gives
    ``max_leverage``."""

    target_annual_vol: Num
    max_leverage: Num = 1
    _target: Decimal = field(init=False, repr=False, compare=False)
    _lev: Decimal = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        super().__post_init__()
        target = in_range("target_annual_vol", self.target_annual_vol, ZERO, Decimal(10))
        _set(self, _target=target, _lev=in_range("max_leverage", self.max_leverage, ZERO))

    def unrounded(self, ctx: SizingContext) -> Decimal:
        if ctx.realised_vol is None:
            raise SizingError("realised_vol", None, "VolatilityTarget needs ctx.realised_vol")
        vol = number("realised_vol", ctx.realised_vol)
        if self._target >= mul(self._lev, vol):  # target / vol >= the cap (or no volatility)
            return div(mul(self._lev, ctx.equity), ctx.price)
        return div(mul(self._target, ctx.equity), mul_up(vol, ctx.price))
