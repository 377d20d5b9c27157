"""The same strategy on a simulated walk and on the served Alpaca paper account (its own
process, unmodified alpaca-py through AlpacaBroker): on a live broker the runner runs every
callback on the thread that called run(), one at a time, until stop() or the timeout."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from decimal import Decimal

import pytest
from served_helpers import alpaca_broker

from fillforge.alpaca import ServedAlpaca, served_alpaca
from fillforge.alpaca.broker import AlpacaBroker
from fillforge.alpaca.paper import walk_broker
from fillforge.broker import Quote
from fillforge.errors import StrategyError
from fillforge.orders.models import OrderEvent
from fillforge.sim.walk import WalkConfig
from fillforge.strategy import FillRecord, Runner, Strategy
from fillforge.strategy.bars import BarTable
from fillforge.time import NS_PER_SECOND, from_iso

D = Decimal
START = "2026-11-23T10:00:00-05:00"  # a Monday, in regular hours: outcomes never hang on the hour


class FirstQuoteBuyer(Strategy):
    """Buys 10 AAPL at market on its first quote and stops once they are filled; notes the
    thread of every callback."""

    def __init__(self) -> None:
        self.quotes: list[Quote] = []
        self.kinds: list[str] = []
        self.fills: list[FillRecord] = []
        self.threads: set[int] = set()
        self.stopped = 0

    def on_quote(self, quote: Quote) -> None:
        self.threads.add(threading.get_ident())
        self.quotes.append(quote)
        if len(self.quotes) == 1:
            self.ctx.buy("AAPL", 10)

    def on_order(self, event: OrderEvent) -> None:
        self.threads.add(threading.get_ident())
        self.kinds.append(event.kind.value)

    def on_fill(self, fill: FillRecord) -> None:
        self.threads.add(threading.get_ident())
        self.fills.append(fill)
        if sum(f.qty for f in self.fills) == 10:
            self.ctx.stop()

    def on_stop(self) -> None:
        self.stopped += 1


def _check(s: FirstQuoteBuyer, runner: Runner) -> None:
    result = runner.result
    assert result is not None
    assert result.stopped
    assert s.stopped == 1
    assert s.kinds[-1] == "fill"
    assert s.kinds[:2] == ["created", "submitted"]
    assert sum(f.qty for f in result.fills) == D(10)
    assert result.fills == tuple(s.fills)
    assert all(f.symbol == "AAPL" for f in result.fills)
    assert runner.ctx.position("AAPL") == D(10)
    assert s.threads == {threading.get_ident()}  # every callback on the caller's thread


def test_on_a_simulated_walk() -> None:
    start = from_iso(START)
    broker = walk_broker(
        {"AAPL": WalkConfig(bid=D("100.00"), ask=D("100.02"), rate=20)},
        end_ns=start + 60 * NS_PER_SECOND,
        seed=7,
        start_ns=start,
    )
    s = FirstQuoteBuyer()
    runner = Runner(s, broker, symbols=["AAPL"])
    runner.run()
    _check(s, runner)
    assert broker.now_ns() < start + 60 * NS_PER_SECOND  # it stopped before the data ended


@pytest.fixture(scope="module")
def served() -> Iterator[ServedAlpaca]:
    args = ("--data", "scripted", "--walk", "--rate", "20", "--seed", "7", "--start", START)
    with served_alpaca(*args, "--quote", "AAPL=100.00/100.02x1000", "--duration", "120") as s:
        yield s


def _alpaca(served: ServedAlpaca) -> AlpacaBroker:
    return alpaca_broker(
        served,
        data_poll_every=0.05,
    ).connect()


def test_on_the_served_paper_account(served: ServedAlpaca) -> None:
    broker = _alpaca(served)
    try:
        s = FirstQuoteBuyer()
        runner = Runner(s, broker, symbols=["AAPL"])
        assert not runner.simulated
        runner.run(timeout_s=30)
        _check(s, runner)
        assert broker.positions()["AAPL"].qty == D(10)
        result = runner.result
        assert result is not None
        assert len(result.equity) >= 2  # the start and the end, from the account
    finally:
        broker.close()


def test_a_live_run_ends_at_its_timeout_and_leaves_nothing_behind(served: ServedAlpaca) -> None:
    broker = _alpaca(served)
    try:

        class Idle(Strategy):
            def __init__(self) -> None:
                self.timers = 0

            def on_start(self) -> None:
                self.ctx.set_timer("beat", every_ns=50_000_000)

            def on_timer(self, name: str, t_ns: int) -> None:
                self.timers += 1

        s = Idle()
        runner = Runner(s, broker, symbols=["AAPL"], equity_every="none")
        result = runner.run(timeout_s=0.6)
        assert not result.stopped
        assert s.timers >= 3
        assert "strategy:beat" not in broker._timers  # the strategy's timer was cancelled
        with pytest.raises(StrategyError) as e:  # bar tables replay on a simulator only
            Runner(Strategy(), broker, bars=[_spy_table()])
        assert e.value.field == "bars"
    finally:
        broker.close()


def _spy_table() -> BarTable:
    from fillforge.marketdata import load_bars
    from fillforge.replay.samples import spy_daily_sample

    return BarTable.of("SPY", load_bars(spy_daily_sample(), tick="0.01"), D("0.01"))


def test_run_async_on_the_paper_account_stopped_from_the_event_loop(served: ServedAlpaca) -> None:
    import asyncio

    broker = _alpaca(served)
    try:

        class Watch(Strategy):
            def __init__(self) -> None:
                self.quotes = 0
                self.stops = 0

            def on_quote(self, quote: Quote) -> None:
                self.quotes += 1

            def on_stop(self) -> None:
                self.stops += 1

        s = Watch()
        runner = Runner(s, broker, symbols=["AAPL"], equity_every="none")

        async def main() -> bool:
            task = asyncio.create_task(runner.run_async(timeout_s=30))
            for _ in range(200):  # the loop keeps serving while the strategy runs
                await asyncio.sleep(0.05)
                if s.quotes >= 2:
                    break
            runner.stop()
            result = await task
            return result.stopped

        assert asyncio.run(main())
        assert s.quotes >= 2
        assert s.stops == 1
    finally:
        broker.close()


def test_session_bars_on_a_paper_account_replaying_daily_bars() -> None:
    # The served account replays SPY's daily bars at 100,000x (a day in under a second). The
    # broker polls the latest print; the runner builds each session's bar from the prints and
    # hands it over an hour (of the data's time) after the close, so the last poll is in.
    import secrets

    from fillforge.alpaca.server import AlpacaServer
    from fillforge.broker import Bar
    from fillforge.marketdata import Bars, load_bars
    from fillforge.orders.models import Instrument
    from fillforge.replay.samples import spy_daily_sample
    from fillforge.sim import SimulatedBroker, TradingCalendar, Venue, bars_feed

    cal = TradingCalendar("XNYS")
    full = load_bars(spy_daily_sample(), tick="0.01")
    n = 5  # 2016-01-04 to 01-08
    spy = Bars(
        full.source,
        full.period_ns,
        full.time_ns[:n],
        full.open[:n],
        full.high[:n],
        full.low[:n],
        full.close[:n],
        full.volume[:n],
    )
    venue = Venue("ALPACA-SIM", calendar=cal)
    venue.add(Instrument(symbol="SPY"), bars_feed(spy, session=cal))
    first_open = cal.next_open(int(spy.time_ns[0]))
    sim = SimulatedBroker(venue, start_ns=first_open - 48 * 3600 * NS_PER_SECOND)
    hour = 3600 * NS_PER_SECOND
    server = AlpacaServer(
        sim,
        key_id=f"PK{secrets.token_hex(8).upper()}",
        secret_key="s" * 24,
        speed=100_000,
        requests_per_minute=60_000,  # the polls of a day in under a second
    )
    got: list[Bar] = []
    started: list[int] = []

    class Daily(Strategy):
        def on_start(self) -> None:
            started.append(self.ctx.now_ns())

        def on_bar(self, bar: Bar) -> None:
            got.append(bar)

    with server:
        broker = alpaca_broker(
            server,
            clock=server.sim_clock(),
            data_poll_every=0.01,
            requests_per_minute=60_000,
        ).connect()
        try:
            runner = Runner(
                Daily(), broker, symbols=["SPY"], session_bars=True, session_delay_ns=hour
            )
            last_close = cal.next_close(int(spy.time_ns[4]))
            runner.run(until_ns=last_close + 2 * hour, timeout_s=60)
        finally:
            broker.close()
    # Sessions that opened after the runner started (connecting takes up to a day or two of
    # the data's time at this speed): each is that session's bar. Its close is exact (the last
    # print stands until the next open, so a poll always sees it); a poll can miss a print in
    # between at this speed, so the open, high and low lie within the session's range.
    days = spy.time_ns.tolist()
    whole = [b for b in got if cal.next_open(b.timestamp_ns) > started[0]]
    assert len(whole) >= 2
    first = days.index(whole[0].timestamp_ns)
    assert [b.timestamp_ns for b in whole] == days[first : first + len(whole)]
    cent = D("0.01")
    for b in whole:
        i = days.index(b.timestamp_ns)
        lo, hi = spy.low[i] * cent, spy.high[i] * cent
        assert b.close == spy.close[i] * cent
        assert lo <= b.low <= b.open <= b.high <= hi
