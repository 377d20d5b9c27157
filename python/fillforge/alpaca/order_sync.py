"""Keeping :class:`~fillforge.alpaca.broker.AlpacaBroker`'s local orders right: Alpaca's orders
(ours, their legs, and orders placed elsewhere) adopted as simple orders in the local
:class:`~fillforge.orders.manager.OrderManager`, the trade-update stream and REST snapshots
applied to them as venue reports, and open orders reconciled after a start or a reconnect.

Alpaca runs bracket/OCO/OTO logic itself: every Alpaca order (a parent and each leg) is one
simple order here, updated from what Alpaca reports. Alpaca's ``filled_qty`` is the truth for
fills: a stream fill applies at its own price; what it leaves unexplained (fills missed while the
stream was down, or known only from a REST answer) is caught up by one fill at the price the
average implies; nothing counts twice.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import threading
import warnings
from collections.abc import Callable
from decimal import Decimal
from typing import Any, Final, Protocol, TypeVar

import requests
from alpaca.common.exceptions import APIError
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import QueryOrderStatus
from alpaca.trading.models import Order as AlpacaOrder
from alpaca.trading.models import TradeUpdate
from alpaca.trading.requests import GetOrdersRequest
from alpaca.trading.stream import TradingStream

from fillforge.alpaca.convert import STATUS_EVENT, decimal_of, expect, request_of
from fillforge.errors import FillforgeError
from fillforge.orders.enums import EventKind, OrderClass
from fillforge.orders.manager import OrderManager
from fillforge.orders.models import OrderRequest, ReplaceTerms, VenueReport
from fillforge.orders.order import Order
from fillforge.time import Clock, from_datetime
from fillforge.venues.reports import report_fill, report_state

__all__ = ["OrderSync"]

_T = TypeVar("_T")
# The SDK's private connect step, wrapped to notice its silent reconnects (alpaca-py 0.44).
_SDK_CONNECT = "_start_ws"
# Without that hook, open orders are reconciled on a timer instead, this often (seconds).
_FALLBACK_RECONCILE_S: Final[float] = 5.0
_StreamFill = tuple[str, Decimal | None, Decimal | None]  # execution id, price, qty


class _Call(Protocol):
    def __call__(
        self, fn: Callable[[], _T], before_retry: Callable[[], _T | None] | None = ...
    ) -> _T: ...


class OrderSync:
    """Alpaca's orders into ``manager``, under ``lock``: ``call`` sends REST calls (rate limited
    and retried), ``clock`` stamps what the SDK gives no time for."""

    def __init__(
        self,
        manager: OrderManager,
        lock: threading.RLock,
        client: TradingClient,
        call: _Call,
        clock: Clock,
    ) -> None:
        self.manager = manager
        self._lock = lock
        self._client = client
        self._call = call
        self._time = clock
        self.reconnects = 0
        # Requests on their way, by client order id: an order the stream (or a reconcile) shows
        # before the REST reply returns is adopted with the request we sent, not one read back
        # from the wire (Alpaca answers a collared market order as a limit).
        self.sending: dict[str, OrderRequest] = {}

    def ns(self, t: Any) -> int:
        """An SDK time (an aware datetime) in ns; the clock's time when the SDK gives none."""
        return from_datetime(t) if t is not None else self._time.now_ns()

    # ----- reconnects -------------------------------------------------------------------------

    def watch_reconnects(self, stream: TradingStream) -> float | None:
        """Reconcile after every reconnect of the SDK's stream (it reconnects by itself, with
        backoff, and says nothing): updates sent while it was down are otherwise lost. This wraps
        the SDK's connect step, ``TradingStream._start_ws`` (alpaca-py 0.44), which is private:
        an SDK without it gets a warning, and the answer is the period (seconds) to reconcile on
        instead; None when reconnects are watched."""
        connect = getattr(stream, _SDK_CONNECT, None)
        if connect is None or not inspect.iscoroutinefunction(connect):
            warnings.warn(
                f"alpaca-py's TradingStream has no async {_SDK_CONNECT}: reconnects are not "
                f"seen, open orders are reconciled every {_FALLBACK_RECONCILE_S:g} s instead",
                RuntimeWarning,
                stacklevel=3,
            )
            return _FALLBACK_RECONCILE_S
        connects = 0

        async def start_ws() -> None:
            nonlocal connects
            await connect()
            connects += 1
            if connects > 1:
                self.reconnects += 1
                threading.Thread(target=self.reconcile_quietly, daemon=True).start()

        setattr(stream, _SDK_CONNECT, start_ws)
        return None

    def reconcile_quietly(self, _t: int = 0) -> None:
        """:meth:`reconcile`, a failure left for the next one (a timer's or a reconnect's)."""
        with contextlib.suppress(FillforgeError, requests.RequestException, APIError):
            self.reconcile()

    def reconcile(self) -> None:
        """Bring every local open order (and any open order Alpaca has that we do not) up to
        Alpaca's state."""
        query = GetOrdersRequest(status=QueryOrderStatus.OPEN, limit=500)
        remote = expect(list, self._call(lambda: self._client.get_orders(query)))
        with self._lock:
            for raw in remote:
                a = expect(AlpacaOrder, raw)
                if str(a.id) in self.manager.orders:
                    self.sync(a)
                else:
                    self.adopt(a, None)
            for o in self.manager.open_orders():
                got = self._call(functools.partial(self._client.get_order_by_id, o.id))
                self.sync(expect(AlpacaOrder, got))

    async def on_update(self, update: TradeUpdate) -> None:
        """One trade update from the stream."""
        with self._lock:
            fill = None
            if update.event in ("fill", "partial_fill") and update.execution_id is not None:
                fill = (str(update.execution_id), decimal_of(update.price), decimal_of(update.qty))
            if str(update.order.id) not in self.manager.orders:
                self.adopt(update.order, None)
            else:
                self.sync(update.order, fill, self.ns(update.timestamp))

    # ----- one order (under the lock) ---------------------------------------------------------

    def adopt(self, a: AlpacaOrder, request: OrderRequest | None) -> Order:
        """Register an Alpaca order (ours, a leg, or one placed elsewhere) as a simple order;
        the replacement of an order we hold (Alpaca's ``replaces``: the stream can show it
        before the replace's REST reply, or the old order's ``replaced``) as that order's
        replacement, carrying its executions, never as a new order whose ``filled_qty`` (the
        old order's fills, carried) would count them again."""
        oid = str(a.id)
        old = str(a.replaces) if a.replaces is not None else None
        if oid not in self.manager.orders and old is not None and old in self.manager.orders:
            self.replaced(old, oid, self.ns(a.created_at))
        if oid in self.manager.orders:
            self.sync(a)
            return self.manager.get(oid)
        if request is None and a.client_order_id is not None:
            request = self.sending.get(a.client_order_id)
        r = request or request_of(a)
        simple = r.model_copy(
            update={"order_class": OrderClass.SIMPLE, "take_profit": None, "stop_loss": None}
        )
        order = self.manager.create(simple, order_id=oid, ts=self.ns(a.created_at), replaces=old)
        self.manager.submit(oid, ts=self.ns(a.submitted_at))
        self.sync(a)
        return order

    def sync(self, a: AlpacaOrder, fill: _StreamFill | None = None, ts: int | None = None) -> None:
        """Apply what an Alpaca order snapshot (and a fill, from the stream) says happened."""
        oid = str(a.id)
        o = self.manager.get(oid)
        t = ts if ts is not None else self.ns(a.updated_at)
        status = a.status.value
        if o.status.value in ("pending_new", "created") and status not in (
            "pending_new",
            "rejected",
            "held",
        ):
            self._report(EventKind.NEW, oid, t)
        if o.status.value == "held" and status not in ("held",):
            self._report(EventKind.NEW, oid, t)
        self._catch_up_fills(o, a, fill, t)
        if status == "replaced" and a.replaced_by is not None and o.replaced_by is None:
            self.replaced(oid, str(a.replaced_by), t)
            return
        kind = STATUS_EVENT.get(status)
        if kind is not None and o.status.is_open:
            self._report(kind, oid, t)

    def replaced(self, oid: str, new_oid: str, t: int) -> None:
        """Alpaca replaced ``oid`` by ``new_oid``: the manager's replacement takes its place
        (and its executions); a replacement the manager already holds (a stream update for it
        came first) is left as it is."""
        o = self.manager.get(oid)
        if o.replaced_by is not None or not o.status.is_open or new_oid in self.manager.orders:
            return
        if o.pending_request is None:  # replaced elsewhere: as if we had asked
            self.manager.request_replace(oid, ReplaceTerms())
        report = VenueReport.trusted(
            kind=EventKind.REPLACED, order_id=oid, ts=t, new_order_id=new_oid
        )
        self.manager.apply(report)

    def _catch_up_fills(self, o: Order, a: AlpacaOrder, fill: _StreamFill | None, t: int) -> None:
        """Fills up to Alpaca's ``filled_qty`` (see the module's notes)."""
        filled = Decimal(a.filled_qty or 0)
        gap = filled - o.cum_qty
        if gap <= 0:
            return
        own_px = fill[1] if fill is not None else None
        own = min(fill[2] or Decimal(0), gap) if fill is not None and own_px else Decimal(0)
        if gap > own and a.filled_avg_price is not None:
            qty = gap - own
            prior = (o.avg_price or Decimal(0)) * o.cum_qty
            price = (Decimal(a.filled_avg_price) * filled - prior - (own_px or 0) * own) / qty
            self._fill(o, f"{o.id}-sync-{o.cum_qty + qty}", price, qty, o.cum_qty + qty, t)
        if own > 0 and fill is not None and own_px is not None:
            self._fill(o, fill[0], own_px, own, o.cum_qty + own, t)

    def _fill(
        self, o: Order, trade_id: str, price: Decimal, qty: Decimal, filled: Decimal, t: int
    ) -> None:
        now = self._time.now_ns()
        whole = filled >= o.order_qty
        report_fill(self.manager, o.id, trade_id, price, qty, ts=t, ts_recv=now, whole=whole)

    def _report(self, kind: EventKind, oid: str, t: int) -> None:
        # A report the state already reflects (a repeat from the stream and REST) is refused.
        report_state(self.manager, kind, oid, t)
