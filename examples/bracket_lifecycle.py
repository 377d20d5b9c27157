"""A bracket order through its whole lifecycle, driven by scripted venue reports.

Run: ``python examples/bracket_lifecycle.py``. Prints every event the order manager publishes.
"""

from __future__ import annotations

from decimal import Decimal
from itertools import count

from fillforge import (
    EventKind,
    Fill,
    OrderClass,
    OrderManager,
    OrderRequest,
    OrderSide,
    OrderType,
    StopLoss,
    TakeProfit,
    VenueReport,
)
from fillforge.orders import Order

trades = count(1)


def fill(mgr: OrderManager, order: Order, qty: int, price: str) -> None:
    f = Fill(trade_id=f"T{next(trades)}", order_id=order.id, price=Decimal(price), qty=Decimal(qty))
    done = order.cum_qty + qty >= order.order_qty
    kind = EventKind.FILL if done else EventKind.PARTIAL_FILL
    mgr.apply(VenueReport(kind=kind, order_id=order.id, fill=f))


def report(mgr: OrderManager, kind: EventKind, order_id: str, new_id: str | None = None) -> None:
    mgr.apply(VenueReport(kind=kind, order_id=order_id, new_order_id=new_id))


def main() -> None:
    mgr = OrderManager()
    mgr.subscribe(
        lambda e: print(
            f"{e.order_id:4} {e.kind.value:18} {e.status.value:17} "
            f"cum={e.cum_qty} leaves={e.leaves_qty}"
        )
    )
    entry = mgr.create(
        OrderRequest(
            symbol="AAPL",
            side=OrderSide.BUY,
            qty=Decimal(100),
            type=OrderType.LIMIT,
            limit_price=Decimal("187.25"),
            order_class=OrderClass.BRACKET,
            take_profit=TakeProfit(limit_price=Decimal(195)),
            stop_loss=StopLoss(stop_price=Decimal(180)),
        )
    )
    mgr.submit(entry.id)
    report(mgr, EventKind.NEW, entry.id)
    fill(mgr, entry, 60, "187.25")
    fill(mgr, entry, 40, "187.20")  # entry filled: both exits are submitted
    group = mgr.group(entry.id)
    take_profit, stop_loss = group.exits
    for leg in group.exits:
        report(mgr, EventKind.NEW, leg.id)
    fill(mgr, take_profit, 30, "195")  # partial take-profit: the stop-loss is resized to 70
    report(mgr, EventKind.REPLACED, stop_loss.id, "sl-2")
    fill(mgr, take_profit, 70, "195")  # take-profit filled: the stop-loss is canceled
    report(mgr, EventKind.CANCELED, "sl-2")
    print(f"group {group.id}: {group.state}; venue actions: {len(mgr.outbox)}")


if __name__ == "__main__":
    main()
