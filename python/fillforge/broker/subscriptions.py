"""Market-data subscriptions by kind and symbol, the registry every broker keeps them in."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from fillforge.errors import SubscriptionError

__all__ = ["DataKind", "Subscriptions"]

DataKind = Literal["quotes", "trades", "bars"]
_KINDS: tuple[DataKind, ...] = ("quotes", "trades", "bars")


class Subscriptions:
    """Callbacks per (kind, symbol), in the order they subscribed. A broker asks
    :meth:`callbacks` when it has something to deliver, so unsubscribed symbols cost a lookup."""

    __slots__ = ("_subs",)

    def __init__(self) -> None:
        self._subs: dict[DataKind, dict[str, list[Callable[[Any], None]]]] = {k: {} for k in _KINDS}

    def add(
        self, kind: DataKind, symbol: str, callback: Callable[[Any], None]
    ) -> Callable[[], None]:
        """Register ``callback``; returns a function that unsubscribes it (once; again: no-op)."""
        if not isinstance(symbol, str) or not symbol:
            raise SubscriptionError("symbol", symbol, "expected a non-empty symbol")
        if not callable(callback):
            raise SubscriptionError("callback", callback, "expected a function of the data")
        self._subs[kind].setdefault(symbol, []).append(callback)

        def unsubscribe() -> None:
            subs = self._subs[kind].get(symbol)
            if subs is not None and callback in subs:
                subs.remove(callback)
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
        return any(symbol in self._subs[k] for k in _KINDS)

    def __bool__(self) -> bool:
        return any(self._subs[k] for k in _KINDS)
