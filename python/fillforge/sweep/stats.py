"""The overfitting guards of a sweep: walk-forward splits, the deflated Sharpe ratio, and the
LEAN-style pass/fail constraints.

**Deflated Sharpe ratio** (Bailey and López de Prado, "The Deflated Sharpe Ratio", 2014): the
probability that the best of ``N`` trials has a true Sharpe ratio above zero, once the
expected maximum of ``N`` unskilled trials is taken off. With per-period (not annualised)
Sharpe ratios, ``V`` the variance of the trials' Sharpe ratios and ``gamma`` the
Euler-Mascheroni constant::

    SR0 = sqrt(V) * ((1 - gamma) * Z(1 - 1/N) + gamma * Z(1 - 1/(N e)))
    DSR = Phi((SR - SR0) * sqrt(T - 1) / sqrt(1 - skew * SR + (kurtosis - 1) / 4 * SR^2))

``Z`` the standard normal quantile, ``Phi`` its distribution, ``T`` the number of returns of
the best trial and ``skew``/``kurtosis`` (not excess: a normal's is 3) of those returns.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
import numpy.typing as npt

from fillforge.errors import MetricsError
from fillforge.portfolio import metrics

__all__ = [
    "EULER_GAMMA",
    "Moments",
    "constraint_failures",
    "deflated_sharpe",
    "expected_max_sharpe",
    "moments",
    "sample_variance",
    "walk_forward",
]

EULER_GAMMA = 0.5772156649015329
_N = NormalDist()


@dataclass(frozen=True, slots=True)
class Moments:
    """Per-period Sharpe ratio (ddof 1), skewness and kurtosis (not excess) of a return
    series, and its length: what the deflated Sharpe ratio needs of a trial."""

    sharpe: float
    skew: float
    kurtosis: float
    n: int


def moments(returns: npt.ArrayLike) -> Moments:
    r = np.asarray(returns, dtype=np.float64)
    r = r[np.isfinite(r)]
    n = int(r.size)
    if n < 2:
        return Moments(math.nan, math.nan, math.nan, n)
    mean = float(r.mean())
    std = float(r.std(ddof=1))
    pop = float(r.std(ddof=0))
    if std == 0 or pop == 0:
        return Moments(math.nan, math.nan, math.nan, n)
    z = (r - mean) / pop
    return Moments(mean / std, float((z**3).mean()), float((z**4).mean()), n)


def expected_max_sharpe(variance: float, trials: int) -> float:
    """``SR0``: the Sharpe ratio the best of ``trials`` unskilled trials is expected to
    reach, given the variance of the trials' (per-period) Sharpe ratios."""
    if trials < 2:
        raise MetricsError("trials", trials, "the expected maximum needs at least 2 trials")
    if not (math.isfinite(variance) and variance >= 0):
        raise MetricsError("variance", variance, "must be a finite number >= 0")
    a = _N.inv_cdf(1 - 1 / trials)
    b = _N.inv_cdf(1 - 1 / (trials * math.e))
    return math.sqrt(variance) * ((1 - EULER_GAMMA) * a + EULER_GAMMA * b)


def deflated_sharpe(
    sharpe: float, n: int, skew: float, kurtosis: float, variance: float, trials: int
) -> float:
    """The deflated Sharpe ratio (a probability in [0, 1]) of a trial with per-period Sharpe
    ratio ``sharpe`` over ``n`` returns of the given skewness and kurtosis, the best of
    ``trials`` whose Sharpe ratios have ``variance``."""
    if n < 2:
        raise MetricsError("n", n, "needs at least 2 returns")
    sr0 = expected_max_sharpe(variance, trials)
    spread = 1 - skew * sharpe + (kurtosis - 1) / 4 * sharpe**2
    if not spread > 0:
        raise MetricsError("kurtosis", kurtosis, "leaves no spread for the Sharpe ratio")
    return _N.cdf((sharpe - sr0) * math.sqrt(n - 1) / math.sqrt(spread))


def walk_forward(
    returns: npt.ArrayLike, splits: int, in_sample: float, annualization: float
) -> list[tuple[float, float]]:
    """``(in-sample, out-of-sample)`` annualised Sharpe ratio of each of ``splits``
    consecutive windows of ``returns`` (NaN where a part has under two returns)."""
    r = np.asarray(returns, dtype=np.float64)
    width = r.size // splits
    out = []
    for i in range(splits):
        window = r[i * width : (i + 1) * width]
        cut = int(window.size * in_sample)
        out.append(
            (
                metrics.sharpe_ratio(window[:cut], annualization=annualization),
                metrics.sharpe_ratio(window[cut:], annualization=annualization),
            )
        )
    return out


def constraint_failures(
    max_drawdown: float | None,
    trades: int,
    *,
    limit_drawdown: float | None,
    min_trades: int | None,
) -> list[str]:
    """The constraints a trial fails, by name (empty: it passes). ``max_drawdown`` is the
    trial's (0 or negative); ``limit_drawdown`` the deepest allowed, a positive fraction."""
    failed = []
    if limit_drawdown is not None and (max_drawdown is None or max_drawdown < -limit_drawdown):
        failed.append("max_drawdown")
    if min_trades is not None and trades < min_trades:
        failed.append("min_trades")
    return failed


def sample_variance(values: Sequence[float]) -> float:
    """The sample variance (ddof 1) of the finite values; NaN below two."""
    v = np.asarray([x for x in values if math.isfinite(x)], dtype=np.float64)
    return float(v.var(ddof=1)) if v.size >= 2 else math.nan
