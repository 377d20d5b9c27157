"""What a sizer is asked with (:class:`SizingContext`), the limits every sizer applies
(:class:`Limits`), and the exact-number checks the sizers share.

Money and quantities are Decimals (a float is refused there: money is exact); statistics (ATR,
signal, realised volatility, covariances, weights) may be floats, as the indicators produce
them. Internally a sizer computes in :class:`~fractions.Fraction`, exactly, so that rounding down
to the lot is a true floor and a result never exceeds buying power by a rounding.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Final

from fillforge.errors import SizingError
from fillforge.orders.enums import OrderSide
from fillforge.orders.models import Instrument

__all__ = ["NO_LIMITS", "Limits", "SizingContext"]

ZERO: Final = Fraction(0)
ONE: Final = Fraction(1)


def money(field_name: str, value: object) -> Fraction:
    """A Decimal (or int) amount, exactly; a float, a NaN or an infinity is refused."""
    if isinstance(value, bool) or not isinstance(value, (Decimal, int)):
        raise SizingError(field_name, value, "must be a Decimal (money and quantities are exact)")
    if isinstance(value, Decimal) and not value.is_finite():
        raise SizingError(field_name, value, "must be a finite number")
    return Fraction(value)


def number(field_name: str, value: object) -> Fraction:
    """A statistic (float, int or Decimal) as an exact fraction; NaN and infinities refused.

    A float is read as the shortest decimal that prints as it (``repr``): 0.6 is 3/5, what was
    written, not the binary 0.59999999999999997779..., which would floor 400 x 0.6 to 239."""
    if isinstance(value, bool) or not isinstance(value, (Decimal, int, float)):
        raise SizingError(field_name, value, "must be a number")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise SizingError(field_name, value, "must be a finite number")
        return Fraction(repr(value))
    if isinstance(value, Decimal) and not value.is_finite():
        raise SizingError(field_name, value, "must be a finite number")
    return Fraction(value)


def in_range(
    field_name: str,
    value: object,
    low: Fraction,
    high: Fraction | None = None,
    *,
    low_open: bool = True,
    is_money: bool = False,
) -> Fraction:
    """``value`` checked to lie in ``(low, high]`` (``[low, high]`` with ``low_open=False``;
    no upper bound when ``high`` is None)."""
    x = money(field_name, value) if is_money else number(field_name, value)
    below = x <= low if low_open else x < low
    if below or (high is not None and x > high):
        lo = "(" if low_open else "["
        hi = f"{float(high):g}]" if high is not None else "inf)"
        raise SizingError(field_name, value, f"must be in {lo}{float(low):g}, {hi}")
    return x


def _optional(field_name: str, value: object, low_open: bool, is_money: bool) -> Fraction | None:
    if value is None:
        return None
    return in_range(field_name, value, ZERO, low_open=low_open, is_money=is_money)


@dataclass(frozen=True, slots=True)
class Limits:
    """Trade-size limits: a sized quantity is cut to ``max_qty`` and to ``max_notional / price``,
    then rounded down to the lot; if what is left is under ``min_qty`` or ``min_notional`` the
    size is **0** (no trade), never rounded up to the minimum. Each is optional (None: no limit)
    and a Decimal: quantities in shares (or units), notionals in the account's currency."""

    min_qty: Decimal | None = None
    max_qty: Decimal | None = None
    min_notional: Decimal | None = None
    max_notional: Decimal | None = None
    _exact: tuple[Fraction | None, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        exact = (
            _optional("min_qty", self.min_qty, False, True),
            _optional("max_qty", self.max_qty, True, True),
            _optional("min_notional", self.min_notional, False, True),
            _optional("max_notional", self.max_notional, True, True),
        )
        for lo, hi, name in ((0, 1, "min_qty"), (2, 3, "min_notional")):
            a, b = exact[lo], exact[hi]
            if a is not None and b is not None and a > b:
                value = getattr(self, name)
                raise SizingError(name, value, f"above {name.replace('min', 'max')}")
        object.__setattr__(self, "_exact", exact)

    def apply(self, qty: Fraction, ctx: SizingContext) -> Decimal:
        """``qty`` (a raw, unrounded size) cut to these limits and to buying power, rounded
        down to the instrument's lot; 0 when under a minimum."""
        min_qty, max_qty, min_notional, max_notional = self._exact
        price = ctx.exact_price
        q = max(qty, ZERO)
        if max_qty is not None:
            q = min(q, max_qty)
        if max_notional is not None:
            q = min(q, max_notional / price)
        q = min(q, ctx.closing_qty + max(ctx.exact_buying_power, ZERO) / price)
        inst = ctx.instrument
        lots = math.floor(q / Fraction(inst.lot_size))
        size = inst.to_qty(lots)
        if size < inst.min_qty or (min_qty is not None and size < min_qty):
            return Decimal(0)
        if min_notional is not None and Fraction(size) * price < min_notional:
            return Decimal(0)
        return size


NO_LIMITS: Final = Limits()


@dataclass(frozen=True, slots=True)
class SizingContext:
    """What a sizer needs to size one order in ``symbol``.

    - ``price`` (> 0), ``equity``, ``buying_power``: Decimals in the account's currency. A
      negative equity sizes nothing; a buying power at or under 0 opens nothing.
    - ``instrument``: its ``lot_size`` (1 for whole shares, a fraction for fractional trading)
      and ``min_qty``; every size is a multiple of the lot.
    - ``side`` and ``position`` (the signed quantity held now): the part of an order that closes
      the position needs no buying power, only the opening part does.
    - ``stop_distance``: the stop's distance from the entry, in price per share (> 0), for
      :class:`~fillforge.sizing.RiskBased` and :class:`~fillforge.sizing.Kelly`.
    - ``atr``: the ATR in price units (``fillforge.indicators``), for an ATR-multiple stop.
    - ``signal``: the strategy's signal strength in [-1, 1], for
      :class:`~fillforge.sizing.SignalScaled`.
    - ``realised_vol``: the symbol's annualised realised volatility (0.25 is 25%), for
      :class:`~fillforge.sizing.VolatilityTarget`.
    - ``covariance_row`` (this symbol's covariance of daily returns with each symbol, itself
      included) and ``book_weights`` (each held symbol's signed market value over equity), for
      :class:`~fillforge.sizing.CorrelationAdjusted`.
    """

    symbol: str
    price: Decimal
    equity: Decimal
    buying_power: Decimal
    instrument: Instrument
    side: OrderSide = OrderSide.BUY
    position: Decimal = Decimal(0)
    stop_distance: Decimal | None = None
    atr: Decimal | float | None = None
    signal: Decimal | float | None = None
    realised_vol: Decimal | float | None = None
    covariance_row: Mapping[str, float] | None = None
    book_weights: Mapping[str, float] | None = None
    exact_price: Fraction = field(init=False, repr=False, compare=False)
    exact_equity: Fraction = field(init=False, repr=False, compare=False)
    exact_buying_power: Fraction = field(init=False, repr=False, compare=False)
    closing_qty: Fraction = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.instrument, Instrument):
            raise SizingError("instrument", self.instrument, "must be an Instrument")
        if self.symbol != self.instrument.symbol:
            raise SizingError("symbol", self.symbol, f"the instrument is {self.instrument.symbol}")
        if not isinstance(self.side, OrderSide):
            raise SizingError("side", self.side, "must be an OrderSide")
        price = in_range("price", self.price, ZERO, is_money=True)
        equity = money("equity", self.equity)
        buying_power = money("buying_power", self.buying_power)
        position = money("position", self.position)
        _optional("stop_distance", self.stop_distance, True, True)
        _optional("atr", self.atr, False, False)
        _optional("realised_vol", self.realised_vol, False, False)
        if self.signal is not None:
            in_range("signal", self.signal, -ONE, ONE, low_open=False)
        for name in ("covariance_row", "book_weights"):
            _check_map(name, getattr(self, name))
        sign = 1 if self.side is OrderSide.BUY else -1
        closing = max(-sign * position, ZERO)  # a buy closes a short, a sell closes a long
        for name, value in (
            ("exact_price", price),
            ("exact_equity", equity),
            ("exact_buying_power", buying_power),
            ("closing_qty", closing),
        ):
            object.__setattr__(self, name, value)


def _check_map(name: str, values: object) -> None:
    if values is None:
        return
    if not isinstance(values, Mapping):
        raise SizingError(name, type(values).__name__, "must map symbol to a number")
    for key, value in values.items():
        number(f"{name}[{key}]", value)
