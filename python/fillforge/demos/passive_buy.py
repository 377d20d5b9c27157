"""Work a buy with resting limit orders on a LOBSTER day, through the simulated broker.

The strategy joins the best bid with its whole remaining quantity and, every ``reprice_every``
market events, replaces its order at the new best bid if the bid moved. It reports the fills, the
average price, the slippage against the arrival mid and the interval VWAP (of the recorded
executions between the first order and the last fill), and the fill rate.

The cost figures are not computed here: the buy is a
:class:`~fillforge.execution.parent.ParentOrder` and :func:`~fillforge.execution.cost.parent_cost`
measures it (its fills against the day's prints), so the demo and ``fillforge execute`` share one
definition (positive bps = cost). The report keeps that :class:`ParentCost` as ``cost``.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Final

from fillforge.demos.policies import Day
from fillforge.execution.cost import ParentCost, parent_cost
from fillforge.execution.parent import ParentOrder
from fillforge.execution.schedules import Policy
from fillforge.orders.enums import EventKind, OrderSide, OrderTimeInForce, OrderType
from fillforge.orders.models import Fill, OrderEvent, OrderRequest
from fillforge.orders.order import Order
from fillforge.sim.broker import SimulatedBroker
from fillforge.sim.venue import Venue

_CENT_BP: Final = Decimal("0.01")
_PRICE_PLACES: Final = Decimal("0.0001")


@dataclass(frozen=True, slots=True)
class PassiveBuyReport:
    """What working the order achieved, and what it cost against two benchmarks."""

    target: Decimal
    filled: Decimal
    fills: tuple[Fill, ...]
    orders: int
    replaces: int
    avg_price: Decimal | None
    arrival_mid: Decimal
    interval_vwap: Decimal | None
    start_ns: int
    end_ns: int
    messages: int
    seconds: float
    events: tuple[str, ...] = field(repr=False)
    cost: ParentCost = field(repr=False)

    @property
    def fill_rate(self) -> Decimal:
        return self.filled / self.target

    @property
    def slippage_vs_arrival_bps(self) -> Decimal | None:
        """``cost.arrival_bps`` to 0.01 bp. Positive: paid more than the arrival mid."""
        bps = self.cost.arrival_bps
        return None if bps is None else bps.quantize(_CENT_BP)

    @property
    def slippage_vs_vwap_bps(self) -> Decimal | None:
        """``cost.vwap_bps`` to 0.01 bp. Positive: paid more than the interval VWAP."""
        bps = self.cost.vwap_bps
        return None if bps is None else bps.quantize(_CENT_BP)


def _rounded(price: Decimal | None) -> Decimal | None:
    return None if price is None else price.quantize(_PRICE_PLACES)


def run_passive_buy(
    qty: int = 5_000,
    reprice_every: int = 100,
    *,
    start_after: int = 1_000,
    files: tuple[Path, Path] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> PassiveBuyReport:
    """Buy ``qty`` GOOG shares on the shipped LOBSTER day (or ``files``), starting after
    ``start_after`` market events; ``progress(done, total)`` is called after every step."""
    day = Day(files)
    feed = day.feed
    venue = Venue("NASDAQ-SIM", calendar="XNYS")
    market = venue.add(day.instrument, feed)
    broker = SimulatedBroker(venue, cash=Decimal(10_000_000))
    log: list[str] = []
    fills: list[Fill] = []
    filled = Decimal(0)

    def record(e: OrderEvent) -> None:
        nonlocal filled
        log.append(e.model_dump_json())
        if e.fill is not None and e.kind in (EventKind.FILL, EventKind.PARTIAL_FILL):
            fills.append(e.fill)
            filled += e.fill.qty

    broker.subscribe(record)
    started = time.perf_counter()
    total = len(feed)
    messages = broker.run(max_messages=start_after)
    arrival = market.mid()
    if arrival is None:
        raise RuntimeError("no two-sided market at the start")
    start_ns = broker.now()
    target = Decimal(qty)
    first_child_mid: Decimal | None = None
    working: Order | None = None
    orders = replaces = 0
    while filled < target:
        bid = market.best_bid()
        if working is not None and working.replaced_by is not None:
            working = broker.get_order(working.replaced_by)
        if working is not None and working.status.is_open:
            if bid is not None and working.limit_price != bid:
                broker.replace(working.id, limit_price=bid)
                replaces += 1
        elif bid is not None:
            leaves = target - filled
            if first_child_mid is None:
                first_child_mid = market.mid()
            working = broker.submit(
                OrderRequest(
                    symbol=day.instrument.symbol,
                    side=OrderSide.BUY,
                    type=OrderType.LIMIT,
                    time_in_force=OrderTimeInForce.DAY,
                    qty=leaves,
                    limit_price=bid,
                )
            )
            orders += 1
        n = broker.run(max_messages=reprice_every)
        messages += n
        if progress is not None:
            progress(messages, total)
        if n == 0:
            break
    if working is not None and working.status.is_open:
        broker.cancel(working.id)
    end_ns = fills[-1].ts_event if fills else broker.now()
    # The buy as a parent order: decided at the arrival mid, to be done by the close.
    parent = ParentOrder(
        parent_id="passive_buy",
        symbol=day.instrument.symbol,
        side=OrderSide.BUY,
        qty=target,
        start_ns=start_ns,
        end_ns=max(day.ns(dt.time(16)), end_ns, start_ns + 1),
        policy=Policy.LIMIT,
    )
    cost = parent_cost(
        parent,
        fills,
        arrival_price=arrival,
        final_price=market.mid() or arrival,
        first_child_mid=first_child_mid,
        trades=day.trades,
        start_ns=start_ns,
        end_ns=end_ns,
    )
    return PassiveBuyReport(
        target=target,
        filled=filled,
        fills=tuple(fills),
        orders=orders,
        replaces=replaces,
        avg_price=_rounded(cost.avg_price),
        arrival_mid=arrival,
        interval_vwap=_rounded(cost.interval_vwap),
        start_ns=start_ns,
        end_ns=end_ns,
        messages=messages,
        seconds=time.perf_counter() - started,
        events=tuple(log),
        cost=cost,
    )
