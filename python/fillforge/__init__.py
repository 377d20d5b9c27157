"""fillforge: an order-execution engine for Python trading systems.

The hot paths live in the compiled extension ``fillforge._core``; this package re-exports its
public classes with their types.
"""

from fillforge._core import BatchResult, OrderBook, Throttle, __version__
from fillforge.codes import Op, Reason, Side, Status, TimeInForce
from fillforge.errors import (
    BatchInputError,
    ClockWentBackwardsError,
    DuplicateOrderIdError,
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
    UnknownOrderError,
)
from fillforge.throttle import Denied, Gcra, RateLimiter, SlidingWindow

__all__ = [
    "BatchInputError",
    "BatchResult",
    "ClockWentBackwardsError",
    "Denied",
    "DuplicateOrderIdError",
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
    "Throttle",
    "ThrottleError",
    "TimeInForce",
    "UnknownOrderError",
    "__version__",
]
