"""A sweep's configuration: every refusal names the sweep file's key path, and the trials (ids,
seeds, random draws) depend on the sweep seed and each trial's parameters only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fillforge.errors import ConfigError
from fillforge.sweep import parse_sweep, read_sweep, trials

BASE: dict[str, Any] = {
    "strategy": {"name": "sma_crossover", "params": {"fast": 5, "slow": 20}},
    "backtest": {"symbols": ["SPY"]},
}


def _sweep(**over: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "base": BASE,
        "grid": {"strategy.params.fast": [5, 10], "strategy.params.slow": [20, 40]},
        "seed": 3,
    }
    data.update(over)
    return {k: v for k, v in data.items() if v is not None}


@pytest.mark.parametrize(
    ("data", "field", "value"),
    [
        (_sweep(grid=None), "grid", None),  # neither grid nor random
        (_sweep(random={"samples": 2, "params": {"x": {"low": 1, "high": 2}}}), "grid", None),
        (_sweep(constraints={"max_drawdown": 2}), "constraints.max_drawdown", 2),
        (_sweep(constraints={"min_trades": -1}), "constraints.min_trades", -1),
        (_sweep(walk_forward={"splits": 0}), "walk_forward.splits", 0),
        (_sweep(walk_forward={"in_sample": 1.0}), "walk_forward.in_sample", 1.0),
        (_sweep(metric="luck"), "metric", "luck"),
        (_sweep(seed=-1), "seed", -1),
        (_sweep(extra=1), "extra", 1),
        (_sweep(grid={"strategy.params.fast": []}), "grid.strategy.params.fast", []),
        (_sweep(grid={"strategy..fast": [1]}), "grid.strategy..fast", "strategy..fast"),
        (
            _sweep(grid=None, random={"samples": 2, "params": {"a.b": {"low": 3, "high": 1}}}),
            "random.params.a.b.high",
            1,
        ),
        (
            _sweep(grid=None, random={"samples": 2, "params": {"a.b": {"low": 1}}}),
            "random.params.a.b.low",
            1,
        ),
        (_sweep(base={"strategy": {"name": "x"}}), "base.strategy.name", "x"),
        (_sweep(base={"backtest": {"symbols": ["SPY"]}}), "base.strategy", None),
        (_sweep(base={**BASE, "strategyy": {}}), "base.strategyy", "..."),
    ],
)
def test_a_bad_sweep_names_its_key(data: dict[str, Any], field: str, value: object) -> None:
    with pytest.raises(ConfigError) as got:
        trials(parse_sweep(data))
    assert got.value.field == field
    assert got.value.value == value or value is None


def test_a_swept_key_the_configuration_lacks_is_refused() -> None:
    cfg = parse_sweep(_sweep(grid={"strategy.fats": [5, 10]}))
    with pytest.raises(ConfigError, match=r"grid\.strategy\.fats=5: not a configuration key"):
        trials(cfg)


def test_base_from_a_file_beside_the_sweep(tmp_path: Path) -> None:
    (tmp_path / "base.yaml").write_text(
        "strategy: {name: sma_crossover}\nbacktest: {symbols: [SPY]}\n"
    )
    (tmp_path / "sweep.yaml").write_text("base: base.yaml\ngrid: {strategy.params.fast: [3]}\n")
    cfg = read_sweep(tmp_path / "sweep.yaml")
    assert [t.config["strategy"] for t in trials(cfg)] == [
        {"name": "sma_crossover", "params": {"fast": 3}}
    ]
    (tmp_path / "sweep.yaml").write_text("base: nope.yaml\ngrid: {strategy.params.fast: [3]}\n")
    with pytest.raises(ConfigError, match=r"base='nope\.yaml': cannot be read"):
        read_sweep(tmp_path / "sweep.yaml")
    (tmp_path / "sweep.yaml").write_text("base: {\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        read_sweep(tmp_path / "sweep.yaml")


def test_trials_follow_the_grid_in_order() -> None:
    ts = trials(parse_sweep(_sweep()))
    assert [t.params for t in ts] == [
        {"strategy.params.fast": 5, "strategy.params.slow": 20},
        {"strategy.params.fast": 5, "strategy.params.slow": 40},
        {"strategy.params.fast": 10, "strategy.params.slow": 20},
        {"strategy.params.fast": 10, "strategy.params.slow": 40},
    ]
    assert [t.index for t in ts] == [0, 1, 2, 3]
    assert ts[3].config["strategy"]["params"] == {"fast": 10, "slow": 40}
    assert BASE["strategy"]["params"] == {"fast": 5, "slow": 20}  # the base is not changed


def test_ids_and_seeds_depend_on_the_parameters_not_the_order() -> None:
    forward = trials(parse_sweep(_sweep()))
    grid = {"strategy.params.fast": [10, 5], "strategy.params.slow": [40, 20]}
    backward = trials(parse_sweep(_sweep(grid=grid)))
    by_params = {str(t.params): (t.trial_id, t.seed) for t in forward}
    assert {str(t.params): (t.trial_id, t.seed) for t in backward} == by_params
    assert len({t.seed for t in forward}) == len(forward)  # distinct seeds
    other = trials(parse_sweep(_sweep(seed=4)))
    assert {t.seed for t in other}.isdisjoint({t.seed for t in forward})
    assert {t.trial_id for t in other}.isdisjoint({t.trial_id for t in forward})


def test_random_samples_are_seeded() -> None:
    space = {
        "samples": 8,
        "params": {
            "strategy.params.fast": {"low": 2, "high": 9},
            "execution.slippage_bps": {"low": 0.0, "high": 5.0},
            "strategy.params.slow": {"choices": [30, 60]},
        },
    }
    a = trials(parse_sweep(_sweep(grid=None, random=space)))
    b = trials(parse_sweep(_sweep(grid=None, random=space)))
    c = trials(parse_sweep(_sweep(grid=None, random=space, seed=99)))
    assert [t.params for t in a] == [t.params for t in b]
    assert [t.params for t in a] != [t.params for t in c]
    for t in a:
        assert isinstance(t.params["strategy.params.fast"], int)
        assert 2 <= t.params["strategy.params.fast"] <= 9
        assert 0.0 <= float(t.params["execution.slippage_bps"]) <= 5.0
        assert t.params["strategy.params.slow"] in (30, 60)
