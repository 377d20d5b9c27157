"""Pre-trade controls: composable checks (:class:`PreTradeCheck`, run in order by
:class:`RiskChecks`) over the ledger (:mod:`fillforge.portfolio`) and the book of open orders'
reservations (:class:`ReservationBook`). Layer 3: above ``broker``/``orders``, beside
``portfolio`` (which it reads), below every broker.

The risk manager (``docs/risk-manager.md``): limits on orders, positions, counts, P&L and
exposure (:mod:`~fillforge.risk.limits`, :mod:`~fillforge.risk.exposure`), trading states and
the kill switch (:class:`RiskManager`), and :class:`RiskGate`, any broker behind them."""

from fillforge.risk import checks, gate, kill, limits, manager, prices, reservations
from fillforge.risk.checks import *  # noqa: F403
from fillforge.risk.exposure import (
    CorrelationExposure,
    GrossExposure,
    NetExposure,
    PortfolioVaR,
    SectorExposure,
)
from fillforge.risk.gate import *  # noqa: F403
from fillforge.risk.kill import *  # noqa: F403
from fillforge.risk.limits import *  # noqa: F403
from fillforge.risk.manager import *  # noqa: F403
from fillforge.risk.prices import *  # noqa: F403
from fillforge.risk.proposal import AccountControl, Control, Prices, Proposal, RiskView
from fillforge.risk.reservations import *  # noqa: F403

# A module the package re-exports whole is star-imported and its __all__ added (one list to keep);
# of exposure and proposal only the controls and the view are the package's (not their helpers).
__all__ = [
    "AccountControl",
    "Control",
    "CorrelationExposure",
    "GrossExposure",
    "NetExposure",
    "PortfolioVaR",
    "Prices",
    "Proposal",
    "RiskView",
    "SectorExposure",
]
__all__ += checks.__all__
__all__ += gate.__all__
__all__ += kill.__all__
__all__ += limits.__all__
__all__ += manager.__all__
__all__ += prices.__all__
__all__ += reservations.__all__
