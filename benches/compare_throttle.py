"""fillforge's keyed throttle against a plain-Python deque sliding window, in one process.

Run: ``python benches/compare_throttle.py [--checks 1000000] [--keys 1000] [--repeats 5] [--json]``.

Workload (seeded numpy generator): ``--checks`` keyed checks over ``--keys`` keys chosen uniformly,
time advancing 1 µs per check; the limit is 10 per 10 ms sliding window per key, so each key sees
about one request per millisecond and roughly half of the checks are denied. Contestants, best of
``--repeats`` with the garbage collector off:

(a) ``python loop``: the same loop calling a no-op Python function (the floor);
(b) ``no-op PyO3 call``: ``Throttle._noop(key, now)``, the same arguments and result, no work;
(c) ``deque window``: a dict of ``collections.deque`` per key (pop expired, compare length);
(d) ``fillforge per call``: ``Throttle.try_acquire(key, now)`` in the same loop;
(e) ``fillforge batch``: one ``Throttle.try_acquire_batch(keys, times)`` on numpy arrays.

(c), (d) and (e) must make the same decisions; the script exits non-zero otherwise.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
from collections import deque
from collections.abc import Callable

import numpy as np

from fillforge import Throttle

LIMIT, WINDOW = 10, 10_000_000  # 10 per 10 ms


class DequeWindow:
    """Keyed sliding window in plain Python; same boundary rule as fillforge: (now - W, now]."""

    def __init__(self, limit: int, window: int) -> None:
        self.limit, self.window = limit, window
        self.logs: dict[int, deque[int]] = {}

    def try_acquire(self, key: int, now: int) -> bool:
        log = self.logs.get(key)
        if log is None:
            log = self.logs[key] = deque()
        cutoff = now - self.window
        while log and log[0] <= cutoff:
            log.popleft()
        if len(log) < self.limit:
            log.append(now)
            return True
        return False


def timed(fn: Callable[[], object], repeats: int) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeats):
        gc.collect()
        gc.disable()
        t0 = time.perf_counter_ns()
        out = fn()
        dt = time.perf_counter_ns() - t0
        gc.enable()
        best = min(best, dt)
    return best, out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--checks", type=int, default=1_000_000)
    ap.add_argument("--keys", type=int, default=1_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()

    rng = np.random.default_rng(a.seed)
    keys_np = rng.integers(0, a.keys, a.checks).astype(np.uint64)
    times_np = np.arange(a.checks, dtype=np.int64) * 1_000
    keys, times = keys_np.tolist(), times_np.tolist()
    pairs = list(zip(keys, times, strict=True))

    def py_noop(key: int, now: int) -> bool:
        return True

    def run_loop(f: Callable[[int, int], bool]) -> list[bool]:
        return [f(k, t) for k, t in pairs]

    results: dict[str, float] = {}
    decisions: dict[str, list[bool]] = {}

    ns, _ = timed(lambda: run_loop(py_noop), a.repeats)
    results["python loop (no-op function)"] = ns
    th = Throttle(windows=[(LIMIT, WINDOW)])
    ns, _ = timed(lambda: run_loop(th._noop), a.repeats)
    results["no-op PyO3 call"] = ns

    def deque_run() -> list[bool]:
        return run_loop(DequeWindow(LIMIT, WINDOW).try_acquire)

    ns, out = timed(deque_run, a.repeats)
    results["deque sliding window (pure Python)"] = ns
    decisions["deque"] = out  # type: ignore[assignment]

    def per_call() -> list[bool]:
        return run_loop(Throttle(windows=[(LIMIT, WINDOW)]).try_acquire)

    ns, out = timed(per_call, a.repeats)
    results["fillforge try_acquire per call"] = ns
    decisions["per_call"] = out  # type: ignore[assignment]

    def batch() -> object:
        return Throttle(windows=[(LIMIT, WINDOW)]).try_acquire_batch(keys_np, times_np)

    ns, out = timed(batch, a.repeats)
    results["fillforge try_acquire_batch"] = ns
    decisions["batch"] = out[0].tolist()  # type: ignore[index]

    if not (decisions["deque"] == decisions["per_call"] == decisions["batch"]):
        print("MISMATCH between contestants", file=sys.stderr)
        return 1
    denied = decisions["deque"].count(False)

    n = a.checks
    per = {k: v / n for k, v in results.items()}
    deque_ns = per["deque sliding window (pure Python)"]
    noop_ns = per["no-op PyO3 call"]
    if a.json:
        print(json.dumps({"checks": n, "denied": denied, "ns_per_check": per}))
        return 0
    print(f"{n:,} checks over {a.keys:,} keys, {denied:,} denied; best of {a.repeats}")
    print(f"{'contestant':40} {'M checks/s':>10} {'ns/check':>9} {'vs deque':>9} {'vs no-op':>9}")
    for k, v in per.items():
        print(f"{k:40} {1e3 / v:10.2f} {v:9.1f} {deque_ns / v:8.2f}x {v / noop_ns:8.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
