"""The market TCA measures against: per symbol, the best bid and offer over time (mids, the
spread) and the trade tape (interval VWAP), as numpy columns.

The journal holds orders and fills, not the market: the mids, the interval VWAP and TWAP and the
markouts need the quotes and trades of the time. :class:`MarketData` takes them from

- the shipped or a user's data files, loaded by :mod:`fillforge.marketdata`'s loaders
  (:meth:`MarketData.add_columns`: a :class:`~fillforge.marketdata.Quotes` and / or
  :class:`~fillforge.marketdata.Trades` on an instrument's tick and lot grids);
- a broker's own feed while it runs (:class:`MarketRecorder`: the simulated venue's quotes and
  prints as the strategy saw them, through ``subscribe_quotes`` / ``subscribe_trades``);
- plain arrays (:meth:`MarketData.add_quotes`, :meth:`MarketData.add_trades`).

Every lookup is vectorised (``numpy.searchsorted`` over sorted times): the mid *at* a time is
the last quote at or before it, and is NaN before the first quote, after the last quote's
``stale_ns`` (default: never stale inside the data) or past the data's end; a one-sided or
crossed quote gives NaN. Prices are float64 here (analysis figures); the exact Decimal cost of a
parent is :func:`fillforge.execution.cost.parent_cost`'s.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np
import numpy.typing as npt

from fillforge.broker import Broker
from fillforge.broker.models import Quote, Trade
from fillforge.errors import TcaError
from fillforge.marketdata import Quotes, Trades

__all__ = ["MarketData", "MarketRecorder", "Rows", "SymbolMarket"]

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
_FEW = 16  # symbols up to which Rows splits by symbol in passes rather than by a sort


def _sorted(t: I64, *cols: F64) -> tuple[I64, ...] | tuple[npt.NDArray[np.generic], ...]:
    if len(t) > 1 and bool(np.any(t[1:] < t[:-1])):
        order = np.argsort(t, kind="stable")
        return (t[order], *(c[order] for c in cols))
    return (t, *cols)


@dataclass(frozen=True, slots=True)
class SymbolMarket:
    """One symbol's market: quotes (``q_ns``, ``bid``, ``ask``; ``mid`` NaN where one-sided or
    crossed) and trades (``t_ns``, ``price``, ``qty``), each sorted by time; ``cum_notional``,
    ``cum_qty`` (trades, running sums with a leading 0) and ``cum_mid_ns`` (the integral of the
    mid over time at each quote, for the TWAP) and ``holes`` (one-sided quotes so far, with a
    leading 0) are precomputed."""

    q_ns: I64
    bid: F64
    ask: F64
    mid: F64
    t_ns: I64
    price: F64
    qty: F64
    cum_notional: F64
    cum_qty: F64
    cum_mid_ns: F64
    holes: npt.NDArray[np.int64]
    until_ns: int = -1
    q_float: F64 = field(default_factory=lambda: np.zeros(0))
    q_rank: F64 = field(default_factory=lambda: np.zeros(0))

    def __post_init__(self) -> None:
        # The quote times as float offsets from the first and their ranks: np.interp of a time
        # gives (about) its quote's rank, walking from the last one found, where a binary
        # search starts over each time (twice as fast on times in order; made exact below).
        if len(self.q_ns):
            object.__setattr__(self, "q_float", (self.q_ns - self.q_ns[0]).astype(np.float64))
            object.__setattr__(self, "q_rank", np.arange(len(self.q_ns), dtype=np.float64))

    def quote_index(self, ns: I64) -> I64:
        """The index of the last quote at or before each time (-1: none yet)."""
        q = self.q_ns
        n = len(q)
        if n < 2 or len(ns) < 64:
            out: I64 = np.searchsorted(q, ns, side="right") - 1
            return out
        guess = np.interp((ns - q[0]).astype(np.float64), self.q_float, self.q_rank)
        i = np.clip(guess.astype(np.int64), 0, n - 1)
        while True:  # exact: step back past a later quote, forward to the last one at or before
            back = (i > 0) & (q[i] > ns)
            ahead = (i < n - 1) & (q[np.minimum(i + 1, n - 1)] <= ns)
            if not (back.any() or ahead.any()):
                break
            i = i + ahead - back
        return np.where(ns < q[0], -1, i)

    @classmethod
    def build(
        cls, q_ns: I64, bid: F64, ask: F64, t_ns: I64, price: F64, qty: F64, until_ns: int = -1
    ) -> SymbolMarket:
        q_ns, bid, ask = _sorted(q_ns, bid, ask)  # type: ignore[assignment]
        t_ns, price, qty = _sorted(t_ns, price, qty)  # type: ignore[assignment]
        if len(q_ns) > 1:  # several quotes at one time: the last is the one in force
            last = np.concatenate([q_ns[1:] != q_ns[:-1], [True]])
            q_ns, bid, ask = q_ns[last], bid[last], ask[last]
        with np.errstate(invalid="ignore"):
            ok = (bid > 0) & (ask > 0) & (ask >= bid)
        mid = np.where(ok, (bid + ask) / 2, np.nan)
        zero = np.zeros(1)
        cum_notional = np.concatenate([zero, np.cumsum(price * qty)])
        cum_qty = np.concatenate([zero, np.cumsum(qty)])
        # The mid's integral up to each quote (a NaN mid counts as 0 and poisons no later value;
        # a TWAP over a stretch without a two-sided quote is NaN by the coverage check).
        widths = np.diff(q_ns).astype(np.float64)
        steps = np.where(np.isnan(mid[:-1]), 0.0, mid[:-1]) * widths
        cum_mid_ns = np.concatenate([zero, np.cumsum(steps)]) if len(q_ns) else zero[:0]
        holes = np.concatenate([[0], np.cumsum(np.isnan(mid))])
        return cls(
            q_ns,
            bid,
            ask,
            mid,
            t_ns,
            price,
            qty,
            cum_notional,
            cum_qty,
            cum_mid_ns,
            holes,
            until_ns,
        )

    @property
    def end_ns(self) -> int:
        """The last time the data covers: its last quote or trade, or the ``until_ns`` it was
        given if later (a recorded feed covers until the recording stopped; -1: no data)."""
        last = [int(a[-1]) for a in (self.q_ns, self.t_ns) if len(a)]
        return max([*last, self.until_ns]) if last else -1

    def mid_at(self, ns: I64) -> F64:
        """The mid in force at each time (NaN: no quote yet, past the data, or one-sided)."""
        if not len(self.q_ns):
            return np.full(len(ns), np.nan)
        i = self.quote_index(ns)
        out = self.mid[np.maximum(i, 0)]
        return np.where((i < 0) | (ns > self.end_ns) | (ns < 0), np.nan, out)

    def vwap(self, start: I64, end: I64) -> tuple[F64, F64]:
        """The VWAP of the prints in ``[start, end]`` and their volume (NaN VWAP: none)."""
        lo = np.searchsorted(self.t_ns, start, side="left")
        hi = np.searchsorted(self.t_ns, end, side="right")
        vol = self.cum_qty[hi] - self.cum_qty[lo]
        notional = self.cum_notional[hi] - self.cum_notional[lo]
        with np.errstate(invalid="ignore", divide="ignore"):
            v = np.where((vol > 0) & (start >= 0) & (end >= start), notional / vol, np.nan)
        return v, vol

    def twap(self, start: I64, end: I64) -> F64:
        """The time-weighted mid over ``[start, end]`` (the mid at ``start`` for an instant;
        NaN where a stretch has no two-sided quote or the interval leaves the data)."""
        if not len(self.q_ns):
            return np.full(len(start), np.nan)
        q, mid = self.q_ns, self.mid
        i0, i1 = self.quote_index(start), self.quote_index(end)
        j0, j1 = np.maximum(i0, 0), np.maximum(i1, 0)
        m0, m1 = mid[j0], mid[j1]
        a = self.cum_mid_ns[j0] + np.where(np.isnan(m0), 0.0, m0) * (start - q[j0])
        b = self.cum_mid_ns[j1] + np.where(np.isnan(m1), 0.0, m1) * (end - q[j1])
        holes = self.holes[j1 + 1] - self.holes[j0]  # one-sided quotes inside: counted as 0
        width = (end - start).astype(np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            twap = np.where(width > 0, (b - a) / width, m0)
        bad = (i0 < 0) | (end > self.end_ns) | (start < 0) | (end < start) | (holes > 0)
        out: F64 = np.where(bad, np.nan, twap)
        return out


class Rows:
    """Rows of several symbols to look the market up for (fills, orders, parents), sorted once
    by symbol and ``times``: each symbol's rows are one slice, and a lookup at times that rise
    with them (``times`` plus a markout horizon) walks the market's columns in order, about ten
    times faster than at random. Results come back in the rows' own order."""

    def __init__(self, market: MarketData | None, symbols: list[str], codes: Any, times: I64):
        self.n = len(times)
        self.parts: list[tuple[SymbolMarket, int, int]] = []
        if market is None or not self.n:
            self.perm = np.zeros(0, np.intp)
            return
        by_time = np.argsort(times, kind="stable")  # a journal's rows nearly are: quick
        if len(symbols) <= _FEW:  # one pass a symbol beats a sort
            c = codes[by_time]
            parts = [by_time[c == i] for i in range(len(symbols))]
            self.perm = np.concatenate(parts)
            cuts = np.concatenate([[0], np.cumsum([len(p) for p in parts])])
        else:
            self.perm = by_time[np.argsort(codes[by_time], kind="stable")]
            cuts = np.searchsorted(codes[self.perm], np.arange(len(symbols) + 1))
        for c, name in enumerate(symbols):
            lo, hi = int(cuts[c]), int(cuts[c + 1])
            if hi > lo and name in market.symbols:
                self.parts.append((market.symbol(name), lo, hi))

    def _apply(self, fn: Callable[..., Any], *cols: I64, n_out: int = 1) -> list[F64]:
        outs = [np.full(self.n, np.nan) for _ in range(n_out)]
        if not self.parts:
            return outs
        sorted_cols = [c[self.perm] for c in cols]
        results = [np.full(self.n, np.nan) for _ in range(n_out)]
        for sm, lo, hi in self.parts:
            got = fn(sm, *(c[lo:hi] for c in sorted_cols))
            for r, g in zip(results, got if n_out > 1 else (got,), strict=True):
                r[lo:hi] = g
        for out, r in zip(outs, results, strict=True):
            out[self.perm] = r
        return outs

    def mid(self, ns: I64) -> F64:
        """The mid at ``ns`` (one time per row)."""
        return self._apply(SymbolMarket.mid_at, ns)[0]

    def vwap(self, start: I64, end: I64) -> tuple[F64, F64]:
        """The market's VWAP over each row's ``[start, end]`` and the volume traded."""
        v, vol = self._apply(SymbolMarket.vwap, start, end, n_out=2)
        return v, np.where(np.isnan(vol), 0.0, vol)

    def twap(self, start: I64, end: I64) -> F64:
        """The time-weighted mid over each row's ``[start, end]``."""
        return self._apply(SymbolMarket.twap, start, end)[0]


def _f64(name: str, a: object) -> F64:
    try:
        out = np.asarray(a, dtype=np.float64)
    except (TypeError, ValueError):
        raise TcaError(name, type(a).__name__, "expected numbers") from None
    if out.ndim != 1:
        raise TcaError(name, out.shape, "expected one column")
    return out


def _i64(name: str, a: object) -> I64:
    out = np.asarray(a)
    if out.ndim != 1 or (len(out) and out.dtype.kind not in "iu"):
        raise TcaError(name, getattr(out, "dtype", type(a).__name__), "expected int ns times")
    return out.astype(np.int64)


def _columns(
    kind: str, time_ns: object, x: tuple[str, object], y: tuple[str, object]
) -> tuple[I64, F64, F64]:
    """A quote or trade series' times and its two value columns, checked to be of one length."""
    t, a, b = _i64("time_ns", time_ns), _f64(*x), _f64(*y)
    if not len(t) == len(a) == len(b):
        raise TcaError(kind, (len(t), len(a), len(b)), "columns differ in length")
    return t, a, b


class MarketData:
    """Quotes and trades by symbol (see the module). Add data with :meth:`add_quotes`,
    :meth:`add_trades` or :meth:`add_columns` (each may be called once per symbol and kind;
    a later call replaces the earlier data); :meth:`symbol` gives the columns."""

    def __init__(self) -> None:
        self._quotes: dict[str, tuple[I64, F64, F64]] = {}
        self._trades: dict[str, tuple[I64, F64, F64]] = {}
        self._built: dict[str, SymbolMarket] = {}
        self._until: dict[str, int] = {}

    def covers(self, symbol: str, until_ns: int) -> MarketData:
        """Say that ``symbol``'s data covers up to ``until_ns`` (default: its last quote or
        trade): a quote stands until then, so a mid or a markout up to it is known."""
        self._until[symbol] = int(until_ns)
        self._built.pop(symbol, None)
        return self

    def add_quotes(self, symbol: str, time_ns: object, bid: object, ask: object) -> MarketData:
        """Best bid and offer updates of ``symbol`` (prices as numbers, not ticks)."""
        self._quotes[symbol] = _columns("quotes", time_ns, ("bid", bid), ("ask", ask))
        self._built.pop(symbol, None)
        return self

    def add_trades(self, symbol: str, time_ns: object, price: object, qty: object) -> MarketData:
        """The prints of ``symbol`` (prices and sizes as numbers)."""
        self._trades[symbol] = _columns("trades", time_ns, ("price", price), ("qty", qty))
        self._built.pop(symbol, None)
        return self

    def add_columns(
        self,
        symbol: str,
        *,
        tick: Decimal | str,
        lot: Decimal | str = "1",
        quotes: Quotes | None = None,
        trades: Trades | None = None,
    ) -> MarketData:
        """Columns a :mod:`fillforge.marketdata` loader gave (prices in ``tick``, sizes in
        ``lot``, the grids the loader was given)."""
        t, lt = float(Decimal(tick)), float(Decimal(lot))
        if quotes is not None:
            if not isinstance(quotes, Quotes):
                raise TcaError("quotes", type(quotes).__name__, "expected marketdata.Quotes")
            self.add_quotes(symbol, quotes.time_ns, quotes.bid_price * t, quotes.ask_price * t)
        if trades is not None:
            if not isinstance(trades, Trades):
                raise TcaError("trades", type(trades).__name__, "expected marketdata.Trades")
            self.add_trades(symbol, trades.time_ns, trades.price * t, trades.qty * lt)
        return self

    @property
    def symbols(self) -> set[str]:
        return set(self._quotes) | set(self._trades)

    def has_quotes(self, symbol: str) -> bool:
        return symbol in self._quotes

    def has_trades(self, symbol: str) -> bool:
        return symbol in self._trades

    def symbol(self, symbol: str) -> SymbolMarket:
        """``symbol``'s columns (empty ones for a symbol without data)."""
        built = self._built.get(symbol)
        if built is None:
            empty_i, empty_f = np.zeros(0, np.int64), np.zeros(0)
            q = self._quotes.get(symbol, (empty_i, empty_f, empty_f))
            t = self._trades.get(symbol, (empty_i, empty_f, empty_f))
            until = self._until.get(symbol, -1)
            built = self._built[symbol] = SymbolMarket.build(*q, *t, until)
        return built

    def __repr__(self) -> str:
        n_q = sum(len(q[0]) for q in self._quotes.values())
        n_t = sum(len(t[0]) for t in self._trades.values())
        return f"MarketData(symbols={sorted(self.symbols)}, quotes={n_q}, trades={n_t})"


class MarketRecorder:
    """Records the quotes and prints a broker publishes for ``symbols`` while it runs (the
    simulated venue's feed as the strategy saw it); :meth:`market` gives them as
    :class:`MarketData`, covering up to the broker's time then. :meth:`close` unsubscribes."""

    def __init__(self, broker: Broker, symbols: list[str]) -> None:
        self._broker = broker
        self._q: dict[str, list[tuple[int, float, float]]] = {s: [] for s in symbols}
        self._t: dict[str, list[tuple[int, float, float]]] = {s: [] for s in symbols}
        self._stop: list[Callable[[], None]] = []
        for s in symbols:
            now = broker.latest_quote(s)  # the quote in force when the recording starts
            if now is not None:
                self._quote(now.model_copy(update={"timestamp_ns": broker.now_ns()}))
            self._stop.append(broker.subscribe_quotes(s, self._quote))
            self._stop.append(broker.subscribe_trades(s, self._trade))

    def _quote(self, q: Quote) -> None:
        bid = float(q.bid_price) if q.bid_price is not None else np.nan
        ask = float(q.ask_price) if q.ask_price is not None else np.nan
        rows = self._q[q.symbol]
        if rows and rows[-1][0] > q.timestamp_ns:  # an older quote than the one in force
            return
        rows.append((q.timestamp_ns, bid, ask))

    def _trade(self, t: Trade) -> None:
        self._t[t.symbol].append((t.timestamp_ns, float(t.price), float(t.size)))

    def close(self) -> None:
        for stop in self._stop:
            stop()
        self._stop = []

    def market(self) -> MarketData:
        out = MarketData()
        now = self._broker.now_ns()
        for s in self._q:
            out.covers(s, now)
        for s, rows in self._q.items():
            if rows:
                cols = list(zip(*rows, strict=True))
                out.add_quotes(s, np.array(cols[0], np.int64), cols[1], cols[2])
        for s, rows in self._t.items():
            if rows:
                cols = list(zip(*rows, strict=True))
                out.add_trades(s, np.array(cols[0], np.int64), cols[1], cols[2])
        return out
