"""``AsyncCcxtBroker``: the :class:`~fillforge.broker.AsyncBroker` interface natively on
``ccxt.async_support`` (or ccxt.pro, whose exchanges are async_support's with websockets).

Every conversation with the venue is :class:`~fillforge.venues.ccxt.core.CcxtCore`'s, the same
steps :class:`~fillforge.venues.ccxt.CcxtBroker` runs, here awaited on the caller's event loop:
one implementation of submit, cancel, reconcile, the conversions and the guarantees (the throttle,
retries without duplicates, reconciliation after network failures and stream reconnects). The
order poll and the ``watch_orders`` stream are tasks on that loop. Timers and market-data
subscriptions run on the broker's timer thread, as :class:`~fillforge.sim.aio.AsyncAdapter`'s do
(their polls ask the venue through the loop); hand work to the loop with
``loop.call_soon_threadsafe``.

Use it inside the loop that will run it::

    async with AsyncCcxtBroker("binance") as broker:
        order = await broker.submit(request)
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from decimal import Decimal
from typing import Any, TypeVar, Unpack

import ccxt.async_support

from fillforge.broker import (
    AccountSnapshot,
    Bar,
    BrokerClock,
    Position,
    Quote,
    ReplaceChanges,
    Trade,
    WallTimers,
    replace_terms,
)
from fillforge.broker.polling import PolledMarketData
from fillforge.broker.timers import TimerCallback, TimerWhen
from fillforge.errors import CcxtError, FillforgeError
from fillforge.orders.manager import EventStream, Subscriber
from fillforge.orders.models import Instrument, OrderRequest, ReplaceTerms
from fillforge.orders.order import Order
from fillforge.venues.ccxt.core import CcxtCore, CcxtOptions
from fillforge.venues.ccxt.steps import Steps, arun
from fillforge.venues.ccxt.stream import OrderStream, pro_exchange

__all__ = ["AsyncCcxtBroker"]

_T = TypeVar("_T")


class AsyncCcxtBroker(CcxtCore):
    """An :class:`~fillforge.broker.AsyncBroker` over one ``ccxt.async_support`` exchange; the
    arguments are :class:`~fillforge.venues.ccxt.CcxtBroker`'s (``exchange``: an id, or a built
    async ccxt exchange)."""

    def __init__(self, exchange: str | Any, **options: Unpack[CcxtOptions]) -> None:
        super().__init__(ccxt.async_support, exchange, **options)
        self._timers = WallTimers(self._time, name="ccxt-async-timers")
        self._market_data = PolledMarketData(
            self._timers,
            self._data_poll_ns,
            {
                "quotes": lambda s: self._from_thread(self._quotes(s)),
                "trades": lambda s: self._from_thread(self._trades(s)),
                "bars": lambda s: {},  # minute bars are not polled through ccxt yet
            },
        )
        self._transport.reconnected = self._after_reconnect
        self._stream: OrderStream | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None

    async def _run(self, steps: Steps[_T]) -> _T:
        return await arun(steps, self.exchange, self._transport)

    def _from_thread(self, steps: Steps[_T]) -> _T:
        """Run ``steps`` on the broker's loop from another thread (the timer thread's polls)."""
        if self._loop is None:
            raise CcxtError(self.id, "NotConnected", "connect() the broker in its event loop first")
        return asyncio.run_coroutine_threadsafe(self._run(steps), self._loop).result()

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ----- lifecycle --------------------------------------------------------------------------

    async def load_markets(self) -> dict[str, Instrument]:
        """The venue's markets as instruments (once; ``reload`` by calling it again)."""
        return await self._run(self._load_markets())

    async def instrument(self, symbol: str) -> Instrument:
        return await self._run(self._instrument(symbol))

    async def connect(self) -> AsyncCcxtBroker:
        """Load the markets, start the order websocket (``stream=True``), reconcile, and poll
        open orders every ``poll_every`` seconds, on the running loop."""
        self._loop = asyncio.get_running_loop()
        if not self.instruments:
            await self.load_markets()
        if self._want_stream and self._stream is None:
            # A ccxt.pro exchange streams itself; an async_support one gets ccxt.pro's twin.
            own = type(self.exchange).__module__.startswith("ccxt.pro")
            pro = self.exchange if own else pro_exchange(self.exchange)
            if pro is None:
                raise CcxtError(self.id, "NotSupported", "ccxt.pro has no websocket for it")
            self._stream = OrderStream(pro, self._apply_update, self._after_stream_reconnect)
            self._spawn(self._stream.run())
            await asyncio.to_thread(self._stream.ready.wait, 5)
        await self.reconcile()
        if self._poll_every is not None:
            self._spawn(self._poll(self._poll_every))
        return self

    async def close(self) -> None:
        """Stop the poll, the stream and the timers; close ccxt's sessions."""
        self._timers.close()
        if self._stream is not None:
            await self._stream.aclose()
            self._stream = None
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        with contextlib.suppress(Exception):
            await self.exchange.close()

    async def __aenter__(self) -> AsyncCcxtBroker:
        return await self.connect()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def stream(self) -> OrderStream | None:
        """The order websocket, while it runs."""
        return self._stream

    async def _poll(self, every: float) -> None:
        while True:
            await asyncio.sleep(every)
            await self._reconcile_quietly()

    async def _apply_update(self, raw: dict[str, Any]) -> None:
        await self._run(self._orders.apply(raw))

    async def _after_stream_reconnect(self) -> None:
        self._reconnects += 1
        await self._reconcile_quietly()

    def _after_reconnect(self) -> None:
        self._reconnects += 1
        self._spawn(self._reconcile_quietly())

    # ----- requests -----------------------------------------------------------------------

    async def submit(self, request: OrderRequest, *, post_only: bool = False) -> Order:
        """:meth:`fillforge.venues.ccxt.CcxtBroker.submit`, awaited."""
        return await self._run(self._submit(request, post_only))

    async def cancel(self, order_id: str) -> None:
        await self._run(self._cancel(order_id))

    async def cancel_all(self, symbol: str) -> None:
        await self._run(self._cancel_all(symbol))

    async def refresh(self, order_id: str) -> Order:
        return await self._run(self._refresh(order_id))

    async def replace(
        self, order_id: str, terms: ReplaceTerms | None = None, **changes: Unpack[ReplaceChanges]
    ) -> None:
        await self._run(self._replace(order_id, replace_terms(terms, changes)))

    # ----- queries (the local ones answer at once) ----------------------------------------

    async def get_order(self, order_id: str) -> Order:
        return self.manager.get(order_id)

    async def get_order_by_client_id(self, client_order_id: str) -> Order:
        return self.manager.by_client_order_id(client_order_id)

    async def orders(self, *, open_only: bool = False, symbol: str | None = None) -> list[Order]:
        if open_only:
            return self.manager.open_orders(symbol)
        return [o for o in self.manager.orders.values() if symbol is None or o.symbol == symbol]

    def events(self) -> EventStream:
        """A new buffered stream of every order event from now on (``async for`` waits)."""
        return self.manager.stream()

    async def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        return self.manager.subscribe(callback)

    async def balances(self) -> dict[str, tuple[Decimal, Decimal]]:
        return await self._run(self._balances())

    async def positions(self) -> dict[str, Position]:
        return await self._run(self._positions(await self.balances()))

    async def account(self) -> AccountSnapshot:
        return await self._run(self._account())

    async def clock(self) -> BrokerClock:
        return await self._run(self._clock())

    async def now_ns(self) -> int:
        return self._time.now_ns()

    # ----- timers and market data ----------------------------------------------------------

    async def set_timer(
        self, name: str, callback: TimerCallback, **when: Unpack[TimerWhen]
    ) -> None:
        self._timers.set(name, callback, **when)

    async def cancel_timer(self, name: str) -> None:
        self._timers.cancel(name)

    async def latest_quote(self, symbol: str) -> Quote | None:
        return (await self._run(self._quotes([symbol]))).get(symbol)

    async def last_trade(self, symbol: str) -> Trade | None:
        return (await self._run(self._trades([symbol]))).get(symbol)

    async def subscribe_quotes(
        self, symbol: str, callback: Callable[[Quote], None]
    ) -> Callable[[], None]:
        return await asyncio.to_thread(self._market_data.subscribe, "quotes", symbol, callback)

    async def subscribe_trades(
        self, symbol: str, callback: Callable[[Trade], None]
    ) -> Callable[[], None]:
        return await asyncio.to_thread(self._market_data.subscribe, "trades", symbol, callback)

    async def subscribe_bars(
        self, symbol: str, callback: Callable[[Bar], None]
    ) -> Callable[[], None]:
        return await asyncio.to_thread(self._market_data.subscribe, "bars", symbol, callback)

    # ----- keeping the local state right ----------------------------------------------------

    async def reconcile(self) -> None:
        """Bring every local open order (and any open order the venue has in a symbol traded
        here) up to the venue's state."""
        await self._run(self._orders.reconcile())

    async def _reconcile_quietly(self) -> None:
        with contextlib.suppress(FillforgeError):
            await self.reconcile()
