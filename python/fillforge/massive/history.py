"""The market history the local data servers answer from: each symbol's bars (minute, hour,
day), trades and quotes, in time order, read once from market-data files.

- Daily bars files (``SYMBOL_daily_*.csv``, read by :func:`fillforge.marketdata.load_bars` on a
  cent grid): day bars stamped 00:00 UTC of their date, with no trade count or VWAP (the file
  has neither).
- LOBSTER message and orderbook files (the symbol and day from LOBSTER's file naming): trades
  are the executions (message types 4 and 5), quotes each change of the best bid or ask (the
  orderbook's first level after a message); minute, hour and day bars are aggregated from the
  trades, with their count and VWAP.

:func:`shipped_history` is the package's own data (the three daily samples and the GOOG
LOBSTER day), read once per process. Both the Massive-compatible server
(:mod:`fillforge.massive`) and the Alpaca server's historical routes
(:mod:`fillforge.alpaca.data_routes`) serve it.
"""

from __future__ import annotations

import bisect
import datetime as dt
import functools
import gzip
import re
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import IO, Final, NamedTuple
from zoneinfo import ZoneInfo

from fillforge.errors import MarketDataError
from fillforge.marketdata import NS_PER_DAY, NS_PER_MINUTE, load_bars
from fillforge.replay.samples import daily_samples, lobster_sample
from fillforge.time import from_datetime

__all__ = [
    "TIMEFRAMES",
    "BarRow",
    "History",
    "QuoteRow",
    "TradeRow",
    "shipped_history",
]

#: Bar lengths by timeframe name.
TIMEFRAMES: Final = {"minute": NS_PER_MINUTE, "hour": 60 * NS_PER_MINUTE, "day": NS_PER_DAY}

_CENT: Final = Decimal("0.01")
_LOBSTER_UNIT: Final = Decimal("0.0001")
_VWAP: Final = Decimal("0.0001")  # a bar's VWAP to 1/100 cent, as Massive sends it
_LOBSTER_EMPTY: Final = 9_999_999_999  # LOBSTER's price of an empty level (negated for bids)
_LOBSTER_NAME: Final = re.compile(r"([A-Za-z][A-Za-z0-9.]*)_(\d{4}-\d{2}-\d{2})_.*_message_")
_DAILY_NAME: Final = re.compile(r"([A-Za-z][A-Za-z0-9.]*)_daily_")
_NEW_YORK: Final = ZoneInfo("America/New_York")


class BarRow(NamedTuple):
    """One bar: open time (UTC ns), prices, volume in shares; count and VWAP when known."""

    t: int
    o: Decimal
    h: Decimal
    l: Decimal  # noqa: E741 - the vendors' own name
    c: Decimal
    v: int
    n: int | None
    vw: Decimal | None


class TradeRow(NamedTuple):
    """One print: time (UTC ns), price, size in shares, its number in the day's feed."""

    t: int
    price: Decimal
    size: int
    seq: int


class QuoteRow(NamedTuple):
    """The best bid and ask from ``t`` (UTC ns): a side the book does not show has no price
    and size 0."""

    t: int
    bid: Decimal | None
    bid_size: int
    ask: Decimal | None
    ask_size: int
    seq: int


class _Series:
    """Rows in time order with their times, for [start, end) windows by bisection."""

    def __init__(self, rows: list[NamedTuple]) -> None:
        self.rows = rows
        self.times: list[int] = [r[0] for r in rows]

    def window(self, start: int, end: int) -> tuple[int, int]:
        return bisect.bisect_left(self.times, start), bisect.bisect_left(self.times, end)


class History:
    """Every symbol's bars by timeframe, trades and quotes (rows in time order)."""

    def __init__(self) -> None:
        self._bars: dict[tuple[str, str], _Series] = {}
        self._trades: dict[str, _Series] = {}
        self._quotes: dict[str, _Series] = {}

    # ----- reading ------------------------------------------------------------------------

    @property
    def symbols(self) -> list[str]:
        names = {s for s, _ in self._bars} | set(self._trades) | set(self._quotes)
        return sorted(names)

    def has(self, symbol: str) -> bool:
        return symbol in self._trades or symbol in self._quotes or (symbol, "day") in self._bars

    def bars(self, symbol: str, timeframe: str) -> Sequence[BarRow]:
        series = self._bars.get((symbol, timeframe))
        return series.rows if series is not None else []  # type: ignore[return-value]

    def trades(self, symbol: str) -> Sequence[TradeRow]:
        series = self._trades.get(symbol)
        return series.rows if series is not None else []  # type: ignore[return-value]

    def quotes(self, symbol: str) -> Sequence[QuoteRow]:
        series = self._quotes.get(symbol)
        return series.rows if series is not None else []  # type: ignore[return-value]

    def window(self, kind: str, symbol: str, start: int, end: int, timeframe: str = "") -> range:
        """Indexes of ``kind``'s (``bars``, ``trades``, ``quotes``) rows in [start, end)."""
        if kind == "bars":
            series = self._bars.get((symbol, timeframe))
        else:
            series = (self._trades if kind == "trades" else self._quotes).get(symbol)
        if series is None:
            return range(0)
        return range(*series.window(start, end))

    def rows(self, kind: str, symbol: str, timeframe: str = "") -> Sequence[NamedTuple]:
        if kind == "bars":
            return self.bars(symbol, timeframe)
        return self.trades(symbol) if kind == "trades" else self.quotes(symbol)

    def latest_quote(self, symbol: str) -> QuoteRow | None:
        rows = self.quotes(symbol)
        return rows[-1] if rows else None

    # ----- loading ------------------------------------------------------------------------

    def add_daily_bars(self, symbol: str, path: Path) -> None:
        """A daily bars file's rows as ``symbol``'s day bars (merged with any already held)."""
        bars = load_bars(path, tick=_CENT)
        columns = (bars.time_ns, bars.open, bars.high, bars.low, bars.close, bars.volume)
        rows = [
            BarRow(int(t), _cents(o), _cents(h), _cents(lo), _cents(c), int(v), None, None)
            for t, o, h, lo, c, v in zip(*columns, strict=True)
        ]
        self._merge_bars(symbol, "day", rows)

    def add_lobster(self, message: Path, orderbook: Path) -> None:
        """A LOBSTER day: its executions as trades, its best-level changes as quotes, and
        minute, hour and day bars of the trades."""
        m = _LOBSTER_NAME.match(message.name)
        if m is None:
            why = "not a LOBSTER message file name (SYMBOL_YYYY-MM-DD_..._message_N.csv[.gz])"
            raise MarketDataError(str(message), None, "path", message.name, why)
        symbol, day = m.group(1).upper(), dt.date.fromisoformat(m.group(2))
        midnight = from_datetime(dt.datetime.combine(day, dt.time(), tzinfo=_NEW_YORK))
        trades: list[TradeRow] = []
        quotes: list[QuoteRow] = []
        last: tuple[str, ...] = ()
        with _open(message) as msgs, _open(orderbook) as book:
            for seq, (msg, level) in enumerate(zip(msgs, book, strict=True), start=1):
                fields = msg.split(",", 6)
                t = midnight + _seconds_ns(fields[0], message, seq)
                if fields[1] in ("4", "5"):
                    price = _lobster_price(fields[4])
                    trades.append(TradeRow(t, price, int(fields[3]), seq))
                top = tuple(level.split(",", 4)[:4])
                if top != last:
                    last = top
                    ask, ask_size, bid, bid_size = top
                    quotes.append(
                        QuoteRow(
                            t,
                            None if abs(int(bid)) == _LOBSTER_EMPTY else _lobster_price(bid),
                            int(bid_size),
                            None if abs(int(ask)) == _LOBSTER_EMPTY else _lobster_price(ask),
                            int(ask_size),
                            seq,
                        )
                    )
        self._quotes[symbol] = _merged(self._quotes.get(symbol), quotes)
        self.add_trades(symbol, trades)

    def add_trades(self, symbol: str, trades: Sequence[TradeRow]) -> None:
        """Prints in time order as ``symbol``'s trades, with minute, hour and day bars of them."""
        self._trades[symbol] = _merged(self._trades.get(symbol), trades)
        for timeframe, period in TIMEFRAMES.items():
            self._merge_bars(symbol, timeframe, aggregate(trades, period))

    def overlay(self, other: History) -> History:
        """This history, plus ``other``'s symbols that this one does not hold."""
        out = History()
        out._bars, out._trades, out._quotes = (
            dict(self._bars),
            dict(self._trades),
            dict(self._quotes),
        )
        for symbol in other.symbols:
            if not self.has(symbol):
                out._trades.update({k: v for k, v in other._trades.items() if k == symbol})
                out._quotes.update({k: v for k, v in other._quotes.items() if k == symbol})
                out._bars.update({k: v for k, v in other._bars.items() if k[0] == symbol})
        return out

    def _merge_bars(self, symbol: str, timeframe: str, rows: list[BarRow]) -> None:
        key = (symbol, timeframe)
        self._bars[key] = _merged(self._bars.get(key), rows)


def aggregate(trades: Sequence[TradeRow], period_ns: int) -> list[BarRow]:
    """Bars of ``period_ns`` (open times on multiples of it from the epoch) from trades in
    time order: OHLC, volume, count and VWAP (to 0.0001)."""
    out: list[BarRow] = []
    i, n = 0, len(trades)
    while i < n:
        start = trades[i].t - trades[i].t % period_ns
        j = i
        high = low = trades[i].price
        volume, notional = 0, Decimal(0)
        while j < n and trades[j].t < start + period_ns:
            p, s = trades[j].price, trades[j].size
            high, low = max(high, p), min(low, p)
            volume += s
            notional += p * s
            j += 1
        vwap = (notional / volume).quantize(_VWAP) if volume else trades[j - 1].price
        out.append(
            BarRow(start, trades[i].price, high, low, trades[j - 1].price, volume, j - i, vwap)
        )
        i = j
    return out


def _merged(old: _Series | None, rows: Sequence[NamedTuple]) -> _Series:
    combined = [*(old.rows if old is not None else []), *rows]
    combined.sort(key=lambda r: r[0])
    return _Series(combined)


def _open(path: Path) -> IO[str]:
    with open(path, "rb") as raw:
        gzipped = raw.read(2) == b"\x1f\x8b"
    if gzipped:
        return gzip.open(path, "rt", encoding="ascii")
    return open(path, encoding="ascii")


def _seconds_ns(text: str, path: Path, line: int) -> int:
    whole, _, fraction = text.partition(".")
    if not whole.isdigit() or (fraction and not fraction.isdigit()) or len(fraction) > 9:
        raise MarketDataError(str(path), line, "time", text, "not seconds after midnight")
    return int(whole) * 1_000_000_000 + int(fraction.ljust(9, "0") or 0)


def _cents(ticks: object) -> Decimal:
    return Decimal(int(ticks)) * _CENT  # type: ignore[call-overload]  # a numpy int64


def _lobster_price(text: str) -> Decimal:
    """LOBSTER's price (USD x 10000) in dollars: to the cent when it is whole cents."""
    units = int(text)
    return Decimal(units // 100) * _CENT if units % 100 == 0 else Decimal(units) * _LOBSTER_UNIT


def load_history(paths: Sequence[Path]) -> History:
    """A history of daily bars files (``SYMBOL_daily_*.csv``) and LOBSTER message files (the
    orderbook file found beside each)."""
    history = History()
    for path in paths:
        if "_message_" in path.name:
            stem, level = path.name.split("_message_")
            found = sorted(path.parent.glob(f"{stem}_orderbook_{level.split('.')[0]}.csv*"))
            if not found:
                why = "no LOBSTER orderbook file beside it"
                raise MarketDataError(str(path), None, "path", path.name, why)
            history.add_lobster(path, found[0])
            continue
        m = _DAILY_NAME.match(path.name)
        if m is None:
            why = "expected a daily bars file SYMBOL_daily_*.csv or a LOBSTER message file"
            raise MarketDataError(str(path), None, "path", path.name, why)
        history.add_daily_bars(m.group(1).upper(), path)
    return history


@functools.cache
def shipped_history() -> History:
    """The package's own data: the daily AAPL, GOOG and SPY samples, and the GOOG LOBSTER day
    (read once per process)."""
    message, _ = lobster_sample()
    return load_history([*daily_samples().values(), message])
