"""Exact money for the ledger and the pre-trade checks: one arithmetic context and the argument
checks both layers share (a finite Decimal, a positive amount, a side, a symbol)."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import ROUND_HALF_EVEN, Context, Decimal, DivisionByZero, InvalidOperation, Overflow
from typing import Final

from fillforge.errors import FillforgeError, OrderValidationError
from fillforge.orders.enums import OrderSide

__all__ = ["CTX", "ZERO", "check_symbol", "decimal_or_none", "positive", "side_of", "total"]

ZERO: Final = Decimal(0)
# Sums and products of prices and quantities are exact at 60 digits; the default 28 could round
# a large cost basis.
CTX: Final = Context(
    prec=60, rounding=ROUND_HALF_EVEN, traps=[InvalidOperation, DivisionByZero, Overflow]
)


def total(values: Iterable[Decimal]) -> Decimal:
    """The sum of ``values`` (call it inside ``localcontext(CTX)``)."""
    s = ZERO
    for v in values:
        s += v
    return s


def decimal_or_none(value: object) -> Decimal | None:
    """``value`` as a finite Decimal, or None. Ints and numeric strings convert exactly; floats
    are refused (binary rounding has no place in money) and so are bools."""
    if value.__class__ is Decimal:  # the common case, first
        return value if value.is_finite() else None
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, str)):
        try:
            value = Decimal(value)
        except InvalidOperation:
            return None
    if isinstance(value, Decimal) and value.is_finite():
        return value
    return None


def positive(
    field: str,
    value: object,
    error: type[FillforgeError] = OrderValidationError,
    why: str = "must be a finite Decimal greater than 0",
) -> Decimal:
    """``value`` (a Decimal, int or numeric string) as a Decimal > 0, else ``error(field, value,
    why)`` (:class:`~fillforge.errors.OrderValidationError` unless the caller's module has its
    own)."""
    if value.__class__ is Decimal and value.is_finite() and value > ZERO:
        return value
    d = decimal_or_none(value)
    if d is None or d <= 0:
        raise error(field, value, why)
    return d


def side_of(side: OrderSide | str) -> OrderSide:
    if side.__class__ is OrderSide:  # already a member: no lookup by value
        return side
    try:
        return OrderSide(side)
    except ValueError:
        raise OrderValidationError("side", side, "must be 'buy' or 'sell'") from None


def check_symbol(symbol: object) -> None:
    if not isinstance(symbol, str) or not symbol:
        raise OrderValidationError("symbol", symbol, "must be a non-empty string")
