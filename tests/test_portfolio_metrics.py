"""Performance metrics (fillforge.portfolio.metrics) against empyrical-reloaded on random
series, edge cases (all zeros, one element, NaNs, a negative risk-free rate), the CAGR and
Sharpe annualisation worked by hand (quantstats has shipped bugs in both), and the summary."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import empyrical
import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from fillforge.errors import MetricsError
from fillforge.portfolio import metrics as m

RETURN = st.floats(-0.875, 1.0, allow_nan=False, allow_infinity=False, width=32)
SERIES = hnp.arrays(np.float64, st.integers(0, 200), elements=RETURN)
WITH_NAN = hnp.arrays(np.float64, st.integers(0, 60), elements=st.one_of(RETURN, st.just(math.nan)))
RATE = st.sampled_from([0.0, 0.0001, -0.0002, 0.01, -0.01])
ANNUALIZATION = st.sampled_from([None, 252, 365, 12, 1, 260.5])
PERIOD = st.sampled_from(list(m.ANNUALIZATION_FACTORS))


def theirs(name: str, *args: Any, **kwargs: Any) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(getattr(empyrical, name)(*args, **kwargs))


def same(ours: float, ref: float, scale: float = 1.0, rel: float = 1e-9) -> None:
    """Equal to 1e-9, relative where values are large; NaN matches NaN, infinities match."""
    if math.isnan(ref) or math.isinf(ref):
        assert ours == ref or (math.isnan(ours) and math.isnan(ref)), (ours, ref)
        return
    assert ours == pytest.approx(ref, rel=rel, abs=1e-9 * scale), (ours, ref)


def calmar_rel(r: np.ndarray) -> float:
    """A drawdown of d is known to about 1e-16 absolute (1 + r rounds), so a ratio over it to
    about 1e-16 / |d| relative, in any implementation."""
    mdd = abs(m.max_drawdown(r)) if r.size else 1.0
    return max(1e-9, 1e-14 / mdd) if mdd > 0 else 1e-9


def conditioning(r: np.ndarray) -> float:
    """How much rounding a mean-over-deviation ratio amplifies: |values| over their spread
    (a Sharpe ratio of values that barely differ is ill-conditioned for any implementation)."""
    x = r[~np.isnan(r)]
    if x.size < 2:
        return 1.0
    spread = float(np.std(x))
    big = float(np.max(np.abs(x))) + 1e-300
    return 1.0 if spread == 0 else max(1.0, big / spread)


# --- against empyrical -----------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.one_of(SERIES, WITH_NAN), PERIOD, ANNUALIZATION)
def test_annualised_metrics_equal_empyricals(r: np.ndarray, period: str, ann: Any) -> None:
    same(m.annual_return(r, period, ann), theirs("annual_return", r, period, ann), 1e3)
    same(m.cagr(r, period, ann), theirs("cagr", r, period, ann), 1e3)
    same(m.annual_volatility(r, period, 2.0, ann), theirs("annual_volatility", r, period, 2.0, ann))
    same(m.calmar_ratio(r, period, ann), theirs("calmar_ratio", r, period, ann), 1e3, calmar_rel(r))
    same(m.max_drawdown(r), theirs("max_drawdown", r))
    same(m.cum_returns_final(r), theirs("cum_returns_final", r), 1e3)
    same(m.cum_returns_final(r, 100.0), theirs("cum_returns_final", r, 100.0), 1e5)
    if r.size:
        np.testing.assert_allclose(m.cum_returns(r), empyrical.cum_returns(r), rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(
            m.drawdown_series(r), empyrical.stats.drawdown_series(r), rtol=1e-9, atol=1e-12
        )


@settings(max_examples=300, deadline=None)
@given(st.one_of(SERIES, WITH_NAN), RATE, PERIOD, ANNUALIZATION)
def test_risk_adjusted_ratios_equal_empyricals(
    r: np.ndarray, rate: float, period: str, ann: Any
) -> None:
    k = conditioning(r - rate)
    assume(k < 1e4)  # past that, the last bits of the mean decide and no two sums agree
    same(m.sharpe_ratio(r, rate, period, ann), theirs("sharpe_ratio", r, rate, period, ann), k)
    same(m.sortino_ratio(r, rate, period, ann), theirs("sortino_ratio", r, rate, period, ann), k)
    same(m.downside_risk(r, rate, period, ann), theirs("downside_risk", r, rate, period, ann))
    same(m.omega_ratio(r, rate, 0.05), theirs("omega_ratio", r, rate, 0.05), k)
    same(m.omega_ratio(r, 0.0, rate, 1), theirs("omega_ratio", r, 0.0, rate, 1), k)


@settings(max_examples=200, deadline=None)
@given(st.one_of(SERIES, WITH_NAN), st.sampled_from([0.01, 0.05, 0.1, 0.5]))
def test_empyricals_var_and_cvar(r: np.ndarray, cutoff: float) -> None:
    same(m.value_at_risk(r, cutoff), theirs("value_at_risk", r, cutoff))
    same(m.conditional_value_at_risk(r, cutoff), theirs("conditional_value_at_risk", r, cutoff))


@settings(max_examples=200, deadline=None)
@given(st.one_of(SERIES, WITH_NAN), RATE, ANNUALIZATION)
def test_the_summary_equals_each_function(r: np.ndarray, rate: float, ann: Any) -> None:
    assume(conditioning(r - rate) < 1e4)
    before = r.copy()
    s = m.summary(r, rate, annualization=ann)
    np.testing.assert_array_equal(r, before)  # the input is never modified
    k = conditioning(r - rate)
    same(s.sharpe_ratio, m.sharpe_ratio(r, rate, annualization=ann), k)
    same(s.sortino_ratio, m.sortino_ratio(r, rate, annualization=ann), k)
    same(s.max_drawdown, m.max_drawdown(r))
    same(s.cagr, m.cagr(r, annualization=ann), 1e3)
    same(s.calmar_ratio, m.calmar_ratio(r, annualization=ann), 1e3)
    same(s.annual_volatility, m.annual_volatility(r, annualization=ann))
    same(s.total_return, m.cum_returns_final(r), 1e3)
    assert s.periods == r.size


@settings(max_examples=100, deadline=None)
@given(hnp.arrays(np.float64, st.integers(1, 100), elements=st.floats(0.5, 500.0)))
def test_simple_returns_equal_empyricals(p: np.ndarray) -> None:
    np.testing.assert_allclose(m.simple_returns(p), empyrical.simple_returns(p), rtol=1e-12)


def test_integer_prices_are_differenced_exactly() -> None:
    p = np.array([10**17, 10**17 + 1, 10**17 + 3], dtype=np.int64)
    np.testing.assert_allclose(m.simple_returns(p), empyrical.simple_returns(p), rtol=1e-12)
    assert m.simple_returns(p)[0] == pytest.approx(1e-17)


# --- edge cases ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "r",
    [
        np.zeros(10),
        np.zeros(1),
        np.array([0.01]),
        np.array([]),
        np.full(5, 0.002),
        np.full(5, -0.002),
        np.array([math.nan, math.nan, math.nan]),
        np.array([0.01, math.nan]),
        np.array([-1.0, 0.5]),
        np.array([0.1, -0.2, math.nan, 0.05, 0.0]),
    ],
    ids=repr,
)
@pytest.mark.parametrize("rate", [0.0, -0.001, 0.001])
def test_edge_series_match_empyrical(r: np.ndarray, rate: float) -> None:
    pairs: list[tuple[Callable[..., float], tuple[Any, ...]]] = [
        (m.sharpe_ratio, (r, rate)),
        (m.sortino_ratio, (r, rate)),
        (m.downside_risk, (r, rate)),
        (m.annual_volatility, (r,)),
        (m.cagr, (r,)),
        (m.annual_return, (r,)),
        (m.max_drawdown, (r,)),
        (m.calmar_ratio, (r,)),
        (m.cum_returns_final, (r,)),
        (m.omega_ratio, (r, rate)),
        (m.value_at_risk, (r,)),
        (m.conditional_value_at_risk, (r,)),
    ]
    for f, args in pairs:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # ours never warns
            ours = f(*args)
        same(ours, theirs(f.__name__, *args))


def test_constant_returns_have_an_infinite_sharpe_ratio_not_a_huge_one() -> None:
    assert m.sharpe_ratio(np.full(7, 0.001)) == math.inf
    assert m.sharpe_ratio(np.full(7, -0.001)) == -math.inf
    assert math.isnan(m.sharpe_ratio(np.zeros(7)))
    assert m.sortino_ratio(np.full(7, 0.001)) == math.inf
    assert m.max_drawdown(np.full(7, 0.001)) == 0.0
    assert math.isnan(m.calmar_ratio(np.full(7, 0.001)))


# --- annualisation worked by hand ------------------------------------------------------------


def test_cagr_counts_periods_not_calendar_days() -> None:
    r = np.full(252, 0.001)
    assert m.cagr(r) == pytest.approx(1.001**252 - 1, rel=1e-12)
    assert m.cagr(r, annualization=252) == pytest.approx(1.001**252 - 1, rel=1e-12)
    # Half a year of returns: the half-year growth squared.
    assert m.cagr(r[:126]) == pytest.approx(1.001**252 - 1, rel=1e-12)
    # Two years at 252 a year: the square root of the two-year growth.
    assert m.cagr(np.full(504, 0.001)) == pytest.approx(1.001**252 - 1, rel=1e-12)
    # The same 252 returns read as weekly data cover 252 / 52 years.
    assert m.cagr(r, "weekly") == pytest.approx(1.001 ** (252 * 52 / 252) - 1, rel=1e-12)
    # 12 monthly returns of 1% are one year.
    assert m.cagr(np.full(12, 0.01), "monthly") == pytest.approx(1.01**12 - 1, rel=1e-12)
    # A calendar with 250 sessions a year, given explicitly.
    assert m.cagr(np.full(250, 0.001), annualization=250) == pytest.approx(1.001**250 - 1)


def test_sharpe_annualises_by_the_square_root_of_periods() -> None:
    r = np.array([0.01, -0.005, 0.02, 0.0, -0.01, 0.015])
    per_period = r.mean() / r.std(ddof=1)
    assert m.sharpe_ratio(r) == pytest.approx(per_period * math.sqrt(252), rel=1e-12)
    assert m.sharpe_ratio(r, period="monthly") == pytest.approx(per_period * math.sqrt(12))
    assert m.sharpe_ratio(r, annualization=365) == pytest.approx(per_period * math.sqrt(365))
    # The risk-free rate is per period and comes off every return before the ratio.
    rf = 0.0001
    x = r - rf
    assert m.sharpe_ratio(r, rf) == pytest.approx(x.mean() / x.std(ddof=1) * math.sqrt(252))
    # A negative risk-free rate raises the ratio.
    assert m.sharpe_ratio(r, -rf) > m.sharpe_ratio(r)
    assert m.annual_volatility(r) == pytest.approx(r.std(ddof=1) * math.sqrt(252))
    downside = math.sqrt(np.mean(np.minimum(r, 0) ** 2))
    assert m.sortino_ratio(r) == pytest.approx(r.mean() * 252 / (downside * math.sqrt(252)))


def test_drawdown_known_values() -> None:
    r = [0.10, -0.20, 0.05, 0.20, -0.50]
    # Values: 1.1, 0.88, 0.924, 1.1088 (a new high), 0.5544.
    dd = m.drawdown_series(r)
    np.testing.assert_allclose(dd, [0.0, -0.2, -0.16, 0.0, -0.5], atol=1e-12)
    assert m.max_drawdown(r) == pytest.approx(-0.5)
    # A first loss is a drawdown from the starting value.
    assert m.max_drawdown([-0.1, 0.05]) == pytest.approx(-0.1)
    assert m.cum_returns_final(r) == pytest.approx(0.5544 - 1)
    np.testing.assert_allclose(m.cum_returns(r, 100), [110, 88, 92.4, 110.88, 55.44])


def test_nan_is_a_flat_period_when_compounding_and_left_out_of_means() -> None:
    r = np.array([0.01, math.nan, 0.02, -0.01])
    clean = np.array([0.01, 0.02, -0.01])
    assert m.cum_returns_final(r) == pytest.approx(m.cum_returns_final(clean))
    assert m.cagr(r) == pytest.approx((1.01 * 1.02 * 0.99) ** (252 / 4) - 1)  # 4 periods
    assert m.sharpe_ratio(r) == pytest.approx(m.sharpe_ratio(clean))
    assert math.isnan(m.value_at_risk(r))
    assert m.conditional_value_at_risk(r, 0.5) == m.conditional_value_at_risk(clean, 0.5)


def test_inputs_convert_once_from_lists_and_decimals() -> None:
    as_list = [0.01, -0.02, 0.03]
    as_dec = [Decimal("0.01"), Decimal("-0.02"), Decimal("0.03")]
    assert m.summary(as_dec) == m.summary(np.array(as_list))
    assert m.sharpe_ratio(as_list) == m.sharpe_ratio(np.array(as_list))


# --- refusals --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: m.sharpe_ratio([0.1, 0.2], period="hourly"), "period"),
        (lambda: m.cagr([0.1], annualization=0), "annualization"),
        (lambda: m.cagr([0.1], annualization=-252), "annualization"),
        (lambda: m.cagr([0.1], annualization=math.inf), "annualization"),
        (lambda: m.cagr([0.1], annualization=True), "annualization"),
        (lambda: m.sharpe_ratio([0.1, 0.2], risk_free=math.nan), "risk_free"),
        (lambda: m.sharpe_ratio([0.1, 0.2], risk_free="0"), "risk_free"),
        (lambda: m.sortino_ratio([0.1, 0.2], required_return=None), "required_return"),
        (lambda: m.max_drawdown([[0.1], [0.2]]), "returns"),
        (lambda: m.max_drawdown(0.1), "returns"),
        (lambda: m.max_drawdown(["a"]), "returns"),
        (lambda: m.summary([0.1, 0.2], period="secondly"), "period"),
        (lambda: m.simple_returns(np.array([[1, 2]])), "prices"),
        (lambda: m.value_at_risk([0.1, 0.2], cutoff=5), "cutoff"),
        (lambda: m.conditional_value_at_risk([0.1, 0.2], cutoff=-0.1), "cutoff"),
        (lambda: m.annual_volatility([0.1, 0.2], alpha="2"), "alpha"),
        (lambda: m.omega_ratio([0.1, 0.2], annualization=0), "annualization"),
    ],
)
def test_bad_arguments_are_refused(call: Callable[[], object], field: str) -> None:
    with pytest.raises(MetricsError) as e:
        call()
    assert e.value.field == field


# --- the summary -----------------------------------------------------------------------------


def test_summary_keys_and_values() -> None:
    r = np.full(252, 0.001)
    r[100] = -0.05
    s = m.summary(r)
    d = s.as_dict()
    for key in (
        "sharpe_ratio",
        "sortino_ratio",
        "max_drawdown",
        "cagr",
        "calmar_ratio",
        "annual_volatility",
        "total_return",
    ):
        assert d[key] == getattr(s, key)
    assert s.max_drawdown == pytest.approx(-0.05)
    assert s.total_return == pytest.approx(1.001**251 * 0.95 - 1)
    assert s.cagr == pytest.approx(s.total_return)  # exactly one year of periods
    assert s.calmar_ratio == pytest.approx(s.cagr / 0.05)
    assert s.periods == 252
    assert s.annualization == 252.0
    empty = m.summary([])
    assert empty.periods == 0
    assert math.isnan(empty.sharpe_ratio)


def test_the_summary_sortino_threshold_defaults_to_the_risk_free_rate() -> None:
    r = np.array([0.01, -0.005, 0.02, 0.0, -0.01, 0.015])
    s = m.summary(r, 0.001)
    assert s.sortino_ratio == pytest.approx(m.sortino_ratio(r, 0.001))
    s0 = m.summary(r, 0.001, required_return=0.0)
    assert s0.sortino_ratio == pytest.approx(m.sortino_ratio(r, 0.0))
    assert s0.sharpe_ratio == pytest.approx(m.sharpe_ratio(r, 0.001))
