"""Stops fill as on a venue, on every data source: a stop the bar path passes through fills at
its stop price, a stop gapped through at the first print past it, and a triggered stop is never
canceled for want of displayed size. Orders decided at a bar's close fill at the next open (or
at the close, when asked)."""

from __future__ import annotations

import threading
import time
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fillforge import _core
from fillforge.codes import EngineEvent, Status
from fillforge.errors import MarketDataError
from fillforge.marketdata import NS_PER_DAY, Bars, Quotes, Trades, load_bars
from fillforge.orders.enums import EventKind, OrderClass, OrderSide, OrderStatus, OrderType
from fillforge.orders.models import Instrument, OrderEvent, OrderRequest, StopLoss, TakeProfit
from fillforge.sim import SimulatedBroker, Venue, bars_feed, quotes_trades_feed
from fillforge.sim.feeds import BarFill, FeedKind
from fillforge.testing import SimHarness

D = Decimal
TICK = D("0.01")
DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
GOOG = DATA / "bars/daily/GOOG_daily_2004-08-19_2013-03-01_unadjusted.csv"
_TRIGGERED = EngineEvent.TRIGGERED


@pytest.fixture(scope="module")
def goog() -> Bars:
    return load_bars(GOOG, tick=TICK)


def broker_on(bars: Bars, fill_at: BarFill = "next_open", spread: int = 0) -> SimulatedBroker:
    venue = Venue("SIM", calendar=None)
    feed = bars_feed(bars, fill_at=fill_at, half_spread_ticks=spread)
    venue.add(Instrument(symbol="GOOG", tick_size=TICK), feed)
    return SimulatedBroker(venue, cash=D(100_000_000))


def two_days() -> Bars:
    """Day 1 at 100; day 2 opens at 100, rises to 102, falls to 96, closes at 97."""
    day = NS_PER_DAY
    ohlc = np.array([[10_000, 10_100, 9_900, 10_000], [10_000, 10_200, 9_600, 9_700]], np.int64)
    times = np.array([20 * day, 21 * day], np.int64)
    return Bars("synthetic", day, times, *ohlc.T, np.full(2, 4_000.0))


def order(side: str, qty: int, symbol: str = "GOOG", **kw: object) -> OrderRequest:
    return OrderRequest(symbol=symbol, side=OrderSide(side), qty=D(qty), **kw)  # type: ignore[arg-type]


def prices(broker: SimulatedBroker, order_id: str) -> list[Decimal]:
    return sorted({f.price for f in broker.get_order(order_id).fills.values()})


def test_every_stop_on_the_goog_daily_bars_fills_at_its_stop_or_at_the_open(goog: Bars) -> None:
    """Each day a buy stop 1% above and a sell stop 1% below the last close, canceled after the
    day if it did not trigger. Every trigger fills: at the stop when the day's path crosses it,
    at the open when the day opens through it."""
    broker = broker_on(goog)
    broker.run(until_ns=int(goog.time_ns[1]))
    broker.submit(order("buy", 5_000, type=OrderType.MARKET))  # shares for the sell stops
    placed: list[tuple[int, str, str, int]] = []  # bar, side, order id, stop in ticks
    for i in range(2, len(goog)):
        broker.run(until_ns=int(goog.time_ns[i]))
        for _, _, oid, _ in placed[-2:]:
            if broker.get_order(oid).status is OrderStatus.NEW:
                broker.cancel(oid)
        close = int(goog.close[i - 1])
        for side, stop in (("buy", close * 101 // 100 + 1), ("sell", close * 99 // 100)):
            o = broker.submit(order(side, 1, type=OrderType.STOP, stop_price=stop * TICK))
            placed.append((i, side, o.id, stop))
    broker.run()
    for _, _, oid, _ in placed[-2:]:
        if broker.get_order(oid).status is OrderStatus.NEW:
            broker.cancel(oid)

    inside = gapped = 0
    for i, side, oid, stop in placed:
        o = broker.get_order(oid)
        opened, high, low = int(goog.open[i]), int(goog.high[i]), int(goog.low[i])
        reached = high >= stop if side == "buy" else low <= stop
        if not reached:
            assert o.status is OrderStatus.CANCELED, (i, side, o.status)
            assert o.cum_qty == 0
            continue
        assert o.status is OrderStatus.FILLED, (i, side, stop, o.status)
        gap = opened >= stop if side == "buy" else opened <= stop
        assert prices(broker, oid) == [(opened if gap else stop) * TICK], (i, side, stop)
        gapped += gap
        inside += not gap
    # Both cases happen many times on nine years of GOOG.
    assert inside > 300, inside
    assert gapped > 20, gapped


def test_a_bracket_on_bars_keeps_its_take_profit_until_the_stop_fills() -> None:
    broker = broker_on(two_days())  # day 2 falls from 102 to 96 through the stop at 98
    events: list[OrderEvent] = []
    broker.subscribe(events.append)
    broker.run(until_ns=21 * NS_PER_DAY)
    entry = broker.submit(
        order(
            "buy",
            100,
            type=OrderType.MARKET,
            order_class=OrderClass.BRACKET,
            take_profit=TakeProfit(limit_price=D("105.00")),
            stop_loss=StopLoss(stop_price=D("98.00")),
        )
    )
    assert entry.status is OrderStatus.NEW  # decided after the close: waits for the next open
    broker.run()
    assert prices(broker, entry.id) == [D("100.00")]
    tp, sl = broker.manager.group(entry.id).exits
    assert broker.get_order(sl.id).status is OrderStatus.FILLED
    assert prices(broker, sl.id) == [D("98.00")]
    assert broker.get_order(tp.id).status is OrderStatus.CANCELED
    sl_fill = next(k for k, e in enumerate(events) if e.order_id == sl.id and e.fill)
    tp_cancel = next(
        k for k, e in enumerate(events) if e.order_id == tp.id and e.kind is EventKind.CANCELED
    )
    assert sl_fill < tp_cancel
    assert broker.positions() == {}


@pytest.mark.parametrize("spread", [0, 1])
def test_a_trailing_stop_on_bars_fills_at_its_stop_not_at_the_low(spread: int) -> None:
    broker = broker_on(two_days(), spread=spread)
    broker.run(until_ns=21 * NS_PER_DAY)
    broker.submit(order("buy", 100, type=OrderType.MARKET))
    trail = broker.submit(order("sell", 100, type=OrderType.TRAILING_STOP, trail_price=D("1.50")))
    broker.run()
    # The water mark reaches 102 (stop 100.50); the fall to 96 passes through the stop.
    assert broker.get_order(trail.id).status is OrderStatus.FILLED
    assert prices(broker, trail.id) == [D("100.50")]


def test_scripted_path_fills_a_stop_and_a_trailing_stop_at_the_print_past_them(
    sim: SimHarness,
) -> None:
    sim.quote("100.00", "100.01", size=1_000)
    sim.market("buy", 200)
    stop = sim.submit(order("sell", 100, "TEST", type=OrderType.STOP, stop_price=D("99.50")))
    trail = sim.submit(
        order("sell", 100, "TEST", type=OrderType.TRAILING_STOP, trail_price=D("1.00"))
    )
    sim.path("100.20", "100.60")
    assert sim.broker.trailing_state(trail.id) == (D("99.60"), D("100.60"))
    sim.path("99.40")  # the print sweeps every bid: nothing displayed is left for the stops
    sim.assert_filled(trail, qty=100, price="99.40")
    sim.assert_filled(stop, qty=100, price="99.40")
    assert sim.broker.positions() == {}


@pytest.mark.parametrize(("fill_at", "field"), [("next_open", "open"), ("close", "close")])
def test_a_market_order_between_daily_bars_fills_at_the_next_open_or_at_the_close(
    goog: Bars, fill_at: BarFill, field: str
) -> None:
    i = 100  # decided after bar 99 closed, before bar 100 opens
    assert goog.open[i] != goog.close[i - 1]
    broker = broker_on(goog, fill_at)
    broker.run(until_ns=int(goog.time_ns[i]))
    buy = broker.submit(order("buy", 10, type=OrderType.MARKET))
    sell = broker.submit(order("sell", 10, type=OrderType.MARKET))
    broker.run(until_ns=int(goog.time_ns[i + 1]))
    want = goog.open[i] if fill_at == "next_open" else goog.close[i - 1]
    for o in (buy, sell):
        assert prices(broker, o.id) == [int(want) * TICK], field


def test_bars_feed_refuses_an_unknown_fill_mode(goog: Bars) -> None:
    with pytest.raises(MarketDataError, match="fill_at"):
        bars_feed(goog, fill_at="open")  # type: ignore[arg-type]


def test_quotes_and_trades_a_triggered_stop_without_displayed_size_fills_at_the_print() -> None:
    ns = 1_700_000_000 * 10**9
    t = np.array([ns, ns + 1_000, ns + 2_000], np.int64)
    quotes = Quotes(
        "q",
        t[:2],
        np.array([10_000, 10_000]),
        np.array([5, 0]),  # the second quote empties the bid
        np.array([10_001, 10_001]),
        np.array([5, 5]),
    )
    trades = Trades(
        "t", t[2:], np.array([9_990]), np.array([50]), np.array([-1], np.int8), np.array(["1"])
    )
    venue = Venue("SIM", calendar=None)
    venue.add(Instrument(symbol="X", tick_size=TICK), quotes_trades_feed(quotes, trades))
    broker = SimulatedBroker(venue, cash=D(1_000_000))
    broker.run(until_ns=ns + 1)
    stop = broker.submit(order("sell", 20, "X", type=OrderType.STOP, stop_price=D("99.95")))
    broker.run()
    o = broker.get_order(stop.id)
    assert o.status is OrderStatus.FILLED, o.status
    assert prices(broker, stop.id) == [D("99.90")]


def _book_triggers(stops: list[tuple[int, int, int]]) -> list[int]:
    book = _core.OrderBook()
    book.add_resting(1_000, 1, 98, 1_000)
    for oid, side, stop in stops:
        book.submit_stop(oid, side, stop, 1)
    book.submit_market(2_000, -1, 10)
    ids, status, *_ = book.take_events()
    return [int(i) for i, s in zip(ids, status, strict=True) if s == Status.TRIGGERED]


def _sim_triggers(stops: list[tuple[int, int, int]]) -> list[int]:
    feed = _core.Feed.from_columns(
        np.array([1, 2], np.int64),
        np.array([FeedKind.ADD, FeedKind.EXECUTE], np.uint8),
        np.array([1_000, 1_000], np.uint64),
        np.array([1, 1], np.int8),
        np.array([98, 98], np.int64),
        np.array([1_000, 10], np.int64),
    )
    engine = _core.SimEngine(feed, check=False)
    engine.run(1, stop_on_user=False)
    for oid, side, stop in stops:
        engine.submit_stop(oid, side, stop, 1)
    engine.run(stop_on_user=False)
    return [e[1] for e in engine.take_events() if e[0] == _TRIGGERED]


def test_the_book_and_the_simulator_trigger_the_same_stops_in_the_same_order() -> None:
    """One stop engine: nearest stop first (buy stops before sell stops), then submission."""
    stops = [(1, -1, 99), (2, -1, 100)]  # the farther stop submitted first
    assert _book_triggers(stops) == _sim_triggers(stops) == [2, 1]


@given(st.lists(st.tuples(st.sampled_from([1, -1]), st.integers(95, 101)), max_size=8))
def test_the_book_and_the_simulator_agree_on_any_stops(stops: list[tuple[int, int]]) -> None:
    numbered = [(i + 1, side, stop) for i, (side, stop) in enumerate(stops)]
    book = _book_triggers(numbered)
    assert book == _sim_triggers(numbered)
    reached = [s for s in numbered if (s[2] <= 98 if s[1] == 1 else s[2] >= 98)]
    want = sorted(reached, key=lambda s: (s[1] == -1, s[2] * s[1], s[0]))
    assert book == [s[0] for s in want]


def test_sim_engine_run_releases_the_gil() -> None:
    """A long replay runs without the GIL: this thread keeps running while another replays."""
    n = 1_000_000
    t = np.arange(n, dtype=np.int64)
    side = np.where(t % 2 == 0, 1, -1).astype(np.int8)
    price = np.where(side == 1, 100 - (t // 2) % 3, 101 + (t // 2) % 3)
    feed = _core.Feed.from_columns(
        t, np.full(n, FeedKind.QUOTE, np.uint8), np.zeros(n, np.uint64), side, price, t % 7 + 1
    )
    engine = _core.SimEngine(feed)
    worker = threading.Thread(target=lambda: engine.run(stop_on_user=False))
    turns = 0
    worker.start()
    while worker.is_alive():
        time.sleep(0.001)
        turns += 1
    worker.join()
    assert engine.done
    # Holding the GIL, the replay (hundreds of ms) would stall this loop for all of it.
    assert turns >= 20, turns
