"""Unmodified ccxt against fillforge's Binance-compatible server over loopback: orders per second
from one client and the submit latency (p50, p99).

Run: ``python benches/bench_binance_server.py [--orders 2000] [--fills 200] [--json]``.

One ``ccxt.binance`` client (its own sleep-based rate limiter off, as ``CcxtBroker`` runs it: the
server's limits are raised so the bench measures the round trip, not Binance's 100 orders per
10 s) sends ``--orders`` market orders of 0.001 BTC one after another, alternately buy and sell
against a deep scripted quote. Each is a full round trip: ccxt builds and HMAC-signs the request,
the server checks key, signature and timestamp, parses, applies the filters, submits to the
simulated broker (account check, match, fill, fee), and answers the FULL JSON that ccxt parses.
With ``ccxt.binance`` itself, then with ``CcxtBroker.submit`` on top of it (the instrument check,
the local throttle, the order machine and the fill records added); both against ``fillforge serve
binance`` in its own process (as it is deployed: the two processes have a core each), then
against a ``BinanceServer`` in this process (one interpreter and GIL for both).

Then ``--fills`` times, in-process (the quote is scripted through ``server.call``): a resting order
is filled by a scripted quote; the delay from just before the quote to the moment ccxt.pro's
``watch_orders`` (the user-data stream over the WebSocket API) returns the order filled.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import ccxt
import ccxt.pro

from fillforge.binance import BinanceServer, scripted_broker
from fillforge.orders.models import OrderRequest
from fillforge.venues.ccxt import CcxtBroker

D = Decimal


def pct(xs: list[float], p: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, int(p / 100 * len(s)))]


def timed(send: Callable[[int], Any], n: int) -> dict[str, Any]:
    for i in range(50):  # warm up the connection and the code paths
        send(i)
    lat = []
    t0 = time.perf_counter()
    for i in range(n):
        s = time.perf_counter()
        send(i)
        lat.append(time.perf_counter() - s)
    total = time.perf_counter() - t0
    return {
        "orders": n,
        "orders_per_s": round(n / total),
        "submit_p50_ms": round(statistics.median(lat) * 1e3, 3),
        "submit_p99_ms": round(pct(lat, 99) * 1e3, 3),
    }


def fill_to_stream(server: BinanceServer, n: int) -> dict[str, Any]:
    """``n`` times: a resting buy, a quote that fills it, and the wait for its ``closed`` update
    on ccxt.pro's ``watch_orders``."""

    async def run() -> list[float]:
        pro = ccxt.pro.binance(
            {"apiKey": server.api_key, "secret": server.secret_key, "urls": {"api": server.urls}}
        )
        pending: asyncio.Future[Any] | None = None

        async def until(seen: Callable[[dict[str, Any]], bool]) -> None:
            # ccxt.pro wakes a watch with the next message only, and keeps every update in its
            # cache: with a watch always waiting, look in the cache after each wake-up.
            nonlocal pending
            while True:
                if pending is None or pending.done():
                    pending = asyncio.ensure_future(pro.watch_orders("BTC/USDT"))
                    await asyncio.sleep(0)
                if any(seen(x) for x in (pro.orders or ())):
                    return
                await pending

        def quote(bid: Decimal) -> None:
            server.call(lambda b: b.quote("BTCUSDT", bid, bid + 1, bid_size=D(10), ask_size=D(10)))

        try:
            await pro.load_markets()
            pending = asyncio.ensure_future(pro.watch_orders("BTC/USDT"))
            await asyncio.sleep(0.5)  # the subscription is confirmed
            delays = []
            for i in range(n):
                bid = D(30_000) - i % 50
                quote(bid)
                o = await pro.create_order("BTC/USDT", "limit", "buy", 0.001, float(bid))
                await asyncio.wait_for(until(lambda x, oid=o["id"]: x["id"] == oid), 30)  # NEW
                t0 = time.perf_counter()
                await asyncio.to_thread(quote, bid - 2)  # the ask falls through it: a fill
                filled = until(lambda x, oid=o["id"]: x["id"] == oid and x["status"] == "closed")
                await asyncio.wait_for(filled, 30)
                delays.append(time.perf_counter() - t0)
            return delays
        finally:
            await pro.close()

    delays = asyncio.run(run())
    return {
        "fills": n,
        "fill_to_event_p50_ms": round(statistics.median(delays) * 1e3, 3),
        "fill_to_event_p99_ms": round(pct(delays, 99) * 1e3, 3),
    }


def submit_loops(urls: dict[str, Any], key: str, secret: str, n: int) -> dict[str, Any]:
    """``n`` market orders with ccxt, then ``n`` through ``CcxtBroker`` on it."""
    ex = ccxt.binance(
        {"apiKey": key, "secret": secret, "urls": {"api": urls}, "enableRateLimit": False}
    )
    ex.load_markets()
    sides = ("buy", "sell")
    ex.create_order("BTC/USDT", "market", "buy", 1)  # so that every sell has BTC to sell
    out = {"ccxt": timed(lambda i: ex.create_order("BTC/USDT", "market", sides[i & 1], 0.001), n)}
    reqs = [
        OrderRequest(symbol="BTC/USDT", side=s, type="market", time_in_force="ioc", qty=D("0.001"))
        for s in sides
    ]
    with CcxtBroker(ex, poll_every=None, requests_per_minute=1 << 24) as cb:
        out["ccxt_broker"] = timed(lambda i: cb.submit(reqs[i & 1]), n)
    return out


def served(n: int) -> dict[str, Any]:
    """The loops against ``fillforge serve binance`` in its own process (as it is deployed)."""
    key, secret = secrets.token_hex(16), secrets.token_hex(32)
    env = {**os.environ, "BINANCE_API_KEY": key, "BINANCE_SECRET": secret}
    args = [
        sys.executable, "-m", "fillforge", "serve", "binance", "--data", "scripted",
        "--quote", "BTCUSDT=30000.00/30000.10x100000", "--cash", "1000000000",
        "--weight-limit", str(1 << 24), "--order-limit", str(1 << 24),
    ]  # fmt: skip
    proc = subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env
    )
    try:
        assert proc.stdout is not None
        base = proc.stdout.readline().strip()
        urls = {name: base + path for name, path in _PATHS.items()}
        return submit_loops(urls, key, secret, n)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


_PATHS = {
    "public": "/api/v3",
    "private": "/api/v3",
    "sapi": "/sapi/v1",
    "fapiPublic": "/fapi/v1",
    "dapiPublic": "/dapi/v1",
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--orders", type=int, default=2000)
    ap.add_argument("--fills", type=int, default=200)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    out: dict[str, Any] = {"served": served(args.orders)}
    print("served:", out["served"], file=sys.stderr, flush=True)
    broker = scripted_broker(start_ns=1_700_000_000_000_000_000, cash=D(1_000_000_000))
    broker.quote("BTCUSDT", D("30000.00"), D("30000.10"), bid_size=D(100_000), ask_size=D(100_000))
    key, secret = secrets.token_hex(16), secrets.token_hex(32)
    limits = {"weight_per_minute": 1 << 24, "orders_per_10s": 1 << 24}
    with BinanceServer(broker, api_key=key, secret_key=secret, speed=None, **limits) as server:
        out["in_process"] = submit_loops(server.urls, key, secret, args.orders)
        print("in process:", out["in_process"], file=sys.stderr, flush=True)
        if args.fills:
            out["stream"] = fill_to_stream(server, args.fills)
    if args.json:
        print(json.dumps(out))
        return
    stream = out.pop("stream", None)
    for where, loops in out.items():
        for name, r in loops.items():
            print(
                f"{where:10s} {name:12s} {r['orders']} orders: {r['orders_per_s']:,} orders/s, "
                f"submit p50 {r['submit_p50_ms']} ms, p99 {r['submit_p99_ms']} ms"
            )
    if stream is not None:
        print(
            f"in_process fill -> watch_orders event, {stream['fills']} fills: p50 "
            f"{stream['fill_to_event_p50_ms']} ms, p99 {stream['fill_to_event_p99_ms']} ms"
        )


if __name__ == "__main__":
    main()
