"""The sums TCA's summaries are made of, and the summaries (:func:`figures`).

Every summary figure is a ratio of sums (a rate: filled over asked; a bps figure: a cost over
its baseline notional), so a group's figures come from the sums of its rows. The per-fill sums
are reduced to one row per order once (:func:`by_order`: fills are grouped by order); a summary
then adds up the order rows (and the parent rows) of each group in one pass
(:func:`grouped`), and :meth:`~fillforge.analytics.TcaResult.total` adds up all of them. So the
groups of any key add up to the total, by construction.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Final

import numpy as np
import numpy.typing as npt

__all__ = ["PARENT_SUMS", "by_order", "figures", "grouped", "order_sums"]

F64 = npt.NDArray[np.float64]
PARENT_SUMS: Final = (
    "parents",
    "parents_known",
    "paper_notional",
    "delay_cost",
    "trading_cost",
    "opportunity_cost",
    "fees_cost",
    "is_cost",
)
_BPS: Final = 1e4
_COUNTS: Final = (
    "orders",
    "ended",
    "refused",
    "canceled",
    "partial",
    "fills",
    "filled_qty",
    "notional",
    "fees",
)


def order_sums(horizons: Sequence[int]) -> tuple[str, ...]:
    """The names of an order row's sums, in column order."""
    marks = [f"markout_{h}s_{part}" for h in horizons for part in ("num", "den")]
    return (
        "orders",
        "ended",
        "refused",
        "canceled",
        "partial",
        "ended_qty",
        "ended_filled",
        "fills",
        "filled_qty",
        "notional",
        "fees",
        "arrival_num",
        "arrival_den",
        "spread_num",
        "spread_den",
        *marks,
        "trading_cost",
    )


def by_order(order: npt.NDArray[np.int64], k: int, cols: Sequence[F64]) -> F64:
    """Each of ``k`` orders' sums of the fill columns ``cols``: ``(k, len(cols))``."""
    out = np.empty((len(cols), k))
    for i, c in enumerate(cols):  # a bincount a column: the quickest way here
        out[i] = np.bincount(order, c, minlength=k)
    return out.T


def grouped(codes: npt.NDArray[np.int64], matrix: F64, n: int) -> F64:
    """The sums of ``matrix``'s rows by group (``codes`` in ``range(n)``): ``(n, columns)``."""
    out = np.empty((matrix.shape[1], n))
    for i in range(matrix.shape[1]):
        out[i] = np.bincount(codes, matrix[:, i], minlength=n)
    return out.T


def _ratio(a: float, b: float, scale: float = 1.0) -> float:
    return a / b * scale if b else math.nan


def figures(osums: F64, psums: F64 | None, horizons: Sequence[int]) -> list[dict[str, float]]:
    """Each group's figures from its order sums (rows of ``osums``) and parent sums (rows of
    ``psums``; None: the key does not apply to parents, as a venue)."""
    names = order_sums(horizons)
    col = {name: i for i, name in enumerate(names)}
    out: list[dict[str, float]] = []
    nan = math.nan
    for g in range(osums.shape[0]):
        s = {name: float(osums[g, i]) for name, i in col.items()}
        row: dict[str, float] = {k: s[k] for k in _COUNTS}
        row["fill_rate"] = _ratio(s["ended_filled"], s["ended_qty"])
        row["partial_fill_rate"] = _ratio(s["partial"], s["ended"])
        row["reject_ratio"] = _ratio(s["refused"], s["orders"])
        row["cancel_ratio"] = _ratio(s["canceled"], s["orders"])
        row["arrival_bps"] = _ratio(s["arrival_num"], s["arrival_den"], _BPS)
        row["spread_bps"] = _ratio(s["spread_num"], s["spread_den"], _BPS)
        for h in horizons:
            num, den = s[f"markout_{h}s_num"], s[f"markout_{h}s_den"]
            row[f"markout_{h}s_bps"] = _ratio(num, den, _BPS)
        if psums is None:  # a venue: its fills' trading cost and fees, no parent's share
            row.update(parents=nan, parents_without_is=nan, paper_notional=nan)
            row.update(delay_cost=nan, opportunity_cost=nan, is_cost=nan)
            row.update(trading_cost=s["trading_cost"], fees_cost=s["fees"])
            for b in ("delay_bps", "trading_bps", "opportunity_bps", "fees_bps", "is_bps"):
                row[b] = nan
        else:
            p = {name: float(psums[g, i]) for i, name in enumerate(PARENT_SUMS)}
            known = p["parents_known"] > 0  # none of known shortfall: NaN, not 0
            row["parents"] = p["parents"]
            row["parents_without_is"] = p["parents"] - p["parents_known"]
            row["paper_notional"] = p["paper_notional"]
            for name in PARENT_SUMS[3:]:
                row[name] = p[name] if known else nan
                part = name.removesuffix("_cost")
                row[f"{part}_bps"] = _ratio(p[name], p["paper_notional"], _BPS) if known else nan
        out.append(row)
    return out


def parent_matrix(columns: dict[str, Any]) -> F64:
    """Each parent row's sums (:data:`PARENT_SUMS`): its shortfall's parts where the shortfall
    is known, else 0 (and it is not counted as known)."""
    ok = ~np.isnan(columns["is_cost"])
    n = len(ok)

    def known(name: str) -> F64:
        return np.where(ok, columns[name], 0.0)

    columns_ = [
        np.ones(n),
        ok.astype(np.float64),
        known("paper_notional"),
        known("delay_cost"),
        known("trading_cost"),
        known("opportunity_cost"),
        known("fees"),
        known("is_cost"),
    ]
    return np.stack(columns_).T.reshape(n, len(PARENT_SUMS))
