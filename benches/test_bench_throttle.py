"""pytest-benchmark benchmarks of the throttle: per call, batch, and the pure-Python deque window.

``pytest benches/test_bench_throttle.py --benchmark-enable`` times them side by side; with
benchmarks disabled each runs once and its assertions check the decisions agree.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from compare_throttle import LIMIT, WINDOW, DequeWindow

from fillforge import Throttle

CHECKS, KEYS = 20_000, 100


@pytest.fixture(scope="module")
def stream() -> tuple[np.ndarray, np.ndarray, list[tuple[int, int]]]:
    rng = np.random.default_rng(7)
    keys = rng.integers(0, KEYS, CHECKS).astype(np.uint64)
    times = np.arange(CHECKS, dtype=np.int64) * 20_000  # every 20 us: some keys hit the limit
    return keys, times, list(zip(keys.tolist(), times.tolist(), strict=True))


@pytest.fixture(scope="module")
def expected(stream: Any) -> list[bool]:
    window = DequeWindow(LIMIT, WINDOW)
    return [window.try_acquire(k, t) for k, t in stream[2]]


def test_throttle_per_call(benchmark: Any, stream: Any, expected: list[bool]) -> None:
    pairs = stream[2]

    def run() -> list[bool]:
        acquire = Throttle(windows=[(LIMIT, WINDOW)]).try_acquire
        return [acquire(k, t) for k, t in pairs]

    got = benchmark.pedantic(run, rounds=5)
    assert got == expected
    assert not all(got)  # the workload really is throttled


def test_throttle_batch(benchmark: Any, stream: Any, expected: list[bool]) -> None:
    keys, times, _ = stream

    def run() -> Any:
        return Throttle(windows=[(LIMIT, WINDOW)]).try_acquire_batch(keys, times)

    got = benchmark.pedantic(run, rounds=20)
    assert got[0].tolist() == expected


def test_deque_window_baseline(benchmark: Any, stream: Any, expected: list[bool]) -> None:
    pairs = stream[2]

    def run() -> list[bool]:
        acquire = DequeWindow(LIMIT, WINDOW).try_acquire
        return [acquire(k, t) for k, t in pairs]

    assert benchmark.pedantic(run, rounds=5) == expected
