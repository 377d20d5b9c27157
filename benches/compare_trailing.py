"""fillforge's trailing stops against the best numpy update for the same semantics, in one process.

Run: ``python benches/compare_trailing.py [--stops 1000000] [--instruments 1000] [--steps 30]
[--json]``.

Workload (seeded numpy generator): ``--stops`` tick-trail stops spread evenly over
``--instruments`` instruments, alternately sell and buy, trails 20..200 ticks, all armed at 10,000
ticks. Each step moves every instrument's price by a random -3..+3 ticks (a random walk), so stops
ratchet on about half the instruments and a few trigger. Timed per step, best over ``--steps``
steps, with the garbage collector off:

(m) memory bandwidth: ``np.copyto`` of a 256 MiB int64 array (read + write traffic / time);
(a) numpy int64: stops in "signed coordinates" (buy stops negated, so one rule serves both
    sides): per step gather each stop's price by instrument-side key (``np.take(out=)``),
    ``trig = x <= stop``, ``np.maximum(stop, x - trail, out=stop)``, ``np.flatnonzero(trig)``,
    triggered stops parked on a dead key: every pass in place, no allocation but the result;
(b) numpy float64: the same on float64 prices;
(c) fillforge ``TrailingStops.update_dense(prices)``.

(a), (b) and (c) must report the same triggered ids at every step; the script exits non-zero
otherwise.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time

import numpy as np

from fillforge import TrailingStops

START = 10_000


class NumpyStops:
    """Trailing stops in flat numpy arrays; buy stops stored negated (x = -price, stop = -stop)."""

    def __init__(self, inst: np.ndarray, side: np.ndarray, trail: np.ndarray, dtype: type) -> None:
        n_inst = int(inst.max()) + 1
        self.dead = 2 * n_inst
        self.key = (2 * inst + (side == 1)).astype(np.intp)
        sign = np.where(side == 1, -1, 1)
        self.trail = trail.astype(dtype)
        self.stop = (sign * START - self.trail).astype(dtype)
        self.px = np.empty(2 * n_inst + 1, dtype)
        big = 2.0**52 if dtype == np.float64 else 1 << 61  # float64: x - trail stays exact
        # A dead stop's price sits far below everything, its stop further still: x > stop and the
        # ratchet keeps stop = x - trail < x, so it never triggers again.
        self.px[self.dead] = -big
        self.dead_stop = -2 * big
        self.x = np.empty(len(inst), dtype)
        self.tmp = np.empty(len(inst), dtype)
        self.trig = np.empty(len(inst), bool)

    def update(self, prices: np.ndarray) -> np.ndarray:
        px = self.px
        px[0 : self.dead : 2] = prices
        px[1 : self.dead : 2] = -prices
        np.take(px, self.key, out=self.x)
        np.less_equal(self.x, self.stop, out=self.trig)
        np.subtract(self.x, self.trail, out=self.tmp)
        np.maximum(self.stop, self.tmp, out=self.stop)
        hit = np.flatnonzero(self.trig)
        if len(hit):
            self.key[hit] = self.dead
            self.stop[hit] = self.dead_stop
        return hit


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--stops", type=int, default=1_000_000)
    ap.add_argument("--instruments", type=int, default=1_000)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    rng = np.random.default_rng(a.seed)
    n, k = a.stops, a.instruments

    # (m) memory bandwidth
    src = np.arange(32 * 1024 * 1024, dtype=np.int64)
    dst = np.empty_like(src)
    np.copyto(dst, src)
    copy_ns = float("inf")
    for _ in range(7):
        t0 = time.perf_counter_ns()
        np.copyto(dst, src)
        copy_ns = min(copy_ns, time.perf_counter_ns() - t0)
    copy_traffic = 2 * src.nbytes / copy_ns  # GB/s, read + write
    del src, dst

    inst = (np.arange(n) % k).astype(np.uint32)
    side = np.where(np.arange(n) // k % 2 == 0, -1, 1).astype(np.int8)
    trail = rng.integers(20, 201, n).astype(np.int64)
    walk = START + np.cumsum(rng.integers(-3, 4, (a.steps, k)), axis=0).astype(np.int64)

    eng = TrailingStops(k)
    for i in range(n):
        eng.add(i, int(inst[i]), int(side[i]), trail_ticks=int(trail[i]), price=START)
    np_i = NumpyStops(inst, side, trail, np.int64)
    np_f = NumpyStops(inst, side, trail, np.float64)
    best = {"numpy int64": float("inf"), "numpy float64": float("inf"), "fillforge": float("inf")}
    triggered = 0
    for s in range(a.steps):
        px = walk[s]
        pxf = px.astype(np.float64)
        gc.disable()
        t0 = time.perf_counter_ns()
        hi = np_i.update(px)
        t1 = time.perf_counter_ns()
        hf = np_f.update(pxf)
        t2 = time.perf_counter_ns()
        ids, _ = eng.update_dense(px)
        t3 = time.perf_counter_ns()
        gc.enable()
        best["numpy int64"] = min(best["numpy int64"], t1 - t0)
        best["numpy float64"] = min(best["numpy float64"], t2 - t1)
        best["fillforge"] = min(best["fillforge"], t3 - t2)
        if not (set(hi.tolist()) == set(hf.tolist()) == set(ids.tolist())):
            print(f"step {s}: triggered ids differ", file=sys.stderr)
            return 1
        triggered += len(ids)

    bytes_per_stop = 24  # stop read + stop write + trail read, 8 bytes each
    ff = best["fillforge"]
    res = {
        "stops": n,
        "instruments": k,
        "steps": a.steps,
        "triggered_total": triggered,
        "kernel": eng.kernel,
        "copy_traffic_gb_s": round(copy_traffic, 2),
        "ms": {name: round(v / 1e6, 3) for name, v in best.items()},
        "fillforge_vs_numpy_int64": round(best["numpy int64"] / ff, 2),
        "fillforge_vs_numpy_float64": round(best["numpy float64"] / ff, 2),
        "bytes_per_stop": bytes_per_stop,
        "fillforge_gb_s": round(bytes_per_stop * n / ff, 2),
        "bandwidth_fraction": round(bytes_per_stop * n / ff / copy_traffic, 2),
    }
    if a.json:
        print(json.dumps(res))
        return 0
    print(f"memory copy: {copy_traffic:.1f} GB/s read+write ({copy_traffic / 2:.1f} GB/s copied)")
    for name, v in best.items():
        print(f"{name:>14}: {v / 1e6:7.3f} ms  ({best['numpy int64'] / v:4.2f}x vs numpy int64)")
    print(
        f"fillforge: {bytes_per_stop} B/stop -> {res['fillforge_gb_s']} GB/s = "
        f"{res['bandwidth_fraction']:.0%} of copy traffic; kernel {eng.kernel}; "
        f"{triggered} triggered over {a.steps} steps"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
