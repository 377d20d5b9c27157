"""A Binance-compatible spot API server on fillforge's simulated exchange.

Unmodified ccxt code (``ccxt.binance({"apiKey": k, "secret": s, "urls": {"api": server.urls}})``)
trades against a real matching engine offline: orders rest, match and fill in the venue's Rust
engines, through :class:`~fillforge.sim.broker.SimulatedBroker` (the one request-to-engine path).
FastAPI on uvicorn serves it, bound to 127.0.0.1 unless told otherwise.

What it checks as Binance does: signed endpoints need the ``X-MBX-APIKEY`` header, an HMAC-SHA256
``signature`` of the query string and body with the secret, and a ``timestamp`` within
``recvWindow`` of the server's wall clock (``-2015``, ``-1022``, ``-1021``); request weight per
client address per minute and new orders per key per 10 s are limited with the Rust throttle
(429 with ``-1003`` / ``-1015``; every answer carries ``X-MBX-USED-WEIGHT-1M``, order answers
``X-MBX-ORDER-COUNT-10S``). The venue's rules are in :mod:`fillforge.binance.routes` and
``docs/binance-server.md``. Secrets are never logged.

The server's lifecycle, its simulation thread and its clock are every local venue server's
(:class:`~fillforge.serving.SimServer`).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from starlette.types import Message, Receive, Scope, Send

from fillforge.alpaca.asgi import client_address, read_body, replaying
from fillforge.binance import wire
from fillforge.errors import BinanceApiError, SimulationError
from fillforge.serving import Faults, HttpSimServer
from fillforge.sim.broker import SimulatedBroker
from fillforge.throttle import RateLimiter, SlidingWindow
from fillforge.time import NS_PER_MINUTE, NS_PER_SECOND, Clock

__all__ = ["BinanceServer", "split_symbol"]

_QUOTES = ("USDT", "FDUSD", "USDC", "BUSD", "TUSD", "BTC", "ETH", "BNB", "EUR", "TRY")
_SIGNATURE = re.compile(r"(?:^|&)signature=[^&]*")
_MAX_RECV_WINDOW_MS = 60_000
_AHEAD_MS = 1_000
# Request weights (Binance's, for the routes served); a route not listed weighs 1.
WEIGHTS: dict[tuple[str, str], int] = {
    ("GET", "/api/v3/exchangeInfo"): 20,
    ("GET", "/api/v3/account"): 20,
    ("GET", "/api/v3/allOrders"): 20,
    ("GET", "/api/v3/myTrades"): 20,
    ("GET", "/api/v3/depth"): 5,
    ("GET", "/api/v3/openOrders"): 6,
    ("GET", "/api/v3/order"): 4,
    ("GET", "/api/v3/orderList"): 4,
    ("GET", "/api/v3/openOrderList"): 6,
    ("GET", "/api/v3/ticker/24hr"): 2,
    ("GET", "/api/v3/ticker/bookTicker"): 2,
    ("GET", "/api/v3/ticker/price"): 2,
}


# ccxt's binance API names and Binance's paths for them.
_CCXT_APIS: dict[str, str] = {
    "public": "/api/v3",
    "private": "/api/v3",
    "v1": "/api/v1",
    "sapi": "/sapi/v1",
    "sapiV2": "/sapi/v2",
    "sapiV3": "/sapi/v3",
    "sapiV4": "/sapi/v4",
    "fapiPublic": "/fapi/v1",
    "fapiPublicV2": "/fapi/v2",
    "fapiPublicV3": "/fapi/v3",
    "fapiPrivate": "/fapi/v1",
    "fapiPrivateV2": "/fapi/v2",
    "fapiPrivateV3": "/fapi/v3",
    "fapiData": "/futures/data",
    "dapiPublic": "/dapi/v1",
    "dapiPrivate": "/dapi/v1",
    "dapiPrivateV2": "/dapi/v2",
    "dapiData": "/futures/data",
    "eapiPublic": "/eapi/v1",
    "eapiPrivate": "/eapi/v1",
    "papi": "/papi/v1",
    "papiV2": "/papi/v2",
}


def split_symbol(symbol: str) -> tuple[str, str]:
    """A Binance symbol's base and quote assets (``BTCUSDT`` -> ``BTC``, ``USDT``), by the quote
    assets Binance lists; refused when none ends it."""
    for q in _QUOTES:
        if symbol.endswith(q) and len(symbol) > len(q):
            return symbol[: -len(q)], q
    raise SimulationError("symbol", symbol, f"ends in none of the quote assets {_QUOTES}")


class BinanceServer(HttpSimServer[SimulatedBroker]):
    """The server around one :class:`SimulatedBroker` whose account's cash is the quote asset
    and whose order ids are integers, as Binance's are (the brokers of
    :mod:`fillforge.binance.paper` are made so).

    ``start()`` serves in a background thread (``port=0``: an ephemeral one) and returns when it
    listens; use it as a context manager. :meth:`call` runs ``fn(broker)`` on the simulation
    thread, in turn with the requests (scripted prices in tests). The clock follows the wall
    clock at ``speed`` as the Alpaca server's does (None: the caller moves it).

    ``faults`` injects failures and delays into the next requests (every local server's
    :class:`~fillforge.serving.Faults`: a 503 after carrying the request out, an answer
    later than the client's timeout). ``weight_per_minute`` (Binance: 6000) and
    ``orders_per_10s`` (Binance: 100) are the limits;
    ``min_notional`` is every symbol's NOTIONAL filter (price times quantity, in the quote
    asset); ``fee_rate`` is the commission rate the account shows (the venue's fee model
    charges it).
    """

    name = "binance"

    def __init__(
        self,
        broker: SimulatedBroker,
        *,
        api_key: str,
        secret_key: str,
        host: str = "127.0.0.1",
        port: int = 0,
        speed: float | None = 1.0,
        weight_per_minute: int = 6000,
        orders_per_10s: int = 100,
        min_notional: Decimal = Decimal(5),
        fee_rate: Decimal = Decimal("0.001"),
        max_body_bytes: int = 1 << 16,
        wall_clock: Clock | None = None,
    ) -> None:
        if not api_key or not secret_key:
            raise SimulationError("api_key", "***", "an API key and a secret are required")
        super().__init__(broker, host=host, port=port, speed=speed, wall_clock=wall_clock)
        for name, limit in (
            ("weight_per_minute", weight_per_minute),
            ("orders_per_10s", orders_per_10s),
        ):
            if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 1 << 24:
                raise SimulationError(name, limit, "expected an integer from 1 to 2**24")
        assets = {s: split_symbol(s) for s in broker.venue.markets}
        quotes = {q for _, q in assets.values()}
        if len(quotes) > 1:
            raise SimulationError("symbols", sorted(assets), "one quote asset (the cash)")
        self.assets = assets
        self.quote_asset = quotes.pop() if quotes else "USDT"
        self.min_notional = min_notional
        self.fee_rate = fee_rate
        self.max_body_bytes = max_body_bytes
        self.weight_per_minute, self.orders_per_10s = weight_per_minute, orders_per_10s
        self._key, self._secret = api_key, secret_key
        self.weights = RateLimiter(SlidingWindow(weight_per_minute, NS_PER_MINUTE))
        self.order_limit = RateLimiter(SlidingWindow(orders_per_10s, 10 * NS_PER_SECOND))
        self.faults = Faults()  # injected failures and delays, for resilience tests
        self.makers: set[str] = set()  # orders placed as LIMIT_MAKER (shown as such)
        self.listen_keys: set[str] = set()  # from POST /api/v3/userDataStream
        self.app_routes = self._build()
        self.app = self._gate

    # ----- running --------------------------------------------------------------------------

    @property
    def api_key(self) -> str:
        return self._key

    @property
    def secret_key(self) -> str:
        """The secret signatures are checked with (never logged, never in ``repr``)."""
        return self._secret

    def __repr__(self) -> str:
        return f"BinanceServer({self.base_url}, api_key={self._key!r}, secret=***)"

    @property
    def urls(self) -> dict[str, Any]:
        """ccxt's ``urls["api"]`` for this server: every REST API ccxt's ``binance`` knows, on
        this server under Binance's own paths (ccxt merges a partial override with its defaults,
        which would send the rest to the real venue; what is not served answers 404), and
        ``ws`` for ccxt.pro: the raw streams at ``/ws`` and the WebSocket API at
        ``/ws-api/v3`` (the user-data stream, :mod:`fillforge.binance.stream`)."""
        b = self.base_url
        out: dict[str, Any] = {name: f"{b}{path}" for name, path in _CCXT_APIS.items()}
        ws = f"ws://{self.host}:{self.port}"
        out["ws"] = {"spot": f"{ws}/ws", "ws-api": {"spot": f"{ws}/ws-api/v3"}}
        return out

    # ----- authentication ---------------------------------------------------------------------

    def now_ms(self) -> int:
        """The server's wall-clock time in ms (``/api/v3/time``; timestamps are checked on it)."""
        return self.wall_clock.now_ns() // 1_000_000

    def keyed(self, headers: Mapping[str, str]) -> None:
        """The ``X-MBX-APIKEY`` header names this server's key (constant-time), else -2015."""
        key = headers.get("x-mbx-apikey", "")
        if not hmac.compare_digest(key.encode("utf-8", "surrogatepass"), self._key.encode()):
            raise BinanceApiError(
                401, wire.BAD_KEY, "Invalid API-key, IP, or permissions for action."
            )

    def signed(self, headers: Mapping[str, str], query: str, body: str) -> dict[str, str]:
        """A signed request's parameters, after Binance's checks: the key, the HMAC-SHA256
        ``signature`` of the query string followed by the body (less the signature itself),
        then ``timestamp`` within ``recvWindow`` (default 5000 ms, at most 60000)."""
        self.keyed(headers)
        params = wire.params_of(query, body)
        given = params.pop("signature", None)
        if given is None:
            raise BinanceApiError(
                400,
                wire.MANDATORY,
                "Mandatory parameter 'signature' was not sent, was empty/null, or malformed.",
            )
        payload = _SIGNATURE.sub("", query).lstrip("&") + _SIGNATURE.sub("", body).lstrip("&")
        mine = hmac.new(self._secret.encode(), payload.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(mine.encode(), given.lower().encode("utf-8", "surrogatepass")):
            raise BinanceApiError(400, wire.SIGNATURE, "Signature for this request is not valid.")
        self._fresh(params)
        return params

    def ws_signed(self, params: dict[str, str]) -> None:
        """A WebSocket API request's parameters, checked as Binance does: ``apiKey``, the
        HMAC-SHA256 ``signature`` of the other parameters sorted by name (``k=v&...``), then
        ``timestamp`` within ``recvWindow``."""
        self.keyed({"x-mbx-apikey": params.get("apiKey", "")})
        given = params.get("signature", "")
        payload = "&".join(f"{k}={params[k]}" for k in sorted(params) if k != "signature")
        mine = hmac.new(self._secret.encode(), payload.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(mine.encode(), given.lower().encode("utf-8", "surrogatepass")):
            raise BinanceApiError(400, wire.SIGNATURE, "Signature for this request is not valid.")
        self._fresh(params)

    def _fresh(self, params: Mapping[str, str]) -> None:
        """``timestamp`` within ``recvWindow`` (default 5000 ms, at most 60000) of now."""
        stamp = wire.int_param(params, "timestamp")
        if stamp is None:
            raise BinanceApiError(
                400,
                wire.MANDATORY,
                "Mandatory parameter 'timestamp' was not sent, was empty/null, or malformed.",
            )
        window = wire.int_param(params, "recvWindow")
        window = 5000 if window is None else window
        if not 0 < window <= _MAX_RECV_WINDOW_MS:
            raise BinanceApiError(400, wire.BAD_PARAMETER, "recvWindow must be less than 60000")
        now = self.now_ms()
        if stamp >= now + _AHEAD_MS:
            raise BinanceApiError(
                400,
                wire.TIMESTAMP,
                "Timestamp for this request was 1000ms ahead of the server's time.",
            )
        if now - stamp > window:
            raise BinanceApiError(
                400, wire.TIMESTAMP, "Timestamp for this request is outside of the recvWindow."
            )

    # ----- the gate ---------------------------------------------------------------------------

    async def _gate(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pure-ASGI gate: body size, request weight per address, the clock up to now, and the
        ``X-MBX-USED-WEIGHT-1M`` header on every answer."""
        if scope["type"] != "http":
            return await self.app_routes(scope, receive, send)
        path = scope["path"]
        address = client_address(scope)
        weight = WEIGHTS.get((scope["method"], path), 1)
        if path == "/api/v3/openOrders" and b"symbol=" not in scope.get("query_string", b""):
            weight = 80
        if scope["method"] in ("POST", "PUT", "DELETE"):
            raw = await read_body(receive, self.max_body_bytes)
            if raw is None:
                body = wire.error(wire.BAD_PARAMETER, "Request body too large.")
                return await JSONResponse(body, 413)(scope, receive, send)
            receive = replaying(raw, receive)
        if not self.weights.try_acquire(address, weight):
            wait = -(-self.weights.wait_time(address, weight) // NS_PER_SECOND)
            body = wire.error(
                wire.TOO_MANY_REQUESTS,
                f"Too much request weight used; current limit is {self.weight_per_minute} "
                "request weight per 1 MINUTE. Please use WebSocket Streams for live updates "
                "to avoid polling the API.",
            )
            headers = {"Retry-After": str(max(wait, 1)), **self._weight_header(address)}
            return await JSONResponse(body, 429, headers=headers)(scope, receive, send)
        extra = [(k.lower().encode(), v.encode()) for k, v in self._weight_header(address).items()]
        fault = self.faults.next() if path.startswith("/api/") else None
        if fault is not None and fault[0] == "fail":
            if fault[2]:  # carry the request out, then answer with the fault instead

                async def swallow(message: Message) -> None:
                    return None

                await self.app_routes(scope, receive, swallow)
            body = wire.error(
                wire.UNKNOWN, "An unknown error occurred while processing the request."
            )
            return await JSONResponse(body, int(fault[1]))(scope, receive, send)

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                if fault is not None:  # a delay: the request was carried out, the answer late
                    await asyncio.sleep(fault[1])
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app_routes(scope, receive, with_headers)

    def _weight_header(self, address: str) -> dict[str, str]:
        return {"X-MBX-USED-WEIGHT-1M": str(self.weights.count_in_window(address))}

    def order_count(self, key: str) -> dict[str, str]:
        """Spend one new order of ``key``'s budget; its headers, or -1015 past the limit."""
        if not self.order_limit.try_acquire(key):
            raise BinanceApiError(
                429,
                wire.TOO_MANY_ORDERS,
                f"Too many new orders; current limit is {self.orders_per_10s} orders per "
                "10 SECOND.",
            )
        return {"X-MBX-ORDER-COUNT-10S": str(self.order_limit.count_in_window(key))}

    def _build(self) -> FastAPI:
        from fillforge.binance.lists import add_list_routes
        from fillforge.binance.routes import add_routes
        from fillforge.binance.stream import add_stream_routes

        app = FastAPI(
            title="fillforge Binance-compatible spot server",
            description="Binance spot REST API on fillforge's simulated exchange.",
            openapi_url=None,
            docs_url=None,
            redoc_url=None,
        )
        add_routes(app, self)
        add_list_routes(app, self)
        self.stream = add_stream_routes(app, self)
        return app
