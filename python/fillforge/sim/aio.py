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
import functools
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Concatenate, ParamSpec, TypeVar

from fillforge.broker import AsyncBroker, Broker
from fillforge.orders.manager import EventStream

__all__ = ["AsyncAdapter", "AsyncBroker"]

_T = TypeVar("_T")
_P = ParamSpec("_P")


def _awaitable(
    method: Callable[Concatenate[Broker, _P], _T],
) -> Callable[Concatenate[AsyncAdapter, _P], Coroutine[Any, Any, _T]]:
    """The async twin of the :class:`~fillforge.broker.Broker` method ``method``: the same
    parameters (its signature, for :func:`inspect.signature`), run on the adapter's worker."""
    name = method.__name__

    async def twin(self: AsyncAdapter, /, *args: _P.args, **kwargs: _P.kwargs) -> _T:
        call: Callable[_P, _T] = getattr(self.broker, name)
        return await self._run(lambda: call(*args, **kwargs))

    functools.update_wrapper(twin, method)  # name, docs, and __wrapped__ for the signature
    return twin


class AsyncAdapter:
    """An :class:`~fillforge.broker.AsyncBroker` over a sync :class:`~fillforge.broker.Broker`:
    every method of :class:`~fillforge.broker.Broker`, awaitable, but :meth:`events`."""

    def __init__(self, broker: Broker) -> None:
        self.broker = broker
        # One worker: calls keep their order, and the broker is never entered twice at once.
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="broker")

    async def _run(self, fn: Callable[[], _T]) -> _T:
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn)

    submit = _awaitable(Broker.submit)
    cancel = _awaitable(Broker.cancel)
    replace = _awaitable(Broker.replace)
    get_order = _awaitable(Broker.get_order)
    get_order_by_client_id = _awaitable(Broker.get_order_by_client_id)
    orders = _awaitable(Broker.orders)
    positions = _awaitable(Broker.positions)
    account = _awaitable(Broker.account)
    clock = _awaitable(Broker.clock)
    now_ns = _awaitable(Broker.now_ns)
    subscribe = _awaitable(Broker.subscribe)
    set_timer = _awaitable(Broker.set_timer)
    cancel_timer = _awaitable(Broker.cancel_timer)
    latest_quote = _awaitable(Broker.latest_quote)
    last_trade = _awaitable(Broker.last_trade)
    subscribe_quotes = _awaitable(Broker.subscribe_quotes)
    subscribe_trades = _awaitable(Broker.subscribe_trades)
    subscribe_bars = _awaitable(Broker.subscribe_bars)

    def events(self) -> EventStream:
        """A new stream of every order event; ``async for`` over it waits for the next one."""
        return self.broker.events()

    def close(self) -> None:
        self._pool.shutdown(wait=True)
