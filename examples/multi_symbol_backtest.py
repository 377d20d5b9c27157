"""A multi-symbol backtest on daily bars with sizing, risk limits and ATR stops, then the same
strategy on the served paper account.

Run: ``python examples/multi_symbol_backtest.py`` (the backtest: AAPL, GOOG and SPY, 2016-2017,
the daily bars the package ships), or ``python examples/multi_symbol_backtest.py --paper``
(the same strategy class on a served Alpaca paper account replaying the last sessions of those
bars at 100,000x, next to a backtest of the same sessions).

The strategy (:class:`Breakout`, the part a user writes) buys a close above the highest close of
the previous 50 sessions. It sizes the entry to lose 1% of equity if a 3-ATR stop is hit
(``fillforge.sizing.RiskBased``), never more than 20% of equity in one name, and hands the entry
to ``fillforge.exits``: a stop 3 ATR under the entry that trails 3 ATR behind the peak, held at
the venue as a trailing-stop order. Everything else is wiring, and it is the same in both modes:
the broker is wrapped in a ``fillforge.risk.RiskGate`` (no position above 25% of equity, trading
halts for the day after a 2% daily loss), the exit manager sends its orders through the gate,
and the metrics come from ``fillforge.portfolio``. ``docs/backtest-example.md`` walks through it.
"""

from __future__ import annotations

import argparse
import secrets
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal

from fillforge.alpaca import uuid_ids
from fillforge.alpaca.server import AlpacaServer
from fillforge.broker import Bar, Broker
from fillforge.errors import StrategyError
from fillforge.exits import Distance, ExitManager, ExitPlan, ManagedExit, Phase, Trail
from fillforge.indicators import atr
from fillforge.marketdata import NS_PER_DAY, Bars, load_bars
from fillforge.orders.enums import OrderSide
from fillforge.orders.models import Instrument, OrderRequest
from fillforge.replay.samples import daily_samples
from fillforge.risk import Control, DailyLossLimit, MaxPosition, RiskGate
from fillforge.sim import SimulatedBroker, TradingCalendar, Venue, bars_feed
from fillforge.sizing import PercentOfEquity, RiskBased, SizingContext
from fillforge.strategy import Backtest, BarTable, Runner, RunResult, Strategy
from fillforge.time import NS_PER_SECOND

CASH = Decimal(100_000)
SYMBOLS = ("AAPL", "GOOG", "SPY")
PLAN = ExitPlan(stop=Distance.of_atr(3), trail=Trail(Distance.of_atr(3)))
RISK = RiskBased(Decimal("0.01"), atr_multiple=3)  # lose 1% of equity at the 3-ATR stop
CAP = PercentOfEquity(Decimal("0.20"))  # and never more than 20% of equity in one name


class Breakout(Strategy):
    """Long a close above the highest close of the previous ``lookback`` sessions, sized by risk
    to a 3-ATR stop that then trails 3 ATR behind the peak; one position per symbol."""

    exits: ExitManager

    def __init__(self, lookback: int = 50) -> None:
        self.lookback = lookback
        self.plans: list[ManagedExit] = []  # every position's exits, in entry order

    def on_start(self) -> None:
        self.exits = ExitManager(self.ctx.broker)  # through the risk gate, as the strategy's orders

    def on_bar(self, bar: Bar) -> None:
        h, n = self.ctx.history(bar.symbol), self.lookback
        working = self.exits.get(bar.symbol)
        if working is not None and working.phase is not Phase.DONE:
            return  # in a position (or its entry is on its way): the trailing stop works it
        close = h.close  # float64 in dollars, oldest first, up to this bar
        if len(close) <= n or close[-1] <= close[-n - 1 : -1].max():
            return
        a = float(atr(h.high[-n:], h.low[-n:], close[-n:])[-1])  # Wilder's, 14 bars
        inst = Instrument(symbol=bar.symbol)
        ctx = SizingContext.from_account(self.ctx.account(), inst, bar.close, atr=a)
        qty = min(RISK.size(ctx), CAP.size(ctx))
        if qty:
            entry = OrderRequest(symbol=bar.symbol, side=OrderSide.BUY, qty=qty)
            self.plans.append(self.exits.enter(entry, PLAN, inst, atr=a))


# ----- the wiring: the same in a backtest and on the paper account --------------------------


def controls() -> list[Control]:
    """The pre-trade limits: no position above 25% of equity; a 2% loss halts the day."""
    return [MaxPosition(pct=Decimal("0.25")), DailyLossLimit(pct=Decimal("0.02"))]


@dataclass
class Report:
    """One run: its result, the strategy (with its plans), the risk manager's decisions by code
    (``allowed``, and each denial code: ``max_position_pct``, ``daily_loss``...) and the gated
    broker the orders went to (``broker.get_order(fill.order_id)``)."""

    result: RunResult
    strategy: Breakout
    risk: dict[str, int]
    broker: Broker


def backtest(
    bars: dict[str, Bars] | None = None,
    warmup: list[BarTable] | None = None,
    rules: str | None = None,
) -> Report:
    """The backtest: the shipped samples (or ``bars``), sessions of XNYS, fills at the next open."""
    bt = Backtest(cash=CASH, rules=rules)
    for symbol, b in (bars or sample_bars()).items():
        bt.add_bars(symbol, b)
    strategy = Breakout()
    runner = bt.runner(strategy, risk=controls(), warmup=warmup or None)  # behind a RiskGate
    result = runner.run()
    gate = runner.broker
    assert isinstance(gate, RiskGate)
    return Report(result, strategy, gate.manager.counters, gate)


def sample_bars() -> dict[str, Bars]:
    paths = daily_samples()
    return {s: load_bars(paths[s], tick=Decimal("0.01")) for s in SYMBOLS}


def split(sessions: int) -> tuple[dict[str, Bars], list[BarTable]]:
    """About the last ``sessions`` bars of each sample to trade, starting after a weekend or a
    holiday (the paper account's clock starts in that gap), and the bars before as warm-up."""
    cal = TradingCalendar("XNYS")
    bars = sample_bars()
    days = bars[SYMBOLS[0]].time_ns
    if isinstance(sessions, bool) or not isinstance(sessions, int) or not 5 <= sessions < 400:
        raise StrategyError("sessions", sessions, "a whole number of sessions in [5, 400)")
    k = len(days) - sessions
    while days[k] - days[k - 1] < 3 * NS_PER_DAY:
        k += 1
    live: dict[str, Bars] = {}
    warm: list[BarTable] = []
    for s, b in bars.items():
        live[s] = _rows(b, k, len(b))
        warm.append(BarTable.of(s, _rows(b, 0, k), Decimal("0.01"), cal))
    return live, warm


def _rows(b: Bars, lo: int, hi: int) -> Bars:
    return Bars(
        b.source,
        b.period_ns,
        b.time_ns[lo:hi],
        b.open[lo:hi],
        b.high[lo:hi],
        b.low[lo:hi],
        b.close[lo:hi],
        b.volume[lo:hi],
    )


@dataclass
class PaperRun:
    """The paper run, the backtest of the same sessions, and when the paper runner started."""

    paper: Report
    backtest: Report
    started_ns: int
    first_open_ns: int


def paper(sessions: int = 20, speed: float = 100_000) -> PaperRun:
    """The same strategy class on a served Alpaca paper account that replays the last
    ``sessions`` daily bars of the samples at ``speed`` times real time (the bars before are
    the runner's warm-up), and a backtest of the same sessions on Alpaca's venue rules. Needs
    alpaca-py (``pip install fillforge[alpaca]``); the backtest alone does not."""
    from fillforge.alpaca.broker import AlpacaBroker

    cal = TradingCalendar("XNYS")
    live, warm = split(sessions)
    venue = Venue("ALPACA-SIM", calendar=cal)
    for s, b in live.items():
        venue.add(Instrument(symbol=s), bars_feed(b, session=cal))
    days = next(iter(live.values())).time_ns
    first_open, last_close = cal.next_open(int(days[0])), cal.next_close(int(days[-1]))
    hour = 3600 * NS_PER_SECOND
    # The served clock starts just after the warm-up's last close, a weekend or a holiday
    # before the first session: connecting takes a day or two of data time at this speed.
    start = int(warm[0].end_ns[-1]) + 1
    sim = SimulatedBroker(venue, cash=CASH, start_ns=start, id_factory=uuid_ids(7), rules="alpaca")
    server = AlpacaServer(
        sim,
        key_id=f"PK{secrets.token_hex(8).upper()}",
        secret_key="s" * 24,
        speed=speed,
        requests_per_minute=60_000,  # a session's polls in under a second
    )
    with server:
        broker = AlpacaBroker(
            server.key_id,
            server.secret_key,
            url_override=server.base_url,
            stream_url=server.stream_url,
            clock=server.sim_clock(),
            data_poll_every=0.01,
            requests_per_minute=60_000,
        ).connect()
        try:
            gate, strategy = RiskGate(broker, controls()), Breakout()
            # Session bars from the polled prints, handed over an hour after each close.
            runner = Runner(
                strategy,
                gate,
                symbols=list(live),
                warmup=warm,
                session_bars=True,
                session_delay_ns=hour,
                equity_every="close",
            )
            started = broker.now_ns()
            result = runner.run(until_ns=last_close + 2 * hour, timeout_s=600)
            report = Report(result, strategy, gate.manager.counters, gate)
        finally:
            broker.close()
    return PaperRun(report, backtest(live, warm, rules="alpaca"), started, first_open)


def show(title: str, report: Report) -> None:
    """Print a run's metrics (``fillforge.portfolio``), its positions' exits and the denials."""
    r, m = report.result, report.result.metrics()
    plans = report.strategy.plans
    reasons = Counter(p.reason or str(p.phase) for p in plans)
    print(title)
    print(f"  Sharpe {m.sharpe_ratio:.3f}  Sortino {m.sortino_ratio:.3f}")
    print(f"  max drawdown {m.max_drawdown:.2%}  CAGR {m.cagr:.2%}")
    print(f"  trades {r.trades}  final equity {r.final_equity}")
    print(f"  entries {len(plans)}: " + ", ".join(f"{k} {v}" for k, v in sorted(reasons.items())))
    print("  risk gate: " + ", ".join(f"{k} {v}" for k, v in sorted(report.risk.items())))


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--paper", action="store_true", help="also run on the served paper account")
    ap.add_argument("--sessions", type=int, default=20, help="sessions replayed on paper")
    a = ap.parse_args()
    show("backtest: AAPL, GOOG, SPY daily bars 2016-2017", backtest())
    if a.paper:
        try:
            run = paper(a.sessions)
        except StrategyError as e:
            ap.error(str(e))
        show(f"paper account: the last {a.sessions} sessions at 100,000x", run.paper)
        show("backtest of the same sessions (Alpaca's venue rules)", run.backtest)


if __name__ == "__main__":
    main()
