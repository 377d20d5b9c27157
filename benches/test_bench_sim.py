"""The simulator under pytest-benchmark: the LOBSTER day with a strategy through the engine and
through the broker, one market order end to end, and memory over ten replays (asserted)."""

from __future__ import annotations

import gc
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from bench_sim import broker_strategy, engine_strategy, memory, order_cost

from fillforge.replay import lobster_sample
from fillforge.sim import lobster_feed


@pytest.fixture(scope="module")
def feed() -> Any:
    return lobster_feed(*lobster_sample())


def test_replay_with_strategy_engine(benchmark: Any, feed: Any) -> None:
    _, filled = benchmark(engine_strategy, feed)
    assert filled == broker_strategy(feed)[1] > 0


def test_replay_with_strategy_broker(benchmark: Any, feed: Any) -> None:
    _, filled = benchmark.pedantic(broker_strategy, args=(feed,), rounds=1, iterations=1)
    assert filled > 0


def test_market_orders_end_to_end(benchmark: Any) -> None:
    rows = benchmark.pedantic(order_cost, args=([200, 1000],), rounds=1, iterations=1)
    assert [r["orders"] for r in rows] == [200, 1000]


def test_ten_replays_do_not_grow_memory(feed: Any) -> None:
    gc.collect()
    m = memory(feed, runs=10)
    for mode in ("reset", "new"):
        assert m[mode]["growth_after_first"] < 0.05, m
