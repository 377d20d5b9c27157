"""fillforge against a plain-Python ``sortedcontainers`` book, on one seeded workload.

Run: ``python benches/compare_books.py [--ops 200000] [--seed 7] [--repeats 5] [--deep] [--json]``.

The workload (numpy ``Generator``, seeded; :data:`SHALLOW`) is generated once, then replayed by
every contestant:

- 60% new GTC limit orders around a fixed mid, offset from it by a normally distributed number
  of ticks (mostly passive, some crossing);
- 30% cancels of an earlier limit order id. While more than ``TARGET_RESTING`` orders rest, the
  target is a live order (so the book stays at a few hundred orders, as a real one would);
  otherwise any earlier id, often one already filled or canceled. A cancel of an id that is no
  longer live is a *rejected* op in every contestant, never an error that stops the run;
- 10% marketable orders, half IOC limits through the touch, half market orders.

To pick live cancel targets the generator simulates the book with the sortedcontainers book
(untimed): the workload is fixed before any timing starts and is the same for everyone.

Contestants, each timed on a fresh book, best of ``--repeats`` (garbage collector off while
timed):

(a) ``python loop``: the replay loop dispatching to no-op Python functions (the floor);
(b) ``no-op PyO3 call``: the same loop calling ``OrderBook._noop_args`` for every op (the cost of
    crossing the Python/Rust boundary with these arguments, doing nothing);
(c) ``sortedcontainers``: :class:`sorted_book.SortedBook`;
(d) ``fillforge per call``: ``submit_limit``/``submit_market``/``try_cancel`` in a Python loop.
    A cancel of an id that is no longer live returns ``(REJECTED, UNKNOWN_ORDER, 0, 0)`` from
    ``try_cancel`` (``cancel`` would raise ``UnknownOrderError``, which costs more than the cancel
    itself); the loop counts them (the book is the only authority on liveness);
(e) ``fillforge batch``: one ``apply_batch`` call on numpy columns prepared beforehand; also
    timed including building the columns from the Python op list.

After timing, (c), (d) and (e) must agree exactly on every outcome, every fill and the final book
(both sides' depth, each resting order's price, size and queue position), and on the number of
rejected cancels; the script exits non-zero otherwise.

``--deep`` adds a second workload, :data:`DEEP` (issue 15's deep book): the same generator with
70% limit orders offset by round(N(5.5, 6)) ticks (more passive), 20% cancels, always of any
earlier limit id (no live targeting, so most hit orders already gone or still resting deep in
the queue), 10% takers as above. About 38,000 orders rest at the end of 200,000 ops, on ~27
levels a side. Only the batch API is timed on it, alternately with the shallow batch in the same
process (best of ``--repeats`` each), so the ratio deep/shallow is the figure to compare across
machines; the deep workload is checked like the shallow one first.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import chain
from typing import Any

import numpy as np

import fillforge
from fillforge import Op, OrderBook, Status, UnknownOrderError

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from sorted_book import SortedBook

LIMIT, IOC, MARKET, CANCEL = 0, 1, 2, 3  # workload kinds
REJECTED = int(Status.REJECTED)
MID = 10_000
TARGET_RESTING = 300
IOC_THROUGH = 5  # IOC limits are priced this many ticks through the mid


@dataclass(frozen=True)
class Shape:
    """The parameters of a workload; the rest of the generator is fixed.

    A uniform draw ``u`` below ``limit`` makes a GTC limit order, else below ``cancel`` a cancel,
    else below ``ioc`` an IOC limit, else a market order. Limit orders sit round(N(offset_mean,
    offset_sd)) ticks from the mid toward the passive side. While more than ``target_resting``
    orders rest a cancel targets a live order (``None``: never, always any earlier limit id).
    """

    limit: float
    cancel: float
    ioc: float
    offset_mean: float
    offset_sd: float
    target_resting: int | None


SHALLOW = Shape(0.6, 0.9, 0.95, 2.0, 6.0, TARGET_RESTING)
DEEP = Shape(0.7, 0.9, 0.95, 5.5, 6.0, None)

OpRow = tuple[int, int, int, int, int]  # (kind, order_id, side, price, qty)


# ----- workload --------------------------------------------------------------------------------


@dataclass
class Workload:
    rows: list[OpRow]
    columns: dict[str, np.ndarray]
    resting_trace: list[int] = field(default_factory=list)


def to_columns(rows: list[OpRow]) -> dict[str, np.ndarray]:
    """The batch columns for ``rows`` (what a caller holding Python lists has to do)."""
    # One pass over the tuples (about twice as fast as np.array(rows) or a zip per column).
    flat = chain.from_iterable(rows)
    m = np.fromiter(flat, dtype=np.int64, count=5 * len(rows)).reshape(-1, 5)
    kind = m[:, 0]
    return {
        "op": np.array([Op.LIMIT, Op.LIMIT, Op.MARKET, Op.CANCEL], dtype=np.uint8)[kind],
        "order_id": m[:, 1].astype(np.uint64),
        "side": m[:, 2].astype(np.int8),
        "price": np.ascontiguousarray(m[:, 3]),
        "qty": np.ascontiguousarray(m[:, 4]),
        "tif": np.where(kind == LIMIT, 0, 2).astype(np.uint8),
    }


def generate(n: int, seed: int, shape: Shape = SHALLOW) -> Workload:
    rng = np.random.default_rng(seed)
    u = rng.random(n)
    kinds = np.where(
        u < shape.limit,
        LIMIT,
        np.where(u < shape.cancel, CANCEL, np.where(u < shape.ioc, IOC, MARKET)),
    )
    sides = np.where(rng.random(n) < 0.5, 1, -1)
    offsets = np.rint(rng.normal(shape.offset_mean, shape.offset_sd, n)).astype(np.int64)
    limit_qty = rng.integers(1, 11, n)
    taker_qty = rng.integers(1, 11, n) * 4
    picks = rng.random(n)

    sim = SortedBook()
    live: list[int] = []  # ids resting in the simulation, for O(1) random choice
    where: dict[int, int] = {}
    submitted: list[int] = []  # every limit id so far

    def drop(oid: int) -> None:
        i = where.pop(oid)
        last = live.pop()
        if last != oid:
            live[i] = last
            where[last] = i

    rows: list[OpRow] = []
    trace: list[int] = []
    next_id = 1
    for i in range(n):
        kind = int(kinds[i])
        if kind == CANCEL and not submitted:
            kind = LIMIT
        side = int(sides[i])
        if kind == CANCEL:
            if shape.target_resting is not None and len(live) > shape.target_resting:
                oid = live[int(picks[i] * len(live))]
            else:
                oid = submitted[int(picks[i] * len(submitted))]
            row: OpRow = (CANCEL, oid, 1, 0, 0)
        else:
            oid, next_id = next_id, next_id + 1
            if kind == LIMIT:
                submitted.append(oid)
                row = (LIMIT, oid, side, MID - side * int(offsets[i]), int(limit_qty[i]))
            elif kind == IOC:
                row = (IOC, oid, side, MID + side * IOC_THROUGH, int(taker_qty[i]))
            else:
                row = (MARKET, oid, side, 0, int(taker_qty[i]))
        rows.append(row)
        # Simulate, to know which ids are live.
        mark = len(sim.fills)
        if kind == LIMIT:
            if sim.limit(oid, side, row[3], row[4])[0] == Status.RESTING:
                where[oid] = len(live)
                live.append(oid)
        elif kind == IOC:
            sim.limit(oid, side, row[3], row[4], True)
        elif kind == MARKET:
            sim.market(oid, side, row[4])
        elif sim.cancel(oid)[0] == Status.CANCELED:
            drop(oid)
        for f in sim.fills[mark:]:
            if f[4] == 0:
                drop(f[1])
        if i % 1000 == 0:
            trace.append(len(sim))
    return Workload(rows, to_columns(rows), trace)


# ----- contestants ---------------------------------------------------------------------------


def run_floor(rows: list[OpRow]) -> None:
    def limit(oid: int, side: int, price: int, qty: int) -> None:
        pass

    def ioc(oid: int, side: int, price: int, qty: int, tif: int) -> None:
        pass

    def market(oid: int, side: int, qty: int) -> None:
        pass

    def cancel(oid: int) -> None:
        pass

    for kind, oid, side, price, qty in rows:
        if kind == LIMIT:
            limit(oid, side, price, qty)
        elif kind == CANCEL:
            cancel(oid)
        elif kind == IOC:
            ioc(oid, side, price, qty, 2)
        else:
            market(oid, side, qty)


def run_noop_call(rows: list[OpRow], book: OrderBook) -> None:
    noop = book._noop_args
    for _kind, oid, side, price, qty in rows:
        noop(oid, side, price, qty)


def run_sorted(rows: list[OpRow], book: SortedBook) -> None:
    limit, market, cancel = book.limit, book.market, book.cancel
    for kind, oid, side, price, qty in rows:
        if kind == LIMIT:
            limit(oid, side, price, qty)
        elif kind == CANCEL:
            cancel(oid)
        elif kind == IOC:
            limit(oid, side, price, qty, True)
        else:
            market(oid, side, qty)


def run_fillforge(rows: list[OpRow], book: OrderBook) -> int:
    """Returns the number of rejected (unknown-id) cancels."""
    limit, market, cancel = book.submit_limit, book.submit_market, book.try_cancel
    rejected = 0
    for kind, oid, side, price, qty in rows:
        if kind == LIMIT:
            limit(oid, side, price, qty)
        elif kind == CANCEL:
            if cancel(oid)[0] == REJECTED:
                rejected += 1
        elif kind == IOC:
            limit(oid, side, price, qty, 2)
        else:
            market(oid, side, qty)
    return rejected


def run_batch(cols: dict[str, np.ndarray], book: OrderBook) -> fillforge.BatchResult:
    return book.apply_batch(
        cols["op"], cols["order_id"], cols["side"], cols["price"], cols["qty"], tif=cols["tif"]
    )


def best_of(repeats: int, setup: Callable[[], Any], run: Callable[[Any], Any]) -> tuple[float, Any]:
    """Best wall time of ``run(setup())`` over ``repeats`` runs (setup untimed), and its result."""
    times = []
    result: Any = None
    for _ in range(repeats):
        state = setup()
        gc.collect()
        gc.disable()
        try:
            t0 = time.perf_counter()
            result = run(state)
            times.append(time.perf_counter() - t0)
        finally:
            gc.enable()
    return min(times), result


# ----- checks --------------------------------------------------------------------------------


class MismatchError(AssertionError):
    """Two contestants disagree: the comparison is void."""


def fillforge_book_state(book: OrderBook, ids: range) -> tuple[Any, Any, Any]:
    bids = [tuple(map(int, r)) for r in zip(*book.depth(1, 10**9), strict=True)]
    asks = [tuple(map(int, r)) for r in zip(*book.depth(-1, 10**9), strict=True)]
    orders = {}
    for i in ids:
        info = book.order(i)
        if info is not None:
            orders[i] = (info[0], info[1], info[2], info[3])
    return bids, asks, orders


def check(work: Workload, n_ids: int) -> dict[str, Any]:
    """Replay once more (untimed) recording outcomes; everything must agree exactly."""
    rows = work.rows
    ids = range(1, n_ids + 1)

    sb = SortedBook()
    s_out: list[tuple[int, int, int, int]] = []
    for kind, oid, side, price, qty in rows:
        if kind == LIMIT:
            s_out.append(sb.limit(oid, side, price, qty))
        elif kind == CANCEL:
            s_out.append(sb.cancel(oid))
        elif kind == IOC:
            s_out.append(sb.limit(oid, side, price, qty, True))
        else:
            s_out.append(sb.market(oid, side, qty))

    fb = OrderBook()
    f_out: list[tuple[int, int, int, int]] = []
    f_rejected = 0
    for kind, oid, side, price, qty in rows:
        if kind == LIMIT:
            f_out.append(fb.submit_limit(oid, side, price, qty))
        elif kind == CANCEL:
            try:
                f_out.append(fb.cancel(oid))
            except UnknownOrderError:
                f_rejected += 1
                f_out.append((Status.REJECTED, fillforge.Reason.UNKNOWN_ORDER, 0, 0))
        elif kind == IOC:
            f_out.append(fb.submit_limit(oid, side, price, qty, 2))
        else:
            f_out.append(fb.submit_market(oid, side, qty))

    bb = OrderBook()
    res = run_batch(work.columns, bb)
    b_out = list(
        zip(
            res.status.tolist(),
            res.reason.tolist(),
            res.filled.tolist(),
            res.remaining.tolist(),
            strict=True,
        )
    )

    def first_difference(a: list[Any], b: list[Any]) -> str:
        for i, (x, y) in enumerate(zip(a, b, strict=False)):
            if x != y:
                return f"first difference at {i}: {x} != {y}"
        return f"lengths {len(a)} != {len(b)}"

    if s_out != f_out:
        raise MismatchError(
            f"outcomes sortedcontainers vs per-call: {first_difference(s_out, f_out)}"
        )
    if f_out != b_out:
        raise MismatchError(f"outcomes per-call vs batch: {first_difference(f_out, b_out)}")

    s_fills = np.array(sb.fills, dtype=np.int64).reshape(-1, 5)
    f_fills = np.column_stack([a.astype(np.int64) for a in fb.take_fills()]).reshape(-1, 5)
    b_fills = np.column_stack(
        [
            res.fill_taker.astype(np.int64),
            res.fill_maker.astype(np.int64),
            res.fill_price,
            res.fill_qty,
            res.fill_maker_remaining,
        ]
    ).reshape(-1, 5)
    for name, other in (("per-call", f_fills), ("batch", b_fills)):
        if s_fills.shape != other.shape or not np.array_equal(s_fills, other):
            raise MismatchError(
                f"fills sortedcontainers vs {name}: "
                f"{first_difference(s_fills.tolist(), other.tolist())}"
            )

    s_state = (sb.depth(1), sb.depth(-1), sb.order_info())
    for name, book in (("per-call", fb), ("batch", bb)):
        state = fillforge_book_state(book, ids)
        if state != s_state:
            raise MismatchError(f"final book sortedcontainers vs {name} differs")

    b_rejected = int(np.count_nonzero(res.status == Status.REJECTED))
    if not sb.rejected == f_rejected == b_rejected:
        raise MismatchError(f"rejected cancels: {sb.rejected}, {f_rejected}, {b_rejected}")
    return {
        "fills": len(sb.fills),
        "rejected_cancels": sb.rejected,
        "resting_at_end": len(sb),
        "levels_at_end": [len(s_state[0]), len(s_state[1])],
    }


# ----- report --------------------------------------------------------------------------------


def report(results: dict[str, float], n: int) -> list[dict[str, Any]]:
    base_sorted = results["sortedcontainers"]
    base_noop = results["no-op PyO3 call"]
    table = []
    for name, t in results.items():
        table.append(
            {
                "name": name,
                "best_s": t,
                "ops_per_s": n / t,
                "ns_per_op": t / n * 1e9,
                "speedup_vs_sorted": base_sorted / t,
                "cost_vs_noop_call": t / base_noop,
            }
        )
    return table


def print_table(table: list[dict[str, Any]], meta: dict[str, Any]) -> None:
    headers = [
        "contestant",
        "best s",
        "ops/s",
        "ns/op",
        "vs sorted (x faster)",
        "vs no-op call (x)",
    ]
    body = [
        [
            r["name"],
            f"{r['best_s']:.4f}",
            f"{r['ops_per_s']:,.0f}",
            f"{r['ns_per_op']:,.0f}",
            f"{r['speedup_vs_sorted']:.2f}",
            f"{r['cost_vs_noop_call']:.2f}",
        ]
        for r in table
    ]
    title = (
        f"{meta['ops']:,} ops (seed {meta['seed']}), best of {meta['repeats']}; "
        f"{meta['check']['fills']:,} fills, {meta['check']['rejected_cancels']:,} rejected "
        f"cancels, ~{meta['resting_mean']:.0f} orders resting on average"
    )
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        print(title)
        widths = [max(len(str(x)) for x in col) for col in zip(headers, *body, strict=True)]
        for line in (headers, *body):
            print("  ".join(str(x).rjust(w) for x, w in zip(line, widths, strict=True)))
        return
    t = Table(title=title)
    for i, h in enumerate(headers):
        t.add_column(h, justify="left" if i == 0 else "right")
    for line in body:
        t.add_row(*line)
    console = Console()
    if not console.is_terminal:
        console = Console(width=120)
    console.print(t)


DEEP_CAPACITY = 40_000  # the deep workload's resting orders, rounded up


def measure_deep(
    shallow: Workload, deep: Workload, repeats: int, capacity: int
) -> list[dict[str, Any]]:
    """Batch rates on both workloads, taking turns in each round; best of ``repeats`` each."""
    runs: dict[str, tuple[Workload, int]] = {
        "fillforge batch, shallow": (shallow, capacity),
        "fillforge batch, deep": (deep, capacity),
        f"fillforge batch, deep, capacity={DEEP_CAPACITY:,}": (deep, DEEP_CAPACITY),
    }
    best: dict[str, float] = {}
    for _ in range(repeats):
        for name, (work, cap) in runs.items():
            cols = work.columns
            t, _ = best_of(
                1, lambda cap=cap: OrderBook(capacity=cap), lambda b, c=cols: run_batch(c, b)
            )
            best[name] = min(t, best.get(name, t))
    base = best["fillforge batch, shallow"]
    table = []
    for name, t in best.items():
        n = len(runs[name][0].rows)
        table.append(
            {
                "name": name,
                "best_s": t,
                "ops_per_s": n / t,
                "ns_per_op": t / n * 1e9,
                "vs_shallow_batch": (n / t) / (len(shallow.rows) / base),
            }
        )
    return table


def print_deep(table: list[dict[str, Any]], checked: dict[str, Any], repeats: int) -> None:
    print(
        f"deep book: {checked['resting_at_end']:,} orders resting at the end on "
        f"{checked['levels_at_end'][0]}/{checked['levels_at_end'][1]} levels, "
        f"{checked['fills']:,} fills, {checked['rejected_cancels']:,} rejected cancels; "
        f"batch only, taking turns with the shallow batch, best of {repeats}"
    )
    headers = ["contestant", "best s", "ops/s", "ns/op", "vs shallow batch (x)"]
    body = [
        [
            r["name"],
            f"{r['best_s']:.4f}",
            f"{r['ops_per_s']:,.0f}",
            f"{r['ns_per_op']:,.0f}",
            f"{r['vs_shallow_batch']:.2f}",
        ]
        for r in table
    ]
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *body, strict=True)]
    for line in (headers, *body):
        print("  ".join(str(x).rjust(w) for x, w in zip(line, widths, strict=True)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ops", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--deep", action="store_true", help="also time the batch on the deep workload (DEEP)"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object only")
    args = parser.parse_args(argv)
    if args.repeats < 3:
        parser.error("--repeats must be at least 3")
    if args.ops < 1:
        parser.error("--ops must be positive")

    work = generate(args.ops, args.seed)
    rows, cols = work.rows, work.columns
    n = len(rows)
    n_ids = int(cols["order_id"].max())
    capacity = 4 * TARGET_RESTING

    results: dict[str, float] = {}
    results["python loop"], _ = best_of(args.repeats, lambda: None, lambda _: run_floor(rows))
    results["no-op PyO3 call"], _ = best_of(
        args.repeats, OrderBook, lambda b: run_noop_call(rows, b)
    )
    results["sortedcontainers"], _ = best_of(
        args.repeats, SortedBook, lambda b: run_sorted(rows, b)
    )
    results["fillforge per call"], _ = best_of(
        args.repeats, lambda: OrderBook(capacity=capacity), lambda b: run_fillforge(rows, b)
    )
    results["fillforge batch"], _ = best_of(
        args.repeats, lambda: OrderBook(capacity=capacity), lambda b: run_batch(cols, b)
    )
    results["fillforge batch + columns"], _ = best_of(
        args.repeats,
        lambda: OrderBook(capacity=capacity),
        lambda b: run_batch(to_columns(rows), b),
    )

    deep: Workload | None = None
    try:
        checked = check(work, n_ids)
        if args.deep:
            deep = generate(args.ops, args.seed, DEEP)
            deep_checked = check(deep, int(deep.columns["order_id"].max()))
    except MismatchError as e:
        print(f"MISMATCH: {e}", file=sys.stderr)
        return 1
    deep_table = measure_deep(work, deep, args.repeats, capacity) if deep is not None else None

    table = report(results, n)
    meta = {
        "ops": n,
        "seed": args.seed,
        "repeats": args.repeats,
        "fillforge": fillforge.__version__,
        "python": sys.version.split()[0],
        "resting_mean": statistics.fmean(work.resting_trace) if work.resting_trace else 0.0,
        "resting_max": max(work.resting_trace, default=0),
        "check": checked,
    }
    if deep_table is not None:
        meta["deep"] = {"check": deep_checked, "results": deep_table}
    if args.json:
        print(json.dumps({**meta, "results": table}))
    else:
        print_table(table, meta)
        if deep_table is not None:
            print_deep(deep_table, deep_checked, args.repeats)
    return 0


if __name__ == "__main__":
    sys.exit(main())
