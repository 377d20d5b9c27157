"""Session bars built from prints: one bar per symbol and trading session, for strategies that
decide once a day on any broker.

A backtest replays daily bars from their tables (:mod:`fillforge.strategy.bars`). A live or
paper broker has no daily-bar feed: it delivers prints (and minute bars). With
``Runner(..., session_bars=True)`` the runner builds each symbol's bar of the session from the
prints the broker delivers (open: the first, high and low: the extremes, close: the last,
volume and VWAP: over them) and hands it to ``on_bar`` at the session's close, so a daily
strategy written for a backtest runs unchanged on a paper or live account.

How complete a session bar is depends on the prints the broker delivers: on a simulated broker
every print; on a broker that polls (``AlpacaBroker``) the latest print at each poll, so an
extreme between two polls can be missed (the close is the last print, which a poll after the
close always sees).
"""

from __future__ import annotations

from fillforge.broker import Bar, Trade
from fillforge.marketdata import NS_PER_DAY

__all__ = ["SessionBars"]


class _Open:
    __slots__ = ("close", "count", "high", "low", "open", "value", "volume")

    def __init__(self, t: Trade) -> None:
        self.open = self.high = self.low = self.close = t.price
        self.volume, self.value, self.count = t.size, t.price * t.size, 1


class SessionBars:
    """The session bar of each symbol so far, from the prints added since the last close."""

    __slots__ = ("_open", "symbols")

    def __init__(self, symbols: tuple[str, ...]) -> None:
        self.symbols = symbols
        self._open: dict[str, _Open] = {}

    def __bool__(self) -> bool:
        """Whether any symbol has a print this session."""
        return bool(self._open)

    def add(self, t: Trade) -> None:
        b = self._open.get(t.symbol)
        if b is None:
            self._open[t.symbol] = _Open(t)
            return
        p = t.price
        if p > b.high:
            b.high = p
        elif p < b.low:
            b.low = p
        b.close = p
        b.volume += t.size
        b.value += p * t.size
        b.count += 1

    def close(self, close_ns: int) -> list[Bar]:
        """The bars of the session that closed at ``close_ns`` (symbols without a print that
        session have none), in the symbols' order; the next session starts empty. A bar is
        stamped like a daily bar: 00:00 UTC of its close's date, one day long."""
        day = close_ns - close_ns % NS_PER_DAY
        out = []
        for s in self.symbols:
            b = self._open.pop(s, None)
            if b is None:
                continue
            out.append(
                Bar.adopt(
                    {
                        "symbol": s,
                        "open": b.open,
                        "high": b.high,
                        "low": b.low,
                        "close": b.close,
                        "volume": b.volume,
                        "trade_count": b.count,
                        "vwap": b.value / b.volume if b.volume else b.close,
                        "timestamp_ns": day,
                        "period_ns": NS_PER_DAY,
                    }
                )
            )
        return out
