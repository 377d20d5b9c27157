"""fillforge: an order-execution engine for Python trading systems.

The hot paths live in the compiled extension ``fillforge._core``; this package re-exports its
public classes with their types.
"""

from fillforge import errors
from fillforge._core import BatchResult, OrderBook, Throttle, TrailingStops, __version__
from fillforge.codes import Op, Reason, Side, Status, TimeInForce
from fillforge.errors import *  # noqa: F403 (every fillforge error)
from fillforge.orders import (
    AssetClass,
    EventKind,
    Fill,
    Instrument,
    LiquiditySide,
    Order,
    OrderClass,
    OrderEvent,
    OrderManager,
    OrderRequest,
    OrderSide,
    OrderStatus,
    OrderTimeInForce,
    OrderType,
    StopLoss,
    TakeProfit,
    VenueReport,
)
from fillforge.throttle import Denied, Gcra, RateLimiter, SlidingWindow
from fillforge.trailing import StopState, trail_bps_from_percent, trail_ticks_from_price

__all__ = [
    "AssetClass",
    "BatchResult",
    "Denied",
    "EventKind",
    "Fill",
    "Gcra",
    "Instrument",
    "LiquiditySide",
    "Op",
    "Order",
    "OrderBook",
    "OrderClass",
    "OrderEvent",
    "OrderManager",
    "OrderRequest",
    "OrderSide",
    "OrderStatus",
    "OrderTimeInForce",
    "OrderType",
    "RateLimiter",
    "Reason",
    "Side",
    "SlidingWindow",
    "Status",
    "StopLoss",
    "StopState",
    "TakeProfit",
    "Throttle",
    "TimeInForce",
    "TrailingStops",
    "VenueReport",
    "__version__",
    "trail_bps_from_percent",
    "trail_ticks_from_price",
]
__all__ += errors.__all__
