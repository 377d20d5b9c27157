"""Acceptance matrix: the unmodified alpaca-py 0.44 SDK against fillforge's Alpaca-compatible
server on the simulated exchange (real HTTP and websocket on 127.0.0.1).

Each test is one numbered case (A01...). Prices are scripted through ``server.call``.
"""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest
import requests
from alpaca.common.exceptions import APIError
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderClass, OrderSide, OrderStatus, QueryOrderStatus, TimeInForce
from alpaca.trading.models import TradeUpdate
from alpaca.trading.requests import (
    ClosePositionRequest,
    GetCalendarRequest,
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
from polling import eventually, wait_for
from served_helpers import quote

from fillforge.alpaca import AlpacaServer, ServedAlpaca, scripted_broker, served_alpaca
from fillforge.sim.broker import SimulatedBroker
from fillforge.testing import ALPACA_SERVER_START_NS
from fillforge.time import NS_PER_SECOND, SimulatedClock

D = Decimal


def script(server: AlpacaServer, fn: Callable[[SimulatedBroker], Any]) -> None:
    server.call(fn)


def trade(server: AlpacaServer, price: str, qty: int = 10, *, aggressor: str = "sell") -> None:
    side = OrderSide.SELL if aggressor == "sell" else OrderSide.BUY
    from fillforge.orders.enums import OrderSide as FfSide

    script(server, lambda b: b.trade("AAPL", D(price), D(qty), aggressor=FfSide(side.value)))


def buy(client: TradingClient, qty: float = 10) -> None:
    client.submit_order(
        MarketOrderRequest(
            symbol="AAPL", qty=qty, side=OrderSide.BUY, time_in_force=TimeInForce.DAY
        )
    )


def test_a01_market_order_fills_at_the_ask(
    alpaca_server: AlpacaServer, client: TradingClient
) -> None:
    quote(alpaca_server, "100.00", "100.02")
    o = client.submit_order(
        MarketOrderRequest(symbol="AAPL", qty=5, side=OrderSide.BUY, time_in_force=TimeInForce.DAY)
    )
    assert (o.status, o.filled_qty, o.filled_avg_price) == (OrderStatus.FILLED, "5", "100.02")
    assert isinstance(o.id, uuid.UUID)


def test_a02_limit_order_rests_then_fills(
    alpaca_server: AlpacaServer, client: TradingClient
) -> None:
    quote(alpaca_server, "100.00", "100.02")
    o = client.submit_order(
        LimitOrderRequest(
            symbol="AAPL",
            qty=5,
            side=OrderSide.BUY,
            time_in_force=TimeInForce.GTC,
            limit_price=99.5,
        )
    )
    assert (o.status, o.limit_price) == (OrderStatus.NEW, "99.5")
    quote(alpaca_server, "99.40", "99.45")
    got = client.get_order_by_id(o.id)
    assert (got.status, got.filled_avg_price) == (OrderStatus.FILLED, "99.45")


def test_a03_stop_order_triggers_on_a_trade(
    alpaca_server: AlpacaServer, client: TradingClient
) -> None:
    quote(alpaca_server, "100.00", "100.02")
    buy(client)
    o = client.submit_order(
        StopOrderRequest(
            symbol="AAPL", qty=10, side=OrderSide.SELL, time_in_force=TimeInForce.GTC, stop_price=99
        )
    )
    assert o.status is OrderStatus.NEW
    quote(alpaca_server, "98.90", "98.95")
    trade(alpaca_server, "98.95")
    got = client.get_order_by_id(o.id)
    assert (got.status, got.filled_avg_price) == (OrderStatus.FILLED, "98.9")


def test_a04_stop_limit_order(alpaca_server: AlpacaServer, client: TradingClient) -> None:
    quote(alpaca_server, "100.00", "100.02")
    buy(client)
    o = client.submit_order(
        StopLimitOrderRequest(
            symbol="AAPL",
            qty=10,
            side=OrderSide.SELL,
            time_in_force=TimeInForce.GTC,
            stop_price=99,
            limit_price=98.95,
        )
    )
    quote(alpaca_server, "98.50", "98.60")
    trade(alpaca_server, "98.99")  # triggers; the bid is below the limit: the order rests
    got = client.get_order_by_id(o.id)
    assert (got.status, got.limit_price) == (OrderStatus.NEW, "98.95")
    quote(alpaca_server, "98.96", "99.00")
    assert client.get_order_by_id(o.id).filled_avg_price == "98.96"


@pytest.mark.parametrize(
    ("trail", "stop_after_high"),
    [({"trail_price": 1.0}, "101.5"), ({"trail_percent": 1.0}, "101.48")],
)
def test_a05_a06_trailing_stop_tracks_its_high_water_mark(
    alpaca_server: AlpacaServer,
    client: TradingClient,
    trail: dict[str, float],
    stop_after_high: str,
) -> None:
    quote(alpaca_server, "100.00", "100.02")
    buy(client)
    trade(alpaca_server, "100.00")
    o = client.submit_order(
        TrailingStopOrderRequest(
            symbol="AAPL", qty=10, side=OrderSide.SELL, time_in_force=TimeInForce.GTC, **trail
        )
    )
    trade(alpaca_server, "102.50", aggressor="buy")
    got = client.get_order_by_id(o.id)
    assert (got.hwm, got.stop_price) == ("102.5", stop_after_high)
    quote(alpaca_server, "101.00", "101.02")
    trade(alpaca_server, "101.00")
    assert client.get_order_by_id(o.id).status is OrderStatus.FILLED


def test_a07_time_in_force(alpaca_server: AlpacaServer, client: TradingClient) -> None:
    quote(alpaca_server, "100.00", "100.02", size=100)

    def limit(tif: TimeInForce, qty: float, price: float) -> Any:
        return client.submit_order(
            LimitOrderRequest(
                symbol="AAPL", qty=qty, side=OrderSide.BUY, time_in_force=tif, limit_price=price
            )
        )

    ioc = limit(TimeInForce.IOC, 150, 100.02)
    assert (ioc.status, ioc.filled_qty) == (OrderStatus.CANCELED, "100")
    quote(alpaca_server, "100.00", "100.02", size=100)
    fok = limit(TimeInForce.FOK, 150, 100.02)
    assert (fok.status, fok.filled_qty) == (OrderStatus.CANCELED, "0")
    assert limit(TimeInForce.DAY, 1, 99).status is OrderStatus.NEW
    assert limit(TimeInForce.GTC, 1, 99).status is OrderStatus.NEW
    # The fixture's clock is 10:00 New York time: Alpaca refuses opg from 9:28 (A23 has the
    # windows); cls is taken until 15:50, and rejected: scripted prices have no closing auction.
    with pytest.raises(APIError) as refused:
        limit(TimeInForce.OPG, 1, 99)
    assert refused.value.status_code == 422
    assert "opg orders are not accepted" in str(refused.value)
    assert limit(TimeInForce.CLS, 1, 99).status is OrderStatus.REJECTED


def test_a08_bracket(alpaca_server: AlpacaServer, client: TradingClient) -> None:
    quote(alpaca_server, "100.00", "100.02")
    o = client.submit_order(
        LimitOrderRequest(
            symbol="AAPL",
            qty=10,
            side=OrderSide.BUY,
            time_in_force=TimeInForce.GTC,
            limit_price=99.5,
            order_class=OrderClass.BRACKET,
            take_profit=TakeProfitRequest(limit_price=101),
            stop_loss=StopLossRequest(stop_price=98),
        )
    )
    nested = client.get_order_by_id(o.id, filter=None)
    assert nested.order_class is OrderClass.BRACKET
    parent = client.get_orders(GetOrdersRequest(status=QueryOrderStatus.ALL, nested=True))[0]
    assert parent.legs is not None
    assert [leg.status for leg in parent.legs] == [OrderStatus.HELD, OrderStatus.HELD]
    quote(alpaca_server, "99.40", "99.50")  # the entry fills
    parent = client.get_orders(GetOrdersRequest(status=QueryOrderStatus.ALL, nested=True))[0]
    assert parent.status is OrderStatus.FILLED
    assert parent.legs is not None
    assert [leg.status for leg in parent.legs] == [OrderStatus.NEW, OrderStatus.NEW]
    quote(alpaca_server, "101.00", "101.05")
    trade(alpaca_server, "101.00", aggressor="buy")
    tp, sl = (client.get_order_by_id(leg.id) for leg in parent.legs)
    assert (tp.status, sl.status) == (OrderStatus.FILLED, OrderStatus.CANCELED)
    assert client.get_all_positions() == []


def test_a09_oco(alpaca_server: AlpacaServer, client: TradingClient) -> None:
    quote(alpaca_server, "100.00", "100.02")
    buy(client)
    o = client.submit_order(
        LimitOrderRequest(
            symbol="AAPL",
            qty=10,
            side=OrderSide.SELL,
            time_in_force=TimeInForce.GTC,
            order_class=OrderClass.OCO,
            limit_price=101,
            take_profit=TakeProfitRequest(limit_price=101),
            stop_loss=StopLossRequest(stop_price=99),
        )
    )
    assert o.order_class is OrderClass.OCO
    quote(alpaca_server, "98.90", "98.95")
    trade(alpaca_server, "98.95")
    orders = client.get_orders(GetOrdersRequest(status=QueryOrderStatus.CLOSED))
    by_type = {x.type.value: x.status for x in orders if x.order_class is OrderClass.OCO}
    assert by_type == {"limit": OrderStatus.CANCELED, "stop": OrderStatus.FILLED}


def test_a10_oto(alpaca_server: AlpacaServer, client: TradingClient) -> None:
    quote(alpaca_server, "100.00", "100.02")
    o = client.submit_order(
        MarketOrderRequest(
            symbol="AAPL",
            qty=10,
            side=OrderSide.BUY,
            time_in_force=TimeInForce.GTC,
            order_class=OrderClass.OTO,
            stop_loss=StopLossRequest(stop_price=98),
        )
    )
    assert o.status is OrderStatus.FILLED
    opened = client.get_orders(GetOrdersRequest(status=QueryOrderStatus.OPEN))
    assert [(x.type.value, x.stop_price, x.status) for x in opened] == [
        ("stop", "98", OrderStatus.NEW)
    ]


def test_a11_replace_gives_a_new_order(alpaca_server: AlpacaServer, client: TradingClient) -> None:
    quote(alpaca_server, "100.00", "100.02")
    o = client.submit_order(
        LimitOrderRequest(
            symbol="AAPL", qty=5, side=OrderSide.BUY, time_in_force=TimeInForce.GTC, limit_price=99
        )
    )
    new = client.replace_order_by_id(o.id, ReplaceOrderRequest(qty=7, limit_price=99.5))
    assert new.id != o.id
    assert (new.qty, new.limit_price, new.replaces) == ("7", "99.5", o.id)
    old = client.get_order_by_id(o.id)
    assert (old.status, old.replaced_by) == (OrderStatus.REPLACED, new.id)
    with pytest.raises(APIError) as e:
        client.replace_order_by_id(o.id, ReplaceOrderRequest(limit_price=99.6))
    assert (e.value.status_code, e.value.code) == (422, 42210000)


def test_a12_cancel(alpaca_server: AlpacaServer, client: TradingClient) -> None:
    quote(alpaca_server, "100.00", "100.02")
    o = client.submit_order(
        LimitOrderRequest(
            symbol="AAPL", qty=5, side=OrderSide.BUY, time_in_force=TimeInForce.GTC, limit_price=99
        )
    )
    assert client.cancel_order_by_id(o.id) is None  # 204, empty body
    assert client.get_order_by_id(o.id).status is OrderStatus.CANCELED
    with pytest.raises(APIError) as e:
        client.cancel_order_by_id(o.id)
    assert (e.value.status_code, e.value.code) == (422, 42210000)
    with pytest.raises(APIError) as e:
        client.cancel_order_by_id(uuid.uuid4())
    assert (e.value.status_code, e.value.code) == (404, 40410000)


def test_a13_cancel_all(alpaca_server: AlpacaServer, client: TradingClient) -> None:
    quote(alpaca_server, "100.00", "100.02")
    ids = {
        client.submit_order(
            LimitOrderRequest(
                symbol="AAPL",
                qty=1,
                side=OrderSide.BUY,
                time_in_force=TimeInForce.GTC,
                limit_price=p,
            )
        ).id
        for p in (98, 98.5, 99)
    }
    out = client.cancel_orders()
    assert {r.id for r in out} == ids
    assert {r.status for r in out} == {200}
    assert client.get_orders() == []


def test_a14_close_positions(alpaca_server: AlpacaServer, client: TradingClient) -> None:
    quote(alpaca_server, "100.00", "100.02")
    quote(alpaca_server, "50.00", "50.02", symbol="MSFT")
    buy(client, 10)
    client.submit_order(
        MarketOrderRequest(symbol="MSFT", qty=4, side=OrderSide.BUY, time_in_force=TimeInForce.DAY)
    )
    half = client.close_position("AAPL", ClosePositionRequest(percentage="50"))
    assert (half.side, half.qty, half.status) == (OrderSide.SELL, "5", OrderStatus.FILLED)
    assert client.get_open_position("AAPL").qty == "5"
    out = client.close_all_positions()
    assert sorted(r.symbol for r in out) == ["AAPL", "MSFT"]
    assert client.get_all_positions() == []
    with pytest.raises(APIError) as e:
        client.get_open_position("AAPL")
    assert e.value.status_code == 404


def test_a15_rejections(alpaca_server: AlpacaServer, client: TradingClient) -> None:
    quote(alpaca_server, "100.00", "100.02")
    with pytest.raises(APIError) as e:
        client.submit_order(
            LimitOrderRequest(
                symbol="AAPL",
                qty=2000,
                side=OrderSide.BUY,
                time_in_force=TimeInForce.DAY,
                limit_price=100,
            )
        )
    assert (e.value.status_code, e.value.code) == (403, 40310000)
    assert "insufficient buying power" in e.value.message
    buy_unknown = MarketOrderRequest(
        symbol="NOPE", qty=1, side=OrderSide.BUY, time_in_force=TimeInForce.DAY
    )
    with pytest.raises(APIError) as e:
        client.submit_order(buy_unknown)
    assert (e.value.status_code, e.value.code) == (422, 40010001)
    assert "NOPE" in e.value.message
    client.submit_order(
        LimitOrderRequest(
            symbol="AAPL",
            qty=1,
            side=OrderSide.BUY,
            time_in_force=TimeInForce.DAY,
            limit_price=99,
            client_order_id="c1",
        )
    )
    with pytest.raises(APIError) as e:
        client.submit_order(
            LimitOrderRequest(
                symbol="AAPL",
                qty=1,
                side=OrderSide.BUY,
                time_in_force=TimeInForce.DAY,
                limit_price=99,
                client_order_id="c1",
            )
        )
    assert e.value.status_code == 422
    # Server-side rules the SDK does not check first (raw HTTP):
    headers = {
        "APCA-API-KEY-ID": alpaca_server.key_id,
        "APCA-API-SECRET-KEY": alpaca_server.secret_key,
    }
    cases = [
        (
            {"symbol": "AAPL", "qty": 1, "side": "buy", "type": "limit", "time_in_force": "day"},
            "limit_price",
        ),
        (
            {
                "symbol": "AAPL",
                "qty": 1,
                "side": "buy",
                "type": "limit",
                "time_in_force": "day",
                "limit_price": "99.001",
            },
            "limit_price",
        ),
        (
            {
                "symbol": "AAPL",
                "qty": 1,
                "side": "buy",
                "type": "market",
                "time_in_force": "day",
                "extended_hours": True,
            },
            "extended_hours",
        ),
        (
            {"symbol": "AAPL", "qty": 0, "side": "buy", "type": "market", "time_in_force": "day"},
            "qty",
        ),
    ]
    for body, field in cases:
        r = requests.post(
            f"{alpaca_server.base_url}/v2/orders", json=body, headers=headers, timeout=5
        )
        assert r.status_code == 422, body
        assert r.json()["code"] in (40010001, 42210000)
        assert field in r.json()["message"], (body, r.json())


def test_a16_queries(alpaca_server: AlpacaServer, client: TradingClient) -> None:
    quote(alpaca_server, "100.00", "100.02")
    quote(alpaca_server, "50.00", "50.02", symbol="MSFT")
    a = client.submit_order(
        LimitOrderRequest(
            symbol="AAPL",
            qty=1,
            side=OrderSide.BUY,
            time_in_force=TimeInForce.GTC,
            limit_price=99,
            client_order_id="mine",
        )
    )
    client.submit_order(
        LimitOrderRequest(
            symbol="MSFT", qty=1, side=OrderSide.SELL, time_in_force=TimeInForce.GTC, limit_price=51
        )
    )
    assert client.get_order_by_client_id("mine").id == a.id
    assert [o.symbol for o in client.get_orders(GetOrdersRequest(symbols=["MSFT"]))] == ["MSFT"]
    assert [o.side for o in client.get_orders(GetOrdersRequest(side=OrderSide.BUY))] == [
        OrderSide.BUY
    ]
    asc = client.get_orders(GetOrdersRequest(direction="asc"))
    assert [o.symbol for o in asc] == ["AAPL", "MSFT"]
    assert client.get_orders(GetOrdersRequest(status=QueryOrderStatus.CLOSED)) == []
    acct = client.get_account()
    assert acct.status.value == "ACTIVE"
    assert D(acct.cash) == 100_000
    assert {x.symbol for x in client.get_all_assets()} == {"AAPL", "MSFT", "SPY"}
    assert client.get_asset("AAPL").symbol == "AAPL"
    clock = client.get_clock()
    assert clock.next_open > clock.timestamp or clock.is_open
    days = client.get_calendar(GetCalendarRequest(start="2012-11-21", end="2012-11-26"))
    assert [(d.date.isoformat(), d.close.strftime("%H:%M")) for d in days] == [
        ("2012-11-21", "16:00"),
        ("2012-11-23", "13:00"),
        ("2012-11-26", "16:00"),
    ]


def test_a17_auth(alpaca_server: AlpacaServer) -> None:
    bad = TradingClient(alpaca_server.key_id, "wrong", url_override=alpaca_server.base_url)
    with pytest.raises(APIError) as e:
        bad.get_account()
    assert (e.value.status_code, e.value.code) == (401, 40110000)
    assert alpaca_server.secret_key not in repr(alpaca_server)


def test_a18_rate_limit_answers_429_with_alpacas_headers() -> None:
    broker = scripted_broker(("AAPL",), start_ns=ALPACA_SERVER_START_NS)
    with AlpacaServer(broker, key_id="k", secret_key="s", requests_per_minute=5) as server:
        headers = {"APCA-API-KEY-ID": "k", "APCA-API-SECRET-KEY": "s"}
        got = [
            requests.get(f"{server.base_url}/v2/clock", headers=headers, timeout=5)
            for _ in range(6)
        ]
    assert [r.status_code for r in got] == [200] * 5 + [429]
    assert [r.headers["X-Ratelimit-Remaining"] for r in got[:5]] == ["4", "3", "2", "1", "0"]
    assert got[5].headers["X-Ratelimit-Limit"] == "5"
    assert int(got[5].headers["X-Ratelimit-Reset"]) > time.time()
    assert got[5].json()["code"] == 42910000


def test_a18_the_servers_wall_time_is_the_clock_it_is_given() -> None:
    # Pacing and the X-Ratelimit-Reset header read the injected wall clock, never the machine's:
    # a wall clock stopped 2.5 s into a second resets at the next whole second of it.
    wall = SimulatedClock(1_000 * NS_PER_SECOND + 2_500_000_000)
    broker = scripted_broker(("AAPL",), clock=SimulatedClock(ALPACA_SERVER_START_NS))
    assert broker.now() == ALPACA_SERVER_START_NS  # the paper broker starts at its clock's time
    server = AlpacaServer(
        broker, key_id="k", secret_key="s", requests_per_minute=1, wall_clock=wall
    )
    with server:
        headers = {"APCA-API-KEY-ID": "k", "APCA-API-SECRET-KEY": "s"}
        got = [
            requests.get(f"{server.base_url}/v2/clock", headers=headers, timeout=5)
            for _ in range(2)
        ]
        assert server.broker.now() == ALPACA_SERVER_START_NS  # the wall clock stood still
    assert [r.status_code for r in got] == [200, 429]
    assert int(got[1].headers["X-Ratelimit-Reset"]) >= 1_003  # the window ends a minute on
    assert int(got[1].headers["X-Ratelimit-Reset"]) <= 1_003 + 60


@pytest.fixture
def updates(alpaca_server: AlpacaServer) -> Iterator[list[TradeUpdate]]:
    seen: list[TradeUpdate] = []
    stream = TradingStream(
        alpaca_server.key_id, alpaca_server.secret_key, url_override=alpaca_server.stream_url
    )

    async def on_update(u: TradeUpdate) -> None:
        seen.append(u)

    stream.subscribe_trade_updates(on_update)
    thread = threading.Thread(target=stream.run, daemon=True)
    thread.start()
    eventually(lambda: bool(alpaca_server._streams), 10, 0.01)
    yield seen
    stream.stop()
    thread.join(timeout=0.5)  # the SDK notices the stop at its next 5 s read poll (daemon)


def test_a19_trade_updates_stream(
    alpaca_server: AlpacaServer, client: TradingClient, updates: list[TradeUpdate]
) -> None:
    quote(alpaca_server, "100.00", "100.02")
    o = client.submit_order(
        LimitOrderRequest(
            symbol="AAPL",
            qty=5,
            side=OrderSide.BUY,
            time_in_force=TimeInForce.GTC,
            limit_price=99.5,
        )
    )
    quote(alpaca_server, "99.40", "99.45", size=3)
    quote(alpaca_server, "99.40", "99.45", size=2)
    wait_for(lambda: len(updates) >= 3)
    assert [(u.event, u.order.status) for u in updates] == [
        ("new", OrderStatus.NEW),
        ("partial_fill", OrderStatus.PARTIALLY_FILLED),
        ("fill", OrderStatus.FILLED),
    ]
    fill = updates[2]
    assert fill.order.id == o.id
    assert isinstance(fill.execution_id, uuid.UUID)
    assert (fill.price, fill.qty, fill.position_qty) == (99.45, 2.0, 5.0)


def test_a20_stream_refuses_bad_credentials(alpaca_server: AlpacaServer) -> None:
    import json

    from ws_client import ws_connect

    with ws_connect(alpaca_server.stream_url) as ws:
        ws.send(
            json.dumps(
                {
                    "action": "authenticate",
                    "data": {"key_id": alpaca_server.key_id, "secret_key": "no"},
                }
            )
        )
        reply = json.loads(ws.recv(timeout=5))
    assert reply == {
        "stream": "authorization",
        "data": {"status": "unauthorized", "action": "authenticate"},
    }


@contextlib.contextmanager
def serving(*args: str) -> Iterator[ServedAlpaca]:
    """``fillforge serve alpaca ARGS`` in its own process; the secret must not appear in
    anything it prints."""
    with served_alpaca("--duration", "20", *args) as served:
        assert served.base_url.startswith("http://127.0.0.1:")
        assert served.stream_url == served.base_url.replace("http", "ws") + "/stream"
        yield served
    assert served.output
    assert served.secret_key not in "".join(served.output)


def test_a21_cli_serves_the_shipped_day() -> None:
    with serving("--speed", "600") as s:
        c = TradingClient(s.key_id, s.secret_key, url_override=s.base_url)
        assert c.get_asset("GOOG").symbol == "GOOG"
        t0 = c.get_clock().timestamp
        assert t0.date().isoformat() == "2012-06-21"  # the replayed day's clock
        time.sleep(0.5)
        assert (c.get_clock().timestamp - t0).total_seconds() > 60  # 600x the wall clock
        o = c.submit_order(
            MarketOrderRequest(
                symbol="GOOG", qty=10, side=OrderSide.BUY, time_in_force=TimeInForce.DAY
            )
        )
        assert o.status is OrderStatus.FILLED
        assert 560 < float(o.filled_avg_price or 0) < 590


def test_a21_cli_serves_standing_scripted_quotes() -> None:
    from alpaca.data.historical import StockHistoricalDataClient
    from alpaca.data.requests import StockLatestQuoteRequest

    with serving(
        "--data",
        "scripted",
        "--quote",
        "AAPL=100.00/100.02x500",
        "--quote",
        "ko=60/60.1",
        "--start",
        "2024-06-04T10:00:00-04:00",
    ) as s:
        c = TradingClient(s.key_id, s.secret_key, url_override=s.base_url)
        clock = c.get_clock()
        assert clock.is_open
        assert clock.timestamp.isoformat().startswith("2024-06-04T14:00:0")  # a UTC wall clock
        assert {a.symbol for a in c.get_all_assets()} == {"AAPL", "MSFT", "SPY", "KO"}
        o = c.submit_order(
            MarketOrderRequest(
                symbol="AAPL", qty=5, side=OrderSide.BUY, time_in_force=TimeInForce.DAY
            )
        )
        assert (o.status, o.filled_avg_price) == (OrderStatus.FILLED, "100.02")
        data = StockHistoricalDataClient(s.key_id, s.secret_key, url_override=s.base_url)
        ko = data.get_stock_latest_quote(StockLatestQuoteRequest(symbol_or_symbols="KO"))["KO"]
        assert (ko.bid_price, ko.ask_price, ko.ask_size) == (60.0, 60.1, 1000.0)


def test_served_alpaca_says_why_a_server_did_not_start() -> None:
    from fillforge.errors import SimulationError

    with (
        pytest.raises(SimulationError, match=r"the server did not start: .*--data='nope'"),
        served_alpaca("--data", "nope"),
    ):
        pass


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--data", "scripted", "--quote", "AAPL=100.02/100"], "needs 0 < bid < ask"),
        (["--data", "scripted", "--quote", "AAPL:100"], "expected SYMBOL=BID/ASK[xSIZE]"),
        (["--quote", "AAPL=1/2"], "--quote and --start need --data scripted"),
        (["--data", "scripted", "--start", "2024-06-04T10:00:00"], "expected ISO 8601 with an"),
    ],
)
def test_a22_cli_refuses_a_bad_quote(args: list[str], says: str) -> None:
    import os
    import subprocess
    import sys

    env = dict(os.environ, APCA_API_KEY_ID="cli-key", APCA_API_SECRET_KEY="cli-secret")
    cmd = [sys.executable, "-m", "fillforge", "serve", "alpaca", "--duration", "1", *args]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    assert proc.returncode == 2
    assert says in proc.stdout
    assert "http://" not in proc.stdout  # it never started


def test_a22_cli_needs_credentials() -> None:
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("APCA_")}
    proc = subprocess.run(
        [sys.executable, "-m", "fillforge", "serve", "alpaca", "--duration", "1"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert "APCA_API_KEY_ID" in proc.stdout


@pytest.mark.parametrize(
    ("utc", "tif", "accepted"),
    [
        ("13:27", "opg", True),  # 9:27 ET
        ("13:28", "opg", False),  # 9:28 ET
        ("19:49", "cls", True),  # 15:49 ET
        ("19:50", "cls", False),
        ("23:00", "opg", True),  # 19:00 ET: queued for the next day
    ],
)
def test_a23_auction_orders_have_alpacas_submission_windows(
    utc: str, tif: str, accepted: bool
) -> None:
    import datetime as dt

    t = dt.datetime.fromisoformat(f"2024-06-04T{utc}:00+00:00")
    broker = scripted_broker(("AAPL",), start_ns=int(t.timestamp()) * 10**9)
    with AlpacaServer(broker, key_id="k", secret_key="s", speed=None) as server:
        headers = {"APCA-API-KEY-ID": "k", "APCA-API-SECRET-KEY": "s"}
        body = {"symbol": "AAPL", "qty": 1, "side": "buy", "type": "limit", "limit_price": 1}
        r = requests.post(
            f"{server.base_url}/v2/orders",
            json=body | {"time_in_force": tif},
            headers=headers,
            timeout=5,
        )
    if accepted:
        assert r.status_code == 200, r.text
    else:
        assert (r.status_code, r.json()["code"]) == (422, 42210000)
        assert "7:00pm ET" in r.json()["message"]


def test_a24_alpacas_protective_conversions(
    alpaca_server: AlpacaServer, client: TradingClient
) -> None:
    quote(alpaca_server, "100.00", "100.02", size=10)
    buy = client.submit_order(
        MarketOrderRequest(symbol="AAPL", qty=25, side=OrderSide.BUY, time_in_force=TimeInForce.DAY)
    )
    # A marketable limit at the ask + 2.5%: what the offer did not fill keeps working.
    assert (buy.type.value, buy.limit_price) == ("limit", "102.53")
    assert (buy.status, buy.filled_qty) == (OrderStatus.PARTIALLY_FILLED, "10")
    stop = client.submit_order(
        StopOrderRequest(
            symbol="AAPL", qty=1, side=OrderSide.BUY, time_in_force=TimeInForce.GTC, stop_price=40
        )
    )
    assert (stop.type.value, stop.stop_price, stop.limit_price) == ("stop_limit", "40", "41.6")
    sell_stop = client.submit_order(
        StopOrderRequest(
            symbol="AAPL", qty=1, side=OrderSide.SELL, time_in_force=TimeInForce.GTC, stop_price=90
        )
    )
    assert (sell_stop.type.value, sell_stop.limit_price) == ("stop", None)


def test_a25_replacing_a_trail_keeps_the_water_mark(
    alpaca_server: AlpacaServer, client: TradingClient
) -> None:
    quote(alpaca_server, "100.00", "100.02")
    buy(client)
    trade(alpaca_server, "100.00")
    o = client.submit_order(
        TrailingStopOrderRequest(
            symbol="AAPL",
            qty=10,
            side=OrderSide.SELL,
            time_in_force=TimeInForce.GTC,
            trail_price=2.0,
        )
    )
    trade(alpaca_server, "103.00", aggressor="buy")
    assert (client.get_order_by_id(o.id).hwm, client.get_order_by_id(o.id).stop_price) == (
        "103",
        "101",
    )
    new = client.replace_order_by_id(o.id, ReplaceOrderRequest(trail=0.5))
    assert (new.replaces, new.trail_price, new.hwm, new.stop_price) == (o.id, "0.5", "103", "102.5")
    assert client.get_order_by_id(o.id).status is OrderStatus.REPLACED
    quote(alpaca_server, "102.40", "102.45")
    trade(alpaca_server, "102.45")
    assert client.get_order_by_id(new.id).status is OrderStatus.FILLED


def test_a26_notional_market_orders_buy_fractional_shares(
    alpaca_server: AlpacaServer, client: TradingClient
) -> None:
    quote(alpaca_server, "100.00", "100.02")
    o = client.submit_order(
        MarketOrderRequest(
            symbol="AAPL", notional=500, side=OrderSide.BUY, time_in_force=TimeInForce.DAY
        )
    )
    assert (o.notional, o.qty, o.status) == ("500", None, OrderStatus.FILLED)
    assert o.filled_qty == "4.999000199"  # 500 / 100.02, down to Alpaca's 9 decimals
    assert client.get_open_position("AAPL").qty == "4.999000199"
    with pytest.raises(APIError) as e:  # notional is for market orders, day only
        client.submit_order(
            MarketOrderRequest(
                symbol="AAPL", notional=500, side=OrderSide.BUY, time_in_force=TimeInForce.GTC
            )
        )
    assert e.value.status_code == 422
    assert alpaca_server.call(lambda b: b.ledger.reservations()) == {}


def test_a27_a_short_sale_holds_buying_power_at_the_ask_plus_3_percent(
    alpaca_server: AlpacaServer, client: TradingClient
) -> None:
    quote(alpaca_server, "100.00", "100.02")

    def short(qty: int) -> Any:
        return client.submit_order(
            LimitOrderRequest(
                symbol="AAPL",
                qty=qty,
                side=OrderSide.SELL,
                time_in_force=TimeInForce.GTC,
                limit_price=101,
            )
        )

    with pytest.raises(APIError) as e:  # 975 x max(101, 103.0206) = 100,445 > 100,000
        short(975)
    assert (e.value.status_code, e.value.code) == (403, 40310000)
    assert short(970).status is OrderStatus.NEW  # 970 x 103.0206 = 99,929.98


def test_a28_latest_quotes_for_alpacas_market_data_client(alpaca_server: AlpacaServer) -> None:
    from alpaca.data.enums import DataFeed
    from alpaca.data.historical import StockHistoricalDataClient
    from alpaca.data.requests import StockLatestQuoteRequest

    quote(alpaca_server, "100.00", "100.02", size=300)
    quote(alpaca_server, "50.10", "50.14", size=7, symbol="MSFT")
    data = StockHistoricalDataClient(
        alpaca_server.key_id, alpaca_server.secret_key, url_override=alpaca_server.base_url
    )
    got = data.get_stock_latest_quote(
        StockLatestQuoteRequest(symbol_or_symbols=["AAPL", "MSFT", "NOPE"], feed=DataFeed.IEX)
    )
    assert {s: (q.bid_price, q.bid_size, q.ask_price, q.ask_size) for s, q in got.items()} == {
        "AAPL": (100.0, 300.0, 100.02, 300.0),
        "MSFT": (50.1, 7.0, 50.14, 7.0),
    }
    assert got["AAPL"].timestamp.timestamp() == pytest.approx(
        alpaca_server.call(lambda b: b.now()) / 1e9, abs=5
    )
    bad = StockHistoricalDataClient(
        alpaca_server.key_id, "wrong", url_override=alpaca_server.base_url
    )
    with pytest.raises(APIError) as e:
        bad.get_stock_latest_quote(StockLatestQuoteRequest(symbol_or_symbols="AAPL"))
    assert e.value.status_code == 401
