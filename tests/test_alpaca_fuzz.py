"""Bad input to the Alpaca-compatible server gets Alpaca's error shape and changes nothing.

Random order bodies (well-formed, half-formed and garbage) go to ``POST /v2/orders``, random
replace bodies to ``PATCH``: every answer is 200, 403 or 422 with ``{"code", "message"}``, never
a 500, and a refused request leaves the orders, positions and account as they were.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st

from fillforge.alpaca import AlpacaServer, scripted_broker
from fillforge.testing import ALPACA_SERVER_START_NS

D = Decimal

numbers = st.one_of(
    st.integers(-5, 10**6),
    st.decimals(-10, 10**5, places=3, allow_nan=False, allow_infinity=False).map(str),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["", "abc", "1e400", "NaN", "-0", "0.000000001", "100.005"]),
)
anything = st.one_of(
    st.none(),
    st.booleans(),
    numbers,
    st.text(max_size=8),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=4), st.integers(), max_size=2),
)
FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "symbol": st.sampled_from(["AAPL", "MSFT", "NOPE", "", "aapl", "AAPL/USD"]),
    "qty": numbers,
    "notional": numbers,
    "side": st.sampled_from(["buy", "sell", "short", ""]),
    "type": st.sampled_from(["market", "limit", "stop", "stop_limit", "trailing_stop", "x"]),
    "time_in_force": st.sampled_from(["day", "gtc", "ioc", "fok", "opg", "cls", "gtd"]),
    "limit_price": numbers,
    "stop_price": numbers,
    "trail_price": numbers,
    "trail_percent": numbers,
    "extended_hours": st.one_of(st.booleans(), st.text(max_size=3)),
    "client_order_id": st.text(max_size=60),
    "order_class": st.sampled_from(["simple", "bracket", "oco", "oto", "mleg", ""]),
    "take_profit": st.one_of(st.fixed_dictionaries({"limit_price": numbers}), anything),
    "stop_loss": st.one_of(
        st.fixed_dictionaries({"stop_price": numbers}, optional={"limit_price": numbers}),
        anything,
    ),
}
# Mostly the fields an order has, each maybe with a wrong value; sometimes a stray key.
bodies = st.one_of(
    st.fixed_dictionaries({}, optional=FIELDS),
    st.fixed_dictionaries({}, optional=FIELDS).flatmap(
        lambda d: st.dictionaries(st.text(max_size=6), anything, max_size=2).map(d.__or__)
    ),
    anything,
)


@pytest.fixture(scope="module")
def server() -> Iterator[AlpacaServer]:
    broker = scripted_broker(("AAPL", "MSFT"), start_ns=ALPACA_SERVER_START_NS)
    with AlpacaServer(broker, key_id="k", secret_key="s", requests_per_minute=10**6) as s:
        s.call(lambda b: b.quote("AAPL", D("100.00"), D("100.02"), bid_size=D(50), ask_size=D(50)))
        s.call(lambda b: b.quote("MSFT", D("50.00"), D("50.02"), bid_size=D(50), ask_size=D(50)))
        yield s


HEADERS = {"APCA-API-KEY-ID": "k", "APCA-API-SECRET-KEY": "s", "Content-Type": "application/json"}


def send(server: AlpacaServer, method: str, path: str, body: Any) -> requests.Response:
    """``body`` as JSON, NaN and Infinity written as Python writes them (not JSON: refused)."""
    return requests.request(
        method, f"{server.base_url}{path}", data=json.dumps(body), headers=HEADERS, timeout=10
    )


def state(server: AlpacaServer) -> tuple[Any, ...]:
    def read(b: Any) -> tuple[Any, ...]:
        orders = tuple(sorted((o.id, o.status.value, o.cum_qty) for o in b.orders()))
        positions = tuple(sorted((s, p.qty) for s, p in b.positions().items()))
        a = b.account()
        return orders, positions, a.cash, a.buying_power

    out: tuple[Any, ...] = server.call(read)
    return out


def check(r: requests.Response) -> None:
    assert r.status_code in (200, 403, 422), (r.status_code, r.text)
    if r.status_code != 200:
        body = r.json()
        assert isinstance(body["code"], int), body
        assert isinstance(body["message"], str), body
        assert body["message"], body


@settings(max_examples=400)
@given(body=bodies)
def test_any_order_body_is_answered_and_a_refusal_changes_nothing(
    server: AlpacaServer, body: Any
) -> None:
    before = state(server)
    r = send(server, "POST", "/v2/orders", body)
    check(r)
    if r.status_code != 200:
        assert state(server) == before, (body, r.text)
    requests.delete(f"{server.base_url}/v2/orders", headers=HEADERS, timeout=10)
    requests.delete(f"{server.base_url}/v2/positions", headers=HEADERS, timeout=10)


@settings(max_examples=200)
@given(body=bodies)
def test_any_replace_body_is_answered_and_a_refusal_changes_nothing(
    server: AlpacaServer, body: Any
) -> None:
    order = {
        "symbol": "AAPL",
        "qty": 2,
        "side": "buy",
        "type": "limit",
        "time_in_force": "gtc",
        "limit_price": "99",
    }
    placed = send(server, "POST", "/v2/orders", order)
    assert placed.status_code == 200, placed.text
    before = state(server)
    r = send(server, "PATCH", f"/v2/orders/{placed.json()['id']}", body)
    check(r)
    if r.status_code != 200:
        assert state(server) == before, (body, r.text)
    requests.delete(f"{server.base_url}/v2/orders", headers=HEADERS, timeout=10)


@pytest.mark.parametrize(
    "raw",
    [b"{", b"\xff\xfe", b"[]", b"null", b"42", b'"x"', b'{"qty": 1e999999}', b'{"qty": NaN}'],
)
def test_a_body_that_is_not_an_order_object_is_422(server: AlpacaServer, raw: bytes) -> None:
    before = state(server)
    for method in ("POST", "PATCH"):
        url = f"{server.base_url}/v2/orders"
        if method == "PATCH":
            url += "/00000000-0000-4000-8000-000000000000"
        r = requests.request(method, url, data=raw, headers=HEADERS, timeout=10)
        assert r.status_code in (404, 422), (method, raw, r.status_code, r.text)
        assert isinstance(r.json()["code"], int)
    assert state(server) == before


def test_openapi_describes_every_route(server: AlpacaServer) -> None:
    spec = requests.get(f"{server.base_url}/openapi.json", headers=HEADERS, timeout=10).json()
    assert {
        "/v2/orders",
        "/v2/orders/{order_id}",
        "/v2/orders:by_client_order_id",
        "/v2/positions",
        "/v2/positions/{symbol}",
        "/v2/account",
        "/v2/clock",
        "/v2/calendar",
        "/v2/assets",
        "/v2/assets/{symbol}",
        "/v2/stocks/quotes/latest",
    } <= set(spec["paths"])


words = st.one_of(
    st.sampled_from(["", "open", "closed", "all", "asc", "desc", "buy", "sell", "true", "x"]),
    st.sampled_from(["2024-06-04", "2024-06-04T10:00:00Z", "1900-01-01", "2999-12-31", "0"]),
    st.sampled_from(["-1", "0", "1", "50", "500", "501", "1e9", "NaN", "2.5", "150"]),
    st.text(max_size=12),
)


@settings(max_examples=300)
@given(
    route=st.sampled_from(["/v2/orders", "/v2/calendar", "/v2/positions/AAPL"]),
    params=st.dictionaries(
        st.sampled_from(
            [
                "status",
                "limit",
                "after",
                "until",
                "direction",
                "nested",
                "side",
                "symbols",
                "start",
                "end",
                "qty",
                "percentage",
            ]
        ),
        words,
        max_size=4,
    ),
)
def test_any_query_is_answered_and_a_refused_close_changes_nothing(
    server: AlpacaServer, route: str, params: dict[str, str]
) -> None:
    # The module's server is shared: show the quote this test buys from, whatever ran before.
    server.call(lambda b: b.quote("AAPL", D("100.00"), D("100.02"), bid_size=D(50), ask_size=D(50)))
    send(server, "POST", "/v2/orders", {"symbol": "AAPL", "qty": 10, "side": "buy"})
    before = state(server)
    method = "DELETE" if route.startswith("/v2/positions") else "GET"
    r = requests.request(
        method, f"{server.base_url}{route}", params=params, headers=HEADERS, timeout=10
    )
    assert r.status_code in (200, 403, 404, 422), (params, r.status_code, r.text)
    if r.status_code != 200:
        check(r)
        assert state(server) == before, (params, r.text)
    requests.delete(f"{server.base_url}/v2/positions", headers=HEADERS, timeout=10)
