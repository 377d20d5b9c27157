"""The broker interface (layer 2): what strategy code talks to, whichever broker is behind it.

:class:`Broker` and its async twin :class:`AsyncBroker`, the models brokers answer with
(positions, account snapshots, :class:`BrokerClock`, quotes, trades, bars), the timer rules
(:class:`TimerBook`, :class:`WallTimers`) and the market-data subscription registry. The
simulated broker (:mod:`fillforge.sim`) and the live one (:mod:`fillforge.alpaca`) implement it;
nothing here imports either. See ``docs/broker.md``.
"""

from fillforge.broker.delegate import BrokerDelegate
from fillforge.broker.models import AccountSnapshot, Bar, BrokerClock, Position, Quote, Trade
from fillforge.broker.protocol import AsyncBroker, Broker, ReplaceChanges, replace_terms
from fillforge.broker.subscriptions import (
    DataKind,
    MarketData,
    MarketDataMethods,
    Subscriptions,
)
from fillforge.broker.timers import (
    TimerBook,
    TimerCallback,
    TimerMethods,
    TimerWhen,
    WallTimers,
)

__all__ = [
    "AccountSnapshot",
    "AsyncBroker",
    "Bar",
    "Broker",
    "BrokerClock",
    "BrokerDelegate",
    "DataKind",
    "MarketData",
    "MarketDataMethods",
    "Position",
    "Quote",
    "ReplaceChanges",
    "Subscriptions",
    "TimerBook",
    "TimerCallback",
    "TimerMethods",
    "TimerWhen",
    "Trade",
    "WallTimers",
    "replace_terms",
]
