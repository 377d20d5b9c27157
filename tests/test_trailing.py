"""fillforge.TrailingStops against a plain-Python reference on random price paths (hypothesis),
plus the documented rules: equality triggers, percent rounding toward the price, amend before
trigger, activation, bid/ask, batch vs per-row updates, errors and the Decimal helpers."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fillforge import (
    DuplicateStopIdError,
    FillforgeError,
    StopState,
    TrailingStopError,
    TrailingStops,
    UnknownStopError,
    trail_bps_from_percent,
    trail_ticks_from_price,
)

SELL, BUY = -1, 1

# ----- plain-Python reference -------------------------------------------------------------------


def ref_stop(
    side: int, ticks: int | None, bps: int | None, hwm: int, be: tuple[int, int, int] | None = None
) -> int:
    stop = ref_trail_stop(side, ticks, bps, hwm)
    if be is None or (hwm - be[0]) * -side < be[1]:
        return stop
    # Break-even reached: never looser than entry + lock (sell) / entry - lock (buy).
    return max(stop, be[0] + be[2]) if side == SELL else min(stop, be[0] - be[2])


def ref_trail_stop(side: int, ticks: int | None, bps: int | None, hwm: int) -> int:
    if ticks is not None:
        return hwm - ticks if side == SELL else hwm + ticks
    assert bps is not None
    exact = Decimal(max(hwm, 0)) * (Decimal(10_000 + bps * side) / 10_000)
    # Toward the price: up for sells, down for buys; never closer than one tick.
    if side == SELL:
        return min(int(exact.to_integral_value(rounding="ROUND_CEILING")), hwm - 1)
    return max(int(exact.to_integral_value(rounding="ROUND_FLOOR")), hwm + 1)


@dataclass
class RefStop:
    id: int
    instrument: int
    side: int
    ticks: int | None
    bps: int | None
    activation: int | None
    limit: int | None
    be: tuple[int, int, int] | None = None
    hwm: int | None = None

    def activates(self, p: int) -> bool:
        if self.activation is None:
            return True
        return p >= self.activation if self.side == SELL else p <= self.activation


class Reference:
    def __init__(self) -> None:
        self.stops: dict[int, RefStop] = {}

    def apply(self, inst: int, bid: int, ask: int) -> list[tuple[int, int]]:
        out = []
        for s in list(self.stops.values()):
            if s.instrument != inst:
                continue
            p = bid if s.side == SELL else ask
            if s.hwm is None:
                if s.activates(p):
                    s.hwm = p
                continue
            stop = ref_stop(s.side, s.ticks, s.bps, s.hwm, s.be)
            if (p <= stop) if s.side == SELL else (p >= stop):
                out.append((s.id, stop))
                del self.stops[s.id]
            else:
                s.hwm = max(s.hwm, p) if s.side == SELL else min(s.hwm, p)
        return out

    def state(self, sid: int) -> tuple[object, ...] | None:
        s = self.stops.get(sid)
        if s is None:
            return None
        stop = None if s.hwm is None else ref_stop(s.side, s.ticks, s.bps, s.hwm, s.be)
        active = s.be is not None and s.hwm is not None and (s.hwm - s.be[0]) * -s.side >= s.be[1]
        return (
            s.id,
            s.instrument,
            s.side,
            s.ticks,
            s.bps,
            s.activation,
            s.limit,
            s.be,
            s.hwm is not None,
            s.hwm,
            stop,
            active,
        )


N_INST = 3
prices = st.integers(80, 140)
add_op = st.tuples(
    st.just("add"),
    st.integers(0, 15),
    st.integers(0, N_INST - 1),
    st.sampled_from([SELL, BUY]),
    st.one_of(st.tuples(st.integers(1, 10), st.none()), st.tuples(st.none(), st.integers(1, 2000))),
    st.none() | st.integers(90, 130),
    st.none() | st.integers(0, 3),
    st.none() | prices,
    st.none()
    | st.tuples(st.integers(90, 130), st.integers(1, 8), st.integers(0, 7)).map(
        lambda t: (t[0], t[1], t[2] % t[1])
    ),
)
update_op = st.tuples(
    st.sampled_from(["last", "quotes"]),
    st.lists(st.tuples(st.integers(0, N_INST - 1), prices, st.integers(0, 3)), max_size=5),
)
dense_op = st.tuples(st.just("dense"), st.lists(prices, min_size=N_INST, max_size=N_INST))
misc_op = st.tuples(
    st.sampled_from(["remove", "amend"]), st.integers(0, 15), st.integers(1, 10), st.booleans()
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(add_op, update_op, dense_op, misc_op), max_size=50))
def test_matches_reference_on_random_paths(ops: list[tuple[object, ...]]) -> None:
    eng, ref = TrailingStops(N_INST), Reference()
    for op in ops:
        got: list[tuple[int, int]] = []
        want: list[tuple[int, int]] = []
        kind = op[0]
        if kind == "add":
            _, sid, inst, side, (ticks, bps), act, lim, price, be = op  # type: ignore[misc]
            if sid in ref.stops:
                with pytest.raises(DuplicateStopIdError):
                    eng.add(sid, inst, side, trail_ticks=ticks, trail_bps=bps, price=price)
                continue
            eng.add(
                sid,
                inst,
                side,
                trail_ticks=ticks,
                trail_bps=bps,
                activation=act,
                limit_offset=lim,
                price=price,
                breakeven_entry=None if be is None else be[0],
                breakeven_profit=None if be is None else be[1],
                breakeven_lock=0 if be is None else be[2],
            )
            s = RefStop(sid, inst, side, ticks, bps, act, lim, be)
            if price is not None and s.activates(price):
                s.hwm = price
            ref.stops[sid] = s
        elif kind in ("last", "quotes"):
            rows = op[1]
            inst_a = np.array([r[0] for r in rows], dtype=np.uint32)  # type: ignore[attr-defined]
            bid = np.array([r[1] for r in rows], dtype=np.int64)  # type: ignore[attr-defined]
            spread = 0 if kind == "last" else 1
            ask = bid + spread * np.array([r[2] for r in rows], dtype=np.int64)  # type: ignore[attr-defined]
            if kind == "last":
                ids, stops = eng.update_last(inst_a, bid)
            else:
                ids, stops = eng.update_quotes(inst_a, bid, ask)
            got = list(zip(ids.tolist(), stops.tolist(), strict=True))
            for i, b, a in zip(inst_a.tolist(), bid.tolist(), ask.tolist(), strict=True):
                want += ref.apply(i, b, a)
        elif kind == "dense":
            px = np.array(op[1], dtype=np.int64)
            ids, stops = eng.update_dense(px)
            got = list(zip(ids.tolist(), stops.tolist(), strict=True))
            for i, p in enumerate(px.tolist()):
                want += ref.apply(i, p, p)
        elif kind == "remove":
            sid = op[1]
            if sid in ref.stops:
                assert eng.remove(sid) == ref.state(sid)  # type: ignore[arg-type]
                del ref.stops[sid]  # type: ignore[arg-type]
            else:
                with pytest.raises(UnknownStopError):
                    eng.remove(sid)  # type: ignore[arg-type]
        else:  # amend: same kind as the stop's, amount from the op
            sid, amount = op[1], op[2]
            s = ref.stops.get(sid)  # type: ignore[arg-type]
            if s is None:
                with pytest.raises(UnknownStopError):
                    eng.amend(sid, trail_ticks=amount)  # type: ignore[arg-type]
            elif s.ticks is not None:
                eng.amend(sid, trail_ticks=amount)  # type: ignore[arg-type]
                s.ticks = amount  # type: ignore[assignment]
            else:
                eng.amend(sid, trail_bps=amount * 100)  # type: ignore[arg-type, operator]
                s.bps = amount * 100  # type: ignore[operator]
        assert sorted(got) == sorted(want)
        assert len(eng) == len(ref.stops)
        for sid in range(16):
            assert eng.get(sid) == ref.state(sid)


# ----- documented rules -------------------------------------------------------------------------


def one(p: int, eng: TrailingStops) -> list[int]:
    ids, _ = eng.update_last(np.array([0], np.uint32), np.array([p], np.int64))
    return sorted(ids.tolist())


def test_equality_triggers_both_sides() -> None:
    eng = TrailingStops(1)
    eng.add(1, 0, SELL, trail_ticks=5, price=100)
    eng.add(2, 0, BUY, trail_ticks=5, price=100)
    assert one(96, eng) == []  # sell stop 95; buy low 96 -> stop 101
    ids, stops = eng.update_last(np.array([0], np.uint32), np.array([95], np.int64))
    assert ids.tolist() == [1]
    assert stops.tolist() == [95]
    assert one(100, eng) == [2]  # buy stop 100 reached exactly
    assert len(eng) == 0
    assert one(50, eng) == []  # reported once


def test_percent_rounding_toward_price_and_decimal_helpers() -> None:
    eng = TrailingStops(1)
    eng.add(1, 0, SELL, trail_bps=trail_bps_from_percent("1.5"), price=1001)
    eng.add(2, 0, BUY, trail_bps=150, price=1001)
    eng.add(3, 0, SELL, trail_bps=100, price=50)
    s1, s2, s3 = (StopState.of(eng, i) for i in (1, 2, 3))
    assert s1 is not None
    assert s2 is not None
    assert s3 is not None
    assert (s1.stop, s2.stop, s3.stop) == (986, 1016, 49)
    assert trail_ticks_from_price(Decimal("0.255"), Decimal("0.01")) == 25
    assert trail_ticks_from_price("0.001", "0.01") == 1
    assert trail_bps_from_percent("0.125") == 12
    with pytest.raises(ValueError, match="trail_percent"):
        trail_bps_from_percent(0)


def test_amend_before_trigger_and_activation_and_limit() -> None:
    eng = TrailingStops(1)
    eng.add(1, 0, SELL, trail_ticks=5, activation=110, limit_offset=2, price=100)
    st0 = StopState.of(eng, 1)
    assert st0 is not None
    assert not st0.armed
    assert one(10, eng) == []  # not armed yet
    assert one(112, eng) == []
    eng.amend(1, trail_ticks=3)
    st1 = StopState.of(eng, 1)
    assert st1 is not None
    assert (st1.hwm, st1.stop, st1.limit_price) == (112, 109, 107)
    with pytest.raises(TrailingStopError, match="cannot switch"):
        eng.amend(1, trail_bps=10)
    ids, stops = eng.update_last(np.array([0], np.uint32), np.array([109], np.int64))
    limits, is_limit = eng.last_limit_prices()
    assert (ids.tolist(), stops.tolist(), limits.tolist(), is_limit.tolist()) == (
        [1],
        [109],
        [107],
        [True],
    )


def test_breakeven_moves_stop_to_entry() -> None:
    eng = TrailingStops(1)
    # Long from 100, trail 10 ticks; once 6 ticks in profit the stop is held at entry + 1.
    eng.add(1, 0, SELL, trail_ticks=10, breakeven_entry=100, breakeven_profit=6, breakeven_lock=1)
    assert one(100, eng) == []
    assert one(105, eng) == []
    s = StopState.of(eng, 1)
    assert s is not None
    assert (s.stop, s.breakeven_active, s.breakeven) == (95, False, (100, 6, 1))
    assert one(106, eng) == []
    s = StopState.of(eng, 1)
    assert s is not None
    assert (s.stop, s.breakeven_active) == (101, True)
    assert one(102, eng) == []
    assert one(101, eng) == [1]  # the floor triggers at equality like any stop


def test_quotes_sell_on_bid_buy_on_ask() -> None:
    eng = TrailingStops(1)
    eng.add(1, 0, SELL, trail_ticks=3)
    eng.add(2, 0, BUY, trail_ticks=3)
    i = np.array([0], np.uint32)
    eng.update_quotes(i, np.array([100], np.int64), np.array([102], np.int64))
    assert eng.get(1)[9] == 100  # type: ignore[index]
    assert eng.get(2)[9] == 102  # type: ignore[index]
    ids, _ = eng.update_dense_quotes(np.array([97], np.int64), np.array([105], np.int64))
    assert sorted(ids.tolist()) == [1, 2]


def test_batch_equals_row_by_row() -> None:
    rng = np.random.default_rng(3)
    n, stops = 20, 2_000
    a, b = TrailingStops(n), TrailingStops(n)
    for sid in range(stops):
        kw = {"trail_ticks": int(rng.integers(1, 30))} if sid % 3 else {"trail_bps": 50}
        side = SELL if sid % 2 else BUY
        a.add(sid, sid % n, side, price=1000, **kw)
        b.add(sid, sid % n, side, price=1000, **kw)
    for _ in range(50):
        px = 1000 + rng.integers(-40, 41, n).astype(np.int64)
        ga, _ = a.update_dense(px)
        gb = [
            int(x)
            for i in range(n)
            for x in b.update_last(np.array([i], np.uint32), px[i : i + 1])[0].tolist()
        ]
        assert sorted(ga.tolist()) == sorted(gb)
    assert len(a) == len(b)


def test_errors_leave_engine_unchanged() -> None:
    eng = TrailingStops(2)
    eng.add(1, 0, SELL, trail_ticks=3, price=100)
    with pytest.raises(TrailingStopError, match="row 1"):
        eng.update_last(np.array([0, 9], np.uint32), np.array([1, 1], np.int64))
    with pytest.raises(TrailingStopError, match="length"):
        eng.update_dense(np.array([1], np.int64))
    with pytest.raises(TrailingStopError, match="int64"):
        eng.update_dense(np.array([1.0, 2.0]))
    with pytest.raises(TrailingStopError, match="exactly one"):
        eng.add(2, 0, SELL)
    with pytest.raises(TrailingStopError, match="side"):
        eng.add(2, 0, 0, trail_ticks=1)
    with pytest.raises(TrailingStopError):
        eng.add(2, 5, SELL, trail_ticks=1)
    with pytest.raises(DuplicateStopIdError):
        eng.add(1, 0, SELL, trail_ticks=1)
    assert issubclass(UnknownStopError, FillforgeError)
    with pytest.raises(TrailingStopError, match="breakeven_lock=5"):
        eng.add(
            2, 0, SELL, trail_ticks=1, breakeven_entry=100, breakeven_profit=5, breakeven_lock=5
        )
    with pytest.raises(TrailingStopError, match="together"):
        eng.add(2, 0, SELL, trail_ticks=1, breakeven_entry=100)
    assert eng.get(1) == (1, 0, SELL, 3, None, None, None, None, True, 100, 97, False)
    assert 1 in eng
    assert 2 not in eng
