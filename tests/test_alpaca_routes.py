"""The routes real Alpaca clients call beyond orders and positions (issue #14): the legacy
``alpaca-trade-api`` stream path, account activities, portfolio history, account configurations,
the single-symbol latest quote and watchlists, through alpaca-py 0.44's own client methods where
it has them and plain HTTP checked against its models where it does not.
"""

from __future__ import annotations

import json
import re
import secrets
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import requests
from alpaca.common.exceptions import APIError
from alpaca.data.historical import StockHistoricalDataClient
from alpaca.data.models import Quote
from alpaca.data.requests import StockLatestQuoteRequest
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderSide, TimeInForce
from alpaca.trading.models import (
    AccountConfiguration,
    NonTradeActivity,
    PortfolioHistory,
    TradeActivity,
)
from alpaca.trading.requests import (
    CreateWatchlistRequest,
    GetPortfolioHistoryRequest,
    LimitOrderRequest,
    MarketOrderRequest,
    UpdateWatchlistRequest,
)
from served_helpers import quote, trading_client
from ws_client import ws_connect

from fillforge.alpaca import AlpacaServer, scripted_broker, uuid_ids
from fillforge.orders.models import Instrument
from fillforge.sim.account import Account
from fillforge.sim.broker import SimulatedBroker
from fillforge.sim.feeds import empty_feed
from fillforge.sim.fees import FeeModel
from fillforge.sim.venue import Venue
from fillforge.testing import ALPACA_SERVER_START_NS

D = Decimal
START_S = ALPACA_SERVER_START_NS // 10**9  # Monday 2026-11-23 10:00 New York
MIDNIGHT_S = START_S - 10 * 3600  # its midnight in New York
MINUTE_NS = 60 * 10**9


def make_server(broker: SimulatedBroker, *, speed: float | None = 1.0) -> AlpacaServer:
    return AlpacaServer(
        broker,
        key_id=f"PK{secrets.token_hex(8).upper()}",
        secret_key=secrets.token_urlsafe(24),
        speed=speed,
    )


@pytest.fixture
def manual() -> Iterator[AlpacaServer]:
    """A server whose clock moves only when the test runs the broker (``speed=None``)."""
    broker = scripted_broker(("AAPL", "MSFT", "SPY"), start_ns=ALPACA_SERVER_START_NS)
    with make_server(broker, speed=None) as server:
        yield server


def http(
    server: AlpacaServer, method: str, path: str, body: Any = None, **params: Any
) -> requests.Response:
    headers = {"APCA-API-KEY-ID": server.key_id, "APCA-API-SECRET-KEY": server.secret_key}
    data = body if isinstance(body, bytes | None) else json.dumps(body).encode()
    if data is not None:
        headers["Content-Type"] = "application/json"
    return requests.request(
        method, server.base_url + path, params=params, data=data, headers=headers, timeout=10
    )


def refused(r: requests.Response, status: int, field: str | None = None) -> dict[str, Any]:
    """``r`` is Alpaca's error answer with ``status``, naming ``field`` if given."""
    assert r.status_code == status, (r.status_code, r.text)
    body = r.json()
    assert isinstance(body["code"], int)
    assert str(body["code"]).startswith(str(status)) or status == 422
    assert isinstance(body["message"], str)
    if field is not None:
        assert body["message"].startswith(f"{field}="), body["message"]
    return body


def market(client: TradingClient, side: OrderSide, qty: float, symbol: str = "AAPL") -> Any:
    return client.submit_order(
        MarketOrderRequest(symbol=symbol, qty=qty, side=side, time_in_force=TimeInForce.DAY)
    )


# ----- the legacy SDK's stream path ------------------------------------------------------------


def test_the_legacy_sdk_stream_path_with_a_trailing_slash(
    alpaca_server: AlpacaServer, client: TradingClient
) -> None:
    # alpaca-trade-api 3.2 cannot be installed beside alpaca-py 0.44 (it pins websockets < 11 and
    # urllib3 < 2), so this does what its TradingStream does: connect to base_url with ws for
    # http and "/stream/" appended, authenticate, send listen without waiting, then read.
    endpoint = re.sub(r"^http", "ws", alpaca_server.base_url) + "/stream/"
    with ws_connect(endpoint, max_queue=1024) as ws:
        auth = {"key_id": alpaca_server.key_id, "secret_key": alpaca_server.secret_key}
        ws.send(json.dumps({"action": "authenticate", "data": auth}))
        reply = json.loads(ws.recv(timeout=5))
        assert reply["data"]["status"] == "authorized"
        ws.send(json.dumps({"action": "listen", "data": {"streams": ["trade_updates"]}}))
        assert json.loads(ws.recv(timeout=5))["stream"] == "listening"
        quote(alpaca_server, "100.00", "100.02")
        order = market(client, OrderSide.BUY, 3)
        events = []
        while "fill" not in events:
            msg = json.loads(ws.recv(timeout=5))
            if msg["stream"] == "trade_updates":
                events.append(msg["data"]["event"])
                assert msg["data"]["order"]["id"] == str(order.id)
        assert events == ["new", "fill"]


def test_the_legacy_stream_path_refuses_a_bad_secret(alpaca_server: AlpacaServer) -> None:
    endpoint = re.sub(r"^http", "ws", alpaca_server.base_url) + "/stream/"
    with ws_connect(endpoint) as ws:
        bad = {"key_id": alpaca_server.key_id, "secret_key": "wrong"}
        ws.send(json.dumps({"action": "authenticate", "data": bad}))
        assert json.loads(ws.recv(timeout=5))["data"]["status"] == "unauthorized"


# ----- account activities ----------------------------------------------------------------------


def activities(server: AlpacaServer, path: str = "", **params: Any) -> list[dict[str, Any]]:
    r = http(server, "GET", "/v2/account/activities" + path, **params)
    assert r.status_code == 200, r.text
    out = r.json()
    for a in out:  # each one parses in alpaca-py's model for its kind
        (TradeActivity if a["activity_type"] == "FILL" else NonTradeActivity)(**a)
    return out


def test_fills_and_the_deposit_are_activities(
    alpaca_server: AlpacaServer, client: TradingClient
) -> None:
    quote(alpaca_server, "100.00", "100.02", size=4)
    o = client.submit_order(
        LimitOrderRequest(
            symbol="AAPL",
            qty=10,
            side=OrderSide.BUY,
            time_in_force=TimeInForce.GTC,
            limit_price=100.02,
        )
    )
    quote(alpaca_server, "100.00", "100.02", size=1000)
    got = activities(alpaca_server)
    assert [a["activity_type"] for a in got] == ["FILL", "FILL", "CSD"]  # newest first
    second, first, deposit = got
    assert (first["type"], first["qty"], first["cum_qty"], first["leaves_qty"]) == (
        "partial_fill",
        "4",
        "4",
        "6",
    )
    assert first["order_status"] == "partially_filled"
    assert (second["type"], second["qty"], second["cum_qty"], second["leaves_qty"]) == (
        "fill",
        "6",
        "10",
        "0",
    )
    assert second["order_status"] == "filled"
    for a in (first, second):
        fill = TradeActivity(**a)
        assert (fill.order_id, fill.symbol, fill.side, fill.price) == (o.id, "AAPL", "buy", 100.02)
        assert re.fullmatch(r"\d{17}::[0-9a-f-]{36}", a["id"])
    assert (deposit["net_amount"], deposit["date"], deposit["status"]) == (
        "100000",
        "2026-11-23",
        "executed",
    )
    assert deposit["id"].startswith("20261123100000000::")  # New York time, to the ms
    assert activities(alpaca_server, direction="asc") == got[::-1]


def test_activity_type_filters(alpaca_server: AlpacaServer, client: TradingClient) -> None:
    quote(alpaca_server, "100.00", "100.02")
    market(client, OrderSide.BUY, 2)
    assert [a["activity_type"] for a in activities(alpaca_server, activity_types="FILL")] == [
        "FILL"
    ]
    assert [a["activity_type"] for a in activities(alpaca_server, "/CSD")] == ["CSD"]
    assert activities(alpaca_server, "/DIV") == []
    both = activities(alpaca_server, activity_types="CSD,FILL")
    assert len(both) == 2
    assert activities(alpaca_server, category="trade_activity") == both[:1]
    assert activities(alpaca_server, category="non_trade_activity") == both[1:]
    # As Alpaca answers an unknown type: 422, 40010001, "invalid activity type: ..."
    body = refused(http(alpaca_server, "GET", "/v2/account/activities/FFFFF"), 422)
    assert body == {
        "code": 40010001,
        "message": "activity_type='FFFFF': invalid activity type: FFFFF",
    }
    refused(
        http(alpaca_server, "GET", "/v2/account/activities", activity_types="FILL,NOPE"),
        422,
        "activity_types",
    )


def test_activity_dates_and_paging(alpaca_server: AlpacaServer, client: TradingClient) -> None:
    quote(alpaca_server, "100.00", "100.02")
    for _ in range(3):
        market(client, OrderSide.BUY, 1)
    every = activities(alpaca_server)
    assert len(every) == 4
    assert activities(alpaca_server, date="2026-11-23") == every
    assert activities(alpaca_server, date="2026-11-22") == []
    assert activities(alpaca_server, until="2026-11-23T15:00:00Z") == []  # 10:00 New York
    assert activities(alpaca_server, after="2026-11-23T14:59:59Z") == every
    assert activities(alpaca_server, after="2026-11-23") == every
    # Pages: each ends before (desc) or begins after (asc) the token.
    page1 = activities(alpaca_server, page_size=2)
    page2 = activities(alpaca_server, page_size=2, page_token=page1[-1]["id"])
    assert page1 + page2 == every
    assert activities(alpaca_server, page_size=2, page_token=page2[-1]["id"]) == []
    asc = activities(alpaca_server, direction="asc", page_size=3)
    rest = activities(alpaca_server, direction="asc", page_token=asc[-1]["id"])
    assert asc + rest == every[::-1]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"page_size": "0"}, "page_size"),
        ({"page_size": "101"}, "page_size"),
        ({"page_size": "ten"}, "page_size"),
        ({"direction": "up"}, "direction"),
        ({"date": "2026-11-23", "until": "2026-11-24"}, "date"),
        ({"date": "23/11/2026"}, "date"),
        ({"until": "yesterday"}, "until"),
        ({"after": "2026-13-01T00:00:00Z"}, "after"),
        ({"page_token": "20261123100000000::nope"}, "page_token"),
        ({"category": "trades"}, "category"),
    ],
)
def test_activity_queries_are_validated(
    alpaca_server: AlpacaServer, params: dict[str, str], field: str
) -> None:
    refused(http(alpaca_server, "GET", "/v2/account/activities", **params), 422, field)


def test_a_date_lifts_the_page_size_cap(alpaca_server: AlpacaServer) -> None:
    assert len(activities(alpaca_server, date="2026-11-23", page_size=500)) == 1


def test_fees_are_fee_activities() -> None:
    venue = Venue("ALPACA-SIM", calendar="XNYS", fees=FeeModel.flat(per_share=D("0.01")))
    venue.add(Instrument(symbol="AAPL", tick_size=D("0.01")), empty_feed())
    broker = SimulatedBroker(
        venue, cash=D(100_000), start_ns=ALPACA_SERVER_START_NS, id_factory=uuid_ids(7)
    )
    with make_server(broker) as server:
        quote(server, "100.00", "100.02")
        market(trading_client(server), OrderSide.BUY, 5)
        got = activities(server)
    assert [a["activity_type"] for a in got] == ["FEE", "FILL", "CSD"]
    fee = NonTradeActivity(**got[0])
    assert (fee.net_amount, fee.symbol, fee.qty, fee.date.isoformat()) == (
        -0.05,
        "AAPL",
        5,
        "2026-11-23",
    )
    assert got[0]["net_amount"] == "-0.05"


# ----- portfolio history -----------------------------------------------------------------------


def history(server: AlpacaServer, **params: Any) -> PortfolioHistory:
    return trading_client(server).get_portfolio_history(GetPortfolioHistoryRequest(**params))


def test_portfolio_history_of_a_fresh_account(alpaca_server: AlpacaServer) -> None:
    h = history(alpaca_server)  # period 1M, so daily points: only today's, since it began
    assert (h.timeframe, h.timestamp, h.equity, h.base_value) == (
        "1D",
        [MIDNIGHT_S],
        [100_000.0],
        100_000.0,
    )
    assert (h.profit_loss, h.profit_loss_pct) == ([0.0], [0.0])
    intraday = history(alpaca_server, period="1D", timeframe="1Min")
    assert intraday.timestamp[0] == START_S  # the minute the account began
    assert set(intraday.equity) == {100_000.0}


def test_portfolio_history_follows_the_equity(manual: AlpacaServer) -> None:
    c = trading_client(manual)
    quote(manual, "100.00", "100.02")
    market(c, OrderSide.BUY, 10)  # 10:00: cash for shares marked at 100.02, equity unchanged
    manual.call(lambda b: b.run(until_ns=ALPACA_SERVER_START_NS + 2 * MINUTE_NS + 30 * 10**9))
    quote(manual, "101.00", "101.02")
    market(c, OrderSide.SELL, 5)  # 10:02: sold at 101.00, the rest marked there: +9.80
    manual.call(lambda b: b.run(until_ns=ALPACA_SERVER_START_NS + 4 * MINUTE_NS))
    h = history(manual, period="1D", timeframe="1Min")
    assert h.timestamp == [START_S + 60 * i for i in range(5)]
    assert h.equity == [100_000.0, 100_000.0, 100_009.8, 100_009.8, 100_009.8]
    assert h.base_value == 100_000.0
    assert h.profit_loss == pytest.approx([0, 0, 9.8, 9.8, 9.8])
    assert h.profit_loss_pct[-1] == pytest.approx(9.8 / 100_000)
    five = history(manual, period="1D", timeframe="5Min")
    assert (five.timestamp, five.equity) == ([START_S], [100_009.8])
    daily = history(manual, period="1W", timeframe="1D")
    assert (daily.timestamp, daily.equity) == ([MIDNIGHT_S], [100_009.8])
    # Before the account began there is nothing; a window ends where the range does.
    assert history(manual, date_end="2026-11-20", timeframe="1D").timestamp == []
    first = history(manual, start="2026-11-23T15:00:00Z", end="2026-11-23T15:02:00Z")
    assert (first.timeframe, first.equity) == ("1Min", [100_000.0, 100_000.0])


def test_portfolio_history_the_next_day(manual: AlpacaServer) -> None:
    c = trading_client(manual)
    quote(manual, "100.00", "100.02")
    market(c, OrderSide.BUY, 10)
    quote(manual, "101.00", "101.02")
    market(c, OrderSide.SELL, 5)  # +9.80 on Monday
    tuesday_open = ALPACA_SERVER_START_NS + 86_400 * 10**9 - 30 * MINUTE_NS  # 09:30
    manual.call(lambda b: b.run(until_ns=tuesday_open + 90 * 10**9))
    quote(manual, "102.00", "102.02")
    market(c, OrderSide.SELL, 5)  # Tuesday 09:31: +5.00 on the other five
    per_day = history(manual, period="2D", timeframe="1H")
    # Hours from the open: Monday's from the one the account began in, then Tuesday's.
    assert per_day.timestamp[:2] == [START_S - 1800, START_S + 1800]
    assert per_day.timestamp[-1] == tuesday_open // 10**9
    assert per_day.equity[-1] == 100_014.8
    assert per_day.profit_loss[-1] == pytest.approx(5.0)  # from Monday's close
    whole = history(manual, period="2D", timeframe="1H", pnl_reset="no_reset")
    assert whole.profit_loss[-1] == pytest.approx(14.8)
    daily = history(manual, period="1W", timeframe="1D")
    assert daily.equity == [100_009.8, 100_014.8]
    assert daily.timestamp == [MIDNIGHT_S, MIDNIGHT_S + 86_400]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"period": "1X"}, "period"),
        ({"period": "0D"}, "period"),
        ({"period": "99999A"}, "period"),
        ({"timeframe": "2Min"}, "timeframe"),
        ({"period": "3M", "timeframe": "1Min"}, "timeframe"),
        ({"date_end": "2026-11-31"}, "date_end"),
        ({"extended_hours": "maybe"}, "extended_hours"),
        ({"start": "2026-11-23T16:00:00Z", "end": "2026-11-23T15:00:00Z"}, "start"),
        (
            {"start": "2026-11-23T15:00:00Z", "end": "2026-11-23T16:00:00Z", "period": "1D"},
            "period",
        ),
        ({"date_end": "2026-11-23", "end": "2026-11-23T16:00:00Z"}, "date_end"),
        ({"intraday_reporting": "sometimes"}, "intraday_reporting"),
        ({"pnl_reset": "weekly"}, "pnl_reset"),
        ({"cashflow_types": "CSD,NOPE"}, "cashflow_types"),
        ({"start": "noon"}, "start"),
    ],
)
def test_portfolio_history_queries_are_validated(
    alpaca_server: AlpacaServer, params: dict[str, str], field: str
) -> None:
    r = http(alpaca_server, "GET", "/v2/account/portfolio/history", **params)
    refused(r, 422, field)


def test_portfolio_history_options(alpaca_server: AlpacaServer) -> None:
    for params in (
        {"extended_hours": "True", "period": "1D", "timeframe": "15Min"},
        {"intraday_reporting": "continuous", "period": "1W"},
        {"cashflow_types": "ALL", "period": "1A"},
        {"date_end": "2026-11-23", "period": "2W"},
    ):
        r = http(alpaca_server, "GET", "/v2/account/portfolio/history", **params)
        assert r.status_code == 200, (params, r.text)
        PortfolioHistory(**r.json())
        assert r.json()["equity"] == [100_000.0]


# ----- account configurations ------------------------------------------------------------------


def test_configurations_read_and_write_through_the_sdk(client: TradingClient) -> None:
    cfg = client.get_account_configurations()
    assert isinstance(cfg, AccountConfiguration)
    assert (cfg.no_shorting, cfg.suspend_trade, cfg.fractional_trading) == (False, False, True)
    assert (cfg.trade_confirm_email, cfg.max_margin_multiplier) == ("all", "1")
    cfg.trade_confirm_email = "none"
    cfg.ptp_no_exception_entry = True
    cfg.pdt_check = "both"
    out = client.set_account_configurations(cfg)
    assert (out.trade_confirm_email, out.ptp_no_exception_entry, out.pdt_check) == (
        "none",
        True,
        "both",
    )
    assert client.get_account_configurations() == out
    account = client.get_account()
    assert (account.shorting_enabled, account.trade_suspended_by_user) == (True, False)
    cfg.no_shorting, cfg.suspend_trade = True, True
    client.set_account_configurations(cfg)
    account = client.get_account()  # the account shows what its configuration blocks
    assert (account.shorting_enabled, account.trade_suspended_by_user) == (False, True)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"no_shorting": "yes"}, "no_shorting"),
        ({"suspend_trade": 1}, "suspend_trade"),
        ({"fractional_trading": None}, "fractional_trading"),
        ({"dtbp_check": "sometimes"}, "dtbp_check"),
        ({"pdt_check": 3}, "pdt_check"),
        ({"trade_confirm_email": "ALL"}, "trade_confirm_email"),
        ({"max_margin_multiplier": "5"}, "max_margin_multiplier"),
        ({"max_margin_multiplier": 2}, "max_margin_multiplier"),
        ({"max_margin_multiplier": "two"}, "max_margin_multiplier"),
        ({"max_options_trading_level": 4}, "max_options_trading_level"),
        ({"max_options_trading_level": True}, "max_options_trading_level"),
        ({"margin": "lots"}, "margin"),
        ({"no_shorting": True, "ptp_no_exception_entry": "no"}, "ptp_no_exception_entry"),
        ([], "body"),
        (b"{", "body"),
        (b"NaN", "body"),
    ],
)
def test_configuration_patches_are_validated(
    alpaca_server: AlpacaServer, body: Any, field: str
) -> None:
    before = http(alpaca_server, "GET", "/v2/account/configurations").json()
    refused(http(alpaca_server, "PATCH", "/v2/account/configurations", body), 422, field)
    assert http(alpaca_server, "GET", "/v2/account/configurations").json() == before


def configure(server: AlpacaServer, **fields: Any) -> None:
    r = http(server, "PATCH", "/v2/account/configurations", fields)
    assert r.status_code == 200, r.text
    assert {k: r.json()[k] for k in fields} == fields


def test_no_shorting_refuses_an_order_that_opens_a_short(
    alpaca_server: AlpacaServer, client: TradingClient
) -> None:
    quote(alpaca_server, "100.00", "100.02")
    configure(alpaca_server, no_shorting=True)
    with pytest.raises(APIError) as e:
        market(client, OrderSide.SELL, 1)
    assert (e.value.status_code, e.value.code) == (403, 40310000)
    assert "no_shorting" in e.value.message
    market(client, OrderSide.BUY, 10)
    resting = client.submit_order(
        LimitOrderRequest(
            symbol="AAPL",
            qty=6,
            side=OrderSide.SELL,
            time_in_force=TimeInForce.GTC,
            limit_price=105,
        )
    )
    with pytest.raises(APIError) as e:  # 6 of the 10 are held by the resting sell
        market(client, OrderSide.SELL, 5)
    assert e.value.status_code == 403
    # A replace that would sell more than the position holds.
    r = http(alpaca_server, "PATCH", f"/v2/orders/{resting.id}", {"qty": 11})
    assert "no_shorting" in refused(r, 403)["message"]
    assert market(client, OrderSide.SELL, 4).status == "filled"
    configure(alpaca_server, no_shorting=False)
    client.cancel_orders()
    assert market(client, OrderSide.SELL, 20).status == "filled"  # a short, allowed again


def test_suspend_trade_refuses_new_orders(
    alpaca_server: AlpacaServer, client: TradingClient
) -> None:
    quote(alpaca_server, "100.00", "100.02")
    market(client, OrderSide.BUY, 2)
    configure(alpaca_server, suspend_trade=True)
    for attempt in (
        lambda: market(client, OrderSide.BUY, 1),
        lambda: client.close_position("AAPL"),
        lambda: client.close_all_positions(),
    ):
        with pytest.raises(APIError) as e:
            attempt()
        assert (e.value.status_code, e.value.code) == (403, 40310000)
        assert "suspend_trade" in e.value.message
    assert len(client.get_all_positions()) == 1  # reads still work
    configure(alpaca_server, suspend_trade=False)
    assert market(client, OrderSide.BUY, 1).status == "filled"


def test_max_margin_multiplier_caps_the_leverage() -> None:
    venue = Venue("ALPACA-SIM", calendar="XNYS")
    venue.add(Instrument(symbol="AAPL", tick_size=D("0.01")), empty_feed())
    account = Account(D(100_000), leverage=2)
    broker = SimulatedBroker(venue, account=account, start_ns=ALPACA_SERVER_START_NS)
    with make_server(broker) as server:
        c = trading_client(server)
        assert c.get_account_configurations().max_margin_multiplier == "2"
        assert c.get_account().buying_power == "200000"
        configure(server, max_margin_multiplier="1")
        assert (c.get_account().buying_power, c.get_account().multiplier) == ("100000", "1")
        configure(server, max_margin_multiplier="4")  # a cap: never above the account's own
        assert c.get_account().buying_power == "200000"


def test_an_account_leverage_outside_one_to_four_round_trips() -> None:
    venue = Venue("ALPACA-SIM", calendar="XNYS")
    venue.add(Instrument(symbol="AAPL", tick_size=D("0.01")), empty_feed())
    account = Account(D(100_000), leverage=10)
    broker = SimulatedBroker(venue, account=account, start_ns=ALPACA_SERVER_START_NS)
    with make_server(broker) as server:
        c = trading_client(server)
        cfg = c.get_account_configurations()
        assert cfg.max_margin_multiplier == "10"
        cfg.no_shorting = True
        assert c.set_account_configurations(cfg).max_margin_multiplier == "10"
        refused(
            http(server, "PATCH", "/v2/account/configurations", {"max_margin_multiplier": "9"}),
            422,
            "max_margin_multiplier",
        )


# ----- the single-symbol latest quote ------------------------------------------------------------


def test_the_single_symbol_latest_quote(alpaca_server: AlpacaServer) -> None:
    quote(alpaca_server, "100.00", "100.02", size=300)
    r = http(alpaca_server, "GET", "/v2/stocks/AAPL/quotes/latest", feed="iex")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["symbol"] == "AAPL"
    q = Quote("AAPL", body["quote"])
    assert (q.bid_price, q.bid_size, q.ask_price, q.ask_size) == (100.0, 300, 100.02, 300)
    data = StockHistoricalDataClient(
        alpaca_server.key_id, alpaca_server.secret_key, url_override=alpaca_server.base_url
    )
    many = data.get_stock_latest_quote(StockLatestQuoteRequest(symbol_or_symbols="AAPL"))
    # The same book through the multi-symbol route (stamped when asked).
    assert many["AAPL"].model_dump(exclude={"timestamp"}) == q.model_dump(exclude={"timestamp"})
    unknown = refused(http(alpaca_server, "GET", "/v2/stocks/NOPE/quotes/latest"), 404)
    assert unknown["code"] == 40410000
    assert http(alpaca_server, "GET", "/v2/stocks/MSFT/quotes/latest").status_code == 404
    refused(http(alpaca_server, "GET", "/v2/stocks/AAPL/quotes/latest", feed="x"), 422, "feed")
    refused(
        http(alpaca_server, "GET", "/v2/stocks/AAPL/quotes/latest", currency="EUR"),
        422,
        "currency",
    )
    wrong = requests.get(
        alpaca_server.base_url + "/v2/stocks/AAPL/quotes/latest",
        headers={"APCA-API-KEY-ID": alpaca_server.key_id, "APCA-API-SECRET-KEY": "x"},
        timeout=10,
    )
    assert wrong.status_code == 401


# ----- watchlists --------------------------------------------------------------------------------


def test_watchlists_through_the_sdk(client: TradingClient) -> None:
    w = client.create_watchlist(CreateWatchlistRequest(name="tech", symbols=["AAPL", "MSFT"]))
    assert (w.name, [a.symbol for a in w.assets or []]) == ("tech", ["AAPL", "MSFT"])
    other = client.create_watchlist(CreateWatchlistRequest(name="index", symbols=[]))
    assert [x.name for x in client.get_watchlists()] == ["tech", "index"]
    assert client.get_watchlist_by_id(w.id).assets == w.assets
    w2 = client.update_watchlist_by_id(
        w.id, UpdateWatchlistRequest(name="megacaps", symbols=["MSFT"])
    )
    assert (w2.name, [a.symbol for a in w2.assets or []]) == ("megacaps", ["MSFT"])
    assert w2.created_at == w.created_at
    w3 = client.add_asset_to_watchlist_by_id(w.id, "SPY")
    assert [a.symbol for a in w3.assets or []] == ["MSFT", "SPY"]
    w4 = client.remove_asset_from_watchlist_by_id(w.id, "MSFT")
    assert [a.symbol for a in w4.assets or []] == ["SPY"]
    client.delete_watchlist_by_id(other.id)
    with pytest.raises(APIError) as e:
        client.get_watchlist_by_id(other.id)
    assert (e.value.status_code, e.value.code) == (404, 40410000)
    assert [x.id for x in client.get_watchlists()] == [w.id]


def test_watchlists_by_name(alpaca_server: AlpacaServer) -> None:
    made = http(alpaca_server, "POST", "/v2/watchlists", {"name": "my list"})
    assert made.status_code == 200
    got = http(alpaca_server, "GET", "/v2/watchlists:by_name", name="my list")
    assert got.json() == made.json()
    added = http(
        alpaca_server, "POST", "/v2/watchlists:by_name", {"symbol": "AAPL"}, name="my list"
    )
    assert [a["symbol"] for a in added.json()["assets"]] == ["AAPL"]
    renamed = http(alpaca_server, "PUT", "/v2/watchlists:by_name", {"name": "b"}, name="my list")
    assert renamed.json()["name"] == "b"
    assert http(alpaca_server, "DELETE", "/v2/watchlists:by_name", name="b").status_code == 204
    refused(http(alpaca_server, "GET", "/v2/watchlists:by_name", name="b"), 404)
    refused(http(alpaca_server, "GET", "/v2/watchlists:by_name"), 422, "name")


def test_watchlist_inputs_are_validated(alpaca_server: AlpacaServer) -> None:
    s = alpaca_server
    w = http(s, "POST", "/v2/watchlists", {"name": "a", "symbols": ["AAPL"]}).json()
    path = f"/v2/watchlists/{w['id']}"
    for body, field in (
        ({"name": "a"}, "name"),  # a duplicate name
        ({"name": ""}, "name"),
        ({"name": "x" * 65}, "name"),
        ({"name": 7}, "name"),
        ({}, "name"),
        ({"name": "b", "symbols": ["NOPE"]}, "symbols.0"),
        ({"name": "b", "symbols": "AAPL"}, "symbols"),
        ({"name": "b", "symbols": ["AAPL", "AAPL"]}, "symbols.1"),
        ({"name": "b", "symbols": [None]}, "symbols.0"),
        (b"[1]", "body"),
    ):
        refused(http(s, "POST", "/v2/watchlists", body), 422, field)
    refused(http(s, "POST", path, {"symbol": "NOPE"}), 422, "symbol")
    refused(http(s, "POST", path, {"symbol": "AAPL"}), 422, "symbol")  # already in it
    refused(http(s, "POST", path, {}), 422, "symbol")
    refused(http(s, "PUT", path, {}), 422, "name")
    refused(http(s, "PUT", path, {"symbols": ["AAPL", "NOPE"]}), 422, "symbols.1")
    refused(http(s, "DELETE", path + "/MSFT"), 404)
    refused(http(s, "GET", "/v2/watchlists/not-a-uuid"), 422, "watchlist_id")
    refused(http(s, "GET", f"/v2/watchlists/{uuid.uuid4()}"), 404)
    refused(http(s, "DELETE", f"/v2/watchlists/{uuid.uuid4()}"), 404)
    # Nothing above changed it.
    assert http(s, "GET", path).json() == w
    assert len(http(s, "GET", "/v2/watchlists").json()) == 1


# ----- every new route: typed errors, never a 500, described in the OpenAPI ---------------------

NEW_ROUTES = [
    ("GET", "/v2/account/activities"),
    ("GET", "/v2/account/activities/FILL"),
    ("GET", "/v2/account/portfolio/history"),
    ("GET", "/v2/account/configurations"),
    ("PATCH", "/v2/account/configurations"),
    ("GET", "/v2/stocks/AAPL/quotes/latest"),
    ("GET", "/v2/watchlists"),
    ("POST", "/v2/watchlists"),
    ("GET", "/v2/watchlists:by_name"),
    ("PUT", "/v2/watchlists:by_name"),
    ("POST", "/v2/watchlists:by_name"),
    ("DELETE", "/v2/watchlists:by_name"),
    ("GET", "/v2/watchlists/{id}"),
    ("PUT", "/v2/watchlists/{id}"),
    ("POST", "/v2/watchlists/{id}"),
    ("DELETE", "/v2/watchlists/{id}/AAPL"),
    ("DELETE", "/v2/watchlists/{id}"),
]
GARBAGE_BODIES: list[Any] = [
    b"",
    b"null",
    b"[]",
    b"{",
    b"\xff\xfe",
    b'{"name": NaN}',
    {"name": None, "symbols": None, "symbol": None},
    {"name": ["x"], "symbols": [1, 2], "symbol": {"a": 1}},
    {"name": "n" * 10_000, "symbols": ["AAPL"] * 1000, "symbol": ""},
    {"no_shorting": None, "dtbp_check": None, "max_margin_multiplier": "1e999"},
    {"max_margin_multiplier": "NaN", "max_options_trading_level": 1e300},
]
GARBAGE_PARAMS: list[dict[str, str]] = [
    {"name": "\u0000"},
    {"period": "9999A", "timeframe": "1D"},
    {"start": "0001-01-01T00:00:00+14:00", "end": "9999-12-31T23:59:59-14:00"},
    {"date_end": "0001-01-01", "period": "1A"},
    {"date": "9999-12-31", "after": "", "until": ""},
    {"until": "0001-01-01T00:00:00Z", "page_size": "-1"},
    {"after": "9999-12-31T23:59:59.999999-12:00", "direction": "asc"},
    {"page_size": "1" * 400, "date": "2026-11-23"},
    {"activity_types": ",", "category": ""},
    {"feed": "", "currency": ""},
    {"extended_hours": "", "pnl_reset": "", "cashflow_types": ""},
]


def test_no_input_makes_a_500(alpaca_server: AlpacaServer) -> None:
    s = alpaca_server
    w = http(s, "POST", "/v2/watchlists", {"name": "keep", "symbols": ["AAPL"]}).json()
    for method, path in NEW_ROUTES:
        path = path.replace("{id}", w["id"])
        for body in GARBAGE_BODIES if method in ("PUT", "POST", "PATCH") else [None]:
            for params in GARBAGE_PARAMS:
                r = http(s, method, path, body, **params)
                assert r.status_code < 500, (method, path, body, params, r.text)
                if r.status_code >= 400:
                    refused(r, r.status_code)
                elif r.status_code == 204:  # a garbage delete went through: make it again
                    w = http(s, "POST", "/v2/watchlists", {"name": "keep"}).json()


def test_the_openapi_description_has_the_new_routes(alpaca_server: AlpacaServer) -> None:
    spec = requests.get(alpaca_server.base_url + "/openapi.json", timeout=10).json()
    paths = spec["paths"]
    for method, path in NEW_ROUTES:
        path = path.replace("{id}", "{watchlist_id}").replace("/AAPL", "/{symbol}")
        if path == "/v2/account/activities/FILL":
            path = "/v2/account/activities/{activity_type}"
        if path == "/v2/stocks/AAPL/quotes/latest":
            path = "/v2/stocks/{symbol}/quotes/latest"
        op = paths[path][method.lower()]
        statuses = set(op["responses"])
        assert statuses & {"200", "204"}, (method, path)
        if method in ("PUT", "POST", "PATCH"):
            schema = op["requestBody"]["content"]["application/json"]["schema"]
            assert schema["type"] == "object", (method, path)
            assert "422" in statuses, (method, path)
    patch = paths["/v2/account/configurations"]["patch"]
    props = patch["requestBody"]["content"]["application/json"]["schema"]["properties"]
    assert set(props) >= {"no_shorting", "suspend_trade", "dtbp_check", "max_margin_multiplier"}
