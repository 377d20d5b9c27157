"""The indicators the execution layer itself needs: true range and ATR (Wilder), returns, rolling
mean and standard deviation, realised volatility. Not a TA library: a strategy's own signals are
any array or callable it computes (``docs/indicators.md``).

Each comes twice, and the two agree (``tests/test_indicators.py`` proves it on random bars):

- **vectorised**, a function over a whole series that returns a float64 array of the same length,
  NaN where the indicator is not ready yet (before its window is full);
- **incremental**, a class fed one observation at a time: ``update(...)`` returns the new value,
  or None until ready; ``value`` is the latest, ``ready`` says whether there is one, ``reset()``
  forgets everything.

Numbers come in as floats, ints or Decimals (a Decimal is converted once, correctly rounded) and
go out as floats: an indicator is a statistic, not money. Refusals are
:class:`~fillforge.errors.IndicatorError` naming the field (``close[17]``) and the value, raised
before anything changes. The formulas and the precision each one keeps are in
``docs/indicators.md``.
"""

from __future__ import annotations

import math
import numbers
from collections import deque
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any, Final, TypeAlias

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import sliding_window_view

from fillforge.errors import IndicatorError

__all__ = [
    "ATR",
    "RealisedVol",
    "Returns",
    "RollingMean",
    "RollingStd",
    "atr",
    "realised_vol",
    "returns",
    "rolling_mean",
    "rolling_std",
    "true_range",
]

FloatArray: TypeAlias = npt.NDArray[np.float64]
Number: TypeAlias = float | int | Decimal | np.floating[Any] | np.integer[Any]
Series: TypeAlias = npt.ArrayLike | Sequence[Decimal]
"""A 1-D series: a numpy array or any sequence of numbers (Decimals included)."""

# Rolling windows are reduced this many elements at a time, so a long series with a long window
# never allocates series x window floats at once.
_CHUNK: Final = 1 << 20


# ----- input checks ----------------------------------------------------------------------------


def _int(field: str, value: object, least: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise IndicatorError(field, value, f"must be an int >= {least}")
    return value


def _scale(value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
        raise IndicatorError("periods_per_year", value, "must be a positive number")
    f = float(value)
    if not 0 < f < math.inf:
        raise IndicatorError("periods_per_year", value, "must be a positive finite number")
    return math.sqrt(f)


def _number(field: str, value: object) -> float:
    """One observation as a finite float."""
    if type(value) is float and value - value == 0.0:  # the common case: a finite float
        return value
    if isinstance(value, bool) or not isinstance(value, (numbers.Real, Decimal)):
        raise IndicatorError(field, value, "must be a number")
    try:
        f = float(value)
    except OverflowError:
        f = math.inf
    if not math.isfinite(f):
        raise IndicatorError(field, value, "must be a finite number")
    return f


def _array(field: str, values: object) -> FloatArray:
    """A 1-D float64 array (NaN and infinities still in it: the callers decide)."""
    if isinstance(values, (str, bytes, int, float, Decimal)):
        raise IndicatorError(field, values, "must be a 1-D series of numbers, not a scalar")
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        raise IndicatorError(field, type(values).__name__, "must be a series of numbers") from None
    if arr.ndim != 1:
        raise IndicatorError(field, f"shape {arr.shape}", "must be a 1-D series of numbers")
    return arr


def _first_bad(arr: FloatArray, ok: npt.NDArray[np.bool_]) -> int | None:
    if bool(ok.all()):
        return None
    return int(np.flatnonzero(~ok)[0])


def _finite(field: str, values: object) -> FloatArray:
    arr = _array(field, values)
    bad = _first_bad(arr, np.isfinite(arr))
    if bad is not None:
        raise IndicatorError(f"{field}[{bad}]", float(arr[bad]), "must be a finite number")
    return arr


def _warm(field: str, values: object) -> tuple[FloatArray, int]:
    """A series that may start with NaNs (the warm-up of the indicator it was computed from): the
    array and the index of its first number. A NaN after a number, or an infinity, is refused."""
    arr = _array(field, values)
    nan = np.isnan(arr)
    start = int(np.argmin(nan)) if arr.size and not nan.all() else arr.size
    bad = _first_bad(arr[start:], np.isfinite(arr[start:]))
    if bad is not None:
        i = start + bad
        raise IndicatorError(f"{field}[{i}]", float(arr[i]), "must be finite after its warm-up")
    return arr, start


def _ohlc(high: object, low: object, close: object) -> tuple[FloatArray, FloatArray, FloatArray]:
    h, lo, c = _finite("high", high), _finite("low", low), _finite("close", close)
    if not h.size == lo.size == c.size:
        raise IndicatorError("low", f"{lo.size} values", f"high has {h.size}, close {c.size}")
    bad = _first_bad(lo, lo <= h)
    if bad is not None:
        raise IndicatorError(f"low[{bad}]", float(lo[bad]), f"above the high {float(h[bad])}")
    bad = _first_bad(c, (lo <= c) & (c <= h))
    if bad is not None:
        why = f"outside the bar's range [{float(lo[bad])}, {float(h[bad])}]"
        raise IndicatorError(f"close[{bad}]", float(c[bad]), why)
    return h, lo, c


def _bar(high: Number, low: Number, close: Number) -> tuple[float, float, float]:
    h, lo, c = _number("high", high), _number("low", low), _number("close", close)
    if lo > h:
        raise IndicatorError("low", low, f"above the high {high}")
    if not lo <= c <= h:
        raise IndicatorError("close", close, f"outside the bar's range [{low}, {high}]")
    return h, lo, c


# ----- vectorised ------------------------------------------------------------------------------


def true_range(high: Series, low: Series, close: Series) -> FloatArray:
    """Wilder's true range per bar: ``max(high - low, |high - prev close|, |low - prev close|)``;
    the first bar, with no previous close, is ``high - low``. Every bar must have ``low <= close
    <= high``."""
    h, lo, c = _ohlc(high, low, close)
    tr = h - lo
    if tr.size > 1:
        prev = c[:-1]
        tr[1:] = np.maximum(tr[1:], np.maximum(np.abs(h[1:] - prev), np.abs(lo[1:] - prev)))
    return tr


def atr(high: Series, low: Series, close: Series, period: int = 14) -> FloatArray:
    """Wilder's average true range: NaN for the first ``period - 1`` bars; at bar ``period - 1``
    the mean of the first ``period`` true ranges; then ``prev + (tr - prev) / period``."""
    n = _int("period", period, 1)
    tr = true_range(high, low, close)
    out = np.full(tr.size, np.nan)
    if tr.size < n:
        return out
    value = math.fsum(tr[:n].tolist()) / n
    values = [value]
    for x in tr[n:].tolist():  # a first-order recursion: sequential by nature
        value = value + (x - value) / n
        values.append(value)
    out[n - 1 :] = values
    return out


def returns(prices: Series, log: bool = False) -> FloatArray:
    """One-step returns: ``p[t] / p[t-1] - 1``, or ``log(p[t] / p[t-1])`` with ``log=True``; the
    first is NaN. Prices must be positive and finite."""
    p = _finite("prices", prices)
    bad = _first_bad(p, p > 0)
    if bad is not None:
        raise IndicatorError(f"prices[{bad}]", float(p[bad]), "must be positive")
    out = np.full(p.size, np.nan)
    if p.size > 1:
        ratio = p[1:] / p[:-1]
        out[1:] = np.log(ratio) if log else ratio - 1.0
    return out


def _rolling(
    values: FloatArray, start: int, window: int, reduce: Callable[[FloatArray], FloatArray]
) -> FloatArray:
    """``reduce`` over every full window of ``values[start:]``, placed at each window's last
    index; NaN elsewhere."""
    out = np.full(values.size, np.nan)
    x = values[start:]
    if x.size < window:
        return out
    views = sliding_window_view(x, window)
    step = max(1, _CHUNK // window)
    first = start + window - 1
    for s in range(0, views.shape[0], step):
        block = reduce(views[s : s + step])
        out[first + s : first + s + block.size] = block
    return out


def rolling_mean(x: Series, window: int) -> FloatArray:
    """The mean of the last ``window`` values, NaN until a window is full. Leading NaNs (another
    indicator's warm-up) pass through; a NaN after a number is refused."""
    w = _int("window", window, 1)
    arr, start = _warm("x", x)
    return _rolling(arr, start, w, lambda v: v.mean(axis=1))


def _window_var(v: FloatArray, ddof: int) -> FloatArray:
    """The variance of each row: two passes (deviations from the row's mean) with the
    compensation term ``(sum d)**2 / n`` that removes the mean's own rounding error; a row whose
    values are all equal is exactly 0."""
    n = v.shape[1]
    d = v - v.mean(axis=1, keepdims=True)
    ss = np.einsum("ij,ij->i", d, d)
    var = (ss - d.sum(axis=1) ** 2 / n) / (n - ddof)
    var[v.max(axis=1) == v.min(axis=1)] = 0.0
    result: FloatArray = np.maximum(var, 0.0)
    return result


def rolling_std(x: Series, window: int, ddof: int = 1) -> FloatArray:
    """The standard deviation of the last ``window`` values with ``ddof`` delta degrees of
    freedom (1: the sample standard deviation), NaN until a window is full. Needs ``window >
    ddof``. Leading NaNs pass through; a NaN after a number is refused."""
    d = _int("ddof", ddof, 0)
    w = _int("window", window, d + 1)
    arr, start = _warm("x", x)
    return _rolling(arr, start, w, lambda v: np.sqrt(_window_var(v, d)))


def realised_vol(
    returns: Series, window: int, periods_per_year: float | int | None = None
) -> FloatArray:
    """Realised volatility: the root mean square of the last ``window`` returns,
    ``sqrt(mean(r**2))`` (the mean return is taken as zero, as realised variance does), per step
    of the input; times ``sqrt(periods_per_year)`` when given (252 for daily returns). NaN until
    a window is full; leading NaNs (the first of :func:`returns`) pass through."""
    w = _int("window", window, 1)
    root = _scale(periods_per_year)
    arr, start = _warm("returns", returns)
    out = _rolling(arr, start, w, lambda v: np.sqrt(np.einsum("ij,ij->i", v, v) / w))
    return out * root if root is not None else out


# ----- incremental -----------------------------------------------------------------------------


class _Window:
    """The last ``size`` values with their sum and sum of squares kept as exact integers: adding
    and removing never drifts, so nothing needs recomputing and a huge offset loses nothing. The
    mean and variance are rounded once, from the exact sums.

    Every finite double is ``num / 2**k``; the sums are kept scaled by ``2**scale`` (and
    ``2**(2 * scale)``), ``scale`` the largest ``k`` seen since the last clear, so the integers
    stay as small as the data's resolution (about 120 bits for prices in cents)."""

    __slots__ = ("_s1", "_s2", "_scale", "_values", "size")

    def __init__(self, size: int) -> None:
        self.size = size
        self._values: deque[tuple[int, int]] = deque()  # (num, k): the value is num / 2**k
        self._scale = 0
        self._s1 = 0
        self._s2 = 0

    def push(self, x: float) -> bool:
        """Add ``x`` (dropping the oldest when full); True when the window is full."""
        num, den = x.as_integer_ratio()
        k = den.bit_length() - 1
        s = self._scale
        if k > s:  # a finer value: rescale the sums once
            self._s1 <<= k - s
            self._s2 <<= 2 * (k - s)
            self._scale = s = k
        values = self._values
        if len(values) == self.size:
            old, j = values.popleft()
            self._s1 -= old << (s - j)
            self._s2 -= (old * old) << (2 * (s - j))
        values.append((num, k))
        self._s1 += num << (s - k)
        self._s2 += (num * num) << (2 * (s - k))
        return len(values) == self.size

    def clear(self) -> None:
        self._values.clear()
        self._scale = self._s1 = self._s2 = 0

    def mean(self) -> float:
        return self._s1 / (len(self._values) << self._scale)  # int / int: correctly rounded

    def mean_square(self) -> float:
        return self._s2 / (len(self._values) << 2 * self._scale)

    def variance(self, ddof: int) -> float:
        n, s1 = len(self._values), self._s1
        return (n * self._s2 - s1 * s1) / ((n * (n - ddof)) << 2 * self._scale)


class _Incremental:
    """What every incremental indicator shares: the latest value, ready, reset."""

    __slots__ = ("_value",)

    def __init__(self) -> None:
        self._value: float | None = None

    @property
    def value(self) -> float | None:
        """The latest value; None until ready."""
        return self._value

    @property
    def ready(self) -> bool:
        return self._value is not None

    def reset(self) -> None:
        """Forget every observation, as if new."""
        self._value = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(value={self._value!r})"


class ATR(_Incremental):
    """Wilder's average true range, one bar at a time: equal to :func:`atr` at every bar."""

    __slots__ = ("_prev_close", "_seed", "period")

    def __init__(self, period: int = 14) -> None:
        super().__init__()
        self.period = _int("period", period, 1)
        self._prev_close: float | None = None
        self._seed: list[float] = []

    def update(self, high: Number, low: Number, close: Number) -> float | None:
        """Add a bar (``low <= close <= high``); the ATR, or None for the first ``period - 1``."""
        h, lo, c = _bar(high, low, close)
        pc = self._prev_close
        tr = h - lo if pc is None else max(h - lo, abs(h - pc), abs(lo - pc))
        self._prev_close = c
        n = self.period
        if self._value is not None:
            self._value = self._value + (tr - self._value) / n
        else:
            self._seed.append(tr)
            if len(self._seed) == n:
                self._value = math.fsum(self._seed) / n
                self._seed.clear()
        return self._value

    def reset(self) -> None:
        super().reset()
        self._prev_close = None
        self._seed.clear()


class Returns(_Incremental):
    """One-step returns, one price at a time: equal to :func:`returns` (None for the first)."""

    __slots__ = ("_prev", "log")

    def __init__(self, log: bool = False) -> None:
        super().__init__()
        self.log = bool(log)
        self._prev: float | None = None

    def update(self, price: Number) -> float | None:
        p = _number("price", price)
        if p <= 0:
            raise IndicatorError("price", price, "must be positive")
        prev, self._prev = self._prev, p
        if prev is not None:
            ratio = p / prev
            self._value = float(np.log(ratio)) if self.log else ratio - 1.0
        return self._value

    def reset(self) -> None:
        super().reset()
        self._prev = None


class _Rolling(_Incremental):
    __slots__ = ("_window", "window")

    def __init__(self, window: int, least: int = 1) -> None:
        super().__init__()
        self.window = _int("window", window, least)
        self._window = _Window(self.window)

    def _push(self, field: str, value: Number) -> bool:
        return self._window.push(_number(field, value))

    def reset(self) -> None:
        super().reset()
        self._window.clear()


class RollingMean(_Rolling):
    """The mean of the last ``window`` values, one value at a time (exact sums, rounded once)."""

    __slots__ = ()

    def update(self, x: Number) -> float | None:
        if self._push("x", x):
            self._value = self._window.mean()
        return self._value


class RollingStd(_Rolling):
    """The standard deviation of the last ``window`` values with ``ddof`` (exact sums: no
    drift, no loss of precision to a large offset)."""

    __slots__ = ("ddof",)

    def __init__(self, window: int, ddof: int = 1) -> None:
        self.ddof = _int("ddof", ddof, 0)
        super().__init__(window, self.ddof + 1)

    def update(self, x: Number) -> float | None:
        if self._push("x", x):
            self._value = math.sqrt(self._window.variance(self.ddof))
        return self._value


class RealisedVol(_Rolling):
    """Realised volatility of the last ``window`` returns, one return at a time: equal to
    :func:`realised_vol` (annualised with ``periods_per_year``)."""

    __slots__ = ("_root", "periods_per_year")

    def __init__(self, window: int, periods_per_year: float | int | None = None) -> None:
        super().__init__(window)
        self._root = _scale(periods_per_year)
        self.periods_per_year = periods_per_year

    def update(self, r: Number) -> float | None:
        if self._push("r", r):
            vol = math.sqrt(self._window.mean_square())
            self._value = vol * self._root if self._root is not None else vol
        return self._value
