"""Market data of a simulated venue, as a broker passes it on: the latest quote and trade of a
symbol on demand, and quotes, trades and minute bars delivered to subscribers as the broker
applies the data.

On demand costs nothing while the replay runs: :meth:`SimMarketData.latest_quote` reads the
engine's recorded best bid and ask, :meth:`SimMarketData.last_trade` finds the last print the
engine has applied in the feed (an index of the feed's prints, built on first use) or the last
scripted one. Subscriptions cost only their symbols and only their changes: the broker runs a
subscribed market's engine until a message prints or ends an instant with a new top of the book
(``SimEngine.run_watched``: the engine keeps the top it last handed out), then calls
:meth:`SimMarketData.deliver`; other markets run in batches as before. A paced venue still steps
one message at a time (:meth:`SimMarketData.observe`). See ``docs/broker.md``.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import numpy as np
import numpy.typing as npt

from fillforge.broker import Bar, DataKind, Quote, Subscriptions, Trade
from fillforge.sim.feeds import FeedKind
from fillforge.sim.venue import Market, Venue
from fillforge.time import NS_PER_SECOND

__all__ = ["BAR_PERIOD_NS", "SimMarketData"]

BAR_PERIOD_NS = 60 * NS_PER_SECOND
_PRINTS = (FeedKind.EXECUTE, FeedKind.HIDDEN, FeedKind.TRADE)
_NO_TIME = -(2**63)
_Top = tuple[tuple[int, int] | None, tuple[int, int] | None]
_ZERO = Decimal(0)
_CACHE_MAX = 4096  # prices and sizes of one market converted to Decimal, kept for reuse
_adopt_quote = Quote.adopter()


class _Tape:
    """The prints of one feed: their message positions, times, prices (ticks) and sizes."""

    __slots__ = ("is_print", "pos", "price", "qty", "time")

    def __init__(self, market: Market) -> None:
        time_ns, kind, _oid, _side, price, qty = market.feed.columns()
        self.is_print: npt.NDArray[np.bool_] = np.isin(kind, _PRINTS)
        self.pos = np.flatnonzero(self.is_print)
        self.time, self.price, self.qty = time_ns, price, qty

    def last_before(self, position: int) -> int | None:
        """The index of the last print among the first ``position`` messages."""
        k = int(np.searchsorted(self.pos, position)) - 1
        return None if k < 0 else int(self.pos[k])


class _BarBuilder:
    """Minute bars of one symbol from its prints: a bar is delivered at the first print of a
    later minute."""

    __slots__ = ("bar",)

    def __init__(self) -> None:
        self.bar: dict[str, Any] | None = None

    def add(self, trade: Trade) -> Bar | None:
        start = trade.timestamp_ns - trade.timestamp_ns % BAR_PERIOD_NS
        b, done = self.bar, None
        if b is not None and b["timestamp_ns"] != start:
            done = self._done(b)
            b = None
        if b is None:
            self.bar = {
                "symbol": trade.symbol,
                "open": trade.price,
                "high": trade.price,
                "low": trade.price,
                "close": trade.price,
                "volume": trade.size,
                "trade_count": 1,
                "value": trade.price * trade.size,
                "timestamp_ns": start,
                "period_ns": BAR_PERIOD_NS,
            }
        else:
            b["high"], b["low"] = max(b["high"], trade.price), min(b["low"], trade.price)
            b["close"], b["volume"] = trade.price, b["volume"] + trade.size
            b["trade_count"] += 1
            b["value"] += trade.price * trade.size
        return done

    @staticmethod
    def _done(b: dict[str, Any]) -> Bar:
        value = b.pop("value")
        return Bar.trusted(**b, vwap=value / b["volume"] if b["volume"] else b["close"])


class SimMarketData:
    """The market data of ``venue``'s markets; ``now`` is the broker's clock."""

    def __init__(self, venue: Venue, now: Callable[[], int]) -> None:
        self._venue = venue
        self._now = now
        self.subscriptions = Subscriptions()
        self._tapes: dict[str, _Tape] = {}
        self._scripted: dict[str, Trade] = {}
        self._makers: dict[str, Callable[[int, int, int, int, int], Quote | None]] = {}
        self._watching: dict[str, tuple[int, tuple[Callable[[Any], None], ...], bool]] = {}
        self._bars: dict[str, _BarBuilder] = {}

    # ----- on demand ----------------------------------------------------------------------

    def latest_quote(self, symbol: str) -> Quote | None:
        """The recorded best bid and ask now (the user's orders left out), as of the market's
        last message; None while the book shows neither side."""
        return self._quote(self._venue.market(symbol))

    def last_trade(self, symbol: str) -> Trade | None:
        """The last print applied (from the feed, or scripted); None before the first."""
        market = self._venue.market(symbol)
        scripted = self._scripted.get(symbol)
        i = self._tape(market).last_before(market.engine.position)
        recorded = None if i is None else self._trade_at(market, i)
        if recorded is None:
            return scripted
        if scripted is not None and scripted.timestamp_ns >= recorded.timestamp_ns:
            return scripted
        return recorded

    # ----- subscriptions ------------------------------------------------------------------

    def watched(self, symbol: str) -> bool:
        return self.subscriptions.watched(symbol)

    def subscribe(
        self, kind: DataKind, symbol: str, callback: Callable[[Any], None]
    ) -> Callable[[], None]:
        market = self._venue.market(symbol)  # an unlisted symbol is refused
        if kind == "quotes" and not self.subscriptions.callbacks("quotes", symbol):
            market.engine.reset_watched_top()  # deliver changes from now on
        return self.subscriptions.add(kind, symbol, callback)

    def watching(self, symbol: str) -> tuple[tuple[Callable[[Any], None], ...], bool]:
        """``symbol``'s quote callbacks, and whether its prints (trades or bars) have any; read
        again only when the subscriptions changed."""
        subs = self.subscriptions
        got = self._watching.get(symbol)
        if got is None or got[0] != subs.version:
            prints = bool(subs.callbacks("trades", symbol) or subs.callbacks("bars", symbol))
            got = self._watching[symbol] = (
                subs.version,
                tuple(subs.callbacks("quotes", symbol)),
                prints,
            )
        return got[1], got[2]

    def deliver_print(self, market: Market) -> None:
        """A watched run stopped after a print (the message at ``market``'s position - 1)."""
        self._deliver_trade(self._trade_at(market, market.engine.position - 1))

    def quote_maker(self, market: Market) -> Callable[[int, int, int, int, int], Quote | None]:
        """``make(now, bid_price, bid_qty, ask_price, ask_qty)``: ``market``'s top at ``now``
        (ticks and lots; qty 0: an empty side) as a :class:`Quote`, None with both sides empty.
        On the replay's hot path: one model per quote, each price and size converted to Decimal
        once (the names it needs bound in the closure); one per market, made on first use."""
        symbol = market.symbol
        made = self._makers.get(symbol)
        if made is not None:
            return made
        d = _Decimals(market)
        prices, qtys, price, qty, adopt = d.prices, d.qtys, d.price, d.qty, _adopt_quote
        zero = _ZERO

        def make(now: int, bp: int, bq: int, ap: int, aq: int) -> Quote | None:
            if not bq and not aq:
                return None
            return adopt(
                {
                    "symbol": symbol,
                    "bid_price": (prices.get(bp) or price(bp)) if bq else None,
                    "bid_size": (qtys.get(bq) or qty(bq)) if bq else zero,
                    "ask_price": (prices.get(ap) or price(ap)) if aq else None,
                    "ask_size": (qtys.get(aq) or qty(aq)) if aq else zero,
                    "timestamp_ns": now,
                }
            )

        self._makers[symbol] = make
        return make

    def observe(self, market: Market) -> None:
        """A subscribed market applied one message of its feed: deliver what changed."""
        e = market.engine
        pos = e.position - 1
        if pos >= 0 and self._tape(market).is_print[pos]:
            self._deliver_trade(self._trade_at(market, pos))
        if e.next_time != e.now:  # the book as of a whole instant (a quote row is two sides)
            self.quote_moved(market)

    def scripted_trade(self, market: Market, price: Decimal, qty: Decimal, t: int) -> None:
        trade = Trade.trusted(symbol=market.symbol, price=price, size=qty, timestamp_ns=t)
        self._scripted[market.symbol] = trade
        self._deliver_trade(trade)
        self.quote_moved(market)

    def quote_moved(self, market: Market) -> None:
        """Deliver the quote if the top of the book changed since the last one delivered."""
        if not self.subscriptions.callbacks("quotes", market.symbol):
            return
        top = market.engine.take_top_change()
        if top is not None:
            self._deliver_quote(market, top)

    # ----- helpers ------------------------------------------------------------------------

    def _deliver_quote(self, market: Market, top: _Top) -> None:
        (bp, bq), (ap, aq) = top[0] or (0, 0), top[1] or (0, 0)
        q = self.quote_maker(market)(market.engine.now, bp, bq, ap, aq)
        if q is not None:
            for cb in self.watching(market.symbol)[0]:
                cb(q)

    def _deliver_trade(self, trade: Trade) -> None:
        for cb in self.subscriptions.callbacks("trades", trade.symbol):
            cb(trade)
        bar_subs = self.subscriptions.callbacks("bars", trade.symbol)
        if bar_subs:
            bar = self._bars.setdefault(trade.symbol, _BarBuilder()).add(trade)
            if bar is not None:
                for cb in bar_subs:
                    cb(bar)

    def _quote(self, market: Market) -> Quote | None:
        """The engine's recorded top now as a quote (:meth:`quote_maker`'s); None with both
        sides empty."""
        e = market.engine
        (bp, bq), (ap, aq) = e.best_bid() or (0, 0), e.best_ask() or (0, 0)
        now = e.now
        return self.quote_maker(market)(now if now > _NO_TIME else self._now(), bp, bq, ap, aq)

    def _tape(self, market: Market) -> _Tape:
        tape = self._tapes.get(market.symbol)
        if tape is None:
            tape = self._tapes[market.symbol] = _Tape(market)
        return tape

    def _trade_at(self, market: Market, i: int) -> Trade:
        tape, inst = self._tape(market), market.instrument
        return Trade.trusted(
            symbol=market.symbol,
            price=inst.to_price(int(tape.price[i])),
            size=inst.to_qty(int(tape.qty[i])),
            timestamp_ns=int(tape.time[i]),
        )


class _Decimals:
    """One market's prices (ticks) and sizes (lots) as Decimal, converted once each: a quote
    stream repeats a few hundred of them (cleared past :data:`_CACHE_MAX`)."""

    __slots__ = ("_inst", "prices", "qtys")

    def __init__(self, market: Market) -> None:
        self._inst = market.instrument
        self.prices: dict[int, Decimal] = {}
        self.qtys: dict[int, Decimal] = {}

    def price(self, ticks: int) -> Decimal:
        p = self.prices.get(ticks)
        if p is None:
            if len(self.prices) >= _CACHE_MAX:
                self.prices.clear()
            p = self.prices[ticks] = self._inst.to_price(ticks)
        return p

    def qty(self, lots: int) -> Decimal:
        q = self.qtys.get(lots)
        if q is None:
            if len(self.qtys) >= _CACHE_MAX:
                self.qtys.clear()
            q = self.qtys[lots] = self._inst.to_qty(lots)
        return q
