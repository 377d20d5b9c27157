"""Contingent orders: bracket, OTO and OCO groups, each a state machine over its legs.

Rules (Alpaca's, see ``docs/orders.md``):

- Bracket/OTO exits are ``held`` until the entry is completely filled, then submitted for the
  entry's quantity. If the entry ends (canceled, expired, rejected, done for day) after a
  *partial* fill, the exits are activated for the filled quantity, so a position is never left
  unprotected; if it ends with nothing filled, the held exits are canceled with it.
- An OCO's two exits work at once.
- When an exit fills completely, every other open exit is canceled (group ``completed``).
- A partial fill of one exit resizes the others to what is left of the position.
- Canceling the group, or any member ending without a fill by someone else's hand, cancels every
  open member (group ``canceling`` until they have all ended, then ``canceled``).

The group does not talk to venues: it returns :class:`LegAction` items that the order manager
applies locally (held legs) and hands to the venue (working legs). As with orders, the manager
holds the group's private record (:class:`GroupRecord`, the machine and its rules) and hands out
a read-only :class:`OrderGroup` view; canceling a group is ``broker.cancel(<any member>.id)``
(or ``OrderManager.cancel_group``).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Final, Literal, NoReturn

from fillforge.orders.enums import OrderClass, OrderStatus
from fillforge.orders.machine import GROUP_STATES, GROUP_TABLE, table_events
from fillforge.orders.order import Order

if TYPE_CHECKING:
    from fillforge.orders._lifecycle import OrderRecord

__all__ = ["GroupRecord", "LegAction", "OrderGroup"]

S = OrderStatus
_ENDED = frozenset({S.CANCELED, S.EXPIRED, S.REJECTED, S.DENIED, S.FILLED, S.REPLACED})


@dataclass(frozen=True, slots=True)
class LegAction:
    """What a group needs done to one leg: submit it (with ``qty``), cancel it, or resize it."""

    action: Literal["submit", "cancel", "resize"]
    order_id: str
    qty: Decimal | None = None


_event: Final = table_events(GROUP_STATES, GROUP_TABLE, "entry_working")


class OrderGroup:
    """A read-only view of a bracket, OTO or OCO: ``entry`` (None for OCO) and its ``exits`` as
    :class:`~fillforge.orders.order.Order` views, and the group's ``state``."""

    __slots__ = ("_r",)
    _r: GroupRecord

    def __init__(self, record: GroupRecord) -> None:
        object.__setattr__(self, "_r", record)

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise AttributeError(
            f"OrderGroup is read-only: {name}={value!r} refused; a group changes only through "
            "its members' venue reports and a cancel through the broker",
            name=name,
            obj=self,
        )

    def __delattr__(self, name: str) -> NoReturn:
        raise AttributeError(f"OrderGroup is read-only: {name} cannot be deleted", name=name)

    @property
    def id(self) -> str:
        return self._r.id

    @property
    def order_class(self) -> OrderClass:
        return self._r.order_class

    @property
    def state(self) -> str:
        return self._r.state

    @property
    def entry(self) -> Order | None:
        e = self._r.entry
        return None if e is None else e.view

    @property
    def exits(self) -> tuple[Order, ...]:
        return tuple(x.view for x in self._r.exits)

    @property
    def members(self) -> tuple[Order, ...]:
        return tuple(m.view for m in self._r.members)

    def __repr__(self) -> str:
        r = self._r
        return f"OrderGroup(id={r.id!r}, {r.order_class.value}, {r.state})"


class GroupRecord:
    """A group's private record: its legs' records, its state, and the rules (package-only)."""

    __slots__ = ("entry", "exits", "id", "order_class", "state", "view")

    def __init__(
        self,
        group_id: str,
        order_class: OrderClass,
        entry: OrderRecord | None,
        exits: list[OrderRecord],
    ) -> None:
        self.id = group_id
        self.order_class = order_class
        self.entry = entry
        self.exits = exits
        self.state = "entry_working" if entry is not None else "exits_active"
        self.view = OrderGroup(self)

    @property
    def members(self) -> list[OrderRecord]:
        return ([self.entry] if self.entry is not None else []) + self.exits

    def __repr__(self) -> str:
        return f"GroupRecord(id={self.id!r}, {self.order_class.value}, {self.state})"

    def succeed(self, old: OrderRecord, new: OrderRecord) -> None:
        """A confirmed replace: ``new`` takes ``old``'s place among the legs."""
        if old is self.entry:
            self.entry = new
        else:
            self.exits[self.exits.index(old)] = new

    # conditions named in GROUP_TABLE
    def entry_has_fills(self) -> bool:
        return self.entry is not None and bool(self.entry.cum_qty)

    def all_members_done(self) -> bool:
        return all(m.state in _ENDED for m in self.members if m.state != S.DONE_FOR_DAY)

    def _fire(self, name: str) -> bool:
        ev = _event(name)
        if not ev.allowed(self):
            return False
        ev.trigger(self)
        return True

    def cancel(self) -> list[LegAction]:
        """Cancel the group: every open member."""
        _event("cancel").check(self)
        _event("cancel").trigger(self)
        return self._cancel_open(None)

    def on_member(self, order: OrderRecord) -> list[LegAction]:
        """React to a change of one member; returns the leg actions it calls for."""
        st = order.state
        if self.state == "canceling":
            self._fire("settle")
            return []
        if order is self.entry:
            return self._on_entry(order)
        if self.state != "exits_active":
            return []
        if st == S.FILLED:
            self._fire("exit_filled")
            return self._cancel_open(order)
        if st in _ENDED and st != S.REPLACED:
            # An exit ended without filling, not by us: the group goes with it.
            self._fire("member_ended")
            actions = self._cancel_open(order)
            self._fire("settle")
            return actions
        if order.cum_qty and st in (S.PARTIALLY_FILLED, S.PENDING_CANCEL, S.PENDING_REPLACE):
            self._fire("exit_partial")
            return self._resize_others(order)
        return []

    def _on_entry(self, entry: OrderRecord) -> list[LegAction]:
        st = entry.state
        entry_ended = st in _ENDED or (st == S.DONE_FOR_DAY and not entry.is_good_till())
        if self.state != "entry_working" or not entry_ended or st == S.REPLACED:
            return []
        self._fire("entry_done")
        if self.state == "canceled":
            return [LegAction("cancel", x.id) for x in self.exits if x.state not in _ENDED]
        return [LegAction("submit", x.id, entry.cum_qty) for x in self.exits]

    def _cancel_open(self, skip: OrderRecord | None) -> list[LegAction]:
        return [
            LegAction("cancel", m.id)
            for m in self.members
            if m is not skip and m.state not in _ENDED and m.pending_request is None
        ]

    def _resize_others(self, order: OrderRecord) -> list[LegAction]:
        remaining = order.order_qty - order.cum_qty
        return [
            LegAction("resize", x.id, x.cum_qty + remaining)
            for x in self.exits
            if x is not order and x.state not in _ENDED and x.order_qty != x.cum_qty + remaining
        ]
