"""``run_sweep``: a sweep from its configuration to its files.

The output directory holds ``trials.jsonl`` (the record a rerun resumes from),
``results.parquet`` (one row per trial, in the sweep's order), ``heatmap.html`` and
``summary.json``. A rerun with the same configuration runs only the trials the record lacks.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fillforge.config.model import BacktestConfig
from fillforge.errors import SweepError
from fillforge.sweep.config import SweepConfig, Trial, trials
from fillforge.sweep.heatmap import heatmap_html
from fillforge.sweep.record import TrialRecord
from fillforge.sweep.results import SweepSummary, finish_rows, summarize, write_parquet
from fillforge.sweep.runner import LocalRay, run_trials
from fillforge.sweep.trial import load_daily_bars

__all__ = ["SweepRun", "run_sweep"]

ProgressFactory = Callable[[int], AbstractContextManager[Callable[[int], None]]]


@dataclass(frozen=True)
class SweepRun:
    """A finished sweep: its rows (in the sweep's order), summary, how many trials this run
    ran and how many it found already recorded, and where its files are."""

    rows: list[dict[str, Any]]
    summary: SweepSummary
    ran: int
    resumed: int
    directory: Path

    @property
    def parquet(self) -> Path:
        return self.directory / "results.parquet"

    @property
    def heatmap(self) -> Path:
        return self.directory / "heatmap.html"


def _no_progress(_: int) -> AbstractContextManager[Callable[[int], None]]:
    return nullcontext(lambda _n: None)


def _symbols(todo: list[Trial]) -> list[str]:
    """Every symbol any of ``todo`` backtests (a swept ``backtest.symbols`` included)."""
    out: dict[str, None] = {}
    for t in todo:
        bt = t.config.get("backtest") or {}
        for s in bt.get("symbols") or BacktestConfig().symbols:
            if isinstance(s, str):
                out[s] = None
    return list(out)


def run_sweep(
    cfg: SweepConfig,
    directory: str | Path,
    *,
    workers: int | None = None,
    address: str | None = None,
    in_process: bool = False,
    progress: ProgressFactory = _no_progress,
) -> SweepRun:
    """Run the trials of ``cfg`` not yet recorded in ``directory`` (made if missing): here
    when ``in_process``, else on Ray (local with ``workers`` CPUs, or the cluster at
    ``address``); then write the table, the heatmap and the summary from every recorded row."""
    out = Path(directory)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise SweepError("--output", str(out), f"cannot be made: {e.strerror}") from None
    every = trials(cfg)
    record = TrialRecord(out)
    todo = [t for t in every if t.trial_id not in record.done]
    resumed = len(every) - len(todo)
    if todo:
        bars = load_daily_bars(_symbols(todo))
        with progress(len(todo)) as advance:
            if in_process:
                run_trials(todo, bars, cfg.walk_forward, record, advance)
            else:
                with LocalRay(workers, address) as ray:
                    run_trials(todo, bars, cfg.walk_forward, record, advance, ray=ray)
    ours = {t.trial_id for t in every}
    rows = finish_rows([r for k, r in record.done.items() if k in ours], cfg)
    summary = summarize(rows, cfg)
    write_parquet(rows, out / "results.parquet")
    (out / "heatmap.html").write_text(heatmap_html(rows, summary, cfg), encoding="utf-8")
    (out / "summary.json").write_text(
        json.dumps(summary.as_dict(), indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
    return SweepRun(rows, summary, len(todo), resumed, out)
