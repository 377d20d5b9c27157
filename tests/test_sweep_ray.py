"""A small sweep on a real local Ray (2 workers) gives the same table as the same trials run in
this process, whatever order the workers finish in; the bars reach each worker once, through
the object store. One Ray for the module (its start-up takes seconds)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from fillforge.sweep import parse_sweep, run_sweep

ray = pytest.importorskip("ray")

SWEEP: dict[str, Any] = {
    "base": {
        "strategy": {"name": "sma_crossover", "params": {"fast": 5, "slow": 20}},
        "backtest": {"symbols": ["SPY", "AAPL"]},
    },
    "grid": {"strategy.params.fast": [3, 5, 10], "strategy.params.slow": [20, 40]},
    "seed": 5,
}


@pytest.fixture(scope="module")
def local_ray() -> Iterator[Any]:
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        logging_level=logging.ERROR,
        object_store_memory=128 * 1024 * 1024,
    )
    try:
        yield ray
    finally:
        ray.shutdown()


def test_ray_gives_the_in_process_table(local_ray: Any, tmp_path: Path) -> None:
    cfg = parse_sweep(SWEEP)
    here = run_sweep(cfg, tmp_path / "here", in_process=True)
    there = run_sweep(cfg, tmp_path / "ray", workers=2)  # the module's Ray, used as it is
    assert there.ran == 6
    assert local_ray.is_initialized()  # a Ray the sweep did not start stays up
    assert pq.read_table(there.parquet).equals(pq.read_table(here.parquet))
    assert there.summary == here.summary
    again = run_sweep(cfg, tmp_path / "ray", workers=2)
    assert (again.ran, again.resumed) == (0, 6)


def test_the_bars_reach_each_worker_once(local_ray: Any, tmp_path: Path) -> None:
    from fillforge.sweep import runner

    run = run_sweep(parse_sweep({**SWEEP, "seed": 6}), tmp_path, workers=2)
    assert run.ran == 6

    @local_ray.remote(num_cpus=1)
    def loads() -> tuple[int, dict[str, int]]:
        import os

        return os.getpid(), dict(runner.LOADS)

    seen = dict(local_ray.get([loads.remote() for _ in range(16)]))
    assert seen  # the workers that ran trials, sampled
    assert any(seen.values())
    for counts in seen.values():  # every sweep's bars taken at most once by each worker
        assert set(counts.values()) <= {1}
