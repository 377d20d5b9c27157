"""What the Alpaca-compatible server retains per order, and what listing the open orders costs
as orders pile up.

Run: ``python benches/bench_alpaca_memory.py [--sizes 1000,10000,100000] [--json]``.

For each size N, a fresh server (in this process, its clock manual) is loaded with N orders
through its broker (the state a served account keeps: the same objects the HTTP route creates,
without N round trips): the first 100 are buy limits far below the market that stay open, the
rest market buys that fill at once (a long-lived account: a few working orders, many done). Then:

1. **Memory per retained order**: resident memory (``/proc/self/statm``) after a full garbage
   collection, before and after the N orders, divided by N; and the Python heap the orders hold
   (``tracemalloc``, sampled on the first 2,000 orders of the run, which has no other work).
2. **Listing open orders**: ``GET /v2/orders?status=open&limit=500`` over loopback with
   ``requests`` (median of 30 calls) as the server answers it now, from the broker's index of
   open orders, and as it answered before (every order scanned, then filtered), measured in the
   same process on the same server by handing the route the full list again.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import time
import tracemalloc
from decimal import Decimal
from typing import Any

import requests

from fillforge.alpaca import AlpacaServer, scripted_broker
from fillforge.orders.models import OrderRequest
from fillforge.testing import ALPACA_SERVER_START_NS

D = Decimal
PAGE = 4096
OPEN = 100  # orders that stay open in every run


def rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE


def orders(n: int) -> list[OrderRequest]:
    rest = OrderRequest(symbol="AAPL", side="buy", qty=D(1), type="limit", limit_price=D("50"))
    take = OrderRequest(symbol="AAPL", side="buy", qty=D(1), type="market")
    return [rest if i < OPEN else take for i in range(n)]


def heap_per_order(sample: int = 2000) -> float:
    """Python heap bytes the broker holds per order (tracemalloc, a fresh broker)."""
    broker = scripted_broker(("AAPL",), cash=D(10**12), start_ns=ALPACA_SERVER_START_NS, seed=1)
    broker.quote("AAPL", D("100.00"), D("100.02"), bid_size=D(10**9), ask_size=D(10**9))
    work = orders(sample)
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for r in work:
        broker.submit(r)
    gc.collect()
    held = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    return held / sample


def listing_ms(server: AlpacaServer, calls: int = 30) -> float:
    url = f"{server.base_url}/v2/orders"
    headers = {"APCA-API-KEY-ID": "k", "APCA-API-SECRET-KEY": "s"}
    params = {"status": "open", "limit": "500"}
    with requests.Session() as s:
        for _ in range(3):
            s.get(url, params=params, headers=headers, timeout=60).raise_for_status()
        lat = []
        for _ in range(calls):
            t = time.perf_counter()
            r = s.get(url, params=params, headers=headers, timeout=60)
            lat.append(time.perf_counter() - t)
            r.raise_for_status()
    return statistics.median(lat) * 1e3


def run(n: int) -> dict[str, Any]:
    work = orders(n)
    gc.collect()
    r0 = rss()
    broker = scripted_broker(("AAPL",), cash=D(10**12), start_ns=ALPACA_SERVER_START_NS, seed=1)
    broker.quote("AAPL", D("100.00"), D("100.02"), bid_size=D(10**9), ask_size=D(10**9))
    server = AlpacaServer(broker, key_id="k", secret_key="s", speed=None, requests_per_minute=10**7)
    t = time.perf_counter()
    for r in work:
        broker.submit(r)
    load_s = time.perf_counter() - t
    gc.collect()
    r1 = rss()
    with server:
        after = listing_ms(server)
        # Before: the route scanned every order and filtered by status itself.
        indexed = broker.orders
        broker.orders = lambda *, open_only=False, symbol=None: indexed(symbol=symbol)  # type: ignore[method-assign]
        try:
            before = listing_ms(server)
        finally:
            broker.orders = indexed  # type: ignore[method-assign]
    open_now = len(broker.orders(open_only=True))
    return {
        "orders": n,
        "open": open_now,
        "submit_us": round(load_s / n * 1e6, 1),
        "rss_bytes_per_order": round((r1 - r0) / n),
        "list_open_ms_scan_before": round(before, 2),
        "list_open_ms_index_after": round(after, 2),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000,10000,100000")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    sizes = [int(x) for x in args.sizes.split(",")]
    heap = heap_per_order()
    rows = [run(n) for n in sizes]
    if args.json:
        print(json.dumps({"heap_bytes_per_order": round(heap), "runs": rows}))
        return
    print(f"python heap held per order (tracemalloc, 2,000 orders): {heap:,.0f} bytes")
    print(
        "| orders | open | submit (us) | RSS per order (bytes) | list open, scan (ms) | "
        "list open, index (ms) |"
    )
    print("| ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        print(
            f"| {r['orders']:,} | {r['open']:,} | {r['submit_us']} | {r['rss_bytes_per_order']:,} "
            f"| {r['list_open_ms_scan_before']} | {r['list_open_ms_index_after']} |"
        )


if __name__ == "__main__":
    main()
