"""What differs between Binance, Bybit and Coinbase behind CcxtBroker, tested offline through
ccxt's own code: the orders each venue's ccxt class builds from the arguments CcxtBroker gives
(Bybit's ``create_order_request``; Coinbase's ``create_order`` up to the HTTP call), fees in the
base, the quote or a third currency (a Binance trade parsed by ccxt), and the refusals coded for
a venue. The requests are not sent: without their testnets (keys in the environment) nothing here
shows the venues accept them (``docs/ccxt.md``, "Other exchanges")."""

from __future__ import annotations

import os
from decimal import Decimal
from typing import Any

import ccxt
import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_ccxt_broker import BYBIT_SPOT, COINBASE_PRODUCT

from fillforge.errors import CcxtError
from fillforge.orders.models import OrderRequest
from fillforge.orders.order import Order
from fillforge.time import SimulatedClock
from fillforge.venues.ccxt import CcxtBroker
from fillforge.venues.ccxt.convert import fee_in_quote, order_args
from fillforge.venues.ccxt.steps import Ask
from fillforge.venues.ccxt.sync import OrderSync

D = Decimal


def _req(symbol: str, **kw: Any) -> OrderRequest:
    fields: dict[str, Any] = {
        "symbol": symbol,
        "side": "sell",
        "time_in_force": "gtc",
        "qty": "0.01",
    }
    return OrderRequest.model_validate({**fields, **kw})


def _stop_limit(symbol: str, side: str = "sell") -> OrderRequest:
    return _req(symbol, side=side, type="stop_limit", limit_price="29000", stop_price="29100")


def _bybit() -> Any:
    ex = ccxt.bybit()
    ex.publicGetV5MarketInstrumentsInfo = lambda params: BYBIT_SPOT  # its answer, offline
    ex.set_markets(ex.fetch_spot_markets({}))
    return ex


class _SentError(Exception):
    pass


def _coinbase_request(args: tuple[Any, ...]) -> dict[str, Any]:
    """The body ccxt's coinbase would POST to /brokerage/orders for these arguments."""
    ex = ccxt.coinbase({"apiKey": "k", "secret": "s"})
    ex.set_markets([ex.parse_spot_market(COINBASE_PRODUCT, {})])
    sent: dict[str, Any] = {}

    def post(request: dict[str, Any], *_: Any) -> None:
        sent.update(request)
        raise _SentError

    ex.v3PrivatePostBrokerageOrders = post
    with pytest.raises(_SentError):
        ex.create_order(*args)
    return sent


# ----- order parameters -------------------------------------------------------------------------


def test_binance_stops_are_its_own_order_types() -> None:
    args = order_args(_stop_limit("BTC/USDT"), "c1", "binance")
    assert args[1] == "STOP_LOSS_LIMIT"
    assert args[5] == {"clientOrderId": "c1", "stopPrice": "29100", "timeInForce": "GTC"}


def test_bybit_stop_limit_is_a_spot_stop_order_with_its_trigger() -> None:
    body = _bybit().create_order_request(*order_args(_stop_limit("BTC/USDT"), "c2", "bybit"))
    assert body["orderType"] == "Limit"
    assert body["orderFilter"] == "StopOrder"
    assert (body["triggerPrice"], body["price"], body["qty"]) == ("29100", "29000", "0.01")
    assert body["orderLinkId"] == "c2"  # the client order id a retry looks up
    assert body["timeInForce"] == "GTC"


def test_bybit_stop_market_and_market_by_quantity() -> None:
    ex = _bybit()
    stop = ex.create_order_request(
        *order_args(_req("BTC/USDT", type="stop", stop_price="29100"), "c3", "bybit")
    )
    assert (stop["orderType"], stop["triggerPrice"], stop["orderFilter"]) == (
        "Market",
        "29100",
        "StopOrder",
    )
    buy = ex.create_order_request(
        *order_args(_req("BTC/USDT", side="buy", type="market", time_in_force="ioc"), "c4", "bybit")
    )
    assert (buy["marketUnit"], buy["qty"]) == ("baseCoin", "0.01")  # a quantity, not a cost


def test_bybit_post_only_and_ioc() -> None:
    ex = _bybit()
    args = order_args(_req("BTC/USDT", type="limit", limit_price="30000"), "c5", "bybit")
    params = {**args[5], "postOnly": True}
    params.pop("timeInForce")
    assert ex.create_order_request(*args[:5], params)["timeInForce"] == "PostOnly"
    ioc = order_args(
        _req("BTC/USDT", type="limit", limit_price="30000", time_in_force="ioc"), "c6", "bybit"
    )
    assert ex.create_order_request(*ioc)["timeInForce"] == "IOC"


@pytest.mark.parametrize(
    ("side", "way"), [("sell", "STOP_DIRECTION_STOP_DOWN"), ("buy", "STOP_DIRECTION_STOP_UP")]
)
def test_coinbase_stop_limit_triggers_the_way_a_stop_does(side: str, way: str) -> None:
    sent = _coinbase_request(order_args(_stop_limit("BTC/USD", side), "c7", "coinbase"))
    config = sent["order_configuration"]["stop_limit_stop_limit_gtc"]
    assert config == {
        "base_size": "0.01",
        "limit_price": "29000",
        "stop_price": "29100",
        "stop_direction": way,  # ccxt's default for a bare trigger is the opposite
    }
    assert sent["client_order_id"] == "c7"  # ours, not ccxt's own uuid


def test_coinbase_market_buy_by_notional_and_sell_by_quantity() -> None:
    buy = _req("BTC/USD", side="buy", type="market", time_in_force="day", qty=None, notional="250")
    sent = _coinbase_request(order_args(buy, "c8", "coinbase"))
    assert sent["order_configuration"] == {"market_market_ioc": {"quote_size": "250"}}
    sell = _req("BTC/USD", type="market", time_in_force="ioc")
    sent = _coinbase_request(order_args(sell, "c9", "coinbase"))
    assert sent["order_configuration"] == {"market_market_ioc": {"base_size": "0.01"}}


def test_coinbase_refuses_what_it_has_no_order_for() -> None:
    with pytest.raises(CcxtError, match="notional"):
        order_args(_req("BTC/USD", side="buy", type="market", time_in_force="ioc"), "x", "coinbase")
    with pytest.raises(CcxtError, match="stop-limit orders only"):
        order_args(_req("BTC/USD", type="stop", stop_price="29100"), "x", "coinbase")


def test_order_lists_are_not_sent_through_ccxts_unified_api() -> None:
    oco = _req(
        "BTC/USDT",
        type="limit",
        limit_price="31000",
        order_class="oco",
        take_profit={"limit_price": "31000"},
        stop_loss={"stop_price": "29000", "limit_price": "28900"},
    )
    for venue in ("binance", "bybit", "coinbase"):
        with pytest.raises(CcxtError, match="oco orders"):
            order_args(oco, "x", venue)


# ----- fees -------------------------------------------------------------------------------------


@given(
    cost=st.decimals(min_value=0, max_value=10, places=8),
    price=st.decimals(min_value=D("0.01"), max_value=100_000, places=2),
)
def test_a_fee_is_in_the_quote_asset_whatever_it_was_charged_in(
    cost: Decimal, price: Decimal
) -> None:
    assert fee_in_quote({"currency": "USDT", "cost": cost}, "BTC/USDT", price) == cost
    assert fee_in_quote({"currency": "BTC", "cost": cost}, "BTC/USDT", price) == cost * price
    rate = D("612.5")
    assert fee_in_quote({"currency": "BNB", "cost": cost}, "BTC/USDT", price, rate) == cost * rate
    assert fee_in_quote({"currency": "USDT", "cost": -cost}, "BTC/USDT:USDT", price) == cost
    assert fee_in_quote(None, "BTC/USDT", price) == 0


def _binance_trade(commission: str, asset: str) -> dict[str, Any]:
    market = {
        "symbol": "BTC/USDT",
        "id": "BTCUSDT",
        "spot": True,
        "base": "BTC",
        "quote": "USDT",
        "option": False,
        "type": "spot",
        "contract": False,
        "swap": False,
        "future": False,
        "linear": None,
        "inverse": None,
        "settle": None,
    }
    raw = {
        "symbol": "BTCUSDT",
        "id": 7,
        "orderId": 1,
        "price": "30000.00",
        "qty": "0.01",
        "quoteQty": "300",
        "commission": commission,
        "commissionAsset": asset,
        "time": 1_700_000_000_000,
        "isBuyer": True,
        "isMaker": False,
    }
    return dict(ccxt.binance().parse_trade(raw, market))


def _sync() -> OrderSync:
    import threading

    from fillforge.orders.manager import OrderManager

    clock = SimulatedClock(1_700_000_000_000_000_000)
    return OrderSync(OrderManager(clock=clock.now_ns), threading.RLock(), clock, {})


def _drive(steps: Any, answers: dict[str, Any]) -> Any:
    """Run steps against a table of answers by symbol (what the venue's ticker says)."""
    value: Any = None
    asked: list[str] = []
    try:
        while True:
            ask = steps.send(value)
            assert isinstance(ask, Ask)
            symbol = ask.fn.keywords["symbol"]
            asked.append(symbol)
            value = answers[symbol]
    except StopIteration as done:
        return done.value, asked


def test_a_bnb_fee_is_valued_at_the_venues_bnb_price_and_counted_once() -> None:
    sync = _sync()
    order = sync.manager.create(
        _req("BTC/USDT", side="buy", type="limit", limit_price="30000"), order_id="1", ts=1
    )
    sync.manager.submit("1", ts=1)
    trade = _binance_trade("0.0005", "BNB")
    assert trade["fee"] == {"currency": "BNB", "cost": 0.0005}
    raw = {"id": "1", "symbol": "BTC/USDT", "status": "closed", "filled": 0.01, "trades": [trade]}
    trades, asked = _drive(sync.trades_of(raw), {"BNB/USDT": {"last": 612.5}})
    assert asked == ["BNB/USDT"]  # one ticker for the third currency
    with sync.lock:
        sync.sync(raw, trades)
    assert isinstance(order, Order)
    (fill,) = order.fills.values()
    assert fill.commission == D("0.0005") * D("612.5")  # exact: 0.30625 USDT
    again, asked = _drive(sync.trades_of(raw), {})
    assert asked == []  # a trade already counted needs no price
    with sync.lock:
        sync.sync(raw, again)
    assert len(order.fills) == 1


def test_a_base_asset_fee_needs_no_price_lookup() -> None:
    sync = _sync()
    sync.manager.create(
        _req("BTC/USDT", side="buy", type="limit", limit_price="30000"), order_id="2", ts=1
    )
    trade = _binance_trade("0.00001", "BTC")
    raw = {"id": "2", "symbol": "BTC/USDT", "status": "closed", "filled": 0.01, "trades": [trade]}
    trades, asked = _drive(sync.trades_of(raw), {})
    assert asked == []
    assert fee_in_quote(trades[0]["fee"], "BTC/USDT", D(30_000)) == D("0.3")


# ----- precision modes --------------------------------------------------------------------------


def test_each_venue_class_declares_the_precision_mode_the_conversion_reads() -> None:
    from fillforge.venues.ccxt.convert import TICK_SIZE

    for name in ("binance", "bybit", "coinbase"):
        assert CcxtBroker(name, poll_every=None).exchange.precisionMode == TICK_SIZE


@pytest.mark.skipif(
    not (os.environ.get("BYBIT_TESTNET_KEY") and os.environ.get("COINBASE_SANDBOX_KEY")),
    reason="BYBIT_TESTNET_KEY / COINBASE_SANDBOX_KEY are not set",
)
def test_the_venues_testnets_take_a_resting_limit() -> None:  # pragma: no cover - needs keys
    for name, key, secret, symbol in (
        ("bybit", "BYBIT_TESTNET_KEY", "BYBIT_TESTNET_SECRET", "BTC/USDT"),
        ("coinbase", "COINBASE_SANDBOX_KEY", "COINBASE_SANDBOX_SECRET", "BTC/USD"),
    ):
        b = CcxtBroker(
            name, api_key=os.environ[key], secret=os.environ.get(secret), poll_every=None
        )
        b.exchange.set_sandbox_mode(True)
        with b:
            o = b.submit(_req(symbol, side="buy", type="limit", limit_price="1000", qty="0.001"))
            b.cancel(o.id)
