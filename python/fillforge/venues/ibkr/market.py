"""IbkrBroker's market data: IB's streaming market data (``reqMktData``) for the symbols
something subscribes to, snapshots (``reqTickers``) for the rest.

A subscription to a symbol's quotes or trades starts one stream per symbol; ib_async's
``Ticker`` updates are turned into :class:`~fillforge.broker.models.Quote` and
:class:`~fillforge.broker.models.Trade` and delivered when they change (on ib_async's loop
thread). The last subscriber gone, the stream is cancelled. After a reconnect the streams are
asked for again (:meth:`StreamedMarketData.restart`). Bars are not served.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from fillforge.broker.models import Quote, Trade
from fillforge.broker.subscriptions import DataKind, Subscriptions
from fillforge.time import Clock
from fillforge.venues.ibkr.convert import dec
from fillforge.venues.ibkr.loop import LoopThread

__all__ = ["StreamedMarketData", "quote_of", "trade_of"]

_ZERO = Decimal(0)


def quote_of(ticker: Any, ts_ns: int) -> Quote | None:
    """The ticker's best bid and ask (None: neither side)."""
    bid, ask = dec(ticker.bid), dec(ticker.ask)
    if bid <= 0 and ask <= 0:
        return None
    return Quote(
        symbol=str(ticker.contract.symbol),
        bid_price=bid if bid > 0 else None,
        bid_size=max(dec(ticker.bidSize), _ZERO),
        ask_price=ask if ask > 0 else None,
        ask_size=max(dec(ticker.askSize), _ZERO),
        timestamp_ns=ts_ns,
    )


def trade_of(ticker: Any, ts_ns: int) -> Trade | None:
    """The ticker's last trade (None: none yet)."""
    last = dec(ticker.last)
    if last <= 0:
        return None
    return Trade(
        symbol=str(ticker.contract.symbol),
        price=last,
        size=max(dec(ticker.lastSize), _ZERO),
        timestamp_ns=ts_ns,
    )


class StreamedMarketData:
    """The :class:`~fillforge.broker.subscriptions.MarketData` of an IB connection: ``ib`` on
    ``loop``; ``contract(symbol)`` qualifies a symbol; ``snapshot(symbols)`` asks for tickers
    once; ``clock`` stamps the updates (IB's ticks carry no time of their own here)."""

    def __init__(
        self,
        ib: Any,
        loop: LoopThread,
        contract: Callable[[str], Any],
        snapshot: Callable[[list[str]], list[Any]],
        clock: Clock,
        timeout: float,
    ) -> None:
        self._ib, self._loop = ib, loop
        self._contract, self._snapshot = contract, snapshot
        self._time, self._timeout = clock, timeout
        self._subs = Subscriptions()
        self._lock = threading.Lock()
        self._streams: dict[str, Any] = {}  # symbol -> its streaming ib_async Ticker
        self._last: dict[tuple[DataKind, str], Any] = {}

    def latest_quote(self, symbol: str) -> Quote | None:
        """The stream's quote when it has both sides, else a snapshot's (a stream just started
        may have seen the bid's tick and not yet the ask's)."""
        ticker = self._streams.get(symbol)
        q = quote_of(ticker, self._time.now_ns()) if ticker is not None else None
        if q is None or q.bid_price is None or q.ask_price is None:
            got = self._snapshot([symbol])
            q = quote_of(got[0], self._time.now_ns()) if got else None
        return q

    def last_trade(self, symbol: str) -> Trade | None:
        """The stream's last trade when it has one, else a snapshot's."""
        ticker = self._streams.get(symbol)
        t = trade_of(ticker, self._time.now_ns()) if ticker is not None else None
        if t is None:
            got = self._snapshot([symbol])
            t = trade_of(got[0], self._time.now_ns()) if got else None
        return t

    def subscribe(
        self, kind: DataKind, symbol: str, callback: Callable[[Any], None]
    ) -> Callable[[], None]:
        """Deliver ``symbol``'s later ``kind`` (quotes, trades) to ``callback`` as IB streams
        them; returns the unsubscribe."""
        contract = self._contract(symbol) if kind != "bars" else None
        with self._lock:
            stop = self._subs.add(kind, symbol, callback)
            start = contract is not None and symbol not in self._streams
        if start:
            self._loop.call(lambda: self._start(symbol, contract), self._timeout)

        def unsubscribe() -> None:
            with self._lock:
                stop()
                idle = not self._subs.watched(symbol)
                ticker = self._streams.pop(symbol, None) if idle else None
            if ticker is not None:
                self._loop.call(lambda: self._ib.cancelMktData(ticker.contract), self._timeout)

        return unsubscribe

    def _start(self, symbol: str, contract: Any) -> None:
        """On the loop: stream ``symbol`` (ib_async's ticker; its updates delivered)."""
        ticker = self._ib.reqMktData(contract)
        ticker.updateEvent += self._update
        with self._lock:
            self._streams[symbol] = ticker
            now = self._time.now_ns()
            self._last[("quotes", symbol)] = quote_of(ticker, now)
            self._last[("trades", symbol)] = trade_of(ticker, now)

    def _update(self, ticker: Any) -> None:
        symbol = str(ticker.contract.symbol)
        now = self._time.now_ns()
        fresh: list[tuple[DataKind, Quote | Trade | None]] = [
            ("quotes", quote_of(ticker, now)),
            ("trades", trade_of(ticker, now)),
        ]
        deliveries = []
        with self._lock:
            for kind, value in fresh:
                if value is None or _same(self._last.get((kind, symbol)), value):
                    continue
                self._last[(kind, symbol)] = value
                deliveries += [(cb, value) for cb in self._subs.callbacks(kind, symbol)]
        for cb, value in deliveries:
            cb(value)

    def restart(self) -> None:
        """Ask for every stream again (after a reconnect: ib_async forgot them)."""
        with self._lock:
            symbols = list(self._streams)
            self._streams.clear()
        for symbol in symbols:
            contract = self._contract(symbol)
            self._loop.call(functools.partial(self._start, symbol, contract), self._timeout)


def _same(old: Any, new: Any) -> bool:
    """Equal but for the time stamp."""
    if old is None:
        return False
    unstamped = {"timestamp_ns": 0}
    return bool(old.model_copy(update=unstamped) == new.model_copy(update=unstamped))
