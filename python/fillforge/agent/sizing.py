"""How the agent turns one signal into one trade, with :mod:`fillforge.sizing`'s sizers.

- The **target position** is ``SignalScaled(PercentOfEquity(max_position_size))``: at full
  strength that fraction of equity, scaled by ``|signal|``, on the lot grid, with buying power
  applied to the part that opens. With ``risk_management.max_position_risk`` and a stop
  distance it is capped by ``RiskBased(max_position_risk, stop_distance=...)``: the loss to
  the stop is at most that fraction of equity.
- The **trade** is the target (signed like the signal) minus the position held, cut to
  ``Limits(max_notional=max_trade_size)``. A trade under ``min_trade_size`` sends nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal

from fillforge.config.model import Config
from fillforge.orders.enums import OrderSide
from fillforge.orders.models import Instrument
from fillforge.sizing import FixedQuantity, Limits, PercentOfEquity, RiskBased, SignalScaled
from fillforge.sizing.context import SizingContext

__all__ = ["Sized", "Unsized", "size_signal"]

_ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class Sized:
    """A trade to send: ``side``, ``qty`` (after the trade limits), the ``target`` position,
    and ``cut_from`` (the trade before a limit or buying power cut it; None: not cut)."""

    side: OrderSide
    qty: Decimal
    target: Decimal
    cut_from: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Unsized:
    """No trade, and why (``code``: ``no_sizing``, ``no_change``, ``below_min_trade``)."""

    code: str
    why: str


def size_signal(
    cfg: Config,
    *,
    symbol: str,
    signal: Decimal,
    price: Decimal,
    instrument: Instrument,
    equity: Decimal,
    buying_power: Decimal,
    current: Decimal,
    stop_distance: Decimal | None,
) -> Sized | Unsized:
    ex, ps, rm = cfg.execution, cfg.position_sizing, cfg.risk_management
    fraction = (ps.max_position_size if ps else None) or ex.max_position_size
    if fraction is None:
        return Unsized("no_sizing", "set position_sizing.max_position_size")
    direction = OrderSide.BUY if signal > 0 else OrderSide.SELL
    ctx = SizingContext(
        symbol=symbol,
        price=price,
        equity=equity,
        buying_power=buying_power,
        instrument=instrument,
        side=direction,
        position=current,
        signal=signal,
        stop_distance=stop_distance,
    )
    target = SignalScaled(PercentOfEquity(fraction)).size(ctx)
    if rm is not None and rm.max_position_risk is not None and stop_distance:
        target = min(target, RiskBased(rm.max_position_risk).size(ctx))
    signed = target if direction is OrderSide.BUY else -target
    delta = signed - current
    if delta == 0:
        return Unsized("no_change", f"already at the target position {signed}")
    side = OrderSide.BUY if delta > 0 else OrderSide.SELL
    wanted = abs(delta)
    limits = Limits(
        max_notional=ps.max_trade_size if ps else None,
        min_notional=ps.min_trade_size if ps and ps.min_trade_size else None,
    )
    trade_ctx = replace(ctx, side=side)  # the trade's side (the closing part needs no power)
    qty = FixedQuantity(wanted).with_limits(limits).size(trade_ctx)
    if qty == 0:
        lo = ps.min_trade_size if ps else None
        if lo is not None and wanted * price < lo:
            return Unsized(
                "below_min_trade", f"{wanted} x {price} = {wanted * price} < min_trade_size {lo}"
            )
        return Unsized("below_min_trade", f"{wanted} cut to nothing by the trade limits")
    return Sized(side, qty, signed, wanted if qty < wanted else None)
