"""OCO order lists on the Binance-compatible server, through unmodified ccxt's own binance API
methods (``privatePostOrderListOco``, ``privateGetOrderList``, ``privateDeleteOrderList``,
``privateGetOpenOrderList``): both legs work in the engine, a print through the stop fills the
stop and cancels the limit, a print through the limit the reverse, cancelling a leg or the list
cancels both, and a list whose legs Binance would refuse places nothing. The same list runs
against Binance's spot testnet when ``BINANCE_TESTNET_KEY`` / ``BINANCE_TESTNET_SECRET`` are set
(placed far from its book and cancelled)."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import ccxt
import pytest

from fillforge.binance import BinanceServer, scripted_broker

D = Decimal
SYMBOL, MARKET = "BTC/USDT", "BTCUSDT"
BID, ASK = D("30000.00"), D("30000.10")


@pytest.fixture
def venue() -> Iterator[tuple[Any, BinanceServer]]:
    key, secret = secrets.token_hex(16), secrets.token_hex(32)
    broker = scripted_broker(start_ns=1_700_000_000_000_000_000, cash=D(10_000))
    broker.quote(MARKET, BID, ASK, bid_size=D(2), ask_size=D(2))
    with BinanceServer(broker, api_key=key, secret_key=secret, speed=None) as server:
        ex = ccxt.binance({"apiKey": key, "secret": secret, "urls": {"api": server.urls}})
        ex.load_markets()
        # Something to protect: twice a list's size (the legs of one list share one
        # reservation, as Binance locks one balance for both: docs/binance-server.md).
        ex.create_order(SYMBOL, "market", "buy", 0.1)
        yield ex, server


def _sell_oco(ex: Any, **over: str) -> dict[str, Any]:
    params = {
        "symbol": MARKET,
        "side": "SELL",
        "quantity": "0.05",
        "aboveType": "LIMIT_MAKER",
        "abovePrice": "31000",
        "belowType": "STOP_LOSS_LIMIT",
        "belowStopPrice": "29000",
        "belowPrice": "28900",
        "belowTimeInForce": "GTC",
        **over,
    }
    return dict(ex.privatePostOrderListOco(params))


def _statuses(ex: Any, placed: dict[str, Any]) -> list[str]:
    got = ex.privateGetOrderList({"orderListId": placed["orderListId"]})
    return [ex.fetch_order(str(o["orderId"]), SYMBOL)["info"]["status"] for o in got["orders"]]


def test_an_oco_places_both_legs_and_a_print_through_the_stop_cancels_the_limit(
    venue: tuple[Any, BinanceServer],
) -> None:
    ex, server = venue
    placed = _sell_oco(ex, listClientOrderId="protect-1")
    assert placed["contingencyType"] == "OCO"
    assert placed["listOrderStatus"] == "EXECUTING"
    assert placed["listClientOrderId"] == "protect-1"
    limit, stop = placed["orderReports"]
    assert (limit["type"], limit["price"], limit["side"]) == (
        "LIMIT_MAKER",
        "31000.00000000",
        "SELL",
    )
    assert (stop["type"], stop["stopPrice"]) == ("STOP_LOSS_LIMIT", "29000.00000000")
    assert {o["orderListId"] for o in placed["orderReports"]} == {placed["orderListId"]}
    assert sorted(o["id"] for o in ex.fetch_open_orders(SYMBOL)) == sorted(
        str(o["orderId"]) for o in placed["orders"]
    )
    server.call(lambda b: b.trade(MARKET, D(28_999), D(1)))  # the stop triggers and fills
    assert _statuses(ex, placed) == ["CANCELED", "FILLED"]
    assert ex.privateGetOrderList({"orderListId": placed["orderListId"]})["listOrderStatus"] == (
        "ALL_DONE"
    )
    assert ex.fetch_open_orders(SYMBOL) == []
    assert ex.privateGetOpenOrderList({}) == []


def test_a_print_through_the_limit_cancels_the_stop(venue: tuple[Any, BinanceServer]) -> None:
    ex, server = venue
    placed = _sell_oco(ex)
    server.call(lambda b: b.quote(MARKET, D(31_001), D(31_002), bid_size=D(1), ask_size=D(1)))
    assert _statuses(ex, placed) == ["FILLED", "CANCELED"]
    trades = ex.fetch_my_trades(SYMBOL)
    assert trades[-1]["info"]["orderListId"] == placed["orderListId"]


def test_cancelling_a_leg_or_the_list_cancels_both(venue: tuple[Any, BinanceServer]) -> None:
    ex, _server = venue
    first = _sell_oco(ex, quantity="0.02")
    assert [x["orderListId"] for x in ex.privateGetOpenOrderList({})] == [first["orderListId"]]
    ex.cancel_order(str(first["orders"][1]["orderId"]), SYMBOL)
    assert _statuses(ex, first) == ["CANCELED", "CANCELED"]
    second = _sell_oco(ex, quantity="0.02", listClientOrderId="list-2")
    gone = ex.privateDeleteOrderList({"symbol": MARKET, "listClientOrderId": "list-2"})
    assert gone["listOrderStatus"] == "ALL_DONE"
    assert _statuses(ex, second) == ["CANCELED", "CANCELED"]
    with pytest.raises(ccxt.OrderNotFound):
        ex.privateDeleteOrderList({"symbol": MARKET, "orderListId": second["orderListId"]})
    with pytest.raises(ccxt.OrderNotFound):
        ex.privateGetOrderList({"orderListId": 999})


def test_a_buy_oco_has_its_stop_above_and_its_limit_below(venue: tuple[Any, BinanceServer]) -> None:
    ex, server = venue
    placed = _sell_oco(
        ex,
        side="BUY",
        quantity="0.01",
        aboveType="STOP_LOSS",
        aboveStopPrice="31000",
        abovePrice="",
        belowType="LIMIT_MAKER",
        belowPrice="29000",
        belowStopPrice="",
        belowTimeInForce="",
    )
    limit, stop = placed["orderReports"]
    assert (limit["type"], stop["type"]) == ("LIMIT_MAKER", "STOP_LOSS")
    server.call(lambda b: b.trade(MARKET, D(31_000), D(1)))
    assert _statuses(ex, placed) == ["CANCELED", "FILLED"]


@pytest.mark.parametrize(
    ("over", "error", "code"),
    [
        ({"aboveType": "TAKE_PROFIT_LIMIT"}, ccxt.BadRequest, "-1116"),
        ({"aboveType": "LIMIT"}, ccxt.BadRequest, "-1116"),
        (  # a sell stop above the market: it would trigger at once
            {"aboveType": "STOP_LOSS", "abovePrice": "", "aboveStopPrice": "31000"},
            ccxt.InvalidOrder,
            "trigger immediately",
        ),
        ({"abovePrice": "29999"}, ccxt.InvalidOrder, "immediately match"),  # post-only takes
        ({"belowStopPrice": "30001"}, ccxt.InvalidOrder, "trigger immediately"),
        ({"abovePrice": "31000.001"}, ccxt.InvalidOrder, "PRICE_FILTER"),
        ({"quantity": "2"}, ccxt.InsufficientFunds, "insufficient balance"),
        ({"belowTimeInForce": "DAY"}, ccxt.BadRequest, "-1115"),
        ({"side": "SIDEWAYS"}, ccxt.BadRequest, "-1117"),
        ({"listClientOrderId": "bad id!"}, ccxt.BadRequest, "-1100"),
    ],
)
def test_a_list_binance_would_refuse_places_nothing(
    venue: tuple[Any, BinanceServer], over: dict[str, str], error: type[Exception], code: str
) -> None:
    ex, server = venue
    before = len(server.call(lambda b: b.orders()))
    with pytest.raises(error, match=code):
        _sell_oco(ex, **over)
    assert len(server.call(lambda b: b.orders())) == before
    assert ex.fetch_open_orders(SYMBOL) == []


@pytest.mark.skipif(
    not (os.environ.get("BINANCE_TESTNET_KEY") and os.environ.get("BINANCE_TESTNET_SECRET")),
    reason="BINANCE_TESTNET_KEY / BINANCE_TESTNET_SECRET are not set",
)
def test_the_same_list_on_binances_testnet() -> None:  # pragma: no cover - needs keys
    ex = ccxt.binance(
        {
            "apiKey": os.environ["BINANCE_TESTNET_KEY"],
            "secret": os.environ["BINANCE_TESTNET_SECRET"],
        }
    )
    ex.set_sandbox_mode(True)
    ex.load_markets()
    last = D(str(ex.fetch_ticker(SYMBOL)["last"]))
    ex.create_order(SYMBOL, "market", "buy", 0.001)
    placed = _sell_oco(
        ex,
        quantity="0.001",
        abovePrice=str((last * D("1.5")).quantize(D("0.01"))),
        belowStopPrice=str((last * D("0.5")).quantize(D("0.01"))),
        belowPrice=str((last * D("0.49")).quantize(D("0.01"))),
    )
    assert placed["contingencyType"] == "OCO"
    ex.privateDeleteOrderList({"symbol": MARKET, "orderListId": placed["orderListId"]})
