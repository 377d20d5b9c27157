"""How a live broker hands its venue's word to the local orders: a fill it reports
(:func:`report_fill`) and a state change the local order may already show
(:func:`report_state`). The one way the Alpaca, ccxt and IB brokers' order syncs apply them."""

from __future__ import annotations

import contextlib
from decimal import Decimal

from fillforge.errors import FillforgeError
from fillforge.orders.enums import EventKind, LiquiditySide
from fillforge.orders.manager import OrderManager
from fillforge.orders.models import Fill, VenueReport

__all__ = ["report_fill", "report_state"]


def report_fill(
    manager: OrderManager,
    order_id: str,
    trade_id: str,
    price: Decimal,
    qty: Decimal,
    *,
    ts: int,
    ts_recv: int,
    whole: bool,
    commission: Decimal = Decimal(0),
    maker: bool = False,
) -> None:
    """Apply the venue's fill ``trade_id`` of ``qty`` at ``price`` (at ``ts``; received at
    ``ts_recv``) to the local order: a FILL when it makes the order ``whole``, else a
    PARTIAL_FILL."""
    f = Fill.trusted(
        trade_id=trade_id,
        order_id=order_id,
        price=price,
        qty=qty,
        liquidity=LiquiditySide.MAKER if maker else LiquiditySide.TAKER,
        commission=commission,
        ts_event=ts,
        ts_recv=ts_recv,
    )
    kind = EventKind.FILL if whole else EventKind.PARTIAL_FILL
    manager.apply(VenueReport.trusted(kind=kind, order_id=order_id, ts=ts, fill=f))


def report_state(
    manager: OrderManager, kind: EventKind, order_id: str, ts: int, reason: str | None = None
) -> None:
    """Apply a state report the local order may already reflect (a repeat from the stream and
    a poll): refused then, quietly, and nothing changes."""
    with contextlib.suppress(FillforgeError):
        manager.apply(VenueReport.trusted(kind=kind, order_id=order_id, ts=ts, reason=reason))
