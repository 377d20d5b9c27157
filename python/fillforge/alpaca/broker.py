"""``AlpacaBroker``: the :class:`~fillforge.broker.Broker` interface on a real Alpaca account
(or any Alpaca-compatible server) through the official alpaca-py SDK.

Requests go through alpaca-py's ``TradingClient``; order updates arrive on its ``TradingStream``.
Both drive the same order state machines as the simulator, so strategy code does not change
between them. Alpaca runs bracket/OCO/OTO logic itself: every Alpaca order (a parent and each
leg) is one simple order in the local manager, updated from what Alpaca reports.

Robustness: requests are limited locally by the Rust throttle; timeouts, 429 (waiting for
``X-Ratelimit-Reset``) and 5xx are retried with exponential backoff and jitter (tenacity); other
4xx raise :class:`AlpacaError` at once. A submit always carries a client order id, and before
each retry the order is looked up by it, so a timeout never makes a duplicate. Credentials come
from the arguments or ``APCA_API_KEY_ID`` / ``APCA_API_SECRET_KEY`` and are never logged.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import ipaddress
import os
import threading
import time
import urllib.parse
import uuid
import warnings
from collections.abc import Callable
from decimal import Decimal
from typing import Any, TypeVar, Unpack

import requests
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
from alpaca.trading.enums import QueryOrderStatus
from alpaca.trading.models import Clock as AlpacaClock
from alpaca.trading.models import Order as AlpacaOrder
from alpaca.trading.models import Position as AlpacaPosition
from alpaca.trading.models import TradeAccount, TradeUpdate
from alpaca.trading.requests import (
    GetOrdersRequest,
    LimitOrderRequest,
    MarketOrderRequest,
    ReplaceOrderRequest,
    StopLimitOrderRequest,
    StopLossRequest,
    StopOrderRequest,
    TakeProfitRequest,
    TrailingStopOrderRequest,
)
from alpaca.trading.stream import TradingStream
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from fillforge.broker import (
    AccountSnapshot,
    Bar,
    BrokerClock,
    Position,
    Quote,
    ReplaceChanges,
    TimerCallback,
    Trade,
    WallTimers,
    replace_terms,
)
from fillforge.broker.polling import PolledMarketData
from fillforge.errors import AlpacaError, FillforgeError, TimeError
from fillforge.orders.enums import EventKind, LiquiditySide, OrderClass, OrderSide, OrderType
from fillforge.orders.manager import ManagedOrders, OrderManager
from fillforge.orders.models import Fill, OrderRequest, ReplaceTerms, VenueReport
from fillforge.orders.order import Order
from fillforge.throttle import RateLimiter, SlidingWindow
from fillforge.time import (
    NS_PER_MINUTE,
    NS_PER_SECOND,
    Clock,
    WallClock,
    from_datetime,
    from_seconds,
)

__all__ = ["AlpacaBroker", "AlpacaError"]

_T = TypeVar("_T")
_M = TypeVar("_M")
# The SDK's private connect step, wrapped to notice its silent reconnects (alpaca-py 0.44).
_SDK_CONNECT = "_start_ws"
# Without that hook, open orders are reconciled on this timer instead (seconds).
_FALLBACK_RECONCILE_S = 5.0
_RETRYABLE = {429, 500, 502, 503, 504}
_RECONCILE = "\0reconcile"  # the scheduler's timer name for the reconcile timer
_ENDED = {"canceled", "expired", "filled", "rejected", "replaced"}
_STATUS_EVENT = {
    "canceled": EventKind.CANCELED,
    "expired": EventKind.EXPIRED,
    "rejected": EventKind.REJECTED,
    "done_for_day": EventKind.DONE_FOR_DAY,
}


def _as(cls: type[_M], value: object) -> _M:
    """alpaca-py returns models (or raw dicts with ``raw_data=True``, which we never set)."""
    if not isinstance(value, cls):
        raise AlpacaError(None, None, f"expected {cls.__name__} from alpaca-py, got {value!r:.80}")
    return value


def _loopback(url: str) -> bool:
    host = urllib.parse.urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _retryable(e: BaseException) -> bool:
    if isinstance(e, requests.Timeout | requests.ConnectionError):
        return True
    return isinstance(e, APIError) and (e.status_code or 0) in _RETRYABLE


def _typed(e: APIError) -> AlpacaError:
    try:
        code, message = e.code, e.message
    except (ValueError, KeyError, TypeError):
        code, message = None, str(e)
    return AlpacaError(e.status_code, code, str(message))


def _d(v: object) -> Decimal | None:
    return None if v is None or v == "" else Decimal(str(v))


class AlpacaBroker(ManagedOrders):
    """A :class:`~fillforge.broker.Broker` over alpaca-py.

    ``url_override`` / ``stream_url`` point at an Alpaca-compatible server (fillforge's own, in
    tests); without them, ``paper`` picks Alpaca's paper or live endpoints. ``timeout`` bounds each
    HTTP request (seconds); ``attempts`` and ``max_wait`` bound the retries. ``reconcile_every``
    (seconds) also reconciles on a timer while connected; it defaults to 5 s when the SDK's
    stream cannot be watched for reconnects (see :meth:`_watch_reconnects`), and to off otherwise.
    ``clock`` tells the time (default: the wall clock): request times, timers.

    Timers (:meth:`set_timer`) fire on one scheduler thread at ``clock``'s times; the reconcile
    timer runs there too. Market data comes from alpaca-py's ``StockHistoricalDataClient`` at
    ``data_url`` (default: ``url_override``, else Alpaca's data API); subscriptions poll it every
    ``data_poll_every`` seconds (see :mod:`fillforge.broker.polling`).
    """

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
            _tune(client, url, timeout)
        self._limiter = RateLimiter(SlidingWindow(requests_per_minute, NS_PER_MINUTE))
        self._attempts, self._max_wait = attempts, max_wait
        self._backoff = wait_exponential_jitter(multiplier=0.05, max=max_wait, jitter=0.05)
        self._time = clock if clock is not None else WallClock()
        self._timers = WallTimers(self._time, name="alpaca-timers")
        self._market_data = PolledMarketData(
            self._timers,
            from_seconds(data_poll_every, "data_poll_every"),
            {"quotes": self._quotes, "trades": self._trades, "bars": self._bars},
        )
        self.manager = OrderManager(clock=self._time.now_ns)
        self._lock = threading.RLock()
        self._stream: TradingStream | None = None
        self._thread: threading.Thread | None = None
        self.reconnects = 0
        if reconcile_every is not None and not reconcile_every > 0:
            raise AlpacaError(None, None, f"reconcile_every must be > 0, got {reconcile_every!r}")
        self._reconcile_every = reconcile_every
        if stream:
            if stream_url:
                self._stream = TradingStream(key, secret, paper=paper, url_override=stream_url)
            else:
                self._stream = TradingStream(key, secret, paper=paper)
            self._stream.subscribe_trade_updates(self._on_update)
            if not self._watch_reconnects(self._stream) and reconcile_every is None:
                self._reconcile_every = _FALLBACK_RECONCILE_S

    def _watch_reconnects(self, stream: TradingStream) -> bool:
        """Reconcile after every reconnect of the SDK's stream (it reconnects by itself, with
        backoff, and says nothing): updates sent while it was down are otherwise lost. This wraps
        the SDK's connect step, ``TradingStream._start_ws`` (alpaca-py 0.44), which is private:
        an SDK without it gets a warning and False, and the caller falls back to a timer."""
        connect = getattr(stream, _SDK_CONNECT, None)
        if connect is None or not inspect.iscoroutinefunction(connect):
            warnings.warn(
                f"alpaca-py's TradingStream has no async {_SDK_CONNECT}: reconnects are not "
                f"seen, open orders are reconciled every {_FALLBACK_RECONCILE_S:g} s instead",
                RuntimeWarning,
                stacklevel=3,
            )
            return False
        connects = 0

        async def start_ws() -> None:
            nonlocal connects
            await connect()
            connects += 1
            if connects > 1:
                self.reconnects += 1
                threading.Thread(target=self._reconcile_quietly, daemon=True).start()

        setattr(stream, _SDK_CONNECT, start_ws)
        return True

    def _reconcile_quietly(self, _t: int = 0) -> None:
        with contextlib.suppress(FillforgeError, requests.RequestException, APIError):
            self.reconcile()

    def _ns(self, t: Any) -> int:
        """An SDK time (an aware datetime) in ns; the clock's time when the SDK gives none."""
        return from_datetime(t) if t is not None else self._time.now_ns()

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
            self._timers.set(_RECONCILE, self._reconcile_quietly, every_ns=every)
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

    # ----- transport ----------------------------------------------------------------------

    def _call(
        self,
        fn: Callable[[], _T],
        before_retry: Callable[[], _T | None] | None = None,
        key: str = "rest",
    ) -> _T:
        """One SDK call: rate-limited locally (per ``key``: trading ``rest``, market ``data``),
        retried on timeouts, 429 and 5xx."""

        def wait(state: RetryCallState) -> float:
            base = self._backoff(state)
            outcome = state.outcome
            e = outcome.exception() if outcome is not None else None
            if isinstance(e, APIError) and e.status_code == 429 and e.response is not None:
                reset = e.response.headers.get("X-Ratelimit-Reset")
                if reset is not None:
                    with contextlib.suppress(ArithmeticError, TimeError):  # a reset we cannot read
                        left_ns = from_seconds(Decimal(reset), "X-Ratelimit-Reset")
                        left = (left_ns - self._time.now_ns()) / NS_PER_SECOND
                        return float(min(max(left, base), self._max_wait))
            return float(base)

        for attempt in Retrying(
            retry=retry_if_exception(_retryable),
            wait=wait,
            stop=stop_after_attempt(self._attempts),
            reraise=True,
        ):
            with attempt:
                if attempt.retry_state.attempt_number > 1 and before_retry is not None:
                    found = before_retry()
                    if found is not None:
                        return found
                while not self._limiter.try_acquire(key):
                    time.sleep(self._limiter.wait_time(key) / NS_PER_SECOND)
                try:
                    return fn()
                except APIError as e:
                    if _retryable(e):
                        raise
                    raise _typed(e) from None
        raise AssertionError("unreachable")  # Retrying re-raises the last error

    # ----- requests -----------------------------------------------------------------------

    def submit(self, request: OrderRequest) -> Order:
        """Send an order (a client order id is made if the request has none)."""
        cid = request.client_order_id or uuid.uuid4().hex
        req = _alpaca_request(request, cid)

        def lookup() -> AlpacaOrder | None:
            try:
                found = self._client.get_order_by_client_id(cid)
            except APIError as e:
                if e.status_code == 404:
                    return None
                raise
            assert isinstance(found, AlpacaOrder)
            return found

        placed = self._call(lambda: self._client.submit_order(req), before_retry=lookup)
        assert isinstance(placed, AlpacaOrder)
        with self._lock:
            order = self._adopt(placed, request.model_copy(update={"client_order_id": cid}))
            for leg in placed.legs or []:
                self._adopt(leg, None)
        return order

    def cancel(self, order_id: str) -> None:
        with self._lock:
            self.manager.request_cancel(order_id)

        def done_already() -> AlpacaOrder | None:
            # A retried cancel whose first attempt went through: the order is no longer open.
            got = _as(AlpacaOrder, self._client.get_order_by_id(order_id))
            return got if got.status.value in _ENDED else None

        ended = self._call(lambda: self._client.cancel_order_by_id(order_id), done_already)
        if ended is not None:
            with self._lock:
                self._sync(ended)

    def replace(
        self, order_id: str, terms: ReplaceTerms | None = None, **changes: Unpack[ReplaceChanges]
    ) -> None:
        t = replace_terms(terms, changes)
        req = ReplaceOrderRequest(
            qty=None if t.qty is None else int(t.qty),
            limit_price=_f(t.limit_price),
            stop_price=_f(t.stop_price),
            trail=_f(t.trail),
            client_order_id=t.client_order_id,
        )
        with self._lock:
            self.manager.request_replace(order_id, t)
        new = self._call(lambda: self._client.replace_order_by_id(order_id, req))
        assert isinstance(new, AlpacaOrder)
        with self._lock:
            old = self.manager.get(order_id)
            if old.replaced_by is None:  # the stream has not said so yet
                report = VenueReport.trusted(
                    kind=EventKind.REPLACED,
                    order_id=order_id,
                    ts=self._ns(new.created_at),
                    new_order_id=str(new.id),
                )
                self.manager.apply(report)
            self._sync(new)

    # ----- queries ------------------------------------------------------------------------

    def positions(self) -> dict[str, Position]:
        out = {}
        for raw in _as(list, self._call(self._client.get_all_positions)):
            p = _as(AlpacaPosition, raw)
            qty, avg = Decimal(p.qty), Decimal(p.avg_entry_price)
            mark = _d(p.current_price)
            out[p.symbol] = Position.adopt(
                {
                    "symbol": p.symbol,
                    "qty": qty,
                    "avg_price": avg,
                    "cost_basis": Decimal(p.cost_basis),
                    "realized_pnl": Decimal(0),
                    "mark": mark,
                    "market_value": _d(p.market_value) or Decimal(0),
                    "unrealized_pnl": _d(p.unrealized_pl) or Decimal(0),
                }
            )
        return out

    def account(self) -> AccountSnapshot:
        a = _as(TradeAccount, self._call(self._client.get_account))
        zero = Decimal(0)
        return AccountSnapshot.adopt(
            {
                "cash": _d(a.cash) or zero,
                "equity": _d(a.equity) or zero,
                "buying_power": _d(a.buying_power) or zero,
                "reserved": zero,
                "leverage": _d(a.multiplier) or Decimal(1),
                "long_market_value": _d(a.long_market_value) or zero,
                "short_market_value": _d(a.short_market_value) or zero,
                "realized_pnl": zero,
                "unrealized_pnl": zero,
                "fees_paid": _d(a.accrued_fees) or zero,
                "positions": self.positions(),
            }
        )

    def clock(self) -> BrokerClock:
        c = _as(AlpacaClock, self._call(self._client.get_clock))
        return BrokerClock.trusted(
            timestamp_ns=self._ns(c.timestamp),
            is_open=c.is_open,
            next_open_ns=self._ns(c.next_open),
            next_close_ns=self._ns(c.next_close),
        )

    # ----- timers ---------------------------------------------------------------------------

    def set_timer(
        self,
        name: str,
        callback: TimerCallback,
        *,
        at_ns: int | None = None,
        every_ns: int | None = None,
    ) -> None:
        """Call ``callback(t)`` at ``at_ns`` or every ``every_ns`` of the clock's time, on the
        scheduler thread (``t``: the time it was due)."""
        self._timers.set(name, callback, at_ns=at_ns, every_ns=every_ns)

    def cancel_timer(self, name: str) -> None:
        self._timers.cancel(name)

    # ----- market data ----------------------------------------------------------------------

    def latest_quote(self, symbol: str) -> Quote | None:
        """Alpaca's latest quote of ``symbol``; None when it shows none (or the symbol is
        unknown: Alpaca leaves those out)."""
        return self._quotes([symbol]).get(symbol)

    def last_trade(self, symbol: str) -> Trade | None:
        """Alpaca's latest trade of ``symbol``; None when it shows none."""
        return self._trades([symbol]).get(symbol)

    def subscribe_quotes(
        self, symbol: str, callback: Callable[[Quote], None]
    ) -> Callable[[], None]:
        return self._market_data.subscribe("quotes", symbol, callback)

    def subscribe_trades(
        self, symbol: str, callback: Callable[[Trade], None]
    ) -> Callable[[], None]:
        return self._market_data.subscribe("trades", symbol, callback)

    def subscribe_bars(self, symbol: str, callback: Callable[[Bar], None]) -> Callable[[], None]:
        return self._market_data.subscribe("bars", symbol, callback)

    def _quotes(self, symbols: list[str]) -> dict[str, Quote]:
        req = StockLatestQuoteRequest(symbol_or_symbols=symbols)
        got = _as(dict, self._call(lambda: self._data.get_stock_latest_quote(req), key="data"))
        return {s: _quote(s, _as(AlpacaQuote, q)) for s, q in got.items()}

    def _trades(self, symbols: list[str]) -> dict[str, Trade]:
        req = StockLatestTradeRequest(symbol_or_symbols=symbols)
        got = _as(dict, self._call(lambda: self._data.get_stock_latest_trade(req), key="data"))
        return {
            s: Trade(
                symbol=s,
                price=_price(t.price),
                size=_price(t.size),
                timestamp_ns=from_datetime(t.timestamp),
            )
            for s, t in ((s, _as(AlpacaTrade, t)) for s, t in got.items())
        }

    def _bars(self, symbols: list[str]) -> dict[str, Bar]:
        req = StockLatestBarRequest(symbol_or_symbols=symbols)
        got = _as(dict, self._call(lambda: self._data.get_stock_latest_bar(req), key="data"))
        out = {}
        for s, raw in got.items():
            b = _as(AlpacaBar, raw)
            out[s] = Bar(
                symbol=s,
                open=_price(b.open),
                high=_price(b.high),
                low=_price(b.low),
                close=_price(b.close),
                volume=_price(b.volume),
                trade_count=int(b.trade_count or 0),
                vwap=_price(b.vwap or b.close),
                timestamp_ns=from_datetime(b.timestamp),
                period_ns=NS_PER_MINUTE,
            )
        return out

    # ----- keeping the local state right ----------------------------------------------------

    def reconcile(self) -> None:
        """Bring every local open order (and any open order Alpaca has that we do not) up to
        Alpaca's state: after a start or a stream reconnect."""
        query = GetOrdersRequest(status=QueryOrderStatus.OPEN, limit=500)
        remote = _as(list, self._call(lambda: self._client.get_orders(query)))
        with self._lock:
            for raw in remote:
                a = _as(AlpacaOrder, raw)
                if str(a.id) in self.manager.orders:
                    self._sync(a)
                else:
                    self._adopt(a, None)
            for o in self.manager.open_orders():
                got = self._call(functools.partial(self._client.get_order_by_id, o.id))
                self._sync(_as(AlpacaOrder, got))

    async def _on_update(self, update: TradeUpdate) -> None:
        with self._lock:
            fill = None
            if update.event in ("fill", "partial_fill") and update.execution_id is not None:
                fill = (str(update.execution_id), _d(update.price), _d(update.qty))
            if str(update.order.id) not in self.manager.orders:
                self._adopt(update.order, None)
            else:
                self._sync(update.order, fill, self._ns(update.timestamp))

    def _adopt(self, a: AlpacaOrder, request: OrderRequest | None) -> Order:
        """Register an Alpaca order (ours, a leg, or one placed elsewhere) as a simple order."""
        oid = str(a.id)
        if oid in self.manager.orders:
            self._sync(a)
            return self.manager.get(oid)
        r = request or _request_of(a)
        simple = r.model_copy(
            update={"order_class": OrderClass.SIMPLE, "take_profit": None, "stop_loss": None}
        )
        order = self.manager.create(simple, order_id=oid, ts=self._ns(a.created_at))
        self.manager.submit(oid, ts=self._ns(a.submitted_at))
        self._sync(a)
        return order

    def _sync(
        self,
        a: AlpacaOrder,
        fill: tuple[str, Decimal | None, Decimal | None] | None = None,
        ts: int | None = None,
    ) -> None:
        """Apply what an Alpaca order snapshot (and a fill, from the stream) says happened."""
        oid = str(a.id)
        o = self.manager.get(oid)
        t = ts if ts is not None else self._ns(a.updated_at)
        status = a.status.value
        if o.status.value in ("pending_new", "created") and status not in (
            "pending_new",
            "rejected",
            "held",
        ):
            self._report(EventKind.NEW, oid, t)
        if o.status.value == "held" and status not in ("held",):
            self._report(EventKind.NEW, oid, t)
        # Fills: Alpaca's filled_qty is the truth. A stream fill applies at its own price; what
        # it leaves unexplained (fills missed while the stream was down, or known only from a
        # REST snapshot) is caught up by one fill at the price the average implies. A fill
        # already counted (the REST answer came first) is not applied twice.
        # Alpaca's filled_qty is the truth. A stream fill applies at its own price; what it leaves
        # unexplained (fills missed while the stream was down, or known only from a REST answer)
        # is caught up by one fill at the price the average implies; nothing counts twice.
        filled = Decimal(a.filled_qty or 0)
        gap = filled - o.cum_qty
        if gap > 0:
            own_px = fill[1] if fill is not None else None
            own = min(fill[2] or Decimal(0), gap) if fill is not None and own_px else Decimal(0)
            if gap > own and a.filled_avg_price is not None:
                qty = gap - own
                prior = (o.avg_price or Decimal(0)) * o.cum_qty
                price = (Decimal(a.filled_avg_price) * filled - prior - (own_px or 0) * own) / qty
                self._fill(o, f"{oid}-sync-{o.cum_qty + qty}", price, qty, o.cum_qty + qty, t)
            if own > 0 and fill is not None and own_px is not None:
                self._fill(o, fill[0], own_px, own, o.cum_qty + own, t)
        if status == "replaced" and a.replaced_by is not None and o.replaced_by is None:
            new_id = str(a.replaced_by)
            if o.pending_request is None:
                self.manager.request_replace(oid, ReplaceTerms())
            self.manager.apply(
                VenueReport.trusted(
                    kind=EventKind.REPLACED, order_id=oid, ts=t, new_order_id=new_id
                )
            )
            return
        kind = _STATUS_EVENT.get(status)
        if kind is not None and o.status.is_open:
            self._report(kind, oid, t)

    def _fill(
        self, o: Order, trade_id: str, price: Decimal, qty: Decimal, filled: Decimal, t: int
    ) -> None:
        f = Fill.trusted(
            trade_id=trade_id,
            order_id=o.id,
            price=price,
            qty=qty,
            liquidity=LiquiditySide.TAKER,
            commission=Decimal(0),
            ts_event=t,
            ts_recv=self._time.now_ns(),
        )
        kind = EventKind.FILL if filled >= o.order_qty else EventKind.PARTIAL_FILL
        self.manager.apply(VenueReport.trusted(kind=kind, order_id=o.id, ts=t, fill=f))

    def _report(self, kind: EventKind, oid: str, t: int) -> None:
        # A report the state already reflects (a repeat from the stream and REST) is refused.
        with contextlib.suppress(FillforgeError):
            self.manager.apply(VenueReport.trusted(kind=kind, order_id=oid, ts=t))


def _tune(client: Any, url: str | None, timeout: float) -> None:
    """Bound every request of an alpaca-py client by ``timeout``; leave retries to tenacity."""
    client._retry = 0  # tenacity replaces the SDK's fixed 3 s sleeps
    session = client._session
    if url is not None and _loopback(url):
        # No proxy, .netrc or CA bundle from the environment applies to a local server, and
        # requests would otherwise re-read the environment on every call (a sixth of the
        # client's time per order) and send loopback traffic to any HTTP(S)_PROXY set.
        session.trust_env = False
    plain = session.request
    session.request = lambda *a, **kw: plain(*a, **{"timeout": timeout, **kw})


def _price(v: float) -> Decimal:
    """An SDK number as the decimal it was sent as: its shortest repr (exact for JSON text of
    up to 15 significant digits, which prices and sizes are)."""
    return Decimal(repr(float(v)))


def _quote(symbol: str, q: AlpacaQuote) -> Quote:
    """A quote; a side Alpaca shows as 0 (empty) has no price."""
    return Quote(
        symbol=symbol,
        bid_price=_price(q.bid_price) if q.bid_price else None,
        bid_size=_price(q.bid_size) if q.bid_price else Decimal(0),
        ask_price=_price(q.ask_price) if q.ask_price else None,
        ask_size=_price(q.ask_size) if q.ask_price else Decimal(0),
        timestamp_ns=from_datetime(q.timestamp),
    )


def _request_of(a: AlpacaOrder) -> OrderRequest:
    """The request an Alpaca order stands for (to adopt legs and foreign orders)."""
    return OrderRequest(
        symbol=a.symbol or "",
        side=OrderSide(a.side.value if a.side else "buy"),
        type=OrderType(a.type.value if a.type else "market"),
        time_in_force=a.time_in_force.value,  # type: ignore[arg-type]
        qty=_d(a.qty),
        notional=_d(a.notional),
        limit_price=_d(a.limit_price),
        stop_price=_d(a.stop_price)
        if (a.type and a.type.value in ("stop", "stop_limit"))
        else None,
        trail_price=_d(a.trail_price),
        trail_percent=_d(a.trail_percent),
        client_order_id=a.client_order_id,
    )


def _f(d: Decimal | None) -> float | None:
    return None if d is None else float(d)


def _alpaca_request(r: OrderRequest, cid: str) -> Any:
    """alpaca-py's request model for ``r``."""
    common: dict[str, Any] = {
        "symbol": r.symbol,
        "qty": _f(r.qty),
        "notional": _f(r.notional),
        "side": r.side.value,
        "time_in_force": r.time_in_force.value,
        "client_order_id": cid,
        "extended_hours": r.extended_hours or None,
    }
    if r.order_class is not OrderClass.SIMPLE:
        common["order_class"] = r.order_class.value
        if r.take_profit is not None:
            common["take_profit"] = TakeProfitRequest(limit_price=float(r.take_profit.limit_price))
        if r.stop_loss is not None:
            common["stop_loss"] = StopLossRequest(
                stop_price=float(r.stop_loss.stop_price), limit_price=_f(r.stop_loss.limit_price)
            )
    common = {k: v for k, v in common.items() if v is not None}
    t = r.type
    if t is OrderType.MARKET:
        return MarketOrderRequest(**common)
    if t is OrderType.LIMIT:
        return LimitOrderRequest(limit_price=_f(r.limit_price), **common)
    if t is OrderType.STOP:
        return StopOrderRequest(stop_price=_f(r.stop_price), **common)
    if t is OrderType.STOP_LIMIT:
        return StopLimitOrderRequest(
            stop_price=_f(r.stop_price), limit_price=_f(r.limit_price), **common
        )
    return TrailingStopOrderRequest(
        trail_price=_f(r.trail_price), trail_percent=_f(r.trail_percent), **common
    )
