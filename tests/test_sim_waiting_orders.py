"""Orders on their way to the venue: one waiting for the open is ``accepted`` (as on Alpaca) and
can be canceled or replaced where it waits; one in flight under latency is ``pending_new`` and a
replace that overtakes it replaces it in place (Alpaca's semantics: a new id, the old order
``replaced``); the replacement keeps the arrival and works on its new terms."""

from __future__ import annotations

from decimal import Decimal

from time_helpers import ny

from fillforge.orders.enums import EventKind, OrderStatus
from fillforge.orders.models import Instrument, OrderRequest
from fillforge.sim.broker import SimulatedBroker
from fillforge.sim.feeds import empty_feed
from fillforge.sim.latency import Delay, LatencyModel
from fillforge.sim.venue import Venue

D = Decimal
SECOND = 10**9


SATURDAY, MONDAY = "2026-12-05", "2026-12-07"
MONDAY_OPEN = ny(MONDAY, "09:30")


def _broker(start_ns: int, **venue_kw: object) -> SimulatedBroker:
    venue = Venue("V", **venue_kw)  # type: ignore[arg-type]
    venue.add(Instrument(symbol="X", tick_size=D("0.01")), empty_feed())
    return SimulatedBroker(venue, cash=D(100_000), start_ns=start_ns)


def _limit(price: str, qty: int = 10) -> OrderRequest:
    return OrderRequest(symbol="X", side="buy", type="limit", qty=D(qty), limit_price=D(price))


def test_an_order_waiting_for_the_open_is_accepted_then_new_at_the_open() -> None:
    b = _broker(ny(SATURDAY, "10:00"), calendar="XNYS")
    b.quote("X", D("100.00"), D("100.02"))
    kinds: list[EventKind] = []
    b.subscribe(lambda e: kinds.append(e.kind))
    o = b.submit(_limit("99.00"))
    assert o.status is OrderStatus.ACCEPTED
    assert kinds[-1] is EventKind.ACCEPTED
    b.run(until_ns=MONDAY_OPEN + SECOND)
    assert b.get_order(o.id).status is OrderStatus.NEW
    assert kinds[-1] is EventKind.NEW


def test_a_waiting_order_is_canceled_where_it_waits() -> None:
    b = _broker(ny(SATURDAY, "10:00"), calendar="XNYS")
    b.quote("X", D("100.00"), D("100.02"))
    o = b.submit(_limit("99.00"))
    b.cancel(o.id)
    assert b.get_order(o.id).status is OrderStatus.CANCELED
    assert b.ledger.reservations() == {}
    b.quote("X", D("98.00"), D("98.02"), ts=MONDAY_OPEN)  # it would have filled at the open
    b.run(until_ns=MONDAY_OPEN + SECOND)
    assert b.get_order(o.id).status is OrderStatus.CANCELED
    assert b.ledger.qty("X") == 0


def test_a_waiting_order_is_replaced_in_place_and_works_its_new_terms_at_the_open() -> None:
    b = _broker(ny(SATURDAY, "10:00"), calendar="XNYS")
    b.quote("X", D("100.00"), D("100.02"))
    o = b.submit(_limit("99.00"))
    b.replace(o.id, qty=D(20), limit_price=D("98.50"))
    old = b.get_order(o.id)
    assert old.status is OrderStatus.REPLACED
    new = b.get_order(old.replaced_by)  # type: ignore[arg-type]
    assert new.id != o.id
    assert new.status.is_open
    assert (new.order_qty, new.limit_price) == (D(20), D("98.50"))
    assert set(b.ledger.reservations()) == {new.id}
    assert b.ledger.reserved == D(20) * D("98.50")
    # At the open the book crosses the old limit but not the new one: only 98.50 counts.
    b.quote("X", D("98.70"), D("98.75"), ts=MONDAY_OPEN)
    b.run(until_ns=MONDAY_OPEN + SECOND)
    assert b.get_order(new.id).status is OrderStatus.NEW
    assert b.get_order(new.id).cum_qty == 0
    b.quote("X", D("98.00"), D("98.50"), ask_size=D(100))
    filled = b.get_order(new.id)
    assert (filled.status, filled.cum_qty, filled.avg_price) == (
        OrderStatus.FILLED,
        D(20),
        D("98.50"),
    )


def test_an_order_in_flight_is_replaced_in_place_when_the_replace_overtakes_it() -> None:
    latency = LatencyModel(entry=Delay.fixed(1_000), cancel=Delay.fixed(10))
    b = _broker(0, calendar=None, latency=latency)
    b.quote("X", D("100.00"), D("100.02"))
    o = b.submit(_limit("99.00"))
    assert o.status is OrderStatus.PENDING_NEW
    b.replace(o.id, limit_price=D("98.00"))
    b.run(until_ns=100)  # the replace arrives first: the order is replaced on its way
    old = b.get_order(o.id)
    assert old.status is OrderStatus.REPLACED
    new_id = old.replaced_by
    assert new_id is not None
    assert b.get_order(new_id).limit_price == D("98.00")
    assert b._uid[new_id] not in (None, b._uid[o.id])
    b.run(until_ns=2_000)  # the replacement arrives when the order would have
    engine = b.venue.market("X").engine
    assert engine.user_order(b._uid[o.id]) is None
    assert engine.user_order(b._uid[new_id]) is not None
    assert b.get_order(new_id).status is OrderStatus.NEW


def test_a_replace_after_the_order_arrived_still_replaces_it_on_the_engine() -> None:
    latency = LatencyModel(entry=Delay.fixed(10), cancel=Delay.fixed(1_000))
    b = _broker(0, calendar=None, latency=latency)
    b.quote("X", D("100.00"), D("100.02"))
    o = b.submit(_limit("99.00"))
    b.replace(o.id, limit_price=D("98.00"))
    b.run(until_ns=2_000)  # the order arrives at 10, the replace at 1000
    old = b.get_order(o.id)
    assert old.status is OrderStatus.REPLACED
    assert b.get_order(old.replaced_by).status is OrderStatus.NEW  # type: ignore[arg-type]
