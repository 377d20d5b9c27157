"""alpaca-py against fillforge's Alpaca-compatible server over loopback: throughput, submit
latency, and the delay from a fill to its trade_updates frame.

Run: ``python benches/bench_alpaca.py [--orders 2000] [--fills 300] [--json]``.

1. One ``TradingClient`` submits ``--orders`` market orders one after another, alternately buy and
   sell against a deep quote (each a full round trip: validate, account check, create, match,
   fill, account update, stream publication, JSON answer); orders/s and the submit latency
   percentiles. Twice: against ``fillforge serve alpaca`` in its own process (as it is deployed;
   the two processes have a core each), and against an ``AlpacaServer`` in this process (client
   and server share one interpreter and its GIL).
2. ``--fills`` times: a resting order is filled by a scripted quote; the delay from just before
   the quote to the moment the SDK's ``TradingStream`` handler receives the ``fill`` frame. The
   quote is scripted through ``server.call``, so this server is in this process.
"""

from __future__ import annotations

import argparse
import json
import statistics
import threading
import time
from decimal import Decimal
from typing import Any

from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderSide, TimeInForce
from alpaca.trading.models import TradeUpdate
from alpaca.trading.requests import LimitOrderRequest, MarketOrderRequest
from alpaca.trading.stream import TradingStream

from fillforge.alpaca import AlpacaServer, scripted_broker, served_alpaca

D = Decimal


def pct(xs: list[float], p: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, int(p / 100 * len(s)))]


def submit_loop(client: TradingClient, n: int) -> dict[str, Any]:
    """``n`` market orders, alternately buy and sell, one after another: orders/s, latencies."""
    reqs = [
        MarketOrderRequest(symbol="AAPL", qty=1, side=side, time_in_force=TimeInForce.DAY)
        for side in (OrderSide.BUY, OrderSide.SELL)
    ]
    for i in range(50):  # warm up the connection pool and the code paths
        client.submit_order(reqs[i & 1])
    lat = []
    t0 = time.perf_counter()
    for i in range(n):
        s = time.perf_counter()
        client.submit_order(reqs[i & 1])
        lat.append(time.perf_counter() - s)
    total = time.perf_counter() - t0
    return {
        "orders_per_s": round(n / total),
        "submit_p50_ms": round(statistics.median(lat) * 1e3, 3),
        "submit_p99_ms": round(pct(lat, 99) * 1e3, 3),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--orders", type=int, default=2000)
    ap.add_argument("--fills", type=int, default=300)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    res: dict[str, Any] = {"orders": args.orders}
    big = "1000000000"
    with served_alpaca(
        "--data", "scripted", "--quote", f"AAPL=100.00/100.02x{big}", "--rate-limit", "10000000"
    ) as served:
        client = TradingClient(served.key_id, served.secret_key, url_override=served.base_url)
        res["process"] = submit_loop(client, args.orders)
    broker = scripted_broker(("AAPL",), cash=D(10**9))
    server = AlpacaServer(broker, key_id="bench", secret_key="bench", requests_per_minute=10**7)
    with server:
        client = TradingClient("bench", "bench", url_override=server.base_url)
        server.call(
            lambda b: b.quote("AAPL", D("100.00"), D("100.02"), bid_size=D(big), ask_size=D(big))
        )
        res["in_process"] = submit_loop(client, args.orders)

        arrived: dict[str, float] = {}
        got = threading.Event()
        stream = TradingStream("bench", "bench", url_override=server.stream_url)

        async def on_update(u: TradeUpdate) -> None:
            if u.event == "fill":
                arrived[str(u.order.id)] = time.perf_counter()
                got.set()

        stream.subscribe_trade_updates(on_update)
        threading.Thread(target=stream.run, daemon=True).start()
        while not server._streams:
            time.sleep(0.01)
        delays = []
        for _ in range(args.fills):
            server.call(lambda b: b.quote("AAPL", D("100.00"), D("100.02")))
            o = client.submit_order(
                LimitOrderRequest(
                    symbol="AAPL",
                    qty=1,
                    side=OrderSide.BUY,
                    time_in_force=TimeInForce.GTC,
                    limit_price=99.99,
                )
            )
            got.clear()
            start = time.perf_counter()
            server.call(lambda b: b.quote("AAPL", D("99.90"), D("99.95")))
            if not got.wait(5):
                raise SystemExit("no fill frame within 5 s")
            delays.append(arrived[str(o.id)] - start)
        res["fills"] = args.fills
        res["fill_to_frame_p50_ms"] = round(statistics.median(delays) * 1e3, 3)
        res["fill_to_frame_p99_ms"] = round(pct(delays, 99) * 1e3, 3)
    if args.json:
        print(json.dumps(res))
        return
    print(f"{res['orders']:,} orders from one alpaca-py client over loopback")
    for key, where in (("process", "server in its own process"), ("in_process", "in-process")):
        r = res[key]
        print(
            f"  {where:>26}: {r['orders_per_s']:,} orders/s, submit p50 {r['submit_p50_ms']} ms,"
            f" p99 {r['submit_p99_ms']} ms"
        )
    print(f"{res['fills']} fills: scripted quote -> trade_updates frame in the SDK's handler")
    print(f"  p50 {res['fill_to_frame_p50_ms']} ms, p99 {res['fill_to_frame_p99_ms']} ms")


if __name__ == "__main__":
    main()
