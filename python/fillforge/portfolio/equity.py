"""What empyrical lacks: drawdown periods and their duration, exposure and turnover, and an
equity curve that records an account over time and hands its returns to
:mod:`~fillforge.portfolio.metrics`.

Points and indices: an equity curve of ``n + 1`` points has ``n`` returns; point 0 is the start
and point ``k`` the value after ``k`` returns. A drawdown runs from its peak (the last point at
the running high) to its recovery (the first point back at or above that high). A point counts
as below the peak when it is more than one part in 10^12 below it, so a return that recovers the
peak up to floating-point rounding ends the drawdown.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from fillforge.errors import MetricsError
from fillforge.portfolio._series import FloatArray, ReturnsLike, as_array, as_float
from fillforge.portfolio.metrics import (
    PerformanceSummary,
    _growth,
    _relative_to_peak,
    annualization_factor,
    simple_returns,
    summary,
)
from fillforge.portfolio.trades import fill_fields
from fillforge.time import NS_PER_DAY

__all__ = [
    "DrawdownPeriod",
    "EquityCurve",
    "PeriodsPerYear",
    "drawdown_periods",
    "gross_exposure",
    "longest_drawdown",
    "net_exposure",
    "notional_by_period",
    "time_in_market",
    "turnover",
    "turnover_series",
]

_UNDER: Final = 1.0 - 1e-12  # below the peak by more than rounding

PeriodsPerYear = float | int | Callable[[int, int], float]
"""Periods per year: a number (252 for daily bars), or a callable given the curve's first and
last times (ns) that returns the number, e.g. the trading calendar's sessions per year."""


# --- drawdown periods ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DrawdownPeriod:
    """One drawdown. ``peak``, ``trough`` and ``end`` are point indices (0 the start, ``k``
    after ``k`` returns); ``end`` is the recovery, None while still below the peak. ``depth``
    is the trough's fall from the peak (negative). ``periods`` counts the returns from the peak
    to the recovery (to the last point if not recovered); ``days`` the calendar days between
    those points when times were given."""

    peak: int
    trough: int
    end: int | None
    depth: float
    periods: int
    days: float | None = None

    @property
    def recovered(self) -> bool:
        return self.end is not None


def _times(times_ns: Sequence[int] | npt.NDArray[np.int64] | None, n: int) -> Any:
    """The n + 1 point times (an int64 array), or None. ``n`` times stand for the points after
    each return; the start is then taken at the first return's time."""
    if times_ns is None:
        return None
    try:
        t = np.asarray(times_ns, dtype=np.int64)
    except (TypeError, ValueError, OverflowError):
        raise MetricsError("times_ns", "...", "must be int nanoseconds") from None
    if t.ndim != 1 or t.size not in (n, n + 1):
        raise MetricsError("times_ns", f"{t.size} times", f"must be {n} or {n + 1}")
    if t.size > 1 and not bool(np.all(t[1:] > t[:-1])):
        bad = int(np.flatnonzero(t[1:] <= t[:-1])[0]) + 1
        raise MetricsError(f"times_ns[{bad}]", int(t[bad]), "times must strictly increase")
    return t if t.size == n + 1 else np.concatenate([t[:1], t])


def _runs(rel: FloatArray) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """Peaks and recovery points (``n + 1`` for none) of the runs of points below the peak;
    ``rel`` is each point after the start over its running peak."""
    under = np.zeros(rel.size + 2, dtype=np.int8)
    under[1:-1] = rel < _UNDER
    step = np.diff(under)
    peaks = np.flatnonzero(step == 1)  # the point before the first one below
    ends = np.flatnonzero(step == -1) + 1  # the first point back at the peak
    return peaks, ends


def _rel(returns: ReturnsLike) -> FloatArray:
    r = as_array("returns", returns)
    return _relative_to_peak(_growth(r)) if r.size else r.copy()


def drawdown_periods(
    returns: ReturnsLike, times_ns: Sequence[int] | npt.NDArray[np.int64] | None = None
) -> list[DrawdownPeriod]:
    """Every drawdown of the return series, in order (NaN returns count as 0%)."""
    rel = _rel(returns)
    t = _times(times_ns, rel.size)
    peaks, ends = _runs(rel)
    return [_period(rel, t, int(p), int(e)) for p, e in zip(peaks, ends, strict=True)]


def longest_drawdown(
    returns: ReturnsLike, times_ns: Sequence[int] | npt.NDArray[np.int64] | None = None
) -> DrawdownPeriod | None:
    """The longest drawdown: in calendar time when ``times_ns`` are given, else in periods (the
    earliest on a tie); None if the series never falls below its running peak."""
    rel = _rel(returns)
    t = _times(times_ns, rel.size)
    peaks, ends = _runs(rel)
    if peaks.size == 0:
        return None
    last = np.minimum(ends, rel.size)  # an unrecovered drawdown lasts to the last point
    length = (t[last] - t[peaks]) if t is not None else (last - peaks)
    i = int(np.argmax(length))
    return _period(rel, t, int(peaks[i]), int(ends[i]))


def _period(rel: FloatArray, t: Any, peak: int, end: int) -> DrawdownPeriod:
    n = rel.size
    last = min(end, n)
    # rel[k - 1] is point k; the points below the peak are peak + 1 .. end - 1.
    window = rel[peak : end - 1]
    trough = peak + 1 + int(np.nanargmin(window))
    days = None if t is None else float(t[last] - t[peak]) / NS_PER_DAY
    return DrawdownPeriod(
        peak=peak,
        trough=trough,
        end=end if end <= n else None,
        depth=float(rel[trough - 1]) - 1.0,
        periods=last - peak,
        days=days,
    )


# --- exposure and turnover -------------------------------------------------------------------


def _matrix(field: str, values: Any) -> FloatArray:
    try:
        x = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise MetricsError(field, "...", "must be numbers, one row per period") from None
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2:
        raise MetricsError(field, f"shape {x.shape}", "must be 1-D or 2-D (periods x symbols)")
    return x


def _equity(equity: Any, n: int) -> FloatArray:
    e = as_array("equity", equity)
    if e.size != n:
        raise MetricsError("equity", f"{e.size} values", f"must have one per period ({n})")
    if e.size and not bool(np.all(e > 0)):
        bad = int(np.flatnonzero(~(e > 0))[0])
        raise MetricsError(f"equity[{bad}]", float(e[bad]), "must be positive")
    return e


def gross_exposure(position_values: Any, equity: Any) -> FloatArray:
    """Per period, the sum of the absolute market values of the positions over the equity
    (1.5 is 150% of equity at risk, longs and shorts both counting). ``position_values`` is one
    row per period, one column per symbol (signed market values; a 1-D array is one symbol)."""
    v = _matrix("position_values", position_values)
    return np.asarray(np.abs(v).sum(axis=1) / _equity(equity, v.shape[0]), dtype=np.float64)


def net_exposure(position_values: Any, equity: Any) -> FloatArray:
    """Per period, the signed sum of the market values over the equity (shorts offset longs)."""
    v = _matrix("position_values", position_values)
    return np.asarray(v.sum(axis=1) / _equity(equity, v.shape[0]), dtype=np.float64)


def time_in_market(position_values: Any) -> float:
    """The fraction of periods with any position (NaN with no period)."""
    v = _matrix("position_values", position_values)
    if v.shape[0] == 0:
        return math.nan
    return float(np.mean(np.any(v != 0, axis=1)))


def notional_by_period(fills: Iterable[Any], times_ns: Any) -> FloatArray:
    """The notional traded (``|qty * price|``) in each period of a curve with points at
    ``times_ns``: a fill at time ``t`` counts at the first point at or after ``t`` (fills at or
    before the first point count there; fills after the last point are refused). Fills are
    tuples or objects as :func:`~fillforge.portfolio.trades.round_trips` takes them."""
    t = np.asarray(times_ns, dtype=np.int64)
    if t.ndim != 1 or t.size == 0 or (t.size > 1 and not bool(np.all(t[1:] > t[:-1]))):
        raise MetricsError("times_ns", f"{t.size} times", "must be strictly increasing")
    out = np.zeros(t.size)
    for i, fill in enumerate(fills):
        fields = fill_fields(fill)
        when = fields[5] if len(fields) > 5 else 0
        if isinstance(when, bool) or not isinstance(when, (int, np.integer)):
            raise MetricsError(f"fills[{i}].time_ns", when, "must be int nanoseconds")
        k = int(np.searchsorted(t, when, side="left"))
        if k == t.size:
            raise MetricsError(f"fills[{i}].time_ns", when, f"after the last point {t[-1]}")
        qty = as_float(f"fills[{i}].qty", fields[2])
        price = as_float(f"fills[{i}].price", fields[3])
        out[k] += abs(qty * price)
    return out


def turnover_series(traded_notional: Any, equity: Any) -> FloatArray:
    """Per period, the notional traded (buys plus sells, ``sum |qty * price|``) over the
    equity: 2.0 when the whole book was sold and bought back. Halve it for the one-way figure
    some report."""
    traded = as_array("traded_notional", traded_notional)
    if traded.size and not bool(np.all(traded >= 0)):
        bad = int(np.flatnonzero(~(traded >= 0))[0])
        raise MetricsError(f"traded_notional[{bad}]", float(traded[bad]), "must be >= 0")
    return np.asarray(traded / _equity(equity, traded.size), dtype=np.float64)


def turnover(
    traded_notional: Any,
    equity: Any,
    period: str = "daily",
    annualization: float | None = None,
) -> float:
    """The annual turnover: the mean of :func:`turnover_series` times the periods per year
    (NaN with no period)."""
    ann = annualization_factor(period, annualization)
    series = turnover_series(traded_notional, equity)
    return float(series.mean()) * ann if series.size else math.nan


# --- the equity curve ------------------------------------------------------------------------


class EquityCurve:
    """An account's equity over time, point by point, and what follows from it: returns,
    drawdowns, exposure, turnover and the performance summary.

    :meth:`append` takes a time (int ns, never going back), the equity (Decimal converted once
    to float; it must be positive), and optionally the gross and net market value of the
    positions and the notional traded since the previous point. A point at the time of the last
    one replaces it (one value per instant, the latest; the traded notional adds up).
    ``periods_per_year`` annualises (252 for daily points), or is a callable given the first
    and last times, for a trading calendar's sessions per year (``docs/portfolio-analytics.md``
    shows one on ``TradingCalendar``)."""

    __slots__ = ("_cache", "_equity", "_gross", "_net", "_ppy", "_times", "_traded")

    def __init__(self, periods_per_year: PeriodsPerYear = 252) -> None:
        if not callable(periods_per_year):
            annualization_factor(annualization=periods_per_year)  # refuses a bad number
        self._ppy = periods_per_year
        self._times: list[int] = []
        self._equity: list[float] = []
        self._gross: list[float] = []
        self._net: list[float] = []
        self._traded: list[float] = []
        self._cache: dict[str, Any] = {}

    def __len__(self) -> int:
        return len(self._times)

    def append(
        self,
        time_ns: int,
        equity: Decimal | float | int,
        *,
        gross: Decimal | float | int = 0,
        net: Decimal | float | int = 0,
        traded: Decimal | float | int = 0,
    ) -> None:
        """Record one point, or replace the last one at the same time; refused (nothing
        recorded) if the time goes back or a value is not a finite number (equity positive,
        gross and traded not negative)."""
        if isinstance(time_ns, bool) or not isinstance(time_ns, (int, np.integer)):
            raise MetricsError("time_ns", time_ns, "must be int nanoseconds")
        if self._times and time_ns < self._times[-1]:
            raise MetricsError("time_ns", time_ns, f"before the last point ({self._times[-1]})")
        e = as_float("equity", equity)
        if e <= 0:
            raise MetricsError("equity", equity, "must be positive (returns need it)")
        g, nt, tr = as_float("gross", gross), as_float("net", net), as_float("traded", traded)
        if g < 0 or tr < 0:
            raise MetricsError("gross" if g < 0 else "traded", min(g, tr), "must be >= 0")
        self._cache.clear()
        if self._times and time_ns == self._times[-1]:
            self._equity[-1], self._gross[-1], self._net[-1] = e, g, nt
            self._traded[-1] += tr
            return
        self._times.append(int(time_ns))
        self._equity.append(e)
        self._gross.append(g)
        self._net.append(nt)
        self._traded.append(tr)

    def _array(self, name: str, values: list[Any], dtype: Any = np.float64) -> Any:
        arr = self._cache.get(name)
        if arr is None:
            arr = self._cache[name] = np.asarray(values, dtype=dtype)
            arr.flags.writeable = False
        return arr

    @property
    def times_ns(self) -> npt.NDArray[np.int64]:
        return self._array("times", self._times, np.int64)  # type: ignore[no-any-return]

    @property
    def equity(self) -> FloatArray:
        return self._array("equity", self._equity)  # type: ignore[no-any-return]

    def returns(self) -> FloatArray:
        """The simple return between consecutive points (one fewer than the points)."""
        r = self._cache.get("returns")
        if r is None:
            r = self._cache["returns"] = simple_returns(self.equity)
            r.flags.writeable = False
        return r

    def periods_per_year(self) -> float:
        """The number, or the callable's answer for the curve's first and last times."""
        if not callable(self._ppy):
            return float(self._ppy)
        if len(self._times) < 2:
            raise MetricsError("periods_per_year", "callable", "needs at least two points")
        value = self._ppy(self._times[0], self._times[-1])
        return annualization_factor(annualization=value)

    def summary(self, risk_free: float = 0) -> PerformanceSummary:
        """:func:`~fillforge.portfolio.metrics.summary` of the returns, annualised with
        :meth:`periods_per_year` (every figure NaN before two points)."""
        if len(self._times) < 2:
            ann = math.nan if callable(self._ppy) else float(self._ppy)
            nan = math.nan
            return PerformanceSummary(nan, nan, nan, nan, nan, nan, nan, 0, ann)
        return summary(self.returns(), risk_free, annualization=self.periods_per_year())

    def drawdowns(self) -> list[DrawdownPeriod]:
        """Every drawdown, with its duration in periods and in calendar days."""
        return drawdown_periods(self.returns(), self.times_ns)

    def longest_drawdown(self) -> DrawdownPeriod | None:
        """The drawdown that lasted longest in calendar time."""
        return longest_drawdown(self.returns(), self.times_ns)

    def gross_exposure(self) -> FloatArray:
        """Gross market value over equity at each point."""
        return np.asarray(self._array("gross", self._gross) / self.equity, dtype=np.float64)

    def net_exposure(self) -> FloatArray:
        """Net market value over equity at each point."""
        return np.asarray(self._array("net", self._net) / self.equity, dtype=np.float64)

    def turnover(self) -> float:
        """Annual turnover: the notional traded at each point after the first over that point's
        equity, averaged and times :meth:`periods_per_year`."""
        if len(self._times) < 2:
            return math.nan
        traded = self._array("traded", self._traded)
        return turnover(traded[1:], self.equity[1:], annualization=self.periods_per_year())
