"""Invariants of the simulator engine on random feeds and random user orders (hypothesis)."""

from __future__ import annotations

import contextlib

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from fillforge import _core
from fillforge.codes import EngineEvent, FeedKind
from fillforge.errors import FillforgeError

ADD, REDUCE, DELETE, EXECUTE, HIDDEN = (
    FeedKind.ADD,
    FeedKind.REDUCE,
    FeedKind.DELETE,
    FeedKind.EXECUTE,
    FeedKind.HIDDEN,
)
FILL = EngineEvent.FILL


@st.composite
def feeds(draw: st.DrawFn) -> list[tuple[int, int, int, int, int, int]]:
    """Random full-depth messages on a small grid: adds, partial cancels, deletes, executions of
    live orders, hidden executions. Sides are kept apart (bids 90-100, asks 101-110)."""
    live: dict[int, tuple[int, int, int]] = {}
    rows = []
    next_id = 1
    for t in range(draw(st.integers(1, 120))):
        op = draw(st.sampled_from([ADD, ADD, ADD, REDUCE, DELETE, EXECUTE, HIDDEN]))
        if op == ADD or not live:
            side = draw(st.sampled_from([1, -1]))
            price = draw(st.integers(90, 100) if side == 1 else st.integers(101, 110))
            qty = draw(st.integers(1, 50))
            live[next_id] = (side, price, qty)
            rows.append((t, ADD, next_id, side, price, qty))
            next_id += 1
            continue
        if op == HIDDEN:
            side = draw(st.sampled_from([1, -1]))
            rows.append((t, HIDDEN, 0, side, 100 if side == 1 else 101, draw(st.integers(1, 30))))
            continue
        oid = draw(st.sampled_from(sorted(live)))
        side, price, qty = live[oid]
        q = qty if op == DELETE else draw(st.integers(1, qty))
        rows.append((t, op, oid, side, price, q))
        if q == qty:
            del live[oid]
        else:
            live[oid] = (side, price, qty - q)
    return rows


def build(rows: list[tuple[int, int, int, int, int, int]]) -> _core.Feed:
    cols = list(zip(*rows, strict=True))
    return _core.Feed.from_columns(
        np.array(cols[0], np.int64),
        np.array(cols[1], np.uint8),
        np.array(cols[2], np.uint64),
        np.array(cols[3], np.int8),
        np.array(cols[4], np.int64),
        np.array(cols[5], np.int64),
    )


def depth(e: _core.SimEngine) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    return e.depth(1, 100), e.depth(-1, 100)


user_orders = st.lists(
    st.tuples(
        st.integers(0, 119),  # after which message
        st.sampled_from([1, -1]),
        st.integers(88, 112),
        st.integers(1, 40),
        st.booleans(),  # cancel it later
    ),
    max_size=12,
)


@given(feeds(), user_orders)
def test_passive_user_orders_never_change_the_recorded_book(
    rows: list[tuple[int, int, int, int, int, int]],
    orders: list[tuple[int, int, int, int, bool]],
) -> None:
    feed = build(rows)
    plain, sim = _core.SimEngine(feed), _core.SimEngine(feed)
    wanted = {}
    for uid, (at, side, price, qty, cancel) in enumerate(orders, 1):
        wanted.setdefault(at, []).append((uid, side, price, qty, cancel))
    filled: dict[int, int] = {}
    sizes: dict[int, int] = {}
    for k in range(len(rows)):
        for uid, side, price, qty, cancel in wanted.get(k, []):
            try:  # post-only: a passive order never takes recorded liquidity
                sim.submit(uid, side, price, qty, 0, True)
                sizes[uid] = qty
            except FillforgeError:
                pass  # would wash against our own order: refused, nothing changes
            if cancel and uid > 1:
                with contextlib.suppress(FillforgeError):  # already filled or refused
                    sim.cancel(uid - 1)
        plain.run(1)
        sim.run(1)
        for ev in sim.take_events():
            if ev[0] == FILL:
                filled[ev[1]] = filled.get(ev[1], 0) + ev[3]
                assert ev[4] == sizes[ev[1]] - filled[ev[1]], "remaining counts down exactly"
        assert depth(sim) == depth(plain)
        sim.check_invariants()
    for uid, f in filled.items():
        assert 0 < f <= sizes[uid]


@given(feeds(), st.lists(st.tuples(st.sampled_from([1, -1]), st.integers(1, 80)), max_size=8))
def test_taking_orders_fill_within_their_size_and_at_book_prices(
    rows: list[tuple[int, int, int, int, int, int]], takes: list[tuple[int, int]]
) -> None:
    e = _core.SimEngine(build(rows))
    step = max(1, len(rows) // (len(takes) + 1))
    for uid, (side, qty) in enumerate(takes, 1):
        e.run(step, stop_on_user=False)
        e.take_events()
        levels = e.depth(-side, 100, False)
        filled, remaining, outcome = 0, qty, e.submit(uid, side, None, qty, 2)
        for ev in e.take_events():
            if ev[0] == FILL and ev[1] == uid:
                assert any(p == ev[2] for p, _ in levels), "fills at a price the book showed"
                filled += ev[3]
                remaining = ev[4]
        assert filled == outcome[2] == min(qty, sum(q for _, q in levels))
        assert remaining == qty - filled
        e.check_invariants()


def test_kinds_match_the_core() -> None:
    assert [k.value for k in FeedKind] == list(range(11))
