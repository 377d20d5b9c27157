"""The journal's cost per order and the time to recover (issue 18).

Run: ``python benches/bench_recovery.py [--orders 2000] [--events 1000000] [--dir DIR]``.

1. **Overhead per order, end to end**: ``--orders`` market orders (alternately buy and sell
   against a deep scripted quote, each filled at once) on a ``SimulatedBroker``, then the same
   through a ``JournalledBroker`` on a SQLite journal in ``--dir`` (the intent written ahead and
   fsynced before each send; every event appended, group-committed); microseconds per order
   each way, and the difference. In one process, one after the other.
2. **Recovery for ``--events`` records**: a journal of that many ``order.*`` records (orders
   through a ``JournalledBroker`` whose intents are appended, not fsynced, to build it quickly;
   a venue clock moving 1 ms per order), then, timed: opening the journal (its checksum scan),
   rebuilding the order book from the records, and reconciling with the same venue (its fill
   history from 60 s before the last journalled fill, deduplicated).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from fillforge.journal import Journal
from fillforge.journal.broker import JournalledBroker
from fillforge.journal.rebuild import rebuild
from fillforge.journal.reconcile import reconcile
from fillforge.orders.enums import OrderSide
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


class _Appending:
    """A journal whose write-ahead only appends (to build a big journal quickly)."""

    def __init__(self, j: Journal) -> None:
        self.j = j
        self.append = j.append
        self.sync = j.sync
        self.records = j.records

    @property
    def next_seq(self) -> int:
        return self.j.next_seq

    def write_ahead(self, kind: str, payload: dict[str, Any]) -> int:
        return self.j.append(kind, payload)


def recovery(events: int, where: Path) -> dict[str, Any]:
    path = where / "recovery.journal"
    b = venue()
    with Journal.open(path) as j:
        jb = JournalledBroker(b, _Appending(j))  # type: ignore[arg-type]
        i, t = 0, b.now_ns()
        while j.next_seq <= events:
            t += 1_000_000
            b.quote("TEST", D("99.99"), D("100.01"), bid_size=BIG, ask_size=BIG, ts=t)
            jb.submit(ORDERS[i & 1])
            i += 1
        jb.detach()
        records = j.next_seq - 1
    t0 = time.perf_counter()
    j = Journal.open(path)
    t1 = time.perf_counter()
    book = rebuild(j)
    t2 = time.perf_counter()
    jb = JournalledBroker(b, j, book=book)
    report = reconcile(jb)
    t3 = time.perf_counter()
    jb.detach()
    j.close()
    return {
        "records": records,
        "orders": i,
        "open_s": round(t1 - t0, 2),
        "rebuild_s": round(t2 - t1, 2),
        "reconcile_s": round(t3 - t2, 2),
        "total_s": round(t3 - t0, 2),
        "fills_deduplicated": report.fills_deduplicated,
        "discrepancies": len(report.discrepancies),
    }


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
