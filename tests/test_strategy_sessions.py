"""Session bars built from the broker's prints: a daily strategy gets the same bars, at the same
closes, and makes the same fills as when the runner replays the daily bars from their table."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest

from fillforge.broker import Bar, Trade
from fillforge.errors import StrategyError
from fillforge.marketdata import NS_PER_DAY, load_bars
from fillforge.orders.models import Instrument
from fillforge.replay.samples import daily_samples
from fillforge.sim import SimulatedBroker, TradingCalendar, Venue, bars_feed
from fillforge.strategy import Backtest, Runner, Strategy
from fillforge.strategy.sessions import SessionBars

D = Decimal
CAL = TradingCalendar("XNYS")


class SmaCross(Strategy):
    def __init__(self) -> None:
        self.bars: list[tuple[str, int, int, Decimal, Decimal, Decimal, Decimal]] = []

    def on_bar(self, bar: Bar) -> None:
        self.bars.append(
            (
                bar.symbol,
                bar.timestamp_ns,
                self.ctx.now_ns(),
                bar.open,
                bar.high,
                bar.low,
                bar.close,
            )
        )
        c = self.ctx.history(bar.symbol).close
        if len(c) < 31:
            return
        was = c[-11:-1].mean() > c[-31:-1].mean()
        now = c[-10:].mean() > c[-30:].mean()
        held = self.ctx.position(bar.symbol)
        if now and not was and held == 0:
            self.ctx.buy(bar.symbol, int(self.ctx.equity() / 4 / bar.close))
        elif was and not now and held > 0:
            self.ctx.sell(bar.symbol, held)


def _prints_broker(symbols: list[str]) -> SimulatedBroker:
    venue = Venue(calendar=CAL)
    for s in symbols:
        bars = load_bars(daily_samples()[s], tick="0.01")
        venue.add(Instrument(symbol=s), bars_feed(bars, session=CAL))
    return SimulatedBroker(venue, cash=D(100_000))


def test_session_bars_match_the_replayed_daily_bars() -> None:
    symbols = ["AAPL", "SPY"]
    from_table = SmaCross()
    table = Backtest().add_daily_samples(symbols).run(from_table)
    from_prints = SmaCross()
    runner = Runner(from_prints, _prints_broker(symbols), symbols=symbols, session_bars=True)
    prints = runner.run()
    assert len(from_prints.bars) == 2 * 503
    assert from_prints.bars == from_table.bars  # the same bars, at the same closes
    assert prints.fills == table.fills  # so the same decisions and fills
    assert prints.equity_exact == table.equity_exact
    h = runner.ctx.history("SPY")
    spy = load_bars(daily_samples()["SPY"], tick="0.01")
    assert np.array_equal(h.close, spy.close / 100)
    assert np.array_equal(h.time_ns, spy.time_ns)


def test_session_bar_aggregation() -> None:
    agg = SessionBars(("A", "B"))
    assert not agg
    for p, q in (("10.00", 5), ("10.50", 1), ("9.80", 2), ("10.10", 2)):
        agg.add(Trade(symbol="A", price=D(p), size=D(q), timestamp_ns=1))
    assert agg
    close = 1_700_000_000 * 10**9
    (bar,) = agg.close(close)  # B had no print: no bar
    assert (bar.open, bar.high, bar.low, bar.close) == (
        D("10.00"),
        D("10.50"),
        D("9.80"),
        D("10.10"),
    )
    assert (bar.volume, bar.trade_count) == (D(10), 4)
    assert bar.vwap == (D("50.00") + D("10.50") + D("19.60") + D("20.20")) / 10
    assert (bar.timestamp_ns, bar.period_ns) == (close - close % NS_PER_DAY, NS_PER_DAY)
    assert agg.close(close + NS_PER_DAY) == []  # a new session starts empty


def test_session_bar_refusals() -> None:
    broker = _prints_broker(["SPY"])
    with pytest.raises(StrategyError) as e:
        Runner(Strategy(), broker, symbols=["SPY"], session_bars=1)  # type: ignore[arg-type]
    assert e.value.field == "session_bars"
    bt = Backtest().add_daily_samples(["SPY"])
    with pytest.raises(StrategyError) as e:  # tables deliver the bars already
        bt.runner(Strategy(), session_bars=True)
    assert e.value.field == "session_bars"
    venue = Venue(calendar=None)
    venue.add(Instrument(symbol="SPY"), bars_feed(load_bars(daily_samples()["SPY"], tick="0.01")))
    with pytest.raises(StrategyError) as e:  # no sessions to close
        Runner(SmaCross(), SimulatedBroker(venue), symbols=["SPY"], session_bars=True).run()
    assert e.value.field == "session_bars"


def test_session_delay_refusals() -> None:
    broker = _prints_broker(["SPY"])
    for bad in (-1, 1.5, True):
        with pytest.raises(StrategyError) as e:
            Runner(Strategy(), broker, symbols=["SPY"], session_bars=True, session_delay_ns=bad)  # type: ignore[arg-type]
        assert e.value.field == "session_delay_ns"
