"""The strategy runner on the simulated broker: callbacks in time order across symbols, one at a
time; timers; order events and fills; stop; errors end the run cleanly; refusals."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from fillforge.broker import Bar, Quote, Trade
from fillforge.errors import StrategyError, TimerError
from fillforge.marketdata.columns import Quotes, Trades
from fillforge.orders.enums import OrderSide, OrderStatus
from fillforge.orders.models import Instrument, OrderEvent
from fillforge.sim import SimulatedBroker, Venue, empty_feed
from fillforge.strategy import FillRecord, Runner, Strategy
from fillforge.strategy.backtest import Backtest

D = Decimal
T0 = 1_000_000


def _quotes(t: list[int], bid: list[int], ask: list[int]) -> Quotes:
    n = len(t)
    return Quotes(
        "t",
        np.array(t, np.int64),
        np.array(bid, np.int64),
        np.full(n, 100, np.int64),
        np.array(ask, np.int64),
        np.full(n, 100, np.int64),
    )


def _trades(t: list[int], price: list[int]) -> Trades:
    n = len(t)
    return Trades(
        "t",
        np.array(t, np.int64),
        np.array(price, np.int64),
        np.full(n, 5, np.int64),
        np.full(n, 1, np.int8),
        np.array([str(i) for i in range(n)]),
    )


def _two_markets() -> SimulatedBroker:
    """AAA and BBB, quotes and prints interleaved in time (no sessions)."""
    bt = Backtest(calendar=None)
    bt.add_quotes(
        "AAA",
        _quotes([T0, T0 + 30, T0 + 60], [10_000, 10_001, 10_002], [10_010, 10_011, 10_012]),
        _trades([T0 + 40], [10_010]),
    )
    bt.add_quotes(
        "BBB",
        _quotes([T0 + 10, T0 + 30, T0 + 50], [5_000, 5_001, 5_002], [5_010, 5_011, 5_012]),
        _trades([T0 + 20, T0 + 70], [5_000, 5_012]),
    )
    return bt.broker()


class Recorder(Strategy):
    """Records every callback with the broker's time, and whether one ran inside another."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, int]] = []
        self.depth = 0
        self.nested = False

    def _log(self, kind: str, what: str) -> None:
        self.nested |= self.depth > 0
        self.seen.append((kind, what, self.ctx.now_ns()))

    def on_start(self) -> None:
        self._log("start", "")

    def on_quote(self, quote: Quote) -> None:
        self._log("quote", quote.symbol)

    def on_trade(self, trade: Trade) -> None:
        self._log("trade", trade.symbol)

    def on_stop(self) -> None:
        self._log("stop", "")


def test_callbacks_fire_in_time_order_across_symbols() -> None:
    broker = _two_markets()
    s = Recorder()
    result = Runner(s, broker, symbols=["AAA", "BBB"]).run()
    assert s.seen == [
        ("start", "", T0),
        ("quote", "AAA", T0),
        ("quote", "BBB", T0 + 10),
        ("trade", "BBB", T0 + 20),  # a buy print below the ask: the top stays
        ("quote", "AAA", T0 + 30),  # one instant, two markets: in the venue's listing order
        ("quote", "BBB", T0 + 30),
        ("trade", "AAA", T0 + 40),
        ("quote", "BBB", T0 + 50),
        ("quote", "AAA", T0 + 60),
        ("trade", "BBB", T0 + 70),
        ("quote", "BBB", T0 + 70),  # this print took displayed size at the ask: a new top
        ("stop", "", T0 + 70),
    ]
    assert not s.nested
    times = [t for _, _, t in s.seen]
    assert times == sorted(times)
    assert not result.stopped
    assert result.fills == ()
    assert s.ctx.quote("AAA") is not None
    q = s.ctx.quote("AAA")
    assert q is not None
    assert q.bid_price == D("100.02")


def test_only_overridden_callbacks_subscribe() -> None:
    broker = _two_markets()

    class QuotesOnly(Strategy):
        def __init__(self) -> None:
            self.n = 0

        def on_quote(self, quote: Quote) -> None:
            self.n += 1

    s = QuotesOnly()
    Runner(s, broker, symbols=["BBB"]).run()
    assert s.n == 4  # BBB's top changes; AAA is not a symbol of this runner
    assert not broker._market_data.subscriptions  # the run unsubscribed everything


class Buyer(Strategy):
    """Buys 10 AAA at market on the first quote; logs order events and fills."""

    def __init__(self) -> None:
        self.log: list[str] = []
        self.fills: list[FillRecord] = []
        self.in_quote = False

    def on_quote(self, quote: Quote) -> None:
        if quote.symbol == "AAA" and not self.ctx.orders():
            self.in_quote = True
            self.ctx.buy("AAA", 10)
            self.in_quote = False
            assert self.log == []  # the order's events wait until this callback returns

    def on_order(self, event: OrderEvent) -> None:
        assert not self.in_quote
        self.log.append(f"order:{event.kind.value}")

    def on_fill(self, fill: FillRecord) -> None:
        self.log.append(f"fill:{fill.qty}@{fill.price}")
        self.fills.append(fill)


def test_on_order_then_on_fill_after_the_callback_that_submitted() -> None:
    broker = _two_markets()
    s = Buyer()
    result = Runner(s, broker, symbols=["AAA"]).run()
    assert s.log[-2:] == ["order:fill", "fill:10@100.10"]
    assert s.log[0] == "order:submitted" or s.log[0].startswith("order:")
    kinds = [x for x in s.log if x.startswith("order:")]
    assert kinds[-1] == "order:fill"
    (f,) = result.fills
    assert f == s.fills[0]
    assert (f.symbol, f.side, f.qty, f.price, f.time_ns) == (
        "AAA",
        OrderSide.BUY,
        D(10),
        D("100.10"),
        T0,
    )
    assert f.signed_qty == D(10)
    assert f.notional == D("1001.0")
    assert broker.get_order(f.order_id).status is OrderStatus.FILLED
    assert s.ctx.position("AAA") == 10


class Timed(Strategy):
    def __init__(self) -> None:
        self.fired: list[tuple[str, int]] = []

    def on_start(self) -> None:
        now = self.ctx.now_ns()
        self.ctx.set_timer("once", at_ns=now + 25)
        self.ctx.set_timer("tick", every_ns=20)
        self.ctx.set_timer("never", at_ns=now + 45)

    def on_timer(self, name: str, t_ns: int) -> None:
        self.fired.append((name, t_ns))
        assert self.ctx.now_ns() == t_ns
        if name == "once":
            self.ctx.cancel_timer("never")
            assert self.ctx.timers == {"tick"}
        if len(self.fired) == 4:
            self.ctx.cancel_timer("tick")


def test_timers_fire_in_simulated_time_and_can_be_cancelled() -> None:
    broker = _two_markets()
    s = Timed()
    Runner(s, broker, symbols=["AAA"]).run()
    assert s.fired == [
        ("tick", T0 + 20),
        ("once", T0 + 25),
        ("tick", T0 + 40),
        ("tick", T0 + 60),
    ]
    assert s.ctx.timers == frozenset()
    assert len(broker._timers) == 0  # nothing left on the broker


def test_timer_refusals_change_nothing() -> None:
    broker = _two_markets()
    runner = Runner(Strategy(), broker, symbols=["AAA"])
    ctx = runner.ctx
    ctx.set_timer("a", every_ns=10)
    with pytest.raises(StrategyError) as e:
        ctx.set_timer("a", every_ns=10)
    assert (e.value.field, e.value.value) == ("name", "a")
    with pytest.raises(StrategyError):
        ctx.cancel_timer("b")
    with pytest.raises(StrategyError):
        ctx.set_timer("", at_ns=T0)
    with pytest.raises(TimerError):  # the broker's own rules: not in the past
        ctx.set_timer("past", at_ns=T0 - 1)
    assert ctx.timers == {"a"}


def test_timers_and_quotes_interleave_in_time_order() -> None:
    broker = _two_markets()

    class Both(Recorder):
        def on_start(self) -> None:
            self.ctx.set_timer("t", at_ns=T0 + 30)

        def on_timer(self, name: str, t_ns: int) -> None:
            self._log("timer", name)

    s = Both()
    Runner(s, broker, symbols=["AAA"]).run()
    # A timer at t sees the market before t and none of it at t (the broker's tie rule).
    assert [k for k, _, _ in s.seen][:3] == ["quote", "timer", "quote"]
    assert s.seen[1] == ("timer", "t", T0 + 30)


def test_stop_ends_the_run_after_the_current_callback() -> None:
    broker = _two_markets()

    class StopAtTwo(Recorder):
        def on_quote(self, quote: Quote) -> None:
            super().on_quote(quote)
            if len(self.seen) == 3:
                self.ctx.stop()

    s = StopAtTwo()
    result = Runner(s, broker, symbols=["AAA", "BBB"], step_messages=1).run()
    assert [k for k, _, _ in s.seen] == ["start", "quote", "quote", "stop"]
    assert result.stopped
    assert broker.venue.market("AAA").engine.next_time is not None  # the data was left


def test_a_callback_error_ends_the_run_and_is_raised() -> None:
    broker = _two_markets()

    class Boom(Strategy):
        def on_trade(self, trade: Trade) -> None:
            raise RuntimeError("boom")

        def on_stop(self) -> None:  # pragma: no cover - not reached on an error
            raise AssertionError("on_stop after an error")

    runner = Runner(Boom(), broker, symbols=["AAA", "BBB"])
    with pytest.raises(RuntimeError, match="boom"):
        runner.run()
    assert not broker._market_data.subscriptions
    with pytest.raises(StrategyError) as e:
        runner.run()
    assert e.value.field == "runner"


def test_run_async_on_the_simulated_broker() -> None:
    broker = _two_markets()
    s = Recorder()
    result = asyncio.run(Runner(s, broker, symbols=["AAA"]).run_async())
    assert s.seen[-1][0] == "stop"
    assert len(result.equity) == 2  # no sessions: the start and the end


def test_equity_sampled_at_each_session_close() -> None:
    # Two New York sessions of scripted prices: the equity curve has the start, both closes
    # and the end; a position bought in the first session is marked to each close.
    open1 = 1_795_446_000 * 10**9  # 2026-11-23 10:00 New York (a Monday)
    day = 24 * 3600 * 10**9
    q = _quotes([open1, open1 + day], [10_000, 11_000], [10_002, 11_002])
    tr = _trades([open1 + 1, open1 + day + 1], [10_001, 11_001])
    bt = Backtest(calendar="XNYS").add_quotes("AAA", q, tr)
    broker = bt.broker()

    class BuyOnce(Strategy):
        def on_trade(self, trade: Trade) -> None:
            if not self.ctx.orders():
                self.ctx.buy("AAA", 10)

    runner = bt.runner(BuyOnce())
    result = runner.run(until_ns=open1 + 2 * day)
    cal = bt.calendar
    assert cal is not None
    close1, close2 = cal.next_close(open1), cal.next_close(open1 + day)
    assert result.time_ns.tolist() == [open1, close1, close2, open1 + 2 * day]
    cash_after = D(100_000) - 10 * D("100.02")
    assert result.equity_exact == (
        D(100_000),
        cash_after + 10 * D("100.02"),  # the last print that day was our own fill
        cash_after + 10 * D("110.01"),
        cash_after + 10 * D("110.01"),
    )
    assert broker.now_ns() == open1 + 2 * day


def test_runner_refusals() -> None:
    broker = _two_markets()
    with pytest.raises(StrategyError) as e:
        Runner(object(), broker, symbols=["AAA"])  # type: ignore[arg-type]
    assert e.value.field == "strategy"
    with pytest.raises(StrategyError) as e:
        Runner(Strategy(), object(), symbols=["AAA"])  # type: ignore[arg-type]
    assert e.value.field == "broker"
    for symbols in ([], ["AAA", "AAA"], [""]):
        with pytest.raises(StrategyError) as e:
            Runner(Strategy(), broker, symbols=symbols)
        assert e.value.field == "symbols"
    for every in ("bar", "hourly", 0, True):
        with pytest.raises(StrategyError) as e:
            Runner(Strategy(), broker, symbols=["AAA"], equity_every=every)  # type: ignore[arg-type]
        assert e.value.field == "equity_every"
    with pytest.raises(StrategyError):
        Runner(Strategy(), broker, symbols=["AAA"], step_messages=0)
    runner = Runner(Strategy(), broker, symbols=["AAA"])
    with pytest.raises(StrategyError) as e:
        runner.run(timeout_s=1.0)
    assert e.value.field == "timeout_s"
    with pytest.raises(StrategyError) as e:
        runner.ctx.history("ZZZ")
    assert (e.value.field, e.value.value) == ("symbol", "ZZZ")
    with pytest.raises(StrategyError) as e:
        runner.ctx.buy("AAA", 1.5)  # type: ignore[arg-type]
    assert e.value.field == "qty"
    assert broker.orders() == []


def test_order_target_and_order_types() -> None:
    venue = Venue(calendar=None)
    venue.add(Instrument(symbol="AAA"), empty_feed())
    broker = SimulatedBroker(venue, start_ns=T0)
    broker.quote("AAA", D("10.00"), D("10.02"), bid_size=D(1000), ask_size=D(1000))
    ctx = Runner(Strategy(), broker, symbols=["AAA"]).ctx
    assert ctx.order_target("AAA", 0) is None
    o = ctx.order_target("AAA", 30)
    assert o is not None
    assert o.status is OrderStatus.FILLED
    o = ctx.order_target("AAA", -20)  # sells 50: 30 out, 20 short
    assert o is not None
    assert o.request.side is OrderSide.SELL
    assert o.order_qty == 50
    assert ctx.position("AAA") == -20
    lim = ctx.buy("AAA", 5, limit_price=D("9.00"))
    stp = ctx.buy("AAA", 5, stop_price=D("11.00"))
    both = ctx.buy("AAA", 5, stop_price=D("11.00"), limit_price=D("11.05"))
    assert [x.request.type.value for x in (lim, stp, both)] == ["limit", "stop", "stop_limit"]


def test_without_bar_tables_on_bar_gets_the_brokers_minute_bars() -> None:
    minute = 60 * 10**9
    t = [T0, T0 + 10, minute + T0, minute + T0 + 5, 3 * minute + T0]
    bt = Backtest(calendar=None).add_quotes(
        "AAA", trades=_trades(t, [10_000, 10_010, 10_020, 9_990, 10_030])
    )

    class Bars(Strategy):
        def __init__(self) -> None:
            self.bars: list[tuple[int, Decimal, Decimal, Decimal, int]] = []

        def on_bar(self, bar: Bar) -> None:
            h = self.ctx.history(bar.symbol)
            assert len(h) == len(self.bars) + 1
            assert h.close[-1] == float(bar.close)
            assert self.ctx.bar("AAA") is bar
            self.bars.append((bar.timestamp_ns, bar.open, bar.high, bar.low, self.ctx.now_ns()))

    s = Bars()
    result = bt.run(s)
    start = T0 - T0 % minute
    # A minute's bar is delivered at the first print of a later minute; the last stays open.
    assert s.bars == [
        (start, D("100.00"), D("100.10"), D("100.00"), minute + T0),
        (start + minute, D("100.20"), D("100.20"), D("99.90"), 3 * minute + T0),
    ]
    assert len(result.equity) == 2  # no sessions, no tables: the start and the end


def test_warmup_fills_the_history_before_on_start_and_refuses_open_bars() -> None:
    from fillforge.marketdata import load_bars
    from fillforge.replay.samples import spy_daily_sample
    from fillforge.sim.calendar import TradingCalendar
    from fillforge.strategy import BarTable

    spy = BarTable.of(
        "SPY", load_bars(spy_daily_sample(), tick="0.01"), D("0.01"), TradingCalendar("XNYS")
    )
    seen: list[int] = []

    class Lookback(Strategy):
        def on_start(self) -> None:
            h = self.ctx.history("SPY")
            seen.append(len(h))
            bar = self.ctx.bar("SPY")
            assert bar is not None
            assert bar.close == D("266.86")  # 2017-12-29
            assert h.close[-1] == 266.86

        def on_bar(self, bar: Bar) -> None:  # pragma: no cover - no bar after the warm-up
            raise AssertionError("warm-up bars are history, not on_bar")

    def broker(start_ns: int) -> SimulatedBroker:
        venue = Venue(calendar=None)
        venue.add(Instrument(symbol="SPY"), empty_feed())
        return SimulatedBroker(venue, start_ns=start_ns)

    after = int(spy.end_ns[-1])
    Runner(Lookback(), broker(after), symbols=["SPY"], warmup=[spy]).run()
    assert seen == [503]
    runner = Runner(Lookback(), broker(after - 1), symbols=["SPY"], warmup=[spy])
    with pytest.raises(StrategyError) as e:  # the last bar has not closed yet
        runner.run()
    assert e.value.field == "warmup"
    assert seen == [503]


def test_stopped_before_it_runs() -> None:
    broker = _two_markets()
    s = Recorder()
    runner = Runner(s, broker, symbols=["AAA"])
    runner.stop()
    result = runner.run()
    assert s.seen == []  # neither on_start nor on_stop
    assert result.stopped
    assert broker.venue.market("AAA").engine.position == 0  # nothing replayed


def test_on_fill_follows_its_on_order_before_what_on_order_set_off() -> None:
    venue = Venue(calendar=None)
    venue.add(Instrument(symbol="AAA"), empty_feed())
    broker = SimulatedBroker(venue, start_ns=T0)
    broker.quote("AAA", D("10.00"), D("10.02"), bid_size=D(1000), ask_size=D(1000))
    log: list[str] = []

    class Chain(Strategy):
        def on_start(self) -> None:
            self.ctx.buy("AAA", 1)

        def on_order(self, event: OrderEvent) -> None:
            log.append(f"{event.order_id}:{event.kind.value}")
            if event.kind.value == "fill" and event.order_id == "o-1":
                self.ctx.sell("AAA", 1)  # its events come after o-1's on_fill

        def on_fill(self, fill: FillRecord) -> None:
            log.append(f"{fill.order_id}:on_fill")

    Runner(Chain(), broker, symbols=["AAA"]).run()
    i = log.index("o-1:fill")
    assert log[i + 1] == "o-1:on_fill"
    assert log[i + 2].startswith("o-2:")
    assert log[-1] == "o-2:on_fill"


def test_a_journalled_simulated_broker_is_driven_and_every_order_journalled(
    tmp_path: Path,
) -> None:
    from fillforge.journal import Journal
    from fillforge.journal.broker import JournalledBroker
    from fillforge.journal.rebuild import rebuild

    broker = _two_markets()
    with Journal.open(tmp_path / "run.journal") as j:
        jb = JournalledBroker(broker, j)
        s = Buyer()
        result = Runner(s, jb, symbols=["AAA"]).run()  # the simulator behind the journal runs
        (f,) = result.fills
        assert (f.symbol, f.qty, f.price) == ("AAA", D(10), D("100.10"))
        jb.detach()
        book = rebuild(j)
    [order] = book.intents
    assert (order.symbol, order.status, order.filled) == ("AAA", "filled", D(10))
    assert book.positions == {"AAA": D(10)}
