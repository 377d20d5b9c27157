"""The transaction-cost figures a report draws, from the TCA of the journal
(:func:`fillforge.analytics.tca`; ``docs/tca.md``, ``docs/report.md``).

**Sign convention (as :mod:`fillforge.execution.cost`): a positive figure is a cost, on both
sides** (a buy filled above its benchmark, a sell below it); a negative one is a gain.

:func:`cost_figures` turns a :class:`~fillforge.analytics.TcaResult` into the few series the
charts need (:class:`CostFigures`), or says in words why there are none (the chart then shows
that sentence instead of a plot). Unknown figures (NaN in the TCA's columns: a benchmark that
needs market data the journal does not hold) are left out, never drawn as 0.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any, Final

from fillforge.analytics import CONVENTION, MarketData, TcaResult, tca
from fillforge.errors import FillforgeError
from fillforge.journal import Journal
from fillforge.time import NS_PER_MILLISECOND

__all__ = [
    "LATENCY_STAGES",
    "SHORTFALL_PARTS",
    "TOTALS",
    "CostFigures",
    "cost_figures",
    "from_tca",
]

SHORTFALL_PARTS: Final = ("delay", "trading", "opportunity", "fees")
"""Perold's implementation shortfall, in its parts (``execution/cost.py``)."""
LATENCY_STAGES: Final = (
    ("decision_to_send", "decision to first send"),
    ("send_to_ack", "send to ack"),
    ("ack_to_first_fill", "ack to first fill"),
    ("send_to_first_fill", "send to first fill"),
)
"""The TCA's latency arrays the report draws, and their labels."""


TOTALS: Final = (
    ("is_bps", "implementation shortfall, bps of the paper notional (positive = cost)"),
    ("arrival_bps", "slippage against the mid at each order's send, bps (positive = cost)"),
    ("fill_rate", "fill rate of the orders (filled / ordered)"),
    ("reject_ratio", "orders refused"),
    ("cancel_ratio", "orders cancelled"),
)
"""The TCA's totals the report's summary shows, and what each is."""


@dataclass(frozen=True, slots=True)
class CostFigures:
    """The TCA figures of one journal, in basis points (positive = cost).

    ``slippage_bps``: each fill against its parent's arrival price (a lone order's: the mid at
    its send, when market data gave one). ``shortfall``: by policy, each part of the shortfall
    (:data:`SHORTFALL_PARTS`) in bps of the paper notional. ``by_policy`` / ``by_hour``:
    ``(fill rate of the orders, shortfall bps)``, either None when not known; hours are
    ``hour_zone``'s hour of day an order was sent (a parent decided). ``latency_ms``: by stage
    (:data:`LATENCY_STAGES`), the measured samples. ``totals``: every order and parent as one
    group (:data:`TOTALS`; None: unknown). ``unknown``: the TCA's reasons a figure is unknown,
    by figure."""

    slippage_bps: list[float] = field(default_factory=list)
    shortfall: dict[str, dict[str, float]] = field(default_factory=dict)
    by_policy: dict[str, tuple[float | None, float | None]] = field(default_factory=dict)
    by_hour: dict[int, tuple[float | None, float | None]] = field(default_factory=dict)
    hour_zone: str = "UTC"
    latency_ms: dict[str, list[float]] = field(default_factory=dict)
    benchmark: str = "arrival price"
    convention: str = CONVENTION
    totals: dict[str, float | None] = field(default_factory=dict)
    unknown: dict[str, str] = field(default_factory=dict)


def _known(x: Any) -> float | None:
    v = float(x)
    return v if math.isfinite(v) else None


def _slippage(r: TcaResult) -> list[float]:
    """Each fill's slippage in bps: side x (price - benchmark) / benchmark, the benchmark its
    parent's arrival price (the mid at its send for a lone order, NaN without market data)."""
    p = r.parents
    pairs = zip(p["parent_id"].tolist(), p["arrival_price"].tolist(), strict=True)
    arrival = {pid: float(a) for pid, a in pairs}
    f = r.fills
    out = []
    rows = zip(
        f["side"].tolist(),
        f["price"].tolist(),
        f["parent_id"].tolist(),
        f["arrival_send"].tolist(),
        strict=True,
    )
    for side, price, pid, at_send in rows:
        bench = arrival.get(pid, math.nan) if pid else math.nan
        if not math.isfinite(bench):
            bench = at_send
        if math.isfinite(bench) and bench > 0:
            out.append(side * (price - bench) / bench * 10_000)
    return out


def _pair(group: dict[str, float]) -> tuple[float | None, float | None]:
    return _known(group.get("fill_rate", math.nan)), _known(group.get("is_bps", math.nan))


def from_tca(r: TcaResult, tz: dt.tzinfo = dt.UTC) -> CostFigures:
    """The report's figures of a TCA result (hours of day in ``tz``)."""
    by_policy = r.group_by("policy")
    shortfall = {}
    for policy, g in by_policy.items():
        if g.get("parents", 0) and g.get("parents_without_is", 0) < g.get("parents", 0):
            parts = {p: _known(g.get(f"{p}_bps", math.nan)) for p in SHORTFALL_PARTS}
            shortfall[policy] = {p: v for p, v in parts.items() if v is not None}
    by_hour = {int(label[:2]): _pair(g) for label, g in r.group_by("hour", tz).items()}
    latency = {
        label: [ns / NS_PER_MILLISECOND for ns in r.latency[key].tolist()]
        for key, label in LATENCY_STAGES
        if key in r.latency and len(r.latency[key])
    }
    return CostFigures(
        slippage_bps=_slippage(r),
        shortfall=shortfall,
        by_policy={p: _pair(g) for p, g in by_policy.items()},
        by_hour=by_hour,
        hour_zone=str(tz),
        latency_ms=latency,
        totals={k: _known(r.total().get(k, math.nan)) for k, _ in TOTALS},
        unknown=dict(sorted(r.reasons.items())),
    )


def cost_figures(
    journal: Journal, tz: dt.tzinfo = dt.UTC, market: MarketData | None = None
) -> tuple[CostFigures | None, str]:
    """The TCA figures of ``journal`` against ``market`` (the mids at each send, for lone
    orders' arrival; optional), hours in ``tz``; or None and why not."""
    try:
        return from_tca(tca(journal, market), tz), ""
    except FillforgeError as e:
        return None, f"the transaction-cost analysis refused this journal: {e}"
