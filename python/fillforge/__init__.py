"""fillforge: an order-execution engine for Python trading systems.

The hot paths live in the compiled extension ``fillforge._core``; this package re-exports its
public classes with their types.
"""

from fillforge._core import BatchResult, OrderBook, __version__
from fillforge.codes import Op, Reason, Side, Status, TimeInForce
from fillforge.errors import (
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
    "BatchResult",
    "DuplicateOrderIdError",
    "FillforgeError",
    "InternalError",
    "InvalidOrderError",
    "InvalidQuantityError",
    "Op",
    "OrderBook",
    "OrderBookError",
    "PriceOffGridError",
    "QuantityOffGridError",
    "Reason",
    "ReplayError",
    "Side",
    "Status",
    "TimeInForce",
    "UnknownOrderError",
    "__version__",
]
