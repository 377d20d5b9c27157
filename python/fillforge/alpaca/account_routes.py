"""The account routes of the Alpaca-compatible server: activities, portfolio history,
configurations, watchlists, and the single-symbol latest quote.

:func:`add_account_routes` registers them on the server's FastAPI app, with the state they keep
(:class:`AccountRoutes`). Every input is checked: a bad one is Alpaca's 422 (code 40010001)
naming the field, an unknown watchlist or quote 404; no input makes a 500. Each route's request
body, answers and status codes are in the served OpenAPI description.

Two configurations change what the simulated account does: ``suspend_trade`` refuses new orders,
replaces and position closes (403), ``no_shorting`` refuses an order or replace that would open or
grow a short (403), and ``max_margin_multiplier`` caps the account's leverage. Both refusals are
made by :class:`TradingRules`, a pure-ASGI layer in front of the order routes, before the request
reaches them. The other fields are stored and answered back.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any, Final, Literal

from fastapi import Depends, FastAPI, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.types import ASGIApp, Receive, Scope, Send

from fillforge.alpaca import openapi as api
from fillforge.alpaca import wire
from fillforge.alpaca.account_queries import (
    ACTIVITY_TYPES,
    ActivityQuery,
    HistoryQuery,
    activities,
    parse_activity_types,
    portfolio_history,
    select_activities,
    zone_of,
)
from fillforge.alpaca.account_state import (
    MAX_WATCHLIST_NAME,
    MULTIPLIER,
    AccountConfig,
    EquityHistory,
    NotFoundError,
    Watchlist,
    Watchlists,
)
from fillforge.alpaca.asgi import read_body, replaying
from fillforge.alpaca.operations import body_arg, body_of
from fillforge.errors import FillforgeError
from fillforge.orders.enums import OrderSide
from fillforge.orders.models import OrderEvent

if TYPE_CHECKING:
    from fillforge.alpaca.server import AlpacaServer

__all__ = ["AccountRoutes", "TradingRules", "add_account_routes"]

_FEEDS: Final = ("iex", "sip", "delayed_sip", "boats", "overnight", "otc")
Text = Annotated[str | None, Query()]
Day = Annotated[str | None, Query(description="YYYY-MM-DD", json_schema_extra={"format": "date"})]
Count = Annotated[
    str | None,
    Query(description="1 to 100 (more with date)", json_schema_extra={"pattern": "^[1-9][0-9]*$"}),
]
Name = Annotated[str | None, Query(description="the watchlist's name")]


# ----- OpenAPI shapes (documentation: the routes build their JSON themselves) -------------------


class WatchlistCreate(BaseModel):
    name: str = Field(min_length=1, max_length=MAX_WATCHLIST_NAME)
    symbols: list[str] | None = None


class WatchlistUpdate(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=MAX_WATCHLIST_NAME)
    symbols: list[str] | None = None


class WatchlistAsset(BaseModel):
    symbol: str


class WatchlistOut(BaseModel):
    id: str
    account_id: str
    name: str
    created_at: str
    updated_at: str
    assets: list[dict[str, Any]] | None = None


class ConfigurationPatch(BaseModel):
    dtbp_check: Literal["both", "entry", "exit"] | None = None
    trade_confirm_email: Literal["all", "none"] | None = None
    suspend_trade: bool | None = None
    no_shorting: bool | None = None
    fractional_trading: bool | None = None
    max_margin_multiplier: str | None = Field(default=None, pattern=MULTIPLIER.pattern)
    pdt_check: Literal["both", "entry", "exit"] | None = None
    ptp_no_exception_entry: bool | None = None
    max_options_trading_level: int | None = Field(default=None, ge=0, le=3)


class ConfigurationOut(BaseModel):
    dtbp_check: str | None
    trade_confirm_email: str
    suspend_trade: bool
    no_shorting: bool
    fractional_trading: bool
    max_margin_multiplier: str
    pdt_check: str | None
    ptp_no_exception_entry: bool
    max_options_trading_level: int | None


class PortfolioHistoryOut(BaseModel):
    timestamp: list[int]
    equity: list[float]
    profit_loss: list[float]
    profit_loss_pct: list[float | None]
    base_value: float | None
    timeframe: str
    cashflow: dict[str, list[float]]


class ActivityOut(BaseModel):
    """A ``FILL`` (TradeActivity) or a non-trade activity (``FEE``, ``CSD``)."""

    id: str
    account_id: str
    activity_type: str
    transaction_time: str | None = None
    type: str | None = None
    price: str | None = None
    qty: str | None = None
    side: str | None = None
    symbol: str | None = None
    leaves_qty: str | None = None
    order_id: str | None = None
    cum_qty: str | None = None
    order_status: str | None = None
    date: str | None = None
    net_amount: str | None = None
    description: str | None = None
    status: str | None = None


class LatestQuoteOut(BaseModel):
    symbol: str
    quote: dict[str, Any]


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The refusals ``codes``, and those of the gate every route may give (401 key, 429 rate)."""
    return api.errors(401, 429, *codes)


_body = api.body


def _enum(description: str, *values: str) -> Any:
    return Query(description=description, json_schema_extra={"enum": list(values)})


# ----- answers -----------------------------------------------------------------------------------


def _invalid(e: FillforgeError) -> JSONResponse:
    return JSONResponse(wire.error(wire.CODE_INVALID, str(e)), 422)


def _not_found(message: str) -> JSONResponse:
    return JSONResponse(wire.error(wire.CODE_NOT_FOUND, message), 404)


def _answer(fn: Callable[[], Any], status: int = 200) -> Response:
    """``fn()``'s JSON, or its refusal in Alpaca's shape."""
    try:
        body = fn()
    except NotFoundError as e:
        return _not_found(str(e))
    except FillforgeError as e:
        return _invalid(e)
    if status == 204:
        return Response(status_code=204)
    return JSONResponse(body, status)


# ----- the trading rules the configuration sets ---------------------------------------------------


class TradingRules:
    """Pure-ASGI layer that holds new orders to ``suspend_trade`` and ``no_shorting`` (403,
    40310000) before they reach the order routes; every other request passes untouched."""

    def __init__(self, app: ASGIApp, *, server: AlpacaServer, config: AccountConfig) -> None:
        self.app, self.server, self.config = app, server, config

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        cfg = self.config
        if scope["type"] != "http" or not (cfg.suspend_trade or cfg.no_shorting):
            return await self.app(scope, receive, send)
        method, path = scope["method"], scope["path"]
        submit = method == "POST" and path == "/v2/orders"
        replace = method == "PATCH" and path.startswith("/v2/orders/")
        close = method == "DELETE" and path.startswith("/v2/positions")
        if cfg.suspend_trade and (submit or replace or close):
            msg = "trading is suspended by the account configuration (suspend_trade)"
            return await self._refuse(msg, scope, receive, send)
        if not cfg.no_shorting or not (submit or replace):
            return await self.app(scope, receive, send)
        raw = await read_body(receive) or b""  # the server's gate has bounded it already
        order_id = path.removeprefix("/v2/orders/") if replace else None
        refusal = await self.server.run(lambda: self._short(raw, order_id))
        if refusal is not None:
            return await self._refuse(refusal, scope, receive, send)
        await self.app(scope, replaying(raw, receive), send)

    @staticmethod
    async def _refuse(message: str, scope: Scope, receive: Receive, send: Send) -> None:
        body = wire.error(wire.CODE_FORBIDDEN, message)
        await JSONResponse(body, 403)(scope, receive, send)

    def _short(self, raw: bytes, order_id: str | None) -> str | None:
        """Why this order (or replace) would open or grow a short, or None. A body the order
        routes will refuse anyway passes through to them. Runs on the simulation thread."""
        try:
            body = wire.json_object(raw)
            qty = wire.decimal_field(body, "qty")
            notional = wire.decimal_field(body, "notional")
        except FillforgeError:
            return None
        broker = self.server.broker
        ledger = broker.ledger
        own = Decimal(0)
        if order_id is not None:
            try:
                o = broker.get_order(order_id)
            except FillforgeError:
                return None
            if qty is None or o.request.side is not OrderSide.SELL:
                return None
            symbol, qty = o.symbol, qty - o.cum_qty
            r = ledger.reservation(o.id)
            own = r.qty if r is not None else Decimal(0)
        else:
            named = body.get("symbol")
            if body.get("side") != "sell" or not isinstance(named, str):
                return None
            symbol = named
            market = broker.venue.markets.get(symbol)
            if qty is None and notional is not None and market is not None:
                bid = market.best_bid()
                qty = notional / bid if bid else None
            if qty is None:
                return None
        held = sum(
            (
                r.qty
                for r in ledger.reservations().values()
                if r.symbol == symbol and r.side is OrderSide.SELL
            ),
            Decimal(0),
        )
        available = max(max(ledger.qty(symbol), Decimal(0)) - (held - own), Decimal(0))
        if qty <= available:
            return None
        return (
            f"shorting is disabled by the account configuration (no_shorting): selling "
            f"{wire.plain(qty)} {symbol} would open a short ({wire.plain(available)} available)"
        )


# ----- the routes --------------------------------------------------------------------------------


class AccountRoutes:
    """The state the account routes keep: configurations, watchlists, the equity history and
    the initial deposit. Events from the broker feed the equity history."""

    def __init__(self, server: AlpacaServer) -> None:
        broker = server.broker
        self.server = server
        self.base_leverage = broker.ledger.leverage
        self.config = AccountConfig(max_margin_multiplier=self.base_leverage)
        self.watchlists = Watchlists(known=lambda s: s in broker.venue.markets, clock=broker.now)
        self.deposit_ns = broker.now()
        self.deposit = broker.ledger.initial_cash
        self.history = EquityHistory(broker.now(), broker.ledger.equity)
        self.tz = zone_of(broker.venue.calendar)
        broker.subscribe(self._on_event)

    def _on_event(self, e: OrderEvent) -> None:
        if e.fill is not None:
            self.history.record(e.ts, self.server.broker.ledger.equity)

    def configure(self, body: dict[str, Any]) -> dict[str, Any]:
        self.config.patch(body)
        cap = self.config.max_margin_multiplier
        self.server.broker.ledger.leverage = min(self.base_leverage, cap)
        return self.config.json()

    def watchlist_json(self, w: Watchlist, *, assets: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": w.id,
            "account_id": wire.ACCOUNT_ID,
            "name": w.name,
            "created_at": wire.timestamp(w.created_ns),
            "updated_at": wire.timestamp(w.updated_ns),
        }
        if assets:
            out["assets"] = [self.server._asset(s) for s in w.symbols]
        return out


def _activity_query(
    category: Annotated[
        str | None, _enum("trade or non-trade", "trade_activity", "non_trade_activity")
    ] = None,
    date: Text = None,
    until: Text = None,
    after: Text = None,
    direction: Annotated[str | None, _enum("sort order", "asc", "desc")] = None,
    page_size: Count = None,
    page_token: Text = None,
) -> ActivityQuery:
    """The activity routes' shared query parameters (a FastAPI dependency)."""
    return ActivityQuery(category, date, until, after, direction, page_size, page_token)


async def _text(request: Request) -> str:
    return body_arg(await request.body())


def _account_operations(server: AlpacaServer, state: AccountRoutes) -> None:
    """Register the account routes' operations (:mod:`~fillforge.alpaca.operations`): the
    configuration's patch, the watchlists' changes, and the equity history's mark (a read of
    the history records the equity at that time)."""
    ops, lists, broker = server.ops, state.watchlists, server.broker

    def find(args: dict[str, Any]) -> Watchlist:
        return lists.get(args["id"]) if "id" in args else lists.by_name(args.get("name"))

    def body(args: dict[str, Any]) -> dict[str, Any]:
        return wire.json_object(body_of(args))

    def create(args: dict[str, Any]) -> dict[str, Any]:
        b = body(args)
        return state.watchlist_json(lists.create(b.get("name"), b.get("symbols"), args["id"]))

    def update(args: dict[str, Any]) -> dict[str, Any]:
        w, b = find(args), body(args)
        return state.watchlist_json(lists.update(w, b.get("name"), b.get("symbols")))

    def add(args: dict[str, Any]) -> dict[str, Any]:
        w, b = find(args), body(args)
        return state.watchlist_json(lists.add(w, b.get("symbol")))

    def remove(args: dict[str, Any]) -> dict[str, Any]:
        return state.watchlist_json(lists.remove(find(args), args["symbol"]))

    ops.register("account.configure", lambda args: state.configure(body(args)))
    ops.register(
        "account.mark", lambda args: state.history.record(broker.now(), broker.ledger.equity)
    )
    ops.register("watchlists.create", create)
    ops.register("watchlists.update", update)
    ops.register("watchlists.add", add)
    ops.register("watchlists.remove", remove)
    ops.register("watchlists.delete", lambda args: lists.delete(find(args)))


def add_account_routes(app: FastAPI, server: AlpacaServer) -> AccountRoutes:
    """Register the account routes (and :class:`TradingRules`) on ``app``, and their
    operations; the state is also at ``app.state.account``."""
    state = AccountRoutes(server)
    app.state.account = state
    app.add_middleware(TradingRules, server=server, config=state.config)
    _account_operations(server, state)
    broker, ops = server.broker, server.ops
    # Every call that reads or changes the simulation (the broker, the account's state) runs on
    # the server's simulation thread, in arrival order (``await server.run``), never on the
    # event loop under a lock.

    # --- activities ---

    async def list_activities(kinds: frozenset[str] | None, query: ActivityQuery) -> Response:
        every = await server.run(
            lambda: activities(
                broker, deposit_ns=state.deposit_ns, deposit=state.deposit, tz=state.tz
            )
        )
        return _answer(lambda: select_activities(every, tz=state.tz, kinds=kinds, query=query))

    activity_doc = {
        200: {"model": list[ActivityOut], "description": "the activities, newest first"},
        **_errors(422),
    }

    @app.get("/v2/account/activities", responses=activity_doc)
    async def get_activities(
        query: Annotated[ActivityQuery, Depends(_activity_query)],
        activity_types: Text = None,
    ) -> Response:
        try:
            kinds = parse_activity_types(activity_types)
        except FillforgeError as e:
            return _invalid(e)
        return await list_activities(kinds, query)

    @app.get("/v2/account/activities/{activity_type}", responses=activity_doc)
    async def get_activities_of_type(
        activity_type: Annotated[str, Path(json_schema_extra={"enum": list(ACTIVITY_TYPES)})],
        query: Annotated[ActivityQuery, Depends(_activity_query)],
    ) -> Response:
        try:
            kinds = parse_activity_types(activity_type, "activity_type")
        except FillforgeError as e:
            return _invalid(e)
        return await list_activities(kinds, query)

    # --- portfolio history ---

    @app.get(
        "/v2/account/portfolio/history",
        responses={200: {"model": PortfolioHistoryOut}, **_errors(422)},
    )
    async def get_portfolio_history(
        period: Annotated[
            str | None,
            Query(
                description="a number and D, W, M or A",
                json_schema_extra={"pattern": "^[1-9][0-9]{0,3}[DWMA]$"},
            ),
        ] = None,
        timeframe: Annotated[
            str | None, _enum("window size", "1Min", "5Min", "15Min", "1H", "1D")
        ] = None,
        date_end: Day = None,
        extended_hours: Annotated[str | None, _enum("with extended hours", "true", "false")] = None,
        start: Text = None,
        end: Text = None,
        intraday_reporting: Annotated[
            str | None,
            _enum("intraday windows", "market_hours", "extended_hours", "continuous"),
        ] = None,
        pnl_reset: Annotated[str | None, _enum("P&L base", "per_day", "no_reset")] = None,
        cashflow_types: Text = None,
    ) -> Response:
        def build() -> dict[str, Any]:  # on the simulation thread
            q = HistoryQuery.parse(
                period=period,
                timeframe=timeframe,
                date_end=date_end,
                extended_hours=extended_hours,
                start=start,
                end=end,
                intraday_reporting=intraday_reporting,
                pnl_reset=pnl_reset,
                cashflow_types=cashflow_types,
                tz=state.tz,
            )
            ops.apply("account.mark", {})
            return portfolio_history(state.history, broker.venue.calendar, broker.now(), q)

        return await server.run(lambda: _answer(build))

    # --- configurations ---

    config_doc: dict[int | str, dict[str, Any]] = {
        200: {"model": ConfigurationOut},
        **_errors(),
    }

    @app.get("/v2/account/configurations", responses=config_doc)
    async def get_configurations() -> Response:
        return await server.run(lambda: JSONResponse(state.config.json()))

    @app.patch(
        "/v2/account/configurations",
        responses={**config_doc, **_errors(422)},
        openapi_extra=_body(ConfigurationPatch),
    )
    async def patch_configurations(request: Request) -> Response:
        args = {"body": body_arg(await request.body())}
        return await server.run(lambda: _answer(lambda: ops.apply("account.configure", args)))

    # --- latest quote ---

    @app.get(
        "/v2/stocks/{symbol}/quotes/latest",
        responses={200: {"model": LatestQuoteOut}, **_errors(404, 422)},
    )
    async def latest_quote(
        symbol: str,
        feed: Annotated[str | None, _enum("data feed (one simulated book)", *_FEEDS)] = None,
        currency: Annotated[str | None, _enum("price currency", "USD")] = None,
    ) -> Response:
        if feed is not None and feed not in _FEEDS:
            why = f"feed={feed!r}: expected one of {', '.join(_FEEDS)}"
            return JSONResponse(wire.error(wire.CODE_INVALID, why), 422)
        if currency is not None and currency != "USD":
            return JSONResponse(
                wire.error(wire.CODE_INVALID, f"currency={currency!r}: only USD"), 422
            )
        q = await server.run(lambda: server._latest_quote(symbol))
        if q is None:
            return _not_found(f"no quote found for {symbol}")
        return JSONResponse({"symbol": symbol, "quote": q})

    # --- watchlists ---

    one = {200: {"model": WatchlistOut}, **_errors(404, 422)}

    @app.get("/v2/watchlists", responses={200: {"model": list[WatchlistOut]}, **_errors()})
    async def get_watchlists() -> Response:
        body = await server.run(
            lambda: [state.watchlist_json(w, assets=False) for w in state.watchlists.all()]
        )
        return JSONResponse(body)

    @app.post(
        "/v2/watchlists",
        responses={200: {"model": WatchlistOut}, **_errors(422)},
        openapi_extra=_body(WatchlistCreate),
    )
    async def create_watchlist(request: Request) -> Response:
        # The id is chosen here and journalled with the operation: a restart gives it again.
        args = {"body": body_arg(await request.body()), "id": str(uuid.uuid4())}
        return await server.run(lambda: _answer(lambda: ops.apply("watchlists.create", args)))

    async def change(op: str, args: dict[str, Any], status: int = 200) -> Response:
        return await server.run(lambda: _answer(lambda: ops.apply(op, args), status))

    async def by_id(
        watchlist_id: str, then: Callable[[Watchlist], Any], status: int = 200
    ) -> Response:
        return await server.run(
            lambda: _answer(lambda: then(state.watchlists.get(watchlist_id)), status)
        )

    async def by_name(
        name: str | None, then: Callable[[Watchlist], Any], status: int = 200
    ) -> Response:
        return await server.run(
            lambda: _answer(lambda: then(state.watchlists.by_name(name)), status)
        )

    @app.get("/v2/watchlists:by_name", responses=one)
    async def get_watchlist_by_name(name: Name = None) -> Response:
        return await by_name(name, state.watchlist_json)

    @app.put("/v2/watchlists:by_name", responses=one, openapi_extra=_body(WatchlistUpdate))
    async def update_watchlist_by_name(request: Request, name: Name = None) -> Response:
        return await change("watchlists.update", {"name": name, "body": await _text(request)})

    @app.post("/v2/watchlists:by_name", responses=one, openapi_extra=_body(WatchlistAsset))
    async def add_to_watchlist_by_name(request: Request, name: Name = None) -> Response:
        return await change("watchlists.add", {"name": name, "body": await _text(request)})

    @app.delete(
        "/v2/watchlists:by_name",
        status_code=204,
        responses={204: {"description": "deleted"}, **_errors(404, 422)},
    )
    async def delete_watchlist_by_name(name: Name = None) -> Response:
        return await change("watchlists.delete", {"name": name}, 204)

    @app.get("/v2/watchlists/{watchlist_id}", responses=one)
    async def get_watchlist(watchlist_id: str) -> Response:
        return await by_id(watchlist_id, state.watchlist_json)

    @app.put("/v2/watchlists/{watchlist_id}", responses=one, openapi_extra=_body(WatchlistUpdate))
    async def update_watchlist(watchlist_id: str, request: Request) -> Response:
        args = {"id": watchlist_id, "body": await _text(request)}
        return await change("watchlists.update", args)

    @app.post("/v2/watchlists/{watchlist_id}", responses=one, openapi_extra=_body(WatchlistAsset))
    async def add_to_watchlist(watchlist_id: str, request: Request) -> Response:
        return await change("watchlists.add", {"id": watchlist_id, "body": await _text(request)})

    @app.delete(
        "/v2/watchlists/{watchlist_id}",
        status_code=204,
        responses={204: {"description": "deleted"}, **_errors(404, 422)},
    )
    async def delete_watchlist(watchlist_id: str) -> Response:
        return await change("watchlists.delete", {"id": watchlist_id}, 204)

    @app.delete("/v2/watchlists/{watchlist_id}/{symbol:path}", responses=one)
    async def remove_from_watchlist(watchlist_id: str, symbol: str) -> Response:
        return await change("watchlists.remove", {"id": watchlist_id, "symbol": symbol})

    return state
