"""Sessions as Alpaca has them: with a calendar on the venue, an order sent while the venue is
closed is accepted and waits (``accepted``, as on Alpaca) until the next open; it then reaches
the venue 1 ns after the open, once the data stamped at the open has been applied. A market order
fills at the session's first price, a DAY order is for that session, GTC waits likewise; during
hours nothing waits. Scenario tests on a scripted and a walk broker (XNYS) and through the served
Alpaca server with its clock on a Saturday."""

from __future__ import annotations

from decimal import Decimal

import pytest
from alpaca.trading.client import TradingClient
from time_helpers import ny

from fillforge.alpaca import AlpacaServer, walk_broker
from fillforge.orders.enums import OrderStatus
from fillforge.orders.models import Instrument, OrderRequest
from fillforge.sim.broker import SimulatedBroker
from fillforge.sim.calendar import TradingCalendar
from fillforge.sim.feeds import empty_feed
from fillforge.sim.venue import Venue
from fillforge.sim.walk import WalkConfig

D = Decimal
SECOND = 10**9


FRIDAY, SATURDAY, MONDAY, TUESDAY = "2026-12-04", "2026-12-05", "2026-12-07", "2026-12-08"
MONDAY_OPEN = ny(MONDAY, "09:30")
XNYS = TradingCalendar("XNYS")


def _broker(start_ns: int) -> SimulatedBroker:
    venue = Venue("V", calendar="XNYS")
    venue.add(Instrument(symbol="X", tick_size=D("0.01")), empty_feed())
    return SimulatedBroker(venue, cash=D(100_000), start_ns=start_ns)


def _limit(price: str, tif: str = "day", **kw: object) -> OrderRequest:
    return OrderRequest(
        symbol="X",
        side="buy",
        type="limit",
        qty=D(10),
        limit_price=D(price),
        time_in_force=tif,  # type: ignore[arg-type]
        **kw,  # type: ignore[arg-type]
    )


def _market() -> OrderRequest:
    return OrderRequest(symbol="X", side="buy", type="market", qty=D(10))


def test_a_saturday_market_order_waits_and_fills_at_the_open_at_its_first_price() -> None:
    b = _broker(ny(FRIDAY, "15:00"))
    b.quote("X", D("100.00"), D("100.02"))
    b.quote("X", D("101.00"), D("101.02"), ts=ny(SATURDAY, "10:00"))
    assert not b.clock().is_open
    assert b.clock().next_open_ns == MONDAY_OPEN
    o = b.submit(_market())
    assert (o.status, o.cum_qty) == (OrderStatus.ACCEPTED, 0)  # accepted, waiting
    b.quote("X", D("105.00"), D("105.02"), ts=ny(SATURDAY, "12:00"))
    b.run(until_ns=ny(MONDAY, "09:00"))
    assert b.get_order(o.id).status is OrderStatus.ACCEPTED  # the weekend market never saw it
    b.quote("X", D("110.00"), D("110.02"), ts=MONDAY_OPEN)  # the session's first price
    assert b.get_order(o.id).status is OrderStatus.ACCEPTED
    b.run(until_ns=MONDAY_OPEN + SECOND)
    filled = b.get_order(o.id)
    assert filled.status is OrderStatus.FILLED
    [fill] = filled.fills.values()
    assert (fill.price, fill.ts_event) == (D("110.02"), MONDAY_OPEN + 1)


def test_the_same_market_order_during_hours_fills_at_once() -> None:
    b = _broker(ny(MONDAY, "11:00"))
    b.quote("X", D("100.00"), D("100.02"))
    o = b.submit(_market())
    assert (o.status, o.avg_price) == (OrderStatus.FILLED, D("100.02"))


def test_a_day_limit_sent_after_the_close_is_for_the_next_session() -> None:
    b = _broker(ny(MONDAY, "15:00"))
    b.quote("X", D("100.00"), D("100.02"))
    b.run(until_ns=ny(MONDAY, "17:00"))  # through Monday's close
    o = b.submit(_limit("99.00"))
    b.quote("X", D("98.00"), D("98.02"), ts=ny(MONDAY, "18:00"))  # after hours: it would cross
    b.quote("X", D("100.00"), D("100.02"), ts=ny(MONDAY, "19:00"))
    b.run(until_ns=ny(TUESDAY, "09:29"))
    assert b.get_order(o.id).status is OrderStatus.ACCEPTED  # neither filled nor expired
    b.run(until_ns=ny(TUESDAY, "10:00"))
    assert b.get_order(o.id).status is OrderStatus.NEW  # working in Tuesday's session
    b.run(until_ns=ny(TUESDAY, "15:59"))
    assert b.get_order(o.id).status is OrderStatus.NEW
    b.run(until_ns=ny(TUESDAY, "16:01"))
    assert b.get_order(o.id).status is OrderStatus.EXPIRED  # at the close of its session
    assert b.ledger.reservations() == {}


def test_a_day_limit_after_the_close_fills_at_the_open_when_the_open_crosses_it() -> None:
    b = _broker(ny(MONDAY, "17:00"))
    b.quote("X", D("98.00"), D("98.02"))
    o = b.submit(_limit("99.00"))
    b.run(until_ns=ny(TUESDAY, "09:31"))
    filled = b.get_order(o.id)
    assert filled.status is OrderStatus.FILLED
    [fill] = filled.fills.values()
    assert (fill.price, fill.ts_event) == (D("98.02"), ny(TUESDAY, "09:30") + 1)


@pytest.mark.parametrize("after", ["16:00", "16:30", "09:35"])
def test_a_scripted_print_after_the_close_finds_the_day_order_expired(after: str) -> None:
    """Scripting a quote or trade moves the clock as ``run`` does: a session close passed on
    the way expires the DAY orders of that session first (at the close itself too: sessions are
    half-open), so a print after hours (or the next morning) through a DAY limit does not fill
    it. A GTC order at the same price is still working: the next morning's print fills it."""
    b = _broker(ny(MONDAY, "15:00"))
    b.quote("X", D("100.00"), D("100.02"))
    day = b.submit(_limit("99.00"))
    gtc = b.submit(_limit("99.00", "gtc"))
    when = ny(TUESDAY if after == "09:35" else MONDAY, after)
    b.trade("X", D("98.50"), D(1000), ts=when)  # through the 100 bid ahead, then ours
    assert b.get_order(day.id).status is OrderStatus.EXPIRED
    expired = b.get_order(day.id)
    assert expired.cum_qty == 0
    if after == "09:35":
        assert b.get_order(gtc.id).status is OrderStatus.FILLED


def test_a_scripted_quote_after_the_close_expires_the_day_order_too() -> None:
    b = _broker(ny(MONDAY, "15:00"))
    b.quote("X", D("100.00"), D("100.02"))
    day = b.submit(_limit("99.00"))
    b.quote("X", D("98.00"), D("98.02"), ts=ny(MONDAY, "16:05"))  # would cross the limit
    assert b.get_order(day.id).status is OrderStatus.EXPIRED
    assert b.ledger.reservations() == {}


def test_the_same_day_limit_during_hours_works_at_once() -> None:
    b = _broker(ny(TUESDAY, "11:00"))
    b.quote("X", D("100.00"), D("100.02"))
    resting = b.submit(_limit("99.00"))
    assert resting.status is OrderStatus.NEW
    crossing = b.submit(_limit("100.05"))
    assert (crossing.status, crossing.avg_price) == (OrderStatus.FILLED, D("100.02"))


def test_gtc_waits_for_the_open_and_outlives_the_close() -> None:
    b = _broker(ny(SATURDAY, "10:00"))
    b.quote("X", D("100.00"), D("100.02"))
    o = b.submit(_limit("90.00", "gtc"))
    b.run(until_ns=ny(MONDAY, "09:00"))
    assert b.get_order(o.id).status is OrderStatus.ACCEPTED
    b.run(until_ns=ny(TUESDAY, "10:00"))
    assert b.get_order(o.id).status is OrderStatus.NEW  # through Monday's close


def test_extended_hours_orders_wait_for_the_regular_open() -> None:
    """The calendars have no extended session: ``extended_hours=True`` is accepted (a limit
    DAY order, as Alpaca allows) and waits for the regular open like any other."""
    b = _broker(ny(MONDAY, "17:00"))
    b.quote("X", D("98.00"), D("98.02"))
    o = b.submit(_limit("99.00", extended_hours=True))
    b.quote("X", D("97.00"), D("97.02"), ts=ny(MONDAY, "18:00"))
    assert b.get_order(o.id).status is OrderStatus.ACCEPTED
    b.run(until_ns=ny(TUESDAY, "09:31"))
    assert b.get_order(o.id).status is OrderStatus.FILLED


def test_a_waiting_order_can_be_canceled_and_frees_its_buying_power() -> None:
    b = _broker(ny(SATURDAY, "10:00"))
    b.quote("X", D("100.00"), D("100.02"))
    o = b.submit(_limit("99.00"))
    assert b.ledger.reservation(o.id) is not None
    b.cancel(o.id)
    assert b.get_order(o.id).status is OrderStatus.CANCELED
    assert b.ledger.reservations() == {}
    b.run(until_ns=ny(MONDAY, "10:00"))  # its arrival at the open finds it canceled
    assert b.get_order(o.id).status is OrderStatus.CANCELED
    assert b.ledger.qty("X") == 0


def test_without_a_calendar_nothing_waits() -> None:
    venue = Venue("V", calendar=None)
    venue.add(Instrument(symbol="X", tick_size=D("0.01")), empty_feed())
    b = SimulatedBroker(venue, start_ns=ny(SATURDAY, "10:00"))
    b.quote("X", D("100.00"), D("100.02"))
    assert b.submit(_market()).status is OrderStatus.FILLED


def test_a_walk_broker_fills_a_saturday_order_at_the_quote_standing_at_the_open() -> None:
    start = ny(SATURDAY, "10:00")
    config = WalkConfig(bid=D("100.00"), ask=D("100.02"), volatility=0.1, rate=0.01)
    b = walk_broker({"AAPL": config}, end_ns=ny(MONDAY, "11:00"), start_ns=start, seed=3)
    b.run(until_ns=start + 1)
    o = b.submit(OrderRequest(symbol="AAPL", side="buy", type="market", qty=D(1)))
    b.run(until_ns=MONDAY_OPEN)
    assert b.get_order(o.id).status is OrderStatus.ACCEPTED
    ask = b.venue.market("AAPL").best_ask()
    assert ask != D("100.02")  # the walk moved over the weekend
    b.run(until_ns=MONDAY_OPEN + 2)
    filled = b.get_order(o.id)
    assert filled.status is OrderStatus.FILLED
    [fill] = filled.fills.values()
    assert (fill.price, fill.ts_event) == (ask, MONDAY_OPEN + 1)


# ----- the served Alpaca server with its clock on a Saturday -------------------------------------


@pytest.fixture
def alpaca_server_start() -> int:
    return ny("2026-11-28", "11:00")  # a Saturday


def test_served_orders_wait_for_the_open(
    alpaca_server: AlpacaServer, client: TradingClient
) -> None:
    from alpaca.trading.enums import OrderSide, TimeInForce
    from alpaca.trading.requests import LimitOrderRequest, MarketOrderRequest

    open_ns = ny("2026-11-30", "09:30")
    clock = client.get_clock()
    assert not clock.is_open
    assert int(clock.next_open.timestamp()) * SECOND == open_ns
    alpaca_server.call(
        lambda b: b.quote("AAPL", D("100.00"), D("100.02"), bid_size=D(1000), ask_size=D(1000))
    )
    market = client.submit_order(
        MarketOrderRequest(symbol="AAPL", qty=5, side=OrderSide.BUY, time_in_force=TimeInForce.DAY)
    )
    day = client.submit_order(
        LimitOrderRequest(
            symbol="AAPL",
            qty=5,
            side=OrderSide.BUY,
            time_in_force=TimeInForce.DAY,
            limit_price=99,
        )
    )
    assert (market.status.value, day.status.value) == ("accepted", "accepted")
    assert client.get_all_positions() == []
    alpaca_server.call(lambda b: b.run(until_ns=open_ns + SECOND))
    filled = client.get_order_by_id(market.id)
    assert (filled.status.value, filled.filled_avg_price) == ("filled", "100.02")
    assert filled.filled_at is not None
    assert int(filled.filled_at.timestamp()) == open_ns // SECOND
    assert client.get_order_by_id(day.id).status.value == "new"  # working in Monday's session
