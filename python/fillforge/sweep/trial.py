"""One trial of a sweep: ``fillforge backtest``'s run (the file's strategy behind its limits, on
the simulated venue with its fees, latency and fills) on bars already loaded, and the row the
results table keeps for it.

The bars come in as :class:`~fillforge.marketdata.Bars` (on Ray: from the object store, once
per worker), so a trial reads no file. A trial's row holds no timing, nothing that depends on
where or when it ran: the same trial gives the same row in-process and on any worker.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import numpy as np

from fillforge.agent import build
from fillforge.agent.backtest import strategy_of
from fillforge.agent.results import figure
from fillforge.config import Config, parse_config
from fillforge.config.model import BacktestConfig
from fillforge.errors import ConfigError, FillforgeError
from fillforge.marketdata import Bars, load_bars
from fillforge.orders.models import Instrument
from fillforge.portfolio import metrics
from fillforge.replay.samples import daily_samples
from fillforge.strategy import Backtest
from fillforge.sweep.config import Trial, WalkForward
from fillforge.sweep.stats import moments, walk_forward

__all__ = ["load_daily_bars", "run_trial", "trial_config"]


def load_daily_bars(symbols: list[str]) -> dict[str, Bars]:
    """The shipped daily bars of ``symbols``, loaded once (at each instrument's tick)."""
    paths = daily_samples()
    out = {}
    for s in symbols:
        if s not in paths:
            raise ConfigError("base.backtest.symbols", s, f"no shipped sample: {sorted(paths)}")
        out[s] = load_bars(paths[s], tick=Instrument(symbol=s).tick_size)
    return out


def trial_config(trial: Trial) -> Config:
    """The trial's configuration, validated (its refusal names the key path; the sweep
    refused unknown keys already)."""
    return parse_config(trial.config, source=f"trial {trial.trial_id}", quiet=True).config


def _row(trial: Trial) -> dict[str, Any]:
    return {
        "index": trial.index,
        "trial_id": trial.trial_id,
        "seed": trial.seed,
        **{f"param.{k}": v for k, v in trial.params.items()},
    }


def run_trial(trial: Trial, bars: Mapping[str, Bars], wf: WalkForward) -> dict[str, Any]:
    """Run ``trial`` on ``bars``; its row: ``status`` ``ok``, or ``invalid`` (the configuration
    refused, ``why`` says how) with no figures. The global ``random`` and numpy generators are
    seeded with the trial's seed first, for strategies that draw from them."""
    row = _row(trial)
    random.seed(trial.seed)
    np.random.seed(trial.seed % 2**32)  # noqa: NPY002 (the legacy global a user's code may use)
    try:
        cfg = trial_config(trial)
        bt = cfg.backtest or BacktestConfig()
        strategy = strategy_of(cfg, len(bt.symbols))
        run = Backtest(cash=bt.cash, **build.frictions(cfg))
        for s in bt.symbols:
            if s not in bars:
                raise ConfigError("backtest.symbols", s, "not among the sweep's loaded bars")
            run.add_bars(s, bars[s])
        result = run.runner(strategy, equity_every="bar", risk=build.controls(cfg)).run()
    except FillforgeError as e:
        return {**row, "status": "invalid", "why": str(e)}
    returns = result.returns()
    ann = float(bt.periods_per_year)
    figures = metrics.summary(returns, annualization=ann)
    m = moments(returns)
    final = result.final_equity if result.final_equity is not None else bt.cash
    out = {
        **row,
        "status": "ok",
        "why": "",
        "sharpe_ratio": figure(figures.sharpe_ratio),
        "sortino_ratio": figure(figures.sortino_ratio),
        "max_drawdown": figure(figures.max_drawdown),
        "cagr": figure(figures.cagr),
        "trades": len(result.fills),
        "final_equity": str(Decimal(final)),
        "returns": m.n,
        "sharpe_per_period": figure(m.sharpe),
        "skew": figure(m.skew),
        "kurtosis": figure(m.kurtosis),
    }
    for i, (is_sr, oos_sr) in enumerate(walk_forward(returns, wf.splits, wf.in_sample, ann), 1):
        out[f"is_sharpe_{i}"] = figure(is_sr)
        out[f"oos_sharpe_{i}"] = figure(oos_sr)
    oos = [x for k, x in out.items() if k.startswith("oos_sharpe_") and x is not None]
    out["oos_sharpe_mean"] = figure(math.fsum(oos) / len(oos)) if oos else None
    return out
