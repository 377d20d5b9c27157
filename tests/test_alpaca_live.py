"""The part of the acceptance matrix that needs no scripted prices, run twice: against the local
Alpaca-compatible server (always), and against a real Alpaca paper account when
``APCA_API_KEY_ID`` and ``APCA_API_SECRET_KEY`` are set (skipped otherwise). On paper, orders
are placed far from the market and canceled. ``FILLFORGE_ALPACA_PAPER=0`` opts out."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from decimal import Decimal

import pytest
from alpaca.common.exceptions import APIError
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderSide, OrderStatus, TimeInForce
from alpaca.trading.requests import LimitOrderRequest, ReplaceOrderRequest

from fillforge.alpaca import AlpacaServer, scripted_broker

LIVE = all(os.environ.get(k) for k in ("APCA_API_KEY_ID", "APCA_API_SECRET_KEY")) and (
    os.environ.get("FILLFORGE_ALPACA_PAPER") != "0"
)


@pytest.fixture(
    params=[
        "local",
        pytest.param(
            "alpaca-paper",
            marks=pytest.mark.skipif(not LIVE, reason="no Alpaca paper keys in the environment"),
        ),
    ]
)
def target(request: pytest.FixtureRequest) -> Iterator[tuple[TradingClient, str]]:
    """A client and a symbol whose price is near 100 on the local server (AAPL on paper)."""
    if request.param == "alpaca-paper":
        yield (
            TradingClient(
                os.environ["APCA_API_KEY_ID"], os.environ["APCA_API_SECRET_KEY"], paper=True
            ),
            "AAPL",
        )
        return
    broker = scripted_broker(("AAPL",))
    with AlpacaServer(broker, key_id="k", secret_key="s") as server:
        server.call(lambda b: b.quote("AAPL", Decimal("100.00"), Decimal("100.02")))
        client = TradingClient("k", "s", url_override=server.base_url)
        client._retry = 0
        yield client, "AAPL"


def far_limit(symbol: str, price: float = 1.00) -> LimitOrderRequest:
    return LimitOrderRequest(
        symbol=symbol,
        qty=1,
        side=OrderSide.BUY,
        time_in_force=TimeInForce.GTC,
        limit_price=price,
        client_order_id=f"ff-{uuid.uuid4().hex[:20]}",
    )


def test_l01_account_clock_assets_parse(target: tuple[TradingClient, str]) -> None:
    client, symbol = target
    assert client.get_account().status.value == "ACTIVE"
    clock = client.get_clock()
    assert clock.next_close > clock.timestamp
    assert client.get_asset(symbol).symbol == symbol


def test_l02_rest_replace_cancel(target: tuple[TradingClient, str]) -> None:
    client, symbol = target
    o = client.submit_order(far_limit(symbol))
    assert o.status in (OrderStatus.NEW, OrderStatus.ACCEPTED, OrderStatus.PENDING_NEW)
    assert client.get_order_by_client_id(o.client_order_id).id == o.id
    new = client.replace_order_by_id(o.id, ReplaceOrderRequest(limit_price=1.01))
    assert new.id != o.id
    assert new.replaces == o.id
    client.cancel_order_by_id(new.id)
    assert client.get_order_by_id(new.id).status in (
        OrderStatus.CANCELED,
        OrderStatus.PENDING_CANCEL,
    )


def test_l03_refusals(target: tuple[TradingClient, str]) -> None:
    client, symbol = target
    with pytest.raises(APIError) as e:
        client.submit_order(
            LimitOrderRequest(
                symbol=symbol,
                qty=10**7,
                side=OrderSide.BUY,
                time_in_force=TimeInForce.DAY,
                limit_price=100,
            )
        )
    assert e.value.status_code == 403
    with pytest.raises(APIError) as e:
        client.get_order_by_id(uuid.uuid4())
    assert e.value.status_code == 404
