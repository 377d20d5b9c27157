"""An Alpaca-compatible Trading API v2 server on fillforge's simulated exchange.

Unmodified alpaca-py code (``TradingClient(key, secret, url_override=server.base_url)``,
``TradingStream(key, secret, url_override=server.stream_url)``) trades against a real matching
engine: orders rest, match and fill in the venue's Rust engines. FastAPI on uvicorn serves it (the
OpenAPI description is at ``/openapi.json``); it binds to 127.0.0.1 unless told otherwise, checks
its key pair on every request, and limits each key to ``requests_per_minute`` with the Rust
throttle (429 with Alpaca's ``X-Ratelimit-*`` headers). Secrets are never logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hmac
import json
import math
import threading
import time
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import uvicorn
from fastapi import FastAPI, Request, Response, WebSocket, WebSocketDisconnect
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.types import Message, Receive, Scope, Send

from fillforge.alpaca import openapi as api
from fillforge.alpaca import wire
from fillforge.alpaca.account_routes import add_account_routes
from fillforge.alpaca.asgi import read_body, replaying
from fillforge.errors import (
    DuplicateClientOrderIdError,
    FillforgeError,
    InsufficientBuyingPowerError,
    InsufficientQtyError,
    InvalidTransitionError,
    NotShortableError,
    OrderValidationError,
    SimulationError,
    UnknownOrderIdError,
)
from fillforge.orders.enums import OrderClass, OrderSide, OrderStatus, OrderType
from fillforge.orders.models import OrderEvent, OrderRequest
from fillforge.orders.order import Order
from fillforge.sim.broker import SimulatedBroker
from fillforge.sim.calendar import FIRST_DAY, LAST_DAY
from fillforge.throttle import NS_PER_SECOND, RateLimiter, SlidingWindow
from fillforge.venues.rules import AuctionWindowError, WashTradeError

__all__ = ["AlpacaServer", "Faults"]

_WINDOW_NS = 60 * NS_PER_SECOND
_DROP = "\0drop"  # the queue item that closes a stream
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Alpaca's answer to an order that could trade against the account's own (users report it as
# 403 with code 40310000).
_WASH = "potential wash trade detected. use complex orders"
_WASHABLE = frozenset({OrderType.MARKET, OrderType.LIMIT})


def _status_of(e: FillforgeError) -> tuple[int, dict[str, Any]]:
    """Alpaca's status code and error body for a refusal."""
    if isinstance(e, InsufficientBuyingPowerError):
        return 403, wire.error(
            wire.CODE_FORBIDDEN,
            "insufficient buying power",
            buying_power=str(e.available),
            cost_basis=str(e.needed),
        )
    if isinstance(e, InsufficientQtyError):
        return 403, wire.error(
            wire.CODE_FORBIDDEN,
            f"insufficient qty available for order (requested: {wire.plain(e.requested)}, "
            f"available: {wire.plain(e.available)})",
            available=wire.plain(e.available),
            symbol=e.symbol,
        )
    if isinstance(e, NotShortableError):
        return 403, wire.error(wire.CODE_FORBIDDEN, str(e))
    if isinstance(e, WashTradeError):
        return 403, wire.error(wire.CODE_FORBIDDEN, e.why)
    if isinstance(e, AuctionWindowError):
        return 422, wire.error(wire.CODE_UNPROCESSABLE, e.why)
    if isinstance(e, UnknownOrderIdError):
        return 404, wire.error(wire.CODE_NOT_FOUND, "order not found")
    if isinstance(e, OrderValidationError):
        return 422, wire.error(wire.CODE_INVALID, str(e))
    if isinstance(e, DuplicateClientOrderIdError):
        return 422, wire.error(wire.CODE_UNPROCESSABLE, "client_order_id must be unique")
    if isinstance(e, SimulationError) and e.field == "symbol" and e.why.startswith("not listed"):
        # As Alpaca answers an order for an asset it does not have (alpacahq/Alpaca-API#184).
        return 422, wire.error(wire.CODE_INVALID, f"could not find us_equity '{e.value}'")
    return 422, wire.error(wire.CODE_UNPROCESSABLE, str(e))


def _fail(e: FillforgeError) -> JSONResponse:
    status, body = _status_of(e)
    return JSONResponse(body, status_code=status)


def _bool(v: str | None) -> bool:
    return v is not None and v.lower() in ("true", "1", "yes")


def _when(v: str | None, field: str) -> int | None:
    """An RFC 3339 time (UTC when it has no offset) in epoch nanoseconds."""
    if not v:
        return None
    try:
        t = dt.datetime.fromisoformat(v.replace("Z", "+00:00"))
    except ValueError:
        raise OrderValidationError(field, v, "expected an RFC 3339 time") from None
    return wire.epoch_ns(t if t.tzinfo is not None else t.replace(tzinfo=dt.UTC))


def _day(v: str | None, field: str) -> dt.date | None:
    if not v:
        return None
    try:
        return dt.date.fromisoformat(v)
    except ValueError:
        raise OrderValidationError(field, v, "expected a date, YYYY-MM-DD") from None


def _one_of(v: str | None, field: str, allowed: tuple[str, ...]) -> None:
    if v is not None and v not in allowed:
        raise OrderValidationError(field, v, f"expected one of {', '.join(allowed)}")


class Faults:
    """Faults the server injects into its next requests, for resilience tests.

    ``fail(status, n, after=True)``: the next ``n`` requests get ``status`` (500, 503, 429...),
    handled first when ``after`` (the order exists, the client only sees the failure) or not at
    all; ``delay(seconds, n)``: the next ``n`` responses come that much later (past a client's
    timeout, the request was still carried out); ``drop_streams()``: close every websocket.
    """

    def __init__(self) -> None:
        self._plan: list[tuple[str, float, bool]] = []
        self.lock = threading.Lock()
        self.injected = 0

    def fail(self, status: int, n: int = 1, *, after: bool = True) -> None:
        with self.lock:
            self._plan += [("fail", status, after)] * n

    def delay(self, seconds: float, n: int = 1) -> None:
        with self.lock:
            self._plan += [("delay", seconds, True)] * n

    def clear(self) -> None:
        with self.lock:
            self._plan.clear()

    def next(self) -> tuple[str, float, bool] | None:
        with self.lock:
            if not self._plan:
                return None
            self.injected += 1
            return self._plan.pop(0)


class AlpacaServer:
    """The server around one :class:`SimulatedBroker`.

    ``start()`` serves in a background thread (``port=0``: an ephemeral port) and returns when it
    listens; use it as a context manager in tests. Calls that touch the broker from another
    thread (scripted prices) go through :meth:`call`, which holds the server's lock.

    The simulation clock follows the wall clock at ``speed`` (1.0: real time; 60: a minute of
    data per second) from the broker's time at construction: before every request, and every
    20 ms in between, the broker runs up to that time (replayed data, requests in flight, DAY
    expiry at the close). ``speed=None`` leaves the clock to the caller.
    """

    def __init__(
        self,
        broker: SimulatedBroker,
        *,
        key_id: str,
        secret_key: str,
        host: str = "127.0.0.1",
        port: int = 0,
        requests_per_minute: int = 200,
        exchange: str = "NASDAQ",
        speed: float | None = 1.0,
        max_body_bytes: int = 1 << 20,
        login_failures_per_minute: int = 20,
        auth_timeout: float = 5.0,
    ) -> None:
        if not key_id or not secret_key:
            raise SimulationError("key_id", "***", "a key id and a secret are required")
        for name, limit in (
            ("max_body_bytes", max_body_bytes),
            ("login_failures_per_minute", login_failures_per_minute),
        ):
            if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
                raise SimulationError(name, limit, "expected a positive integer")
        if not auth_timeout > 0:
            raise SimulationError("auth_timeout", auth_timeout, "expected a positive duration")
        self.max_body_bytes = max_body_bytes
        self.auth_timeout = auth_timeout
        self.login_failures_per_minute = login_failures_per_minute
        # Failed logins (HTTP and websocket) per client address: past the budget, that address
        # is answered 429 until its window clears, whatever it sends.
        self._failed_logins = RateLimiter(SlidingWindow(login_failures_per_minute, _WINDOW_NS))
        self.broker = broker
        self.host, self.port = host, port
        self.exchange = exchange
        self.requests_per_minute = requests_per_minute
        self._key, self._secret = key_id, secret_key
        self.lock = threading.RLock()
        self.limiter = RateLimiter(SlidingWindow(requests_per_minute, _WINDOW_NS))
        self._streams: list[tuple[asyncio.AbstractEventLoop, asyncio.Queue[str]]] = []
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._created_ns = broker.now()
        if speed is not None and not speed > 0:
            raise SimulationError("speed", speed, "a positive factor, or None for a manual clock")
        self.speed = speed
        self._origin = (time.time_ns(), broker.now())
        self._ticking = threading.Event()
        self.faults = Faults()
        broker.subscribe(self._on_event)
        self.app_routes = self._build()
        self.app = self._gate

    # ----- running --------------------------------------------------------------------------

    @property
    def key_id(self) -> str:
        return self._key

    @property
    def secret_key(self) -> str:
        """The secret clients must send (never logged, never in ``repr``)."""
        return self._secret

    def __repr__(self) -> str:
        return f"AlpacaServer({self.base_url}, key_id={self._key!r}, secret=***)"

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def stream_url(self) -> str:
        return f"ws://{self.host}:{self.port}/stream"

    def start(self) -> AlpacaServer:
        config = uvicorn.Config(
            self.app,
            host=self.host,
            port=self.port,
            log_level="warning",
            access_log=False,
            interface="asgi3",
        )
        server = uvicorn.Server(config)
        self._server = server
        self._thread = threading.Thread(target=server.run, name="alpaca-server", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise SimulationError("port", self.port, "the server did not start")
            time.sleep(0.005)
        self.port = server.servers[0].sockets[0].getsockname()[1]
        if self.speed is not None:
            self._ticking.set()
            threading.Thread(target=self._tick, name="alpaca-clock", daemon=True).start()
        return self

    def _tick(self) -> None:
        while self._ticking.is_set():
            with self.lock:
                self._sync()
            time.sleep(0.02)

    def _sync(self) -> None:
        """Run the simulation up to the time the wall clock says it is (caller holds the lock)."""
        if self.speed is None:
            return
        wall0, sim0 = self._origin
        target = sim0 + int((time.time_ns() - wall0) * self.speed)
        if target > self.broker.now():
            self.broker.run(until_ns=target)

    def stop(self) -> None:
        self._ticking.clear()
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)
        self._server = self._thread = None

    def restart(self) -> None:
        """Stop and serve again on the same port (the simulation keeps its state): clients see
        dropped connections and refused requests meanwhile."""
        self.stop()
        self.start()

    def __enter__(self) -> AlpacaServer:
        return self.start() if self._server is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def call(self, fn: Callable[[SimulatedBroker], Any]) -> Any:
        """Run ``fn(broker)`` under the server's lock (for scripted prices from a test)."""
        with self.lock:
            self._sync()
            return fn(self.broker)

    # ----- trade_updates --------------------------------------------------------------------

    def _on_event(self, e: OrderEvent) -> None:
        name = wire.TRADE_EVENTS.get(e.kind)
        if name is None or not self._streams:
            return
        data: dict[str, Any] = {
            "event": name,
            "timestamp": wire.timestamp(e.ts),
            "order": self._order_json(self.broker.get_order(e.order_id)),
        }
        if e.fill is not None:
            position = self.broker.positions().get(e.symbol)
            data |= {
                "execution_id": str(uuid.uuid5(uuid.NAMESPACE_URL, e.fill.trade_id)),
                "price": str(e.fill.price),
                "qty": str(e.fill.qty),
                "position_qty": str(position.qty if position else 0),
            }
        frame = json.dumps({"stream": "trade_updates", "data": data})
        for loop, queue in list(self._streams):
            with contextlib.suppress(RuntimeError):  # a loop that closed meanwhile
                loop.call_soon_threadsafe(queue.put_nowait, frame)

    async def _stream(self, ws: WebSocket) -> None:
        """The ``trade_updates`` stream. A client has ``auth_timeout`` seconds to authenticate;
        a failed login, a frame that is not a JSON object, or an unknown action closes the
        socket cleanly (policy violation, 1008) after an error frame, as does a client address
        out of failed-login budget."""
        await ws.accept()
        address = _address(ws.scope)
        try:
            if self._locked_out(address):
                await self._refuse(ws, "too many failed logins: try again later")
                return
            try:
                msg = await asyncio.wait_for(_frame(ws), timeout=self.auth_timeout)
            except TimeoutError:
                await self._refuse(ws, "authentication timeout")
                return
            data = msg.get("data") if msg is not None else None
            ok = (
                msg is not None
                and msg.get("action") in ("authenticate", "auth")
                and isinstance(data, dict)
                and self._authorized(data.get("key_id"), data.get("secret_key"))
            )
            if not ok:
                self._login_failed(address)
            await ws.send_text(_authorization(ok))
            if not ok:
                await ws.close(code=1008)
                return
            await self._serve_stream(ws)
        except WebSocketDisconnect:
            return

    async def _refuse(self, ws: WebSocket, why: str) -> None:
        await ws.send_text(json.dumps({"stream": "authorization", "data": {"error": why}}))
        await ws.close(code=1008)

    async def _serve_stream(self, ws: WebSocket) -> None:
        """An authenticated stream: ``listen`` requests, and the events it listens to."""
        queue: asyncio.Queue[str] = asyncio.Queue()
        entry = (asyncio.get_running_loop(), queue)
        listening = False
        receive = asyncio.ensure_future(_frame(ws))
        try:
            while True:
                get = asyncio.ensure_future(queue.get())
                done, _ = await asyncio.wait({receive, get}, return_when=asyncio.FIRST_COMPLETED)
                if get in done:
                    if get.result() == _DROP:
                        await ws.close(code=1012)
                        return
                    if listening:
                        await ws.send_text(get.result())
                else:
                    get.cancel()
                if receive in done:
                    req = receive.result()
                    data = req.get("data") if req is not None else None
                    streams = data.get("streams") if isinstance(data, dict) else None
                    if (
                        req is None
                        or req.get("action") != "listen"
                        or not isinstance(streams, list)
                    ):
                        error = {"error": "expected {action: listen, data: {streams: [...]}}"}
                        await ws.send_text(json.dumps({"stream": "listening", "data": error}))
                        await ws.close(code=1008)
                        return
                    listening = "trade_updates" in streams
                    if listening and entry not in self._streams:
                        self._streams.append(entry)
                    elif not listening and entry in self._streams:
                        self._streams.remove(entry)
                    await ws.send_text(
                        json.dumps({"stream": "listening", "data": {"streams": streams}})
                    )
                    receive = asyncio.ensure_future(_frame(ws))
        finally:
            receive.cancel()
            if entry in self._streams:
                self._streams.remove(entry)

    # ----- HTTP -----------------------------------------------------------------------------

    def _authorized(self, key: object, secret: object) -> bool:
        """The key pair, compared in constant time as bytes (any text a client sends, however
        malformed, is a failed login, never an error)."""
        if not isinstance(key, str) or not isinstance(secret, str):
            return False
        utf8 = "surrogatepass"
        return hmac.compare_digest(
            key.encode("utf-8", utf8), self._key.encode("utf-8", utf8)
        ) & hmac.compare_digest(secret.encode("utf-8", utf8), self._secret.encode("utf-8", utf8))

    def _locked_out(self, address: str) -> bool:
        """Whether ``address`` has spent its failed-login budget for the window."""
        return self._failed_logins.count_in_window(address) >= self.login_failures_per_minute

    def _login_failed(self, address: str) -> None:
        self._failed_logins.try_acquire(address)

    def _limit_headers(self, key: str) -> dict[str, str]:
        used = self.limiter.count_in_window(key)
        wait = self.limiter.wait_time(key)
        return {
            "X-Ratelimit-Limit": str(self.requests_per_minute),
            "X-Ratelimit-Remaining": str(max(self.requests_per_minute - used, 0)),
            "X-Ratelimit-Reset": str(math.ceil(time.time() + wait / NS_PER_SECOND)),
        }

    async def _gate(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pure-ASGI gate before the routes: key check, rate limit, clock, injected faults, and
        the ``X-Ratelimit-*`` headers on the answer. (Starlette's ``BaseHTTPMiddleware`` costs
        about a millisecond a request; this does not.)"""
        if scope["type"] != "http" or not scope["path"].startswith("/v2"):
            return await self.app_routes(scope, receive, send)
        headers = dict(scope["headers"])
        address = _address(scope)
        if self._locked_out(address):
            body = wire.error(wire.CODE_RATE_LIMITED, "too many failed logins: try again later")
            wait = math.ceil(self._failed_logins.wait_time(address) / NS_PER_SECOND)
            limited = JSONResponse(body, status_code=429, headers={"Retry-After": str(wait)})
            return await limited(scope, receive, send)
        key = headers.get(b"apca-api-key-id", b"").decode("latin-1")
        secret = headers.get(b"apca-api-secret-key", b"").decode("latin-1")
        if not self._authorized(key, secret):
            self._login_failed(address)
            body = wire.error(wire.CODE_UNAUTHORIZED, "request is not authorized")
            return await JSONResponse(body, status_code=401)(scope, receive, send)
        if scope["method"] in _BODY_METHODS:
            bounded = await self._bounded_body(headers, receive)
            if bounded is None:
                body = wire.error(
                    wire.CODE_INVALID, f"request body is larger than {self.max_body_bytes} bytes"
                )
                return await JSONResponse(body, status_code=413)(scope, receive, send)
            receive = bounded
        if not self.limiter.try_acquire(key):
            body = wire.error(wire.CODE_RATE_LIMITED, "rate limit exceeded")
            limited = JSONResponse(body, status_code=429, headers=self._limit_headers(key))
            return await limited(scope, receive, send)
        with self.lock:
            self._sync()
        fault = self.faults.next()
        if fault is not None and fault[0] == "fail":
            if fault[2]:  # carry the request out, then answer with the fault instead

                async def swallow(message: Message) -> None:
                    return None

                await self.app_routes(scope, receive, swallow)
            return await self._fault_response(key, int(fault[1]))(scope, receive, send)
        extra = [(k.lower().encode(), v.encode()) for k, v in self._limit_headers(key).items()]

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                if fault is not None:
                    await asyncio.sleep(fault[1])
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app_routes(scope, receive, with_headers)

    async def _bounded_body(self, headers: dict[bytes, bytes], receive: Receive) -> Receive | None:
        """Read the request body, at most ``max_body_bytes`` of it (None past that, before
        reading more), and give the route a ``receive`` that replays it."""
        declared = headers.get(b"content-length", b"").decode("latin-1").strip()
        if declared.isascii() and declared.isdigit() and int(declared) > self.max_body_bytes:
            return None
        raw = await read_body(receive, self.max_body_bytes)
        return None if raw is None else replaying(raw, receive)

    def _fault_response(self, key: str, status: int) -> Response:
        headers = self._limit_headers(key)
        if status == 429:
            headers["X-Ratelimit-Reset"] = str(int(time.time()) + 1)
        return JSONResponse(
            wire.error(status * 100_000, "injected fault"), status_code=status, headers=headers
        )

    def drop_streams(self) -> None:
        """Close every trade_updates websocket (clients reconnect)."""
        for loop, queue in list(self._streams):
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(queue.put_nowait, _DROP)

    def _order_json(self, o: Order, nested: bool = False) -> dict[str, Any]:
        stop = hwm = None
        if o.request.type is OrderType.TRAILING_STOP and o.status.is_open:
            state = self.broker.trailing_state(o.id)
            if state is not None:
                stop, hwm = state
        if o.group_id is None:
            return wire.order_json(o, stop=stop, hwm=hwm)
        group = self.broker.manager.group(o.group_id)
        legs = None
        if nested and not self._is_leg(o):
            legs = [self._order_json(m) for m in group.members if m is not o]
        return wire.order_json(o, stop=stop, hwm=hwm, legs=legs, order_class=group.order_class)

    def _is_leg(self, o: Order) -> bool:
        """A group member other than its parent (the entry, or an OCO's take-profit), which
        Alpaca nests under the parent."""
        if o.group_id is None:
            return False
        group = self.broker.manager.group(o.group_id)
        return o is not (group.entry if group.entry is not None else group.exits[0])

    def _build(self) -> FastAPI:
        app = FastAPI(
            title="fillforge Alpaca-compatible paper server",
            description="Alpaca Trading API v2 on fillforge's simulated exchange.",
        )
        app.add_api_websocket_route("/stream", self._stream)
        app.add_api_websocket_route("/stream/", self._stream)  # alpaca-trade-api's path

        @app.exception_handler(RequestValidationError)
        async def invalid(request: Request, exc: RequestValidationError) -> Response:
            # A query parameter the route's signature refuses, in Alpaca's error shape.
            first = exc.errors()[0] if exc.errors() else {}
            field = ".".join(str(x) for x in first.get("loc", ())[1:]) or "request"
            message = f"{field}={first.get('input')!r}: {first.get('msg', 'invalid')}"
            return JSONResponse(wire.error(wire.CODE_INVALID, message), 422)

        lock, broker = self.lock, self.broker

        @app.post(
            "/v2/orders",
            responses=api.answers(api.OrderOut, 403, 413, 422),
            openapi_extra=api.body(api.OrderIn),
        )
        async def submit_order(request: Request) -> Response:
            raw = await request.body()
            with lock:
                try:
                    asked = wire.order_request(wire.json_object(raw))
                    broker.check(asked)  # every number on its grid and in range, legs too
                    if self._would_wash(asked):
                        return JSONResponse(wire.error(wire.CODE_FORBIDDEN, _WASH), 403)
                    wanted = self._convert(asked)
                    refused = self._auction_window(wanted)
                    if refused is not None:
                        return JSONResponse(wire.error(wire.CODE_UNPROCESSABLE, refused), 422)
                    order = broker.submit(wanted)
                except FillforgeError as e:
                    return _fail(e)
                # Alpaca answers a new order group with its legs.
                return JSONResponse(self._order_json(order, nested=True))

        @app.get("/v2/orders", responses=api.answers(list[api.OrderOut], 422))
        async def list_orders(
            status: str = "open",
            limit: int = 50,
            after: str | None = None,
            until: str | None = None,
            direction: str = "desc",
            nested: str | None = None,
            side: str | None = None,
            symbols: str | None = None,
        ) -> Response:
            try:
                lo, hi = _when(after, "after"), _when(until, "until")
                _one_of(status, "status", ("open", "closed", "all"))
                _one_of(direction, "direction", ("asc", "desc"))
                _one_of(side, "side", ("buy", "sell"))
                if not 1 <= limit <= 500:
                    raise OrderValidationError("limit", limit, "expected 1 to 500")
            except FillforgeError as e:
                return _fail(e)
            wanted = set(symbols.split(",")) if symbols else None
            with lock:
                # Open orders come from the broker's index of them, not a scan of every order.
                orders = broker.orders(open_only=status == "open")
                keep = []
                for o in orders:
                    if status == "open" and not o.status.is_open:
                        continue
                    if status == "closed" and o.status.is_open:
                        continue
                    if (lo is not None and o.created_ts <= lo) or (
                        hi is not None and o.created_ts >= hi
                    ):
                        continue
                    if side and o.request.side.value != side:
                        continue
                    if wanted is not None and o.symbol not in wanted:
                        continue
                    if _bool(nested) and self._is_leg(o):
                        continue
                    keep.append(o)
                keep.sort(key=lambda o: o.created_ts, reverse=direction != "asc")
                body = [self._order_json(o, _bool(nested)) for o in keep[:limit]]
            return JSONResponse(body)

        @app.get("/v2/orders:by_client_order_id", responses=api.answers(api.OrderOut, 404, 422))
        async def by_client_id(client_order_id: str) -> Response:
            with lock:
                try:
                    return JSONResponse(
                        self._order_json(broker.get_order_by_client_id(client_order_id))
                    )
                except FillforgeError as e:
                    return _fail(e)

        @app.get("/v2/orders/{order_id}", responses=api.answers(api.OrderOut, 404, 422))
        async def get_order(order_id: str, nested: str | None = None) -> Response:
            with lock:
                try:
                    return JSONResponse(self._order_json(broker.get_order(order_id), _bool(nested)))
                except FillforgeError as e:
                    return _fail(e)

        @app.patch(
            "/v2/orders/{order_id}",
            responses=api.answers(api.OrderOut, 403, 404, 413, 422),
            openapi_extra=api.body(api.ReplaceIn),
        )
        async def replace_order(order_id: str, request: Request) -> Response:
            raw = await request.body()
            with lock:
                try:
                    old = broker.get_order(order_id)
                    body = wire.json_object(raw)
                    broker.replace(
                        order_id,
                        qty=wire.decimal_field(body, "qty"),
                        limit_price=wire.decimal_field(body, "limit_price"),
                        stop_price=wire.decimal_field(body, "stop_price"),
                        trail=wire.decimal_field(body, "trail"),
                    )
                except InvalidTransitionError:
                    return JSONResponse(
                        wire.error(
                            wire.CODE_UNPROCESSABLE, "unable to replace order in current state"
                        ),
                        422,
                    )
                except FillforgeError as e:
                    return _fail(e)
                if old.replaced_by is None:
                    return JSONResponse(
                        wire.error(
                            wire.CODE_UNPROCESSABLE, "unable to replace order in current state"
                        ),
                        422,
                    )
                return JSONResponse(self._order_json(broker.get_order(old.replaced_by)))

        @app.delete(
            "/v2/orders/{order_id}",
            status_code=204,
            responses=api.answers(None, 404, 413, 422, status=204),
        )
        async def cancel_order(order_id: str) -> Response:
            with lock:
                try:
                    o = broker.get_order(order_id)
                    if not o.status.is_open:
                        return JSONResponse(
                            wire.error(
                                wire.CODE_UNPROCESSABLE,
                                f"order is {o.status.alpaca}: not cancelable",
                            ),
                            422,
                        )
                    broker.cancel(order_id)
                except FillforgeError as e:
                    return _fail(e)
            return Response(status_code=204)

        @app.delete(
            "/v2/orders",
            status_code=207,
            responses=api.answers(list[api.MultiStatusOut], 413, status=207),
        )
        async def cancel_all() -> Response:
            out = []
            with lock:
                for o in broker.orders(open_only=True):
                    if not o.status.is_open or o.pending_request is not None:
                        continue
                    try:
                        broker.cancel(o.id)
                        out.append({"id": o.id, "status": 200, "body": self._order_json(o)})
                    except FillforgeError as e:
                        code, body = _status_of(e)
                        out.append({"id": o.id, "status": code, "body": body})
            return JSONResponse(out, status_code=207)

        @app.get("/v2/positions", responses=api.answers(list[api.PositionOut]))
        async def positions() -> Response:
            with lock:
                body = [
                    wire.position_json(p, self.exchange, broker.ledger)
                    for p in broker.positions().values()
                ]
            return JSONResponse(body)

        @app.get("/v2/positions/{symbol:path}", responses=api.answers(api.PositionOut, 404))
        async def position(symbol: str) -> Response:
            with lock:
                p = broker.positions().get(self._symbol(symbol))
                if p is None:
                    return JSONResponse(
                        wire.error(wire.CODE_NOT_FOUND, "position does not exist"), 404
                    )
                return JSONResponse(wire.position_json(p, self.exchange, broker.ledger))

        @app.delete(
            "/v2/positions/{symbol:path}",
            responses=api.answers(api.OrderOut, 403, 404, 413, 422),
        )
        async def close_position(
            symbol: str, qty: str | None = None, percentage: str | None = None
        ) -> Response:
            with lock:
                try:
                    order = self._close(self._symbol(symbol), qty, percentage)
                except FillforgeError as e:
                    return _fail(e)
                if order is None:
                    return JSONResponse(
                        wire.error(wire.CODE_NOT_FOUND, "position does not exist"), 404
                    )
                return JSONResponse(self._order_json(order))

        @app.delete(
            "/v2/positions",
            status_code=207,
            responses=api.answers(list[api.MultiStatusOut], 413, 422, status=207),
        )
        async def close_all(cancel_orders: str | None = None) -> Response:
            out = []
            with lock:
                if _bool(cancel_orders):
                    for o in broker.orders(open_only=True):
                        if o.status.is_open and o.pending_request is None:
                            broker.cancel(o.id)
                for symbol in list(broker.positions()):
                    try:
                        order = self._close(symbol, None, None)
                    except FillforgeError as e:
                        code, body = _status_of(e)
                        out.append({"status": code, "symbol": symbol, "body": body})
                        continue
                    assert order is not None
                    out.append(
                        {
                            "order_id": order.id,
                            "status": 200,
                            "symbol": symbol,
                            "body": self._order_json(order),
                        }
                    )
            return JSONResponse(out, status_code=207)

        @app.get("/v2/account", responses=api.answers(api.AccountOut))
        async def account() -> Response:
            with lock:
                body = wire.account_json(broker.account(), self._created_ns, broker.ledger)
            # What the account's configuration blocks shows on the account, as on Alpaca.
            config = app.state.account.config
            body["trade_suspended_by_user"] = config.suspend_trade
            body["shorting_enabled"] = not config.no_shorting
            return JSONResponse(body)

        @app.get("/v2/clock", responses=api.answers(api.ClockOut))
        async def clock() -> Response:
            with lock:
                c = broker.clock()
            day = 86_400 * NS_PER_SECOND
            return JSONResponse(
                {
                    "timestamp": wire.timestamp(c.timestamp_ns),
                    "is_open": c.is_open,
                    "next_open": wire.timestamp(c.next_open_ns or c.timestamp_ns + day),
                    "next_close": wire.timestamp(c.next_close_ns or c.timestamp_ns + day),
                }
            )

        @app.get("/v2/calendar", responses=api.answers(list[api.CalendarDayOut], 422))
        async def calendar(start: str | None = None, end: str | None = None) -> Response:
            cal = broker.venue.calendar
            if cal is None:
                return JSONResponse([])
            today = dt.datetime.fromtimestamp(broker.now() / 1e9, dt.UTC).date()
            try:
                first = _day(start, "start") or today
                last = _day(end, "end") or first + dt.timedelta(days=30)
                # Days past what the calendar holds have no sessions, as Alpaca answers them.
                lo, hi = max(first, FIRST_DAY), min(last, LAST_DAY)
                sessions = cal.sessions(lo, hi) if lo <= hi else []
            except FillforgeError as e:
                return _fail(e)
            tz = dt.UTC if cal.tz == "UTC" else _zone(cal.tz)
            out = []
            for s in sessions:
                o = dt.datetime.fromtimestamp(s.open_ns / 1e9, tz)
                c = dt.datetime.fromtimestamp(s.close_ns / 1e9, tz)
                out.append(
                    {
                        "date": s.day.isoformat(),
                        "open": o.strftime("%H:%M"),
                        "close": c.strftime("%H:%M"),
                    }
                )
            return JSONResponse(out)

        @app.get("/v2/assets", responses=api.answers(list[api.AssetOut], 422))
        async def assets(status: str | None = None) -> Response:
            if status == "inactive":
                return JSONResponse([])
            return JSONResponse([self._asset(s) for s in broker.venue.markets])

        @app.get("/v2/assets/{symbol:path}", responses=api.answers(api.AssetOut, 404))
        async def asset(symbol: str) -> Response:
            sym = self._symbol(symbol)
            if sym not in broker.venue.markets:
                return JSONResponse(
                    wire.error(wire.CODE_NOT_FOUND, f"asset not found for {symbol}"), 404
                )
            return JSONResponse(self._asset(sym))

        @app.get("/v2/stocks/quotes/latest", responses=api.answers(api.QuotesOut, 422))
        async def latest_quotes(symbols: str, feed: str | None = None) -> Response:
            # Market data rides on the trading server's key check: alpaca-py's
            # StockHistoricalDataClient takes the same base URL. Unknown symbols are left out,
            # as Alpaca does.
            del feed  # one venue: every feed is the simulated book
            with lock:
                out = {s: q for s in symbols.split(",") if (q := self._latest_quote(s)) is not None}
            return JSONResponse({"quotes": out})

        add_account_routes(app, self)
        return app

    def _latest_quote(self, symbol: str) -> dict[str, Any] | None:
        market = self.broker.venue.markets.get(symbol)
        if market is None:
            return None
        bid, ask = market.engine.best_bid(), market.engine.best_ask()
        if bid is None or ask is None:
            return None
        i = market.instrument
        return wire.quote_json(
            self.broker.now(),
            i.to_price(bid[0]),
            i.to_qty(bid[1]),
            i.to_price(ask[0]),
            i.to_qty(ask[1]),
        )

    def _convert(self, r: OrderRequest) -> OrderRequest:
        """Alpaca's protective conversions: a market buy that opens or adds to a position becomes
        a marketable limit with a collar over the ask, and a buy stop a stop-limit over its stop
        (4% under $50, 2.5% from $50); sells are not converted."""
        if r.side is not OrderSide.BUY or r.order_class is not OrderClass.SIMPLE:
            return r
        market = self.broker.venue.markets.get(r.symbol)
        if market is None:
            return r
        if r.type is OrderType.MARKET and self.broker.ledger.qty(r.symbol) >= 0:
            ask = market.best_ask()
            if ask is None or r.time_in_force.value in ("opg", "cls"):
                return r
            limit = _collar(ask, market.instrument.tick_size)
            return r.model_copy(update={"type": OrderType.LIMIT, "limit_price": limit})
        if r.type is OrderType.STOP and r.stop_price is not None:
            limit = _collar(r.stop_price, market.instrument.tick_size)
            return r.model_copy(update={"type": OrderType.STOP_LIMIT, "limit_price": limit})
        return r

    def _would_wash(self, r: OrderRequest) -> bool:
        """Alpaca's wash-trade refusal: a simple market or limit order that could trade against
        one of the account's own working orders on the other side (a market order, or a limit
        at or through this one's price). Complex orders are Alpaca's remedy, so brackets, OCO
        and OTO are not refused; held legs and untriggered stops are not working."""
        if r.order_class is not OrderClass.SIMPLE or r.type not in _WASHABLE:
            return False
        for o in self.broker.orders(open_only=True):
            if o.symbol != r.symbol or o.request.side is r.side or o.request.type not in _WASHABLE:
                continue
            if o.status is OrderStatus.HELD:
                continue
            mine, theirs = r.limit_price, o.limit_price
            if mine is None or theirs is None:
                return True  # a market order on either side trades against the other
            if (mine >= theirs) if r.side is OrderSide.BUY else (mine <= theirs):
                return True
        return False

    def _auction_window(self, request: OrderRequest) -> str | None:
        """Alpaca refuses opg orders sent 9:28-19:00 ET and cls orders sent 15:50-19:00 ET."""
        tif = request.time_in_force.value
        if tif not in ("opg", "cls"):
            return None
        local = dt.datetime.fromtimestamp(self.broker.now() / 1e9, _zone("America/New_York"))
        minute = local.hour * 60 + local.minute
        start = 9 * 60 + 28 if tif == "opg" else 15 * 60 + 50
        if start <= minute < 19 * 60:
            window = "9:28am" if tif == "opg" else "3:50pm"
            return f"{tif} orders are not accepted between {window} and 7:00pm ET"
        return None

    def _asset(self, symbol: str) -> dict[str, Any]:
        lot = self.broker.venue.markets[symbol].instrument.lot_size
        return wire.asset_json(
            symbol,
            exchange=self.exchange,
            shortable=self.broker.ledger.is_shortable(symbol),
            fractionable=lot < 1,
        )

    def _symbol(self, symbol_or_id: str) -> str:
        """A symbol, or the symbol whose asset id this is."""
        for s in self.broker.venue.markets:
            if symbol_or_id in (s, wire.asset_id(s)):
                return s
        return symbol_or_id

    def _close(self, symbol: str, qty: str | None, percentage: str | None) -> Order | None:
        p = self.broker.positions().get(symbol)
        if p is None:
            return None
        asked = {"qty": qty, "percentage": percentage}
        size, pct = wire.decimal_field(asked, "qty"), wire.decimal_field(asked, "percentage")
        if size is not None and pct is not None:
            raise OrderValidationError("percentage", percentage, "give qty or percentage, not both")
        if pct is not None:
            if not 0 < pct <= 100:
                raise OrderValidationError("percentage", percentage, "expected (0, 100]")
            lot = self.broker.venue.market(symbol).instrument.lot_size
            size = (abs(p.qty) * pct / 100 // lot) * lot
        if size is None:
            size = abs(p.qty)
        elif size > abs(p.qty):
            raise InsufficientQtyError(symbol, size, abs(p.qty))
        side = OrderSide.SELL if p.qty > 0 else OrderSide.BUY
        return self.broker.submit(
            OrderRequest(symbol=symbol, side=side, type=OrderType.MARKET, qty=size)
        )


async def _frame(ws: WebSocket) -> dict[str, Any] | None:
    """The next frame, text or binary, as a JSON object; None when it is not one. A closed
    socket raises :class:`WebSocketDisconnect`."""
    message = await ws.receive()
    if message["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(message.get("code", 1000))
    raw = message.get("text")
    if raw is None:
        raw = message.get("bytes") or b""
    try:
        got = json.loads(raw, parse_constant=wire.not_json)
    except (ValueError, RecursionError):
        return None
    return got if isinstance(got, dict) else None


def _authorization(ok: bool) -> str:
    status = "authorized" if ok else "unauthorized"
    return json.dumps(
        {"stream": "authorization", "data": {"status": status, "action": "authenticate"}}
    )


def _address(scope: Scope) -> str:
    """The client's address (host only: one budget per machine, whatever its ports)."""
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


def _collar(price: Decimal, tick: Decimal) -> Decimal:
    """``price`` plus Alpaca's collar (4% under $50, else 2.5%), rounded up to the tick."""
    raised = price * (Decimal("1.04") if price < 50 else Decimal("1.025"))
    return (raised / tick).to_integral_value(rounding="ROUND_CEILING") * tick


def _zone(name: str) -> dt.tzinfo:
    from zoneinfo import ZoneInfo

    return ZoneInfo(name)
