"""Pre-trade controls: composable checks (:class:`PreTradeCheck`, run in order by
:class:`RiskChecks`) over the ledger (:mod:`fillforge.portfolio`) and the book of open orders'
reservations (:class:`ReservationBook`). Layer 3: above ``broker``/``orders``, beside
``portfolio`` (which it reads), below every broker.

The risk manager (``docs/risk-manager.md``): limits on orders, positions, counts, P&L and
exposure (:mod:`~fillforge.risk.limits`, :mod:`~fillforge.risk.exposure`), trading states and
the kill switch (:class:`RiskManager`), and :class:`RiskGate`, any broker behind them."""

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
from fillforge.risk.exposure import (
    CorrelationExposure,
    GrossExposure,
    NetExposure,
    PortfolioVaR,
    SectorExposure,
)
from fillforge.risk.gate import RiskGate
from fillforge.risk.kill import KillReport, KillSwitch
from fillforge.risk.limits import (
    DailyLossLimit,
    MaxDrawdown,
    MaxOpenOrders,
    MaxOrderNotional,
    MaxOrderQty,
    MaxOrdersPerDay,
    MaxPosition,
    MaxTradesPerDay,
    PriceBand,
)
from fillforge.risk.manager import (
    DEFAULT_ON_BREACH,
    RISK_TABLE,
    Breach,
    RiskEvent,
    RiskManager,
    RiskSnapshot,
    TradingState,
)
from fillforge.risk.prices import BrokerPrices, PriceBook
from fillforge.risk.proposal import AccountControl, Control, Prices, Proposal, RiskView
from fillforge.risk.reservations import Reservation, ReservationBook

__all__ = [
    "DEFAULT_ON_BREACH",
    "RISK_TABLE",
    "WASH_MESSAGE",
    "AccountControl",
    "Breach",
    "BrokerPrices",
    "BuyingPowerCheck",
    "Control",
    "CorrelationExposure",
    "DailyLossLimit",
    "GrossExposure",
    "KillReport",
    "KillSwitch",
    "MaxDrawdown",
    "MaxOpenOrders",
    "MaxOrderNotional",
    "MaxOrderQty",
    "MaxOrdersPerDay",
    "MaxPosition",
    "MaxTradesPerDay",
    "NetExposure",
    "OrderIntent",
    "PortfolioVaR",
    "PreTradeCheck",
    "PriceBand",
    "PriceBook",
    "Prices",
    "Proposal",
    "Reservation",
    "ReservationBook",
    "RiskChecks",
    "RiskContext",
    "RiskEvent",
    "RiskGate",
    "RiskManager",
    "RiskSnapshot",
    "RiskView",
    "SectorExposure",
    "ShortLimitCheck",
    "ShortableCheck",
    "TradingState",
    "WashTradeCheck",
    "would_wash",
]
