"""The cost of one parent order (the core of transaction-cost analysis): :func:`parent_cost`
builds a :class:`ParentCost` report from the parent's spec, its fills, the mids at the decision
and at the first child, the market's trades over the interval and the final price; and
:func:`cost_rows` turns reports into the rows the command line and the demo print.

**Sign convention: a positive figure is a cost, on both sides.** With ``s = +1`` for a buy and
``-1`` for a sell, a price difference ``p - b`` against a benchmark ``b`` counts as
``s * (p - b)``: a buy filled above the benchmark costs, a sell filled below it costs; a negative
figure is a gain.

**Implementation shortfall (Perold 1988), in the paper-portfolio form with Kissell's split.**
``X`` is the parent's quantity, ``P_d`` the decision price (the parent's ``decision_price``, or
the mid at the decision without one), ``P_0`` the mid when the first child was sent (the mid at
the decision when none was), fills ``(q_i, p_i)`` with ``Q = sum q_i``, ``P_N`` the final price
the unfilled ``X - Q`` is marked at, and ``F`` the fees. In currency::

    delay       = s * X * (P_0 - P_d)             # the whole order waited from P_d to P_0
    trading     = s * sum q_i * (p_i - P_0)       # what the fills paid against P_0
    opportunity = s * (X - Q) * (P_N - P_0)       # what the unfilled part missed after P_0
    fees        = F
    shortfall   = delay + trading + opportunity + fees
                = s * (sum q_i p_i + (X - Q) * P_N - X * P_d) + F

Each is divided by the paper notional ``X * P_d`` for basis points. The currency figures are
exact. Each bps figure is its currency figure times 10 000 over the notional, rounded half-even
to 1e-12 bp (:data:`BPS_QUANTUM`); ``is_bps`` is the sum of the four parts, so the identity
holds exactly in ``Decimal`` and ``is_bps`` is within 2e-12 bp of the undivided quotient.
Coarser rounding (0.01 bp) happens only for display, in :func:`cost_rows`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from decimal import (
    ROUND_HALF_EVEN,
    Context,
    Decimal,
    DivisionByZero,
    InvalidOperation,
    Overflow,
    localcontext,
)
from typing import Annotated, Final

from pydantic import BaseModel, ConfigDict, Field

from fillforge.broker.models import Trade
from fillforge.errors import ExecutionError
from fillforge.execution.parent import Parent, ParentOrder
from fillforge.orders.enums import LiquiditySide, OrderSide
from fillforge.orders.models import Fill
from fillforge.portfolio._exact import CTX, ZERO, positive
from fillforge.time import to_datetime

__all__ = ["BPS_QUANTUM", "ParentCost", "cost_rows", "parent_cost"]

BPS_QUANTUM: Final = Decimal("1E-12")
"""Every bps figure of a :class:`ParentCost` is rounded half-even to this (a millionth of a
millionth of a basis point), so the four parts of the shortfall sum to it exactly."""
_BPS: Final = Decimal(10_000)
# bps: wide enough that a quantized figure up to 1e80 bp is exact, so their sum is too.
_WIDE: Final = Context(
    prec=100, rounding=ROUND_HALF_EVEN, traps=[InvalidOperation, DivisionByZero, Overflow]
)
# Prices and ratios that are quotients (an average price, a VWAP, a fill rate): 28 digits.
_RATIO: Final = Context(
    prec=28, rounding=ROUND_HALF_EVEN, traps=[InvalidOperation, DivisionByZero, Overflow]
)
_MAKER: Final = LiquiditySide.MAKER
_BUY: Final = OrderSide.BUY

_Positive = Annotated[Decimal, Field(gt=0, allow_inf_nan=False)]
_Qty = Annotated[Decimal, Field(ge=0, allow_inf_nan=False)]
_Ratio = Annotated[Decimal, Field(ge=0, allow_inf_nan=False)]


class ParentCost(BaseModel):
    """What one parent cost. Positive bps and currency figures are costs, negative are gains
    (module docstring: the formulas, the benchmark prices and where figures are rounded).

    Quantities: ``qty`` (the paper order X), ``filled_qty`` and ``leaves_qty`` (never filled).
    Prices: ``decision_price`` (P_d, the shortfall's benchmark), ``arrival_price`` (the mid at
    the decision), ``first_child_mid`` (P_0), ``avg_price`` (None: nothing filled),
    ``interval_vwap`` (of the market's trades over ``[start_ns, end_ns]``; None: none traded),
    ``final_price`` (P_N, the unfilled part's mark).
    Slippage: ``arrival_bps`` and ``vwap_bps`` of the average price against the arrival price
    and the interval VWAP (None without fills, or without a VWAP), fees excluded.
    Shortfall: ``is_bps = delay_bps + trading_bps + opportunity_bps + fees_bps`` exactly, and
    the same in currency (``is_cost = delay_cost + trading_cost + opportunity_cost + fees``).
    Ratios: ``fill_rate`` (filled / qty), ``maker_share`` (the filled quantity that added
    liquidity; None without fills), ``participation`` (filled / market volume over the
    interval; None without volume). ``duration_s`` is ``end_ns - start_ns`` in seconds.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    parent_id: str
    symbol: str
    side: OrderSide
    policy: str
    qty: _Positive
    filled_qty: _Qty
    leaves_qty: _Qty
    decision_ns: int | None
    start_ns: int
    end_ns: int
    duration_s: Decimal
    decision_price: _Positive
    arrival_price: _Positive
    first_child_mid: _Positive
    final_price: _Positive
    avg_price: _Positive | None
    interval_vwap: _Positive | None
    market_volume: _Qty
    arrival_bps: Decimal | None
    vwap_bps: Decimal | None
    is_bps: Decimal
    delay_bps: Decimal
    trading_bps: Decimal
    opportunity_bps: Decimal
    fees_bps: Decimal
    is_cost: Decimal
    delay_cost: Decimal
    trading_cost: Decimal
    opportunity_cost: Decimal
    fees: _Qty
    fill_rate: _Ratio
    maker_share: _Ratio | None
    participation: _Ratio | None


def _price(field: str, value: object) -> Decimal:
    return positive(field, value, ExecutionError, "must be a finite Decimal price greater than 0")


def _ns(field: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ExecutionError(field, value, "expected an int of UNIX nanoseconds >= 0")
    return value


def _cost(buy: bool, paid: Decimal, benchmark: Decimal) -> Decimal:
    """``s * (paid - benchmark)``, exactly: positive when a buy pays more or a sell gets less
    (a subtraction, not a product by -1, so an even result is 0 and never -0)."""
    return CTX.subtract(paid, benchmark) if buy else CTX.subtract(benchmark, paid)


def _bps(cost: Decimal, base: Decimal) -> Decimal:
    """``cost`` over ``base`` in basis points, rounded half-even to :data:`BPS_QUANTUM`."""
    return _WIDE.quantize(_WIDE.divide(_WIDE.multiply(cost, _BPS), base), BPS_QUANTUM)


def _tape(trades: Iterable[Trade], symbol: str, start: int, end: int) -> tuple[Decimal, Decimal]:
    """The volume and the traded notional (exact) of the prints in ``[start, end]``."""
    volume = traded = ZERO
    with localcontext(CTX):  # operators, not CTX's methods: a day's tape is many prints
        for t in trades:
            if not isinstance(t, Trade) or t.symbol != symbol:
                raise ExecutionError("trades", t, f"expected Trade prints of {symbol!r}")
            if start <= t.timestamp_ns <= end:
                volume += t.size
                traded += t.size * t.price
    return volume, traded


def _interval(
    spec: ParentOrder,
    ended_ns: int | None,
    fills: Sequence[Fill],
    filled: Decimal,
    start_ns: int | None,
    end_ns: int | None,
) -> tuple[int, int]:
    start = spec.start_ns if start_ns is None else _ns("start_ns", start_ns)
    if end_ns is not None:
        end = _ns("end_ns", end_ns)
    elif ended_ns is not None:
        end = ended_ns
    elif fills and filled == spec.qty:
        end = max(f.ts_event for f in fills)
    else:
        end = spec.end_ns
    if end < start:
        raise ExecutionError("end_ns", end, f"before the interval's start {start}")
    return start, end


def parent_cost(
    parent: ParentOrder | Parent,
    fills: Iterable[Fill],
    *,
    arrival_price: Decimal,
    final_price: Decimal,
    first_child_mid: Decimal | None = None,
    trades: Iterable[Trade] = (),
    start_ns: int | None = None,
    end_ns: int | None = None,
) -> ParentCost:
    """The cost of ``parent`` (a spec, or a worker's read-only view) given its ``fills``.

    ``arrival_price`` is the mid at the decision; ``first_child_mid`` the mid when the first
    child was sent (None: no child was sent, the decision's mid stands in); ``final_price`` the
    price the unfilled remainder is marked at (e.g. the last mid or trade at the end).
    ``trades`` are the market's prints of the parent's symbol; only those in
    ``[start_ns, end_ns]`` count for the interval VWAP and the participation, so a whole day's
    tape may be passed. The interval starts at ``start_ns`` (default: the parent's start) and
    ends at ``end_ns`` (default: when the view says the parent ended; else the last fill when
    it filled completely; else the parent's end).

    Pure: it reads no clock and changes nothing. Refused with
    :class:`~fillforge.errors.ExecutionError` naming the field: a price not above 0, fills
    summing above the parent's quantity, a trade of another symbol, an interval ending before
    it starts.
    """
    view = parent if isinstance(parent, Parent) else None
    spec = parent.spec if isinstance(parent, Parent) else parent
    if not isinstance(spec, ParentOrder):
        raise ExecutionError("parent", parent, "expected a ParentOrder or a Parent")
    arrival = _price("arrival_price", arrival_price)
    final = _price("final_price", final_price)
    p0 = arrival if first_child_mid is None else _price("first_child_mid", first_child_mid)
    pd = spec.decision_price if spec.decision_price is not None else arrival
    fills = list(fills)
    for f in fills:
        if not isinstance(f, Fill):
            raise ExecutionError("fills", f, "expected a fillforge.orders.models.Fill")
    buy = spec.side is _BUY
    x = spec.qty

    # Exact currency figures.
    filled = notional = maker = fees = ZERO
    for f in fills:
        filled = CTX.add(filled, f.qty)
        notional = CTX.add(notional, CTX.multiply(f.qty, f.price))
        fees = CTX.add(fees, f.commission)
        if f.liquidity is _MAKER:
            maker = CTX.add(maker, f.qty)
    if filled > x:
        raise ExecutionError("fills", filled, f"the fills sum above the parent's qty {x}")
    leaves = CTX.subtract(x, filled)
    delay = CTX.multiply(x, _cost(buy, p0, pd))
    trading = _cost(buy, notional, CTX.multiply(filled, p0))
    opportunity = CTX.multiply(leaves, _cost(buy, final, p0))
    shortfall = CTX.add(CTX.add(delay, trading), CTX.add(opportunity, fees))
    paper = CTX.multiply(x, pd)
    parts = [_bps(c, paper) for c in (delay, trading, opportunity, fees)]
    is_bps = _WIDE.add(_WIDE.add(parts[0], parts[1]), _WIDE.add(parts[2], parts[3]))

    # The market over the interval.
    start, end = _interval(spec, view.ended_ns if view else None, fills, filled, start_ns, end_ns)
    volume, traded = _tape(trades, spec.symbol, start, end)
    vwap = _RATIO.divide(traded, volume) if volume else None

    avg = _RATIO.divide(notional, filled) if filled else None
    arrival_bps = vwap_bps = None
    if filled:
        at_arrival = CTX.multiply(filled, arrival)
        arrival_bps = _bps(_cost(buy, notional, at_arrival), at_arrival)
        if volume:
            # avg vs traded / volume, without rounding either quotient first.
            cross = CTX.multiply(notional, volume)
            at_vwap = CTX.multiply(filled, traded)
            vwap_bps = _bps(_cost(buy, cross, at_vwap), at_vwap)

    return ParentCost(
        parent_id=spec.parent_id,
        symbol=spec.symbol,
        side=spec.side,
        policy=spec.policy,
        qty=x,
        filled_qty=filled,
        leaves_qty=leaves,
        decision_ns=spec.decision_ns,
        start_ns=start,
        end_ns=end,
        duration_s=Decimal(end - start).scaleb(-9),
        decision_price=pd,
        arrival_price=arrival,
        first_child_mid=p0,
        final_price=final,
        avg_price=avg,
        interval_vwap=vwap,
        market_volume=volume,
        arrival_bps=arrival_bps,
        vwap_bps=vwap_bps,
        is_bps=is_bps,
        delay_bps=parts[0],
        trading_bps=parts[1],
        opportunity_bps=parts[2],
        fees_bps=parts[3],
        is_cost=shortfall,
        delay_cost=delay,
        trading_cost=trading,
        opportunity_cost=opportunity,
        fees=fees,
        fill_rate=_RATIO.divide(filled, x),
        maker_share=_RATIO.divide(maker, filled) if filled else None,
        participation=_RATIO.divide(filled, volume) if volume else None,
    )


# ----- the table ------------------------------------------------------------------------------

ROW_PLACES: Final = {"bps": 2, "ratio": 4, "price": 6}
"""Display rounding in :func:`cost_rows`: at most this many decimal places (half-even) for bps
figures, ratios and quotient prices; quantities, currency figures and durations are printed
exactly."""

_BPS_KEYS = ("arrival_bps", "vwap_bps", "is_bps", "delay_bps", "trading_bps", "opportunity_bps")
_KEYS: Final = {
    "filled_qty": None,
    "leaves_qty": None,
    "avg_price": "price",
    "decision_price": None,
    "arrival_price": None,
    "first_child_mid": None,
    "final_price": None,
    "interval_vwap": "price",
    "market_volume": None,
    **dict.fromkeys(_BPS_KEYS, "bps"),
    "fees_bps": "bps",
    "fees": None,
    "is_cost": None,
    "fill_rate": "ratio",
    "maker_share": "ratio",
    "participation": "ratio",
    "duration_s": None,
}


def _text(value: Decimal | None, places: int | None) -> str | None:
    if value is None:
        return None
    exponent = value.as_tuple().exponent
    if places is not None and isinstance(exponent, int) and exponent < -places:
        value = value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)
    return format(value, "f")


def _iso(ns: int | None, tz: dt.tzinfo) -> str | None:
    if ns is None:
        return None
    return to_datetime(ns).astimezone(tz).isoformat()


def cost_rows(costs: Iterable[ParentCost], tz: dt.tzinfo = dt.UTC) -> list[dict[str, str | None]]:
    """One JSON-ready row per report, in order: ``parent_id``, ``policy``, ``side``, ``qty``,
    the :class:`ParentCost` figures the command line prints (``filled_qty``, ``leaves_qty``,
    ``avg_price``, ``arrival_bps``, ``vwap_bps``, ``is_bps`` and its parts, ``fill_rate``,
    ``maker_share``, ``participation``, ``duration_s``, ...) as strings (None stays None, JSON
    null), rounded for display only as :data:`ROW_PLACES` says, and the times ``decision``,
    ``start`` and ``end`` in ISO 8601 with their UTC offset in ``tz``."""
    rows: list[dict[str, str | None]] = []
    for c in costs:
        row: dict[str, str | None] = {
            "parent_id": c.parent_id,
            "policy": c.policy,
            "side": c.side.value,
            "qty": _text(c.qty, None),
        }
        for key, kind in _KEYS.items():
            row[key] = _text(getattr(c, key), None if kind is None else ROW_PLACES[kind])
        row["decision"] = _iso(c.decision_ns, tz)
        row["start"] = _iso(c.start_ns, tz)
        row["end"] = _iso(c.end_ns, tz)
        rows.append(row)
    return rows
