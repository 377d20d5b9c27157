"""pytest-benchmark benchmarks of the Python/Rust boundary.

``pytest benches/ --benchmark-enable`` times them; with benchmarks disabled (the project default)
each runs once, as a quick test, and its assertions still check the results.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from compare_books import LIMIT, generate, run_fillforge, run_sorted, to_columns
from sorted_book import SortedBook

from fillforge import OrderBook, Reason, Status

BATCH_OPS = 10_000


def resting_book(n: int = 200) -> OrderBook:
    """A book with ``n`` orders resting on each side around 10 000."""
    book = OrderBook(capacity=4 * n)
    for i in range(n):
        book.submit_limit(1_000_000 + i, 1, 9_999 - i % 20, 10)
        book.submit_limit(2_000_000 + i, -1, 10_001 + i % 20, 10)
    return book


@pytest.fixture(scope="module")
def workload() -> Any:
    return generate(BATCH_OPS, seed=7)


def test_noop_call(benchmark: Any) -> None:
    book = OrderBook()
    result = benchmark(book._noop_args, 5, 1, 100, 7)
    assert result[3] == 7


def test_submit_cancel_pair(benchmark: Any) -> None:
    book = resting_book()
    submit, cancel = book.submit_limit, book.cancel

    def pair() -> tuple[tuple[int, int, int, int], tuple[int, int, int, int]]:
        return submit(1, 1, 9_990, 5), cancel(1)

    placed, canceled = benchmark(pair)
    assert placed == (Status.RESTING, Reason.NONE, 0, 5)
    assert canceled == (Status.CANCELED, Reason.USER, 0, 5)
    assert len(book) == 400


def test_submit_cancel_pair_sortedcontainers(benchmark: Any) -> None:
    book = SortedBook()
    for i in range(200):
        book.limit(1_000_000 + i, 1, 9_999 - i % 20, 10)
        book.limit(2_000_000 + i, -1, 10_001 + i % 20, 10)

    def pair() -> tuple[tuple[int, int, int, int], tuple[int, int, int, int]]:
        return book.limit(1, 1, 9_990, 5), book.cancel(1)

    placed, canceled = benchmark(pair)
    assert placed == (Status.RESTING, Reason.NONE, 0, 5)
    assert canceled == (Status.CANCELED, Reason.USER, 0, 5)


def test_batch_10k_ops(benchmark: Any, workload: Any) -> None:
    cols = workload.columns

    def setup() -> tuple[tuple[Any, ...], dict[str, Any]]:
        args = (OrderBook(capacity=1_000), cols)
        return args, {}

    def run(book: OrderBook, cols: dict[str, np.ndarray]) -> Any:
        return book.apply_batch(
            cols["op"], cols["order_id"], cols["side"], cols["price"], cols["qty"], tif=cols["tif"]
        )

    res = benchmark.pedantic(run, setup=setup, rounds=20)
    assert len(res) == BATCH_OPS
    # New limit orders are never rejected in this workload; only cancels of dead ids are.
    is_limit = np.array([r[0] == LIMIT for r in workload.rows])
    assert not np.any(res.status[is_limit] == Status.REJECTED)
    assert np.all(res.reason[res.status == Status.REJECTED] == Reason.UNKNOWN_ORDER)
    assert len(res.fill_qty) > 0


def test_batch_10k_ops_with_column_preparation(benchmark: Any, workload: Any) -> None:
    rows = workload.rows

    def setup() -> tuple[tuple[Any, ...], dict[str, Any]]:
        return (OrderBook(capacity=1_000),), {}

    def run(book: OrderBook) -> Any:
        cols = to_columns(rows)
        return book.apply_batch(
            cols["op"], cols["order_id"], cols["side"], cols["price"], cols["qty"], tif=cols["tif"]
        )

    res = benchmark.pedantic(run, setup=setup, rounds=20)
    assert len(res) == BATCH_OPS


def test_per_call_10k_ops(benchmark: Any, workload: Any) -> None:
    def setup() -> tuple[tuple[Any, ...], dict[str, Any]]:
        return (workload.rows, OrderBook(capacity=1_000)), {}

    rejected = benchmark.pedantic(run_fillforge, setup=setup, rounds=10)
    # The same number of rejected cancels as the batch and the plain-Python book see.
    expected = to_columns(workload.rows)
    res = OrderBook().apply_batch(
        expected["op"],
        expected["order_id"],
        expected["side"],
        expected["price"],
        expected["qty"],
        tif=expected["tif"],
    )
    assert rejected == int(np.count_nonzero(res.status == Status.REJECTED))


def test_sortedcontainers_10k_ops(benchmark: Any, workload: Any) -> None:
    def setup() -> tuple[tuple[Any, ...], dict[str, Any]]:
        return (workload.rows, SortedBook()), {}

    def run(rows: Any, book: SortedBook) -> SortedBook:
        run_sorted(rows, book)
        return book

    book = benchmark.pedantic(run, setup=setup, rounds=5)
    assert book.rejected > 0
    assert len(book.fills) > 0
