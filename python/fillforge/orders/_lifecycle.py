"""One order's mutable record and its lifecycle triggers, private to ``fillforge.orders``.

Only the order manager (and the group logic it runs) holds an :class:`OrderRecord`; everyone
else sees its read-only :class:`~fillforge.orders.order.Order` view (``record.view``), so the
triggers below (``fill``, ``cancel``, ``replace``...) can only be fired by a venue report through
:meth:`OrderManager.apply` or by a request through the manager.

Every trigger checks the table first (an event it does not allow raises
:class:`~fillforge.errors.InvalidTransitionError` and changes nothing), then updates quantities,
then fires the event, whose destination the table resolves from the new quantities, and returns
the :data:`Change` it made (the manager builds the :class:`~fillforge.orders.models.OrderEvent`
from it, :func:`event_of`, for whoever reads events).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Final

from fillforge.errors import OrderValidationError
from fillforge.orders.enums import EventKind, OrderStatus, OrderTimeInForce, OrderType
from fillforge.orders.machine import FastEvent, order_machine
from fillforge.orders.models import Fill, OrderEvent, OrderRequest, ReplaceTerms
from fillforge.orders.order import Order

__all__ = ["Change", "OrderRecord", "event_of"]

S = OrderStatus
ZERO = Decimal(0)
_ZERO_LEAVES = frozenset({S.FILLED, S.CANCELED, S.REJECTED, S.EXPIRED, S.REPLACED, S.DENIED})
_LATE = frozenset({S.CANCELED, S.EXPIRED, S.REPLACED, S.REJECTED})
_PENDING = frozenset({S.PENDING_CANCEL, S.PENDING_REPLACE})
# The members the hot triggers read, bound once: ``EventKind.NEW`` goes through the enum
# metaclass's __getattr__ hook, a slow read per use; a module global does not.
_DONE_FOR_DAY: Final = S.DONE_FOR_DAY
_DAY: Final = OrderTimeInForce.DAY
_PENDING_NEW, _ACCEPTED = S.PENDING_NEW, S.ACCEPTED
_SUBMITTED, _ACCEPTED_EV = EventKind.SUBMITTED, EventKind.ACCEPTED
_NEW_EV, _FILL, _PARTIAL_FILL = EventKind.NEW, EventKind.FILL, EventKind.PARTIAL_FILL
_CANCELED_EV, _CANCEL_REQUESTED = EventKind.CANCELED, EventKind.CANCEL_REQUESTED


# Every event of the order table, by name.
_E: dict[str, FastEvent] = {name: order_machine().event(name) for name in order_machine().events}

_adopt = OrderEvent.adopter()  # every field below, in declared order (tested)

# What one event says, before an OrderEvent is built: the record, the event's own fields (kind,
# previous status, time, fill, reason, late, overfill, related id), the record's status and
# quantities at that moment (qty, cum, notional filled), and last the OrderEvent once built (None
# until then). Every trigger returns one; the manager builds the public OrderEvent (event_of)
# only for someone who reads it (a subscriber, a stream, the caller of a request), once however
# many read it: a simulation nobody listens to makes no event objects. A list, not a tuple, for
# that last slot.
Change = list[Any]
_BUILT = 13  # the slot of the built OrderEvent


def _leaves(status: str, qty: Decimal, cum: Decimal, request: OrderRequest) -> Decimal:
    """Open quantity: 0 once done (and for a day order done for the day), else qty - cum."""
    if status in _ZERO_LEAVES or (status is _DONE_FOR_DAY and request.time_in_force is _DAY):
        return ZERO
    return qty - cum if qty > cum else ZERO


def event_of(change: Change) -> OrderEvent:
    """The :class:`~fillforge.orders.models.OrderEvent` a change describes (built on the first
    call, the same object on every later one)."""
    built: OrderEvent | None = change[_BUILT]
    if built is not None:
        return built
    rec, kind, prev, ts, fill, reason, late, overfill, related, st, qty, cum, notional, _ = change
    built = change[_BUILT] = _adopt(
        {
            "kind": kind,
            "order_id": rec.id,
            "client_order_id": rec.client_order_id,
            "symbol": rec.symbol,
            "status": st,
            "prev_status": prev,
            "order_qty": qty,
            "cum_qty": cum,
            "leaves_qty": _leaves(st, qty, cum, rec.request),
            "avg_price": notional / cum if cum else None,
            "fill": fill,
            "ts": ts,
            "reason": reason,
            "late": late,
            "overfill": overfill,
            "group_id": rec.group_id,
            "related_id": related,
        }
    )
    return built


# An order's view, built without a Python-level __init__ (once per order, on the hot path).
_new_view = object.__new__
_bind_view = Order.__dict__["_r"].__set__


class OrderRecord:
    """An order's state, quantities and fills (``cum_qty``/``leaves_qty`` follow FIX INV-1), the
    table's conditions and the triggers; ``view`` is the one read-only handle users get."""

    __slots__ = (
        "_before_pending",
        "_final_fill",
        "client_order_id",
        "created_ts",
        "cum_qty",
        "fills",
        "group_id",
        "id",
        "limit_price",
        "notional_filled",
        "order_qty",
        "pending_request",
        "reason",
        "replaced_by",
        "replaces",
        "request",
        "state",
        "stop_price",
        "symbol",
        "updated_ts",
        "view",
    )

    def __init__(
        self,
        order_id: str,
        request: OrderRequest,
        *,
        client_order_id: str,
        ts: int = 0,
        group_id: str | None = None,
    ) -> None:
        self.id = order_id
        self.client_order_id = client_order_id
        self.request = request
        self.symbol = request.symbol
        self.state: str = S.CREATED  # always an OrderStatus member (the machine's state_type)
        self.order_qty = request.qty if request.qty is not None else ZERO
        self.limit_price = request.limit_price
        self.stop_price = request.stop_price
        self.cum_qty = ZERO
        self.notional_filled = ZERO
        self.fills: dict[str, Fill] = {}
        self.pending_request: dict[str, Any] | None = None
        self._before_pending: str = S.CREATED
        self._final_fill = False
        self.group_id = group_id
        self.replaces: str | None = None
        self.replaced_by: str | None = None
        self.reason: str | None = None  # the last reason an event gave
        self.created_ts = self.updated_ts = ts
        self.view = view = _new_view(Order)
        _bind_view(view, self)

    # ----- read side ------------------------------------------------------------------------

    @property
    def status(self) -> OrderStatus:
        # ``state`` is always an OrderStatus member (the machine's state_type): no lookup.
        return self.state  # type: ignore[return-value]

    @property
    def leaves_qty(self) -> Decimal:
        """Open quantity: 0 once done (and for a day order done for the day), else qty - cum."""
        return _leaves(self.state, self.order_qty, self.cum_qty, self.request)

    @property
    def avg_price(self) -> Decimal | None:
        return self.notional_filled / self.cum_qty if self.cum_qty else None

    def __repr__(self) -> str:
        return (
            f"OrderRecord(id={self.id!r}, {self.state}, qty={self.order_qty}, cum={self.cum_qty}, "
            f"leaves={self.leaves_qty})"
        )

    # ----- conditions named in the table ----------------------------------------------------

    def is_complete(self) -> bool:
        if self.order_qty:
            return self.cum_qty >= self.order_qty
        return self._final_fill  # a notional order is complete when the venue says so

    def is_partial(self) -> bool:
        return bool(self.cum_qty) and not self.is_complete()

    def is_unfilled(self) -> bool:
        return not self.cum_qty

    def is_good_till(self) -> bool:
        return self.request.time_in_force is not _DAY

    def was_pending_new(self) -> bool:
        return self._before_pending == _PENDING_NEW

    def was_accepted(self) -> bool:
        return self._before_pending == _ACCEPTED

    def was_done_for_day(self) -> bool:
        return self._before_pending == _DONE_FOR_DAY

    def no_request(self) -> bool:
        return self.pending_request is None

    # ----- events ---------------------------------------------------------------------------

    def _step(self, name: str) -> str:
        """Fire table event ``name`` (it raises, changing nothing, if not allowed); returns the
        status before it."""
        prev = self.state
        _E[name].trigger(self)
        if self.state in _PENDING and prev not in _PENDING:
            self._before_pending = prev
        return prev

    def _emit(
        self,
        prev: str,
        kind: EventKind,
        ts: int,
        *,
        fill: Fill | None = None,
        reason: str | None = None,
        late: bool = False,
        overfill: bool = False,
        related: str | None = None,
    ) -> Change:
        self.updated_ts = ts
        if reason is not None:
            self.reason = reason
        return [
            self,
            kind,
            prev,
            ts,
            fill,
            reason,
            late,
            overfill,
            related,
            self.state,
            self.order_qty,
            self.cum_qty,
            self.notional_filled,
            None,
        ]

    def _simple(self, name: str, kind: EventKind, ts: int, reason: str | None = None) -> Change:
        # No check first: nothing changes before the trigger, which raises if not allowed.
        return self._emit(self._step(name), kind, ts, reason=reason)

    def hold(self, ts: int = 0) -> Change:
        """A contingent leg waits (Alpaca's ``held``) until its group activates it."""
        return self._simple("hold", EventKind.HELD, ts)

    def submit(self, ts: int = 0) -> Change:
        return self._simple("submit", _SUBMITTED, ts)

    def deny(self, reason: str, ts: int = 0) -> Change:
        """Stopped by our own checks before it reached a venue."""
        return self._simple("deny", EventKind.DENIED, ts, reason)

    def accept(self, ts: int = 0) -> Change:
        return self._simple("accept", _ACCEPTED_EV, ts)

    def ack(self, ts: int = 0, qty: Decimal | None = None) -> Change:
        """The venue's New; ``qty`` fixes the quantity of a notional order."""
        _E["ack"].check(self)
        if qty is not None and not self.order_qty:
            self.order_qty = qty
        if self.state in _PENDING:
            # The venue's New crossed our pending request: a reject now restores new.
            self._before_pending = S.NEW
        return self._emit(self._step("ack"), _NEW_EV, ts)

    def reject(self, reason: str, ts: int = 0) -> Change:
        return self._simple("reject", EventKind.REJECTED, ts, reason)

    def done_for_day(self, ts: int = 0) -> Change:
        return self._simple("done_for_day", EventKind.DONE_FOR_DAY, ts)

    def expire(self, ts: int = 0) -> Change:
        _E["expire"].check(self)
        self.pending_request = None
        return self._emit(self._step("expire"), EventKind.EXPIRED, ts)

    def fill(self, fill: Fill, ts: int = 0, *, final: bool = False) -> Change:
        """Apply an execution. A trade id seen before is ignored and reported as
        ``duplicate_fill``; a fill on an ended order is recorded with ``late``; one beyond the
        order quantity with ``overfill``. ``final`` completes a notional order."""
        if fill.trade_id in self.fills:
            return self._report_duplicate(fill, ts)
        _E["fill"].check(self)
        late = self.state in _LATE or (self.state is _DONE_FOR_DAY and not self.is_good_till())
        self.fills[fill.trade_id] = fill
        self.cum_qty += fill.qty
        self.notional_filled += fill.price * fill.qty
        self._final_fill = self._final_fill or final
        overfill = bool(self.order_qty) and self.cum_qty > self.order_qty
        complete = self.is_complete()
        kind = _FILL if complete else _PARTIAL_FILL
        return self._emit(self._step("fill"), kind, ts, fill=fill, late=late, overfill=overfill)

    def _report_duplicate(self, fill: Fill, ts: int) -> Change:
        reason = f"trade_id={fill.trade_id!r} already applied"
        return self._emit(self.state, EventKind.DUPLICATE_FILL, ts, fill=fill, reason=reason)

    def trade_cancel(self, trade_id: str, ts: int = 0) -> Change:
        """Bust an execution (FIX Trade Cancel): cum qty and average price drop it."""
        if trade_id not in self.fills:
            raise OrderValidationError("trade_id", trade_id, f"no fill on order {self.id!r}")
        _E["trade_bust"].check(self)
        old = self.fills.pop(trade_id)
        self.cum_qty -= old.qty
        self.notional_filled -= old.price * old.qty
        return self._emit(self._step("trade_bust"), EventKind.TRADE_CANCEL, ts, fill=old)

    def trade_correct(self, fill: Fill, ts: int = 0) -> Change:
        """Replace an execution's price and quantity (FIX Trade Correct), same trade id."""
        old = self.fills.get(fill.trade_id)
        if old is None:
            raise OrderValidationError("trade_id", fill.trade_id, f"no fill on order {self.id!r}")
        _E["trade_bust"].check(self)
        self.fills[fill.trade_id] = fill
        self.cum_qty += fill.qty - old.qty
        self.notional_filled += fill.price * fill.qty - old.price * old.qty
        overfill = bool(self.order_qty) and self.cum_qty > self.order_qty
        return self._emit(
            self._step("trade_bust"), EventKind.TRADE_CORRECT, ts, fill=fill, overfill=overfill
        )

    # ----- cancel ---------------------------------------------------------------------------

    def request_cancel(self, ts: int = 0) -> Change:
        """Record our cancel request; the status moves when the venue answers."""
        _E["request_cancel"].trigger(self)  # raises if ended or a request is outstanding
        self.pending_request = {"kind": "cancel"}
        return self._emit(self.state, _CANCEL_REQUESTED, ts)

    def pending_cancel(self, ts: int = 0) -> Change:
        return self._simple("pending_cancel", EventKind.PENDING_CANCEL, ts)

    def cancel(self, reason: str | None = None, ts: int = 0) -> Change:
        """Canceled: our request confirmed, or unsolicited (IOC/FOK remainder, venue action)."""
        _E["cancel"].check(self)
        self.pending_request = None
        return self._emit(self._step("cancel"), _CANCELED_EV, ts, reason=reason)

    def cancel_reject(self, reason: str | None = None, ts: int = 0) -> Change:
        _E["cancel_reject"].check(self)
        self.pending_request = None
        return self._emit(self._step("cancel_reject"), EventKind.CANCEL_REJECTED, ts, reason=reason)

    # ----- replace --------------------------------------------------------------------------

    def request_replace(self, terms: ReplaceTerms, ts: int = 0) -> Change:
        """Record our replace request: the terms it gives (``qty``, ``limit_price``, ...)."""
        _E["request_replace"].trigger(self)  # raises if ended or a request is outstanding
        self.pending_request = {"kind": "replace", **terms.model_dump(exclude_none=True)}
        return self._emit(self.state, EventKind.REPLACE_REQUESTED, ts)

    def pending_replace(self, ts: int = 0) -> Change:
        return self._simple("pending_replace", EventKind.PENDING_REPLACE, ts)

    def replace_reject(self, reason: str | None = None, ts: int = 0) -> Change:
        _E["replace_reject"].check(self)
        self.pending_request = None
        return self._emit(
            self._step("replace_reject"), EventKind.REPLACE_REJECTED, ts, reason=reason
        )

    def replace(
        self, new_order_id: str, ts: int = 0, *, client_order_id: str | None = None, **terms: Any
    ) -> tuple[Change, OrderRecord, Change]:
        """The venue confirmed a replace: this order becomes ``replaced`` and a new order (new
        id, ``replaces`` = this id) carries the new terms with this order's executions, its
        status resolved from them (FIX INV-5: a new qty at or below cum qty is filled)."""
        _E["replace"].check(self)
        asked = dict(self.pending_request or {})
        asked.pop("kind", None)
        asked.update({k: v for k, v in terms.items() if v is not None})
        cid = client_order_id or asked.pop("client_order_id", None) or self.client_order_id
        asked.pop("client_order_id", None)
        new = OrderRecord(
            new_order_id,
            self._replaced_request(asked),
            client_order_id=cid,
            ts=ts,
            group_id=self.group_id,
        )
        qty = asked.get("qty")
        new.order_qty = max(qty, self.cum_qty) if qty is not None else self.order_qty
        new.limit_price = asked.get("limit_price", self.limit_price)
        new.stop_price = asked.get("stop_price", self.stop_price)
        new.cum_qty, new.notional_filled = self.cum_qty, self.notional_filled
        new.fills = dict(self.fills)
        new.replaces = self.id
        self.pending_request = None
        self.replaced_by = new_order_id
        old_event = self._emit(self._step("replace"), EventKind.REPLACED, ts, related=new_order_id)
        new_event = new._emit(new._step("start_replacement"), EventKind.NEW, ts, related=self.id)
        return old_event, new, new_event

    def _replaced_request(self, asked: dict[str, Any]) -> OrderRequest:
        """The request a replacement works under: a trailing stop's new ``trail`` goes into the
        field the order trails by (price or percent); other terms live on the record."""
        trail, r = asked.get("trail"), self.request
        if trail is None or r.type is not OrderType.TRAILING_STOP:
            return r
        field = "trail_price" if r.trail_price is not None else "trail_percent"
        return r.model_copy(update={field: trail})

    def restate(
        self,
        qty: Decimal,
        ts: int = 0,
        *,
        limit_price: Decimal | None = None,
        stop_price: Decimal | None = None,
        reason: str | None = None,
    ) -> Change:
        """An unsolicited change by the venue (FIX Restated): same id, new terms."""
        _E["restate"].check(self)
        self.order_qty = max(qty, self.cum_qty)
        if limit_price is not None:
            self.limit_price = limit_price
        if stop_price is not None:
            self.stop_price = stop_price
        return self._emit(self._step("restate"), EventKind.RESTATED, ts, reason=reason)
