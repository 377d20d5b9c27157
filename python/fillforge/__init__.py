"""fillforge: an order-execution engine for Python trading systems.

The hot paths live in the compiled extension ``fillforge._core``; this package re-exports its
public classes with their types.
"""

from fillforge import errors, orders
from fillforge._core import BatchResult, OrderBook, Throttle, TrailingStops, __version__
from fillforge.codes import Op, Reason, Side, Status, TimeInForce
from fillforge.errors import *  # noqa: F403 (every fillforge error)
from fillforge.orders import *  # noqa: F403 (the order model, manager and state machines)
from fillforge.throttle import Denied, Gcra, RateLimiter, SlidingWindow
from fillforge.trailing import StopState, trail_bps_from_percent, trail_ticks_from_price

__all__ = [
    "BatchResult",
    "Denied",
    "Gcra",
    "Op",
    "OrderBook",
    "RateLimiter",
    "Reason",
    "Side",
    "SlidingWindow",
    "Status",
    "StopState",
    "Throttle",
    "TimeInForce",
    "TrailingStops",
    "__version__",
    "trail_bps_from_percent",
    "trail_ticks_from_price",
]
__all__ += errors.__all__
__all__ += orders.__all__
