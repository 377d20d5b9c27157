"""The order manager: every order by id and client order id, venue reports applied through the
state machines, typed events published to subscribers, contingent groups kept in step.

The manager does not talk to a venue. Requests (submit, cancel, replace) change local state and
publish an event; a broker sends them on. What the venue answers comes back through
:meth:`OrderManager.apply`. The manager is the only holder of the orders' private records
(:class:`~fillforge.orders._lifecycle.OrderRecord`) and so the only caller of their triggers;
everything it hands out is a read-only :class:`~fillforge.orders.order.Order` view. Leg actions
of contingent groups (submit an exit, cancel or resize a sibling) are applied locally where they
can be (held legs) and queued in :attr:`outbox` for the venue otherwise.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Callable
from decimal import Decimal
from typing import TypeVar

from fillforge.errors import (
    DuplicateClientOrderIdError,
    InvalidTransitionError,
    OrderValidationError,
    UnknownOrderIdError,
)
from fillforge.orders._lifecycle import Change, OrderRecord, event_of
from fillforge.orders.enums import (
    OPEN_STATUSES,
    EventKind,
    OrderClass,
    OrderSide,
    OrderStatus,
    OrderType,
)
from fillforge.orders.groups import GroupRecord, LegAction, OrderGroup
from fillforge.orders.models import (
    Fill,
    OrderEvent,
    OrderRequest,
    ReplaceTerms,
    VenueReport,
    split_child_id,
)
from fillforge.orders.order import Order
from fillforge.orders.streams import EventStream

__all__ = ["EventStream", "OrderManager"]

Subscriber = Callable[[OrderEvent], None]
# Read once (``EventKind.CREATED`` goes through the enum metaclass's slow __getattr__ hook).
_CREATED, _REPLACED, _DUPLICATE_FILL = (
    EventKind.CREATED,
    EventKind.REPLACED,
    EventKind.DUPLICATE_FILL,
)
_SIMPLE, _FILL = OrderClass.SIMPLE, EventKind.FILL
_T = TypeVar("_T")


class OrderManager:
    """Holds every order and group; the only writer of their state (``orders``, ``groups`` and
    every query hand out read-only views).

    ``id_factory`` makes order ids (default: ``"o-1"``, ``"o-2"``, ..., deterministic);
    ``clock`` gives the nanosecond timestamp of requests made without one.
    """

    def __init__(
        self,
        *,
        id_factory: Callable[[], str] | None = None,
        clock: Callable[[], int] | None = None,
    ) -> None:
        counter = itertools.count(1)
        self._new_id = id_factory or (lambda: f"o-{next(counter)}")
        self._spare_id: str | None = None  # drawn by next_id(), not used yet
        self._clock = clock or (lambda: 0)
        self.orders: dict[str, Order] = {}
        # The open orders, oldest first, kept by every event the manager publishes: listing
        # them costs what is open, not every order ever made.
        self._open: dict[str, Order] = {}
        # The same by symbol and side (a wash-trade check asks for the other side's only).
        self._open_by: dict[tuple[str, OrderSide], dict[str, Order]] = {}
        self._by_client: dict[str, Order] = {}
        # A parent's children: (child number, venue index, client order id) by the parent id
        # their client order ids name (split_child_id); the parents whose lists are out of order
        # (orders read back from a venue come in the venue's order) are sorted when asked for.
        # Registering an order only queues an id that may be a child's (one substring test and
        # an append); the ids are parsed when children are first asked for.
        self._children: dict[str, list[tuple[int, int, str]]] = {}
        self._unsorted: set[str] = set()
        self._maybe_children: deque[str] = deque()
        self.groups: dict[str, OrderGroup] = {}
        self._subscribers: list[Subscriber] = []
        self._streams: list[EventStream] = []
        self.outbox: deque[LegAction] = deque()

    # ----- subscribers ----------------------------------------------------------------------

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Call ``callback`` with every event; returns a function that unsubscribes."""
        self._subscribers.append(callback)
        return lambda: self._subscribers.remove(callback)

    def stream(self) -> EventStream:
        """A new buffered stream of every event from now on (sync and async iteration)."""
        s = EventStream()
        self._streams.append(s)
        return s

    def _publish(self, change: Change) -> Change:
        """Keep the open-order index, and deliver the change's event to every subscriber and
        stream (built only when there is one)."""
        rec = change[0]
        oid = rec.id
        if change[9] in OPEN_STATUSES:
            if oid not in self._open:
                o = self.orders.get(oid)
                if o is not None:
                    self._open[oid] = o
                    self._open_by.setdefault((o.symbol, o.request.side), {})[oid] = o
        else:
            o = self._open.pop(oid, None)
            if o is not None:
                self._open_by[(o.symbol, o.request.side)].pop(oid, None)
        if self._subscribers or self._streams:
            event = event_of(change)
            for cb in self._subscribers:
                cb(event)
            for s in self._streams:
                s.push(event)
        return change

    # ----- queries --------------------------------------------------------------------------

    def get(self, order_id: str) -> Order:
        o = self.orders.get(order_id)
        if o is None:
            raise _unknown(order_id)
        return o

    def by_client_order_id(self, client_order_id: str) -> Order:
        o = self._by_client.get(client_order_id)
        if o is None:
            raise UnknownOrderIdError(f"client_order_id={client_order_id!r}: no such order")
        return o

    def children(self, parent_id: str) -> list[Order]:
        """A parent order's children: every order whose client order id names ``parent_id``
        (:func:`~fillforge.orders.ids.parent_of`), in the order of their child numbers (the
        order they were made), each as its live order (the last of its replace chain); empty for
        an unknown parent."""
        maybe = self._maybe_children
        while maybe:
            self._index_child(maybe.popleft())
        kids = self._children.get(parent_id)
        if kids is None:
            return []
        if parent_id in self._unsorted:
            kids.sort()
            self._unsorted.discard(parent_id)
        by_client = self._by_client
        return [by_client[k[2]] for k in kids]

    def open_orders(self, symbol: str | None = None, side: OrderSide | None = None) -> list[Order]:
        """The open orders (oldest first; of ``symbol``, and on ``side`` with a symbol), from
        the index of open orders."""
        if symbol is not None and side is not None:
            return [
                o
                for o in self._open_by.get((symbol, side), {}).values()
                if o.state in OPEN_STATUSES
            ]
        return [
            o
            for o in self._open.values()
            if o.state in OPEN_STATUSES and (symbol is None or o.symbol == symbol)
        ]

    def with_status(self, *statuses: OrderStatus) -> list[Order]:
        want = {str(s) for s in statuses}
        return [o for o in self.orders.values() if o.state in want]

    def by_symbol(self, symbol: str) -> list[Order]:
        return [o for o in self.orders.values() if o.symbol == symbol]

    def group(self, group_id: str) -> OrderGroup:
        g = self.groups.get(group_id)
        if g is None:
            raise UnknownOrderIdError(f"group_id={group_id!r}: no such group")
        return g

    def chain(self, order_id: str) -> list[Order]:
        """The replace chain through ``order_id``, oldest first."""
        o = self.get(order_id)
        while o.replaces is not None:
            o = self.orders[o.replaces]
        out = [o]
        while o.replaced_by is not None:
            o = self.orders[o.replaced_by]
            out.append(o)
        return out

    # ----- requests -------------------------------------------------------------------------

    def next_id(self) -> str:
        """The id the next order made without one will get: drawn from the id factory once and
        kept until an order takes it, so a caller can act under it first (the simulator reserves
        buying power under it before the order exists) and a refusal in between loses no id."""
        if self._spare_id is None:
            self._spare_id = self._new_id()
        return self._spare_id

    def _next_id(self) -> str:
        spare = self._spare_id
        if spare is None:
            return self._new_id()
        self._spare_id = None
        return spare

    def create(
        self,
        request: OrderRequest,
        *,
        order_id: str | None = None,
        possible_resend: bool = False,
        ts: int | None = None,
        replaces: str | None = None,
        submit: bool = False,
    ) -> Order:
        """Register a new order (and, for bracket/OCO/OTO, its group and legs).

        A client order id already in use raises DuplicateClientOrderIdError and changes nothing,
        unless ``possible_resend`` (FIX PossResend): then the known order is returned as is.
        ``replaces``: the venue order this one replaced, when that order is not held here (a
        replacement adopted from a venue after a restart); its ``created`` event names it
        (``related_id``), so a journal counts the executions it carries once.
        ``submit``: mark it sent at once (:meth:`submit`, at the same time), as a broker sending
        it now does; its events go to subscribers and streams as ever.
        Returns the order to submit (the entry; for an OCO, the take-profit leg).
        """
        cid = request.client_order_id
        if cid is not None and cid in self._by_client:
            if possible_resend:
                return self._by_client[cid]
            raise DuplicateClientOrderIdError(
                f"client_order_id={cid!r}: already used by order {self._by_client[cid].id!r}"
            )
        oid = order_id or self._next_id()
        if oid in self.orders:
            raise DuplicateClientOrderIdError(f"order_id={oid!r}: already used")
        t = self._now(ts)
        if request.order_class is _SIMPLE:
            rec = OrderRecord(oid, request, client_order_id=cid or oid, ts=t)
            rec.replaces = replaces
            self._register(rec, t)
        else:
            rec = self._create_group(oid, request, cid or oid, t)
        if submit:
            self._submit(rec, t)
        return rec.view

    def _record(self, order_id: str) -> OrderRecord:
        o = self.orders.get(order_id)  # get(), inlined: once per request and venue report
        if o is None:
            raise _unknown(order_id)
        return o._r

    def _register(self, rec: OrderRecord, ts: int) -> OrderRecord:
        self.orders[rec.id] = rec.view
        cid = rec.client_order_id
        self._by_client[cid] = rec.view
        if "-c" in cid:  # parent_of's own first test: may be a child's id
            self._maybe_children.append(cid)
        # An order adopted mid-chain names the order it replaced from its first event on.
        self._publish(rec._emit(rec.state, _CREATED, ts, related=rec.replaces))
        return rec

    def _create_group(self, oid: str, r: OrderRequest, cid: str, ts: int) -> OrderRecord:
        legs: list[OrderRecord] = []
        exit_side = r.side if r.order_class is OrderClass.OCO else r.side.opposite
        simple = {"order_class": OrderClass.SIMPLE, "take_profit": None, "stop_loss": None}
        entry: OrderRecord | None = None
        if r.order_class is not OrderClass.OCO:
            entry = OrderRecord(oid, r.model_copy(update=simple), client_order_id=cid, ts=ts)
        tp, sl = r.take_profit, r.stop_loss
        if tp is not None:
            leg = r.model_copy(
                update={
                    **simple,
                    "side": exit_side,
                    "type": OrderType.LIMIT,
                    "limit_price": tp.limit_price,
                    "stop_price": None,
                    "client_order_id": f"{cid}-tp",
                }
            )
            leg_id = oid if entry is None else self._next_id()
            legs.append(OrderRecord(leg_id, leg, client_order_id=f"{cid}-tp", ts=ts))
        if sl is not None:
            leg = r.model_copy(
                update={
                    **simple,
                    "side": exit_side,
                    "type": OrderType.STOP if sl.limit_price is None else OrderType.STOP_LIMIT,
                    "stop_price": sl.stop_price,
                    "limit_price": sl.limit_price,
                    "client_order_id": f"{cid}-sl",
                }
            )
            legs.append(OrderRecord(self._next_id(), leg, client_order_id=f"{cid}-sl", ts=ts))
        for c in [f"{cid}-tp", f"{cid}-sl"]:
            if c in self._by_client:
                raise DuplicateClientOrderIdError(f"client_order_id={c!r}: already used")
        group = GroupRecord(oid, r.order_class, entry, legs)
        self.groups[oid] = group.view
        for m in group.members:
            m.group_id = oid
            self._register(m, ts)
        if entry is not None:
            for leg_order in legs:
                self._publish(leg_order.hold(ts))
            return entry
        return legs[0]

    def submit(self, order_id: str, ts: int | None = None) -> OrderEvent:
        """Mark an order sent (pending new). For an OCO, submits both legs."""
        return event_of(self._submit(self._record(order_id), self._now(ts)))

    def _submit(self, o: OrderRecord, t: int) -> Change:
        g = self.groups.get(o.group_id) if o.group_id else None
        if g is not None and g.entry is None:
            for leg in g._r.exits:
                if leg is not o:
                    self._publish(leg.submit(t))
        return self._publish(o.submit(t))

    def deny(self, order_id: str, reason: str, ts: int | None = None) -> OrderEvent:
        o, t = self._record(order_id), self._now(ts)
        return event_of(self._after(o, o.deny(reason, t), t)[0])

    def request_cancel(self, order_id: str, ts: int | None = None) -> list[OrderEvent]:
        """Ask to cancel; for a group member, the whole group is canceled (Alpaca's rule)."""
        o = self._record(order_id)
        g = self.groups.get(o.group_id) if o.group_id else None
        t = self._now(ts)
        if g is not None:
            return _events(self._run_actions(g._r.cancel(), t))
        return [event_of(self._publish(o.request_cancel(t)))]

    def cancel_group(self, group_id: str, ts: int | None = None) -> list[OrderEvent]:
        return _events(self._run_actions(self.group(group_id)._r.cancel(), self._now(ts)))

    def request_replace(
        self, order_id: str, terms: ReplaceTerms, ts: int | None = None
    ) -> OrderEvent:
        """Ask to replace (each term ``terms`` gives overrides the old one)."""
        o = self._record(order_id)
        if not isinstance(terms, ReplaceTerms):
            raise OrderValidationError("terms", terms, "expected ReplaceTerms")
        cid = terms.client_order_id
        if cid is not None and cid in self._by_client:
            raise DuplicateClientOrderIdError(f"client_order_id={cid!r}: already used")
        return event_of(self._publish(o.request_replace(terms, self._now(ts))))

    # ----- venue reports --------------------------------------------------------------------

    def apply(self, report: VenueReport) -> list[OrderEvent]:
        """Apply one venue report to its order; returns (and publishes) the resulting events,
        including any from the order's group."""
        o = self._record(report.order_id)
        kind = report.kind
        if kind is _REPLACED:
            return _events(self._replace(o, report))
        handler = _HANDLERS.get(kind)
        if handler is None:
            raise InvalidTransitionError(o.id, o.state, kind.value)
        return _events(self._after(o, handler(o, report), report.ts))

    def apply_fields(
        self,
        kind: EventKind,
        order_id: str,
        ts: int,
        *,
        fill: Fill | None = None,
        reason: str | None = None,
        qty: Decimal | None = None,
    ) -> None:
        """:meth:`apply` for a report given as its fields, by a caller that makes its reports
        valid (a simulated venue's own): the same handlers, without a report object, and no
        events handed back (subscribers and streams get them as ever): a simulation nobody
        listens to builds no event objects. A report that carries new terms or ids
        (``replaced``, ``restated``, trade corrections) goes through :meth:`apply`."""
        o = self._record(order_id)
        handler = _FIELD_HANDLERS.get(kind)
        if handler is None:
            raise OrderValidationError("kind", kind, "needs a VenueReport: use apply()")
        self._after(o, handler(o, ts, fill, reason, qty), ts)

    def _after(self, o: OrderRecord, change: Change, ts: int) -> list[Change]:
        """Publish ``change`` and what it sets off in the order's group."""
        self._publish(change)
        if o.group_id is None or change[1] is _DUPLICATE_FILL:
            return [change]
        return [change, *self._run_actions(self.groups[o.group_id]._r.on_member(o), ts)]

    def _replace(self, o: OrderRecord, report: VenueReport) -> list[Change]:
        new_id = report.new_order_id
        assert new_id is not None
        if new_id in self.orders:
            raise DuplicateClientOrderIdError(f"new_order_id={new_id!r}: already used")
        old_ev, new, new_ev = o.replace(
            new_id,
            report.ts,
            qty=report.qty,
            limit_price=report.limit_price,
            stop_price=report.stop_price,
        )
        self.orders[new.id] = new.view
        # The client order id moves to the live order unless the replace asked for a new one.
        cid = new.client_order_id
        if cid != o.client_order_id and "-c" in cid:
            self._maybe_children.append(cid)
        self._by_client[cid] = new.view
        self._publish(old_ev)
        g = self.groups.get(o.group_id) if o.group_id else None
        if g is not None:  # the new order takes the old one's place in its group
            g._r.succeed(o, new)
        return [old_ev, *self._after(new, new_ev, report.ts)]

    def _index_child(self, client_order_id: str) -> None:
        split = split_child_id(client_order_id)
        if split is None:
            return
        pid, n, venue = split
        key = (n, venue, client_order_id)
        kids = self._children.get(pid)
        if kids is None:
            self._children[pid] = [key]
            return
        if key < kids[-1]:
            self._unsorted.add(pid)
        kids.append(key)

    # ----- group actions --------------------------------------------------------------------

    def _run_actions(self, actions: list[LegAction], ts: int) -> list[Change]:
        """Apply leg actions: held legs change here; working legs get a request and the
        action is queued in ``outbox`` for the venue."""
        events: list[Change] = []
        for a in actions:
            leg = self.orders[a.order_id]._r
            if a.action == "submit":
                if a.qty is not None and a.qty != leg.order_qty:
                    leg.order_qty = a.qty  # held: not at any venue yet, resized in place
                events.append(self._publish(leg.submit(ts)))
                self.outbox.append(a)
            elif a.action == "cancel":
                if leg.state == OrderStatus.HELD:
                    events += self._after(leg, leg.cancel("group", ts), ts)
                elif leg.pending_request is None:
                    events.append(self._publish(leg.request_cancel(ts)))
                    self.outbox.append(a)
            elif leg.pending_request is None:  # resize a working leg through a replace
                events.append(self._publish(leg.request_replace(ReplaceTerms(qty=a.qty), ts)))
                self.outbox.append(a)
        return events

    def _now(self, ts: int | None) -> int:
        return self._clock() if ts is None else ts

    def __len__(self) -> int:
        return len(self.orders)

    def __repr__(self) -> str:
        return f"OrderManager(orders={len(self.orders)}, groups={len(self.groups)})"


def _events(changes: list[Change]) -> list[OrderEvent]:
    return [event_of(c) for c in changes]


def _unknown(order_id: str) -> UnknownOrderIdError:
    return UnknownOrderIdError(f"order_id={order_id!r}: no such order")


def _need(value: _T | None, field: str) -> _T:
    if value is None:  # VenueReport's validator makes this unreachable for validated reports
        raise OrderValidationError(field, None, "required for this report kind")
    return value


# A report's handlers: (record, ts, fill, reason, qty) for the kinds a report's common fields
# describe; the rest read the whole report.
_FieldHandler = Callable[[OrderRecord, int, Fill | None, str | None, Decimal | None], Change]
_FIELD_HANDLERS: dict[EventKind, _FieldHandler] = {
    EventKind.ACCEPTED: lambda o, ts, f, why, q: o.accept(ts),
    EventKind.NEW: lambda o, ts, f, why, q: o.ack(ts, q),
    EventKind.REJECTED: lambda o, ts, f, why, q: o.reject(why or "rejected", ts),
    EventKind.FILL: lambda o, ts, f, why, q: o.fill(_need(f, "fill"), ts, final=True),
    EventKind.PARTIAL_FILL: lambda o, ts, f, why, q: o.fill(_need(f, "fill"), ts),
    EventKind.DONE_FOR_DAY: lambda o, ts, f, why, q: o.done_for_day(ts),
    EventKind.PENDING_CANCEL: lambda o, ts, f, why, q: o.pending_cancel(ts),
    EventKind.CANCELED: lambda o, ts, f, why, q: o.cancel(why, ts),
    EventKind.CANCEL_REJECTED: lambda o, ts, f, why, q: o.cancel_reject(why, ts),
    EventKind.PENDING_REPLACE: lambda o, ts, f, why, q: o.pending_replace(ts),
    EventKind.REPLACE_REJECTED: lambda o, ts, f, why, q: o.replace_reject(why, ts),
    EventKind.EXPIRED: lambda o, ts, f, why, q: o.expire(ts),
}


def _on_restate(o: OrderRecord, r: VenueReport) -> Change:
    qty = _need(r.qty, "qty")
    return o.restate(qty, r.ts, limit_price=r.limit_price, stop_price=r.stop_price, reason=r.reason)


def _by_fields(kind: EventKind) -> Callable[[OrderRecord, VenueReport], Change]:
    handler = _FIELD_HANDLERS[kind]
    return lambda o, r: handler(o, r.ts, r.fill, r.reason, r.qty)


_HANDLERS: dict[EventKind, Callable[[OrderRecord, VenueReport], Change]] = {
    **{kind: _by_fields(kind) for kind in _FIELD_HANDLERS},
    EventKind.RESTATED: _on_restate,
    EventKind.TRADE_CANCEL: lambda o, r: o.trade_cancel(_need(r.trade_id, "trade_id"), r.ts),
    EventKind.TRADE_CORRECT: lambda o, r: o.trade_correct(_need(r.fill, "fill"), r.ts),
}


class ManagedOrders:
    """The order queries and event feed of a broker that keeps its orders in ``self.manager``
    (shared by every :class:`~fillforge.sim.broker.Broker` implementation)."""

    manager: OrderManager

    def get_order(self, order_id: str) -> Order:
        return self.manager.get(order_id)

    def get_order_by_client_id(self, client_order_id: str) -> Order:
        return self.manager.by_client_order_id(client_order_id)

    def orders(self, *, open_only: bool = False, symbol: str | None = None) -> list[Order]:
        if open_only:
            return self.manager.open_orders(symbol)
        return [o for o in self.manager.orders.values() if symbol is None or o.symbol == symbol]

    def events(self) -> EventStream:
        """A new buffered stream of every order event from now on (sync and async iteration)."""
        return self.manager.stream()

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Call ``callback`` with every order event; returns a function that unsubscribes."""
        return self.manager.subscribe(callback)
