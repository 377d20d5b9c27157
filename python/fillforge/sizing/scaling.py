"""Sizers that scale another: by signal strength (:class:`SignalScaled`) and down by correlation
with the book (:class:`CorrelationAdjusted`), with the helpers that build the latter's inputs
from daily returns and positions.

A wrapper takes its base sizer's final size (its limits applied, on the lot), scales it, then
applies its own limits, buying power and the lot again: the result is never above the base's.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
import numpy.typing as npt

from fillforge.errors import SizingError
from fillforge.orders.enums import OrderSide
from fillforge.sizing.base import Sizer
from fillforge.sizing.context import ZERO, SizingContext, div, money, mul, number

__all__ = ["CorrelationAdjusted", "SignalScaled", "book_weights", "covariance_row"]


def _base(value: object) -> None:
    if not isinstance(value, Sizer):
        raise SizingError("base", value, "must be a Sizer")


@dataclass(frozen=True)
class SignalScaled(Sizer):
    """``base``'s size times ``|ctx.signal|`` (a signal strength in [-1, 1]): a full signal
    trades the base size, a zero signal trades nothing. The sign is the caller's side."""

    base: Sizer

    def __post_init__(self) -> None:
        super().__post_init__()
        _base(self.base)

    def unrounded(self, ctx: SizingContext) -> Decimal:
        if ctx.signal is None:
            raise SizingError("signal", None, "SignalScaled needs ctx.signal")
        return mul(self.base.size(ctx), number("signal", ctx.signal).copy_abs())


@dataclass(frozen=True)
class CorrelationAdjusted(Sizer):
    """``base``'s size, scaled down by how much the new position would move with the book.

    With ``b`` the base size as a weight (its notional over equity), ``v`` the symbol's variance
    of daily returns and ``c = d * sum_j w_j * cov(symbol, j)`` its covariance with the book
    (``w_j`` the book's weights, ``d`` +1 for a buy, -1 for a sell), the sized weight ``x`` is
    the one that adds as much variance to the book as ``b`` would add to a book it were
    uncorrelated with: ``x**2 * v + 2 * x * c = b**2 * v``, so the scale is

        k = x / b = b * v / (c + sqrt(c**2 + b**2 * v**2))    (c > 0; k = 1 when c <= 0)

    or, with ``rho`` the correlation with the book and ``u = sigma_book / (b * sigma)``,
    ``k = sqrt(1 + rho**2 * u**2) - rho * u``: 1 for an empty or uncorrelated book, lower the
    more correlated and the larger the book is next to the new position. A hedge (``c < 0``)
    keeps the base size: this sizer only scales down. See ``docs/sizing.md`` (incremental
    variance, as in incremental VaR).
    """

    base: Sizer

    def __post_init__(self) -> None:
        super().__post_init__()
        _base(self.base)

    def scale(self, ctx: SizingContext, base_qty: Decimal) -> float:
        """The factor ``k`` in (0, 1] for a base size of ``base_qty``."""
        row, book = ctx.covariance_row, ctx.book_weights
        if row is None:
            raise SizingError(
                "covariance_row", None, "CorrelationAdjusted needs ctx.covariance_row"
            )
        if book is None:
            raise SizingError("book_weights", None, "CorrelationAdjusted needs ctx.book_weights")
        if ctx.symbol not in row:
            raise SizingError("covariance_row", ctx.symbol, "has no variance for the symbol")
        v = float(row[ctx.symbol])
        if v < 0:
            raise SizingError(f"covariance_row[{ctx.symbol}]", v, "a variance is never negative")
        missing = [s for s, w in book.items() if w and s not in row]
        if missing:
            raise SizingError("covariance_row", missing[0], "no covariance with this book symbol")
        d = 1.0 if ctx.side is OrderSide.BUY else -1.0
        c = d * math.fsum(float(w) * float(row[s]) for s, w in book.items() if w)
        b = float(div(mul(base_qty, ctx.price), ctx.equity))
        if c <= 0 or b <= 0 or v == 0:
            return 1.0
        return min(b * v / (c + math.hypot(c, b * v)), 1.0)

    def unrounded(self, ctx: SizingContext) -> Decimal:
        base_qty = self.base.size(ctx)
        if base_qty == 0 or ctx.equity <= ZERO:
            return ZERO
        return mul(base_qty, number("scale", self.scale(ctx, base_qty)))


def covariance_row(
    returns: Mapping[str, npt.ArrayLike | Sequence[Decimal]], symbol: str
) -> dict[str, float]:
    """``symbol``'s sample covariance (``ddof=1``) with every symbol of ``returns`` (itself
    included: its variance), from daily returns aligned by day (row ``t`` of every series is the
    same session). For ``ctx.covariance_row``."""
    if not isinstance(returns, Mapping):
        raise SizingError("returns", type(returns).__name__, "must map symbol to daily returns")
    if symbol not in returns:
        raise SizingError("symbol", symbol, "has no returns")
    cols = {}
    for name, series in returns.items():
        try:
            col = np.asarray(series, dtype=np.float64)
        except (TypeError, ValueError):
            raise SizingError(
                f"returns[{name}]", type(series).__name__, "must be numbers"
            ) from None
        if col.ndim != 1 or col.size < 2:
            raise SizingError(f"returns[{name}]", f"shape {col.shape}", "needs 2 or more returns")
        if not np.isfinite(col).all():
            bad = int(np.flatnonzero(~np.isfinite(col))[0])
            raise SizingError(f"returns[{name}][{bad}]", float(col[bad]), "must be finite")
        cols[name] = col
    mine = cols[symbol]
    for name, col in cols.items():
        if col.size != mine.size:
            raise SizingError(f"returns[{name}]", f"{col.size} values", f"must have {mine.size}")
    dev = mine - mine.mean()
    return {name: float(dev @ (col - col.mean())) / (mine.size - 1) for name, col in cols.items()}


def book_weights(
    positions: Mapping[str, Decimal], prices: Mapping[str, Decimal], equity: Decimal
) -> dict[str, float]:
    """Each position's signed market value over equity (a short is negative), for
    ``ctx.book_weights``. Every held symbol needs a price; equity must be positive."""
    eq = money("equity", equity)
    if eq <= ZERO:
        raise SizingError("equity", equity, "weights need a positive equity")
    out = {}
    for symbol, qty in positions.items():
        q = money(f"positions[{symbol}]", qty)
        if q == ZERO:
            continue
        if symbol not in prices:
            raise SizingError("prices", symbol, "no price for a held symbol")
        price = number(f"prices[{symbol}]", prices[symbol])
        out[symbol] = float(div(mul(q, price), eq))
    return out
