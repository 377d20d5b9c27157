"""IbkrBroker's answers to journal reconciliation after a restart
(:class:`~fillforge.journal.reconcile.FillHistory`): the fills and the orders IB holds, asked of
IB; its orders this process does not hold are adopted under IB's ids
(:meth:`~fillforge.venues.ibkr.sync.IbOrders.adopt`)."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from fillforge.orders.enums import OrderStatus
from fillforge.orders.manager import OrderManager
from fillforge.orders.models import Fill
from fillforge.orders.order import Order
from fillforge.time import NS_PER_SECOND
from fillforge.venues.ibkr.loop import LoopThread
from fillforge.venues.ibkr.sync import IbOrders

__all__ = ["VenueHistory"]


class VenueHistory:
    """The FillHistory methods, for :class:`~fillforge.venues.ibkr.IbkrBroker` to inherit."""

    ib: Any
    manager: OrderManager
    _lock: threading.RLock
    _loop: LoopThread
    _orders: IbOrders

    if TYPE_CHECKING:  # the broker's own

        def executions(self) -> list[Any]: ...
        def reconcile(self) -> int: ...
        def _bump_ids(self) -> None: ...

    def fills_since(self, ts_ns: int) -> list[Fill]:
        """IB's executions for this client at or after ``ts_ns`` (IB's times are whole
        seconds), oldest first, as fills of the local orders (IB's orders this process does not
        hold are adopted first)."""
        fills = self.executions()
        self._adopt_closed(fills)
        out = []
        with self._lock:
            for f in fills:
                local = self._orders.local_of.get(int(f.execution.orderId))
                o = self.manager.orders.get(local) if local is not None else None
                got = o.fills.get(str(f.execution.execId)) if o is not None else None
                if got is not None and got.ts_event >= ts_ns - ts_ns % NS_PER_SECOND:
                    out.append(got)
        return sorted(out, key=lambda f: f.ts_event)

    def venue_order(self, order_id: str) -> Order | None:
        """IB's order ``order_id`` (a local id: IB's order id, or ``<id>.r<n>`` after a modify),
        brought up to IB's state (reconciled; adopted when this process does not hold it);
        None when IB has none."""
        ib_id = order_id.partition(".")[0]
        if not ib_id.isdigit():
            return None
        self.reconcile()
        self._adopt_closed(self.executions())
        with self._lock:
            local = self._orders.local_of.get(int(ib_id))
            return self.manager.orders.get(local) if local is not None else None

    def venue_order_by_client_id(self, client_order_id: str) -> Order | None:
        """IB's order whose ``orderRef`` is ``client_order_id`` (asked, as :meth:`venue_order`);
        None when IB has none."""
        self.reconcile()
        self._adopt_closed(self.executions())
        with self._lock:
            found = [
                self.manager.orders[local]
                for ib_id, local in self._orders.local_of.items()
                if str(self._orders.ib_orders[ib_id][1].orderRef) == client_order_id
            ]
        live = [o for o in found if o.status is not OrderStatus.REPLACED] or found
        return live[-1] if live else None

    def _adopt_closed(self, fills: list[Any]) -> None:
        by_order: dict[int, list[Any]] = {}
        for f in fills:
            by_order.setdefault(int(f.execution.orderId), []).append(f)
        known = self._loop.call(lambda: {f.execution.execId: f for f in self.ib.fills()}, 5)
        with self._lock:
            for ib_id, group in by_order.items():
                if ib_id not in self._orders.local_of:
                    self._orders.adopt_closed([known.get(f.execution.execId, f) for f in group])
        self._bump_ids()
