"""The write-ahead journal's own costs (issue 18): throughput with fsync, one durable intent
alone and under concurrency, reading 1 M records back, verifying 1 M records.

Run: ``python benches/bench_journal.py [--events 200000] [--records 1000000] [--dir DIR]
[--postgres URL] [--only throughput|write_ahead|read] [--json]`` (``--postgres``, or
``FILLFORGE_TEST_POSTGRES``, adds the PostgreSQL store's throughput and write_ahead rows; a
``big.journal`` already in ``--dir`` is read again, not rebuilt).

The payload is an order intent as :class:`~fillforge.journal.broker.JournalledBroker` writes it
(``order.submit``: a client order id and the request, ~190 bytes of JSON). Every commit is
fsynced (SQLite WAL, ``synchronous=FULL``; PostgreSQL ``synchronous_commit=on``).

1. **Throughput**: ``--events`` appends from one thread, synced every B appends (B = 1 is one
   write_ahead per event; B = all is one sync at the end), and from 4 threads; events/s from the
   first append to the last sync returning.
2. **One write_ahead** (one order's durable intent): its latency alone (a thread doing nothing
   else), then with N = 4 and 16 threads each doing write_aheads back to back (group commit
   shares the fsyncs): median and p99 per call, and the calls/s they sum to.
3. **Read-back**: a journal of ``--records`` records; opening it (its checksum scan) and
   iterating ``records()`` (every payload decoded), wall and CPU seconds.
4. **Verify**: ``verify(path)`` over the same journal (every record, every stored checksum,
   SQLite's quick_check).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from fillforge.journal import Journal, verify

PAYLOAD: dict[str, Any] = {
    "cid": "j1a2b3c4-000000",
    "request": {
        "symbol": "AAPL",
        "side": "buy",
        "type": "limit",
        "time_in_force": "day",
        "qty": "100",
        "limit_price": "187.25",
        "client_order_id": "j1a2b3c4-000000",
        "extended_hours": False,
    },
}


def _payload(i: int) -> dict[str, Any]:
    cid = f"j1a2b3c4-{i:06d}"
    return {"cid": cid, "request": {**PAYLOAD["request"], "client_order_id": cid}}


def _pct(xs: list[float], p: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, int(p / 100 * len(s)))]


def throughput(target: str, events: int, batch: int | None, threads: int = 1) -> dict[str, float]:
    """Events/s (wall) and the process's CPU microseconds per event: ``events`` appends,
    synced every ``batch`` (None: once at the end)."""
    payloads = [_payload(i) for i in range(events)]
    with Journal.open(target) as j:
        per = events // threads

        def work(k: int) -> None:
            mine = payloads[k * per : (k + 1) * per]
            for n, p in enumerate(mine, 1):
                j.append("order.submit", p)
                if batch is not None and n % batch == 0:
                    j.sync()
            j.sync()

        t0, c0 = time.perf_counter(), time.process_time()
        if threads == 1:
            work(0)
        else:
            ts = [threading.Thread(target=work, args=(k,)) for k in range(threads)]
            for t in ts:
                t.start()
            for t in ts:
                t.join()
        elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    n = per * threads
    return {"events_per_s": round(n / elapsed), "cpu_us_per_event": round(cpu / n * 1e6, 1)}


def write_ahead_latency(target: str, threads: int, calls: int) -> dict[str, float]:
    """Per-call latency of write_ahead with ``threads`` threads doing ``calls`` each."""
    lat: list[float] = []
    lock = threading.Lock()
    with Journal.open(target) as j:
        j.write_ahead("order.submit", PAYLOAD)  # warm

        def work() -> None:
            mine = []
            for i in range(calls):
                p = _payload(i)
                t = time.perf_counter()
                j.write_ahead("order.submit", p)
                mine.append(time.perf_counter() - t)
            with lock:
                lat.extend(mine)

        t0 = time.perf_counter()
        ts = [threading.Thread(target=work) for _ in range(threads)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        elapsed = time.perf_counter() - t0
    return {
        "threads": threads,
        "median_us": statistics.median(lat) * 1e6,
        "p99_us": _pct(lat, 99) * 1e6,
        "calls_per_s": len(lat) / elapsed,
    }


def build(path: Path, records: int) -> float:
    """A journal of ``records`` intents (appended, group-committed); seconds it took."""
    t0 = time.perf_counter()
    with Journal.open(path) as j:
        for i in range(records):
            j.append("order.submit", _payload(i))
    return time.perf_counter() - t0


def read_back(path: Path) -> dict[str, float]:
    w0, c0 = time.perf_counter(), time.process_time()
    j = Journal.open(path, readonly=True)
    w1, c1 = time.perf_counter(), time.process_time()
    n = 0
    for r in j.records():
        n += 1
        _ = r.payload
    w2, c2 = time.perf_counter(), time.process_time()
    j.close()
    return {
        "records": n,
        "open_s": w1 - w0,
        "open_cpu_s": c1 - c0,
        "records_s": w2 - w1,
        "records_cpu_s": c2 - c1,
        "recovery_read_s": w2 - w0,
    }


def verify_time(path: Path) -> dict[str, float]:
    w0, c0 = time.perf_counter(), time.process_time()
    r = verify(path)
    assert r.ok, r.problems
    return {"verify_s": time.perf_counter() - w0, "verify_cpu_s": time.process_time() - c0}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=200_000)
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--dir", type=Path, default=None, help="where the journals go (a temp dir)")
    ap.add_argument("--postgres", default=os.environ.get("FILLFORGE_TEST_POSTGRES"))
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--only", choices=["throughput", "write_ahead", "read"], default=None)
    args = ap.parse_args()
    base = args.dir or Path(tempfile.mkdtemp(prefix="bench-journal-"))
    base.mkdir(parents=True, exist_ok=True)
    out: dict[str, Any] = {"events": args.events, "records": args.records}
    counter = iter(range(1_000_000))

    def sqlite() -> str:
        return str(base / f"j{next(counter)}.journal")

    def say(key: str, value: Any) -> None:
        out[key] = value
        if not args.json:
            print(f"{key}: {value}", flush=True)

    if args.only in (None, "throughput"):
        for b in (1, 10, 100, 1_000, None):
            n = min(args.events, 5_000) if b == 1 else args.events
            say(f"sqlite_sync_every_{b or 'all'}", throughput(sqlite(), n, b))
        say("sqlite_4_threads", throughput(sqlite(), args.events, None, 4))
    if args.only in (None, "write_ahead"):
        for threads, calls in ((1, 300), (4, 150), (16, 60)):
            r = write_ahead_latency(sqlite(), threads, calls)
            say(f"sqlite_write_ahead_{threads}_threads", {k: round(v, 1) for k, v in r.items()})
    if args.postgres and args.only in (None, "throughput", "write_ahead"):
        sep = "&" if "?" in args.postgres else "?"

        def pg() -> str:
            return f"{args.postgres}{sep}journal=bench{os.getpid()}_{next(counter)}"

        say("postgres_sync_every_all", throughput(pg(), args.events, None))
        for threads, calls in ((1, 300), (16, 60)):
            r = write_ahead_latency(pg(), threads, calls)
            say(f"postgres_write_ahead_{threads}_threads", {k: round(v, 1) for k, v in r.items()})
    if args.only in (None, "read"):
        big = base / "big.journal"
        if not big.exists():
            say("build_s", round(build(big, args.records), 2))
        say("read_back", {k: round(v, 3) for k, v in read_back(big).items()})
        say("verify", {k: round(v, 3) for k, v in verify_time(big).items()})
    if args.json:
        print(json.dumps(out))


if __name__ == "__main__":
    main()
