"""Marks follow the market: positions and the account are valued at the last trade, else the mid
of the recorded best bid and ask, else the last explicit mark (a fill's price), with no
``Account.mark`` call; the Alpaca server shows the same through alpaca-py, and
``lastday_price`` / ``last_equity`` are taken at each session close."""

from __future__ import annotations

from decimal import Decimal

import pytest
from alpaca.trading.client import TradingClient
from hypothesis import given
from hypothesis import strategies as st
from served_helpers import quote

from fillforge.alpaca import AlpacaServer
from fillforge.errors import SimulationError
from fillforge.orders.models import Instrument, OrderRequest
from fillforge.sim.account import Account, market_marks
from fillforge.sim.broker import SimulatedBroker
from fillforge.sim.calendar import TradingCalendar
from fillforge.sim.feeds import empty_feed
from fillforge.sim.venue import Venue
from fillforge.testing import ALPACA_SERVER_START_NS

D = Decimal

SECOND = 10**9
T0 = ALPACA_SERVER_START_NS  # Monday 2026-11-23 10:00 New York


def _broker(*, leverage: int = 1, calendar: str | None = None) -> SimulatedBroker:
    venue = Venue("V", calendar=calendar)
    venue.add(Instrument(symbol="X", tick_size=D("0.01")), empty_feed())
    return SimulatedBroker(venue, account=Account(D(100_000), leverage=leverage), start_ns=T0)


def _buy(b: SimulatedBroker, qty: int, symbol: str = "X") -> None:
    b.submit(OrderRequest(symbol=symbol, side="buy", type="market", qty=D(qty)))


def test_a_20_percent_fall_shows_in_pnl_equity_and_buying_power_without_a_mark_call() -> None:
    b = _broker(leverage=2)
    b.quote("X", D("99.99"), D("100.00"), bid_size=D(1000), ask_size=D(1000))
    _buy(b, 100)  # fills at the ask, 100.00: a trade
    before = b.account()
    assert (before.equity, before.unrealized_pnl, before.buying_power) == (
        D(100_000),
        D(0),
        D(190_000),  # 100,000 x 2 - 10,000 exposure
    )
    b.trade("X", D("80.00"), D(10), ts=T0 + SECOND)  # the market falls 20%
    after = b.account()
    p = after.positions["X"]
    assert (p.mark, p.market_value, p.unrealized_pnl) == (D("80.00"), D(8000), D(-2000))
    assert after.unrealized_pnl == D(-2000)
    assert after.equity == D(98_000)
    assert after.long_market_value == D(8000)
    assert after.buying_power == D(188_000)  # 98,000 x 2 - 8,000
    assert b.ledger.unrealized_pnl("X") == D(-2000)
    # The accounting identity holds at the market's marks.
    a = b.ledger
    assert a.cash - a.initial_cash + 100 * D(80) == a.realized_pnl() + a.unrealized_pnl()


def test_a_short_is_marked_against_a_rise() -> None:
    b = _broker()
    b.quote("X", D("100.00"), D("100.01"), bid_size=D(1000), ask_size=D(1000))
    b.submit(OrderRequest(symbol="X", side="sell", type="market", qty=D(100)))  # at 100.00
    b.trade("X", D("120.00"), D(5), aggressor="buy", ts=T0 + SECOND)  # type: ignore[arg-type]
    s = b.account()
    assert s.positions["X"].unrealized_pnl == D(-2000)
    assert (s.equity, s.short_market_value) == (D(98_000), D(12_000))
    assert s.buying_power == D(86_000)  # 98,000 - 12,000


def test_the_mid_marks_before_any_trade_and_the_last_trade_after() -> None:
    venue = Venue("V", calendar=None)
    venue.add(Instrument(symbol="X", tick_size=D("0.01")), empty_feed())
    b = SimulatedBroker(venue, start_ns=T0)
    marks = market_marks(venue.markets)
    assert marks("X") is None  # no price at all
    assert marks("NOPE") is None
    b.quote("X", D("10.00"), D("10.03"))
    assert marks("X") == D("10.015")  # exact, not rounded to the tick
    b.trade("X", D("10.00"), D(1))
    assert marks("X") == D("10.00")
    b.quote("X", D("11.00"), D("11.02"))
    assert marks("X") == D("10.00")  # a quote does not move a price that has traded


def test_an_account_values_at_its_source_then_explicit_marks() -> None:
    prices: dict[str, Decimal] = {}
    a = Account(D(10_000), marks=prices.get)
    a.apply_fill("A", "buy", D(10), D(100))
    assert a.position("A").mark == D(100)  # no market price: the fill's price
    a.mark("A", D(90))
    assert a.unrealized_pnl("A") == D(-100)  # still none: the explicit mark
    prices["A"] = D(120)
    assert (a.unrealized_pnl("A"), a.equity) == (D(200), D(10_200))  # the market, read lazily
    assert a.current_mark("A") == D(120)
    a.follow(None)
    assert a.position("A").mark == D(90)
    with pytest.raises(SimulationError) as e:
        a.follow(D(1))  # type: ignore[arg-type]
    assert e.value.field == "marks"


def test_lastday_price_and_last_equity_at_the_session_close() -> None:
    b = _broker(calendar="XNYS")
    b.quote("X", D("99.99"), D("100.00"))
    _buy(b, 10)
    a = b.ledger
    assert (a.lastday_price("X"), a.last_equity) == (D("100.00"), D(100_000))  # no close yet
    b.trade("X", D("90.00"), D(1), ts=T0 + SECOND)
    close = TradingCalendar("XNYS").next_close(T0)
    b.run(until_ns=close + 18 * 3600 * SECOND)  # Tuesday 10:00
    assert a.lastday_price("X") == D("90.00")
    assert a.last_equity == D(100_000) - 10 * D(10)
    b.trade("X", D("99.00"), D(1))
    assert a.lastday_price("X") == D("90.00")  # until the next close
    assert a.equity == D(99_990)


@given(
    st.lists(
        st.tuples(st.sampled_from(["buy", "sell"]), st.integers(1, 50), st.integers(5_000, 15_000)),
        min_size=1,
        max_size=12,
    )
)
def test_equity_is_cash_plus_positions_at_the_last_trade(
    steps: list[tuple[str, int, int]],
) -> None:
    b = _broker(leverage=4)
    for side, qty, cents in steps:
        price = D(cents) / 100
        b.quote("X", price - D("0.01"), price, bid_size=D(1000), ask_size=D(1000))
        b.submit(OrderRequest(symbol="X", side=side, type="market", qty=D(qty)))  # type: ignore[arg-type]
        b.trade("X", price + D("0.05"), D(1), aggressor="buy")  # type: ignore[arg-type]
        a = b.ledger
        last = b.venue.market("X").last()
        assert last is not None
        held = a.qty("X") * last
        assert a.equity == a.cash + held
        assert a.cash - a.initial_cash + held == a.realized_pnl() + a.unrealized_pnl()
        assert a.unrealized_pnl() == held - a.position("X").cost_basis


# ----- the Alpaca server, through alpaca-py ----------------------------------------------------


def _script_trade(server: AlpacaServer, price: str) -> None:
    server.call(lambda b: b.trade("AAPL", D(price), D(1)))


def _buy_ten_at_100(server: AlpacaServer, client: TradingClient) -> None:
    """A 99.99/100.00 quote, then a market buy of 10 AAPL through alpaca-py: filled at 100."""
    from alpaca.trading.enums import OrderSide, TimeInForce
    from alpaca.trading.requests import MarketOrderRequest

    quote(server, "99.99", "100.00")
    client.submit_order(
        MarketOrderRequest(symbol="AAPL", qty=10, side=OrderSide.BUY, time_in_force=TimeInForce.DAY)
    )


def test_served_positions_and_account_follow_the_market(
    alpaca_server: AlpacaServer, client: TradingClient
) -> None:
    _buy_ten_at_100(alpaca_server, client)
    [p] = client.get_all_positions()
    assert (p.current_price, p.unrealized_pl, p.market_value) == ("100", "0", "1000")
    _script_trade(alpaca_server, "80.00")  # a 20% fall, nothing else called
    [p] = client.get_all_positions()
    assert (p.current_price, p.market_value) == ("80", "800")
    assert (p.unrealized_pl, p.unrealized_plpc) == ("-200", "-0.2")
    assert (p.lastday_price, p.change_today) == ("100", "-0.2")  # no close yet: the entry price
    assert (p.unrealized_intraday_pl, p.unrealized_intraday_plpc) == ("-200", "-0.2")
    acct = client.get_account()
    assert (acct.equity, acct.long_market_value, acct.last_equity) == ("99800", "800", "100000")
    assert acct.buying_power == "99000"  # 99,800 - 800 exposure
    _script_trade(alpaca_server, "110.00")
    p = client.get_open_position("AAPL")
    assert (p.current_price, p.unrealized_pl) == ("110", "100")
    assert client.get_account().equity == "100100"


def test_served_lastday_price_after_a_session_boundary(
    alpaca_server: AlpacaServer, client: TradingClient
) -> None:
    _buy_ten_at_100(alpaca_server, client)
    _script_trade(alpaca_server, "90.00")
    tuesday = T0 + 24 * 3600 * SECOND
    alpaca_server.call(lambda b: b.run(until_ns=tuesday))  # through Monday's 16:00 close
    _script_trade(alpaca_server, "99.00")
    [p] = client.get_all_positions()
    assert (p.current_price, p.lastday_price, p.change_today) == ("99", "90", "0.1")
    # the intraday P&L counts from the last close: 10 x (99 - 90), 90 / 900 of its value then
    assert (p.unrealized_intraday_pl, p.unrealized_intraday_plpc) == ("90", "0.1")
    assert p.unrealized_pl == "-10"  # against the entry at 100
    acct = client.get_account()
    assert (acct.last_equity, acct.equity) == ("99900", "99990")
