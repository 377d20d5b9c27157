"""The execution algorithms' speed (issue 16), each against the pure-Python replay baseline of
``bench_sim.py`` measured in the same process (the ratio that scales figures between machines).

Run: ``python benches/bench_execution.py [--repeats 3] [--json]``.

1. A policy's decision per child order: what a policy computes to send one child, on a
   ``SimulatedBroker`` holding a scripted quote: its share of the schedule (the schedule for a
   20,000-share parent in 78 slices, divided by 78; POV: ``PovTracker.allowed``; iceberg:
   ``Iceberg.clip``) plus the child's price (``near_touch``, the adaptive offset, the market's
   ``None``). Mean over 20,000 decisions, best of ``--repeats``.
2. The same child's whole cost in the worker: ``ParentWorker.send_now`` on that broker, the
   child priced, validated, submitted, reserved and acknowledged (what the broker stack costs).
3. A 20,000-share TWAP over the GOOG level-10 day (78 slices, 09:35-15:55, children at the near
   touch repriced every 5 s): ``run_policy`` with the day already loaded.
4. The whole seven-policy comparison (``fillforge demo``'s work) with the day already loaded,
   and loading the day (the LOBSTER pair parsed, the day's prints built) on its own.
"""

from __future__ import annotations

import argparse
import gc
import json
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from bench_sim import python_loop
from bench_timers import best_time

from fillforge.demos.policies import AdaptiveOffsetPricing, Day, ExecuteParams, run_policy
from fillforge.errors import FillforgeError
from fillforge.execution.parent import ParentOrder, WorkRules
from fillforge.execution.pov import PovTracker
from fillforge.execution.schedules import Iceberg, Policy, Slice, almgren_chriss, twap
from fillforge.execution.worker import ParentWorker, near_touch
from fillforge.orders.enums import OrderSide
from fillforge.orders.models import Instrument
from fillforge.sim.broker import SimulatedBroker
from fillforge.sim.feeds import empty_feed
from fillforge.sim.venue import Venue

D = Decimal
S = 1_000_000_000
N = 20_000
QTY = D(20_000)
SLICES = 78
COMPARED = ("market", "limit", "adaptive", "twap", "vwap", "pov", "is")


def _scripted() -> tuple[SimulatedBroker, Instrument, ParentOrder]:
    inst = Instrument(symbol="T", tick_size=D("0.01"))
    venue = Venue(calendar=None)
    venue.add(inst, empty_feed())
    b = SimulatedBroker(venue, cash=D(10**12), start_ns=0)
    b.quote("T", D("100.00"), D("100.02"), bid_size=D(10**9), ask_size=D(10**9), ts=0)
    p = ParentOrder(parent_id="P", symbol="T", side=OrderSide.BUY, qty=QTY, start_ns=0, end_ns=S)
    return b, inst, p


def decisions(repeats: int) -> dict[str, float]:
    """Microseconds per child decision, per policy."""
    b, inst, p = _scripted()
    lot, tick = inst.lot_size, inst.tick_size
    adaptive = AdaptiveOffsetPricing(tick)
    tracker = PovTracker(D("0.1"), D(100), D(2_000), lot)
    tracker.observe(D(10**9))
    clip = Iceberg(D(256), lot)

    def per_slice(make: Callable[[], list[Slice]]) -> float:
        slices = len(make())
        return best_time(make, repeats) / slices

    twap_s = per_slice(lambda: twap(QTY, 0, S, SLICES, lot))
    ac_s = per_slice(
        lambda: almgren_chriss(QTY, 1.0, SLICES, 1.0, 1.0, 0.0, 4.0, lot, start_ns=0, end_ns=S)
    )

    def per_call(fn: Callable[[], object]) -> float:
        def loop() -> None:
            for _ in range(N):
                fn()

        return best_time(loop, repeats) / N

    touch = per_call(lambda: near_touch(b, p))
    adapt = per_call(lambda: adaptive(b, p))
    pov = per_call(lambda: tracker.allowed(D(5_000), D(300), D(14_700)))
    ice = per_call(lambda: clip.clip(D(14_700)))
    us = 1e6
    return {
        "market": twap_s * us,  # one slice, no price
        "limit": twap_s * us,
        "twap": (twap_s + touch) * us,
        "vwap": (twap_s + touch) * us,  # vwap's schedule costs more per call, measured below
        "adaptive": (twap_s + adapt) * us,
        "pov": (pov + touch) * us,
        "iceberg": (ice + touch) * us,
        "is": (ac_s + touch) * us,
        "near_touch": touch * us,
        "adaptive_price": adapt * us,
    }


def child_through_the_worker(repeats: int, children: int = 2_000) -> float:
    """Microseconds per child sent by ``send_now``: a 1-share market child, filled against the
    scripted quote, its events followed by the worker (the broker stack's cost per order)."""
    best = float("inf")
    for _ in range(repeats):
        b, inst, p = _scripted()
        w = ParentWorker(
            b,
            p.model_copy(update={"end_ns": 10**6 * S}),
            inst,
            # 1,000 children a simulated second: the default pacing (150 a minute) would queue
            # all but 150; here the broker stack's cost per child is timed, not the pacing.
            rules=WorkRules(child_rate_limit=2**24),
            schedule=lambda q, s, e, lot: [Slice(e, q)],
            pricing=lambda broker, parent: None,
        )
        w.start()
        gc.collect()
        gc.disable()
        t0 = time.perf_counter()
        for i in range(children):
            w.send_now(D(1))
            b.run(until_ns=(i + 1) * 1_000_000)
        best = min(best, time.perf_counter() - t0)
        gc.enable()
        assert w.filled == children, w.filled
    return best / children * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()

    t0 = time.perf_counter()
    day = Day()
    load_s = time.perf_counter() - t0
    baseline = min(python_loop(day.feed)[0] for _ in range(a.repeats))
    out: dict[str, Any] = {"baseline_python_replay_ms": baseline * 1e3, "day_load_s": load_s}
    out["decision_us"] = decisions(a.repeats)
    out["child_through_worker_us"] = child_through_the_worker(a.repeats)
    out["twap_day_s"] = [
        run_policy(ExecuteParams(Policy.TWAP, qty=QTY), day).seconds for _ in range(a.repeats)
    ]
    runs: list[dict[str, Any]] = []
    for _ in range(a.repeats):
        per: dict[str, float | str] = {}
        t0 = time.perf_counter()
        for name in COMPARED:
            try:
                per[name] = run_policy(ExecuteParams(Policy(name), qty=QTY), day).seconds
            except FillforgeError as e:  # reported, not hidden (the table says which failed)
                per[name] = f"error: {e}"
        per["total"] = time.perf_counter() - t0
        runs.append(per)
    out["comparison"] = runs
    if a.json:
        print(json.dumps(out))
        return
    print(f"pure-Python replay baseline (bench_sim): {baseline * 1e3:.1f} ms")
    print(f"loading the day: {load_s:.2f} s")
    for k, v in out["decision_us"].items():
        print(f"decision per child, {k}: {v:.2f} us")
    child = out["child_through_worker_us"]
    print(f"a child through ParentWorker.send_now on SimulatedBroker: {child:.0f} us")
    print("20,000-share TWAP over the day: " + ", ".join(f"{s:.2f} s" for s in out["twap_day_s"]))
    for r in runs:
        parts = ", ".join(
            f"{k} {v:.2f} s" if isinstance(v, float) else f"{k} {v}" for k, v in r.items()
        )
        print(f"seven-policy comparison: {parts}")


if __name__ == "__main__":
    main()
