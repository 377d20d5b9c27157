"""fillforge: an order-execution engine for Python trading systems.

The hot paths live in the compiled extension ``fillforge._core``; this package re-exports its
public classes with their types.
"""

from fillforge._core import BatchResult, OrderBook, Throttle, TrailingStops, __version__
from fillforge.codes import Op, Reason, Side, Status, TimeInForce
from fillforge.errors import (
    BatchInputError,
    ClockWentBackwardsError,
    DuplicateOrderIdError,
    DuplicateStopIdError,
    FillforgeError,
    InternalError,
    InvalidOrderError,
    InvalidQuantityError,
    OrderBookError,
    PriceOffGridError,
    QuantityOffGridError,
    ReplayError,
    RequestTooLargeError,
    ThrottleError,
    TrailingStopError,
    UnknownOrderError,
    UnknownStopError,
)
from fillforge.throttle import Denied, Gcra, RateLimiter, SlidingWindow
from fillforge.trailing import StopState, trail_bps_from_percent, trail_ticks_from_price

__all__ = [
    "BatchInputError",
    "BatchResult",
    "ClockWentBackwardsError",
    "Denied",
    "DuplicateOrderIdError",
    "DuplicateStopIdError",
    "FillforgeError",
    "Gcra",
    "InternalError",
    "InvalidOrderError",
    "InvalidQuantityError",
    "Op",
    "OrderBook",
    "OrderBookError",
    "PriceOffGridError",
    "QuantityOffGridError",
    "RateLimiter",
    "Reason",
    "ReplayError",
    "RequestTooLargeError",
    "Side",
    "SlidingWindow",
    "Status",
    "StopState",
    "Throttle",
    "ThrottleError",
    "TimeInForce",
    "TrailingStopError",
    "TrailingStops",
    "UnknownOrderError",
    "UnknownStopError",
    "__version__",
    "trail_bps_from_percent",
    "trail_ticks_from_price",
]
