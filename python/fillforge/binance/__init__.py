"""Binance: a Binance-compatible spot API server on the simulated exchange
(:class:`BinanceServer`), for unmodified ccxt, and ready-made simulated venues behind it."""

from fillforge.binance.paper import (
    binance_instrument,
    data_broker,
    sample_broker,
    sample_files,
    scripted_broker,
)
from fillforge.binance.server import BinanceServer, split_symbol

__all__ = [
    "BinanceServer",
    "binance_instrument",
    "data_broker",
    "sample_broker",
    "sample_files",
    "scripted_broker",
    "split_symbol",
]
