"""The async twin of the :class:`~fillforge.sim.broker.Broker` interface, for live use.

:class:`AsyncBroker` is the interface; :class:`AsyncAdapter` gives any broker (``AlpacaBroker``,
whose calls wait on the network, or ``SimulatedBroker``) that interface by running each call in
a worker thread, so an asyncio strategy never blocks its loop. Calls run one at a time, in the
order they were made, as they would on the sync broker. Order events come from
:meth:`AsyncBroker.events`, which async-iterates.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Protocol, TypeVar, runtime_checkable

from fillforge.orders.manager import EventStream
from fillforge.orders.models import OrderRequest
from fillforge.orders.order import Order
from fillforge.sim.account import AccountSnapshot, Position
from fillforge.sim.broker import Broker, BrokerClock

__all__ = ["AsyncAdapter", "AsyncBroker"]

_T = TypeVar("_T")


@runtime_checkable
class AsyncBroker(Protocol):
    """What an asyncio strategy needs from any broker."""

    async def submit(self, request: OrderRequest) -> Order: ...
    async def cancel(self, order_id: str) -> None: ...
    async def replace(
        self,
        order_id: str,
        *,
        qty: Decimal | None = None,
        limit_price: Decimal | None = None,
        stop_price: Decimal | None = None,
        trail: Decimal | None = None,
    ) -> None: ...
    async def get_order(self, order_id: str) -> Order: ...
    async def orders(
        self, *, open_only: bool = False, symbol: str | None = None
    ) -> list[Order]: ...
    async def positions(self) -> dict[str, Position]: ...
    async def account(self) -> AccountSnapshot: ...
    async def clock(self) -> BrokerClock: ...
    def events(self) -> EventStream: ...


class AsyncAdapter:
    """An :class:`AsyncBroker` over a sync :class:`~fillforge.sim.broker.Broker`."""

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
        self,
        order_id: str,
        *,
        qty: Decimal | None = None,
        limit_price: Decimal | None = None,
        stop_price: Decimal | None = None,
        trail: Decimal | None = None,
    ) -> None:
        await self._run(
            lambda: self.broker.replace(
                order_id, qty=qty, limit_price=limit_price, stop_price=stop_price, trail=trail
            )
        )

    async def get_order(self, order_id: str) -> Order:
        return await self._run(lambda: self.broker.get_order(order_id))

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

    def close(self) -> None:
        self._pool.shutdown(wait=True)
