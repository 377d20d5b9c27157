"""``AlpacaBroker``: the :class:`~fillforge.broker.Broker` interface on a real Alpaca account
(or any Alpaca-compatible server) through the official alpaca-py SDK.

Requests go through alpaca-py's ``TradingClient``; order updates arrive on its ``TradingStream``.
Both drive the same order state machines as the simulator, so strategy code does not change
between them. Alpaca runs bracket/OCO/OTO logic itself: every Alpaca order (a parent and each
leg) is one simple order in the local manager, updated from what Alpaca reports.

Robustness: requests are limited locally and retried (:mod:`fillforge.alpaca.transport`). A
submit always carries a client order id, and before each retry the order is looked up by it, so
a timeout never makes a duplicate. Credentials come from the arguments or ``APCA_API_KEY_ID`` /
``APCA_API_SECRET_KEY`` and are never logged.

This module is the broker's API; its jobs live beside it: the SDK's models converted
(:mod:`~fillforge.alpaca.convert`), calls rate limited and retried
(:mod:`~fillforge.alpaca.transport`), and the stream and reconciliation that keep the local
orders right (:mod:`~fillforge.alpaca.order_sync`).
"""

from __future__ import annotations

import contextlib
import functools
import os
import threading
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any, Unpack

from alpaca.common.exceptions import APIError
from alpaca.data.historical import StockHistoricalDataClient
from alpaca.data.models import Bar as AlpacaBar
from alpaca.data.models import Quote as AlpacaQuote
from alpaca.data.models import Trade as AlpacaTrade
from alpaca.data.requests import (
    StockLatestBarRequest,
    StockLatestQuoteRequest,
    StockLatestTradeRequest,
)
from alpaca.trading.client import TradingClient
from alpaca.trading.models import Clock as AlpacaClock
from alpaca.trading.models import Order as AlpacaOrder
from alpaca.trading.models import Position as AlpacaPosition
from alpaca.trading.models import TradeAccount
from alpaca.trading.stream import TradingStream

from fillforge.alpaca.convert import (
    ENDED,
    alpaca_request,
    bar_of,
    decimal_of,
    expect,
    quote_of,
    replace_request,
    trade_of,
)
from fillforge.alpaca.order_sync import OrderSync
from fillforge.alpaca.transport import Transport, tune
from fillforge.broker import (
    AccountSnapshot,
    Bar,
    BrokerClock,
    MarketDataMethods,
    Position,
    Quote,
    ReplaceChanges,
    TimerMethods,
    Trade,
    WallTimers,
    replace_terms,
)
from fillforge.broker.polling import PolledMarketData
from fillforge.errors import AlpacaError, DuplicateClientOrderIdError
from fillforge.orders.manager import ManagedOrders, OrderManager
from fillforge.orders.models import Fill, OrderRequest, ReplaceTerms
from fillforge.orders.order import Order
from fillforge.time import Clock, WallClock, from_iso, from_seconds, to_iso

__all__ = ["AlpacaBroker", "AlpacaError"]

_RECONCILE = "\0reconcile"  # the scheduler's timer name for the reconcile timer
_PAGE = 100  # account activities per page (Alpaca's most)


class AlpacaBroker(TimerMethods, MarketDataMethods, ManagedOrders):
    """A :class:`~fillforge.broker.Broker` over alpaca-py.

    ``url_override`` / ``stream_url`` point at an Alpaca-compatible server (fillforge's own, in
    tests); without them, ``paper`` picks Alpaca's paper or live endpoints. ``timeout`` bounds each
    HTTP request (seconds); ``attempts`` and ``max_wait`` bound the retries. ``reconcile_every``
    (seconds) also reconciles on a timer while connected; it defaults to 5 s when the SDK's
    stream cannot be watched for reconnects (see :meth:`_watch_reconnects`), and to off otherwise.
    ``clock`` tells the time (default: the wall clock): request times, timers.

    Timers (:meth:`set_timer`) fire on one scheduler thread at ``clock``'s times; the reconcile
    timer runs there too. Market data comes from alpaca-py's ``StockHistoricalDataClient`` at
    ``data_url`` (default: ``url_override``, else Alpaca's data API): :meth:`latest_quote` and
    :meth:`last_trade` ask it (None when Alpaca shows none, or leaves an unknown symbol out);
    subscriptions poll it every ``data_poll_every`` seconds (see :mod:`fillforge.broker.polling`).
    """

    _market_data: PolledMarketData
    _timers: WallTimers

    def __init__(
        self,
        key_id: str | None = None,
        secret_key: str | None = None,
        *,
        paper: bool = True,
        url_override: str | None = None,
        stream_url: str | None = None,
        requests_per_minute: int = 200,
        timeout: float = 10.0,
        attempts: int = 6,
        max_wait: float = 8.0,
        stream: bool = True,
        reconcile_every: float | None = None,
        clock: Clock | None = None,
        data_url: str | None = None,
        data_poll_every: float = 1.0,
    ) -> None:
        key = key_id or os.environ.get("APCA_API_KEY_ID")
        secret = secret_key or os.environ.get("APCA_API_SECRET_KEY")
        if not key or not secret:
            raise AlpacaError(None, None, "set APCA_API_KEY_ID and APCA_API_SECRET_KEY")
        if not data_poll_every > 0:
            raise AlpacaError(None, None, f"data_poll_every must be > 0, got {data_poll_every!r}")
        self._client = TradingClient(key, secret, paper=paper, url_override=url_override)
        data_url = data_url or url_override
        self._data = StockHistoricalDataClient(key, secret, url_override=data_url)
        for client, url in ((self._client, url_override), (self._data, data_url)):
            tune(client, url, timeout)
        self._time = clock if clock is not None else WallClock()
        self._transport = Transport(self._time, requests_per_minute, attempts, max_wait)
        self._call = self._transport.call
        self._timers = WallTimers(self._time, name="alpaca-timers")
        self._market_data = PolledMarketData(
            self._timers,
            from_seconds(data_poll_every, "data_poll_every"),
            {"quotes": self._quotes, "trades": self._trades, "bars": self._bars},
        )
        self.manager = OrderManager(clock=self._time.now_ns)
        self._lock = threading.RLock()
        self._orders = OrderSync(self.manager, self._lock, self._client, self._call, self._time)
        self._stream: TradingStream | None = None
        self._thread: threading.Thread | None = None
        if reconcile_every is not None and not reconcile_every > 0:
            raise AlpacaError(None, None, f"reconcile_every must be > 0, got {reconcile_every!r}")
        self._reconcile_every = reconcile_every
        if stream:
            if stream_url:
                self._stream = TradingStream(key, secret, paper=paper, url_override=stream_url)
            else:
                self._stream = TradingStream(key, secret, paper=paper)
            self._stream.subscribe_trade_updates(self._orders.on_update)
            fallback = self._orders.watch_reconnects(self._stream)
            if fallback is not None and reconcile_every is None:
                self._reconcile_every = fallback

    @property
    def reconnects(self) -> int:
        """How many times the trade-update stream has reconnected (each one reconciled)."""
        return self._orders.reconnects

    # ----- lifecycle --------------------------------------------------------------------------

    def connect(self) -> AlpacaBroker:
        """Start the trade-update stream (a background thread) and reconcile open orders."""
        if self._stream is not None and self._thread is None:
            self._thread = threading.Thread(
                target=self._stream.run, name="alpaca-stream", daemon=True
            )
            self._thread.start()
        self.reconcile()
        if self._reconcile_every is not None and _RECONCILE not in self._timers:
            every = from_seconds(self._reconcile_every, "reconcile_every")
            self._timers.set(_RECONCILE, self._orders.reconcile_quietly, every_ns=every)
        return self

    def close(self) -> None:
        """Stop the stream and the timer scheduler (timers stay set: a new timer starts it)."""
        if _RECONCILE in self._timers:
            self._timers.cancel(_RECONCILE)
        self._timers.close()
        if self._stream is not None and self._thread is not None:
            with contextlib.suppress(Exception):  # a stream that never started or already ended
                self._stream.stop()
            # The SDK notices a stop at its next 5 s read poll; the thread is a daemon.
            self._thread.join(timeout=0.5)
        self._thread = None

    def __enter__(self) -> AlpacaBroker:
        return self.connect()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ----- requests -----------------------------------------------------------------------

    def submit(self, request: OrderRequest) -> Order:
        """Send an order (a client order id is made if the request has none)."""
        cid = request.client_order_id or uuid.uuid4().hex
        req = alpaca_request(request, cid)

        def lookup() -> AlpacaOrder | None:
            try:
                found = self._client.get_order_by_client_id(cid)
            except APIError as e:
                if e.status_code == 404:
                    return None
                raise
            assert isinstance(found, AlpacaOrder)
            return found

        mine = request.model_copy(update={"client_order_id": cid})
        with self._lock:
            self._orders.sending[cid] = mine  # the stream may show it before the reply
        try:
            placed = self._call(lambda: self._client.submit_order(req), before_retry=lookup)
            assert isinstance(placed, AlpacaOrder)
            with self._lock:
                order = self._orders.adopt(placed, mine)
                for leg in placed.legs or []:
                    self._orders.adopt(leg, None)
        finally:
            with self._lock:
                self._orders.sending.pop(cid, None)
        return order

    def cancel(self, order_id: str) -> None:
        with self._lock:
            self.manager.request_cancel(order_id)

        def done_already() -> AlpacaOrder | None:
            # A retried cancel whose first attempt went through: the order is no longer open.
            got = expect(AlpacaOrder, self._client.get_order_by_id(order_id))
            return got if got.status.value in ENDED else None

        ended = self._call(lambda: self._client.cancel_order_by_id(order_id), done_already)
        if ended is not None:
            with self._lock:
                self._orders.sync(ended)

    def replace(
        self, order_id: str, terms: ReplaceTerms | None = None, **changes: Unpack[ReplaceChanges]
    ) -> None:
        t = replace_terms(terms, changes)
        req = replace_request(t)
        with self._lock:
            self.manager.request_replace(order_id, t)
        new = self._call(lambda: self._client.replace_order_by_id(order_id, req))
        assert isinstance(new, AlpacaOrder)
        with self._lock:  # the stream may have said so already
            self._orders.replaced(order_id, str(new.id), self._orders.ns(new.created_at))
            self._orders.sync(new)

    # ----- queries ------------------------------------------------------------------------

    def positions(self) -> dict[str, Position]:
        out = {}
        for raw in expect(list, self._call(self._client.get_all_positions)):
            p = expect(AlpacaPosition, raw)
            qty, avg = Decimal(p.qty), Decimal(p.avg_entry_price)
            mark = decimal_of(p.current_price)
            out[p.symbol] = Position.adopt(
                {
                    "symbol": p.symbol,
                    "qty": qty,
                    "avg_price": avg,
                    "cost_basis": Decimal(p.cost_basis),
                    "realized_pnl": Decimal(0),
                    "mark": mark,
                    "market_value": decimal_of(p.market_value) or Decimal(0),
                    "unrealized_pnl": decimal_of(p.unrealized_pl) or Decimal(0),
                }
            )
        return out

    def account(self) -> AccountSnapshot:
        a = expect(TradeAccount, self._call(self._client.get_account))
        zero = Decimal(0)
        return AccountSnapshot.adopt(
            {
                "cash": decimal_of(a.cash) or zero,
                "equity": decimal_of(a.equity) or zero,
                "buying_power": decimal_of(a.buying_power) or zero,
                "reserved": zero,
                "leverage": decimal_of(a.multiplier) or Decimal(1),
                "long_market_value": decimal_of(a.long_market_value) or zero,
                "short_market_value": decimal_of(a.short_market_value) or zero,
                "realized_pnl": zero,
                "unrealized_pnl": zero,
                "fees_paid": decimal_of(a.accrued_fees) or zero,
                "positions": self.positions(),
            }
        )

    def now_ns(self) -> int:
        """The time of the clock this broker's timers run on (``clock=``, else the wall clock),
        without a request: the broker is a :class:`fillforge.time.Clock`."""
        return self._time.now_ns()

    def clock(self) -> BrokerClock:
        c = expect(AlpacaClock, self._call(self._client.get_clock))
        return BrokerClock.trusted(
            timestamp_ns=self._orders.ns(c.timestamp),
            is_open=c.is_open,
            next_open_ns=self._orders.ns(c.next_open),
            next_close_ns=self._orders.ns(c.next_close),
        )

    # ----- history (fillforge.journal.reconcile.FillHistory) ---------------------------------

    def fills_since(self, ts_ns: int) -> list[Fill]:
        """The account's fills at or after ``ts_ns``, oldest first: Alpaca's ``FILL`` account
        activities, paged. Each fill's ``trade_id`` is the execution id (the activity id's part
        after ``::``, the trade-update stream's ``execution_id``)."""
        params: dict[str, Any] = {"direction": "asc", "page_size": _PAGE}
        if ts_ns > 0:
            params["after"] = to_iso(ts_ns - 1)  # Alpaca's "after" is strict
        out: list[Fill] = []
        while True:
            get = functools.partial(self._client.get, "/account/activities/FILL", dict(params))
            page = expect(list, self._call(get))
            for a in page:
                ts = from_iso(a["transaction_time"], "transaction_time")
                out.append(
                    Fill(
                        trade_id=str(a["id"]).rpartition("::")[2],
                        order_id=str(a["order_id"]),
                        price=Decimal(a["price"]),
                        qty=Decimal(a["qty"]),
                        ts_event=ts,
                        ts_recv=ts,
                    )
                )
            if len(page) < _PAGE:
                return out
            params["page_token"] = page[-1]["id"]

    def venue_order(self, order_id: str) -> Order | None:
        """Alpaca's order ``order_id`` (asked, not the local copy), brought into the local
        orders; None when Alpaca has none."""
        return self._venue_lookup(lambda: self._client.get_order_by_id(order_id))

    def venue_order_by_client_id(self, client_order_id: str) -> Order | None:
        """Alpaca's order with this client order id (asked), brought into the local orders;
        None when Alpaca has none."""
        return self._venue_lookup(lambda: self._client.get_order_by_client_id(client_order_id))

    def _venue_lookup(self, ask: Callable[[], object]) -> Order | None:
        try:
            got = expect(AlpacaOrder, self._call(ask))
        except AlpacaError as e:
            if e.status in (404, 422):  # none (422: not even a well-formed id)
                return None
            raise
        with self._lock:
            try:
                return self._orders.adopt(got, None)
            except DuplicateClientOrderIdError:
                # A replaced order whose client order id moved on to its replacement, which is
                # held here: its view comes from an order manager of its own.
                own = OrderManager(clock=self._time.now_ns)
                alone = OrderSync(own, threading.RLock(), self._client, self._call, self._time)
                return alone.adopt(got, None)

    # ----- market data ----------------------------------------------------------------------

    def _quotes(self, symbols: list[str]) -> dict[str, Quote]:
        req = StockLatestQuoteRequest(symbol_or_symbols=symbols)
        got = expect(dict, self._call(lambda: self._data.get_stock_latest_quote(req), key="data"))
        return {s: quote_of(s, expect(AlpacaQuote, q)) for s, q in got.items()}

    def _trades(self, symbols: list[str]) -> dict[str, Trade]:
        req = StockLatestTradeRequest(symbol_or_symbols=symbols)
        got = expect(dict, self._call(lambda: self._data.get_stock_latest_trade(req), key="data"))
        return {s: trade_of(s, expect(AlpacaTrade, t)) for s, t in got.items()}

    def _bars(self, symbols: list[str]) -> dict[str, Bar]:
        req = StockLatestBarRequest(symbol_or_symbols=symbols)
        got = expect(dict, self._call(lambda: self._data.get_stock_latest_bar(req), key="data"))
        return {s: bar_of(s, expect(AlpacaBar, b)) for s, b in got.items()}

    # ----- keeping the local state right ----------------------------------------------------

    def reconcile(self) -> None:
        """Bring every local open order (and any open order Alpaca has that we do not) up to
        Alpaca's state: after a start or a stream reconnect
        (:class:`~fillforge.alpaca.order_sync.OrderSync`)."""
        self._orders.reconcile()
