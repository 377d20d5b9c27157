"""fillforge's orders as ib_async's, and IB's numbers as Decimal (at the edge, once).

IB sends prices and sizes as doubles; each becomes the Decimal of its shortest repr
(``100.02``, never ``100.0199999...``), so the instrument's grids hold exactly.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

from fillforge._exact import to_decimal
from fillforge.errors import OrderValidationError
from fillforge.orders.enums import OrderType
from fillforge.orders.models import Instrument, OrderRequest

__all__ = ["IB_TIF", "IB_TYPE", "dec", "ib_order", "instrument_of", "shares"]

IB_TYPE = {
    OrderType.MARKET: "MKT",
    OrderType.LIMIT: "LMT",
    OrderType.STOP: "STP",
    OrderType.STOP_LIMIT: "STP LMT",
}
IB_TIF = {"day": "DAY", "gtc": "GTC", "ioc": "IOC", "fok": "FOK", "opg": "OPG"}
_UNSET = 1.7976931348623157e308


def dec(x: float | int | str | None) -> Decimal:
    """IB's number as Decimal (unset, NaN or None: 0)."""
    if x is None:
        return Decimal(0)
    if isinstance(x, float) and (math.isnan(x) or math.isinf(x) or x >= _UNSET):
        return Decimal(0)
    return to_decimal(x)


def shares(x: float | int | str | None) -> Decimal:
    """IB's share count (a float in ib_async) as Decimal, a whole count as an integer (``3.0``
    is ``3``, as Alpaca and the simulator report it); a fraction as it prints."""
    d = dec(x)
    whole = d.to_integral_value()
    return whole if d == whole else d


def _float(d: Decimal) -> float:
    return float(d)


def ib_order(r: OrderRequest, order_id: int, qty: Decimal, account: str) -> Any:
    """The ib_async ``Order`` for a simple request (its ``client_order_id`` in ``orderRef``);
    what IB cannot take from this adapter raises :class:`~fillforge.errors.OrderValidationError`."""
    from ib_async import Order

    kind = IB_TYPE.get(r.type)
    if kind is None:
        raise OrderValidationError("type", r.type.value, "IbkrBroker sends market, limit, stop")
    tif = IB_TIF.get(r.time_in_force.value)
    if tif is None:
        raise OrderValidationError(
            "time_in_force", r.time_in_force.value, "not an IB time in force"
        )
    o = Order(
        orderId=order_id,
        action="BUY" if r.side.value == "buy" else "SELL",
        totalQuantity=_float(qty),
        orderType=kind,
        tif=tif,
        orderRef=r.client_order_id or "",
        outsideRth=r.extended_hours,
        account=account,
    )
    if r.limit_price is not None:
        o.lmtPrice = _float(r.limit_price)
    if r.stop_price is not None:
        o.auxPrice = _float(r.stop_price)
    return o


def instrument_of(symbol: str, details: Any) -> Instrument:
    """A stock's instrument from IB's contract details: ``minTick`` its tick, ``sizeIncrement``
    its lot (1 when IB gives none), ``minSize`` its minimum."""
    tick = dec(details.minTick) or Decimal("0.01")
    lot = dec(details.sizeIncrement) or Decimal(1)
    least = dec(details.minSize)
    return Instrument(symbol=symbol, tick_size=tick, lot_size=lot, min_qty=least)
