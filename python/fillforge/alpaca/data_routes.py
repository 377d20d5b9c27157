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

Prices and sizes are JSON numbers, as Alpaca sends them; times RFC 3339 with nanoseconds. The
``feed`` parameter is accepted and ignored (one venue: every feed is the simulated book).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel

from fillforge.alpaca import openapi as api
from fillforge.alpaca import wire
from fillforge.broker import Bar
from fillforge.errors import SimulationError
from fillforge.sim.broker import SimulatedBroker
from fillforge.time import to_iso

__all__ = ["data_router", "latest_quote_json", "latest_trade_json"]


_T = TypeVar("_T")


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

    return router
