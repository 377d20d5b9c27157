"""``IbkrBroker``: the :class:`~fillforge.broker.Broker` interface on Interactive Brokers through
ib_async (TWS, IB Gateway, or fillforge's local gateway, ``fillforge serve ibkr``).

Symbols are US stocks routed ``SMART`` in USD unless told otherwise; each one's instrument comes
from IB's contract details (tick ``minTick``, lot ``sizeIncrement``, minimum ``minSize``) and
every request is checked against it before anything is sent. Orders: market, limit, stop and
stop-limit; brackets (a parent and its take-profit and stop-loss children, which IB works once
the parent fills) and OCO groups (an IB OCA group). Fills carry IB's commission reports.

Robustness: every message is limited by the Rust throttle (IB allows 50 a second); a submit
that could not go out (the connection down) is sent again after the reconnect under the same IB
order id, which IB treats as the same order, so a retry never makes a duplicate; a dropped
connection is re-established (``reconnect=True``) and reconciled: ``reqExecutions`` applies
every fill that happened meanwhile exactly once (by execution id), ``reqOpenOrders`` brings each
open order's state up to date (:mod:`~fillforge.venues.ibkr.sync`). ib_async runs on a thread
of its own (:mod:`~fillforge.venues.ibkr.loop`): the methods may be called from any thread.
"""

from __future__ import annotations

import copy
import functools
import itertools
import threading
import time
from decimal import Decimal
from typing import Any, Unpack

from fillforge._optional import needs_extra
from fillforge.broker import (
    AccountSnapshot,
    BrokerClock,
    MarketDataMethods,
    Position,
    ReplaceChanges,
    TimerMethods,
    WallTimers,
    replace_terms,
)
from fillforge.errors import BrokerUnavailableError, IbkrError, OrderValidationError
from fillforge.orders.enums import EventKind, OrderClass, OrderStatus
from fillforge.orders.manager import ManagedOrders, OrderManager
from fillforge.orders.models import Instrument, OrderRequest, ReplaceTerms, VenueReport
from fillforge.orders.order import Order
from fillforge.throttle import RateLimiter, SlidingWindow
from fillforge.time import NS_PER_SECOND, Clock, WallClock
from fillforge.venues.ibkr.convert import dec, ib_order, instrument_of, shares
from fillforge.venues.ibkr.history import VenueHistory
from fillforge.venues.ibkr.loop import LoopThread
from fillforge.venues.ibkr.market import StreamedMarketData
from fillforge.venues.ibkr.sync import IbOrders

__all__ = ["IbkrBroker"]

_ZERO = Decimal(0)


def _ib_async() -> Any:
    with needs_extra("ibkr", lambda why: BrokerUnavailableError("ib_async", None, why)):
        import ib_async
    return ib_async


class IbkrBroker(VenueHistory, TimerMethods, MarketDataMethods, ManagedOrders):
    """A :class:`~fillforge.broker.Broker` over one IB API connection (``host``, ``port``,
    ``client_id``). ``account`` is the account orders go to (default: the one IB manages);
    ``timeout`` bounds each request (seconds); ``messages_per_second`` the throttle;
    ``reconnect`` re-establishes a dropped connection every ``reconnect_every`` seconds (for at
    most ``give_up_after``); ``clock`` tells the time timers run on (default: the wall clock).
    Market data: IB's streams for subscribed symbols, snapshots otherwise
    (:mod:`~fillforge.venues.ibkr.market`).
    Use as a context manager, or :meth:`connect` / :meth:`close`."""

    _market_data: StreamedMarketData
    _timers: WallTimers

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 7497,
        client_id: int = 1,
        *,
        account: str | None = None,
        exchange: str = "SMART",
        currency: str = "USD",
        timeout: float = 10.0,
        messages_per_second: int = 45,
        reconnect: bool = True,
        reconnect_every: float = 0.5,
        give_up_after: float = 300.0,
        clock: Clock | None = None,
    ) -> None:
        self._ib_mod = _ib_async()
        if not timeout > 0:
            raise OrderValidationError("timeout", timeout, "must be > 0 seconds")
        if isinstance(client_id, bool) or not isinstance(client_id, int) or client_id < 0:
            raise OrderValidationError("client_id", client_id, "an integer >= 0")
        self.host, self.port, self.client_id = host, port, client_id
        self.account_code = account or ""
        self.exchange, self.currency = exchange, currency
        self.timeout = timeout
        self._time = clock if clock is not None else WallClock()
        self._limiter = RateLimiter(SlidingWindow(messages_per_second, NS_PER_SECOND))
        self._auto = reconnect
        self._every, self._give_up = reconnect_every, give_up_after
        self._timers = WallTimers(self._time, name="ibkr-timers")
        self._lock = threading.RLock()
        self._next_ib_id = 1
        self.manager = OrderManager(clock=self._time.now_ns, id_factory=self._new_id)
        self._orders = IbOrders(self.manager, self._lock, self._time)
        self._replaces = itertools.count(1)
        self.instruments: dict[str, Instrument] = {}
        self._contracts: dict[str, Any] = {}
        self._closing = False
        self._reconnecting = threading.Lock()
        self.reconnects = 0
        self._loop = LoopThread()
        self.ib = self._loop.call(self._ib_mod.IB, timeout)
        self.ib.RaiseRequestErrors = True
        # ib_async paces every message it sends (45 a second by default): the same limit here
        self.ib.client.MaxRequests = messages_per_second
        self._loop.call(self._wire, timeout)
        self._market_data = StreamedMarketData(
            self.ib, self._loop, self.contract, self._tickers, self._time, timeout
        )

    def __repr__(self) -> str:
        return f"IbkrBroker({self.host}:{self.port}, client_id={self.client_id})"

    def _wire(self) -> None:
        ib = self.ib
        ib.orderStatusEvent += self._orders.on_status
        ib.openOrderEvent += self._orders.on_open_order
        ib.commissionReportEvent += self._on_commission
        ib.errorEvent += self._on_error
        ib.disconnectedEvent += self._on_disconnect

    def _new_id(self) -> str:
        with self._lock:
            n, self._next_ib_id = self._next_ib_id, self._next_ib_id + 1
        return str(n)

    # ----- lifecycle ------------------------------------------------------------------------

    def connect(self) -> IbkrBroker:
        """Connect (ib_async's own start-up requests), then reconcile."""
        self._closing = False
        self._open()
        self.reconcile()
        return self

    def _open(self) -> None:
        ib = self.ib
        try:
            self._loop.run(
                lambda: ib.connectAsync(self.host, self.port, self.client_id, timeout=self.timeout),
                self.timeout + 5,
            )
        except (OSError, TimeoutError) as e:
            raise BrokerUnavailableError(
                "port", self.port, f"cannot connect to IB at {self.host}: {e!r}"
            ) from None
        with self._lock:
            self._next_ib_id = max(self._next_ib_id, self._loop.call(ib.client.getReqId, 5))
            if not self.account_code:
                accounts = ib.managedAccounts()
                self.account_code = accounts[0] if accounts else ""

    def close(self) -> None:
        """Disconnect and stop the timers (a closed broker does not reconnect)."""
        self._closing = True
        self._timers.close()
        if not self._loop.loop.is_closed():
            self._loop.call(self.ib.disconnect, self.timeout)
            self._loop.stop()

    def __enter__(self) -> IbkrBroker:
        try:
            return self.connect()
        except BaseException:
            self.close()
            raise

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def connected(self) -> bool:
        return bool(self._loop.call(self.ib.isConnected, self.timeout))

    def _on_disconnect(self) -> None:
        if self._closing or not self._auto:
            return
        threading.Thread(target=self._reconnect, name="ibkr-reconnect", daemon=True).start()

    def _reconnect(self) -> None:
        if not self._reconnecting.acquire(blocking=False):
            return
        try:
            deadline = time.monotonic() + self._give_up
            while not self._closing and time.monotonic() < deadline:
                time.sleep(self._every)
                try:
                    self._open()
                    self._market_data.restart()
                    self.reconcile()
                except (BrokerUnavailableError, ConnectionError, OSError):
                    continue
                self.reconnects += 1
                return
        finally:
            self._reconnecting.release()

    # ----- instruments ----------------------------------------------------------------------

    def contract(self, symbol: str) -> Any:
        """The ib_async contract of ``symbol`` (qualified once)."""
        self.instrument(symbol)
        return self._contracts[symbol]

    def instrument(self, symbol: str) -> Instrument:
        """``symbol``'s instrument from IB's contract details (asked once)."""
        found = self.instruments.get(symbol)
        if found is not None:
            return found
        stock = self._ib_mod.Stock(symbol, self.exchange, self.currency)
        self._throttle()
        try:
            details = self._loop.run(lambda: self.ib.reqContractDetailsAsync(stock), self.timeout)
        except self._ib_mod.RequestError as e:
            raise OrderValidationError("symbol", symbol, f"IB {e.code}: {e.message}") from None
        except ConnectionError:
            raise BrokerUnavailableError(
                "connection", "down", "contract details not asked"
            ) from None
        if not details:
            raise OrderValidationError("symbol", symbol, "no such contract at IB")
        inst = instrument_of(symbol, details[0])
        self._contracts[symbol] = details[0].contract
        self.instruments[symbol] = inst
        return inst

    # ----- requests -------------------------------------------------------------------------

    def submit(self, request: OrderRequest) -> Order:
        """Send an order: a simple one, a bracket, or an OCO pair. Bad terms raise a typed error
        and send nothing; IB's refusals arrive as a ``rejected`` event."""
        inst = self.instrument(request.symbol)
        inst.check(request)
        if request.notional is not None:
            raise OrderValidationError("notional", request.notional, "IB takes a quantity")
        if request.order_class is OrderClass.OTO:
            raise OrderValidationError("order_class", "oto", "IbkrBroker sends bracket and oco")
        contract = self._contracts[request.symbol]
        with self._lock:
            order = self.manager.create(request)
            if order.group_id is None:
                members = [order]
            else:
                g = self.manager.groups[order.group_id]
                members = ([g.entry] if g.entry is not None else []) + list(g.exits)
            sends = self._ib_orders(request, members)
            for m, o in zip(members, sends, strict=True):
                self._orders.link(m.id, o.orderId, contract, o)
            self.manager.submit(order.id)
            self.manager.outbox.clear()
        self._send(contract, sends)
        return order

    def _ib_orders(self, request: OrderRequest, members: list[Order]) -> list[Any]:
        out = []
        parent = 0
        for i, m in enumerate(members):
            o = ib_order(m.request, int(m.id), m.order_qty, self.account_code)
            if request.order_class is OrderClass.BRACKET:
                o.parentId = parent
                o.transmit = i == len(members) - 1
                parent = parent or int(m.id)
            elif request.order_class is OrderClass.OCO:
                o.ocaGroup, o.ocaType = f"fillforge-oco-{members[0].id}", 1
            out.append(o)
        return out

    def _send(self, contract: Any, orders: list[Any]) -> None:
        for o in orders:
            self._throttle()
            try:
                self._loop.call(functools.partial(self.ib.placeOrder, contract, o), self.timeout)
            except ConnectionError:
                with self._lock:  # sent again, under the same id, after the reconnect
                    self._orders.unsent.add(int(o.orderId))

    def _throttle(self) -> None:
        self._limiter.acquire_blocking("ib")

    def cancel(self, order_id: str) -> None:
        """Ask to cancel; IB answers ``Cancelled`` (a ``canceled`` event), or refuses (an
        ``order_cancel_rejected`` event)."""
        with self._lock:
            self.manager.get(order_id)
            self.manager.request_cancel(order_id)
            self.manager.outbox.clear()
            ib_id = self._orders.ib_of[order_id]
            _, o = self._orders.ib_orders[ib_id]
        self._throttle()
        try:
            self._loop.call(lambda: self.ib.cancelOrder(o), self.timeout)
        except ConnectionError:
            self._not_sent(EventKind.CANCEL_REJECTED, [order_id])
            raise BrokerUnavailableError("connection", "down", "cancel not sent") from None

    def cancel_all(self) -> None:
        """IB's global cancel: every open order of the account (this client's and others')."""
        with self._lock:
            asked = []
            for o in self.manager.open_orders():
                if o.pending_request is None and o.status is not OrderStatus.HELD:
                    self.manager.request_cancel(o.id)
                    asked.append(o.id)
            self.manager.outbox.clear()
        self._throttle()
        try:
            self._loop.call(self.ib.reqGlobalCancel, self.timeout)
        except ConnectionError:
            self._not_sent(EventKind.CANCEL_REJECTED, asked)
            raise BrokerUnavailableError("connection", "down", "global cancel not sent") from None

    def _not_sent(self, kind: EventKind, order_ids: list[str]) -> None:
        """A request that did not go out: its orders back as they were (a reject event)."""
        with self._lock:
            for oid in order_ids:
                self._orders.report(kind, oid, "not sent: the connection is down")

    def replace(
        self, order_id: str, terms: ReplaceTerms | None = None, **changes: Unpack[ReplaceChanges]
    ) -> None:
        """Modify an order in place at IB (same IB order id); locally the order is
        ``replaced`` by a new one (``<id>.r<n>``, carrying its fills) once IB confirms (its
        ``openOrder`` shows the new terms). ``qty`` is the order's new total, what has filled
        included (FIX's, the order manager's and IB's meaning). Refused: :class:`IbkrError`;
        no answer within ``timeout``: :class:`BrokerUnavailableError` (the order is then
        taken as unchanged until the next reconcile)."""
        t = replace_terms(terms, changes)
        with self._lock:
            o = self.manager.get(order_id)
            ib_id = self._orders.ib_of[order_id]
            contract, old = self._orders.ib_orders[ib_id]
        inst = self.instrument(o.symbol)
        if t.qty is not None:
            inst.to_lots(t.qty)
        for field, value in (("limit_price", t.limit_price), ("stop_price", t.stop_price)):
            if value is not None:
                inst.to_ticks(value, field)
        if t.trail is not None:
            raise OrderValidationError("trail", t.trail, "IbkrBroker sends no trailing orders")
        new = copy.copy(old)
        if t.qty is not None:
            new.totalQuantity = float(t.qty)
        if t.limit_price is not None:
            new.lmtPrice = float(t.limit_price)
        if t.stop_price is not None:
            new.auxPrice = float(t.stop_price)
        done = threading.Event()
        with self._lock:
            self.manager.request_replace(order_id, t)
            self._orders.modified[ib_id] = (done, new)
        self._throttle()
        try:
            self._loop.call(lambda: self.ib.placeOrder(contract, new), self.timeout)
            answered = done.wait(self.timeout)
        except ConnectionError:
            self._not_sent(EventKind.REPLACE_REJECTED, [order_id])
            raise BrokerUnavailableError("connection", "down", "modify not sent") from None
        finally:
            with self._lock:
                self._orders.modified.pop(ib_id, None)
                refused = self._orders.refused.pop(ib_id, None)
        with self._lock:
            now = self._time.now_ns()
            if refused is not None or not answered:
                why = refused or "IB did not confirm the modify in time"
                self.manager.apply(
                    VenueReport.trusted(
                        kind=EventKind.REPLACE_REJECTED, order_id=order_id, ts=now, reason=why
                    )
                )
                if refused is not None:
                    code, _, text = refused.partition(": ")
                    raise IbkrError(int(code), text, ib_id)
                raise BrokerUnavailableError("timeout", self.timeout, why)
            new_id = f"{ib_id}.r{next(self._replaces)}"
            self.manager.apply(
                VenueReport.trusted(
                    kind=EventKind.REPLACED,
                    order_id=order_id,
                    ts=now,
                    new_order_id=new_id,
                    qty=t.qty,
                    limit_price=t.limit_price,
                    stop_price=t.stop_price,
                )
            )
            self.manager.outbox.clear()
            self._orders.link(new_id, ib_id, contract, new)

    # ----- IB's events (on the loop thread) -------------------------------------------------

    def _on_commission(self, trade: Any, fill: Any, report: Any) -> None:
        self._orders.on_execution(fill.execution, report)

    def _on_error(self, req_id: int, code: int, message: str, contract: Any) -> None:
        if req_id > 0:
            self._orders.on_error(req_id, code, message)

    # ----- keeping the local state right ------------------------------------------------------

    def reconcile(self) -> int:
        """Send what did not go out, then apply every execution IB has for this client that is
        not applied yet and each open order's state; returns how many fills were new here."""
        with self._lock:
            unsent = sorted(self._orders.unsent)
            self._orders.unsent.clear()
            again = [self._orders.ib_orders[i] for i in unsent]
        for contract, o in again:
            self._send(contract, [o])
        flt = self._ib_mod.ExecutionFilter(clientId=self.client_id)
        fills = self._loop.run(lambda: self.ib.reqExecutionsAsync(flt), self.timeout)
        known = self._loop.call(lambda: {f.execution.execId: f for f in self.ib.fills()}, 5)
        trades = self._loop.run(self.ib.reqOpenOrdersAsync, self.timeout)
        new = self._orders.reconcile(list(fills), known, list(trades))
        self._bump_ids()
        return new

    def _bump_ids(self) -> None:
        with self._lock:
            seen = max(self._orders.local_of, default=0)
            self._next_ib_id = max(self._next_ib_id, seen + 1)

    def executions(self) -> list[Any]:
        """IB's executions for this client now (``reqExecutions``), as ib_async's fills."""
        flt = self._ib_mod.ExecutionFilter(clientId=self.client_id)
        return list(self._loop.run(lambda: self.ib.reqExecutionsAsync(flt), self.timeout))

    # ----- queries --------------------------------------------------------------------------

    def positions(self) -> dict[str, Position]:
        """IB's positions (``reqPositions``), valued at the portfolio's marks when IB has
        sent them."""
        held = self._loop.run(self.ib.reqPositionsAsync, self.timeout)
        marks = self._loop.call(
            lambda: {p.contract.symbol: p for p in self.ib.portfolio()}, self.timeout
        )
        out = {}
        for p in held:
            qty = shares(p.position)
            if not qty:
                continue
            s = str(p.contract.symbol)
            avg = dec(p.avgCost)
            item = marks.get(s)
            mark = dec(item.marketPrice) if item is not None else None
            value = qty * mark if mark is not None else qty * avg
            out[s] = Position.adopt(
                {
                    "symbol": s,
                    "qty": qty,
                    "avg_price": avg,
                    "cost_basis": qty * avg,
                    "realized_pnl": dec(item.realizedPNL) if item is not None else _ZERO,
                    "mark": mark,
                    "market_value": value,
                    "unrealized_pnl": value - qty * avg,
                }
            )
        return out

    def account(self) -> AccountSnapshot:
        """The account summary IB gives (``reqAccountSummary``) and :meth:`positions`."""
        rows = self._loop.run(lambda: self.ib.accountSummaryAsync(self.account_code), self.timeout)
        v = {r.tag: dec(r.value) for r in rows if r.account == self.account_code}
        positions = self.positions()
        long_v = sum((p.market_value for p in positions.values() if p.qty > 0), _ZERO)
        short_v = sum((p.market_value for p in positions.values() if p.qty < 0), _ZERO)
        with self._lock:
            fees = sum(
                (f.commission for o in self.manager.orders.values() for f in o.fills.values()),
                _ZERO,
            )
        equity = v.get("NetLiquidation", _ZERO)
        return AccountSnapshot.adopt(
            {
                "cash": v.get("TotalCashValue", _ZERO),
                "equity": equity,
                "buying_power": v.get("BuyingPower", _ZERO),
                "reserved": _ZERO,
                "leverage": (long_v - short_v) / equity if equity else _ZERO,
                "long_market_value": long_v,
                "short_market_value": short_v,
                "realized_pnl": v.get("RealizedPnL", _ZERO),
                "unrealized_pnl": v.get("UnrealizedPnL", _ZERO),
                "fees_paid": fees,
                "positions": positions,
            }
        )

    def now_ns(self) -> int:
        return self._time.now_ns()

    def clock(self) -> BrokerClock:
        """IB's time (``reqCurrentTime``); the session is not asked (always open)."""
        t = self._loop.run(self.ib.reqCurrentTimeAsync, self.timeout)
        return BrokerClock.trusted(
            timestamp_ns=int(t.timestamp()) * NS_PER_SECOND,
            is_open=True,
            next_open_ns=None,
            next_close_ns=None,
        )

    # ----- market data (streamed for subscriptions, snapshots otherwise) --------------------

    def _tickers(self, symbols: list[str]) -> list[Any]:
        contracts = [self.contract(s) for s in symbols]
        self._throttle()
        return list(self._loop.run(lambda: self.ib.reqTickersAsync(*contracts), self.timeout))
