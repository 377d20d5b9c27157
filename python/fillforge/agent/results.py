"""What the agent returns: typed, frozen results (pydantic), never bare dicts."""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from fillforge.config.model import Mode

__all__ = ["AgentMetrics", "Denial", "OrderReport", "SignalReport", "Submitted", "figure"]


def figure(x: float) -> float | None:
    """A metric as JSON holds it: rounded to 12 decimals (the last float digits are noise and
    would differ between machines); NaN and infinities (too little data) are None."""
    return None if math.isnan(x) or math.isinf(x) else round(x, 12)


class _Result(BaseModel):
    model_config = ConfigDict(frozen=True)


class Denial(_Result):
    """A signal that sent nothing: ``code`` is machine-readable (``below_threshold``,
    ``max_order_notional``, ``session_opening``, ...), ``why`` says it in words."""

    symbol: str
    code: str
    why: str
    signal: Decimal | None = None


class Submitted(_Result):
    """An order the agent sent for a signal. ``kind`` is ``parent`` (worked by the execution
    engine) or ``bracket`` (a market entry whose exits, the stop, target and trailing stop of
    the file, the exit manager works; ``stop_price`` and ``target_price`` are the plan's levels
    at the decision price). ``cut_from`` is the quantity
    sizing asked for when ``max_trade_size`` cut it."""

    symbol: str
    id: str
    kind: Literal["parent", "bracket"]
    side: Literal["buy", "sell"]
    qty: Decimal
    price: Decimal
    signal: Decimal | None = None
    cut_from: Decimal | None = None
    stop_price: Decimal | None = None
    target_price: Decimal | None = None


class OrderReport(_Result):
    """One order or parent as it stands (``get_order_status``)."""

    id: str
    kind: Literal["parent", "bracket", "order"]
    symbol: str
    side: str
    state: str
    qty: Decimal
    filled_qty: Decimal
    avg_price: Decimal | None = None
    reason: str | None = None
    children: int | None = None  # a parent's child orders so far

    @property
    def done(self) -> bool:
        return self.state in {
            "completed",
            "cancelled",
            "failed",
            "filled",
            "canceled",
            "expired",
            "rejected",
            "denied",
            "replaced",
        }


class SignalReport(_Result):
    """What ``execute_signals`` did: every signal is in exactly one of ``submitted`` and
    ``denied``; ``filled`` lists the submitted orders complete by the time it returned."""

    submitted: tuple[Submitted, ...] = ()
    filled: tuple[OrderReport, ...] = ()
    denied: tuple[Denial, ...] = ()


class AgentMetrics(_Result):
    """``performance()``: the account, what the agent sent and refused, and the fallbacks."""

    mode: Mode
    configured_mode: Mode
    equity: Decimal
    cash: Decimal
    realized_pnl: Decimal
    unrealized_pnl: Decimal
    fees_paid: Decimal
    return_pct: Decimal
    submitted: int
    filled: int
    denied: int
    denials_by_code: dict[str, int] = Field(default_factory=dict)
    fallbacks: int = 0
    fallback_reason: str | None = None
    risk_state: str = "active"  # the risk manager's trading state: active, reducing, halted
    # fillforge.portfolio.metrics over the equity at each session the agent saw (None: too
    # few sessions), annualised by backtest.periods_per_year (252)
    sessions: int = 0
    sharpe_ratio: float | None = None
    sortino_ratio: float | None = None
    max_drawdown: float | None = None
    cagr: float | None = None
