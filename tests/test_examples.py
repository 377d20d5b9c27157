"""The examples run and print what they claim."""

from __future__ import annotations

import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def run(example: str) -> str:
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / example)], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_quickstart_runs() -> None:
    stdout = run("book_quickstart.py")
    assert "IOC sell 12 @ 99: FILLED" in stdout
    assert "POST_ONLY_WOULD_CROSS" in stdout
    assert "op 4: REJECTED  UNKNOWN_ORDER" in stdout


def test_bracket_lifecycle_runs() -> None:
    stdout = run("bracket_lifecycle.py")
    assert "o-3  held" in stdout
    assert "sl-2 new                new               cum=0 leaves=70" in stdout
    assert "sl-2 canceled           canceled          cum=0 leaves=0" in stdout
    assert "group o-1: completed; venue actions: 4" in stdout


def test_passive_buy_runs() -> None:
    stdout = run("passive_buy.py")
    assert "filled 5000 of 5000" in stdout
    assert "slippage vs arrival" in stdout


def test_passive_buy_costs_come_from_parent_cost() -> None:
    from fillforge.demos.passive_buy import run_passive_buy

    r = run_passive_buy(qty=1_000, reprice_every=100)
    c = r.cost
    assert (c.qty, c.filled_qty, c.start_ns, c.end_ns) == (r.target, r.filled, r.start_ns, r.end_ns)
    assert c.arrival_price == r.arrival_mid
    assert c.arrival_bps is not None
    assert c.vwap_bps is not None
    assert r.slippage_vs_arrival_bps == c.arrival_bps.quantize(Decimal("0.01"))
    assert r.slippage_vs_vwap_bps == c.vwap_bps.quantize(Decimal("0.01"))
    assert r.avg_price is not None
    assert r.interval_vwap is not None
    # Positive is a cost: a buy below the arrival mid is a negative figure, and back.
    assert (r.avg_price < r.arrival_mid) == (c.arrival_bps < 0)
    assert (r.avg_price < r.interval_vwap) == (c.vwap_bps < 0)


def test_daily_sma_stop_runs() -> None:
    # The example asserts as it runs: the stop is working until it fills or is canceled by the
    # strategy, and a sell stop never fills above its stop.
    stdout = run("daily_sma_stop.py")
    counts = dict(re.findall(r"(entries|crossover exits|stop exits) (\d+)", stdout))
    entries, exits, stops = (int(counts[k]) for k in ("entries", "crossover exits", "stop exits"))
    assert stops >= 1
    assert entries - (exits + stops) in (0, 1)  # every entry left, but maybe the last one
    at_stop, gapped = map(
        int, re.findall(r"at their stop (\d+), gapped through \(at the open\) (\d+)", stdout)[0]
    )
    assert at_stop + gapped == stops
    assert "max drawdown" in stdout
