"""The served user-data stream: unmodified ccxt.pro's ``watch_orders`` and ``watch_balance`` over
the WebSocket API, the listen-key stream, refused subscriptions; and ``CcxtBroker(stream=True)``
getting fills without polling, reconnecting and reconciling after the server drops its sockets."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import ccxt.pro as ccxtpro
import pytest
import requests
from polling import wait_for
from ws_client import ws_connect

from fillforge.binance import BinanceServer, scripted_broker
from fillforge.orders.enums import OrderStatus
from fillforge.orders.models import OrderRequest
from fillforge.venues.ccxt import CcxtBroker

D = Decimal
BID, ASK = D("30000.00"), D("30000.10")


@pytest.fixture
def server() -> Iterator[BinanceServer]:
    broker = scripted_broker(start_ns=1_700_000_000_000_000_000, cash=D(10_000))
    broker.quote("BTCUSDT", BID, ASK, bid_size=D(2), ask_size=D(2))
    with BinanceServer(
        broker, api_key=secrets.token_hex(8), secret_key=secrets.token_hex(16), speed=None
    ) as s:
        yield s


def _eventually(check: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "not in time"
        time.sleep(0.02)


def test_ccxt_pro_watches_orders_and_balances(server: BinanceServer) -> None:
    async def run() -> tuple[list[dict[str, Any]], dict[str, Any]]:
        ex = ccxtpro.binance(
            {"apiKey": server.api_key, "secret": server.secret_key, "urls": {"api": server.urls}}
        )
        try:
            await ex.load_markets()
            orders = asyncio.ensure_future(ex.watch_orders("BTC/USDT"))
            balance = asyncio.ensure_future(ex.watch_balance())
            await asyncio.sleep(0.3)  # subscribed
            placed = await ex.create_order("BTC/USDT", "market", "buy", 0.01)
            got = await asyncio.wait_for(orders, 10)
            bal = await asyncio.wait_for(balance, 10)
            assert got[-1]["id"] == placed["id"]
            return got, bal
        finally:
            await ex.close()

    got, bal = asyncio.run(run())
    assert got[-1]["status"] in ("open", "closed")
    assert bal["BTC"]["total"] == 0.01


def _subscribe(server: BinanceServer, secret: str, stamp: int | None = None) -> dict[str, Any]:
    params = {"apiKey": server.api_key, "timestamp": stamp or server.now_ms()}
    query = "&".join(f"{k}={params[k]}" for k in sorted(params))
    sig = hmac.new(secret.encode(), query.encode(), hashlib.sha256).hexdigest()
    request = {"id": "s1", "method": "userDataStream.subscribe.signature"}
    return {**request, "params": {**params, "signature": sig}}


def test_a_subscription_needs_a_good_signature_and_a_fresh_timestamp(
    server: BinanceServer,
) -> None:
    url = f"ws://127.0.0.1:{server.port}/ws-api/v3"
    with ws_connect(url) as ws:
        ws.send(json.dumps(_subscribe(server, "0" * 32)))
        refused = json.loads(ws.recv(timeout=5))
        assert refused["status"] == 400
        assert refused["error"]["code"] == -1022
        ws.send(json.dumps(_subscribe(server, server.secret_key, stamp=server.now_ms() - 60_000)))
        assert json.loads(ws.recv(timeout=5))["error"]["code"] == -1021
        ws.send("not json")
        assert json.loads(ws.recv(timeout=5))["status"] == 400
        ws.send(json.dumps(_subscribe(server, server.secret_key)))
        ok = json.loads(ws.recv(timeout=5))
        assert ok["status"] == 200
        assert ok["result"]["subscriptionId"] >= 1


def test_unsubscribe_and_a_closed_socket_drop_every_subscription(server: BinanceServer) -> None:
    url = f"ws://127.0.0.1:{server.port}/ws-api/v3"
    with ws_connect(url) as ws:
        for _ in range(2):
            ws.send(json.dumps(_subscribe(server, server.secret_key)))
            assert json.loads(ws.recv(timeout=5))["status"] == 200
        assert len(server.stream.listening) == 2
        ws.send(json.dumps({"id": "u1", "method": "userDataStream.unsubscribe"}))
        assert json.loads(ws.recv(timeout=5))["result"] == {}
        assert len(server.stream.listening) == 0
        ws.send(json.dumps(_subscribe(server, server.secret_key)))
        assert json.loads(ws.recv(timeout=5))["status"] == 200
        assert len(server.stream.listening) == 1
    wait_for(lambda: len(server.stream.listening) == 0)


def test_the_listen_key_stream_sends_execution_reports(server: BinanceServer) -> None:
    http = requests.Session()
    http.trust_env = False
    key = http.post(
        f"{server.base_url}/api/v3/userDataStream", headers={"X-MBX-APIKEY": server.api_key}
    ).json()["listenKey"]
    with ws_connect(f"ws://127.0.0.1:{server.port}/ws/{key}") as ws:
        time.sleep(0.2)
        server.call(
            lambda b: b.submit(
                OrderRequest(
                    symbol="BTCUSDT",
                    side="buy",
                    type="limit",
                    time_in_force="gtc",
                    qty=D("0.01"),
                    limit_price=D(29_000),
                    client_order_id="watched",
                )
            )
        )
        report = json.loads(ws.recv(timeout=5))
    assert report["e"] == "executionReport"
    assert (report["x"], report["X"], report["c"], report["p"]) == (
        "NEW",
        "NEW",
        "watched",
        "29000.00000000",
    )
    with pytest.raises(Exception, match=r"1008|rejected|403"):
        ws_connect(f"ws://127.0.0.1:{server.port}/ws/not-a-key").recv(timeout=5)


def test_ccxt_broker_streams_fills_and_reconciles_after_a_drop(server: BinanceServer) -> None:
    b = CcxtBroker(
        "binance",
        api_key=server.api_key,
        secret=server.secret_key,
        config={"urls": {"api": server.urls}},
        poll_every=None,
        stream=True,
    )
    with b:
        assert b.stream is not None
        o = b.submit(
            OrderRequest(
                symbol="BTC/USDT",
                side="buy",
                type="limit",
                time_in_force="gtc",
                qty=D("0.01"),
                limit_price=BID - 1,
            )
        )
        server.call(lambda s: s.quote("BTCUSDT", BID - 3, BID - 2, bid_size=D(5), ask_size=D(5)))
        _eventually(lambda: o.status is OrderStatus.FILLED)  # no poll: the stream brought it
        second = b.submit(
            OrderRequest(
                symbol="BTC/USDT",
                side="buy",
                type="limit",
                time_in_force="gtc",
                qty=D("0.01"),
                limit_price=BID - 10,
            )
        )
        server.stream.drop()  # the socket closes: the fill below happens while it is down
        server.call(lambda s: s.quote("BTCUSDT", BID - 13, BID - 12, bid_size=D(5), ask_size=D(5)))
        _eventually(lambda: second.status is OrderStatus.FILLED)
        assert b.reconnects >= 1
