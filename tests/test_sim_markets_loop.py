"""Several markets merged in Rust (``fillforge._core.MarketsLoop``): the same messages, in the
same order, with the same user events, as the Python loop that ran one market at a time up to the
next message of another (equal times: the market listed first)."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from order_helpers import gtc_limit

from fillforge import _core
from fillforge.codes import FeedKind, Side
from fillforge.orders.models import Instrument, OrderEvent
from fillforge.sim.broker import SimulatedBroker
from fillforge.sim.latency import Delay, LatencyModel
from fillforge.sim.venue import Venue

Row = tuple[int, int, int, int, int, int]
Tagged = list[tuple[int, tuple[object, ...]]]
#: Every market's position at each user change, then the events.
Replay = tuple[int, list[list[int]], Tagged]


def build(rows: Sequence[tuple[int, ...]]) -> _core.Feed:
    cols = list(zip(*rows, strict=True)) if rows else [()] * 6
    dtypes = (np.int64, np.uint8, np.uint64, np.int8, np.int64, np.int64)
    return _core.Feed.from_columns(*(np.array(c, d) for c, d in zip(cols, dtypes, strict=True)))


@st.composite
def market(draw: st.DrawFn) -> list[Row]:
    """Recorded orders resting at 90-110 and prints (hidden executions) through them, at few
    distinct times so that messages tie within and across markets."""
    rows: list[Row] = []
    t = 0
    for i in range(draw(st.integers(0, 40))):
        t += draw(st.sampled_from([0, 0, 1, 2]))
        side = draw(st.sampled_from([Side.BUY, Side.SELL]))
        price = draw(st.integers(90, 100) if side == Side.BUY else st.integers(101, 110))
        kind = draw(st.sampled_from([FeedKind.ADD, FeedKind.HIDDEN, FeedKind.HIDDEN]))
        oid = i + 1 if kind == FeedKind.ADD else 0
        rows.append((t, kind, oid, side, price, draw(st.integers(1, 20))))
    return rows


def engines(feeds: list[_core.Feed], idle: list[bool]) -> list[_core.SimEngine]:
    """An engine per feed, with user orders on both sides unless ``idle``."""
    out = []
    for f, no_orders in zip(feeds, idle, strict=True):
        e = _core.SimEngine(f, check=False)
        for k in range(0 if no_orders else 3):
            e.submit(1 + k, Side.BUY, 100 - 2 * k, 15)
            e.submit(10 + k, Side.SELL, 101 + 2 * k, 15)
        e.take_events()
        out.append(e)
    return out


def python_merge(es: list[_core.SimEngine], budget: int, until: int) -> Replay:
    """The loop ``SimulatedBroker.run`` had: the earliest market runs, stopping at a user change,
    up to the other markets' next messages."""
    applied = 0
    seen: Tagged = []
    stops: list[list[int]] = []
    while budget > 0:
        live = [(e.next_time, i) for i, e in enumerate(es) if e.next_time is not None]
        if not live or min(live)[0] >= until:
            break
        _, first = min(live)
        bound = until
        for t, j in live:
            if j != first:
                bound = min(bound, t + (1 if first < j else 0))
        n = es[first].run(budget, bound, True)
        applied += n
        budget -= n
        events = es[first].take_events()
        if events:
            stops.append([e.position for e in es])
        seen.extend((first, ev) for ev in events)
    return applied, stops, seen


def rust_merge(es: list[_core.SimEngine], budget: int, until: int) -> Replay:
    loop = _core.MarketsLoop(es)
    applied = 0
    seen: Tagged = []
    stops: list[list[int]] = []
    while budget > 0:
        n, i, changed = loop.run(budget, until)
        if n == 0:
            break
        applied += n
        budget -= n
        assert i is not None
        events = es[i].take_events()
        assert changed == bool(events), "it stops right after a user change, and only there"
        if changed:
            stops.append([e.position for e in es])
        seen.extend((i, ev) for ev in events)
        assert all(not e.take_events() for e in es), "no other market has events waiting"
    return applied, stops, seen


@settings(max_examples=80, deadline=None)
@given(
    st.lists(st.tuples(market(), st.booleans()), min_size=1, max_size=3),
    st.sampled_from([1, 5, 50, 1 << 62]),
    st.integers(0, 120),
)
def test_the_rust_merge_replays_as_the_python_loop(
    markets: list[tuple[list[Row], bool]], budget: int, until: int
) -> None:
    """Markets with and without user orders (those without run in one stretch when the budget
    cannot bind): the same events, and every market where the stepwise loop had it at each user
    change and at the end."""
    feeds = [build(r) for r, _ in markets]
    idle = [i for _, i in markets]
    old, new = engines(feeds, idle), engines(feeds, idle)
    assert rust_merge(new, budget, until) == python_merge(old, budget, until)
    assert [e.position for e in new] == [e.position for e in old]
    assert [e.now for e in new] == [e.now for e in old]


def test_the_loop_refuses_what_is_not_an_engine_and_an_engine_twice() -> None:
    e = _core.SimEngine(build([]))
    with pytest.raises(_core.ReplayError, match=r"engines\[1\]"):
        _core.MarketsLoop([e, "e"])  # type: ignore[list-item]
    with pytest.raises(_core.ReplayError, match="twice"):
        _core.MarketsLoop([e, e])
    assert _core.MarketsLoop([]).run() == (0, None, False)
    with pytest.raises(_core.ReplayError, match="until_ns"):
        _core.MarketsLoop([e]).run(1, 1.5)  # type: ignore[arg-type]


def _broker_log(speed: float | None) -> list[str]:
    """Two markets with interleaved recorded trading and a strategy's orders in flight (latency),
    replayed in chunks; the broker's events as JSON."""
    venue = Venue("V", calendar=None, latency=LatencyModel(entry=Delay.fixed(3)), speed=speed)
    for s, shift in (("AAA", 0), ("BBB", 1)):
        rows: list[Row] = [(1, FeedKind.ADD, 1, Side.SELL, 10_100, 500)]
        rows.append((1, FeedKind.ADD, 2, Side.BUY, 9_900, 500))
        for i in range(60):  # prints on both sides, the markets alternating
            side = Side.BUY if i % 3 else Side.SELL
            price = 9_990 + i % 7 if side == Side.BUY else 10_010 - i % 7
            rows.append((2 + 2 * i + shift, FeedKind.HIDDEN, 0, side, price, 40))
        venue.add(Instrument(symbol=s), build(rows), check=False)
    broker = SimulatedBroker(venue, cash=Decimal(10**7))
    log: list[str] = []
    broker.subscribe(lambda e: log.append(OrderEvent.model_dump_json(e)))
    for step in range(12):
        for s in ("AAA", "BBB"):
            buy = step % 2 == 1
            tick = Decimal("0.01") * (step % 4)
            price = Decimal("99.90") + tick if buy else Decimal("100.10") - tick
            broker.submit(gtc_limit(s, "buy" if buy else "sell", 10 + step, price))
        broker.run(max_messages=7 + step)
    broker.run()
    return log


def test_the_broker_merges_markets_in_rust_with_the_events_of_the_stepwise_loop() -> None:
    """Paced replay (``speed``) still runs one timestamp at a time in Python: at a speed too high
    to wait, it is the old loop, and the two logs are byte-identical."""
    fast = _broker_log(None)
    assert any('"fill"' in line for line in fast)
    assert fast == _broker_log(1e18)
