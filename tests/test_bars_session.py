"""Daily bars laid on the venue's sessions (``bars_feed(session=...)``): the bar is seen while the
venue is open, DAY orders expire after the close print, and an order that waits for the open
fills at the next bar's open, never at a price it could not have had."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import numpy as np
import pytest

from fillforge import Instrument, OrderRequest, OrderSide, OrderStatus, OrderType
from fillforge.errors import MarketDataError
from fillforge.marketdata import NS_PER_DAY, Bars, load_bars
from fillforge.orders.enums import OrderTimeInForce
from fillforge.replay import spy_daily_sample
from fillforge.sim import SimulatedBroker, Venue, bars_feed
from fillforge.sim.calendar import TradingCalendar
from fillforge.time import from_datetime

D = Decimal
UTC = dt.UTC


@pytest.fixture(scope="module")
def spy() -> Bars:
    return load_bars(spy_daily_sample(), tick="0.01")


def broker(bars: Bars, **feed: object) -> SimulatedBroker:
    venue = Venue("SIM", calendar="XNYS")
    venue.add(Instrument(symbol="SPY"), bars_feed(bars, session="XNYS", **feed))  # type: ignore[arg-type]
    return SimulatedBroker(venue, cash=D(1_000_000))


def market(side: str, qty: int = 10) -> OrderRequest:
    return OrderRequest(symbol="SPY", side=OrderSide(side), qty=D(qty), type=OrderType.MARKET)


def cents(x: object) -> Decimal:
    return D(int(x)) / 100  # type: ignore[call-overload]


def test_each_bar_runs_from_its_session_open_to_its_close(spy: Bars) -> None:
    b = broker(spy)
    open_ns = from_datetime(dt.datetime(2016, 1, 4, 14, 30, tzinfo=UTC))
    close_ns = from_datetime(dt.datetime(2016, 1, 4, 21, 0, tzinfo=UTC))
    b.run(until_ns=open_ns)
    assert b.last_trade("SPY") is None  # nothing before the bell
    b.run(until_ns=open_ns + 1)
    first = b.last_trade("SPY")
    assert first is not None
    assert first.price == cents(spy.open[0])
    b.run(until_ns=close_ns)
    last = b.last_trade("SPY")
    assert last is not None
    assert last.price == cents(spy.close[0])
    assert last.timestamp_ns == close_ns - 1


def test_an_early_close_ends_the_bar_early(spy: Bars) -> None:
    day = dt.date(2016, 11, 25)  # the day after Thanksgiving: 13:00 New York
    i = int(np.searchsorted(spy.time_ns, (day - dt.date(1970, 1, 1)).days * NS_PER_DAY))
    b = broker(spy)
    close_ns = from_datetime(dt.datetime(2016, 11, 25, 18, 0, tzinfo=UTC))
    b.run(until_ns=close_ns)
    last = b.last_trade("SPY")
    assert last is not None
    assert last.timestamp_ns == close_ns - 1
    assert last.price == cents(spy.close[i])


def test_a_market_order_decided_after_the_close_fills_at_the_next_open(spy: Bars) -> None:
    b = broker(spy)
    b.run(until_ns=int(spy.time_ns[1]))  # midnight after day 0: closed
    o = b.submit(market("buy"))
    assert o.status is OrderStatus.ACCEPTED  # accepted, waiting for the open
    b.run(until_ns=int(spy.time_ns[2]))
    done = b.get_order(o.id)
    assert done.status is OrderStatus.FILLED
    assert done.avg_price == cents(spy.open[1]) != cents(spy.close[0])


def test_a_day_order_works_the_whole_session_and_expires_at_its_close(spy: Bars) -> None:
    b = broker(spy)
    open_ns = from_datetime(dt.datetime(2016, 1, 4, 14, 30, tzinfo=UTC))
    b.run(until_ns=open_ns + 1)
    far = cents(spy.low[0]) - D(5)  # never reached that day
    o = b.submit(
        OrderRequest(
            symbol="SPY",
            side=OrderSide.BUY,
            qty=D(1),
            type=OrderType.LIMIT,
            limit_price=far,
            time_in_force=OrderTimeInForce.DAY,
        )
    )
    close_ns = from_datetime(dt.datetime(2016, 1, 4, 21, 0, tzinfo=UTC))
    b.run(until_ns=close_ns - 1)
    assert b.get_order(o.id).status is OrderStatus.NEW  # working through the session
    b.run(until_ns=close_ns)
    last = b.last_trade("SPY")
    assert last is not None
    assert last.timestamp_ns == close_ns - 1
    assert b.get_order(o.id).status is OrderStatus.EXPIRED  # then the session ended


def test_session_is_refused_for_intraday_bars_and_for_days_without_a_session() -> None:
    minute = 60 * 10**9
    times = np.array([0, minute], np.int64)
    px = np.array([100, 100], np.int64)
    intraday = Bars("m", minute, times, px, px, px, px, np.ones(2))
    with pytest.raises(MarketDataError) as e:
        bars_feed(intraday, session="XNYS")
    assert e.value.field == "session"
    saturday = (dt.date(2016, 1, 2) - dt.date(1970, 1, 1)).days * NS_PER_DAY
    daily = Bars("d", NS_PER_DAY, np.array([saturday], np.int64), *([px[:1]] * 4), np.ones(1))
    with pytest.raises(MarketDataError) as e:
        bars_feed(daily, session=TradingCalendar("XNYS"))
    assert (e.value.field, e.value.value) == ("session", "2016-01-02")
