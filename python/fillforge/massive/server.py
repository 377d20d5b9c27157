"""A Massive (formerly Polygon)-compatible market-data server: the routes the ``massive`` client
calls for aggregates, trades, quotes and the last quote, answered from a
:class:`~fillforge.massive.history.History` (default: the shipped data) with Massive's JSON
shapes (:mod:`fillforge.massive.wire`), its ``next_url`` pagination and its error bodies.

- ``GET /v2/aggs/ticker/{ticker}/range/{multiplier}/{timespan}/{from}/{to}``: bars of
  ``minute``, ``hour`` or ``day`` (multiplier 1) whose open time is in [from, to] (dates or
  millisecond timestamps, both inclusive); ``sort`` asc or desc; ``limit`` (default 5,000, at
  most 50,000) rows a page, the next page's ``next_url`` carrying on from the next bar's time.
- ``GET /v3/trades/{ticker}`` and ``GET /v3/quotes/{ticker}``: ``timestamp`` (a day or an
  instant) and ``timestamp.gte``/``.gt``/``.lte``/``.lt`` (nanoseconds, dates or RFC 3339);
  ``order`` asc or desc (default desc, as Massive); ``sort=timestamp``; ``limit`` (default
  1,000, at most 50,000); ``next_url`` with an opaque ``cursor``.
- ``GET /v2/last/nbbo/{ticker}``: the last quote of the history.

Every request needs the key: ``apiKey`` in the query or ``Authorization: Bearer`` (what the
client sends); without it, or with another, 401. ``requests_per_minute`` (None: no limit)
answers 429 past it. A ticker the history does not hold is 404 ``NOT_FOUND`` (Massive answers
an unknown ticker's history with no results; a local server knows its whole universe).
``faults`` (:class:`fillforge.serving.Faults`) injects failures (``fail``) or late
answers (``delay``) into the next requests, for resilience tests.
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import itertools
import urllib.parse
from typing import Any, Final

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException
from starlette.types import Receive, Scope, Send

from fillforge.alpaca.asgi import client_address
from fillforge.errors import OrderValidationError, SimulationError
from fillforge.massive import wire
from fillforge.massive.history import TIMEFRAMES, History, shipped_history
from fillforge.serving import BackgroundServer, Faults
from fillforge.throttle import RateLimiter, SlidingWindow
from fillforge.time import NS_PER_MILLISECOND, NS_PER_MINUTE, Clock, WallClock

__all__ = ["MassiveServer"]

_MAX_LIMIT: Final = 50_000
_AGGS_LIMIT: Final = 5_000
_TICKS_LIMIT: Final = 1_000
_FAR: Final = 1 << 62
_RATE_LIMITED: Final = (
    "You've exceeded the maximum requests per minute, please wait or upgrade your "
    "subscription to continue. https://massive.com/pricing"
)


class MassiveServer:
    """The server on ``history`` (None: :func:`shipped_history`), for the key ``api_key``.
    ``start()`` serves from a background thread (``port=0``: an ephemeral one) and returns once
    it listens; use it as a context manager. The secret is never shown."""

    def __init__(
        self,
        history: History | None = None,
        *,
        api_key: str,
        host: str = "127.0.0.1",
        port: int = 0,
        requests_per_minute: int | None = None,
        wall_clock: Clock | None = None,
    ) -> None:
        if not api_key:
            raise SimulationError("api_key", "***", "an API key is required")
        if requests_per_minute is not None and (
            isinstance(requests_per_minute, bool)
            or not isinstance(requests_per_minute, int)
            or requests_per_minute < 1
        ):
            raise SimulationError("requests_per_minute", requests_per_minute, "expected >= 1")
        self.history = history if history is not None else shipped_history()
        self.host, self.port = host, port
        self._key = api_key
        clock = wall_clock if wall_clock is not None else WallClock()
        self._limiter = (
            None
            if requests_per_minute is None
            else RateLimiter(SlidingWindow(requests_per_minute, NS_PER_MINUTE), clock=clock.now_ns)
        )
        self.faults = Faults()
        self._ids = itertools.count(1)
        self._http: BackgroundServer | None = None
        self.routes = _app(self)

    def __repr__(self) -> str:
        return f"MassiveServer({self.base_url}, api_key=***)"

    @property
    def api_key(self) -> str:
        return self._key

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def request_id(self) -> str:
        return f"{next(self._ids):032x}"

    def start(self) -> MassiveServer:
        http = BackgroundServer(self.app, name="massive-server")
        port = http.start(self.host, self.port)
        if port is None:
            raise SimulationError("port", self.port, "the server did not start")
        self._http, self.port = http, port
        return self

    def stop(self) -> None:
        http, self._http = self._http, None
        if http is not None:
            http.stop()

    def __enter__(self) -> MassiveServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ----- the gate -----------------------------------------------------------------------

    def _authorized(self, scope: Scope) -> str | None:
        """None when the key is right; else what Massive says."""
        given = ""
        for name, value in scope["headers"]:
            if name == b"authorization":
                text = value.decode("latin-1")
                if text[:7].lower() == "bearer ":
                    given = text[7:].strip()
        if not given:
            query = urllib.parse.parse_qs(scope.get("query_string", b"").decode("latin-1"))
            given = (query.get("apiKey") or [""])[0]
        if not given:
            return "API Key was not provided"
        if not hmac.compare_digest(given.encode(), self._key.encode()):
            return "Unknown API Key"
        return None

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pure-ASGI gate before the routes: the key, the rate limit, injected faults."""
        if scope["type"] != "http":
            return await self.routes(scope, receive, send)
        refused = self._authorized(scope)
        if refused is not None:
            body = wire.error(self.request_id(), refused)
            return await JSONResponse(body, status_code=401)(scope, receive, send)
        if self._limiter is not None and not self._limiter.try_acquire(client_address(scope)):
            body = wire.error(self.request_id(), _RATE_LIMITED)
            return await JSONResponse(body, status_code=429)(scope, receive, send)
        fault = self.faults.next()
        if fault is not None and fault[0] == "fail":
            body = wire.error(self.request_id(), "injected fault")
            return await JSONResponse(body, status_code=int(fault[1]))(scope, receive, send)
        if fault is not None:  # a delay: the answer comes that much later
            await asyncio.sleep(fault[1])
        await self.routes(scope, receive, send)


def _limit(text: str | None, default: int) -> int:
    if text is None:
        return default
    if not text.isdigit() or not 1 <= int(text) <= _MAX_LIMIT:
        raise OrderValidationError("limit", text, f"expected 1 to {_MAX_LIMIT}")
    return int(text)


def _cursor(i: int, stop: int, limit: int, order: str) -> str:
    return base64.urlsafe_b64encode(f"{i}.{stop}.{limit}.{order}".encode()).decode()


def _uncursor(text: str) -> tuple[int, int, int, str]:
    try:
        i, stop, limit, order = base64.urlsafe_b64decode(text.encode()).decode().split(".")
        if order not in ("asc", "desc"):
            raise ValueError(order)
        return int(i), int(stop), int(limit), order
    except (ValueError, UnicodeError):
        raise OrderValidationError("cursor", text, "not a cursor of this server") from None


def _ticks_window(q: dict[str, str]) -> tuple[int, int]:
    """The [start, end) nanoseconds of a trades or quotes query's ``timestamp`` filters."""
    start, end = 0, _FAR
    if "timestamp" in q:
        text = q["timestamp"]
        t = wire.ns_time(text, "timestamp")
        start, end = (t, t + 86_400 * 10**9) if len(text) == 10 else (t, t + 1)
    for key, bound in (("gte", 0), ("gt", 1), ("lte", 1), ("lt", 0)):
        name = f"timestamp.{key}"
        if name in q:
            t = wire.ns_time(q[name], name) + bound
            start, end = (max(start, t), end) if key in ("gte", "gt") else (start, min(end, t))
    return start, end


def _app(server: MassiveServer) -> FastAPI:
    app = FastAPI(title="fillforge Massive-compatible market data", docs_url=None, redoc_url=None)

    def refused(e: OrderValidationError) -> Response:
        why = f"{e.field}={e.value!r}: {e.why}"
        return JSONResponse(wire.error(server.request_id(), why), status_code=400)

    def unknown(ticker: str) -> Response:
        body = wire.not_found(server.request_id(), f"Data not found for ticker {ticker}.")
        return JSONResponse(body, status_code=404)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, e: RequestValidationError) -> Response:
        first = e.errors()[0] if e.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        why = f"{where}: {first.get('msg', 'invalid')}"
        return JSONResponse(wire.error(server.request_id(), why), status_code=400)

    @app.exception_handler(HTTPException)
    async def missing(request: Request, e: HTTPException) -> Response:
        if e.status_code == 404:
            body = wire.not_found(server.request_id(), "Route not found.")
            return JSONResponse(body, status_code=404)
        return JSONResponse(wire.error(server.request_id(), str(e.detail)), e.status_code)

    @app.get("/v2/aggs/ticker/{ticker}/range/{multiplier}/{timespan}/{start}/{end}")
    async def aggs(
        request: Request, ticker: str, multiplier: int, timespan: str, start: str, end: str
    ) -> Response:
        q = dict(request.query_params)
        try:
            if multiplier != 1:
                raise OrderValidationError("multiplier", multiplier, "this server has 1 only")
            if timespan not in TIMEFRAMES:
                why = "this server has minute, hour and day"
                raise OrderValidationError("timespan", timespan, why)
            lo = wire.ms_or_date(start, "from", end=False)
            hi = wire.ms_or_date(end, "to", end=True)
            limit = _limit(q.get("limit"), _AGGS_LIMIT)
            order = q.get("sort", "asc")
            if order not in ("asc", "desc"):
                raise OrderValidationError("sort", order, "expected asc or desc")
        except OrderValidationError as e:
            return refused(e)
        if not server.history.has(ticker):
            return unknown(ticker)
        rows = server.history.bars(ticker, timespan)
        window = server.history.window("bars", ticker, lo, hi + 1, timespan)
        if order == "asc":
            page, rest = window[:limit], window[limit:]
        else:
            page, rest = window[::-1][:limit], window[::-1][limit:]
        results = [wire.agg_json(rows[i]) for i in page]
        body: dict[str, Any] = {
            "ticker": ticker,
            "queryCount": len(results),
            "resultsCount": len(results),
            "adjusted": q.get("adjusted", "true") != "false",
            "results": results,
            "status": "OK",
            "request_id": server.request_id(),
            "count": len(results),
        }
        if rest:
            nxt = rows[rest[0]].t // NS_PER_MILLISECOND
            lo_ms, hi_ms = (nxt, end) if order == "asc" else (start, nxt)
            path = f"/v2/aggs/ticker/{ticker}/range/1/{timespan}/{lo_ms}/{hi_ms}"
            query = urllib.parse.urlencode({**_keep(q, "adjusted"), "sort": order, "limit": limit})
            body["next_url"] = f"{server.base_url}{path}?{query}"
        return JSONResponse(body)

    def ticks(kind: str, request: Request, ticker: str) -> Response:
        q = dict(request.query_params)
        try:
            if "cursor" in q:
                i, stop, limit, order = _uncursor(q["cursor"])
            else:
                start, end = _ticks_window(q)
                limit = _limit(q.get("limit"), _TICKS_LIMIT)
                order = q.get("order", "desc")
                if order not in ("asc", "desc"):
                    raise OrderValidationError("order", order, "expected asc or desc")
                if q.get("sort", "timestamp") != "timestamp":
                    raise OrderValidationError("sort", q["sort"], "this server sorts by timestamp")
        except OrderValidationError as e:
            return refused(e)
        if not server.history.has(ticker):
            return unknown(ticker)
        rows = server.history.rows(kind, ticker)
        if "cursor" not in q:
            window = server.history.window(kind, ticker, start, max(start, end))
            i, stop = (window.start, window.stop) if order == "asc" else (window.stop, window.start)
        if order == "asc":
            taken = range(i, min(stop, i + limit))
            after = taken.stop if taken.stop < stop else None
        else:
            taken = range(i - 1, max(stop, i - limit) - 1, -1)
            after = max(stop, i - limit) if max(stop, i - limit) > stop else None
        to_json = wire.trade_json if kind == "trades" else wire.quote_json
        body: dict[str, Any] = {
            "results": [to_json(rows[k]) for k in taken],  # type: ignore[arg-type]
            "status": "OK",
            "request_id": server.request_id(),
        }
        if after is not None:
            cursor = _cursor(after, stop, limit, order)
            body["next_url"] = f"{server.base_url}/v3/{kind}/{ticker}?cursor={cursor}"
        return JSONResponse(body)

    @app.get("/v3/trades/{ticker}")
    async def trades(request: Request, ticker: str) -> Response:
        return ticks("trades", request, ticker)

    @app.get("/v3/quotes/{ticker}")
    async def quotes(request: Request, ticker: str) -> Response:
        return ticks("quotes", request, ticker)

    @app.get("/v2/last/nbbo/{ticker}")
    async def last_quote(ticker: str) -> Response:
        row = server.history.latest_quote(ticker)
        if row is None:
            return unknown(ticker)
        body = {
            "request_id": server.request_id(),
            "results": wire.last_quote_json(ticker, row),
            "status": "OK",
        }
        return JSONResponse(body)

    return app


def _keep(q: dict[str, str], *names: str) -> dict[str, str]:
    return {n: q[n] for n in names if n in q}
