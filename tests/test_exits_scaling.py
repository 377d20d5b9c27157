"""Position scaling: scale-in on pullbacks (rallies for shorts) within its caps, scale-out tiers
evaluated from the highest down so a jump past several fires them all, on SimulatedBroker too."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fillforge.errors import ExitPlanError
from fillforge.exits import (
    Distance,
    ExitManager,
    ExitPlan,
    ManagedExit,
    ScaleIn,
    ScaleOut,
    ScaleOutTier,
    Scaler,
)
from fillforge.orders.enums import OrderSide
from fillforge.orders.models import Instrument, OrderRequest
from fillforge.testing import SimHarness

D = Decimal
INST = Instrument(symbol="TEST", tick_size=D("0.01"))
THIRDS = ScaleOut(
    tiers=(
        ScaleOutTier(Distance.of_percent(5), D("0.25")),
        ScaleOutTier(Distance.of_percent(10), D("0.25")),
        ScaleOutTier(Distance.of_percent(20), D("0.5")),
    )
)


def held(sim: SimHarness) -> Decimal:
    pos = sim.broker.positions().get("TEST")
    return D(0) if pos is None else pos.qty


def _long_100_with_a_stop(sim: SimHarness, inst: Instrument) -> tuple[ExitManager, ManagedExit]:
    """A market buy of 100 at 100.00, entered through an ExitManager with a 10% stop."""
    sim.path("99.00", "100.00")
    mgr = ExitManager(sim.broker)
    m = mgr.enter(
        OrderRequest(symbol="TEST", side=OrderSide.BUY, qty=D(100)),
        ExitPlan(stop=Distance.of_percent(10)),
        inst,
    )
    return mgr, m


# ----- scale-out -------------------------------------------------------------------------------


def test_scale_out_fires_every_tier_a_jump_passes_highest_first() -> None:
    # The if/elif written example checks the 5% tier first and stops there: 10% and 20% never
    # fire. Evaluated from the top, a jump to +21% takes all three.
    due = THIRDS.due(INST, 1, D(100), D(100), D("121.00"), set(), D(100))
    assert due == [(2, D(50)), (1, D(25)), (0, D(25))]
    assert THIRDS.due(INST, 1, D(100), D(100), D("110.00"), set(), D(100)) == [
        (1, D(25)),
        (0, D(25)),
    ]
    assert THIRDS.due(INST, 1, D(100), D(100), D("121.00"), {0, 1}, D(50)) == [(2, D(50))]


def test_scale_out_short_mirror_and_the_position_cap() -> None:
    assert THIRDS.due(INST, -1, D(100), D(100), D("79.00"), set(), D(100)) == [
        (2, D(50)),
        (1, D(25)),
        (0, D(25)),
    ]
    # Only 60 left (some sold by hand): the highest tiers come first, the cap cuts the rest.
    assert THIRDS.due(INST, 1, D(100), D(100), D("121.00"), set(), D(60)) == [
        (2, D(50)),
        (1, D(10)),
    ]


def test_scale_out_on_the_simulated_broker_takes_every_tier_on_a_jump(sim: SimHarness) -> None:
    sim.path("99.00", "100.00")
    sim.market("buy", 100)
    scaler = Scaler(sim.broker, INST, 1, D(100), D(100), scale_out=THIRDS)
    sim.path("104.00")
    assert held(sim) == 100
    sim.path("121.00")
    assert sorted(scaler.outs) == [0, 1, 2]
    assert held(sim) == 0


@settings(max_examples=100, deadline=None)
@given(
    prices=st.lists(st.decimals(min_value=D("50"), max_value=D("200"), places=2), max_size=8),
    qty=st.integers(1, 1000),
    side=st.sampled_from([1, -1]),
)
def test_scale_out_never_takes_more_than_the_position(
    prices: list[Decimal], qty: int, side: int
) -> None:
    done: set[int] = set()
    left = D(qty)
    for p in prices:
        due = THIRDS.due(INST, side, D(100), D(qty), p, done, left)
        assert [i for i, _ in due] == sorted((i for i, _ in due), reverse=True)
        for i, n in due:
            assert n > 0
            done.add(i)
            left -= n
        assert left >= 0


# ----- scale-in --------------------------------------------------------------------------------


def test_scale_in_adds_on_pullbacks_within_max_adds_and_max_size() -> None:
    plan = ScaleIn(step=Distance.of_percent(2), add_qty=D(50), max_adds=3, max_qty=D(200))
    assert plan.levels(INST, 1, D(100)) == [9800, 9600, 9400]
    assert plan.due(INST, 1, D(100), D("98.50"), 0, D(100)) == []
    assert plan.due(INST, 1, D(100), D("98.00"), 0, D(100)) == [(9800, D(50))]
    # A fall past every level: the size cap (200) stops it after two adds.
    assert plan.due(INST, 1, D(100), D("93.00"), 0, D(100)) == [(9800, D(50)), (9600, D(50))]
    assert plan.due(INST, 1, D(100), D("93.00"), 2, D(200)) == []  # capped
    assert plan.due(INST, 1, D(100), D("93.00"), 3, D(100)) == []  # max adds done


def test_scale_in_for_a_short_adds_on_rallies_and_atr_steps() -> None:
    plan = ScaleIn(step=Distance.of_atr("0.5"), add_qty=D(10), max_adds=2, max_qty=D(100))
    assert plan.levels(INST, -1, D(100), atr=D("1.25")) == [10063, 10125]  # up: sell no lower
    assert plan.due(INST, -1, D(100), D("100.62"), 0, D(10), atr=D("1.25")) == []
    assert plan.due(INST, -1, D(100), D("101.30"), 0, D(10), atr=D("1.25")) == [
        (10063, D(10)),
        (10125, D(10)),
    ]


def test_scale_in_on_the_simulated_broker_grows_the_exits(
    sim: SimHarness, sim_instrument: Instrument
) -> None:
    mgr, m = _long_100_with_a_stop(sim, sim_instrument)
    plan = ScaleIn(step=Distance.of_percent(2), add_qty=D(50), max_adds=3, max_qty=D(200))
    scaler = Scaler(
        sim.broker,
        sim_instrument,
        1,
        D(100),
        D(100),
        scale_in=plan,
        on_add=lambda o: mgr.add_entry("TEST", o),
    )
    sim.path("98.50", "97.90")
    assert held(sim) == 150
    assert m.remaining == 150
    sim.path("95.00", "93.00")  # two more levels, one add left under the size cap
    assert held(sim) == 200
    assert len(scaler.adds) == 2
    assert m.remaining == 200
    (stop,) = [o for o in sim.broker.orders(open_only=True)]
    assert stop.order_qty == D(200)  # the venue stop resized to the whole position


def test_scaling_refusals_name_the_field() -> None:
    cases = [
        (lambda: ScaleIn(Distance.of_percent(1), D(1), 0, D(10)), "max_adds"),
        (lambda: ScaleIn(Distance.of_percent(1), D(0), 1, D(10)), "add_qty"),
        (lambda: ScaleIn("1%", D(1), 1, D(10)), "step"),  # type: ignore[arg-type]
        (lambda: ScaleOut(tiers=()), "tiers"),
        (
            lambda: ScaleOut(
                tiers=(
                    ScaleOutTier(Distance.of_percent(5), D("0.6")),
                    ScaleOutTier(Distance.of_percent(9), D("0.6")),
                )
            ),
            "tiers",
        ),
        (lambda: ScaleOutTier(Distance.of_percent(5), D(2)), "fraction"),
    ]
    for make, field in cases:
        with pytest.raises(ExitPlanError) as e:
            make()
        assert e.value.field == field
    out_of_order = ScaleOut(
        tiers=(
            ScaleOutTier(Distance.of_percent(9), D("0.5")),
            ScaleOutTier(Distance.of_percent(5), D("0.5")),
        )
    )
    with pytest.raises(ExitPlanError) as e:
        out_of_order.due(INST, 1, D(100), D(10), D(120), set(), D(10))
    assert e.value.field == "tiers"


def test_a_scale_out_shrinks_the_exit_plan_that_protects_the_position(
    sim: SimHarness, sim_instrument: Instrument
) -> None:
    _, m = _long_100_with_a_stop(sim, sim_instrument)
    Scaler(sim.broker, sim_instrument, 1, D(100), D(100), scale_out=THIRDS)
    sim.path("110.50")  # the 5% and 10% tiers: 50 off
    assert held(sim) == 50
    assert m.remaining == 50
    (stop,) = sim.broker.orders(open_only=True)
    assert (stop.request.type.value, stop.order_qty) == ("stop", D(50))  # resized at the venue
    sim.path("95.00", "89.90")
    assert (m.reason, held(sim)) == ("stop", 0)
