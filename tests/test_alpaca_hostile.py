"""The Alpaca paper server under hostile clients and restarts: ids that never repeat across
starts, numbers checked before anything changes, malformed auth and websocket traffic, request
limits (Issue #14, part 2). Each test is written to fail on the server before the hardening."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import requests

from fillforge.alpaca import AlpacaServer, paper, scripted_broker, served_alpaca
from fillforge.errors import OrderValidationError
from fillforge.orders.models import OrderEvent, OrderRequest, StopLoss, TakeProfit
from fillforge.testing import ALPACA_SERVER_START_NS, SimHarness

D = Decimal

QUOTE = ("--data", "scripted", "--quote", "AAPL=100.00/100.02x1000")
START = ("--start", "2026-11-23T10:00:00-05:00")


def _headers(key: str, secret: str) -> dict[str, str]:
    return {"APCA-API-KEY-ID": key, "APCA-API-SECRET-KEY": secret}


def test_order_ids_are_fresh_at_every_start_unless_a_seed_is_asked_for() -> None:
    first = [paper.uuid_ids()() for _ in range(3)]
    assert len(set(first)) == 3
    seeded = [paper.uuid_ids(7)() for _ in range(2)]
    assert seeded[0] == seeded[1]  # a fixed seed repeats exactly, for tests that ask
    a, b = (scripted_broker(start_ns=ALPACA_SERVER_START_NS) for _ in range(2))
    assert a.manager._next_id() != b.manager._next_id()


def test_a_stale_id_from_before_a_restart_names_no_order_after_it() -> None:
    body = {"symbol": "AAPL", "qty": 1, "side": "buy", "type": "limit", "limit_price": "50"}
    with served_alpaca(*QUOTE, *START) as first:
        h = _headers(first.key_id, first.secret_key)
        stale = requests.post(f"{first.base_url}/v2/orders", json=body, headers=h, timeout=10)
        assert stale.status_code == 200
    # The same command again, as after a kill -9 and a restart: the old id must name nothing.
    with served_alpaca(*QUOTE, *START, key_id=first.key_id, secret_key=first.secret_key) as again:
        fresh = requests.post(f"{again.base_url}/v2/orders", json=body, headers=h, timeout=10)
        assert fresh.json()["id"] != stale.json()["id"]
        gone = requests.delete(
            f"{again.base_url}/v2/orders/{stale.json()['id']}", headers=h, timeout=10
        )
        assert gone.status_code == 404
        still = requests.get(
            f"{again.base_url}/v2/orders/{fresh.json()['id']}", headers=h, timeout=10
        )
        assert still.json()["status"] in ("new", "accepted")


# ----- numbers: checked on the grid and in range before anything changes -------------------


def _server(**kw: Any) -> AlpacaServer:
    broker = scripted_broker(("AAPL", "MSFT"), start_ns=ALPACA_SERVER_START_NS)
    server = AlpacaServer(broker, key_id="k", secret_key="s", speed=None, **kw)
    server.call(
        lambda b: b.quote("AAPL", D("100.00"), D("100.02"), bid_size=D(500), ask_size=D(500))
    )
    return server


@pytest.fixture
def server() -> Iterator[AlpacaServer]:
    with _server() as s:
        yield s


H = {"APCA-API-KEY-ID": "k", "APCA-API-SECRET-KEY": "s"}
ENTRY = {"symbol": "AAPL", "qty": 1, "side": "buy", "type": "limit", "limit_price": "99"}


def post(server: AlpacaServer, body: Any, **kw: Any) -> requests.Response:
    return requests.post(f"{server.base_url}/v2/orders", json=body, headers=H, timeout=10, **kw)


def orders(server: AlpacaServer) -> requests.Response:
    return requests.get(f"{server.base_url}/v2/orders?status=all", headers=H, timeout=10)


@pytest.mark.parametrize(
    "body",
    [
        ENTRY
        | {
            "order_class": "bracket",
            "take_profit": {"limit_price": "1e1000000"},
            "stop_loss": {"stop_price": "90"},
        },
        ENTRY
        | {
            "order_class": "bracket",
            "take_profit": {"limit_price": "110"},
            "stop_loss": {"stop_price": "1e1000000"},
        },
        ENTRY
        | {"order_class": "oto", "stop_loss": {"stop_price": "90", "limit_price": "1e1000000"}},
        {
            "symbol": "AAPL",
            "side": "sell",
            "type": "limit",
            "qty": 1,
            "limit_price": "110",
            "order_class": "oco",
            "take_profit": {"limit_price": "1e1000000"},
            "stop_loss": {"stop_price": "90"},
        },
        {"symbol": "AAPL", "side": "buy", "type": "market", "notional": "1e1000000000"},
        {"symbol": "AAPL", "side": "buy", "type": "market", "notional": 1e300},
        ENTRY | {"limit_price": "1e1000000"},
        ENTRY | {"qty": "1e1000000"},
    ],
)
def test_a_number_past_the_core_range_is_422_and_changes_nothing(
    server: AlpacaServer, body: dict[str, Any]
) -> None:
    before = orders(server).json()
    r = post(server, body)
    assert r.status_code == 422, r.text
    assert r.json()["code"] == 40010001
    assert r.json()["message"]
    after = orders(server)
    assert after.status_code == 200
    assert after.json() == before


@pytest.mark.parametrize(
    ("leg", "field"),
    [
        (
            {"take_profit": {"limit_price": "200.001"}, "stop_loss": {"stop_price": "90"}},
            "take_profit.limit_price",
        ),
        (
            {"take_profit": {"limit_price": "110"}, "stop_loss": {"stop_price": "90.005"}},
            "stop_loss.stop_price",
        ),
        (
            {
                "take_profit": {"limit_price": "110"},
                "stop_loss": {"stop_price": "90", "limit_price": "89.999"},
            },
            "stop_loss.limit_price",
        ),
    ],
)
def test_a_bracket_with_an_exit_off_the_grid_is_refused_at_submission(
    server: AlpacaServer, leg: dict[str, Any], field: str
) -> None:
    r = post(server, ENTRY | {"order_class": "bracket"} | leg)
    assert r.status_code == 422, r.text
    assert field in r.json()["message"]
    assert orders(server).json() == []


def test_the_simulated_broker_refuses_a_bracket_exit_off_the_grid_before_anything_changes(
    sim: SimHarness,
) -> None:
    sim.quote("100.00", "100.02", size=500)
    request = OrderRequest(
        symbol="TEST", side="buy", qty=D(10), type="limit", limit_price=D("100.02"),
        order_class="bracket", take_profit=TakeProfit(limit_price=D("105.005")),
        stop_loss=StopLoss(stop_price=D("95")),
    )  # fmt: skip
    cash = sim.broker.account().buying_power
    with pytest.raises(OrderValidationError, match=r"take_profit\.limit_price"):
        sim.submit(request)
    assert list(sim.broker.orders()) == []
    assert sim.broker.account().buying_power == cash


@pytest.mark.parametrize(
    "text",
    ["1_000", " 50 ", "\uff15\uff10", "0x10", "1,5", "Infinity", "5e"],  # \uff15: a full-width 5
)
def test_loose_numbers_on_the_wire_are_422(server: AlpacaServer, text: str) -> None:
    r = post(server, ENTRY | {"limit_price": text})
    assert r.status_code == 422, r.text
    assert "limit_price" in r.json()["message"]
    r = post(server, ENTRY | {"qty": text})
    assert r.status_code == 422, r.text


# ----- refusals in Alpaca's terms ------------------------------------------------------------


def test_a_wash_trade_is_refused_as_alpaca_refuses_it(server: AlpacaServer) -> None:
    resting = post(server, ENTRY | {"limit_price": "99.00"})
    assert resting.status_code == 200
    for crossing in (
        {"symbol": "AAPL", "qty": 1, "side": "sell", "type": "market"},
        {"symbol": "AAPL", "qty": 1, "side": "sell", "type": "limit", "limit_price": "98.50"},
        {"symbol": "AAPL", "qty": 1, "side": "sell", "type": "limit", "limit_price": "99.00"},
    ):
        r = post(server, crossing)
        assert r.status_code == 403, r.text
        assert r.json() == {
            "code": 40310000,
            "message": "potential wash trade detected. use complex orders",
        }
    # A sell that cannot reach the resting buy is taken.
    away = {"symbol": "AAPL", "qty": 1, "side": "sell", "type": "limit", "limit_price": "99.01"}
    assert post(server, away).status_code == 200
    assert len(orders(server).json()) == 2


def test_a_venue_refusal_names_no_engine_internal_id(sim: SimHarness) -> None:
    seen: list[OrderEvent] = []
    sim.broker.subscribe(seen.append)
    sim.quote("100.00", "100.02", size=500)
    sim.buy_limit("99.00", 10)
    refused = sim.sell_limit("98.00", 10)  # would trade against the user's own bid
    assert refused.status.value == "rejected"
    reason = next(e.reason for e in seen if e.order_id == refused.id and e.reason) or ""
    assert "wash trade" in reason
    assert "order_id=" not in reason


def test_an_order_for_a_listed_instrument_without_a_price_says_so(server: AlpacaServer) -> None:
    r = post(server, {"symbol": "MSFT", "qty": 1, "side": "buy", "type": "market"})
    assert r.status_code == 422
    assert "no price yet" in r.json()["message"]
    assert "could not find" not in r.json()["message"]
    r = post(server, {"symbol": "NOPE", "qty": 1, "side": "buy", "type": "market"})
    assert (r.status_code, r.json()["message"]) == (422, "could not find us_equity 'NOPE'")


# ----- auth, bodies, websockets --------------------------------------------------------------


def test_a_non_ascii_key_is_401_not_500(server: AlpacaServer) -> None:
    for key in (b"PK\xff\xfe", "PKé".encode(), b"\x80"):
        r = requests.get(
            f"{server.base_url}/v2/account",
            headers={"APCA-API-KEY-ID": key, "APCA-API-SECRET-KEY": b"s\xff"},  # type: ignore[dict-item]
            timeout=10,
        )
        assert r.status_code == 401, r.text
        assert r.json()["code"] == 40110000


def test_a_body_over_the_limit_is_413_and_never_read_whole(server: AlpacaServer) -> None:
    big = b'{"symbol": "AAPL", "pad": "' + b"x" * (2 << 20) + b'"}'
    r = requests.post(f"{server.base_url}/v2/orders", data=big, headers=H, timeout=30)
    assert r.status_code == 413
    assert "larger than 1048576 bytes" in r.json()["message"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: chunked, cut off at the limit
        yield b'{"pad": "'
        for _ in range(64):
            yield b"x" * (64 << 10)
        yield b'"}'

    r = requests.post(f"{server.base_url}/v2/orders", data=chunks(), headers=H, timeout=30)
    assert r.status_code == 413
    assert orders(server).json() == []
    assert post(server, ENTRY).status_code == 200  # an ordinary body still passes


def test_failed_logins_are_throttled_per_address() -> None:
    with _server(login_failures_per_minute=5) as server:
        url = f"{server.base_url}/v2/account"
        bad = {"APCA-API-KEY-ID": "k", "APCA-API-SECRET-KEY": "guess"}
        got = [requests.get(url, headers=bad, timeout=10).status_code for _ in range(7)]
        assert got == [401] * 5 + [429, 429]
        # The address is locked out for the window, right key or not.
        locked = requests.get(url, headers=H, timeout=10)
        assert locked.status_code == 429
        assert int(locked.headers["Retry-After"]) > 0


def _ws(server: AlpacaServer) -> Any:
    from ws_client import ws_connect

    return ws_connect(server.stream_url, open_timeout=10, close_timeout=5)


@pytest.mark.parametrize(
    "frame",
    [
        "not json",
        "[1, 2]",
        '{"action": "authenticate", "data": "nope"}',
        '{"action": "authenticate", "data": {"key_id": "k", "secret_key": "wrong"}}',
        '{"action": "authenticate", "data": {"key_id": ["k"], "secret_key": {}}}',
        '{"action": "authenticate", "data": {"key_id": "\\udc80", "secret_key": "s"}}',
        b"\x00\xff binary",
    ],
)
def test_a_bad_login_frame_closes_the_socket_cleanly(server: AlpacaServer, frame: Any) -> None:
    from websockets.exceptions import ConnectionClosed

    with _ws(server) as ws:
        ws.send(frame)
        answer = json.loads(ws.recv(timeout=10))
        assert answer["stream"] == "authorization"
        assert answer["data"].get("status") == "unauthorized"
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1008


@pytest.mark.parametrize("frame", ["garbage", '{"action": "listen", "data": 5}', "[]"])
def test_a_bad_frame_after_login_closes_the_socket_cleanly(
    server: AlpacaServer, frame: str
) -> None:
    from websockets.exceptions import ConnectionClosed

    with _ws(server) as ws:
        ws.send(json.dumps({"action": "authenticate", "data": {"key_id": "k", "secret_key": "s"}}))
        assert json.loads(ws.recv(timeout=10))["data"]["status"] == "authorized"
        ws.send(frame)
        assert "error" in json.loads(ws.recv(timeout=10))["data"]
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1008
    assert post(server, ENTRY).status_code == 200  # the server serves on


def test_an_unauthenticated_socket_is_closed_after_the_auth_timeout() -> None:
    from websockets.exceptions import ConnectionClosed

    with _server(auth_timeout=0.5) as server, _ws(server) as ws:
        t0 = time.monotonic()
        assert "authentication timeout" in ws.recv(timeout=10)
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=10)
        assert time.monotonic() - t0 < 5
