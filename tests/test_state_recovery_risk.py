"""The risk manager's state survives a crash (issue 18): the trading state, the kill switch,
the day's counts that gate orders and the session's start equity come back from the last
snapshot, and the recovered manager then decides exactly as an uncrashed twin does."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_state_recovery_support import Mortal

from fillforge.errors import RiskError
from fillforge.orders.enums import OrderSide, OrderStatus
from fillforge.orders.models import Instrument, OrderRequest
from fillforge.risk import (
    Control,
    DailyLossLimit,
    MaxOrdersPerDay,
    RiskGate,
    RiskManager,
    TradingState,
)
from fillforge.risk.states import RiskSnapshot
from fillforge.sim.broker import SimulatedBroker
from fillforge.sim.feeds import empty_feed
from fillforge.sim.venue import Venue
from fillforge.time import NS_PER_SECOND

D = Decimal
S = NS_PER_SECOND
DAY = 86_400 * S


def market() -> SimulatedBroker:
    venue = Venue("RISKX", calendar=None)
    venue.add(Instrument(symbol="AAA"), empty_feed())
    b = SimulatedBroker(venue, cash=D(100_000), start_ns=S)
    price(b, "100.00")
    return b


def price(b: SimulatedBroker, last: str) -> None:
    p, t = D(last), b.now() + 1_000_000
    b.trade("AAA", p, D(1), aggressor=OrderSide.BUY, ts=t)
    b.quote("AAA", p - D("0.01"), p + D("0.01"), bid_size=D(10**6), ask_size=D(10**6), ts=t)


def controls() -> list[Control]:
    return [MaxOrdersPerDay(4), DailyLossLimit(D(500))]


def buy(gate: RiskGate, qty: int) -> OrderStatus:
    return gate.submit(OrderRequest(symbol="AAA", side=OrderSide.BUY, qty=D(qty))).status


class Kept:
    def __init__(self) -> None:
        self.last: RiskSnapshot | None = None
        self.kinds: list[str] = []

    def __call__(self, kind: str, snap: RiskSnapshot) -> None:
        self.kinds.append(kind)
        self.last = RiskSnapshot.model_validate(snap.model_dump(mode="json"))


def run(crash_after: int | None) -> tuple[list[object], RiskManager]:
    """Orders, a loss that halts, the next day; the process dies after ``crash_after`` steps
    (None: never) and a new manager takes up the last snapshot."""
    b = market()
    proc = Mortal(b)
    manager = RiskManager(proc, controls(), refresh_ns=0)
    kept = Kept()
    manager.observe(kept)
    gate = RiskGate(proc, manager=manager)
    seen: list[object] = []
    steps = [
        lambda g: buy(g, 10),
        lambda g: buy(g, 10),
        lambda g: price(b, "70.00"),  # 20 x 30 = 600 lost: over the daily loss of 500
        lambda g: buy(g, 1),  # denied daily_loss: halts
        lambda g: buy(g, 1),  # denied halted
        lambda g: g.manager.state,
        lambda g: b.run(until_ns=DAY + S),  # the next session: the daily halt resets
        lambda g: price(b, "70.00"),
        lambda g: buy(g, 1),
        lambda g: buy(g, 1),
        lambda g: buy(g, 1),
        lambda g: buy(g, 1),
        lambda g: buy(g, 1),  # the fifth of the day: denied
    ]
    for i, step in enumerate(steps):
        if crash_after is not None and i == crash_after:
            proc.die()
            proc = Mortal(b)
            manager = RiskManager(proc, controls(), refresh_ns=0)
            assert kept.last is not None
            manager.restore(kept.last)
            manager.observe(kept)
            gate = RiskGate(proc, manager=manager)
        seen.append(step(gate))
        seen.append((manager.view.orders_today, str(manager._now_state())))
    return seen, manager


@pytest.mark.parametrize("crash_after", [1, 2, 4, 5, 7, 9, 12])
def test_a_recovered_manager_decides_as_its_uncrashed_twin(crash_after: int) -> None:
    twin, uncrashed = run(None)
    seen, recovered = run(crash_after)
    assert seen == twin
    assert recovered.counters == uncrashed.counters


def test_the_halt_and_the_kill_switch_survive() -> None:
    b = market()
    proc = Mortal(b)
    manager = RiskManager(proc, controls(), refresh_ns=0)
    kept = Kept()
    manager.observe(kept)
    gate = RiskGate(proc, manager=manager)
    assert buy(gate, 5) is OrderStatus.FILLED
    manager.kill(reason="test")
    assert kept.kinds[-1] == "kill"
    proc.die()
    again = RiskManager(Mortal(b), controls(), refresh_ns=0)
    assert kept.last is not None
    again.restore(kept.last)
    assert again.state is TradingState.HALTED
    assert again.killed
    assert again.counters["kill_switch"] == 1
    assert buy(RiskGate(again.broker, manager=again), 1) is OrderStatus.DENIED


def test_restore_refuses_what_is_not_a_snapshot() -> None:
    manager = RiskManager(market(), controls())
    with pytest.raises(RiskError) as e:
        manager.restore({"state": "halted"})  # type: ignore[arg-type]
    assert e.value.field == "snapshot"


@settings(max_examples=50, deadline=None)
@given(
    state=st.sampled_from(list(TradingState)),
    killed=st.booleans(),
    counts=st.dictionaries(st.sampled_from(["allowed", "daily_loss", "halted"]), st.integers(0, 9)),
    equity=st.decimals(min_value=0, max_value=10**9, places=2, allow_nan=False),
    orders=st.integers(0, 10**6),
    roll_at=st.integers(0, 2**62),
)
def test_a_snapshot_round_trips_through_json(
    state: TradingState,
    killed: bool,
    counts: dict[str, int],
    equity: Decimal,
    orders: int,
    roll_at: int,
) -> None:
    snap = RiskSnapshot(
        state=state,
        killed=killed,
        counts=counts,
        start_equity=equity,
        peak_equity=equity,
        orders_today=orders,
        roll_at=roll_at,
        flattening={"o-1": ("AAA", D("-5"))},
    )
    assert RiskSnapshot.model_validate(snap.model_dump(mode="json")) == snap
