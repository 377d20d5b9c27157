"""OHLCV bar files, columns mapped by header name (case-insensitive):

* ``,Open,High,Low,Close,Volume`` (backtesting.py; the unnamed first column is the date),
* ``Date,Open,High,Low,Close,Adj Close,Volume`` (Yahoo Finance; ``Adj Close`` is ignored),
* ``Date,Open,Close,High,Low,Volume`` (naive local date-times, New York by default),
* ``timestamp,open,high,low,close,volume`` (UTC date-times, the FTX/Nautilus export).

Times are ``YYYY-MM-DD`` (daily bars: stored as that date's 00:00 UTC) or
``YYYY-MM-DD HH:MM:SS[.fraction]`` (the bar's open time, converted to UTC with zoneinfo).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Final, Literal
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from fillforge.errors import MarketDataError
from fillforge.marketdata._table import Column, read_table
from fillforge.marketdata.columns import NS_PER_DAY, Bars
from fillforge.marketdata.decimal_text import Grid, parse_float
from fillforge.time import from_datetime, from_timedelta

__all__ = ["DEFAULT_LOCAL_TIMEZONE", "load_bars"]

DEFAULT_LOCAL_TIMEZONE: Final = "America/New_York"
"""Zone of naive intraday times under a ``Date`` (or unnamed) column, unless ``timezone`` says."""

_DATE: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}").fullmatch
_DATETIME: Final = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[ T]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,9}))?"
).fullmatch
_UTC_KEYS: Final = frozenset({"UTC", "Etc/UTC", "Etc/GMT", "GMT", "Etc/Universal", "Universal"})
_TIME_COLUMNS: Final = {"timestamp": "UTC", "date": DEFAULT_LOCAL_TIMEZONE}


def _daily_ns(text: str) -> int:
    if _DATE(text) is None:
        raise ValueError("not a date YYYY-MM-DD")
    return from_datetime(datetime.combine(date.fromisoformat(text), time(), tzinfo=UTC))


def _intraday_parser(zone: ZoneInfo) -> Callable[[str], int]:
    utc = zone.key in _UTC_KEYS

    def parse(text: str) -> int:
        m = _DATETIME(text)
        if m is None:
            raise ValueError("not a date-time YYYY-MM-DD HH:MM:SS[.fraction]")
        year, month, day, hour, minute, second, fraction = m.groups()
        local = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second))
        if utc:
            ns = from_datetime(local.replace(tzinfo=UTC))
        else:
            before = local.replace(tzinfo=zone).utcoffset()
            after = local.replace(tzinfo=zone, fold=1).utcoffset()
            assert before is not None  # a ZoneInfo always has an offset
            assert after is not None
            if before != after:
                what = "does not exist" if before < after else "is ambiguous"
                raise ValueError(f"local time {what} in {zone.key} (a clock change)")
            ns = from_datetime(local.replace(tzinfo=zone))
        return ns + (int(fraction.ljust(9, "0")) if fraction else 0)

    return parse


def _period_ns(
    period: Literal["auto"] | int | timedelta, daily: bool, times: npt.NDArray[np.int64]
) -> int:
    if isinstance(period, timedelta):
        return from_timedelta(period, "period")
    if period != "auto":
        return period
    if daily:
        return NS_PER_DAY
    if len(times) < 2:
        raise ValueError("cannot infer the bar length from fewer than 2 intraday bars")
    return int(np.diff(times).min())


def load_bars(
    path: str | os.PathLike[str],
    *,
    tick: Decimal | int | str,
    timezone: str | None = None,
    period: Literal["auto"] | int | timedelta = "auto",
    rounding: Literal["exact", "nearest"] = "exact",
    on_invalid: Literal["raise", "skip"] = "raise",
) -> Bars:
    """Load OHLCV bars (plain or gzip) in any of the formats above.

    ``timezone``: zone of intraday times; ``None`` means the format's own: UTC for a
    ``timestamp`` column, :data:`DEFAULT_LOCAL_TIMEZONE` for a ``Date`` or unnamed column.
    Daily dates are not shifted by it. Local times in a clock change (skipped or repeated hour)
    raise.

    ``period``: bar length in ns (or a ``timedelta``); ``'auto'`` is one day for daily files and
    the smallest gap between consecutive bars for intraday files.

    ``rounding``: ``'exact'`` raises for a price off the tick; ``'nearest'`` rounds half-to-even
    to the tick, a lossy choice for vendor prices printed from floats (Yahoo's ``125.279999``).

    ``on_invalid``: bars with High < Low or Open/Close outside [Low, High] raise, or with
    ``'skip'`` are dropped and counted in ``Bars.skipped``. Unparsable cells, off-tick prices,
    negative volume and times that do not strictly increase always raise.
    """
    if rounding not in ("exact", "nearest"):
        raise ValueError(f"rounding must be 'exact' or 'nearest', not {rounding!r}")
    if on_invalid not in ("raise", "skip"):
        raise ValueError(f"on_invalid must be 'raise' or 'skip', not {on_invalid!r}")
    if isinstance(period, bool) or not (
        period == "auto"
        or (isinstance(period, int) and period > 0)
        or (isinstance(period, timedelta) and period > timedelta(0))
    ):
        raise ValueError(f"period must be 'auto' or positive, got {period!r}")
    table = read_table(path)
    names = {name.strip().lower(): name for name in table.header}
    if len(names) != len(table.header):
        raise MarketDataError(table.source, 1, "header", ",".join(table.header), "duplicate names")
    if "timestamp" in names or "date" in names:
        key = "timestamp" if "timestamp" in names else "date"
        time_name, zone_name = names[key], _TIME_COLUMNS[key]
    elif table.header[0] == "":
        time_name, zone_name = "", DEFAULT_LOCAL_TIMEZONE
    else:
        why = "no time column: expected 'Date', 'timestamp' or an unnamed first column"
        raise MarketDataError(table.source, 1, "header", ",".join(table.header), why)
    (time_index,) = table.find(time_name)
    daily = bool(table.rows) and _DATE(table.rows[0][time_index]) is not None
    parse_time = _daily_ns if daily else _intraday_parser(ZoneInfo(timezone or zone_name))

    grid = Grid(tick)
    to_ticks = grid.to_int if rounding == "exact" else grid.to_int_nearest
    o_name, h_name, l_name, c_name, v_name = (
        names.get(n, n) for n in ("open", "high", "low", "close", "volume")
    )
    times, open_, high, low, close, volume = table.parse(
        [
            Column(time_name, parse_time, np.int64),
            Column(o_name, to_ticks, np.int64, dedupe=True),
            Column(h_name, to_ticks, np.int64, dedupe=True),
            Column(l_name, to_ticks, np.int64, dedupe=True),
            Column(c_name, to_ticks, np.int64, dedupe=True),
            Column(v_name, parse_float, np.float64, dedupe=True),
        ]
    )
    table.check_order(times, time_name, strict=True)
    table.check(volume < 0, v_name, lambda _: "negative volume")
    try:
        period_ns = _period_ns(period, daily, times)
    except ValueError as e:
        raise MarketDataError(table.source, None, "period", period, str(e)) from None

    bad_range = high < low
    bad_open = (open_ < low) | (open_ > high)
    bad_close = (close < low) | (close > high)
    invalid = bad_range | bad_open | bad_close
    skipped = int(invalid.sum())
    if skipped and on_invalid == "raise":
        row = int(np.argmax(invalid))
        lo_i, hi_i = table.find(l_name, h_name)
        span = f"[{l_name}, {h_name}] = [{table.rows[row][lo_i]}, {table.rows[row][hi_i]}]"
        if bad_range[row]:
            field, why = h_name, f"{h_name} < {l_name}: {span}"
        else:
            field = o_name if bad_open[row] else c_name
            why = f"{field} outside {span}"
        (index,) = table.find(field)
        raise table.error(row, field, table.rows[row][index], why)
    if skipped:
        keep = ~invalid
        times, open_, high, low, close, volume = (
            a[keep] for a in (times, open_, high, low, close, volume)
        )
    return Bars(table.source, period_ns, times, open_, high, low, close, volume, skipped)
