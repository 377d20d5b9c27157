"""Venue rules as data and functions: the :class:`VenueRules` profile protocol, the facade it
reads (:class:`VenueView`), and Alpaca's profile (:class:`AlpacaRules`)."""

from fillforge.venues import rules
from fillforge.venues.alpaca_rules import AlpacaRules
from fillforge.venues.rules import *  # noqa: F403 (the package's surface is rules.__all__)

__all__ = ["AlpacaRules"]
__all__ += rules.__all__
