"""``fillforge sweep``: the shipped example, a run in-process (--json and the table), resuming
through the command, and a bad sweep file as one line naming its key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from fillforge.cli import app
from fillforge.sweep import parse_sweep, trials
from fillforge.sweep.config import read_sweep

runner = CliRunner()
TINY = """\
base:
  strategy: {name: sma_crossover, params: {fast: 5, slow: 20}}
  backtest: {symbols: [SPY]}
grid:
  strategy.params.fast: [5, 10]
  strategy.params.slow: [30]
constraints: {min_trades: 1}
walk_forward: {splits: 2}
"""


def test_the_example_is_a_valid_sweep_on_the_shipped_bars(tmp_path: Path) -> None:
    printed = runner.invoke(app, ["sweep", "--example"])
    assert printed.exit_code == 0
    path = tmp_path / "sma_grid.yaml"
    path.write_text(printed.stdout)
    cfg = read_sweep(path)
    assert len(trials(cfg)) == 12
    assert cfg.base["backtest"]["symbols"] == ["AAPL", "GOOG", "SPY"]  # type: ignore[index]


def test_json_then_the_table_from_the_record(tmp_path: Path) -> None:
    config = tmp_path / "tiny.yaml"
    config.write_text(TINY)
    out = tmp_path / "out"
    first = runner.invoke(app, ["sweep", str(config), "-o", str(out), "--in-process", "--json"])
    assert first.exit_code == 0, first.output
    got = json.loads(first.stdout)
    assert [r["param.strategy.params.fast"] for r in got["rows"]] == [5, 10]
    assert got["summary"]["trials"] == 2
    assert {p.name for p in out.iterdir()} == {
        "trials.jsonl",
        "results.parquet",
        "heatmap.html",
        "summary.json",
    }
    second = runner.invoke(app, ["sweep", str(config), "-o", str(out), "--in-process"])
    assert second.exit_code == 0, second.output
    text = " ".join(second.stdout.split())
    assert "2 trials (0 run now, 2 recorded before)" in text
    assert "deflated Sharpe ratio" in text
    assert "baseline: the best of as many unskilled trials" in text
    assert [t.trial_id for t in trials(parse_sweep(yaml.safe_load(TINY)))] == [
        r["trial_id"] for r in got["rows"]
    ]


def test_a_bad_sweep_file_is_one_line(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text(TINY.replace("walk_forward: {splits: 2}", "walk_forward: {splits: 0}"))
    result = runner.invoke(app, ["sweep", str(config), "-o", str(tmp_path / "o"), "--in-process"])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "error: walk_forward.splits=0: Input should be greater than or equal to 1"
    ]
    assert not (tmp_path / "o").exists()  # refused before anything was written
    clash = runner.invoke(app, ["sweep", str(config), "--address", "auto", "--workers", "2"])
    assert clash.exit_code == 2
    assert "--workers=2: not with --address" in clash.stderr


def test_an_unreachable_cluster_is_one_line(tmp_path: Path) -> None:
    config = tmp_path / "tiny.yaml"
    config.write_text(TINY)
    out = tmp_path / "o"
    result = runner.invoke(app, ["sweep", str(config), "-o", str(out), "--address", "127.0.0.1:1"])
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "error: --address='127.0.0.1:1': cannot reach Ray there: Connection refused"
    ]
    assert not (out / "trials.jsonl").exists()  # nothing ran


def test_the_progress_bar_draws_on_a_terminal_only(capsys: pytest.CaptureFixture[str]) -> None:
    from fillforge.cli_progress import progress

    with progress(4, "trials") as advance:  # stderr is captured: not a terminal
        advance(4)
    assert capsys.readouterr() == ("", "")
    with progress(4, "trials", force=True) as advance:
        advance(2)
        advance(2)
    out, err = capsys.readouterr()
    assert out == ""
    assert "trials" in err
