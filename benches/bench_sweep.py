"""Sweep throughput on this machine: trials per second against the number of local Ray workers,
and what Ray adds to each trial over the same backtest run in this process.

Run: ``python benches/bench_sweep.py [--trials 24] [--workers 1 2] [--json]``.

The trials are the shipped example's backtest (SMA crossover on AAPL, GOOG and SPY daily bars,
2016-2017) over a grid of ``--trials`` (fast, slow) pairs, every one valid. Each measurement
writes its own fresh record (one fsync per trial, as a real sweep).

(a) in-process: the trials one after another here (``--in-process``): seconds per trial;
(b) Ray with N workers: a local Ray started with N CPUs, one trial per worker run first to
    warm it (its interpreter imports fillforge and takes the bars from the object store), then
    the timed trials: trials per second; Ray's start-up is reported on its own;
(c) the overhead per trial: with 1 worker, Ray's seconds per trial minus the in-process
    seconds per trial (scheduling, sending the trial and its row, the worker's bookkeeping).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from importlib.resources import files
from pathlib import Path
from typing import Any

import yaml

from fillforge.sweep import parse_sweep, trials
from fillforge.sweep.config import SweepConfig, Trial
from fillforge.sweep.record import TrialRecord
from fillforge.sweep.runner import LocalRay, run_in_process, run_on_ray
from fillforge.sweep.trial import load_daily_bars


def _config(n: int) -> SweepConfig:
    """The shipped example with a grid of at least ``n`` (fast, slow) pairs, fast < slow."""
    text = files("fillforge.data").joinpath("sweeps").joinpath("sma_grid.yaml").read_text()
    data = yaml.safe_load(text)
    fasts = list(range(5, 40, 5))  # every fast below every slow: all valid
    slows = list(range(40, 40 + 20 * (n // len(fasts) + 1), 20))
    data["grid"] = {"strategy.params.fast": fasts, "strategy.params.slow": slows}
    return parse_sweep(data)


def _fresh() -> TrialRecord:
    return TrialRecord(Path(tempfile.mkdtemp(prefix="bench-sweep-")))


def _in_process(todo: list[Trial], cfg: SweepConfig, bars: Any) -> float:
    record = _fresh()
    t0 = time.perf_counter()
    run_in_process(todo, bars, cfg.walk_forward, record)
    elapsed = time.perf_counter() - t0
    shutil.rmtree(record.path.parent)
    return elapsed


def _on_ray(todo: list[Trial], cfg: SweepConfig, bars: Any, workers: int) -> dict[str, float]:
    t0 = time.perf_counter()
    with LocalRay(workers) as ray:
        started = time.perf_counter() - t0
        warm = _fresh()
        run_on_ray(ray, todo[:workers], bars, cfg.walk_forward, warm)  # one per worker
        shutil.rmtree(warm.path.parent)
        record = _fresh()
        t1 = time.perf_counter()
        run_on_ray(ray, todo, bars, cfg.walk_forward, record)
        elapsed = time.perf_counter() - t1
        shutil.rmtree(record.path.parent)
    return {"start_s": started, "elapsed_s": elapsed}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--trials", type=int, default=24)
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    load = os.getloadavg()[0]
    cfg = _config(args.trials)
    todo = trials(cfg)[: args.trials]
    bars = load_daily_bars(["AAPL", "GOOG", "SPY"])
    _in_process(todo[:1], cfg, bars)  # warm: imports, first-call caches
    local = _in_process(todo, cfg, bars)
    out: dict[str, Any] = {
        "trials": len(todo),
        "cpus": os.cpu_count(),
        "load_average_1min": load,
        "in_process": {"s_per_trial": local / len(todo), "trials_per_s": len(todo) / local},
        "ray": {},
    }
    for w in args.workers:
        r = _on_ray(todo, cfg, bars, w)
        out["ray"][w] = {
            "start_s": r["start_s"],
            "trials_per_s": len(todo) / r["elapsed_s"],
            "s_per_trial": r["elapsed_s"] / len(todo),
        }
    if 1 in out["ray"]:
        out["overhead_s_per_trial"] = (
            out["ray"][1]["s_per_trial"] - out["in_process"]["s_per_trial"]
        )
    if args.json:
        print(json.dumps(out))
        return
    print(
        f"{out['trials']} trials (SMA crossover, AAPL+GOOG+SPY daily 2016-2017); "
        f"{out['cpus']} CPUs, load average {load:.1f} at the start"
    )
    ip = out["in_process"]
    print(
        f"  in-process     {ip['trials_per_s']:6.2f} trials/s  "
        f"({ip['s_per_trial'] * 1e3:7.1f} ms/trial)"
    )
    for w, r in out["ray"].items():
        print(
            f"  Ray, {w} worker{'s' if w > 1 else ' '} {r['trials_per_s']:6.2f} trials/s  "
            f"({r['s_per_trial'] * 1e3:7.1f} ms/trial; Ray start-up {r['start_s']:.1f} s)"
        )
    if "overhead_s_per_trial" in out:
        print(
            "  Ray's overhead per trial (1 worker vs in-process): "
            f"{out['overhead_s_per_trial'] * 1e3:.1f} ms"
        )


if __name__ == "__main__":
    main()
