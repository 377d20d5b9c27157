"""CcxtBroker's guarantees against the served Binance venue (real sockets, unmodified ccxt):
retries that never duplicate an order (a 503 after the order was placed, an answer later than the
timeout), reconciliation after the network comes back, the async twin; and, without a network,
instruments from Bybit's and Coinbase's market answers (their ``describe()`` precision modes)."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import ccxt
import pytest

from fillforge.binance import BinanceServer, scripted_broker
from fillforge.errors import CcxtError
from fillforge.orders.enums import OrderStatus
from fillforge.orders.models import OrderRequest
from fillforge.sim.aio import AsyncAdapter
from fillforge.venues.ccxt import CcxtBroker, instrument_of
from fillforge.venues.ccxt.convert import DECIMAL_PLACES, order_args

D = Decimal
SYMBOL = "BTC/USDT"
BID, ASK = D("30000.00"), D("30000.10")


@pytest.fixture
def server() -> Iterator[BinanceServer]:
    broker = scripted_broker(start_ns=1_700_000_000_000_000_000, cash=D(10_000))
    broker.quote("BTCUSDT", BID, ASK, bid_size=D(2), ask_size=D(2))
    key, secret = secrets.token_hex(16), secrets.token_hex(32)
    with BinanceServer(broker, api_key=key, secret_key=secret, speed=None) as s:
        yield s


def _broker(server: BinanceServer, **kw: Any) -> CcxtBroker:
    return CcxtBroker(
        "binance",
        api_key=server.api_key,
        secret=server.secret_key,
        config={"urls": {"api": server.urls}},
        poll_every=None,
        max_wait=0.2,
        **kw,
    )


def _rest(price: Decimal = BID - 100, cid: str | None = None) -> OrderRequest:
    return OrderRequest(
        symbol=SYMBOL,
        side="buy",
        type="limit",
        time_in_force="gtc",
        qty=D("0.01"),
        limit_price=price,
        client_order_id=cid,
    )


def _eventually(check: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "not in time"
        time.sleep(0.02)


def test_a_503_after_the_order_was_placed_is_retried_without_a_duplicate(
    server: BinanceServer,
) -> None:
    with _broker(server) as b:
        server.faults.fail(503, 1, after=True)  # placed, then the client sees a failure
        o = b.submit(_rest(cid="retry-503"))
        assert o.status is OrderStatus.NEW
        assert server.faults.injected == 1
        placed = server.call(lambda sim: sim.orders())
        assert [x.client_order_id for x in placed] == ["retry-503"]
        assert b.orders() == [o]


def test_a_timeout_is_resolved_by_the_client_order_id(server: BinanceServer) -> None:
    with _broker(server, timeout=0.3) as b:
        server.faults.delay(1.0, 1)  # carried out; the answer comes after the client gave up
        o = b.submit(_rest(cid="late-answer"))
        assert o.client_order_id == "late-answer"
        assert len(server.call(lambda sim: sim.orders())) == 1


def test_a_refusal_is_not_retried_and_leaves_nothing(server: BinanceServer) -> None:
    with _broker(server) as b:
        with pytest.raises(CcxtError) as e:
            b.submit(_rest(price=D(29_000)).model_copy(update={"qty": D(1)}))
        assert e.value.kind == "InsufficientFunds"
        assert b.orders() == []
        assert server.call(lambda sim: sim.orders()) == []


def test_fills_made_while_the_network_was_down_arrive_after_it_comes_back(
    server: BinanceServer,
) -> None:
    with _broker(server) as b:
        events = b.events()
        o = b.submit(_rest(price=BID - 1))
        list(events)
        # The order fills at the venue while every request of ours fails...
        server.call(
            lambda sim: sim.quote("BTCUSDT", BID - 3, BID - 2, bid_size=D(5), ask_size=D(5))
        )
        server.faults.fail(503, 2, after=False)
        assert b.account().cash  # ...and the third try of this call goes through
        assert b.reconnects == 1
        _eventually(lambda: o.status is OrderStatus.FILLED)
        assert [e.kind.value for e in events] == ["fill"]


def test_an_order_placed_elsewhere_is_adopted_on_reconcile(server: BinanceServer) -> None:
    with _broker(server) as b:
        b.submit(_rest())  # a symbol traded here
        other = ccxt.binance(
            {"apiKey": server.api_key, "secret": server.secret_key, "urls": {"api": server.urls}}
        )
        other.create_order(SYMBOL, "limit", "buy", 0.001, 20_000, {"clientOrderId": "elsewhere"})
        b.reconcile()
        adopted = b.get_order_by_client_id("elsewhere")
        assert adopted.status is OrderStatus.NEW
        assert adopted.limit_price == D(20_000)


def test_the_async_twin_trades_through_the_same_broker(server: BinanceServer) -> None:
    async def run(b: CcxtBroker) -> OrderStatus:
        ab = AsyncAdapter(b)
        o = await ab.submit(_rest())
        await ab.cancel(o.id)
        got = await ab.get_order(o.id)
        return got.status

    with _broker(server) as b:
        assert asyncio.run(run(b)) is OrderStatus.CANCELED


def test_the_poll_timer_brings_fills_without_being_asked(server: BinanceServer) -> None:
    b = CcxtBroker(
        "binance",
        api_key=server.api_key,
        secret=server.secret_key,
        config={"urls": {"api": server.urls}},
        poll_every=0.05,
    )
    with b:
        o = b.submit(_rest(price=BID - 1))
        server.call(
            lambda sim: sim.quote("BTCUSDT", BID - 3, BID - 2, bid_size=D(5), ask_size=D(5))
        )
        _eventually(lambda: o.status is OrderStatus.FILLED)


def test_keys_are_never_in_the_repr(server: BinanceServer) -> None:
    b = _broker(server)
    assert server.secret_key not in repr(b)
    assert server.secret_key not in repr(server)


# ----- other exchanges, without a network ---------------------------------------------------

BYBIT_SPOT = {
    "retCode": 0,
    "retMsg": "OK",
    "result": {
        "category": "spot",
        "list": [
            {
                "symbol": "BTCUSDT",
                "baseCoin": "BTC",
                "quoteCoin": "USDT",
                "innovation": "0",
                "status": "Trading",
                "marginTrading": "both",
                "lotSizeFilter": {
                    "basePrecision": "0.000001",
                    "quotePrecision": "0.00000001",
                    "minOrderQty": "0.000048",
                    "maxOrderQty": "71.73956243",
                    "minOrderAmt": "1",
                    "maxOrderAmt": "2000000",
                },
                "priceFilter": {"tickSize": "0.01"},
            }
        ],
    },
    "time": 1700000000000,
}

COINBASE_PRODUCT = {
    "product_id": "BTC-USD",
    "price": "37000.01",
    "base_increment": "0.00000001",
    "quote_increment": "0.01",
    "price_increment": "0.01",
    "quote_min_size": "1",
    "quote_max_size": "150000000",
    "base_min_size": "0.00000001",
    "base_max_size": "3400",
    "base_currency_id": "BTC",
    "quote_currency_id": "USD",
    "trading_disabled": False,
    "product_type": "SPOT",
    "status": "online",
}


def test_bybit_spot_markets_become_instruments() -> None:
    ex = ccxt.bybit()
    ex.publicGetV5MarketInstrumentsInfo = lambda params: BYBIT_SPOT  # its answer, offline
    (market,) = ex.fetch_spot_markets({})
    inst = instrument_of(market, ex.precisionMode)
    assert inst.symbol == "BTC/USDT"
    assert (inst.tick_size, inst.lot_size, inst.min_qty) == (
        D("0.01"),
        D("0.000001"),
        D("0.000048"),
    )


def test_coinbase_spot_markets_become_instruments() -> None:
    ex = ccxt.coinbase()
    market = ex.parse_spot_market(COINBASE_PRODUCT, {})
    inst = instrument_of(market, ex.precisionMode)
    assert inst.symbol == "BTC/USD"
    assert (inst.tick_size, inst.lot_size) == (D("0.01"), D("0.00000001"))


def test_decimal_places_precision_is_a_grid_too() -> None:
    market = {"symbol": "X/Y", "precision": {"price": 2, "amount": 4}, "limits": {}, "spot": True}
    inst = instrument_of(market, DECIMAL_PLACES)
    assert (inst.tick_size, inst.lot_size) == (D("0.01"), D("0.0001"))


def test_a_market_without_precision_is_refused() -> None:
    with pytest.raises(CcxtError, match="no price precision"):
        instrument_of({"symbol": "X/Y", "precision": {"amount": 0.1}})


def test_every_exchange_builds_and_takes_the_same_order_arguments() -> None:
    for name in ("binance", "bybit", "coinbase"):
        b = CcxtBroker(name, poll_every=None)
        assert b.id == name
        assert b.exchange.enableRateLimit is False  # the Rust throttle limits instead
    r = _rest(price=D("29000.50"))
    stop = OrderRequest(**{**r.model_dump(), "type": "stop_limit", "stop_price": D(29_100)})
    assert order_args(r, "c1") == (
        SYMBOL,
        "limit",
        "buy",
        "0.01",
        "29000.5",
        {"clientOrderId": "c1", "timeInForce": "GTC"},
    )
    assert order_args(stop, "c2")[1] == "STOP_LOSS_LIMIT"
    assert order_args(stop, "c2")[5]["stopPrice"] == "29100"


def test_an_unknown_exchange_is_refused() -> None:
    with pytest.raises(CcxtError, match="not an exchange"):
        CcxtBroker("nosuchvenue")


def test_it_is_a_broker_with_market_data_and_a_clock(server: BinanceServer) -> None:
    from fillforge.broker import Broker

    with _broker(server, data_poll_every=0.05) as b:
        assert isinstance(b, Broker)
        q = b.latest_quote(SYMBOL)
        assert q is not None
        assert (q.bid_price, q.ask_price) == (BID, ASK)
        assert b.last_trade(SYMBOL) is not None  # the mid until the first print
        seen: list[Any] = []
        stop = b.subscribe_quotes(SYMBOL, seen.append)
        server.call(
            lambda sim: sim.quote("BTCUSDT", BID - 1, ASK - 1, bid_size=D(3), ask_size=D(3))
        )
        _eventually(lambda: bool(seen))
        stop()
        assert seen[-1].bid_price == BID - 1
        c = b.clock()
        assert c.is_open
        assert abs(c.timestamp_ns // 1_000_000 - server.now_ms()) < 60_000  # the server's time


def test_a_venue_that_finds_orders_by_venue_id_only_still_gets_no_duplicate(
    server: BinanceServer,
) -> None:
    with _broker(server) as b:
        by_id = b.exchange.fetch_order

        def venue_id_only(oid: Any, symbol: Any = None, params: Any = None) -> Any:
            if oid is None:  # as Bybit or Coinbase answer a lookup without a venue id
                raise ccxt.ArgumentsRequired("fetchOrder() requires an id")
            return by_id(oid, symbol, params or {})

        b.exchange.fetch_order = venue_id_only
        server.faults.fail(503, 1, after=True)
        o = b.submit(_rest(cid="found-in-the-list"))
        assert o.client_order_id == "found-in-the-list"
        assert len(server.call(lambda sim: sim.orders())) == 1
