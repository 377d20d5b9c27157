"""Pre-trade controls: composable checks (:class:`PreTradeCheck`, run in order by
:class:`RiskChecks`) over the ledger (:mod:`fillforge.portfolio`) and the book of open orders'
reservations (:class:`ReservationBook`). Layer 3: above ``broker``/``orders``, beside
``portfolio`` (which it reads), below every broker."""

from fillforge.risk.checks import (
    WASH_MESSAGE,
    BuyingPowerCheck,
    OrderIntent,
    PreTradeCheck,
    RiskChecks,
    RiskContext,
    ShortableCheck,
    ShortLimitCheck,
    WashTradeCheck,
    would_wash,
)
from fillforge.risk.reservations import Reservation, ReservationBook

__all__ = [
    "WASH_MESSAGE",
    "BuyingPowerCheck",
    "OrderIntent",
    "PreTradeCheck",
    "Reservation",
    "ReservationBook",
    "RiskChecks",
    "RiskContext",
    "ShortLimitCheck",
    "ShortableCheck",
    "WashTradeCheck",
    "would_wash",
]
