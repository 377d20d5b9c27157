"""A subscribed market's engine runs in watched stretches (``SimEngine.run_watched``): it stops
after a message that changed a user order, printed, or ended an instant with a new recorded top.
The broker delivers exactly what stepping message by message and reading the book at each
instant's end would deliver (the rule before the watched run): property-tested on random tapes,
plus the engine's own contract (the top it last handed out, the flags, the budget and bound)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from fillforge import _core
from fillforge.broker import Quote, Trade
from fillforge.marketdata.columns import Quotes, Trades
from fillforge.orders.enums import OrderSide, OrderType
from fillforge.orders.models import Instrument, OrderRequest
from fillforge.sim.broker import SimulatedBroker
from fillforge.sim.feeds import FeedKind, quotes_trades_feed
from fillforge.sim.venue import Venue

D = Decimal
T0 = 1_700_000_000 * 10**9


def _tape(draw: Any) -> tuple[Quotes, Trades]:
    n = draw(st.integers(1, 40))
    times = np.cumsum(draw(st.lists(st.integers(0, 3), min_size=n, max_size=n))) + T0
    mids = 10_000 + np.cumsum(draw(st.lists(st.integers(-2, 2), min_size=n, max_size=n)))
    spread = np.array(draw(st.lists(st.integers(1, 3), min_size=n, max_size=n)))
    sizes = draw(st.lists(st.integers(1, 5), min_size=2 * n, max_size=2 * n))
    quotes = Quotes(
        "t",
        times.astype(np.int64),
        (mids - spread).astype(np.int64),
        np.array(sizes[:n], np.int64),
        (mids + spread).astype(np.int64),
        np.array(sizes[n:], np.int64),
    )
    k = draw(st.integers(0, n))
    picks = sorted(draw(st.lists(st.integers(0, n - 1), min_size=k, max_size=k)))
    trades = Trades(
        "t",
        times[picks].astype(np.int64),
        mids[picks].astype(np.int64),
        np.ones(len(picks), np.int64),
        np.array([1 if i % 2 else -1 for i in range(len(picks))], np.int64),
        np.array([str(i) for i in range(len(picks))]),
    )
    return quotes, trades


@st.composite
def tapes(draw: Any) -> tuple[Quotes, Trades]:
    return _tape(draw)


def _reference(feed: _core.Feed) -> tuple[list[tuple[Any, ...]], list[tuple[int, int, int]]]:
    """What stepping message by message delivers: the top at each instant's end when it moved
    (from the top at the start), and each print."""
    e = _core.SimEngine(feed, check=False)
    _t, kinds, _o, _s, prices, qtys = feed.columns()
    last = (e.best_bid(), e.best_ask())
    quotes, prints = [], []
    while e.run(1):
        i = e.position - 1
        if kinds[i] in (FeedKind.EXECUTE, FeedKind.HIDDEN, FeedKind.TRADE):
            prints.append((e.now, int(prices[i]), int(qtys[i])))
        if e.next_time != e.now:
            top = (e.best_bid(), e.best_ask())
            if top != last:
                last = top
                if top != (None, None):
                    quotes.append((e.now, top))
    return quotes, prints


def _ticks(q: Quote) -> tuple[int, tuple[Any, Any]]:
    def side(p: Decimal | None, s: Decimal) -> tuple[int, int] | None:
        return None if p is None else (int(p * 100), int(s))

    return q.timestamp_ns, (side(q.bid_price, q.bid_size), side(q.ask_price, q.ask_size))


@settings(max_examples=150, deadline=None)
@given(tapes())
def test_the_broker_delivers_what_stepping_message_by_message_delivers(
    tape: tuple[Quotes, Trades],
) -> None:
    quotes, trades = tape
    feed = quotes_trades_feed(quotes, trades)
    want_quotes, want_prints = _reference(feed)
    venue = Venue("V", calendar=None)
    venue.add(Instrument(symbol="X"), feed)
    b = SimulatedBroker(venue)
    got_q: list[Quote] = []
    got_t: list[Trade] = []
    b.subscribe_quotes("X", got_q.append)
    b.subscribe_trades("X", got_t.append)
    b.run()
    assert [_ticks(q) for q in got_q] == want_quotes
    assert [(t.timestamp_ns, int(t.price * 100), int(t.size)) for t in got_t] == want_prints


def _engine(rows: list[tuple[int, int, int, int, int]]) -> _core.SimEngine:
    t, kind, side, price, qty = zip(*rows, strict=True)
    return _core.SimEngine(
        _core.Feed.from_columns(
            np.array(t, np.int64),
            np.array(kind, np.uint8),
            np.zeros(len(t), np.uint64),
            np.array(side, np.int8),
            np.array(price, np.int64),
            np.array(qty, np.int64),
        )
    )


Q, TR = int(FeedKind.QUOTE), int(FeedKind.TRADE)
NOTHING = (False, False, False, 0, 0, 0, 0)  # no change, no print, the top not moved


def test_run_watched_stops_at_an_instants_end_with_a_new_top_and_says_why() -> None:
    e = _engine(
        [
            (10, Q, 1, 100, 5),
            (10, Q, -1, 102, 5),  # the instant ends here: the first top
            (20, Q, 1, 100, 5),
            (20, Q, -1, 102, 5),  # the same top again: nothing to hand out
            (30, TR, 1, 100, 2),  # a print (it takes 2 of the bid)
            (40, Q, 1, 101, 7),
            (40, Q, -1, 102, 5),
        ]
    )
    assert e.run_watched(quotes=True, prints=True) == (2, 10, False, False, True, 100, 5, 102, 5)
    assert e.run_watched(quotes=True, prints=True) == (3, 30, False, True, True, 100, 3, 102, 5)
    assert e.run_watched(quotes=True, prints=False) == (2, 40, False, False, True, 101, 7, 102, 5)
    assert e.run_watched() == (0, 40, False, False, False, 0, 0, 0, 0)  # the feed has ended


def test_run_watched_keeps_to_its_budget_and_bound_and_what_it_watches() -> None:
    rows = [(t, Q, s, 100 + t + (0 if s == 1 else 2), 5) for t in range(1, 6) for s in (1, -1)]
    e = _engine(rows)
    assert e.run_watched(1) == (1, 1, False, False, False, 0, 0, 0, 0)  # mid-instant
    assert e.run_watched(until_ns=4, quotes=False, prints=False) == (5, 3, *NOTHING)
    # the top it last handed out is still the start's: the next instant's end is a change
    assert e.run_watched() == (2, 4, False, False, True, 104, 5, 106, 5)
    e.reset_watched_top()
    assert e.take_top_change() is None
    e.run(1)  # half an instant: the bid moved
    assert e.take_top_change() == ((105, 5), (106, 5))
    assert e.take_top_change() is None  # handed out once


def test_a_callback_that_sends_an_order_is_served_before_the_next_quote() -> None:
    """A quote callback may trade: its order reaches the venue (no latency) before the next
    message, and the watched run hands the fill over before going on."""
    n = 50
    quotes = Quotes(
        "t",
        (T0 + np.arange(n) * 1_000).astype(np.int64),
        np.full(n, 9_999, np.int64),
        np.full(n, 10, np.int64),
        (10_001 + np.arange(n) % 3).astype(np.int64),
        np.full(n, 10, np.int64),
    )
    venue = Venue("V", calendar=None)
    venue.add(Instrument(symbol="X"), quotes_trades_feed(quotes))
    b = SimulatedBroker(venue, cash=D(10**7))
    seen: list[tuple[int, Decimal | None]] = []
    orders = []

    def on_quote(q: Quote) -> None:
        seen.append((q.timestamp_ns, q.ask_price))
        if len(orders) < 3:
            orders.append(
                b.submit(
                    OrderRequest(symbol="X", side=OrderSide.BUY, type=OrderType.MARKET, qty=D(1))
                )
            )

    b.subscribe_quotes("X", on_quote)
    b.run()
    assert len(seen) == n  # the ask moves at every instant
    assert [b.get_order(o.id).avg_price for o in orders] == [q for _, q in seen[:3]]
