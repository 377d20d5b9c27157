"""The transaction-cost figures a report draws, from the TCA of the journal (``docs/report.md``).

**Sign convention (as :mod:`fillforge.execution.cost`): a positive figure is a cost, on both
sides** (a buy filled above its benchmark, a sell below it); a negative one is a gain.

:func:`cost_figures` turns what the TCA finds into the few series the charts need
(:class:`CostFigures`), or says in words why there are none (the chart then shows that sentence
instead of a plot).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from fillforge.journal import Journal

__all__ = ["SHORTFALL_PARTS", "CostFigures", "cost_figures"]

SHORTFALL_PARTS: Final = ("delay", "trading", "opportunity", "fees")
"""Perold's implementation shortfall, in its parts (``execution/cost.py``)."""


@dataclass(frozen=True, slots=True)
class CostFigures:
    """The TCA figures of one journal, in basis points (positive = cost).

    ``slippage_bps``: each fill against its parent's arrival price. ``shortfall``: by policy,
    each part of the shortfall (:data:`SHORTFALL_PARTS`), notional-weighted over the policy's
    parents. ``by_policy`` / ``by_hour``: ``(fill rate, cost in bps)``, either None when not
    known; hours are the venue's local hour of day (``hour_zone`` names the zone).
    ``latency_ms``: TCA's own latency stages (decision, send, ack, fill)."""

    slippage_bps: list[float] = field(default_factory=list)
    shortfall: dict[str, dict[str, float]] = field(default_factory=dict)
    by_policy: dict[str, tuple[float | None, float | None]] = field(default_factory=dict)
    by_hour: dict[int, tuple[float | None, float | None]] = field(default_factory=dict)
    hour_zone: str = "UTC"
    latency_ms: dict[str, list[float]] = field(default_factory=dict)
    benchmark: str = "arrival price"


def cost_figures(journal: Journal) -> tuple[CostFigures | None, str]:
    """The TCA figures of ``journal``, or None and why not."""
    return None, "no transaction-cost analysis in this install (fillforge.analytics)"
