"""Order requests the tests send, built one way."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fillforge.orders.enums import OrderSide, OrderTimeInForce, OrderType
from fillforge.orders.models import OrderRequest


def gtc_limit(
    symbol: str,
    side: OrderSide | str,
    qty: int | str | Decimal,
    price: str | Decimal,
    **fields: Any,
) -> OrderRequest:
    """A good-till-canceled limit order for ``qty`` of ``symbol`` at ``price``; ``fields`` are
    the request's other fields (``client_order_id``, ...)."""
    return OrderRequest(
        symbol=symbol,
        side=OrderSide(side),
        type=OrderType.LIMIT,
        time_in_force=OrderTimeInForce.GTC,
        qty=Decimal(qty),
        limit_price=Decimal(price),
        **fields,
    )
