"""Timers on every broker: simulated time inside run() with the tie rule, wall time on one
scheduler thread, typed refusals."""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from decimal import Decimal

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fillforge.alpaca.broker import AlpacaBroker
from fillforge.alpaca.server import AlpacaServer
from fillforge.broker import TimerBook, WallTimers
from fillforge.errors import TimerError
from fillforge.marketdata.columns import Quotes
from fillforge.orders.enums import OrderSide, OrderStatus
from fillforge.orders.models import Instrument, OrderRequest
from fillforge.sim.aio import AsyncAdapter
from fillforge.sim.broker import SimulatedBroker
from fillforge.sim.feeds import empty_feed, quotes_trades_feed
from fillforge.sim.latency import Delay, LatencyModel
from fillforge.sim.venue import Venue
from fillforge.time import SimulatedClock

D = Decimal
MS = 1_000_000


def _quotes_broker(times: list[int], **venue_kw: object) -> SimulatedBroker:
    """A venue whose feed moves the bid up a cent at each of ``times`` (from 100.00)."""
    n = len(times)
    bids = np.arange(10_000, 10_000 + n, dtype=np.int64)
    q = Quotes(
        "test",
        np.array(times, np.int64),
        bids,
        np.full(n, 5, np.int64),
        bids + 2,
        np.full(n, 5, np.int64),
    )
    venue = Venue(calendar=None, **venue_kw)  # type: ignore[arg-type]
    venue.add(Instrument(symbol="TEST"), quotes_trades_feed(q))
    return SimulatedBroker(venue, start_ns=0)


def _scripted() -> SimulatedBroker:
    venue = Venue(calendar=None)
    venue.add(Instrument(symbol="TEST"), empty_feed())
    b = SimulatedBroker(venue, start_ns=1_000)
    b.quote("TEST", D("100.00"), D("100.02"))
    return b


# ----- simulated time ------------------------------------------------------------------------


def test_a_timer_fires_inside_run_at_its_time_with_the_clock_there() -> None:
    b = _scripted()
    seen: list[tuple[int, int]] = []
    b.set_timer("once", lambda t: seen.append((t, b.now())), at_ns=5_000)
    assert seen == []  # nothing fires until the simulation runs
    b.run(until_ns=4_000)
    assert seen == []
    b.run(until_ns=10_000)
    assert seen == [(5_000, 5_000)]
    b.run(until_ns=20_000)
    assert seen == [(5_000, 5_000)]  # once


def test_a_recurring_timer_fires_every_period_and_run_stops_before_until() -> None:
    b = _scripted()
    seen: list[int] = []
    b.set_timer("tick", seen.append, every_ns=1_000)  # first at now + 1000 = 2000
    b.run(until_ns=5_000)
    assert seen == [2_000, 3_000, 4_000]  # 5000 is not before until_ns: it waits
    assert b.now() == 5_000
    b.run(until_ns=5_001)
    assert seen[-1] == 5_000
    b.cancel_timer("tick")
    b.run(until_ns=10_000)
    assert seen == [2_000, 3_000, 4_000, 5_000]


def test_tie_rule_market_events_before_t_then_timers_at_t_then_events_at_t() -> None:
    b = _quotes_broker([100, 200, 300])
    seen: dict[str, D | None] = {}

    def bid_at(name: str):  # type: ignore[no-untyped-def]
        def cb(t: int) -> None:
            q = b.latest_quote("TEST")
            seen[name] = None if q is None else q.bid_price

        return cb

    b.set_timer("t150", bid_at("t150"), at_ns=150)
    b.set_timer("t200", bid_at("t200"), at_ns=200)
    b.set_timer("t300", bid_at("t300"), at_ns=300)
    b.set_timer("t50", bid_at("t50"), at_ns=50)
    b.run()
    # The quote at 100 is applied before the timers at 150 and 200; the one at 200 after them.
    assert seen == {"t50": None, "t150": D("100.00"), "t200": D("100.00"), "t300": D("100.01")}


def test_timers_at_one_instant_fire_in_the_order_they_were_set() -> None:
    b = _scripted()
    order: list[str] = []
    b.set_timer("every", lambda t: order.append(f"every@{t}"), every_ns=1_000)  # 2000, 3000
    b.set_timer("b", lambda t: order.append(f"b@{t}"), at_ns=2_000)
    b.set_timer("a", lambda t: order.append(f"a@{t}"), at_ns=2_000)
    b.set_timer("c", lambda t: order.append(f"c@{t}"), at_ns=3_000)
    b.run(until_ns=3_001)
    assert order == ["every@2000", "b@2000", "a@2000", "every@3000", "c@3000"]


def test_a_callback_submits_orders_and_sets_and_cancels_timers() -> None:
    b = _scripted()
    seen: list[str] = []

    def first(t: int) -> None:
        o = b.submit(OrderRequest(symbol="TEST", side=OrderSide.BUY, qty=D(10)))
        seen.append(f"{o.status.value}@{t}")
        b.cancel_timer("first")  # a recurring timer cancels itself
        b.set_timer("later", lambda t2: seen.append(f"later@{t2}"), at_ns=t + 500)
        b.set_timer("now", lambda t2: seen.append(f"now@{t2}"), at_ns=t)  # due at once

    b.set_timer("first", first, every_ns=1_000)
    b.run(until_ns=10_000)
    assert seen == ["filled@2000", "now@2000", "later@2500"]
    assert b.positions()["TEST"].qty == 10


def test_requests_in_flight_are_delivered_before_a_timer_at_their_time() -> None:
    venue = Venue(calendar=None, latency=LatencyModel(entry=Delay.fixed(1_000)))
    venue.add(Instrument(symbol="TEST"), empty_feed())
    b = SimulatedBroker(venue, start_ns=0)
    b.quote("TEST", D("100.00"), D("100.02"))
    o = b.submit(OrderRequest(symbol="TEST", side=OrderSide.BUY, qty=D(1)))
    seen: list[OrderStatus] = []
    b.set_timer("arrival", lambda t: seen.append(b.get_order(o.id).status), at_ns=1_000)
    b.set_timer("before", lambda t: seen.append(b.get_order(o.id).status), at_ns=999)
    b.run(until_ns=2_000)
    assert seen == [OrderStatus.PENDING_NEW, OrderStatus.FILLED]


def test_a_scripted_event_later_fires_the_timers_due_before_it() -> None:
    b = _scripted()
    seen: list[tuple[int, D | None]] = []

    def cb(t: int) -> None:
        q = b.latest_quote("TEST")
        seen.append((t, None if q is None else q.bid_price))

    b.set_timer("x", cb, at_ns=3_000)
    b.quote("TEST", D("101.00"), D("101.02"), ts=3_000)  # the timer goes first, at 3000
    assert seen == [(3_000, D("100.00"))]


def test_no_data_and_no_end_does_not_spin_on_a_recurring_timer() -> None:
    b = _scripted()
    b.set_timer("tick", lambda t: None, every_ns=1)
    assert b.run() == 0  # returns: with no data and no end time stands still
    assert b.now() == 1_000


# ----- refusals ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kw", "field", "value"),
    [
        ({"at_ns": 5_000, "every_ns": 10}, "at_ns", 5_000),
        ({}, "at_ns", None),
        ({"every_ns": 0}, "every_ns", 0),
        ({"every_ns": -5}, "every_ns", -5),
        ({"every_ns": 1.5}, "every_ns", 1.5),
        ({"every_ns": True}, "every_ns", True),
        ({"at_ns": 999}, "at_ns", 999),  # the clock is at 1000
        ({"at_ns": "2000"}, "at_ns", "2000"),
    ],
)
def test_bad_timer_arguments_are_refused_by_name(
    kw: dict[str, object], field: str, value: object
) -> None:
    b = _scripted()
    with pytest.raises(TimerError) as e:
        b.set_timer("t", lambda t: None, **kw)  # type: ignore[arg-type]
    assert (e.value.field, e.value.value) == (field, value)
    b.set_timer("t", lambda t: None, at_ns=1_000)  # the name was not taken: nothing changed


def test_duplicate_and_unknown_names_and_bad_callbacks_are_refused() -> None:
    b = _scripted()
    b.set_timer("t", lambda t: None, at_ns=2_000)
    with pytest.raises(TimerError) as e:
        b.set_timer("t", lambda t: None, at_ns=3_000)
    assert (e.value.field, e.value.value) == ("name", "t")
    with pytest.raises(TimerError) as e:
        b.cancel_timer("nope")
    assert (e.value.field, e.value.value) == ("name", "nope")
    with pytest.raises(TimerError) as e:
        b.set_timer("u", "not callable", at_ns=3_000)  # type: ignore[arg-type]
    assert e.value.field == "callback"
    with pytest.raises(TimerError) as e:
        b.set_timer("", lambda t: None, at_ns=3_000)
    assert e.value.field == "name"
    b.cancel_timer("t")
    with pytest.raises(TimerError):
        b.cancel_timer("t")  # cancelled already


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.booleans(), st.integers(1, 50)),  # (recurring?, at or every)
        min_size=1,
        max_size=8,
    ),
    st.integers(1, 200),
)
def test_timer_book_fires_in_time_then_set_order(
    specs: list[tuple[bool, int]], horizon: int
) -> None:
    book = TimerBook()
    expected: list[tuple[int, int]] = []
    index: dict[int, int] = {}
    for i, (recurring, n) in enumerate(specs):
        cb = lambda t: None  # noqa: E731
        index[id(cb)] = i
        if recurring:
            book.set(f"t{i}", cb, 0, every_ns=n)
            expected += [(k * n, i) for k in range(1, horizon // n + 1)]
        else:
            book.set(f"t{i}", cb, 0, at_ns=n)
            if n <= horizon:
                expected.append((n, i))
    fired: list[tuple[int, int]] = []
    while (t := book.next_ns()) is not None and t <= horizon:
        due, cb = book.pop()
        fired.append((due, index[id(cb)]))
    assert fired == sorted(expected)  # by time, then by the order they were set


# ----- wall time -----------------------------------------------------------------------------


def test_wall_timers_fire_on_one_scheduler_thread_at_the_clocks_times() -> None:
    clock = SimulatedClock(0)
    timers = WallTimers(clock, name="test-timers")
    seen: list[tuple[str, int, str]] = []
    done = threading.Event()

    def cb(name: str):  # type: ignore[no-untyped-def]
        def fire(t: int) -> None:
            seen.append((name, t, threading.current_thread().name))
            if len(seen) == 3:
                done.set()

        return fire

    try:
        for i in range(3):
            timers.set(f"t{i}", cb(f"t{i}"), at_ns=100 * (3 - i))
        time.sleep(0.05)
        assert seen == []  # the clock has not moved
        assert sum(t.name == "test-timers" for t in threading.enumerate()) == 1
        clock.set(1_000)
        timers.poke()
        assert done.wait(5)
        assert [(n, t) for n, t, _ in seen] == [("t2", 100), ("t1", 200), ("t0", 300)]
        assert {th for _, _, th in seen} == {"test-timers"}
    finally:
        timers.close()


def test_a_late_wall_scheduler_skips_missed_periods() -> None:
    clock = SimulatedClock(0)
    timers = WallTimers(clock)
    seen: list[int] = []
    fired = threading.Event()
    try:
        timers.set("tick", lambda t: (seen.append(t), fired.set()), every_ns=10)
        clock.set(55)
        timers.poke()
        assert fired.wait(5)
        time.sleep(0.05)
        assert seen == [10]  # 20..50 were missed: the next is 60, not a burst of four
        fired.clear()
        clock.set(60)
        timers.poke()
        assert fired.wait(5)
        assert seen == [10, 60]
    finally:
        timers.close()


def test_alpaca_broker_timers_fire_in_wall_time(alpaca_server: AlpacaServer) -> None:
    broker = AlpacaBroker(
        alpaca_server.key_id,
        alpaca_server.secret_key,
        url_override=alpaca_server.base_url,
        stream=False,
    )
    seen: list[int] = []
    three = threading.Event()
    once = threading.Event()

    def tick(t: int) -> None:
        seen.append(t)
        if len(seen) == 3:
            three.set()

    try:
        now = time.time_ns()
        broker.set_timer("once", lambda t: once.set(), at_ns=now + 30 * MS)
        broker.set_timer("tick", tick, every_ns=20 * MS)
        assert once.wait(5)
        assert three.wait(5)
        broker.cancel_timer("tick")
        # due times on the period's grid; a loaded machine may skip missed periods (never bursts)
        gaps = [b - a for a, b in itertools.pairwise(seen)]
        assert all(g > 0 and g % (20 * MS) == 0 for g in gaps), gaps
        with pytest.raises(TimerError) as e:
            broker.set_timer("bad", lambda t: None, at_ns=now - 1)
        assert e.value.field == "at_ns"
        with pytest.raises(TimerError):
            broker.cancel_timer("tick")
        assert sum(t.name == "alpaca-timers" for t in threading.enumerate()) == 1
    finally:
        broker.close()


def test_async_adapter_exposes_timers() -> None:
    b = _scripted()
    adapter = AsyncAdapter(b)
    seen: list[int] = []

    async def main() -> None:
        await adapter.set_timer("a", seen.append, at_ns=2_000)
        await adapter.set_timer("b", seen.append, at_ns=3_000)
        await adapter.cancel_timer("b")
        with pytest.raises(TimerError):
            await adapter.cancel_timer("b")

    try:
        asyncio.run(main())
    finally:
        adapter.close()
    b.run(until_ns=5_000)
    assert seen == [2_000]


def test_after_the_data_timers_due_before_a_request_in_flight_fire_first() -> None:
    venue = Venue(calendar=None, latency=LatencyModel(entry=Delay.fixed(1_000)))
    venue.add(Instrument(symbol="TEST"), empty_feed())
    b = SimulatedBroker(venue, start_ns=0)
    b.quote("TEST", D("100.00"), D("100.02"))
    b.submit(OrderRequest(symbol="TEST", side=OrderSide.BUY, qty=D(1)))  # arrives at 1000
    seen: list[tuple[int, int]] = []
    b.set_timer("t", lambda t: seen.append((t, b.now())), at_ns=500)
    b.run()  # no data, no end: the request in flight is delivered, the timer before it fires
    assert seen == [(500, 500)]
    assert b.now() == 1_000


def test_a_timer_book_with_a_clock_counts_from_it_and_one_without_needs_the_time() -> None:
    now = [1_000]
    book = TimerBook(clock=lambda: now[0])
    assert book.set("tick", lambda t: None, every_ns=10) == 1_010
    with pytest.raises(TimerError) as e:
        book.set("late", lambda t: None, at_ns=999)  # before the clock's time
    assert (e.value.field, e.value.value) == ("at_ns", 999)
    assert book.set("given", lambda t: None, 0, at_ns=5) == 5  # an explicit time wins
    bare = TimerBook()
    with pytest.raises(TimerError) as e:
        bare.set("x", lambda t: None, at_ns=5)
    assert e.value.field == "now_ns"
    assert len(bare) == 0


class _FastClock(SimulatedClock):
    """A clock that says it runs ``speed`` times the wall clock (as the served account's does)."""

    speed = 4.0


def test_a_wall_scheduler_waits_one_speedth_of_a_fast_clocks_interval() -> None:
    clock = _FastClock(0)
    timers = WallTimers(clock)
    waits: list[float] = []
    waited = threading.Event()
    real_wait = timers._cv.wait

    def wait(timeout: float | None = None) -> bool:
        waits.append(-1.0 if timeout is None else timeout)
        waited.set()
        return real_wait(0.01)

    timers._cv.wait = wait  # type: ignore[method-assign]
    try:
        timers.set("t", lambda t: None, at_ns=2 * 10**8)  # 0.2 clock seconds ahead
        assert waited.wait(5)
        assert waits[0] == pytest.approx(0.05)  # 0.2 s of a clock running 4x the wall: 50 ms
        _FastClock.speed = 0.5  # a slow clock: twice the interval, still capped
        waits.clear()
        waited.clear()
        timers.poke()
        assert waited.wait(5)
        assert waits[-1] == pytest.approx(0.4)
    finally:
        _FastClock.speed = 4.0
        timers.close()


def test_a_clock_without_a_usable_speed_is_taken_as_the_wall_clock() -> None:
    for speed in (None, 0, -2.0, True, "fast"):
        clock = type("Odd", (SimulatedClock,), {"speed": speed})(0)
        assert WallTimers(clock)._speed() == 1.0
    assert WallTimers(SimulatedClock(0))._speed() == 1.0
