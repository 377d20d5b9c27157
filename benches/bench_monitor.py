"""What the execution monitor costs per order event: a simulated tape through a
``SimulatedBroker`` with and without an ``ExecutionMonitor`` subscribed, in the same process.

Run: ``python benches/bench_monitor.py [--orders 20000] [--repeat 5] [--json]``.

The tape: ``--orders`` orders on one symbol against a deep scripted quote, alternately a market
buy, a market sell, and a resting limit buy canceled a step later (so every kind of event the
monitor counts: created, submitted, new, fill, cancel_requested, canceled). It is run
``--repeat`` times each way, interleaved, best of each:

1. *broker alone*: order events per second the broker publishes with nothing subscribed;
2. *with the monitor*: the same tape with an ``ExecutionMonitor`` (default alert rules, windows
   of an hour; the rules evaluated on every event that moves a window);
3. *the collector alone*: the recorded events fed straight into a fresh monitor's ``on_event``
   (events per second through the collector, nothing else).

The cost per event is (2 - 1) / events, and 1 / (3). Times are the process's CPU time
(``time.process_time``): on a shared machine the other processes' load does not count, their
effect on caches and frequency still does.
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import time
from decimal import Decimal
from typing import Any

from fillforge.monitor import ExecutionMonitor
from fillforge.orders.enums import OrderSide, OrderTimeInForce, OrderType
from fillforge.orders.models import Instrument, OrderEvent, OrderRequest
from fillforge.sim.broker import SimulatedBroker
from fillforge.sim.feeds import empty_feed
from fillforge.sim.venue import Venue
from fillforge.time import NS_PER_MILLISECOND

D = Decimal
AAA = Instrument(symbol="AAA")


def market() -> SimulatedBroker:
    venue = Venue(calendar=None)
    venue.add(AAA, empty_feed())
    b = SimulatedBroker(venue, cash=D(10) ** 12, start_ns=0)
    size = D(10) ** 9
    b.quote("AAA", D("100.00"), D("100.02"), bid_size=size, ask_size=size, ts=0)
    return b


REQUESTS = [
    OrderRequest(
        symbol="AAA",
        side=side,
        type=OrderType.MARKET,
        time_in_force=OrderTimeInForce.DAY,
        qty=D(10),
    )
    for side in (OrderSide.BUY, OrderSide.SELL)
] + [
    OrderRequest(
        symbol="AAA",
        side=OrderSide.BUY,
        type=OrderType.LIMIT,
        time_in_force=OrderTimeInForce.GTC,
        qty=D(10),
        limit_price=D("99.00"),
    )
]


def tape(b: SimulatedBroker, orders: int) -> None:
    """``orders`` orders, one simulated millisecond apart; each resting one canceled next."""
    resting = None
    for i in range(orders):
        o = b.submit(REQUESTS[i % 3])
        if resting is not None:
            b.cancel(resting)
            resting = None
        if i % 3 == 2:
            resting = o.id
        b.run(until_ns=(i + 1) * NS_PER_MILLISECOND)


def run(orders: int, monitored: bool) -> tuple[float, int]:
    """The tape with or without a monitor: seconds, and the events the monitor counted (0
    without one)."""
    b = market()
    monitor = ExecutionMonitor(b) if monitored else None
    gc.collect()
    t0 = time.process_time()
    tape(b, orders)
    took = time.process_time() - t0
    n = 0 if monitor is None else sum(monitor.totals.events.values())
    return took, n


def events_of(orders: int) -> list[OrderEvent]:
    b = market()
    events: list[OrderEvent] = []
    b.subscribe(events.append)
    tape(b, orders)
    return events


def collector_alone(orders: int) -> tuple[float, int]:
    b = market()
    events: list[OrderEvent] = []
    b.subscribe(events.append)
    tape(b, orders)
    m = ExecutionMonitor(b)
    m.close()  # fed by hand below, not by the broker
    gc.collect()
    t0 = time.process_time()
    for e in events:
        m.on_event(e)
    return time.process_time() - t0, len(events)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--orders", type=int, default=20_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    # The rules fire on this tape (its resting orders are canceled: a low fill rate); the log
    # line is part of the cost, its printing is not.
    logging.getLogger("fillforge.monitor").addHandler(logging.NullHandler())
    run(1000, False)  # warm up both paths
    run(1000, True)
    events = len(events_of(args.orders))
    alone: list[float] = []
    with_monitor: list[float] = []
    fed: list[float] = []
    for _ in range(args.repeat):
        alone.append(run(args.orders, False)[0])
        t, n = run(args.orders, True)
        assert n == events, (n, events)
        with_monitor.append(t)
        fed.append(collector_alone(args.orders)[0])
    a, w, f = min(alone), min(with_monitor), min(fed)
    out: dict[str, Any] = {
        "orders": args.orders,
        "events": events,
        "broker_alone_events_per_s": round(events / a),
        "with_monitor_events_per_s": round(events / w),
        "collector_alone_events_per_s": round(events / f),
        "cost_per_event_us": round((w - a) / events * 1e6, 2),
        "collector_per_event_us": round(f / events * 1e6, 2),
        "slowdown": round(w / a, 3),
    }
    if args.json:
        print(json.dumps(out))
        return
    print(f"{events} order events from {args.orders} orders, best of {args.repeat}:")
    print(f"  broker alone          {out['broker_alone_events_per_s']:>10,} events/s")
    print(f"  with the monitor      {out['with_monitor_events_per_s']:>10,} events/s")
    print(f"  collector alone       {out['collector_alone_events_per_s']:>10,} events/s")
    print(
        f"  cost per event {out['cost_per_event_us']} us (tape), "
        f"{out['collector_per_event_us']} us (collector alone); x{out['slowdown']}"
    )


if __name__ == "__main__":
    main()
