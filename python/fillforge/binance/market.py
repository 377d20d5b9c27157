"""The public routes of the Binance-compatible server (market data, exchange information, time),
the shapes they answer with, and the request helpers every route shares (:func:`answer`,
:func:`symbol_of`).

``GET /api/v3/ping``, ``/time``, ``/exchangeInfo`` (each symbol's PRICE_FILTER, LOT_SIZE and
NOTIONAL filters from its instrument), ``/depth`` and ``/ticker/bookTicker`` (the top of the
simulated book), ``/ticker/price`` and ``/ticker/24hr`` (last price and top of book; the day's
statistics are not kept and show as zero), and empty futures market lists
(``/fapi/v1/exchangeInfo``, ``/dapi/v1/exchangeInfo``) so a default ``load_markets()`` works.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal, overload

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from fillforge.binance import wire
from fillforge.binance.wire import money
from fillforge.errors import BinanceApiError, FillforgeError

if TYPE_CHECKING:
    from fillforge.binance.server import BinanceServer

__all__ = ["add_market_routes", "answer", "symbol_of"]


async def answer(
    server: BinanceServer,
    request: Request,
    fn: Callable[[dict[str, str]], Any],
    *,
    signed: bool = True,
) -> Response:
    """``fn(params)`` on the simulation thread (after the signature checks when ``signed``); its
    answer as JSON (with headers, when it returns a pair), a refusal in Binance's shape."""
    query = request.url.query
    body = (await request.body()).decode("utf-8", "replace")
    headers: dict[str, str] = {}
    try:
        params = (
            server.signed(request.headers, query, body) if signed else wire.params_of(query, body)
        )

        def job() -> Any:
            try:
                return fn(params)
            except FillforgeError as e:
                raise wire.refusal_of(e) from None

        out = await server.run(job)
        if isinstance(out, tuple):
            out, headers = out
        return JSONResponse(out, headers=headers)
    except BinanceApiError as r:
        return JSONResponse(wire.error(r.code, r.msg), r.status)


@overload
def symbol_of(
    server: BinanceServer, params: dict[str, str], required: Literal[True] = True
) -> str: ...
@overload
def symbol_of(server: BinanceServer, params: dict[str, str], required: bool) -> str | None: ...
def symbol_of(server: BinanceServer, params: dict[str, str], required: bool = True) -> str | None:
    """The ``symbol`` parameter, a listed one (``-1121`` otherwise; ``-1102`` when required and
    absent)."""
    s = params.get("symbol")
    if not s:
        if required:
            wire.mandatory(params, "symbol")
        return None
    if s not in server.broker.venue.markets:
        raise BinanceApiError(400, wire.BAD_SYMBOL, "Invalid symbol.")
    return s


async def _public(
    server: BinanceServer, request: Request, one: Callable[[BinanceServer, str], dict[str, Any]]
) -> Response:
    return await answer(server, request, lambda p: _tickers(server, p, one), signed=False)


def add_market_routes(app: FastAPI, server: BinanceServer) -> None:
    """Register the public routes on ``app``."""
    broker = server.broker

    @app.get("/api/v3/ping")
    async def ping() -> Response:
        return JSONResponse({})

    @app.get("/api/v3/time")
    async def server_time() -> Response:
        return JSONResponse({"serverTime": server.now_ms()})

    @app.get("/api/v3/exchangeInfo")
    async def exchange_info(request: Request) -> Response:
        def info(params: dict[str, str]) -> Any:
            wanted = [params["symbol"]] if params.get("symbol") else list(broker.venue.markets)
            for s in wanted:
                if s not in broker.venue.markets:
                    raise BinanceApiError(400, wire.BAD_SYMBOL, "Invalid symbol.")
            return {
                "timezone": "UTC",
                "serverTime": server.now_ms(),
                "rateLimits": [
                    _limit("REQUEST_WEIGHT", "MINUTE", 1, server.weight_per_minute),
                    _limit("ORDERS", "SECOND", 10, server.orders_per_10s),
                ],
                "exchangeFilters": [],
                "symbols": [_symbol_json(server, s) for s in wanted],
            }

        return await answer(server, request, info, signed=False)

    @app.get("/fapi/v1/exchangeInfo")
    @app.get("/dapi/v1/exchangeInfo")
    async def no_futures() -> Response:
        return JSONResponse(
            {"timezone": "UTC", "serverTime": server.now_ms(), "rateLimits": [], "symbols": []}
        )

    @app.get("/api/v3/depth")
    async def depth(request: Request) -> Response:
        def book(params: dict[str, str]) -> Any:
            s = symbol_of(server, params)
            q = broker.latest_quote(s)
            bids = (
                []
                if q is None or q.bid_price is None
                else [[money(q.bid_price), money(q.bid_size)]]
            )
            asks = (
                []
                if q is None or q.ask_price is None
                else [[money(q.ask_price), money(q.ask_size)]]
            )
            return {"lastUpdateId": broker.now() // 1_000_000, "bids": bids, "asks": asks}

        return await answer(server, request, book, signed=False)

    @app.get("/api/v3/ticker/bookTicker")
    async def book_ticker(request: Request) -> Response:
        return await answer(
            server, request, lambda p: _tickers(server, p, _book_ticker), signed=False
        )

    @app.get("/api/v3/ticker/price")
    async def price_ticker(request: Request) -> Response:
        return await answer(
            server, request, lambda p: _tickers(server, p, _price_ticker), signed=False
        )

    @app.get("/api/v3/ticker/24hr")
    async def day_ticker(request: Request) -> Response:
        return await answer(
            server, request, lambda p: _tickers(server, p, _day_ticker), signed=False
        )


def _limit(kind: str, interval: str, n: int, limit: int) -> dict[str, Any]:
    return {"rateLimitType": kind, "interval": interval, "intervalNum": n, "limit": limit}


def _symbol_json(server: BinanceServer, symbol: str) -> dict[str, Any]:
    inst = server.broker.venue.market(symbol).instrument
    base, quote = server.assets[symbol]
    return {
        "symbol": symbol,
        "status": "TRADING",
        "baseAsset": base,
        "baseAssetPrecision": 8,
        "quoteAsset": quote,
        "quotePrecision": 8,
        "quoteAssetPrecision": 8,
        "baseCommissionPrecision": 8,
        "quoteCommissionPrecision": 8,
        "orderTypes": list(wire.ORDER_TYPES),
        "icebergAllowed": False,
        "ocoAllowed": False,
        "otoAllowed": False,
        "quoteOrderQtyMarketAllowed": True,
        "allowTrailingStop": False,
        "cancelReplaceAllowed": True,
        "amendAllowed": False,
        "isSpotTradingAllowed": True,
        "isMarginTradingAllowed": False,
        "filters": [
            {
                "filterType": "PRICE_FILTER",
                "minPrice": money(inst.tick_size),
                "maxPrice": money(Decimal(1_000_000)),
                "tickSize": money(inst.tick_size),
            },
            {
                "filterType": "LOT_SIZE",
                "minQty": money(max(inst.lot_size, inst.min_qty)),
                "maxQty": money(Decimal(9000)),
                "stepSize": money(inst.lot_size),
            },
            {
                "filterType": "NOTIONAL",
                "minNotional": money(server.min_notional),
                "applyMinToMarket": True,
                "maxNotional": money(Decimal(9_000_000)),
                "applyMaxToMarket": False,
                "avgPriceMins": 5,
            },
        ],
        "permissions": [],
        "permissionSets": [["SPOT"]],
        "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
        "allowedSelfTradePreventionModes": ["EXPIRE_MAKER"],
    }


def _tickers(
    server: BinanceServer,
    params: dict[str, str],
    one: Callable[[BinanceServer, str], dict[str, Any]],
) -> Any:
    s = params.get("symbol")
    if s:
        if s not in server.broker.venue.markets:
            raise BinanceApiError(400, wire.BAD_SYMBOL, "Invalid symbol.")
        return one(server, s)
    return [one(server, m) for m in server.broker.venue.markets]


def _book_ticker(server: BinanceServer, symbol: str) -> dict[str, Any]:
    q = server.broker.latest_quote(symbol)
    return {
        "symbol": symbol,
        "bidPrice": money(None if q is None else q.bid_price),
        "bidQty": money(None if q is None else q.bid_size),
        "askPrice": money(None if q is None else q.ask_price),
        "askQty": money(None if q is None else q.ask_size),
    }


def _last(server: BinanceServer, symbol: str) -> Decimal | None:
    market = server.broker.venue.market(symbol)
    last = market.last()
    return last if last is not None else market.mid()


def _price_ticker(server: BinanceServer, symbol: str) -> dict[str, Any]:
    return {"symbol": symbol, "price": money(_last(server, symbol))}


def _day_ticker(server: BinanceServer, symbol: str) -> dict[str, Any]:
    top = _book_ticker(server, symbol)
    last = money(_last(server, symbol))
    now = server.broker.now() // 1_000_000
    zero = money(Decimal(0))
    return {
        **top,
        "priceChange": zero,
        "priceChangePercent": "0.000",
        "weightedAvgPrice": last,
        "prevClosePrice": last,
        "lastPrice": last,
        "lastQty": zero,
        "openPrice": last,
        "highPrice": last,
        "lowPrice": last,
        "volume": zero,
        "quoteVolume": zero,
        "openTime": now - 86_400_000,
        "closeTime": now,
        "firstId": -1,
        "lastId": -1,
        "count": 0,
    }
