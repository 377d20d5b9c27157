"""Alpaca's venue rules (fillforge.venues.AlpacaRules): each rule fires the same way through
``SimulatedBroker(rules="alpaca")`` and through the served paper account driven by alpaca-py,
and the server runs the simulation off its event loop, in order."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any, Protocol

import pytest
import requests
from alpaca.common.exceptions import APIError
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderSide, TimeInForce
from alpaca.trading.requests import (
    ClosePositionRequest,
    LimitOrderRequest,
    MarketOrderRequest,
    StopOrderRequest,
)
from hypothesis import given
from hypothesis import strategies as st

from fillforge.alpaca import AlpacaServer, scripted_broker
from fillforge.alpaca.order_routes import status_of
from fillforge.errors import FillforgeError, InsufficientQtyError, SimulationError
from fillforge.orders.models import Instrument, OrderRequest
from fillforge.sim.broker import SimulatedBroker
from fillforge.sim.feeds import empty_feed
from fillforge.sim.rules import close_position
from fillforge.sim.venue import Venue
from fillforge.venues import AlpacaRules, AuctionWindowError, WashTradeError, venue_rules
from fillforge.venues.alpaca_rules import close_qty, collar

D = Decimal
# A Monday at 10:00 New York time (regular hours).
MONDAY_10 = dt.datetime(2026, 11, 23, 15, 0, tzinfo=dt.UTC)

# An order's outcome on either side: ("order", type, limit, stop, qty) or ("refused", status,
# code, message), in Alpaca's terms.
Outcome = tuple[Any, ...]


def ns(t: dt.datetime) -> int:
    return int(t.timestamp()) * 10**9


class Account(Protocol):
    """One Alpaca paper account: a strategy's SimulatedBroker, or the served account."""

    def quote(self, bid: str, ask: str, size: int = 100) -> None: ...
    def order(self, side: str, type: str, qty: int, tif: str = "day", **px: str) -> Outcome: ...
    def close(self, qty: str | None = None, percentage: str | None = None) -> Outcome | None: ...


def _order_outcome(type_: str, limit: object, stop: object, qty: object) -> Outcome:
    def num(v: object) -> Decimal | None:
        return None if v is None else D(str(v)).normalize()

    return ("order", type_, num(limit), num(stop), num(qty))


class OnBroker:
    """A strategy on ``SimulatedBroker(..., rules="alpaca")``; a refusal in Alpaca's terms."""

    def __init__(self, start_ns: int) -> None:
        venue = Venue("ALPACA-SIM", calendar="XNYS")
        venue.add(Instrument(symbol="AAPL", tick_size=D("0.01")), empty_feed())
        self.broker = SimulatedBroker(venue, cash=D(100_000), start_ns=start_ns, rules="alpaca")

    def quote(self, bid: str, ask: str, size: int = 100) -> None:
        self.broker.quote("AAPL", D(bid), D(ask), bid_size=D(size), ask_size=D(size))

    @staticmethod
    def _refused(e: FillforgeError) -> Outcome:
        status, body = status_of(e)
        return ("refused", status, body["code"], body["message"])

    def order(self, side: str, type: str, qty: int, tif: str = "day", **px: str) -> Outcome:
        request = OrderRequest(
            symbol="AAPL",
            side=side,
            type=type,
            qty=D(qty),
            time_in_force=tif,
            **{k: D(v) for k, v in px.items()},
        )
        try:
            o = self.broker.submit(request)
        except FillforgeError as e:
            return self._refused(e)
        return _order_outcome(o.request.type.value, o.limit_price, o.stop_price, o.order_qty)

    def close(self, qty: str | None = None, percentage: str | None = None) -> Outcome | None:
        try:
            o = close_position(
                self.broker,
                "AAPL",
                qty=None if qty is None else D(qty),
                percentage=None if percentage is None else D(percentage),
            )
        except FillforgeError as e:
            return self._refused(e)
        if o is None:
            return None
        return _order_outcome(o.request.type.value, o.limit_price, o.stop_price, o.order_qty)


class OnServer:
    """The served paper account, through unmodified alpaca-py."""

    def __init__(self, server: AlpacaServer) -> None:
        self.server = server
        self.client = TradingClient(server.key_id, server.secret_key, url_override=server.base_url)
        self.client._retry = 0

    def quote(self, bid: str, ask: str, size: int = 100) -> None:
        self.server.call(
            lambda b: b.quote("AAPL", D(bid), D(ask), bid_size=D(size), ask_size=D(size))
        )

    def order(self, side: str, type: str, qty: int, tif: str = "day", **px: str) -> Outcome:
        kw: dict[str, Any] = {
            "symbol": "AAPL",
            "qty": qty,
            "side": OrderSide(side),
            "time_in_force": TimeInForce(tif),
        }
        request = {
            "market": MarketOrderRequest,
            "limit": LimitOrderRequest,
            "stop": StopOrderRequest,
        }[type](**kw, **px)
        try:
            o: Any = self.client.submit_order(request)
        except APIError as e:
            return ("refused", e.status_code, e.code, e.message)
        return _order_outcome(o.type.value, o.limit_price, o.stop_price, o.qty)

    def close(self, qty: str | None = None, percentage: str | None = None) -> Outcome | None:
        if qty is not None and percentage is not None:  # alpaca-py refuses to send both
            r = requests.delete(
                f"{self.server.base_url}/v2/positions/AAPL",
                params={"qty": qty, "percentage": percentage},
                headers={"APCA-API-KEY-ID": "k", "APCA-API-SECRET-KEY": "s"},
                timeout=10,
            )
            return ("refused", r.status_code, r.json()["code"], r.json()["message"])
        given = (
            None
            if qty is None and percentage is None
            else ClosePositionRequest(qty=qty, percentage=percentage)
        )
        try:
            o: Any = self.client.close_position("AAPL", given)
        except APIError as e:
            if e.status_code == 404:
                return None
            return ("refused", e.status_code, e.code, e.message)
        return _order_outcome(o.type.value, o.limit_price, o.stop_price, o.qty)


def _account(kind: str, start: dt.datetime) -> Iterator[Account]:
    if kind == "broker":
        yield OnBroker(ns(start))
        return
    broker = scripted_broker(("AAPL",), start_ns=ns(start))
    with AlpacaServer(broker, key_id="k", secret_key="s", speed=None) as server:
        yield OnServer(server)


@pytest.fixture(params=["broker", "server"])
def account(request: pytest.FixtureRequest) -> Iterator[Account]:
    """The same Alpaca paper account on either side, at Monday 10:00 New York time."""
    yield from _account(request.param, MONDAY_10)


# ----- the collar and the buy-stop conversion ----------------------------------------------------


@pytest.mark.parametrize(
    ("bid", "ask", "limit"),
    [("100.00", "100.02", "102.53"), ("20.00", "20.01", "20.82"), ("49.98", "49.99", "51.99")],
)
def test_a_market_buy_opening_a_position_is_a_collared_limit(
    account: Account, bid: str, ask: str, limit: str
) -> None:
    account.quote(bid, ask)
    assert account.order("buy", "market", 5) == ("order", "limit", D(limit), None, D(5))


def test_market_sells_and_buys_that_cover_a_short_are_not_collared(account: Account) -> None:
    account.quote("100.00", "100.02")
    assert account.order("sell", "market", 10) == ("order", "market", None, None, D(10))
    # Now short 10: a buy that covers it stays a market order.
    assert account.order("buy", "market", 4) == ("order", "market", None, None, D(4))


def test_a_buy_stop_becomes_a_stop_limit_a_sell_stop_does_not(account: Account) -> None:
    account.quote("100.00", "100.02")
    assert account.order("buy", "stop", 1, "gtc", stop_price="40") == (
        "order",
        "stop_limit",
        D("41.6"),
        D(40),
        D(1),
    )
    assert account.order("buy", "stop", 1, "gtc", stop_price="120") == (
        "order",
        "stop_limit",
        D(123),
        D(120),
        D(1),
    )
    assert account.order("sell", "stop", 1, "gtc", stop_price="90") == (
        "order",
        "stop",
        None,
        D(90),
        D(1),
    )


# ----- wash trades ------------------------------------------------------------------------------


def test_an_order_that_could_trade_against_the_accounts_own_is_refused(account: Account) -> None:
    account.quote("100.00", "100.02")
    assert account.order("buy", "limit", 1, limit_price="99.00")[0] == "order"
    wash = ("refused", 403, 40310000, "potential wash trade detected. use complex orders")
    assert account.order("sell", "market", 1) == wash
    assert account.order("sell", "limit", 1, limit_price="99.00") == wash
    assert account.order("sell", "limit", 1, limit_price="98.50") == wash
    assert account.order("sell", "limit", 1, limit_price="99.01")[0] == "order"


def test_the_broker_raises_a_typed_wash_trade_error_and_changes_nothing() -> None:
    on = OnBroker(ns(MONDAY_10))
    on.quote("100.00", "100.02")
    on.order("buy", "limit", 1, limit_price="99.00")
    before = len(on.broker.orders())
    with pytest.raises(WashTradeError) as e:
        on.broker.submit(OrderRequest(symbol="AAPL", side="sell", type="market", qty=D(1)))
    assert (e.value.field, e.value.value) == ("side", "sell")
    assert len(on.broker.orders()) == before


# ----- auction windows ---------------------------------------------------------------------------

_UTC = dt.UTC


@pytest.mark.parametrize(
    ("at", "tif", "refused"),
    [
        (dt.datetime(2024, 6, 4, 13, 27, 59, tzinfo=_UTC), "opg", None),  # 9:27:59 ET
        (dt.datetime(2024, 6, 4, 13, 28, tzinfo=_UTC), "opg", ("9:28am", "7:00pm ET")),
        (dt.datetime(2024, 6, 4, 22, 59, tzinfo=_UTC), "opg", ("9:28am", "7:00pm ET")),
        (dt.datetime(2024, 6, 4, 23, 0, tzinfo=_UTC), "opg", None),  # 19:00 ET: next day's
        (dt.datetime(2024, 6, 4, 19, 49, tzinfo=_UTC), "cls", None),  # 15:49 ET
        (dt.datetime(2024, 6, 4, 19, 50, tzinfo=_UTC), "cls", ("3:50pm", "7:00pm ET")),
        # The day after Thanksgiving closes at 13:00: cls orders stop at 12:50 (the calendar's).
        (dt.datetime(2024, 11, 29, 17, 49, tzinfo=_UTC), "cls", None),
        (dt.datetime(2024, 11, 29, 17, 50, tzinfo=_UTC), "cls", ("12:50pm", "7:00pm ET")),
        # Thanksgiving itself and a Saturday: no session, so nothing is refused.
        (dt.datetime(2024, 11, 28, 21, 0, tzinfo=_UTC), "cls", None),
        (dt.datetime(2024, 6, 8, 15, 0, tzinfo=_UTC), "opg", None),
    ],
)
@pytest.mark.parametrize("side", ["broker", "server"])
def test_auction_orders_have_alpacas_windows_from_the_calendar(
    side: str, at: dt.datetime, tif: str, refused: tuple[str, str] | None
) -> None:
    for account in _account(side, at):
        got = account.order("buy", "limit", 1, tif, limit_price="1.00")
        if refused is None:
            assert got[0] == "order", got
        else:
            start, end = refused
            message = f"{tif} orders are not accepted between {start} and {end}"
            assert got == ("refused", 422, 42210000, message)


def test_the_broker_raises_a_typed_auction_window_error() -> None:
    on = OnBroker(ns(MONDAY_10))
    with pytest.raises(AuctionWindowError) as e:
        on.broker.submit(
            OrderRequest(
                symbol="AAPL",
                side="buy",
                type="limit",
                limit_price=D(1),
                qty=D(1),
                time_in_force="opg",
            )
        )
    assert (e.value.field, e.value.value) == ("time_in_force", "opg")
    assert on.broker.orders() == []


# ----- position close sizing -------------------------------------------------------------------


def test_a_position_is_closed_by_qty_percentage_or_whole(account: Account) -> None:
    assert account.close() is None  # no position
    account.quote("100.00", "100.02")
    assert account.order("buy", "market", 10)[0] == "order"
    assert account.close(percentage="50") == ("order", "market", None, None, D(5))
    assert account.close(qty="2") == ("order", "market", None, None, D(2))
    assert account.close(qty="4") == (
        "refused",
        403,
        40310000,
        "insufficient qty available for order (requested: 4, available: 3)",
    )
    assert account.close(qty="1", percentage="10") == (
        "refused",
        422,
        40010001,
        "percentage=Decimal('10'): give qty or percentage, not both",
    )
    assert account.close() == ("order", "market", None, None, D(3))
    assert account.close() is None


def test_close_position_needs_a_profile() -> None:
    venue = Venue("SIM", calendar=None)
    venue.add(Instrument(symbol="AAPL"), empty_feed())
    with pytest.raises(SimulationError) as e:
        close_position(SimulatedBroker(venue), "AAPL")
    assert e.value.field == "rules"


# ----- the profile itself ------------------------------------------------------------------------


def test_profiles_by_name_and_the_default_without_one() -> None:
    assert isinstance(venue_rules("alpaca"), AlpacaRules)
    rules = AlpacaRules()
    assert venue_rules(rules) is rules
    assert venue_rules(None) is None
    with pytest.raises(SimulationError) as e:
        venue_rules("nyse")
    assert (e.value.field, e.value.value) == ("rules", "nyse")
    # Without a profile a market buy stays a market order (the broker's own behaviour).
    venue = Venue("SIM", calendar=None)
    venue.add(Instrument(symbol="AAPL"), empty_feed())
    broker = SimulatedBroker(venue)
    broker.quote("AAPL", D(100), D("100.02"))
    o = broker.submit(OrderRequest(symbol="AAPL", side="buy", type="market", qty=D(1)))
    assert (o.request.type.value, o.limit_price) == ("market", None)


def test_a_served_broker_without_a_profile_gets_alpacas() -> None:
    venue = Venue("SIM", calendar=None)
    venue.add(Instrument(symbol="AAPL"), empty_feed())
    broker = SimulatedBroker(venue)
    AlpacaServer(broker, key_id="k", secret_key="s", speed=None)
    assert isinstance(broker.rules, AlpacaRules)


prices = st.decimals(min_value=D("0.01"), max_value=D(100_000), places=2)
ticks = st.sampled_from([D("0.01"), D("0.05"), D("0.0001")])


@given(prices, ticks)
def test_the_collar_is_the_smallest_tick_at_or_over_the_raised_price(
    price: Decimal, tick: Decimal
) -> None:
    raised = price * (D("1.04") if price < 50 else D("1.025"))
    got = collar(price, tick)
    assert got % tick == 0
    assert raised <= got < raised + tick


@given(
    st.decimals(min_value=D(-10_000), max_value=D(10_000), places=3).filter(lambda q: q != 0),
    st.decimals(min_value=D("0.001"), max_value=D(100), places=3),
)
def test_a_percentage_close_is_whole_lots_and_never_more_than_held(
    held: Decimal, percentage: Decimal
) -> None:
    lot = D("0.001")
    size = close_qty(held, lot, symbol="X", percentage=percentage)
    assert size % lot == 0
    assert 0 <= size <= abs(held)
    assert abs(held) * percentage / 100 - size < lot
    with pytest.raises(InsufficientQtyError):
        close_qty(held, lot, symbol="X", qty=abs(held) + lot)


# ----- the simulation thread ---------------------------------------------------------------------


def test_a_slow_simulation_step_does_not_block_the_event_loop() -> None:
    broker = scripted_broker(("AAPL",), start_ns=ns(MONDAY_10))
    with AlpacaServer(broker, key_id="k", secret_key="s", speed=None) as server:
        headers = {"APCA-API-KEY-ID": "k", "APCA-API-SECRET-KEY": "s"}
        busy = threading.Event()

        def slow(_: SimulatedBroker) -> None:
            busy.set()
            time.sleep(3.0)

        stepping = threading.Thread(target=server.call, args=(slow,))
        stepping.start()
        busy.wait(5)
        # A request that needs the simulation waits its turn, on its own connection...
        waiting: list[int] = []
        queued = threading.Thread(
            target=lambda: waiting.append(
                requests.get(f"{server.base_url}/v2/clock", headers=headers, timeout=10).status_code
            )
        )
        queued.start()
        time.sleep(0.1)
        # ... while the event loop answers others at once.
        t0 = time.monotonic()
        r = requests.get(f"{server.base_url}/v2/clock", headers={}, timeout=10)
        answered = time.monotonic() - t0
        assert r.status_code == 401
        assert answered < 1.5, answered  # half the simulation step it does not wait for
        stepping.join()
        queued.join()
        assert waiting == [200]


def test_simulation_calls_run_in_order_on_one_thread() -> None:
    broker = scripted_broker(("AAPL",), start_ns=ns(MONDAY_10))
    with AlpacaServer(broker, key_id="k", secret_key="s", speed=None) as server:
        seen: list[tuple[int, int]] = []
        futures = [
            server.simulation.submit(lambda i=i: seen.append((i, threading.get_ident())))
            for i in range(200)
        ]
        for f in futures:
            f.result(timeout=10)
        assert [i for i, _ in seen] == list(range(200))
        assert len({t for _, t in seen}) == 1
        assert seen[0][1] != threading.get_ident()
        # A call from the simulation thread itself runs at once (no deadlock).
        assert server.call(lambda b: server.call(lambda b2: b2 is b)) is True
