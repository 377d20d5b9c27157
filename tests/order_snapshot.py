"""Everything an order event may change, for "a refused event changes nothing" checks."""

from __future__ import annotations

from typing import Any

from order_driver import OrderDriver

from fillforge.orders import Order


def snapshot(o: Order | OrderDriver) -> tuple[Any, ...]:
    pending = None if o.pending_request is None else dict(o.pending_request)
    return (
        o.state,
        o.order_qty,
        o.cum_qty,
        o.leaves_qty,
        o.avg_price,
        o.notional_filled,
        dict(o.fills),
        pending,
        o.limit_price,
        o.replaced_by,
    )
