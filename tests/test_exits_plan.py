"""ExitPlan's levels: stop by ATR or percent, targets in R, tiers summing to the position,
break-even, trailing distances; every level on the tick grid, rounded in the protective
direction; refusals name the field and change nothing."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, reject, settings
from hypothesis import strategies as st

from fillforge.errors import ExitPlanError
from fillforge.exits import BreakEven, Distance, ExitPlan, Target, Trail, split_lots
from fillforge.orders.models import Instrument

D = Decimal
INST = Instrument(symbol="TEST", tick_size=D("0.01"))


def test_stop_at_an_atr_multiple_and_targets_at_r_multiples() -> None:
    plan = ExitPlan(stop=Distance.of_atr(2), targets=(Target(1, "0.5"), Target(2, "0.5")))
    lv = plan.levels(INST, 1, D("100.00"), 100, atr=D("1.25"))
    assert lv.stop == 9750  # 100 - 2 x 1.25
    assert lv.risk == 250
    assert lv.targets == ((10250, 50), (10500, 50))  # 1R and 2R, half each


def test_stop_at_a_percent_and_the_short_mirror() -> None:
    plan = ExitPlan(stop=Distance.of_percent(2), targets=(Target(3),))
    long = plan.levels(INST, 1, D("50.00"), 10)
    short = plan.levels(INST, -1, D("50.00"), 10)
    assert (long.stop, long.targets) == (4900, ((5300, 10),))
    assert (short.stop, short.targets) == (5100, ((4700, 10),))


def test_rounding_is_protective_stops_toward_the_market_targets_toward_the_entry() -> None:
    # 100.005 entry (an average), 1% stop: exact 99.00495 (long), 101.00505 (short).
    plan = ExitPlan(stop=Distance.of_percent(1), targets=(Target(1),), break_even=BreakEven(1))
    long = plan.levels(INST, 1, D("100.005"), 1)
    assert long.stop == 9901  # up: the loss allowed is never more than 1%
    assert long.targets[0][0] == 10100  # down from 100.995 (entry + R, R = 100.005 - 99.01)
    assert long.break_even == (10100, 10001)  # the break-even stop is at or above the entry
    short = plan.levels(INST, -1, D("100.005"), 1)
    assert short.stop == 10100  # down from 101.00505
    assert short.targets[0][0] == 9901  # up from 99.01
    assert short.break_even == (9901, 10000)


def test_tiers_split_on_the_lot_grid_and_sum_to_the_position() -> None:
    assert split_lots(7, (D("0.5"), D("0.5"))) == [3, 4]
    assert split_lots(1, (D("0.5"), D("0.5"))) == [0, 1]
    plan = ExitPlan(stop=Distance.of_percent(2), targets=(Target(1, "0.5"), Target(2, "0.5")))
    lv = plan.levels(INST, 1, D("100"), 1)
    assert lv.targets == ((10200, 0), (10400, 1))  # a tier with nothing to take gets 0


def test_trailing_distances() -> None:
    pct = ExitPlan(stop=Distance.of_percent(5), trail=Trail(Distance.of_percent("2.5")))
    assert pct.levels(INST, 1, D("100"), 1).trail_bps == 250
    atr = ExitPlan(stop=Distance.of_atr(3), trail=Trail(Distance.of_atr("1.5"), after_r=1))
    lv = atr.levels(INST, -1, D("100"), 1, atr=D("0.333"))
    assert lv.trail_ticks == 49  # 0.4995 rounded down to the tick: the trail only tighter
    assert lv.trail_activation == 9901  # 1R below a short's entry (R = 0.999 -> 100.999 stop)
    assert atr.trail_ticks_for(INST, D("2")) == 300


@pytest.mark.parametrize(
    ("make", "field"),
    [
        (lambda: ExitPlan(stop=Distance.of_percent(2), targets=(Target(1, "0.5"),)), "targets"),
        (
            lambda: ExitPlan(
                stop=Distance.of_percent(2), targets=(Target(1, "0.6"), Target(2, "0.6"))
            ),
            "targets",
        ),
        (
            lambda: ExitPlan(
                stop=Distance.of_percent(2), targets=(Target(2, "0.5"), Target(1, "0.5"))
            ),
            "targets",
        ),
        (lambda: Distance(), "atr"),
        (lambda: Distance(atr=D(1), percent=D(1)), "atr"),
        (lambda: Distance.of_percent(0), "percent"),
        (lambda: Distance.of_percent(100), "percent"),
        (lambda: Distance.of_atr(1.5), "atr"),  # a float: money is never a float
        (lambda: Distance.of_atr("nan"), "atr"),
        (lambda: Target(-1), "r"),
        (lambda: Target(1, "1.5"), "fraction"),
        (lambda: BreakEven(after_r=D(1), lock_r=D(1)), "lock_r"),
        (lambda: ExitPlan(stop="2%"), "stop"),  # type: ignore[arg-type]
    ],
)
def test_bad_plans_are_refused_naming_the_field(make: object, field: str) -> None:
    with pytest.raises(ExitPlanError) as e:
        make()  # type: ignore[operator]
    assert e.value.field == field
    assert isinstance(e.value, ValueError)


def test_an_atr_reading_may_be_a_float_read_as_it_prints() -> None:
    plan = ExitPlan(stop=Distance.of_atr(2))
    assert plan.levels(INST, 1, D("100"), 1, atr=1.1).stop == 9780  # 1.1, not 1.10000000000000008
    assert plan.levels(INST, 1, D("100"), 1, atr=D("1.1")) == plan.levels(
        INST, 1, D(100), 1, atr=1.1
    )
    for bad in (float("nan"), float("inf"), -1.0, 0, True, "x"):
        with pytest.raises(ExitPlanError) as e:
            plan.levels(INST, 1, D("100"), 1, atr=bad)  # type: ignore[arg-type]
        assert e.value.field == "atr"


def test_levels_refusals() -> None:
    plan = ExitPlan(stop=Distance.of_atr(2))
    with pytest.raises(ExitPlanError) as e:
        plan.levels(INST, 1, D("100"), 1)
    assert e.value.field == "stop.atr"
    with pytest.raises(ExitPlanError) as e:
        ExitPlan(stop=Distance.of_percent("0.001")).levels(INST, 1, D("100"), 1)
    assert e.value.field == "stop"  # within one tick of the entry: refused, not widened
    with pytest.raises(ExitPlanError) as e:
        ExitPlan(stop=Distance.of_percent(1)).levels(INST, 0, D("100"), 1)
    assert e.value.field == "side"
    with pytest.raises(ExitPlanError) as e:
        ExitPlan(stop=Distance.of_percent(1)).levels(INST, 1, D("100"), 0)
    assert e.value.field == "lots"


prices = st.decimals(min_value=D("10.00"), max_value=D("5000"), places=3)
pcts = st.decimals(min_value=D("0.5"), max_value=D("20"), places=2)


@settings(max_examples=200, deadline=None)
@given(
    entry=prices,
    stop_pct=pcts,
    side=st.sampled_from([1, -1]),
    lots=st.integers(1, 10_000),
    f=st.decimals(min_value=D("0.01"), max_value=D("0.99"), places=2),
    r1=st.decimals(min_value=D("0.5"), max_value=D("3"), places=1),
)
def test_levels_are_on_the_grid_protective_and_tiers_sum_to_the_position(
    entry: Decimal, stop_pct: Decimal, side: int, lots: int, f: Decimal, r1: Decimal
) -> None:
    plan = ExitPlan(
        stop=Distance.of_percent(stop_pct),
        targets=(Target(r1, f), Target(r1 + 1, 1 - f)),
        break_even=BreakEven(after_r=r1),
    )
    try:
        lv = plan.levels(INST, side, entry, lots)
    except ExitPlanError as e:  # a level that rounds onto the entry or its trigger: refused
        if e.field not in ("stop", "break_even.lock_r"):
            raise
        reject()
    tick = INST.tick_size
    exact_stop = entry - side * entry * stop_pct / 100
    stop = lv.stop * tick
    # Protective: never further than the rule allows, and less than one tick tighter.
    assert (stop >= exact_stop) if side == 1 else (stop <= exact_stop)
    assert abs(stop - exact_stop) < tick
    assert sum(n for _, n in lv.targets) == lots
    r = abs(entry - stop)
    expected = list(zip(plan.targets, split_lots(lots, (f, 1 - f)), strict=True))
    assert len(expected) == len(lv.targets)
    for (t, n), (level, got) in zip(expected, lv.targets, strict=True):
        exact = entry + side * t.r * r
        price = level * tick
        assert got == n
        # A target is never beyond its exact level (reached no later), within one tick.
        assert (price <= exact) if side == 1 else (price >= exact)
        assert abs(price - exact) < tick
        assert (price > entry) if side == 1 else (price < entry)
    assert lv.break_even is not None
    trigger, lock = lv.break_even
    assert (lock * tick >= entry) if side == 1 else (lock * tick <= entry)
    assert (trigger > lock) if side == 1 else (trigger < lock)


def test_the_watch_reads_the_engines_stop_where_stopstate_has_it() -> None:
    from fillforge.exits import watch
    from fillforge.trailing import StopState

    assert list(StopState.__dataclass_fields__).index("stop") == watch._STOP
