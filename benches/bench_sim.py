"""The simulated exchange's speed, cost per order and memory, each against a baseline in the same
process.

Run: ``python benches/bench_sim.py [--repeats 5] [--orders 1000,10000,100000] [--json]``.

1. Replay: the GOOG level-10 LOBSTER day (147,916 events), a strategy that cancels its order and
   joins the best bid every 100 events. Contestants (best of ``--repeats``, data loaded before):
   (a) the Rust engine (``SimEngine.run`` in 100-event steps, checking the recorded book against
   the true book after every event), the strategy in Python; (b) the same workload as a
   pure-Python loop that calls the Rust book once per event (no true-book check); (c) the whole
   stack: ``SimulatedBroker.run`` with the strategy submitting and canceling ``OrderRequest``s
   through the order manager. (a) and (c) must fill the strategy's orders identically.
2. Cost per order: market orders (alternately buy and sell, 100 shares) through
   ``SimulatedBroker.submit`` against a scripted quote: validated request, account check, state
   machine, Rust match, fill, account update, event stream drained. Mean per order over each
   window of ``--orders`` in one growing run.
3. Memory: the same LOBSTER replay (with its strategy) ten times in one process on a reset venue,
   and ten times on a new venue; resident size after each run against after the first.
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import time
from decimal import Decimal
from typing import Any

from fillforge import _core
from fillforge.codes import FeedKind
from fillforge.errors import FillforgeError
from fillforge.orders import Instrument, OrderRequest
from fillforge.orders.enums import OrderSide, OrderType
from fillforge.replay import lobster_sample
from fillforge.sim import SimulatedBroker, TradingCalendar, Venue, empty_feed, lobster_feed

EVERY = 100
ADD, REDUCE, DELETE, EXECUTE = FeedKind.ADD, FeedKind.REDUCE, FeedKind.DELETE, FeedKind.EXECUTE
PLACEHOLDER = 1 << 63


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def engine_strategy(feed: _core.Feed, check: bool = True) -> tuple[float, int]:
    """(a): returns seconds and shares filled (``check``: hold the book to the true book)."""
    e = _core.SimEngine(feed, check=check)
    filled = oid = 0
    t0 = time.perf_counter()
    while not e.done:
        e.run(EVERY, stop_on_user=False)
        filled += sum(ev[3] for ev in e.take_events() if ev[0] == 1)
        if oid and e.user_order(oid) is not None:
            e.cancel(oid)
        bid = e.best_bid()
        if bid is not None:
            oid += 1
            e.submit(oid, 1, bid[0], 100, 0)
    return time.perf_counter() - t0, filled


def python_loop(feed: _core.Feed) -> tuple[float, int]:
    """(b): one Rust book call per event from a Python loop, seeded like the engine's book."""
    _, kind, order_id, side, price, qty = (c.tolist() for c in feed.columns())
    book = _core.OrderBook()
    book.matching = False
    n = len(kind)
    oid = 0
    user = 1 << 62
    t0 = time.perf_counter()
    for i in range(n):
        k = kind[i]
        if k == ADD:
            # A reused id is ignored, as the engine ignores it. Not contextlib.suppress: that
            # builds a context manager per event and would slow the baseline by half.
            try:  # noqa: SIM105
                book.add_resting(order_id[i], side[i], price[i], qty[i])
            except FillforgeError:
                pass
        elif k in (REDUCE, EXECUTE, DELETE):
            o = book.order(order_id[i])
            if o is not None:
                if k == DELETE or qty[i] >= o[2]:
                    book.cancel(order_id[i])
                else:
                    book.reduce(order_id[i], qty[i])
        if i % EVERY == 0:
            if oid:
                book.try_cancel(user + oid)
            bid = book.best_bid()
            if bid is not None:
                oid += 1
                book.add_resting(user + oid, 1, bid[0], 100)
    return time.perf_counter() - t0, 0


def goog_venue(feed: _core.Feed) -> Venue:
    venue = Venue("SIM", calendar="XNYS")
    venue.add(Instrument(symbol="GOOG", tick_size=Decimal("0.01")), feed)
    return venue


def join_the_bid(venue: Venue, every: int, cancel: bool) -> int:
    """Through the whole stack: every ``every`` events, (cancel the working order and) join the
    best bid with 100 shares; returns the shares filled."""
    broker = SimulatedBroker(venue, cash=Decimal(10**12))
    market = venue.markets["GOOG"]
    working = None
    while True:
        n = broker.run(max_messages=every)
        if cancel and working is not None and working.status.is_open:
            broker.cancel(working.id)
        bid = market.best_bid()
        if bid is not None:
            working = broker.submit(
                OrderRequest(
                    symbol="GOOG",
                    side=OrderSide.BUY,
                    type=OrderType.LIMIT,
                    qty=Decimal(100),
                    limit_price=bid,
                )
            )
        if n == 0:
            return int(sum((o.cum_qty for o in broker.orders()), Decimal(0)))


def broker_strategy(feed: _core.Feed) -> tuple[float, int]:
    """(c): the whole stack."""
    venue = goog_venue(feed)
    t0 = time.perf_counter()
    filled = join_the_bid(venue, EVERY, cancel=True)
    return time.perf_counter() - t0, filled


def order_cost(windows: list[int]) -> list[dict[str, Any]]:
    venue = Venue("V", calendar=None)
    venue.add(Instrument(symbol="TEST"), empty_feed())
    broker = SimulatedBroker(venue, cash=Decimal(10**9))
    stream = broker.events()
    big = Decimal(10**12)
    broker.quote("TEST", Decimal("100.00"), Decimal("100.01"), bid_size=big, ask_size=big)
    reqs = [
        OrderRequest(symbol="TEST", side=side, type=OrderType.MARKET, qty=Decimal(100))
        for side in (OrderSide.BUY, OrderSide.SELL)
    ]
    out = []
    done = 0
    gc.disable()
    for w in windows:
        t0 = time.perf_counter()
        for i in range(done, w):
            broker.submit(reqs[i & 1])
            for _ in stream:
                pass
        dt = time.perf_counter() - t0
        out.append({"orders": w, "window": w - done, "us_per_order": dt / (w - done) * 1e6})
        done = w
    gc.enable()
    filled = sum(1 for o in broker.orders() if o.status.value == "filled")
    assert filled == windows[-1], (filled, windows[-1])
    return out


def memory(feed: _core.Feed, runs: int = 10) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for mode in ("reset", "new"):
        venue = goog_venue(feed)
        sizes = []
        for _ in range(runs):
            if mode == "new":
                venue = goog_venue(feed)
            else:
                venue.reset()
            join_the_bid(venue, 1000, cancel=False)
            gc.collect()
            sizes.append(rss_mb())
        out[mode] = {
            "rss_mb": [round(s, 1) for s in sizes],
            "growth_after_first": round(sizes[-1] / sizes[0] - 1, 4),
        }
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--orders", default="1000,10000,100000")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    t0 = time.perf_counter()
    feed = lobster_feed(*lobster_sample())
    load = time.perf_counter() - t0
    n = len(feed)
    res: dict[str, Any] = {"events": n, "load_seconds": round(load, 3)}
    TradingCalendar("XNYS").next_close(
        feed.columns()[0][0]
    )  # build the session table outside the timings
    for name, fn in (
        ("engine", engine_strategy),
        ("engine_unchecked", lambda f: engine_strategy(f, check=False)),
        ("python_loop", python_loop),
    ):
        best = min(fn(feed)[0] for _ in range(args.repeats))
        res[name] = {"seconds": round(best, 4), "events_per_s": round(n / best)}
    best_broker = min(broker_strategy(feed)[0] for _ in range(args.repeats))
    res["broker"] = {"seconds": round(best_broker, 4), "events_per_s": round(n / best_broker)}
    loop = res["python_loop"]["seconds"]
    res["engine_vs_python_loop"] = round(loop / res["engine"]["seconds"], 2)
    res["unchecked_vs_python_loop"] = round(loop / res["engine_unchecked"]["seconds"], 2)
    _, f_engine = engine_strategy(feed)
    _, f_broker = broker_strategy(feed)
    assert f_engine == f_broker, (f_engine, f_broker)
    res["strategy_filled_shares"] = f_engine
    res["order_cost"] = order_cost([int(x) for x in args.orders.split(",")])
    res["memory"] = memory(feed)
    if args.json:
        print(json.dumps(res))
        return
    print(f"GOOG L10 day: {n:,} events (loaded in {load:.2f} s); strategy acts every {EVERY}")
    for k in ("engine", "engine_unchecked", "python_loop", "broker"):
        r = res[k]
        print(f"  {k:17} {r['seconds'] * 1e3:8.1f} ms  {r['events_per_s'] / 1e6:6.2f} M events/s")
    print(f"  engine vs pure-Python loop: {res['engine_vs_python_loop']}x")
    print(f"  engine without true-book checks vs the loop: {res['unchecked_vs_python_loop']}x")
    print(f"  the strategy filled {f_engine:,} shares (engine and broker agree)")
    for w in res["order_cost"]:
        print(f"  market order end to end, orders {w['orders']:>7,}: {w['us_per_order']:.1f} us")
    for mode, m in res["memory"].items():
        print(f"  ten replays ({mode}): RSS {m['rss_mb']} MB, growth {m['growth_after_first']:.2%}")


if __name__ == "__main__":
    main()
