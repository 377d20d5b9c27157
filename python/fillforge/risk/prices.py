"""Where the pre-trade controls read the market (:class:`~fillforge.risk.limits.Prices`).

:class:`BrokerPrices` asks the broker at each question (its last trade, its latest quote): always
current, and as costly as the broker makes it (microseconds on the simulator, a request on a
live broker). :class:`PriceBook` holds prices someone feeds it (a strategy that already sees
every quote and trade, or :meth:`PriceBook.follow` subscribing to a broker's): a dictionary
lookup per question.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from fillforge.broker.models import Quote, Trade
from fillforge.broker.protocol import Broker

__all__ = ["BrokerPrices", "PriceBook"]


class BrokerPrices:
    """The broker's own last trade and latest quote, asked each time."""

    __slots__ = ("_broker",)

    def __init__(self, broker: Broker) -> None:
        self._broker = broker

    def last(self, symbol: str) -> Decimal | None:
        t = self._broker.last_trade(symbol)
        return None if t is None else t.price

    def quote(self, symbol: str) -> tuple[Decimal | None, Decimal | None]:
        q = self._broker.latest_quote(symbol)
        return (None, None) if q is None else (q.bid_price, q.ask_price)


class PriceBook:
    """The latest prices fed to it: :meth:`on_trade` / :meth:`on_quote` (the signatures of the
    broker's subscription callbacks), or :meth:`set`. A symbol never fed has no price."""

    __slots__ = ("_last", "_quote", "_unsubscribe")

    def __init__(self) -> None:
        self._last: dict[str, Decimal] = {}
        self._quote: dict[str, tuple[Decimal | None, Decimal | None]] = {}
        self._unsubscribe: list[Callable[[], None]] = []

    def last(self, symbol: str) -> Decimal | None:
        return self._last.get(symbol)

    def quote(self, symbol: str) -> tuple[Decimal | None, Decimal | None]:
        return self._quote.get(symbol, (None, None))

    def set(
        self,
        symbol: str,
        last: Decimal | None = None,
        bid: Decimal | None = None,
        ask: Decimal | None = None,
    ) -> None:
        """Set ``symbol``'s last trade price and/or quote (a None leaves that one as it was)."""
        if last is not None:
            self._last[symbol] = last
        if bid is not None or ask is not None:
            old_bid, old_ask = self._quote.get(symbol, (None, None))
            self._quote[symbol] = (
                bid if bid is not None else old_bid,
                ask if ask is not None else old_ask,
            )

    def on_trade(self, trade: Trade) -> None:
        self._last[trade.symbol] = trade.price

    def on_quote(self, quote: Quote) -> None:
        self._quote[quote.symbol] = (quote.bid_price, quote.ask_price)

    def follow(self, broker: Broker, symbols: list[str] | tuple[str, ...]) -> None:
        """Subscribe to ``broker``'s trades and quotes of ``symbols``, seeded with its current
        ones (:meth:`close` unsubscribes)."""
        for s in symbols:
            t, q = broker.last_trade(s), broker.latest_quote(s)
            if t is not None:
                self.on_trade(t)
            if q is not None:
                self.on_quote(q)
            self._unsubscribe.append(broker.subscribe_trades(s, self.on_trade))
            self._unsubscribe.append(broker.subscribe_quotes(s, self.on_quote))

    def close(self) -> None:
        while self._unsubscribe:
            self._unsubscribe.pop()()
