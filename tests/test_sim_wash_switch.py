"""The engine's wash-trade prevention switch (``SimEngine(prevent_wash=...)``): on by default, a
user order that would trade with the user's own resting order is refused and nothing changes;
off, the two trade like any orders and both report their fill."""

from __future__ import annotations

from decimal import Decimal

import pytest
from order_helpers import gtc_limit

from fillforge import _core
from fillforge.codes import EngineEvent, Side
from fillforge.orders.enums import (
    LiquiditySide,
    OrderSide,
    OrderStatus,
)
from fillforge.orders.models import Instrument
from fillforge.sim.broker import SimulatedBroker
from fillforge.sim.feeds import empty_feed
from fillforge.sim.venue import Venue

D = Decimal


def _resting_buy(prevent_wash: bool) -> _core.SimEngine:
    e = _core.SimEngine(empty_feed(), prevent_wash=prevent_wash)
    e.apply(1, 8, 0, Side.SELL, 105, 10)  # a recorded ask above, so the sell's limit is the cap
    e.submit(1, Side.BUY, 100, 5)
    e.take_events()
    return e


def test_on_by_default_a_self_trade_is_refused_and_nothing_changes() -> None:
    e = _resting_buy(True)
    assert _core.SimEngine(empty_feed()).prevent_wash
    for price in (100, 99, None):
        with pytest.raises(_core.InvalidOrderError, match="wash trade"):
            e.submit(2, Side.SELL, price, 3)
    assert e.user_order(1) == (Side.BUY, 100, 5, 0)
    assert e.take_events() == []
    e.submit(3, Side.SELL, 101, 3)  # not crossing: no wash
    assert e.user_order(3) == (Side.SELL, 101, 3, 0)


def test_off_the_orders_trade_and_both_fills_are_reported() -> None:
    e = _resting_buy(False)
    assert not e.prevent_wash
    assert e.submit(2, Side.SELL, 100, 3)[2:] == (3, 0)
    fills = [(k, oid, px, q, rem, taker) for k, oid, px, q, rem, taker, *_ in e.take_events()]
    assert fills == [
        (EngineEvent.FILL, 2, 100, 3, 0, True),  # the incoming sell takes, at the resting price
        (EngineEvent.FILL, 1, 100, 3, 2, False),  # the resting buy is its maker
    ]
    assert e.user_order(1) == (Side.BUY, 100, 2, 0)
    e.reset()
    assert not e.prevent_wash, "reset keeps the switch"
    e.check_invariants()


def test_a_flag_that_is_not_a_bool_is_refused() -> None:
    with pytest.raises(_core.ReplayError, match="prevent_wash=1"):
        _core.SimEngine(empty_feed(), prevent_wash=1)  # type: ignore[arg-type]


def test_the_venue_passes_the_switch_and_the_broker_reports_both_fills() -> None:
    venue = Venue("V", calendar=None)
    market = venue.add(Instrument(symbol="TEST"), empty_feed(), prevent_wash=False)
    assert not market.engine.prevent_wash
    broker = SimulatedBroker(venue, cash=D(100_000))
    broker.quote("TEST", D("99.00"), D("101.00"))

    buy = broker.submit(gtc_limit("TEST", OrderSide.BUY, 10, "100.00"))
    sell = broker.submit(gtc_limit("TEST", OrderSide.SELL, 4, "100.00"))
    assert sell.status is OrderStatus.FILLED
    assert buy.status is OrderStatus.PARTIALLY_FILLED
    assert [(f.price, f.qty, f.liquidity) for f in sell.fills.values()] == [
        (D("100.00"), D(4), LiquiditySide.TAKER)
    ]
    assert [(f.price, f.qty, f.liquidity) for f in buy.fills.values()] == [
        (D("100.00"), D(4), LiquiditySide.MAKER)
    ]
    flat = broker.positions().get("TEST")
    assert flat is None or flat.qty == 0, "bought 4 and sold 4"
