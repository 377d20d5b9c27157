"""A sweep's configuration (YAML, like every fillforge configuration) and its trials.

```yaml
base: {...}                # the backtest configuration every trial starts from (inline), or
                           # the path of one (relative to this file)
grid:                      # every combination, in the order written ...
  strategy.params.fast: [5, 10, 20]
  strategy.params.slow: [40, 80]
random:                    # ... or seeded random samples (give one of grid and random)
  samples: 20
  params:
    strategy.params.fast: {low: 2, high: 20}     # whole numbers when both bounds are
    execution.slippage_bps: {low: 0.0, high: 5.0}
    strategy.params.slow: {choices: [40, 80]}
seed: 7
metric: sharpe_ratio       # what picks the best trial and colours the heatmap
constraints: {max_drawdown: 0.25, min_trades: 10}     # LEAN-style pass/fail per trial
walk_forward: {splits: 4, in_sample: 0.75}
```

A parameter is a dotted key path into the base configuration. Every refusal is one
:class:`~fillforge.errors.ConfigError` naming the sweep file's key path. A trial's id and seed
are derived from the sweep seed, the base configuration and the trial's parameters (never from
the order trials run or finish in), so a rerun finds its completed trials by id.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, Self

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from fillforge import __version__
from fillforge.config import parse_config
from fillforge.config.loading import key_path
from fillforge.errors import ConfigError

__all__ = [
    "METRICS",
    "Constraints",
    "RandomSpace",
    "SweepConfig",
    "Trial",
    "WalkForward",
    "parse_sweep",
    "read_sweep",
    "trials",
]

METRICS = ("sharpe_ratio", "sortino_ratio", "cagr", "max_drawdown", "final_equity")
_MAX_TRIALS = 100_000
_Scalar = int | float | str | bool


class _Block(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Range(_Block):
    """A uniform draw in ``[low, high]`` (whole numbers when both bounds are ints), or one of
    ``choices``."""

    low: int | float | None = None
    high: int | float | None = None
    choices: Annotated[list[_Scalar], Field(min_length=1)] | None = None

    @model_validator(mode="after")
    def _one(self) -> Self:
        if self.choices is not None:
            if self.low is not None or self.high is not None:
                raise ConfigError("choices", self.choices, "give choices, or low and high")
            return self
        if self.low is None or self.high is None:
            raise ConfigError("low", self.low, "give low and high, or choices")
        if not self.low <= self.high:
            raise ConfigError("high", self.high, f"below low ({self.low})")
        return self


class RandomSpace(_Block):
    samples: Annotated[int, Field(ge=1, le=_MAX_TRIALS)]
    params: Annotated[dict[str, Range], Field(min_length=1)]


class Constraints(_Block):
    """LEAN-style: a trial passes when its drawdown is no deeper than ``max_drawdown`` (a
    positive fraction: 0.25 fails a trial that fell more than 25% from a peak) and it made at
    least ``min_trades`` fills."""

    max_drawdown: Annotated[float, Field(gt=0, le=1)] | None = None
    min_trades: Annotated[int, Field(ge=0)] | None = None


class WalkForward(_Block):
    """The returns cut into ``splits`` consecutive windows; in each, the first ``in_sample``
    share is in-sample and the rest out-of-sample."""

    splits: Annotated[int, Field(ge=1, le=50)] = 4
    in_sample: Annotated[float, Field(gt=0, lt=1)] = 0.75


class SweepConfig(_Block):
    base: dict[str, Any] | str
    grid: (
        Annotated[dict[str, Annotated[list[_Scalar], Field(min_length=1)]], Field(min_length=1)]
        | None
    ) = None
    random: RandomSpace | None = None
    seed: Annotated[int, Field(ge=0)] = 0
    metric: Literal["sharpe_ratio", "sortino_ratio", "cagr", "max_drawdown", "final_equity"] = (
        "sharpe_ratio"
    )
    constraints: Constraints = Field(default_factory=Constraints)
    walk_forward: WalkForward = Field(default_factory=WalkForward)

    @model_validator(mode="after")
    def _space(self) -> Self:
        if (self.grid is None) == (self.random is None):
            raise ConfigError("grid", self.grid, "give one of grid and random")
        names = list(self.grid or {}) or list(self.random.params if self.random else {})
        for name in names:
            if not all(part.isidentifier() for part in name.split(".")):
                where = "grid" if self.grid else "random.params"
                raise ConfigError(f"{where}.{name}", name, "a dotted key path (strategy.params.x)")
        if self.grid is not None:
            n = int(np.prod([len(v) for v in self.grid.values()], dtype=np.float64))
            if n > _MAX_TRIALS:
                raise ConfigError("grid", f"{n:,} trials", f"more than {_MAX_TRIALS:,}")
        return self

    @property
    def names(self) -> list[str]:
        """The swept parameters, in the file's order."""
        return list(self.grid) if self.grid is not None else list(self.random.params)  # type: ignore[union-attr]


@dataclass(frozen=True, slots=True)
class Trial:
    """One backtest of the sweep: its parameters, the whole configuration they make, its id
    (a hash of the configuration, the seed and the fillforge version) and its seed."""

    index: int
    params: dict[str, _Scalar]
    config: dict[str, Any]
    trial_id: str
    seed: int


def _validation_error(e: ValidationError, prefix: str = "") -> ConfigError:
    first = e.errors(include_url=False)[0]
    raised = first.get("ctx", {}).get("error")
    parts: list[str | int] = [p for p in first["loc"] if isinstance(p, str | int)]
    if prefix:
        parts.insert(0, prefix)
    if isinstance(raised, ConfigError):
        return ConfigError(key_path([*parts, raised.field]), raised.value, raised.why)
    why = str(first["msg"]).removeprefix("Value error, ")
    value = None if first["type"] == "missing" else first.get("input")
    return ConfigError(key_path(parts) or "(top level)", value, why)


def parse_sweep(data: object, *, source: str = "<sweep>", here: Path | None = None) -> SweepConfig:
    """Validate already-parsed data; a ``base`` path is read (relative to ``here``) and
    checked as a backtest configuration (errors name ``base.<key>``)."""
    if not isinstance(data, dict):
        raise ConfigError("(top level)", type(data).__name__, "expected a mapping")
    try:
        cfg = SweepConfig.model_validate(data)
    except ValidationError as e:
        raise _validation_error(e) from None
    base = cfg.base
    if isinstance(base, str):
        path = Path(base) if here is None else here / base
        try:
            base = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as e:
            why = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
            raise ConfigError("base", cfg.base, f"cannot be read: {why}") from None
        except yaml.YAMLError as e:
            raise ConfigError("base", cfg.base, f"not valid YAML: {e}") from None
        if not isinstance(base, dict):
            raise ConfigError("base", cfg.base, "not a mapping of blocks")
        cfg = cfg.model_copy(update={"base": base})
    _check_base(base, source)
    return cfg


def _check_base(base: dict[str, Any], source: str) -> None:
    try:
        loaded = parse_config(base, source=source, quiet=True)
    except ConfigError as e:
        raise ConfigError(f"base.{e.field}", e.value, e.why) from None
    if loaded.unknown_keys:
        raise ConfigError(f"base.{loaded.unknown_keys[0]}", "...", "not a configuration key")
    if loaded.config.strategy is None:
        raise ConfigError("base.strategy", None, "a sweep's base needs a strategy block")


def read_sweep(path: str | Path) -> SweepConfig:
    """Read and validate the sweep file at ``path``."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        why = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        raise ConfigError("file", str(path), f"cannot be read: {why}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = f"line {mark.line + 1}: " if mark is not None else ""
        raise ConfigError("file", str(path), f"{line}not valid YAML: {e.problem or e}") from None
    except yaml.YAMLError as e:
        raise ConfigError("file", str(path), f"not valid YAML: {e}") from None
    return parse_sweep(data, source=str(path), here=p.parent)


def _points(cfg: SweepConfig) -> list[dict[str, _Scalar]]:
    if cfg.grid is not None:
        names = list(cfg.grid)
        return [
            dict(zip(names, combo, strict=True)) for combo in itertools.product(*cfg.grid.values())
        ]
    assert cfg.random is not None
    rng = np.random.default_rng(cfg.seed)
    out = []
    for _ in range(cfg.random.samples):
        point: dict[str, _Scalar] = {}
        for name, r in cfg.random.params.items():
            if r.choices is not None:
                point[name] = r.choices[int(rng.integers(len(r.choices)))]
            elif isinstance(r.low, int) and isinstance(r.high, int):
                point[name] = int(rng.integers(r.low, r.high, endpoint=True))
            else:
                low, high = float(r.low or 0), float(r.high or 0)  # both given: checked
                point[name] = round(float(rng.uniform(low, high)), 6)
        out.append(point)
    return out


def _set(data: dict[str, Any], dotted: str, value: _Scalar) -> None:
    *blocks, leaf = dotted.split(".")
    here = data
    for b in blocks:
        inner = here.get(b)
        if inner is None:
            inner = here[b] = {}
        if not isinstance(inner, dict):
            raise ConfigError(dotted, value, f"{b} is not a block")
        here = inner
    here[leaf] = value


def _digest(*parts: object) -> bytes:
    text = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).digest()


def trials(cfg: SweepConfig) -> list[Trial]:
    """The sweep's trials in the file's order (a random sweep's repeated draws once each). A
    parameter that names no key of the configuration is refused (``grid.<name>``)."""
    assert isinstance(cfg.base, dict), "parse_sweep reads a base path"
    where = "grid" if cfg.grid is not None else "random.params"
    out: list[Trial] = []
    seen: set[str] = set()
    for point in _points(cfg):
        data = copy.deepcopy(cfg.base)
        for name, value in point.items():
            try:
                _set(data, name, value)
            except ConfigError as e:
                raise ConfigError(f"{where}.{name}", value, e.why) from None
        if not out:  # every trial sets the same keys: the first says whether they exist
            try:
                unknown = parse_config(data, source="<trial>", quiet=True).unknown_keys
            except ConfigError:
                unknown = ()
            for name, value in point.items():
                if name in unknown:
                    raise ConfigError(f"{where}.{name}", value, "not a configuration key")
        trial_id = _digest(data, cfg.seed, __version__).hex()[:16]
        if trial_id in seen:
            continue
        seen.add(trial_id)
        seed = int.from_bytes(_digest(cfg.seed, point)[:8], "big") >> 1
        out.append(Trial(len(out), point, data, trial_id, seed))
    return out
