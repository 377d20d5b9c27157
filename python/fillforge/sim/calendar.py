"""Trading sessions from ``exchange_calendars``, as UTC epoch nanoseconds.

Hours, holidays, early closes and breaks all come from ``exchange_calendars``; none are written
here. A calendar's sessions from :data:`FIRST_DAY` to :data:`LAST_DAY` are loaded once per process,
on first use, into plain sorted lists, so every query after that is a bisection with no pandas
involved (about 0.4 us for ``is_open``/``next_close``, 1.3 us when a :class:`Session` is
built). Sessions are half-open: ``[open_ns, close_ns)``.

Building a table means importing ``exchange_calendars`` (and pandas: ~0.8 s) and computing its
holidays (~0.7 s for XNYS). So each table, and the map of calendar names, is also kept on disk
(:func:`cache_dir`), keyed by the ``exchange_calendars`` version and the span: a later process
reads it in a few milliseconds without importing either. The files are plain ``.npz`` arrays and
JSON read with pickling off; a file that is missing, unreadable or inconsistent is rebuilt from
``exchange_calendars`` and rewritten (atomically), never trusted, and a cache directory that cannot
be written only costs the rebuild. ``FILLFORGE_CACHE_DIR`` moves it; set to an empty string, it
turns the disk cache off.

Useful names: ``"XNYS"`` (NYSE, also ``"NYSE"``), ``"CMES"`` (CME Globex equity futures such as ES,
also ``"CME"``; ``exchange_calendars`` runs each session 17:00-17:00 Chicago and leaves out the
daily 16:00-17:00 maintenance halt), ``"24/7"`` (crypto), ``"24/5"``.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import operator
import os
import tempfile
import warnings
import zipfile
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from itertools import pairwise
from pathlib import Path
from typing import Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import numpy.typing as npt

from fillforge.errors import SimulationError
from fillforge.orders.models import FrozenModel

__all__ = [
    "FIRST_DAY",
    "LAST_DAY",
    "Session",
    "TradingCalendar",
    "cache_dir",
    "local_midnight_ns",
]

FIRST_DAY: Final = dt.date(1990, 1, 1)
LAST_DAY: Final = dt.date(2035, 12, 31)
"""The days every calendar covers: XNYS over this range builds in about 0.1 s, once per process."""

_log = logging.getLogger(__name__)
_EPOCH: Final = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_DAY_NS: Final = 86_400 * 10**9


class Session(FrozenModel):
    """One trading session: ``day`` is the exchange's session label (a CME session opening on
    Sunday evening is Monday's), times are UTC epoch ns, ``[open_ns, close_ns)``. Breaks (none on
    XNYS or CMES) are ``[break_start_ns, break_end_ns)``."""

    day: dt.date
    open_ns: int
    close_ns: int
    early_close: bool = False
    late_open: bool = False
    break_start_ns: int | None = None
    break_end_ns: int | None = None


@dataclass(frozen=True, slots=True)
class _Table:
    """A calendar's sessions as parallel sorted lists (sessions never overlap)."""

    tz: str
    first_day: dt.date  # the days covered, FIRST_DAY..LAST_DAY unless the calendar has fewer
    last_day: dt.date
    days: list[dt.date]
    index: dict[dt.date, int]
    opens: list[int]
    closes: list[int]
    early: frozenset[dt.date]
    late: frozenset[dt.date]
    breaks: dict[int, tuple[int, int]]
    lo_ns: int  # the covered span of time, [lo_ns, hi_ns)
    hi_ns: int
    # The same days (UNIX epoch days), opens and closes as arrays, for vectorised lookups
    # (derived from the lists above, so left out of comparisons).
    day_numbers: npt.NDArray[np.int64] = field(compare=False)
    open_array: npt.NDArray[np.int64] = field(compare=False)
    close_array: npt.NDArray[np.int64] = field(compare=False)

    @property
    def span(self) -> str:
        return f"{self.first_day}..{self.last_day}"

    def session(self, i: int) -> Session:
        day = self.days[i]
        b = self.breaks.get(i)
        return Session.adopt(
            {
                "day": day,
                "open_ns": self.opens[i],
                "close_ns": self.closes[i],
                "early_close": day in self.early,
                "late_open": day in self.late,
                "break_start_ns": b[0] if b else None,
                "break_end_ns": b[1] if b else None,
            }
        )


class TradingCalendar:
    """An exchange's sessions by ``exchange_calendars`` name (aliases such as ``"NYSE"`` work).

    An unknown name is a :class:`~fillforge.errors.SimulationError` (``field="calendar"``), and so
    is a day or time outside ``FIRST_DAY..LAST_DAY`` (or the shorter span a few calendars record).
    Times are int UTC epoch nanoseconds.
    """

    __slots__ = ("_open_span", "name")

    def __init__(self, name: str = "XNYS") -> None:
        self.name: str = _resolve(name)
        # The last stretch of trading time is_open found (a session, or its part before or
        # after a break): asked again inside it, the answer needs no search.
        self._open_span: tuple[int, int] = (0, 0)

    def __repr__(self) -> str:
        return f"TradingCalendar({self.name!r})"

    @property
    def tz(self) -> str:
        """The exchange's time zone (``"America/New_York"`` for XNYS)."""
        return self._table.tz

    @property
    def _table(self) -> _Table:
        return _load(self.name)

    def session(self, day: dt.date) -> Session | None:
        """The session labelled ``day``, or None if the exchange does not trade that day."""
        t = self._table
        i = t.index.get(_check_day(day, table=t))
        return None if i is None else t.session(i)

    def is_trading_day(self, day: dt.date) -> bool:
        t = self._table
        return _check_day(day, table=t) in t.index

    def sessions(self, first: dt.date, last: dt.date) -> list[Session]:
        """The sessions labelled ``first`` to ``last``, both included, in order."""
        t = self._table
        lo = bisect_left(t.days, _check_day(first, "first", t))
        hi = bisect_right(t.days, _check_day(last, "last", t))
        return [t.session(i) for i in range(lo, hi)]

    def session_bounds(
        self, days: npt.NDArray[np.int64]
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
        """The sessions labelled ``days`` (UNIX epoch day numbers), in one vectorised lookup:
        ``(opens, closes, found)``, the times in UTC epoch ns, both 0 where ``found`` is False
        (no session that day, or a day outside the calendar's span)."""
        t = self._table
        d = np.asarray(days, dtype=np.int64)
        i = np.searchsorted(t.day_numbers, d)
        inside = i < len(t.day_numbers)
        j = np.where(inside, i, 0)
        found = inside & (t.day_numbers[j] == d)
        zero = np.zeros(len(d), np.int64)
        opens = np.where(found, t.open_array[j], zero)
        return opens, np.where(found, t.close_array[j], zero), found

    def session_at(self, t_ns: int) -> Session | None:
        """The session whose ``[open, close)`` holds ``t_ns`` (breaks included), or None."""
        t = self._table
        i = self._index_at(t, _check_ns(t, t_ns))
        return None if i is None else t.session(i)

    def is_open(self, t_ns: int) -> bool:
        """Inside a session and not in its break."""
        lo, hi = self._open_span
        if t_ns.__class__ is int and lo <= t_ns < hi:
            return True
        t = self._table
        ns = _check_ns(t, t_ns)
        i = self._index_at(t, ns)
        if i is None:
            return False
        lo, hi = t.opens[i], t.closes[i]
        b = t.breaks.get(i)
        if b is not None:
            if b[0] <= ns < b[1]:
                return False
            lo, hi = (lo, b[0]) if ns < b[0] else (b[1], hi)
        self._open_span = (lo, hi)
        return True

    def next_close(self, t_ns: int) -> int:
        """The first close after ``t_ns``: the close of the session holding it, else the next
        session's. At a close exactly, that session is over and the next one's close is given."""
        return _first_after(self._table, self._table.closes, t_ns, "close")

    def next_open(self, t_ns: int) -> int:
        """The first open strictly after ``t_ns`` (inside a session: the next session's)."""
        return _first_after(self._table, self._table.opens, t_ns, "open")

    def opening(self, t_ns: int) -> int | None:
        """When an order sent at ``t_ns`` can first trade: None if the exchange is open then,
        else the next open (a request that reaches a closed venue waits for it)."""
        return None if self.is_open(t_ns) else self.next_open(t_ns)

    @staticmethod
    def _index_at(t: _Table, ns: int) -> int | None:
        i = bisect_right(t.opens, ns) - 1
        return i if i >= 0 and ns < t.closes[i] else None


def local_midnight_ns(day: dt.date, tz: str = "America/New_York") -> int:
    """UTC epoch ns of 00:00 on ``day`` in ``tz`` (LOBSTER times are ns after New York
    midnight). Exact: no float on the way."""
    day = _check_day(day)
    try:
        zone = ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise SimulationError("tz", tz, "not an IANA time zone") from None
    delta = dt.datetime.combine(day, dt.time(), tzinfo=zone) - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 10**9 + delta.microseconds * 1_000


# ----- loading --------------------------------------------------------------------------------


def _xc() -> Any:
    # Imported on first use: exchange_calendars (with pandas) takes ~0.3 s to import, and most
    # users of fillforge never ask for a calendar.
    import exchange_calendars  # type: ignore[import-untyped]

    return exchange_calendars


def _resolve(name: object) -> str:
    canonical = _names().get(name) if isinstance(name, str) else None
    if canonical is None:
        raise SimulationError("calendar", name, "not an exchange_calendars calendar name")
    return canonical


def cache_dir() -> Path | None:
    """Where calendar tables are kept between processes: ``$FILLFORGE_CACHE_DIR`` if set (an
    empty value turns the disk cache off), else ``$XDG_CACHE_HOME/fillforge`` (by default
    ``~/.cache/fillforge``)."""
    env = os.environ.get("FILLFORGE_CACHE_DIR")
    if env is not None:
        return Path(env) if env else None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "fillforge"


def _xc_version() -> str:
    try:
        return version("exchange_calendars")
    except PackageNotFoundError:  # pragma: no cover - a hard dependency; nothing to key on
        return "unknown"


def _cache_file(stem: str, suffix: str) -> Path | None:
    d = cache_dir()
    if d is None:
        return None
    return d / "calendars" / f"{stem}-xc{_xc_version()}-{FIRST_DAY}-{LAST_DAY}{suffix}"


def _write_atomically(path: Path, write: Any) -> None:
    """``write(file)`` into a temporary file beside ``path``, then rename it over ``path``: a
    reader never sees half a file. A cache that cannot be written costs only the rebuild."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                write(f)
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
    except OSError as e:
        _log.debug("calendar cache not written at %s: %s", path, e)


@cache
def _names() -> dict[str, str]:
    """Every ``exchange_calendars`` name and alias, mapped to its canonical name."""
    path = _cache_file("names", ".json")
    if path is not None:
        try:
            got = json.loads(path.read_text())
            if isinstance(got, dict) and all(
                isinstance(k, str) and isinstance(v, str) for k, v in got.items()
            ):
                return got
        except (OSError, ValueError):
            pass
    xc = _xc()
    names = {n: str(xc.resolve_alias(n)) for n in xc.get_calendar_names(include_aliases=True)}
    if path is not None:
        _write_atomically(path, lambda f: f.write(json.dumps(names, sort_keys=True).encode()))
    return names


@cache
def _load(name: str) -> _Table:
    """``name``'s table once per process (keyed by canonical name, so aliases share it): from
    the disk cache when a good copy is there, else built and saved."""
    path = _cache_file(name, ".npz")
    if path is not None:
        table = _read_table(path)
        if table is not None:
            return table
    table = _build_table(name)
    if path is not None:
        arrays = _table_arrays(table)
        _write_atomically(path, lambda f: np.savez(f, allow_pickle=False, **arrays))
    return table


def _table_arrays(t: _Table) -> dict[str, np.ndarray[Any, Any]]:
    brk = sorted(t.breaks.items())
    return {
        "tz": np.array(t.tz),
        "span": np.array([t.first_day, t.last_day], dtype="datetime64[D]"),
        "days": np.array(t.days, dtype="datetime64[D]"),
        "opens": np.array(t.opens, dtype=np.int64),
        "closes": np.array(t.closes, dtype=np.int64),
        "early": np.array(sorted(t.early), dtype="datetime64[D]"),
        "late": np.array(sorted(t.late), dtype="datetime64[D]"),
        "breaks": np.array([(i, s, e) for i, (s, e) in brk], dtype=np.int64).reshape(-1, 3),
    }


def _read_table(path: Path) -> _Table | None:
    """The table saved at ``path``, or None when it is missing, unreadable or inconsistent."""
    try:
        with path.open("rb") as f, np.load(f, allow_pickle=False) as z:
            tz = str(z["tz"])
            first, last = z["span"].astype("datetime64[D]").tolist()
            days: list[dt.date] = z["days"].astype("datetime64[D]").tolist()
            opens: list[int] = z["opens"].astype(np.int64).tolist()
            closes: list[int] = z["closes"].astype(np.int64).tolist()
            early = frozenset(z["early"].astype("datetime64[D]").tolist())
            late = frozenset(z["late"].astype("datetime64[D]").tolist())
            brk = z["breaks"].astype(np.int64).reshape(-1, 3).tolist()
    except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile) as e:
        _log.debug("calendar cache at %s not used: %s", path, e)
        return None
    n = len(days)
    if not (n and len(opens) == n == len(closes) and FIRST_DAY <= first <= days[0]):
        return None
    if not days[-1] <= last <= LAST_DAY or not all(
        o < c for o, c in zip(opens, closes, strict=True)
    ):
        return None
    if not all(a < b for a, b in pairwise(days)):
        return None
    return _table(tz, first, last, days, opens, closes, early, late, {i: (s, e) for i, s, e in brk})


def _table(
    tz: str,
    first: dt.date,
    last: dt.date,
    days: list[dt.date],
    opens: list[int],
    closes: list[int],
    early: frozenset[dt.date],
    late: frozenset[dt.date],
    breaks: dict[int, tuple[int, int]],
) -> _Table:
    return _Table(
        tz=tz,
        first_day=first,
        last_day=last,
        days=days,
        index={d: i for i, d in enumerate(days)},
        opens=opens,
        closes=closes,
        early=early,
        late=late,
        breaks=breaks,
        lo_ns=min(opens[0], _utc_ns(first)),
        hi_ns=max(closes[-1], _utc_ns(last) + _DAY_NS),
        day_numbers=np.array(days, dtype="datetime64[D]").astype(np.int64),
        open_array=np.array(opens, dtype=np.int64),
        close_array=np.array(closes, dtype=np.int64),
    )


def _build_table(name: str) -> _Table:
    """Build ``name``'s table from ``exchange_calendars``."""
    xc = _xc()
    with warnings.catch_warnings():
        # exchange_calendars 4.13 uses pandas APIs that pandas 3.1 deprecates (Series.values,
        # DatetimeIndex.weekday, ...): its warnings, not ours to fix, and only inside this block.
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        try:
            cal, start, end = _build(xc, name)
        except Exception as e:  # whatever exchange_calendars raises, say which calendar failed
            raise SimulationError(
                "calendar", name, f"exchange_calendars cannot build it: {type(e).__name__}: {e}"
            ) from e
        days: list[dt.date] = np.asarray(cal.sessions, dtype="datetime64[D]").tolist()
        opens, closes = _nanos(cal.opens), _nanos(cal.closes)
        b_starts, b_ends = _nanos(cal.break_starts), _nanos(cal.break_ends)
        early = frozenset(np.asarray(cal.early_closes, dtype="datetime64[D]").tolist())
        late = frozenset(np.asarray(cal.late_opens, dtype="datetime64[D]").tolist())
    nat = np.iinfo(np.int64).min  # NaT: no break that session
    breaks = {i: (s, e) for i, (s, e) in enumerate(zip(b_starts, b_ends, strict=True)) if s != nat}
    return _table(str(cal.tz), start, end, days, opens, closes, early, late, breaks)


def _build(xc: Any, name: str) -> tuple[Any, dt.date, dt.date]:
    start, end = FIRST_DAY, LAST_DAY
    try:
        return xc.get_calendar(name, start=start.isoformat(), end=end.isoformat()), start, end
    except ValueError:
        # A few calendars record holidays over a shorter span (XSHG from 1990-12, XTKS from 1997,
        # XBOM to 2026): build over what they have, found from a probe over the default range.
        cls = type(xc.get_calendar(name))
        lo, hi = cls.bound_min(), cls.bound_max()
        start = max(start, lo.date()) if lo is not None else start
        end = min(end, hi.date()) if hi is not None else end
        return xc.get_calendar(name, start=start.isoformat(), end=end.isoformat()), start, end


def _nanos(times: Any) -> list[int]:
    """A tz-aware Series as UTC epoch ns (NaT as int64 min), whatever pandas' unit."""
    utc = np.asarray(times.dt.tz_convert(None), dtype="datetime64[ns]")
    out: list[int] = utc.view(np.int64).tolist()
    return out


def _utc_ns(day: dt.date) -> int:
    return (day - _EPOCH.date()).days * _DAY_NS


def _check_day(day: object, field: str = "day", table: _Table | None = None) -> dt.date:
    if not isinstance(day, dt.date) or isinstance(day, dt.datetime):
        raise SimulationError(field, day, "must be a datetime.date (for a time use session_at)")
    if table is not None and not table.first_day <= day <= table.last_day:
        raise SimulationError(field, day, f"outside the calendar's days {table.span}")
    return day


def _first_after(t: _Table, times: list[int], t_ns: int, what: str) -> int:
    """The first of ``times`` (the table's opens or closes) strictly after ``t_ns``; none up to
    the table's last day is a :class:`~fillforge.errors.SimulationError` naming ``t_ns``."""
    i = bisect_right(times, _check_ns(t, t_ns))
    if i == len(times):
        raise SimulationError("t_ns", t_ns, f"no {what} after it up to {t.last_day}")
    return times[i]


def _check_ns(t: _Table, t_ns: int) -> int:
    try:
        ns = operator.index(t_ns)  # numpy ints pass; floats and strings do not
    except TypeError:
        raise SimulationError("t_ns", t_ns, "must be an int of UTC epoch nanoseconds") from None
    if not t.lo_ns <= ns < t.hi_ns:
        raise SimulationError("t_ns", t_ns, f"outside the calendar's days {t.span}")
    return ns
