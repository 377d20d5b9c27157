"""Market data through the broker: latest quote and trade, subscriptions to quotes, trades and
bars, on the simulated broker and on AlpacaBroker against the served fixture (unmodified
alpaca-py); and one strategy that runs unchanged on both."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import numpy as np
import pytest
import requests
from alpaca.data.historical import StockHistoricalDataClient
from alpaca.data.requests import StockLatestBarRequest, StockLatestTradeRequest
from polling import eventually
from served_helpers import alpaca_broker

from fillforge.alpaca.broker import AlpacaBroker
from fillforge.alpaca.server import AlpacaServer
from fillforge.broker import Bar, Broker, Quote, Trade
from fillforge.errors import SimulationError, SubscriptionError
from fillforge.marketdata.columns import Quotes, Trades
from fillforge.orders.enums import OrderSide, OrderStatus, OrderType
from fillforge.orders.models import Instrument, OrderEvent, OrderRequest
from fillforge.sim import market_data
from fillforge.sim.broker import SimulatedBroker
from fillforge.sim.feeds import empty_feed, quotes_trades_feed
from fillforge.sim.venue import Venue
from fillforge.time import NS_PER_SECOND

D = Decimal
MS = 1_000_000
MINUTE = 60 * NS_PER_SECOND


def _scripted(*symbols: str) -> SimulatedBroker:
    venue = Venue(calendar=None)
    for s in symbols:
        venue.add(Instrument(symbol=s), empty_feed())
    return SimulatedBroker(venue, start_ns=1_000)


def _replayed() -> SimulatedBroker:
    """TEST and OTHER each replay two quotes then two trades; TEST's second trade a minute on."""
    venue = Venue(calendar=None)
    for i, s in enumerate(("TEST", "OTHER")):
        t0 = 1_000 + i
        q = Quotes(
            "t",
            np.array([t0, t0 + 100], np.int64),
            np.array([10_000, 10_001], np.int64),
            np.array([50, 60], np.int64),
            np.array([10_010, 10_010], np.int64),
            np.array([70, 70], np.int64),
        )
        tr = Trades(
            "t",
            np.array([t0 + 200, t0 + MINUTE + 300], np.int64),
            np.array([10_001, 10_002], np.int64),
            np.array([5, 7], np.int64),
            np.array([-1, 1], np.int8),
            np.array(["a", "b"]),
        )
        venue.add(Instrument(symbol=s), quotes_trades_feed(q, tr))
    return SimulatedBroker(venue, start_ns=0)


# ----- the simulated broker ------------------------------------------------------------------


def test_latest_quote_and_last_trade_on_demand() -> None:
    b = _scripted("TEST")
    assert b.latest_quote("TEST") is None  # no data yet: None
    assert b.last_trade("TEST") is None
    b.quote("TEST", D("100.00"), D("100.02"), bid_size=D(300), ask_size=D(200), ts=2_000)
    q = b.latest_quote("TEST")
    assert q == Quote(
        symbol="TEST",
        bid_price=D("100.00"),
        bid_size=D(300),
        ask_price=D("100.02"),
        ask_size=D(200),
        timestamp_ns=2_000,
    )
    b.quote("TEST", None, D("100.02"), ts=2_500)  # one side: the other has no price
    q = b.latest_quote("TEST")
    assert q is not None
    assert (q.bid_price, q.bid_size, q.ask_price) == (None, 0, D("100.02"))
    b.trade("TEST", D("100.02"), D(40), aggressor=OrderSide.BUY, ts=3_000)
    assert b.last_trade("TEST") == Trade(
        symbol="TEST", price=D("100.02"), size=D(40), timestamp_ns=3_000
    )
    with pytest.raises(SimulationError) as e:
        b.latest_quote("NOPE")
    assert (e.value.field, e.value.value) == ("symbol", "NOPE")


def test_last_trade_of_a_replay_is_the_last_print_applied() -> None:
    b = _replayed()
    b.run(until_ns=1_100)
    assert b.last_trade("TEST") is None
    q = b.latest_quote("TEST")
    assert q is not None
    assert (q.bid_price, q.bid_size, q.timestamp_ns) == (D("100.00"), 50, 1_000)
    b.run(until_ns=1_500)
    assert b.last_trade("TEST") == Trade(
        symbol="TEST", price=D("100.01"), size=D(5), timestamp_ns=1_200
    )
    b.run()
    t = b.last_trade("TEST")
    assert t is not None
    assert (t.price, t.size, t.timestamp_ns) == (D("100.02"), D(7), 1_000 + MINUTE + 300)


def test_subscriptions_deliver_changes_and_only_subscribed_markets_pay(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    b = _replayed()
    observed: list[str] = []
    real = market_data.SimMarketData.watching

    def counting(
        self: market_data.SimMarketData, symbol: str
    ) -> tuple[tuple[Callable[[Any], None], ...], bool]:
        observed.append(symbol)  # a watched run of this market's engine
        return real(self, symbol)

    monkeypatch.setattr(market_data.SimMarketData, "watching", counting)
    quotes: list[Quote] = []
    trades: list[Trade] = []
    bars: list[Bar] = []
    b.subscribe_quotes("TEST", quotes.append)
    b.subscribe_trades("TEST", trades.append)
    stop_bars = b.subscribe_bars("TEST", bars.append)
    b.run()
    assert set(observed) == {"TEST"}  # OTHER ran in batches: no Python call per message
    # One quote per instant (a quote row's two sides together), and the size a print took.
    assert [(q.bid_price, q.bid_size, q.ask_price, q.timestamp_ns) for q in quotes] == [
        (D("100.00"), 50, D("100.10"), 1_000),
        (D("100.01"), 60, D("100.10"), 1_100),
        (D("100.01"), 55, D("100.10"), 1_200),
    ]
    assert [(t.price, t.size) for t in trades] == [(D("100.01"), 5), (D("100.02"), 7)]
    # The first minute's bar is delivered at the first print of a later minute.
    assert bars == [
        Bar(
            symbol="TEST",
            open=D("100.01"),
            high=D("100.01"),
            low=D("100.01"),
            close=D("100.01"),
            volume=D(5),
            trade_count=1,
            vwap=D("100.01"),
            timestamp_ns=0,
            period_ns=MINUTE,
        )
    ]
    stop_bars()
    stop_bars()  # a second call is a no-op
    b.trade("TEST", D("100.05"), D(1), ts=3 * MINUTE)
    assert len(bars) == 1
    assert trades[-1].price == D("100.05")


def test_quote_subscribers_see_changes_of_the_top_only() -> None:
    b = _scripted("TEST")
    b.quote("TEST", D("10.00"), D("10.02"))
    seen: list[Quote] = []
    b.subscribe_quotes("TEST", seen.append)
    b.quote("TEST", D("10.00"), D("10.02"))  # the same top: nothing new
    b.quote("TEST", D("10.01"), D("10.02"))
    assert [q.bid_price for q in seen] == [D("10.01")]


def test_subscription_refusals() -> None:
    b = _scripted("TEST")
    with pytest.raises(SimulationError):
        b.subscribe_trades("NOPE", print)
    with pytest.raises(SubscriptionError) as e:
        b.subscribe_trades("TEST", "not callable")  # type: ignore[arg-type]
    assert e.value.field == "callback"


# ----- AlpacaBroker against the served fixture -----------------------------------------------


@pytest.fixture
def live(alpaca_server: AlpacaServer) -> AlpacaBroker:
    b = alpaca_broker(
        alpaca_server,
        data_poll_every=0.02,
    )
    yield b  # type: ignore[misc]
    b.close()


def _script(server: AlpacaServer, fn: Callable[[SimulatedBroker], None]) -> None:
    server.call(fn)


def test_alpaca_latest_quote_and_trade(alpaca_server: AlpacaServer, live: AlpacaBroker) -> None:
    assert live.latest_quote("AAPL") is None  # no data yet: None, as on the simulator
    assert live.last_trade("AAPL") is None
    assert live.latest_quote("NOPE") is None  # Alpaca leaves unknown symbols out
    _script(alpaca_server, lambda b: b.quote("AAPL", D("100.00"), D("100.02"), bid_size=D(300)))
    _script(alpaca_server, lambda b: b.trade("AAPL", D("100.01"), D(7)))
    q = live.latest_quote("AAPL")
    assert q is not None
    assert (q.bid_price, q.bid_size, q.ask_price, q.ask_size) == (
        D("100.00"),
        D(300),
        D("100.02"),
        D(100),
    )
    t = live.last_trade("AAPL")
    assert t is not None
    assert (t.price, t.size) == (D("100.01"), D(7))
    now = alpaca_server.call(lambda b: b.now())
    assert abs(t.timestamp_ns - now) < 5 * NS_PER_SECOND


def test_alpaca_py_trade_and_bar_routes(alpaca_server: AlpacaServer) -> None:
    data = StockHistoricalDataClient(
        alpaca_server.key_id, alpaca_server.secret_key, url_override=alpaca_server.base_url
    )
    assert data.get_stock_latest_bar(StockLatestBarRequest(symbol_or_symbols="AAPL")) == {}
    t0 = alpaca_server.call(lambda b: b.now())
    _script(alpaca_server, lambda b: b.quote("AAPL", D("100.00"), D("100.10")))
    _script(alpaca_server, lambda b: b.trade("AAPL", D("100.05"), D(3)))
    _script(alpaca_server, lambda b: b.trade("MSFT", D("50.00"), D(2)))
    got = data.get_stock_latest_trade(
        StockLatestTradeRequest(symbol_or_symbols=["AAPL", "MSFT", "NOPE", "SPY"])
    )
    assert {s: (t.price, t.size) for s, t in got.items()} == {
        "AAPL": (100.05, 3.0),
        "MSFT": (50.0, 2.0),
    }
    h = {"APCA-API-KEY-ID": alpaca_server.key_id, "APCA-API-SECRET-KEY": alpaca_server.secret_key}
    url = alpaca_server.base_url + "/v2/stocks/{}/trades/latest"
    one = requests.get(url.format("AAPL"), headers=h, timeout=10)
    assert one.status_code == 200
    assert (one.json()["symbol"], one.json()["trade"]["p"]) == ("AAPL", 100.05)
    assert requests.get(url.format("SPY"), headers=h, timeout=10).status_code == 404
    # A print in a later minute completes the bar of the minute the server started keeping.
    # The server keeps bars from the first ask; a print in a later minute completes one.
    _script(alpaca_server, lambda b: b.trade("AAPL", D("100.07"), D(4), ts=t0 + 2 * MINUTE))
    bar = data.get_stock_latest_bar(StockLatestBarRequest(symbol_or_symbols="AAPL"))["AAPL"]
    assert (bar.open, bar.close, bar.volume, bar.trade_count) == (100.05, 100.05, 3.0, 1)
    _script(alpaca_server, lambda b: b.trade("AAPL", D("100.09"), D(1), ts=t0 + 4 * MINUTE))
    bar = data.get_stock_latest_bar(StockLatestBarRequest(symbol_or_symbols="AAPL"))["AAPL"]
    assert (bar.open, bar.close, bar.volume, bar.vwap) == (100.07, 100.07, 4.0, 100.07)


def test_alpaca_subscriptions_poll_the_data_client(
    alpaca_server: AlpacaServer, live: AlpacaBroker
) -> None:
    _script(alpaca_server, lambda b: b.quote("AAPL", D("100.00"), D("100.02")))
    quotes: list[Quote] = []
    trades: list[Trade] = []
    got = threading.Event()

    def on_trade(t: Trade) -> None:
        trades.append(t)
        got.set()

    stop = live.subscribe_quotes("AAPL", quotes.append)
    live.subscribe_trades("AAPL", on_trade)
    time.sleep(0.1)
    assert quotes == []  # the quote before the subscription is not delivered
    _script(alpaca_server, lambda b: b.quote("AAPL", D("100.01"), D("100.03")))
    _script(alpaca_server, lambda b: b.trade("AAPL", D("100.03"), D(2), aggressor=OrderSide.BUY))
    assert got.wait(5)
    eventually(lambda: bool(quotes), 5, 0.01)
    assert quotes[-1].bid_price == D("100.01")
    assert (trades[0].price, trades[0].size) == (D("100.03"), D(2))
    stop()


# ----- one strategy, both brokers ------------------------------------------------------------


class JoinTheBid:
    """A strategy written against the Broker interface only: 20 ms after it starts it buys 10
    at the best bid, once."""

    def __init__(self, broker: Broker, symbol: str, now_ns: int) -> None:
        self.broker, self.symbol = broker, symbol
        self.order_id: str | None = None
        self.events: list[OrderEvent] = []
        self.done = threading.Event()
        broker.subscribe(self.events.append)
        broker.set_timer("join", self.on_timer, at_ns=now_ns + 20 * MS)

    def on_timer(self, t: int) -> None:
        q = self.broker.latest_quote(self.symbol)
        assert q is not None
        assert q.bid_price is not None
        o = self.broker.submit(
            OrderRequest(
                symbol=self.symbol,
                side=OrderSide.BUY,
                qty=D(10),
                type=OrderType.LIMIT,
                limit_price=q.bid_price,
            )
        )
        self.order_id = o.id
        self.done.set()


def _check(strategy: JoinTheBid, broker: Broker) -> None:
    assert strategy.order_id is not None
    o = broker.get_order(strategy.order_id)
    assert (o.limit_price, o.order_qty) == (D("100.00"), D(10))
    assert o.status in (OrderStatus.NEW, OrderStatus.PENDING_NEW)


def test_one_strategy_on_the_simulated_broker() -> None:
    b = _scripted("AAPL")
    b.quote("AAPL", D("100.00"), D("100.02"))
    s = JoinTheBid(b, "AAPL", b.now())
    b.run(until_ns=b.now() + 50 * MS)
    assert s.done.is_set()
    _check(s, b)


def test_one_strategy_on_alpaca(alpaca_server: AlpacaServer, live: AlpacaBroker) -> None:
    _script(alpaca_server, lambda b: b.quote("AAPL", D("100.00"), D("100.02")))
    live.connect()
    s = JoinTheBid(live, "AAPL", time.time_ns())
    assert s.done.wait(5)
    _check(s, live)
