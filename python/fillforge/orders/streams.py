"""A subscriber's buffer of order events (:meth:`fillforge.orders.manager.OrderManager.stream`),
read synchronously or with ``async for``, and woken safely from another thread."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Iterator

from fillforge.orders.models import OrderEvent

__all__ = ["EventStream"]


def _settle(w: asyncio.Future[None]) -> None:
    if not w.done():
        w.set_result(None)


class EventStream:
    """A subscriber's buffer of events: iterate to drain what has arrived, or ``async for`` to
    wait for more (until :meth:`close`)."""

    def __init__(self) -> None:
        self._buf: deque[OrderEvent] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self.closed = False

    def push(self, event: OrderEvent) -> None:
        self._buf.append(event)
        if self._waiter is not None:  # someone may be waiting (async): wake them
            self._wake()

    def close(self) -> None:
        self.closed = True
        self._wake()

    def _wake(self) -> None:
        w = self._waiter
        if w is None or w.done():
            return
        loop = w.get_loop()
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            w.set_result(None)
        else:  # pushed from another thread (a broker's worker or stream): wake the loop safely
            loop.call_soon_threadsafe(_settle, w)

    def __iter__(self) -> Iterator[OrderEvent]:
        while self._buf:
            yield self._buf.popleft()

    def __aiter__(self) -> AsyncIterator[OrderEvent]:
        return self

    async def __anext__(self) -> OrderEvent:
        while not self._buf:
            if self.closed:
                raise StopAsyncIteration
            self._waiter = asyncio.get_running_loop().create_future()
            await self._waiter
        return self._buf.popleft()
