"""Strategies (layer 5): a :class:`Strategy` base with callbacks, the :class:`Runner` that
drives one on any broker (simulated, paper or live) with the same code, and :class:`Backtest`,
which builds the simulated venue and broker for many symbols from bars, quotes and trades, or
full depth. See ``docs/strategy.md``.
"""

from fillforge.strategy.backtest import Backtest
from fillforge.strategy.bars import BarSchedule, BarTable, bar_ends
from fillforge.strategy.base import CALLBACKS, Strategy
from fillforge.strategy.context import Context
from fillforge.strategy.history import BarHistory
from fillforge.strategy.records import EquitySamples, FillRecord, RunResult
from fillforge.strategy.runner import EquityEvery, Runner
from fillforge.strategy.sessions import SessionBars

__all__ = [
    "CALLBACKS",
    "Backtest",
    "BarHistory",
    "BarSchedule",
    "BarTable",
    "Context",
    "EquityEvery",
    "EquitySamples",
    "FillRecord",
    "RunResult",
    "Runner",
    "SessionBars",
    "Strategy",
    "bar_ends",
]
