"""Backtests in a few lines: :class:`Backtest` builds the simulated venue and broker for many
symbols, from daily (or intraday) bars, quotes and trades, or full depth, and runs a strategy
on it with a :class:`~fillforge.strategy.runner.Runner`.

Each ``add_*`` lists one symbol on the venue with the feed for its data
(:mod:`fillforge.sim.feeds`); bars are also replayed to ``on_bar`` at each bar's end. The
broker is built on the first :meth:`Backtest.broker` (or :meth:`Backtest.run`); after that the
venue takes no new symbol. No look-ahead by construction: a bar reaches ``on_bar`` after its
close has printed, and an order decided then reaches a closed venue and fills at the next
bar's open at the earliest (``docs/strategy.md``).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from fillforge import _core
from fillforge.broker import Broker
from fillforge.errors import StrategyError
from fillforge.marketdata import NS_PER_DAY, Bars, Quotes, Trades, load_bars
from fillforge.orders.models import Instrument
from fillforge.replay.samples import daily_samples, lobster_sample
from fillforge.risk import Breach, Control, RiskGate
from fillforge.sim import (
    FeeModel,
    FillModel,
    LatencyModel,
    SimulatedBroker,
    TradingCalendar,
    Venue,
    bars_feed,
    lobster_feed,
    quotes_trades_feed,
)
from fillforge.sim.feeds import BarFill
from fillforge.strategy.bars import BarTable
from fillforge.strategy.base import Strategy
from fillforge.strategy.records import RunResult
from fillforge.strategy.runner import EquityEvery, Runner

__all__ = ["Backtest"]

_Path = str | os.PathLike[str]


class Backtest:
    """A simulated venue and broker for a backtest.

    ``cash`` funds the account; ``calendar`` (an ``exchange_calendars`` name, a
    :class:`~fillforge.sim.TradingCalendar`, or None for none) gives the sessions: orders sent
    while the venue is closed wait for the next open, and daily bars are laid on their session.
    ``fees``, ``latency`` and ``fill_model`` are the venue's; ``rules`` (``"alpaca"``) the
    broker's venue profile. Instruments default to one-cent ticks and whole-share lots.
    """

    def __init__(
        self,
        *,
        cash: Decimal | int = Decimal(100_000),
        calendar: str | TradingCalendar | None = "XNYS",
        fees: FeeModel | None = None,
        latency: LatencyModel | None = None,
        fill_model: FillModel | None = None,
        rules: str | None = None,
        venue: str = "SIM",
    ) -> None:
        if isinstance(cash, bool) or not isinstance(cash, (int, Decimal)) or not cash > 0:
            raise StrategyError("cash", cash, "expected a Decimal or int > 0")
        self.calendar = TradingCalendar(calendar) if isinstance(calendar, str) else calendar
        self.venue = Venue(
            venue, calendar=self.calendar, fees=fees, latency=latency, fill_model=fill_model
        )
        self._cash = Decimal(cash)
        self._rules = rules
        self._tables: list[BarTable] = []
        self._broker: SimulatedBroker | None = None

    # ----- data -----------------------------------------------------------------------------

    def add_bars(
        self,
        symbol: str,
        bars: Bars | _Path,
        *,
        instrument: Instrument | None = None,
        half_spread_ticks: int = 0,
        fill_at: BarFill = "next_open",
        qty_per_point: int | None = None,
    ) -> Backtest:
        """List ``symbol`` on OHLCV bars: a :class:`~fillforge.marketdata.Bars` in the
        instrument's ticks, or a bars file (loaded at the instrument's tick). The venue trades
        each bar's intrabar path (:func:`~fillforge.sim.bars_feed`: ``half_spread_ticks``,
        ``fill_at``, ``qty_per_point``); ``on_bar`` gets each bar when it ends."""
        inst = self._instrument(symbol, instrument)
        if not isinstance(bars, Bars):
            bars = load_bars(bars, tick=inst.tick_size)
        daily = bars.period_ns >= NS_PER_DAY
        feed = bars_feed(
            bars,
            qty_per_point=qty_per_point,
            half_spread_ticks=half_spread_ticks,
            fill_at=fill_at,
            session=self.calendar if daily else None,
        )
        self._list(inst, feed)
        self._tables.append(
            BarTable.of(symbol, bars, inst.tick_size, self.calendar if daily else None)
        )
        return self

    def add_daily_samples(self, symbols: Iterable[str] | None = None) -> Backtest:
        """List the daily-bar samples the package ships (AAPL, GOOG and SPY, 2016-2017), or
        those of ``symbols``."""
        paths = daily_samples()
        for s in paths if symbols is None else symbols:
            if s not in paths:
                raise StrategyError("symbols", s, f"no shipped sample: {sorted(paths)}")
            self.add_bars(s, paths[s])
        return self

    def add_quotes(
        self,
        symbol: str,
        quotes: Quotes | None = None,
        trades: Trades | None = None,
        *,
        instrument: Instrument | None = None,
    ) -> Backtest:
        """List ``symbol`` on top-of-book quotes and/or trade prints (in the instrument's ticks
        and lots; :func:`~fillforge.sim.quotes_trades_feed`)."""
        inst = self._instrument(symbol, instrument)
        self._list(inst, quotes_trades_feed(quotes, trades))
        return self

    def add_lobster(
        self,
        symbol: str = "GOOG",
        message: _Path | None = None,
        orderbook: _Path | None = None,
        *,
        instrument: Instrument | None = None,
        check: bool = True,
    ) -> Backtest:
        """List ``symbol`` on a LOBSTER message/orderbook pair, full depth (default: the GOOG
        day the package ships, 2012-06-21)."""
        if (message is None) != (orderbook is None):
            raise StrategyError("orderbook", orderbook, "give both LOBSTER files, or neither")
        if message is None or orderbook is None:
            message, orderbook = lobster_sample()
        inst = self._instrument(symbol, instrument)
        self._list(inst, lobster_feed(message, orderbook), check=check)
        return self

    def add_feed(
        self,
        symbol: str,
        feed: _core.Feed,
        *,
        instrument: Instrument | None = None,
        check: bool = True,
    ) -> Backtest:
        """List ``symbol`` on any simulator feed already built (:mod:`fillforge.sim.feeds`:
        Databento MBO, a seeded walk, your own columns), in the instrument's ticks and lots."""
        if not isinstance(feed, _core.Feed):
            raise StrategyError("feed", type(feed).__name__, "expected a fillforge._core.Feed")
        self._list(self._instrument(symbol, instrument), feed, check=check)
        return self

    # ----- broker and run -------------------------------------------------------------------

    def broker(self) -> SimulatedBroker:
        """The simulated broker (built on the first call)."""
        if self._broker is None:
            if not self.venue.markets:
                raise StrategyError("symbols", [], "add data for at least one symbol first")
            self._broker = SimulatedBroker(self.venue, cash=self._cash, rules=self._rules)
        return self._broker

    def runner(
        self,
        strategy: Strategy,
        *,
        risk: Iterable[Control] | None = None,
        on_breach: Mapping[str, Breach | str] | None = None,
        **options: Any,
    ) -> Runner:
        """A :class:`Runner` for ``strategy`` on this backtest's broker, over every listed
        symbol (``options``: the runner's ``equity_every``, ``periods_per_year`` and
        ``step_messages``). With ``risk`` (pre-trade controls of :mod:`fillforge.risk`, and
        ``on_breach``), the strategy trades through a :class:`~fillforge.risk.RiskGate` on the
        broker, as it would on a paper or live account: a denied order ends denied with its code
        (``runner.broker`` is the gate; ``runner.broker.manager`` its manager)."""
        broker: Broker = self.broker()
        if risk is not None or on_breach is not None:
            broker = RiskGate(broker, risk or (), on_breach=on_breach)
        return Runner(
            strategy,
            broker,
            symbols=list(self.venue.markets),
            bars=self._tables,
            **options,
        )

    def run(
        self,
        strategy: Strategy,
        *,
        until_ns: int | None = None,
        equity_every: EquityEvery = "auto",
        risk: Iterable[Control] | None = None,
        on_breach: Mapping[str, Breach | str] | None = None,
    ) -> RunResult:
        """Run ``strategy`` to the end of the data (or ``until_ns``) and return the result
        (``risk``, ``on_breach``: as :meth:`runner`)."""
        runner = self.runner(strategy, equity_every=equity_every, risk=risk, on_breach=on_breach)
        return runner.run(until_ns=until_ns)

    # ----- helpers --------------------------------------------------------------------------

    def _instrument(self, symbol: str, instrument: Instrument | None) -> Instrument:
        if self._broker is not None:
            raise StrategyError("symbol", symbol, "the broker is built: add data before it")
        if instrument is None:
            if not isinstance(symbol, str) or not symbol:
                raise StrategyError("symbol", symbol, "expected a non-empty symbol")
            return Instrument(symbol=symbol)
        if not isinstance(instrument, Instrument) or instrument.symbol != symbol:
            raise StrategyError("instrument", instrument, f"expected an Instrument for {symbol}")
        return instrument

    def _list(self, instrument: Instrument, feed: _core.Feed, *, check: bool = True) -> None:
        if instrument.symbol in self.venue.markets:
            raise StrategyError("symbol", instrument.symbol, "already listed in this backtest")
        self.venue.add(instrument, feed, check=check)

    def __repr__(self) -> str:
        return f"Backtest(symbols={list(self.venue.markets)}, cash={self._cash})"
