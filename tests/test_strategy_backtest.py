"""Backtests on daily bars: bars reach on_bar after their close, in time order across symbols;
no look-ahead (a strategy that peeks cannot see bar t+1, and what it decides at t fills at t+1's
open at the earliest); the same strategy gives identical fills twice; the equity curve."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest

from fillforge.broker import Bar, Quote, Trade
from fillforge.errors import StrategyError
from fillforge.marketdata import NS_PER_DAY, Bars, load_bars
from fillforge.orders.models import OrderEvent
from fillforge.replay.samples import daily_samples
from fillforge.sim.calendar import TradingCalendar
from fillforge.strategy import Backtest, BarTable, FillRecord, Runner, Strategy, bar_ends

D = Decimal
CENT = D("0.01")


class Peeker(Strategy):
    """Looks everywhere it can at each bar; buys 1 share on every 50th bar and the last."""

    def __init__(self) -> None:
        self.checks = 0
        self.decided: dict[str, list[int]] = {}
        self.order_symbol: dict[str, tuple[str, int]] = {}
        self.seen: list[tuple[str, int, int]] = []

    def on_bar(self, bar: Bar) -> None:
        ctx = self.ctx
        h = ctx.history(bar.symbol)
        i = len(h) - 1
        self.seen.append((bar.symbol, bar.timestamp_ns, ctx.now_ns()))
        assert h.time_ns[-1] == bar.timestamp_ns
        assert h.close[-1] == float(bar.close)
        # The buffer behind the views holds nothing past the delivered rows.
        base = h.close.base
        assert base is not None
        assert not np.asarray(base)[len(h) :].any()
        with pytest.raises(ValueError, match="read-only"):
            h.close[-1] = 0.0
        # The broker shows nothing of the next bar: the last print is this bar's close, the
        # book is empty until the next open, the venue is closed.
        last = ctx.trade(bar.symbol)
        assert last is not None
        assert last.price == bar.close
        assert ctx.quote(bar.symbol) is None
        assert not ctx.broker.clock().is_open
        self.checks += 1
        if i % 50 == 0 or i == 502:
            o = ctx.buy(bar.symbol, 1)
            self.decided.setdefault(bar.symbol, []).append(i)
            self.order_symbol[o.id] = (bar.symbol, i)


def _table(symbol: str) -> Bars:
    return load_bars(daily_samples()[symbol], tick=CENT)


def test_no_look_ahead_on_daily_bars() -> None:
    s = Peeker()
    result = Backtest(cash=100_000).add_daily_samples().run(s)
    assert s.checks == 3 * 503
    cal = TradingCalendar("XNYS")
    for f in result.fills:
        symbol, i = s.order_symbol[f.order_id]
        bars = _table(symbol)
        # Decided at bar i's close: filled at bar i+1's open, at its session's open.
        assert f.price == bars.open[i + 1] * CENT
        day = bar_ends(bars, cal)[i + 1]
        session = cal.session_at(day - 1)
        assert session is not None
        assert f.time_ns == session.open_ns + 1  # the order waited, then arrived after the open
    # Orders decided at the last bar never fill: there is no next bar.
    assert len(result.fills) == sum(len(v) for v in s.decided.values()) - 3
    last = [o for o in s.order_symbol if s.order_symbol[o][1] == 502]
    assert len(last) == 3
    broker = s.ctx.broker
    assert all(broker.get_order(o).cum_qty == 0 for o in last)


def test_bars_arrive_after_their_close_in_time_order_across_symbols() -> None:
    s = Peeker()
    Backtest(cash=100_000).add_daily_samples().run(s)
    cal = TradingCalendar("XNYS")
    times = [t for _, _, t in s.seen]
    assert times == sorted(times)
    # Each session: AAPL, GOOG, SPY (the order they were added), at the session's close.
    for k in range(0, len(s.seen), 3):
        day = s.seen[k : k + 3]
        assert [x[0] for x in day] == ["AAPL", "GOOG", "SPY"]
        assert len({x[1] for x in day}) == 1
        assert len({x[2] for x in day}) == 1
        session = cal.session_at(day[0][2] - 1)
        assert session is not None
        assert day[0][2] == session.close_ns


class SmaCross(Strategy):
    """10/30 crossover on every symbol, a quarter of the equity per position."""

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
            self.ctx.buy(bar.symbol, int(budget / bar.close))
        elif was and not now and held > 0:
            self.ctx.sell(bar.symbol, held)


def _run_sma() -> tuple[tuple[FillRecord, ...], tuple[Decimal, ...]]:
    r = Backtest(cash=100_000).add_daily_samples().run(SmaCross())
    return r.fills, r.equity_exact


def test_the_same_strategy_gives_identical_fills_twice() -> None:
    fills, equity = _run_sma()
    again_fills, again_equity = _run_sma()
    assert len(fills) > 20
    assert fills == again_fills
    assert equity == again_equity


def test_equity_curve_at_each_bar() -> None:
    r = Backtest(cash=100_000).add_daily_samples(["SPY"]).run(SmaCross())
    assert len(r.time_ns) == 503 + 2  # the start, each close, the end
    assert (np.diff(r.time_ns) > 0).all()
    assert r.start_equity == D(100_000)
    assert r.final_equity == r.equity_exact[-1]
    assert np.allclose(r.equity, [float(e) for e in r.equity_exact])
    assert len(r.returns()) == len(r.equity) - 1
    # Between two fills the equity moves with the position: at each close, cash + qty * close.
    spy = _table("SPY")
    qty = D(0)
    cash = D(100_000)
    fills = list(r.fills)
    for k, t in enumerate(r.time_ns.tolist()[1:-1]):
        while fills and fills[0].time_ns < t:
            f = fills.pop(0)
            qty += f.signed_qty
            cash -= f.signed_qty * f.price
        assert r.equity_exact[k + 1] == cash + qty * spy.close[k] * CENT


def test_multi_symbol_history_is_the_table_so_far() -> None:
    class Snap(Strategy):
        def __init__(self) -> None:
            self.at: dict[int, dict[str, np.ndarray]] = {}

        def on_bar(self, bar: Bar) -> None:
            n = len(self.ctx.history(bar.symbol))
            if n in (1, 200, 503) and bar.symbol == "GOOG":
                self.at[n] = {s: self.ctx.history(s).close.copy() for s in self.ctx.symbols}

    s = Snap()
    Backtest().add_daily_samples().run(s)
    for n, snap in s.at.items():
        for symbol, close in snap.items():
            expect = _table(symbol).close[:n] / 100
            # AAPL's bar of the instant is in before GOOG's on_bar, SPY's is too (one instant)
            assert np.array_equal(close, expect), (n, symbol)


def test_daily_backtest_without_a_calendar_and_intraday_bars() -> None:
    t0 = 1_700_000_000 * 10**9 // NS_PER_DAY * NS_PER_DAY
    minute = 60 * 10**9
    n = 5
    bars = Bars(
        "t",
        minute,
        t0 + np.arange(n, dtype=np.int64) * minute,
        np.array([100, 101, 102, 103, 104], np.int64),
        np.array([101, 102, 103, 104, 105], np.int64),
        np.array([99, 100, 101, 102, 103], np.int64),
        np.array([101, 102, 103, 104, 105], np.int64),
        np.full(n, 1000.0),
    )
    seen: list[tuple[int, int, Decimal]] = []

    class Log(Strategy):
        def on_bar(self, bar: Bar) -> None:
            seen.append((bar.timestamp_ns, self.ctx.now_ns(), bar.close))

    Backtest(calendar=None).add_bars("X", bars).run(Log())
    assert [(a - t0, b - t0) for a, b, _ in seen] == [
        (k * minute, (k + 1) * minute) for k in range(n)
    ]
    assert [c for _, _, c in seen] == [D("1.01"), D("1.02"), D("1.03"), D("1.04"), D("1.05")]


def test_quotes_of_a_lobster_day() -> None:
    class FirstQuotes(Strategy):
        def __init__(self) -> None:
            self.quotes: list[Quote] = []

        def on_quote(self, quote: Quote) -> None:
            self.quotes.append(quote)
            if len(self.quotes) == 50:
                self.ctx.stop()

    s = FirstQuotes()
    bt = Backtest(calendar=None).add_lobster()
    r = bt.runner(s, step_messages=64).run()
    assert r.stopped
    assert len(s.quotes) == 50
    ts = [q.timestamp_ns for q in s.quotes]
    assert ts == sorted(ts)
    for q in s.quotes:
        assert q.bid_price is not None
        assert q.ask_price is not None
        assert q.bid_price < q.ask_price


def test_backtest_refusals() -> None:
    with pytest.raises(StrategyError) as e:
        Backtest(cash=0)
    assert e.value.field == "cash"
    bt = Backtest()
    with pytest.raises(StrategyError) as e:
        bt.broker()
    assert e.value.field == "symbols"
    with pytest.raises(StrategyError) as e:
        bt.add_daily_samples(["MSFT"])
    assert (e.value.field, e.value.value) == ("symbols", "MSFT")
    bt.add_daily_samples(["SPY"])
    with pytest.raises(StrategyError) as e:
        bt.add_daily_samples(["SPY"])
    assert (e.value.field, e.value.value) == ("symbol", "SPY")
    with pytest.raises(StrategyError) as e:
        bt.add_lobster("GOOG", message="m.csv")
    assert e.value.field == "orderbook"
    bt.broker()
    with pytest.raises(StrategyError) as e:
        bt.add_daily_samples(["AAPL"])
    assert (e.value.field, e.value.value) == ("symbol", "AAPL")
    with pytest.raises(StrategyError):  # a bar table for a symbol the runner does not trade
        Runner(
            Strategy(),
            bt.broker(),
            symbols=["AAPL"],
            bars=[BarTable.of("SPY", _table("SPY"), CENT)],
        )
    with pytest.raises(StrategyError) as e:
        bar_ends(_table("SPY"), TradingCalendar("XLON"))  # NYSE days London is shut (holidays)
    assert e.value.field == "bars"


def test_metrics_of_a_run() -> None:
    from fillforge.portfolio import metrics

    r = Backtest(cash=100_000).add_daily_samples().run(SmaCross())
    returns = r.returns()
    assert np.allclose(returns, r.curve.returns())
    m = r.metrics()
    assert m.periods == len(r.equity) - 1
    assert m.sharpe_ratio == pytest.approx(metrics.sharpe_ratio(returns), rel=1e-12)
    assert m.max_drawdown == pytest.approx(metrics.max_drawdown(returns), rel=1e-12)
    assert m.cagr == pytest.approx(metrics.cagr(returns), rel=1e-12)
    final, start = r.final_equity, r.start_equity
    assert final is not None
    assert start is not None
    assert m.total_return == pytest.approx(float(final / start - 1), rel=1e-9)
    assert r.trades == len(r.fills) > 0
    assert r.drawdowns()
    # Exposure: the positions' value over equity, never above 1 without leverage; turnover
    # counts every fill's notional once.
    gross = r.curve.gross_exposure()
    assert (gross >= 0).all()
    assert (gross <= 1.0 + 1e-12).all()
    assert gross.max() > 0.5
    assert r.curve.turnover() > 0


def test_filling_at_the_close_is_asked_for_and_needs_no_sessions() -> None:
    spy = _table("SPY")

    class BuyAtTen(Strategy):
        def on_bar(self, bar: Bar) -> None:
            if len(self.ctx.history(bar.symbol)) == 10:
                self.ctx.buy(bar.symbol, 1)

    at_open = Backtest().add_bars("SPY", spy, fill_at="close").run(BuyAtTen())
    at_close = Backtest(calendar=None).add_bars("SPY", spy, fill_at="close").run(BuyAtTen())
    assert [f.price for f in at_open.fills] == [spy.open[10] * CENT]  # the venue was closed
    assert [f.price for f in at_close.fills] == [spy.close[9] * CENT]  # asked for, no sessions


def test_a_delivered_bar_equals_the_validated_model() -> None:
    got: list[Bar] = []

    class First(Strategy):
        def on_bar(self, bar: Bar) -> None:
            if not got:
                got.append(bar)

    Backtest().add_daily_samples(["SPY"]).run(First())
    # SPY 2016-01-04: 200.49 / 201.03 / 198.59 / 201.02, 222,353,500 shares.
    assert got[0] == Bar(
        symbol="SPY",
        open=D("200.49"),
        high=D("201.03"),
        low=D("198.59"),
        close=D("201.02"),
        volume=D(222_353_500),
        trade_count=0,
        vwap=D("201.02"),
        timestamp_ns=1_451_865_600 * 10**9,
        period_ns=NS_PER_DAY,
    )
    assert got[0].model_dump() == Bar.model_validate(got[0].model_dump()).model_dump()


def test_any_feed_can_be_listed() -> None:
    from fillforge.orders.models import Instrument
    from fillforge.sim.walk import WalkConfig, walk_feed

    inst = Instrument(symbol="W")
    t0 = 1_795_446_000 * 10**9
    feed = walk_feed(inst, WalkConfig(rate=10), seed=3, start_ns=t0, end_ns=t0 + 10**10)
    prints: list[int] = []

    class Count(Strategy):
        def on_trade(self, trade: Trade) -> None:
            prints.append(trade.timestamp_ns)

    Backtest(calendar=None).add_feed("W", feed, instrument=inst).run(Count())
    assert prints == sorted(prints)
    assert len(prints) > 5
    with pytest.raises(StrategyError) as e:
        Backtest().add_feed("W", object())  # type: ignore[arg-type]
    assert e.value.field == "feed"
    with pytest.raises(StrategyError) as e:
        Backtest().add_feed("V", feed, instrument=inst)  # the instrument names another symbol
    assert e.value.field == "instrument"


class JoinAndCancel(Strategy):
    """On every 200th quote: join the bid with 10 shares, cancel what is left 2 s later."""

    def __init__(self) -> None:
        self.n = 0
        self.events: list[tuple[str, str, int]] = []

    def on_quote(self, quote: Quote) -> None:
        self.n += 1
        if self.n % 200 or quote.bid_price is None:
            return
        o = self.ctx.buy(quote.symbol, 10, limit_price=quote.bid_price)
        self.ctx.set_timer(o.id, at_ns=self.ctx.now_ns() + 2 * 10**9)

    def on_timer(self, name: str, t_ns: int) -> None:
        if self.ctx.broker.get_order(name).status.is_open:
            self.ctx.cancel(name)

    def on_order(self, event: OrderEvent) -> None:
        self.events.append((event.order_id, event.kind.value, event.ts))


def _lobster_run() -> tuple[tuple[FillRecord, ...], list[tuple[str, str, int]]]:
    s = JoinAndCancel()
    bt = Backtest(calendar=None).add_lobster()
    start = bt.broker().now_ns()
    r = bt.run(s, until_ns=start + 20 * 60 * 10**9)  # the first twenty minutes
    return r.fills, s.events


def test_full_depth_runs_are_deterministic() -> None:
    fills, events = _lobster_run()
    again = _lobster_run()
    assert len(events) > 50
    assert any(kind == "canceled" for _, kind, _ in events)
    assert fills  # some joined bids were filled by the recorded flow
    assert fills == again[0]
    assert events == again[1]


class _BuyEachFirstBar(Strategy):
    """Buys 100 shares of each symbol at its first bar; keeps what the broker answered."""

    def on_start(self) -> None:
        self.sent: list[object] = []

    def on_bar(self, bar: Bar) -> None:
        if self.ctx.position(bar.symbol) == 0 and not any(
            o.symbol == bar.symbol
            for o in self.sent  # type: ignore[attr-defined]
        ):
            self.sent.append(self.ctx.buy(bar.symbol, 100))


def test_a_backtest_s_orders_pass_the_risk_controls_given() -> None:
    """``Backtest.run(risk=...)``: the strategy trades through a RiskGate on the simulated
    broker, as on a paper or live account; a denied order ends denied with its code, and the
    broker never sees it."""
    from fillforge.orders.enums import OrderStatus
    from fillforge.risk import MaxOrderQty

    denied = _BuyEachFirstBar()
    bt = Backtest(cash=Decimal(1_000_000)).add_daily_samples(["AAPL", "SPY"])
    runner = bt.runner(denied, risk=[MaxOrderQty(50)])
    result = runner.run()
    assert [o.status for o in denied.sent] == [OrderStatus.DENIED] * 2  # type: ignore[attr-defined]
    assert all(o.reason.startswith("max_order_qty: ") for o in denied.sent)  # type: ignore[attr-defined]
    assert len(result.fills) == 0
    assert bt.broker().orders() == []  # the simulated broker never saw them
    assert runner.broker.manager.counters["max_order_qty"] == 2  # type: ignore[attr-defined]
    allowed = _BuyEachFirstBar()
    ok = Backtest(cash=Decimal(1_000_000)).add_daily_samples(["AAPL", "SPY"])
    assert len(ok.run(allowed, risk=[MaxOrderQty(500)]).fills) == 2
    assert [o.status for o in allowed.sent] == [OrderStatus.FILLED] * 2  # type: ignore[attr-defined]
