"""The ``trade_updates`` websocket of the Alpaca-compatible server (``/stream``).

A client authenticates within the server's ``auth_timeout``, then ``listen``\\ s to
``trade_updates``; every order event of the broker reaches each listening socket as Alpaca's
frame (the order, the fill's price and quantity, the position after it). The frames are built on
the simulation thread, where the events happen, and handed to each socket's event loop.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, WebSocket, WebSocketDisconnect

from fillforge.alpaca import wire
from fillforge.alpaca.asgi import client_address
from fillforge.orders.models import OrderEvent
from fillforge.serving import Listeners, json_frame, post, pump

if TYPE_CHECKING:
    from fillforge.alpaca.server import AlpacaServer

__all__ = ["TradeStream", "add_stream_routes"]


_Listener = tuple[asyncio.AbstractEventLoop, "asyncio.Queue[str]"]


class TradeStream:
    """The ``trade_updates`` sockets of one server, and the broker events they carry."""

    def __init__(self, server: AlpacaServer) -> None:
        self.server = server
        self.listening: Listeners[_Listener] = Listeners()
        server.broker.subscribe(self._on_event)

    def _on_event(self, e: OrderEvent) -> None:
        name = wire.TRADE_EVENTS.get(e.kind)
        if name is None or not self.listening:
            return
        broker = self.server.broker
        data: dict[str, Any] = {
            "event": name,
            "timestamp": wire.timestamp(e.ts),
            "order": self.server.order_json(broker.get_order(e.order_id)),
        }
        if e.fill is not None:
            position = broker.positions().get(e.symbol)
            data |= {
                "execution_id": str(uuid.uuid5(uuid.NAMESPACE_URL, e.fill.trade_id)),
                "price": str(e.fill.price),
                "qty": str(e.fill.qty),
                "position_qty": str(position.qty if position else 0),
            }
        frame = json.dumps({"stream": "trade_updates", "data": data})
        for loop, queue in self.listening:
            post(loop, queue, frame)

    def drop(self) -> None:
        """Close every listening socket (clients reconnect)."""
        self.listening.drop()

    async def serve(self, ws: WebSocket) -> None:
        """The ``trade_updates`` stream. A client has ``auth_timeout`` seconds to authenticate;
        a failed login, a frame that is not a JSON object, or an unknown action closes the
        socket cleanly (policy violation, 1008) after an error frame, as does a client address
        out of failed-login budget."""
        server = self.server
        await ws.accept()
        address = client_address(ws.scope)
        try:
            if server.locked_out(address):
                await _refuse(ws, "too many failed logins: try again later")
                return
            try:
                msg = await asyncio.wait_for(_frame(ws), timeout=server.auth_timeout)
            except TimeoutError:
                await _refuse(ws, "authentication timeout")
                return
            data = msg.get("data") if msg is not None else None
            ok = (
                msg is not None
                and msg.get("action") in ("authenticate", "auth")
                and isinstance(data, dict)
                and server.authorized(data.get("key_id"), data.get("secret_key"))
            )
            if not ok:
                server.login_failed(address)
            await ws.send_text(_authorization(ok))
            if not ok:
                await ws.close(code=1008)
                return
            await self._listen(ws)
        except WebSocketDisconnect:
            return

    async def _listen(self, ws: WebSocket) -> None:
        """An authenticated stream: ``listen`` requests, and the events it listens to."""
        with self.listening.socket() as entry:  # (loop, queue): added while it listens
            listening = False

            async def shown() -> bool:
                if listening and self.server.journal is not None:  # durable before it is shown
                    await self.server.journal.settle(None)
                return listening

            async def on_frame(req: dict[str, Any] | None) -> bool:
                nonlocal listening
                data = req.get("data") if req is not None else None
                streams = data.get("streams") if isinstance(data, dict) else None
                if req is None or req.get("action") != "listen" or not isinstance(streams, list):
                    error = {"error": "expected {action: listen, data: {streams: [...]}}"}
                    await ws.send_text(json.dumps({"stream": "listening", "data": error}))
                    await ws.close(code=1008)
                    return False
                listening = "trade_updates" in streams
                if listening:
                    self.listening.add(entry)
                else:
                    self.listening.discard(entry)
                await ws.send_text(
                    json.dumps({"stream": "listening", "data": {"streams": streams}})
                )
                return True

            await pump(ws, entry[1], lambda: _frame(ws), on_frame, before_send=shown)


def add_stream_routes(app: FastAPI, server: AlpacaServer) -> TradeStream:
    """Serve ``trade_updates`` at ``/stream`` (and ``/stream/``, alpaca-trade-api's path)."""
    stream = TradeStream(server)
    app.add_api_websocket_route("/stream", stream.serve)
    app.add_api_websocket_route("/stream/", stream.serve)
    return stream


async def _refuse(ws: WebSocket, why: str) -> None:
    await ws.send_text(json.dumps({"stream": "authorization", "data": {"error": why}}))
    await ws.close(code=1008)


async def _frame(ws: WebSocket) -> dict[str, Any] | None:
    """The next frame as a JSON object (NaN and the infinities refused); None if not one."""
    return await json_frame(ws, wire.not_json)


def _authorization(ok: bool) -> str:
    status = "authorized" if ok else "unauthorized"
    return json.dumps(
        {"stream": "authorization", "data": {"status": status, "action": "authenticate"}}
    )
