"""The order requests an exit plan sends: venue exits (OCO, stop, trailing stop), a target's
limit, the stop's market order. Pure builders over :class:`ManagedExit`; the manager sends."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fillforge.errors import ExitPlanError
from fillforge.exits.plan import ExitPlan
from fillforge.exits.position import ExitMode, ManagedExit
from fillforge.orders.enums import OrderClass, OrderSide, OrderTimeInForce, OrderType
from fillforge.orders.models import OrderRequest, StopLoss, TakeProfit

__all__ = [
    "bracket_request",
    "exit_side",
    "stop_request",
    "target_request",
    "venue_fits",
    "venue_request",
]

_GTC = OrderTimeInForce.GTC


def venue_fits(plan: ExitPlan) -> str | None:
    """Why ``plan`` needs local emulation (None: one venue order expresses it)."""
    if len(plan.targets) > 1:
        return "partial targets need several exits of one position"
    if plan.trail is not None and (plan.targets or plan.break_even or plan.trail.after_r):
        return "a venue trailing stop cannot sit in an OCO, move to break-even or wait to arm"
    if plan.trail is not None:
        # The venue's trailing stop replaces the fixed stop: it must start no looser.
        t, st = plan.trail.distance, plan.stop
        same = (t.percent is not None and st.percent is not None and t.percent <= st.percent) or (
            t.atr is not None and st.atr is not None and t.atr <= st.atr
        )
        if not same:
            return "the trail may start looser than the stop: a venue trailing stop holds one"
    return None


def exit_side(m: ManagedExit) -> OrderSide:
    return OrderSide.SELL if m.side == 1 else OrderSide.BUY


def venue_request(m: ManagedExit, lots: int) -> OrderRequest:
    """One venue order for ``lots``: an OCO (the target and the stop), else the venue's trailing
    stop, else a stop order. Exits are good till canceled."""
    assert m.watch is not None
    assert m.levels is not None
    inst, qty = m.instrument, m.instrument.to_qty(lots)
    stop = inst.to_price(m.watch.stop)
    if m.tiers:
        tp = inst.to_price(m.tiers[0].price)
        return _gtc_exit(
            m,
            OrderType.LIMIT,
            qty,
            limit_price=tp,
            order_class=OrderClass.OCO,
            take_profit=TakeProfit(limit_price=tp),
            stop_loss=StopLoss(stop_price=stop),
        )
    if m.plan.trail is not None:
        lv = m.levels
        if lv.trail_ticks is not None:
            trail_price = inst.to_price(lv.trail_ticks)
            return _gtc_exit(m, OrderType.TRAILING_STOP, qty, trail_price=trail_price)
        trail_percent = Decimal(lv.trail_bps or 0) / 100
        return _gtc_exit(m, OrderType.TRAILING_STOP, qty, trail_percent=trail_percent)
    return _gtc_exit(m, OrderType.STOP, qty, stop_price=stop)


def target_request(m: ManagedExit, i: int, lots: int) -> OrderRequest:
    """Tier ``i``'s limit order for ``lots`` at its level."""
    inst = m.instrument
    return _gtc_exit(
        m, OrderType.LIMIT, inst.to_qty(lots), limit_price=inst.to_price(m.tiers[i].price)
    )


def _gtc_exit(m: ManagedExit, kind: OrderType, qty: Decimal, **prices: Any) -> OrderRequest:
    """A good-till-canceled order of ``kind`` for ``qty`` on ``m``'s exit side; ``prices`` are
    its other fields (limit, stop, trail, legs)."""
    return OrderRequest(
        symbol=m.symbol, side=exit_side(m), type=kind, time_in_force=_GTC, qty=qty, **prices
    )


def stop_request(m: ManagedExit, lots: int) -> OrderRequest:
    """The stop's exit: a market order for ``lots``."""
    return OrderRequest(
        symbol=m.symbol, side=exit_side(m), type=OrderType.MARKET, qty=m.instrument.to_qty(lots)
    )


def bracket_request(m: ManagedExit, entry: OrderRequest, reference: Decimal) -> OrderRequest:
    """``entry`` as a bracket (an OTO for a stop alone) with the plan's levels at ``reference``.
    Only a stop and at most one target fit; the mode must be venue."""
    plan = m.plan
    if m.mode is not ExitMode.VENUE or venue_fits(plan) is not None or plan.trail is not None:
        raise ExitPlanError(
            "bracket", True, "a bracket holds a stop and at most one target at the venue"
        )
    if entry.qty is None:
        raise ExitPlanError("bracket", True, "a bracket entry needs qty (not notional)")
    inst = m.instrument
    levels = plan.levels(inst, m.side, reference, inst.to_lots(entry.qty), m.atr)
    data = entry.model_dump()
    data["stop_loss"] = StopLoss(stop_price=inst.to_price(levels.stop))
    if levels.targets:
        data["order_class"] = OrderClass.BRACKET
        data["take_profit"] = TakeProfit(limit_price=inst.to_price(levels.targets[0][0]))
    else:
        data["order_class"] = OrderClass.OTO
    if entry.time_in_force not in (OrderTimeInForce.DAY, _GTC):
        raise ExitPlanError(
            "time_in_force", entry.time_in_force.value, "a bracket entry takes day or gtc"
        )
    return OrderRequest(**data)
