"""Parameter sweeps: many backtests of one configuration over a grid or seeded random samples
of its parameters, on Ray (a local Ray by default; a cluster given its address) or in this
process, resumable, with LEAN-style constraints and overfitting guards (walk-forward splits,
the deflated Sharpe ratio). ``fillforge sweep CONFIG``; see ``docs/sweeps.md``.

Layer 6, beside :mod:`fillforge.agent`: a trial is ``fillforge backtest``'s run.
"""

from fillforge.sweep.config import SweepConfig, Trial, parse_sweep, read_sweep, trials
from fillforge.sweep.core import SweepRun, run_sweep
from fillforge.sweep.results import SweepSummary
from fillforge.sweep.stats import deflated_sharpe, expected_max_sharpe, walk_forward

__all__ = [
    "SweepConfig",
    "SweepRun",
    "SweepSummary",
    "Trial",
    "deflated_sharpe",
    "expected_max_sharpe",
    "parse_sweep",
    "read_sweep",
    "run_sweep",
    "trials",
    "walk_forward",
]
