"""Property tests: random operation sequences on the compiled book.

1. Differential: the same sequence on :class:`fillforge.OrderBook` and on the plain-Python
   :class:`reference_book.ReferenceBook` gives the same outcomes, fills, events, exception types
   and book state after every operation.
2. Invariants of the compiled book alone, checked after every operation against a ledger kept
   here from the outcomes, fills and events it reports.

The id space and the price range are small on purpose, so that duplicate ids, cancels of unknown
or filled ids, crosses, sweeps and stop triggers all happen often.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from hypothesis import example, given, note, settings
from hypothesis import strategies as st
from reference_book import ReferenceBook

import fillforge
from fillforge import OrderBook, Reason, Status, TimeInForce

# ``HYPOTHESIS_PROFILE=long`` (see conftest.py) multiplies the example counts below.
SCALE = 25 if os.environ.get("HYPOTHESIS_PROFILE") == "long" else 1

IDS = range(1, 17)
MID = 100
SPREAD = 4  # prices within MID +/- SPREAD ticks

Op = tuple[Any, ...]
Result = tuple[str, Any]

FOK = int(TimeInForce.FOK)
MAX_QTY = (1 << 62) - 1
HUGE = 3 << 60  # two of these overflow a price level's bound
# Position of the qty and tif arguments of each method (after the method name).
QTY_ARG = {"submit_limit": 3, "submit_market": 2, "submit_stop": 3, "modify": 2, "reduce": 1}
TIF_ARG = {"submit_limit": 4, "submit_market": 3, "submit_stop": 5}


# ----- strategies ----------------------------------------------------------------------------


@st.composite
def grids(draw: st.DrawFn) -> tuple[int, int]:
    """(tick, lot): mostly the unit grid, sometimes a coarse one so that off-grid input occurs."""
    return draw(st.sampled_from([(1, 1), (1, 1), (1, 1), (5, 10)]))


def mostly(common: st.SearchStrategy[Any], rare: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """``common`` about 7 times in 8, else ``rare``."""
    return weighted([(7, common), (1, rare)])


def weighted(choices: list[tuple[int, st.SearchStrategy[Any]]]) -> st.SearchStrategy[Any]:
    """Pick a strategy with the given relative weights (``st.one_of`` weighs its distinct
    branches alike, so repeating a branch there does not weigh it)."""
    pool = [s for w, s in choices for _ in range(w)]
    return st.sampled_from(pool).flatmap(lambda s: s)


def op_strategy(tick: int, lot: int) -> st.SearchStrategy[Op]:
    ticks = st.integers(MID - SPREAD, MID + SPREAD)
    price = mostly(ticks.map(lambda t: t * tick), ticks.map(lambda t: t * tick + 1))
    # Rarely a quantity so large that two of them overflow a price level's bound (2^62 - 1).
    huge = st.just(HUGE // lot * lot)
    qty = weighted(
        [(14, st.integers(1, 8).map(lambda q: q * lot)), (1, st.integers(-1, 9 * lot)), (1, huge)]
    )
    oid = st.sampled_from(IDS)
    side = mostly(st.sampled_from([1, -1]), st.sampled_from([0, 2, 1, -1]))
    tif = mostly(st.sampled_from([0, 0, 0, 0, 1, 2, 3]), st.integers(0, 5))
    post_only = st.sampled_from([False, False, False, True])
    # Limit prices mostly on the passive side of the mid, so that the book builds up some depth
    # (offset > 0 is passive for either side), with enough aggressive ones to cross.
    offset = st.integers(-2, SPREAD)
    off_grid = mostly(st.just(0), st.just(1))
    limit = st.tuples(oid, side, offset, off_grid, qty, tif, post_only).map(
        lambda t: ("submit_limit", t[0], t[1], (MID - t[1] * t[2]) * tick + t[3], *t[4:])
    )
    market = st.tuples(st.just("submit_market"), oid, side, qty, tif)
    stop_limit = st.none() | price
    stop_tif = st.sampled_from([0, 1, 2, 3])
    stop = st.tuples(st.just("submit_stop"), oid, side, price, qty, stop_limit, stop_tif)
    cancel = st.tuples(st.just("cancel"), oid)
    reduce = st.tuples(st.just("reduce"), oid, qty)
    # price None: the order's current price (so that in-place amends happen often).
    modify = st.tuples(st.just("modify"), oid, st.none() | price, qty)
    expire = st.just(("expire_day",))
    return weighted(
        [(10, limit), (2, market), (3, stop), (2, cancel), (2, reduce), (3, modify), (1, expire)]
    )


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[int, int, list[Op]]:
    tick, lot = draw(grids())
    # Draw the length first: st.lists alone makes mostly short lists; this shrinks as well.
    n = draw(st.integers(0, 100))
    ops = draw(st.lists(op_strategy(tick, lot), min_size=n, max_size=n))
    return tick, lot, ops


# ----- helpers -------------------------------------------------------------------------------


def concrete(book: Any, op: Op) -> Op:
    """Resolve a modify to "the current price" (None) against ``book``."""
    if op[0] == "modify" and op[2] is None:
        info = book.order(op[1])
        return (op[0], op[1], info[1] if info is not None else MID, op[3])
    return op


def apply(book: Any, op: Op) -> Result:
    """Run one op; an expected (fillforge) error becomes ("raised", its type)."""
    name, *args = concrete(book, op)
    try:
        return ("ok", getattr(book, name)(*args))
    except fillforge.FillforgeError as e:
        return ("raised", type(e))


def rows(arrays: Any) -> list[tuple[int, ...]]:
    """Column arrays (or an already row-wise list) as a list of int tuples."""
    if isinstance(arrays, list):
        return [tuple(int(v) for v in r) for r in arrays]
    return [tuple(int(v) for v in r) for r in zip(*(a.tolist() for a in arrays), strict=True)]


def state(book: Any) -> dict[str, Any]:
    """Everything observable about a book's contents."""
    depth = {}
    for side in (1, -1):
        prices, qtys, counts = book.depth(side, 1000)
        depth[side] = (list(map(int, prices)), list(map(int, qtys)), list(map(int, counts)))
    return {
        "depth": depth,
        "orders": {i: book.order(i) for i in IDS},
        "stops": {i: book.is_stop_pending(i) for i in IDS},
        "best": (book.best_bid(), book.best_ask()),
        "levels": (book.level_count(1), book.level_count(-1)),
        "len": (len(book), book.order_count, book.stop_count),
        "last_trade": book.last_trade_price,
        "fill_count": book.fill_count,
    }


# ----- 1. differential test against the reference model ---------------------------------------


# Three levels near the 2^62 - 1 bound (their sum exceeds an int64), a fill, stops triggered.
NEAR_MAX_LEVELS = (
    1,
    1,
    [
        ("submit_limit", 1, 1, 100, HUGE, 0, False),
        ("submit_limit", 2, 1, 99, HUGE, 0, False),
        ("submit_stop", 3, 1, 96, HUGE, 96, 0),
        ("submit_stop", 4, 1, 96, 1, None, 0),
        ("submit_limit", 5, 1, 100, MAX_QTY - HUGE + 1, 0, False),  # one too many
        ("submit_limit", 6, -1, 100, 1, 0, False),
        ("modify", 2, 100, 2),  # moves to 100: room for it
        ("modify", 2, 100, MAX_QTY - HUGE + 2),  # grows past the bound: refused
        ("modify", 2, 100, 1),
    ],
)

# A modify crosses and rests; its print triggers a sell stop that then fills it away.
REQUEUED_THEN_FILLED_BY_STOP = (
    1,
    1,
    [
        ("submit_limit", 10, -1, 99, 1, 0, False),
        ("submit_stop", 11, -1, 99, 5, None, 0),
        ("submit_limit", 12, 1, 98, 3, 0, False),
        ("modify", 12, 99, 3),
    ],
)


@settings(max_examples=600 * SCALE)
@given(scenarios())
@example(NEAR_MAX_LEVELS)
@example(REQUEUED_THEN_FILLED_BY_STOP)
def test_same_results_as_reference_model(scenario: tuple[int, int, list[Op]]) -> None:
    tick, lot, ops = scenario
    real = OrderBook(tick=tick, lot=lot)
    ref = ReferenceBook(tick=tick, lot=lot)
    for i, op in enumerate(ops):
        note(f"op {i}: {op}")
        got, want = apply(real, op), apply(ref, op)
        assert got == want, f"op {i} {op}"
        assert rows(real.take_fills()) == rows(ref.take_fills()), f"fills of op {i} {op}"
        assert rows(real.take_events()) == rows(ref.take_events()), f"events of op {i} {op}"
        assert state(real) == state(ref), f"book after op {i} {op}"


# ----- 2. invariants of the compiled book alone ----------------------------------------------


@dataclass
class Ledger:
    """What the book should hold, kept from what it reported."""

    inflow: int = 0  # accepted new quantity (submissions, re-queued modify quantity)
    outflow: int = 0  # canceled, expired, rejected, reduced, replaced by a modify
    traded: int = 0  # sum of fill quantities (each fill takes it from a taker AND a maker)
    pending: dict[int, int] = field(default_factory=dict)  # held stops: id -> qty
    # Resting orders: id -> (side, price, arrival sequence); the queue must follow the sequence.
    resting: dict[int, tuple[int, int, int]] = field(default_factory=dict)
    seq: int = 0
    side_of: dict[int, int] = field(default_factory=dict)  # side of every accepted order id
    post_only: dict[int, bool] = field(default_factory=dict)
    stop_spec: dict[int, tuple[int | None, int]] = field(default_factory=dict)  # limit, tif

    def rest(self, order_id: int, price: int) -> None:
        self.seq += 1
        self.resting[order_id] = (self.side_of[order_id], price, self.seq)


def check_fills_fifo(ledger: Ledger, fills: list[tuple[int, ...]]) -> set[int]:
    """Each fill must hit the oldest order of its level; returns makers emptied by new orders."""
    emptied_new: set[int] = set()
    for taker, maker, price, _qty, maker_left in fills:
        assert not ledger.post_only.get(taker, False), f"post-only order {taker} took liquidity"
        maker_side = -ledger.side_of[taker]
        older = [
            (seq, oid)
            for oid, (s, p, seq) in ledger.resting.items()
            if s == maker_side and p == price
        ]
        if maker in ledger.resting:
            assert ledger.resting[maker][1] == price, "fill not at the maker's price"
            assert min(older)[1] == maker, f"fill of {maker} at {price} skipped older {min(older)}"
            if maker_left == 0:
                del ledger.resting[maker]
        else:
            # The maker joined the book during this very op (a triggered stop-limit), so it is
            # younger than every order known before the op.
            assert not older, f"fill of new order {maker} at {price} ahead of {older}"
            if maker_left == 0:
                emptied_new.add(maker)
    return emptied_new


def check_invariants(book: OrderBook, ledger: Ledger, op: Op) -> None:
    op = concrete(book, op)
    name, *args = op
    before = state(book)
    oid = args[0] if args else None
    pre_order = book.order(oid) if oid is not None else None
    was_stop = book.is_stop_pending(oid) if oid is not None else False

    result = apply(book, op)
    fills = rows(book.take_fills())
    events = rows(book.take_events())

    if result[0] == "raised":
        # Bad input changes nothing.
        assert not fills
        assert not events
        assert state(book) == before
        return
    out = result[1]
    if name == "expire_day":
        assert not fills
        assert out == len(events)
        assert all(e[1:4] == (Status.EXPIRED, Reason.DAY_EXPIRED, 0) for e in events)
        out = (0, 0, 0, 0)  # no order of its own: only the events below count

    status, reason, filled, remaining = out
    op_qty = args[QTY_ARG[name]] if name in QTY_ARG else 0
    op_tif = args[TIF_ARG[name]] if name in TIF_ARG else None
    if name in TIF_ARG:
        ledger.side_of[oid] = args[1]
        ledger.post_only[oid] = name == "submit_limit" and bool(args[5])
        ledger.inflow += op_qty
    if name == "submit_stop":
        ledger.stop_spec[oid] = (args[4], args[5])
    requeued = name == "modify" and status not in (Status.AMENDED, Status.REJECTED)
    if requeued:
        del ledger.resting[oid]  # its old place is gone before any matching

    emptied_new = check_fills_fifo(ledger, fills)
    ledger.traded += sum(f[3] for f in fills)

    # Taker quantity reported by outcomes must equal the fills.
    taker_filled = 0
    if name == "submit_stop" and status != Status.PENDING:
        pass  # fired at once: its outcome is repeated in the events below
    else:
        taker_filled += filled

    # The op's own outcome.
    if name in ("submit_limit", "submit_market"):
        assert filled + remaining == op_qty
        if status == Status.RESTING:
            ledger.rest(oid, args[2])
        elif status in (Status.CANCELED, Status.REJECTED):
            ledger.outflow += remaining
        if op_tif == FOK:  # all or nothing
            assert (status, reason, filled, remaining) in (
                (Status.FILLED, Reason.NONE, op_qty, 0),
                (Status.CANCELED, Reason.FOK_UNFILLABLE, 0, op_qty),
            )
            assert filled == sum(f[3] for f in fills if f[0] == oid)
        if status == Status.REJECTED:
            assert reason == Reason.POST_ONLY_WOULD_CROSS
            assert not fills
    elif name == "submit_stop" and status == Status.PENDING:
        ledger.pending[oid] = op_qty
    elif name == "cancel":
        assert (status, reason, filled) == (Status.CANCELED, Reason.USER, 0)
        ledger.outflow += remaining
        ledger.resting.pop(oid, None)
        if was_stop:
            assert ledger.pending.pop(oid) == remaining
    elif name == "reduce":
        by = op_qty
        if status == Status.REDUCED:
            ledger.outflow += by
            if was_stop:
                ledger.pending[oid] -= by
            else:
                assert pre_order is not None
                after = book.order(oid)
                assert after == (*pre_order[:2], pre_order[2] - by, *pre_order[3:])
        else:
            assert (status, reason) == (Status.CANCELED, Reason.USER)
            ledger.outflow += remaining
            ledger.resting.pop(oid, None)
            if was_stop:
                ledger.pending.pop(oid)
    elif name == "modify":
        assert pre_order is not None
        side, old_price, old_qty, old_pos, old_ahead = pre_order
        price, new_qty = args[1], args[2]
        after = book.order(oid)
        if status == Status.AMENDED:
            # Same price, quantity not increased: priority kept.
            assert price == old_price
            assert new_qty <= old_qty
            assert reason == (Reason.NO_CHANGE if new_qty == old_qty else Reason.NONE)
            assert after == (side, price, new_qty, old_pos, old_ahead)
            ledger.outflow += old_qty - new_qty
        elif status == Status.REJECTED:
            assert reason == Reason.POST_ONLY_WOULD_CROSS
            assert ledger.post_only[oid]
            assert after == pre_order
        else:
            # Price change or quantity increase: re-queued at the back (or filled as a taker).
            assert requeued
            assert price != old_price or new_qty > old_qty
            ledger.outflow += old_qty
            ledger.inflow += new_qty
            if status == Status.RESTING:
                if not events:  # no triggered stop ran after it and touched its level
                    assert after is not None
                    prices, _, counts = book.depth(side, 1000)
                    assert after[3] == int(counts[prices.tolist().index(price)]) - 1
                    assert after[4] == book.volume_at(side, price) - after[2]
                ledger.rest(oid, price)
            else:
                assert status == Status.FILLED
                assert after is None

    # Events: triggered stops and their outcomes, expiries.
    triggered: int | None = None
    for eid, estatus, ereason, efilled, eremaining in events:
        if estatus == Status.TRIGGERED:
            ledger.pending.pop(eid, None)
            triggered = eid
            continue
        if estatus == Status.EXPIRED:
            assert ereason == Reason.DAY_EXPIRED
            ledger.outflow += eremaining
            ledger.resting.pop(eid, None)
            ledger.pending.pop(eid, None)
            continue
        assert eid == triggered, "an outcome event follows its TRIGGERED event"
        taker_filled += efilled
        limit, stop_tif = ledger.stop_spec[eid]
        if stop_tif == FOK:  # all or nothing
            assert (estatus == Status.FILLED and eremaining == 0) or (
                (estatus, ereason, efilled) == (Status.CANCELED, Reason.FOK_UNFILLABLE, 0)
            )
        if estatus == Status.RESTING:
            assert limit is not None
            ledger.rest(eid, limit)
        elif estatus in (Status.CANCELED, Status.REJECTED):
            ledger.outflow += eremaining
    assert taker_filled == sum(f[3] for f in fills)
    for maker in emptied_new:  # rested and was filled away within this op
        ledger.resting.pop(maker, None)

    # Never crossed after matching.
    bid, ask = book.best_bid(), book.best_ask()
    if bid is not None and ask is not None:
        assert bid[0] < ask[0]

    # Quantity conserved.
    # Python ints: several near-2^62 levels overflow an int64 sum.
    resting_qty = sum(sum(book.depth(s, 1000)[1].tolist()) for s in (1, -1))
    assert ledger.inflow == (
        2 * ledger.traded + ledger.outflow + resting_qty + sum(ledger.pending.values())
    )

    # Held stops are the ones the ledger holds.
    assert {i for i in IDS if book.is_stop_pending(i)} == set(ledger.pending)
    assert book.stop_count == len(ledger.pending)

    # Resting orders are the ones the ledger holds, each queued behind exactly the older ones.
    assert {i for i in IDS if book.order(i) is not None} == set(ledger.resting)
    for i, (side, price, seq) in ledger.resting.items():
        info = book.order(i)
        assert info is not None
        assert info[:2] == (side, price)
        older = [
            o for o, (s, p, q) in ledger.resting.items() if (s, p) == (side, price) and q < seq
        ]
        assert info[3] == len(older), f"order {i} queue position"


@settings(max_examples=600 * SCALE)
@given(scenarios())
@example(NEAR_MAX_LEVELS)
@example(REQUEUED_THEN_FILLED_BY_STOP)
def test_invariants_hold_after_every_op(scenario: tuple[int, int, list[Op]]) -> None:
    tick, lot, ops = scenario
    book = OrderBook(tick=tick, lot=lot)
    ledger = Ledger()
    for i, op in enumerate(ops):
        note(f"op {i}: {op}")
        check_invariants(book, ledger, op)
