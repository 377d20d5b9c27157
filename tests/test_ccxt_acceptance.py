"""Issue 20's acceptance matrix for crypto: unmodified ccxt (``ccxt.binance`` with its ``urls``
pointed at the local Binance-compatible server) and ``CcxtBroker`` on top of it, against a real
matching engine: market, limit, IOC, FOK, post-only accepted and refused, stop-loss-limit
triggering, cancel, cancel-all, fetching orders, open orders and trades, balances before and after
fills, a bad signature, an unknown order.

The same matrix runs against Binance's spot testnet when ``BINANCE_TESTNET_KEY`` and
``BINANCE_TESTNET_SECRET`` are set (skipped otherwise): prices there are the testnet's own, so the
orders are placed relative to its book.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import ccxt
import pytest

from fillforge.binance import BinanceServer, scripted_broker
from fillforge.errors import CcxtError, FillforgeError
from fillforge.orders.enums import OrderStatus
from fillforge.orders.models import OrderRequest
from fillforge.venues.ccxt import CcxtBroker

D = Decimal
SYMBOL = "BTC/USDT"
START_NS = 1_700_000_000_000_000_000
BID, ASK = D("30000.00"), D("30000.10")


@dataclass
class Venue:
    """One venue the matrix runs on: ccxt's exchange, prices to place orders at, and (served)
    a way to script prints."""

    exchange: Any
    bid: Decimal
    ask: Decimal
    server: BinanceServer | None

    def print_at(self, price: Decimal, qty: Decimal) -> None:
        """A sell print at ``price`` (the served venue only)."""
        assert self.server is not None
        self.server.call(lambda b: b.trade("BTCUSDT", price, qty))

    def quote(self, bid: Decimal, ask: Decimal, size: Decimal | None = None) -> None:
        assert self.server is not None
        size = D(2) if size is None else size
        self.server.call(lambda b: b.quote("BTCUSDT", bid, ask, bid_size=size, ask_size=size))


def _served() -> Iterator[Venue]:
    key, secret = secrets.token_hex(16), secrets.token_hex(32)
    broker = scripted_broker(start_ns=START_NS, cash=D(10_000))
    broker.quote("BTCUSDT", BID, ASK, bid_size=D(2), ask_size=D(2))
    with BinanceServer(broker, api_key=key, secret_key=secret, speed=None) as server:
        ex = ccxt.binance({"apiKey": key, "secret": secret, "urls": {"api": server.urls}})
        ex.load_markets()
        yield Venue(ex, BID, ASK, server)


def _testnet() -> Iterator[Venue]:
    key, secret = os.environ.get("BINANCE_TESTNET_KEY"), os.environ.get("BINANCE_TESTNET_SECRET")
    if not key or not secret:
        pytest.skip("BINANCE_TESTNET_KEY / BINANCE_TESTNET_SECRET are not set")
    ex = ccxt.binance({"apiKey": key, "secret": secret})
    ex.set_sandbox_mode(True)
    ex.load_markets()
    book = ex.fetch_order_book(SYMBOL, 5)
    bid, ask = D(str(book["bids"][0][0])), D(str(book["asks"][0][0]))
    yield Venue(ex, bid, ask, None)
    ex.cancel_all_orders(SYMBOL) if ex.fetch_open_orders(SYMBOL) else None


@pytest.fixture(params=["served", "testnet"])
def venue(request: pytest.FixtureRequest) -> Iterator[Venue]:
    yield from _served() if request.param == "served" else _testnet()


def served_only(v: Venue) -> None:
    if v.server is None:
        pytest.skip("scripts prices: the served venue only")


def _total(ex: Any, cur: str) -> Decimal:
    return D(str(ex.fetch_balance()["total"].get(cur) or 0))


# ----- unmodified ccxt ---------------------------------------------------------------------


def test_markets_carry_tick_lot_and_minimum_notional(venue: Venue) -> None:
    m = venue.exchange.market(SYMBOL)
    assert m["spot"]
    assert m["active"]
    assert m["precision"]["price"] == 0.01
    assert m["precision"]["amount"] == 0.00001
    assert m["limits"]["cost"]["min"] == 5.0


def test_market_buy_fills_and_moves_balances_by_cost_and_fee(venue: Venue) -> None:
    served_only(venue)
    ex = venue.exchange
    usdt, btc = _total(ex, "USDT"), _total(ex, "BTC")
    o = ex.create_order(SYMBOL, "market", "buy", 0.01)
    assert o["status"] == "closed"
    assert o["filled"] == 0.01
    assert o["average"] == float(ASK)
    fee = D(str(o["fee"]["cost"]))
    assert fee == (ASK * D("0.01") * D("0.001")).quantize(D("0.00000001"))
    assert o["fee"]["currency"] == "USDT"
    assert _total(ex, "BTC") == btc + D("0.01")
    assert _total(ex, "USDT") == usdt - ASK * D("0.01") - fee


def test_limit_rests_then_fills_on_a_print_through_it(venue: Venue) -> None:
    served_only(venue)
    ex = venue.exchange
    o = ex.create_order(SYMBOL, "limit", "buy", 0.01, float(BID - 1))
    assert o["status"] == "open"
    assert [x["id"] for x in ex.fetch_open_orders(SYMBOL)] == [o["id"]]
    used = D(str(ex.fetch_balance()["used"]["USDT"]))
    assert used == (BID - 1) * D("0.01")  # the order's cost is held
    venue.quote(BID - 2, BID - D("1.5"), D(5))  # the ask falls through the order's price
    got = ex.fetch_order(o["id"], SYMBOL)
    assert got["status"] == "closed"
    assert got["price"] == float(BID - 1)
    trades = ex.fetch_my_trades(SYMBOL)
    assert [t["order"] for t in trades] == [o["id"]]
    assert trades[0]["takerOrMaker"] == "maker"


def test_ioc_fills_what_it_can_and_expires_the_rest(venue: Venue) -> None:
    served_only(venue)
    ex = venue.exchange
    venue.quote(BID, ASK, D("0.1"))
    o = ex.create_order(SYMBOL, "limit", "buy", 0.3, float(ASK), {"timeInForce": "IOC"})
    assert o["status"] == "expired"
    assert o["filled"] == 0.1  # the 0.1 offered at the ask


def test_fok_that_cannot_fill_whole_fills_nothing(venue: Venue) -> None:
    served_only(venue)
    ex = venue.exchange
    usdt = _total(ex, "USDT")
    o = ex.create_order(SYMBOL, "limit", "buy", 0.1, float(ASK), {"timeInForce": "FOK"})
    assert o["status"] == "closed"  # 0.1 of the 2 offered: whole
    venue.quote(BID, ASK, D("0.1"))
    o = ex.create_order(SYMBOL, "limit", "buy", 0.2, float(ASK + 1), {"timeInForce": "FOK"})
    assert o["status"] == "expired"
    assert o["filled"] == 0
    assert _total(ex, "USDT") < usdt  # the first one's cost only


def test_post_only_rests_when_it_would_not_take(venue: Venue) -> None:
    ex = venue.exchange
    o = ex.create_order(
        SYMBOL, "limit", "buy", 0.001, float(venue.bid * D("0.9")), {"postOnly": True}
    )
    assert o["status"] == "open"
    assert o["postOnly"]
    assert ex.fetch_order(o["id"], SYMBOL)["info"]["type"] == "LIMIT_MAKER"
    ex.cancel_order(o["id"], SYMBOL)


def test_post_only_that_would_take_is_refused(venue: Venue) -> None:
    ex = venue.exchange
    with pytest.raises(ccxt.OrderImmediatelyFillable, match="would immediately match and take"):
        ex.create_order(
            SYMBOL, "limit", "buy", 0.001, float(venue.ask * D("1.01")), {"postOnly": True}
        )
    assert ex.fetch_open_orders(SYMBOL) == []


def test_stop_loss_limit_waits_then_triggers_on_a_print_at_its_stop(venue: Venue) -> None:
    served_only(venue)
    ex = venue.exchange
    ex.create_order(SYMBOL, "market", "buy", 0.01)
    stop = ex.create_order(
        SYMBOL, "STOP_LOSS_LIMIT", "sell", 0.01, 29_000, {"stopPrice": 29_500, "timeInForce": "GTC"}
    )
    assert stop["status"] == "open"
    assert stop["triggerPrice"] == 29_500
    venue.print_at(D(29_600), D("0.5"))
    assert ex.fetch_order(stop["id"], SYMBOL)["status"] == "open"
    venue.print_at(D(29_500), D("0.5"))
    got = ex.fetch_order(stop["id"], SYMBOL)
    assert got["status"] == "closed"
    assert got["filled"] == 0.01
    assert _total(ex, "BTC") == 0


def test_a_stop_the_last_price_already_passed_is_refused(venue: Venue) -> None:
    served_only(venue)
    ex = venue.exchange
    ex.create_order(SYMBOL, "market", "buy", 0.01)
    with pytest.raises(ccxt.OrderImmediatelyFillable, match="Stop price would trigger"):
        ex.create_order(
            SYMBOL,
            "STOP_LOSS_LIMIT",
            "sell",
            0.01,
            30_000,
            {"stopPrice": 30_100, "timeInForce": "GTC"},
        )


def test_cancel_and_cancel_all(venue: Venue) -> None:
    ex = venue.exchange
    px = float((venue.bid * D("0.9")).quantize(D("0.01")))
    a = ex.create_order(SYMBOL, "limit", "buy", 0.001, px)
    assert ex.cancel_order(a["id"], SYMBOL)["status"] == "canceled"
    b = ex.create_order(SYMBOL, "limit", "buy", 0.001, px)
    c = ex.create_order(SYMBOL, "limit", "buy", 0.001, px)
    gone = ex.cancel_all_orders(SYMBOL)
    assert sorted(o["id"] for o in gone) == sorted([b["id"], c["id"]])
    assert ex.fetch_open_orders(SYMBOL) == []
    statuses = {o["id"]: o["status"] for o in ex.fetch_orders(SYMBOL)}
    assert statuses[a["id"]] == statuses[b["id"]] == statuses[c["id"]] == "canceled"


def test_unknown_order_and_cancel_of_a_filled_one(venue: Venue) -> None:
    ex = venue.exchange
    with pytest.raises(ccxt.OrderNotFound):
        ex.fetch_order("987654321", SYMBOL)
    with pytest.raises(ccxt.OrderNotFound):
        ex.cancel_order("987654321", SYMBOL)


def test_insufficient_balance_is_refused_and_changes_nothing(venue: Venue) -> None:
    served_only(venue)
    ex = venue.exchange
    with pytest.raises(ccxt.InsufficientFunds):
        ex.create_order(SYMBOL, "limit", "buy", 1, 29_000)  # 29,000 USDT; the account has 10,000
    with pytest.raises(ccxt.InsufficientFunds):
        ex.create_order(SYMBOL, "market", "sell", 0.01)  # no BTC to sell
    assert ex.fetch_open_orders(SYMBOL) == []
    assert _total(ex, "USDT") == 10_000


def test_bad_signature_and_bad_key(venue: Venue) -> None:
    ex = venue.exchange
    url = ex.urls["api"]
    forged = ccxt.binance({"apiKey": ex.apiKey, "secret": "0" * 64, "urls": {"api": url}})
    forged.markets, forged.markets_by_id, forged.symbols = ex.markets, ex.markets_by_id, ex.symbols
    with pytest.raises(ccxt.AuthenticationError, match="-1022"):
        forged.fetch_balance()
    stranger = ccxt.binance({"apiKey": "nobody", "secret": ex.secret, "urls": {"api": url}})
    stranger.markets, stranger.markets_by_id = ex.markets, ex.markets_by_id
    with pytest.raises(ccxt.AuthenticationError, match="-2015"):
        stranger.fetch_balance()


def test_quote_quantity_market_buy(venue: Venue) -> None:
    served_only(venue)
    ex = venue.exchange
    o = ex.create_order(SYMBOL, "market", "buy", None, None, {"quoteOrderQty": 100})
    assert o["status"] == "closed"
    assert D(str(o["cost"])) <= 100
    assert D(str(o["filled"])) == D("0.00333")


# ----- CcxtBroker on top --------------------------------------------------------------------


@pytest.fixture
def broker(venue: Venue) -> Iterator[CcxtBroker]:
    ex = venue.exchange
    b = CcxtBroker(ex, poll_every=None)
    with b:
        yield b


def _limit(qty: str, price: Decimal, tif: str = "gtc") -> OrderRequest:
    return OrderRequest(
        symbol=SYMBOL,
        side="buy",
        type="limit",
        time_in_force=tif,
        qty=D(qty),
        limit_price=price.quantize(D("0.01")),
    )


def test_broker_instruments_come_from_the_markets(broker: CcxtBroker) -> None:
    inst = broker.instruments[SYMBOL]
    assert (inst.tick_size, inst.lot_size, inst.min_qty) == (D("0.01"), D("0.00001"), D("0.00001"))


def test_broker_market_buy_records_the_fill_with_its_fee(broker: CcxtBroker, venue: Venue) -> None:
    served_only(venue)
    events = broker.events()
    o = broker.submit(
        OrderRequest(symbol=SYMBOL, side="buy", type="market", time_in_force="ioc", qty=D("0.01"))
    )
    assert o.status is OrderStatus.FILLED
    (fill,) = o.fills.values()
    assert (fill.price, fill.qty, fill.commission) == (ASK, D("0.01"), D("0.300001"))
    kinds = [e.kind.value for e in events]
    assert kinds[-2:] == ["new", "fill"]
    assert broker.positions()[SYMBOL].qty == D("0.01")
    assert broker.account().cash == D(10_000) - ASK * D("0.01") - D("0.300001")


def test_broker_limit_fills_later_and_reconcile_brings_it(broker: CcxtBroker, venue: Venue) -> None:
    served_only(venue)
    o = broker.submit(_limit("0.01", BID - 1))
    assert o.status is OrderStatus.NEW
    venue.quote(BID - 2, BID - D("1.5"), D(5))
    broker.reconcile()
    assert o.status is OrderStatus.FILLED
    (fill,) = o.fills.values()  # the venue's trade: its price (the engine's, at or under the limit)
    assert fill.price <= BID - 1
    assert o.avg_price == fill.price
    assert fill.liquidity.value == "maker"


def test_broker_ioc_fok_post_only(broker: CcxtBroker, venue: Venue) -> None:
    served_only(venue)
    venue.quote(BID, ASK, D("0.1"))
    ioc = broker.submit(_limit("0.3", ASK, "ioc"))
    assert ioc.status is OrderStatus.EXPIRED
    assert ioc.cum_qty == D("0.1")
    venue.quote(BID, ASK, D("0.1"))
    fok = broker.submit(_limit("0.2", ASK, "fok"))
    assert fok.status is OrderStatus.EXPIRED
    assert fok.cum_qty == 0
    maker = broker.submit(_limit("0.01", BID - 10), post_only=True)
    assert maker.status is OrderStatus.NEW
    with pytest.raises(CcxtError) as refused:
        broker.submit(_limit("0.01", ASK + 1), post_only=True)
    assert refused.value.kind == "OrderImmediatelyFillable"
    assert [o.id for o in broker.orders(open_only=True)] == [maker.id]


def test_broker_cancel_cancel_all_and_unknown(broker: CcxtBroker, venue: Venue) -> None:
    px = venue.bid * D("0.9")
    a = broker.submit(_limit("0.001", px))
    broker.cancel(a.id)
    assert a.status is OrderStatus.CANCELED
    b, c = broker.submit(_limit("0.001", px)), broker.submit(_limit("0.001", px))
    broker.cancel_all(SYMBOL)
    assert b.status is OrderStatus.CANCELED
    assert c.status is OrderStatus.CANCELED
    with pytest.raises(FillforgeError):
        broker.cancel(a.id)  # already canceled: the local order machine refuses it


def test_broker_refuses_off_grid_terms_before_sending(broker: CcxtBroker) -> None:
    from fillforge.errors import OrderValidationError

    off_tick = _limit("0.01", D(29000)).model_copy(update={"limit_price": D("29000.001")})
    with pytest.raises(OrderValidationError, match="tick"):
        broker.submit(off_tick)
    with pytest.raises(OrderValidationError, match="lot"):
        broker.submit(_limit("0.000001", D(29000)))
    assert broker.orders() == []


def test_edit_is_a_cancel_replace(venue: Venue) -> None:
    ex = venue.exchange
    px = (venue.bid * D("0.9")).quantize(D("0.01"))
    o = ex.create_order(SYMBOL, "limit", "buy", 0.001, float(px))
    edited = ex.edit_order(o["id"], SYMBOL, "limit", "buy", 0.002, float(px - 1))
    assert edited["id"] != o["id"]
    assert edited["status"] == "open"
    assert (edited["amount"], edited["price"]) == (0.002, float(px - 1))
    assert ex.fetch_order(o["id"], SYMBOL)["status"] == "canceled"
    assert [x["id"] for x in ex.fetch_open_orders(SYMBOL)] == [edited["id"]]
    ex.cancel_order(edited["id"], SYMBOL)


def test_broker_replace_gives_a_new_order_and_the_old_one_replaced(
    broker: CcxtBroker, venue: Venue
) -> None:
    px = venue.bid * D("0.9")
    o = broker.submit(_limit("0.001", px))
    events = broker.events()
    broker.replace(o.id, qty=D("0.002"), limit_price=(px - 1).quantize(D("0.01")))
    assert o.status is OrderStatus.REPLACED
    assert o.replaced_by is not None
    new = broker.get_order(o.replaced_by)
    assert new.status is OrderStatus.NEW
    assert (new.order_qty, new.limit_price) == (D("0.002"), (px - 1).quantize(D("0.01")))
    assert [e.kind.value for e in events] == ["replace_requested", "replaced", "new"]
    assert [x["id"] for x in venue.exchange.fetch_open_orders(SYMBOL)] == [new.id]
    broker.cancel(new.id)
