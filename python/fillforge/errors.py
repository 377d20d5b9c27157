"""fillforge's exception hierarchy.

Every error fillforge raises derives from :class:`FillforgeError`. The classes are declared in the
compiled core and re-exported here so that ``except fillforge.errors.UnknownOrderError`` works the
same for errors raised from Rust and from Python.
"""

from fillforge._core import (
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

__all__ = [
    "BatchInputError",
    "ClockWentBackwardsError",
    "DuplicateOrderIdError",
    "DuplicateStopIdError",
    "FillforgeError",
    "InternalError",
    "InvalidOrderError",
    "InvalidQuantityError",
    "OrderBookError",
    "PriceOffGridError",
    "QuantityOffGridError",
    "ReplayError",
    "RequestTooLargeError",
    "ThrottleError",
    "TrailingStopError",
    "UnknownOrderError",
    "UnknownStopError",
]
