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
applies locally (held legs) and hands to the venue (working legs).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from fillforge.orders.enums import OrderClass, OrderStatus
from fillforge.orders.machine import GROUP_STATES, GROUP_TABLE, FastEvent, TableMachine
from fillforge.orders.order import Order

__all__ = ["LegAction", "OrderGroup"]

S = OrderStatus
_ENDED = frozenset({S.CANCELED, S.EXPIRED, S.REJECTED, S.DENIED, S.FILLED, S.REPLACED})


@dataclass(frozen=True, slots=True)
class LegAction:
    """What a group needs done to one leg: submit it (with ``qty``), cancel it, or resize it."""

    action: Literal["submit", "cancel", "resize"]
    order_id: str
    qty: Decimal | None = None


_MACHINE: TableMachine | None = None


def _event(name: str) -> FastEvent:
    global _MACHINE
    if _MACHINE is None:
        _MACHINE = TableMachine(GROUP_STATES, GROUP_TABLE, "entry_working")
    return _MACHINE.event(name)


class OrderGroup:
    """A bracket, OTO or OCO: ``entry`` (None for OCO) and its ``exits``."""

    __slots__ = ("entry", "exits", "id", "order_class", "state")

    def __init__(
        self, group_id: str, order_class: OrderClass, entry: Order | None, exits: list[Order]
    ) -> None:
        self.id = group_id
        self.order_class = order_class
        self.entry = entry
        self.exits = exits
        self.state = "entry_working" if entry is not None else "exits_active"

    @property
    def members(self) -> list[Order]:
        return ([self.entry] if self.entry is not None else []) + self.exits

    def __repr__(self) -> str:
        return f"OrderGroup(id={self.id!r}, {self.order_class.value}, {self.state})"

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

    def on_member(self, order: Order) -> list[LegAction]:
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

    def _on_entry(self, entry: Order) -> list[LegAction]:
        st = entry.state
        entry_ended = st in _ENDED or (st == S.DONE_FOR_DAY and not entry.is_good_till())
        if self.state != "entry_working" or not entry_ended or st == S.REPLACED:
            return []
        self._fire("entry_done")
        if self.state == "canceled":
            return [LegAction("cancel", x.id) for x in self.exits if x.state not in _ENDED]
        return [LegAction("submit", x.id, entry.cum_qty) for x in self.exits]

    def _cancel_open(self, skip: Order | None) -> list[LegAction]:
        return [
            LegAction("cancel", m.id)
            for m in self.members
            if m is not skip and m.state not in _ENDED and m.pending_request is None
        ]

    def _resize_others(self, order: Order) -> list[LegAction]:
        remaining = order.order_qty - order.cum_qty
        return [
            LegAction("resize", x.id, x.cum_qty + remaining)
            for x in self.exits
            if x is not order and x.state not in _ENDED and x.order_qty != x.cum_qty + remaining
        ]
