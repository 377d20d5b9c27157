"""Crypto venues through ccxt: :class:`CcxtBroker` (the broker interface on ccxt's unified API)
and the conversions it uses (:func:`instrument_of`: a ccxt market as an instrument)."""

from fillforge.venues.ccxt.broker import CcxtBroker
from fillforge.venues.ccxt.convert import instrument_of

__all__ = ["CcxtBroker", "instrument_of"]
