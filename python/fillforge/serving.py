"""An ASGI app served by uvicorn from a background thread: the one way the local venue servers
(Alpaca, Binance) and the monitoring page listen; and :func:`pump`, the one way their websockets
carry events out while reading what the client sends.

:meth:`BackgroundServer.start` returns once the socket listens (the port it bound, port 0 giving
an ephemeral one), or ``None`` when the server did not start within ten seconds (a port taken, a
host it cannot bind): the caller raises its own typed error. :meth:`BackgroundServer.stop` asks
uvicorn to exit and joins its thread.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import uvicorn
from starlette.websockets import WebSocket, WebSocketDisconnect

__all__ = ["DROP", "BackgroundServer", "pump"]

_T = TypeVar("_T")
DROP = "\0drop"  # the queue item that closes a pumped socket (1012: clients reconnect)

_START_S = 10.0


class BackgroundServer:
    """uvicorn serving ``app`` on ``host``:``port`` in a daemon thread named ``name``."""

    def __init__(self, app: Any, *, name: str, keep_alive_s: int | None = None) -> None:
        self.app, self.name, self.keep_alive_s = app, name, keep_alive_s
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._server is not None

    def start(self, host: str, port: int) -> int | None:
        """Serve; the bound port once it listens, None when it did not start (stopped again)."""
        options: dict[str, Any] = {}
        if self.keep_alive_s is not None:
            options["timeout_keep_alive"] = self.keep_alive_s
        config = uvicorn.Config(
            self.app,
            host=host,
            port=port,
            log_level="warning",
            access_log=False,
            interface="asgi3",
            **options,
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, name=self.name, daemon=True)
        self._server, self._thread = server, thread
        thread.start()
        deadline = time.monotonic() + _START_S
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                return None
            time.sleep(0.005)
        return int(server.servers[0].sockets[0].getsockname()[1])

    def stop(self) -> None:
        """Ask uvicorn to exit and wait for its thread (up to ten seconds)."""
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is not None and thread is not None:
            server.should_exit = True
            thread.join(timeout=_START_S)


async def pump(
    ws: WebSocket,
    queue: asyncio.Queue[str],
    read: Callable[[], Awaitable[_T]],
    on_frame: Callable[[_T], Awaitable[bool]],
    *,
    before_send: Callable[[], Awaitable[bool]] | None = None,
) -> None:
    """Carry an accepted websocket until it ends: every text frame put on ``queue`` is sent
    (:data:`DROP` closes the socket with 1012, "service restart", so clients reconnect; with
    ``before_send``, only when it answers True: it may also wait, as for a journal to settle);
    every frame the client sends is ``read()`` and handed to ``on_frame``, which answers False to
    end the pump (having closed the socket, or not). A client that disconnects ends it quietly;
    what the pump was waiting for is cancelled either way."""
    receive = asyncio.ensure_future(read())
    try:
        while True:
            get = asyncio.ensure_future(queue.get())
            done, _ = await asyncio.wait({receive, get}, return_when=asyncio.FIRST_COMPLETED)
            if get in done:
                frame = get.result()
                if frame == DROP:
                    await ws.close(code=1012)
                    return
                if before_send is None or await before_send():
                    await ws.send_text(frame)
            else:
                get.cancel()
            if receive in done:
                if not await on_frame(receive.result()):
                    return
                receive = asyncio.ensure_future(read())
    except WebSocketDisconnect:
        return
    finally:
        receive.cancel()
