"""The stream can show an order before the REST reply that placed it returns (the two come on
different connections). ``AlpacaBroker`` then still keeps the request it sent, not one read back
from the wire, where Alpaca answers a collared market order as a limit. The race is forced here:
the REST reply is held until the stream's update for the order has been applied."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from polling import wait_for
from served_helpers import alpaca_broker, quote

from fillforge.alpaca import AlpacaServer
from fillforge.alpaca.broker import AlpacaBroker
from fillforge.orders.enums import OrderSide, OrderType
from fillforge.orders.models import OrderRequest


@pytest.fixture
def adapter(alpaca_server: AlpacaServer) -> Iterator[AlpacaBroker]:
    b = alpaca_broker(alpaca_server, timeout=5.0, max_wait=0.5)
    with b:
        wait_for(lambda: bool(alpaca_server._streams))
        yield b


def test_an_order_the_stream_shows_first_keeps_the_request_sent(
    alpaca_server: AlpacaServer, adapter: AlpacaBroker
) -> None:
    quote(alpaca_server, "100.00", "100.02")
    real = adapter._client.submit_order
    seen_first = threading.Event()

    def reply_after_the_stream(req: Any) -> Any:
        placed = real(req)
        # hold the reply until the stream's update has reached the adapter
        wait_for(lambda: any(o.client_order_id == "race-1" for o in adapter.orders()))
        seen_first.set()
        return placed

    adapter._client.submit_order = reply_after_the_stream  # type: ignore[method-assign]
    order = adapter.submit(
        OrderRequest(
            symbol="AAPL",
            side=OrderSide.BUY,
            type=OrderType.MARKET,
            qty=Decimal(10),
            client_order_id="race-1",
        )
    )
    assert seen_first.is_set()  # the stream did come first
    wire = adapter._client.get_order_by_client_id("race-1")
    assert wire.type.value == "limit"  # what Alpaca shows for a collared market order
    assert order.request.type is OrderType.MARKET  # what we sent, whichever came first
    assert [o.id for o in adapter.orders() if o.client_order_id == "race-1"] == [order.id]
    assert adapter._orders.sending == {}  # nothing left on its way
