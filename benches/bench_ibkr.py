"""Unmodified ib_async, and IbkrBroker on it, against fillforge's local IB gateway over loopback:
orders per second from one client, the submit latency (p50, p99) and the delay from a fill to
its event.

Run: ``python benches/bench_ibkr.py [--orders 2000] [--fills 200] [--json]``.

ib_async paces what it sends to 45 messages a second (IB's limit is 50), and IbkrBroker's
throttle does the same by default: both are lifted here, so the figures are the gateway's and the
clients' own cost.

``--orders`` market orders of 1 share, alternately buy and sell against a deep scripted quote, one
after another, each waited for until it has filled: with ib_async alone (``placeOrder``, then
the trade's ``filledEvent``: the gateway parses the order, submits it to the simulated broker,
which matches and fills it, and sends ``openOrder``, ``execDetails``, ``commissionReport`` and
``orderStatus``), then through ``IbkrBroker.submit`` (the instrument check, the throttle, the
order machine; the wait is for the order's ``fill`` event, after its commission report). Then the
same orders sent back to back without waiting (pipelined: IB's socket protocol has no reply
per request), the clock stopped when the last has filled. Each against ``fillforge serve ibkr``
in its own process (as deployed: a core each), then against an ``IbGateway`` in this process.

Then ``--fills`` times, in process: a resting limit order is filled by a scripted quote whose
ask falls through it (``gateway.call``); the delay from just before the quote to IbkrBroker's
``fill`` event.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from ib_async import IB, MarketOrder, Stock

from fillforge.ibkr import IbGateway, scripted_broker
from fillforge.orders.enums import EventKind, OrderSide
from fillforge.orders.models import OrderEvent, OrderRequest
from fillforge.time import WallClock
from fillforge.venues.ibkr import IbkrBroker

D = Decimal


def pct(xs: list[float], p: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, int(p / 100 * len(s)))]


def summary(n: int, total: float, lat: list[float]) -> dict[str, Any]:
    return {
        "orders": n,
        "orders_per_s": round(n / total),
        "submit_p50_ms": round(statistics.median(lat) * 1e3, 3),
        "submit_p99_ms": round(pct(lat, 99) * 1e3, 3),
    }


def raw_ib_async(port: int, n: int) -> dict[str, Any]:
    """``n`` market orders with ib_async alone, each until ``filledEvent``."""

    async def run() -> dict[str, Any]:
        ib = IB()
        ib.client.MaxRequests = 0  # ib_async's pacing (IB's 50 messages/s) off: the gateway's pace
        await ib.connectAsync("127.0.0.1", port, clientId=11, timeout=20)
        try:
            [aapl] = await ib.qualifyContractsAsync(Stock("AAPL", "SMART", "USD"))
            sides = ("BUY", "SELL")

            async def one(i: int) -> None:
                trade = ib.placeOrder(aapl, MarketOrder(sides[i & 1], 1))
                if not trade.isDone():
                    await asyncio.wait_for(trade.filledEvent, 10)

            for i in range(50):
                await one(i)
            lat = []
            t0 = time.perf_counter()
            for i in range(n):
                s = time.perf_counter()
                await one(i)
                lat.append(time.perf_counter() - s)
            total = time.perf_counter() - t0
            out = summary(n, total, lat)
            t0 = time.perf_counter()
            trades = [ib.placeOrder(aapl, MarketOrder(sides[i & 1], 1)) for i in range(n)]
            while not all(t.isDone() for t in trades):
                await asyncio.sleep(0.001)
            out["pipelined_orders_per_s"] = round(n / (time.perf_counter() - t0))
            return out
        finally:
            ib.disconnect()

    return asyncio.run(run())


def with_broker(port: int, n: int) -> dict[str, Any]:
    """``n`` market orders through ``IbkrBroker.submit``, each until its ``fill`` event."""
    reqs = [
        OrderRequest(symbol="AAPL", side=s, type="market", qty=D(1))
        for s in (OrderSide.BUY, OrderSide.SELL)
    ]
    with IbkrBroker(port=port, client_id=12, messages_per_second=1 << 20, timeout=20) as broker:
        filled = threading.Event()
        done: set[str] = set()

        def on(e: OrderEvent) -> None:
            if e.kind is EventKind.FILL:
                done.add(e.order_id)
                filled.set()

        broker.subscribe(on)

        def one(i: int) -> float:
            filled.clear()
            s = time.perf_counter()
            broker.submit(reqs[i & 1])
            sent = time.perf_counter() - s
            if not filled.wait(10):
                raise TimeoutError("no fill event")
            return sent

        for i in range(50):
            one(i)
        lat, sends = [], []
        t0 = time.perf_counter()
        for i in range(n):
            s = time.perf_counter()
            sends.append(one(i))
            lat.append(time.perf_counter() - s)
        total = time.perf_counter() - t0
        out = summary(n, total, lat)
        out["submit_call_p50_ms"] = round(statistics.median(sends) * 1e3, 3)
        t0 = time.perf_counter()
        ids = {broker.submit(reqs[i & 1]).id for i in range(n)}
        while not ids <= done:
            time.sleep(0.001)
        out["pipelined_orders_per_s"] = round(n / (time.perf_counter() - t0))
        return out


def fill_to_event(gateway: IbGateway, n: int) -> dict[str, Any]:
    """``n`` resting limit orders, each filled by a scripted trade; the delay to the event."""
    with IbkrBroker(port=gateway.port, client_id=13, timeout=20) as broker:
        got = threading.Event()
        broker.subscribe(lambda e: got.set() if e.kind is EventKind.FILL else None)
        delays = []
        for i in range(n):
            price = D("99.00") - D(i % 50) / 100
            o = broker.submit(
                OrderRequest(symbol="AAPL", side="buy", type="limit", qty=D(1), limit_price=price)
            )
            while o.status.value != "new":
                time.sleep(0.0005)
            got.clear()

            def hit(sim: Any, p: Decimal = price) -> None:  # the ask falls through it
                sim.quote("AAPL", p - D("0.02"), p - D("0.01"), **DEEP)

            t0 = time.perf_counter()
            gateway.call(hit)
            if not got.wait(10):
                raise TimeoutError("no fill event")
            delays.append(time.perf_counter() - t0)
            gateway.call(lambda sim: sim.quote("AAPL", D("100.00"), D("100.02"), **DEEP))
    return {
        "fills": n,
        "fill_to_event_p50_ms": round(statistics.median(delays) * 1e3, 3),
        "fill_to_event_p99_ms": round(pct(delays, 99) * 1e3, 3),
    }


DEEP = {"bid_size": D(10_000_000), "ask_size": D(10_000_000)}


def loops(port: int, n: int) -> dict[str, Any]:
    out = {"ib_async": raw_ib_async(port, n)}
    print("  ib_async:", out["ib_async"], file=sys.stderr, flush=True)
    out["ibkr_broker"] = with_broker(port, n)
    print("  IbkrBroker:", out["ibkr_broker"], file=sys.stderr, flush=True)
    return out


def served(n: int) -> dict[str, Any]:
    """The loops against ``fillforge serve ibkr`` in its own process."""
    args = [
        sys.executable, "-m", "fillforge", "serve", "ibkr", "--data", "scripted",
        "--quote", "AAPL=100.00/100.02x10000000", "--cash", "1000000000",
    ]  # fmt: skip
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline().strip().rpartition(":")[2])
        return loops(port, n)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--orders", type=int, default=2000)
    ap.add_argument("--fills", type=int, default=200)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    print("served:", file=sys.stderr, flush=True)
    out: dict[str, Any] = {"served": served(args.orders)}
    sim = scripted_broker(["AAPL"], cash=D(1_000_000_000), start_ns=WallClock().now_ns())
    sim.quote("AAPL", D("100.00"), D("100.02"), **DEEP)
    with IbGateway(sim) as gateway:
        print("in process:", file=sys.stderr, flush=True)
        out["in_process"] = loops(gateway.port, args.orders)
        if args.fills:
            out["fill"] = fill_to_event(gateway, args.fills)
    if args.json:
        print(json.dumps(out))
        return
    fill = out.pop("fill", None)
    show: Callable[[str, str, dict[str, Any]], None] = lambda where, name, r: print(  # noqa: E731
        f"{where:10s} {name:11s} {r['orders']} orders: {r['orders_per_s']:,} orders/s "
        f"(pipelined {r['pipelined_orders_per_s']:,}), submit->filled p50 "
        f"{r['submit_p50_ms']} ms, p99 {r['submit_p99_ms']} ms"
    )
    for where, by in out.items():
        for name, r in by.items():
            show(where, name, r)
    if fill is not None:
        print(
            f"in_process fill -> IbkrBroker fill event, {fill['fills']} fills: p50 "
            f"{fill['fill_to_event_p50_ms']} ms, p99 {fill['fill_to_event_p99_ms']} ms"
        )


if __name__ == "__main__":
    main()
