"""Order lifecycle: typed requests and events (pydantic), the order and group state machines
(transitions), and the order manager. See ``docs/orders.md``."""

from fillforge.orders import enums, manager
from fillforge.orders.enums import *  # noqa: F403
from fillforge.orders.groups import LegAction, OrderGroup
from fillforge.orders.machine import GROUP_TABLE, ORDER_TABLE, diagram
from fillforge.orders.manager import *  # noqa: F403
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

# A module the package re-exports whole is star-imported and its __all__ added (one list to keep).
__all__ = [
    "GROUP_TABLE",
    "ORDER_TABLE",
    "Fill",
    "Instrument",
    "LegAction",
    "Order",
    "OrderEvent",
    "OrderGroup",
    "OrderRequest",
    "ReplaceTerms",
    "StopLoss",
    "TakeProfit",
    "VenueReport",
    "diagram",
]
__all__ += enums.__all__
__all__ += manager.__all__
