"""``fillforge backtest``: a configuration's strategy on the daily bars the package ships.

The strategy is the built-in :class:`SmaCrossover` (``strategy.name: sma_crossover``, parameters
``fast`` and ``slow``) or a user's :class:`~fillforge.strategy.Strategy` subclass named
``"module:Class"`` and built with ``strategy.params`` as keywords. The simulated venue takes the
file's fees, latency and slippage; the run reads no wall clock, so two runs of one file give the
same figures.
"""

from __future__ import annotations

import importlib
from collections import Counter
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict

from fillforge.agent import build
from fillforge.agent.results import figure
from fillforge.broker import Bar
from fillforge.config.model import BacktestConfig, Config
from fillforge.errors import ConfigError
from fillforge.orders.enums import OrderSide
from fillforge.orders.models import Instrument, OrderRequest
from fillforge.replay.samples import DAILY_SAMPLE_SYMBOLS
from fillforge.risk import RiskGate
from fillforge.sizing import PercentOfEquity, SizingContext
from fillforge.strategy import Backtest, Strategy

__all__ = ["BacktestReport", "SmaCrossover", "run_backtest", "strategy_of"]


class SmaCrossover(Strategy):
    """Long ``fraction`` of equity in a symbol while its ``fast``-bar mean of closes is above
    its ``slow``-bar mean, flat otherwise; decided at each bar's close, filled at the next
    open. It trades only when the cross flips (the position is sized once, at the entry).
    :func:`run_backtest` runs it (as any strategy the file names) behind the file's limits."""

    def __init__(
        self,
        fast: int = 10,
        slow: int = 30,
        fraction: Decimal | None = None,
    ) -> None:
        for name, n in (("fast", fast), ("slow", slow)):
            if isinstance(n, bool) or not isinstance(n, int) or n < 1:
                raise ConfigError(f"strategy.params.{name}", n, "a positive whole number of bars")
        if fast >= slow:
            raise ConfigError("strategy.params.fast", fast, f"must be below slow ({slow})")
        self.fast, self.slow = fast, slow
        self.fraction = fraction
        self._long: dict[str, bool] = {}
        self._sizer = PercentOfEquity(fraction if fraction is not None else Decimal(1))

    def _instrument(self, symbol: str) -> Instrument:
        venue = getattr(self.ctx.broker, "venue", None)
        if venue is not None and symbol in venue.markets:
            inst: Instrument = venue.markets[symbol].instrument
            return inst
        return Instrument(symbol=symbol, tick_size=build.CENT)

    def on_bar(self, bar: Bar) -> None:
        closes = self.ctx.history(bar.symbol).close
        if len(closes) < self.slow:
            return
        fast = float(closes[-self.fast :].mean())
        slow = float(closes[-self.slow :].mean())
        long = fast > slow
        if self._long.get(bar.symbol, False) == long:
            return
        self._long[bar.symbol] = long
        target = Decimal(0)
        if long:
            account = self.ctx.account()
            ctx = SizingContext(
                symbol=bar.symbol,
                price=bar.close,
                equity=account.equity,
                buying_power=account.buying_power,
                instrument=self._instrument(bar.symbol),
                position=self.ctx.position(bar.symbol),
            )
            target = self._sizer.size(ctx)
        delta = target - self.ctx.position(bar.symbol)
        if delta == 0:
            return
        side = OrderSide.BUY if delta > 0 else OrderSide.SELL
        self.ctx.submit(OrderRequest(symbol=bar.symbol, side=side, qty=abs(delta)))


def strategy_of(cfg: Config, n_symbols: int) -> Strategy:
    """The strategy the file names, built with its parameters."""
    sc = cfg.strategy
    if sc is None:
        raise ConfigError("strategy", None, "a backtest needs a strategy block")
    params = dict(sc.params)
    if sc.name == "sma_crossover":
        ps = cfg.position_sizing
        fraction = ps.max_position_size if ps and ps.max_position_size else None
        fraction = fraction if fraction is not None else Decimal(1) / n_symbols
        unknown = set(params) - {"fast", "slow"}
        if unknown:
            name = sorted(unknown)[0]
            raise ConfigError(
                f"strategy.params.{name}", params[name], "sma_crossover takes fast, slow"
            )
        return SmaCrossover(**params, fraction=fraction)
    module, _, cls_name = sc.name.partition(":")
    try:
        cls = getattr(importlib.import_module(module), cls_name)
    except (ImportError, AttributeError) as e:
        raise ConfigError("strategy.name", sc.name, f"cannot be imported: {e}") from None
    if not (isinstance(cls, type) and issubclass(cls, Strategy)):
        raise ConfigError("strategy.name", sc.name, "not a fillforge Strategy subclass")
    try:
        made: Strategy = cls(**params)
    except TypeError as e:
        raise ConfigError("strategy.params", params, f"refused by {cls_name}: {e}") from None
    return made


class BacktestReport(BaseModel):
    """The figures ``fillforge backtest`` prints (``--json``: these keys)."""

    model_config = ConfigDict(frozen=True)

    sharpe_ratio: float | None
    sortino_ratio: float | None
    max_drawdown: float | None
    cagr: float | None
    trades: int
    final_equity: str
    symbols: list[str]
    strategy: str
    bars: int
    denied: dict[str, int] = {}

    def figures(self) -> dict[str, Any]:
        return self.model_dump(include=set(_KEYS))


_KEYS = ("sharpe_ratio", "sortino_ratio", "max_drawdown", "cagr", "trades", "final_equity")


def run_backtest(cfg: Config) -> BacktestReport:
    """Run the file's strategy on the shipped daily bars of ``backtest.symbols``."""
    from fillforge.portfolio import metrics

    bt = cfg.backtest or BacktestConfig()
    for s in bt.symbols:
        if s not in DAILY_SAMPLE_SYMBOLS:
            raise ConfigError(
                "backtest.symbols", s, f"no shipped sample: {list(DAILY_SAMPLE_SYMBOLS)}"
            )
    strategy = strategy_of(cfg, len(bt.symbols))
    run = Backtest(cash=bt.cash, **build.frictions(cfg)).add_daily_samples(bt.symbols)
    # Every strategy, built in or the user's, trades behind the file's limits, as on paper.
    runner = run.runner(strategy, equity_every="bar", risk=build.controls(cfg))
    result = runner.run()
    gate = runner.broker
    assert isinstance(gate, RiskGate)
    denied: Counter[str] = Counter()
    for order in gate.denied():
        why = gate.denial(order.id)
        denied[why.code if why is not None else "risk"] += 1
    returns = result.returns()
    figures = metrics.summary(returns, annualization=float(bt.periods_per_year))
    final = result.final_equity if result.final_equity is not None else bt.cash
    sc = cfg.strategy
    return BacktestReport(
        sharpe_ratio=figure(figures.sharpe_ratio),
        sortino_ratio=figure(figures.sortino_ratio),
        max_drawdown=figure(figures.max_drawdown),
        cagr=figure(figures.cagr),
        trades=len(result.fills),
        final_equity=str(final),
        symbols=list(bt.symbols),
        strategy=sc.name if sc else "",
        bars=len(returns) + 1,
        denied=dict(denied),
    )
