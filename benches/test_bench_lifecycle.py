"""pytest-benchmark: one order's lifecycle through fillforge against a transitions Machine per
order (``pytest benches/test_bench_lifecycle.py --benchmark-enable``); disabled, each runs once
and checks the end state."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from bench_lifecycle import FILLS, QTY, NaiveOrder, drive
from transitions import Machine

from fillforge import Fill, OrderManager, OrderRequest, OrderStatus, VenueReport
from fillforge.orders.enums import EventKind
from fillforge.orders.machine import ORDER_STATES, ORDER_TABLE, _rows

ROWS = _rows(ORDER_TABLE)


def test_lifecycle_machine_per_order(benchmark: Any) -> None:
    def run() -> NaiveOrder:
        o = NaiveOrder("x")
        Machine(
            model=o,
            states=ORDER_STATES,
            transitions=ROWS,
            initial="created",
            auto_transitions=False,
        )
        drive(lambda m, e: getattr(m, e)(), o)
        return o

    assert benchmark(run).state == "filled"


def test_lifecycle_fillforge(benchmark: Any) -> None:
    mgr = OrderManager()
    seen: list[object] = []
    mgr.subscribe(seen.append)
    counter = iter(range(10**9))

    def run() -> str:
        o = mgr.create(
            OrderRequest(symbol="AAPL", side="buy", type="limit", qty=QTY, limit_price="10")
        )
        mgr.submit(o.id)
        mgr.apply(VenueReport.trusted(kind=EventKind.NEW, order_id=o.id))
        for k, q in enumerate(FILLS):
            f = Fill.trusted(trade_id=str(next(counter)), order_id=o.id, price=Decimal(10), qty=q)
            kind = EventKind.FILL if k == 2 else EventKind.PARTIAL_FILL
            mgr.apply(VenueReport.trusted(kind=kind, order_id=o.id, fill=f))
        return o.state

    assert benchmark(run) == OrderStatus.FILLED
    assert len(seen) % 6 == 0
