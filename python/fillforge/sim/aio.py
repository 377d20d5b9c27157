""":class:`AsyncAdapter`: the async twin of any broker, for live use.

:class:`~fillforge.broker.AsyncBroker` is the interface (in :mod:`fillforge.broker`, re-exported
here); :class:`AsyncAdapter` gives any broker (``AlpacaBroker``, whose calls wait on the network,
or ``SimulatedBroker``) that interface by running each call in a worker thread, so an asyncio
strategy never blocks its loop. Calls run one at a time, in the order they were made, as they
would on the sync broker. Order events come from :meth:`AsyncAdapter.events`, which
async-iterates. Timer and market-data callbacks run where the broker runs them (the simulated
broker's ``run()``, the live broker's scheduler thread), not on the event loop: hand work to the
loop with ``loop.call_soon_threadsafe``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar, Unpack

from fillforge.broker import (
    AccountSnapshot,
    AsyncBroker,
    Bar,
    Broker,
    BrokerClock,
    Position,
    Quote,
    ReplaceChanges,
    TimerCallback,
    Trade,
)
from fillforge.orders.manager import EventStream, Subscriber
from fillforge.orders.models import OrderRequest, ReplaceTerms
from fillforge.orders.order import Order

__all__ = ["AsyncAdapter", "AsyncBroker"]

_T = TypeVar("_T")


class AsyncAdapter:
    """An :class:`~fillforge.broker.AsyncBroker` over a sync :class:`~fillforge.broker.Broker`."""

    def __init__(self, broker: Broker) -> None:
        self.broker = broker
        # One worker: calls keep their order, and the broker is never entered twice at once.
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="broker")

    async def _run(self, fn: Callable[[], _T]) -> _T:
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn)

    async def submit(self, request: OrderRequest) -> Order:
        return await self._run(lambda: self.broker.submit(request))

    async def cancel(self, order_id: str) -> None:
        await self._run(lambda: self.broker.cancel(order_id))

    async def replace(
        self, order_id: str, terms: ReplaceTerms | None = None, **changes: Unpack[ReplaceChanges]
    ) -> None:
        await self._run(lambda: self.broker.replace(order_id, terms, **changes))

    async def get_order(self, order_id: str) -> Order:
        return await self._run(lambda: self.broker.get_order(order_id))

    async def get_order_by_client_id(self, client_order_id: str) -> Order:
        return await self._run(lambda: self.broker.get_order_by_client_id(client_order_id))

    async def orders(self, *, open_only: bool = False, symbol: str | None = None) -> list[Order]:
        return await self._run(lambda: self.broker.orders(open_only=open_only, symbol=symbol))

    async def positions(self) -> dict[str, Position]:
        return await self._run(self.broker.positions)

    async def account(self) -> AccountSnapshot:
        return await self._run(self.broker.account)

    async def clock(self) -> BrokerClock:
        return await self._run(self.broker.clock)

    def events(self) -> EventStream:
        """A new stream of every order event; ``async for`` over it waits for the next one."""
        return self.broker.events()

    async def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        return await self._run(lambda: self.broker.subscribe(callback))

    async def set_timer(
        self,
        name: str,
        callback: TimerCallback,
        *,
        at_ns: int | None = None,
        every_ns: int | None = None,
    ) -> None:
        await self._run(
            lambda: self.broker.set_timer(name, callback, at_ns=at_ns, every_ns=every_ns)
        )

    async def cancel_timer(self, name: str) -> None:
        await self._run(lambda: self.broker.cancel_timer(name))

    async def latest_quote(self, symbol: str) -> Quote | None:
        return await self._run(lambda: self.broker.latest_quote(symbol))

    async def last_trade(self, symbol: str) -> Trade | None:
        return await self._run(lambda: self.broker.last_trade(symbol))

    async def subscribe_quotes(
        self, symbol: str, callback: Callable[[Quote], None]
    ) -> Callable[[], None]:
        return await self._run(lambda: self.broker.subscribe_quotes(symbol, callback))

    async def subscribe_trades(
        self, symbol: str, callback: Callable[[Trade], None]
    ) -> Callable[[], None]:
        return await self._run(lambda: self.broker.subscribe_trades(symbol, callback))

    async def subscribe_bars(
        self, symbol: str, callback: Callable[[Bar], None]
    ) -> Callable[[], None]:
        return await self._run(lambda: self.broker.subscribe_bars(symbol, callback))

    def close(self) -> None:
        self._pool.shutdown(wait=True)
