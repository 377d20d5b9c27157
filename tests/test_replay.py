"""Replays on real venue data: the shipped LOBSTER sample, all six in ../shared, and CME MBO."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest

import fillforge
from fillforge.replay import lobster_sample, replay_cme, replay_lobster

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
LOBSTER = SHARED / "lobster"
CME = SHARED / "cme_mbo" / "ESH4_GLBX-MDP3_2023-12-25_mbo.csv"
needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/data is not present")

PAIRS = [
    ("GOOG", 1, "orderbook_1.csv"),
    ("GOOG", 5, "orderbook_5.csv"),
    ("GOOG", 10, "orderbook_10.csv.gz"),
    ("AMZN", 1, "orderbook_1.csv"),
    ("AMZN", 5, "orderbook_5.csv"),
    ("AAPL", 1, "orderbook_1.csv"),
]


def _pair(ticker: str, level: int, ob: str) -> tuple[Path, Path]:
    stem = f"{ticker}_2012-06-21_34200000_57600000_"
    return LOBSTER / f"{stem}message_{level}.csv", LOBSTER / f"{stem}{ob}"


def _rows(path: Path) -> int:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        return sum(1 for _ in f)


def _run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fillforge", *args], capture_output=True, text=True, check=False
    )


def test_shipped_sample_replays_clean() -> None:
    message, orderbook = lobster_sample()
    r = replay_lobster(message, orderbook)
    assert r.events == _rows(message) - 1  # the first row seeds the book
    assert r.mismatches == 0
    assert r.checked_levels > 10 * r.events  # ten levels a side are checked after most events
    assert r.executions_at_queue_head <= r.known_executions


@needs_shared
@pytest.mark.parametrize(("ticker", "level", "ob"), PAIRS)
def test_every_lobster_sample_replays_with_zero_mismatches(
    ticker: str, level: int, ob: str
) -> None:
    message, orderbook = _pair(ticker, level, ob)
    r = replay_lobster(message, orderbook)
    assert r.events == _rows(message) - 1
    assert r.mismatches == 0, r.first_mismatches
    assert r.checked_levels >= r.events


def _corrupt(src: Path, dst: Path) -> int:
    """Copy an orderbook file, adding 100 shares to the best bid of one row whose best bid price
    equals its neighbours' (so the level is checked there, not adopted). Returns that row."""
    lines = src.read_text().splitlines()
    bids = [line.split(",")[2] for line in lines]
    row = next(k for k in range(500, len(lines) - 1) if bids[k - 1] == bids[k] == bids[k + 1])
    cols = lines[row].split(",")
    cols[3] = str(int(cols[3]) + 100)
    lines[row] = ",".join(cols)
    dst.write_text("\n".join(lines) + "\n")
    return row


@needs_shared
def test_corrupted_orderbook_is_caught_and_exits_nonzero(tmp_path: Path) -> None:
    message, orderbook = _pair("GOOG", 1, "orderbook_1.csv")
    bad = tmp_path / "orderbook_1.csv"
    row = _corrupt(orderbook, bad)
    r = replay_lobster(message, bad)
    assert r.mismatches >= 1
    assert r.first_mismatches[0].event == row
    assert r.first_mismatches[0].side == "bid"
    proc = _run_cli("replay", "lobster", str(message), str(bad), "--json")
    assert proc.returncode == 1
    assert json.loads(proc.stdout)["mismatches"] == r.mismatches


def test_cli_json_keys_and_exit_code_on_clean_data() -> None:
    message, orderbook = lobster_sample()
    proc = _run_cli("replay", "lobster", str(message), str(orderbook), "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert {"events", "mismatches", "msgs_per_s"} <= out.keys()
    assert out["mismatches"] == 0
    assert out["msgs_per_s"] > 0


def test_unreadable_files_raise_replay_error(tmp_path: Path) -> None:
    message, _ = lobster_sample()
    with pytest.raises(fillforge.ReplayError, match="no-such-file"):
        replay_lobster(message, tmp_path / "no-such-file.csv")
    bad = tmp_path / "message.csv"
    bad.write_text("34200.1,1,5,100,5000000,1\n34200.2,9,5,100,5000000,1\n")
    ob = tmp_path / "ob.csv"
    ob.write_text("5000100,100,5000000,100\n5000100,100,5000000,100\n")
    with pytest.raises(fillforge.ReplayError, match="line 2: bad type"):
        replay_lobster(bad, ob)
    proc = _run_cli("replay", "lobster", str(bad), str(ob))
    assert proc.returncode == 2


def test_mismatched_row_counts_are_an_error(tmp_path: Path) -> None:
    m = tmp_path / "m.csv"
    m.write_text("34200.1,1,5,100,5000000,1\n")
    ob = tmp_path / "ob.csv"
    ob.write_text("5000100,100,5000000,100\n5000100,100,5000000,100\n")
    with pytest.raises(fillforge.ReplayError, match="rows"):
        replay_lobster(m, ob)


@pytest.mark.skipif(not CME.exists(), reason="../shared CME sample is not present")
def test_cme_replay_agrees_with_exchange_fills() -> None:
    r = replay_cme(CME)
    assert r.records == 68_792
    assert r.trades == r.agreed + sum(r.residue.values())
    # The data README's own check: uncrossed at every event end after the open, final BBO.
    assert r.crossed_after_open == 0
    assert (r.final_best_bid, r.final_best_ask) == (481_000, 481_025)
    assert r.unknown_order_refs == 0
    # Every disagreement falls in a documented class (docs/replay.md).
    documented = {
        "iceberg",
        "self_match_prevention",
        "snapshot_queue_order",
        "queue_order",
        "fills_do_not_cover_trade",
    }
    assert set(r.residue) <= documented
    assert r.unambiguous_agreement > 0.99


@pytest.mark.skipif(not CME.exists(), reason="../shared CME sample is not present")
def test_cme_cli_json() -> None:
    proc = _run_cli("replay", "cme", str(CME), "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert {"trades", "agreed", "agreement"} <= out.keys()
    assert out["agreed"] <= out["trades"]


def test_replay_check_runs_on_the_shipped_sample() -> None:
    proc = _run_cli("replay", "check")
    assert proc.returncode == 0, proc.stderr
    assert "mismatches" in proc.stdout
    assert "matched the true book" in proc.stdout
