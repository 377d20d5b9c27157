"""Crypto venues through ccxt: :class:`CcxtBroker` (the broker interface on ccxt's unified API),
:class:`AsyncCcxtBroker` (its async twin on ``ccxt.async_support``, the same steps awaited) and
the conversions they use (:func:`instrument_of`: a ccxt market as an instrument)."""

from fillforge.venues.ccxt.aio import AsyncCcxtBroker
from fillforge.venues.ccxt.broker import CcxtBroker
from fillforge.venues.ccxt.convert import instrument_of

__all__ = ["AsyncCcxtBroker", "CcxtBroker", "instrument_of"]
