"""What a sizer is asked with (:class:`SizingContext`), the limits every sizer applies
(:class:`Limits`), and the exact arithmetic the sizers share.

Money and quantities are Decimals (a float is refused there: money is exact); statistics (ATR,
signal, realised volatility, covariances, weights) may be floats, as the indicators produce
them, and a float is read as the decimal it prints as (``repr``: 0.6 is 0.6, not the binary
0.59999999999999997779...). The arithmetic never rounds a size up: products (:func:`mul`) and
quotients (:func:`div`) are taken to 100 significant digits rounded toward minus infinity (a
divisor's product toward plus infinity), so a size rounded down to the lot never exceeds a limit
or buying power by a rounding. The thread's decimal context is never used or changed.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import (
    MAX_EMAX,
    MIN_EMIN,
    ROUND_CEILING,
    ROUND_FLOOR,
    Context,
    Decimal,
    DivisionByZero,
    InvalidOperation,
    Overflow,
)
from typing import Any, Final

from fillforge._exact import to_decimal
from fillforge.broker.models import AccountSnapshot
from fillforge.errors import SizingError
from fillforge.orders.enums import OrderSide
from fillforge.orders.models import Instrument

__all__ = ["NO_LIMITS", "Limits", "SizingContext", "div", "mul"]

MAX_LOTS: Final = 2**63 - 1
"""The most lots a size can be: the most an :class:`~fillforge.orders.models.Instrument` turns
into an order's quantity."""
ZERO: Final = Decimal(0)
ONE: Final = Decimal(1)

_TRAPS: Final = [InvalidOperation, DivisionByZero, Overflow]
_DOWN: Final = Context(prec=100, rounding=ROUND_FLOOR, Emax=MAX_EMAX, Emin=MIN_EMIN, traps=_TRAPS)
_UP: Final = Context(prec=100, rounding=ROUND_CEILING, Emax=MAX_EMAX, Emin=MIN_EMIN, traps=_TRAPS)


def mul(a: Decimal, b: Decimal) -> Decimal:
    """``a * b`` to 100 significant digits, rounded toward minus infinity: exact whenever the
    factors' digits fit, as those of prices, amounts and statistics do."""
    return _DOWN.multiply(a, b)


def mul_up(a: Decimal, b: Decimal) -> Decimal:
    """``a * b`` rounded toward plus infinity, for a divisor (a larger divisor, a smaller
    size)."""
    return _UP.multiply(a, b)


def sub(a: Decimal, b: Decimal) -> Decimal:
    """``a - b`` rounded toward minus infinity."""
    return _DOWN.subtract(a, b)


def div(a: Decimal, b: Decimal) -> Decimal:
    """``a / b`` to 100 significant digits, rounded toward minus infinity (``b`` > 0)."""
    return _DOWN.divide(a, b)


def money(field_name: str, value: object) -> Decimal:
    """A Decimal (or integer) amount; a float, a NaN or an infinity is refused."""
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise SizingError(field_name, value, "must be a finite number")
        return value
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise SizingError(field_name, value, "must be a Decimal (money and quantities are exact)")
    return Decimal(int(value))


def number(field_name: str, value: object) -> Decimal:
    """A statistic (a float, an integer, a Decimal, or a numpy number) as a Decimal; a float as
    the decimal it prints as (``repr``). NaN and infinities are refused."""
    if isinstance(value, bool) or not isinstance(value, Decimal | numbers.Real):
        raise SizingError(field_name, value, "must be a number")
    if isinstance(value, Decimal | numbers.Integral):
        return money(field_name, value)  # exact already
    f = float(value)  # a numpy float too (whose own repr is "np.float64(...)")
    if not math.isfinite(f):
        raise SizingError(field_name, value, "must be a finite number")
    return to_decimal(f)


def in_range(
    field_name: str,
    value: object,
    low: Decimal,
    high: Decimal | None = None,
    *,
    low_open: bool = True,
    is_money: bool = False,
) -> Decimal:
    """``value`` checked to lie in ``(low, high]`` (``[low, high]`` with ``low_open=False``;
    no upper bound when ``high`` is None)."""
    x = money(field_name, value) if is_money else number(field_name, value)
    below = x <= low if low_open else x < low
    if below or (high is not None and x > high):
        lo = "(" if low_open else "["
        hi = f"{high}]" if high is not None else "inf)"
        raise SizingError(field_name, value, f"must be in {lo}{low}, {hi}")
    return x


def _optional(field_name: str, value: object, low_open: bool, is_money: bool) -> Decimal | None:
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

    def __post_init__(self) -> None:
        _optional("min_qty", self.min_qty, False, True)
        _optional("max_qty", self.max_qty, True, True)
        _optional("min_notional", self.min_notional, False, True)
        _optional("max_notional", self.max_notional, True, True)
        for name in ("qty", "notional"):
            lo, hi = getattr(self, f"min_{name}"), getattr(self, f"max_{name}")
            if lo is not None and hi is not None and lo > hi:
                raise SizingError(f"min_{name}", lo, f"above max_{name} {hi}")

    def apply(self, qty: Decimal, ctx: SizingContext) -> Decimal:
        """``qty`` (a raw, unrounded size) cut to these limits and to buying power, rounded
        down to the instrument's lot; 0 when under a minimum."""
        price = ctx.price
        q = max(qty, ZERO)
        if self.max_qty is not None:
            q = min(q, self.max_qty)
        if self.max_notional is not None:
            q = min(q, div(self.max_notional, price))
        opening = div(max(ctx.buying_power, ZERO), price)
        q = min(q, _DOWN.add(ctx.closing_qty, opening))
        inst = ctx.instrument
        lots = int(_DOWN.divide_int(q, inst.lot_size))  # the integer part of the exact quotient
        lots = min(lots, MAX_LOTS)
        size = inst.to_qty(lots)
        if size < inst.min_qty or (self.min_qty is not None and size < self.min_qty):
            return ZERO
        if self.min_notional is not None and mul(size, price) < self.min_notional:
            return ZERO
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
    position: Decimal = ZERO
    stop_distance: Decimal | None = None
    atr: Decimal | float | None = None
    signal: Decimal | float | None = None
    realised_vol: Decimal | float | None = None
    covariance_row: Mapping[str, float] | None = None
    book_weights: Mapping[str, float] | None = None
    closing_qty: Decimal = field(init=False, repr=False, compare=False)
    """How much of an order on ``side`` closes the position (a buy closes a short, a sell a
    long): that part needs no buying power."""

    @classmethod
    def from_account(
        cls,
        account: AccountSnapshot,
        instrument: Instrument,
        price: Decimal,
        *,
        side: OrderSide = OrderSide.BUY,
        **inputs: Any,
    ) -> SizingContext:
        """A context for ``instrument`` at ``price`` read off an account snapshot
        (``broker.account()``): its equity, buying power, the position held in the symbol, and,
        unless given, the book's weights (each position's signed market value over equity; none
        when equity is not positive). ``inputs`` are the other fields (``atr=``, ``signal=``,
        ``stop_distance=``, ``realised_vol=``, ``covariance_row=``...)."""
        held = account.positions.get(instrument.symbol)
        if "book_weights" not in inputs and account.equity > ZERO:
            inputs["book_weights"] = {
                s: float(div(p.market_value, account.equity))
                for s, p in account.positions.items()
                if p.market_value
            }
        return cls(
            instrument.symbol,
            price,
            account.equity,
            account.buying_power,
            instrument,
            side=side,
            position=held.qty if held is not None else ZERO,
            **inputs,
        )

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
        stop = _optional("stop_distance", self.stop_distance, True, True)
        _optional("atr", self.atr, False, False)
        _optional("realised_vol", self.realised_vol, False, False)
        if self.signal is not None:
            in_range("signal", self.signal, -ONE, ONE, low_open=False)
        for name in ("covariance_row", "book_weights"):
            _check_map(name, getattr(self, name))
        held = position if self.side is OrderSide.SELL else position.copy_negate()
        for name, value in (
            ("price", price),  # an int given is kept as a Decimal
            ("equity", equity),
            ("buying_power", buying_power),
            ("position", position),
            ("stop_distance", stop),
            ("closing_qty", max(held, ZERO)),
        ):
            object.__setattr__(self, name, value)


def _check_map(name: str, values: object) -> None:
    if values is None:
        return
    if not isinstance(values, Mapping):
        raise SizingError(name, type(values).__name__, "must map symbol to a number")
    for key, value in values.items():
        number(f"{name}[{key}]", value)
