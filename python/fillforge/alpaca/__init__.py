"""Alpaca: an Alpaca-compatible paper server on the simulated exchange (``AlpacaServer``)."""

from fillforge.alpaca.server import AlpacaServer

__all__ = ["AlpacaServer"]
