"""Bars replayed to a strategy from tables: each bar is delivered when it has closed.

A :class:`BarTable` is one symbol's bars (:class:`~fillforge.marketdata.Bars`, in the
instrument's ticks) with the time each one ends: a daily bar on a calendar ends at its
session's close (early closes included), any other bar at ``time_ns + period_ns``. The
simulator's bar feed (:func:`fillforge.sim.bars_feed`) prints a bar's close just before that
end, so when the bar is delivered its close has traded, the account is marked to it, and an
order the strategy sends then reaches a closed venue and fills no earlier than the next bar.

:class:`BarSchedule` merges several tables in time order (bars ending together: in the order of
the tables) and hands out one instant's bars at a time; the runner fires it from a broker timer
at each end, so bars interleave with the market data and the order events in simulated time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import numpy as np
import numpy.typing as npt

from fillforge._exact import to_decimal
from fillforge.broker import Bar
from fillforge.errors import StrategyError
from fillforge.marketdata import NS_PER_DAY, Bars
from fillforge.sim.calendar import TradingCalendar

__all__ = ["BarSchedule", "BarTable", "bar_ends"]

_EPOCH = date(1970, 1, 1).toordinal()


def bar_ends(bars: Bars, calendar: TradingCalendar | None) -> npt.NDArray[np.int64]:
    """When each bar of ``bars`` ends: its session's close for daily bars on ``calendar``,
    else its open time plus its period. A daily bar on a day without a session is refused."""
    if calendar is None or bars.period_ns < NS_PER_DAY:
        out: npt.NDArray[np.int64] = bars.time_ns + np.int64(bars.period_ns)
        return out
    days = [date.fromordinal(_EPOCH + t // NS_PER_DAY) for t in bars.time_ns.tolist()]
    closes = {s.day: s.close_ns for s in calendar.sessions(days[0], days[-1])}
    ends = np.empty(len(days), np.int64)
    for i, day in enumerate(days):
        close = closes.get(day)
        if close is None:
            raise StrategyError("bars", day.isoformat(), f"no {calendar.name} session that day")
        ends[i] = close
    return ends


@dataclass(frozen=True, slots=True)
class BarTable:
    """The bars of ``symbol`` to replay (prices in ticks of ``tick``), ending at ``end_ns``."""

    symbol: str
    bars: Bars
    tick: Decimal
    end_ns: npt.NDArray[np.int64]

    @classmethod
    def of(
        cls, symbol: str, bars: Bars, tick: Decimal, calendar: TradingCalendar | None = None
    ) -> BarTable:
        if not isinstance(bars, Bars):
            raise StrategyError("bars", type(bars).__name__, "expected fillforge.marketdata.Bars")
        if len(bars) == 0:
            raise StrategyError("bars", symbol, "no bars")
        return cls(symbol, bars, Decimal(tick), bar_ends(bars, calendar))


class _Rows:
    """One table's columns as Python values, converted once: Decimal prices for the
    :class:`~fillforge.broker.Bar`, floats (price units) for the history."""

    __slots__ = ("c", "cf", "h", "hf", "lo", "lof", "o", "of", "period", "symbol", "time", "vol")

    def __init__(self, table: BarTable) -> None:
        b, tick = table.bars, table.tick
        self.symbol, self.period = table.symbol, b.period_ns
        self.time: list[int] = b.time_ns.tolist()
        self.o, self.h, self.lo, self.c = (
            [tick * v for v in col.tolist()] for col in (b.open, b.high, b.low, b.close)
        )
        inv = 1 / tick
        scale = float(inv) if inv == inv.to_integral_value() else None
        self.of, self.hf, self.lof, self.cf = (
            (col / scale if scale is not None else col * float(tick)).tolist()
            for col in (b.open, b.high, b.low, b.close)
        )
        self.vol: list[float] = b.volume.tolist()

    def bar(self, i: int) -> Bar:
        v, c = self.vol[i], self.c[i]
        return Bar.adopt(
            {
                "symbol": self.symbol,
                "open": self.o[i],
                "high": self.h[i],
                "low": self.lo[i],
                "close": c,
                "volume": Decimal(int(v)) if v.is_integer() else to_decimal(v),
                "trade_count": 0,
                "vwap": c,
                "timestamp_ns": self.time[i],
                "period_ns": self.period,
            }
        )

    def row(self, i: int) -> tuple[int, float, float, float, float, float]:
        return self.time[i], self.of[i], self.hf[i], self.lof[i], self.cf[i], self.vol[i]


class BarSchedule:
    """The bars of several tables in the order they end (ties: the tables' order)."""

    __slots__ = ("_bounds", "_ends", "_pos", "_row", "_rows", "_table")

    def __init__(self, tables: list[BarTable]) -> None:
        if not tables:
            raise StrategyError("bars", tables, "no bar tables")
        ends = np.concatenate([t.end_ns for t in tables])
        which = np.concatenate([np.full(len(t.end_ns), k, np.int64) for k, t in enumerate(tables)])
        row = np.concatenate([np.arange(len(t.end_ns), dtype=np.int64) for t in tables])
        order = np.lexsort((row, which, ends))
        ends, which, row = ends[order], which[order], row[order]
        if len(tables) == 1 and np.any(np.diff(ends) <= 0):
            raise StrategyError("bars", tables[0].symbol, "two bars end at the same time")
        starts = np.flatnonzero(np.concatenate([[True], ends[1:] != ends[:-1]]))
        self._bounds: list[int] = [*starts.tolist(), len(ends)]
        self._ends: list[int] = ends[starts].tolist()
        self._table: list[int] = which.tolist()
        self._row: list[int] = row.tolist()
        self._rows = [_Rows(t) for t in tables]
        self._pos = 0

    def __len__(self) -> int:
        """How many instants are left to deliver."""
        return len(self._ends) - self._pos

    def next_end(self) -> int | None:
        """When the next instant's bars end (None: all delivered)."""
        return self._ends[self._pos] if self._pos < len(self._ends) else None

    @property
    def last_end(self) -> int:
        return self._ends[-1]

    def skip_before(self, t_ns: int) -> int:
        """Drop the instants ending before ``t_ns`` (a broker whose clock is already past
        them); returns how many bars were dropped."""
        dropped = 0
        while self._pos < len(self._ends) and self._ends[self._pos] < t_ns:
            dropped += self._bounds[self._pos + 1] - self._bounds[self._pos]
            self._pos += 1
        return dropped

    def pop(self) -> list[tuple[Bar, tuple[int, float, float, float, float, float]]]:
        """The next instant's bars, each with its history row, in the tables' order."""
        p = self._pos
        self._pos = p + 1
        out = []
        for k in range(self._bounds[p], self._bounds[p + 1]):
            rows, i = self._rows[self._table[k]], self._row[k]
            out.append((rows.bar(i), rows.row(i)))
        return out
