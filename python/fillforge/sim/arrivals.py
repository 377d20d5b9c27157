"""The venue side of a simulated broker's requests: a new order, a cancel or a replace reaching
the venue (after its latency, or at the open it waited for), and the leg actions of bracket,
OCO and OTO groups.

An order on its way to the venue (in flight under latency, or waiting for the open) is not on
the engine yet: a cancel ends it where it waits, and a replace replaces it there (Alpaca's
semantics: a new id, the old order ``replaced``), the replacement taking over its arrival. An
order waiting for the open is ``accepted`` (Alpaca's status for an order queued outside market
hours); one in flight stays ``pending_new``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from fillforge.errors import FillforgeError, InsufficientBuyingPowerError, NotShortableError
from fillforge.orders.enums import OPEN_STATUSES, EventKind, OrderSide, OrderStatus
from fillforge.orders.order import Order
from fillforge.sim.latency import LatencySampler
from fillforge.sim.reports import Reports, Wiring
from fillforge.sim.translation import AUCTION, venue_reason
from fillforge.sim.venue import Market

__all__ = ["Arrivals"]

_UNACKED = frozenset({OrderStatus.PENDING_NEW, OrderStatus.ACCEPTED})
# Members read once: ``EventKind.NEW`` goes through the enum metaclass's slow __getattr__ hook.
_PENDING_NEW = OrderStatus.PENDING_NEW
_NEW, _ACCEPTED, _REJECTED = EventKind.NEW, EventKind.ACCEPTED, EventKind.REJECTED
_CANCELED, _CANCEL_REJECTED = EventKind.CANCELED, EventKind.CANCEL_REJECTED


class Arrivals:
    """Sends orders, cancels and replaces to the venue and carries them out when they arrive."""

    def __init__(self, wiring: Wiring, reports: Reports, latency: LatencySampler) -> None:
        self._w = wiring
        self._reports = reports
        self._latency = latency
        reports.after_each = self.run_outbox

    def later(self, action: Callable[[str], None], order_id: str) -> None:
        """Run ``action(order_id)`` when a cancel or replace sent now reaches the venue."""
        sched = self._w.sched
        sched.schedule(sched.now + self._latency.cancel_delay(), lambda: action(order_id))

    def cancel(self, order_id: str) -> None:
        """A cancel of one order (not a group's) sent now: it reaches the venue after its
        latency, at once when there is none and nothing in flight to overtake."""
        self._w.sched.after(self._latency.cancel_delay(), lambda: self.cancel_arrive(order_id))

    # ----- a new order ------------------------------------------------------------------------

    def send(self, order: Order) -> None:
        """Send ``order`` to the venue: it arrives after its latency, or waits for the open
        (``accepted``) when it would reach a closed venue."""
        oid = order.id
        self._w.ids.new_uid(oid)
        delay = self._latency.order_delay()
        auction = order.request.time_in_force in AUCTION
        waits = self._w.sched.send(oid, delay, auction=auction, arrive=self.arrive)
        if waits and self._w.manager.get(oid).status is _PENDING_NEW:
            self._reports.report(_ACCEPTED, oid)

    def arrive(self, order_id: str) -> None:
        o = self._w.manager.get(order_id)
        if o.status not in OPEN_STATUSES or self._w.ids.reached(order_id):
            return  # canceled or replaced before it reached the venue
        market = self._w.venue.market(o.symbol)
        if o.request.notional is not None:
            self._arrive_notional(o, market)
            return
        if self._placed(o, market, _REJECTED):
            if o.status in _UNACKED:  # a replacement made on its way is already new
                self._reports.report(_NEW, order_id)
            self._reports.drain(market)

    def _arrive_notional(self, o: Order, market: Market) -> None:
        """A notional market order: its quantity is what the notional buys (or sells) at the
        touch when it arrives, in whole lots; the venue acknowledges it with that quantity."""
        inst, notional = market.instrument, o.request.notional
        assert notional is not None
        touch = market.best_ask() if o.request.side is OrderSide.BUY else market.best_bid()
        lots = 0 if touch is None else int(notional / touch / inst.lot_size)
        if lots == 0:
            self._w.funding.release(o.id)
            why = "no market to size it" if touch is None else f"buys less than one lot at {touch}"
            self._reports.report(EventKind.REJECTED, o.id, reason=f"notional {notional}: {why}")
            return
        self._reports.report(EventKind.NEW, o.id, qty=inst.to_qty(lots))
        if self._placed(o, market, EventKind.CANCELED):
            self._reports.drain(market)

    def _placed(self, o: Order, market: Market, refusal: EventKind) -> bool:
        """Place ``o``; if the venue refuses it, report ``refusal`` with the reason, free its
        buying power and return False."""
        try:
            self._w.ids.place(o, market, self._w.sched.now)
        except FillforgeError as e:
            market.engine.take_events()
            self._w.funding.release(o.id)
            self._reports.report(refusal, o.id, reason=venue_reason(e))
            return False
        return True

    # ----- cancels ----------------------------------------------------------------------------

    def cancel_arrive(self, order_id: str) -> None:
        o = self._w.manager.get(order_id)
        if o.status not in OPEN_STATUSES:
            self._too_late(o, _CANCEL_REJECTED)
            return
        if self._w.ids.reached(order_id):
            try:
                self._w.venue.market(o.symbol).engine.cancel(self._w.ids.uid[order_id])
            except FillforgeError:
                self._reports.report(_CANCEL_REJECTED, order_id, reason="too late to cancel")
                return
        self._w.funding.release(order_id)
        self._reports.report(_CANCELED, order_id, reason="user")

    def _too_late(self, o: Order, kind: EventKind) -> None:
        """A cancel or replace that reaches the venue after the order ended (filled, say)."""
        if o.pending_request is not None:
            self._reports.report(kind, o.id, reason=f"order is already {o.status.value}")

    # ----- replaces ---------------------------------------------------------------------------

    def replace_arrive(self, order_id: str) -> None:
        o = self._w.manager.get(order_id)
        terms = o.pending_request
        if terms is None:
            return
        if not o.status.is_open:
            self._too_late(o, EventKind.REPLACE_REJECTED)
            return
        market = self._w.venue.market(o.symbol)
        on_its_way = not self._w.ids.reached(o.id) and self._w.sched.on_its_way(o.id)
        if terms.get("trail") is not None and not on_its_way:
            self._retrail(o, market, terms["trail"])
            return
        try:  # the account may have changed since the replace was asked for
            self._w.funding.check_replacement(o, terms.get("qty"), terms.get("limit_price"))
        except (InsufficientBuyingPowerError, NotShortableError) as e:
            self._reports.report(EventKind.REPLACE_REJECTED, o.id, reason=str(e))
            return
        if not on_its_way:
            try:
                market.engine.cancel(self._w.ids.uid[o.id])
            except FillforgeError:
                self._reports.report(EventKind.REPLACE_REJECTED, o.id, reason="too late to replace")
                return
        new = self._replaced(o, terms)
        if new is None:
            return
        if on_its_way:  # the waiting copy takes the new terms and keeps its arrival
            self._w.ids.new_uid(new.id)
            self._w.sched.take_over(o.id, new.id, self.arrive)
            return
        self._w.ids.new_uid(new.id)
        # Already acknowledged: a refusal now cancels it.
        if self._placed(new, market, EventKind.CANCELED):
            self._reports.drain(market)

    def _replaced(self, o: Order, terms: Mapping[str, Any]) -> Order | None:
        """Report ``o`` replaced on ``terms``; move its buying power to the replacement; the
        replacement, None if it is not open."""
        new_id = self._w.ids.replacement_id(o)
        self._reports.report(
            EventKind.REPLACED,
            o.id,
            new_order_id=new_id,
            qty=terms.get("qty"),
            limit_price=terms.get("limit_price"),
            stop_price=terms.get("stop_price"),
        )
        new = self._w.manager.get(new_id)
        self._w.funding.release(o.id)
        if not new.status.is_open:
            return None
        self._w.funding.reserve(new, self._w.funding.replacement_price(new, None))
        return new

    def _retrail(self, o: Order, market: Market, trail: Decimal) -> None:
        """A trailing stop's new trail: amended in the engine (the water mark stays); the
        replacement order takes over the engine's stop."""
        try:
            market.engine.amend_trailing(
                self._w.ids.uid[o.id], **self._w.ids.trail_args(o, trail, market)
            )
        except FillforgeError:
            self._reports.report(
                EventKind.REPLACE_REJECTED, o.id, reason="the stop is no longer held"
            )
            return
        new_id = self._w.ids.replacement_id(o)
        self._reports.report(EventKind.REPLACED, o.id, new_order_id=new_id)
        new = self._w.manager.get(new_id)  # its request carries the new trail (the manager's)
        self._w.ids.moved(o.id, new.id)
        self._w.funding.rekey(o.id, new.id)

    # ----- group legs -------------------------------------------------------------------------

    def run_outbox(self) -> None:
        """Carry out the leg actions of bracket, OCO and OTO groups."""
        out = self._w.manager.outbox
        while out:
            a = out.popleft()
            leg = self._w.manager.get(a.order_id)
            if a.action == "submit":
                if leg.id not in self._w.ids.uid:
                    price = leg.limit_price or leg.stop_price
                    assert price is not None  # exits are limit or stop orders
                    self._w.funding.reserve(leg, price)
                    self.send(leg)
            elif a.action == "cancel":
                self.later(self.cancel_arrive, leg.id)
            else:
                self.later(self.replace_arrive, leg.id)
