""":class:`MonitorServer`: the live page and ``/metrics`` of one
:class:`~fillforge.monitor.collector.ExecutionMonitor`, served on their own (uvicorn in a
background thread, 127.0.0.1 and an ephemeral port unless told otherwise). What ``fillforge serve
monitor`` runs; the Alpaca paper server mounts the same routes itself (:func:`~fillforge.monitor.
page.attach`)."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import RedirectResponse

from fillforge.errors import ConfigError
from fillforge.monitor.collector import ExecutionMonitor
from fillforge.monitor.page import monitor_router
from fillforge.serving import BackgroundServer

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

        self._http = BackgroundServer(self.app, name="monitor-server")

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> MonitorServer:
        """Serve in a background thread; returns once it listens."""
        port = self._http.start(self.host, self.port)
        if port is None:
            raise ConfigError("port", self.port, f"cannot serve on {self.host}:{self.port}")
        self.port = port
        return self

    def stop(self) -> None:
        self._http.stop()

    def __enter__(self) -> MonitorServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
