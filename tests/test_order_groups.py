"""Contingent orders through the order manager: bracket, OTO and OCO rules (docs/orders.md)."""

from __future__ import annotations

from decimal import Decimal
from itertools import count

import pytest

from fillforge import (
    EventKind,
    Fill,
    InvalidTransitionError,
    OrderManager,
    OrderRequest,
    OrderStatus,
    VenueReport,
)
from fillforge.orders import LegAction, Order, OrderGroup

S = OrderStatus
_trade = count(1)


def bracket(mgr: OrderManager, cls: str = "bracket", **kw: object) -> Order:
    legs: dict[str, object] = {
        "take_profit": {"limit_price": "12"},
        "stop_loss": {"stop_price": "9"},
    }
    legs.update(kw)
    req = OrderRequest(
        symbol="AAPL",
        side="buy",
        qty="100",
        type="limit",
        limit_price="10",
        order_class=cls,
        **{k: v for k, v in legs.items() if v is not None},  # type: ignore[arg-type]
    )
    return mgr.create(req)


def report(mgr: OrderManager, kind: str, order: Order, **kw: object) -> list[EventKind]:
    return [e.kind for e in mgr.apply(VenueReport(kind=kind, order_id=order.id, **kw))]


def fill(mgr: OrderManager, order: Order, qty: int, price: str = "10") -> list[EventKind]:
    f = Fill(trade_id=f"t{next(_trade)}", order_id=order.id, price=price, qty=qty)
    done = order.cum_qty + qty >= order.order_qty
    return report(mgr, "fill" if done else "partial_fill", order, fill=f)


def working(mgr: OrderManager, *orders: Order) -> None:
    for o in orders:
        report(mgr, "new", o)


def exits_working() -> tuple[OrderManager, OrderGroup, Order, Order]:
    """A bracket whose entry filled and whose two exits the venue acknowledged."""
    mgr = OrderManager()
    entry = bracket(mgr)
    g = mgr.group(entry.id)
    tp, sl = g.exits
    mgr.submit(entry.id)
    working(mgr, entry)
    fill(mgr, entry, 100)
    working(mgr, tp, sl)
    return mgr, g, tp, sl


def test_bracket_exits_held_until_entry_fills_then_one_exit_cancels_the_other() -> None:
    mgr = OrderManager()
    entry = bracket(mgr)
    g = mgr.group(entry.group_id)  # type: ignore[arg-type]
    tp, sl = g.exits
    assert (tp.status, sl.status) == (S.HELD, S.HELD)
    assert (tp.request.type, sl.request.type) == ("limit", "stop")
    assert tp.request.side == sl.request.side == "sell"
    mgr.submit(entry.id)
    working(mgr, entry)
    fill(mgr, entry, 40)  # a partial entry fill: exits stay held (Alpaca's rule)
    assert (tp.status, sl.status, g.state) == (S.HELD, S.HELD, "entry_working")
    fill(mgr, entry, 60)
    assert g.state == "exits_active"
    assert (tp.status, sl.status) == (S.PENDING_NEW, S.PENDING_NEW)
    assert list(mgr.outbox) == [
        LegAction("submit", tp.id, Decimal(100)),
        LegAction("submit", sl.id, Decimal(100)),
    ]
    mgr.outbox.clear()
    working(mgr, tp, sl)
    fill(mgr, tp, 100, "12")
    assert g.state == "completed"
    assert sl.pending_request == {"kind": "cancel"}
    assert list(mgr.outbox) == [LegAction("cancel", sl.id)]
    report(mgr, "canceled", sl)
    assert (tp.status, sl.status) == (S.FILLED, S.CANCELED)
    assert mgr.open_orders() == []


def test_partial_take_profit_resizes_stop_loss() -> None:
    mgr, g, tp, sl = exits_working()
    mgr.outbox.clear()
    fill(mgr, tp, 30, "12")
    assert list(mgr.outbox) == [LegAction("resize", sl.id, Decimal(70))]
    assert sl.pending_request == {"kind": "replace", "qty": Decimal(70)}
    events = mgr.apply(VenueReport(kind="replaced", order_id=sl.id, new_order_id="sl-2"))
    assert [e.kind for e in events] == [EventKind.REPLACED, EventKind.NEW]
    sl2 = mgr.get("sl-2")
    assert (sl2.order_qty, sl2.status, sl2.replaces, sl.replaced_by) == (70, S.NEW, sl.id, "sl-2")
    assert g.exits[1] is sl2
    assert mgr.by_client_order_id(sl.client_order_id) is sl2  # the live order of the chain
    assert [o.id for o in mgr.chain(sl.id)] == [sl.id, "sl-2"]
    fill(mgr, tp, 70, "12")
    assert g.state == "completed"
    assert sl2.pending_request == {"kind": "cancel"}


def test_entry_canceled_after_partial_fill_activates_exits_for_filled_qty() -> None:
    mgr = OrderManager()
    entry = bracket(mgr)
    g = mgr.group(entry.id)
    mgr.submit(entry.id)
    working(mgr, entry)
    fill(mgr, entry, 25)
    report(mgr, "canceled", entry, reason="day ended")
    assert g.state == "exits_active"
    assert [(x.status, x.order_qty) for x in g.exits] == [(S.PENDING_NEW, 25), (S.PENDING_NEW, 25)]


def test_entry_ending_unfilled_cancels_held_exits() -> None:
    mgr = OrderManager()
    entry = bracket(mgr)
    g = mgr.group(entry.id)
    mgr.submit(entry.id)
    report(mgr, "rejected", entry, reason="insufficient buying power")
    assert g.state == "canceled"
    assert [x.status for x in g.exits] == [S.CANCELED, S.CANCELED]
    assert not mgr.outbox  # held legs never left: nothing for the venue


def test_canceling_any_member_cancels_the_group() -> None:
    mgr = OrderManager()
    entry = bracket(mgr)
    g = mgr.group(entry.id)
    mgr.submit(entry.id)
    working(mgr, entry)
    mgr.request_cancel(g.exits[0].id)  # a held exit: the whole group goes
    assert g.state == "canceling"
    assert [x.status for x in g.exits] == [S.CANCELED, S.CANCELED]
    assert entry.pending_request == {"kind": "cancel"}
    report(mgr, "canceled", entry)
    assert g.state == "canceled"
    with pytest.raises(InvalidTransitionError, match="cancel"):
        mgr.cancel_group(g.id)


def test_exit_canceled_by_venue_cancels_the_sibling() -> None:
    mgr, g, tp, sl = exits_working()
    report(mgr, "expired", tp)
    assert sl.pending_request == {"kind": "cancel"}
    assert g.state == "canceling"
    report(mgr, "canceled", sl)
    assert g.state == "canceled"


def test_oco_both_legs_work_at_once() -> None:
    mgr = OrderManager()
    req = OrderRequest(
        symbol="AAPL",
        side="sell",
        qty="50",
        type="limit",
        order_class="oco",
        take_profit={"limit_price": "12"},
        stop_loss={"stop_price": "9", "limit_price": "8.9"},
    )
    first = mgr.create(req)
    g = mgr.group(first.id)
    assert g.entry is None
    tp, sl = g.exits
    assert tp is first
    assert (sl.request.type, sl.stop_price, sl.limit_price) == ("stop_limit", 9, Decimal("8.9"))
    mgr.submit(first.id)
    assert (tp.status, sl.status) == (S.PENDING_NEW, S.PENDING_NEW)
    working(mgr, tp, sl)
    fill(mgr, sl, 50, "8.95")
    assert g.state == "completed"
    assert tp.pending_request == {"kind": "cancel"}


def test_oto_with_one_exit() -> None:
    mgr = OrderManager()
    entry = bracket(mgr, "oto", take_profit=None)
    g = mgr.group(entry.id)
    assert [x.request.type for x in g.exits] == ["stop"]
    mgr.submit(entry.id)
    working(mgr, entry)
    fill(mgr, entry, 100)
    assert g.exits[0].status == S.PENDING_NEW
    working(mgr, g.exits[0])
    fill(mgr, g.exits[0], 100, "9")
    assert g.state == "completed"
