"""An Alpaca-compatible Trading API v2 server on fillforge's simulated exchange.

Unmodified alpaca-py code (``TradingClient(key, secret, url_override=server.base_url)``,
``TradingStream(key, secret, url_override=server.stream_url)``) trades against a real matching
engine: orders rest, match and fill in the venue's Rust engines. FastAPI on uvicorn serves it (the
OpenAPI description is at ``/openapi.json``); it binds to 127.0.0.1 unless told otherwise, checks
its key pair on every request, and limits each key to ``requests_per_minute`` with the Rust
throttle (429 with Alpaca's ``X-Ratelimit-*`` headers). Secrets are never logged.

The server is thin: Alpaca's venue rules are the broker's profile (:class:`~fillforge.venues.
AlpacaRules`), the routes (``order_routes``, ``position_routes``, ``stream_routes``,
``account_routes``) parse, call the broker and answer, and every call on the simulation runs on
one simulation thread, in the order the calls come (:class:`~fillforge.serving.Simulation`),
never on the event loop.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hmac
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.types import Message, Receive, Scope, Send

from fillforge.alpaca import openapi as api
from fillforge.alpaca import wire
from fillforge.alpaca.account_routes import add_account_routes
from fillforge.alpaca.asgi import client_address, read_body, replaying
from fillforge.alpaca.data_routes import data_router, latest_quote_json
from fillforge.alpaca.operations import Operations
from fillforge.alpaca.order_routes import add_order_routes, answer, fail
from fillforge.alpaca.position_routes import add_position_routes
from fillforge.alpaca.stream_routes import add_stream_routes
from fillforge.errors import FillforgeError, OrderValidationError, SimulationError
from fillforge.orders.enums import OrderType
from fillforge.orders.order import Order
from fillforge.serving import KEEP_ALIVE_S, Faults, HttpSimServer, Listeners
from fillforge.sim.broker import SimulatedBroker
from fillforge.sim.calendar import FIRST_DAY, LAST_DAY
from fillforge.throttle import RateLimiter, SlidingWindow
from fillforge.time import NS_PER_DAY, NS_PER_MINUTE, NS_PER_SECOND, Clock, to_datetime
from fillforge.venues import AlpacaRules

if TYPE_CHECKING:
    from fillforge.alpaca.durable import ServerJournal

__all__ = ["KEEP_ALIVE_S", "AlpacaServer"]

_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _day(v: str | None, field: str) -> dt.date | None:
    if not v:
        return None
    try:
        return dt.date.fromisoformat(v)
    except ValueError:
        raise OrderValidationError(field, v, "expected a date, YYYY-MM-DD") from None


class AlpacaServer(HttpSimServer[SimulatedBroker]):
    """The server around one :class:`SimulatedBroker` (its lifecycle, simulation thread and clock
    are :class:`~fillforge.serving.SimServer`'s).

    ``start()`` serves in a background thread (``port=0``: an ephemeral port) and returns when it
    listens; use it as a context manager in tests. Calls that touch the broker from another
    thread (scripted prices) go through :meth:`call`, which runs them on the simulation thread in
    turn with the requests.

    The served account follows Alpaca's venue rules: a broker without a profile is given
    :class:`~fillforge.venues.AlpacaRules`.

    The simulation clock follows the wall clock at ``speed`` (1.0: real time; 60: a minute of
    data per second) from the broker's time at construction: before every request, and every
    20 ms in between, the broker runs up to that time (replayed data, requests in flight, DAY
    expiry at the close). ``speed=None`` leaves the clock to the caller. ``wall_clock`` is the
    wall time that pacing and the ``X-Ratelimit-Reset`` header read (default:
    :class:`~fillforge.time.WallClock`).
    """

    name = "alpaca"

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
        wall_clock: Clock | None = None,
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
        super().__init__(broker, host=host, port=port, speed=speed, wall_clock=wall_clock)
        if broker.rules is None:
            broker.rules = AlpacaRules()
        self.max_body_bytes = max_body_bytes
        self.auth_timeout = auth_timeout
        self.login_failures_per_minute = login_failures_per_minute
        # Failed logins (HTTP and websocket) per client address: past the budget, that address
        # is answered 429 until its window clears, whatever it sends.
        self._failed_logins = RateLimiter(SlidingWindow(login_failures_per_minute, NS_PER_MINUTE))
        self.exchange = exchange
        self.requests_per_minute = requests_per_minute
        self._key, self._secret = key_id, secret_key
        self.limiter = RateLimiter(SlidingWindow(requests_per_minute, NS_PER_MINUTE))
        self._created_ns = broker.now()
        self.faults = Faults()
        # Every state change a request makes is an operation (fillforge.alpaca.operations); a
        # journal (fillforge.alpaca.durable) listens to them and makes them durable before
        # any answer or stream frame shows their effects (``journal.settle``).
        self.ops = Operations()
        self.journal: ServerJournal | None = None
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
    def stream_url(self) -> str:
        return f"ws://{self.host}:{self.port}/stream"

    def restart(self) -> None:
        """Stop and serve again on the same port (the simulation keeps its state): clients see
        dropped connections and refused requests meanwhile."""
        self.stop()
        self.start()

    # ----- trade_updates --------------------------------------------------------------------

    @property
    def _streams(self) -> Listeners[Any]:
        """The listening ``trade_updates`` sockets."""
        return self.stream.listening

    def drop_streams(self) -> None:
        """Close every trade_updates websocket (clients reconnect)."""
        self.stream.drop()

    # ----- HTTP -----------------------------------------------------------------------------

    def authorized(self, key: object, secret: object) -> bool:
        """The key pair, compared in constant time as bytes (any text a client sends, however
        malformed, is a failed login, never an error)."""
        if not isinstance(key, str) or not isinstance(secret, str):
            return False
        utf8 = "surrogatepass"
        return hmac.compare_digest(
            key.encode("utf-8", utf8), self._key.encode("utf-8", utf8)
        ) & hmac.compare_digest(secret.encode("utf-8", utf8), self._secret.encode("utf-8", utf8))

    def locked_out(self, address: str) -> bool:
        """Whether ``address`` has spent its failed-login budget for the window."""
        return self._failed_logins.count_in_window(address) >= self.login_failures_per_minute

    def login_failed(self, address: str) -> None:
        self._failed_logins.try_acquire(address)

    def _limit_headers(self, key: str) -> dict[str, str]:
        used = self.limiter.count_in_window(key)
        wait = self.limiter.wait_time(key)
        return {
            "X-Ratelimit-Limit": str(self.requests_per_minute),
            "X-Ratelimit-Remaining": str(max(self.requests_per_minute - used, 0)),
            "X-Ratelimit-Reset": str(-(-(self.wall_clock.now_ns() + wait) // NS_PER_SECOND)),
        }

    async def _gate(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pure-ASGI gate before the routes: key check, rate limit, clock, injected faults, and
        the ``X-Ratelimit-*`` headers on the answer. (Starlette's ``BaseHTTPMiddleware`` costs
        about a millisecond a request; this does not.)"""
        if scope["type"] != "http" or not scope["path"].startswith("/v2"):
            return await self.app_routes(scope, receive, send)
        headers = dict(scope["headers"])
        address = client_address(scope)
        if self.locked_out(address):
            body = wire.error(wire.CODE_RATE_LIMITED, "too many failed logins: try again later")
            wait = -(-self._failed_logins.wait_time(address) // NS_PER_SECOND)
            limited = JSONResponse(body, status_code=429, headers={"Retry-After": str(wait)})
            return await limited(scope, receive, send)
        key = headers.get(b"apca-api-key-id", b"").decode("latin-1")
        secret = headers.get(b"apca-api-secret-key", b"").decode("latin-1")
        if not self.authorized(key, secret):
            self.login_failed(address)
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
        await self.run(lambda: None)  # the clock up to now, for routes that read under the lock
        fault = self.faults.next()
        if fault is not None and fault[0] == "fail":
            if fault[2]:  # carry the request out, then answer with the fault instead

                async def swallow(message: Message) -> None:
                    return None

                await self.app_routes(scope, receive, swallow)
                if self.journal is not None:
                    await self.journal.settle(key)
            return await self._fault_response(key, int(fault[1]))(scope, receive, send)
        extra = [(k.lower().encode(), v.encode()) for k, v in self._limit_headers(key).items()]

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                if self.journal is not None:  # what the answer shows is durable first
                    await self.journal.settle(key)
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
            headers["X-Ratelimit-Reset"] = str(self.wall_clock.now_ns() // NS_PER_SECOND + 1)
        return JSONResponse(
            wire.error(status * 100_000, "injected fault"), status_code=status, headers=headers
        )

    # ----- answers (on the simulation thread) -------------------------------------------------

    def order_json(self, o: Order, nested: bool = False) -> dict[str, Any]:
        if self.ops.replaying:  # a restart's replay: nobody reads the answer
            return {}
        stop = hwm = None
        if o.request.type is OrderType.TRAILING_STOP and o.status.is_open:
            state = self.broker.trailing_state(o.id)
            if state is not None:
                stop, hwm = state
        if o.group_id is None:
            return wire.order_json(o, stop=stop, hwm=hwm)
        group = self.broker.manager.group(o.group_id)
        legs = None
        if nested and not self.is_leg(o):
            legs = [self.order_json(m) for m in group.members if m is not o]
        return wire.order_json(o, stop=stop, hwm=hwm, legs=legs, order_class=group.order_class)

    def is_leg(self, o: Order) -> bool:
        """A group member other than its parent (the entry, or an OCO's take-profit), which
        Alpaca nests under the parent."""
        if o.group_id is None:
            return False
        group = self.broker.manager.group(o.group_id)
        return o is not (group.entry if group.entry is not None else group.exits[0])

    def _asset(self, symbol: str) -> dict[str, Any]:
        lot = self.broker.venue.markets[symbol].instrument.lot_size
        return wire.asset_json(
            symbol,
            exchange=self.exchange,
            shortable=self.broker.ledger.is_shortable(symbol),
            fractionable=lot < 1,
        )

    def symbol_of(self, symbol_or_id: str) -> str:
        """A symbol, or the symbol whose asset id this is."""
        for s in self.broker.venue.markets:
            if symbol_or_id in (s, wire.asset_id(s)):
                return s
        return symbol_or_id

    # ----- routes -----------------------------------------------------------------------------

    def _build(self) -> FastAPI:
        app = FastAPI(
            title="fillforge Alpaca-compatible paper server",
            description="Alpaca Trading API v2 on fillforge's simulated exchange.",
        )
        self.stream = add_stream_routes(app, self)

        @app.exception_handler(RequestValidationError)
        async def invalid(request: Request, exc: RequestValidationError) -> Response:
            # A query parameter the route's signature refuses, in Alpaca's error shape.
            first = exc.errors()[0] if exc.errors() else {}
            field = ".".join(str(x) for x in first.get("loc", ())[1:]) or "request"
            message = f"{field}={first.get('input')!r}: {first.get('msg', 'invalid')}"
            return JSONResponse(wire.error(wire.CODE_INVALID, message), 422)

        broker = self.broker
        add_order_routes(app, self)
        add_position_routes(app, self)

        @app.get("/v2/account", responses=api.answers(api.AccountOut))
        async def account() -> Response:
            body = await self.run(
                lambda: wire.account_json(broker.account(), self._created_ns, broker.ledger)
            )
            # What the account's configuration blocks shows on the account, as on Alpaca.
            config = app.state.account.config
            body["trade_suspended_by_user"] = config.suspend_trade
            body["shorting_enabled"] = not config.no_shorting
            return JSONResponse(body)

        @app.get("/v2/clock", responses=api.answers(api.ClockOut))
        async def clock() -> Response:
            c = await self.run(broker.clock)
            return JSONResponse(
                {
                    "timestamp": wire.timestamp(c.timestamp_ns),
                    "is_open": c.is_open,
                    "next_open": wire.timestamp(c.next_open_ns or c.timestamp_ns + NS_PER_DAY),
                    "next_close": wire.timestamp(c.next_close_ns or c.timestamp_ns + NS_PER_DAY),
                }
            )

        @app.get("/v2/calendar", responses=api.answers(list[api.CalendarDayOut], 422))
        async def calendar(start: str | None = None, end: str | None = None) -> Response:
            cal = broker.venue.calendar
            if cal is None:
                return JSONResponse([])
            now = await self.run(broker.now)
            today = to_datetime(now).date()
            try:
                first = _day(start, "start") or today
                last = _day(end, "end") or first + dt.timedelta(days=30)
                # Days past what the calendar holds have no sessions, as Alpaca answers them.
                lo, hi = max(first, FIRST_DAY), min(last, LAST_DAY)
                sessions = cal.sessions(lo, hi) if lo <= hi else []
            except FillforgeError as e:
                return fail(e)
            tz = dt.UTC if cal.tz == "UTC" else _zone(cal.tz)
            out = []
            for s in sessions:
                o = to_datetime(s.open_ns).astimezone(tz)
                c = to_datetime(s.close_ns).astimezone(tz)
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
            return await answer(
                self, lambda: JSONResponse([self._asset(s) for s in broker.venue.markets])
            )

        @app.get("/v2/assets/{symbol:path}", responses=api.answers(api.AssetOut, 404))
        async def asset(symbol: str) -> Response:
            sym = self.symbol_of(symbol)
            if sym not in broker.venue.markets:
                return JSONResponse(
                    wire.error(wire.CODE_NOT_FOUND, f"asset not found for {symbol}"), 404
                )
            return await answer(self, lambda: JSONResponse(self._asset(sym)))

        app.include_router(data_router(self))
        add_account_routes(app, self)
        return app

    def _latest_quote(self, symbol: str) -> dict[str, Any] | None:
        return latest_quote_json(self.broker, symbol)


def _zone(name: str) -> dt.tzinfo:
    from zoneinfo import ZoneInfo

    return ZoneInfo(name)
