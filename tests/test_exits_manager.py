"""ExitManager on SimulatedBroker with scripted markets that make each rule fire: stop at an ATR
multiple, take-profit at R, partial tiers, break-even, trailing by percent and ATR (long and short,
reset on re-entry), venue OCO against local emulation on the same path, and the plan following
the position (partial entry fills, a position closed by hand)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from order_helpers import gtc_limit

from fillforge.errors import ExitPlanError
from fillforge.exits import (
    BreakEven,
    Distance,
    ExitManager,
    ExitMode,
    ExitPlan,
    ManagedExit,
    Phase,
    Target,
    Trail,
)
from fillforge.orders.enums import OrderClass, OrderSide, OrderType
from fillforge.orders.models import Instrument, OrderRequest
from fillforge.testing import SimHarness

D = Decimal
MODES = ["venue", "local"]
# A 2% stop, a target at 3R, and the stop to the entry plus a quarter R once 1.5R is reached.
BREAK_EVEN_PLAN = ExitPlan(
    stop=Distance.of_percent(2),
    targets=(Target(3),),
    break_even=BreakEven(after_r="1.5", lock_r="0.25"),
)


def buy(qty: int = 100, side: str = "buy") -> OrderRequest:
    return OrderRequest(symbol="TEST", side=OrderSide(side), qty=D(qty))


def exit_fills(sim: SimHarness, m: ManagedExit) -> list[tuple[Decimal, Decimal]]:
    """(price, qty) of every fill that reduced the position, in time order."""
    out = []
    for o in sim.broker.orders(symbol="TEST"):
        if o.request.side is (OrderSide.SELL if m.side == 1 else OrderSide.BUY):
            out += [(f.ts_event, f.price, f.qty) for f in o.fills.values()]
    return [(p, q) for _, p, q in sorted(out)]


def to_100(sim: SimHarness, side: str) -> None:
    """Move the market to 100.00 so that a market order on ``side`` fills at 100.00."""
    sim.path("99.00", "100.00") if side == "buy" else sim.path("101.00", "100.00")


def open_orders(sim: SimHarness) -> list[str]:
    return [o.id for o in sim.broker.orders(open_only=True, symbol="TEST")]


def start(
    sim: SimHarness,
    inst: Instrument,
    plan: ExitPlan,
    mode: str,
    *,
    side: str = "buy",
    qty: int = 100,
    atr: str | None = None,
) -> ManagedExit:
    to_100(sim, side)
    mgr = ExitManager(sim.broker, mode=mode)
    m = mgr.enter(buy(qty, side), plan, inst, atr=atr)
    assert m.entry_price == D("100.00")
    _MANAGERS[id(m)] = mgr
    return m


_MANAGERS: dict[int, ExitManager] = {}


def owner(m: ManagedExit) -> ExitManager:
    """The manager working ``m`` (made by :func:`start`)."""
    return _MANAGERS[id(m)]


# ----- stop and target ------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_stop_at_an_atr_multiple(sim: SimHarness, sim_instrument: Instrument, mode: str) -> None:
    plan = ExitPlan(stop=Distance.of_atr(2), targets=(Target(3),))
    m = start(sim, sim_instrument, plan, mode, atr="1.50")
    assert m.stop_price == D("97.00")
    assert m.target_prices == [(D("109.00"), D(100))]  # 3R, R = 3.00
    sim.path("99.00", "97.50", "97.01")
    assert m.phase is Phase.ACTIVE
    sim.path("96.90")
    assert (m.phase, m.reason) == (Phase.DONE, "stop")
    assert exit_fills(sim, m) == [(D("96.90"), D(100))]
    assert sim.broker.positions() == {}
    assert open_orders(sim) == []


@pytest.mark.parametrize("mode", MODES)
def test_take_profit_at_an_r_multiple(
    sim: SimHarness, sim_instrument: Instrument, mode: str
) -> None:
    plan = ExitPlan(stop=Distance.of_percent(2), targets=(Target("2.5"),))
    m = start(sim, sim_instrument, plan, mode)
    assert m.target_prices == [(D("105.00"), D(100))]  # 100 + 2.5 x 2.00
    sim.path("103.00", "104.99")
    assert m.phase is Phase.ACTIVE
    sim.path("105.40")
    assert (m.phase, m.reason) == (Phase.DONE, "targets")
    assert exit_fills(sim, m) == [(D("105.00"), D(100))]
    assert open_orders(sim) == []  # the stop went with it (OCO)


@pytest.mark.parametrize("mode", MODES)
def test_short_levels_are_mirrored(sim: SimHarness, sim_instrument: Instrument, mode: str) -> None:
    plan = ExitPlan(stop=Distance.of_percent(2), targets=(Target(2),))
    m = start(sim, sim_instrument, plan, mode, side="sell")
    assert (m.side, m.stop_price, m.target_prices) == (-1, D("102.00"), [(D("96.00"), D(100))])
    sim.path("97.00", "95.50")
    assert (m.reason, exit_fills(sim, m)) == ("targets", [(D("96.00"), D(100))])
    m2 = ExitManager(sim.broker, mode=mode).enter(buy(100, "sell"), plan, sim_instrument)
    assert m2.entry_price == D("95.50")  # 2% above is 97.41: rounded down, toward the price
    assert m2.stop_price == D("97.41")
    sim.path("96.00", "97.40")
    assert m2.phase is Phase.ACTIVE
    sim.path("97.50")
    assert (m2.reason, exit_fills(sim, m2)[-1:]) == ("stop", [(D("97.50"), D(100))])
    assert sim.broker.positions() == {}


PATHS = {
    "stop": ["99.50", "98.50", "97.00", "96.50"],
    "target": ["101.00", "103.50", "104.20", "105.00"],
    "break-even": ["101.00", "102.30", "101.00", "99.80", "99.00"],
    "gap through the stop": ["101.00", "95.00"],
}


@pytest.mark.parametrize("path", list(PATHS))
def test_venue_oco_and_local_emulation_exit_at_the_same_prices(
    sim_instrument: Instrument, path: str
) -> None:
    from fillforge.sim.broker import SimulatedBroker
    from fillforge.sim.feeds import empty_feed
    from fillforge.sim.venue import Venue

    plan = ExitPlan(
        stop=Distance.of_percent(2), targets=(Target(2),), break_even=BreakEven(after_r=1)
    )
    results = {}
    for mode in MODES:
        venue = Venue("TESTX", calendar=None)
        venue.add(sim_instrument, empty_feed())
        sim = SimHarness(SimulatedBroker(venue, cash=D(1_000_000)), "TEST")
        m = start(sim, sim_instrument, plan, mode)
        assert m.mode is ExitMode(mode)
        sim.path(*PATHS[path])
        results[mode] = (m.reason, m.stop_price, exit_fills(sim, m), sim.broker.positions())
        assert open_orders(sim) == []
    assert results["venue"] == results["local"]
    assert results["venue"][2]  # it exited


# ----- partial tiers, break-even -----------------------------------------------------------


def test_partial_tiers_half_at_1r_half_at_2r(sim: SimHarness, sim_instrument: Instrument) -> None:
    plan = ExitPlan(stop=Distance.of_percent(2), targets=(Target(1, "0.5"), Target(2, "0.5")))
    m = start(sim, sim_instrument, plan, "auto")
    assert m.mode is ExitMode.LOCAL  # two targets: no single venue order holds them
    sim.path("101.00", "102.10")
    assert exit_fills(sim, m) == [(D("102.00"), D(50))]
    assert (m.remaining, m.phase) == (50, Phase.ACTIVE)
    sim.path("103.00", "104.05")
    assert exit_fills(sim, m) == [(D("102.00"), D(50)), (D("104.00"), D(50))]
    assert (m.reason, sim.broker.positions()) == ("targets", {})


def test_after_a_tier_the_stop_sells_only_what_is_left_and_cancels_the_other_tier(
    sim: SimHarness, sim_instrument: Instrument
) -> None:
    plan = ExitPlan(stop=Distance.of_percent(2), targets=(Target(1, "0.5"), Target(2, "0.5")))
    m = start(sim, sim_instrument, plan, "local")
    sim.path("102.00", "99.00", "97.90")
    assert exit_fills(sim, m) == [(D("102.00"), D(50)), (D("97.90"), D(50))]
    assert (m.reason, sim.broker.positions(), open_orders(sim)) == ("stop", {}, [])


@pytest.mark.parametrize("mode", MODES)
def test_break_even_moves_the_stop_after_the_profit_threshold(
    sim: SimHarness, sim_instrument: Instrument, mode: str
) -> None:
    m = start(sim, sim_instrument, BREAK_EVEN_PLAN, mode)
    sim.path("102.99")
    assert m.stop_price == D("98.00")  # 1.5R is 103.00: not yet
    sim.path("103.00")
    assert m.stop_price == D("100.50")  # the entry plus a quarter R, locked
    if mode == "venue":
        (stop_leg,) = [o for o in sim.broker.orders(open_only=True) if o.stop_price]
        assert stop_leg.stop_price == D("100.50")  # moved at the venue by replace
    sim.path("101.00", "100.40")
    assert (m.reason, exit_fills(sim, m)) == ("stop", [(D("100.40"), D(100))])


# ----- trailing --------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["local", "venue"])
def test_trailing_by_percent_measures_from_the_peak_not_the_entry(
    sim: SimHarness, sim_instrument: Instrument, mode: str
) -> None:
    # LEAN measured its trailing stop from the entry: 5% below 100 is 95, and the fall from 110
    # to 104 would never exit. From the peak, the stop is 104.50.
    plan = ExitPlan(stop=Distance.of_percent(10), trail=Trail(Distance.of_percent(5)))
    m = start(sim, sim_instrument, plan, mode)
    sim.path("105.00", "110.00", "106.00")
    if mode == "local":
        assert m.stop_price == D("104.50")
    sim.path("104.60")
    assert m.phase is Phase.ACTIVE
    sim.path("104.00")
    assert (m.reason, exit_fills(sim, m)) == ("stop", [(D("104.00"), D(100))])


def test_trailing_by_percent_for_a_short_tracks_the_trough(
    sim: SimHarness, sim_instrument: Instrument
) -> None:
    plan = ExitPlan(stop=Distance.of_percent(10), trail=Trail(Distance.of_percent(5)))
    m = start(sim, sim_instrument, plan, "local", side="sell")
    sim.path("95.00", "90.00", "93.00")
    assert m.stop_price == D("94.50")  # 90 + 5% of 90: rounded toward the price
    sim.path("94.40")
    assert m.phase is Phase.ACTIVE
    sim.path("94.60")
    assert (m.reason, exit_fills(sim, m)) == ("stop", [(D("94.60"), D(100))])


@pytest.mark.parametrize("side", ["buy", "sell"])
def test_trailing_by_atr_and_a_new_atr_never_loosens_the_stop(
    sim: SimHarness, sim_instrument: Instrument, side: str
) -> None:
    s = 1 if side == "buy" else -1
    plan = ExitPlan(stop=Distance.of_atr(3), trail=Trail(Distance.of_atr("1.5")))
    m = start(sim, sim_instrument, plan, "local", side=side, atr="2.00")
    assert m.stop_price == 100 - s * D("3.00")  # the trail (3.00) from the entry
    sim.path(str(100 + s * 8))
    assert m.stop_price == 100 + s * 5  # 108 - 3 (long), 92 + 3 (short)
    # A calmer market: the trail tightens to 1.5 x 1.00 from the water mark.
    owner(m).update_atr("TEST", "1.00")
    assert m.stop_price == 100 + s * D("6.50")
    owner(m).update_atr("TEST", "4.00")  # wilder: the stop reached so far stays
    assert m.stop_price == 100 + s * D("6.50")
    sim.path(str(100 + s * D("6.40")))
    assert m.reason == "stop"
    assert exit_fills(sim, m) == [(100 + s * D("6.40"), D(100))]


@pytest.mark.parametrize("side", ["buy", "sell"])
def test_trailing_stop_resets_on_re_entry(
    sim: SimHarness, sim_instrument: Instrument, side: str
) -> None:
    s = 1 if side == "buy" else -1
    plan = ExitPlan(stop=Distance.of_percent(10), trail=Trail(Distance.of_percent(5)))
    first = start(sim, sim_instrument, plan, "local", side=side)
    mgr = owner(first)
    sim.path(str(100 + s * 20), str(100 + s * 14))  # peak 120 (trough 80), then out
    assert first.reason == "stop"
    to_100(sim, side)
    again = mgr.enter(buy(100, side), plan, sim_instrument)
    # Measured from this entry (100): 95.00 (short: 105.00). A stale mark from the last
    # position (120 -> 114.00) would be through the price and exit at once.
    assert again.stop_price == 100 - s * 5
    sim.path(str(100 + s), str(100 - s))
    assert again.phase is Phase.ACTIVE
    assert again.stop_price == (D("95.95") if s == 1 else D("103.95"))  # from 101 (99)


def test_venue_trailing_stop_order_for_a_trail_only_plan(
    sim: SimHarness, sim_instrument: Instrument
) -> None:
    plan = ExitPlan(stop=Distance.of_percent(10), trail=Trail(Distance.of_percent(5)))
    m = start(sim, sim_instrument, plan, "venue")
    (trail,) = sim.broker.orders(open_only=True)
    assert (trail.request.type, trail.request.trail_percent) == (OrderType.TRAILING_STOP, D(5))
    sim.path("110.00", "104.00")
    assert (m.reason, exit_fills(sim, m)) == ("stop", [(D("104.00"), D(100))])


# ----- the plan follows the position ----------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_a_partial_entry_fill_sizes_the_exits_to_what_filled(
    sim: SimHarness, sim_instrument: Instrument, mode: str
) -> None:
    sim.quote("99.99", "100.01", size=1000)
    mgr = ExitManager(sim.broker, mode=mode)
    plan = ExitPlan(stop=Distance.of_percent(2), targets=(Target(2),))
    entry = gtc_limit("TEST", "buy", 100, "100.00")
    m = mgr.enter(entry, plan, sim_instrument)
    assert m.phase is Phase.WAITING
    assert open_orders(sim) == [o.id for o in sim.broker.orders(open_only=True)]
    sim.trade("100.00", 40)
    assert (m.remaining, m.stop_price) == (40, D("98.00"))
    exits = [o for o in sim.broker.orders(open_only=True) if o.request.side is OrderSide.SELL]
    assert {o.leaves_qty for o in exits} == {D(40)}
    sim.trade("100.00", 60)
    exits = [o for o in sim.broker.orders(open_only=True) if o.request.side is OrderSide.SELL]
    assert {o.leaves_qty for o in exits} == {D(100)}
    sim.path("97.00")
    assert sim.broker.positions() == {}
    assert m.reason == "stop"


@pytest.mark.parametrize("mode", MODES)
def test_a_position_closed_by_hand_cancels_the_plans_orders(
    sim: SimHarness, sim_instrument: Instrument, mode: str
) -> None:
    plan = ExitPlan(stop=Distance.of_percent(2), targets=(Target(2),))
    m = start(sim, sim_instrument, plan, mode)
    assert open_orders(sim)
    sim.market("sell", 100)
    assert (m.phase, m.reason) == (Phase.DONE, "closed by hand")
    assert open_orders(sim) == []
    sim.path("90.00")  # nothing left to sell
    assert sim.broker.positions() == {}


def test_a_partial_close_by_hand_shrinks_the_farthest_tier_first(
    sim: SimHarness, sim_instrument: Instrument
) -> None:
    plan = ExitPlan(stop=Distance.of_percent(2), targets=(Target(1, "0.5"), Target(2, "0.5")))
    m = start(sim, sim_instrument, plan, "local")
    sim.market("sell", 30)
    assert m.remaining == 70
    assert m.target_prices == [(D("102.00"), D(50)), (D("104.00"), D(20))]
    resting = sorted(o.leaves_qty for o in sim.broker.orders(open_only=True))
    assert resting == [D(20), D(50)]
    sim.path("104.50")
    assert sim.broker.positions() == {}
    assert m.reason == "targets"


def test_attach_to_a_position_already_held(sim: SimHarness, sim_instrument: Instrument) -> None:
    sim.path("100.00")
    sim.market("buy", 10)
    mgr = ExitManager(sim.broker)
    m = mgr.attach(ExitPlan(stop=Distance.of_percent(2), targets=(Target(1),)), sim_instrument)
    assert (m.side, m.remaining, m.stop_price, m.mode) == (1, 10, D("98.00"), ExitMode.VENUE)
    legs = sim.broker.orders(open_only=True)
    assert len(legs) == 2
    assert legs[0].group_id is not None
    assert legs[0].group_id == legs[1].group_id  # one OCO: take-profit and stop
    assert sim.broker.manager.group(legs[0].group_id).order_class is OrderClass.OCO


# ----- refusals --------------------------------------------------------------------------------


def test_refusals_name_the_field_and_send_nothing(
    sim: SimHarness, sim_instrument: Instrument
) -> None:
    sim.path("100.00")
    mgr = ExitManager(sim.broker)
    tiers = ExitPlan(stop=Distance.of_percent(2), targets=(Target(1, "0.5"), Target(2, "0.5")))
    cases = [
        (lambda: mgr.enter(buy(), tiers, sim_instrument, mode="venue"), "mode"),
        (lambda: mgr.enter(buy(), ExitPlan(stop=Distance.of_atr(2)), sim_instrument), "atr"),
        (lambda: mgr.enter(buy(), tiers, sim_instrument, mode="nope"), "mode"),
        (lambda: mgr.attach(tiers, sim_instrument), "symbol"),  # nothing held
        (lambda: mgr.enter(buy(), tiers, Instrument(symbol="OTHER")), "instrument"),
        (lambda: ExitManager(sim.broker, watch=("ticks",)), "watch"),
        (lambda: mgr.update_atr("TEST", "1"), "symbol"),
        # 0.001% of 100 rounds onto the entry: refused before the entry is sent.
        (
            lambda: mgr.enter(buy(), ExitPlan(stop=Distance.of_percent("0.001")), sim_instrument),
            "stop",
        ),
    ]
    for call, field in cases:
        with pytest.raises(ExitPlanError) as e:
            call()
        assert e.value.field == field
    assert sim.broker.orders() == []
    assert mgr.get("TEST") is None
    other = sim.broker.submit(buy(1))
    with pytest.raises(ExitPlanError) as e:
        mgr.attach(tiers, Instrument(symbol="OTHER"), entry=other)
    assert e.value.field == "entry"
    sim.broker.submit(buy(1, "sell"))
    mgr.enter(buy(), tiers, sim_instrument)
    with pytest.raises(ExitPlanError) as e:
        mgr.enter(buy(), tiers, sim_instrument)  # one plan per symbol
    assert e.value.field == "symbol"
    assert len(sim.broker.orders(open_only=True)) == 2  # the two tiers of the one plan


@pytest.mark.parametrize("mode", MODES)
def test_break_even_for_a_short_moves_the_stop_down(
    sim: SimHarness, sim_instrument: Instrument, mode: str
) -> None:
    m = start(sim, sim_instrument, BREAK_EVEN_PLAN, mode, side="sell")
    assert m.stop_price == D("102.00")
    sim.path("97.01")
    assert m.stop_price == D("102.00")  # 1.5R below is 97.00: not yet
    sim.path("97.00")
    assert m.stop_price == D("99.50")  # the entry less a quarter R, locked
    sim.path("99.00", "99.60")
    assert (m.reason, exit_fills(sim, m)) == ("stop", [(D("99.60"), D(100))])
