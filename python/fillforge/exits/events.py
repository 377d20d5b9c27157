"""What the broker's order events do to an exit plan (:class:`~fillforge.exits.manager.
ExitManager`): entry fills size it, exit fills shrink it, a replacement carries an order's role
on, an order that ends frees its role (a venue exit refused falls back to local emulation), and
a fill of someone else's order in the symbol (a position closed by hand) follows the position
down. After a restart, :meth:`ExitEvents._catch_up` counts what the broker did meanwhile."""

from __future__ import annotations

from decimal import Decimal

from fillforge.exits.position import ExitMode, ManagedExit, Phase
from fillforge.exits.venue import VenueOrders
from fillforge.orders.enums import OrderStatus
from fillforge.orders.models import OrderEvent

__all__ = ["ExitEvents"]

_REFUSED = frozenset({OrderStatus.REJECTED, OrderStatus.EXPIRED, OrderStatus.DENIED})


class ExitEvents(VenueOrders):
    """Order events applied to the plans (a base class: the manager supplies ``_advance`` and
    ``_finish``)."""

    _plans: dict[str, ManagedExit]

    def _advance(self, m: ManagedExit) -> None:
        raise NotImplementedError  # the manager's next step for the plan

    def _finish(self, m: ManagedExit, reason: str) -> None:
        raise NotImplementedError  # the manager ends the plan

    def _catch_up(self, m: ManagedExit) -> None:
        for oid, role in list(m.roles.items()):
            try:
                o = self.broker.get_order(oid)
            except LookupError:
                continue
            if role == "entry":
                self._sync_order(oid)
                continue
            unseen = m.unseen(oid, o.cum_qty, o.avg_price)
            if unseen is not None:
                self._exit_fill(m, oid, role, *unseen)
            if o.status.is_terminal and oid in m.roles:
                self._ended(m, oid, role, o.status)
        self._by_hand(m)
        self._advance(m)

    def _sync_order(self, order_id: str) -> None:
        """Catch up with an order's state (fills before we owned it arrive as events we saw
        while not knowing it; the order itself is the truth)."""
        m = self._by_order.get(order_id)
        if m is None:
            return
        o = self.broker.get_order(order_id)
        if m.roles.get(order_id) == "entry" and order_id in m.entries_open:
            unseen = m.unseen(order_id, o.cum_qty, o.avg_price)
            if unseen is not None:  # fills we did not see: at the rest of the order's average
                self._entry_fill(m, order_id, *unseen)
            if o.status.is_terminal:
                m.entries_open.discard(order_id)

    def _event(self, e: OrderEvent) -> None:
        m = self._by_order.get(e.order_id)
        if m is None:
            m = self._plans.get(e.symbol)
            if (
                m is not None
                and m.pending_legs
                and self._claim_leg(m, self.broker.get_order(e.order_id))
            ):
                self._event(e)
                return
            if m is not None and e.fill is not None and not e.late:
                self._by_hand(m)
                self._advance(m)
            return
        role = m.roles.get(e.order_id, "")
        if e.status is OrderStatus.REPLACED:
            new = self.broker.get_order(e.order_id).replaced_by
            if new is not None:  # the replacement carries the role on
                self._own(m, new, role)
                if role.startswith("tier:"):
                    m.tiers[int(role[5:])].order_id = new
                elif role == "stop":
                    m.stop_order = new
                m.roles.pop(e.order_id, None)
                self._by_order.pop(e.order_id, None)
                self._advance(m)
                return
        if e.fill is not None and role:
            if role == "entry":
                if e.order_id in m.entries_open:
                    self._entry_fill(m, e.order_id, e.fill.qty, e.fill.price)
            else:
                self._exit_fill(m, e.order_id, role, e.fill.qty, e.fill.price)
        if e.status.is_terminal:
            self._ended(m, e.order_id, role, e.status)
        self._advance(m)

    def _entry_fill(self, m: ManagedExit, order_id: str, qty: Decimal, price: Decimal) -> None:
        m.saw(order_id, qty, price)
        m.entry_fill(m.instrument.to_lots(qty), price)
        m.note(f"entry filled {qty} at {price}")
        if m.mode is ExitMode.VENUE and m.working("venue") and not m.bracket:
            self._resize_venue(m)

    def _exit_fill(
        self, m: ManagedExit, order_id: str, role: str, qty: Decimal, price: Decimal
    ) -> None:
        m.saw(order_id, qty, price)
        lots = m.instrument.to_lots(qty)
        m.exited += lots
        if role.startswith("tier:"):
            m.tiers[int(role[5:])].filled += lots
        elif role == "venue_tp" and m.tiers:
            m.tiers[0].filled += lots
        m.last_exit = role
        m.note(f"{role} filled {qty} at {price}")

    def _ended(self, m: ManagedExit, order_id: str, role: str, status: OrderStatus) -> None:
        del m.roles[order_id]
        self._by_order.pop(order_id, None)
        if role == "entry":
            m.entries_open.discard(order_id)
        elif role.startswith("tier:"):
            tier = m.tiers[int(role[5:])]
            tier.order_id = None
            if m.phase is Phase.ACTIVE and tier.pending > 0:
                tier.lots = tier.filled  # ended unfilled by the venue: its rest goes with the stop
        elif role == "stop":
            m.stop_order = None
            if m.remaining > 0 and m.phase is Phase.STOPPING:
                m.stop_retry = True  # ended with leaves (no liquidity): resend on the next price
        elif role.startswith("venue") and status in _REFUSED and m.phase is Phase.ACTIVE:
            # The venue refused or expired our exits: protect locally from here (placing them
            # again would be refused again). Any other end (canceled) places them again.
            m.mode = ExitMode.LOCAL
            m.note(f"venue exit {order_id} {status.value}: emulating locally")
            self._follow(m)

    def _by_hand(self, m: ManagedExit) -> None:
        """A fill of an order that is not ours in a managed symbol: follow the position down."""
        pos = self.broker.positions().get(m.symbol)
        held = Decimal(0) if pos is None else pos.qty * m.side
        lots = m.instrument.to_lots(held) if held > 0 else 0
        if lots >= m.remaining:
            return
        m.note(f"position reduced by hand to {m.instrument.to_qty(lots)}")
        m.shrink_to(lots)
        if lots == 0 and not m.entries_open:
            self._finish(m, "closed by hand")
        elif m.mode is ExitMode.VENUE:
            self._resize_venue(m)
