"""Alpaca: an Alpaca-compatible paper server on the simulated exchange (``AlpacaServer``), and
ready-made brokers behind it (scripted prices or the shipped LOBSTER day)."""

from fillforge.alpaca.paper import replay_broker, scripted_broker, uuid_ids
from fillforge.alpaca.server import AlpacaServer

__all__ = ["AlpacaServer", "replay_broker", "scripted_broker", "uuid_ids"]
