"""The signed routes of the Binance-compatible server (the account and its orders) and the
venue's rules for new orders; the public ones are in :mod:`~fillforge.binance.market`.

``GET /api/v3/account``, ``POST/GET/DELETE /api/v3/order``, ``POST /api/v3/order/cancelReplace``,
``GET/DELETE /api/v3/openOrders``, ``GET /api/v3/allOrders``, ``GET /api/v3/myTrades``, what a
default ``load_markets()`` asks with keys (``/sapi/v1/capital/config/getall``, the margin pair
lists: empty), and the listen key of the user-data stream (``/api/v3/userDataStream``).

The venue's rules, checked on the simulation thread before the order is submitted (so nothing
changes when one refuses): the NOTIONAL filter (price times quantity at least ``min_notional``;
a market order is valued at the touch it would take); ``LIMIT_MAKER`` is refused when its price
would take (``-2010 Order would immediately match and take.``); a stop (``STOP_LOSS``,
``STOP_LOSS_LIMIT``) is refused when the last price has already reached it (``-2010 Stop price
would trigger immediately.``) and triggers when a later print reaches it. The grids, the
account's balance checks and the matching are the simulated broker's own.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeVar

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from fillforge.binance import market, wire
from fillforge.binance.wire import money
from fillforge.errors import BinanceApiError, FillforgeError, UnknownOrderIdError
from fillforge.orders.enums import OrderSide, OrderType
from fillforge.orders.order import Order

if TYPE_CHECKING:
    from fillforge.binance.server import BinanceServer

__all__ = ["account_json", "add_routes", "venue_rules"]

_UNKNOWN_ORDER = "Unknown order sent."
_MAX_LIMIT = 1000
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class _Window:
    """A listing's ``startTime`` and ``endTime`` (ms, both inclusive, either left out), its
    ``limit`` (default 500, at most 1000) and the id it starts from (``first``, if given)."""

    lo: int | None
    hi: int | None
    limit: int
    first: int | None

    @classmethod
    def of(cls, params: dict[str, str], first: str) -> _Window:
        """The window ``params`` ask for, ``first`` naming the parameter of the id to start at."""
        limit = wire.int_param(params, "limit")
        limit = 500 if limit is None else limit
        if not 1 <= limit <= _MAX_LIMIT:
            raise BinanceApiError(400, wire.BAD_PARAMETER, f"Illegal value for 'limit': {limit}.")
        start, end = wire.int_param(params, "startTime"), wire.int_param(params, "endTime")
        return cls(start, end, limit, wire.int_param(params, first))

    def pick(
        self, rows: Iterable[_T], id_of: Callable[[_T], int], ms_of: Callable[[_T], int]
    ) -> list[_T]:
        """The rows from the first id on whose time is in the window, by id: from a given id,
        the first ``limit`` of them; else the most recent ``limit``."""
        kept = sorted(
            (
                r
                for r in rows
                if (self.first is None or id_of(r) >= self.first)
                and (self.lo is None or ms_of(r) >= self.lo)
                and (self.hi is None or ms_of(r) <= self.hi)
            ),
            key=id_of,
        )
        return kept[: self.limit] if self.first is not None else kept[-self.limit :]


def add_routes(app: FastAPI, server: BinanceServer) -> None:
    """Register every route on ``app``: the public ones (:mod:`~fillforge.binance.market`),
    then the account's and the orders'."""
    broker = server.broker
    market.add_market_routes(app, server)

    async def answer(
        request: Request, fn: Callable[[dict[str, str]], Any], *, signed: bool = True
    ) -> Response:
        return await market.answer(server, request, fn, signed=signed)

    def symbol_of(params: dict[str, str]) -> str:
        return market.symbol_of(server, params)

    def find(params: dict[str, str], symbol: str, missing: int, message: str) -> Order:
        oid = wire.int_param(params, "orderId")
        cid = params.get("origClientOrderId")
        if oid is None and not cid:
            raise BinanceApiError(
                400,
                wire.MANDATORY,
                "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!",
            )
        try:
            o = (
                broker.get_order(str(oid))
                if oid is not None
                else broker.get_order_by_client_id(cid or "")
            )
        except UnknownOrderIdError:
            raise BinanceApiError(400, missing, message) from None
        if o.symbol != symbol or (cid and oid is not None and o.client_order_id != cid):
            raise BinanceApiError(400, missing, message)
        return o

    def idle(o: Order) -> bool:
        """Open, with no request in flight: an order a cancel acts on."""
        return o.status.is_open and o.pending_request is None

    def to_cancel(params: dict[str, str], symbol: str) -> Order:
        """The order ``params`` name, if a cancel can act on it (``-2011`` otherwise)."""
        o = find(params, symbol, wire.CANCEL_REJECTED, _UNKNOWN_ORDER)
        if not idle(o):
            raise BinanceApiError(400, wire.CANCEL_REJECTED, _UNKNOWN_ORDER)
        return o

    def shown(o: Order, fills: bool = False) -> dict[str, Any]:
        listed = None
        if fills:
            quote = server.assets[o.symbol][1]
            listed = [wire.fill_json(f, quote) for f in o.fills.values()]
        return wire.order_json(o, int(o.id), maker=o.id in server.makers, fills=listed)

    # ----- public -------------------------------------------------------------------------

    # ----- account and orders -------------------------------------------------------------

    @app.get("/api/v3/account")
    async def account(request: Request) -> Response:
        return await answer(request, lambda _p: account_json(server))

    @app.get("/sapi/v1/capital/config/getall")
    async def coins(request: Request) -> Response:
        def listed(_p: dict[str, str]) -> Any:
            return [
                {
                    "coin": b["asset"],
                    "name": b["asset"],
                    "free": b["free"],
                    "locked": b["locked"],
                    "freeze": "0",
                    "withdrawing": "0",
                    "isLegalMoney": False,
                    "trading": True,
                    "depositAllEnable": False,
                    "withdrawAllEnable": False,
                    "networkList": [],
                }
                for b in account_json(server)["balances"]
            ]

        return await answer(request, listed)

    @app.get("/sapi/v1/margin/allPairs")
    @app.get("/sapi/v1/margin/isolated/allPairs")
    async def no_margin(request: Request) -> Response:
        return await answer(request, lambda _p: [])  # spot only: no margin pairs

    def place(params: dict[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
        """Check and submit a new order; its answer (ACK, RESULT or FULL) and headers."""
        new = checked(params)
        headers = server.order_count(server.api_key)
        return submitted(new), headers

    def checked(params: dict[str, str]) -> wire.NewOrder:
        s = symbol_of(params)
        market = broker.venue.market(s)
        new = wire.order_request(params, market.instrument)
        market.instrument.check(new.request)  # the grids first: PRICE_FILTER, LOT_SIZE
        venue_rules(server, new)
        return new

    def submitted(new: wire.NewOrder) -> dict[str, Any]:
        o = broker.submit(new.request)
        if new.binance_type == "LIMIT_MAKER":
            server.makers.add(o.id)
        if new.response_type == "ACK":
            return {
                "symbol": o.symbol,
                "orderId": int(o.id),
                "orderListId": -1,
                "clientOrderId": o.client_order_id,
                "transactTime": broker.now() // 1_000_000,
            }
        full = shown(o, fills=new.response_type == "FULL")
        full.setdefault("transactTime", broker.now() // 1_000_000)
        return full

    @app.post("/api/v3/order")
    async def new_order(request: Request) -> Response:
        return await answer(request, place)

    @app.post("/api/v3/order/cancelReplace")
    async def cancel_replace(request: Request) -> Response:
        def replace(params: dict[str, str]) -> Any:
            mode = wire.mandatory(params, "cancelReplaceMode")
            if mode not in ("STOP_ON_FAILURE", "ALLOW_FAILURE"):
                raise BinanceApiError(400, wire.BAD_PARAMETER, "Invalid cancelReplaceMode.")
            s = symbol_of(params)
            new = checked(params)  # a new order the venue would refuse changes nothing
            old = to_cancel(
                {
                    "orderId": params.get("cancelOrderId", ""),
                    "origClientOrderId": params.get("cancelOrigClientOrderId", ""),
                },
                s,
            )
            headers = server.order_count(server.api_key)
            canceled = cancel_one(old)
            try:
                placed = submitted(new)
            except FillforgeError as e:
                refused = wire.refusal_of(e)
                raise BinanceApiError(
                    400, -2021, f"Order cancel-replace partially failed: {refused.msg}"
                ) from None
            body = {
                "cancelResult": "SUCCESS",
                "newOrderResult": "SUCCESS",
                "cancelResponse": canceled,
                "newOrderResponse": placed,
            }
            return body, headers

        return await answer(request, replace)

    @app.get("/api/v3/order")
    async def query_order(request: Request) -> Response:
        def query(params: dict[str, str]) -> Any:
            s = symbol_of(params)
            return shown(find(params, s, wire.NO_SUCH_ORDER, "Order does not exist."))

        return await answer(request, query)

    def cancel_one(o: Order) -> dict[str, Any]:
        broker.cancel(o.id)
        out = shown(o)
        out["origClientOrderId"] = o.client_order_id
        out["transactTime"] = broker.now() // 1_000_000
        return out

    @app.delete("/api/v3/order")
    async def cancel_order(request: Request) -> Response:
        def cancel(params: dict[str, str]) -> Any:
            s = symbol_of(params)
            return cancel_one(to_cancel(params, s))

        return await answer(request, cancel)

    @app.get("/api/v3/openOrders")
    async def open_orders(request: Request) -> Response:
        def listed(params: dict[str, str]) -> Any:
            s = market.symbol_of(server, params, required=False)
            return [shown(o) for o in broker.orders(open_only=True, symbol=s)]

        return await answer(request, listed)

    @app.delete("/api/v3/openOrders")
    async def cancel_all(request: Request) -> Response:
        def cancel_every(params: dict[str, str]) -> Any:
            s = symbol_of(params)
            mine = [o for o in broker.orders(open_only=True, symbol=s) if idle(o)]
            if not mine:
                raise BinanceApiError(400, wire.CANCEL_REJECTED, _UNKNOWN_ORDER)
            return [cancel_one(o) for o in mine]

        return await answer(request, cancel_every)

    @app.get("/api/v3/allOrders")
    async def all_orders(request: Request) -> Response:
        def listed(params: dict[str, str]) -> Any:
            s = symbol_of(params)
            w = _Window.of(params, "orderId")
            picked = w.pick(
                broker.orders(symbol=s), lambda o: int(o.id), lambda o: o.created_ts // 1_000_000
            )
            return [shown(o) for o in picked]

        return await answer(request, listed)

    @app.get("/api/v3/myTrades")
    async def my_trades(request: Request) -> Response:
        def listed(params: dict[str, str]) -> Any:
            s = symbol_of(params)
            w = _Window.of(params, "fromId")
            only = wire.int_param(params, "orderId")
            quote = server.assets[s][1]
            rows = [
                wire.trade_json(o, int(o.id), f, quote)
                for o in broker.orders(symbol=s)
                if only is None or int(o.id) == only
                for f in o.fills.values()
            ]
            return w.pick(rows, lambda r: int(r["id"]), lambda r: int(r["time"]))

        return await answer(request, listed)

    # ----- the user-data stream's listen key ----------------------------------------------

    keys = server.listen_keys

    @app.post("/api/v3/userDataStream")
    async def listen_key(request: Request) -> Response:
        try:
            server.keyed(request.headers)
        except BinanceApiError as r:
            return JSONResponse(wire.error(r.code, r.msg), r.status)
        key = secrets.token_urlsafe(45)[:60]
        keys.add(key)
        return JSONResponse({"listenKey": key})

    @app.put("/api/v3/userDataStream")
    @app.delete("/api/v3/userDataStream")
    async def keep_alive(request: Request) -> Response:
        try:
            server.keyed(request.headers)
            params = wire.params_of(
                request.url.query, (await request.body()).decode("utf-8", "replace")
            )
            if params.get("listenKey") not in keys:
                raise BinanceApiError(400, -1125, "This listenKey does not exist.")
        except BinanceApiError as r:
            return JSONResponse(wire.error(r.code, r.msg), r.status)
        if request.method == "DELETE":
            keys.discard(params["listenKey"])
        return JSONResponse({})


def venue_rules(server: BinanceServer, new: wire.NewOrder) -> None:
    """The NOTIONAL filter, post-only and stops that would trigger at once (module notes)."""
    r = new.request
    market = server.broker.venue.market(r.symbol)
    bid, ask, last = market.best_bid(), market.best_ask(), market.last()
    buy = r.side is OrderSide.BUY
    if r.notional is not None:
        value: Decimal | None = r.notional
    else:
        price = r.limit_price if r.limit_price is not None else (ask if buy else bid)
        value = None if price is None or r.qty is None else price * r.qty
    if value is not None and value < server.min_notional:
        raise BinanceApiError(400, wire.FILTER, "Filter failure: NOTIONAL")
    if new.binance_type == "LIMIT_MAKER" and r.limit_price is not None:
        far = ask if buy else bid
        if far is not None and (r.limit_price >= far if buy else r.limit_price <= far):
            raise BinanceApiError(400, wire.NEW_REJECTED, "Order would immediately match and take.")
    if r.type in (OrderType.STOP, OrderType.STOP_LIMIT) and r.stop_price is not None:
        ref = last if last is not None else market.mid()
        if ref is not None and (ref >= r.stop_price if buy else ref <= r.stop_price):
            raise BinanceApiError(400, wire.NEW_REJECTED, "Stop price would trigger immediately.")


def account_json(server: BinanceServer) -> dict[str, Any]:
    broker = server.broker
    ledger = broker.ledger
    rate = server.fee_rate
    bps = int(rate * 10_000)
    free_quote = ledger.buying_power
    balances = [
        {
            "asset": server.quote_asset,
            "free": money(free_quote),
            "locked": money(max(ledger.cash - free_quote, Decimal(0))),
        }
    ]
    for symbol, (base, _) in server.assets.items():
        held = max(ledger.qty(symbol), Decimal(0))
        locked = sum(
            (
                o.leaves_qty
                for o in broker.orders(open_only=True, symbol=symbol)
                if o.request.side is OrderSide.SELL
            ),
            Decimal(0),
        )
        balances.append(
            {
                "asset": base,
                "free": money(max(held - locked, Decimal(0))),
                "locked": money(min(locked, held)),
            }
        )
    return {
        "makerCommission": bps,
        "takerCommission": bps,
        "buyerCommission": 0,
        "sellerCommission": 0,
        "commissionRates": {
            "maker": money(rate),
            "taker": money(rate),
            "buyer": money(Decimal(0)),
            "seller": money(Decimal(0)),
        },
        "canTrade": True,
        "canWithdraw": False,
        "canDeposit": False,
        "brokered": False,
        "requireSelfTradePrevention": False,
        "preventSor": False,
        "updateTime": broker.now() // 1_000_000,
        "accountType": "SPOT",
        "balances": balances,
        "permissions": ["SPOT"],
        "uid": 1,
    }
