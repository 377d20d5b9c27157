"""Input checks the analytics modules share (:mod:`~fillforge.portfolio.metrics`,
:mod:`~fillforge.portfolio.var`, :mod:`~fillforge.portfolio.rebalance`): a return series as a
float64 array, a confidence level, an exposure as a float, a count. Every refusal is a
:class:`~fillforge.errors.MetricsError` naming the field and the value."""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import Decimal
from typing import Any, Final, TypeAlias

import numpy as np
import numpy.typing as npt

from fillforge.errors import MetricsError

__all__ = [
    "FloatArray",
    "ReturnsLike",
    "as_array",
    "as_float",
    "check_confidence",
    "check_count",
    "finite_array",
]

FloatArray: TypeAlias = npt.NDArray[np.float64]
ReturnsLike: TypeAlias = npt.ArrayLike | Sequence[float | Decimal]
"""A 1-D series of simple returns: a numpy array or any sequence of numbers (Decimal included)."""

_F64: Final = np.dtype(np.float64)


def as_array(field: str, values: Any) -> FloatArray:
    """``values`` as a 1-D float64 array (an array already float64 and 1-D is returned as is,
    not copied). NaN passes; the caller decides what it means. Refuses a non-numeric or a
    multi-dimensional input."""
    if isinstance(values, np.ndarray) and values.dtype == _F64 and values.ndim == 1:
        return values
    if isinstance(values, (str, bytes, Decimal, int, float)):
        raise MetricsError(field, values, "must be a 1-D series of numbers, not a scalar")
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise MetricsError(field, _short(values), "must be a 1-D series of numbers") from None
    if arr.ndim != 1:
        raise MetricsError(field, f"shape {arr.shape}", "must be a 1-D series of numbers")
    return arr


def finite_array(field: str, values: Any, *, min_len: int = 1) -> FloatArray:
    """``values`` as a 1-D float64 array of finite numbers with at least ``min_len`` of them,
    else :class:`MetricsError` naming the first bad element (``returns[3]``)."""
    arr = as_array(field, values)
    if arr.size < min_len:
        raise MetricsError(field, f"{arr.size} values", f"needs at least {min_len}")
    if not np.isfinite(arr.sum()):  # one pass; the search below only on failure
        bad = int(np.flatnonzero(~np.isfinite(arr))[0])
        raise MetricsError(f"{field}[{bad}]", float(arr[bad]), "must be a finite number")
    return arr


def as_float(field: str, value: object) -> float:
    """``value`` (int, float, Decimal or numpy number; not bool) as a finite float."""
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal, np.number)):
        raise MetricsError(field, value, "must be a number (int, float or Decimal)")
    try:
        f = float(value)
    except OverflowError:
        raise MetricsError(field, value, "must be a finite number") from None
    if not math.isfinite(f):
        raise MetricsError(field, value, "must be a finite number")
    return f


def check_confidence(value: object, field: str = "confidence") -> float:
    """A confidence level strictly between 0 and 1 (0.99 for the 99% VaR)."""
    c = as_float(field, value)
    if not 0.0 < c < 1.0:
        raise MetricsError(field, value, "must be strictly between 0 and 1")
    return c


def check_count(field: str, value: object, *, minimum: int = 1) -> int:
    """An int (not bool) of at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise MetricsError(field, value, "must be an int")
    if value < minimum:
        raise MetricsError(field, value, f"must be at least {minimum}")
    return int(value)


def _short(values: object) -> object:
    text = repr(values)
    return values if len(text) <= 80 else text[:77] + "..."
