"""A sweep run in-process: its files, the constraints' verdicts, invalid trials, and resuming
from its record of completed trials (a torn last line reruns that trial; a damaged line is
refused)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from fillforge.broker import Bar
from fillforge.errors import SweepError
from fillforge.strategy import Strategy
from fillforge.sweep import parse_sweep, run_sweep, trials
from fillforge.sweep.results import shown

SWEEP: dict[str, Any] = {
    "base": {
        "strategy": {"name": "sma_crossover", "params": {"fast": 5, "slow": 20}},
        "backtest": {"symbols": ["SPY"]},
    },
    "grid": {"strategy.params.fast": [5, 20], "strategy.params.slow": [20, 40]},
    "seed": 11,
    "constraints": {"max_drawdown": 0.5, "min_trades": 20},
    "walk_forward": {"splits": 2, "in_sample": 0.5},
}


@pytest.fixture(scope="module")
def first(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sweep")
    run_sweep(parse_sweep(SWEEP), out, in_process=True)
    return out


def test_the_files_and_the_rows(first: Path) -> None:
    table = pq.read_table(first / "results.parquet")
    rows = table.to_pylist()
    assert [r["index"] for r in rows] == [0, 1, 2, 3]
    assert [(r["param.strategy.params.fast"], r["param.strategy.params.slow"]) for r in rows] == [
        (5, 20),
        (5, 40),
        (20, 20),
        (20, 40),
    ]
    invalid = rows[2]  # fast 20 is not below slow 20: the strategy refuses it
    assert invalid["status"] == "invalid"
    assert "strategy.params.fast=20" in invalid["why"]
    assert (invalid["passed"], invalid["failed"], invalid["sharpe_ratio"]) == (
        False,
        "invalid",
        None,
    )
    for r in (rows[0], rows[1], rows[3]):
        assert r["status"] == "ok"
        assert r["returns"] == 504  # bar-end equity: one return per bar after the first
        assert r["passed"] == (r["trades"] >= 20 and r["max_drawdown"] >= -0.5)
        assert r["failed"] == ("" if r["passed"] else "min_trades")
        assert {"is_sharpe_1", "oos_sharpe_1", "is_sharpe_2", "oos_sharpe_2"} <= set(r)
    assert {r["passed"] for r in rows} == {True, False}  # the constraint bites on this grid
    summary = json.loads((first / "summary.json").read_text())
    assert (summary["trials"], summary["valid"]) == (4, 3)
    assert summary["best"]["passed"] is True
    assert 0 <= summary["deflated_sharpe"] <= 1
    assert len(summary["walk_forward"]) == 2
    page = (first / "heatmap.html").read_text()
    assert page.startswith("<!doctype html>")
    assert "<script" not in page  # self-contained: nothing to run, nothing to fetch
    assert "http" not in page
    assert page.count('class="invalid"') == 1
    assert "strategy.params.slow \\ strategy.params.fast" in page


def test_a_trial_is_fillforge_backtests_run(first: Path) -> None:
    """The same figures as ``fillforge backtest`` on the trial's configuration."""
    from fillforge.agent.backtest import run_backtest
    from fillforge.sweep.trial import trial_config

    row = pq.read_table(first / "results.parquet").to_pylist()[1]
    trial = trials(parse_sweep(SWEEP))[1]
    report = run_backtest(trial_config(trial))
    assert {k: row[k] for k in report.figures()} == report.figures()
    assert row["returns"] == report.bars - 1


def test_a_rerun_skips_the_recorded_trials(first: Path, tmp_path: Path) -> None:
    again = run_sweep(parse_sweep(SWEEP), first, in_process=True)
    assert (again.ran, again.resumed) == (0, 4)
    assert pq.read_table(first / "results.parquet").equals(pq.read_table(again.parquet))
    assert [list(r) for r in again.rows] == [list(r) for r in run_sweep_rows(first)]
    # Two trials recorded, one of them torn by a crash mid-write: three run, the table is the same.
    lines = (first / "trials.jsonl").read_text().splitlines(keepends=True)
    partial = tmp_path / "partial"
    partial.mkdir()
    (partial / "trials.jsonl").write_text(lines[0] + lines[1][: len(lines[1]) // 2])
    resumed = run_sweep(parse_sweep(SWEEP), partial, in_process=True)
    assert (resumed.ran, resumed.resumed) == (3, 1)
    assert pq.read_table(partial / "results.parquet").equals(
        pq.read_table(first / "results.parquet")
    )
    assert len((partial / "trials.jsonl").read_text().splitlines()) == 4


def run_sweep_rows(directory: Path) -> list[dict[str, Any]]:
    """The rows as the table holds them, keys in its column order."""
    table = pq.read_table(directory / "results.parquet")
    return [{k: r[k] for k in table.column_names if r[k] is not None} for r in table.to_pylist()]


def test_a_damaged_record_is_refused_and_left_alone(first: Path, tmp_path: Path) -> None:
    lines = (first / "trials.jsonl").read_text().splitlines(keepends=True)
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    text = lines[0] + "not json\n" + lines[1]
    (damaged / "trials.jsonl").write_text(text)
    with pytest.raises(SweepError, match="line 2 is not a trial row"):
        run_sweep(parse_sweep(SWEEP), damaged, in_process=True)
    assert (damaged / "trials.jsonl").read_text() == text


def test_another_sweeps_rows_stay_out_of_the_table(first: Path) -> None:
    other = {**SWEEP, "grid": {"strategy.params.fast": [5], "strategy.params.slow": [40]}}
    run = run_sweep(parse_sweep(other), first, in_process=True)
    assert (run.ran, run.resumed) == (0, 1)  # the same trial (same config and seed) is reused
    assert [r["trial_id"] for r in run.rows] == [trials(parse_sweep(other))[0].trial_id]
    run_sweep(parse_sweep(SWEEP), first, in_process=True)  # leave the module's files as they were


class Fragile(Strategy):
    """Breaks on its first bar when ``boom`` is set: a strategy's bug, not a refusal."""

    def __init__(self, boom: int = 0) -> None:
        self.boom = boom

    def on_bar(self, bar: Bar) -> None:
        if self.boom:
            raise ZeroDivisionError("a bug in the strategy")


def test_a_failing_trial_stops_the_sweep_and_keeps_what_finished(tmp_path: Path) -> None:
    sweep = {
        "base": {"strategy": {"name": f"{__name__}:Fragile"}, "backtest": {"symbols": ["SPY"]}},
        "grid": {"strategy.params.boom": [0, 1, 0.0]},
    }
    with pytest.raises(SweepError, match=r"failed here .*ZeroDivisionError: a bug in the"):
        run_sweep(parse_sweep(sweep), tmp_path, in_process=True)
    assert len((tmp_path / "trials.jsonl").read_text().splitlines()) == 1  # boom 0 finished


def test_a_random_sweeps_heatmap_bins_its_draws(tmp_path: Path) -> None:
    sweep = {
        **SWEEP,
        "grid": None,
        "random": {
            "samples": 12,
            "params": {
                "strategy.params.fast": {"low": 2, "high": 30},
                "strategy.params.slow": {"choices": [80, 40]},
            },
        },
    }
    run = run_sweep(
        parse_sweep({k: v for k, v in sweep.items() if v is not None}), tmp_path, in_process=True
    )
    fasts = {r["param.strategy.params.fast"] for r in run.rows}
    page = (tmp_path / "heatmap.html").read_text()
    head = page[page.index("<table>") : page.index("</tr>")]
    if len(fasts) > 8:  # more distinct draws than bins: 8 equal-width bins, low to high
        assert head.count("<th>[") == 8
        assert f"<th>[{min(fasts)}, " in head
    else:
        assert [f"<th>{f}</th>" in head for f in sorted(fasts)] == [True] * len(fasts)
    assert page.index("<th>40</th>") < page.index("<th>80</th>")  # rows sorted, not drawn order


def test_a_result_cell_shows_a_float_in_its_format_and_nothing_as_a_dash() -> None:
    assert shown(1.234567) == "1.235"  # the heatmap's 4 significant digits
    assert shown(1.234567, ".4f") == "1.2346"  # the command's table
    assert shown(float("nan")) == "nan"
    assert shown(float("-inf"), ".4f") == "-inf"
    assert shown(None) == "-"
    assert shown(12) == "12"
    assert shown("ok") == "ok"
