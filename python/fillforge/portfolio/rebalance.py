"""Rebalancing to target weights: the orders (intents, not submitted orders) that bring each
position's weight to its target when it has drifted more than a threshold.

Rules, in exact Decimal:

- A weight is a position's market value over the equity: ``qty * price / equity``. Targets are
  long-only fractions of equity in [0, 1] summing to at most 1 (what is left is cash); the
  targets are the whole portfolio, so a symbol held and not listed has a target of 0 (pass
  ``keep_unlisted=True`` to leave such positions alone). A short held is bought back toward
  its target.
- Drift: a symbol trades only when ``|current weight - target| > drift``.
- Lots: each order's quantity is a whole number of the symbol's lots (``lot_of``: one lot size
  for all, a mapping, a callable, or an :class:`~fillforge.orders.models.Instrument` whose
  ``lot_size`` and ``min_qty`` apply), rounded toward zero, so a position moves toward its
  target and never past it. An order that rounds to nothing (or under ``min_qty``) is dropped.
- Cash: sells come first and their proceeds are spendable; the buys together never cost more
  than the cash there is then (``equity - market value of the positions + proceeds``, at the
  given prices). When they would, every buy is scaled down by the same factor and rounded down
  to its lots again. A reserve (``cash_buffer``, a fraction of equity) can be held back for fees
  and price moves.

The result is a list of :class:`RebalanceOrder`, the sells first, each group in symbol order;
an execution policy turns them into orders.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final

from fillforge.errors import MetricsError
from fillforge.orders.enums import OrderSide
from fillforge.orders.models import Instrument
from fillforge.portfolio._exact import CTX, ZERO, decimal_or_none, positive

__all__ = ["LotSpec", "RebalanceOrder", "current_weights", "rebalance"]

_add, _sub, _mul, _div, _abs = CTX.add, CTX.subtract, CTX.multiply, CTX.divide, CTX.abs
_ONE: Final = Decimal(1)

LotSpec = Decimal | int | str | Instrument
"""A symbol's lot: a lot size, or an instrument (its ``lot_size`` and ``min_qty``)."""


@dataclass(frozen=True, slots=True)
class RebalanceOrder:
    """One intent: trade ``qty`` (positive, on the lot grid) of ``symbol`` on ``side``.
    ``price`` is the reference price it was sized at, ``notional`` is ``qty * price``, and the
    weights say where the position was and where it is headed."""

    symbol: str
    side: OrderSide
    qty: Decimal
    price: Decimal
    current_weight: Decimal
    target_weight: Decimal

    @property
    def notional(self) -> Decimal:
        return _mul(self.qty, self.price)

    @property
    def signed_qty(self) -> Decimal:
        return self.qty if self.side is OrderSide.BUY else CTX.minus(self.qty)


def current_weights(
    positions: Mapping[str, Any], prices: Mapping[str, Any], equity: Decimal | int | str
) -> dict[str, Decimal]:
    """Each held symbol's weight (``qty * price / equity``; negative for a short)."""
    e = _money("equity", equity)
    qty = _positions(positions)
    return {s: _div(_mul(q, _price(prices, s)), e) for s, q in qty.items() if q}


def rebalance(
    targets: Mapping[str, Decimal | int | str],
    positions: Mapping[str, Any],
    prices: Mapping[str, Any],
    equity: Decimal | int | str,
    *,
    drift: Decimal | int | str = ZERO,
    lot_of: LotSpec | Mapping[str, LotSpec] | Callable[[str], LotSpec] = _ONE,
    keep_unlisted: bool = False,
    cash_buffer: Decimal | int | str = ZERO,
) -> list[RebalanceOrder]:
    """The orders that bring the weights to ``targets``; see the module for the rules.

    ``positions`` maps symbol to signed quantity (or to a broker ``Position``), ``prices`` maps
    every symbol traded or held to its price, ``equity`` is the account's (cash included).
    Bad input raises :class:`~fillforge.errors.MetricsError` naming the field."""
    e = _money("equity", equity)
    d = _fraction("drift", drift)
    buffer = _fraction("cash_buffer", cash_buffer)
    want = _targets(targets)
    held = _positions(positions)
    symbols = sorted(
        set(want) | ({s for s, q in held.items() if q} if not keep_unlisted else set())
    )
    invested = ZERO
    for s, q in held.items():
        if q:
            invested = _add(invested, _mul(q, _price(prices, s)))
    cash = _sub(_sub(e, invested), _mul(buffer, e))
    sells: list[RebalanceOrder] = []
    buys: list[RebalanceOrder] = []
    for s in symbols:
        q, t = held.get(s, ZERO), want.get(s, ZERO)
        if not q and not t:
            continue  # nothing held, nothing wanted: no price needed
        p = _price(prices, s)
        w = _div(_mul(q, p), e)
        if _abs(_sub(w, t)) <= d:
            continue
        lot, min_qty = _lot(lot_of, s)
        delta = _sub(_div(_mul(t, e), p), q)  # the exact quantity to trade, signed
        qty = _floor_lots(_abs(delta), lot)
        if not qty or qty < min_qty:
            continue
        side = OrderSide.BUY if delta > 0 else OrderSide.SELL
        (buys if delta > 0 else sells).append(RebalanceOrder(s, side, qty, p, w, t))
    for o in sells:
        cash = _add(cash, o.notional)
    return sells + _fit(buys, cash, lot_of)


def _fit(
    buys: list[RebalanceOrder],
    cash: Decimal,
    lot_of: LotSpec | Mapping[str, LotSpec] | Callable[[str], LotSpec],
) -> list[RebalanceOrder]:
    """The buys, scaled down by one factor and rounded to their lots if they cost more than
    ``cash``."""
    cost = ZERO
    for o in buys:
        cost = _add(cost, o.notional)
    if cost <= cash:
        return buys
    if cash <= 0:
        return []
    factor = _div(cash, cost)
    out = []
    for o in buys:
        lot, min_qty = _lot(lot_of, o.symbol)
        qty = _floor_lots(_mul(o.qty, factor), lot)
        if qty and qty >= min_qty:
            out.append(RebalanceOrder(o.symbol, o.side, qty, o.price, o.current_weight,
                                      o.target_weight))  # fmt: skip
    return out


# --- input checks ----------------------------------------------------------------------------


def _floor_lots(qty: Decimal, lot: Decimal) -> Decimal:
    """``qty`` rounded down to a whole number of lots."""
    return _mul(CTX.divide_int(qty, lot), lot)


def _money(field: str, value: object) -> Decimal:
    return positive(field, value, MetricsError, "must be an exact number > 0 (Decimal, int or str)")


def _fraction(field: str, value: object) -> Decimal:
    d = decimal_or_none(value)
    if d is None or not 0 <= d < 1:
        raise MetricsError(field, value, "must be an exact number in [0, 1)")
    return d


def _targets(targets: object) -> dict[str, Decimal]:
    if not isinstance(targets, Mapping):
        raise MetricsError("targets", type(targets).__name__, "must map symbol to weight")
    out: dict[str, Decimal] = {}
    total = ZERO
    for s, w in targets.items():
        _symbol("targets", s)
        d = decimal_or_none(w)
        if d is None or not 0 <= d <= 1:
            why = "must be an exact weight in [0, 1] (Decimal, int or str; long only)"
            raise MetricsError(f"targets[{s}]", w, why)
        out[s] = d
        total = _add(total, d)
    if total > 1:
        raise MetricsError("targets", total, "the weights sum above 1 (that needs borrowing)")
    return out


def _positions(positions: object) -> dict[str, Decimal]:
    if not isinstance(positions, Mapping):
        raise MetricsError("positions", type(positions).__name__, "must map symbol to quantity")
    out: dict[str, Decimal] = {}
    for s, v in positions.items():
        _symbol("positions", s)
        q = decimal_or_none(getattr(v, "qty", v))
        if q is None:
            raise MetricsError(f"positions[{s}]", v, "must be an exact quantity or a Position")
        out[s] = q
    return out


def _price(prices: Mapping[str, Any], symbol: str) -> Decimal:
    if not isinstance(prices, Mapping):
        raise MetricsError("prices", type(prices).__name__, "must map symbol to price")
    return _money(f"prices[{symbol}]", prices.get(symbol))


def _lot(spec: object, symbol: str) -> tuple[Decimal, Decimal]:
    """The symbol's lot size and minimum quantity."""
    one = spec.get(symbol) if isinstance(spec, Mapping) else spec
    if callable(one) and not isinstance(one, Instrument):
        one = one(symbol)
    if isinstance(one, Instrument):
        return one.lot_size, one.min_qty
    return _money(f"lot_of[{symbol}]", one), ZERO


def _symbol(field: str, symbol: object) -> None:
    if not isinstance(symbol, str) or not symbol:
        raise MetricsError(field, symbol, "a symbol must be a non-empty string")
