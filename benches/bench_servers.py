"""Every local venue server over loopback, side by side, with the unmodified client libraries:
orders per second from one client, the submit latency (p50, p99) and the delay from a fill to its
stream event; and, as the baseline, the same orders on each server's ``SimulatedBroker`` called
directly in this process (no HTTP, no socket, no client library).

Run: ``python benches/bench_servers.py [--orders 1000] [--fills 100] [--json]``.

Each server runs in this process (client and server share one interpreter and its GIL, the same
for all three, so the figures compare; ``bench_alpaca.py``, ``bench_binance_server.py`` and
``bench_ibkr.py`` also measure each against its server in its own process):

- Alpaca (``AlpacaServer``): alpaca-py's ``TradingClient.submit_order``, market orders of 1
  share, alternately buy and sell against a deep quote; the fill's ``trade_updates`` frame in
  ``TradingStream``'s handler.
- Binance (``BinanceServer``): ccxt's ``binance.create_order`` (signed; the answer is FULL, with
  its fills), 0.001 BTC; the fill as ccxt.pro's ``watch_orders`` returns it.
- IBKR (``IbGateway``): ib_async's ``placeOrder`` waited until ``filledEvent`` (IB's socket
  protocol has no reply per order: the fill is the answer), 1 share; the fill as IbkrBroker's
  ``fill`` event (ib_async's ``execDetails`` and ``commissionReport`` under it).

Each submit is a full round trip: the client builds and sends the request, the server parses and
checks it, the simulated broker matches and fills it and charges the fee, the answer is built and
parsed. The fill delay runs from just before a scripted quote whose ask falls through a resting
buy to the client seeing the fill.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))  # the per-venue benches' measurements

import bench_alpaca
import bench_binance_server
import bench_ibkr

from fillforge.orders.enums import EventKind
from fillforge.orders.models import OrderEvent, OrderRequest
from fillforge.sim.broker import SimulatedBroker
from fillforge.time import WallClock

D = Decimal
BIG = D(1_000_000_000)
MARKET_OPEN_NS = 1_717_509_600_000_000_000  # 2024-06-04 10:00 New York: the market is open
pct = bench_binance_server.pct
timed = bench_binance_server.timed


def baseline(
    sim: SimulatedBroker, symbol: str, qty: Decimal, bid: Decimal, n: int, fills: int
) -> dict[str, Any]:
    """The same market orders, and the same fills, on ``sim`` directly (each order carried to
    the venue and filled before the next: ``run_until_done``, as a server's simulation does)."""
    sim.quote(symbol, bid, bid + D("0.02"), bid_size=BIG, ask_size=BIG)
    reqs = [
        OrderRequest(symbol=symbol, side=s, type="market", time_in_force="ioc", qty=qty)
        for s in ("buy", "sell")
    ]

    def one(i: int) -> None:
        sim.submit(reqs[i & 1])
        sim.run_until_done()

    out = timed(one, n)
    seen: list[float] = []

    def on_event(e: OrderEvent) -> None:
        if e.kind is EventKind.FILL:
            seen.append(time.perf_counter())

    sim.subscribe(on_event)
    delays = []
    for i in range(fills):
        price = bid - 1 - D(i % 50) / 100
        sim.submit(
            OrderRequest(
                symbol=symbol, side="buy", type="limit", time_in_force="gtc", qty=qty,
                limit_price=price,
            )
        )  # fmt: skip
        sim.run_until_done()
        seen.clear()
        t0 = time.perf_counter()
        sim.quote(symbol, price - D("0.02"), price - D("0.01"), bid_size=BIG, ask_size=BIG)
        sim.run_until_done()
        delays.append(seen[0] - t0)
        sim.quote(symbol, bid, bid + D("0.02"), bid_size=BIG, ask_size=BIG)
    return out | _delays(delays)


def _delays(delays: list[float]) -> dict[str, Any]:
    return {
        "fills": len(delays),
        "fill_to_event_p50_ms": round(statistics.median(delays) * 1e3, 3),
        "fill_to_event_p99_ms": round(pct(delays, 99) * 1e3, 3),
    }


def alpaca(n: int, fills: int) -> dict[str, Any]:
    from alpaca.trading.client import TradingClient
    from alpaca.trading.enums import OrderSide, TimeInForce
    from alpaca.trading.models import TradeUpdate
    from alpaca.trading.requests import LimitOrderRequest
    from alpaca.trading.stream import TradingStream

    from fillforge.alpaca import AlpacaServer, scripted_broker

    out: dict[str, Any] = {}
    base = scripted_broker(("AAPL",), cash=BIG, start_ns=MARKET_OPEN_NS)
    out["baseline"] = baseline(base, "AAPL", D(1), D(100), n, fills)
    sim = scripted_broker(("AAPL",), cash=BIG, start_ns=MARKET_OPEN_NS)
    server = AlpacaServer(sim, key_id="bench", secret_key="bench", requests_per_minute=10**7)
    with server:

        def quote(bid: Decimal) -> None:
            server.call(lambda b: b.quote("AAPL", bid, bid + D("0.02"), bid_size=BIG, ask_size=BIG))

        quote(D(100))
        client = TradingClient("bench", "bench", url_override=server.base_url)
        out["server"] = bench_alpaca.submit_loop(client, n)
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
        for i in range(fills):
            price = D(99) - D(i % 50) / 100
            o = client.submit_order(
                LimitOrderRequest(
                    symbol="AAPL", qty=1, side=OrderSide.BUY, time_in_force=TimeInForce.GTC,
                    limit_price=float(price),
                )
            )  # fmt: skip
            got.clear()
            t0 = time.perf_counter()
            quote(price - D("0.02"))
            if not got.wait(10):
                raise SystemExit("no trade_updates fill frame within 10 s")
            delays.append(arrived[str(o.id)] - t0)
            quote(D(100))
        out["server"] |= _delays(delays)
        stream.stop()
    return out


def binance(n: int, fills: int) -> dict[str, Any]:
    import ccxt

    from fillforge.binance import BinanceServer, scripted_broker

    out: dict[str, Any] = {}
    base = scripted_broker(cash=BIG)
    out["baseline"] = baseline(base, "BTCUSDT", D("0.001"), D(30_000), n, fills)
    sim = scripted_broker(cash=BIG)
    sim.quote("BTCUSDT", D(30_000), D("30000.10"), bid_size=BIG, ask_size=BIG)
    server = BinanceServer(
        sim, api_key="bench", secret_key="bench", speed=None,
        weight_per_minute=1 << 24, orders_per_10s=1 << 24,
    )  # fmt: skip
    with server:
        ex = ccxt.binance(
            {"apiKey": "bench", "secret": "bench", "urls": {"api": server.urls},
             "enableRateLimit": False}
        )  # fmt: skip
        ex.load_markets()
        ex.create_order("BTC/USDT", "market", "buy", 1)  # every sell has BTC to sell
        sides = ("buy", "sell")
        out["server"] = timed(
            lambda i: ex.create_order("BTC/USDT", "market", sides[i & 1], 0.001), n
        )
        got = bench_binance_server.fill_to_stream(server, fills)
        out["server"] |= {k: v for k, v in got.items()}
    return out


def ibkr(n: int, fills: int) -> dict[str, Any]:
    from fillforge.ibkr import IbGateway, scripted_broker

    out: dict[str, Any] = {}
    base = scripted_broker(["AAPL"], cash=BIG, start_ns=WallClock().now_ns())
    out["baseline"] = baseline(base, "AAPL", D(1), D(100), n, fills)
    sim = scripted_broker(["AAPL"], cash=BIG, start_ns=WallClock().now_ns())
    sim.quote("AAPL", D("100.00"), D("100.02"), **bench_ibkr.DEEP)
    with IbGateway(sim) as gateway:
        raw = bench_ibkr.raw_ib_async(gateway.port, n)
        out["server"] = {k: raw[k] for k in ("orders", "orders_per_s", "submit_p50_ms")}
        out["server"]["submit_p99_ms"] = raw["submit_p99_ms"]
        out["server"] |= bench_ibkr.fill_to_event(gateway, fills)
    return out


SERVERS: dict[str, tuple[str, Callable[[int, int], dict[str, Any]]]] = {
    "alpaca": ("alpaca-py", alpaca),
    "binance": ("ccxt", binance),
    "ibkr": ("ib_async", ibkr),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--orders", type=int, default=1000)
    ap.add_argument("--fills", type=int, default=100)
    ap.add_argument("--only", choices=sorted(SERVERS), action="append")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    res: dict[str, Any] = {}
    for name in args.only or SERVERS:
        print(f"{name}...", file=sys.stderr, flush=True)
        res[name] = SERVERS[name][1](args.orders, args.fills)
        print(f"  {res[name]}", file=sys.stderr, flush=True)
    if args.json:
        print(json.dumps(res))
        return
    print(f"{args.orders:,} market orders, {args.fills} fills; every server in this process")
    print(
        f"{'server':8} {'client':10} {'orders/s':>9} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'fill->event p50':>16} {'p99':>8}"
    )
    for name, r in res.items():
        for what, client in (("server", SERVERS[name][0]), ("baseline", "direct")):
            m = r[what]
            print(
                f"{name:8} {client:10} {m['orders_per_s']:>9,} {m['submit_p50_ms']:>8} "
                f"{m['submit_p99_ms']:>8} {m['fill_to_event_p50_ms']:>16} "
                f"{m['fill_to_event_p99_ms']:>8}"
            )


if __name__ == "__main__":
    main()
