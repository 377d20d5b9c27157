"""The live monitoring page and ``/metrics``, as a FastAPI router for any app, and
:func:`attach`, which mounts it on a running :class:`~fillforge.alpaca.AlpacaServer`.

Routes (under ``prefix``, default none):

- ``GET /monitor``: one self-contained HTML page (no CDN, no external file) showing positions,
  open orders and parents, P&L, the execution metrics and the alerts; it updates over
- ``WS /monitor/ws``: the monitor's snapshot (JSON) each time it changes, checked every
  ``interval_s`` (the page reconnects by itself);
- ``GET /monitor/state``: the same snapshot, once;
- ``GET /metrics``: Prometheus' text format (:mod:`fillforge.monitor.prometheus`).

Reading the broker (positions, account, open orders) goes through the monitor's ``call``, off
the event loop. The routes carry no credentials of their own: serve them on 127.0.0.1 (the
default everywhere here) or behind your own proxy.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from importlib import resources
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from fastapi.responses import HTMLResponse, JSONResponse, Response

from fillforge.errors import ConfigError
from fillforge.monitor.alerts import AlertsConfig
from fillforge.monitor.collector import ExecutionMonitor
from fillforge.monitor.prometheus import CONTENT_TYPE, exposition, registry

if TYPE_CHECKING:
    from fillforge.alpaca.server import AlpacaServer

__all__ = ["attach", "monitor_router", "page_html"]

_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


def page_html() -> str:
    """The page (package data beside this module)."""
    return resources.files("fillforge.monitor").joinpath("page.html").read_text("utf-8")


def monitor_router(
    monitor: ExecutionMonitor, *, interval_s: float = 0.25, prefix: str = ""
) -> APIRouter:
    """The page, its websocket, its state and ``/metrics`` for ``monitor``."""
    if not interval_s > 0:
        raise ConfigError("interval_s", interval_s, "expected a positive number of seconds")
    router = APIRouter(prefix=prefix)
    reg = registry(monitor)
    html = page_html()

    async def fresh() -> dict[str, Any]:
        return await asyncio.to_thread(monitor.refresh)

    @router.get("/monitor", include_in_schema=False)
    async def page() -> HTMLResponse:
        return HTMLResponse(html)

    @router.get("/monitor/state", include_in_schema=False)
    async def state() -> JSONResponse:
        return JSONResponse(await fresh())

    @router.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        await fresh()
        body = await asyncio.to_thread(exposition, reg)
        return Response(body, media_type=CONTENT_TYPE)

    @router.websocket("/monitor/ws")
    async def stream(ws: WebSocket) -> None:
        await ws.accept()
        gone = asyncio.Event()

        async def listen() -> None:  # the page sends nothing; this notices it leave
            with contextlib.suppress(WebSocketDisconnect, RuntimeError, OSError):
                while (await ws.receive())["type"] != "websocket.disconnect":
                    pass
            gone.set()

        listener = asyncio.create_task(listen())
        last = -1
        try:
            with contextlib.suppress(WebSocketDisconnect, RuntimeError, OSError):
                while not gone.is_set():
                    snap = await fresh()
                    if snap["version"] != last:
                        last = snap["version"]
                        await ws.send_text(json.dumps(snap))
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(gone.wait(), interval_s)
        finally:
            listener.cancel()

    return router


def attach(
    server: AlpacaServer,
    *,
    config: AlertsConfig | None = None,
    interval_s: float = 0.25,
    window_s: int = 3600,
    expose: bool = False,
) -> ExecutionMonitor:
    """Monitor ``server``'s simulated account and serve the page at ``/monitor`` and the metrics
    at ``/metrics`` on the server itself. Those routes need no key (a browser and a scraper
    reach them as they are): on a server bound to anything but the loopback interface they are
    refused unless ``expose=True`` says to show the account to whoever reaches it. The monitor
    follows the broker from the simulation thread; its clock is the served simulation's."""
    if not expose and server.host not in _LOOPBACK:
        why = "the page needs no key: bind 127.0.0.1, or pass expose=True to show it anyway"
        raise ConfigError("host", server.host, why)

    def build(broker: Any) -> ExecutionMonitor:
        return ExecutionMonitor(
            broker, config=config, call=server.simulation.call, window_s=window_s
        )

    monitor: ExecutionMonitor = server.call(build)
    server.app_routes.include_router(monitor_router(monitor, interval_s=interval_s))
    return monitor
