"""Market-data subscriptions by kind and symbol, the registry every broker keeps them in, and
:class:`MarketDataMethods`, the market-data half of the broker interface every broker inherits."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, Protocol

from fillforge.broker.models import Bar, Quote, Trade
from fillforge.errors import SubscriptionError

__all__ = ["DataKind", "MarketData", "MarketDataMethods", "Subscriptions"]

DataKind = Literal["quotes", "trades", "bars"]
_KINDS: tuple[DataKind, ...] = ("quotes", "trades", "bars")


class Subscriptions:
    """Callbacks per (kind, symbol), in the order they subscribed. A broker asks
    :meth:`callbacks` when it has something to deliver, so unsubscribed symbols cost a lookup.
    ``version`` counts the changes: a broker may keep what it read while it is unchanged."""

    __slots__ = ("_subs", "_watched", "version")

    def __init__(self) -> None:
        self._subs: dict[DataKind, dict[str, list[Callable[[Any], None]]]] = {k: {} for k in _KINDS}
        self.version = 0
        # The symbols anything subscribes to, as of ``version`` (read on every simulation step).
        self._watched: tuple[int, frozenset[str]] = (0, frozenset())

    def add(
        self, kind: DataKind, symbol: str, callback: Callable[[Any], None]
    ) -> Callable[[], None]:
        """Register ``callback``; returns a function that unsubscribes it (once; again: no-op)."""
        if not isinstance(symbol, str) or not symbol:
            raise SubscriptionError("symbol", symbol, "expected a non-empty symbol")
        if not callable(callback):
            raise SubscriptionError("callback", callback, "expected a function of the data")
        self._subs[kind].setdefault(symbol, []).append(callback)
        self.version += 1

        def unsubscribe() -> None:
            subs = self._subs[kind].get(symbol)
            if subs is not None and callback in subs:
                subs.remove(callback)
                self.version += 1
                if not subs:
                    del self._subs[kind][symbol]

        return unsubscribe

    def callbacks(self, kind: DataKind, symbol: str) -> list[Callable[[Any], None]]:
        """The callbacks for ``symbol`` (a copy: a callback may unsubscribe while it runs)."""
        subs = self._subs[kind].get(symbol)
        return list(subs) if subs else []

    def symbols(self, kind: DataKind) -> list[str]:
        return list(self._subs[kind])

    def watched(self, symbol: str) -> bool:
        """Whether anything subscribes to ``symbol``."""
        version, symbols = self._watched
        if version != self.version:
            symbols = frozenset().union(*(self._subs[k] for k in _KINDS))
            self._watched = (self.version, symbols)
        return symbol in symbols

    def __bool__(self) -> bool:
        return any(self._subs[k] for k in _KINDS)


class MarketData(Protocol):
    """Where a broker's market data comes from (the simulator's recorded feed, a polled API)."""

    def latest_quote(self, symbol: str) -> Quote | None: ...
    def last_trade(self, symbol: str) -> Trade | None: ...
    def subscribe(
        self, kind: DataKind, symbol: str, callback: Callable[[Any], None]
    ) -> Callable[[], None]: ...


class MarketDataMethods:
    """The :class:`~fillforge.broker.Broker` interface's market-data methods, for a broker to
    inherit: they go to its ``_market_data`` (what each one answers is that source's)."""

    _market_data: MarketData

    def latest_quote(self, symbol: str) -> Quote | None:
        """The best bid and ask of ``symbol`` now (None while there is none)."""
        return self._market_data.latest_quote(symbol)

    def last_trade(self, symbol: str) -> Trade | None:
        """The last print of ``symbol`` (None before the first)."""
        return self._market_data.last_trade(symbol)

    def subscribe_quotes(
        self, symbol: str, callback: Callable[[Quote], None]
    ) -> Callable[[], None]:
        """Call ``callback`` whenever ``symbol``'s quote changes; returns the unsubscribe."""
        return self._market_data.subscribe("quotes", symbol, callback)

    def subscribe_trades(
        self, symbol: str, callback: Callable[[Trade], None]
    ) -> Callable[[], None]:
        """Call ``callback`` with each print of ``symbol``; returns the unsubscribe."""
        return self._market_data.subscribe("trades", symbol, callback)

    def subscribe_bars(self, symbol: str, callback: Callable[[Bar], None]) -> Callable[[], None]:
        """Call ``callback`` with each minute bar of ``symbol``; returns the unsubscribe."""
        return self._market_data.subscribe("bars", symbol, callback)
