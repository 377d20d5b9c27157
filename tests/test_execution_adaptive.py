"""The adaptive mix: a TWAP worked by ParentWorker on a scripted SimulatedBroker with the mix as
its pricing joins at the bid while close to schedule, improves one tick as it falls behind and
crosses to the ask further behind (and fills there); the price rules on both sides, a one-tick
spread and empty sides; refusals naming the field; hypothesis: further behind never gives a less
aggressive action or a less aggressive price."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fillforge.errors import ExecutionError
from fillforge.execution.adaptive import (
    Action,
    AdaptiveMix,
    AdaptivePricing,
    adaptive_price,
    behind,
    behind_schedule,
)
from fillforge.execution.parent import ParentOrder, WorkRules
from fillforge.execution.schedules import Slice
from fillforge.execution.worker import ParentWorker
from fillforge.orders.enums import OrderSide, OrderStatus
from fillforge.orders.models import Instrument
from fillforge.sim.broker import SimulatedBroker
from fillforge.sim.feeds import empty_feed
from fillforge.sim.venue import Venue

D = Decimal
S = 10**9
BUY, SELL = OrderSide.BUY, OrderSide.SELL
INST = Instrument(symbol="X", tick_size=D("0.01"))
TICK = INST.tick_size


def _broker(bid: str, ask: str) -> SimulatedBroker:
    venue = Venue(calendar=None)
    venue.add(INST, empty_feed())
    b = SimulatedBroker(venue, cash=D(10_000_000), start_ns=0)
    b.quote("X", D(bid), D(ask), bid_size=D(1_000), ask_size=D(1_000), ts=0)
    return b


def _work(b: SimulatedBroker, side: str, mix: AdaptiveMix) -> tuple[ParentWorker, AdaptivePricing]:
    """400 shares in a four-slice TWAP over 240 s; a resting child is retried after 30 s at the
    mix's price (no fallback)."""
    spec = ParentOrder(parent_id="P", symbol="X", side=side, qty=D(400), start_ns=0, end_ns=240 * S)  # type: ignore[arg-type]
    pricing = AdaptivePricing(mix, TICK)
    rules = WorkRules(timeout_ns=30 * S, max_attempts=100, fallback="none")
    worker = ParentWorker(b, spec, INST, rules=rules, slices=4, pricing=pricing)
    pricing.follow(worker.progress)
    worker.start()
    return worker, pricing


def _sent(worker: ParentWorker) -> list[tuple[int, Decimal | None]]:
    return [(o.created_ts // S, o.limit_price) for o in worker.children]


def test_a_twap_joins_then_improves_then_crosses_as_it_falls_behind() -> None:
    b = _broker("100.00", "100.10")
    worker, pricing = _work(b, "buy", AdaptiveMix(D("0.3"), D("0.6")))
    b.run(until_ns=59 * S)
    # slice 1 due: 100 of 400 behind (0.25) -> join at the bid; retried after 30 s, still 0.25
    assert _sent(worker) == [(0, D("100.00")), (30, D("100.00"))]
    b.run(until_ns=61 * S)
    # slice 2: 200 behind (0.5) -> one tick inside the bid
    assert [p for t, p in _sent(worker) if t == 60] == [D("100.01"), D("100.01")]
    assert worker.filled == 0
    b.run(until_ns=121 * S)
    # slice 3: 300 behind (0.75) -> take the ask; it fills at once
    crossed = [o for o in worker.children if o.limit_price == D("100.10")]
    assert len(crossed) == 1
    assert crossed[0].created_ts == 120 * S
    assert crossed[0].status is OrderStatus.FILLED
    assert worker.filled == 100
    # back to 0.5 behind: the retries after it improve again, not cross
    b.run(until_ns=151 * S)
    later = [p for t, p in _sent(worker) if t == 150]
    assert later
    assert set(later) == {D("100.01")}
    assert [a for _, a, _ in pricing.decisions][:3] == [Action.JOIN, Action.JOIN, Action.IMPROVE]
    for late, action, _ in pricing.decisions:
        assert action is pricing.mix.action(late)


def test_a_sell_improves_below_the_ask_and_crosses_to_the_bid() -> None:
    b = _broker("100.00", "100.10")
    worker, _ = _work(b, "sell", AdaptiveMix(D("0.3"), D("0.6")))
    b.run(until_ns=121 * S)
    prices = [p for _, p in _sent(worker)]
    assert prices[:2] == [D("100.10"), D("100.10")]
    assert D("100.09") in prices
    crossed = [o for o in worker.children if o.limit_price == D("100.00")]
    assert [o.status for o in crossed] == [OrderStatus.FILLED]
    assert b.positions()["X"].qty == -100


def test_a_one_tick_spread_leaves_nothing_to_improve_so_it_joins() -> None:
    b = _broker("100.00", "100.01")
    worker, pricing = _work(b, "buy", AdaptiveMix(D("0.1"), D("0.9")))
    b.run(until_ns=61 * S)
    assert {a for _, a, _ in pricing.decisions} == {Action.IMPROVE}
    assert {p for _, p in _sent(worker)} == {D("100.00")}


@pytest.mark.parametrize(
    ("action", "side", "bid", "ask", "price"),
    [
        (Action.JOIN, BUY, "10.00", "10.05", "10.00"),
        (Action.IMPROVE, BUY, "10.00", "10.05", "10.01"),
        (Action.CROSS, BUY, "10.00", "10.05", "10.05"),
        (Action.JOIN, SELL, "10.00", "10.05", "10.05"),
        (Action.IMPROVE, SELL, "10.00", "10.05", "10.04"),
        (Action.CROSS, SELL, "10.00", "10.05", "10.00"),
        (Action.IMPROVE, BUY, "10.00", "10.02", "10.01"),  # two ticks: room for one
        (Action.IMPROVE, BUY, "10.00", "10.01", "10.00"),  # one tick: join
        (Action.IMPROVE, SELL, "10.00", "10.01", "10.01"),
        (Action.IMPROVE, BUY, "10.00", None, "10.00"),  # no far side: join
        (Action.JOIN, BUY, None, "10.05", None),  # no near side: market, as near_touch
        (Action.CROSS, BUY, "10.00", None, None),
    ],
)
def test_the_price_of_each_action(
    action: Action, side: OrderSide, bid: str | None, ask: str | None, price: str | None
) -> None:
    got = adaptive_price(
        action, side, None if bid is None else D(bid), None if ask is None else D(ask), TICK
    )
    assert got == (None if price is None else D(price))


def test_how_far_behind() -> None:
    assert behind(D(400), D(-100)) == D("0.25")
    assert behind(D(400), D(50)) == 0  # ahead
    plan = [Slice(0, D(100)), Slice(60, D(100)), Slice(120, D(200))]
    assert behind_schedule(plan, 0, D(0)) == D("0.25")
    assert behind_schedule(plan, 60, D(50)) == D("0.375")
    assert behind_schedule(plan, 200, D(400)) == 0
    assert behind_schedule(plan, -1, D(0)) == 0  # nothing due yet
    mix = AdaptiveMix(D("0.2"), D("0.2"))  # equal thresholds: never improve
    assert [mix.action(D(x)) for x in ("0", "0.19", "0.2")] == [
        Action.JOIN,
        Action.JOIN,
        Action.CROSS,
    ]


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: AdaptiveMix(D(-1), D(1)), "improve_at"),
        (lambda: AdaptiveMix(D("0.5"), D("0.4")), "cross_at"),
        (lambda: AdaptiveMix().action(D(-1)), "behind"),
        (lambda: AdaptivePricing(AdaptiveMix(), D(0)), "tick"),
        (lambda: AdaptivePricing("mix", TICK), "mix"),  # type: ignore[arg-type]
        (lambda: AdaptivePricing(AdaptiveMix(), TICK).follow(5), "progress"),  # type: ignore[arg-type]
        (lambda: behind(D(0), D(0)), "qty"),
        (lambda: behind_schedule([], 0, D(0)), "schedule"),
        (lambda: adaptive_price(Action.JOIN, BUY, D(2), D(1), TICK), "ask"),
        (lambda: adaptive_price(Action.JOIN, "buy", D(1), D(2), TICK), "side"),  # type: ignore[arg-type]
    ],
)
def test_bad_parameters_are_refused_naming_the_field(call: object, field: str) -> None:
    with pytest.raises(ExecutionError) as e:
        call()  # type: ignore[operator]
    assert e.value.field == field


def test_pricing_before_follow_is_refused() -> None:
    b = _broker("100.00", "100.10")
    spec = ParentOrder(parent_id="P", symbol="X", side="buy", qty=D(4), start_ns=0, end_ns=S)  # type: ignore[arg-type]
    with pytest.raises(ExecutionError) as e:
        AdaptivePricing(AdaptiveMix(), TICK)(b, spec)
    assert e.value.field == "progress"


_fraction = st.decimals(D(0), D(2), places=3)


@given(
    a=_fraction,
    b=_fraction,
    improve=_fraction,
    width=_fraction,
    bid_ticks=st.integers(1, 10_000),
    spread_ticks=st.integers(0, 20),
    buy=st.booleans(),
)
def test_further_behind_is_never_less_aggressive(
    a: Decimal,
    b: Decimal,
    improve: Decimal,
    width: Decimal,
    bid_ticks: int,
    spread_ticks: int,
    buy: bool,
) -> None:
    mix = AdaptiveMix(improve, improve + width)
    lo, hi = sorted((a, b))
    act_lo, act_hi = mix.action(lo), mix.action(hi)
    assert act_lo <= act_hi
    side = BUY if buy else SELL
    bid = bid_ticks * TICK
    ask = bid + spread_ticks * TICK
    p_lo = adaptive_price(act_lo, side, bid, ask, TICK)
    p_hi = adaptive_price(act_hi, side, bid, ask, TICK)
    assert p_lo is not None
    assert p_hi is not None
    assert bid <= p_lo <= ask
    assert bid <= p_hi <= ask
    assert (p_lo <= p_hi) if buy else (p_lo >= p_hi)  # never further from the far touch
    if act_hi is Action.CROSS:
        assert p_hi == (ask if buy else bid)
