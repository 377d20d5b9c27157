"""Several markets on one simulated venue: replay speed of two interleaved markets against one
market alone, in the same process.

Run: ``python benches/bench_interleaved.py [--repeats 5] [--offset-ns 1] [--no-check] [--json]``.

The data is the GOOG level-10 LOBSTER day shipped with the package (147,916 events). The second
market is the same day listed under another symbol with its clock shifted by ``--offset-ns``
(default 1 ns: the two feeds alternate message by message, the finest interleaving there is).
The figure is what the simulation loop costs per market event. Contestants (best of
``--repeats``, taking turns; (d) best of 3; data loaded before timing; every engine checks its
book against the true book after every event unless ``--no-check``):

(a) one market alone through ``SimulatedBroker.run()``, no orders;
(b) the two markets through ``SimulatedBroker.run()``, merged in time order, no orders;
(a') and (b') the same with one resting user order per market, a 1-share buy far below the
    market that never fills: a market with a user order must be merged message by message (one
    without cannot change a user order, and runs in one stretch);
(c) the merge alone: ``MarketsLoop.run`` over the two engines, in Rust, with those orders;
(d) the merge as a Python loop, one ``SimEngine.run`` per stretch between the other market's
    messages (how ``SimulatedBroker.run`` merged markets before ``MarketsLoop``), with them.

The ratios that matter are (b)/(a) and (b')/(a') in events per second (target: at least 0.8).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from datetime import date
from decimal import Decimal

from fillforge import _core
from fillforge.orders import Instrument, OrderRequest
from fillforge.orders.enums import OrderSide, OrderTimeInForce, OrderType
from fillforge.replay import lobster_sample
from fillforge.sim import SimulatedBroker, Venue
from fillforge.sim.calendar import local_midnight_ns

DAY = date(2012, 6, 21)


def feeds(offset_ns: int) -> tuple[_core.Feed, _core.Feed]:
    message, orderbook = (str(p) for p in lobster_sample())
    t0 = local_midnight_ns(DAY, "America/New_York")
    return (
        _core.Feed.lobster(message, orderbook, t0, 100),
        _core.Feed.lobster(message, orderbook, t0 + offset_ns, 100),
    )


def broker_run(fs: list[_core.Feed], check: bool, orders: bool) -> tuple[float, int]:
    """(a), (b): seconds and messages of ``SimulatedBroker.run()`` over markets on ``fs``."""
    venue = Venue("BENCH", calendar=None)
    for i, f in enumerate(fs):
        venue.add(Instrument(symbol=f"GOOG{i}"), f, check=check)
    broker = SimulatedBroker(venue, cash=Decimal(1_000_000))
    for i in range(len(fs) if orders else 0):
        far = OrderRequest(
            symbol=f"GOOG{i}",
            side=OrderSide.BUY,
            qty=Decimal(1),
            type=OrderType.LIMIT,
            limit_price=Decimal("1.00"),
            time_in_force=OrderTimeInForce.GTC,
        )
        broker.submit(far)
    t0 = time.perf_counter()
    n = broker.run()
    return time.perf_counter() - t0, n


def engines(fs: list[_core.Feed], check: bool) -> list[_core.SimEngine]:
    """An engine per feed, each with the far resting buy (100: $1.00 in cent ticks)."""
    es = [_core.SimEngine(f, check=check) for f in fs]
    for e in es:
        e.submit(1, 1, 100, 1)
        e.take_events()
    return es


def merged_rust(fs: list[_core.Feed], check: bool) -> tuple[float, int]:
    """(c): ``MarketsLoop.run`` until the data ends."""
    loop = _core.MarketsLoop(engines(fs, check))
    t0 = time.perf_counter()
    n = 0
    while True:
        k, _, _ = loop.run()
        if not k:
            break
        n += k
    return time.perf_counter() - t0, n


def merged_python(fs: list[_core.Feed], check: bool) -> tuple[float, int]:
    """(d): the Python merge: the earliest market runs up to the other's next message."""
    es = engines(fs, check)
    t0 = time.perf_counter()
    n = 0
    while True:
        live = [(e.next_time, i) for i, e in enumerate(es) if e.next_time is not None]
        if not live:
            break
        _, first = min(live)
        bound = 1 << 62
        for t, j in live:
            if j != first:
                bound = min(bound, t + (1 if first < j else 0))
        n += es[first].run(1 << 62, bound, True)
        es[first].take_events()
    return time.perf_counter() - t0, n


def best_of(
    contestants: dict[str, Callable[[], tuple[float, int]]], repeats: int
) -> dict[str, tuple[float, int]]:
    """Best of ``repeats`` for each; the contestants take turns in each round, so that load from
    elsewhere on the machine falls on all of them alike."""
    runs: dict[str, list[tuple[float, int]]] = {k: [] for k in contestants}
    for _ in range(repeats):
        for k, fn in contestants.items():
            runs[k].append(fn())
    return {k: min(v) for k, v in runs.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--offset-ns", type=int, default=1)
    ap.add_argument("--no-check", action="store_true", help="skip the true-book checks")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    check = not args.no_check
    a, b = feeds(args.offset_ns)
    contestants = {
        "a_one_market_broker": lambda: broker_run([a], check, False),
        "b_two_markets_broker": lambda: broker_run([a, b], check, False),
        "a2_one_market_broker_orders": lambda: broker_run([a], check, True),
        "b2_two_markets_broker_orders": lambda: broker_run([a, b], check, True),
        "c_two_markets_rust_merge": lambda: merged_rust([a, b], check),
    }
    rows = best_of(contestants, args.repeats)
    # The old Python merge is slow: three runs are enough to place it.
    rows |= best_of({"d_two_markets_python_merge": lambda: merged_python([a, b], check)}, 3)
    assert rows["b_two_markets_broker"][1] == 2 * rows["a_one_market_broker"][1]
    rate = {k: n / s for k, (s, n) in rows.items()}
    ratio = rate["b_two_markets_broker"] / rate["a_one_market_broker"]
    ratio2 = rate["b2_two_markets_broker_orders"] / rate["a2_one_market_broker_orders"]
    out = {
        "events": {k: n for k, (_, n) in rows.items()},
        "seconds": {k: s for k, (s, _) in rows.items()},
        "events_per_s": rate,
        "ratio_b_over_a": ratio,
        "ratio_b2_over_a2": ratio2,
        "ratio_d_over_a": rate["d_two_markets_python_merge"] / rate["a_one_market_broker"],
        "check": check,
    }
    if args.json:
        print(json.dumps(out))
        return
    for k, (s, n) in rows.items():
        print(f"{k:30s} {n:>9,} events {s * 1e3:8.1f} ms {n / s / 1e6:6.2f} M events/s")
    print(f"two interleaved / one alone (broker), no orders: {ratio:.2f}x (target >= 0.8)")
    print(f"the same, a resting order in each market: {ratio2:.2f}x (target >= 0.8)")


if __name__ == "__main__":
    main()
