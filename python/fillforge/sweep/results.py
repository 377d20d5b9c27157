"""A sweep's results: one row per trial (constraints applied), the summary that guards against
overfitting (the best trial's deflated Sharpe ratio, walk-forward selection), and the table as
parquet (pyarrow)."""

from __future__ import annotations

import math
import statistics
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from fillforge._optional import needs_extra
from fillforge.errors import MetricsError, SweepError
from fillforge.sweep.config import SweepConfig
from fillforge.sweep.stats import (
    constraint_failures,
    deflated_sharpe,
    expected_max_sharpe,
    sample_variance,
)

__all__ = [
    "SplitPick",
    "SweepSummary",
    "columns",
    "finish_rows",
    "shown",
    "summarize",
    "table",
    "write_parquet",
]


def shown(value: Any, spec: str = ".4g") -> str:
    """A result cell as text: a float in the format ``spec`` (NaN and infinities as Python
    prints them), None as ``-``, anything else as ``str`` does."""
    if value is None:
        return "-"
    if isinstance(value, float):
        return format(value, spec) if math.isfinite(value) else str(value)
    return str(value)


def finish_rows(rows: list[dict[str, Any]], cfg: SweepConfig) -> list[dict[str, Any]]:
    """The rows in the sweep's order, each with ``passed`` and ``failed`` (the constraints it
    fails, comma-separated; an invalid trial passes nothing)."""
    c = cfg.constraints
    out = []
    for row in sorted(rows, key=lambda r: int(r["index"])):
        if row["status"] == "ok":
            failed = constraint_failures(
                row["max_drawdown"],
                int(row["trades"]),
                limit_drawdown=c.max_drawdown,
                min_trades=c.min_trades,
            )
        else:
            failed = ["invalid"]
        out.append({**row, "passed": not failed, "failed": ",".join(failed)})
    order = columns(out)
    return [{k: r[k] for k in order if k in r} for r in out]


@dataclass(frozen=True, slots=True)
class SplitPick:
    """One walk-forward split: the trial with the best in-sample Sharpe ratio, its
    out-of-sample Sharpe ratio, and the median out-of-sample Sharpe ratio of all trials."""

    split: int
    trial_id: str | None
    in_sample: float | None
    out_of_sample: float | None
    median_out_of_sample: float | None


@dataclass(frozen=True, slots=True)
class SweepSummary:
    """What the sweep found: trials by status, the best (by ``metric``, among the trials that
    pass the constraints; among all valid ones when none pass), its deflated Sharpe ratio given
    the number of valid trials, and the walk-forward picks. ``below_median`` is the share of
    splits whose in-sample winner did worse out of sample than the median trial (near 0.5 or
    above: the in-sample choice carries no information)."""

    trials: int
    valid: int
    passed: int
    metric: str
    best: dict[str, Any] | None
    expected_max_sharpe: float | None
    deflated_sharpe: float | None
    walk_forward: list[SplitPick] = field(default_factory=list)
    below_median: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _metric(row: dict[str, Any], metric: str) -> float:
    value = row.get(metric)
    if value is None:
        return -math.inf
    return float(value)


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None


def summarize(rows: list[dict[str, Any]], cfg: SweepConfig) -> SweepSummary:
    """The summary of finished rows (:func:`finish_rows`)."""
    valid = [r for r in rows if r["status"] == "ok"]
    passing = [r for r in valid if r["passed"]]
    pool = passing or valid
    best = max(pool, key=lambda r: _metric(r, cfg.metric)) if pool else None
    sr0 = dsr = None
    if best is not None and len(valid) >= 2 and best["sharpe_per_period"] is not None:
        variance = sample_variance([r["sharpe_per_period"] or math.nan for r in valid])
        if math.isfinite(variance):
            sr0 = expected_max_sharpe(variance, len(valid))
            try:
                dsr = deflated_sharpe(
                    best["sharpe_per_period"],
                    int(best["returns"]),
                    best["skew"],
                    best["kurtosis"],
                    variance,
                    len(valid),
                )
            except MetricsError:  # a degenerate series (no spread): no probability to give
                dsr = None
    picks = []
    for i in range(1, cfg.walk_forward.splits + 1):
        scored = [r for r in valid if r.get(f"is_sharpe_{i}") is not None]
        oos = [r[f"oos_sharpe_{i}"] for r in valid if r.get(f"oos_sharpe_{i}") is not None]
        median = statistics.median(oos) if oos else None
        if not scored:
            picks.append(SplitPick(i, None, None, None, median))
            continue
        top = max(scored, key=lambda r: r[f"is_sharpe_{i}"])
        picks.append(
            SplitPick(i, top["trial_id"], top[f"is_sharpe_{i}"], top[f"oos_sharpe_{i}"], median)
        )
    judged = [
        p for p in picks if p.out_of_sample is not None and p.median_out_of_sample is not None
    ]
    below = (
        sum(p.out_of_sample < p.median_out_of_sample for p in judged) / len(judged)  # type: ignore[operator]
        if judged
        else None
    )
    return SweepSummary(
        trials=len(rows),
        valid=len(valid),
        passed=len(passing),
        metric=cfg.metric,
        best=best,
        expected_max_sharpe=None if sr0 is None else _finite(round(sr0, 12)),
        deflated_sharpe=None if dsr is None else _finite(round(dsr, 12)),
        walk_forward=picks,
        below_median=below,
    )


def _column(values: list[Any]) -> Any:
    import pyarrow as pa

    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # mixed kinds (a choice of 5 or "x")
        return pa.array([None if v is None else str(v) for v in values], pa.string())


_HEAD = ("index", "trial_id", "seed")
_FIGURES = (
    "status",
    "why",
    "sharpe_ratio",
    "sortino_ratio",
    "max_drawdown",
    "cagr",
    "trades",
    "final_equity",
    "returns",
    "sharpe_per_period",
    "skew",
    "kurtosis",
)
_TAIL = ("oos_sharpe_mean", "passed", "failed")


def _rank(key: str) -> tuple[int, int, str]:
    if key in _HEAD:
        return (0, _HEAD.index(key), "")
    if key.startswith("param."):
        return (1, 0, "")  # the file's order (a stable sort keeps it)
    if key in _FIGURES:
        return (2, _FIGURES.index(key), "")
    for i, prefix in enumerate(("is_sharpe_", "oos_sharpe_")):
        number = key.removeprefix(prefix)
        if number != key and number.isdigit():
            return (3, int(number) * 2 + i, "")
    if key in _TAIL:
        return (4, _TAIL.index(key), "")
    return (5, 0, key)


def columns(rows: list[dict[str, Any]]) -> list[str]:
    """Every key of any row (an invalid trial has no figures), in one order whatever the rows
    (and however a row was read back): ids, parameters, figures, splits, verdicts."""
    return sorted(dict.fromkeys(k for r in rows for k in r), key=_rank)


def table(rows: list[dict[str, Any]]) -> Any:
    """The rows as one pyarrow Table (a missing value is null)."""
    with needs_extra("ray", lambda why: SweepError("table", "pyarrow", why)):
        import pyarrow as pa
    names = columns(rows)
    return pa.table({n: _column([r.get(n) for r in rows]) for n in names})


def write_parquet(rows: list[dict[str, Any]], path: Path) -> None:
    import pyarrow.parquet as pq

    pq.write_table(table(rows), path)
