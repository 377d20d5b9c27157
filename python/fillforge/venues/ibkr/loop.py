"""ib_async's event loop on a thread of its own, so :class:`~fillforge.venues.ibkr.IbkrBroker`'s
sync methods can be called from any thread: every call on ``ib_async.IB`` runs on that loop
(ib_async is not thread-safe), and its events are handled there."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Awaitable, Callable
from typing import TypeVar

from fillforge.errors import BrokerUnavailableError

__all__ = ["LoopThread"]

T = TypeVar("T")


class LoopThread:
    """An asyncio loop running on a daemon thread named ``name``."""

    def __init__(self, name: str = "ibkr-loop") -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    @property
    def on_loop(self) -> bool:
        return threading.current_thread() is self._thread

    def run(self, make: Callable[[], Awaitable[T]], timeout: float) -> T:
        """Await ``make()`` on the loop and return its result (``timeout`` seconds at most:
        then :class:`~fillforge.errors.BrokerUnavailableError`)."""
        if self.on_loop:
            raise RuntimeError("LoopThread.run called on its own loop")

        async def job() -> T:
            return await make()

        future = asyncio.run_coroutine_threadsafe(job(), self.loop)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise BrokerUnavailableError(
                "timeout", timeout, "Interactive Brokers did not answer in time"
            ) from None

    def call(self, fn: Callable[[], T], timeout: float) -> T:
        """Run ``fn()`` on the loop (at once when already on it)."""
        if self.on_loop:
            return fn()

        async def job() -> T:
            return fn()

        return self.run(job, timeout)

    def stop(self) -> None:
        if self.loop.is_closed():
            return
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)
        if not self._thread.is_alive():
            self.loop.close()
