"""The simulated exchange: venues on replayed market data, a broker interface, an account.

See ``docs/simulator.md``. The matching runs in Rust (``fillforge._core.SimEngine``); this
package is its typed Python face.
"""

from fillforge.sim.account import Account, AccountSnapshot, Position
from fillforge.sim.aio import AsyncAdapter, AsyncBroker
from fillforge.sim.broker import Broker, BrokerClock, SimulatedBroker
from fillforge.sim.calendar import Session, TradingCalendar
from fillforge.sim.feeds import (
    FeedKind,
    bars_feed,
    empty_feed,
    lobster_feed,
    mbo_feed,
    quotes_trades_feed,
)
from fillforge.sim.fees import FeeModel, FeeSchedule
from fillforge.sim.latency import Delay, LatencyModel
from fillforge.sim.venue import FillModel, Market, Venue

__all__ = [
    "Account",
    "AccountSnapshot",
    "AsyncAdapter",
    "AsyncBroker",
    "Broker",
    "BrokerClock",
    "Delay",
    "FeeModel",
    "FeeSchedule",
    "FeedKind",
    "FillModel",
    "LatencyModel",
    "Market",
    "Position",
    "Session",
    "SimulatedBroker",
    "TradingCalendar",
    "Venue",
    "bars_feed",
    "empty_feed",
    "lobster_feed",
    "mbo_feed",
    "quotes_trades_feed",
]
