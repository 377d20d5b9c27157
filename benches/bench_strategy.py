"""The strategy runner's cost: a strategy that sees every quote, and a multi-symbol daily-bar
backtest, each against baselines timed in the same process.

Run: ``python benches/bench_strategy.py [--quotes 100000] [--symbols 10] [--years 10]
[--repeats 3] [--only quotes|daily|example] [--json]``.

Quotes (``--quotes`` top-of-book rows of one symbol, a seeded random walk of the mid by one
tick, sizes fixed; ~2/3 of the rows change the top):

(a) the engine stepped from Python and read after every row (``SimEngine.run(2)``, then
    ``best_bid``/``best_ask``): a floor for any per-quote Python loop;
(b) ``SimulatedBroker.subscribe_quotes`` with an empty callback: the broker's own quote path
    the runner sits on;
(c) ``Runner`` with a strategy whose ``on_quote`` is empty.

Rates are quote rows per second. The issue's target (>= 1 M quotes/s on its machine) is about
0.31 M/s on this one (3.2x slower).

Daily bars (``--symbols`` synthetic symbols x ``--years`` years of XNYS sessions, seeded random
walks, one-cent ticks):

(d) the simulated broker alone, replaying every symbol's bars (no strategy);
(e) ``Backtest.run`` with an empty ``on_bar`` (the runner's delivery: a timer per session close,
    a ``Bar`` and a history row per symbol, the equity sample);
(f) ``Backtest.run`` with a 10/30 SMA crossover trading every symbol (market orders at the next
    open, a quarter of the equity per position), its means taken with numpy over the history;
(g) the same crossover on incremental means (``fillforge.indicators.RollingMean``);
(h) issue 17's row: ``Backtest.run`` with the strategy of ``examples/multi_symbol_backtest.py``
    (``Breakout``: a 50-session closing-high breakout sized by ``RiskBased`` to a 3-ATR stop and
    capped at 20% of equity, its orders through a ``RiskGate`` with a 25% position limit and a
    2% daily loss limit, a 3-ATR trailing stop held at the venue by ``fillforge.exits``), run as
    the example runs it (``Backtest.runner(strategy, risk=controls())``). Its ratio to (e) is
    what sizing, risk and stops add to the runner. The issue's target (<= 2 s on its machine)
    is about 6.4 s on this one (3.2x slower).
    ``--only example`` runs (e) and (h) alone.

Best of ``--repeats`` runs each, garbage collector off while timing.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from datetime import date
from decimal import Decimal
from pathlib import Path
from types import ModuleType

import numpy as np
from bench_sim import python_loop
from bench_timers import best_of, best_time

from fillforge.broker import Bar, Quote
from fillforge.indicators import RollingMean
from fillforge.marketdata import NS_PER_DAY, Bars, Quotes
from fillforge.orders.models import Instrument
from fillforge.replay import lobster_sample
from fillforge.risk import RiskGate
from fillforge.sim import (
    SimulatedBroker,
    TradingCalendar,
    Venue,
    bars_feed,
    lobster_feed,
    quotes_trades_feed,
)
from fillforge.strategy import Backtest, Runner, Strategy

D = Decimal


# ----- quotes -----------------------------------------------------------------------------------


def _quotes(n: int) -> Quotes:
    rng = np.random.default_rng(17)
    t = 1_700_000_000 * 10**9 + np.arange(n, dtype=np.int64) * 1_000_000
    mid = 10_000 + np.cumsum(rng.integers(-1, 2, n))
    size = np.full(n, 100, np.int64)
    return Quotes("bench", t, (mid - 1).astype(np.int64), size, (mid + 1).astype(np.int64), size)


def _quote_broker(q: Quotes) -> SimulatedBroker:
    venue = Venue(calendar=None)
    venue.add(Instrument(symbol="X"), quotes_trades_feed(q, None))
    return SimulatedBroker(venue)


class EmptyOnQuote(Strategy):
    def on_quote(self, quote: Quote) -> None:
        pass


def bench_quotes(n: int, repeats: int) -> dict[str, float]:
    q = _quotes(n)
    seen = [0]

    # The venue and its feed are built before each timing (setup): what is timed is the replay
    # and the quotes delivered, as bench_sim.py times its replays without loading the day.
    def build() -> SimulatedBroker:
        return _quote_broker(q)

    def engine_step_read(b: SimulatedBroker) -> None:
        e = b.venue.market("X").engine
        while e.run(2, 1 << 62, True):
            e.best_bid()
            e.best_ask()

    def broker_subscription(b: SimulatedBroker) -> None:
        def cb(_: Quote) -> None:
            pass

        b.subscribe_quotes("X", cb)
        b.run()

    def runner(b: SimulatedBroker) -> None:
        Runner(EmptyOnQuote(), b, symbols=["X"], equity_every="none").run()

    class Count(Strategy):
        def on_quote(self, quote: Quote) -> None:
            seen[0] += 1

    Runner(Count(), _quote_broker(q), symbols=["X"]).run()
    out = {
        "quote_rows": float(n),
        "quote_callbacks": float(seen[0]),
        "engine_step_read_s": best_of(engine_step_read, build, repeats),
        "broker_subscription_s": best_of(broker_subscription, build, repeats),
        "runner_s": best_of(runner, build, repeats),
    }
    for k in ("engine_step_read", "broker_subscription", "runner"):
        out[f"{k}_quotes_per_s"] = n / out[f"{k}_s"]
    out["runner_vs_broker_subscription"] = out["broker_subscription_s"] / out["runner_s"]
    out["runner_vs_engine_step_read"] = out["engine_step_read_s"] / out["runner_s"]
    return out


# ----- daily bars -------------------------------------------------------------------------------


def _daily(symbols: int, years: int) -> dict[str, Bars]:
    cal = TradingCalendar("XNYS")
    sessions = cal.sessions(date(2008, 1, 2), date(2008 + years - 1, 12, 31))
    days = np.array([(s.day - date(1970, 1, 1)).days * NS_PER_DAY for s in sessions], np.int64)
    n = len(days)
    rng = np.random.default_rng(5)
    out = {}
    for k in range(symbols):
        close = np.maximum(1_000, 10_000 * np.exp(np.cumsum(rng.normal(0, 0.015, n)))).round()
        close = close.astype(np.int64)
        prev = np.concatenate([[close[0]], close[:-1]])
        opn = np.maximum(100, prev + rng.integers(-50, 51, n))
        hi = np.maximum(opn, close) + rng.integers(0, 80, n)
        lo = np.maximum(50, np.minimum(opn, close) - rng.integers(0, 80, n))
        vol = rng.integers(100_000, 1_000_000, n).astype(np.float64)
        out[f"S{k:02d}"] = Bars(f"synthetic-{k}", NS_PER_DAY, days, opn, hi, lo, close, vol)
    return out


class EmptyOnBar(Strategy):
    def on_bar(self, bar: Bar) -> None:
        pass


class SmaCross(Strategy):
    def on_bar(self, bar: Bar) -> None:
        c = self.ctx.history(bar.symbol).close
        if len(c) < 31:
            return
        was = c[-11:-1].mean() > c[-31:-1].mean()
        now = c[-10:].mean() > c[-30:].mean()
        held = self.ctx.position(bar.symbol)
        if now and not was and held == 0:
            acct = self.ctx.account()
            budget = min(acct.equity / 4, acct.buying_power) * D("0.95")
            qty = int(budget / bar.close)
            if qty:
                self.ctx.buy(bar.symbol, qty)
        elif was and not now and held > 0:
            self.ctx.sell(bar.symbol, held)


class IncrementalSmaCross(Strategy):
    """The same crossover on incremental means (``fillforge.indicators.RollingMean``): a
    constant cost per bar, where the numpy means of a slice pay numpy's call overhead."""

    def on_start(self) -> None:
        self.means = {s: (RollingMean(10), RollingMean(30)) for s in self.ctx.symbols}
        self.was: dict[str, bool | None] = dict.fromkeys(self.ctx.symbols)

    def on_bar(self, bar: Bar) -> None:
        fast_mean, slow_mean = self.means[bar.symbol]
        close = self.ctx.history(bar.symbol).close[-1]
        fast, slow = fast_mean.update(close), slow_mean.update(close)
        if fast is None or slow is None:
            return
        now, was = fast > slow, self.was[bar.symbol]
        self.was[bar.symbol] = now
        if was is None or now == was:
            return
        held = self.ctx.position(bar.symbol)
        if now and held == 0:
            acct = self.ctx.account()
            budget = min(acct.equity / 4, acct.buying_power) * D("0.95")
            qty = int(budget / bar.close)
            if qty:
                self.ctx.buy(bar.symbol, qty)
        elif not now and held > 0:
            self.ctx.sell(bar.symbol, held)


def _example() -> ModuleType:
    """``examples/multi_symbol_backtest.py`` as a module: its ``Breakout`` and ``controls``."""
    name = "multi_symbol_backtest"
    if name not in sys.modules:
        path = Path(__file__).resolve().parents[1] / "examples" / f"{name}.py"
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # its dataclasses look the module up while it loads
        spec.loader.exec_module(module)
    return sys.modules[name]


def bench_daily(
    symbols: int, years: int, repeats: int, only_example: bool = False
) -> dict[str, float]:
    data = _daily(symbols, years)
    cal = TradingCalendar("XNYS")
    trades = [0]
    example = _example()
    breakout: dict[str, float] = {}

    def backtest() -> Backtest:
        bt = Backtest(cash=D(1_000_000), calendar=cal)
        for s, bars in data.items():
            bt.add_bars(s, bars)
        return bt

    def broker_alone() -> None:
        venue = Venue(calendar=cal)
        for s, bars in data.items():
            venue.add(Instrument(symbol=s), bars_feed(bars, session=cal))
        SimulatedBroker(venue, cash=D(1_000_000)).run()

    def empty() -> None:
        backtest().run(EmptyOnBar())

    def sma() -> None:
        trades[0] = len(backtest().run(SmaCross()).fills)

    def incremental() -> None:
        backtest().run(IncrementalSmaCross())

    def sized_risked_stopped() -> None:
        strategy = example.Breakout()
        runner = backtest().runner(strategy, risk=example.controls())  # behind a RiskGate
        result = runner.run()
        gate = runner.broker
        assert isinstance(gate, RiskGate)
        breakout["fills"] = float(result.trades)
        breakout["entries"] = float(len(strategy.plans))
        breakout["stops"] = float(sum(p.reason == "stop" for p in strategy.plans))
        breakout["risk_checked"] = float(sum(gate.manager.counters.values()))

    out = {
        "symbols": float(symbols),
        "sessions": float(len(next(iter(data.values())))),
        "runner_empty_on_bar_s": best_time(empty, repeats),
        "example_breakout_s": best_time(sized_risked_stopped, repeats),
    }
    if not only_example:
        out["broker_alone_s"] = best_time(broker_alone, repeats)
        out["runner_sma_s"] = best_time(sma, repeats)
        out["runner_incremental_sma_s"] = best_time(incremental, repeats)
        out["fills"] = float(trades[0])
        out["runner_share_s"] = out["runner_empty_on_bar_s"] - out["broker_alone_s"]
    out.update({f"example_{k}": v for k, v in breakout.items()})
    out["example_vs_empty_on_bar"] = out["example_breakout_s"] / out["runner_empty_on_bar_s"]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--quotes", type=int, default=100_000)
    ap.add_argument("--symbols", type=int, default=10)
    ap.add_argument("--years", type=int, default=10)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--only", choices=("quotes", "daily", "example"), default=None)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    machine = machine_factor(a.repeats)
    quotes = bench_quotes(a.quotes, a.repeats) if a.only is None or a.only == "quotes" else {}
    if quotes:
        quotes["machine_factor"] = machine
        quotes["runner_scaled_quotes_per_s"] = quotes["runner_quotes_per_s"] * machine
    daily = {}
    if a.only != "quotes":
        daily = bench_daily(a.symbols, a.years, a.repeats, only_example=a.only == "example")
    if a.json:
        print(json.dumps({"quotes": quotes, "daily": daily}, indent=2))
        return
    if quotes:
        _print_quotes(a.quotes, quotes)
    if daily:
        _print_daily(daily)


ISSUE_BASELINE_S = 0.0355
"""``bench_sim.py``'s pure-Python replay baseline on the machine the issues' targets were set on
(the "Simulated exchange" table in benches/README.md)."""


def machine_factor(repeats: int) -> float:
    """How much slower this machine runs now than the issues' one: ``bench_sim.py``'s
    pure-Python replay of the shipped LOBSTER day, best of ``repeats``, timed in this process,
    over its 35.5 ms there. A rate here times the factor is the rate there."""
    feed = lobster_feed(*lobster_sample())
    best = min(python_loop(feed)[0] for _ in range(repeats))
    return best / ISSUE_BASELINE_S


def _print_quotes(n: int, quotes: dict[str, float]) -> None:
    print(f"quotes: {n:,} rows, {int(quotes['quote_callbacks']):,} top changes delivered")
    for k, label in (
        ("engine_step_read", "(a) engine stepped and read from Python"),
        ("broker_subscription", "(b) broker subscribe_quotes, empty callback"),
        ("runner", "(c) Runner, empty on_quote"),
    ):
        rate = quotes[f"{k}_quotes_per_s"] / 1e6
        print(f"  {label:48s} {quotes[f'{k}_s']:7.3f} s  {rate:6.3f} M quotes/s")
    print(f"  runner vs broker subscription: {quotes['runner_vs_broker_subscription']:.2f}x")
    f = quotes["machine_factor"]
    print(
        f"  this machine runs {f:.2f}x slower than the issue's (bench_sim's pure-Python replay "
        f"baseline, this process): (c) scaled = {quotes['runner_scaled_quotes_per_s'] / 1e6:.2f}"
        " M quotes/s (target >= 1 M)"
    )


def _print_daily(daily: dict[str, float]) -> None:
    fills = f", {int(daily['fills'])} fills (SMA)" if "fills" in daily else ""
    print(f"daily bars: {int(daily['symbols'])} symbols x {int(daily['sessions'])} sessions{fills}")
    for k, label in (
        ("broker_alone", "(d) simulated broker alone"),
        ("runner_empty_on_bar", "(e) Backtest.run, empty on_bar"),
        ("runner_sma", "(f) Backtest.run, SMA crossover (numpy means)"),
        ("runner_incremental_sma", "(g) the same on incremental RollingMean"),
        ("example_breakout", "(h) the example: sizing, risk gate, ATR stops"),
    ):
        if f"{k}_s" in daily:
            print(f"  {label:48s} {daily[f'{k}_s']:7.3f} s")
    if "runner_share_s" in daily:
        print(f"  the runner's share (e - d): {daily['runner_share_s']:.3f} s")
    print(
        f"  (h): {int(daily['example_entries'])} entries, {int(daily['example_stops'])} ended "
        f"by their stop, {int(daily['example_fills'])} fills, "
        f"{int(daily['example_risk_checked'])} orders checked by the risk gate; "
        f"{daily['example_vs_empty_on_bar']:.2f}x (e); target <= 6.4 s here (2 s on the issue's)"
    )


if __name__ == "__main__":
    main()
