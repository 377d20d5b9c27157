"""Market-data subscriptions served by polling: for a broker whose data API answers "latest"
requests (Alpaca's REST market data), on its timer scheduler.

Every ``every_ns`` the scheduler asks for the latest quote, trade and bar of each subscribed
symbol (one request per kind, all its symbols at once) and delivers what changed since the last
one delivered. Subscribing fetches the symbol's current value first, so only what happens after
the subscription is delivered. Polling sees at most one new value per kind and symbol per poll:
prints between two polls other than the last are not seen.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any, cast

from fillforge.broker.models import Quote, Trade
from fillforge.broker.subscriptions import DataKind, Subscriptions
from fillforge.broker.timers import WallTimers

__all__ = ["POLL_TIMER", "PolledMarketData"]

POLL_TIMER = "\0market-data"  # the scheduler's timer name for the polls
Fetch = Callable[[list[str]], Mapping[str, Any]]


class PolledMarketData:
    """Subscriptions fed by ``fetch[kind](symbols)`` (the latest value per symbol) every
    ``every_ns`` on ``timers``."""

    def __init__(self, timers: WallTimers, every_ns: int, fetch: Mapping[DataKind, Fetch]) -> None:
        self._timers = timers
        self._every = every_ns
        self._fetch = fetch
        self._subs = Subscriptions()
        self._last: dict[tuple[DataKind, str], Any] = {}
        self._lock = threading.Lock()

    def latest_quote(self, symbol: str) -> Quote | None:
        """The latest quote of ``symbol`` the API shows (None: none, or an unknown symbol)."""
        return cast(Quote | None, self._fetch["quotes"]([symbol]).get(symbol))

    def last_trade(self, symbol: str) -> Trade | None:
        """The latest trade of ``symbol`` the API shows (None: none)."""
        return cast(Trade | None, self._fetch["trades"]([symbol]).get(symbol))

    def subscribe(
        self, kind: DataKind, symbol: str, callback: Callable[[Any], None]
    ) -> Callable[[], None]:
        with self._lock:
            fresh = (kind, symbol) not in self._last
        if fresh:  # the value now: only later ones are delivered
            now = self._fetch[kind]([symbol]).get(symbol)
        with self._lock:
            if fresh:
                self._last.setdefault((kind, symbol), now)
            unsubscribe = self._subs.add(kind, symbol, callback)
            if POLL_TIMER not in self._timers:
                self._timers.set(POLL_TIMER, self.poll, every_ns=self._every)
        return unsubscribe

    def poll(self, _t: int = 0) -> None:
        """Fetch and deliver what changed (the scheduler calls this every period)."""
        for kind, fetch in self._fetch.items():
            with self._lock:
                symbols = self._subs.symbols(kind)
            if not symbols:
                continue
            got = fetch(symbols)
            for symbol in symbols:
                value = got.get(symbol)
                with self._lock:
                    if value is None or self._last.get((kind, symbol)) == value:
                        continue
                    self._last[(kind, symbol)] = value
                    callbacks = self._subs.callbacks(kind, symbol)
                for cb in callbacks:
                    cb(value)
