"""An ASGI app served by uvicorn from a background thread: the one way the local venue servers
(Alpaca, Binance) and the monitoring page listen.

:meth:`BackgroundServer.start` returns once the socket listens (the port it bound, port 0 giving
an ephemeral one), or ``None`` when the server did not start within ten seconds (a port taken, a
host it cannot bind): the caller raises its own typed error. :meth:`BackgroundServer.stop` asks
uvicorn to exit and joins its thread.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import uvicorn

__all__ = ["BackgroundServer"]

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
