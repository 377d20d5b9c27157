"""``CcxtBroker``: the :class:`~fillforge.broker.Broker` interface on a crypto venue through ccxt's
unified API (Binance, Bybit, Coinbase, or any ccxt exchange with the same calls); its async twin on
``ccxt.async_support`` is :class:`~fillforge.venues.ccxt.AsyncCcxtBroker`.

Symbols are ccxt's unified ones (``BTC/USDT``). Instruments come from ``load_markets()`` once, tick
and lot from each market's precision and the minimum from its amount limit
(:func:`~fillforge.venues.ccxt.convert.instrument_of`); every request is checked against its
instrument before anything is sent. Quantities are fractional; fills carry the venue's fees.

What it does with the venue is :class:`~fillforge.venues.ccxt.core.CcxtCore`'s steps, shared with
the async broker; this class runs them blocking. The venue's order states are polled (every
``poll_every`` seconds, on the timer thread), streamed where ccxt.pro offers a websocket
(``stream=True``: :mod:`~fillforge.venues.ccxt.stream`, on its own thread), and reconciled after a
start, after every run of network failures and after every stream reconnect; the order events go
to the same :class:`~fillforge.orders.manager.OrderManager` stream as every other broker's.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from decimal import Decimal
from typing import Any, TypeVar, Unpack

import ccxt

from fillforge.broker import (
    AccountSnapshot,
    Bar,
    BrokerClock,
    MarketDataMethods,
    Position,
    ReplaceChanges,
    TimerMethods,
    WallTimers,
    replace_terms,
)
from fillforge.broker.polling import PolledMarketData
from fillforge.errors import CcxtError, FillforgeError
from fillforge.orders.manager import ManagedOrders
from fillforge.orders.models import Instrument, OrderRequest, ReplaceTerms
from fillforge.orders.order import Order
from fillforge.time import from_seconds
from fillforge.venues.ccxt.core import CcxtCore, CcxtOptions
from fillforge.venues.ccxt.steps import Steps, run
from fillforge.venues.ccxt.stream import OrderStream, pro_exchange

__all__ = ["CcxtBroker"]

_POLL = "\0ccxt-orders"  # the scheduler's timer name for the order poll
_T = TypeVar("_T")


class CcxtBroker(TimerMethods, MarketDataMethods, ManagedOrders, CcxtCore):
    """A :class:`~fillforge.broker.Broker` over one ccxt exchange.

    ``exchange`` is a ccxt id (``"binance"``, ``"bybit"``, ``"coinbase"``) or a built ccxt
    exchange; ``config`` goes to its constructor (``urls`` to point it at a compatible server,
    ``options``...). ``quote`` is the account's cash currency. ``timeout`` bounds each request
    (seconds); ``attempts`` and ``max_wait`` the retries; ``poll_every`` (seconds) how often open
    orders are polled (None: only on :meth:`reconcile`); ``stream`` also follows them on
    ccxt.pro's ``watch_orders`` websocket. ``clock`` tells the time (default: the
    wall clock): timers, times the venue gives none for.
    """

    _market_data: PolledMarketData
    _timers: WallTimers

    def __init__(self, exchange: str | Any, **options: Unpack[CcxtOptions]) -> None:
        super().__init__(ccxt, exchange, **options)
        self._timers = WallTimers(self._time, name="ccxt-timers")
        self._market_data = PolledMarketData(
            self._timers,
            self._data_poll_ns,
            {
                "quotes": lambda s: self._run(self._quotes(s)),
                "trades": lambda s: self._run(self._trades(s)),
                "bars": self._bars,
            },
        )
        self._transport.reconnected = self._after_reconnect
        self._stream: OrderStream | None = None

    def _run(self, steps: Steps[_T]) -> _T:
        return run(steps, self.exchange, self._transport)

    # ----- lifecycle --------------------------------------------------------------------------

    def load_markets(self) -> dict[str, Instrument]:
        """The venue's markets as instruments (once; ``reload`` by calling it again)."""
        return self._run(self._load_markets())

    def instrument(self, symbol: str) -> Instrument:
        return self._run(self._instrument(symbol))

    def connect(self) -> CcxtBroker:
        """Load the markets, start the order websocket (``stream=True``), reconcile, and poll
        open orders every ``poll_every`` seconds."""
        if not self.instruments:
            self.load_markets()
        if self._want_stream and self._stream is None:
            pro = pro_exchange(self.exchange)
            if pro is None:
                raise CcxtError(self.id, "NotSupported", "ccxt.pro has no websocket for it")
            self._stream = OrderStream(pro, self._apply_update, self._after_stream_reconnect)
            self._stream.start()
            self._stream.ready.wait(timeout=5)
        self.reconcile()
        if self._poll_every is not None and _POLL not in self._timers:
            every = from_seconds(self._poll_every, "poll_every")
            self._timers.set(_POLL, self._reconcile_quietly, every_ns=every)
        return self

    def close(self) -> None:
        """Stop polling and the timer scheduler (timers stay set: a new timer starts it)."""
        if _POLL in self._timers:
            self._timers.cancel(_POLL)
        self._timers.close()
        if self._stream is not None:
            self._stream.stop()
            self._stream = None

    def __enter__(self) -> CcxtBroker:
        return self.connect()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def stream(self) -> OrderStream | None:
        """The order websocket, while it runs."""
        return self._stream

    async def _apply_update(self, raw: dict[str, Any]) -> None:
        # On a worker thread: fetching the update's trades may take a blocking request.
        await asyncio.to_thread(self._run, self._orders.apply(raw))

    async def _after_stream_reconnect(self) -> None:
        self._reconnects += 1
        await asyncio.to_thread(self._reconcile_quietly)

    def _after_reconnect(self) -> None:
        self._reconnects += 1
        threading.Thread(target=self._reconcile_quietly, daemon=True).start()

    # ----- requests -----------------------------------------------------------------------

    def submit(self, request: OrderRequest, *, post_only: bool = False) -> Order:
        """Send an order (a client order id is made if it has none); ``post_only``: a limit
        order the venue refuses rather than let take (Binance's ``LIMIT_MAKER``)."""
        return self._run(self._submit(request, post_only))

    def cancel(self, order_id: str) -> None:
        """Ask to cancel; an order that ended meanwhile is brought up to date, and the venue's
        refusal raised (:class:`~fillforge.errors.CcxtError`, ``OrderNotFound``)."""
        self._run(self._cancel(order_id))

    def cancel_all(self, symbol: str) -> None:
        """Cancel every open order in ``symbol`` in one request (Binance's ``DELETE
        openOrders``); each is then brought up to date."""
        self._run(self._cancel_all(symbol))

    def refresh(self, order_id: str) -> Order:
        """Bring one order up to the venue's state now."""
        return self._run(self._refresh(order_id))

    def replace(
        self, order_id: str, terms: ReplaceTerms | None = None, **changes: Unpack[ReplaceChanges]
    ) -> None:
        """Change an order's quantity or limit price with ccxt's ``edit_order`` (on Binance
        spot a cancel-replace: a new order id, the old order ``replaced``)."""
        self._run(self._replace(order_id, replace_terms(terms, changes)))

    # ----- queries ------------------------------------------------------------------------

    def balances(self) -> dict[str, tuple[Decimal, Decimal]]:
        """Every currency's (free, used) on the venue."""
        return self._run(self._balances())

    def positions(self) -> dict[str, Position]:
        """Each base asset held, as a position in its market against :attr:`quote`: the
        quantity is the venue's balance, the average price the local fills' (0 without any),
        the mark the last price."""
        return self._run(self._positions(self.balances()))

    def account(self) -> AccountSnapshot:
        return self._run(self._account())

    def now_ns(self) -> int:
        """The time of the clock this broker's timers run on (the broker is a Clock)."""
        return self._time.now_ns()

    def clock(self) -> BrokerClock:
        """Crypto venues trade around the clock: always open, the venue's time."""
        return self._run(self._clock())

    def _bars(self, symbols: list[str]) -> dict[str, Bar]:
        return {}  # minute bars are not polled through ccxt yet

    # ----- keeping the local state right ----------------------------------------------------

    def reconcile(self) -> None:
        """Bring every local open order (and any open order the venue has in a symbol traded
        here) up to the venue's state."""
        self._run(self._orders.reconcile())

    def _reconcile_quietly(self, _t: int = 0) -> None:
        """:meth:`reconcile`, a failure left for the next one (the poll timer's)."""
        with contextlib.suppress(FillforgeError):
            self.reconcile()
