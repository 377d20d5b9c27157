"""A :class:`~fillforge.sim.broker.SimulatedBroker` as the facade venue rules read
(:class:`BrokerView`), and a position close sized by the broker's profile
(:func:`close_position`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from fillforge.errors import FillforgeError, SimulationError
from fillforge.orders.enums import OrderSide
from fillforge.orders.models import Instrument
from fillforge.orders.order import Order
from fillforge.time import to_datetime
from fillforge.venues.rules import DayHours

if TYPE_CHECKING:
    from fillforge.sim.broker import SimulatedBroker

__all__ = ["BrokerView", "close_position"]


class BrokerView:
    """What a :class:`~fillforge.venues.rules.VenueRules` profile reads of a simulated broker:
    its venue's instruments, touch, last trade and calendar, its account's positions and open
    orders, its clock. Reads only."""

    __slots__ = ("_broker",)

    def __init__(self, broker: SimulatedBroker) -> None:
        self._broker = broker

    def now(self) -> int:
        return self._broker.now()

    def instrument(self, symbol: str) -> Instrument:
        return self._broker.venue.market(symbol).instrument

    def best_ask(self, symbol: str) -> Decimal | None:
        return self._broker.venue.market(symbol).best_ask()

    def best_bid(self, symbol: str) -> Decimal | None:
        return self._broker.venue.market(symbol).best_bid()

    def last(self, symbol: str) -> Decimal | None:
        return self._broker.venue.market(symbol).last()

    def position_qty(self, symbol: str) -> Decimal:
        return self._broker.ledger.qty(symbol)

    def working_orders(self, symbol: str, side: OrderSide | None = None) -> Iterable[Order]:
        return self._broker.manager.open_orders(symbol, side)

    def hours(self) -> DayHours | None:
        cal = self._broker.venue.calendar
        if cal is None:
            return None
        zone = dt.UTC if cal.tz == "UTC" else ZoneInfo(cal.tz)
        day = to_datetime(self.now()).astimezone(zone).date()
        try:
            s = cal.session(day)
        except FillforgeError:  # a day past what the calendar holds: no session
            return None
        return None if s is None else DayHours(s.day, s.open_ns, s.close_ns, zone)


def close_position(
    broker: SimulatedBroker,
    symbol: str,
    *,
    qty: Decimal | None = None,
    percentage: Decimal | None = None,
) -> Order | None:
    """Close all of the position in ``symbol``, ``qty`` of it, or ``percentage`` of it, as the
    broker's venue profile sizes it (Alpaca's ``DELETE /v2/positions/{symbol}``); the order, or
    None when there is no position. A broker without a profile is a
    :class:`~fillforge.errors.SimulationError` naming ``rules``."""
    rules = broker.rules
    if rules is None:
        raise SimulationError("rules", None, "closing a position needs a venue profile")
    request = rules.close_request(BrokerView(broker), symbol, qty=qty, percentage=percentage)
    return None if request is None else broker.submit(request)
