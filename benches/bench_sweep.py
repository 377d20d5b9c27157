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
    seconds per trial (scheduling, sending the trial and its row, the worker's bookkeeping);
    and, measured directly, the round trip of an empty trial on 1 worker (the same trial and
    boxed bars in, a row of the same size out, no backtest): what Ray adds, without the
    backtest's seconds that make (c)'s difference noisy on a busy machine.
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


def _in_process(todo: list[Trial], cfg: SweepConfig, bars: Any) -> tuple[float, float]:
    """Wall and CPU seconds for ``todo`` here."""
    record = _fresh()
    t0, c0 = time.perf_counter(), time.process_time()
    run_in_process(todo, bars, cfg.walk_forward, record)
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    shutil.rmtree(record.path.parent)
    return elapsed, cpu


def _timed_trial(trial: Trial, box: list[Any], wf: Any) -> float:
    """A worker's CPU seconds for one real trial (``runner._remote_trial``)."""
    from fillforge.sweep import runner

    c0 = time.process_time()
    runner._remote_trial(trial, box, wf)
    return time.process_time() - c0


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
        round_trip = worker_cpu = float("nan")
        if workers == 1:
            round_trip = _round_trip(ray, todo, bars, cfg)
            ref = ray.put(dict(bars))
            timed = ray.remote(num_cpus=1)(_timed_trial)
            worker_cpu = sum(ray.get([timed.remote(t, [ref], cfg.walk_forward) for t in todo]))
    return {
        "start_s": started,
        "elapsed_s": elapsed,
        "round_trip_s": round_trip,
        "worker_cpu_s": worker_cpu,
    }


def _empty_trial(trial: Trial, box: list[Any], row: dict[str, Any]) -> dict[str, Any]:
    """What a trial costs Ray without the backtest: the same arguments in (the trial, the
    boxed bars taken from the worker's cache), a row of the same size out."""
    from fillforge.sweep import runner

    key = box[0].hex()
    if key not in runner._CACHE:
        import ray

        runner._CACHE[key] = ray.get(box[0])
    return {**row, "trial_id": trial.trial_id}


def _round_trip(ray: Any, todo: list[Trial], bars: Any, cfg: SweepConfig) -> float:
    from fillforge.sweep.trial import run_trial

    row = run_trial(todo[0], bars, cfg.walk_forward)
    ref = ray.put(dict(bars))
    empty = ray.remote(num_cpus=1)(_empty_trial)
    ray.get(empty.remote(todo[0], [ref], row))  # warm
    t0 = time.perf_counter()
    pending = [empty.remote(t, [ref], row) for t in todo]
    while pending:
        _, pending = ray.wait(pending, num_returns=1)
    return (time.perf_counter() - t0) / len(todo)


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
    local, local_cpu = _in_process(todo, cfg, bars)
    out: dict[str, Any] = {
        "trials": len(todo),
        "cpus": os.cpu_count(),
        "load_average_1min": load,
        "in_process": {
            "s_per_trial": local / len(todo),
            "trials_per_s": len(todo) / local,
            "cpu_s_per_trial": local_cpu / len(todo),
        },
        "ray": {},
    }
    for w in args.workers:
        r = _on_ray(todo, cfg, bars, w)
        out["ray"][w] = {
            "start_s": r["start_s"],
            "trials_per_s": len(todo) / r["elapsed_s"],
            "s_per_trial": r["elapsed_s"] / len(todo),
        }
        if w == 1:
            out["ray_round_trip_s_per_trial"] = r["round_trip_s"]
            out["overhead_s_per_trial"] = r["elapsed_s"] / len(todo) - local / len(todo)
            out["ray_worker_cpu_s_per_trial"] = r["worker_cpu_s"] / len(todo)
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
        f"({ip['s_per_trial'] * 1e3:7.1f} ms/trial; CPU {ip['cpu_s_per_trial'] * 1e3:.1f} ms)"
    )
    for w, r in out["ray"].items():
        print(
            f"  Ray, {w} worker{'s' if w > 1 else ' '} {r['trials_per_s']:6.2f} trials/s  "
            f"({r['s_per_trial'] * 1e3:7.1f} ms/trial; Ray start-up {r['start_s']:.1f} s)"
        )
    if "overhead_s_per_trial" in out:
        rt, cpu = out["ray_round_trip_s_per_trial"], out["ray_worker_cpu_s_per_trial"]
        print(
            "  Ray's overhead per trial, 1 worker: "
            f"{out['overhead_s_per_trial'] * 1e3:+.1f} ms wall vs in-process; "
            f"an empty trial's round trip {rt * 1e3:.2f} ms; "
            f"a trial's CPU on the worker {cpu * 1e3:.1f} ms"
        )


if __name__ == "__main__":
    main()
