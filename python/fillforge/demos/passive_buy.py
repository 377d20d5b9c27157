"""Work a buy with resting limit orders on a LOBSTER day, through the simulated broker.

The strategy joins the best bid with its whole remaining quantity and, every ``reprice_every``
market events, replaces its order at the new best bid if the bid moved. It reports the fills, the
average price, the slippage against the arrival mid and the interval VWAP (of the recorded
executions between the first order and the last fill), and the fill rate.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import numpy as np

from fillforge.orders.enums import EventKind, OrderSide, OrderTimeInForce, OrderType
from fillforge.orders.models import Fill, Instrument, OrderEvent, OrderRequest
from fillforge.orders.order import Order
from fillforge.replay import lobster_sample
from fillforge.sim.broker import SimulatedBroker
from fillforge.sim.feeds import FeedKind, lobster_feed
from fillforge.sim.venue import Market, Venue

_BPS = Decimal(10_000)


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

    @property
    def fill_rate(self) -> Decimal:
        return self.filled / self.target

    @property
    def slippage_vs_arrival_bps(self) -> Decimal | None:
        """Positive: paid more than the arrival mid."""
        if self.avg_price is None:
            return None
        return ((self.avg_price - self.arrival_mid) / self.arrival_mid * _BPS).quantize(
            Decimal("0.01")
        )

    @property
    def slippage_vs_vwap_bps(self) -> Decimal | None:
        if self.avg_price is None or self.interval_vwap is None:
            return None
        return ((self.avg_price - self.interval_vwap) / self.interval_vwap * _BPS).quantize(
            Decimal("0.01")
        )


def interval_vwap(market: Market, start_ns: int, end_ns: int) -> Decimal | None:
    """VWAP of the feed's recorded executions (visible and hidden) in ``[start_ns, end_ns]``."""
    t, kind, _, _, price, qty = market.feed.columns()
    mask = (t >= start_ns) & (t <= end_ns)
    mask &= (kind == FeedKind.EXECUTE) | (kind == FeedKind.HIDDEN)
    volume = int(qty[mask].sum())
    if volume == 0:
        return None
    # Integer ticks x lots: exact in int64 for a day of shares at these prices.
    notional = int(np.dot(price[mask], qty[mask]))
    tick = market.instrument.tick_size
    return (Decimal(notional) * tick / volume).quantize(tick / 100)


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
    message, orderbook = files or lobster_sample()
    feed = lobster_feed(message, orderbook)
    venue = Venue("NASDAQ-SIM", calendar="XNYS")
    market = venue.add(Instrument(symbol="GOOG", tick_size=Decimal("0.01")), feed)
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
            working = broker.submit(
                OrderRequest(
                    symbol="GOOG",
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
    avg = sum((f.price * f.qty for f in fills), Decimal(0)) / filled if filled else None
    return PassiveBuyReport(
        target=target,
        filled=filled,
        fills=tuple(fills),
        orders=orders,
        replaces=replaces,
        avg_price=None if avg is None else avg.quantize(Decimal("0.0001")),
        arrival_mid=arrival,
        interval_vwap=interval_vwap(market, start_ns, end_ns),
        start_ns=start_ns,
        end_ns=end_ns,
        messages=messages,
        seconds=time.perf_counter() - started,
        events=tuple(log),
    )
