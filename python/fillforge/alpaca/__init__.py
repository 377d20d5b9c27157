"""Alpaca: an Alpaca-compatible paper server on the simulated exchange (``AlpacaServer``, or
``served_alpaca`` for one in its own process), and ready-made brokers behind it (scripted prices
or the shipped LOBSTER day)."""

from fillforge.alpaca.paper import replay_broker, scripted_broker, uuid_ids
from fillforge.alpaca.process import ServedAlpaca, served_alpaca
from fillforge.alpaca.server import AlpacaServer

__all__ = [
    "AlpacaServer",
    "ServedAlpaca",
    "replay_broker",
    "scripted_broker",
    "served_alpaca",
    "uuid_ids",
]
