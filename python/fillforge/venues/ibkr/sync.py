"""Keeping :class:`~fillforge.venues.ibkr.IbkrBroker`'s local orders right: IB's order states,
executions and commission reports applied to the local
:class:`~fillforge.orders.manager.OrderManager` as venue reports, so the same order events reach
the same stream as every other broker's.

A fill is applied once per IB execution id, whichever way it comes: live (its commission
report), or read back with ``reqExecutions`` after a reconnect (fills that happened while the
connection was down). IB works bracket children and OCA groups itself; the manager's own leg
actions (its ``outbox``) are dropped, and IB's reports for the legs are applied as they come.

Local order ids are IB's order ids (as text); a modify keeps IB's id and gives the local
order a new one (``<id>.r<n>``), as fillforge's replace semantics have it.
"""

from __future__ import annotations

import threading
from typing import Any

from fillforge.orders.enums import (
    EventKind,
    OrderSide,
    OrderStatus,
    OrderTimeInForce,
    OrderType,
)
from fillforge.orders.manager import OrderManager
from fillforge.orders.models import OrderRequest
from fillforge.time import Clock
from fillforge.venues.ibkr.convert import IB_TYPE, dec, shares
from fillforge.venues.reports import report_fill, report_state

__all__ = ["IbOrders"]

_WORKING = ("PreSubmitted", "Submitted")
_ENDED = ("Cancelled", "ApiCancelled")
_FRESH = (OrderStatus.PENDING_NEW, OrderStatus.ACCEPTED)
_TYPES = {v: k for k, v in IB_TYPE.items()}


class IbOrders:
    """IB's orders into ``manager`` under ``lock``."""

    def __init__(self, manager: OrderManager, lock: threading.RLock, clock: Clock) -> None:
        self.manager = manager
        self.lock = lock
        self._time = clock
        self.ib_of: dict[str, int] = {}  # local order id -> IB order id
        self.local_of: dict[int, str] = {}  # IB order id -> the local order working it now
        self.ib_orders: dict[int, tuple[Any, Any]] = {}  # IB order id -> (contract, Order)
        self.applied: set[str] = set()  # IB execution ids applied
        self.unsent: set[int] = set()  # IB order ids whose placeOrder did not go out
        # modifies waiting for IB's answer: the event to set, and the order as sent
        self.modified: dict[int, tuple[threading.Event, Any]] = {}
        self.refused: dict[int, str] = {}  # IB order id -> the error that refused a modify

    def link(self, local_id: str, ib_id: int, contract: Any, order: Any) -> None:
        self.ib_of[local_id] = ib_id
        self.local_of[ib_id] = local_id
        self.ib_orders[ib_id] = (contract, order)

    def report(self, kind: EventKind, local_id: str, reason: str | None = None) -> None:
        """Apply a report the state may already reflect (refused then: nothing changes)."""
        report_state(self.manager, kind, local_id, self._time.now_ns(), reason)
        self.manager.outbox.clear()  # IB works the legs itself

    # ----- IB's events (on ib_async's loop) ----------------------------------------------------

    def on_status(self, trade: Any) -> None:
        ib_id = int(trade.order.orderId)
        status = str(trade.orderStatus.status)
        with self.lock:
            local = self.local_of.get(ib_id)
            if local is None:
                return
            o = self.manager.get(local)
            if status in _WORKING and o.status in _FRESH:
                self.report(EventKind.NEW, local)
            elif status in _WORKING and o.status is OrderStatus.HELD:
                return  # a leg IB works before the manager has its parent's fill: later
            elif status in _ENDED and o.status.is_open:
                self.report(EventKind.CANCELED, local)
            elif status == "Inactive" and o.status.is_open:
                self.report(EventKind.REJECTED, local, "inactive at IB")

    def on_open_order(self, trade: Any) -> None:
        """IB's ``openOrder``: a modify waiting for it is confirmed when the order shows the
        terms sent."""
        with self.lock:
            waiting = self.modified.get(int(trade.order.orderId))
        if waiting is None:
            return
        done, sent = waiting
        now = trade.order
        if all(
            abs(float(getattr(now, f)) - float(getattr(sent, f))) < 1e-9
            for f in ("totalQuantity", "lmtPrice", "auxPrice")
        ):
            done.set()

    def on_error(self, req_id: int, code: int, message: str) -> None:
        """An IB error about one of our orders: a refused new order is rejected; a refused
        modify wakes the modify; a refused cancel is a cancel reject."""
        with self.lock:
            local = self.local_of.get(req_id)
            if local is None or code in (202,):  # 202: IB's notice that a cancel went through
                return
            waiting = self.modified.get(req_id)
            if waiting is not None:
                self.refused[req_id] = f"{code}: {message}"
                waiting[0].set()
                return
            o = self.manager.get(local)
            if o.status in _FRESH:
                self.report(EventKind.REJECTED, local, f"IB {code}: {message}")
            elif o.status is OrderStatus.PENDING_CANCEL and code in (10147, 10148, 161):
                self.report(EventKind.CANCEL_REJECTED, local, f"IB {code}: {message}")

    def on_execution(self, execution: Any, commission: Any) -> bool:
        """Apply one execution (once per execution id); True when it was new here."""
        exec_id = str(execution.execId)
        with self.lock:
            if exec_id in self.applied:
                return False
            local = self.local_of.get(int(execution.orderId))
            if local is None:
                return False
            o = self.manager.get(local)
            qty, price = shares(execution.shares), dec(execution.price)
            if qty <= 0 or price <= 0:
                return False
            when = execution.time
            ts = int(when.timestamp()) * 1_000_000_000 if when else self._time.now_ns()
            fee = dec(getattr(commission, "commission", 0.0)) if commission is not None else None
            now = self._time.now_ns()
            self.applied.add(exec_id)
            report_fill(
                self.manager,
                local,
                exec_id,
                price,
                qty,
                ts=ts,
                ts_recv=now,
                whole=o.cum_qty + qty >= o.order_qty,
                commission=fee or dec(0),
                maker=execution.lastLiquidity == 1,
            )
            self.manager.outbox.clear()
            return True

    # ----- after a (re)connect -----------------------------------------------------------------

    def reconcile(self, fills: list[Any], known: dict[str, Any], open_trades: list[Any]) -> int:
        """Apply every execution not applied yet (``fills``: ``reqExecutions``' answer;
        ``known``: ib_async's fills by execution id, which carry the commission reports), then
        each local open order's state from IB's open orders: one IB no longer has open ended
        while we were away (cancelled, or filled by the executions just applied). Returns how
        many executions were new here."""
        new = 0
        with self.lock:
            for t in open_trades:  # open at IB, unknown here (placed before a restart)
                if int(t.order.orderId) not in self.local_of:
                    self.adopt(t.contract, t.order, t.orderStatus.status)
        for f in fills:
            seen = known.get(f.execution.execId, f)
            new += self.on_execution(f.execution, seen.commissionReport)
        working = {int(t.order.orderId): t for t in open_trades}
        with self.lock:
            for o in self.manager.open_orders():
                ib_id = self.ib_of.get(o.id)
                if ib_id is None or ib_id in self.unsent:
                    continue
                t = working.get(ib_id)
                if t is not None:
                    self.on_status(t)
                elif o.status is not OrderStatus.HELD:
                    self.report(EventKind.CANCELED, o.id, "not open at IB after a reconnect")
        return new

    # ----- orders IB has and this process does not ------------------------------------------

    def adopt(self, contract: Any, order: Any, status: str) -> str:
        """Register an IB order this process did not place (one placed before a restart, by
        this client id) as a simple local order under IB's id; its fills follow from its
        executions. Returns the local id."""
        ib_id = int(order.orderId)
        local = self.local_of.get(ib_id)
        if local is not None:
            return local
        local = str(ib_id)
        self.manager.create(request_of(contract, order), order_id=local)
        self.link(local, ib_id, contract, order)
        self.manager.submit(local)
        if status in _WORKING:
            self.report(EventKind.NEW, local)
        return local

    def adopt_closed(self, fills: list[Any]) -> str | None:
        """Register an ended IB order known only by its executions (``fills``, ib_async's, all
        of one order): a market order for what they filled, filled by them."""
        if not fills:
            return None
        first = fills[0]
        ib_id = int(first.execution.orderId)
        if ib_id in self.local_of:
            return self.local_of[ib_id]
        from ib_async import MarketOrder

        total = sum((shares(f.execution.shares) for f in fills), dec(0))
        side = "BUY" if first.execution.side == "BOT" else "SELL"
        order = MarketOrder(side, float(total), orderId=ib_id, orderRef=first.execution.orderRef)
        local = self.adopt(first.contract, order, "Submitted")
        for f in fills:
            self.on_execution(f.execution, f.commissionReport)
        return local


def request_of(contract: Any, order: Any) -> OrderRequest:
    """The fillforge request an IB order stands for."""
    kind = _TYPES.get(str(order.orderType), OrderType.LIMIT)
    lmt, aux = dec(order.lmtPrice), dec(order.auxPrice)
    tif = str(order.tif or "DAY").lower()
    return OrderRequest(
        symbol=str(contract.symbol),
        side=OrderSide.BUY if str(order.action) == "BUY" else OrderSide.SELL,
        type=kind,
        time_in_force=OrderTimeInForce(tif if tif in ("day", "gtc", "ioc", "fok") else "day"),
        qty=shares(order.totalQuantity),
        limit_price=lmt if kind in (OrderType.LIMIT, OrderType.STOP_LIMIT) and lmt > 0 else None,
        stop_price=aux if kind in (OrderType.STOP, OrderType.STOP_LIMIT) and aux > 0 else None,
        client_order_id=str(order.orderRef) or None,
    )
