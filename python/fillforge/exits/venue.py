"""The broker side of :class:`~fillforge.exits.manager.ExitManager`: owning orders by role,
placing and moving venue exits (OCO, stop, trailing stop, a bracket's legs), claiming legs a
broker lists as separate orders, and running each broker request so that a refusal is recorded,
never raised into the broker's callback."""

from __future__ import annotations

import logging
from collections.abc import Callable
from decimal import Decimal

from fillforge.broker.protocol import Broker
from fillforge.errors import ExitPlanError, FillforgeError
from fillforge.exits.position import ExitMode, ManagedExit
from fillforge.exits.requests import venue_request
from fillforge.orders.enums import OrderClass, OrderSide, OrderType
from fillforge.orders.models import OrderRequest
from fillforge.orders.order import Order

__all__ = ["VenueOrders"]

log = logging.getLogger("fillforge.exits")


class VenueOrders:
    """Order handling for the exit manager (a base class: the manager supplies ``_put`` and
    ``_follow``)."""

    broker: Broker
    _by_order: dict[str, ManagedExit]

    def _put(self, kind: str, item: object) -> None:
        raise NotImplementedError  # the manager's queue

    def _follow(self, m: ManagedExit) -> None:
        raise NotImplementedError  # the manager's market-data subscriptions

    def _check_levels(self, m: ManagedExit, request: OrderRequest) -> None:
        """Refuse, before sending, a plan whose levels cannot be set at the price the entry is
        expected at (a stop that rounds onto the entry); without a price nothing is checked."""
        try:
            reference = self._reference(m, request)
        except ExitPlanError:
            return
        assert request.qty is not None
        m.plan.levels(m.instrument, m.side, reference, m.instrument.to_lots(request.qty), m.atr)

    def _reference(self, m: ManagedExit, request: OrderRequest) -> Decimal:
        """The price a bracket's levels are set from before the entry fills."""
        if request.limit_price is not None:
            return request.limit_price
        q = self.broker.latest_quote(m.symbol)
        touch = None if q is None else (q.ask_price if m.side == 1 else q.bid_price)
        if touch is not None:
            return touch
        t = self.broker.last_trade(m.symbol)
        if t is None:
            raise ExitPlanError("bracket", True, f"no limit, quote or trade to price {m.symbol}")
        return t.price

    def _own_legs(self, m: ManagedExit, request: OrderRequest, order: Order) -> None:
        """Own a bracket's or OCO's exit legs: by group where the broker keeps one, else claim
        each leg when it shows (a broker that lists legs as separate orders: Alpaca)."""
        tp, sl = request.take_profit, request.stop_loss
        exit_side = OrderSide.SELL if m.side == 1 else OrderSide.BUY
        if order.group_id is not None:
            for o in self.broker.orders(symbol=m.symbol):
                if o.group_id == order.group_id and o.id not in m.roles:
                    self._own(m, o.id, "venue_stop" if o.stop_price else "venue_tp")
            return
        if tp is not None and request.order_class is not OrderClass.OCO:
            m.pending_legs.append(("venue_tp", OrderType.LIMIT, exit_side, tp.limit_price))
        if sl is not None:
            m.pending_legs.append(("venue_stop", OrderType.STOP, exit_side, sl.stop_price))
        for o in self.broker.orders(open_only=True, symbol=m.symbol):
            self._claim_leg(m, o)

    def _own(self, m: ManagedExit, order_id: str, role: str) -> None:
        m.roles[order_id] = role
        self._by_order[order_id] = m

    def _claim_leg(self, m: ManagedExit, o: Order) -> bool:
        """Own ``o`` as a leg just placed, if it is one (a broker that shows legs as separate
        orders names no group: a leg is the unowned stop or limit on the exit side at the
        leg's price)."""
        if o.id in self._by_order:
            return False
        for leg in m.pending_legs:
            role, kind, side, price = leg
            if o.request.type is not kind or o.request.side is not side:
                continue
            if (o.stop_price if kind is OrderType.STOP else o.limit_price) == price:
                m.pending_legs.remove(leg)
                self._own(m, o.id, role)
                return True
        return False

    def _held(self, m: ManagedExit) -> int:
        """Lots the broker says are held on the plan's side (exits never sell more)."""
        pos = self.broker.positions().get(m.symbol)
        held = Decimal(0) if pos is None else pos.qty * m.side
        return m.instrument.to_lots(held) if held > 0 else 0

    def _place_venue(self, m: ManagedExit) -> None:
        lots = min(m.remaining, self._held(m))
        if lots <= 0:
            return
        req = venue_request(m, lots)
        order = self._call(m, lambda: self.broker.submit(req))
        if order is None:
            m.mode = ExitMode.LOCAL
            m.note("venue refused the exits: emulating locally")
            self._follow(m)
            return
        if req.order_class is not OrderClass.OCO:
            self._own(m, order.id, "venue_trail" if m.plan.trail is not None else "venue_stop")
        else:
            self._own(m, order.id, "venue_tp")
            self._own_legs(m, req, order)
        m.note(f"venue {req.order_class.value} {req.type.value} {req.qty}")
        self._put("sync", None)

    def _rebase_bracket(self, m: ManagedExit) -> None:
        """The entry is done: move the bracket's legs to the levels of the actual average
        entry (once), then manage them as any venue exits."""
        m.bracket = False
        assert m.watch is not None
        inst = m.instrument
        for oid in m.working("venue"):
            o = self.broker.get_order(oid)
            if not o.status.is_open:
                continue
            if m.roles[oid] == "venue_stop" and o.stop_price != inst.to_price(m.watch.stop):
                m.note(f"bracket stop moved to {inst.to_price(m.watch.stop)} (actual entry)")
                self._move_venue_stop(m)
            elif m.roles[oid] == "venue_tp" and m.tiers:
                price = inst.to_price(m.tiers[0].price)
                if o.limit_price != price:
                    m.note(f"bracket target moved to {price} (actual entry)")
                    self._call(m, lambda o=oid, p=price: self.broker.replace(o, limit_price=p))  # type: ignore[misc]

    def _resize_venue(self, m: ManagedExit) -> None:
        """Cancel the venue exits; :meth:`_advance` places them again for what is held."""
        ids = m.working("venue")
        if not ids:
            return
        m.resizing = True
        self._cancel_open(m, ids)

    def _move_venue_stop(self, m: ManagedExit) -> None:
        assert m.watch is not None
        stop = m.instrument.to_price(m.watch.stop)
        for oid in m.working("venue_stop"):
            m.note(f"venue stop moved to {stop}")
            self._call(m, lambda oid=oid: self.broker.replace(oid, stop_price=stop))  # type: ignore[misc]

    def _cancel_open(self, m: ManagedExit, ids: list[str]) -> None:
        """Cancel each of ``ids`` still open (canceling one leg of an OCO cancels its group)."""
        for oid in ids:
            if self.broker.get_order(oid).status.is_open:
                self._call(m, lambda oid=oid: self.broker.cancel(oid))  # type: ignore[misc]

    def _call(self, m: ManagedExit, fn: Callable[[], object]) -> Order | None:
        """Run one broker request; a refusal is logged on the plan, never raised into the
        broker's callback."""
        try:
            out = fn()
        except FillforgeError as e:
            m.note(f"refused: {e}")
            log.warning("exit plan %s: %s", m.symbol, e)
            return None
        return out if isinstance(out, Order) else None
