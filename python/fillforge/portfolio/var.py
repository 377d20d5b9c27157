"""Value at risk, expected shortfall, and stress and scenario tests, from daily returns.

Sign convention: a **VaR or CVaR is a loss, reported positive** (0.023 is a 2.3% loss; in
currency, 23,000.0 is a loss of 23,000). It comes out negative only when even the tail of the
distribution is a gain. A **P&L is signed** (negative is a loss): :class:`StressResult` reports
P&L, and its :attr:`~StressResult.loss` is minus that.

- Historical VaR at confidence ``c`` is minus the ``1 - c`` quantile of the returns (or P&L),
  interpolated linearly between order statistics (numpy's default ``linear`` method, Hyndman and
  Fan's type 7): ``historical_var(r, 0.99) == -empyrical.value_at_risk(r, cutoff=0.01)``.
- Historical CVaR (expected shortfall) is minus the mean of the ``k = floor((n - 1)(1 - c)) + 1``
  smallest observations (empyrical's ``conditional_value_at_risk`` rule). That tail includes
  the order statistic at or below the VaR quantile, so CVaR >= VaR always.
- Parametric VaR and CVaR assume normal returns with the sample mean and the sample standard
  deviation (``ddof=1``): ``VaR = z*s - m`` and ``CVaR = s*phi(z)/(1 - c) - m``, with ``z`` the
  standard normal ``c`` quantile and ``phi`` its density.
- A portfolio's daily P&L is ``sum_i e_i * r_i,t`` for signed exposures ``e_i`` (market values,
  short negative) held constant. Over ``horizon_days = h > 1`` the historical method uses every
  overlapping window of ``h`` days, compounding each symbol's returns over it
  (``prod(1 + r) - 1``, the positions held through the window); the parametric method scales the
  daily mean by ``h`` and the standard deviation by ``sqrt(h)``.

Input: return series must be finite (a NaN is refused with the element's index, never dropped: a
dropped day would misalign the symbols of a portfolio). Every refusal is a
:class:`~fillforge.errors.MetricsError` naming the field and the value.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from functools import reduce
from statistics import NormalDist
from typing import Any, Final, Literal, TypedDict, Unpack

import numpy as np
import numpy.typing as npt

from fillforge.errors import MetricsError
from fillforge.portfolio._series import (
    FloatArray,
    ReturnsLike,
    as_float,
    check_confidence,
    check_count,
    finite_array,
)
from fillforge.portfolio.metrics import simple_returns

__all__ = [
    "StressResult",
    "VarMethod",
    "VarModel",
    "daily_returns",
    "exposures_of",
    "historical_cvar",
    "historical_scenarios",
    "historical_var",
    "parametric_cvar",
    "parametric_var",
    "portfolio_cvar",
    "portfolio_var",
    "stress",
    "worst_window",
]

VarMethod = Literal["historical", "parametric"]
_METHODS: Final = ("historical", "parametric")
_NORMAL: Final = NormalDist()

Exposures = Mapping[str, float | Decimal]


# --- one series ------------------------------------------------------------------------------


def historical_var(returns: ReturnsLike, confidence: float = 0.99) -> float:
    """Historical VaR of a return series: minus its ``1 - confidence`` quantile (linear
    interpolation), a positive fraction for a loss. At least one finite return."""
    c = check_confidence(confidence)
    r = finite_array("returns", returns)
    return _hist_var(r, c)


def historical_cvar(returns: ReturnsLike, confidence: float = 0.99) -> float:
    """Historical CVaR (expected shortfall): minus the mean of the
    ``floor((n - 1)(1 - confidence)) + 1`` worst returns. Never below :func:`historical_var`."""
    c = check_confidence(confidence)
    r = finite_array("returns", returns)
    return _hist_cvar(r, c)


def parametric_var(returns: ReturnsLike, confidence: float = 0.99) -> float:
    """Normal VaR: ``z_c * s - m`` with the sample mean ``m`` and the sample standard deviation
    ``s`` (ddof 1). At least two finite returns."""
    c = check_confidence(confidence)
    r = finite_array("returns", returns, min_len=2)
    return _norm_var(float(r.mean()), float(r.std(ddof=1)), c)


def parametric_cvar(returns: ReturnsLike, confidence: float = 0.99) -> float:
    """Normal CVaR: ``s * phi(z_c) / (1 - c) - m``. At least two finite returns."""
    c = check_confidence(confidence)
    r = finite_array("returns", returns, min_len=2)
    return _norm_cvar(float(r.mean()), float(r.std(ddof=1)), c)


def _hist_var(x: FloatArray, c: float) -> float:
    return -_quantile(x, 100.0 * (1.0 - c) / 100.0)


def _quantile(x: FloatArray, q: float) -> float:
    """numpy's ``linear`` quantile of finite ``x`` (``np.percentile(x, 100 * q)``, the same
    interpolation), from one partition instead of its general machinery (20 times faster on a
    year of returns: this runs per order in a pre-trade VaR check)."""
    lo, hi, t = _ranks(x.size, q)
    if lo == hi:
        return float(x.max())
    part = np.partition(x, (lo, hi))
    a, b = float(part[lo]), float(part[hi])
    d = b - a
    return b - d * (1.0 - t) if t >= 0.5 else a + d * t


def _ranks(n: int, q: float) -> tuple[int, int, float]:
    """The ``q`` quantile of ``n`` sorted values lies between ranks ``lo`` and ``hi`` (0-based,
    ``hi`` = ``lo + 1`` but at the top), ``t`` of the way from ``lo``."""
    pos = (n - 1) * q
    lo = min(int(pos), n - 1)
    return lo, min(lo + 1, n - 1), pos - lo


def _tail(n: int, c: float) -> int:
    """The rank of the last of the ``floor((n - 1)(1 - c)) + 1`` worst values CVaR averages."""
    return int((n - 1) * (1.0 - c))


def _hist_cvar(x: FloatArray, c: float) -> float:
    k = _tail(x.size, c)
    return -float(np.mean(np.partition(x, k)[: k + 1]))


def _norm_var(mean: float, std: float, c: float) -> float:
    return _NORMAL.inv_cdf(c) * std - mean


def _norm_cvar(mean: float, std: float, c: float) -> float:
    return std * _NORMAL.pdf(_NORMAL.inv_cdf(c)) / (1.0 - c) - mean


# --- a portfolio -----------------------------------------------------------------------------


class VarModel:
    """A portfolio VaR model built once from aligned daily return series, then asked for the VaR
    of any set of exposures (a pre-trade check asks it per order: the series are checked and
    stacked once, each question is a matrix-vector product and a partition).

    ``returns`` maps each symbol to its daily simple returns, all of the same length and aligned
    by day (row ``t`` of every series is the same session). Symbols asked about later must be
    among them; a symbol with a zero exposure may be absent.
    """

    __slots__ = (
        "_c",
        "_col",
        "_cov",
        "_h",
        "_m",
        "_mean",
        "_tail",
        "_z",
        "method",
        "n_days",
        "symbols",
    )

    def __init__(
        self,
        returns: Mapping[str, ReturnsLike],
        *,
        confidence: float = 0.99,
        method: VarMethod = "historical",
        horizon_days: int = 1,
    ) -> None:
        self._c = check_confidence(confidence)
        self._z = _NORMAL.inv_cdf(self._c)
        self._tail = _NORMAL.pdf(self._z) / (1.0 - self._c)  # CVaR's multiple of the std
        if method not in _METHODS:
            raise MetricsError("method", method, f"must be one of {', '.join(_METHODS)}")
        self._h = check_count("horizon_days", horizon_days)
        if not isinstance(returns, Mapping):
            raise MetricsError("returns", type(returns).__name__, "must map symbol to returns")
        self.method: VarMethod = method
        for s in returns:
            if not isinstance(s, str) or not s:
                raise MetricsError("returns", s, "a symbol must be a non-empty string")
        self.symbols: tuple[str, ...] = tuple(returns)
        self._col = {s: i for i, s in enumerate(self.symbols)}
        cols = [finite_array(f"returns[{s}]", returns[s], min_len=2) for s in self.symbols]
        n = cols[0].size if cols else 0
        for s, col in zip(self.symbols, cols, strict=True):
            if col.size != n:
                raise MetricsError(f"returns[{s}]", f"{col.size} values", f"must have {n}")
        if method == "historical" and self._h > max(n, 1):
            raise MetricsError("horizon_days", horizon_days, f"exceeds the {n} days of returns")
        self.n_days = n
        daily = np.column_stack(cols) if cols else np.empty((0, 0))
        self._m = _compound(daily, self._h) if method == "historical" else daily
        self._mean = daily.mean(axis=0) if cols else np.empty(0)
        self._cov = np.atleast_2d(np.cov(daily, rowvar=False, ddof=1)) if cols else np.empty(0)

    def pnl(self, exposures: Exposures) -> FloatArray:
        """The P&L the exposures would have made over each historical day (each overlapping
        ``horizon_days`` window for the historical method), oldest first."""
        e = self._vector(exposures)
        if self.method == "historical":
            return self._m @ e
        return _compound(self._m, self._h) @ e

    def var(self, exposures: Exposures) -> float:
        """The VaR of the exposures in currency, positive for a loss (0.0 for no exposure)."""
        return self._measure(exposures, _hist_var, self._z)

    def cvar(self, exposures: Exposures) -> float:
        """The CVaR (expected shortfall) of the exposures in currency, positive for a loss."""
        return self._measure(exposures, _hist_cvar, self._tail)

    def _measure(
        self, exposures: Exposures, historical: Callable[[FloatArray, float], float], k: float
    ) -> float:
        """The VaR or CVaR: ``historical`` of the P&L series, or (parametric) ``k`` standard
        deviations of the P&L less its mean (``k``: the VaR quantile or the CVaR multiple)."""
        e = self._vector(exposures)
        if not e.any():
            return 0.0
        if self.method == "historical":
            return historical(self._m @ e, self._c)
        mean, std = self._moments(e)
        return k * std - mean

    def contributions(
        self, exposures: Exposures, measure: Literal["var", "cvar"] = "var"
    ) -> dict[str, float]:
        """Each symbol's share of the VaR (or CVaR), in currency; the shares sum to the whole
        (Euler allocation: ``e_i * d VaR / d e_i``). Historical: minus each symbol's P&L on the
        days that set the quantile (the two order statistics it interpolates between, with the
        same weights) or, for CVaR, averaged over the tail days. Parametric:
        ``e_i * (z * (S e)_i / sigma - h * mu_i)`` with ``z`` the VaR quantile or the CVaR
        multiple ``phi(z) / (1 - c)``. A symbol with no exposure contributes 0."""
        if measure not in ("var", "cvar"):
            raise MetricsError("measure", measure, "must be 'var' or 'cvar'")
        e = self._vector(exposures)
        if not e.any():
            return dict.fromkeys(self.symbols, 0.0)
        if self.method == "parametric":
            std = self._moments(e)[1]  # sqrt(h) * sigma
            k = self._z if measure == "var" else self._tail
            share = -e * self._h * self._mean
            if std > 0:  # d(sqrt(h) * sigma) / de = h * S e / (sqrt(h) * sigma)
                share += e * (k * self._h * (self._cov @ e) / std)
        else:
            pnl_by = self._m * e  # each day's P&L by symbol
            pnl = pnl_by.sum(axis=1)
            n = pnl.size
            if measure == "cvar":
                k = _tail(n, self._c)
                tail = np.argpartition(pnl, k)[: k + 1]
                share = -pnl_by[tail].mean(axis=0)
            else:
                lo, hi, t = _ranks(n, 100.0 * (1.0 - self._c) / 100.0)
                order = np.argpartition(pnl, (lo, hi)) if n > 1 else np.zeros(1, dtype=np.intp)
                share = -(pnl_by[order[lo]] * (1.0 - t) + pnl_by[order[hi]] * t)
        return {s: float(share[i]) for i, s in enumerate(self.symbols)}

    def _moments(self, e: FloatArray) -> tuple[float, float]:
        mean = float(self._mean @ e) * self._h
        variance = max(float(e @ self._cov @ e), 0.0)
        return mean, math.sqrt(variance * self._h)

    def _vector(self, exposures: Exposures) -> FloatArray:
        if not isinstance(exposures, Mapping):
            raise MetricsError("exposures", type(exposures).__name__, "must map symbol to value")
        e = [0.0] * len(self.symbols)
        col = self._col
        for s, v in exposures.items():
            f = v if v.__class__ is float and math.isfinite(v) else _exposure(s, v)
            i = col.get(s)
            if i is None:
                if _exposure(s, v) == 0.0:  # a bad symbol is refused as such
                    continue
                raise MetricsError(f"returns[{s}]", None, "no return series for an exposure")
            e[i] = f
        return np.array(e)


class VarTerms(TypedDict, total=False):
    """:class:`VarModel`'s keywords, as :func:`portfolio_var` and :func:`portfolio_cvar` take
    them (defaults: ``confidence=0.99``, ``method="historical"``, ``horizon_days=1``)."""

    confidence: float
    method: VarMethod
    horizon_days: int


def portfolio_var(
    exposures: Exposures, returns: Mapping[str, ReturnsLike], **terms: Unpack[VarTerms]
) -> float:
    """The VaR in currency (positive = loss) of signed exposures (market values, a short
    negative) given aligned daily return series per symbol. See the module's conventions; to
    ask many times over the same history, build a :class:`VarModel` once."""
    return VarModel(returns, **terms).var(exposures)


def portfolio_cvar(
    exposures: Exposures, returns: Mapping[str, ReturnsLike], **terms: Unpack[VarTerms]
) -> float:
    """The CVaR (expected shortfall) in currency, positive = loss; as :func:`portfolio_var`."""
    return VarModel(returns, **terms).cvar(exposures)


# --- stress and scenarios --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StressResult:
    """A scenario's P&L on the exposures: signed, negative for a loss.

    ``shocks`` is the return applied to each exposed symbol, ``pnl_by_symbol`` each symbol's
    P&L (``exposure * shock``), ``pnl_by_sector`` their sums per sector (only when a sector map
    was given; a symbol the map does not name counts in no sector but in the total). For a
    historical scenario, ``start`` and ``end`` are the window's row indices in the return
    series (``end`` exclusive)."""

    name: str
    total: float
    pnl_by_symbol: Mapping[str, float]
    shocks: Mapping[str, float]
    pnl_by_sector: Mapping[str, float] = field(default_factory=dict)
    start: int | None = None
    end: int | None = None

    @property
    def loss(self) -> float:
        """Minus :attr:`total`: positive when the scenario loses money."""
        return -self.total


def stress(
    exposures: Exposures,
    shocks_by_symbol: Mapping[str, float | Decimal] | None = None,
    shocks_by_sector: Mapping[str, float | Decimal] | None = None,
    sectors: Mapping[str, str] | None = None,
    *,
    name: str = "stress",
) -> StressResult:
    """Apply instantaneous price shocks (simple returns, -0.2 for a 20% fall) to the exposures.

    A symbol's own shock wins over its sector's; a symbol with neither is unshocked (P&L 0).
    Shocks for symbols or sectors the portfolio does not hold are ignored. ``shocks_by_sector``
    needs ``sectors`` (symbol to sector). A shock below -1 (a price below zero) is refused."""
    exp = _exposures(exposures)
    by_symbol = _shocks("shocks_by_symbol", shocks_by_symbol)
    by_sector = _shocks("shocks_by_sector", shocks_by_sector)
    if by_sector and sectors is None:
        raise MetricsError("sectors", None, "a sector map is needed with shocks_by_sector")
    sector_of = _sectors(sectors)
    shocks: dict[str, float] = {}
    for s in exp:
        if s in by_symbol:
            shocks[s] = by_symbol[s]
        elif s in sector_of and sector_of[s] in by_sector:
            shocks[s] = by_sector[sector_of[s]]
        else:
            shocks[s] = 0.0
    return _result(name, exp, shocks, sector_of)


def worst_window(
    exposures: Exposures,
    returns: Mapping[str, ReturnsLike],
    days: int = 1,
    *,
    sectors: Mapping[str, str] | None = None,
    name: str | None = None,
) -> StressResult:
    """The historical scenario of the ``days`` consecutive days (each symbol's returns compounded
    over them) that would have cost the current exposures the most; the earliest on a tie.
    Its total equals the worst P&L the historical :class:`VarModel` sees at that horizon."""
    days = check_count("days", days)
    exp = _exposures(exposures)
    model = VarModel(returns, horizon_days=days)
    sector_of = _sectors(sectors)
    label = name if name is not None else ("worst_day" if days == 1 else f"worst_{days}_days")
    if not exp or not model.symbols:
        return _result(label, exp, dict.fromkeys(exp, 0.0), sector_of)
    pnl = model.pnl(exp)
    start = int(np.argmin(pnl))
    row = model._m[start]
    shocks = {s: float(row[model._col[s]]) if s in model._col else 0.0 for s in exp}
    return _result(label, exp, shocks, sector_of, start=start, end=start + days)


def historical_scenarios(
    exposures: Exposures,
    returns: Mapping[str, ReturnsLike],
    windows: Iterable[int] = (1, 5),
    *,
    sectors: Mapping[str, str] | None = None,
) -> dict[str, StressResult]:
    """The named historical scenarios: ``worst_day`` and ``worst_5_days`` by default (one per
    window length, ``worst_{n}_days``), each from :func:`worst_window`."""
    out: dict[str, StressResult] = {}
    for days in windows:
        r = worst_window(exposures, returns, days, sectors=sectors)
        out[r.name] = r
    return out


# --- inputs from bars and positions ---------------------------------------------------------


def daily_returns(bars: Mapping[str, Any]) -> tuple[npt.NDArray[np.int64], dict[str, FloatArray]]:
    """Aligned close-to-close returns from each symbol's daily bars (a
    :class:`~fillforge.marketdata.columns.Bars`, or anything with ``time_ns`` and ``close``
    arrays): on the sessions every symbol has (a session one symbol lacks is dropped for all,
    so a return may span it), each symbol's ``close[t] / close[t-1] - 1`` (integer tick closes
    are differenced exactly). Returns the time of each return (its later bar's) and the returns
    by symbol, ready for :class:`VarModel`, :func:`stress` and the historical scenarios."""
    if not isinstance(bars, Mapping) or not bars:
        raise MetricsError("bars", type(bars).__name__, "must map symbol to daily bars")
    series: dict[str, tuple[npt.NDArray[np.int64], Any]] = {}
    for s, b in bars.items():
        try:
            t, c = np.asarray(b.time_ns, dtype=np.int64), np.asarray(b.close)
        except AttributeError:
            raise MetricsError(f"bars[{s}]", type(b).__name__, "needs time_ns and close") from None
        if t.ndim != 1 or c.shape != t.shape or (t.size > 1 and not bool(np.all(t[1:] > t[:-1]))):
            raise MetricsError(f"bars[{s}]", f"{t.size} bars", "times must strictly increase")
        if not bool(np.all(c > 0)):
            raise MetricsError(f"bars[{s}].close", "...", "closes must be positive")
        series[s] = (t, c)
    common = reduce(np.intersect1d, (t for t, _ in series.values()))
    if common.size < 2:
        raise MetricsError("bars", f"{common.size} common sessions", "needs at least 2")
    out = {s: simple_returns(c[np.searchsorted(t, common)]) for s, (t, c) in series.items()}
    return common[1:], out


def exposures_of(positions: Mapping[str, Any] | Iterable[Any]) -> dict[str, Decimal]:
    """Each position's market value (signed, exact): the exposures of the current portfolio,
    from a ledger's or a broker's positions (``Ledger.positions()``, ``broker.positions()``)."""
    items: Iterable[Any] = positions.values() if isinstance(positions, Mapping) else positions
    out: dict[str, Decimal] = {}
    for p in items:
        try:
            out[p.symbol] = p.market_value
        except AttributeError:
            raise MetricsError("positions", type(p).__name__, "a Position is needed") from None
    return out


# --- helpers ---------------------------------------------------------------------------------


def _compound(daily: FloatArray, h: int) -> FloatArray:
    """Each column's simple return over every window of ``h`` consecutive rows."""
    if h == 1 or daily.size == 0:
        return daily
    windows = np.lib.stride_tricks.sliding_window_view(daily + 1.0, h, axis=0)
    return np.asarray(windows.prod(axis=-1) - 1.0, dtype=np.float64)


def _exposures(exposures: object) -> dict[str, float]:
    if not isinstance(exposures, Mapping):
        raise MetricsError("exposures", type(exposures).__name__, "must map symbol to value")
    return {s: _exposure(s, v) for s, v in exposures.items()}


def _exposure(symbol: object, value: object) -> float:
    if not isinstance(symbol, str) or not symbol:
        raise MetricsError("exposures", symbol, "a symbol must be a non-empty string")
    return as_float(f"exposures[{symbol}]", value)


def _shocks(field_name: str, shocks: Mapping[str, float | Decimal] | None) -> dict[str, float]:
    if shocks is None:
        return {}
    if not isinstance(shocks, Mapping):
        raise MetricsError(field_name, type(shocks).__name__, "must map a name to a return")
    out: dict[str, float] = {}
    for k, v in shocks.items():
        f = as_float(f"{field_name}[{k}]", v)
        if f < -1.0:
            raise MetricsError(f"{field_name}[{k}]", v, "a price cannot fall more than 100%")
        out[k] = f
    return out


def _sectors(sectors: Mapping[str, str] | None) -> dict[str, str]:
    if sectors is None:
        return {}
    if not isinstance(sectors, Mapping):
        raise MetricsError("sectors", type(sectors).__name__, "must map symbol to sector")
    return dict(sectors)


def _result(
    name: str,
    exp: Mapping[str, float],
    shocks: Mapping[str, float],
    sector_of: Mapping[str, str],
    *,
    start: int | None = None,
    end: int | None = None,
) -> StressResult:
    pnl = {s: v * shocks[s] for s, v in exp.items()}
    by_sector: dict[str, float] = {}
    for s, p in pnl.items():
        if s in sector_of:
            by_sector[sector_of[s]] = by_sector.get(sector_of[s], 0.0) + p
    return StressResult(
        name=name,
        total=math.fsum(pnl.values()),
        pnl_by_symbol=pnl,
        shocks=dict(shocks),
        pnl_by_sector=by_sector,
        start=start,
        end=end,
    )
