"""One order driven the supported way, for the state-machine tests (FIX conformance, the stateful
walk): our requests through :class:`OrderManager` (``submit``, ``deny``, ``request_cancel``,
``request_replace``) and every venue answer as a :class:`VenueReport` through
:meth:`OrderManager.apply`, the path a broker takes. The order itself is a read-only view.

The methods are named after the order table's events (``ack``, ``fill``, ``pending_cancel``...),
so a test reads as the FIX matrices do; anything else (``status``, ``cum_qty``, ``fills``...) is
read from the order's view. Each method returns the one event the order published.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from fillforge import (
    EventKind,
    Fill,
    Order,
    OrderEvent,
    OrderManager,
    OrderRequest,
    VenueReport,
)
from fillforge.orders.models import ReplaceTerms


class OrderDriver:
    """Order ``order_id`` of ``manager``, driven through the manager."""

    def __init__(self, manager: OrderManager, order_id: str) -> None:
        self.manager = manager
        self.order_id = order_id

    @classmethod
    def new(cls, request: OrderRequest, order_id: str = "X") -> OrderDriver:
        """A fresh manager holding one created order."""
        m = OrderManager()
        m.create(request, order_id=order_id)
        return cls(m, order_id)

    @property
    def order(self) -> Order:
        return self.manager.get(self.order_id)

    def __getattr__(self, name: str) -> Any:  # reads: the order's view
        return getattr(self.manager.get(self.order_id), name)

    @staticmethod
    def _one(events: Sequence[OrderEvent]) -> OrderEvent:
        assert len(events) == 1, events  # a simple order: no group events follow
        return events[0]

    def _report(self, kind: EventKind, **fields: Any) -> OrderEvent:
        report = VenueReport(kind=kind, order_id=self.order_id, **fields)
        return self._one(self.manager.apply(report))

    # ----- our requests ---------------------------------------------------------------------

    def submit(self) -> OrderEvent:
        return self.manager.submit(self.order_id)

    def deny(self, reason: str) -> OrderEvent:
        return self.manager.deny(self.order_id, reason)

    def request_cancel(self) -> OrderEvent:
        return self._one(self.manager.request_cancel(self.order_id))

    def request_replace(self, **terms: Any) -> OrderEvent:
        return self.manager.request_replace(self.order_id, ReplaceTerms(**terms))

    # ----- the venue's reports --------------------------------------------------------------

    def accept(self) -> OrderEvent:
        return self._report(EventKind.ACCEPTED)

    def ack(self, qty: Decimal | None = None) -> OrderEvent:
        return self._report(EventKind.NEW, qty=qty)

    def reject(self, reason: str) -> OrderEvent:
        return self._report(EventKind.REJECTED, reason=reason)

    def done_for_day(self) -> OrderEvent:
        return self._report(EventKind.DONE_FOR_DAY)

    def expire(self) -> OrderEvent:
        return self._report(EventKind.EXPIRED)

    def fill(self, fill: Fill, *, final: bool = False) -> OrderEvent:
        """A partial-fill report (a fill report with ``final``: it completes a notional order)."""
        return self._report(EventKind.FILL if final else EventKind.PARTIAL_FILL, fill=fill)

    def trade_cancel(self, trade_id: str) -> OrderEvent:
        return self._report(EventKind.TRADE_CANCEL, trade_id=trade_id)

    def trade_correct(self, fill: Fill) -> OrderEvent:
        return self._report(EventKind.TRADE_CORRECT, fill=fill)

    def pending_cancel(self) -> OrderEvent:
        return self._report(EventKind.PENDING_CANCEL)

    def cancel(self, reason: str | None = None) -> OrderEvent:
        """The venue's Canceled: our request confirmed, or unsolicited."""
        return self._report(EventKind.CANCELED, reason=reason)

    def cancel_reject(self, reason: str | None = None) -> OrderEvent:
        return self._report(EventKind.CANCEL_REJECTED, reason=reason)

    def pending_replace(self) -> OrderEvent:
        return self._report(EventKind.PENDING_REPLACE)

    def replace_reject(self, reason: str | None = None) -> OrderEvent:
        return self._report(EventKind.REPLACE_REJECTED, reason=reason)

    def replace(
        self, new_order_id: str, **terms: Any
    ) -> tuple[OrderEvent, OrderDriver, OrderEvent]:
        """The venue's Replaced: the old order's event, the new order, the new order's event."""
        report = VenueReport(
            kind=EventKind.REPLACED, order_id=self.order_id, new_order_id=new_order_id, **terms
        )
        old_ev, new_ev = self.manager.apply(report)
        return old_ev, OrderDriver(self.manager, new_order_id), new_ev

    def restate(
        self,
        qty: Decimal,
        *,
        limit_price: Decimal | None = None,
        stop_price: Decimal | None = None,
        reason: str | None = None,
    ) -> OrderEvent:
        return self._report(
            EventKind.RESTATED,
            qty=qty,
            limit_price=limit_price,
            stop_price=stop_price,
            reason=reason,
        )
