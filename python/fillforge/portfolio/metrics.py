"""Performance metrics of a return series, with empyrical's names, signatures and results.

Every function here that empyrical (empyrical-reloaded 0.7.1) also has takes the same arguments
and returns the same number for a 1-D series, NaN handling included; the tests check that on
random series to 1e-9. What empyrical lacks is added: drawdown periods and the longest drawdown
(:func:`drawdown_periods`, :func:`longest_drawdown`), exposure and turnover, an equity curve
(:class:`~fillforge.portfolio.equity.EquityCurve`) and a :func:`summary`.

Conventions (``docs/portfolio-analytics.md`` has every formula):

- ``returns`` are simple, non-cumulative returns per period (0.01 is +1%), a numpy array or any
  sequence of numbers (Decimal converted once to float). 1-D only.
- Annualisation: ``annualization`` periods per year when given, else ``period``'s factor
  (daily 252, weekly 52, monthly 12, quarterly 4, yearly 1). CAGR counts periods, not calendar
  days: ``n`` returns are ``n / annualization`` years.
- NaN, as empyrical: a NaN return is a flat period where returns are compounded (cumulative
  returns, CAGR, drawdowns: it counts as a period of 0%) and is left out of the means and
  deviations (Sharpe, Sortino, volatility). The length checks (fewer than two returns gives NaN
  for the Sharpe ratio) count NaNs. :func:`value_at_risk` is NaN when any return is NaN;
  :func:`conditional_value_at_risk` drops them first.
- Ratios with a zero denominator are infinite (or NaN for 0/0), as in empyrical; a series whose
  values are all equal has a standard deviation of exactly 0.
- Signs: :func:`max_drawdown` is negative (-0.25 is a 25% fall from the peak); VaR here is
  empyrical's, a return quantile (negative for a loss). :mod:`fillforge.portfolio.var` is the
  risk-side VaR, reported as a positive loss.

Bad arguments (an unknown period, a non-positive annualization, a series that is not 1-D numbers)
raise :class:`~fillforge.errors.MetricsError`.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass
from typing import Any, Final, Literal

import numpy as np

from fillforge.errors import MetricsError
from fillforge.portfolio._series import FloatArray, ReturnsLike, as_array, as_float

__all__ = [
    "ANNUALIZATION_FACTORS",
    "PerformanceSummary",
    "Period",
    "annual_return",
    "annual_volatility",
    "annualization_factor",
    "cagr",
    "calmar_ratio",
    "conditional_value_at_risk",
    "cum_returns",
    "cum_returns_final",
    "downside_risk",
    "drawdown_series",
    "max_drawdown",
    "omega_ratio",
    "sharpe_ratio",
    "simple_returns",
    "sortino_ratio",
    "summary",
    "value_at_risk",
]

Period = Literal["daily", "weekly", "monthly", "quarterly", "yearly"]
ANNUALIZATION_FACTORS: Final[dict[str, int]] = {
    "daily": 252,
    "weekly": 52,
    "monthly": 12,
    "quarterly": 4,
    "yearly": 1,
}
_NAN: Final = float("nan")


def annualization_factor(period: str = "daily", annualization: float | None = None) -> float:
    """Periods per year: ``annualization`` when given (a positive number), else ``period``'s
    factor from :data:`ANNUALIZATION_FACTORS`."""
    if annualization is not None:
        f = as_float("annualization", annualization)
        if f <= 0:
            raise MetricsError("annualization", annualization, "must be a positive number")
        return f
    try:
        return float(ANNUALIZATION_FACTORS[period])
    except (KeyError, TypeError):
        names = ", ".join(ANNUALIZATION_FACTORS)
        raise MetricsError("period", period, f"must be one of {names}") from None


def _r(returns: ReturnsLike) -> FloatArray:
    return as_array("returns", returns)


# --- cumulative ------------------------------------------------------------------------------


def simple_returns(prices: ReturnsLike) -> FloatArray:
    """``p[t] / p[t-1] - 1`` for each consecutive pair: one fewer value than ``prices``. A zero
    price gives an infinite or NaN return, as in empyrical. Integer prices are differenced
    exactly before the division."""
    if isinstance(prices, np.ndarray) and np.issubdtype(prices.dtype, np.integer):
        if prices.ndim != 1:
            raise MetricsError("prices", f"shape {prices.shape}", "must be 1-D")
        diff = np.diff(prices.astype(object)).astype(np.float64)
        p = prices.astype(np.float64)
    else:
        p = as_array("prices", prices)
        diff = np.diff(p)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(diff / p[:-1], dtype=np.float64)


def cum_returns(returns: ReturnsLike, starting_value: float = 0) -> FloatArray:
    """Cumulative returns: ``prod(1 + r[:t+1]) - 1`` at each ``t`` (NaN counts as 0%), or
    ``starting_value * prod(...)`` when a starting value is given."""
    r = _r(returns)
    if r.size == 0:
        return r.copy()
    out = _growth(r)
    if starting_value == 0:
        out -= 1.0
    else:
        out *= starting_value
    return out


def cum_returns_final(returns: ReturnsLike, starting_value: float = 0) -> float:
    """The total return ``prod(1 + r) - 1`` (NaN counts as 0%), or the final value from
    ``starting_value``. NaN for an empty series."""
    r = _r(returns)
    if r.size == 0:
        return _NAN
    total = _final(r)
    return total - 1.0 if starting_value == 0 else total * starting_value


def _final(r: FloatArray) -> float:
    """``prod(1 + r)``, NaN as 0% (numpy's ``nanprod``, without its copy when there is no
    NaN)."""
    with np.errstate(over="ignore", invalid="ignore"):
        g = r + 1.0
        total = float(np.multiply.reduce(g))
        if math.isnan(total):
            total = float(np.nanprod(g))
    return total


def _growth(r: FloatArray, out: FloatArray | None = None, nan: bool | None = None) -> FloatArray:
    """``prod(1 + r[:t+1])`` at each t, NaN as 0%, in ``out`` (a new array by default).
    ``nan`` says whether ``r`` holds a NaN, when the caller knows."""
    out = np.add(r, 1.0, out=out)
    if nan is None or nan:
        mask = np.isnan(out)
        if mask.any():
            out[mask] = 1.0
    with np.errstate(over="ignore", invalid="ignore"):
        np.multiply.accumulate(out, out=out)
    return out


# --- drawdowns -------------------------------------------------------------------------------


def drawdown_series(returns: ReturnsLike) -> FloatArray:
    """The drawdown after each return: ``growth / running peak - 1`` (0 at a new high, -0.2
    when 20% below the highest value so far). The peak starts at the initial value, so a
    first return of -10% is a -10% drawdown."""
    r = _r(returns)
    return _drawdowns(_growth(r)) if r.size else r.copy()


def _relative_to_peak(growth: FloatArray, out: FloatArray | None = None) -> FloatArray:
    """``growth / running peak`` in ``out``, the peak starting at the initial value 1 (a NaN
    never becomes the peak, as with empyrical's ``fmax``)."""
    first = float(growth[0])
    growth[0] = np.fmax(first, 1.0)  # the anchor, folded into the first element
    peak = np.fmax.accumulate(growth, out=out)
    growth[0] = first
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.divide(growth, peak, out=peak)


def _drawdowns(growth: FloatArray) -> FloatArray:
    dd = _relative_to_peak(growth)
    dd -= 1.0
    return dd


def max_drawdown(returns: ReturnsLike) -> float:
    """The largest fall from a peak, as a negative fraction (0.0 if the series never falls
    below its running peak; NaN for an empty series)."""
    r = _r(returns)
    if r.size == 0:
        return _NAN
    return _nanmin(_relative_to_peak(_growth(r))) - 1.0


def _nanmin(x: FloatArray) -> float:
    m = float(x.min())
    if math.isnan(m):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            m = float(np.nanmin(x))
    return m


# --- annualised returns and risk -------------------------------------------------------------


def annual_return(
    returns: ReturnsLike, period: str = "daily", annualization: float | None = None
) -> float:
    """The compound annual growth rate: ``prod(1 + r) ** (annualization / n) - 1`` with ``n``
    the number of returns (NaNs counted as flat periods). NaN for an empty series or when the
    series loses more than everything (a negative final value)."""
    r = _r(returns)
    ann = annualization_factor(period, annualization)
    if r.size == 0:
        return _NAN
    return _cagr(_final(r), r.size, ann)


def _cagr(final: float, n: int, ann: float) -> float:
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        return float(np.power(np.float64(final), 1.0 / (n / ann))) - 1.0


def cagr(returns: ReturnsLike, period: str = "daily", annualization: float | None = None) -> float:
    """The compound annual growth rate (:func:`annual_return`): 252 daily returns of 0.1%
    have a CAGR of ``1.001 ** 252 - 1`` with the default 252 periods per year."""
    return annual_return(returns, period, annualization)


def annual_volatility(
    returns: ReturnsLike,
    period: str = "daily",
    alpha: float = 2.0,
    annualization: float | None = None,
) -> float:
    """The sample standard deviation (ddof 1, NaNs left out) times ``annualization ** (1 /
    alpha)``: the square root of time for the default ``alpha = 2``. NaN below two returns."""
    r = _r(returns)
    ann = annualization_factor(period, annualization)
    if r.size < 2:
        return _NAN
    return _nanstd(r) * float(ann ** (1.0 / as_float("alpha", alpha)))


def _nanstd(r: FloatArray, mean: float | None = None, out: FloatArray | None = None) -> float:
    """The sample standard deviation (ddof 1) of the non-NaN values; ``mean`` if known, ``out``
    a scratch array of ``r``'s size."""
    m = _nanmean(r) if mean is None else mean
    if math.isnan(m) or math.isinf(m):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return float(np.nanstd(r, ddof=1))
    d = np.subtract(r, m, out=out)
    if math.isnan(ss := _sumsq(d)):  # a NaN among the values: the slow path
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return float(np.nanstd(r, ddof=1))
    return math.sqrt(ss / (r.size - 1)) if r.size > 1 else _NAN


def _nanmean(r: FloatArray) -> float:
    """The mean of the non-NaN values (one pass when there is no NaN)."""
    total = float(r.sum())
    if not math.isnan(total):
        return total / r.size if r.size else _NAN
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return float(np.nanmean(r))


def _adjust(r: FloatArray, by: object, field: str) -> FloatArray:
    f = as_float(field, by)
    return r if f == 0 else r - f


def _zero_dispersion(r: FloatArray, mean: float, std: float) -> float:
    """0.0 when every non-NaN value of ``r`` is the same (the floating-point mean may differ from
    them in the last bit and leave a residue of 1e-18 in ``std``), else ``std``. Only a tiny
    ``std`` can be such a residue, so the max/min passes run only then."""
    if not math.isfinite(std) or std > 1e-8 * abs(mean):
        return std
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return 0.0 if np.nanmax(r) == np.nanmin(r) else std


def sharpe_ratio(
    returns: ReturnsLike,
    risk_free: float = 0,
    period: str = "daily",
    annualization: float | None = None,
) -> float:
    """``mean(r - risk_free) / std(r - risk_free) * sqrt(annualization)``, ``risk_free`` a
    constant return per period (not annual), the standard deviation the sample one (ddof 1).
    NaN below two returns; infinite when the returns do not vary (NaN if they are also 0)."""
    r = _r(returns)
    ann = annualization_factor(period, annualization)
    if r.size < 2:
        return _NAN
    adj = _adjust(r, risk_free, "risk_free")
    mean = _nanmean(adj)
    std = _zero_dispersion(adj, mean, _nanstd(adj, mean))
    return _ratio(mean, std) * math.sqrt(ann)


def _ratio(num: float, den: float) -> float:
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.float64(num) / np.float64(den))


def downside_risk(
    returns: ReturnsLike,
    required_return: float = 0,
    period: str = "daily",
    annualization: float | None = None,
) -> float:
    """The downside deviation below ``required_return`` (per period):
    ``sqrt(mean(min(r - required_return, 0) ** 2)) * sqrt(annualization)``, the mean over every
    non-NaN period (a period above the threshold counts as 0). NaN for an empty series."""
    r = _r(returns)
    ann = annualization_factor(period, annualization)
    if r.size == 0:
        return _NAN
    return _downside(_adjust(r, required_return, "required_return")) * math.sqrt(ann)


def _sumsq(x: FloatArray) -> float:
    return float(np.einsum("i,i->", x, x))


def _downside(adj: FloatArray, out: FloatArray | None = None) -> float:
    d = np.minimum(adj, 0.0, out=out)
    if math.isnan(total := _sumsq(d)):
        return math.sqrt(_nanmean(d * d))
    return math.sqrt(total / d.size)


def sortino_ratio(
    returns: ReturnsLike,
    required_return: float = 0,
    period: str = "daily",
    annualization: float | None = None,
) -> float:
    """``mean(r - required_return) * annualization / downside_risk(...)``: the annualised mean
    excess return over the annualised downside deviation. NaN below two returns; infinite when
    no period is below the threshold."""
    r = _r(returns)
    ann = annualization_factor(period, annualization)
    if r.size < 2:
        return _NAN
    adj = _adjust(r, required_return, "required_return")
    return _ratio(_nanmean(adj) * ann, _downside(adj) * math.sqrt(ann))


def calmar_ratio(
    returns: ReturnsLike, period: str = "daily", annualization: float | None = None
) -> float:
    """CAGR over the absolute maximum drawdown; NaN when there is no drawdown (or the ratio is
    infinite)."""
    r = _r(returns)
    ann = annualization_factor(period, annualization)
    if r.size == 0:
        return _NAN
    mdd = _nanmin(_relative_to_peak(_growth(r))) - 1.0
    return _calmar(_cagr(_final(r), r.size, ann), mdd)


def _calmar(cagr_: float, mdd: float) -> float:
    if not mdd < 0:
        return _NAN
    out = cagr_ / abs(mdd)
    return _NAN if math.isinf(out) else out


def omega_ratio(
    returns: ReturnsLike,
    risk_free: float = 0.0,
    required_return: float = 0.0,
    annualization: float = 252,
) -> float:
    """The probability-weighted gains over losses relative to a threshold: with
    ``x = r - risk_free - t`` and ``t = (1 + required_return) ** (1 / annualization) - 1`` (the
    annual required return de-annualised; ``t = required_return`` when ``annualization`` is 1),
    ``sum(x[x > 0]) / -sum(x[x < 0])``. NaN below two returns, when ``required_return <= -1``,
    or with no loss below the threshold."""
    r = _r(returns)
    ann = annualization_factor("daily", annualization)
    req = as_float("required_return", required_return)
    if r.size < 2:
        return _NAN
    if ann == 1:
        threshold = req
    elif req <= -1:
        return _NAN
    else:
        threshold = (1 + req) ** (1.0 / ann) - 1
    x = r - as_float("risk_free", risk_free) - threshold
    numer = float(x[x > 0.0].sum())
    denom = -float(x[x < 0.0].sum())
    return numer / denom if denom > 0.0 else _NAN


def value_at_risk(returns: ReturnsLike, cutoff: float = 0.05) -> float:
    """empyrical's VaR: the ``cutoff`` quantile of the returns (linear interpolation), a
    negative number for a loss. NaN for an empty series or one with a NaN. The risk side's
    positive-loss VaR is :func:`fillforge.portfolio.var.historical_var`."""
    r = _r(returns)
    c = _cutoff(cutoff)
    if r.size == 0:
        return _NAN
    return float(np.percentile(r, 100 * c))


def _cutoff(cutoff: object) -> float:
    c = as_float("cutoff", cutoff)
    if not 0.0 <= c <= 1.0:
        raise MetricsError("cutoff", cutoff, "must be between 0 and 1 (0.05 is the 5% tail)")
    return c


def conditional_value_at_risk(returns: ReturnsLike, cutoff: float = 0.05) -> float:
    """empyrical's CVaR: the mean of the ``floor((n - 1) * cutoff) + 1`` lowest returns, NaNs
    dropped first (negative for a loss; NaN if nothing is left)."""
    r = _r(returns)
    c = _cutoff(cutoff)
    r = r[~np.isnan(r)]
    if r.size == 0:
        return _NAN
    k = int((r.size - 1) * c)
    return float(np.mean(np.partition(r, k)[: k + 1]))


# --- the summary -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PerformanceSummary:
    """The headline metrics of a return series (what ``fillforge backtest`` prints); each the
    value of the function of the same name (``total_return`` is :func:`cum_returns_final`).
    ``periods`` is the number of returns, ``annualization`` the periods per year used."""

    sharpe_ratio: float
    sortino_ratio: float
    max_drawdown: float
    cagr: float
    calmar_ratio: float
    annual_volatility: float
    total_return: float
    periods: int
    annualization: float

    def as_dict(self) -> dict[str, Any]:
        """The fields by name (JSON-ready: NaN and infinities stay floats)."""
        return asdict(self)


def summary(
    returns: ReturnsLike,
    risk_free: float = 0,
    period: str = "daily",
    annualization: float | None = None,
    *,
    required_return: float | None = None,
) -> PerformanceSummary:
    """Every headline metric from shared intermediates (each equals its function's value): the
    growth path is compounded once for the total return, CAGR and drawdowns, the mean taken
    once for Sharpe and Sortino, in two scratch arrays; ``returns`` is never modified. The
    Sortino threshold is ``required_return``, by default ``risk_free``."""
    r = _r(returns)
    ann = annualization_factor(period, annualization)
    n = int(r.size)
    if n == 0:
        return PerformanceSummary(_NAN, _NAN, _NAN, _NAN, _NAN, _NAN, _NAN, 0, ann)
    total = float(r.sum())  # the NaN test and, without NaN, the mean
    nan = math.isnan(total)
    growth = _growth(r, nan=nan)  # two scratch arrays of r's size serve every metric
    final = float(growth[-1])
    scratch = _relative_to_peak(growth)
    mdd = _nanmin(scratch) - 1.0
    cagr_ = _cagr(final, n, ann)
    sharpe = sortino = vol = _NAN
    if n >= 2:
        adj = _adjust(r, risk_free, "risk_free")
        mean = total / n - as_float("risk_free", risk_free) if not nan else _nanmean(adj)
        std = _nanstd(adj, mean, growth)
        std_r = std if adj is r else _nanstd(r, None, growth)
        sharpe = _ratio(mean, _zero_dispersion(adj, mean, std)) * math.sqrt(ann)
        vol = std_r * math.sqrt(ann)
        req = risk_free if required_return is None else required_return
        adj_s = adj if req == risk_free else _adjust(r, req, "required_return")
        mean_s = mean if adj_s is adj else _nanmean(adj_s)
        sortino = _ratio(mean_s * ann, _downside(adj_s, scratch) * math.sqrt(ann))
    return PerformanceSummary(
        sharpe_ratio=sharpe,
        sortino_ratio=sortino,
        max_drawdown=mdd,
        cagr=cagr_,
        calmar_ratio=_calmar(cagr_, mdd),
        annual_volatility=vol,
        total_return=final - 1.0,
        periods=n,
        annualization=ann,
    )
