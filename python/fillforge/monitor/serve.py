""":class:`MonitorServer`: the live page and ``/metrics`` of one
:class:`~fillforge.monitor.collector.ExecutionMonitor`, served on their own (uvicorn in a
background thread, 127.0.0.1 and an ephemeral port unless told otherwise). What ``fillforge serve
monitor`` runs; the Alpaca paper server mounts the same routes itself (:func:`~fillforge.monitor.
page.attach`)."""

from __future__ import annotations

import threading
import time

import uvicorn
from fastapi import FastAPI
from fastapi.responses import RedirectResponse

from fillforge.errors import ConfigError
from fillforge.monitor.collector import ExecutionMonitor
from fillforge.monitor.page import monitor_router

__all__ = ["MonitorServer"]


class MonitorServer:
    """Serves ``monitor``'s page at ``/monitor`` (``/`` redirects there) and its metrics at
    ``/metrics``; ``interval_s`` is how often the page's websocket checks for changes."""

    def __init__(
        self,
        monitor: ExecutionMonitor,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        interval_s: float = 1.0,
    ) -> None:
        if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
            raise ConfigError("port", port, "expected 0 (any free port) to 65535")
        self.monitor = monitor
        self.host, self.port = host, port
        self.app = FastAPI(title="fillforge monitor", docs_url=None, redoc_url=None)
        self.app.include_router(monitor_router(monitor, interval_s=interval_s))

        @self.app.get("/", include_in_schema=False)
        async def root() -> RedirectResponse:
            return RedirectResponse("/monitor")

        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> MonitorServer:
        """Serve in a background thread; returns once it listens."""
        config = uvicorn.Config(
            self.app, host=self.host, port=self.port, log_level="warning", access_log=False
        )
        server = uvicorn.Server(config)
        self._server = server
        self._thread = threading.Thread(target=server.run, name="monitor-server", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise ConfigError("port", self.port, f"cannot serve on {self.host}:{self.port}")
            time.sleep(0.005)
        self.port = server.servers[0].sockets[0].getsockname()[1]
        return self

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)
        self._server = self._thread = None

    def __enter__(self) -> MonitorServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
