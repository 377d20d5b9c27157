"""The user-data stream of the Binance-compatible server: ``executionReport`` for every order
event that Binance reports (new, trade, canceled, expired, rejected) and
``outboundAccountPosition`` (the balances) after each trade.

Two ways in, as Binance has them:

- the WebSocket API at ``/ws-api/v3``: a ``userDataStream.subscribe.signature`` request signed
  as a REST request is (``apiKey``, ``timestamp``, ``signature`` of the sorted parameters), then
  events wrapped as ``{"subscriptionId": n, "event": {...}}`` (what ccxt.pro's ``binance``
  ``watch_orders``/``watch_balance`` use for spot); ``ping`` and ``userDataStream.unsubscribe``
  too;
- a listen key (``POST /api/v3/userDataStream``) and the raw stream at ``/ws/<listenKey>``.

Frames are built on the simulation thread, where the events happen, and handed to each socket's
event loop (as the Alpaca server's ``trade_updates`` are).
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, WebSocket

from fillforge.binance import wire
from fillforge.binance.wire import money
from fillforge.errors import BinanceApiError, FillforgeError
from fillforge.orders.enums import EventKind
from fillforge.orders.models import OrderEvent
from fillforge.serving import Listeners, json_frame, post, pump

if TYPE_CHECKING:
    from fillforge.binance.server import BinanceServer

__all__ = ["UserStream", "add_stream_routes"]

_EXEC_TYPES = {
    EventKind.NEW: "NEW",
    EventKind.FILL: "TRADE",
    EventKind.PARTIAL_FILL: "TRADE",
    EventKind.CANCELED: "CANCELED",
    EventKind.EXPIRED: "EXPIRED",
    EventKind.REJECTED: "REJECTED",
}
_Listener = tuple[asyncio.AbstractEventLoop, "asyncio.Queue[str]", int | None]


class UserStream:
    """The user-data sockets of one server and the order events they carry."""

    def __init__(self, server: BinanceServer) -> None:
        self.server = server
        self.listening: Listeners[_Listener] = Listeners()
        self._next_id = 0
        server.broker.subscribe(self._on_event)

    def _on_event(self, e: OrderEvent) -> None:
        kind = _EXEC_TYPES.get(e.kind)
        if kind is None or not self.listening:
            return
        events = [self.execution_report(e, kind)]
        if e.fill is not None:
            events.append(self.account_position())
        for loop, queue, sub in self.listening:
            for event in events:
                frame = json.dumps(
                    event if sub is None else {"subscriptionId": sub, "event": event}
                )
                post(loop, queue, frame)

    def drop(self) -> None:
        """Close every user-data socket (clients reconnect)."""
        self.listening.drop()

    def execution_report(self, e: OrderEvent, kind: str) -> dict[str, Any]:
        """Binance's ``executionReport`` for one order event."""
        broker = self.server.broker
        o = broker.get_order(e.order_id)
        shown = wire.order_json(o, int(o.id), maker=o.id in self.server.makers)
        f = e.fill
        now = wire.ms(broker.now())
        return {
            "e": "executionReport",
            "E": now,
            "s": o.symbol,
            "c": o.client_order_id,
            "S": shown["side"],
            "o": shown["type"],
            "f": shown["timeInForce"],
            "q": shown["origQty"],
            "p": shown["price"],
            "P": shown["stopPrice"],
            "F": money(None),
            "g": shown["orderListId"],
            "C": "",
            "x": kind,
            "X": shown["status"],
            "r": "NONE",
            "i": int(o.id),
            "l": money(f.qty if f else None),
            "z": shown["executedQty"],
            "L": money(f.price if f else None),
            "n": money(f.commission if f else None),
            "N": self.server.assets[o.symbol][1] if f else None,
            "T": wire.ms(e.ts) if e.ts else now,
            "t": wire.trade_number(f.trade_id) if f else -1,
            "I": 0,
            "w": shown["isWorking"],
            "m": bool(f and f.liquidity.value == "maker"),
            "M": False,
            "O": shown["time"],
            "Z": shown["cummulativeQuoteQty"],
            "Y": money(f.price * f.qty if f else None),
            "Q": shown["origQuoteOrderQty"],
            "W": shown["workingTime"],
            "V": "NONE",
        }

    def account_position(self) -> dict[str, Any]:
        from fillforge.binance.routes import account_json

        account = account_json(self.server)
        balances = [
            {"a": b["asset"], "f": b["free"], "l": b["locked"]} for b in account["balances"]
        ]
        now = account["updateTime"]
        return {"e": "outboundAccountPosition", "E": now, "u": now, "B": balances}

    async def websocket_api(self, ws: WebSocket) -> None:
        """``/ws-api/v3``: requests in, answers and subscribed events out."""
        await ws.accept()
        with self.listening.socket() as (loop, queue):  # one entry a subscription

            async def on_frame(req: dict[str, Any] | None) -> bool:
                answer, sub = await self._request(req)
                if sub is not None:
                    self.listening.add((loop, queue, sub))
                elif answer.get("result") == "unsubscribed":
                    self.listening.discard_socket(queue)
                    answer["result"] = {}
                await ws.send_text(json.dumps(answer))
                return True

            await pump(ws, queue, lambda: json_frame(ws), on_frame)

    async def _request(self, req: dict[str, Any] | None) -> tuple[dict[str, Any], int | None]:
        """One WebSocket API request: its answer, and the subscription it opened (if any)."""
        rid = req.get("id") if req is not None else None
        method = req.get("method") if req is not None else None
        params = req.get("params") if req is not None else None
        try:
            if req is None or not isinstance(method, str):
                raise BinanceApiError(400, wire.ILLEGAL_CHARS, "Malformed request.")
            if method == "ping":
                return {"id": rid, "status": 200, "result": {}}, None
            if method == "time":
                return {
                    "id": rid,
                    "status": 200,
                    "result": {"serverTime": self.server.now_ms()},
                }, None
            if method == "userDataStream.unsubscribe":
                return {"id": rid, "status": 200, "result": "unsubscribed"}, None
            if method != "userDataStream.subscribe.signature":
                raise BinanceApiError(400, wire.BAD_PARAMETER, f"Unknown method: {method[:40]}.")
            if not isinstance(params, dict):
                raise BinanceApiError(400, wire.MANDATORY, "Mandatory parameter 'params'.")
            self.server.ws_signed({str(k): str(v) for k, v in params.items()})
        except BinanceApiError as e:
            error = {"code": e.code, "msg": e.msg}
            return {"id": rid, "status": e.status, "error": error}, None
        except FillforgeError as e:  # pragma: no cover - every refusal above is typed
            return {"id": rid, "status": 400, "error": wire.error(wire.UNKNOWN, str(e))}, None
        self._next_id += 1
        sub = self._next_id
        return {"id": rid, "status": 200, "result": {"subscriptionId": sub}}, sub

    async def listen_key_stream(self, ws: WebSocket, listen_key: str) -> None:
        """``/ws/<listenKey>``: the raw events, for a key ``POST /api/v3/userDataStream`` gave."""
        if listen_key not in self.server.listen_keys:
            await ws.close(code=1008)
            return
        await ws.accept()
        with self.listening.socket() as (loop, queue):
            self.listening.add((loop, queue, None))
            await pump(ws, queue, lambda: json_frame(ws), _ignored)


async def _ignored(_frame: dict[str, Any] | None) -> bool:
    return True  # a client's frames are ignored (pings are the socket's)


def add_stream_routes(app: FastAPI, server: BinanceServer) -> UserStream:
    stream = UserStream(server)
    app.add_api_websocket_route("/ws-api/v3", stream.websocket_api)
    app.add_api_websocket_route("/ws/{listen_key}", stream.listen_key_stream)
    return stream
