"""Time: UNIX nanoseconds, exact conversions, and the clocks that tell it.

fillforge keeps every time as an ``int`` of nanoseconds since the UNIX epoch (UTC). This module
is the one place that converts them, with integer arithmetic only (no float on the way):

- :func:`to_datetime` / :func:`from_datetime`: aware UTC :class:`~datetime.datetime`. A datetime
  holds microseconds, so :func:`to_datetime` drops the sub-microsecond nanoseconds by flooring
  (towards the past: ``to_datetime(999)`` is the epoch itself, ``to_datetime(-1)`` one
  microsecond before it). A datetime always converts back exactly:
  ``from_datetime(to_datetime(ns)) == ns - ns % 1000``.
- :func:`to_iso` / :func:`from_iso`: RFC 3339 text with all nine digits
  (``2024-01-02T14:30:00.000000001Z``); these round-trip every nanosecond. Text without a zone
  is refused unless the caller names the zone it means (``naive_zone``: Alpaca reads such times
  as UTC).
- :func:`from_seconds` / :func:`from_timedelta`: a duration in nanoseconds. Seconds given as a
  float are read as the decimal they print as (``0.1`` is 100 ms exactly), and anything finer
  than a nanosecond is floored, as above. The one float that leaves this module's world is a
  duration handed to an API that takes float seconds (``time.sleep``, a timeout):
  ``ns / NS_PER_SECOND``, never converted back.

:class:`Clock` is what code that needs the time takes (``now_ns()``); :class:`WallClock` is the
only place fillforge reads the machine's clock, and :class:`SimulatedClock` is set and advanced
by whoever runs a simulation (or a test).
"""

from __future__ import annotations

import datetime as dt
import math
import re
import time as _time
from decimal import Decimal
from typing import Final, Protocol, runtime_checkable

from fillforge._exact import to_decimal
from fillforge.errors import TimeError

__all__ = [
    "NS_PER_DAY",
    "NS_PER_HOUR",
    "NS_PER_MICROSECOND",
    "NS_PER_MILLISECOND",
    "NS_PER_MINUTE",
    "NS_PER_SECOND",
    "Clock",
    "SimulatedClock",
    "WallClock",
    "from_datetime",
    "from_iso",
    "from_seconds",
    "from_timedelta",
    "to_datetime",
    "to_iso",
]

NS_PER_MICROSECOND: Final = 1_000
NS_PER_MILLISECOND: Final = 1_000_000
NS_PER_SECOND: Final = 1_000_000_000
NS_PER_MINUTE: Final = 60 * NS_PER_SECOND
NS_PER_HOUR: Final = 60 * NS_PER_MINUTE
NS_PER_DAY: Final = 24 * NS_PER_HOUR

_EPOCH: Final = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_US: Final = dt.timedelta(microseconds=1)
_MIN_NS: Final = (dt.datetime.min.replace(tzinfo=dt.UTC) - _EPOCH) // _US * NS_PER_MICROSECOND
_MAX_NS: Final = (
    (dt.datetime.max.replace(tzinfo=dt.UTC) - _EPOCH) // _US + 1
) * NS_PER_MICROSECOND - 1
# RFC 3339: date, "T" (or a space), time, up to nine fraction digits, "Z" or an offset (which
# only a caller that names a zone for naive text may leave out).
_ISO = re.compile(
    r"(\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2})?",
    re.ASCII,
)


def _check_ns(ns: object, field: str) -> int:
    if isinstance(ns, bool) or not isinstance(ns, int):
        raise TimeError(field, ns, "expected an int of UNIX nanoseconds")
    if not _MIN_NS <= ns <= _MAX_NS:
        raise TimeError(field, ns, "outside the years 1-9999 a datetime can hold")
    return ns


def to_datetime(ns: int) -> dt.datetime:
    """``ns`` as an aware UTC datetime, floored to its microsecond (see the module's notes)."""
    us = _check_ns(ns, "ns") // NS_PER_MICROSECOND
    return _EPOCH + dt.timedelta(microseconds=us)


def from_datetime(t: dt.datetime, field: str = "datetime") -> int:
    """An aware datetime (any zone) in UNIX nanoseconds, exactly. A naive one is refused."""
    if not isinstance(t, dt.datetime):
        raise TimeError(field, t, "expected a datetime")
    if t.tzinfo is None or t.utcoffset() is None:
        raise TimeError(field, t, "a naive datetime has no time zone: give it one (UTC)")
    return (t - _EPOCH) // _US * NS_PER_MICROSECOND


def to_iso(ns: int) -> str:
    """RFC 3339 in UTC with nanoseconds: ``2024-01-02T14:30:00.000000001Z``."""
    secs, frac = divmod(_check_ns(ns, "ns"), NS_PER_SECOND)
    base = _EPOCH + dt.timedelta(seconds=secs)
    return f"{base.year:04d}-{base:%m-%dT%H:%M:%S}.{frac:09d}Z"  # %Y does not pad year 999


def from_iso(text: str, field: str = "timestamp", *, naive_zone: dt.tzinfo | None = None) -> int:
    """RFC 3339 text (``Z`` or an offset; up to nine fraction digits) in UNIX nanoseconds,
    exactly. Text without a zone is read in ``naive_zone``, and refused when that is None."""
    m = _ISO.fullmatch(text) if isinstance(text, str) else None
    if m is None or (m[3] is None and naive_zone is None):
        raise TimeError(field, text, "expected RFC 3339 with a zone (2024-01-02T14:30:00Z)")
    whole, fraction, zone = m.groups()
    try:
        offset = "" if zone is None else "+00:00" if zone in "Zz" else zone
        t = dt.datetime.fromisoformat(whole.replace("t", "T") + offset)
    except ValueError as e:
        raise TimeError(field, text, str(e)) from None
    if zone is None:
        t = t.replace(tzinfo=naive_zone)
    return from_datetime(t, field) + int((fraction or "").ljust(9, "0"))


def from_timedelta(delta: dt.timedelta, field: str = "duration") -> int:
    """A :class:`~datetime.timedelta` in nanoseconds, exactly."""
    if not isinstance(delta, dt.timedelta):
        raise TimeError(field, delta, "expected a timedelta")
    return delta // _US * NS_PER_MICROSECOND


def from_seconds(seconds: int | float | Decimal, field: str = "seconds") -> int:
    """A duration in seconds in nanoseconds, floored to the nanosecond. A float is read as the
    decimal it prints as (``from_seconds(0.1) == 100_000_000``), never through binary
    arithmetic."""
    if isinstance(seconds, bool) or not isinstance(seconds, int | float | Decimal):
        raise TimeError(field, seconds, "expected a number of seconds")
    if isinstance(seconds, int):
        return seconds * NS_PER_SECOND
    exact = to_decimal(seconds)  # a numpy float too
    if not exact.is_finite():
        raise TimeError(field, seconds, "expected a finite number of seconds")
    return math.floor(exact * NS_PER_SECOND)


@runtime_checkable
class Clock(Protocol):
    """Anything that tells the time in UNIX nanoseconds."""

    def now_ns(self) -> int: ...


class WallClock:
    """The machine's clock (``time.time_ns``): the one place fillforge reads it."""

    __slots__ = ()

    def now_ns(self) -> int:
        return _time.time_ns()

    def __repr__(self) -> str:
        return "WallClock()"


class SimulatedClock:
    """A clock that moves only when told: :meth:`set` or :meth:`advance` it. Never backwards."""

    __slots__ = ("_ns",)

    def __init__(self, start_ns: int = 0) -> None:
        self._ns = _check_ns(start_ns, "start_ns")

    def now_ns(self) -> int:
        return self._ns

    def set(self, ns: int) -> None:
        """Move to ``ns`` (at or after now)."""
        _check_ns(ns, "ns")
        if ns < self._ns:
            raise TimeError("ns", ns, f"before the clock's time ({self._ns}): it never goes back")
        self._ns = ns

    def advance(self, delta_ns: int) -> None:
        """Move forward by ``delta_ns`` (>= 0)."""
        if isinstance(delta_ns, bool) or not isinstance(delta_ns, int) or delta_ns < 0:
            raise TimeError("delta_ns", delta_ns, "expected an int >= 0")
        self.set(self._ns + delta_ns)

    def __repr__(self) -> str:
        return f"SimulatedClock({self._ns})"
