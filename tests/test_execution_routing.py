"""Smart order routing on two SimulatedBrokers fed different quotes: the better price wins, then
the bigger displayed size at an equal price, then the cheaper fee; a child split pro rata to the
displayed size sums to the child exactly; hypothesis for the split's promises (sum, lot grid,
no venue above its displayed size unless every venue is exhausted, best prices first)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fillforge.errors import ExecutionError
from fillforge.execution.routing import (
    Allocation,
    Router,
    RouteVenue,
    Touch,
    allocate,
    best,
    rank,
)
from fillforge.orders.enums import OrderSide, OrderStatus
from fillforge.orders.models import Instrument, OrderRequest
from fillforge.sim.broker import SimulatedBroker
from fillforge.sim.feeds import empty_feed
from fillforge.sim.fees import FeeSchedule
from fillforge.sim.venue import Venue

D = Decimal
BUY, SELL = OrderSide.BUY, OrderSide.SELL
T0 = 1_765_000_000 * 10**9


def _broker(name: str) -> SimulatedBroker:
    venue = Venue(name, calendar=None)
    venue.add(Instrument(symbol="X", tick_size=D("0.01")), empty_feed())
    return SimulatedBroker(venue, cash=D(10_000_000), start_ns=T0)


def _market(
    a: tuple[str, str, int, int], b: tuple[str, str, int, int], **fees: FeeSchedule
) -> tuple[Router, SimulatedBroker, SimulatedBroker]:
    """Two venues A and B, each quoting (bid, ask, bid size, ask size)."""
    ba, bb = _broker("A"), _broker("B")
    for br, (bid, ask, bsz, asz) in ((ba, a), (bb, b)):
        br.quote("X", D(bid), D(ask), bid_size=D(bsz), ask_size=D(asz))
    router = Router(
        [
            RouteVenue("A", ba, fees.get("A", FeeSchedule())),
            RouteVenue("B", bb, fees.get("B", FeeSchedule())),
        ]
    )
    return router, ba, bb


def _order(qty: int, side: str = "buy", cid: str | None = None) -> OrderRequest:
    return OrderRequest(symbol="X", side=side, type="market", qty=D(qty), client_order_id=cid)  # type: ignore[arg-type]


def _held(b: SimulatedBroker) -> Decimal:
    p = b.positions().get("X")
    return D(0) if p is None else p.qty


def test_the_better_price_wins_on_each_side() -> None:
    router, a, b = _market(("100.00", "100.02", 500, 500), ("99.99", "100.01", 100, 100))
    assert router.choose("X", BUY, D(100)).name == "B"  # the lower ask
    assert router.choose("X", SELL, D(100)).name == "A"  # the higher bid
    [(venue, order)] = router.send(_order(100))
    assert venue.name == "B"
    filled = b.get_order(order.id)
    assert (filled.status, filled.avg_price) == (OrderStatus.FILLED, D("100.01"))
    assert (_held(a), _held(b)) == (0, 100)


def test_at_an_equal_price_the_bigger_displayed_size_wins() -> None:
    router, a, b = _market(("100.00", "100.01", 200, 300), ("100.00", "100.01", 400, 200))
    assert router.choose("X", BUY, D(100)).name == "A"
    assert router.choose("X", SELL, D(100)).name == "B"
    router.send(_order(100, cid="p1"))
    assert (_held(a), _held(b)) == (100, 0)
    assert a.get_order_by_client_id("p1.0").status is OrderStatus.FILLED


def test_at_an_equal_price_and_size_the_cheaper_fee_wins() -> None:
    # 100 shares at 100.01: A charges 1 bps (1.0001), B 0.001 a share (0.1)
    router, a, b = _market(
        ("100.00", "100.01", 100, 100),
        ("100.00", "100.01", 100, 100),
        A=FeeSchedule(bps=D(1)),
        B=FeeSchedule(per_share=D("0.001")),
    )
    assert router.choose("X", BUY, D(100)).name == "B"
    router.send(_order(100))
    assert (_held(a), _held(b)) == (0, 100)
    # with the fees swapped, A
    swapped, _, _ = _market(
        ("100.00", "100.01", 100, 100),
        ("100.00", "100.01", 100, 100),
        A=FeeSchedule(per_share=D("0.001")),
        B=FeeSchedule(bps=D(1)),
    )
    assert swapped.choose("X", BUY, D(100)).name == "A"
    # everything equal: the first listed
    plain, _, _ = _market(("100.00", "100.01", 100, 100), ("100.00", "100.01", 100, 100))
    assert plain.choose("X", BUY, D(100)).name == "A"


def test_a_split_is_pro_rata_to_displayed_size_and_sums_exactly() -> None:
    router, a, b = _market(("100.00", "100.01", 100, 300), ("100.00", "100.01", 100, 100))
    assert router.split("X", BUY, D(200), D(1)) == [Allocation("A", D(150)), Allocation("B", D(50))]
    # 201: 150.75 and 50.25 floor to 150 and 50; the odd lot to the best venue
    sent = router.send(_order(201, cid="kid"), split=True)
    assert [(v.name, o.order_qty) for v, o in sent] == [("A", D(151)), ("B", D(50))]
    assert (_held(a), _held(b)) == (151, 50)
    assert _held(a) + _held(b) == 201
    assert a.get_order_by_client_id("kid.0").status is OrderStatus.FILLED
    assert b.get_order_by_client_id("kid.1").status is OrderStatus.FILLED


def test_a_split_takes_the_better_price_first_and_the_excess_goes_to_the_best() -> None:
    router, a, b = _market(("100.00", "100.02", 100, 500), ("100.00", "100.01", 100, 100))
    assert router.split("X", BUY, D(300), D(1)) == [
        Allocation("B", D(100)),
        Allocation("A", D(200)),
    ]
    assert router.split("X", BUY, D(50), D(1)) == [Allocation("B", D(50))]
    # more than both display: each gets what it shows, the excess goes to the best (B)
    assert router.split("X", BUY, D(900), D(1)) == [
        Allocation("B", D(400)),
        Allocation("A", D(500)),
    ]
    # a lot of 100: displayed sizes count in whole lots
    assert router.split("X", BUY, D(300), D(100)) == [
        Allocation("B", D(100)),
        Allocation("A", D(200)),
    ]
    sent = router.send(_order(300), split=True)
    assert [(v.name, o.avg_price) for v, o in sent] == [("B", D("100.01")), ("A", D("100.02"))]
    assert (_held(b), _held(a)) == (100, 200)


def test_an_empty_side_is_skipped_and_no_price_anywhere_is_refused() -> None:
    a, b = _broker("A"), _broker("B")
    a.quote("X", D("100.00"), None, bid_size=D(100))
    b.quote("X", D("99.00"), D("100.05"), bid_size=D(100), ask_size=D(100))
    router = Router([RouteVenue("A", a), RouteVenue("B", b)])
    assert router.choose("X", BUY, D(10)).name == "B"
    b.quote("X", D("99.00"), None, bid_size=D(100))
    with pytest.raises(ExecutionError) as e:
        router.choose("X", BUY, D(10))
    assert e.value.field == "touches"


def test_bad_router_parameters_are_refused_naming_the_field() -> None:
    a = _broker("A")
    cases: list[tuple[object, str]] = [
        (lambda: Router([]), "venues"),
        (lambda: Router([RouteVenue("A", a), RouteVenue("A", a)]), "venues[1].name"),
        (lambda: Router([RouteVenue("", a)]), "venues[0].name"),
        (lambda: Router(["A"]), "venues[0]"),  # type: ignore[list-item]
        (lambda: Router([RouteVenue("A", a)]).venue("Z"), "venue"),
        (lambda: allocate(BUY, D("1.5"), D(1), [Touch("A", D(1), D(5))]), "qty"),
        (lambda: allocate(BUY, D(1), D(0), [Touch("A", D(1), D(5))]), "lot"),
        (lambda: rank(BUY, [], D(1)), "touches"),
        (lambda: rank("buy", [Touch("A", D(1), D(5))], D(1)), "side"),  # type: ignore[arg-type]
        (
            lambda: Router([RouteVenue("A", a)]).send(
                OrderRequest(symbol="X", side="buy", notional=D(100))  # type: ignore[arg-type]
            ),
            "qty",
        ),
    ]
    for call, field in cases:
        with pytest.raises(ExecutionError) as e:
            call()  # type: ignore[operator]
        assert e.value.field == field


# ----- hypothesis: the split's promises ----------------------------------------------------------

_touches = st.lists(
    st.tuples(st.integers(100, 103), st.integers(0, 2_000), st.booleans()),
    min_size=1,
    max_size=5,
).filter(lambda ts: any(shown for _, _, shown in ts))


@given(
    touches=_touches,
    lots=st.integers(1, 3_000),
    lot=st.sampled_from([1, 10, 100]),
    buy=st.booleans(),
)
def test_a_split_sums_to_the_child_on_the_lot_grid_within_displayed_sizes(
    touches: list[tuple[int, int, bool]], lots: int, lot: int, buy: bool
) -> None:
    side = BUY if buy else SELL
    ts = [
        Touch(f"v{i}", D(p) if shown else None, D(size) if shown else D(0), index=i)
        for i, (p, size, shown) in enumerate(touches)
    ]
    qty = D(lots * lot)
    parts = allocate(side, qty, D(lot), ts)
    by = {p.venue: p.qty for p in parts}
    assert sum(by.values()) == qty
    assert len(by) == len(parts)
    assert all(q > 0 and q % lot == 0 for q in by.values())
    priced = [t for t in ts if t.price is not None]
    assert set(by) <= {t.venue for t in priced}
    cap = {t.venue: (t.size // lot) * lot for t in priced}
    shown = sum(cap.values())
    top = best(side, ts, qty).venue
    if qty <= shown:
        assert all(by[v] <= cap[v] for v in by)  # no venue above what it displays
    else:  # every venue exhausted; only the best gets more
        assert all(by.get(v, 0) == cap[v] for v in cap if v != top)
        assert by[top] == cap[top] + qty - shown
    # price priority: a worse price gets something only when every better one is full
    sign = 1 if buy else -1
    for t in priced:
        if by.get(t.venue, 0) > 0:
            for u in priced:
                assert u.price is not None
                assert t.price is not None
                if sign * u.price < sign * t.price:
                    assert by.get(u.venue, 0) >= cap[u.venue]
