"""Hypothesis over random plans, sides, modes and price paths on SimulatedBroker: the exits never
sell (or buy back) more than the position, a finished plan leaves no order working, and a stop
or target finish leaves the position flat."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import event, given, settings
from hypothesis import strategies as st

from fillforge.exits import (
    BreakEven,
    Distance,
    ExitManager,
    ExitPlan,
    Phase,
    Target,
    Trail,
)
from fillforge.orders.enums import OrderSide
from fillforge.orders.models import Instrument, OrderRequest
from fillforge.sim.broker import SimulatedBroker
from fillforge.sim.feeds import empty_feed
from fillforge.sim.venue import Venue
from fillforge.testing import SimHarness

D = Decimal
INST = Instrument(symbol="TEST", tick_size=D("0.01"))


@st.composite
def plans(draw: st.DrawFn) -> ExitPlan:
    stop = Distance.of_percent(draw(st.sampled_from(["1", "2.5", "5"])))
    n = draw(st.integers(0, 3))
    rs = sorted(
        draw(st.sets(st.sampled_from(["0.5", "1", "1.5", "2", "3"]), min_size=n, max_size=n))
    )
    if n == 0:
        targets: tuple[Target, ...] = ()
    else:
        first = [D(1) / n for _ in range(n - 1)]
        first = [f.quantize(D("0.01")) for f in first]
        targets = tuple(Target(r, f) for r, f in zip(rs, [*first, D(1) - sum(first)], strict=True))
    be = BreakEven(after_r=D(1)) if draw(st.booleans()) else None
    trail = (
        Trail(Distance.of_percent(draw(st.sampled_from(["1", "3"]))))
        if draw(st.booleans())
        else None
    )
    return ExitPlan(stop=stop, targets=targets, break_even=be, trail=trail)


@settings(max_examples=80, deadline=None)
@given(
    plan=plans(),
    side=st.sampled_from(["buy", "sell"]),
    mode=st.sampled_from(["auto", "local"]),
    qty=st.integers(1, 300),
    path=st.lists(st.integers(-600, 600), min_size=1, max_size=12),
    by_hand=st.one_of(st.none(), st.tuples(st.integers(0, 11), st.integers(1, 300))),
)
def test_exits_never_trade_more_than_the_position(
    plan: ExitPlan,
    side: str,
    mode: str,
    qty: int,
    path: list[int],
    by_hand: tuple[int, int] | None,
) -> None:
    venue = Venue("TESTX", calendar=None)
    venue.add(INST, empty_feed())
    sim = SimHarness(SimulatedBroker(venue, cash=D(10_000_000)), "TEST")
    sim.path("99.00", "100.00") if side == "buy" else sim.path("101.00", "100.00")
    mgr = ExitManager(sim.broker, mode=mode)
    m = mgr.enter(OrderRequest(symbol="TEST", side=OrderSide(side), qty=D(qty)), plan, INST)
    sign = 1 if side == "buy" else -1

    def held() -> Decimal:
        pos = sim.broker.positions().get("TEST")
        return D(0) if pos is None else pos.qty * sign

    for k, cents in enumerate(path):
        sim.path(str(D(10_000 + cents) / 100))
        if by_hand is not None and by_hand[0] == k and held() > 0:
            sim.market("sell" if sign == 1 else "buy", min(by_hand[1], int(held())))
        assert held() >= 0, f"the exits went past flat: {m.log}"
        assert m.remaining <= held() or m.phase is Phase.STOPPING
        assert 0 <= m.remaining <= qty
    if m.phase is Phase.DONE:
        assert sim.broker.orders(open_only=True) == [], m.log
        if m.reason in ("stop", "targets"):
            assert held() == 0, m.log
    else:
        # Still working: what the exits could sell never exceeds what is held (an OCO's two
        # legs are one exit: one filling cancels the other).
        by_group: dict[str, Decimal] = {}
        for o in sim.broker.orders(open_only=True):
            key = o.group_id or o.id
            by_group[key] = max(by_group.get(key, D(0)), o.leaves_qty)
        assert sum(by_group.values(), D(0)) <= held(), m.log
    event(f"{m.phase.value} {m.reason}")
