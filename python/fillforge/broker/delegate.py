"""Passing the Broker protocol's clock, timers and market data to a wrapped broker.

A wrapper that changes what happens to orders (a risk gate, a journal) keeps the broker's own
time, timers and market data: :class:`BrokerDelegate` is those methods, written once, each a
call on ``self.wrapped``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Unpack

from fillforge.broker.models import Bar, BrokerClock, Quote, Trade
from fillforge.broker.protocol import Broker
from fillforge.broker.timers import TimerCallback, TimerWhen

__all__ = ["BrokerDelegate"]


class BrokerDelegate:
    """The clock, the timers and the market data of the broker in ``wrapped``, unchanged."""

    wrapped: Broker

    def clock(self) -> BrokerClock:
        return self.wrapped.clock()

    def now_ns(self) -> int:
        return self.wrapped.now_ns()

    def set_timer(self, name: str, callback: TimerCallback, **when: Unpack[TimerWhen]) -> None:
        self.wrapped.set_timer(name, callback, **when)

    def cancel_timer(self, name: str) -> None:
        self.wrapped.cancel_timer(name)

    def latest_quote(self, symbol: str) -> Quote | None:
        return self.wrapped.latest_quote(symbol)

    def last_trade(self, symbol: str) -> Trade | None:
        return self.wrapped.last_trade(symbol)

    def subscribe_quotes(
        self, symbol: str, callback: Callable[[Quote], None]
    ) -> Callable[[], None]:
        return self.wrapped.subscribe_quotes(symbol, callback)

    def subscribe_trades(
        self, symbol: str, callback: Callable[[Trade], None]
    ) -> Callable[[], None]:
        return self.wrapped.subscribe_trades(symbol, callback)

    def subscribe_bars(self, symbol: str, callback: Callable[[Bar], None]) -> Callable[[], None]:
        return self.wrapped.subscribe_bars(symbol, callback)
