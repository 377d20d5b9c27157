"""Simulated venues: instruments on replayed market data, each matched by its own Rust engine.

A :class:`Venue` holds one :class:`Market` per instrument (an engine over a feed), the venue's
session calendar, fee, latency and fill models. Brokers (:class:`~fillforge.sim.broker.
SimulatedBroker`) drive it; nothing here runs by itself: no event loop, no threads.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Annotated

from pydantic import Field

from fillforge import _core
from fillforge.errors import SimulationError
from fillforge.orders.enums import OrderSide
from fillforge.orders.models import FrozenModel, Instrument
from fillforge.sim.calendar import TradingCalendar
from fillforge.sim.fees import FeeModel
from fillforge.sim.latency import LatencyModel

_BPS = Decimal(10_000)


class FillModel(FrozenModel):
    """Pricing beyond the book for taker fills.

    ``slippage_bps`` moves every taker fill against the taker by that many basis points of its
    price, rounded outward to the tick (a buy pays more, a sell receives less). Resting orders
    fill at their own price. Spreads for trade- or bar-only data are set when the feed is built
    (see :mod:`fillforge.sim.feeds`).
    """

    slippage_bps: Annotated[Decimal, Field(ge=0, le=10_000, allow_inf_nan=False)] = Decimal(0)

    def taker_price(self, ticks: int, side: OrderSide, instrument: Instrument) -> Decimal:
        price = instrument.to_price(ticks)
        if not self.slippage_bps:
            return price
        moved = price * (
            1 + self.slippage_bps / _BPS if side is OrderSide.BUY else 1 - self.slippage_bps / _BPS
        )
        steps = (moved / instrument.tick_size).to_integral_value(
            ROUND_CEILING if side is OrderSide.BUY else ROUND_FLOOR
        )
        return max(steps, Decimal(1)) * instrument.tick_size


@dataclass(slots=True)
class Market:
    """One instrument on a venue: its feed and the engine replaying it."""

    instrument: Instrument
    feed: _core.Feed
    engine: _core.SimEngine
    index: int

    @property
    def symbol(self) -> str:
        return self.instrument.symbol

    def mid(self) -> Decimal | None:
        """Mid of the recorded best bid and ask (the user's own orders left out)."""
        bid, ask = self.best_bid(), self.best_ask()
        return None if bid is None or ask is None else (bid + ask) / 2

    def best_bid(self) -> Decimal | None:
        b = self.engine.best_bid()
        return None if b is None else self.instrument.to_price(b[0])

    def best_ask(self) -> Decimal | None:
        a = self.engine.best_ask()
        return None if a is None else self.instrument.to_price(a[0])

    def last(self) -> Decimal | None:
        t = self.engine.last_trade
        return None if t is None else self.instrument.to_price(t)


class Venue:
    """A simulated exchange: instruments, a session calendar, fee, latency and fill models.

    ``calendar`` names an ``exchange_calendars`` calendar (``"XNYS"``, ``"24/7"``, ...) whose
    closes expire DAY orders; None runs without sessions. ``speed`` None replays as fast as
    possible on the data's own clock; a number paces the replay against the wall clock (1.0 =
    real time, 10.0 = ten times faster).
    """

    def __init__(
        self,
        name: str = "SIM",
        *,
        calendar: str | TradingCalendar | None = "XNYS",
        fees: FeeModel | None = None,
        latency: LatencyModel | None = None,
        fill_model: FillModel | None = None,
        speed: float | None = None,
    ) -> None:
        if speed is not None and not speed > 0:
            raise SimulationError("speed", speed, "must be a positive factor or None")
        self.name = name
        self.calendar = TradingCalendar(calendar) if isinstance(calendar, str) else calendar
        self.fees = fees or FeeModel.zero()
        self.latency = latency or LatencyModel.zero()
        self.fill_model = fill_model or FillModel()
        self.speed = speed
        self.markets: dict[str, Market] = {}
        self._loop: _core.MarketsLoop | None = None

    def add(
        self,
        instrument: Instrument,
        feed: _core.Feed,
        *,
        check: bool = True,
        prevent_wash: bool = True,
    ) -> Market:
        """List ``instrument`` with liquidity from ``feed`` (see :mod:`fillforge.sim.feeds`).

        ``check`` holds a LOBSTER feed's recorded liquidity to its true-book snapshots.
        ``prevent_wash`` (the default) has the engine refuse an order that would trade with one
        of your own resting orders; off, your orders trade with each other like any orders (both
        fills are reported: the resting one as maker, at its price).
        """
        if instrument.symbol in self.markets:
            raise SimulationError("symbol", instrument.symbol, "already listed on this venue")
        engine = _core.SimEngine(feed, check=check, prevent_wash=prevent_wash)
        market = Market(instrument, feed, engine, len(self.markets))
        self.markets[instrument.symbol] = market
        self._loop = None
        return market

    def markets_loop(self) -> _core.MarketsLoop:
        """Every market's engine, replayed as one stream in time order (equal times: the market
        listed first), in Rust: ``run(max_messages, until_ns)`` returns ``(applied, index,
        changed)``, ``index`` being the :attr:`Market.index` that applied the last message."""
        if self._loop is None:
            self._loop = _core.MarketsLoop([m.engine for m in self.markets.values()])
        return self._loop

    def market(self, symbol: str) -> Market:
        m = self.markets.get(symbol)
        if m is None:
            raise SimulationError("symbol", symbol, f"not listed on venue {self.name!r}")
        return m

    def reset(self) -> None:
        """Every market back to the start of its feed, no user orders."""
        for m in self.markets.values():
            m.engine.reset()

    def __repr__(self) -> str:
        return f"Venue({self.name!r}, markets={list(self.markets)})"
