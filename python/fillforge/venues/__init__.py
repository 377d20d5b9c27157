"""Venue rules as data and functions: the :class:`VenueRules` profile protocol, the facade it
reads (:class:`VenueView`), and Alpaca's profile (:class:`AlpacaRules`)."""

from fillforge.venues.alpaca_rules import AlpacaRules
from fillforge.venues.rules import (
    AuctionWindowError,
    CloseSize,
    DayHours,
    VenueRuleError,
    VenueRules,
    VenueView,
    WashTradeError,
    venue_rules,
)

__all__ = [
    "AlpacaRules",
    "AuctionWindowError",
    "CloseSize",
    "DayHours",
    "VenueRuleError",
    "VenueRules",
    "VenueView",
    "WashTradeError",
    "venue_rules",
]
