"""``OrderBook.apply_batch``: numpy columns in, numpy columns out.

The batch must do exactly what the same operations do one call at a time, except that an op the
per-call API would raise for becomes a REJECTED row with the matching reason code (and changes
nothing), while structural problems with the columns raise ``BatchInputError`` before any op runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

from fillforge import (
    BatchInputError,
    BatchResult,
    DuplicateOrderIdError,
    FillforgeError,
    InvalidOrderError,
    InvalidPriceError,
    InvalidQuantityError,
    Op,
    OrderBook,
    PriceOffGridError,
    QuantityOffGridError,
    Reason,
    Side,
    Status,
    TimeInForce,
    UnknownOrderError,
)
from fillforge.errors import error_for_reason

BUY, SELL = int(Side.BUY), int(Side.SELL)

# Which per-call exception corresponds to which batch rejection reason.
REASON_FOR: dict[type[Exception], set[int]] = {
    UnknownOrderError: {Reason.UNKNOWN_ORDER},
    DuplicateOrderIdError: {Reason.DUPLICATE_ORDER_ID},
    InvalidQuantityError: {Reason.INVALID_QUANTITY},
    PriceOffGridError: {Reason.PRICE_OFF_GRID},
    InvalidPriceError: {Reason.INVALID_PRICE},
    QuantityOffGridError: {Reason.QUANTITY_OFF_GRID},
    InvalidOrderError: {
        Reason.INVALID_SIDE,
        Reason.INVALID_TIME_IN_FORCE,
        Reason.INVALID_OP,
        Reason.INVALID_ORDER,
    },
}


def test_error_for_reason_is_the_per_call_class() -> None:
    """``error_for_reason`` (the core's REASON_ERRORS) is the table above, and nothing else."""
    mapped = {int(r): error_for_reason(r) for r in Reason if error_for_reason(r) is not None}
    expected = {int(r): exc for exc, reasons in REASON_FOR.items() for r in reasons}
    assert mapped == expected
    assert error_for_reason(Reason.NONE) is None
    assert error_for_reason(Reason.IOC_REMAINDER) is None


@dataclass
class Batch:
    """A batch as numpy columns (the optional ones may be None)."""

    op: np.ndarray
    order_id: np.ndarray
    side: np.ndarray
    price: np.ndarray
    qty: np.ndarray
    tif: np.ndarray | None = None
    stop_price: np.ndarray | None = None
    post_only: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.op)

    def kwargs(self) -> dict[str, Any]:
        return {
            k: v
            for k, v in (
                ("tif", self.tif),
                ("stop_price", self.stop_price),
                ("post_only", self.post_only),
            )
            if v is not None
        }

    def apply(self, book: OrderBook) -> BatchResult:
        return book.apply_batch(
            self.op, self.order_id, self.side, self.price, self.qty, **self.kwargs()
        )

    def slice(self, lo: int, hi: int) -> Batch:
        def cut(a: np.ndarray | None) -> np.ndarray | None:
            return None if a is None else np.ascontiguousarray(a[lo:hi])

        return Batch(
            op=np.ascontiguousarray(self.op[lo:hi]),
            order_id=np.ascontiguousarray(self.order_id[lo:hi]),
            side=np.ascontiguousarray(self.side[lo:hi]),
            price=np.ascontiguousarray(self.price[lo:hi]),
            qty=np.ascontiguousarray(self.qty[lo:hi]),
            tif=cut(self.tif),
            stop_price=cut(self.stop_price),
            post_only=cut(self.post_only),
        )


def make_batch(rows: list[tuple[Any, ...]], *, tif: bool = True, stops: bool = True) -> Batch:
    """Rows of (op, order_id, side, price, qty, tif, stop_price, post_only)."""
    cols = list(zip(*rows, strict=True)) if rows else [()] * 8
    return Batch(
        op=np.array(cols[0], dtype=np.uint8),
        order_id=np.array(cols[1], dtype=np.uint64),
        side=np.array(cols[2], dtype=np.int8),
        price=np.array(cols[3], dtype=np.int64),
        qty=np.array(cols[4], dtype=np.int64),
        tif=np.array(cols[5], dtype=np.uint8) if tif else None,
        stop_price=np.array(cols[6], dtype=np.int64) if stops else None,
        post_only=np.array(cols[7], dtype=np.bool_),
    )


def per_call(book: OrderBook, b: Batch, i: int) -> tuple[int, int, int, int] | type[Exception]:
    """Op ``i`` of ``b`` through the per-call API: its outcome, or the type of error it raised."""
    op, oid = int(b.op[i]), int(b.order_id[i])
    side, price, qty = int(b.side[i]), int(b.price[i]), int(b.qty[i])
    tif = None if b.tif is None else int(b.tif[i])
    stop = None if b.stop_price is None else int(b.stop_price[i])
    post_only = False if b.post_only is None else bool(b.post_only[i])
    try:
        if op == Op.LIMIT:
            return book.submit_limit(oid, side, price, qty, 0 if tif is None else tif, post_only)
        if op == Op.MARKET:
            return book.submit_market(oid, side, qty, TimeInForce.IOC if tif is None else tif)
        if op == Op.CANCEL:
            return book.cancel(oid)
        if op == Op.REDUCE:
            return book.reduce(oid, qty)
        if op == Op.MODIFY:
            return book.modify(oid, price, qty)
        assert op in (Op.STOP, Op.STOP_LIMIT)
        assert stop is not None
        limit = price if op == Op.STOP_LIMIT else None
        return book.submit_stop(oid, side, stop, qty, limit, 0 if tif is None else tif)
    except FillforgeError as e:
        return type(e)


def rows(cols: tuple[np.ndarray, ...]) -> list[tuple[int, ...]]:
    return [tuple(int(v) for v in r) for r in zip(*cols, strict=True)]


def snapshot(book: OrderBook, ids: range) -> dict[str, Any]:
    return {
        "bids": rows(book.depth(BUY, 10_000)),
        "asks": rows(book.depth(SELL, 10_000)),
        "orders": [book.order(i) for i in ids],
        "stops": [book.is_stop_pending(i) for i in ids],
        "counts": (len(book), book.stop_count, book.fill_count),
        "last_trade": book.last_trade_price,
    }


def assert_batch_equals_per_call(batch: Batch, batch_book: OrderBook, call_book: OrderBook) -> None:
    """Apply ``batch`` to ``batch_book`` at once and op by op to ``call_book``; compare."""
    res = batch.apply(batch_book)
    assert len(res) == len(batch)
    want_fills: list[tuple[int, ...]] = []
    want_events: list[tuple[int, ...]] = []
    valid_ops = {int(o) for o in Op}
    for i in range(len(batch)):
        got = (int(res.status[i]), int(res.reason[i]), int(res.filled[i]), int(res.remaining[i]))
        if int(batch.op[i]) not in valid_ops:  # no per-call equivalent
            assert got == (Status.REJECTED, Reason.INVALID_OP, 0, max(int(batch.qty[i]), 0))
            continue
        want = per_call(call_book, batch, i)
        if isinstance(want, tuple):
            assert got == want, f"op {i}"
        elif batch.op[i] in (Op.STOP, Op.STOP_LIMIT) and batch.stop_price is None:
            raise AssertionError("stop ops need the stop_price column")  # not generated below
        else:
            assert got[0] == Status.REJECTED, f"op {i} raised {want.__name__} per call"
            assert got[1] in REASON_FOR[want], f"op {i}: {Reason(got[1]).name} for {want.__name__}"
            assert error_for_reason(got[1]) is want, f"op {i}: {Reason(got[1]).name}"
            assert got[2:] == (0, max(int(batch.qty[i]), 0))
        want_fills += [(i, *f) for f in rows(call_book.take_fills())]
        want_events += [(i, *e) for e in rows(call_book.take_events())]
    got_fills = rows(
        (
            res.fill_op,
            res.fill_taker,
            res.fill_maker,
            res.fill_price,
            res.fill_qty,
            res.fill_maker_remaining,
        )
    )
    got_events = rows(
        (
            res.event_op,
            res.event_order_id,
            res.event_status,
            res.event_reason,
            res.event_filled,
            res.event_remaining,
        )
    )
    assert got_fills == want_fills
    assert got_events == want_events


def random_batch(seed: int, n: int, *, tick: int = 1, lot: int = 1, ids: int = 40) -> Batch:
    """A seeded mix of every op, with a small id space and some invalid values."""
    rng = np.random.default_rng(seed)
    op = rng.choice(
        np.array([Op.LIMIT, Op.MARKET, Op.CANCEL, Op.REDUCE, Op.MODIFY, Op.STOP, Op.STOP_LIMIT, 9]),
        size=n,
        p=[0.45, 0.06, 0.15, 0.08, 0.12, 0.06, 0.06, 0.02],
    ).astype(np.uint8)
    order_id = rng.integers(1, ids + 1, size=n).astype(np.uint64)
    side = rng.choice(np.array([1, -1, 0, 2]), size=n, p=[0.49, 0.49, 0.01, 0.01]).astype(np.int8)
    mid = 100
    passive = rng.integers(-2, 6, size=n)  # > 0: on the passive side of the mid
    price = (mid - side.astype(np.int64) * passive) * tick
    price[rng.random(n) < 0.02] += 1  # off the grid when tick > 1
    qty = rng.integers(1, 10, size=n) * lot
    qty[rng.random(n) < 0.02] = 0
    qty[rng.random(n) < 0.02] = -lot
    qty[rng.random(n) < 0.02] += 1  # off the lot when lot > 1
    tif = rng.choice(np.array([0, 1, 2, 3, 7]), size=n, p=[0.55, 0.2, 0.12, 0.12, 0.01])
    stop_price = (mid + rng.integers(-4, 5, size=n)) * tick
    post_only = rng.random(n) < 0.1
    return Batch(
        op=op,
        order_id=order_id,
        side=side,
        price=price.astype(np.int64),
        qty=qty.astype(np.int64),
        tif=tif.astype(np.uint8),
        stop_price=stop_price.astype(np.int64),
        post_only=post_only,
    )


# ----- equivalence with the per-call API -----------------------------------------------------


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize(("tick", "lot"), [(1, 1), (5, 10)])
def test_batch_equals_per_call(seed: int, tick: int, lot: int) -> None:
    batch = random_batch(seed, 3000, tick=tick, lot=lot)
    a, b = OrderBook(tick=tick, lot=lot), OrderBook(tick=tick, lot=lot)
    assert_batch_equals_per_call(batch, a, b)
    assert snapshot(a, range(45)) == snapshot(b, range(45))
    # The random mix exercised what it should.
    res = batch.apply(OrderBook(tick=tick, lot=lot))
    statuses = set(res.status.tolist())
    assert {Status.RESTING, Status.FILLED, Status.CANCELED, Status.REJECTED} <= statuses
    assert len(res.fill_qty) > 100


@pytest.mark.parametrize("chunk", [1, 7, 500])
def test_batches_in_chunks_equal_one_batch(chunk: int) -> None:
    batch = random_batch(11, 1500)
    whole, parts = OrderBook(), OrderBook()
    res = batch.apply(whole)
    status: list[int] = []
    fills: list[tuple[int, ...]] = []
    for lo in range(0, len(batch), chunk):
        part = batch.slice(lo, lo + chunk).apply(parts)
        status += part.status.tolist()
        fills += [(lo + int(i), int(q)) for i, q in zip(part.fill_op, part.fill_qty, strict=True)]
    assert status == res.status.tolist()
    assert fills == list(zip(res.fill_op.tolist(), res.fill_qty.tolist(), strict=True))
    assert snapshot(whole, range(45)) == snapshot(parts, range(45))


def test_batch_with_more_fills_than_the_internal_flush_threshold() -> None:
    # 5000 one-lot asks, then one market buy that takes them all: 5000 fills from a single op,
    # then more ops with fills after it.
    n = 5000
    rows_ = [(Op.LIMIT, i, SELL, 100 + i % 7, 1, 0, 0, False) for i in range(1, n + 1)]
    rows_ += [(Op.MARKET, n + 1, BUY, 0, n - 10, 2, 0, False)]
    rows_ += [(Op.LIMIT, n + 2 + k, BUY, 106, 1, 0, 0, False) for k in range(10)]
    batch = make_batch(rows_)
    a, b = OrderBook(), OrderBook()
    assert_batch_equals_per_call(batch, a, b)
    assert a.best_ask() is None
    assert snapshot(a, range(n + 20)) == snapshot(b, range(n + 20))


def test_default_time_in_force_without_the_tif_column() -> None:
    batch = make_batch(
        [
            (Op.LIMIT, 1, SELL, 101, 5, 0, 0, False),
            (Op.MARKET, 2, BUY, 0, 8, 0, 0, False),
            (Op.LIMIT, 3, BUY, 100, 5, 0, 0, False),
        ],
        tif=False,
    )
    res = batch.apply(OrderBook())
    # Limit defaults to GTC (rests), market to IOC (remainder canceled).
    assert res.status.tolist() == [Status.RESTING, Status.CANCELED, Status.RESTING]
    assert res.reason.tolist() == [Reason.NONE, Reason.IOC_REMAINDER, Reason.NONE]
    assert res.filled.tolist() == [0, 5, 0]
    assert res.remaining.tolist() == [5, 3, 5]


def test_result_dtypes_and_empty_batch() -> None:
    res = make_batch([]).apply(OrderBook())
    assert len(res) == 0
    expected = {
        "status": np.uint8,
        "reason": np.uint8,
        "filled": np.int64,
        "remaining": np.int64,
        "fill_op": np.uint32,
        "fill_taker": np.uint64,
        "fill_maker": np.uint64,
        "fill_price": np.int64,
        "fill_qty": np.int64,
        "fill_maker_remaining": np.int64,
        "event_op": np.uint32,
        "event_order_id": np.uint64,
        "event_status": np.uint8,
        "event_reason": np.uint8,
        "event_filled": np.int64,
        "event_remaining": np.int64,
    }
    for name, dtype in expected.items():
        arr = getattr(res, name)
        assert arr.dtype == dtype, name
        assert arr.shape == (0,), name


def test_batch_leaves_earlier_per_call_fills_and_events_in_the_book() -> None:
    book = OrderBook()
    book.submit_limit(1, SELL, 100, 5, tif=TimeInForce.DAY)
    book.submit_limit(2, BUY, 100, 2)  # one fill, not taken
    book.expire_day()  # one event, not taken
    res = make_batch(
        [(Op.LIMIT, 3, SELL, 100, 5, 0, 0, False), (Op.LIMIT, 4, BUY, 100, 5, 0, 0, False)]
    ).apply(book)
    assert rows((res.fill_op, res.fill_taker, res.fill_maker, res.fill_qty)) == [(1, 4, 3, 5)]
    assert book.fill_count == 1
    assert rows(book.take_fills()) == [(2, 1, 100, 2, 3)]
    assert rows(book.take_events()) == [(1, Status.EXPIRED, Reason.DAY_EXPIRED, 0, 3)]


# ----- per-op validation: rejected, nothing changed, the batch goes on -----------------------


def test_invalid_ops_are_rejected_with_their_reason_and_change_nothing() -> None:
    book = OrderBook(tick=5, lot=10)
    L, M, C, R, X = Op.LIMIT, Op.MARKET, Op.CANCEL, Op.REDUCE, Op.MODIFY  # noqa: N806
    S, SL = Op.STOP, Op.STOP_LIMIT  # noqa: N806
    cases: list[tuple[tuple[Any, ...], Reason | None]] = [
        ((L, 1, BUY, 100, 50, 0, 0, False), None),  # valid: rests
        ((S, 2, SELL, 90, 20, 0, 90, False), None),  # valid: held stop
        ((L, 1, SELL, 200, 10, 0, 0, False), Reason.DUPLICATE_ORDER_ID),
        ((L, 2, SELL, 200, 10, 0, 0, False), Reason.DUPLICATE_ORDER_ID),  # a held stop's id
        ((C, 7, 0, 0, 0, 0, 0, False), Reason.UNKNOWN_ORDER),
        ((R, 7, 0, 0, 10, 0, 0, False), Reason.UNKNOWN_ORDER),
        ((X, 7, 0, 100, 10, 0, 0, False), Reason.UNKNOWN_ORDER),
        ((L, 3, BUY, 100, 0, 0, 0, False), Reason.INVALID_QUANTITY),
        ((L, 3, BUY, 100, -10, 0, 0, False), Reason.INVALID_QUANTITY),
        ((L, 3, BUY, 101, 10, 0, 0, False), Reason.PRICE_OFF_GRID),
        ((L, 3, BUY, (1 << 62) + 5, 10, 0, 0, False), Reason.INVALID_PRICE),
        ((L, 3, BUY, 100, 15, 0, 0, False), Reason.QUANTITY_OFF_GRID),
        ((L, 3, 2, 100, 10, 0, 0, False), Reason.INVALID_SIDE),
        ((M, 3, 0, 0, 10, 2, 0, False), Reason.INVALID_SIDE),
        ((L, 3, BUY, 100, 10, 9, 0, False), Reason.INVALID_TIME_IN_FORCE),
        ((L, 3, BUY, 100, 10, 2, 0, True), Reason.INVALID_ORDER),  # post-only IOC
        ((99, 3, BUY, 100, 10, 0, 0, False), Reason.INVALID_OP),
        ((R, 1, 0, 0, 60, 0, 0, False), Reason.INVALID_QUANTITY),  # beyond open qty
        ((R, 2, 0, 0, 30, 0, 0, False), Reason.INVALID_QUANTITY),  # beyond the stop's qty
        ((X, 2, 0, 95, 20, 0, 0, False), Reason.INVALID_ORDER),  # a held stop
        ((X, 1, 0, 102, 50, 0, 0, False), Reason.PRICE_OFF_GRID),
        ((S, 3, SELL, 0, 10, 0, 93, False), Reason.PRICE_OFF_GRID),  # stop price
        ((SL, 3, SELL, 91, 10, 0, 90, False), Reason.PRICE_OFF_GRID),  # limit price
        ((L, 4, SELL, 105, 10, 0, 0, False), None),  # valid, after all the rejections
    ]
    batch = make_batch([row for row, _ in cases])
    reference = OrderBook(tick=5, lot=10)
    res = batch.apply(book)
    for i, (row, reason) in enumerate(cases):
        if reason is None:
            continue
        assert res.status[i] == Status.REJECTED, f"op {i}"
        assert res.reason[i] == reason, f"op {i}: {Reason(int(res.reason[i])).name}"
        assert res.filled[i] == 0
        assert res.remaining[i] == max(row[4], 0)
    assert res.status[[0, 1, len(cases) - 1]].tolist() == [
        Status.RESTING,
        Status.PENDING,
        Status.RESTING,
    ]
    assert len(res.fill_qty) == 0
    assert len(res.event_op) == 0
    # Only the three valid ops changed the book.
    only_valid = make_batch([row for row, reason in cases if reason is None])
    only_valid.apply(reference)
    assert snapshot(book, range(10)) == snapshot(reference, range(10))


def test_stop_ops_without_the_stop_price_column_are_rejected() -> None:
    batch = make_batch(
        [
            (Op.STOP, 1, BUY, 0, 5, 0, 0, False),
            (Op.STOP_LIMIT, 2, BUY, 101, 5, 0, 0, False),
            (Op.LIMIT, 3, BUY, 100, 5, 0, 0, False),
        ],
        stops=False,
    )
    book = OrderBook()
    res = batch.apply(book)
    assert res.status.tolist() == [Status.REJECTED, Status.REJECTED, Status.RESTING]
    assert res.reason.tolist() == [Reason.INVALID_ORDER, Reason.INVALID_ORDER, Reason.NONE]
    assert book.stop_count == 0


# ----- structural errors: BatchInputError before anything is applied ------------------------


def good_columns() -> dict[str, Any]:
    """A valid 3-op batch whose first op would rest an order if anything were applied."""
    b = make_batch(
        [
            (Op.LIMIT, 1, BUY, 100, 5, 0, 0, False),
            (Op.LIMIT, 2, SELL, 101, 5, 0, 0, False),
            (Op.STOP, 3, BUY, 0, 5, 0, 105, False),
        ]
    )
    return {
        "op": b.op,
        "order_id": b.order_id,
        "side": b.side,
        "price": b.price,
        "qty": b.qty,
        "tif": b.tif,
        "stop_price": b.stop_price,
        "post_only": b.post_only,
    }


def _wider(a: np.ndarray) -> np.ndarray:
    """Same values, every other element of a twice-as-long array: a non-contiguous view."""
    return np.repeat(a, 2)[::2]


BAD_COLUMNS: list[tuple[str, str, Any]] = [
    ("int32 price", "price", lambda c: c["price"].astype(np.int32)),
    ("float qty", "qty", lambda c: c["qty"].astype(np.float64)),
    ("int64 op", "op", lambda c: c["op"].astype(np.int64)),
    ("int64 side", "side", lambda c: c["side"].astype(np.int64)),
    ("int64 order_id", "order_id", lambda c: c["order_id"].astype(np.int64)),
    ("int64 tif", "tif", lambda c: c["tif"].astype(np.int64)),
    ("int8 post_only", "post_only", lambda c: c["post_only"].astype(np.int8)),
    ("float stop_price", "stop_price", lambda c: c["stop_price"].astype(np.float64)),
    ("short price", "price", lambda c: c["price"][:2].copy()),
    ("long qty", "qty", lambda c: np.append(c["qty"], 5)),
    ("short tif", "tif", lambda c: c["tif"][:1].copy()),
    ("short stop_price", "stop_price", lambda c: c["stop_price"][:2].copy()),
    ("2-D price", "price", lambda c: c["price"].reshape(1, -1)),
    ("non-contiguous qty", "qty", lambda c: _wider(c["qty"])),
    ("non-contiguous op", "op", lambda c: _wider(c["op"])),
    ("list price", "price", lambda c: c["price"].tolist()),
    ("list order_id", "order_id", lambda c: c["order_id"].tolist()),
    ("scalar side", "side", lambda c: np.int8(1)),
]


@pytest.mark.parametrize(
    ("case", "column", "corrupt"), BAD_COLUMNS, ids=[b[0] for b in BAD_COLUMNS]
)
def test_structural_errors_raise_before_anything_is_applied(
    case: str, column: str, corrupt: Any
) -> None:
    book = OrderBook()
    book.submit_limit(50, BUY, 90, 1)
    before = snapshot(book, range(60))
    cols = good_columns()
    cols[column] = corrupt(cols)
    with pytest.raises(BatchInputError, match=rf"^{column}: ") as info:
        book.apply_batch(
            cols["op"],
            cols["order_id"],
            cols["side"],
            cols["price"],
            cols["qty"],
            tif=cols["tif"],
            stop_price=cols["stop_price"],
            post_only=cols["post_only"],
        )
    assert column in str(info.value)
    assert snapshot(book, range(60)) == before
    # The same batch with good columns applies fine.
    good = good_columns()
    res = book.apply_batch(
        good["op"], good["order_id"], good["side"], good["price"], good["qty"], tif=good["tif"]
    )
    assert res.status.tolist()[:2] == [Status.RESTING, Status.RESTING]


def test_dtype_error_message_names_expected_and_actual_dtype() -> None:
    cols = good_columns()
    with pytest.raises(BatchInputError, match=r"price: expected a 1-D numpy array of int64.*int32"):
        OrderBook().apply_batch(
            cols["op"], cols["order_id"], cols["side"], cols["price"].astype(np.int32), cols["qty"]
        )


def test_readonly_columns_are_accepted() -> None:
    cols = good_columns()
    for name in ("op", "order_id", "side", "price", "qty"):
        cols[name].setflags(write=False)
    res = OrderBook().apply_batch(
        cols["op"], cols["order_id"], cols["side"], cols["price"], cols["qty"]
    )
    assert res.status.tolist() == [Status.RESTING, Status.RESTING, Status.REJECTED]
    assert res.reason[2] == Reason.INVALID_ORDER  # STOP without the stop_price column
