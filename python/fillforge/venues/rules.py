"""Venue rules: what a venue refuses, converts and sizes, as data and pure functions.

A venue profile (:class:`VenueRules`) sees the account and the market through a small facade
(:class:`VenueView`: instruments, the touch and last trade, positions, the account's working
orders, the clock and the day's session) and never through a broker or an HTTP request, so the
same profile serves a simulated broker (``SimulatedBroker(..., rules="alpaca")``) and a served
paper account alike. :func:`venue_rules` turns a profile's name into the profile.

Layer: above ``orders`` (it reads requests and orders), below every broker.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol, TypedDict, Unpack, runtime_checkable

from fillforge.errors import AuctionWindowError, SimulationError, VenueRuleError, WashTradeError
from fillforge.orders.enums import OrderSide
from fillforge.orders.models import Instrument, OrderRequest
from fillforge.orders.order import Order

__all__ = [
    "AuctionWindowError",
    "CloseSize",
    "DayHours",
    "VenueRuleError",
    "VenueRules",
    "VenueView",
    "WashTradeError",
    "venue_rules",
]


class CloseSize(TypedDict, total=False):
    """How much of a position a close takes, the keywords of every ``close_request``: ``qty`` of
    it or ``percentage`` of it (not both; neither: all of it). A profile's sizing function spells
    them out and checks them (Alpaca's: :func:`~fillforge.venues.alpaca_rules.close_qty`)."""

    qty: Decimal | None
    percentage: Decimal | None


@dataclass(frozen=True, slots=True)
class DayHours:
    """The session of the exchange-local day holding the view's time: ``open_ns`` and
    ``close_ns`` (UTC epoch ns, from the venue calendar, early closes included) and the
    exchange's time zone."""

    day: dt.date
    open_ns: int
    close_ns: int
    zone: dt.tzinfo


class VenueView(Protocol):
    """What a venue rule may read: the facade a broker gives its profile."""

    def now(self) -> int:
        """The time (UTC epoch ns)."""
        ...

    def instrument(self, symbol: str) -> Instrument:
        """The listed instrument (a typed error when it is not listed)."""
        ...

    def best_ask(self, symbol: str) -> Decimal | None: ...

    def best_bid(self, symbol: str) -> Decimal | None: ...

    def last(self, symbol: str) -> Decimal | None: ...

    def position_qty(self, symbol: str) -> Decimal:
        """The account's signed position (0 when flat)."""
        ...

    def working_orders(self, symbol: str, side: OrderSide | None = None) -> Iterable[Order]:
        """The account's open orders in ``symbol`` (on ``side`` only, if given)."""
        ...

    def hours(self) -> DayHours | None:
        """Today's session in the exchange's time zone, None without a calendar or on a day the
        venue does not trade."""
        ...


@runtime_checkable
class VenueRules(Protocol):
    """A venue's rules for new orders and position closes.

    ``refuse`` raises a :class:`VenueRuleError` (or another typed error) for an order the venue
    refuses and returns otherwise; ``convert`` gives the order the venue actually works (the
    request itself when it converts nothing); ``close_request`` sizes the order that closes all or
    part of a position (None when there is none). ``short_markup``: the venue holds buying power
    for a sale that opens a short at ``max(limit, ask * (1 + short_markup))`` (None: at the
    limit, else the far touch).
    """

    name: str
    short_markup: Decimal | None

    def refuse(self, request: OrderRequest, view: VenueView) -> None: ...

    def convert(self, request: OrderRequest, view: VenueView) -> OrderRequest: ...

    def close_request(
        self, view: VenueView, symbol: str, **size: Unpack[CloseSize]
    ) -> OrderRequest | None: ...


def venue_rules(rules: str | VenueRules | None) -> VenueRules | None:
    """A profile from its name (``"alpaca"``), a profile as is, None as None; anything else is
    a :class:`~fillforge.errors.SimulationError` naming ``rules``."""
    if rules is None or isinstance(rules, VenueRules):
        return rules
    if rules == "alpaca":
        from fillforge.venues.alpaca_rules import AlpacaRules

        return AlpacaRules()
    raise SimulationError("rules", rules, "expected 'alpaca', a VenueRules profile, or None")
