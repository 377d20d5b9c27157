"""The Binance-compatible server on the wire (real sockets, requests signed here as Binance's docs
say): signatures, timestamps and keys; weight and order-count limits with their headers; each
refusal with Binance's code, and nothing changed by it; malformed input is a Binance error, never
a 500 (hypothesis)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import urllib.parse
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fillforge.binance import BinanceServer, scripted_broker, split_symbol
from fillforge.errors import SimulationError
from fillforge.time import SimulatedClock

D = Decimal
NOW_MS = 1_790_000_000_000


class Client:
    """Binance's signing, written out: HMAC-SHA256 of the query string with the secret."""

    def __init__(self, server: BinanceServer, key: str | None = None, secret: str | None = None):
        self.base = server.base_url
        self.key = key if key is not None else server.api_key
        self.secret = secret if secret is not None else server.secret_key
        self.http = requests.Session()
        self.http.trust_env = False

    def signed(
        self, method: str, path: str, params: dict[str, Any] | None = None, *, stamp: int = NOW_MS
    ) -> requests.Response:
        sent = {k: v for k, v in (params or {}).items() if v is not None}
        query = urllib.parse.urlencode({**sent, "timestamp": stamp})
        sig = hmac.new(self.secret.encode(), query.encode(), hashlib.sha256).hexdigest()
        url = f"{self.base}{path}?{query}&signature={sig}"
        return self.http.request(method, url, headers={"X-MBX-APIKEY": self.key}, timeout=10)

    def public(self, path: str, params: dict[str, Any] | None = None) -> requests.Response:
        return self.http.get(f"{self.base}{path}", params=params, timeout=10)


def _server(**kw: Any) -> BinanceServer:
    broker = scripted_broker(("BTCUSDT", "ETHUSDT"), start_ns=1_700_000_000_000_000_000)
    broker.quote("BTCUSDT", D("30000.00"), D("30000.10"), bid_size=D(2), ask_size=D(2))
    return BinanceServer(
        broker,
        api_key=secrets.token_hex(16),
        secret_key=secrets.token_hex(32),
        speed=None,
        wall_clock=SimulatedClock(NOW_MS * 1_000_000),
        **kw,
    )


@pytest.fixture
def server() -> Iterator[BinanceServer]:
    with _server() as s:
        yield s


@pytest.fixture
def client(server: BinanceServer) -> Client:
    return Client(server)


def _error(r: requests.Response, status: int, code: int) -> str:
    assert r.status_code == status, r.text
    body = r.json()
    assert body["code"] == code, body
    return str(body["msg"])


def _order(**kw: Any) -> dict[str, Any]:
    base = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC"}
    return {**base, "quantity": "0.01", "price": "29000", **kw}


def test_time_and_exchange_info(client: Client) -> None:
    assert client.public("/api/v3/time").json() == {"serverTime": NOW_MS}
    info = client.public("/api/v3/exchangeInfo", {"symbol": "ETHUSDT"}).json()
    (eth,) = info["symbols"]
    filters = {f["filterType"]: f for f in eth["filters"]}
    assert filters["PRICE_FILTER"]["tickSize"] == "0.01000000"
    assert filters["LOT_SIZE"]["stepSize"] == "0.00010000"
    assert filters["NOTIONAL"]["minNotional"] == "5.00000000"
    assert (eth["baseAsset"], eth["quoteAsset"]) == ("ETH", "USDT")


def test_signed_requests_need_the_key_the_signature_and_a_fresh_timestamp(
    server: BinanceServer, client: Client
) -> None:
    assert client.signed("GET", "/api/v3/account").status_code == 200
    _error(Client(server, key="other").signed("GET", "/api/v3/account"), 401, -2015)
    _error(Client(server, secret="0" * 64).signed("GET", "/api/v3/account"), 400, -1022)
    late = client.signed("GET", "/api/v3/account", stamp=NOW_MS - 5001)
    assert "outside of the recvWindow" in _error(late, 400, -1021)
    wide = client.signed("GET", "/api/v3/account", {"recvWindow": 10_000}, stamp=NOW_MS - 5001)
    assert wide.status_code == 200
    ahead = client.signed("GET", "/api/v3/account", stamp=NOW_MS + 1000)
    assert "ahead of the server" in _error(ahead, 400, -1021)
    unsigned = client.http.get(
        f"{server.base_url}/api/v3/account?timestamp={NOW_MS}",
        headers={"X-MBX-APIKEY": server.api_key},
    )
    assert "signature" in _error(unsigned, 400, -1102)


def test_a_signature_over_other_parameters_is_refused(
    server: BinanceServer, client: Client
) -> None:
    query = urllib.parse.urlencode({**_order(), "timestamp": NOW_MS})
    sig = hmac.new(server.secret_key.encode(), query.encode(), hashlib.sha256).hexdigest()
    tampered = query.replace("quantity=0.01", "quantity=0.02")
    r = client.http.post(
        f"{server.base_url}/api/v3/order?{tampered}&signature={sig}",
        headers={"X-MBX-APIKEY": server.api_key},
    )
    _error(r, 400, -1022)
    assert server.call(lambda b: b.orders()) == []


@pytest.mark.parametrize(
    ("params", "code", "says"),
    [
        (_order(symbol="DOGEUSDT"), -1121, "Invalid symbol"),
        (_order(side="HOLD"), -1117, "Invalid side"),
        (_order(type="TRAILING"), -1116, "Invalid orderType"),
        (_order(timeInForce="DAY"), -1115, "Invalid timeInForce"),
        ({k: v for k, v in _order().items() if k != "quantity"}, -1102, "quantity"),
        (_order(quantity="1e3"), -1100, "Illegal characters"),
        (_order(price="29000.001"), -1013, "PRICE_FILTER"),
        (_order(quantity="0.000001"), -1013, "LOT_SIZE"),
        (_order(quantity="0.0001"), -1013, "NOTIONAL"),  # 2.90 USDT < 5
        (_order(quantity="1"), -2010, "insufficient balance"),  # 29,000 USDT of 10,000
        (_order(side="SELL"), -2010, "insufficient balance"),  # no BTC
        (_order(type="LIMIT_MAKER", price="30000.10", timeInForce=None), -2010, "match and take"),
        (_order(type="LIMIT_MAKER"), -1106, "timeInForce"),
        (
            _order(type="MARKET", price=None, timeInForce=None, quantity=None),
            -1102,
            "quoteOrderQty",
        ),
        (_order(type="STOP_LOSS_LIMIT", stopPrice=None), -1102, "stopPrice"),
    ],
)
def test_new_order_refusals(
    server: BinanceServer, client: Client, params: dict[str, Any], code: int, says: str
) -> None:
    msg = _error(client.signed("POST", "/api/v3/order", params), 400, code)
    assert says.lower() in msg.lower()
    assert server.call(lambda b: b.orders()) == []


def test_a_duplicate_client_order_id_is_refused(server: BinanceServer, client: Client) -> None:
    assert client.signed("POST", "/api/v3/order", _order(newClientOrderId="abc")).ok
    r = client.signed("POST", "/api/v3/order", _order(newClientOrderId="abc"))
    assert "Duplicate" in _error(r, 400, -2010)
    assert len(server.call(lambda b: b.orders())) == 1


def test_unknown_orders(client: Client) -> None:
    _error(client.signed("GET", "/api/v3/order", {"symbol": "BTCUSDT", "orderId": 9}), 400, -2013)
    _error(
        client.signed("DELETE", "/api/v3/order", {"symbol": "BTCUSDT", "orderId": 9}), 400, -2011
    )
    _error(client.signed("DELETE", "/api/v3/openOrders", {"symbol": "BTCUSDT"}), 400, -2011)


def test_weight_is_counted_per_address_and_limited() -> None:
    with _server(weight_per_minute=45) as server:
        c = Client(server)
        r = c.public("/api/v3/exchangeInfo")
        assert r.headers["X-MBX-USED-WEIGHT-1M"] == "20"
        r = c.public("/api/v3/exchangeInfo")
        assert r.headers["X-MBX-USED-WEIGHT-1M"] == "40"
        limited = c.public("/api/v3/exchangeInfo")
        assert "request weight" in _error(limited, 429, -1003)
        assert int(limited.headers["Retry-After"]) >= 1
        assert c.public("/api/v3/ping").status_code == 200  # weight 1 still fits


def test_new_orders_are_counted_per_key_and_limited() -> None:
    with _server(orders_per_10s=2) as server:
        c = Client(server)
        first = c.signed("POST", "/api/v3/order", _order())
        assert first.headers["X-MBX-ORDER-COUNT-10S"] == "1"
        assert c.signed("POST", "/api/v3/order", _order()).headers["X-MBX-ORDER-COUNT-10S"] == "2"
        _error(c.signed("POST", "/api/v3/order", _order()), 429, -1015)
        assert len(server.call(lambda b: b.orders())) == 2


def test_balances_show_what_open_orders_hold(server: BinanceServer, client: Client) -> None:
    client.signed(
        "POST", "/api/v3/order", _order(type="MARKET", quantity="0.1", price=None, timeInForce=None)
    )
    client.signed("POST", "/api/v3/order", _order(side="SELL", price="31000", quantity="0.04"))
    client.signed("POST", "/api/v3/order", _order(price="29000", quantity="0.1"))
    balances = {b["asset"]: b for b in client.signed("GET", "/api/v3/account").json()["balances"]}
    assert balances["BTC"] == {"asset": "BTC", "free": "0.06000000", "locked": "0.04000000"}
    assert balances["USDT"]["locked"] == "2900.00000000"
    spent = D("30000.10") * D("0.1") * D("1.001")
    assert D(balances["USDT"]["free"]) == D(10_000) - spent - 2900
    assert balances["ETH"] == {"asset": "ETH", "free": "0.00000000", "locked": "0.00000000"}


def test_one_quote_asset_and_a_known_one() -> None:
    assert split_symbol("ETHBTC") == ("ETH", "BTC")
    with pytest.raises(SimulationError, match="quote assets"):
        split_symbol("XYZ")
    broker = scripted_broker(("BTCUSDT", "ETHBTC"))
    with pytest.raises(SimulationError, match="one quote asset"):
        BinanceServer(broker, api_key="k", secret_key="s")


_NAMES = st.sampled_from(
    [
        "symbol",
        "side",
        "type",
        "timeInForce",
        "quantity",
        "quoteOrderQty",
        "price",
        "stopPrice",
        "newClientOrderId",
        "newOrderRespType",
        "orderId",
        "recvWindow",
        "limit",
        "startTime",
        "endTime",
        "fromId",
        "cancelOrderId",
        "cancelReplaceMode",
        "origClientOrderId",
    ]
)
_ROUTES = st.sampled_from(
    [
        ("POST", "/api/v3/order"),
        ("GET", "/api/v3/order"),
        ("DELETE", "/api/v3/order"),
        ("POST", "/api/v3/order/cancelReplace"),
        ("GET", "/api/v3/openOrders"),
        ("DELETE", "/api/v3/openOrders"),
        ("GET", "/api/v3/allOrders"),
        ("GET", "/api/v3/myTrades"),
        ("GET", "/api/v3/account"),
    ]
)
_VALUES = st.one_of(
    st.text(max_size=12),
    st.sampled_from(
        [
            "BTCUSDT",
            "BUY",
            "SELL",
            "LIMIT",
            "MARKET",
            "LIMIT_MAKER",
            "STOP_LOSS_LIMIT",
            "STOP_ON_FAILURE",
            "1",
            "GTC",
            "IOC",
            "FOK",
            "0.01",
            "30000.10",
            "-1",
            "0",
            "1e9",
            "NaN",
            "99999999999999999999999",
        ]
    ),
)


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    params=st.dictionaries(_NAMES, _VALUES, max_size=8),
    route=_ROUTES,
)
def test_any_parameters_get_a_binance_answer_never_a_500(
    client: Client, params: dict[str, str], route: tuple[str, str]
) -> None:
    r = client.signed(*route, params)
    assert r.status_code < 500, r.text
    body = r.json()
    if r.status_code >= 400:
        assert isinstance(body["code"], int)
        assert body["code"] < 0
        assert isinstance(body["msg"], str)
