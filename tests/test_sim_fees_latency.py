"""fillforge.sim.fees and fillforge.sim.latency: fee schedules, minimums, maker rebates and
rounding; latency determinism, stream independence, validation and distribution sanity."""

from __future__ import annotations

import statistics
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fillforge.errors import OrderValidationError
from fillforge.orders import Instrument, OrderRequest
from fillforge.orders.enums import LiquiditySide, OrderSide, OrderType
from fillforge.sim import SimulatedBroker, Venue, empty_feed
from fillforge.sim.fees import FeeModel, FeeSchedule
from fillforge.sim.latency import MAX_DELAY_NS, Delay, LatencyModel

D = Decimal
MAKER, TAKER = LiquiditySide.MAKER, LiquiditySide.TAKER

# ----- fees -----------------------------------------------------------------------------------


def test_per_share_fee() -> None:
    m = FeeModel.flat(per_share=D("0.005"))
    assert m.fee(D(100), D("10.00"), TAKER) == D("0.5")
    assert m.fee(D(100), D("10.00"), MAKER) == D("0.5")


def test_bps_fee_is_on_notional() -> None:
    m = FeeModel.flat(bps=D(1))  # 1 bp of 100 * 50 = 5000 -> 0.5
    assert m.fee(D(100), D(50), TAKER) == D("0.5")
    assert FeeModel.flat(per_share=D("0.01"), bps=D(2)).fee(D(10), D(100), TAKER) == D("0.3")


def test_minimum_lifts_small_positive_fees_only() -> None:
    m = FeeModel.flat(per_share=D("0.005"), minimum=D(1))
    assert m.fee(D(10), D(10), TAKER) == D(1)  # 0.05 -> the minimum
    assert m.fee(D(1000), D(10), TAKER) == D(5)  # above the minimum: unchanged


def test_maker_rebate_is_negative_and_skips_the_minimum() -> None:
    m = FeeModel(
        maker=FeeSchedule(per_share=D("-0.002"), minimum=D(1)),
        taker=FeeSchedule(per_share=D("0.003"), minimum=D(1)),
    )
    assert m.fee(D(100), D(10), MAKER) == D("-0.2")
    assert m.fee(D(100), D(10), TAKER) == D(1)
    assert m.fee(D(1000), D(10), TAKER) == D(3)
    assert m.fee(D(100), D(10), "maker") == D("-0.2")  # plain strings work too


def test_rounding_is_half_up_away_from_zero() -> None:
    charge = FeeModel.flat(per_share=D("0.005"), places=2)
    assert charge.fee(D(1), D(1), TAKER) == D("0.01")  # half-even would give 0.00
    assert charge.fee(D(1), D(1), TAKER).as_tuple().exponent == -2
    rebate = FeeModel(maker=FeeSchedule(per_share=D("-0.005")), places=2)
    assert rebate.fee(D(1), D(1), MAKER) == D("-0.01")
    assert FeeModel.flat(per_share=D("0.0033"), places=2).fee(D(3), D(1), TAKER) == D("0.01")
    assert FeeModel.flat(per_share=D("0.0012"), places=2).fee(D(3), D(1), TAKER) == D(0)
    assert FeeModel.flat(per_share=D(1), places=0).fee(D("2.5"), D(1), TAKER) == D(3)


def test_zero_model() -> None:
    z = FeeModel.zero()
    assert z.fee(D(12345), D("99.99"), TAKER) == 0
    assert z.fee(D(1), D(1), MAKER) == 0
    assert z == FeeModel()


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"places": 11}, "places"),
        ({"places": -1}, "places"),
        ({"maker": {"minimum": -1}}, "maker.minimum"),
        ({"taker": {"per_share": "-0.001"}}, "taker.per_share"),
        ({"taker": {"bps": -1}}, "taker.bps"),
        ({"maker": {"bps": "NaN"}}, "maker.bps"),
        ({"maker": {"fee": 1}}, "maker.fee"),
    ],
)
def test_bad_fee_models_name_the_field(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(OrderValidationError) as e:
        FeeModel(**kwargs)
    assert e.value.field == field


@pytest.mark.parametrize(
    ("qty", "price", "liquidity", "field"),
    [
        (D(0), D(1), TAKER, "qty"),
        (D(-5), D(1), TAKER, "qty"),
        (1.5, D(1), TAKER, "qty"),
        (D(1), D(0), TAKER, "price"),
        (D(1), D("NaN"), TAKER, "price"),
        (D(1), D(1), "both", "liquidity"),
    ],
)
def test_bad_fee_inputs_name_the_field(
    qty: object, price: object, liquidity: str, field: str
) -> None:
    with pytest.raises(OrderValidationError) as e:
        FeeModel.flat(per_share=D("0.01")).fee(qty, price, liquidity)  # type: ignore[arg-type]
    assert e.value.field == field


def test_fee_model_round_trips_through_json() -> None:
    m = FeeModel(
        maker=FeeSchedule(per_share=D("-0.0020"), bps=D("0.1")),
        taker=FeeSchedule(per_share=D("0.0030"), minimum=D("0.35")),
        places=6,
    )
    back = FeeModel.model_validate_json(m.model_dump_json())
    assert back == m
    assert back.fee(D(77), D("12.34"), TAKER) == m.fee(D(77), D("12.34"), TAKER)


rates = st.decimals(min_value=0, max_value=D("0.05"), places=4)
qtys = st.decimals(min_value=D("0.001"), max_value=D(100_000), places=3)
prices = st.decimals(min_value=D("0.01"), max_value=D(10_000), places=2)


@given(rates, st.decimals(0, 20, places=2), st.decimals(0, 5, places=2), qtys, prices)
def test_fee_is_the_exact_amount_rounded_once(
    per_share: Decimal, bps: Decimal, minimum: Decimal, qty: Decimal, price: Decimal
) -> None:
    m = FeeModel.flat(per_share=per_share, bps=bps, minimum=minimum)
    fee = m.fee(qty, price, TAKER)
    exact = qty * per_share + qty * price * bps / 10_000
    if exact > 0:
        exact = max(exact, minimum)
    assert fee.as_tuple().exponent == -4
    assert abs(fee - exact) <= D("0.00005")
    if exact > 0:
        assert fee >= minimum.quantize(D("0.0001"))
    assert m.fee(qty, price, MAKER) == fee  # flat: both sides the same


def test_a_fee_model_swapped_between_fills_charges_from_the_next_fill() -> None:
    """The broker keeps whether the venue's fee model charges anything per model (not per
    drain); replacing ``venue.fees`` must still take effect at once, both ways."""
    venue = Venue("V", calendar=None)
    venue.add(Instrument(symbol="T"), empty_feed())
    broker = SimulatedBroker(venue, cash=D(10**6))
    broker.quote("T", D("10.00"), D("10.01"), bid_size=D(10**6), ask_size=D(10**6))

    def commission(side: OrderSide) -> Decimal:
        o = broker.submit(OrderRequest(symbol="T", side=side, type=OrderType.MARKET, qty=D(100)))
        (fill,) = o.fills.values()
        return fill.commission

    assert commission(OrderSide.BUY) == 0
    venue.fees = FeeModel.flat(per_share=D("0.01"))
    assert commission(OrderSide.SELL) == D("1.00")
    assert broker.ledger.fees_paid == D("1.00")
    venue.fees = FeeModel.zero()
    assert commission(OrderSide.BUY) == 0
    assert broker.ledger.fees_paid == D("1.00")


# ----- latency --------------------------------------------------------------------------------


def draws(model: LatencyModel, n: int = 1000) -> tuple[list[int], list[int], list[int]]:
    s = model.sampler()
    return (
        [s.entry() for _ in range(n)],
        [s.cancel() for _ in range(n)],
        [s.market_data() for _ in range(n)],
    )


RANDOM = LatencyModel(
    entry=Delay.lognormal(50_000, 0.4),
    cancel=Delay.normal(30_000, 10_000),
    market_data=Delay.exponential(5_000),
    seed=42,
)


def test_fixed_delay_is_exact() -> None:
    s = LatencyModel(entry=Delay.fixed(1_500), cancel=Delay.fixed(7), seed=9).sampler()
    assert [s.entry() for _ in range(10)] == [1_500] * 10
    assert [s.cancel() for _ in range(10)] == [7] * 10
    assert [s.market_data() for _ in range(10)] == [0] * 10  # Delay() is fixed 0


def test_zero_model_is_zero() -> None:
    s = LatencyModel.zero().sampler()
    assert (s.entry(), s.cancel(), s.market_data()) == (0, 0, 0)
    assert LatencyModel.zero() == LatencyModel()


def test_same_seed_same_sequences() -> None:
    a, b = draws(RANDOM), draws(RANDOM)
    assert a == b
    assert len(set(a[0])) > 900  # actually random, not a constant
    other = draws(RANDOM.model_copy(update={"seed": 43}))
    assert other[0] != a[0]
    assert other[1] != a[1]
    assert other[2] != a[2]


def test_paths_have_independent_streams() -> None:
    alone = RANDOM.sampler()
    entries_alone = [alone.entry() for _ in range(2000)]
    mixed = RANDOM.sampler()
    entries_mixed = []
    for i in range(2000):
        for _ in range(i % 3):
            mixed.cancel()
            mixed.market_data()
        entries_mixed.append(mixed.entry())
    assert entries_mixed == entries_alone


def test_json_round_trip_gives_the_same_samples() -> None:
    back = LatencyModel.model_validate_json(RANDOM.model_dump_json())
    assert back == RANDOM
    assert draws(back, 200) == draws(RANDOM, 200)


def test_samples_are_non_negative_ints() -> None:
    for seq in draws(RANDOM, 3000):
        assert all(type(x) is int and x >= 0 for x in seq)


def test_uniform_covers_its_closed_range() -> None:
    s = LatencyModel(entry=Delay.uniform(5, 7), seed=1).sampler()
    xs = [s.entry() for _ in range(1000)]
    assert set(xs) == {5, 6, 7}
    s = LatencyModel(entry=Delay.uniform(1_000, 2_000_000), seed=2).sampler()
    xs = [s.entry() for _ in range(5000)]
    assert min(xs) >= 1_000
    assert max(xs) <= 2_000_000
    assert abs(statistics.fmean(xs) - 1_000_500) < 0.03 * 1_000_500


def test_exponential_mean() -> None:
    s = LatencyModel(entry=Delay.exponential(20_000), seed=3).sampler()
    xs = [s.entry() for _ in range(20_000)]
    assert abs(statistics.fmean(xs) - 20_000) < 0.03 * 20_000


def test_normal_mean_std_and_floor() -> None:
    s = LatencyModel(entry=Delay.normal(100_000, 10_000), seed=4).sampler()
    xs = [s.entry() for _ in range(20_000)]
    assert abs(statistics.fmean(xs) - 100_000) < 500
    assert abs(statistics.pstdev(xs) - 10_000) < 500
    # A wide normal is clipped at its floor, never negative.
    s = LatencyModel(entry=Delay.normal(100, 1_000), cancel=Delay.normal(100, 1_000, 60)).sampler()
    xs = [s.entry() for _ in range(2000)]
    assert min(xs) == 0
    assert xs.count(0) > 500
    assert min(s.cancel() for _ in range(2000)) == 60


def test_lognormal_median() -> None:
    s = LatencyModel(entry=Delay.lognormal(80_000, 0.5), seed=5).sampler()
    xs = [s.entry() for _ in range(20_000)]
    assert abs(statistics.median(xs) - 80_000) < 0.03 * 80_000
    assert statistics.fmean(xs) > 80_000  # right-skewed


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"kind": "uniform", "low": 5}, "high"),
        ({"kind": "fixed", "low": 5}, "low"),
        ({"kind": "uniform", "low": 9, "high": 4}, "low"),
        ({"kind": "normal", "mean": 10}, "std"),
        ({"kind": "exponential", "mean": 10, "std": 1}, "std"),
        ({"kind": "lognormal", "median_ns": 0, "sigma": 1}, "median_ns"),
        ({"kind": "lognormal", "median_ns": 10, "sigma": 11}, "sigma"),
        ({"kind": "lognormal", "median_ns": 10}, "sigma"),
        ({"ns": -1}, "ns"),
        ({"ns": 1.5}, "ns"),
        ({"ns": MAX_DELAY_NS + 1}, "ns"),
        ({"kind": "gamma"}, "kind"),
        ({"floor_ns": -3}, "floor_ns"),
    ],
)
def test_bad_delays_name_the_field(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(OrderValidationError) as e:
        Delay(**kwargs)
    assert e.value.field == field


def test_bad_latency_models_name_the_field() -> None:
    with pytest.raises(OrderValidationError) as e:
        LatencyModel(seed=-1)
    assert e.value.field == "seed"
    with pytest.raises(OrderValidationError) as e:
        LatencyModel.model_validate({"cancel": {"kind": "uniform", "low": 1}})
    assert e.value.field == "cancel.high"


delays = st.one_of(
    st.integers(0, 10**9).map(Delay.fixed),
    st.tuples(st.integers(0, 10**6), st.integers(0, 10**6)).map(
        lambda t: Delay.uniform(min(t), max(t))
    ),
    st.builds(Delay.normal, st.integers(0, 10**6), st.integers(0, 10**6), st.integers(0, 10**3)),
    st.builds(Delay.lognormal, st.integers(1, 10**9), st.floats(0, 10)),
    st.builds(Delay.exponential, st.integers(0, 10**9)),
)


@given(delays, st.integers(0, 2**64))
def test_every_sample_is_an_int_within_floor_and_max(delay: Delay, seed: int) -> None:
    s = LatencyModel(entry=delay, seed=seed).sampler()
    xs = [s.entry() for _ in range(600)]  # past one block of draws
    assert all(type(x) is int and delay.floor_ns <= x <= MAX_DELAY_NS for x in xs)
    if delay.kind == "uniform":
        assert all(delay.low <= x <= delay.high for x in xs)  # type: ignore[operator]
    if delay.kind == "fixed":
        assert set(xs) == {delay.ns}
    again = LatencyModel(entry=delay, seed=seed).sampler()
    assert xs == [again.entry() for _ in range(600)]
