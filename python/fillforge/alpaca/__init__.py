"""Alpaca: an Alpaca-compatible paper server on the simulated exchange (``AlpacaServer``, or
``served_alpaca`` for one in its own process), and ready-made brokers behind it (scripted prices
the shipped LOBSTER day, a seeded random walk, or the user's own data files)."""

from fillforge.alpaca.paper import (
    data_broker,
    replay_broker,
    scripted_broker,
    uuid_ids,
    walk_broker,
)
from fillforge.alpaca.process import ServedAlpaca, served_alpaca
from fillforge.alpaca.server import AlpacaServer

__all__ = [
    "AlpacaServer",
    "ServedAlpaca",
    "data_broker",
    "replay_broker",
    "scripted_broker",
    "served_alpaca",
    "uuid_ids",
    "walk_broker",
]
