"""Alpaca's market-data routes on the simulated market: the latest quote, trade and minute bar
that alpaca-py's ``StockHistoricalDataClient`` asks for (it takes the trading server's base URL;
the routes ride on its key check and rate limit).

- ``GET /v2/stocks/quotes/latest?symbols=A,B`` and ``GET /v2/stocks/trades/latest?symbols=...``
  (what ``get_stock_latest_quote`` / ``get_stock_latest_trade`` call, for one symbol or many):
  symbols with nothing to show (unknown, no two-sided book, no print yet) are left out, as
  Alpaca does.
- ``GET /v2/stocks/{symbol}/trades/latest``: one symbol's, 404 when there is none.
- ``GET /v2/stocks/bars/latest?symbols=...``: the last completed minute bar of each symbol's
  prints. The server keeps a symbol's bars from the first time a client asks for them (a
  subscription on the simulated broker costs its market a Python call per message).
- Historical bars, trades and quotes, as alpaca-py's ``get_stock_bars`` / ``get_stock_trades`` /
  ``get_stock_quotes`` call them (``GET /v2/stocks/bars?symbols=A,B``, and the one-symbol
  ``GET /v2/stocks/{symbol}/bars``; likewise ``trades`` and ``quotes``) from the market history
  (:func:`fillforge.massive.history.shipped_history`: the shipped daily bars and the GOOG LOBSTER
  day; a server's ``market_history`` attribute, when set, instead), plus, for a symbol the
  venue lists and the history does not hold, what the simulated venue has printed so far (its
  feed's prints up to the replay's position, and bars of them; no quotes). ``start`` and
  ``end`` (RFC 3339 or a date; both inclusive, as Alpaca reads them; default: all),
  ``timeframe`` (``1Min``, ``1Hour``, ``1Day``; also ``1T``, ``1H``, ``1D``), ``limit`` (1 to
  10,000, default 1,000; a server's ``data_page_limit`` caps it lower) and ``page_token`` (the
  ``next_page_token`` of the previous page, null after the last). Symbols come in alphabetical
  order, each one's rows in time order; only ascending ``sort``. A symbol neither holds is
  refused with 422 ``invalid symbol`` (Alpaca answers an unknown ticker's history with nothing;
  a local server knows its whole universe). A day bar from a bars file has no ``n`` or ``vw``
  (the file has neither).

Prices and sizes are JSON numbers, as Alpaca sends them; times RFC 3339 with nanoseconds. The
``feed`` parameter is accepted and ignored (one venue: every feed is the simulated book).
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Final, NamedTuple, Protocol, TypeVar

import numpy as np
from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel

from fillforge.alpaca import openapi as api
from fillforge.alpaca import wire
from fillforge.broker import Bar
from fillforge.errors import OrderValidationError, SimulationError
from fillforge.massive.history import BarRow, History, QuoteRow, TradeRow, shipped_history
from fillforge.sim.broker import SimulatedBroker
from fillforge.sim.feeds import FeedKind
from fillforge.time import to_iso

__all__ = ["data_router", "latest_quote_json", "latest_trade_json"]


_T = TypeVar("_T")
_MAX_LIMIT: Final = 10_000
_DEFAULT_LIMIT: Final = 1_000
_TIMEFRAMES: Final = {
    "1Min": "minute",
    "1T": "minute",
    "1Hour": "hour",
    "1H": "hour",
    "1Day": "day",
    "1D": "day",
}
_FAR: Final = 1 << 62  # no end given: every row


class _Server(Protocol):
    """What the routes need of the server: its broker, and its simulation thread to call it on."""

    broker: SimulatedBroker

    async def run(self, fn: Callable[[], _T]) -> _T: ...


class TradesOut(BaseModel):
    trades: dict[str, dict[str, Any]]


class TradeOut(BaseModel):
    symbol: str
    trade: dict[str, Any]


class BarsOut(BaseModel):
    bars: dict[str, dict[str, Any]]


def latest_quote_json(broker: SimulatedBroker, symbol: str) -> dict[str, Any] | None:
    """``symbol``'s latest quote in Alpaca's shape; None unless the book shows both sides."""
    try:
        q = broker.latest_quote(symbol)
    except SimulationError:  # not listed
        return None
    if q is None or q.bid_price is None or q.ask_price is None:
        return None
    return wire.quote_json(q.timestamp_ns, q.bid_price, q.bid_size, q.ask_price, q.ask_size)


def latest_trade_json(broker: SimulatedBroker, symbol: str) -> dict[str, Any] | None:
    """``symbol``'s last print in Alpaca's shape; None before the first (or not listed)."""
    try:
        t = broker.last_trade(symbol)
    except SimulationError:
        return None
    if t is None:
        return None
    return {
        "t": to_iso(t.timestamp_ns),
        "x": "V",
        "p": float(t.price),
        "s": float(t.size),
        "c": ["@"],
        "i": 0,
        "z": "C",
    }


def _bar_json(b: Bar) -> dict[str, Any]:
    return {
        "t": to_iso(b.timestamp_ns),
        "o": float(b.open),
        "h": float(b.high),
        "l": float(b.low),
        "c": float(b.close),
        "v": float(b.volume),
        "n": b.trade_count,
        "vw": float(b.vwap),
    }


def _symbols(text: str) -> list[str]:
    return [s for s in text.split(",") if s]


def history_bar_json(row: BarRow) -> dict[str, Any]:
    """A history bar in Alpaca's shape (no ``n``/``vw`` when the source had none)."""
    out: dict[str, Any] = {
        "t": wire.timestamp(row.t),
        "o": float(row.o),
        "h": float(row.h),
        "l": float(row.l),
        "c": float(row.c),
        "v": row.v,
    }
    if row.n is not None:
        out["n"] = row.n
    if row.vw is not None:
        out["vw"] = float(row.vw)
    return out


def history_trade_json(row: TradeRow) -> dict[str, Any]:
    return {
        "t": wire.timestamp(row.t),
        "x": "V",
        "p": float(row.price),
        "s": row.size,
        "c": ["@"],
        "i": row.seq,
        "z": "C",
    }


def history_quote_json(row: QuoteRow) -> dict[str, Any]:
    """A history quote in Alpaca's shape: a side the book did not show is price 0, size 0."""
    return {
        "t": wire.timestamp(row.t),
        "bx": "V",
        "bp": 0 if row.bid is None else float(row.bid),
        "bs": row.bid_size,
        "ax": "V",
        "ap": 0 if row.ask is None else float(row.ask),
        "as": row.ask_size,
        "c": ["R"],
        "z": "C",
    }


_JSON: Final[dict[str, Callable[[Any], dict[str, Any]]]] = {
    "bars": history_bar_json,
    "trades": history_trade_json,
    "quotes": history_quote_json,
}


class _Query(NamedTuple):
    """A historical request, checked: rows of ``kind`` in [start, end] from the cursor on."""

    kind: str
    symbols: list[str]
    timeframe: str
    start: int
    end: int
    limit: int
    cursor: tuple[str, int] | None


def _token(symbol: str, index: int) -> str:
    return base64.urlsafe_b64encode(f"{symbol}:{index}".encode()).decode()


def _cursor(token: str | None) -> tuple[str, int] | None:
    if not token:
        return None
    try:
        symbol, _, index = base64.urlsafe_b64decode(token.encode()).decode().rpartition(":")
        return symbol, int(index)
    except (ValueError, UnicodeError):
        raise OrderValidationError("page_token", token, "not a page token of this server") from None


def _query(
    history: History,
    kind: str,
    symbols: list[str],
    params: dict[str, str | None],
    page_cap: int,
) -> _Query:
    """Check a historical request's parameters; OrderValidationError names the bad one."""
    if not symbols:
        raise OrderValidationError("symbols", "", "at least one symbol")
    for s in symbols:
        if not history.has(s):
            raise OrderValidationError("symbols", s, f"invalid symbol: {s}")
    timeframe = ""
    if kind == "bars":
        raw = params.get("timeframe") or ""
        if raw not in _TIMEFRAMES:
            why = "invalid timeframe: this server has 1Min, 1Hour and 1Day"
            raise OrderValidationError("timeframe", raw, why)
        timeframe = _TIMEFRAMES[raw]
    start = wire.query_time(params.get("start"), "start") or 0
    end = wire.query_time(params.get("end"), "end")
    end = _FAR if end is None else end
    if start > end:
        raise OrderValidationError("start", params.get("start"), "after end")
    raw_limit = params.get("limit") or str(_DEFAULT_LIMIT)
    if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= _MAX_LIMIT:
        raise OrderValidationError("limit", raw_limit, f"expected 1 to {_MAX_LIMIT}")
    sort = params.get("sort") or "asc"
    if sort != "asc":
        raise OrderValidationError("sort", sort, "this server answers asc only")
    cursor = _cursor(params.get("page_token"))
    if cursor is not None and cursor[0] not in symbols:
        raise OrderValidationError("page_token", params.get("page_token"), "for other symbols")
    limit = min(int(raw_limit), page_cap)
    return _Query(kind, sorted(set(symbols)), timeframe, start, end, limit, cursor)


def history_page(history: History, q: _Query) -> tuple[dict[str, Sequence[NamedTuple]], str | None]:
    """One page: up to ``q.limit`` rows, symbol by symbol, and the next page's token."""
    out: dict[str, Sequence[NamedTuple]] = {}
    left = q.limit
    for symbol in q.symbols:
        if q.cursor is not None and symbol < q.cursor[0]:
            continue
        window = history.window(q.kind, symbol, q.start, q.end + 1, q.timeframe)
        lo = window.start
        if q.cursor is not None and symbol == q.cursor[0]:
            lo = max(lo, q.cursor[1])
        if lo >= window.stop:
            continue
        if left == 0:
            return out, _token(symbol, lo)
        hi = min(window.stop, lo + left)
        out[symbol] = history.rows(q.kind, symbol, q.timeframe)[lo:hi]
        left -= hi - lo
        if hi < window.stop:
            return out, _token(symbol, hi)
    return out, None


@dataclass
class HistoryQuery:
    """The query parameters of Alpaca's historical data routes (``feed``, ``adjustment``,
    ``asof`` and ``currency`` accepted and not used: one simulated venue, in USD)."""

    timeframe: str | None = None
    start: str | None = None
    end: str | None = None
    limit: str | None = None
    page_token: str | None = None
    sort: str | None = None
    feed: str | None = None
    adjustment: str | None = None
    asof: str | None = None
    currency: str | None = None

    def params(self) -> dict[str, str | None]:
        return {
            "timeframe": self.timeframe,
            "start": self.start,
            "end": self.end,
            "limit": self.limit,
            "page_token": self.page_token,
            "sort": self.sort,
        }


def data_router(server: _Server) -> APIRouter:
    """The market-data routes on ``server``'s simulated broker."""
    router = APIRouter()
    broker = server.broker
    bars: dict[str, Bar | None] = {}  # the last completed bar of each symbol asked for

    @router.get("/v2/stocks/quotes/latest", responses=api.answers(api.QuotesOut, 422))
    async def latest_quotes(symbols: str, feed: str | None = None) -> Response:
        del feed
        got = await server.run(lambda: {s: latest_quote_json(broker, s) for s in _symbols(symbols)})
        return JSONResponse({"quotes": {s: q for s, q in got.items() if q is not None}})

    @router.get("/v2/stocks/trades/latest", responses=api.answers(TradesOut, 422))
    async def latest_trades(symbols: str, feed: str | None = None) -> Response:
        del feed
        got = await server.run(lambda: {s: latest_trade_json(broker, s) for s in _symbols(symbols)})
        return JSONResponse({"trades": {s: t for s, t in got.items() if t is not None}})

    @router.get("/v2/stocks/{symbol}/trades/latest", responses=api.answers(TradeOut, 404, 422))
    async def latest_trade(symbol: str, feed: str | None = None) -> Response:
        del feed
        t = await server.run(lambda: latest_trade_json(broker, symbol))
        if t is None:
            return JSONResponse(wire.error(wire.CODE_NOT_FOUND, f"no trade for {symbol}"), 404)
        return JSONResponse({"symbol": symbol, "trade": t})

    @router.get("/v2/stocks/bars/latest", responses=api.answers(BarsOut, 422))
    async def latest_bars(symbols: str, feed: str | None = None) -> Response:
        del feed

        def latest() -> dict[str, Any]:
            out = {}
            for s in _symbols(symbols):
                if s not in bars and s in broker.venue.markets:
                    bars[s] = None
                    broker.subscribe_bars(s, lambda b: bars.__setitem__(b.symbol, b))
                b = bars.get(s)
                if b is not None:
                    out[s] = _bar_json(b)
            return out

        return JSONResponse({"bars": await server.run(latest)})

    for kind in ("bars", "trades", "quotes"):
        _historical_routes(router, server, kind)
    return router


_PRINTS: Final = (FeedKind.EXECUTE, FeedKind.HIDDEN, FeedKind.TRADE)


class _VenuePrints:
    """What the simulated venue has printed so far, for the symbols it lists: each market's
    feed prints up to the replay's position (read on the simulation thread; kept until the
    position moves). Markets whose lot is not a whole number of shares have none here."""

    def __init__(self, broker: SimulatedBroker) -> None:
        self._broker = broker
        self._seen: dict[str, tuple[int, list[TradeRow]]] = {}

    def history(self, symbols: list[str], held: History) -> History:
        out = History()
        for symbol in symbols:
            market = self._broker.venue.markets.get(symbol)
            if market is None or held.has(symbol):
                continue
            position = market.engine.position
            seen = self._seen.get(symbol)
            if seen is None or seen[0] != position:
                seen = self._seen[symbol] = (position, self._prints(symbol, position))
            out.add_trades(symbol, seen[1])
        return out

    def _prints(self, symbol: str, position: int) -> list[TradeRow]:
        market = self._broker.venue.markets[symbol]
        instrument = market.instrument
        if instrument.lot_size != instrument.lot_size.to_integral_value():
            return []
        time_ns, kinds, _oid, _side, price, qty = market.feed.columns()
        at = np.flatnonzero(np.isin(kinds[:position], _PRINTS))
        return [
            TradeRow(
                int(time_ns[i]),
                instrument.to_price(int(price[i])),
                int(instrument.to_qty(int(qty[i]))),
                int(i) + 1,
            )
            for i in at
        ]


def _historical_routes(router: APIRouter, server: _Server, kind: str) -> None:
    """``/v2/stocks/{kind}`` (symbols=...) and ``/v2/stocks/{symbol}/{kind}``."""
    to_json = _JSON[kind]
    venue = _VenuePrints(server.broker)

    def history() -> History:
        given = getattr(server, "market_history", None)
        return given if isinstance(given, History) else shipped_history()

    async def answer(symbols: list[str], params: dict[str, str | None]) -> tuple[Any, str | None]:
        held = history()
        printed = await server.run(lambda: venue.history(symbols, held))
        h = held.overlay(printed) if printed.symbols else held
        cap = getattr(server, "data_page_limit", _MAX_LIMIT)
        q = _query(h, kind, symbols, params, cap if isinstance(cap, int) else _MAX_LIMIT)
        page, token = history_page(h, q)
        return {s: [to_json(r) for r in rows] for s, rows in page.items()}, token

    def refused(e: OrderValidationError) -> Response:
        why = e.why if e.why.startswith("invalid") else f"invalid {e.field} {e.value!r}: {e.why}"
        return JSONResponse(wire.error(wire.CODE_UNPROCESSABLE, why), 422)

    @router.get(f"/v2/stocks/{kind}", responses=api.answers(None, 422))
    async def many(symbols: str, q: Annotated[HistoryQuery, Depends()]) -> Response:
        params = q.params()
        try:
            rows, token = await answer(_symbols(symbols), params)
        except OrderValidationError as e:
            return refused(e)
        return JSONResponse({kind: rows, "next_page_token": token})

    @router.get(f"/v2/stocks/{{symbol}}/{kind}", responses=api.answers(None, 422))
    async def one(symbol: str, q: Annotated[HistoryQuery, Depends()]) -> Response:
        params = q.params()
        try:
            rows, token = await answer([symbol], params)
        except OrderValidationError as e:
            return refused(e)
        return JSONResponse(
            {kind: rows.get(symbol, []), "symbol": symbol, "next_page_token": token}
        )
