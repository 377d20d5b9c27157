"""The portfolio layer: the ledger of cash, positions, P&L, marks and fees
(:class:`~fillforge.portfolio.ledger.Ledger`), and the analytics of what it records:
performance metrics (:mod:`~fillforge.portfolio.metrics`, empyrical's names), the equity curve,
drawdowns, exposure and turnover (:mod:`~fillforge.portfolio.equity`), round-trip trades
(:mod:`~fillforge.portfolio.trades`), VaR, CVaR and stress tests (:mod:`~fillforge.portfolio.var`)
and rebalancing to target weights (:mod:`~fillforge.portfolio.rebalance`). It records and
measures; the pre-trade checks that refuse orders are :mod:`fillforge.risk`. Layer 3: above
``broker``/``orders``, below every broker.

The analytics names load on first use (they need numpy; the ledger does not). The function
``rebalance`` is not exported here (the name is its module's): call
``fillforge.portfolio.rebalance.rebalance``."""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from fillforge.broker.models import AccountSnapshot, Position
from fillforge.portfolio.ledger import Ledger, MarkSource, market_marks

if TYPE_CHECKING:
    from fillforge.portfolio.equity import DrawdownPeriod, EquityCurve
    from fillforge.portfolio.metrics import PerformanceSummary
    from fillforge.portfolio.rebalance import RebalanceOrder
    from fillforge.portfolio.trades import (
        RoundTrip,
        TradeBook,
        TradeStats,
        round_trips,
        trade_stats,
    )
    from fillforge.portfolio.var import (
        StressResult,
        VarModel,
        VarTerms,
        historical_scenarios,
        portfolio_cvar,
        portfolio_var,
        stress,
    )

_LAZY = {
    "DrawdownPeriod": "equity",
    "EquityCurve": "equity",
    "PerformanceSummary": "metrics",
    "RebalanceOrder": "rebalance",
    "RoundTrip": "trades",
    "TradeBook": "trades",
    "TradeStats": "trades",
    "round_trips": "trades",
    "trade_stats": "trades",
    "StressResult": "var",
    "VarModel": "var",
    "VarTerms": "var",
    "historical_scenarios": "var",
    "portfolio_cvar": "var",
    "portfolio_var": "var",
    "stress": "var",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'fillforge.portfolio' has no attribute {name!r}")
    value = getattr(import_module(f"fillforge.portfolio.{module}"), name)
    globals()[name] = value
    return value


__all__ = [
    "AccountSnapshot",
    "DrawdownPeriod",
    "EquityCurve",
    "Ledger",
    "MarkSource",
    "PerformanceSummary",
    "Position",
    "RebalanceOrder",
    "RoundTrip",
    "StressResult",
    "TradeBook",
    "TradeStats",
    "VarModel",
    "VarTerms",
    "historical_scenarios",
    "market_marks",
    "portfolio_cvar",
    "portfolio_var",
    "round_trips",
    "stress",
    "trade_stats",
]
