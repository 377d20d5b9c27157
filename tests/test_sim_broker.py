"""The simulated broker end to end: order types, groups, queue position, latency, fees, the
account, sessions, and the pytest plugin's harness."""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from decimal import Decimal

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fillforge import _core
from fillforge.errors import (
    FillforgeError,
    InsufficientBuyingPowerError,
    NotShortableError,
    OrderValidationError,
    SimulationError,
)
from fillforge.orders.enums import (
    EventKind,
    LiquiditySide,
    OrderClass,
    OrderSide,
    OrderStatus,
    OrderTimeInForce,
    OrderType,
)
from fillforge.orders.models import Instrument, OrderEvent, OrderRequest, StopLoss, TakeProfit
from fillforge.sim.account import Account
from fillforge.sim.broker import Broker, SimulatedBroker
from fillforge.sim.calendar import TradingCalendar
from fillforge.sim.feeds import empty_feed
from fillforge.sim.fees import FeeModel, FeeSchedule
from fillforge.sim.latency import Delay, LatencyModel
from fillforge.sim.venue import FillModel, Venue
from fillforge.testing import SimHarness

D = Decimal


def req(side: str, qty: int, **kw: object) -> OrderRequest:
    return OrderRequest(symbol="TEST", side=OrderSide(side), qty=D(qty), **kw)  # type: ignore[arg-type]


def limit(side: str, qty: int, price: str, tif: str = "gtc") -> OrderRequest:
    return req(
        side, qty, type=OrderType.LIMIT, limit_price=D(price), time_in_force=OrderTimeInForce(tif)
    )


def test_simulated_broker_is_a_broker(sim: SimHarness) -> None:
    assert isinstance(sim.broker, Broker)


def test_market_order_fills_at_the_touch_limited_by_displayed_size(sim: SimHarness) -> None:
    sim.quote("99.99", "100.01", size=100)
    o = sim.market("buy", 150)
    assert [(f.price, f.qty, f.liquidity) for f in sim.fills(o)] == [
        (D("100.01"), D(100), LiquiditySide.TAKER)
    ]
    assert o.status is OrderStatus.CANCELED  # the rest found no liquidity
    assert sim.broker.positions()["TEST"].qty == 100


def test_resting_order_keeps_its_place_behind_displayed_size(sim: SimHarness) -> None:
    sim.quote("100.00", "100.02", size=100)
    o = sim.buy_limit("100.00", 50)
    sim.trade("100.00", 60)
    sim.assert_unfilled(o)
    sim.trade("100.00", 60)  # 40 displayed left ahead, then 20 of ours
    sim.assert_filled(o, qty=20, price="100.00")
    assert sim.fills(o)[0].liquidity is LiquiditySide.MAKER


def test_stop_fires_on_a_trade_and_sells_into_the_bid(sim: SimHarness) -> None:
    sim.quote("100.00", "100.02", size=500)
    sim.market("buy", 100)
    stop = sim.submit(req("sell", 100, type=OrderType.STOP, stop_price=D("99.00")))
    sim.trade("99.50", 10)
    sim.assert_unfilled(stop)
    sim.quote("98.90", "98.92", size=500)
    sim.trade("98.95", 10, aggressor="buy")
    sim.assert_filled(stop, price="98.90")


def test_trailing_stop_tracks_the_high(sim: SimHarness) -> None:
    sim.quote("100.00", "100.02", size=500)
    sim.market("buy", 100)
    trail = sim.submit(req("sell", 100, type=OrderType.TRAILING_STOP, trail_price=D("1.00")))
    uid = sim.broker._uid[trail.id]
    engine = sim.broker.venue.market("TEST").engine
    sim.trade("101.50", 10, aggressor="buy")
    assert engine.trailing_state(uid) == (10050, 10150)  # stop 100.50, water mark 101.50
    sim.quote("100.40", "100.42", size=500)
    sim.trade("100.45", 10)
    sim.assert_filled(trail, price="100.40")


@pytest.mark.parametrize(
    ("side", "trade", "expected"),
    [
        ("sell", None, (D("99.00"), D("100.00"))),  # protects a long: from the bid
        ("buy", None, (D("101.02"), D("100.02"))),  # protects a short: from the ask
        ("sell", "100.01", (D("99.01"), D("100.01"))),  # the last trade comes first
        ("buy", "100.01", (D("101.01"), D("100.01"))),
    ],
)
def test_trailing_stop_water_mark_starts_at_the_last_trade_else_the_side_it_protects(
    sim: SimHarness, side: str, trade: str | None, expected: tuple[Decimal, Decimal]
) -> None:
    sim.quote("100.00", "100.02", size=500)
    if trade is not None:
        sim.trade(trade, 1, aggressor="buy")
    trail = sim.submit(req(side, 10, type=OrderType.TRAILING_STOP, trail_price=D("1.00")))
    assert sim.broker.trailing_state(trail.id) == expected


def test_bracket_exits_work_after_the_entry_and_cancel_each_other(sim: SimHarness) -> None:
    sim.quote("100.00", "100.02", size=1000)
    entry = sim.submit(
        req(
            "buy",
            100,
            type=OrderType.LIMIT,
            limit_price=D("100.02"),
            order_class=OrderClass.BRACKET,
            take_profit=TakeProfit(limit_price=D("101.00")),
            stop_loss=StopLoss(stop_price=D("99.00")),
        )
    )
    sim.assert_filled(entry, price="100.02")
    group = sim.broker.manager.group(entry.id)
    tp, sl = group.exits
    assert (tp.status, sl.status) == (OrderStatus.NEW, OrderStatus.NEW)
    sim.quote("101.00", "101.02", size=1000)
    sim.trade("101.00", 100, aggressor="buy")
    sim.assert_filled(tp, price="101.00")
    assert sim.broker.manager.chain(sl.id)[-1].status is OrderStatus.CANCELED
    assert sim.broker.positions() == {}


def test_oco_legs_both_work_and_one_fill_cancels_the_other(sim: SimHarness) -> None:
    sim.quote("100.00", "100.02", size=1000)
    sim.market("buy", 100)
    tp = sim.submit(
        req(
            "sell",
            100,
            type=OrderType.LIMIT,
            limit_price=D("101.00"),
            order_class=OrderClass.OCO,
            take_profit=TakeProfit(limit_price=D("101.00")),
            stop_loss=StopLoss(stop_price=D("99.00")),
        )
    )
    group = sim.broker.manager.group(tp.group_id or "")
    assert all(leg.status is OrderStatus.NEW for leg in group.exits)
    sim.quote("98.90", "98.92", size=1000)
    sim.trade("98.95", 10)
    sl = group.exits[1]
    sim.assert_filled(sl, price="98.90")
    assert sim.broker.manager.chain(tp.id)[-1].status is OrderStatus.CANCELED


def test_cancel_and_replace(sim: SimHarness) -> None:
    sim.quote("100.00", "100.02")
    a = sim.buy_limit("99.00", 10)
    sim.broker.cancel(a.id)
    assert a.status is OrderStatus.CANCELED
    b = sim.buy_limit("99.00", 10)
    sim.broker.replace(b.id, limit_price=D("99.50"), qty=D(20))
    assert b.status is OrderStatus.REPLACED
    assert b.replaced_by is not None
    new = sim.broker.get_order(b.replaced_by)
    assert (new.limit_price, new.order_qty, new.status) == (D("99.50"), D(20), OrderStatus.NEW)
    engine = sim.broker.venue.market("TEST").engine
    assert engine.user_order(sim.broker._uid[new.id]) == (1, 9950, 20, 0)
    assert engine.user_order(sim.broker._uid[b.id]) is None


def test_bad_requests_raise_and_change_nothing(sim: SimHarness) -> None:
    sim.quote("100.00", "100.02")
    before = len(sim.broker.manager)
    with pytest.raises(SimulationError) as e:
        sim.broker.submit(
            OrderRequest(symbol="NOPE", side=OrderSide.BUY, qty=D(1), type=OrderType.MARKET)
        )
    assert e.value.field == "symbol"
    with pytest.raises(OrderValidationError) as v:
        sim.buy_limit("100.005", 1)
    assert v.value.field == "limit_price"
    with pytest.raises(InsufficientBuyingPowerError):
        sim.buy_limit("100.00", 1_000_000)
    assert len(sim.broker.manager) == before
    assert sim.broker.ledger.reservations() == {}
    # The refused order's id was drawn to reserve under, and is the next order's: none is lost.
    ids = [o.id for o in sim.broker.orders()]
    ok = sim.buy_limit("99.00", 1)
    assert ok.id == f"o-{len(ids) + 1}"
    assert list(sim.broker.ledger.reservations()) == [ok.id]


@pytest.mark.parametrize(
    ("terms", "error", "field"),
    [
        ({"qty": D(0)}, OrderValidationError, "qty"),
        ({"limit_price": D("-1")}, OrderValidationError, "limit_price"),
        ({"limit_price": D("99.001")}, OrderValidationError, "limit_price"),
        ({"qty": D("1e30")}, OrderValidationError, "qty"),
        ({"qty": D(1_000_000)}, InsufficientBuyingPowerError, None),
    ],
)
def test_a_refused_replace_changes_nothing(
    sim: SimHarness, terms: dict[str, Decimal], error: type[Exception], field: str | None
) -> None:
    sim.quote("100.00", "100.02")
    o = sim.buy_limit("99.00", 10)
    engine = sim.broker.venue.market("TEST").engine
    before = (
        sim.broker.account(),
        sim.broker.ledger.reservations(),
        [(x.id, x.status, x.pending_request) for x in sim.broker.orders()],
        engine.user_order(sim.broker._uid[o.id]),
    )
    with pytest.raises(error) as e:
        sim.broker.replace(o.id, **terms)
    if field is not None:
        assert e.value.field == field  # type: ignore[attr-defined]
    after = (
        sim.broker.account(),
        sim.broker.ledger.reservations(),
        [(x.id, x.status, x.pending_request) for x in sim.broker.orders()],
        engine.user_order(sim.broker._uid[o.id]),
    )
    assert after == before
    sim.broker.replace(o.id, qty=D(20))  # and the order can still be replaced
    assert o.status is OrderStatus.REPLACED


def test_a_replace_the_account_cannot_carry_by_arrival_is_rejected_and_the_order_works_on() -> None:
    venue = Venue("V", calendar=None, latency=LatencyModel(cancel=Delay.fixed(1_000_000)))
    venue.add(Instrument(symbol="TEST"), empty_feed())
    broker = SimulatedBroker(venue, cash=D(10_000))
    broker.quote("TEST", D("100.00"), D("100.02"))
    o = broker.submit(limit("buy", 10, "99.00"))
    seen: list[OrderEvent] = []
    broker.subscribe(seen.append)
    broker.replace(o.id, qty=D(60))  # 5,940 fits now...
    broker.submit(limit("buy", 50, "90.00"))  # ...but not after 4,500 more lands first
    broker.run(until_ns=broker.now() + 2_000_000)
    assert o.status is OrderStatus.NEW
    assert o.replaced_by is None
    assert o.pending_request is None
    rejected = [e for e in seen if e.order_id == o.id and e.kind is EventKind.REPLACE_REJECTED]
    assert len(rejected) == 1
    assert "insufficient buying power" in (rejected[0].reason or "")
    assert broker.ledger.reservation(o.id) is not None


def test_shortable_rule() -> None:
    venue = Venue("V", calendar=None)
    venue.add(Instrument(symbol="TEST"), empty_feed())
    broker = SimulatedBroker(venue, account=Account(D(10_000), shortable=frozenset()))
    broker.quote("TEST", D("10.00"), D("10.02"))
    with pytest.raises(NotShortableError):
        broker.submit(limit("sell", 10, "10.00"))
    assert len(broker.manager) == 0


def test_fees_and_account() -> None:
    fees = FeeModel(
        maker=FeeSchedule(per_share=D("-0.002")), taker=FeeSchedule(per_share=D("0.003"))
    )
    venue = Venue("V", calendar=None, fees=fees)
    venue.add(Instrument(symbol="TEST"), empty_feed())
    broker = SimulatedBroker(venue, cash=D(100_000))
    sim = SimHarness(broker, "TEST")
    sim.quote("50.00", "50.02", size=1000)
    sim.market("buy", 100)
    sell = sim.sell_limit("50.10", 100)
    sim.trade("50.10", 100, aggressor="buy")
    sim.assert_unfilled(sell)  # the 900 still offered at 50.02 took that trade
    sim.quote("50.08", "50.12", size=1000)  # our offer is now the best
    sim.trade("50.10", 100, aggressor="buy")
    sim.assert_filled(sell, price="50.10")
    acct = broker.account()
    assert acct.cash == D(100_000) - D("5002") - D("0.3") + D("5010") + D("0.2")
    assert acct.realized_pnl == D("8.00")
    assert acct.fees_paid == D("0.1")
    assert sim.fills(sell)[0].commission == 0  # a rebate is not a commission


def test_entry_latency_delays_arrival() -> None:
    latency = LatencyModel(entry=Delay.fixed(5_000_000))
    venue = Venue("V", calendar=None, latency=latency)
    venue.add(Instrument(symbol="TEST"), empty_feed())
    broker = SimulatedBroker(venue)
    sim = SimHarness(broker, "TEST", step_ns=1_000_000)
    sim.quote("100.00", "100.02")
    o = sim.buy_limit("100.00", 10)
    assert o.status is OrderStatus.PENDING_NEW
    sim.quote("99.90", "100.00")  # 1 ms later: crosses 100.00, but the order is in flight
    sim.assert_unfilled(o)
    for _ in range(5):
        sim.quote("100.00", "100.02")
    assert o.status is OrderStatus.NEW
    assert o.created_ts + 5_000_000 <= o.updated_ts


def test_slippage_moves_taker_fills_against_the_taker() -> None:
    venue = Venue("V", calendar=None, fill_model=FillModel(slippage_bps=D(10)))
    venue.add(Instrument(symbol="TEST"), empty_feed())
    sim = SimHarness(SimulatedBroker(venue), "TEST")
    sim.quote("100.00", "100.02")
    o = sim.market("buy", 10)
    assert sim.fills(o)[0].price == D("100.13")  # 100.02 * 1.001 = 100.12002, up to the tick


def _ns(day: str, hhmm: str) -> int:
    t = dt.datetime.fromisoformat(f"{day}T{hhmm}:00+00:00")
    return int(t.timestamp()) * 1_000_000_000


@pytest.mark.parametrize(("day", "close_utc"), [("2012-06-21", "20:00"), ("2012-11-23", "18:00")])
def test_day_orders_expire_at_the_close_including_early_closes(day: str, close_utc: str) -> None:
    venue = Venue("V", calendar="XNYS")
    venue.add(Instrument(symbol="TEST"), empty_feed())
    broker = SimulatedBroker(venue, start_ns=_ns(day, "15:00"))
    broker.quote("TEST", D("10.00"), D("10.02"))
    day_order = broker.submit(limit("buy", 10, "9.00", "day"))
    gtc = broker.submit(limit("buy", 10, "9.00", "gtc"))
    close = _ns(day, close_utc)
    assert TradingCalendar("XNYS").next_close(broker.now()) == close
    broker.run(until_ns=close - 1)
    assert day_order.status is OrderStatus.NEW
    broker.run(until_ns=close + 1)
    assert day_order.status is OrderStatus.EXPIRED
    assert gtc.status is OrderStatus.NEW
    assert broker.ledger.reservations().keys() == {gtc.id}


def test_at_the_open_orders_need_an_opening_price_in_the_data(sim: SimHarness) -> None:
    seen: list[OrderEvent] = []
    sim.broker.subscribe(seen.append)
    sim.quote("10.00", "10.02")
    o = sim.submit(req("buy", 10, type=OrderType.MARKET, time_in_force=OrderTimeInForce.OPG))
    assert o.status is OrderStatus.REJECTED
    reasons = [e.reason for e in seen if e.kind is EventKind.REJECTED]
    assert len(reasons) == 1
    assert "no opening auction price" in (reasons[0] or "")
    assert sim.broker.ledger.reservations() == {}


def test_wall_clock_mode_paces_the_replay() -> None:
    t = np.array([0, 100_000_000, 200_000_000], np.int64)
    feed = _core.Feed.from_columns(
        t,
        np.full(3, 8, np.uint8),
        np.zeros(3, np.uint64),
        np.ones(3, np.int8),
        np.array([100, 101, 102], np.int64),
        np.full(3, 10, np.int64),
    )
    venue = Venue("V", calendar=None, speed=2.0)
    venue.add(Instrument(symbol="TEST"), feed)
    broker = SimulatedBroker(venue)
    started = time.monotonic()
    assert broker.run() == 3
    assert time.monotonic() - started >= 0.1 - 0.005  # 0.2 s of data at twice real time
    assert broker.now() == 200_000_000
    with pytest.raises(SimulationError):
        Venue("V", speed=0)


def test_sampled_latency_is_seeded() -> None:
    def arrivals(seed: int) -> list[int]:
        latency = LatencyModel(entry=Delay.exponential(2_000_000), seed=seed)
        venue = Venue("V", calendar=None, latency=latency)
        venue.add(Instrument(symbol="TEST"), empty_feed())
        broker = SimulatedBroker(venue)
        sim = SimHarness(broker, "TEST")
        sim.quote("10.00", "10.02")
        orders = [sim.buy_limit("9.00", 1) for _ in range(5)]
        for _ in range(50):
            sim.quote("10.00", "10.02")
        return [o.updated_ts - o.created_ts for o in orders]

    assert arrivals(1) == arrivals(1)
    assert arrivals(1) != arrivals(2)
    assert len(set(arrivals(1))) == 5


def test_replacing_a_stop_keeps_it_a_stop(sim: SimHarness) -> None:
    sim.quote("100.00", "100.02", size=500)
    sim.market("buy", 100)
    stop = sim.submit(req("sell", 100, type=OrderType.STOP, stop_price=D("98.00")))
    sim.broker.replace(stop.id, stop_price=D("99.00"))
    assert stop.replaced_by is not None
    new = sim.broker.get_order(stop.replaced_by)
    sim.trade("99.50", 10)
    sim.assert_unfilled(new)
    sim.quote("98.95", "98.97", size=500)
    sim.trade("98.99", 10)
    sim.assert_filled(new, price="98.95")


def test_a_replace_that_arrives_after_the_fill_is_rejected() -> None:
    latency = LatencyModel(cancel=Delay.fixed(5_000_000))
    venue = Venue("V", calendar=None, latency=latency)
    venue.add(Instrument(symbol="TEST"), empty_feed())
    broker = SimulatedBroker(venue)
    sim = SimHarness(broker, "TEST", step_ns=1_000_000)
    seen: list[OrderEvent] = []
    broker.subscribe(seen.append)
    sim.quote("100.00", "100.02")
    o = sim.buy_limit("99.90", 10)
    broker.replace(o.id, limit_price=D("99.80"))  # reaches the venue 5 ms later
    sim.quote("99.80", "99.85")  # 1 ms later the offer moves through 99.90: filled
    for _ in range(5):
        sim.quote("99.80", "99.85")
    assert o.status is OrderStatus.FILLED
    assert o.replaced_by is None
    assert [e.kind for e in seen if e.order_id == o.id][-2:] == [
        EventKind.FILL,
        EventKind.REPLACE_REJECTED,
    ]


@settings(max_examples=60, deadline=None)
@given(
    steps=st.lists(
        st.tuples(
            st.sampled_from(["limit", "market", "cancel", "replace", "quote"]),
            st.sampled_from(["buy", "sell"]),
            st.integers(min_value=9_990, max_value=10_010),  # cents
            st.integers(min_value=1, max_value=30),
        ),
        max_size=60,
    )
)
def test_the_open_order_index_lists_exactly_what_a_scan_of_every_order_finds(
    steps: list[tuple[str, str, int, int]],
) -> None:
    venue = Venue("IDX", calendar=None)
    venue.add(Instrument(symbol="TEST", tick_size=D("0.01")), empty_feed())
    broker = SimulatedBroker(venue, cash=D(10**9))
    broker.quote("TEST", D("99.99"), D("100.01"), bid_size=D(50), ask_size=D(50))
    for action, side, cents, qty in steps:
        price = D(cents) / 100
        live = broker.orders(open_only=True)
        with contextlib.suppress(FillforgeError):
            if action == "limit":
                broker.submit(limit(side, qty, str(price)))
            elif action == "market":
                broker.submit(req(side, qty, type=OrderType.MARKET))
            elif action == "quote":
                broker.quote(
                    "TEST", price - D("0.01"), price + D("0.01"), bid_size=D(qty), ask_size=D(qty)
                )
            elif live:
                target = live[cents % len(live)]
                if action == "cancel":
                    broker.cancel(target.id)
                else:
                    broker.replace(target.id, qty=D(qty) + target.cum_qty)
        scanned = [o for o in broker.orders() if o.status.is_open]
        assert broker.orders(open_only=True) == scanned


def test_replace_chain_ids_stay_short_however_long_the_chain(sim: SimHarness) -> None:
    sim.quote("100.00", "100.02", size=500)
    order = sim.buy_limit("90.00", 10)
    first, ids = order.id, [order.id]
    for i in range(300):
        sim.broker.replace(ids[-1], limit_price=D("90.00") - D(i % 50) / 100)
        replaced = sim.broker.get_order(ids[-1])
        assert replaced.replaced_by is not None
        ids.append(replaced.replaced_by)
    assert len(set(ids)) == len(ids)
    assert max(map(len, ids)) <= len(first) + 5  # "o-1" + ".r300"
    assert all(i.startswith(f"{first}.r") for i in ids[1:])
    assert [o.id for o in sim.broker.manager.chain(first)] == ids


def test_an_oco_exit_holds_one_reservation_for_both_legs() -> None:
    """On a long-only account, an OCO selling what is held needs it held once, not per leg
    (venues lock one balance for both legs); a second OCO on the same shares is refused."""
    v = Venue("X", calendar=None)
    v.add(Instrument(symbol="TEST"), empty_feed())
    b = SimulatedBroker(v, account=Account(cash=D(10**6), shortable=()))
    b.quote("TEST", D("100.00"), D("100.02"), bid_size=D(1000), ask_size=D(1000))
    b.submit(OrderRequest(symbol="TEST", side=OrderSide.BUY, qty=D(100)))
    oco = OrderRequest(
        symbol="TEST",
        side=OrderSide.SELL,
        qty=D(100),
        type=OrderType.LIMIT,
        limit_price=D("101.00"),
        time_in_force=OrderTimeInForce.GTC,
        order_class=OrderClass.OCO,
        take_profit=TakeProfit(limit_price=D("101.00")),
        stop_loss=StopLoss(stop_price=D("99.00")),
    )
    first = b.submit(oco)
    group = b.manager.group(first.group_id or "")
    assert [leg.status for leg in group.exits] == [OrderStatus.NEW, OrderStatus.NEW]
    with pytest.raises(FillforgeError):  # the 100 held are spoken for by the first OCO
        b.submit(oco)
    b.quote("TEST", D("98.90"), D("98.92"), bid_size=D(1000), ask_size=D(1000))
    b.trade("TEST", D("98.95"), D(10))
    assert b.ledger.qty("TEST") == 0  # the stop leg sold the 100, the other leg canceled
    assert {leg.status for leg in group.exits} == {OrderStatus.FILLED, OrderStatus.CANCELED}
