"""pytest-benchmark benchmarks of the trailing-stop engine against the in-place numpy baseline.

``pytest benches/test_bench_trailing.py --benchmark-enable`` times one dense update of 100,000
stops (tick trails, and percent trails with break-even on the scalar path) beside the numpy
version of ``compare_trailing.py``; disabled, each runs once and the triggers are checked.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from compare_trailing import START, NumpyStops

from fillforge import TrailingStops

STOPS, INSTRUMENTS = 100_000, 100


@pytest.fixture(scope="module")
def layout() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(11)
    inst = np.arange(STOPS, dtype=np.int64) % INSTRUMENTS
    side = np.where(np.arange(STOPS) % 2 == 0, -1, 1)
    trail = rng.integers(20, 200, STOPS).astype(np.int64)
    step = START + rng.integers(-30, 31, INSTRUMENTS).astype(np.int64)
    return inst, side, trail, step


def engine(layout: Any, **extra: int) -> TrailingStops:
    inst, side, trail, _ = layout
    eng = TrailingStops(INSTRUMENTS)
    for i, (n, s, t) in enumerate(zip(inst.tolist(), side.tolist(), trail.tolist(), strict=True)):
        kw = {"trail_bps": t} if extra else {"trail_ticks": t}
        entry = {"breakeven_entry": START} if extra else {}
        eng.add(i, n, s, price=START, **kw, **entry, **extra)
    return eng


def numpy_hits(layout: Any) -> list[int]:
    inst, side, trail, step = layout
    return sorted(NumpyStops(inst, side, trail, np.int64).update(step).tolist())


def test_trailing_dense_update_ticks(benchmark: Any, layout: Any) -> None:
    step = layout[3]
    ids, stops = benchmark.pedantic(
        lambda eng: eng.update_dense(step), setup=lambda: ((engine(layout),), {}), rounds=5
    )
    assert sorted(ids.tolist()) == numpy_hits(layout)
    assert len(ids) > 0
    assert len(stops) == len(ids)


def test_trailing_dense_update_numpy_baseline(benchmark: Any, layout: Any) -> None:
    inst, side, trail, step = layout
    hits = benchmark.pedantic(
        lambda s: s.update(step),
        setup=lambda: ((NumpyStops(inst, side, trail, np.int64),), {}),
        rounds=5,
    )
    assert sorted(hits.tolist()) == numpy_hits(layout)


def test_trailing_dense_update_percent_breakeven(benchmark: Any, layout: Any) -> None:
    step = layout[3]
    ids, _ = benchmark.pedantic(
        lambda eng: eng.update_dense(step),
        setup=lambda: ((engine(layout, breakeven_profit=10),), {}),
        rounds=5,
    )
    # trail_bps 20..199 of 10,000 ticks is 20..199 ticks: the same stops as the tick trails
    # cross on the first move (break-even only engages on the way up for sells, down for buys).
    assert sorted(ids.tolist()) == numpy_hits(layout)
