"""The sweep's overfitting guards on known inputs: the deflated Sharpe ratio against Bailey and
López de Prado's worked example and a hand computation, moments, walk-forward splits and the
LEAN-style constraints."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fillforge.errors import MetricsError
from fillforge.portfolio import metrics
from fillforge.sweep.stats import (
    EULER_GAMMA,
    constraint_failures,
    deflated_sharpe,
    expected_max_sharpe,
    moments,
    sample_variance,
    walk_forward,
)


def _phi(x: float) -> float:
    """The standard normal distribution, written out (not the code's NormalDist)."""
    return 0.5 * (1 + math.erf(x / math.sqrt(2)))


def test_the_papers_worked_example() -> None:
    """Bailey & López de Prado (2014), section 4: an annualised Sharpe ratio of 2.5 over 1,250
    daily returns, the best of 100 trials whose annualised Sharpe ratios have variance 0.5,
    skewness -3, kurtosis 10: SR0 ~ 0.1132 per day and DSR ~ 0.9004."""
    sr, v = 2.5 / math.sqrt(250), 0.5 / 250
    assert expected_max_sharpe(v, 100) == pytest.approx(0.1132, abs=5e-5)
    assert deflated_sharpe(sr, 1250, -3, 10, v, 100) == pytest.approx(0.9004, abs=5e-4)


def test_the_formula_by_hand() -> None:
    # N = 10 trials: Z(1 - 1/10) = 1.28155157, Z(1 - 1/(10 e)) = Z(0.96321206) = 1.78924176
    # (standard normal quantiles, to 8 decimals).
    z1, z2 = 1.28155157, 1.78924176
    variance = 0.0004  # the trials' Sharpe ratios vary by 0.02 per period
    sr0 = math.sqrt(variance) * ((1 - EULER_GAMMA) * z1 + EULER_GAMMA * z2)
    assert sr0 == pytest.approx(0.0314920, abs=1e-6)  # 0.02 * (0.54182 + 1.03278)
    assert expected_max_sharpe(variance, 10) == pytest.approx(sr0, rel=1e-7)
    sr, n, skew, kurt = 0.08, 500, 0.0, 3.0  # normal returns: the spread is 1 + SR^2 / 2
    z = (sr - sr0) * math.sqrt(n - 1) / math.sqrt(1 + 0.5 * sr**2)
    assert z == pytest.approx(1.08186, abs=1e-4)  # 0.048508 * 22.3383 / 1.0016
    assert deflated_sharpe(sr, n, skew, kurt, variance, 10) == pytest.approx(_phi(z), rel=1e-6)
    assert _phi(z) == pytest.approx(0.8603, abs=1e-4)


def test_more_trials_deflate_more() -> None:
    dsr = [deflated_sharpe(0.08, 500, 0.0, 3.0, 0.0004, n) for n in (2, 10, 100, 1000)]
    assert dsr == sorted(dsr, reverse=True)
    assert dsr[0] > 0.9 > 0.7 > dsr[-1]


def test_refusals_name_the_field() -> None:
    with pytest.raises(MetricsError, match="trials=1"):
        expected_max_sharpe(0.1, 1)
    with pytest.raises(MetricsError, match="variance=-1"):
        expected_max_sharpe(-1, 5)
    with pytest.raises(MetricsError, match="n=1"):
        deflated_sharpe(0.1, 1, 0, 3, 0.1, 5)


@given(
    sr=st.floats(-0.5, 0.5),
    n=st.integers(2, 5000),
    trials=st.integers(2, 10_000),
    variance=st.floats(0, 0.05),
)
def test_dsr_is_a_probability_rising_with_the_sharpe_ratio(
    sr: float, n: int, trials: int, variance: float
) -> None:
    low = deflated_sharpe(sr, n, 0.0, 3.0, variance, trials)
    high = deflated_sharpe(sr + 0.01, n, 0.0, 3.0, variance, trials)
    assert 0 <= low <= high <= 1


def test_moments_of_a_known_series() -> None:
    r = np.array([0.01, -0.02, 0.03, 0.0, 0.01])
    m = moments(r)
    assert m.n == 5
    assert m.sharpe == pytest.approx(r.mean() / r.std(ddof=1))
    z = (r - r.mean()) / r.std()
    assert m.skew == pytest.approx((z**3).mean())
    assert m.kurtosis == pytest.approx((z**4).mean())
    assert math.isnan(moments([0.01, 0.01, 0.01]).sharpe)  # no spread: no ratio
    assert moments([]).n == 0


def test_walk_forward_splits_the_series_in_order() -> None:
    rng = np.random.default_rng(3)
    r = rng.normal(0.001, 0.01, 400)
    parts = walk_forward(r, 4, 0.75, 252)
    assert len(parts) == 4
    for i, (is_sr, oos_sr) in enumerate(parts):
        window = r[i * 100 : (i + 1) * 100]
        assert is_sr == metrics.sharpe_ratio(window[:75], annualization=252)
        assert oos_sr == metrics.sharpe_ratio(window[75:], annualization=252)


def test_constraints_pass_and_fail() -> None:
    assert constraint_failures(-0.10, 20, limit_drawdown=0.15, min_trades=10) == []
    assert constraint_failures(-0.20, 20, limit_drawdown=0.15, min_trades=10) == ["max_drawdown"]
    assert constraint_failures(-0.15, 9, limit_drawdown=0.15, min_trades=10) == ["min_trades"]
    both = constraint_failures(None, 0, limit_drawdown=0.15, min_trades=1)
    assert both == ["max_drawdown", "min_trades"]  # no drawdown figure cannot pass the limit
    assert constraint_failures(-0.9, 0, limit_drawdown=None, min_trades=None) == []


def test_sample_variance_skips_what_is_not_finite() -> None:
    assert sample_variance([1.0, 2.0, 3.0, math.nan]) == pytest.approx(1.0)
    assert math.isnan(sample_variance([1.0]))
