"""The exit manager's modes and hand-overs: venue exits placed again after a cancel, a venue
trailing stop following the ATR, targets held locally until reached, attaching to an entry
already sent, detaching, and exits on daily bars (venue stops at their price, local stops after
the print)."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest
from order_helpers import gtc_limit

from fillforge.errors import ExitPlanError
from fillforge.exits import Distance, ExitManager, ExitMode, ExitPlan, Phase, Target, Trail
from fillforge.marketdata import NS_PER_DAY, Bars
from fillforge.orders.enums import OrderSide, OrderStatus, OrderTimeInForce, OrderType
from fillforge.orders.models import Instrument, OrderRequest
from fillforge.sim import SimulatedBroker, Venue, bars_feed
from fillforge.testing import SimHarness

D = Decimal
PLAN = ExitPlan(stop=Distance.of_percent(2), targets=(Target(2),))


def market(qty: int = 100, side: str = "buy", symbol: str = "TEST") -> OrderRequest:
    return OrderRequest(symbol=symbol, side=OrderSide(side), qty=D(qty))


def working(sim: SimHarness) -> list[tuple[OrderType, Decimal]]:
    return sorted((o.request.type, o.leaves_qty) for o in sim.broker.orders(open_only=True))


def test_venue_exits_canceled_by_someone_else_are_placed_again(
    sim: SimHarness, sim_instrument: Instrument
) -> None:
    sim.path("99.00", "100.00")
    m = ExitManager(sim.broker).enter(market(), PLAN, sim_instrument)
    first = sim.broker.orders(open_only=True)
    sim.broker.cancel(first[0].id)  # cancels the OCO group
    again = sim.broker.orders(open_only=True)
    assert {o.id for o in again}.isdisjoint(o.id for o in first)
    assert working(sim) == [(OrderType.LIMIT, D(100)), (OrderType.STOP, D(100))]
    assert m.phase is Phase.ACTIVE
    sim.path("97.00")
    assert (m.reason, sim.broker.positions()) == ("stop", {})


def test_a_venue_trailing_stop_follows_the_atr_by_replace(
    sim: SimHarness, sim_instrument: Instrument
) -> None:
    sim.path("99.00", "100.00")
    mgr = ExitManager(sim.broker, mode="venue")
    plan = ExitPlan(stop=Distance.of_atr(3), trail=Trail(Distance.of_atr(2)))
    m = mgr.enter(market(), plan, sim_instrument, atr="1.50")
    (trail,) = sim.broker.orders(open_only=True)
    assert trail.request.trail_price == D("3.00")
    sim.path("104.00")
    mgr.update_atr("TEST", "0.50")
    (trail,) = sim.broker.orders(open_only=True)
    assert sim.broker.trailing_state(trail.id) == (D("103.00"), D("104.00"))
    sim.path("103.10")
    assert m.phase is Phase.ACTIVE
    sim.path("102.90")
    assert m.reason == "stop"
    assert sim.broker.positions() == {}


def test_targets_held_locally_are_sent_when_reached(
    sim: SimHarness, sim_instrument: Instrument
) -> None:
    sim.path("99.00", "100.00")
    mgr = ExitManager(sim.broker, mode="local", resting_targets=False)
    plan = ExitPlan(stop=Distance.of_percent(2), targets=(Target(1, "0.5"), Target(2, "0.5")))
    m = mgr.enter(market(), plan, sim_instrument)
    assert sim.broker.orders(open_only=True) == []  # nothing shows at the venue
    sim.path("101.00", "102.00")
    assert working(sim) == [(OrderType.LIMIT, D(50))]
    sim.path("102.50")  # the limit at 102.00 sent on the print fills on the quote
    assert m.remaining == 50
    sim.path("101.00", "97.95")
    assert (m.reason, sim.broker.positions(), sim.broker.orders(open_only=True)) == (
        "stop",
        {},
        [],
    )


def test_attach_to_an_entry_already_sent_and_detach(
    sim: SimHarness, sim_instrument: Instrument
) -> None:
    sim.quote("99.99", "100.01", size=1000)
    entry = sim.broker.submit(gtc_limit("TEST", "sell", 100, "100.00"))
    mgr = ExitManager(sim.broker)
    m = mgr.attach(PLAN, sim_instrument, entry=entry)
    assert (m.side, m.phase) == (-1, Phase.WAITING)
    sim.trade("100.00", 100, aggressor="buy")
    assert (m.remaining, m.stop_price, m.mode) == (100, D("102.00"), ExitMode.VENUE)
    assert len(sim.broker.orders(open_only=True)) == 2
    mgr.detach("TEST")
    assert (m.phase, m.reason) == (Phase.DONE, "detached")
    assert sim.broker.orders(open_only=True) == []
    assert sim.broker.positions()["TEST"].qty == D(-100)  # the position is left alone
    assert mgr.get("TEST") is None


def test_an_entry_that_ends_unfilled_ends_the_plan(
    sim: SimHarness, sim_instrument: Instrument
) -> None:
    sim.quote("99.99", "100.01", size=1000)
    mgr = ExitManager(sim.broker)
    entry = gtc_limit("TEST", "buy", 100, "99.00")
    m = mgr.enter(entry, PLAN, sim_instrument)
    sim.broker.cancel(sim.broker.orders(open_only=True)[0].id)
    assert (m.phase, m.reason) == (Phase.DONE, "entry unfilled")
    assert sim.broker.get_order(sim.broker.orders()[0].id).status is OrderStatus.CANCELED


def two_days() -> Bars:
    """Day 1 at 100; day 2 opens at 100, rises to 102, falls to 96, closes at 97."""
    day = NS_PER_DAY
    ohlc = np.array([[10_000, 10_100, 9_900, 10_000], [10_000, 10_200, 9_600, 9_700]], np.int64)
    times = np.array([20 * day, 21 * day], np.int64)
    return Bars("synthetic", day, times, *ohlc.T, np.full(2, 4_000.0))


@pytest.mark.parametrize(
    ("mode", "watch", "price"),
    [
        ("venue", ("trades", "quotes"), D("98.00")),  # the bar's path traded through the stop
        ("local", ("trades", "quotes"), D("97.00")),  # the low print, then the next print
        ("local", ("bars",), D("97.00")),
    ],
)
def test_on_daily_bars_a_venue_stop_fills_at_its_price_a_local_stop_after_the_print(
    mode: str, watch: tuple[str, ...], price: Decimal
) -> None:
    inst = Instrument(symbol="GOOG", tick_size=D("0.01"))
    venue = Venue("SIM", calendar=None)
    venue.add(inst, bars_feed(two_days(), fill_at="next_open"))
    broker = SimulatedBroker(venue, cash=D(1_000_000))
    broker.run(until_ns=21 * NS_PER_DAY)
    mgr = ExitManager(broker, mode=mode, watch=watch)
    m = mgr.enter(market(symbol="GOOG"), ExitPlan(stop=Distance.of_percent(2)), inst)
    broker.run()
    assert (m.entry_price, m.reason) == (D("100.00"), "stop")
    sells = [o for o in broker.orders() if o.request.side is OrderSide.SELL and o.cum_qty]
    assert [o.avg_price for o in sells] == [price]
    assert broker.positions() == {}


# ----- bracket entries ---------------------------------------------------------------------------


def test_a_bracket_entry_holds_the_exits_at_the_venue(
    sim: SimHarness, sim_instrument: Instrument
) -> None:
    sim.path("99.00", "100.00")  # the ask is 100.00: the bracket's reference
    mgr = ExitManager(sim.broker)
    m = mgr.enter(market(), PLAN, sim_instrument, bracket=True)
    (entry,) = [o for o in sim.broker.orders() if o.request.side is OrderSide.BUY]
    assert entry.group_id is not None
    assert sim.broker.manager.group(entry.group_id).order_class.value == "bracket"
    legs = sorted((o.stop_price or o.limit_price) for o in sim.broker.orders(open_only=True))
    assert legs == [D("98.00"), D("104.00")]  # 2% and 2R from the 100.00 reference
    assert working(sim) == [(OrderType.LIMIT, D(100)), (OrderType.STOP, D(100))]
    assert len({o.group_id for o in sim.broker.orders()}) == 1  # one group: the venue's
    sim.path("102.00", "104.20")
    assert (m.reason, sim.broker.positions(), sim.broker.orders(open_only=True)) == (
        "targets",
        {},
        [],
    )


def test_a_bracket_moves_its_legs_to_the_actual_entry(
    sim: SimHarness, sim_instrument: Instrument
) -> None:
    sim.quote("99.99", "100.00", size=1000)
    mgr = ExitManager(sim.broker)
    entry = OrderRequest(
        symbol="TEST",
        side=OrderSide.BUY,
        type=OrderType.LIMIT,
        limit_price=D("100.50"),
        qty=D(100),
    )
    m = mgr.enter(entry, PLAN, sim_instrument, bracket=True)
    assert m.entry_price == D("100.00")  # filled at the offer, better than the limit
    legs = sorted(
        (o.request.type, o.stop_price or o.limit_price) for o in sim.broker.orders(open_only=True)
    )
    # Sent at 98.49 / 104.52 (from the 100.50 limit); now 2% and 2R from 100.00.
    assert legs == [(OrderType.LIMIT, D("104.00")), (OrderType.STOP, D("98.00"))]
    sim.path("99.00", "97.90")
    assert (m.reason, sim.broker.positions()) == ("stop", {})


def test_bracket_refusals_send_nothing(sim: SimHarness, sim_instrument: Instrument) -> None:
    sim.path("99.00", "100.00")
    mgr = ExitManager(sim.broker)
    tiers = ExitPlan(stop=Distance.of_percent(2), targets=(Target(1, "0.5"), Target(2, "0.5")))
    trail = ExitPlan(stop=Distance.of_percent(2), trail=Trail(Distance.of_percent(1)))
    ioc = OrderRequest(
        symbol="TEST",
        side=OrderSide.BUY,
        type=OrderType.LIMIT,
        limit_price=D("100.00"),
        time_in_force=OrderTimeInForce.IOC,
        qty=D(1),
    )
    for call, field in [
        (lambda: mgr.enter(market(), PLAN, sim_instrument, bracket=True, mode="local"), "bracket"),
        (lambda: mgr.enter(market(), tiers, sim_instrument, bracket=True), "bracket"),
        (lambda: mgr.enter(market(), trail, sim_instrument, bracket=True), "bracket"),
        (lambda: mgr.enter(ioc, PLAN, sim_instrument, bracket=True), "time_in_force"),
    ]:
        with pytest.raises(ExitPlanError) as e:
            call()
        assert e.value.field == field
        assert mgr.get("TEST") is None
    assert sim.broker.orders() == []


def test_a_venue_trailing_stop_only_when_it_starts_no_looser_than_the_stop() -> None:
    from fillforge.exits import venue_fits

    def plan(stop: Distance, trail: Distance) -> ExitPlan:
        return ExitPlan(stop=stop, trail=Trail(trail))

    pct, atr = Distance.of_percent, Distance.of_atr
    assert venue_fits(plan(pct(10), pct(5))) is None
    assert venue_fits(plan(pct(5), pct(5))) is None
    assert venue_fits(plan(atr(3), atr(2))) is None
    assert venue_fits(plan(pct(5), pct(10))) is not None  # the 5% stop would be lost
    assert venue_fits(plan(pct(5), atr(1))) is not None  # not comparable before the entry
    assert venue_fits(ExitPlan(stop=pct(2), targets=(Target(1, "0.5"), Target(2, "0.5"))))
