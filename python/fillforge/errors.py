"""fillforge's exception hierarchy.

Every error fillforge raises derives from :class:`FillforgeError`. The classes are declared in the
compiled core and re-exported here so that ``except fillforge.errors.UnknownOrderError`` works the
same for errors raised from Rust and from Python.
"""

from fillforge._core import (
    BatchInputError,
    DuplicateOrderIdError,
    FillforgeError,
    InternalError,
    InvalidOrderError,
    InvalidQuantityError,
    OrderBookError,
    PriceOffGridError,
    QuantityOffGridError,
    ReplayError,
    UnknownOrderError,
)

__all__ = [
    "BatchInputError",
    "DuplicateOrderIdError",
    "FillforgeError",
    "InternalError",
    "InvalidOrderError",
    "InvalidQuantityError",
    "OrderBookError",
    "PriceOffGridError",
    "QuantityOffGridError",
    "ReplayError",
    "UnknownOrderError",
]
