"""The order websocket of :class:`~fillforge.venues.ccxt.CcxtBroker`, where ccxt offers one:
ccxt.pro's ``watch_orders`` (Binance's user-data stream, Bybit's and Coinbase's order channels)
on an event loop of its own thread (the sync broker: :meth:`OrderStream.start`) or as a task on
the caller's loop (the async broker: :meth:`OrderStream.run`). Each order update is applied as a
poll's snapshot would be (:meth:`~fillforge.venues.ccxt.sync.OrderSync.apply`, fills from the
venue's trades), so an update seen twice, or seen by the stream and a poll, counts once. When
the socket fails, the stream backs off, reconnects and reconciles, so what happened meanwhile is
not lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Awaitable, Callable
from typing import Any

from fillforge.errors import FillforgeError

__all__ = ["OrderStream", "pro_exchange"]

_BACKOFF_S = (0.05, 0.2, 1.0, 2.0)


def pro_exchange(exchange: Any) -> Any | None:
    """ccxt.pro's exchange of the same id and settings as ``exchange``, None when ccxt.pro has
    none."""
    import ccxt.pro

    cls = getattr(ccxt.pro, str(exchange.id), None)
    if cls is None:
        return None
    settings: dict[str, Any] = {
        "apiKey": exchange.apiKey,
        "secret": exchange.secret,
        "urls": {"api": exchange.urls.get("api")},
        "timeout": exchange.timeout,
    }
    return cls(settings)


class OrderStream:
    """``watch_orders``, each update awaited through ``apply``; ``reconnected`` is awaited after
    every reconnect (the broker reconciles there)."""

    def __init__(
        self,
        pro: Any,
        apply: Callable[[dict[str, Any]], Awaitable[None]],
        reconnected: Callable[[], Awaitable[None]],
    ) -> None:
        self._pro = pro
        self._apply_one = apply
        self._reconnected = reconnected
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self.updates = 0
        self.failures = 0
        self.ready = threading.Event()  # set once the first subscription is confirmed
        self._applied: dict[str, tuple[Any, Any, Any]] = {}  # each order's last state applied

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="ccxt-orders", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        loop, thread = self._loop, self._thread
        if loop is not None:
            with contextlib.suppress(RuntimeError):  # a loop that already ended
                asyncio.run_coroutine_threadsafe(self._pro.close(), loop)
        if thread is not None:
            thread.join(timeout=5)
        self._thread = None

    def _run(self) -> None:
        asyncio.run(self.run())

    async def aclose(self) -> None:
        """Stop a stream that runs on the caller's loop (:meth:`run` as a task)."""
        self._stopping.set()
        with contextlib.suppress(Exception):
            await self._pro.close()

    async def run(self) -> None:
        """Follow ``watch_orders`` until stopped (see the class)."""
        self._loop = asyncio.get_running_loop()
        failed = 0
        clients: set[int] = set()
        while not self._stopping.is_set():
            try:
                watching = asyncio.ensure_future(self._pro.watch_orders())
                await asyncio.sleep(0)  # the watch has found or made its socket's client
                now = self._clients()
                # ccxt.pro reconnects by itself when a socket closed between two watches (a
                # new client), or after the failure below: either way, reconcile.
                renewed = bool(clients) and now != clients
                if failed or renewed or not self.ready.is_set():
                    await self._subscribed(watching)
                    if failed or renewed:  # what happened while the socket was down
                        failed = 0
                        await self._reconnected()
                    self.ready.set()
                clients = now
                # ccxt.pro wakes a watch with the next message only: an update that came while
                # no watch was waiting sits in its cache until another message comes. With this
                # watch waiting, every update in the cache not yet applied is applied now.
                await self._drain()
                got = await watching
            except (Exception, asyncio.CancelledError):  # anything a socket can raise
                if self._stopping.is_set():
                    break
                self.failures += 1
                await asyncio.sleep(_BACKOFF_S[min(failed, len(_BACKOFF_S) - 1)])
                failed += 1
                continue
            for raw in got:
                await self._apply_changed(dict(raw))
        with contextlib.suppress(Exception):
            await self._pro.close()

    async def _drain(self) -> None:
        cached = getattr(self._pro, "orders", None)
        for raw in list(cached or ()):
            await self._apply_changed(dict(raw))

    async def _apply_changed(self, raw: dict[str, Any]) -> None:
        """Apply an update unless this state of the order was applied already."""
        state = (raw.get("status"), raw.get("filled"), raw.get("lastUpdateTimestamp"))
        oid = str(raw.get("id"))
        if self._applied.get(oid) == state:
            return
        self._applied[oid] = state
        with contextlib.suppress(FillforgeError):
            await self._apply_one(raw)
            self.updates += 1

    def _clients(self) -> set[int]:
        return {id(c) for c in (getattr(self._pro, "clients", None) or {}).values()}

    async def _subscribed(self, watching: asyncio.Future[Any]) -> None:
        """Wait (at most 5 s) until ccxt.pro has sent the subscription: one of its clients holds
        one, or the watch already ended."""
        deadline = self._loop.time() + 5 if self._loop is not None else 0
        while not watching.done() and asyncio.get_running_loop().time() < deadline:
            clients = getattr(self._pro, "clients", {}) or {}
            if any(getattr(c, "subscriptions", None) for c in clients.values()):
                await asyncio.sleep(0.05)  # the request on its way
                return
            await asyncio.sleep(0.01)
