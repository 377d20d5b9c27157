"""The journal's cost per order and the time to recover (issue 18).

Run: ``python benches/bench_recovery.py [--orders 2000] [--events 1000000] [--dir DIR]``.

1. **Overhead per order, end to end**: ``--orders`` market orders (alternately buy and sell
   against a deep scripted quote, each filled at once) on a ``SimulatedBroker``, then the same
   through a ``JournalledBroker`` on a SQLite journal in ``--dir`` (the intent written ahead and
   fsynced before each send; every event appended, group-committed); microseconds per order
   each way, and the difference. In one process, one after the other.
2. **Recovery for ``--events`` records**: a journal of that many ``order.*`` records (earlier
   days' orders, all filled: copies of the records a real buy and a real sell make, each with
   its own ids; the book's snapshot after them, as ``JournalledBroker`` keeps one every
   100,000 records; then 2,000 orders today through a ``JournalledBroker`` on the venue, a
   quarter of them resting), then, timed: opening the journal (its checksum scan), rebuilding
   the order book (the last checkpoint and the records after it; and, for comparison, from
   every record), and reconciling with the venue (its fill history from 60 s before the last
   journalled fill, deduplicated by execution id). The restart opens with
   ``check_while_reading`` (the checksum scan runs while the book is rebuilt); the check and
   the rebuild one after the other are timed first, as the baseline.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

from fillforge.journal import Journal
from fillforge.journal.broker import JournalledBroker
from fillforge.journal.rebuild import BOOK_SNAPSHOT, rebuild
from fillforge.journal.reconcile import reconcile
from fillforge.orders.enums import OrderSide, OrderTimeInForce, OrderType
from fillforge.orders.models import Instrument, OrderRequest
from fillforge.sim.broker import SimulatedBroker
from fillforge.sim.feeds import empty_feed
from fillforge.sim.venue import Venue

D = Decimal
BIG = D(10**9)


def venue() -> SimulatedBroker:
    v = Venue("BENCH", calendar=None)
    v.add(Instrument(symbol="TEST"), empty_feed())
    b = SimulatedBroker(v, cash=D(10**12))
    b.quote("TEST", D("99.99"), D("100.01"), bid_size=BIG, ask_size=BIG)
    return b


ORDERS = [OrderRequest(symbol="TEST", side=s, qty=D(10)) for s in (OrderSide.BUY, OrderSide.SELL)]
RESTING = OrderRequest(
    symbol="TEST",
    side=OrderSide.BUY,
    qty=D(10),
    type=OrderType.LIMIT,
    time_in_force=OrderTimeInForce.GTC,
    limit_price=D(90),
)


def per_order(submit: Any, n: int) -> float:
    t = time.perf_counter()
    for i in range(n):
        submit(ORDERS[i & 1])
    return (time.perf_counter() - t) / n * 1e6


def overhead(n: int, where: Path) -> dict[str, float]:
    plain = per_order(venue().submit, n)
    with Journal.open(where / "overhead.journal") as j:
        jb = JournalledBroker(venue(), j)
        journalled = per_order(jb.submit, n)
        jb.detach()
    return {
        "plain_us": round(plain, 1),
        "journalled_us": round(journalled, 1),
        "overhead_us": round(journalled - plain, 1),
        "ratio": round(journalled / plain, 2),
    }


def _templates(b: SimulatedBroker, where: Path) -> list[tuple[str, dict[str, Any]]]:
    """The records one buy and one sell make through a JournalledBroker (intent, events, ack)."""
    with Journal.open(where / "template.journal") as j:
        jb = JournalledBroker(b, j, prefix="T")
        first = j.next_seq
        for r in ORDERS:
            jb.submit(r)
        jb.detach()
        return [(r.kind, r.payload) for r in j.records(first - 1)]


def _swap(x: Any, old: dict[str, str], ts: int) -> Any:
    """``x`` with every string of ``old`` replaced and every time set to ``ts``."""
    if isinstance(x, dict):
        return {k: ts if k == "ts" else _swap(v, old, ts) for k, v in x.items()}
    if isinstance(x, list):
        return [_swap(v, old, ts) for v in x]
    return old.get(x, x) if isinstance(x, str) else x


def recovery(events: int, where: Path, tail: int = 2000) -> dict[str, Any]:
    """A journal of ``events`` records: what earlier days left (copies of a real buy's and a
    real sell's records, each with its own ids, filled long before), then ``tail`` orders today
    through a JournalledBroker on the venue that is reconciled with (some resting). Then timed:
    open, rebuild, reconcile."""
    path = where / "recovery.journal"
    b = venue()
    templates = _templates(venue(), where)
    ids = sorted({v for _, p in templates for v in _strings(p) if v.startswith(("T-", "o-"))})
    ids += sorted({p["fill"]["id"] for _, p in templates if "fill" in p})
    day = 86_400 * 10**9
    with Journal.open(path) as j:
        n = 0
        while j.next_seq + len(templates) + 6 * tail <= events:
            n += 1
            old = {x: f"{x}.{n}" for x in ids}
            for kind, payload in templates:
                j.append(kind, _swap(payload, old, n))
        # What JournalledBroker's periodic checkpoint would have left (checkpoint_every): the
        # book's snapshot, beside the records.
        j.save_snapshot(BOOK_SNAPSHOT, rebuild(j, full=True).checkpoint())
        t = b.now_ns() + day
        b.quote("TEST", D("99.99"), D("100.01"), bid_size=BIG, ask_size=BIG, ts=t)
        jb = JournalledBroker(b, j, prefix="today")
        for i in range(tail):
            if i % 4 == 3:  # a resting buy, open at the restart
                jb.submit(RESTING)
            else:
                jb.submit(ORDERS[i & 1])
        jb.detach()
        records = j.next_seq - 1
    # The baseline, in the same process: the check, then the rebuild, one after the other.
    t0 = time.perf_counter()
    j = Journal.open(path)
    t1 = time.perf_counter()
    rebuild(j)
    t2 = time.perf_counter()
    j.close()
    # A restart: the check runs (in SQLite's threads) while the book is rebuilt; then the
    # reconciliation, once the check has passed.
    t3 = time.perf_counter()
    j = Journal.open(path, check_while_reading=True)
    book = rebuild(j)
    assert j.wait_checked().ok
    t4 = time.perf_counter()
    jb = JournalledBroker(b, j, book=book)
    report = reconcile(jb)
    t5 = time.perf_counter()
    replay_s = _timed(lambda: rebuild(j, full=True))
    jb.detach()
    j.close()
    return {
        "records": records,
        "orders": len(book.intents),
        "open_s": round(t1 - t0, 2),
        "rebuild_s": round(t2 - t1, 2),
        "open_then_rebuild_s": round(t2 - t0, 2),
        "open_and_rebuild_overlapped_s": round(t4 - t3, 2),
        "reconcile_s": round(t5 - t4, 2),
        "total_s": round(t5 - t3, 2),
        "rebuild_every_record_s": round(replay_s, 2),
        "replayed_after_checkpoint": book.replayed,
        "fills_deduplicated": report.fills_deduplicated,
        "discrepancies": len(report.discrepancies),
    }


def _timed(fn: Any) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def _strings(x: Any) -> Iterator[str]:
    if isinstance(x, dict):
        for v in x.values():
            yield from _strings(v)
    elif isinstance(x, list):
        for v in x:
            yield from _strings(v)
    elif isinstance(x, str):
        yield x


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--orders", type=int, default=2000)
    p.add_argument("--events", type=int, default=1_000_000)
    p.add_argument("--dir", default=None, help="where the journals go (default: a temp dir)")
    p.add_argument("--json", action="store_true")
    a = p.parse_args()
    with tempfile.TemporaryDirectory(dir=a.dir) as d:
        out = {"overhead": overhead(a.orders, Path(d)), "recovery": recovery(a.events, Path(d))}
    print(json.dumps(out) if a.json else json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
