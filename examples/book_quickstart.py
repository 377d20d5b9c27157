"""A tour of fillforge.OrderBook: per-call orders, queries, fills in bulk, and a numpy batch.

Run: ``python examples/book_quickstart.py``. It is type-checked with ``mypy --strict`` in CI, as
a check that the stubs serve real code.
"""

from __future__ import annotations

import numpy as np

import fillforge as ff
from fillforge import Op, Reason, Side, Status, TimeInForce


def per_call() -> None:
    book = ff.OrderBook(tick=1, lot=1)
    book.submit_limit(1, Side.BUY, 99, 10)
    book.submit_limit(2, Side.BUY, 99, 5)
    book.submit_limit(3, Side.SELL, 101, 7)
    status, reason, filled, remaining = book.submit_limit(4, Side.SELL, 99, 12, TimeInForce.IOC)
    print(f"IOC sell 12 @ 99: {Status(status).name}, filled {filled}, left {remaining}")

    taker, maker, price, qty, maker_left = book.take_fills()
    for t, m, p, q, r in zip(taker, maker, price, qty, maker_left, strict=True):
        print(f"  fill: taker {t} maker {m} {q} @ {p} (maker has {r} left)")

    # Quantity decrease at the same price keeps priority; a price change loses it.
    print("order 2 before:", book.order(2))
    book.modify(2, 99, 2)
    print("order 2 after reduce-by-modify:", book.order(2))

    status, reason, _, _ = book.submit_limit(5, Side.BUY, 101, 1, post_only=True)
    print(f"post-only buy at the ask: {Status(status).name} ({Reason(reason).name})")

    try:
        book.cancel(42)
    except ff.UnknownOrderError as err:
        print("cancel of an unknown id:", err)

    prices, sizes, counts = book.depth(Side.BUY, 5)
    print("bids:", list(zip(prices.tolist(), sizes.tolist(), counts.tolist(), strict=True)))


def batch() -> None:
    book = ff.OrderBook()
    n = 6
    result = book.apply_batch(
        op=np.array([Op.LIMIT, Op.LIMIT, Op.LIMIT, Op.MARKET, Op.CANCEL, Op.CANCEL], np.uint8),
        order_id=np.arange(1, n + 1, dtype=np.uint64),
        side=np.array([1, 1, -1, -1, 0, 0], np.int8),
        price=np.array([100, 99, 102, 0, 0, 0], np.int64),
        qty=np.array([5, 5, 5, 7, 0, 0], np.int64),
    )
    # The last two cancel ids 5 and 6, which never rested: rejected rows, not an exception.
    for i in range(n):
        s, r = Status(int(result.status[i])), Reason(int(result.reason[i]))
        print(f"op {i}: {s.name:9} {r.name:14} filled {int(result.filled[i])}")
    print("fills (op, maker, price, qty):")
    columns = (result.fill_op, result.fill_maker, result.fill_price, result.fill_qty)
    for row in zip(*columns, strict=True):
        print("  ", tuple(int(x) for x in row))


if __name__ == "__main__":
    per_call()
    batch()
