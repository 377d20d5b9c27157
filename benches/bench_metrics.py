"""The cost of the headline performance metrics over a long return series, against a plain
``np.sum`` over the same array in the same process (the machine's speed for one pass).

Run: ``python benches/bench_metrics.py [--n 1000000] [--repeats 7] [--json]``.

(a) the floor: ``np.sum`` over ``--n`` float64 returns;
(b) ``fillforge.portfolio.metrics.summary``: Sharpe, Sortino, maximum drawdown, CAGR, Calmar,
    annual volatility and total return in one call (the target: <= 50 ms for 1 M returns);
(c) each of those metrics by its own function, one after another (what seven separate calls
    cost; every one of them compounds or averages the whole series again);
(d) empyrical-reloaded's seven functions on the same array, when it is installed (a reference;
    it is a test-only dependency).
Best of ``--repeats`` runs each, garbage collector off while timing.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

from bench_timers import best_time

from fillforge.portfolio import metrics as m

MS = 1e3


def _separately(r: np.ndarray) -> Callable[[], object]:
    def run() -> object:
        return (
            m.sharpe_ratio(r),
            m.sortino_ratio(r),
            m.max_drawdown(r),
            m.cagr(r),
            m.calmar_ratio(r),
            m.annual_volatility(r),
            m.cum_returns_final(r),
        )

    return run


def _empyrical(r: np.ndarray) -> Callable[[], object] | None:
    try:
        import empyrical as ep
    except ImportError:
        return None

    def run() -> object:
        return (
            ep.sharpe_ratio(r),
            ep.sortino_ratio(r),
            ep.max_drawdown(r),
            ep.cagr(r),
            ep.calmar_ratio(r),
            ep.annual_volatility(r),
            ep.cum_returns_final(r),
        )

    return run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    r = np.random.default_rng(17).normal(0.0004, 0.01, a.n)
    floor = best_time(lambda: np.sum(r), a.repeats)
    summary = best_time(lambda: m.summary(r), a.repeats)
    separately = best_time(_separately(r), a.repeats)
    ref = _empyrical(r)
    theirs = best_time(ref, a.repeats) if ref is not None else None
    out: dict[str, Any] = {
        "n": a.n,
        "np_sum_ms": floor * MS,
        "summary_ms": summary * MS,
        "summary_over_np_sum": summary / floor,
        "separately_ms": separately * MS,
        "empyrical_ms": theirs * MS if theirs is not None else None,
    }
    if a.json:
        print(json.dumps(out, indent=2))
        return
    print(f"returns: {a.n:,} float64, best of {a.repeats}")
    print(f"(a) np.sum                         {floor * MS:9.2f} ms")
    print(
        f"(b) metrics.summary (7 metrics)    {summary * MS:9.2f} ms"
        f"   = {summary / floor:.0f} x np.sum   (target <= 50 ms)"
    )
    print(f"(c) the 7 functions one by one     {separately * MS:9.2f} ms")
    if theirs is not None:
        print(f"(d) empyrical-reloaded, the same 7 {theirs * MS:9.2f} ms")


if __name__ == "__main__":
    main()
