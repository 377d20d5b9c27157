"""The order handle users hold is a read-only view (docs/orders.md, "The order handle"): the
lifecycle triggers are not on it, nothing can be assigned or deleted, its mappings cannot be
changed, and the old misuse (``order.cancel()`` while the venue works the order, which then
fills while showing ``canceled``) cannot happen. A refused attempt changes nothing."""

from __future__ import annotations

import copy
import pickle
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from order_driver import OrderDriver
from order_snapshot import snapshot

from fillforge import (
    EventKind,
    Fill,
    InvalidTransitionError,
    Order,
    OrderEvent,
    OrderManager,
    OrderRequest,
    OrderStatus,
    VenueReport,
)
from fillforge.orders import OrderGroup
from fillforge.orders.order import TRIGGERS

S = OrderStatus
D = Decimal

# What the handle shows: every property of Order (checked against the class below).
FIELDS = (
    "id",
    "client_order_id",
    "parent_id",
    "reason",
    "request",
    "symbol",
    "group_id",
    "replaces",
    "replaced_by",
    "created_ts",
    "updated_ts",
    "state",
    "status",
    "order_qty",
    "limit_price",
    "stop_price",
    "cum_qty",
    "notional_filled",
    "leaves_qty",
    "avg_price",
    "fills",
    "pending_request",
)
# What it offers to call: the state table's conditions, which only read.
PREDICATES = (
    "is_complete",
    "is_partial",
    "is_unfilled",
    "is_good_till",
    "was_pending_new",
    "was_accepted",
    "was_done_for_day",
    "no_request",
)
OLD_TRIGGERS = [
    *("hold", "submit", "deny", "accept", "ack", "reject", "done_for_day", "expire", "fill"),
    *("trade_cancel", "trade_correct", "request_cancel", "pending_cancel", "cancel"),
    *("cancel_reject", "request_replace", "pending_replace", "replace_reject", "replace"),
    "restate",
]


def request(qty: str = "100", **kw: Any) -> OrderRequest:
    return OrderRequest(symbol="ACME", side="buy", type="limit", limit_price="10", qty=qty, **kw)


def working(mgr: OrderManager, qty: str = "100") -> Order:
    """An order the venue has acknowledged and part-filled, with a cancel request out."""
    o = mgr.create(request(qty))
    mgr.submit(o.id)
    mgr.apply(VenueReport(kind=EventKind.NEW, order_id=o.id))
    f = Fill(trade_id=f"{o.id}-1", order_id=o.id, price="10", qty="30")
    mgr.apply(VenueReport(kind=EventKind.PARTIAL_FILL, order_id=o.id, fill=f))
    mgr.request_cancel(o.id)
    return o


def test_the_handle_shows_fields_and_offers_only_reading_predicates() -> None:
    public = {n for n in dir(Order) if not n.startswith("_")}
    properties = {n for n, v in vars(Order).items() if isinstance(v, property)}
    assert properties == set(FIELDS)
    assert public == set(FIELDS) | set(PREDICATES)
    assert set(OLD_TRIGGERS) == TRIGGERS
    assert not public & TRIGGERS
    o = working(OrderManager())
    assert (o.status, o.cum_qty, o.leaves_qty, o.avg_price) == (S.PARTIALLY_FILLED, 30, 70, 10)
    assert o.pending_request == {"kind": "cancel"}
    assert [f.qty for f in o.fills.values()] == [30]
    assert (o.is_partial(), o.no_request(), o.is_good_till()) == (True, False, False)


def test_cancel_on_the_handle_is_refused_and_a_venue_fill_shows_filled() -> None:
    # The issue: order.cancel() marked the order canceled here while the venue kept working it;
    # the venue's fill then landed on an order showing `canceled`. Now the call is refused,
    # nothing changes or is published, and the fill shows as what it is.
    mgr = OrderManager()
    o = mgr.create(request())
    mgr.submit(o.id)
    mgr.apply(VenueReport(kind=EventKind.NEW, order_id=o.id))
    seen: list[OrderEvent] = []
    mgr.subscribe(seen.append)
    before = snapshot(o)
    with pytest.raises(AttributeError, match=r"Order\.cancel\(\).*broker\.cancel\(order\.id\)"):
        o.cancel()  # type: ignore[attr-defined]
    assert snapshot(o) == before
    assert (seen, mgr.open_orders()) == ([], [o])
    f = Fill(trade_id="T1", order_id=o.id, price="10", qty="100")
    (ev,) = mgr.apply(VenueReport(kind=EventKind.FILL, order_id=o.id, fill=f))
    assert (ev.kind, ev.status, ev.late, o.status, o.leaves_qty) == (
        EventKind.FILL,
        S.FILLED,
        False,
        S.FILLED,
        0,
    )


def test_through_the_broker_cancel_waits_for_the_venue(sim: Any) -> None:
    sim.quote("100.00", "100.02", size=500)
    filled = sim.buy_limit("99.50", 100)
    with pytest.raises(AttributeError, match=r"broker\.cancel\(order\.id\)"):
        filled.cancel()
    assert filled.status is S.NEW
    sim.path("99.90", "99.45", "99.70")  # the venue still works it: it fills
    sim.assert_filled(filled, qty=100, price="99.50")
    assert filled.status is S.FILLED
    # The supported way: the broker asks the venue, whose answer ends the order.
    canceled = sim.buy_limit("99.00", 100)
    sim.broker.cancel(canceled.id)
    assert canceled.status is S.CANCELED
    sim.path("98.90")
    sim.assert_unfilled(canceled)


@pytest.mark.parametrize("name", OLD_TRIGGERS)
def test_every_old_trigger_is_refused_and_changes_nothing(name: str) -> None:
    o = working(OrderManager())
    before = snapshot(o)
    assert not hasattr(o, name)
    with pytest.raises(AttributeError, match=rf"Order\.{name}\(\) is not available"):
        getattr(o, name)
    assert snapshot(o) == before


@pytest.mark.parametrize("name", [*FIELDS, *PREDICATES, "_r", "anything"])
def test_no_field_can_be_assigned_or_deleted(name: str) -> None:
    o = working(OrderManager())
    before = snapshot(o)
    record = o._r
    with pytest.raises(AttributeError, match=rf"Order is read-only: {name}="):
        setattr(o, name, S.CANCELED)
    with pytest.raises(AttributeError, match="read-only"):
        delattr(o, name)
    assert snapshot(o) == before
    assert o._r is record


def test_fills_and_request_mappings_are_read_only() -> None:
    o = working(OrderManager())
    before = snapshot(o)
    fills, pending = o.fills, o.pending_request
    assert pending is not None
    with pytest.raises(TypeError):
        fills["T9"] = Fill(trade_id="T9", order_id=o.id, price="10", qty="70")  # type: ignore[index]
    with pytest.raises(TypeError):
        pending["kind"] = "replace"  # type: ignore[index]
    with pytest.raises(AttributeError):
        fills.clear()  # type: ignore[attr-defined]
    assert snapshot(o) == before


def test_the_handle_cannot_be_made_copied_or_pickled() -> None:
    with pytest.raises(TypeError, match="made by the order manager"):
        Order("X", request(), client_order_id="X")  # the old constructor: a detached order
    o = working(OrderManager())
    for attempt in (copy.copy, copy.deepcopy, pickle.dumps):
        with pytest.raises(TypeError, match="cannot be copied"):
            attempt(o)


def test_views_are_stable_and_follow_the_order() -> None:
    mgr = OrderManager()
    o = working(mgr)
    assert mgr.get(o.id) is o is mgr.by_client_order_id(o.client_order_id)
    mgr.apply(VenueReport(kind=EventKind.CANCELED, order_id=o.id))
    assert (o.status, o.leaves_qty, o.pending_request) == (S.CANCELED, 0, None)


def test_group_view_is_read_only_and_cancels_only_through_the_manager() -> None:
    mgr = OrderManager()
    entry = mgr.create(
        request(
            order_class="bracket",
            take_profit={"limit_price": "12"},
            stop_loss={"stop_price": "9"},
        )
    )
    g = mgr.group(entry.id)
    assert isinstance(g, OrderGroup)
    assert (g.entry, g.state, type(g.exits)) == (entry, "entry_working", tuple)
    assert not hasattr(g, "cancel")
    assert not hasattr(g, "on_member")
    for name, value in (("state", "canceled"), ("entry", None), ("exits", ()), ("_r", None)):
        with pytest.raises(AttributeError, match="OrderGroup is read-only"):
            setattr(g, name, value)
    assert (g.state, g.entry, [x.status for x in g.exits]) == ("entry_working", entry, [S.HELD] * 2)
    mgr.submit(entry.id)
    mgr.cancel_group(g.id)  # what broker.cancel(<any member>.id) does
    assert (g.state, entry.pending_request) == ("canceling", {"kind": "cancel"})
    mgr.apply(VenueReport(kind=EventKind.CANCELED, order_id=entry.id))
    assert g.state == "canceled"
    assert [x.status for x in g.members] == [S.CANCELED] * 3


# A random history through the manager, then a random attempt on the handle: refused, unchanged.
REPORTS = st.lists(
    st.sampled_from(["new", "fill", "pending_cancel", "canceled", "restated", "cancel", "replace"]),
    max_size=8,
)
ATTEMPTS = st.one_of(
    st.tuples(st.just("set"), st.sampled_from([*FIELDS, *PREDICATES, "_r"])),
    st.tuples(st.just("call"), st.sampled_from(OLD_TRIGGERS)),
    st.tuples(st.just("del"), st.sampled_from(FIELDS)),
)


@settings(max_examples=150, deadline=None)
@given(steps=REPORTS, attempt=ATTEMPTS, value=st.sampled_from([None, 0, D(5), "canceled", {}]))
def test_any_attempt_on_the_handle_changes_nothing(
    steps: list[str], attempt: tuple[str, str], value: object
) -> None:
    d = OrderDriver.new(request(), order_id="X")
    d.submit()
    for i, step in enumerate(steps):
        try:
            if step == "fill":
                d.fill(Fill(trade_id=f"T{i}", order_id=d.order_id, price="10", qty="20"))
            elif step == "restated":
                d.restate(D(120))
            elif step == "cancel":
                d.request_cancel()
            elif step == "replace":
                d.request_replace(qty=D(150))
            else:
                getattr(d, {"new": "ack", "canceled": "cancel"}.get(step, step))()
        except InvalidTransitionError:  # refused by the table (its own tests); go on
            pass
    o = d.order
    before = snapshot(o)
    kind, name = attempt
    tries = {
        "set": lambda: setattr(o, name, value),
        "del": lambda: delattr(o, name),
        "call": lambda: getattr(o, name)(),
    }
    with pytest.raises(AttributeError):
        tries[kind]()
    assert snapshot(o) == before
    assert d.manager.get("X") is o
