"""The order lifecycle's cost against transitions' usual ways of running a machine, in one process.

Run: ``python benches/bench_lifecycle.py [--orders 3000] [--repeats 5] [--json]``.

Every contestant drives the same lifecycle: create, submit, accept (venue New), two partial fills,
the final fill; best of ``--repeats`` runs, garbage collector off while timing.

(a) naive: a ``transitions.Machine`` built per order over ``ORDER_TABLE`` (the model added at
    construction), driven through the five events;
(b) a shared Machine: ``add_model`` + the five events + ``remove_model`` per order;
(c) a shared Machine's ``Event.trigger`` on a plain object never added (logging quiet), per trigger;
(d) the floor: a plain dict table ``{(state, event): dest}``, per transition;
(e) fillforge ``FastEvent.trigger`` per trigger;
(f) fillforge end to end: ``OrderManager.create(OrderRequest(...))`` (validated), ``submit``,
    ``apply(VenueReport)`` x4 (built with ``VenueReport.trusted``, as a venue adapter does),
    with one subscriber receiving every event.
Memory: tracemalloc of 2,000 live orders through the manager, each partially filled, minus the
request objects (the order's own fields).
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import sys
import time
import tracemalloc
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from bench_timers import best_time
from transitions import Machine

from fillforge import Fill, OrderEvent, OrderManager, OrderRequest, VenueReport
from fillforge.orders.enums import EventKind, OrderStatus
from fillforge.orders.machine import ORDER_STATES, ORDER_TABLE, _rows, order_machine

logging.getLogger("transitions").setLevel(logging.WARNING)

QTY = Decimal(300)
FILLS = (Decimal(100), Decimal(100), Decimal(100))
STEPS = ("submit", "ack", "fill", "fill", "fill")


class NaiveOrder:
    """The lifecycle's data with the table's condition methods, for the transitions baselines."""

    def __init__(self, oid: str) -> None:
        self.id = oid
        self.qty = QTY
        self.cum = Decimal(0)
        self.state = "created"

    def is_complete(self) -> bool:
        return self.cum >= self.qty

    def is_partial(self) -> bool:
        return bool(self.cum) and self.cum < self.qty

    def is_unfilled(self) -> bool:
        return not self.cum

    def is_good_till(self) -> bool:
        return False

    def was_pending_new(self) -> bool:
        return False

    def was_accepted(self) -> bool:
        return False

    def no_request(self) -> bool:
        return True


def drive(trigger: Callable[[NaiveOrder, str], Any], o: NaiveOrder) -> None:
    for step, qty in zip(STEPS, (None, None, *FILLS), strict=True):
        if qty is not None:
            o.cum += qty
        trigger(o, step)


def timed(fn: Callable[[], object], repeats: int) -> float:
    """Best wall nanoseconds of ``fn()`` over ``repeats`` runs."""
    return best_time(fn, repeats, time.perf_counter_ns)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--orders", type=int, default=3_000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    n = a.orders
    rows = _rows(ORDER_TABLE)
    results: dict[str, float] = {}  # ns per order (lifecycle) or per trigger

    def naive() -> None:
        for i in range(n):
            o = NaiveOrder(str(i))
            Machine(
                model=o,
                states=ORDER_STATES,
                transitions=rows,
                initial="created",
                auto_transitions=False,
            )
            drive(lambda m, e: getattr(m, e)(), o)
            assert o.state == "filled"

    results["(a) Machine per order, lifecycle"] = timed(naive, a.repeats) / n

    shared = Machine(
        model=None, states=ORDER_STATES, transitions=rows, initial="created", auto_transitions=False
    )

    def add_remove() -> None:
        for i in range(n):
            o = NaiveOrder(str(i))
            shared.add_model(o)
            drive(lambda m, e: getattr(m, e)(), o)
            shared.remove_model(o)
            assert o.state == "filled"

    results["(b) shared Machine, add_model + lifecycle + remove_model"] = (
        timed(add_remove, a.repeats) / n
    )

    events = shared.events

    def plain_trigger() -> None:
        for i in range(n):
            o = NaiveOrder(str(i))
            drive(lambda m, e: events[e].trigger(m), o)
            assert o.state == "filled"

    results["(c) shared Machine Event.trigger, per trigger"] = (
        timed(plain_trigger, a.repeats) / n / len(STEPS)
    )

    table: dict[tuple[str, str], str] = {}
    for r in ORDER_TABLE:
        for src in r[1]:
            # the floor ignores conditions: the first row per (state, event) wins
            table.setdefault((str(src), r[0]), str(r[2] or src))
    table[("partially_filled", "fill")] = "partially_filled"

    def dict_table() -> None:
        for i in range(n):
            o = NaiveOrder(str(i))
            for step in STEPS:
                o.state = table[(o.state, step)]

    results["(d) dict table floor, per transition"] = timed(dict_table, a.repeats) / n / len(STEPS)

    fast = order_machine()
    fast_events = {e: fast.event(e) for e in set(STEPS)}

    def fast_trigger() -> None:
        for i in range(n):
            o = NaiveOrder(str(i))
            drive(lambda m, e: fast_events[e].trigger(m), o)
            assert o.state == "filled"

    results["(e) fillforge FastEvent.trigger, per trigger"] = (
        timed(fast_trigger, a.repeats) / n / len(STEPS)
    )

    construct = VenueReport.trusted
    fill_construct = Fill.trusted
    seen: list[OrderEvent] = []

    def fillforge_lifecycle() -> None:
        seen.clear()
        mgr = OrderManager()
        mgr.subscribe(seen.append)
        for i in range(n):
            o = mgr.create(
                OrderRequest(symbol="AAPL", side="buy", type="limit", qty=QTY, limit_price="10")
            )
            oid = o.id
            mgr.submit(oid)
            mgr.apply(construct(kind=EventKind.NEW, order_id=oid, ts=0, qty=None))
            for k, q in enumerate(FILLS):
                f = fill_construct(trade_id=f"{i}-{k}", order_id=oid, price=Decimal(10), qty=q)
                kind = EventKind.FILL if k == 2 else EventKind.PARTIAL_FILL
                mgr.apply(construct(kind=kind, order_id=oid, ts=0, fill=f))
            assert o.state == OrderStatus.FILLED

    results["(f) fillforge OrderManager, full lifecycle"] = (
        timed(fillforge_lifecycle, a.repeats) / n
    )
    assert len(seen) == 6 * n  # created, submitted, new, 3 fills

    # memory per live (partially filled) order, requests excluded
    reqs = [
        OrderRequest(symbol="AAPL", side="buy", type="limit", qty=QTY, limit_price="10")
        for _ in range(2_000)
    ]
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    mgr = OrderManager()
    for i, r in enumerate(reqs):
        o = mgr.create(r)
        mgr.submit(o.id)
        mgr.apply(construct(kind=EventKind.NEW, order_id=o.id, ts=0, qty=None))
        f = fill_construct(trade_id=str(i), order_id=o.id, price=Decimal(10), qty=Decimal(100))
        mgr.apply(construct(kind=EventKind.PARTIAL_FILL, order_id=o.id, ts=0, fill=f))
    gc.collect()
    per_order = (tracemalloc.get_traced_memory()[0] - before) / len(reqs)
    tracemalloc.stop()

    naive_ns = results["(a) Machine per order, lifecycle"]
    ours = results["(f) fillforge OrderManager, full lifecycle"]
    floor = results["(d) dict table floor, per transition"]
    if a.json:
        print(json.dumps({"ns": results, "bytes_per_live_order": per_order}))
        return 0
    print(f"{n:,} orders, best of {a.repeats}")
    for k, v in results.items():
        print(f"{k:62} {v / 1e3:9.2f} us")
    print(f"fillforge lifecycle vs Machine per order: {naive_ns / ours:.1f}x faster")
    fast_ns = results["(e) fillforge FastEvent.trigger, per trigger"]
    print(f"FastEvent trigger vs dict floor: {fast_ns / floor:.1f}x the floor")
    print(f"memory per live order (fills and events included, request excluded): {per_order:.0f} B")
    return 0


if __name__ == "__main__":
    sys.exit(main())
