"""Hostile arguments (Issue #14, part 2): the compiled classes under input of bad type or range.

Every public method of ``OrderBook``, ``SimEngine``, ``TrailingStops`` and ``RateLimiter`` is
called with one argument replaced by a generated bad value (negative ints, ints past u64 or i64,
bools, floats, None, strings; out-of-range values where the field has a range) and must raise a
``FillforgeError`` subclass whose message names that argument, and leave the object exactly as it
was. Constructors with a capacity or size refuse absurd values without allocating; those run in a
subprocess, so a regression that aborts or exhausts memory fails one test instead of killing the
suite.
"""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fillforge
from fillforge import _core
from fillforge.errors import (
    CapacityError,
    FillforgeError,
    InvalidOrderError,
    InvalidPriceError,
    PriceOffGridError,
    ReplayError,
    ThrottleError,
    error_for_reason,
)
from fillforge.sim import FeedKind
from fillforge.throttle import Gcra, RateLimiter, SlidingWindow, key_of

U64 = 1 << 64
I64 = 1 << 63
MAX_PRICE = 1 << 62
MAX_TICKS = 1 << 61

# ----- bad values, by the kind of argument ----------------------------------------------------

huge = st.integers(min_value=U64, max_value=1 << 200)
negative = st.integers(max_value=-1, min_value=-(1 << 200))
past_i64 = st.one_of(
    st.integers(min_value=I64, max_value=1 << 200), st.integers(max_value=-I64 - 1)
)
bools = st.booleans()
floats = st.floats(allow_nan=True, allow_infinity=True)
nones = st.none()
strings = st.text(max_size=8)
not_ints = st.one_of(bools, floats, strings, st.just(b"1"), st.just([1]))


def bad(kind: str) -> st.SearchStrategy[object]:
    """Values an argument of this kind must refuse. ``opt_*`` kinds accept None."""
    optional = kind.startswith("opt_")
    base = kind.removeprefix("opt_")
    parts: list[st.SearchStrategy[object]] = [not_ints]
    if not optional:
        parts.append(nones)
    if base == "u64":  # order ids, stop ids, keys of the core, counts
        parts += [negative, huge]
    elif base == "i64":  # times
        parts += [past_i64]
    elif base == "price":  # book prices: +/-2^62 ticks
        parts += [
            st.integers(min_value=MAX_PRICE + 1, max_value=1 << 200),
            st.integers(max_value=-MAX_PRICE - 1, min_value=-(1 << 200)),
        ]
    elif base == "tprice":  # trailing-stop prices: +/-2^61 ticks
        parts += [
            st.integers(min_value=MAX_TICKS + 1, max_value=1 << 200),
            st.integers(max_value=-MAX_TICKS - 1, min_value=-(1 << 200)),
        ]
    elif base == "qty":
        parts += [st.integers(max_value=0, min_value=-(1 << 200)), st.integers(1 << 62, 1 << 200)]
    elif base == "side":
        parts += [st.integers(-(1 << 70), 1 << 70).filter(lambda v: v not in (1, -1))]
    elif base == "feedside":
        parts += [st.integers(-(1 << 70), 1 << 70).filter(lambda v: v not in (1, -1, 0))]
    elif base == "tif":
        parts += [st.integers(-(1 << 70), 1 << 70).filter(lambda v: v not in range(4))]
    elif base == "feedkind":  # message kinds 0..=10
        parts += [negative, st.integers(11, 1 << 200)]
    elif base == "ticks":  # a trail in ticks: 1..=2^61
        parts += [st.integers(-(1 << 70), 0), st.integers(MAX_TICKS + 1, 1 << 70)]
    elif base == "offset":  # a limit offset: 0..=2^61
        parts += [st.integers(-(1 << 70), -1), st.integers(MAX_TICKS + 1, 1 << 70)]
    elif base == "bps":  # 1..=10000
        parts += [st.integers(-(1 << 70), 0), st.integers(10_001, 1 << 70)]
    elif base == "n":  # throttle units: more than the tightest limit (5) can never pass
        parts += [negative, st.integers(6, 1 << 70)]
    elif base == "limit_index":
        parts += [negative, st.integers(2, 1 << 70)]
    elif base == "key":  # RateLimiter keys: strings are keys, numbers outside [0, 2^64) are not
        return st.one_of(bools, floats, nones, negative, huge)
    elif base == "timeout":
        return st.one_of(bools, floats, strings, negative, st.integers(I64, 1 << 70))
    elif base == "flag":
        return st.one_of(st.integers(-5, 5), floats, strings, nones)
    elif base == "instrument":
        parts += [negative, st.integers(2, 1 << 70)]
    elif base == "column":
        return st.one_of(
            nones,
            strings,
            st.just([1, 2]),
            st.just(np.zeros(2, np.float64)),
            st.just(np.zeros((1, 2), np.int64)),
        )
    else:
        raise AssertionError(kind)
    return st.one_of(*parts)


# ----- the methods: arguments, their kinds and a valid value each -----------------------------


@dataclass
class Arg:
    name: str
    valid: object
    kind: str
    keyword: bool = False


@dataclass
class Call:
    method: str
    args: list[Arg]
    extra: dict[str, object] = field(default_factory=dict)  # fixed keyword arguments

    def invoke(self, obj: Any, name: str, value: object) -> object:
        pos = [value if a.name == name else a.valid for a in self.args if not a.keyword]
        kw = {a.name: (value if a.name == name else a.valid) for a in self.args if a.keyword}
        kw = {k: v for k, v in kw.items() if v is not None or k == name}
        result = getattr(obj, self.method)(*pos, **kw, **self.extra)
        if asyncio.iscoroutine(result):
            return asyncio.run(result)
        return result


def cases(calls: list[Call]) -> list[tuple[Call, Arg]]:
    return [(c, a) for c in calls for a in c.args]


def ids(pairs: list[tuple[Call, Arg]]) -> list[str]:
    return [f"{c.method}-{a.name}" for c, a in pairs]


def names_field(message: str, name: str) -> bool:
    return re.search(rf"(^|[^a-z_]){re.escape(name)}(?![a-z_0-9])", message) is not None


def assert_refused(call: Callable[[], object], name: str) -> FillforgeError:
    with pytest.raises(FillforgeError) as info:
        call()
    assert names_field(str(info.value), name), f"{name!r} not named in: {info.value}"
    return info.value


# ----- OrderBook ------------------------------------------------------------------------------

BOOK_CALLS = [
    Call(
        "submit_limit",
        [
            Arg("order_id", 20, "u64"),
            Arg("side", 1, "side"),
            Arg("price", 100, "price"),
            Arg("qty", 5, "qty"),
            Arg("tif", 0, "tif"),
            Arg("post_only", False, "flag"),
        ],
    ),
    Call(
        "submit_market",
        [
            Arg("order_id", 20, "u64"),
            Arg("side", -1, "side"),
            Arg("qty", 1, "qty"),
            Arg("tif", 2, "tif"),
        ],
    ),
    Call(
        "submit_stop",
        [
            Arg("order_id", 20, "u64"),
            Arg("side", -1, "side"),
            Arg("stop_price", 90, "price"),
            Arg("qty", 5, "qty"),
            Arg("limit_price", None, "opt_price"),
            Arg("tif", 0, "tif"),
        ],
    ),
    Call("cancel", [Arg("order_id", 1, "u64")]),
    Call("try_cancel", [Arg("order_id", 1, "u64")]),
    Call("reduce", [Arg("order_id", 1, "u64"), Arg("qty", 1, "qty")]),
    Call("modify", [Arg("order_id", 1, "u64"), Arg("price", 98, "price"), Arg("qty", 4, "qty")]),
    Call(
        "add_resting",
        [
            Arg("order_id", 20, "u64"),
            Arg("side", 1, "side"),
            Arg("price", 97, "price"),
            Arg("qty", 5, "qty"),
        ],
    ),
    Call("depth", [Arg("side", 1, "side"), Arg("levels", 5, "u64")]),
    Call("order", [Arg("order_id", 1, "u64")]),
    Call("volume_at", [Arg("side", 1, "side"), Arg("price", 99, "i64")]),
    Call("level_count", [Arg("side", 1, "side")]),
    Call("is_stop_pending", [Arg("order_id", 3, "u64")]),
]
BOOK_CASES = cases(BOOK_CALLS)


def make_book() -> fillforge.OrderBook:
    b = fillforge.OrderBook()
    b.submit_limit(1, 1, 99, 10)
    b.submit_limit(2, -1, 101, 10)
    b.submit_stop(3, -1, 95, 5)
    b.submit_limit(4, 1, 101, 2)  # one trade: fills and a last price
    return b


def book_state(b: fillforge.OrderBook) -> object:
    return (
        [a.tolist() for a in b.depth(1, 100)],
        [a.tolist() for a in b.depth(-1, 100)],
        [b.order(i) for i in range(25)],
        [b.is_stop_pending(i) for i in range(25)],
        len(b),
        b.stop_count,
        b.fill_count,
        b.last_trade_price,
        b.matching,
    )


@pytest.mark.parametrize(("call", "arg"), BOOK_CASES, ids=ids(BOOK_CASES))
@settings(max_examples=30, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_order_book_refuses_bad_arguments(call: Call, arg: Arg, data: st.DataObject) -> None:
    book = make_book()
    before = book_state(book)
    value = data.draw(bad(arg.kind), label=arg.name)
    assert_refused(lambda: call.invoke(book, arg.name, value), arg.name)
    assert book_state(book) == before


@given(value=bad("flag"))
def test_order_book_matching_takes_only_a_bool(value: object) -> None:
    book = make_book()
    before = book_state(book)
    with pytest.raises(InvalidOrderError, match="matching="):
        book.matching = value  # type: ignore[assignment]
    assert book_state(book) == before


BATCH_COLUMNS = ["op", "order_id", "side", "price", "qty"]


@pytest.mark.parametrize("column", [*BATCH_COLUMNS, "tif", "stop_price", "post_only"])
@given(value=bad("column"))
def test_apply_batch_refuses_bad_columns(column: str, value: object) -> None:
    book = make_book()
    before = book_state(book)
    cols: dict[str, object] = {
        "op": np.zeros(2, np.uint8),
        "order_id": np.array([30, 31], np.uint64),
        "side": np.ones(2, np.int8),
        "price": np.full(2, 98, np.int64),
        "qty": np.ones(2, np.int64),
        column: value,
    }
    pos = [cols.pop(c) for c in BATCH_COLUMNS]
    if value is None and column not in BATCH_COLUMNS:
        return  # the optional columns may be left out
    assert_refused(lambda: book.apply_batch(*pos, **cols), column)
    assert book_state(book) == before


@pytest.mark.parametrize(
    ("kwargs", "exc", "name"),
    [
        ({"tick": True}, PriceOffGridError, "tick"),
        ({"tick": 1 << 70}, PriceOffGridError, "tick"),
        ({"tick": 1.0}, PriceOffGridError, "tick"),
        ({"lot": None}, fillforge.InvalidQuantityError, "lot"),
        ({"lot": -(1 << 70)}, fillforge.InvalidQuantityError, "lot"),
        ({"capacity": -1}, CapacityError, "capacity"),
        ({"capacity": True}, CapacityError, "capacity"),
        ({"capacity": 2.5}, CapacityError, "capacity"),
        ({"capacity": "10"}, CapacityError, "capacity"),
    ],
)
def test_order_book_constructor_refuses_bad_arguments(
    kwargs: dict[str, object], exc: type[Exception], name: str
) -> None:
    with pytest.raises(exc) as info:
        fillforge.OrderBook(**kwargs)  # type: ignore[arg-type]
    assert names_field(str(info.value), name)


# ----- one bad price, one error class, per call and in a batch -------------------------------


@pytest.mark.parametrize("price", [MAX_PRICE + 1, -MAX_PRICE - 1, I64 - 1, -I64])
def test_a_price_out_of_range_is_invalid_price_per_call_and_in_a_batch(price: int) -> None:
    per_call = make_book()
    with pytest.raises(InvalidPriceError, match=f"price={price}: outside the supported range"):
        per_call.submit_limit(30, 1, price, 5)
    batch = make_book()
    res = batch.apply_batch(
        np.zeros(1, np.uint8),
        np.array([30], np.uint64),
        np.ones(1, np.int8),
        np.array([price], np.int64),
        np.array([5], np.int64),
    )
    assert int(res.reason[0]) == fillforge.Reason.INVALID_PRICE
    assert error_for_reason(int(res.reason[0])) is InvalidPriceError
    assert book_state(batch) == book_state(per_call)


def test_off_grid_stays_price_off_grid() -> None:
    b = fillforge.OrderBook(tick=10)
    with pytest.raises(PriceOffGridError, match="price=105: not a multiple"):
        b.submit_limit(1, 1, 105, 1)
    res = b.apply_batch(
        np.zeros(1, np.uint8),
        np.array([1], np.uint64),
        np.ones(1, np.int8),
        np.array([105], np.int64),
        np.array([1], np.int64),
    )
    assert error_for_reason(int(res.reason[0])) is PriceOffGridError


# ----- SimEngine ------------------------------------------------------------------------------


def make_feed() -> _core.Feed:
    rows = [
        (1, FeedKind.ADD, 1, 1, 95, 10),
        (2, FeedKind.ADD, 2, -1, 105, 10),
        (3, FeedKind.TRADE, 0, 1, 100, 1),
        (10, FeedKind.AUCTION, 1, 0, 100, 50),
        (20, FeedKind.AUCTION, 0, 0, 100, 50),
    ]
    cols = list(zip(*rows, strict=True))
    dtypes = (np.int64, np.uint8, np.uint64, np.int8, np.int64, np.int64)
    return _core.Feed.from_columns(*(np.array(c, d) for c, d in zip(cols, dtypes, strict=True)))


def make_engine() -> _core.SimEngine:
    e = _core.SimEngine(make_feed())
    e.run(3, stop_on_user=False)
    e.submit(7, 1, 96, 5)  # resting
    e.submit_stop(8, -1, 90, 5)  # held
    e.submit_trailing(9, -1, 5, trail_ticks=3)  # trailing
    e.take_events()  # so that engine_state reads only what a call adds
    return e


def engine_state(e: _core.SimEngine) -> object:
    return (
        e.position,
        e.now,
        e.last_trade,
        e.done,
        e.best_bid(False),
        e.best_ask(False),
        e.depth(1, 50, False),
        e.depth(-1, 50, False),
        [e.user_order(i) for i in range(15)],
        [e.trailing_state(i) for i in range(15)],
        e.user_order_count,
        e.book_len,
        e.stats(),
        e.take_events(),
    )


SIM_CALLS = [
    Call(
        "run",
        [
            Arg("max_messages", 0, "u64"),
            Arg("until_ns", 0, "i64"),
            Arg("stop_on_user", True, "flag"),
        ],
    ),
    Call("advance_to", [Arg("t", 0, "i64")]),
    Call(
        "apply",
        [
            Arg("time_ns", 5, "i64"),
            Arg("kind", FeedKind.ADD, "feedkind"),
            Arg("order_id", 50, "u64"),
            Arg("side", 1, "feedside"),
            Arg("price", 94, "price"),
            Arg("qty", 5, "qty"),
        ],
    ),
    Call(
        "submit",
        [
            Arg("order_id", 20, "u64"),
            Arg("side", 1, "side"),
            Arg("price", 94, "opt_price"),
            Arg("qty", 5, "qty"),
            Arg("tif", 0, "tif"),
            Arg("post_only", False, "flag"),
        ],
    ),
    Call(
        "submit_stop",
        [
            Arg("order_id", 20, "u64"),
            Arg("side", -1, "side"),
            Arg("stop_price", 90, "price"),
            Arg("qty", 5, "qty"),
            Arg("limit_price", None, "opt_price"),
            Arg("tif", 0, "tif"),
        ],
    ),
    Call(
        "submit_trailing",
        [
            Arg("order_id", 20, "u64"),
            Arg("side", -1, "side"),
            Arg("qty", 5, "qty"),
            Arg("trail_ticks", 4, "opt_ticks", keyword=True),
            Arg("activation", None, "opt_tprice", keyword=True),
            Arg("limit_offset", None, "opt_offset", keyword=True),
            Arg("tif", 0, "tif", keyword=True),
        ],
    ),
    Call(
        "submit_trailing",
        [Arg("order_id", 21, "u64"), Arg("trail_bps", 50, "opt_bps", keyword=True)],
        extra={"side": -1, "qty": 5},
    ),
    Call(
        "amend_trailing",
        [Arg("order_id", 9, "u64"), Arg("trail_ticks", 2, "opt_ticks", keyword=True)],
    ),
    Call(
        "submit_auction",
        [
            Arg("order_id", 20, "u64"),
            Arg("side", 1, "side"),
            Arg("qty", 5, "qty"),
            Arg("limit_price", None, "opt_price"),
            Arg("close", False, "flag", keyword=True),
        ],
    ),
    Call("cancel", [Arg("order_id", 7, "u64")]),
    Call("modify", [Arg("order_id", 7, "u64"), Arg("price", 93, "price"), Arg("qty", 4, "qty")]),
    Call("best_bid", [Arg("recorded_only", True, "flag")]),
    Call("best_ask", [Arg("recorded_only", True, "flag")]),
    Call(
        "depth",
        [Arg("side", 1, "side"), Arg("levels", 5, "u64"), Arg("recorded_only", True, "flag")],
    ),
    Call("user_order", [Arg("order_id", 7, "u64")]),
    Call("trailing_state", [Arg("order_id", 9, "u64")]),
]
SIM_CASES = cases(SIM_CALLS)


@pytest.mark.parametrize(("call", "arg"), SIM_CASES, ids=ids(SIM_CASES))
@settings(max_examples=25)
@given(data=st.data())
def test_sim_engine_refuses_bad_arguments(call: Call, arg: Arg, data: st.DataObject) -> None:
    engine = make_engine()
    before = engine_state(engine)
    value = data.draw(bad(arg.kind), label=arg.name)
    assert_refused(lambda: call.invoke(engine, arg.name, value), arg.name)
    assert engine_state(engine) == before
    engine.check_invariants()


def test_sim_engine_cancel_true_is_not_order_1() -> None:
    engine = make_engine()
    engine.submit(1, 1, 94, 5)
    engine.take_events()
    before = engine_state(engine)
    with pytest.raises(InvalidOrderError, match=r"order_id=True: .*not a bool"):
        engine.cancel(True)
    assert engine_state(engine) == before
    assert engine.user_order(1) is not None


@given(value=bad("flag"))
def test_sim_engine_constructor_refuses_bad_arguments(value: object) -> None:
    feed = make_feed()
    with pytest.raises(ReplayError, match="check="):
        _core.SimEngine(feed, check=value)  # type: ignore[arg-type]
    with pytest.raises(ReplayError, match="feed="):
        _core.SimEngine(value)  # type: ignore[arg-type]


# ----- TrailingStops --------------------------------------------------------------------------

TRAILING_CALLS = [
    Call(
        "add",
        [
            Arg("id", 50, "u64"),
            Arg("instrument", 0, "instrument"),
            Arg("side", -1, "side"),
            Arg("trail_ticks", 5, "opt_ticks", keyword=True),
            Arg("activation", None, "opt_tprice", keyword=True),
            Arg("limit_offset", None, "opt_offset", keyword=True),
            Arg("price", None, "opt_tprice", keyword=True),
            Arg("breakeven_entry", 100, "opt_tprice", keyword=True),
            Arg("breakeven_profit", 10, "opt_ticks", keyword=True),
            Arg("breakeven_lock", 0, "offset", keyword=True),
        ],
    ),
    Call(
        "add",
        [Arg("id", 51, "u64"), Arg("trail_bps", 100, "opt_bps", keyword=True)],
        extra={"instrument": 1, "side": 1},
    ),
    Call("remove", [Arg("id", 1, "u64")]),
    Call("amend", [Arg("id", 1, "u64"), Arg("trail_ticks", 7, "opt_ticks", keyword=True)]),
    Call("get", [Arg("id", 1, "u64")]),
    Call("__contains__", [Arg("id", 1, "u64")]),
    Call(
        "update_last",
        [
            Arg("instruments", np.zeros(1, np.uint32), "column"),
            Arg("prices", np.array([100], np.int64), "column"),
        ],
    ),
    Call(
        "update_quotes",
        [
            Arg("instruments", np.zeros(1, np.uint32), "column"),
            Arg("bids", np.array([100], np.int64), "column"),
            Arg("asks", np.array([101], np.int64), "column"),
        ],
    ),
    Call("update_dense", [Arg("prices", np.array([100, 100], np.int64), "column")]),
    Call(
        "update_dense_quotes",
        [
            Arg("bids", np.array([100, 100], np.int64), "column"),
            Arg("asks", np.array([101, 101], np.int64), "column"),
        ],
    ),
]
TRAILING_CASES = cases(TRAILING_CALLS)


def make_stops() -> fillforge.TrailingStops:
    t = fillforge.TrailingStops(2)
    t.add(1, 0, -1, trail_ticks=5, price=200)
    t.add(2, 1, 1, trail_bps=100, price=300)
    t.add(3, 0, -1, trail_ticks=5, activation=250)
    return t


def stops_state(t: fillforge.TrailingStops) -> object:
    limits, has = t.last_limit_prices()
    return (len(t), [t.get(i) for i in range(60)], limits.tolist(), has.tolist())


@pytest.mark.parametrize(("call", "arg"), TRAILING_CASES, ids=ids(TRAILING_CASES))
@settings(max_examples=25)
@given(data=st.data())
def test_trailing_stops_refuse_bad_arguments(call: Call, arg: Arg, data: st.DataObject) -> None:
    stops = make_stops()
    before = stops_state(stops)
    value = data.draw(bad(arg.kind), label=arg.name)
    assert_refused(lambda: call.invoke(stops, arg.name, value), arg.name)
    assert stops_state(stops) == before


# ----- RateLimiter ----------------------------------------------------------------------------

NOW = 5_000_000_000
KEYS: list[object] = [0, 1, 2, 13, (1 << 64) - 1, (1 << 64) - 2, "acct", ("acct", 1)]


def make_limiter() -> RateLimiter:
    rl = RateLimiter(SlidingWindow(5, 1_000_000_000), Gcra(10, 1_000_000_000, 5), clock=lambda: NOW)
    for k in KEYS:
        rl.try_acquire(k, 2)
    return rl


def limiter_state(rl: RateLimiter) -> object:
    core = rl.core
    return (
        len(core),
        core.last_time,
        core.slot_capacity,
        [(rl.count_in_window(k, 0), rl.count_in_window(k, 1)) for k in KEYS],
    )


LIMITER_CALLS = [
    Call(m, [Arg("key", 1, "key"), Arg("n", 1, "n")])
    for m in ("try_acquire", "check", "retry_after", "wait_time")
] + [
    Call("count_in_window", [Arg("key", 1, "key"), Arg("limit", 0, "limit_index")]),
    Call("reset", [Arg("key", 1, "key")]),
    Call(
        "acquire_blocking",
        [Arg("key", 1, "key"), Arg("n", 1, "n"), Arg("timeout_ns", 0, "timeout", keyword=True)],
    ),
    Call(
        "acquire",
        [Arg("key", 1, "key"), Arg("n", 1, "n"), Arg("timeout_ns", 0, "timeout", keyword=True)],
    ),
]
LIMITER_CASES = cases(LIMITER_CALLS)


@pytest.mark.parametrize(("call", "arg"), LIMITER_CASES, ids=ids(LIMITER_CASES))
@settings(max_examples=30)
@given(data=st.data())
def test_rate_limiter_refuses_bad_arguments(call: Call, arg: Arg, data: st.DataObject) -> None:
    rl = make_limiter()
    before = limiter_state(rl)
    value = data.draw(bad(arg.kind), label=arg.name)
    if call.method == "reset" and value is None:
        return  # reset(None) forgets every key: documented, not a bad key
    error = assert_refused(lambda: call.invoke(rl, arg.name, value), arg.name)
    assert isinstance(error, ThrottleError)
    assert limiter_state(rl) == before


@pytest.mark.parametrize(
    ("a", "b"), [(-1, -2), ((1 << 64) + 5, 13), (True, 1), (1.0, 1), (None, None)]
)
def test_rate_limiter_keys_outside_their_range_are_refused_not_folded(a: object, b: object) -> None:
    """``hash`` folds -1 onto -2 and 2**64+5 onto 13; such keys were silently shared."""
    rl = make_limiter()
    before = limiter_state(rl)
    with pytest.raises(ThrottleError, match=r"key="):
        rl.try_acquire(a, 3)
    assert limiter_state(rl) == before
    with pytest.raises(ThrottleError, match=r"key="):
        key_of(a)
    if isinstance(b, int) and not isinstance(b, bool) and 0 <= b < 1 << 64:
        assert key_of(b) == b


def test_rate_limiter_keys_in_range_and_other_hashables_still_work() -> None:
    rl = make_limiter()
    assert key_of(np.uint64(13)) == 13
    assert key_of(fillforge.Side.BUY) == 1
    assert rl.count_in_window("acct") == 2
    assert rl.try_acquire(("desk", 7)) is True


@pytest.mark.parametrize(
    ("make", "name"),
    [
        (lambda v: SlidingWindow(v, 1_000), "limit"),
        (lambda v: SlidingWindow(5, v), "window_ns"),
        (lambda v: Gcra(v, 1_000), "rate"),
        (lambda v: Gcra(5, v), "period_ns"),
        (lambda v: Gcra(5, 1_000, v), "burst"),
    ],
)
@given(value=st.one_of(bools, floats, strings, negative, huge))
def test_rate_limiter_constructor_refuses_bad_limits(
    make: Callable[[object], SlidingWindow | Gcra], name: str, value: object
) -> None:
    assert_refused(lambda: RateLimiter(make(value)), name)


@given(value=st.one_of(st.integers(), strings, nones, floats))
def test_rate_limiter_refuses_things_that_are_not_limits(value: object) -> None:
    assert_refused(lambda: RateLimiter(value), "limits[0]")  # type: ignore[arg-type]


# ----- capacities: refused with a typed error, never an abort or an OOM kill -----------------

# Each line runs in a fresh interpreter; the child prints the class and message it got.
CAPACITY_PROBES = [
    ("fillforge.OrderBook(capacity=2**40)", "CapacityError", "capacity=1099511627776"),
    ("fillforge.OrderBook(capacity=2**63 - 1)", "CapacityError", "capacity=9223372036854775807"),
    ("fillforge.OrderBook(capacity=2**64 - 1)", "CapacityError", "capacity=18446744073709551615"),
    ("fillforge.OrderBook(capacity=2**64)", "CapacityError", "capacity=18446744073709551616"),
    ("fillforge.OrderBook(capacity=(1 << 24) + 1)", "CapacityError", "capacity=16777217"),
    ("fillforge.TrailingStops(2**31)", "CapacityError", "n_instruments=2147483648"),
    ("fillforge.TrailingStops(2**32 - 1)", "CapacityError", "n_instruments=4294967295"),
    ("fillforge.TrailingStops(2**32)", "CapacityError", "n_instruments=4294967296"),
    ("fillforge.TrailingStops((1 << 20) + 1)", "CapacityError", "n_instruments=1048577"),
    (
        "fillforge.Throttle(windows=[(1 << 24, 10)] * 3)",
        "ThrottleError",
        "limit 1: the limits together need more than 2^25 values",
    ),
    (
        "fillforge.RateLimiter(*[fillforge.SlidingWindow(1 << 24, 10)] * 3)",
        "ThrottleError",
        "256 MiB",
    ),
]


@pytest.mark.parametrize(
    ("expr", "exc", "text"), CAPACITY_PROBES, ids=[p[0] for p in CAPACITY_PROBES]
)
def test_absurd_capacities_are_refused_in_a_subprocess(expr: str, exc: str, text: str) -> None:
    code = textwrap.dedent(
        f"""
        import resource, fillforge
        # 2 GB of address space at most: an attempt to commit tens of GB fails fast here.
        resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))
        try:
            {expr}
        except fillforge.FillforgeError as e:
            print(type(e).__name__, e)
        else:
            print("accepted")
        """
    )
    child = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert child.returncode == 0, (
        f"the interpreter died ({child.returncode}): {child.stderr[-2000:]}"
    )
    assert child.stdout.startswith(exc + " "), child.stdout + child.stderr
    assert text in child.stdout


def test_capacities_up_to_the_bound_are_reserved() -> None:
    book = fillforge.OrderBook(capacity=100_000)
    assert book.submit_limit(1, 1, 100, 1)[0] == fillforge.Status.RESTING
    stops = fillforge.TrailingStops(1_000)
    assert stops.n_instruments == 1_000
    assert fillforge.TrailingStops(0).n_instruments == 0
