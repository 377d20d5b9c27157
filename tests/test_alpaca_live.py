"""The acceptance matrix, portable: every row that does not need prices a test controls, written
once and run against two targets with the unmodified alpaca-py SDK:

- ``local``: fillforge's Alpaca-compatible server on the simulated exchange, fresh for each test;
- ``served``: ``fillforge serve alpaca`` in another process, one for the module, its clock in
  market hours: the paper target's code path (a long-lived account), run on every CI run;
- ``alpaca-paper``: a real Alpaca paper account, when ``APCA_API_KEY_ID`` and
  ``APCA_API_SECRET_KEY`` are set (skipped otherwise; ``FILLFORGE_ALPACA_PAPER=0`` opts out).
  ``APCA_API_BASE_URL`` points it at another Alpaca-compatible endpoint instead (such as
  ``fillforge serve alpaca`` in another process).

Each test names the row of ``docs/alpaca.md`` it runs (``test_live_a08_...`` is A08). Prices come
from the target's own latest quote (alpaca-py's ``StockHistoricalDataClient``; fillforge's server
serves it too), and resting orders are placed far from it, so nothing fills that a test does not
mean to fill. On a remote target, rows that need a fill skip while the market is closed, and rows
that act on the whole account (cancel-all, close-all) skip unless it has no other open orders or
positions. Every test cancels what it placed and closes what it bought.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest
import requests
from alpaca.common.exceptions import APIError
from alpaca.data.enums import DataFeed
from alpaca.data.historical import StockHistoricalDataClient
from alpaca.data.requests import StockLatestQuoteRequest
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderClass, OrderSide, OrderStatus, QueryOrderStatus, TimeInForce
from alpaca.trading.models import Order, TradeUpdate
from alpaca.trading.requests import (
    ClosePositionRequest,
    GetCalendarRequest,
    GetOrderByIdRequest,
    GetOrdersRequest,
    LimitOrderRequest,
    MarketOrderRequest,
    ReplaceOrderRequest,
    StopLimitOrderRequest,
    StopLossRequest,
    StopOrderRequest,
    TakeProfitRequest,
    TrailingStopOrderRequest,
)
from alpaca.trading.stream import TradingStream
from polling import eventually
from served_helpers import SCRIPTED_AAPL_MSFT
from ws_client import ws_connect

from fillforge.alpaca import AlpacaServer, ServedAlpaca, scripted_broker, served_alpaca
from fillforge.testing import ALPACA_SERVER_START_NS
from fillforge.throttle import NS_PER_SECOND, RateLimiter, SlidingWindow

D = Decimal
CENT = D("0.01")
PAPER_URL = "https://paper-api.alpaca.markets"
LIVE = all(os.environ.get(k) for k in ("APCA_API_KEY_ID", "APCA_API_SECRET_KEY")) and (
    os.environ.get("FILLFORGE_ALPACA_PAPER") != "0"
)
# The whole run stays under Alpaca's 200 requests a minute per key, with fillforge's own throttle:
# past it, the SDK sleeps 3 s at a time and gives up after three.
PACE = RateLimiter(SlidingWindow(180, 60 * NS_PER_SECOND))
# Accepted and working, in any of the states a venue reports before it acknowledges.
WORKING = {OrderStatus.NEW, OrderStatus.ACCEPTED, OrderStatus.PENDING_NEW}


def cents(x: Decimal) -> Decimal:
    return x.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass
class Target:
    """One place the matrix runs: a client, its keys and URLs, and what the test placed there."""

    name: str
    key_id: str
    secret_key: str
    base_url: str
    stream_url: str
    client: TradingClient
    data: StockHistoricalDataClient
    symbols: tuple[str, str] = ("AAPL", "MSFT")
    placed: list[uuid.UUID] = field(default_factory=list)
    bought: set[str] = field(default_factory=set)

    pace: RateLimiter | None = None

    @property
    def remote(self) -> bool:
        """An account that outlives the test (paper, or a served process), reached over the
        network: a test may not assume it is empty or that its market is open."""
        return self.name != "local"

    def paced(self, client: TradingClient | StockHistoricalDataClient) -> None:
        """Every request ``client`` sends waits its turn in ``pace``. Trading and market data
        share one budget: an Alpaca-compatible server may count them together."""
        if self.pace is None:
            return
        pace, session = self.pace, client._session
        send = session.request

        def request(*args: Any, **kw: Any) -> requests.Response:
            while not pace.try_acquire("key"):
                time.sleep(pace.wait_time("key") / NS_PER_SECOND)
            return send(*args, **kw)

        session.request = request  # type: ignore[method-assign]

    @property
    def symbol(self) -> str:
        return self.symbols[0]

    def ref(self, symbol: str | None = None) -> Decimal:
        """The latest ask (the bid when there is no ask), from the target's market data."""
        sym = symbol or self.symbol
        q = self.data.get_stock_latest_quote(
            StockLatestQuoteRequest(symbol_or_symbols=sym, feed=DataFeed.IEX)
        )[sym]
        price = D(str(q.ask_price or q.bid_price))
        if price <= 0:
            pytest.skip(f"no quote for {sym} on {self.name}")
        return cents(price)

    def needs_fills(self) -> None:
        """Skip on a remote target while the market is closed: the row needs an order to fill."""
        if self.remote and not self.client.get_clock().is_open:
            pytest.skip(f"needs the market open on {self.name}")

    def needs_clean_account(self) -> None:
        """Skip on a remote target when an account-wide action would touch orders or positions
        the test did not make."""
        if self.remote and (self.client.get_orders() or self.client.get_all_positions()):
            pytest.skip(f"the {self.name} account has other open orders or positions")

    def submit(self, request: Any) -> Order:
        if request.client_order_id is None:
            request.client_order_id = f"ff-live-{uuid.uuid4().hex[:16]}"
        o = self.client.submit_order(request)
        assert isinstance(o, Order)
        self.placed.append(o.id)
        if request.side is OrderSide.BUY:
            self.bought.add(request.symbol)
        return o

    def far_limit(self, *, tif: TimeInForce = TimeInForce.GTC, **kw: Any) -> LimitOrderRequest:
        """A one-share buy at half the market: it rests and does not fill."""
        args: dict[str, Any] = {
            "symbol": self.symbol,
            "qty": 1,
            "side": OrderSide.BUY,
            "time_in_force": tif,
            "limit_price": float(cents(self.ref() / 2)),
        }
        return LimitOrderRequest(**(args | kw))

    def wait(self, order_id: uuid.UUID, statuses: set[OrderStatus], timeout: float = 20) -> Order:
        """Poll until the order is in one of ``statuses`` (the local server is there at once;
        Alpaca acknowledges asynchronously)."""
        got: list[Order] = []

        def there() -> bool:
            o = self.client.get_order_by_id(order_id, GetOrderByIdRequest(nested=True))
            assert isinstance(o, Order)
            got.append(o)
            return o.status in statuses

        assert eventually(there, timeout, every=0.25), (
            f"{order_id} stayed {got[-1].status}, not {statuses}"
        )
        return got[-1]

    def buy_now(self, qty: int = 1, symbol: str | None = None) -> Order:
        o = self.submit(
            MarketOrderRequest(
                symbol=symbol or self.symbol,
                qty=qty,
                side=OrderSide.BUY,
                time_in_force=TimeInForce.DAY,
            )
        )
        return self.wait(o.id, {OrderStatus.FILLED})

    def cleanup(self) -> None:
        for oid in self.placed:
            try:
                o = self.client.get_order_by_id(oid)
                assert isinstance(o, Order)
                if o.status not in {
                    OrderStatus.FILLED,
                    OrderStatus.CANCELED,
                    OrderStatus.EXPIRED,
                    OrderStatus.REPLACED,
                    OrderStatus.REJECTED,
                }:
                    self.client.cancel_order_by_id(oid)
            except APIError:
                pass  # gone already, or not cancelable any more
        for sym in self.bought:
            with contextlib.suppress(APIError):  # no position
                self.client.close_position(sym)


def _local() -> Iterator[Target]:
    broker = scripted_broker(("AAPL", "MSFT"), start_ns=ALPACA_SERVER_START_NS)
    with AlpacaServer(broker, key_id="PKLOCAL", secret_key="local-secret") as server:
        server.call(
            lambda b: b.quote("AAPL", D("100.00"), D("100.02"), bid_size=D(1000), ask_size=D(1000))
        )
        server.call(lambda b: b.trade("AAPL", D("100.00"), D(1)))
        server.call(
            lambda b: b.quote("MSFT", D("50.00"), D("50.02"), bid_size=D(1000), ask_size=D(1000))
        )
        client = TradingClient(server.key_id, server.secret_key, url_override=server.base_url)
        client._retry = 0
        data = StockHistoricalDataClient(
            server.key_id, server.secret_key, url_override=server.base_url
        )
        target = Target(
            "local",
            server.key_id,
            server.secret_key,
            server.base_url,
            server.stream_url,
            client,
            data,
        )
        yield target
        target.cleanup()


def _remote(
    name: str, key: str, secret: str, base: str, data_url: str | None, pace: RateLimiter | None
) -> Iterator[Target]:
    target = Target(
        name,
        key,
        secret,
        base,
        base.replace("http", "ws", 1) + "/stream",
        TradingClient(key, secret, paper=True, url_override=base),
        StockHistoricalDataClient(key, secret, url_override=data_url),
        pace=pace,
    )
    target.paced(target.client)
    target.paced(target.data)
    yield target
    target.cleanup()


def _paper() -> Iterator[Target]:
    key, secret = os.environ["APCA_API_KEY_ID"], os.environ["APCA_API_SECRET_KEY"]
    # APCA_API_BASE_URL (Alpaca's own convention) points the run at another Alpaca-compatible
    # endpoint, whose market data is then served at the same URL unless APCA_API_DATA_URL says.
    given = os.environ.get("APCA_API_BASE_URL", "").rstrip("/").removesuffix("/v2")
    data_url = os.environ.get("APCA_API_DATA_URL") or given or None
    yield from _remote("alpaca-paper", key, secret, given or PAPER_URL, data_url, PACE)


@pytest.fixture(scope="module")
def served() -> Iterator[ServedAlpaca]:
    """One ``fillforge serve alpaca`` process for the whole module, its clock in market hours:
    the paper code path (a long-lived account, out of process) run on every CI run."""
    with served_alpaca(*SCRIPTED_AAPL_MSFT, "--duration", "600") as server:
        yield server


@pytest.fixture(
    params=[
        "local",
        "served",
        pytest.param(
            "alpaca-paper",
            marks=pytest.mark.skipif(not LIVE, reason="no Alpaca paper keys in the environment"),
        ),
    ]
)
def target(request: pytest.FixtureRequest) -> Iterator[Target]:
    if request.param == "alpaca-paper":
        yield from _paper()
    elif request.param == "served":
        s: ServedAlpaca = request.getfixturevalue("served")
        yield from _remote("served", s.key_id, s.secret_key, s.base_url, s.base_url, None)
    else:
        yield from _local()


def api_error(fn: Callable[[], object]) -> APIError:
    with pytest.raises(APIError) as e:
        fn()
    return e.value


# ----- orders -------------------------------------------------------------------------------


def test_live_a01_market_order_fills(target: Target) -> None:
    target.needs_fills()
    ref = target.ref()
    o = target.buy_now(2)
    assert o.filled_qty == "2"
    assert ref * D("0.9") < D(o.filled_avg_price or 0) < ref * D("1.1")
    assert target.client.get_open_position(target.symbol).qty == "2"


def test_live_a02_limit_rests_and_a_marketable_limit_fills(target: Target) -> None:
    far = target.submit(target.far_limit())
    assert far.status in WORKING
    assert D(far.limit_price or 0) == cents(target.ref() / 2)
    target.needs_fills()
    limit = cents(target.ref() * D("1.01"))
    o = target.submit(target.far_limit(limit_price=float(limit)))
    o = target.wait(o.id, {OrderStatus.FILLED})
    assert D(o.filled_avg_price or 0) <= limit
    assert target.client.get_order_by_id(far.id).status in WORKING  # untouched


def test_live_a03_a04_a24_stops_rest_and_a_buy_stop_becomes_a_stop_limit(target: Target) -> None:
    stop = cents(target.ref() * D("1.5"))
    o = target.submit(
        StopOrderRequest(
            symbol=target.symbol,
            qty=1,
            side=OrderSide.BUY,
            time_in_force=TimeInForce.GTC,
            stop_price=float(stop),
        )
    )
    assert o.status in WORKING
    collar = D("1.04") if stop < 50 else D("1.025")
    assert (o.type.value, D(o.stop_price or 0)) == ("stop_limit", stop)
    assert abs(D(o.limit_price or 0) - stop * collar) <= CENT
    sl = target.submit(
        StopLimitOrderRequest(
            symbol=target.symbol,
            qty=1,
            side=OrderSide.BUY,
            time_in_force=TimeInForce.DAY,
            stop_price=float(stop),
            limit_price=float(stop + 1),
        )
    )
    assert (sl.type.value, D(sl.stop_price or 0), D(sl.limit_price or 0)) == (
        "stop_limit",
        stop,
        stop + 1,
    )
    assert sl.status in WORKING


@pytest.mark.parametrize("by", ["price", "percent"])
def test_live_a05_a06_trailing_stop_tracks_its_water_mark(target: Target, by: str) -> None:
    ref = target.ref()
    trail = {"trail_price": float(cents(ref / 20))} if by == "price" else {"trail_percent": 5.0}
    o = target.submit(
        TrailingStopOrderRequest(
            symbol=target.symbol, qty=1, side=OrderSide.BUY, time_in_force=TimeInForce.GTC, **trail
        )
    )
    assert o.status in WORKING
    given = (o.trail_price, o.trail_percent)
    if by == "price":
        assert (D(given[0] or 0), given[1]) == (cents(ref / 20), None)
    else:
        assert (given[0], D(given[1] or 0)) == (None, 5)
    target.needs_fills()  # Alpaca tracks the water mark in regular hours only
    got = target.wait(o.id, WORKING)
    assert got.hwm is not None, "the water mark is tracked"
    hwm = D(got.hwm)
    # A buy trails the low: the stop sits the trail above it.
    expected = hwm + cents(ref / 20) if by == "price" else hwm * D("1.05")
    assert abs(D(got.stop_price or 0) - expected) <= CENT


def test_live_a07_time_in_force(target: Target) -> None:
    for tif in (TimeInForce.DAY, TimeInForce.GTC):
        o = target.submit(target.far_limit(tif=tif))
        assert (o.status in WORKING, o.time_in_force) == (True, tif)
    target.needs_fills()  # ioc and fok act at once only in regular hours on Alpaca
    for tif in (TimeInForce.IOC, TimeInForce.FOK):
        o = target.submit(target.far_limit(tif=tif))
        o = target.wait(o.id, {OrderStatus.CANCELED, OrderStatus.EXPIRED})
        assert o.filled_qty == "0"


def test_live_a08_bracket_legs_are_held_and_cancel_with_the_entry(target: Target) -> None:
    ref = target.ref()
    entry = cents(ref / 2)
    o = target.submit(
        target.far_limit(
            order_class=OrderClass.BRACKET,
            take_profit=TakeProfitRequest(limit_price=float(cents(entry * D("1.2")))),
            stop_loss=StopLossRequest(stop_price=float(cents(entry * D("0.8")))),
        )
    )
    assert o.order_class is OrderClass.BRACKET
    nested = target.wait(o.id, WORKING)
    assert nested.legs is not None
    assert len(nested.legs) == 2
    assert {leg.status for leg in nested.legs} == {OrderStatus.HELD}
    assert {leg.type.value for leg in nested.legs} == {"limit", "stop"}
    target.client.cancel_order_by_id(o.id)
    target.wait(o.id, {OrderStatus.CANCELED})
    for leg in nested.legs:
        target.wait(leg.id, {OrderStatus.CANCELED})


def test_live_a09_oco_exits_an_open_position(target: Target) -> None:
    target.needs_fills()
    ref = target.ref()
    target.buy_now(1)
    o = target.submit(
        LimitOrderRequest(
            symbol=target.symbol,
            qty=1,
            side=OrderSide.SELL,
            time_in_force=TimeInForce.GTC,
            order_class=OrderClass.OCO,
            limit_price=float(cents(ref * D("1.5"))),
            take_profit=TakeProfitRequest(limit_price=float(cents(ref * D("1.5")))),
            stop_loss=StopLossRequest(stop_price=float(cents(ref / 2))),
        )
    )
    assert o.order_class is OrderClass.OCO
    o = target.wait(o.id, WORKING)
    assert o.legs is not None
    assert [leg.type.value for leg in o.legs] == ["stop"]
    target.client.cancel_order_by_id(o.id)
    target.wait(o.legs[0].id, {OrderStatus.CANCELED})


def test_live_a10_oto_holds_its_exit(target: Target) -> None:
    entry = cents(target.ref() / 2)
    o = target.submit(
        target.far_limit(
            order_class=OrderClass.OTO,
            stop_loss=StopLossRequest(stop_price=float(cents(entry * D("0.8")))),
        )
    )
    assert o.order_class is OrderClass.OTO
    o = target.wait(o.id, WORKING)
    assert o.legs is not None
    assert [(leg.type.value, leg.status) for leg in o.legs] == [("stop", OrderStatus.HELD)]


def test_live_a11_replace_gives_a_new_order(target: Target) -> None:
    o = target.submit(target.far_limit())
    target.wait(o.id, WORKING)
    price = cents(D(o.limit_price or 0) - 1)
    new = target.client.replace_order_by_id(o.id, ReplaceOrderRequest(qty=2, limit_price=price))
    assert isinstance(new, Order)
    target.placed.append(new.id)
    assert new.id != o.id
    assert (new.qty, D(new.limit_price or 0), new.replaces) == ("2", price, o.id)
    old = target.wait(o.id, {OrderStatus.REPLACED})
    assert old.replaced_by == new.id
    e = api_error(lambda: target.client.replace_order_by_id(o.id, ReplaceOrderRequest(qty=3)))
    assert e.status_code == 422


def test_live_a12_cancel(target: Target) -> None:
    o = target.submit(target.far_limit())
    target.wait(o.id, WORKING)
    assert target.client.cancel_order_by_id(o.id) is None  # 204, empty body
    target.wait(o.id, {OrderStatus.CANCELED})
    assert api_error(lambda: target.client.cancel_order_by_id(o.id)).status_code == 422
    assert api_error(lambda: target.client.cancel_order_by_id(uuid.uuid4())).status_code == 404


def test_live_a13_cancel_all(target: Target) -> None:
    target.needs_clean_account()
    ids = {target.submit(target.far_limit()).id for _ in range(3)}
    for oid in ids:
        target.wait(oid, WORKING)
    out = target.client.cancel_orders()
    assert {r.id for r in out} == ids
    assert {r.status for r in out} == {200}
    for oid in ids:
        target.wait(oid, {OrderStatus.CANCELED})
    assert target.client.get_orders() == []


def test_live_a14_close_a_position_in_part_then_all(target: Target) -> None:
    target.needs_fills()
    target.needs_clean_account()
    target.buy_now(4)
    half = target.client.close_position(target.symbol, ClosePositionRequest(percentage="50"))
    assert isinstance(half, Order)
    assert (half.side, half.qty) == (OrderSide.SELL, "2")
    target.wait(half.id, {OrderStatus.FILLED})
    assert target.client.get_open_position(target.symbol).qty == "2"
    target.buy_now(1, target.symbols[1])
    out = target.client.close_all_positions()
    assert sorted(r.symbol for r in out) == sorted(target.symbols)
    assert eventually(lambda: not target.client.get_all_positions(), 20, every=0.2), (
        "positions stayed open"
    )
    assert api_error(lambda: target.client.get_open_position(target.symbol)).status_code == 404


def test_live_a15_rejections(target: Target) -> None:
    ref = target.ref()
    power = D(target.client.get_account().buying_power or 0)
    too_many = int(power / ref) + 100
    e = api_error(lambda: target.submit(target.far_limit(qty=too_many, limit_price=float(ref))))
    assert (e.status_code, e.code) == (403, 40310000)
    assert "insufficient buying power" in e.message
    unknown = MarketOrderRequest(
        symbol="FFNOPE", qty=1, side=OrderSide.BUY, time_in_force=TimeInForce.DAY
    )
    e = api_error(lambda: target.submit(unknown))
    assert (e.status_code, e.code) == (422, 40010001)
    cid = f"ff-live-{uuid.uuid4().hex[:16]}"
    target.submit(target.far_limit(client_order_id=cid))
    assert api_error(lambda: target.submit(target.far_limit(client_order_id=cid))).status_code == (
        422
    )
    # Server-side rules the SDK does not check first, over raw HTTP.
    headers = {"APCA-API-KEY-ID": target.key_id, "APCA-API-SECRET-KEY": target.secret_key}
    order = {"symbol": target.symbol, "qty": 1, "side": "buy", "time_in_force": "day"}
    bodies = [
        order | {"type": "limit"},
        order | {"type": "limit", "limit_price": f"{cents(ref / 2)}1"},  # sub-penny
        order | {"type": "market", "extended_hours": True},
        order | {"type": "market", "qty": 0},
    ]
    for body in bodies:
        r = target.client._session.post(  # paced with the client
            f"{target.base_url}/v2/orders", json=body, headers=headers, timeout=10
        )
        assert r.status_code == 422, (body, r.text)
        assert r.json()["code"] in (40010001, 42210000), r.text


def test_live_a16_queries(target: Target) -> None:
    since = target.client.get_clock().timestamp - timedelta(seconds=5)
    cid = f"ff-live-{uuid.uuid4().hex[:16]}"
    a = target.submit(target.far_limit(client_order_id=cid))
    b = target.submit(
        target.far_limit(
            symbol=target.symbols[1], limit_price=float(cents(target.ref(target.symbols[1]) / 2))
        )
    )
    assert target.client.get_order_by_client_id(cid).id == a.id

    def ids(**kw: Any) -> list[uuid.UUID]:
        got = target.client.get_orders(GetOrdersRequest(after=since, **kw))
        return [o.id for o in got if o.id in (a.id, b.id)]

    assert ids(symbols=[target.symbols[1]]) == [b.id]
    assert set(ids(side=OrderSide.BUY)) == {a.id, b.id}
    assert ids(side=OrderSide.SELL) == []
    assert ids(direction="asc") == [a.id, b.id]
    assert ids(direction="desc") == [b.id, a.id]
    target.client.cancel_order_by_id(a.id)
    target.wait(a.id, {OrderStatus.CANCELED})
    assert ids(status=QueryOrderStatus.CLOSED) == [a.id]
    assert ids(status=QueryOrderStatus.OPEN) == [b.id]
    acct = target.client.get_account()
    assert acct.status.value == "ACTIVE"
    assert D(acct.cash or 0) > 0
    asset = target.client.get_asset(target.symbol)
    assert (asset.symbol, asset.tradable) == (target.symbol, True)
    clock = target.client.get_clock()
    assert clock.is_open or clock.next_open > clock.timestamp
    assert clock.next_close > clock.timestamp
    days = target.client.get_calendar(GetCalendarRequest(start="2012-11-21", end="2012-11-26"))
    assert [(d.date.isoformat(), d.close.strftime("%H:%M")) for d in days] == [
        ("2012-11-21", "16:00"),
        ("2012-11-23", "13:00"),
        ("2012-11-26", "16:00"),
    ]


def test_live_a17_a_wrong_secret_is_refused(target: Target) -> None:
    bad = TradingClient(target.key_id, "not-the-secret", url_override=target.base_url)
    target.paced(bad)
    e = api_error(bad.get_account)
    assert (e.status_code, e.code) == (401, 40110000)


# ----- the trade_updates stream -------------------------------------------------------------


@pytest.fixture
def updates(target: Target) -> Iterator[list[TradeUpdate]]:
    seen: list[TradeUpdate] = []
    stream = TradingStream(target.key_id, target.secret_key, url_override=target.stream_url)

    async def on_update(u: TradeUpdate) -> None:
        seen.append(u)

    stream.subscribe_trade_updates(on_update)
    thread = threading.Thread(target=stream.run, daemon=True)
    thread.start()
    yield seen
    stream.stop()
    thread.join(timeout=0.5)  # the SDK notices the stop at its next 5 s read poll (daemon)


def events_for(seen: list[TradeUpdate], oid: uuid.UUID) -> list[str]:
    return [str(u.event) for u in list(seen) if u.order.id == oid]


def wait_event(seen: list[TradeUpdate], oid: uuid.UUID, event: str, timeout: float = 5) -> bool:
    return eventually(lambda: event in events_for(seen, oid), timeout)


def test_live_a19_trade_updates(target: Target, updates: list[TradeUpdate]) -> None:
    # The SDK says nothing when it has subscribed: place orders until one's "new" comes through.
    for _ in range(6):
        o = target.submit(target.far_limit())
        if wait_event(updates, o.id, "new"):
            break
        target.client.cancel_order_by_id(o.id)
    else:
        pytest.fail("no 'new' frame for six orders")
    target.client.cancel_order_by_id(o.id)
    assert wait_event(updates, o.id, "canceled", timeout=20)
    assert events_for(updates, o.id)[-1] == "canceled"
    target.needs_fills()
    fill = target.buy_now(1)
    assert wait_event(updates, fill.id, "fill", timeout=20)
    frame = next(u for u in updates if u.order.id == fill.id and str(u.event) == "fill")
    assert isinstance(frame.execution_id, uuid.UUID)
    assert (frame.qty, frame.order.status) == (1.0, OrderStatus.FILLED)
    assert frame.price == float(D(fill.filled_avg_price or 0))
    assert frame.position_qty is not None
    assert frame.position_qty >= 1


def test_live_a20_the_stream_refuses_a_wrong_secret(target: Target) -> None:
    with ws_connect(target.stream_url) as ws:
        auth = {"key_id": target.key_id, "secret_key": "not-the-secret"}
        ws.send(json.dumps({"action": "authenticate", "data": auth}))
        reply = json.loads(ws.recv(timeout=10))
    assert (reply["stream"], reply["data"]["status"]) == ("authorization", "unauthorized")


# ----- Alpaca's own rules -------------------------------------------------------------------


def test_live_a25_a_trail_replace_keeps_the_water_mark(target: Target) -> None:
    ref = target.ref()
    o = target.submit(
        TrailingStopOrderRequest(
            symbol=target.symbol,
            qty=1,
            side=OrderSide.BUY,
            time_in_force=TimeInForce.GTC,
            trail_price=float(cents(ref / 20)),
        )
    )
    o = target.wait(o.id, WORKING)
    trail = cents(ref / 10)
    new = target.client.replace_order_by_id(o.id, ReplaceOrderRequest(trail=float(trail)))
    assert isinstance(new, Order)
    target.placed.append(new.id)
    assert (new.replaces, D(new.trail_price or 0)) == (o.id, trail)
    target.wait(o.id, {OrderStatus.REPLACED})
    new = target.wait(new.id, WORKING)
    assert new.hwm == o.hwm or o.hwm is None  # kept, once the old order had one


def test_live_a26_notional_orders(target: Target) -> None:
    e = api_error(
        lambda: target.submit(
            MarketOrderRequest(
                symbol=target.symbol, notional=10, side=OrderSide.BUY, time_in_force=TimeInForce.GTC
            )
        )
    )
    assert e.status_code == 422  # notional is for market day orders
    target.needs_fills()
    o = target.submit(
        MarketOrderRequest(
            symbol=target.symbol, notional=10, side=OrderSide.BUY, time_in_force=TimeInForce.DAY
        )
    )
    assert (o.notional, o.qty) == ("10", None)
    o = target.wait(o.id, {OrderStatus.FILLED})
    qty = D(o.filled_qty or 0)
    assert 0 < qty < 1
    assert -qty.as_tuple().exponent <= 9  # Alpaca's nine decimals
    assert D(o.filled_avg_price or 0) * qty <= 10
