"""The order handle users hold: a read-only view of one order.

An :class:`Order` shows everything about its order (status, quantities, prices, fills, the
outstanding request, ids, the replace chain, the group) and changes nothing. Its lifecycle is
driven only by the venue's reports and by requests made through a broker (``broker.cancel(
order.id)``, ``broker.replace(order.id, ...)``), which the order manager applies to the order's
private record (:mod:`fillforge.orders._lifecycle`). Assigning a field, or calling a lifecycle
trigger such as ``order.cancel()``, raises AttributeError and changes nothing: marking an order
canceled here while the venue still works it would let it fill while showing ``canceled``.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from operator import attrgetter
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NoReturn

from fillforge.orders.enums import OrderStatus
from fillforge.orders.models import Fill, OrderRequest, parent_of

if TYPE_CHECKING:
    from fillforge.orders._lifecycle import OrderRecord

__all__ = ["TRIGGERS", "Order"]

# The lifecycle triggers the handle used to offer; the error for each says where it went.
TRIGGERS = frozenset(
    {
        "hold",
        "submit",
        "deny",
        "accept",
        "ack",
        "reject",
        "done_for_day",
        "expire",
        "fill",
        "trade_cancel",
        "trade_correct",
        "request_cancel",
        "pending_cancel",
        "cancel",
        "cancel_reject",
        "request_replace",
        "pending_replace",
        "replace_reject",
        "replace",
        "restate",
    }
)
_ASK_THE_BROKER = {
    "submit": "broker.submit(request)",
    "request_cancel": "broker.cancel(order.id)",
    "cancel": "broker.cancel(order.id)",
    "request_replace": "broker.replace(order.id, ...)",
    "replace": "broker.replace(order.id, ...)",
}


class Order:
    """A read-only view of one order; the order manager makes it (one per order, for its life).

    ``cum_qty``/``leaves_qty`` follow FIX INV-1; ``fills`` and ``pending_request`` are read-only
    mappings. See ``docs/orders.md`` ("The order handle").
    """

    __slots__ = ("_r",)
    _r: OrderRecord

    def __init__(self, *args: object, **kwargs: object) -> None:
        # The package binds a view to its record without calling this (see _lifecycle).
        raise TypeError(
            "an Order is made by the order manager (broker.submit, OrderManager.create), never "
            "directly"
        )

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise AttributeError(
            f"Order is read-only: {name}={value!r} refused; an order changes only through its "
            "broker (cancel, replace) and the venue's reports",
            name=name,
            obj=self,
        )

    def __delattr__(self, name: str) -> NoReturn:
        raise AttributeError(f"Order is read-only: {name} cannot be deleted", name=name, obj=self)

    if not TYPE_CHECKING:  # hidden from mypy, which would otherwise accept any attribute

        def __getattr__(self, name: str) -> NoReturn:
            if name in TRIGGERS:
                how = _ASK_THE_BROKER.get(name)
                hint = f"; ask the broker: {how}" if how else ""
                raise AttributeError(
                    f"Order.{name}() is not available: an order's lifecycle is driven by its "
                    f"venue's reports through the order manager{hint}",
                    name=name,
                    obj=self,
                )
            raise AttributeError(f"'Order' object has no attribute {name!r}", name=name, obj=self)

    def __reduce__(self) -> NoReturn:
        raise TypeError("an Order is a live view of its order and cannot be copied or pickled")

    # ----- identity -------------------------------------------------------------------------

    @property
    def id(self) -> str:
        return self._r.id

    @property
    def client_order_id(self) -> str:
        return self._r.client_order_id

    @property
    def parent_id(self) -> str | None:
        """The parent order this order is a child of, read from its client order id
        (``<parent>-c<n>``, :func:`~fillforge.orders.ids.parent_of`); None for other orders.
        ``OrderManager.children(parent_id)`` lists a parent's children."""
        return parent_of(self._r.client_order_id)

    @property
    def request(self) -> OrderRequest:
        """What was asked for (a replacement's request carries a trailing stop's new trail)."""
        return self._r.request

    @property
    def symbol(self) -> str:
        return self._r.symbol

    @property
    def group_id(self) -> str | None:
        return self._r.group_id

    @property
    def replaces(self) -> str | None:
        return self._r.replaces

    @property
    def replaced_by(self) -> str | None:
        return self._r.replaced_by

    @property
    def created_ts(self) -> int:
        return self._r.created_ts

    @property
    def updated_ts(self) -> int:
        return self._r.updated_ts

    # ----- state and quantities -------------------------------------------------------------

    @property
    def state(self) -> str:
        """The status as the table's string (an OrderStatus member); :attr:`status` types it."""
        return self._r.state

    @property
    def status(self) -> OrderStatus:
        # The record's state is always an OrderStatus member (the machine's state_type).
        return self._r.state  # type: ignore[return-value]

    @property
    def reason(self) -> str | None:
        """The last reason an event of this order gave (a rejection's or denial's, a cancel's
        when one was given; a risk denial's is ``"<code>: <why>"``), None before any."""
        return self._r.reason

    @property
    def order_qty(self) -> Decimal:
        return self._r.order_qty

    @property
    def limit_price(self) -> Decimal | None:
        return self._r.limit_price

    @property
    def stop_price(self) -> Decimal | None:
        return self._r.stop_price

    @property
    def cum_qty(self) -> Decimal:
        return self._r.cum_qty

    @property
    def notional_filled(self) -> Decimal:
        return self._r.notional_filled

    @property
    def leaves_qty(self) -> Decimal:
        """Open quantity: 0 once done (and for a day order done for the day), else qty - cum."""
        return self._r.leaves_qty

    @property
    def avg_price(self) -> Decimal | None:
        return self._r.avg_price

    @property
    def fills(self) -> Mapping[str, Fill]:
        """The live executions by trade id (busted ones removed), read-only."""
        return MappingProxyType(self._r.fills)

    @property
    def pending_request(self) -> Mapping[str, Any] | None:
        """The outstanding cancel/replace request (``{"kind": "cancel"}``, or ``"replace"`` with
        its terms), read-only; None when there is none."""
        p = self._r.pending_request
        return None if p is None else MappingProxyType(p)

    # ----- the table's conditions -----------------------------------------------------------

    def is_complete(self) -> bool:
        return self._r.is_complete()

    def is_partial(self) -> bool:
        return self._r.is_partial()

    def is_unfilled(self) -> bool:
        return self._r.is_unfilled()

    def is_good_till(self) -> bool:
        return self._r.is_good_till()

    def was_pending_new(self) -> bool:
        return self._r.was_pending_new()

    def was_accepted(self) -> bool:
        return self._r.was_accepted()

    def was_done_for_day(self) -> bool:
        return self._r.was_done_for_day()

    def no_request(self) -> bool:
        return self._r.no_request()

    def __repr__(self) -> str:
        r = self._r
        return (
            f"Order(id={r.id!r}, {r.state}, qty={r.order_qty}, cum={r.cum_qty}, "
            f"leaves={r.leaves_qty})"
        )


# Each plain field of the view reads its record's attribute through a C-level getter instead of
# a Python function: the same property (name, docstring, read-only), without a Python frame per
# read (the simulator reads an order's fields dozens of times per order).
for _name, _attr in {
    "id": "id",
    "client_order_id": "client_order_id",
    "request": "request",
    "symbol": "symbol",
    "group_id": "group_id",
    "replaces": "replaces",
    "replaced_by": "replaced_by",
    "created_ts": "created_ts",
    "updated_ts": "updated_ts",
    "state": "state",
    "status": "state",
    "reason": "reason",
    "order_qty": "order_qty",
    "limit_price": "limit_price",
    "stop_price": "stop_price",
    "cum_qty": "cum_qty",
    "notional_filled": "notional_filled",
    "leaves_qty": "leaves_qty",
    "avg_price": "avg_price",
}.items():
    _doc = Order.__dict__[_name].__doc__ or f"The order's {_name.replace('_', ' ')}."
    type.__setattr__(Order, _name, property(attrgetter(f"_r.{_attr}"), doc=_doc))
del _name, _attr, _doc
