"""Order lists on the Binance-compatible server: OCO (``POST /api/v3/orderList/oco``, the
current API; ``GET`` and ``DELETE /api/v3/orderList``; ``GET /api/v3/openOrderList``).

An OCO is the simulated broker's own OCO group (:mod:`fillforge.orders.groups`): both legs work
in the venue's engine at once, the first to fill cancels the other, and cancelling either leg
cancels the list, as on Binance. What Binance allows of the legs and is served: a SELL list has a
``LIMIT_MAKER`` above the market and a ``STOP_LOSS`` or ``STOP_LOSS_LIMIT`` below it; a BUY list a
``STOP_LOSS(_LIMIT)`` above and a ``LIMIT_MAKER`` below. Each leg is read and checked as the same
order alone would be (:func:`~fillforge.binance.wire.order_request`, the filters, post-only, a
stop that would trigger at once), so a refusal names the same code; nothing is placed unless both
pass. ``TAKE_PROFIT(_LIMIT)`` legs are refused (``-1116``: not served, ``docs/binance-server.md``).

The legs' client order ids are the list's (``listClientOrderId``) with ``-tp`` (the limit leg)
and ``-sl`` (the stop leg): the simulated group names them so. ``aboveClientOrderId`` and
``belowClientOrderId`` (ccxt always sends them) are read and not used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request, Response

from fillforge.binance import market, wire
from fillforge.binance.routes import venue_rules
from fillforge.errors import BinanceApiError, UnknownOrderIdError
from fillforge.orders.enums import OrderClass
from fillforge.orders.models import OrderRequest
from fillforge.orders.order import Order

if TYPE_CHECKING:
    from fillforge.binance.server import BinanceServer

__all__ = ["add_list_routes"]

_STOPS = ("STOP_LOSS", "STOP_LOSS_LIMIT")
_LEG_TYPES = ("LIMIT_MAKER", "STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT")
_NO_LIST = "Order list does not exist."


def add_list_routes(app: FastAPI, server: BinanceServer) -> None:
    """Register the order-list routes on ``app``."""
    broker = server.broker

    def leg(params: dict[str, str], where: str, symbol: str) -> wire.NewOrder:
        kind = wire.mandatory(params, f"{where}Type")
        if kind not in _LEG_TYPES:
            raise BinanceApiError(400, wire.BAD_ORDER_TYPE, f"Invalid {where}Type.")
        if kind.startswith("TAKE_PROFIT"):
            raise BinanceApiError(400, wire.BAD_ORDER_TYPE, f"{kind} legs are not served.")
        one = {"symbol": symbol, "side": params.get("side", ""), "type": kind}
        one["quantity"] = params.get("quantity", "")
        for name, theirs in (("price", "Price"), ("stopPrice", "StopPrice")):
            if params.get(where + theirs):
                one[name] = params[where + theirs]
        if kind == "STOP_LOSS_LIMIT":
            one["timeInForce"] = params.get(f"{where}TimeInForce", "")
        inst = broker.venue.market(symbol).instrument
        new = wire.order_request(one, inst)
        inst.check(new.request)
        venue_rules(server, new)
        return new

    def place(params: dict[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
        symbol = market.symbol_of(server, params)
        side = wire.mandatory(params, "side")
        above, below = leg(params, "above", symbol), leg(params, "below", symbol)
        limit, stop = (above, below) if side == "SELL" else (below, above)
        if limit.binance_type != "LIMIT_MAKER" or stop.binance_type not in _STOPS:
            where = "above" if side == "SELL" else "below"
            raise BinanceApiError(
                400,
                wire.BAD_ORDER_TYPE,
                f"A {side} OCO takes LIMIT_MAKER {where} the market and a stop on the other side.",
            )
        cid = params.get("listClientOrderId") or None
        if cid is not None and not wire.client_id_ok(cid):
            raise BinanceApiError(
                400, wire.ILLEGAL_CHARS, "Illegal characters in listClientOrderId."
            )
        s = stop.request
        fields: dict[str, Any] = {
            "symbol": symbol,
            "side": limit.request.side,
            "type": "limit",
            "time_in_force": "gtc",
            "qty": limit.request.qty,
            "limit_price": limit.request.limit_price,
            "client_order_id": cid,
            "order_class": OrderClass.OCO,
            "take_profit": {"limit_price": limit.request.limit_price},
            "stop_loss": {"stop_price": s.stop_price, "limit_price": s.limit_price},
        }
        request = OrderRequest(**fields)  # a bad combination: a typed refusal, not a 500
        server.order_count(server.api_key)  # Binance counts each leg
        headers = server.order_count(server.api_key)
        first = broker.submit(request)
        group = broker.manager.groups[first.group_id or first.id]
        server.makers.add(group.exits[0].id)  # the limit leg shows as LIMIT_MAKER
        return list_json(group.id, [broker.get_order(o.id) for o in group.exits], True), headers

    def list_json(gid: str, legs: list[Order], reports: bool = False) -> dict[str, Any]:
        open_ = any(o.status.is_open for o in legs)
        out: dict[str, Any] = {
            "orderListId": int(gid),
            "contingencyType": "OCO",
            "listStatusType": "EXEC_STARTED" if open_ else "ALL_DONE",
            "listOrderStatus": "EXECUTING" if open_ else "ALL_DONE",
            "listClientOrderId": _list_client_id(legs[0]),
            "transactionTime": broker.now() // 1_000_000,
            "symbol": legs[0].symbol,
            "orders": [
                {"symbol": o.symbol, "orderId": int(o.id), "clientOrderId": o.client_order_id}
                for o in legs
            ],
        }
        if reports:
            out["orderReports"] = [
                wire.order_json(o, int(o.id), maker=o.id in server.makers) for o in legs
            ]
        return out

    def found(params: dict[str, str]) -> tuple[str, list[Order]]:
        lid = wire.int_param(params, "orderListId")
        cid = params.get("listClientOrderId") or params.get("origClientOrderId")
        if lid is None and not cid:
            raise BinanceApiError(
                400,
                wire.MANDATORY,
                "Param 'orderListId' or 'listClientOrderId' must be sent, but both were empty!",
            )
        try:
            gid = str(lid) if lid is not None else broker.get_order_by_client_id(f"{cid}-tp").id
        except UnknownOrderIdError:
            raise BinanceApiError(400, wire.NO_SUCH_ORDER, _NO_LIST) from None
        group = broker.manager.groups.get(gid)
        if group is None or group.order_class is not OrderClass.OCO:
            raise BinanceApiError(400, wire.NO_SUCH_ORDER, _NO_LIST)
        return gid, [broker.get_order(o.id) for o in group.exits]

    @app.post("/api/v3/orderList/oco")
    async def new_oco(request: Request) -> Response:
        return await market.answer(server, request, place)

    @app.get("/api/v3/orderList")
    async def query_list(request: Request) -> Response:
        return await market.answer(server, request, lambda p: list_json(*found(p)))

    @app.delete("/api/v3/orderList")
    async def cancel_list(request: Request) -> Response:
        def cancel(params: dict[str, str]) -> Any:
            market.symbol_of(server, params)
            gid, legs = found(params)
            live = [o for o in legs if o.status.is_open and o.pending_request is None]
            if not live:
                raise BinanceApiError(400, wire.CANCEL_REJECTED, _NO_LIST)
            broker.cancel(live[0].id)  # a leg's cancel cancels the list
            return list_json(gid, [broker.get_order(o.id) for o in legs], True)

        return await market.answer(server, request, cancel)

    @app.get("/api/v3/openOrderList")
    async def open_lists(request: Request) -> Response:
        def listed(_p: dict[str, str]) -> Any:
            out = []
            for gid, group in sorted(broker.manager.groups.items(), key=lambda g: int(g[0])):
                legs = [broker.get_order(o.id) for o in group.exits]
                if group.order_class is OrderClass.OCO and any(o.status.is_open for o in legs):
                    out.append(list_json(gid, legs))
            return out

        return await market.answer(server, request, listed)


def _list_client_id(limit_leg: Order) -> str:
    cid = limit_leg.client_order_id
    return cid[:-3] if cid.endswith("-tp") else cid
