"""Execution schedules (issue 16, "Algorithms"): every schedule, over random parameters, sums to
the parent's quantity, keeps every slice on the lot grid and at or above the minimum child, and
is due by the end; POV never runs ahead of its rate by a child; the Almgren-Chriss trajectory
is checked against the paper's closed forms; bad parameters are typed errors naming the field."""

from __future__ import annotations

import math
import pickle
from collections.abc import Callable
from decimal import Decimal
from fractions import Fraction
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from fillforge.errors import ExecutionError
from fillforge.execution.pov import PovTracker
from fillforge.execution.schedules import (
    Iceberg,
    Policy,
    Slice,
    VolumeProfile,
    ac_holdings,
    ac_kappa,
    almgren_chriss,
    iceberg,
    parse_policy,
    split,
    twap,
    volume_profile,
    vwap,
)
from fillforge.marketdata import Bars, load_bars
from fillforge.time import NS_PER_MINUTE, from_iso

D = Decimal
MINUTE = NS_PER_MINUTE
DAY0 = from_iso("2024-03-04T00:00:00-05:00")  # a Monday, New York midnight
OPEN = DAY0 + (9 * 60 + 30) * MINUTE  # 09:30 New York

lots_ = st.sampled_from([D(1), D(100), D("0.01"), D("0.001"), D(25)])
starts = st.integers(0, 2**60)
durations = st.integers(1, 10**13)


def _check(
    slices: list[Slice], qty: Decimal, lot: Decimal, min_child: Decimal, start: int, end: int
) -> None:
    """The promises every schedule keeps."""
    assert slices, "a parent always has a slice"
    assert sum((s.qty for s in slices), D(0)) == qty
    for s in slices:
        assert s.qty > 0
        assert s.qty % lot == 0, f"{s.qty} off the lot {lot}"
        assert type(s.qty) is Decimal
    if qty >= min_child:
        assert min(s.qty for s in slices) >= min_child
    else:
        assert [s.qty for s in slices] == [qty]
    due = [s.due_ns for s in slices]
    assert due == sorted(due)
    assert start <= due[0]
    assert due[-1] <= end


# ----- TWAP ------------------------------------------------------------------------------------


@given(
    lot=lots_,
    n_lots=st.integers(1, 10**6),
    min_lots=st.integers(1, 50),
    slices=st.integers(1, 300),
    start=starts,
    length=durations,
)
def test_twap_keeps_the_promises(
    lot: Decimal, n_lots: int, min_lots: int, slices: int, start: int, length: int
) -> None:
    qty, min_child = n_lots * lot, min_lots * lot
    out = twap(qty, start, start + length, slices, lot, min_child=min_child)
    _check(out, qty, lot, min_child, start, start + length - 1)
    assert len(out) <= slices
    sizes = [s.qty for s in out]
    assert max(sizes) - min(sizes) <= lot, "equal slices, the odd lots one each"


def test_twap_gives_the_odd_lots_to_the_earliest_slices() -> None:
    assert twap(D(10), 0, 100, 3, D(1)) == [Slice(0, D(4)), Slice(33, D(3)), Slice(66, D(3))]


def test_twap_makes_fewer_slices_over_the_window_when_one_would_be_below_the_minimum() -> None:
    out = twap(D(1000), 0, 1000, 20, D(10), min_child=D(200))
    assert out == [Slice(t, D(200)) for t in (0, 200, 400, 600, 800)]
    assert twap(D(30), 0, 100, 4, D(10), min_child=D(100)) == [Slice(0, D(30))]


# ----- split -----------------------------------------------------------------------------------


@given(
    lot=lots_,
    n_lots=st.integers(1, 10**5),
    threshold_lots=st.integers(0, 10**5),
    child_lots=st.integers(1, 5_000),
    min_lots=st.integers(1, 100),
    start=starts,
    interval=st.integers(0, 10**10),
    length=st.none() | durations,
)
def test_split_keeps_the_promises(
    lot: Decimal,
    n_lots: int,
    threshold_lots: int,
    child_lots: int,
    min_lots: int,
    start: int,
    interval: int,
    length: int | None,
) -> None:
    assume(child_lots >= min_lots)
    qty, child, min_child = n_lots * lot, child_lots * lot, min_lots * lot
    end = None if length is None else start + length
    out = split(
        qty,
        threshold_lots * lot,
        child,
        lot,
        start_ns=start,
        end_ns=end,
        interval_ns=interval,
        min_child=min_child,
    )
    _check(out, qty, lot, min_child, start, end if end is not None else 2**63)
    if qty <= threshold_lots * lot:
        assert out == [Slice(start, qty)]
    else:
        assert all(s.qty <= child for s in out[:-1])
        assert out[-1].qty < child + min_child, "the rest is merged, less than a minimum child"


def test_split_cuts_a_parent_above_the_threshold_and_merges_a_small_rest() -> None:
    assert split(D(400), D(500), D(200), D(10), start_ns=7) == [Slice(7, D(400))]
    out = split(D(1050), D(500), D(200), D(10), start_ns=0, interval_ns=10, min_child=D(100))
    assert [s.qty for s in out] == [D(200)] * 4 + [D(250)]
    assert [s.due_ns for s in out] == [0, 10, 20, 30, 40]
    # the end squeezes the interval so the last child is due by it
    out = split(D(1000), D(0), D(200), D(10), start_ns=0, end_ns=20, interval_ns=100)
    assert [s.due_ns for s in out] == [0, 5, 10, 15, 20]


# ----- VWAP ------------------------------------------------------------------------------------


def _bars(times: list[int], volumes: list[float]) -> Bars:
    n = len(times)
    ones = np.ones(n, dtype=np.int64)
    return Bars(
        source="test",
        period_ns=MINUTE,
        time_ns=np.asarray(times, dtype=np.int64),
        open=ones,
        high=ones,
        low=ones,
        close=ones,
        volume=np.asarray(volumes, dtype=np.float64),
    )


def test_volume_profile_sums_to_one_by_local_time_of_day_across_a_clock_change() -> None:
    winter = from_iso("2024-01-10T09:30:00-05:00")
    summer = from_iso("2024-07-10T09:30:00-04:00")  # 09:30 New York in daylight time
    bars = _bars([winter, winter + 30 * MINUTE, summer, summer + 30 * MINUTE], [3, 1, 1, 5])
    p = volume_profile(bars, 30 * MINUTE)
    assert p.fractions == {19: Fraction(4, 10), 20: Fraction(6, 10)}  # 09:30 and 10:00 local
    assert sum(p.fractions.values()) == 1
    assert volume_profile(bars, 30 * MINUTE, tz="UTC").fractions.keys() == {27, 28, 29, 30}
    # Adelaide leaves daylight time (+10:30 -> +9:30) at 16:30 UTC, half way through an hour
    after = from_iso("2024-04-06T16:45:00Z")  # 02:15 local, standard time
    assert volume_profile(_bars([after], [1]), 15 * MINUTE, tz="Australia/Adelaide").fractions == {
        9: 1
    }


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"bucket_ns": 0}, "bucket_ns"),
        ({"bucket_ns": 2 * 86_400 * 10**9}, "bucket_ns"),
        ({"bucket_ns": MINUTE, "tz": "Mars/Olympus"}, "tz"),
    ],
)
def test_volume_profile_refuses_bad_parameters(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(ExecutionError) as e:
        volume_profile(_bars([OPEN], [1]), **kwargs)
    assert e.value.field == field


def test_volume_profile_refuses_bars_without_volume() -> None:
    with pytest.raises(ExecutionError) as e:
        volume_profile(_bars([OPEN, OPEN + MINUTE], [0, 0]), MINUTE)
    assert e.value.field == "bars"
    with pytest.raises(ExecutionError) as e:
        volume_profile(_bars([OPEN], [-1]), MINUTE)
    assert e.value.field == "bars.volume"


SP500 = Path("/work/shared/data/bars/intraday/SP500_index_1m_2019-11-05_2019-11-08.csv")


@pytest.mark.skipif(not SP500.exists(), reason="the shared intraday bars are not here")
def test_a_profile_learnt_from_real_minute_bars_covers_the_new_york_session() -> None:
    bars = load_bars(SP500, tick="0.01")
    p = volume_profile(bars, 30 * MINUTE)
    assert sum(p.fractions.values()) == 1
    assert set(p.fractions) <= set(range(19, 33))  # 09:30 to 16:00 New York, not UTC
    day = from_iso("2019-11-11T09:30:00-05:00")
    out = vwap(D(100_000), day, day + 390 * MINUTE, p, D(1))
    _check(out, D(100_000), D(1), D(1), day, day + 390 * MINUTE)
    assert len(out) == 13
    inside = sum(p.fraction(k) for k in range(19, 32))  # the 16:00 bar is past the window
    for s in out:
        share = p.fraction((s.due_ns - day) // (30 * MINUTE) + 19) / inside
        assert abs(Fraction(s.qty) - 100_000 * share) < 1


profiles = st.lists(st.one_of(st.just(0.0), st.floats(0.5, 1e6)), min_size=1, max_size=40).filter(
    any
)


@given(
    volumes=profiles,
    lot=lots_,
    n_lots=st.integers(1, 10**6),
    min_lots=st.integers(1, 50),
    offset=st.integers(-60, 600),
    length=st.integers(1, 24 * 60),
)
def test_vwap_keeps_the_promises(
    volumes: list[float], lot: Decimal, n_lots: int, min_lots: int, offset: int, length: int
) -> None:
    bars = _bars([OPEN + 10 * i * MINUTE for i in range(len(volumes))], volumes)
    p = volume_profile(bars, 10 * MINUTE)
    start = OPEN + offset * MINUTE + 17
    end = start + length * MINUTE
    qty, min_child = n_lots * lot, min_lots * lot
    _check(vwap(qty, start, end, p, lot, min_child=min_child), qty, lot, min_child, start, end - 1)


def test_vwap_follows_the_profile() -> None:
    p = volume_profile(
        _bars([OPEN, OPEN + 10 * MINUTE, OPEN + 20 * MINUTE], [1, 2, 1]), 10 * MINUTE
    )
    out = vwap(D(400), OPEN, OPEN + 30 * MINUTE, p, D(1))
    assert out == [
        Slice(OPEN, D(100)),
        Slice(OPEN + 10 * MINUTE, D(200)),
        Slice(OPEN + 20 * MINUTE, D(100)),
    ]
    # a window starting half way into a bucket counts half of it: 1/8, 1/2, 1/4 of the day
    out = vwap(D(500), OPEN + 5 * MINUTE, OPEN + 30 * MINUTE, p, D(1))
    assert [s.qty for s in out] == [D(71), D(286), D(143)]  # 500 x 1/7, 4/7, 2/7
    assert out[0].due_ns == OPEN + 5 * MINUTE
    # a window with no expected volume follows time alone
    out = vwap(D(90), OPEN + 60 * MINUTE, OPEN + 90 * MINUTE, p, D(1))
    assert [s.qty for s in out] == [D(30)] * 3


@given(
    volumes=profiles,
    n_lots=st.integers(1, 10**5),
    rate=st.sampled_from([D("0.01"), D("0.05"), D("0.1"), D("0.25"), D(1)]),
    day_volume=st.integers(1, 10**8),
)
def test_vwap_never_passes_its_participation_cap(
    volumes: list[float], n_lots: int, rate: Decimal, day_volume: int
) -> None:
    p = volume_profile(
        _bars([OPEN + 10 * i * MINUTE for i in range(len(volumes))], volumes), 10 * MINUTE
    )
    end = OPEN + 10 * len(volumes) * MINUTE
    qty = D(n_lots)
    expected = D(day_volume)
    capacity = sum(
        math.floor(rate * expected * D(f.numerator) / f.denominator) for f in p.fractions.values()
    )
    if capacity < n_lots:
        with pytest.raises(ExecutionError) as e:
            vwap(qty, OPEN, end, p, D(1), max_participation=rate, expected_volume=expected)
        assert e.value.field == "max_participation"
        return
    out = vwap(qty, OPEN, end, p, D(1), max_participation=rate, expected_volume=expected)
    _check(out, qty, D(1), D(1), OPEN, end)
    for s in out:
        f = p.fraction((s.due_ns - DAY0) // (10 * MINUTE))
        assert s.qty <= rate * expected * D(f.numerator) / f.denominator


def test_vwap_takes_up_to_its_cap_and_refuses_a_lot_more() -> None:
    p = volume_profile(_bars([OPEN, OPEN + 10 * MINUTE], [3, 1]), 10 * MINUTE)
    window = (OPEN, OPEN + 20 * MINUTE)
    cap = {"max_participation": D("0.1"), "expected_volume": D(4000)}  # 300 and 100 at most
    out = vwap(D(400), *window, p, D(1), **cap)
    assert [s.qty for s in out] == [D(300), D(100)]
    with pytest.raises(ExecutionError) as e:
        vwap(D(401), *window, p, D(1), **cap)
    assert (e.value.field, e.value.value) == ("max_participation", D("0.1"))
    with pytest.raises(ExecutionError) as e:
        vwap(D(400), *window, p, D(1), max_participation=D("0.1"))
    assert e.value.field == "expected_volume"


# ----- iceberg ---------------------------------------------------------------------------------


@given(
    lot=lots_,
    n_lots=st.integers(1, 10**5),
    display_lots=st.integers(1, 10**4),
    min_lots=st.integers(1, 100),
    start=starts,
)
def test_iceberg_clips_keep_the_promises(
    lot: Decimal, n_lots: int, display_lots: int, min_lots: int, start: int
) -> None:
    assume(display_lots >= min_lots)
    qty, display, min_child = n_lots * lot, display_lots * lot, min_lots * lot
    out = iceberg(qty, display, lot, start_ns=start, min_child=min_child)
    _check(out, qty, lot, min_child, start, start)
    assert all(s.qty == display for s in out[:-1])
    assert out[-1].qty < display + min_child


def test_iceberg_shows_its_display_and_refills_when_the_shown_child_is_done() -> None:
    rule = Iceberg(D(200), D(10), min_child=D(50))
    assert rule.clip(D(1000)) == D(200)
    assert rule.clip(D(240)) == D(240), "40 would stay hidden, below the minimum: shown now"
    assert rule.clip(D(250)) == D(200)
    assert rule.clip(D(30)) == D(30)
    assert rule.clip(D(0)) == D(0)
    assert not rule.refill(D(10))
    assert rule.refill(D(0))
    early = Iceberg(D(200), D(10), refill_at=D(50))
    assert early.refill(D(50))
    assert not early.refill(D(60))
    with pytest.raises(ExecutionError) as e:
        Iceberg(D(200), D(10), refill_at=D(200))
    assert e.value.field == "refill_at"
    with pytest.raises(ExecutionError) as e:
        Iceberg(D(205), D(10))
    assert (e.value.field, e.value.value) == ("display", D(205))


# ----- implementation shortfall: Almgren-Chriss -----------------------------------------------

ac_params = {
    "horizon": st.floats(0.1, 10.0),
    "n": st.integers(1, 200),
    "sigma": st.floats(0.01, 2.0),
    "eta": st.floats(1e-4, 1.0),
    "gamma": st.floats(0.0, 1e-3),
    "risk_aversion": st.floats(1e-6, 10.0),
}


def _paper_kappa(tau: float, sigma: float, eta: float, gamma: float, lam: float) -> float:
    """Almgren and Chriss (2000), eq. for kappa: 2 (cosh(kappa tau) - 1) / tau^2 = lam sigma^2
    / eta_tilde, eta_tilde = eta (1 - gamma tau / (2 eta))."""
    eta_tilde = eta * (1 - gamma * tau / (2 * eta))
    return math.acosh(lam * sigma**2 / eta_tilde * tau**2 / 2 + 1) / tau


@given(qty=st.integers(1, 10**7), **ac_params)
def test_ac_holdings_are_the_papers_closed_form(
    qty: int, horizon: float, n: int, sigma: float, eta: float, gamma: float, risk_aversion: float
) -> None:
    tau = horizon / n
    assume(eta - gamma * tau / 2 > 0)
    kappa = _paper_kappa(tau, sigma, eta, gamma, risk_aversion)
    assume(0 < kappa * horizon < 40)  # where sinh is exact enough to compare with directly
    x = ac_holdings(qty, horizon, n, sigma, eta, gamma, risk_aversion)
    assert len(x) == n + 1
    assert x[0] == qty
    assert x[-1] == 0
    for j, xj in enumerate(x):
        paper = qty * math.sinh(kappa * (horizon - j * tau)) / math.sinh(kappa * horizon)
        assert xj == pytest.approx(paper, rel=1e-9, abs=1e-9 * qty)
    # the trade list: n_j = 2 sinh(kappa tau / 2) / sinh(kappa T) cosh(kappa (T - t_(j-1/2))) X
    for j in range(1, n + 1):
        trade = (
            2
            * math.sinh(kappa * tau / 2)
            / math.sinh(kappa * horizon)
            * math.cosh(kappa * (horizon - (j - 0.5) * tau))
            * qty
        )
        assert x[j - 1] - x[j] == pytest.approx(trade, rel=1e-7, abs=1e-7 * qty)
    assert all(a > b for a, b in pairwise(x)), "strictly decreasing holdings"


@given(**ac_params)
def test_ac_kappa_solves_the_discrete_relation(
    horizon: float, n: int, sigma: float, eta: float, gamma: float, risk_aversion: float
) -> None:
    tau = horizon / n
    assume(eta - gamma * tau / 2 > 0)
    kappa, kappa_tilde = ac_kappa(tau, sigma, eta, gamma, risk_aversion)
    assert kappa_tilde**2 == pytest.approx(risk_aversion * sigma**2 / (eta - gamma * tau / 2))
    # 2 (cosh(a) - 1) = 4 sinh(a / 2)^2, without the cancellation for a small a
    assert 4 * math.sinh(kappa * tau / 2) ** 2 / tau**2 == pytest.approx(kappa_tilde**2, rel=1e-9)
    assert kappa <= kappa_tilde * (1 + 1e-12), "the discrete kappa is below its continuous limit"


def test_ac_kappa_tends_to_the_continuous_limit_as_the_period_shrinks() -> None:
    sigma, eta, gamma, lam = 0.95, 2.5e-6, 2.5e-7, 1e-6  # the paper's example, per day
    continuous = math.sqrt(lam * sigma**2 / eta)
    gaps = [
        abs(ac_kappa(5 / n, sigma, eta, gamma, lam)[0] - continuous) for n in (5, 50, 500, 5000)
    ]
    assert gaps == sorted(gaps, reverse=True)
    assert gaps[-1] < 1e-3 * continuous


@given(qty=st.integers(1, 10**6), n=st.integers(1, 100), horizon=st.floats(0.1, 10.0))
def test_ac_with_no_risk_aversion_is_twap(qty: int, n: int, horizon: float) -> None:
    x = ac_holdings(qty, horizon, n, 0.3, 0.01, 0.0, 0.0)
    assert x == pytest.approx([qty * (n - j) / n for j in range(n + 1)])
    out = almgren_chriss(D(qty), horizon, n, 0.3, 0.01, 0.0, 0.0, D(1), start_ns=0, end_ns=n * 10)
    assert all(abs(s.qty - D(qty) / n) <= 1 for s in out)
    # and a vanishing risk aversion tends to it
    tiny = ac_holdings(qty, horizon, n, 0.3, 0.01, 0.0, 1e-12)
    assert tiny == pytest.approx(x, rel=1e-6, abs=1e-6)


def _objective(
    x: list[float], tau: float, sigma: float, eta: float, gamma: float, lam: float
) -> float:
    """E + lambda V of a trajectory (the paper's eqs. for E and V, without the fixed cost)."""
    trades = [a - b for a, b in pairwise(x)]
    eta_tilde = eta - gamma * tau / 2
    expected = gamma * x[0] ** 2 / 2 + eta_tilde / tau * sum(t * t for t in trades)
    variance = sigma**2 * tau * sum(xk * xk for xk in x[1:])
    return expected + lam * variance


@given(
    n=st.integers(2, 30),
    lam=st.floats(1e-3, 10.0),
    bumps=st.lists(st.floats(-1.0, 1.0), min_size=30, max_size=30),
)
def test_ac_trajectory_minimises_expected_cost_plus_lambda_variance(
    n: int, lam: float, bumps: list[float]
) -> None:
    horizon, sigma, eta, gamma, qty = 1.0, 0.5, 0.05, 0.01, 1000.0
    tau = horizon / n
    x = ac_holdings(qty, horizon, n, sigma, eta, gamma, lam)
    best = _objective(x, tau, sigma, eta, gamma, lam)
    other = [x[0]] + [xj + 5 * b for xj, b in zip(x[1:-1], bumps, strict=False)] + [0.0]
    assume(any(bumps[: n - 1]))
    assert _objective(other, tau, sigma, eta, gamma, lam) >= best * (1 - 1e-12)


@given(
    lot=lots_,
    n_lots=st.integers(1, 10**6),
    min_lots=st.integers(1, 50),
    start=starts,
    length=durations,
    **ac_params,
)
def test_almgren_chriss_schedule_keeps_the_promises(
    lot: Decimal,
    n_lots: int,
    min_lots: int,
    start: int,
    length: int,
    horizon: float,
    n: int,
    sigma: float,
    eta: float,
    gamma: float,
    risk_aversion: float,
) -> None:
    assume(eta - gamma * horizon / n / 2 > 0)
    qty, min_child = n_lots * lot, min_lots * lot
    out = almgren_chriss(
        qty,
        horizon,
        n,
        sigma,
        eta,
        gamma,
        risk_aversion,
        lot,
        start_ns=start,
        end_ns=start + length,
        min_child=min_child,
    )
    _check(out, qty, lot, min_child, start, start + length - 1)
    assert len(out) <= n


def test_almgren_chriss_front_loads_a_risk_averse_schedule() -> None:
    out = almgren_chriss(D(1000), 1.0, 10, 0.3, 0.01, 0.001, 1.0, D(1), start_ns=0, end_ns=1000)
    sizes = [s.qty for s in out]
    assert sizes == sorted(sizes, reverse=True)
    assert sizes[0] > 2 * sizes[-1]
    assert [s.due_ns for s in out] == list(range(0, 1000, 100))


def test_almgren_chriss_refuses_a_period_whose_permanent_impact_cancels_the_temporary_one() -> None:
    with pytest.raises(ExecutionError) as e:
        almgren_chriss(D(100), 10.0, 1, 0.3, 0.01, 0.01, 1.0, D(1), start_ns=0, end_ns=10)
    assert (e.value.field, e.value.value) == ("eta", 0.01)


# ----- POV -------------------------------------------------------------------------------------


@given(
    rate=st.sampled_from([D("0.01"), D("0.05"), D("0.1"), D("0.3"), D(1)]),
    lot=st.sampled_from([D(1), D(100), D("0.01")]),
    min_lots=st.integers(1, 20),
    extra_lots=st.integers(0, 50),
    n_lots=st.integers(1, 10**5),
    events=st.lists(
        st.tuples(st.integers(0, 10**5), st.floats(0, 1), st.floats(0, 1)), max_size=60
    ),
)
def test_pov_never_runs_ahead_of_its_rate_by_a_child(
    rate: Decimal,
    lot: Decimal,
    min_lots: int,
    extra_lots: int,
    n_lots: int,
    events: list[tuple[int, float, float]],
) -> None:
    """A market prints volume; the parent sends what it is allowed, some of what is working
    fills, some is cancelled; sent (filled + working) never passes rate x observed by as much as
    the child just sent, and whenever it is allowed nothing, it is not behind."""
    min_child, max_child = min_lots * lot, (min_lots + extra_lots) * lot
    pov = PovTracker(rate, min_child, max_child, lot)
    qty, filled, working = n_lots * lot, D(0), D(0)
    for volume_lots, fill_share, cancel_share in events:
        pov.observe(volume_lots * lot)
        leaves = qty - filled - working
        child = pov.allowed(filled, working, leaves)
        assert child % lot == 0
        assert 0 <= child <= min(max_child, leaves)
        if child:
            assert filled + working < pov.target(), "only sends while behind"
            assert child >= min_child or child == leaves
            working += child
            assert filled + working - pov.target() < child <= max_child
        else:
            assert leaves == 0 or filled + working >= pov.target()
        done = (working * D(repr(fill_share)) / lot).to_integral_value(rounding="ROUND_FLOOR") * lot
        filled, working = filled + done, working - done
        gone = (working * D(repr(cancel_share)) / lot).to_integral_value(
            rounding="ROUND_FLOOR"
        ) * lot
        working -= gone
    assert filled + working <= qty


def test_pov_rounds_its_shortfall_up_to_the_lot_within_its_child_sizes() -> None:
    pov = PovTracker(D("0.1"), D(100), D(500), D(100))
    assert pov.allowed(D(0)) == 0, "nothing observed, nothing to send"
    pov.observe(D(1500))
    assert pov.target() == D(150)
    assert pov.allowed(D(0)) == D(200)
    assert pov.allowed(D(100)) == D(100)
    assert pov.allowed(D(200)) == 0
    assert pov.allowed(D(0), leaves=D(100)) == D(100)
    pov.observe(D(100_000))
    assert pov.allowed(D(0)) == D(500), "at most the maximum child"
    assert pov.observed == D(101_500)


# ----- validation ------------------------------------------------------------------------------

BAD: list[tuple[str, Callable[[], object], str, object]] = [
    ("rate 0", lambda: PovTracker(D(0), D(1), D(1), D(1)), "rate", D(0)),
    ("rate above 1", lambda: PovTracker(D("1.5"), D(1), D(1), D(1)), "rate", D("1.5")),
    ("max below min", lambda: PovTracker(D("0.1"), D(5), D(4), D(1)), "max_child", D(4)),
    (
        "negative volume",
        lambda: PovTracker(D("0.1"), D(1), D(1), D(1)).observe(D(-1)),
        "volume",
        D(-1),
    ),
    ("end before start", lambda: twap(D(10), 100, 50, 2, D(1)), "end_ns", 50),
    ("end at start", lambda: twap(D(10), 100, 100, 2, D(1)), "end_ns", 100),
    ("qty off the lot", lambda: twap(D(15), 0, 100, 2, D(10)), "qty", D(15)),
    ("qty zero", lambda: twap(D(0), 0, 100, 2, D(10)), "qty", D(0)),
    ("slices zero", lambda: twap(D(10), 0, 100, 0, D(1)), "slices", 0),
    ("slices not an int", lambda: twap(D(10), 0, 100, 2.0, D(1)), "slices", 2.0),  # type: ignore[arg-type]
    (
        "min child off the lot",
        lambda: twap(D(10), 0, 100, 2, D(2), min_child=D(3)),
        "min_child",
        D(3),
    ),
    (
        "child below the minimum",
        lambda: split(D(10), D(0), D(2), D(1), start_ns=0, min_child=D(3)),
        "child_qty",
        D(2),
    ),
    ("unknown policy", lambda: parse_policy("vwop"), "policy", "vwop"),
    (
        "n zero",
        lambda: almgren_chriss(D(1), 1.0, 0, 0.1, 0.1, 0, 1, D(1), start_ns=0, end_ns=9),
        "n",
        0,
    ),
    (
        "negative sigma",
        lambda: almgren_chriss(D(1), 1.0, 1, -0.1, 0.1, 0, 1, D(1), start_ns=0, end_ns=9),
        "sigma",
        -0.1,
    ),
    (
        "nan horizon",
        lambda: almgren_chriss(D(1), math.nan, 1, 0.1, 0.1, 0, 1, D(1), start_ns=0, end_ns=9),
        "horizon",
        math.nan,
    ),
    (
        "vwap rate",
        lambda: vwap(
            D(1),
            OPEN,
            OPEN + 1,
            VolumeProfile(MINUTE, "UTC", {0: Fraction(1)}),
            D(1),
            max_participation=D(2),
            expected_volume=D(9),
        ),
        "max_participation",
        D(2),
    ),
]


@pytest.mark.parametrize(("make", "field", "value"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_parameters_are_typed_errors_naming_the_field_and_value(
    make: Callable[[], object], field: str, value: object
) -> None:
    with pytest.raises(ExecutionError) as e:
        make()
    assert e.value.field == field
    if isinstance(value, float) and math.isnan(value):
        assert math.isnan(e.value.value)
    else:
        assert e.value.value == value
    assert field in str(e.value)
    assert isinstance(e.value, ValueError)
    back = pickle.loads(pickle.dumps(e.value))
    assert (type(back), str(back), back.field) == (ExecutionError, str(e.value), field)


def test_every_policy_name_parses() -> None:
    assert [parse_policy(p.value) for p in Policy] == list(Policy)
    assert parse_policy("is") is Policy.IS
