"""The Alpaca-compatible account the tests run against: in process (the ``alpaca_server``
fixture) or out of process (``fillforge serve alpaca``), and an :class:`AlpacaBroker` on it."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from alpaca.trading.client import TradingClient

from fillforge.alpaca import AlpacaServer, ServedAlpaca
from fillforge.alpaca.broker import AlpacaBroker

# Scripted quotes for AAPL and MSFT, deep enough to fill any test order at the touch, the clock in
# market hours, and no rate limit a test could reach; add "--duration" (how long it may serve).
SCRIPTED_AAPL_MSFT = (
    "--data",
    "scripted",
    "--quote",
    "AAPL=100.00/100.02x100000",
    "--quote",
    "MSFT=50.00/50.02x100000",
    "--start",
    "2024-06-04T10:00:00-04:00",
    "--rate-limit",
    "100000",
)


def quote(server: AlpacaServer, bid: str, ask: str, size: int = 1000, symbol: str = "AAPL") -> None:
    """Script ``symbol``'s quote on the in-process server's venue: ``size`` on each side."""
    d = Decimal
    server.call(lambda b: b.quote(symbol, d(bid), d(ask), bid_size=d(size), ask_size=d(size)))


def trading_client(server: AlpacaServer | ServedAlpaca) -> TradingClient:
    """alpaca-py's TradingClient on ``server``'s account, its retries off: a 429 must surface at
    once, not after the SDK's 3 x 3 s sleeps."""
    c = TradingClient(server.key_id, server.secret_key, url_override=server.base_url)
    c._retry = 0
    return c


def alpaca_broker(server: AlpacaServer | ServedAlpaca, **options: Any) -> AlpacaBroker:
    """An :class:`AlpacaBroker` on ``server``'s account, REST and stream; ``options`` are
    AlpacaBroker's other keywords (``clock``, ``timeout``, ``data_poll_every``, ...)."""
    return AlpacaBroker(
        server.key_id,
        server.secret_key,
        url_override=server.base_url,
        stream_url=server.stream_url,
        **options,
    )
