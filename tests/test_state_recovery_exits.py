"""Exit plans survive a crash (issue 18): a stop and target plan held locally, with a trailing
stop and its high-water mark, comes back from its last snapshot and then exits exactly as an
uncrashed twin on the same price path; fills of its orders while it was down are counted once."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_state_recovery_support import Mortal

from fillforge.errors import ExitPlanError
from fillforge.exits import (
    BreakEven,
    Distance,
    ExitManager,
    ExitPlan,
    ManagedExit,
    Phase,
    Target,
    Trail,
)
from fillforge.exits.position import ExitMode
from fillforge.exits.recovery import ExitSnapshot, exit_snapshot, managed_exit
from fillforge.orders.enums import OrderSide
from fillforge.orders.models import Instrument, OrderRequest
from fillforge.sim.broker import SimulatedBroker
from fillforge.sim.feeds import empty_feed
from fillforge.sim.venue import Venue
from fillforge.testing import SimHarness

D = Decimal
TRAILING = ExitPlan(
    stop=Distance.of_percent(10), targets=(Target(3),), trail=Trail(Distance.of_percent(5))
)
TIERS = ExitPlan(
    stop=Distance.of_percent(2),
    targets=(Target(1, "0.5"), Target(2, "0.5")),
    break_even=BreakEven(after_r=1),
)
PATH = ("101.00", "105.00", "110.00", "108.00", "106.00", "104.60", "104.00", "103.00")


class Kept:
    def __init__(self) -> None:
        self.last: dict[str, ExitSnapshot] = {}

    def __call__(self, symbol: str, snap: ExitSnapshot) -> None:
        self.last[symbol] = ExitSnapshot.model_validate(snap.model_dump(mode="json"))


def fresh(inst: Instrument) -> SimHarness:
    """The same market as the ``sim`` fixture's, for an uncrashed twin."""
    venue = Venue("TESTX", calendar=None)
    venue.add(inst, empty_feed())
    return SimHarness(SimulatedBroker(venue, cash=D(1_000_000)), inst.symbol)


def fills(sim: SimHarness) -> list[tuple[str, Decimal, Decimal]]:
    return [
        (str(o.request.side), f.price, f.qty)
        for o in sim.broker.orders(symbol="TEST")
        for f in sorted(o.fills.values(), key=lambda f: f.ts_event)
    ]


def run(
    sim: SimHarness, inst: Instrument, plan: ExitPlan, path: tuple[str, ...], crash: int | None
) -> tuple[ManagedExit, Kept]:
    """Enter 100 at 100.00 under ``plan`` in local mode, walk ``path``; the process dies before
    step ``crash`` and a new manager takes up the last snapshot."""
    sim.path("99.00", "100.00")
    proc = Mortal(sim.broker)
    kept = Kept()
    mgr = ExitManager(proc, mode="local")
    mgr.observe(kept)
    m = mgr.enter(OrderRequest(symbol="TEST", side=OrderSide.BUY, qty=D(100)), plan, inst)
    for i, p in enumerate(path):
        if i == crash:
            proc.die()
            mgr = ExitManager(Mortal(sim.broker), mode="local")
            mgr.observe(kept)
            if kept.last["TEST"].phase is not Phase.DONE:  # a done plan is not taken up
                m = mgr.restore(kept.last["TEST"])
        sim.path(p)
    return m, kept


@pytest.mark.parametrize("crash", range(len(PATH)))
def test_a_trailing_plan_recovered_exits_as_its_uncrashed_twin(
    sim: SimHarness, sim_instrument: Instrument, crash: int
) -> None:
    twin = fresh(sim_instrument)
    ref, _ = run(twin, sim_instrument, TRAILING, PATH, None)
    m, kept = run(sim, sim_instrument, TRAILING, PATH, crash)
    assert fills(sim) == fills(twin)
    assert (m.phase, m.reason) == (ref.phase, ref.reason) == (Phase.DONE, "stop")
    assert kept.last["TEST"].phase is Phase.DONE
    assert sim.broker.positions().get("TEST") is None


def test_the_high_water_mark_and_the_stop_it_set_come_back(
    sim: SimHarness, sim_instrument: Instrument
) -> None:
    m, kept = run(sim, sim_instrument, TRAILING, PATH[:3], None)
    snap = kept.last["TEST"]
    assert snap.watch is not None
    assert snap.watch.hwm == 11000  # 110.00 in ticks
    assert m.stop_price == D("104.50")
    again = ExitManager(sim.broker, mode="local").restore(snap)
    assert again.stop_price == D("104.50")
    assert again.watch is not None
    assert again.watch.trail is not None
    assert again.watch.trail.hwm == 11000


def test_a_target_filled_while_down_is_counted_once_and_the_plan_goes_on(
    sim: SimHarness, sim_instrument: Instrument
) -> None:
    # Tiers at 1R (102) and 2R (104) rest at the venue as limits; the process dies at 101 and
    # the first tier fills while it is down.
    m, kept = run(sim, sim_instrument, TIERS, ("101.00",), None)
    snap = kept.last["TEST"]
    assert [t.order_id is not None for t in snap.tiers] == [True, True]
    mgr_proc = Mortal(sim.broker)
    sim.path("102.50")  # nobody watching: the 1R tier fills
    again = ExitManager(mgr_proc, mode="local")
    m = again.restore(snap)
    assert m.exited == 50
    assert m.tiers[0].filled == 50
    assert m.remaining == 50
    assert m.phase is Phase.ACTIVE
    sim.path("104.50")
    assert (m.phase, m.reason) == (Phase.DONE, "targets")
    assert sim.broker.positions().get("TEST") is None
    sells = [q for side, _, q in fills(sim) if side == "sell"]
    assert sum(sells, D(0)) == D(100)  # exactly the position: nothing doubled


def test_restore_refuses_a_done_plan_a_busy_symbol_and_a_non_snapshot(
    sim: SimHarness, sim_instrument: Instrument
) -> None:
    _, kept = run(sim, sim_instrument, TRAILING, PATH[:2], None)
    working = kept.last["TEST"]
    mgr = ExitManager(sim.broker, mode="local")
    mgr.restore(working)
    with pytest.raises(ExitPlanError) as e:
        mgr.restore(working)
    assert e.value.field == "symbol"
    other = fresh(sim_instrument)
    _, kept = run(other, sim_instrument, TRAILING, PATH, None)
    done = kept.last["TEST"]
    assert done.phase is Phase.DONE
    mgr = ExitManager(other.broker, mode="local")
    with pytest.raises(ExitPlanError) as e:
        mgr.restore(done)
    assert e.value.field == "snapshot"
    with pytest.raises(ExitPlanError) as e:
        mgr.restore({"symbol": "TEST"})  # type: ignore[arg-type]
    assert e.value.field == "snapshot"


@settings(max_examples=30, deadline=None)
@given(
    entered=st.integers(1, 10_000),
    exited_part=st.integers(0, 100),
    tighter=st.integers(0, 500),
    fired=st.sets(st.integers(0, 1), max_size=2),
    hwm=st.none() | st.integers(1, 10**6),
    stop_owed=st.booleans(),
)
def test_an_exit_snapshot_round_trips_through_json(
    entered: int, exited_part: int, tighter: int, fired: set[int], hwm: int | None, stop_owed: bool
) -> None:
    inst = Instrument(symbol="TEST", tick_size=D("0.01"))
    m = ManagedExit("TEST", TIERS, inst, 1, ExitMode.LOCAL, None)
    m.entry_fill(entered, D("100.00"))
    m.exited = entered * exited_part // 100
    assert m.watch is not None
    m.watch.stop += tighter  # a stop only tightens
    m.watch.fired = fired
    m.stop_owed = stop_owed
    m.roles = {"o-1": "entry", "o-2": "tier:0"}
    m.seen = {"o-1": (D(entered), D(entered) * D("100.00"))}
    snap = exit_snapshot(m)
    back = ExitSnapshot.model_validate(snap.model_dump(mode="json"))
    assert back == snap
    assert exit_snapshot(managed_exit(back)) == snap
