"""Feeds from every source in ../shared/data, replayed by the engine with user orders in them."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from fillforge import _core
from fillforge.codes import EngineEvent
from fillforge.errors import InvalidOrderError, MarketDataError, ReplayError
from fillforge.marketdata import (
    load_bars,
    load_databento_mbo_csv,
    load_tardis_quotes,
    load_tardis_trades,
)
from fillforge.orders.enums import OrderSide, OrderStatus, OrderTimeInForce, OrderType
from fillforge.orders.models import Instrument, OrderRequest
from fillforge.sim import (
    FeedKind,
    SimulatedBroker,
    Venue,
    bars_feed,
    lobster_feed,
    mbo_feed,
    quotes_trades_feed,
)

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
CRYPTO = DATA / "crypto_ticks"
FILL = EngineEvent.FILL


@pytest.fixture(scope="module")
def sp500() -> _core.Feed:
    bars = load_bars(DATA / "bars/intraday/SP500_index_1m_2019-11-05_2019-11-08.csv", tick="0.01")
    return bars_feed(bars, qty_per_point=1_000)


def test_bar_path_is_open_nearer_extreme_other_extreme_close() -> None:
    bars = load_bars(
        DATA / "bars/daily/GOOG_daily_2004-08-19_2013-03-01_unadjusted.csv", tick="0.01"
    )
    feed = bars_feed(bars)
    _, kind, oid, _, price, _ = feed.columns()
    trades = price[kind == FeedKind.TRADE].reshape(len(bars), 4)
    o, h, lo, c = bars.open, bars.high, bars.low, bars.close
    assert (trades[:, 0] == o).all()
    assert (trades[:, 3] == c).all()
    nearer_high = np.abs(h - o) <= np.abs(o - lo)
    assert (trades[:, 1] == np.where(nearer_high, h, lo)).all()
    assert (trades[:, 2] == np.where(nearer_high, lo, h)).all()
    # Daily bars: every bar is a session, with an opening and a closing auction.
    auctions = oid[kind == FeedKind.AUCTION]
    assert (auctions == np.tile([0, 1], len(bars))).all()
    # The open print comes after the open's quotes, so an order entered at the open sees them.
    first_bar = kind[: np.flatnonzero(kind == FeedKind.AUCTION)[1] + 1]
    assert list(first_bar[:4]) == [FeedKind.QUOTE, FeedKind.QUOTE, FeedKind.AUCTION, FeedKind.TRADE]


def test_bars_never_fill_at_a_price_the_bar_did_not_trade(sp500: _core.Feed) -> None:
    rng = np.random.default_rng(7)
    bars = load_bars(DATA / "bars/intraday/SP500_index_1m_2019-11-05_2019-11-08.csv", tick="0.01")
    e = _core.SimEngine(sp500)
    oid = washes = 0
    fills = []
    while not e.done:
        e.run(int(rng.integers(1, 60)), stop_on_user=False)
        fills += [ev for ev in e.take_events() if ev[0] == FILL]
        last = e.last_trade
        if last is None:
            continue
        oid += 1
        side = 1 if rng.random() < 0.5 else -1
        offset = int(rng.integers(-300, 300))
        price = None if rng.random() < 0.2 else last + offset
        try:
            e.submit(oid, side, price, 1, 0 if price is not None else 2)
        except InvalidOrderError as err:  # would trade with one of our own resting orders
            washes += "wash trade" in str(err)
    assert len(fills) > 300
    assert washes > 0
    bar_of = np.searchsorted(bars.time_ns, [f[7] for f in fills], side="right") - 1
    for f, b in zip(fills, bar_of, strict=True):
        assert bars.low[b] <= f[2] <= bars.high[b], (f, b)


def test_auction_orders_fill_at_the_print(sp500: _core.Feed) -> None:
    bars = load_bars(DATA / "bars/intraday/SP500_index_1m_2019-11-05_2019-11-08.csv", tick="0.01")
    venue = Venue("IDX", calendar="XNYS")
    venue.add(Instrument(symbol="SPX"), sp500)
    broker = SimulatedBroker(venue, cash=Decimal(10**9))
    open_price = Decimal(int(bars.open[0])) / 100
    loo = broker.submit(
        OrderRequest(
            symbol="SPX",
            side=OrderSide.BUY,
            type=OrderType.LIMIT,
            limit_price=open_price + 5,
            qty=Decimal(1),
            time_in_force=OrderTimeInForce.OPG,
        )
    )
    broker.run(max_messages=10)
    assert loo.status is OrderStatus.FILLED
    assert next(iter(loo.fills.values())).price == open_price  # the auction price, not the limit
    moc = broker.submit(
        OrderRequest(
            symbol="SPX",
            side=OrderSide.SELL,
            type=OrderType.MARKET,
            qty=Decimal(1),
            time_in_force=OrderTimeInForce.CLS,
        )
    )
    broker.run(max_messages=20_000)
    assert moc.status is OrderStatus.FILLED
    # The 16:00 bar (row 390) closes the first session.
    assert next(iter(moc.fills.values())).price == Decimal(int(bars.close[390])) / 100


def test_tardis_quotes_and_trades_respect_queue_position() -> None:
    q = load_tardis_quotes(
        CRYPTO / "tardis_binance-futures_BTCUSDT_quotes_2020-02-22.csv", tick="0.01", lot="0.001"
    )
    tr = load_tardis_trades(
        CRYPTO / "tardis_binance-futures_BTCUSDT_trades_2020-02-22.csv", tick="0.01", lot="0.001"
    )
    feed = quotes_trades_feed(q, tr)
    assert len(feed) == 2 * len(q) + len(tr)
    _, kind, _, side, price, qty = feed.columns()
    e = _core.SimEngine(feed)
    e.run(1000, stop_on_user=False)
    best = e.best_bid()
    assert best is not None
    bid, shown = best
    e.submit(1, 1, bid, 5, 0)
    assert e.user_order(1) == (1, bid, 5, shown)  # behind everything displayed
    e.take_events()
    ahead = shown
    while True:
        m = e.position
        e.run(1)
        events = e.take_events()
        if events:
            break
        now_ahead = e.user_order(1)[3]  # type: ignore[index]
        assert now_ahead <= ahead, "size joining the level queues behind us"
        ahead = now_ahead
    assert events[0][:2] == (FILL, 1)
    # A trade taking the bids through our price once too little was left ahead fills us at our
    # price; an offer moving onto or through our price fills us at the offer.
    if kind[m] == FeedKind.TRADE:
        assert (side[m], events[0][2]) == (1, bid)
        assert price[m] <= bid
        assert qty[m] > ahead
    else:
        assert (kind[m], side[m]) == (FeedKind.QUOTE, -1)
        assert events[0][2] == price[m] <= bid


def test_mbo_feed_rebuilds_the_cme_book() -> None:
    records = load_databento_mbo_csv(
        DATA / "cme_mbo/ESH4_GLBX-MDP3_2023-12-25_mbo.csv", tick="0.25"
    )
    e = _core.SimEngine(mbo_feed(records))
    e.run(stop_on_user=False)
    # The README's check: the final best bid / ask is 4810.00 / 4810.25.
    assert e.best_bid()[0] == 4810 * 4  # type: ignore[index]
    assert e.best_ask()[0] == 4810 * 4 + 1  # type: ignore[index]
    assert e.stats()["unknown_order_refs"] == 0
    e.check_invariants()


def test_lobster_feed_needs_prices_on_its_grid(tmp_path: Path) -> None:
    msg = tmp_path / "X_2012-06-21_34200000_57600000_message_1.csv"
    book = tmp_path / "X_2012-06-21_34200000_57600000_orderbook_1.csv"
    msg.write_text("34200.1,1,1,100,1000050,1\n")
    book.write_text("1000100,100,1000050,100\n")
    with pytest.raises(ReplayError, match="not a multiple of 100"):
        lobster_feed(msg, book)
    with pytest.raises(MarketDataError) as e:
        lobster_feed(tmp_path / "nodate.csv", book)
    assert e.value.field == "day"


def test_feed_columns_are_validated() -> None:
    z = np.zeros(2, np.int64)
    kind = np.array([1, 1], np.uint8)
    ids = np.array([1, 2], np.uint64)
    side = np.array([1, 1], np.int8)
    with pytest.raises(ReplayError, match="time_ns"):
        _core.Feed.from_columns(np.array([2, 1]), kind, ids, side, z + 100, z + 1)
    with pytest.raises(ReplayError, match="qty"):
        _core.Feed.from_columns(z, kind, ids, side, z + 100, z)
    with pytest.raises(ReplayError, match="kind"):
        _core.Feed.from_columns(z, kind + 40, ids, side, z + 100, z + 1)
    with pytest.raises(ReplayError, match="int64"):
        _core.Feed.from_columns(z.astype(np.int32), kind, ids, side, z + 100, z + 1)  # type: ignore[arg-type]
