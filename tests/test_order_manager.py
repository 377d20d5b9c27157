"""The order manager: lookups, queries, duplicate ids, publication (callbacks, iterator, async
iterator), flagged fills, and refusals that change nothing."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fillforge import (
    DuplicateClientOrderIdError,
    EventKind,
    Fill,
    InvalidTransitionError,
    OrderEvent,
    OrderManager,
    OrderRequest,
    OrderStatus,
    OrderValidationError,
    UnknownOrderIdError,
    VenueReport,
)
from fillforge.orders.models import ReplaceTerms

S = OrderStatus


def req(symbol: str = "AAPL", cid: str | None = None, qty: str = "10") -> OrderRequest:
    return OrderRequest(
        symbol=symbol, side="buy", qty=qty, type="limit", limit_price="10", client_order_id=cid
    )


def fill_report(order_id: str, trade: str, qty: int, kind: str = "partial_fill") -> VenueReport:
    f = Fill(trade_id=trade, order_id=order_id, price="10", qty=qty)
    return VenueReport(kind=kind, order_id=order_id, fill=f)


def test_lookups_and_queries() -> None:
    ticks = iter(range(100, 10_000, 100))
    mgr = OrderManager(clock=lambda: next(ticks))
    a = mgr.create(req(cid="a"))
    b = mgr.create(req("MSFT", cid="b"))
    c = mgr.create(req(cid=None))
    assert (a.id, b.id, c.id, c.client_order_id) == ("o-1", "o-2", "o-3", "o-3")
    assert a.created_ts == 100
    assert mgr.get("o-2") is b
    assert mgr.by_client_order_id("a") is a
    for o in (a, b):
        mgr.submit(o.id)
    mgr.apply(VenueReport(kind="new", order_id=a.id))
    assert {o.id for o in mgr.open_orders()} == {"o-1", "o-2"}
    assert [o.id for o in mgr.open_orders("MSFT")] == ["o-2"]
    assert [o.id for o in mgr.with_status(S.CREATED)] == ["o-3"]
    assert [o.id for o in mgr.with_status(S.NEW, S.PENDING_NEW)] == ["o-1", "o-2"]
    assert [o.id for o in mgr.by_symbol("AAPL")] == ["o-1", "o-3"]
    assert len(mgr) == 3
    with pytest.raises(UnknownOrderIdError, match="order_id='nope'"):
        mgr.get("nope")
    with pytest.raises(UnknownOrderIdError, match="client_order_id"):
        mgr.by_client_order_id("nope")
    with pytest.raises(UnknownOrderIdError):
        mgr.apply(VenueReport(kind="canceled", order_id="nope"))


def test_duplicate_client_order_id_rejected_existing_untouched() -> None:
    mgr = OrderManager()
    a = mgr.create(req(cid="dup"))
    mgr.submit(a.id)
    with pytest.raises(DuplicateClientOrderIdError, match="client_order_id='dup'"):
        mgr.create(req(cid="dup", qty="20"))
    assert (len(mgr), a.order_qty, a.status) == (1, 10, S.PENDING_NEW)
    assert mgr.create(req(cid="dup", qty="20"), possible_resend=True) is a
    assert len(mgr) == 1


def test_publication_to_callbacks_iterator_and_async_iterator() -> None:
    mgr = OrderManager()
    got: list[OrderEvent] = []
    unsubscribe = mgr.subscribe(got.append)
    stream = mgr.stream()
    o = mgr.create(req())
    mgr.submit(o.id)
    mgr.apply(VenueReport(kind="new", order_id=o.id))
    kinds = [EventKind.CREATED, EventKind.SUBMITTED, EventKind.NEW]
    assert [e.kind for e in got] == kinds
    assert [e.kind for e in stream] == kinds
    assert list(stream) == []  # drained
    unsubscribe()
    mgr.apply(fill_report(o.id, "t1", 4))
    assert len(got) == 3

    async def consume() -> list[EventKind]:
        out = []
        async for e in stream:
            out.append(e.kind)
        return out

    async def main() -> list[EventKind]:
        task = asyncio.create_task(consume())
        await asyncio.sleep(0)
        mgr.apply(fill_report(o.id, "t2", 6, "fill"))
        await asyncio.sleep(0)
        stream.close()
        return await task

    assert asyncio.run(main()) == [EventKind.PARTIAL_FILL, EventKind.FILL]


def test_duplicate_late_and_over_fills_are_flagged_not_hidden() -> None:
    mgr = OrderManager()
    o = mgr.create(req())
    mgr.submit(o.id)
    mgr.apply(VenueReport(kind="new", order_id=o.id))
    mgr.apply(fill_report(o.id, "t1", 4))
    (dup,) = mgr.apply(fill_report(o.id, "t1", 4))
    assert (dup.kind, dup.cum_qty, o.cum_qty) == (EventKind.DUPLICATE_FILL, 4, 4)
    mgr.request_cancel(o.id)
    mgr.apply(VenueReport(kind="canceled", order_id=o.id))
    (late,) = mgr.apply(fill_report(o.id, "t2", 8))
    assert (late.late, late.overfill, late.status, late.cum_qty, late.leaves_qty) == (
        True,
        True,
        S.CANCELED,
        12,
        0,
    )
    assert o.avg_price == Decimal(10)


def test_refused_requests_change_nothing() -> None:
    mgr = OrderManager()
    o = mgr.create(req())
    with pytest.raises(InvalidTransitionError, match=r"order 'o-1' in state 'created'.*'ack'"):
        mgr.apply(VenueReport(kind="new", order_id=o.id))
    assert o.status == S.CREATED
    mgr.submit(o.id)
    mgr.apply(VenueReport(kind="new", order_id=o.id))
    mgr.request_cancel(o.id)
    with pytest.raises(InvalidTransitionError, match="request_replace"):
        mgr.request_replace(o.id, ReplaceTerms(qty=Decimal(5)))
    assert o.pending_request == {"kind": "cancel"}
    with pytest.raises(DuplicateClientOrderIdError):
        mgr.request_replace(o.id, ReplaceTerms(client_order_id=o.client_order_id))
    d = mgr.create(req(cid="d"))
    ev = mgr.deny(d.id, "risk: max notional")
    assert (ev.status, ev.reason, ev.leaves_qty) == (S.DENIED, "risk: max notional", 0)
    with pytest.raises(InvalidTransitionError):
        mgr.submit(d.id)


def test_replace_with_new_client_order_id_via_manager() -> None:
    mgr = OrderManager()
    o = mgr.create(req(cid="x"))
    mgr.submit(o.id)
    mgr.apply(VenueReport(kind="new", order_id=o.id))
    mgr.apply(fill_report(o.id, "t1", 3))
    terms = ReplaceTerms(qty=Decimal(20), limit_price=Decimal("10.5"), client_order_id="y")
    mgr.request_replace(o.id, terms)
    mgr.apply(VenueReport(kind="pending_replace", order_id=o.id))
    old, new = mgr.apply(VenueReport(kind="replaced", order_id=o.id, new_order_id="o-9"))
    assert (old.status, old.leaves_qty, old.related_id) == (S.REPLACED, 0, "o-9")
    assert (new.status, new.order_qty, new.cum_qty, new.leaves_qty, new.client_order_id) == (
        S.PARTIALLY_FILLED,
        20,
        3,
        17,
        "y",
    )
    assert mgr.by_client_order_id("y").limit_price == Decimal("10.5")
    assert mgr.by_client_order_id("x") is o


def test_request_replace_takes_one_replace_terms() -> None:
    # One signature on every path: the terms, as the brokers' replace builds them.
    mgr = OrderManager()
    o = mgr.create(req())
    mgr.submit(o.id)
    mgr.apply(VenueReport(kind="new", order_id=o.id))
    for bad in ({"qty": Decimal(5)}, None):
        with pytest.raises(OrderValidationError) as e:
            mgr.request_replace(o.id, bad)  # type: ignore[arg-type]
        assert e.value.field == "terms"
    assert o.pending_request is None  # a refusal changes nothing
    mgr.request_replace(o.id, ReplaceTerms(qty=Decimal(5)))
    assert o.pending_request == {"kind": "replace", "qty": Decimal(5)}


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["submit", "cancel", "quote"]),
            st.sampled_from(["AAA", "BBB"]),
            st.sampled_from(["buy", "sell"]),
            st.integers(95, 105),
        ),
        max_size=40,
    )
)
def test_open_orders_by_symbol_and_side_are_the_open_orders_filtered(
    ops: list[tuple[str, str, str, int]],
) -> None:
    """The index by symbol and side (what a wash-trade check reads) is always the open orders,
    oldest first, filtered: through fills at a quote, cancels and new orders."""
    from fillforge.orders.enums import OrderSide, OrderTimeInForce, OrderType
    from fillforge.orders.models import Instrument
    from fillforge.sim import SimulatedBroker, Venue, empty_feed

    v = Venue("X", calendar=None)
    for s in ("AAA", "BBB"):
        v.add(Instrument(symbol=s), empty_feed())
    b = SimulatedBroker(v, cash=Decimal(10**9))
    for s in ("AAA", "BBB"):
        b.quote(s, Decimal(90), Decimal(110))
    for op, symbol, side, px in ops:
        if op == "submit":
            b.submit(
                OrderRequest(
                    symbol=symbol,
                    side=OrderSide(side),
                    qty=Decimal(1),
                    type=OrderType.LIMIT,
                    limit_price=Decimal(px),
                    time_in_force=OrderTimeInForce.GTC,
                )
            )
        elif op == "cancel":
            mine = b.orders(open_only=True, symbol=symbol)
            if mine:
                b.cancel(mine[px % len(mine)].id)
        else:  # a quote through some of them fills them
            b.quote(symbol, Decimal(px - 1), Decimal(px + 1))
        for s in ("AAA", "BBB"):
            every = b.manager.open_orders(s)
            for sd in OrderSide:
                assert b.manager.open_orders(s, sd) == [o for o in every if o.request.side is sd]


def test_create_and_submit_in_one_call_publishes_what_two_calls_do() -> None:
    """``create(..., submit=True)`` is ``create`` then ``submit`` at the same time: the same
    events (an OCO's two legs both sent), built for a subscriber though none is handed back; the
    events a caller gets back equal the ones a subscriber gets."""
    oco = OrderRequest(
        symbol="AAPL",
        side="sell",
        qty="10",
        type="limit",
        order_class="oco",
        take_profit={"limit_price": "12"},
        stop_loss={"stop_price": "9"},
    )
    for request in (req(), oco):
        one, two = OrderManager(), OrderManager()
        got_one: list[OrderEvent] = []
        got_two: list[OrderEvent] = []
        one.subscribe(got_one.append)
        two.subscribe(got_two.append)
        a = one.create(request, ts=7, submit=True)
        b = two.create(request, ts=7)
        returned = two.submit(b.id, ts=7)
        assert got_one == got_two
        assert got_two[-1] is returned  # built once, for the subscriber and the caller
        assert a.status is S.PENDING_NEW
        assert [o.status for o in one.orders.values()] == [S.PENDING_NEW] * len(one.orders)
    assert len(got_one) == 4  # the OCO: two legs created, two sent
