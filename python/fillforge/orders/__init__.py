"""Order lifecycle: typed requests and events (pydantic), the order and group state machines
(transitions), and the order manager. See ``docs/orders.md``."""

from fillforge.orders.enums import (
    AssetClass,
    EventKind,
    LiquiditySide,
    OrderClass,
    OrderSide,
    OrderStatus,
    OrderTimeInForce,
    OrderType,
)
from fillforge.orders.groups import LegAction, OrderGroup
from fillforge.orders.machine import GROUP_TABLE, ORDER_TABLE, diagram
from fillforge.orders.manager import EventStream, OrderManager
from fillforge.orders.models import (
    Fill,
    Instrument,
    OrderEvent,
    OrderRequest,
    ReplaceTerms,
    StopLoss,
    TakeProfit,
    VenueReport,
)
from fillforge.orders.order import Order

__all__ = [
    "GROUP_TABLE",
    "ORDER_TABLE",
    "AssetClass",
    "EventKind",
    "EventStream",
    "Fill",
    "Instrument",
    "LegAction",
    "LiquiditySide",
    "Order",
    "OrderClass",
    "OrderEvent",
    "OrderGroup",
    "OrderManager",
    "OrderRequest",
    "OrderSide",
    "OrderStatus",
    "OrderTimeInForce",
    "OrderType",
    "ReplaceTerms",
    "StopLoss",
    "TakeProfit",
    "VenueReport",
    "diagram",
]
