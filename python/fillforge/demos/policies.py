"""One parent order worked by each execution policy on a recorded day, through the simulated
broker, and what each cost (``fillforge execute`` runs one policy, ``fillforge demo`` all seven).

Every run builds a fresh :class:`~fillforge.sim.broker.SimulatedBroker` over the same data (the
shipped LOBSTER GOOG day unless given another LOBSTER pair), replays it to the decision time,
takes the mid there as the arrival price, and hands the parent to a
:class:`~fillforge.execution.worker.ParentWorker` with the policy's schedule, child pricing and
work rules. The report is :func:`~fillforge.execution.cost.parent_cost` of the worker's fills
against the day's recorded prints. How each policy is set up is in ``docs/execution.md``
("The policy comparison").
"""

from __future__ import annotations

import datetime as dt
import math
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal
from fractions import Fraction
from pathlib import Path
from typing import Final
from zoneinfo import ZoneInfo

import numpy as np

from fillforge.broker import Broker
from fillforge.broker.models import Trade
from fillforge.errors import ExecutionError
from fillforge.execution.cost import ParentCost, parent_cost
from fillforge.execution.parent import ParentOrder, WorkRules
from fillforge.execution.pov import PovTracker
from fillforge.execution.pricing import (
    adaptive_offset,
    quote_mid,
    realised_vol,
    spread_bps,
    static_limit,
)
from fillforge.execution.schedules import (
    Iceberg,
    Policy,
    Slice,
    VolumeProfile,
    _decimal,
    almgren_chriss,
    parse_policy,
    twap,
    vwap,
)
from fillforge.execution.worker import ParentWorker, Pricing, Schedule, near_touch
from fillforge.orders.enums import OrderSide
from fillforge.orders.models import Fill, Instrument, OrderEvent
from fillforge.replay import lobster_sample
from fillforge.sim.broker import SimulatedBroker
from fillforge.sim.feeds import FeedKind, lobster_feed
from fillforge.sim.venue import Venue
from fillforge.time import NS_PER_SECOND, to_datetime

__all__ = [
    "COMPARED",
    "Day",
    "ExecuteParams",
    "PolicyRun",
    "compare_policies",
    "make_params",
    "run_policy",
]

VENUE_TZ: Final = ZoneInfo("America/New_York")
"""The venue's local time: command-line times are read in it."""
COMPARED: Final = (
    Policy.MARKET,
    Policy.LIMIT,
    Policy.ADAPTIVE,
    Policy.TWAP,
    Policy.VWAP,
    Policy.POV,
    Policy.IS,
)
"""The policies the demo compares, in its table's order (market first: the baseline)."""

_S = NS_PER_SECOND
_PROFILE_BUCKET_NS: Final = 30 * 60 * _S
_REPRICE_NS: Final = 5 * _S  # a resting child is repriced (cancelled, sent again) this often
_PASSIVE_TRIES: Final = 6  # ... this many times, then the rest of its slice goes at market
_STEP: Final = 500
_POV_MIN: Final = Decimal(100)  # POV's children: at least this ...
_POV_MAX: Final = Decimal(
    2_000
)  # ... and at most this  # market messages replayed between checks whether the parent is done


@dataclass(frozen=True, slots=True)
class ExecuteParams:
    """One parent to work: ``qty`` on ``side`` from ``start`` to ``end`` (the venue's local
    times on the data's day) by ``policy``. ``rate`` is POV's participation, ``slices`` the
    schedule's child count (an iceberg shows ``qty / slices`` at a time), ``limit`` the
    parent's limit price (for ``limit``, the child's price; default: the arrival mid)."""

    policy: Policy
    side: OrderSide = OrderSide.BUY
    qty: Decimal = Decimal(20_000)
    start: dt.time = dt.time(9, 35)
    end: dt.time = dt.time(15, 55)
    rate: Decimal = Decimal("0.1")
    slices: int = 78
    limit: Decimal | None = None


def _hhmm(field: str, value: object) -> dt.time:
    if isinstance(value, dt.time):
        return value
    if isinstance(value, str):
        try:
            return dt.time.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ExecutionError(field, value, "expected a local time HH:MM")


def make_params(
    policy: object,
    side: object = "buy",
    qty: object = Decimal(20_000),
    start: object = "09:35",
    end: object = "15:55",
    rate: object = Decimal("0.1"),
    slices: object = 78,
    limit: object = None,
    *,
    lot: Decimal = Decimal(1),
    tick: Decimal = Decimal("0.01"),
) -> ExecuteParams:
    """:class:`ExecuteParams` from loose values (command-line text), every one checked before
    anything is sent: an :class:`~fillforge.errors.ExecutionError` names the first bad one
    (``policy``, ``side``, ``qty`` off the ``lot`` grid or not positive, ``start``, ``end`` not
    after the start, ``rate`` outside (0, 1], ``slices`` below 1, ``limit`` off the ``tick``
    grid or not positive)."""
    p = parse_policy(policy)
    sides = {"buy": OrderSide.BUY, "sell": OrderSide.SELL}
    if not isinstance(side, str) or side.lower() not in sides:
        raise ExecutionError("side", side, "must be buy or sell")
    q = _decimal(qty, "qty")
    if q <= 0:
        raise ExecutionError("qty", qty, "must be a positive number")
    if q % lot:
        raise ExecutionError("qty", qty, f"not a multiple of the lot {lot}")
    begin, finish = _hhmm("start", start), _hhmm("end", end)
    if finish <= begin:
        raise ExecutionError("end", end, f"must be after start {begin.isoformat('minutes')}")
    r = _decimal(rate, "rate")
    if not 0 < r <= 1:
        raise ExecutionError("rate", rate, "must be in (0, 1]")
    if isinstance(slices, bool) or not isinstance(slices, int) or slices < 1:
        raise ExecutionError("slices", slices, "must be an integer >= 1")
    cap = None
    if limit is not None:
        cap = _decimal(limit, "limit")
        if cap <= 0:
            raise ExecutionError("limit", limit, "must be a positive price")
        if cap % tick:
            raise ExecutionError("limit", limit, f"not a multiple of the tick {tick}")
    return ExecuteParams(p, sides[side.lower()], q, begin, finish, r, slices, cap)


class Day:
    """A recorded day to work parents on: a LOBSTER message/orderbook pair (default: the
    shipped GOOG sample), loaded once, its instrument, and the day's prints (the recorded
    executions, visible and hidden) as :class:`~fillforge.broker.models.Trade`."""

    def __init__(self, files: tuple[Path, Path] | None = None, symbol: str = "GOOG") -> None:
        message, orderbook = files or lobster_sample()
        self.feed = lobster_feed(message, orderbook)
        self.instrument = Instrument(symbol=symbol, tick_size=Decimal("0.01"))
        t, kind, _, _, price, qty = self.feed.columns()
        if len(t) == 0:
            raise ExecutionError("data", str(message), "no market messages")
        mask = (kind == FeedKind.EXECUTE) | (kind == FeedKind.HIDDEN)
        tick = self.instrument.tick_size
        self.trade_ns = t[mask]
        self.trade_qty = qty[mask]
        self.trades: tuple[Trade, ...] = tuple(
            Trade(
                symbol=symbol,
                price=Decimal(int(p)) * tick,
                size=Decimal(int(n)),
                timestamp_ns=int(s),
            )
            for s, p, n in zip(
                self.trade_ns.tolist(), price[mask].tolist(), qty[mask].tolist(), strict=True
            )
        )
        self.date = to_datetime(int(t[0])).astimezone(VENUE_TZ).date()

    def ns(self, at: dt.time) -> int:
        """``at`` (the venue's local time) on the day, in UNIX nanoseconds."""
        when = dt.datetime.combine(self.date, at, VENUE_TZ)
        return int(when.timestamp()) * _S + when.microsecond * 1000

    def broker(self) -> SimulatedBroker:
        venue = Venue("NASDAQ-SIM", calendar="XNYS")
        venue.add(self.instrument, self.feed)
        return SimulatedBroker(venue, cash=Decimal(100_000_000))

    def volume_profile(self) -> VolumeProfile:
        """The day's own volume by half hour (in-sample: it knows the day's volume ahead)."""
        midnight = self.ns(dt.time(0))
        buckets = (self.trade_ns - midnight) // _PROFILE_BUCKET_NS
        keys, where = np.unique(buckets, return_inverse=True)
        volumes = np.bincount(where, weights=self.trade_qty).astype(np.int64).tolist()
        total = sum(volumes)
        fractions = {
            int(k): Fraction(v, total) for k, v in zip(keys.tolist(), volumes, strict=True)
        }
        return VolumeProfile(_PROFILE_BUCKET_NS, "America/New_York", fractions)


@dataclass(frozen=True, slots=True)
class ChildRow:
    """One child order as the broker saw it."""

    client_order_id: str
    sent_ns: int
    type: str
    limit_price: Decimal | None
    qty: Decimal
    filled_qty: Decimal
    status: str


@dataclass(frozen=True, slots=True)
class PolicyRun:
    """One policy's parent: how it was worked (``how``), its children and fills, its cost, and
    the wall time the run took."""

    name: str
    how: str
    cost: ParentCost
    children: tuple[ChildRow, ...]
    fills: tuple[Fill, ...]
    seconds: float


# ----- how each policy prices and schedules ----------------------------------------------------


def _at_market(broker: Broker, parent: ParentOrder) -> Decimal | None:
    return None


class AdaptiveOffsetPricing:
    """A limit :func:`~fillforge.execution.pricing.adaptive_offset` bps on the passive side of
    the mid (below it for a buy): ``max(1 bp, half the quoted spread)``, doubled while the
    realised volatility of the last 20 sampled mids runs above that of every mid sampled so far
    (a mid is sampled each time a child is priced); at market when there is no two-sided quote.
    """

    def __init__(self, tick: Decimal) -> None:
        self.tick = tick
        self.last: Decimal | None = None
        self.returns: deque[float] = deque(maxlen=20)  # the last 20 log returns of the mid
        self._squares = 0.0  # the sum of every squared log return so far, and their count
        self._count = 0

    def __call__(self, broker: Broker, parent: ParentOrder) -> Decimal | None:
        q = broker.latest_quote(parent.symbol)
        if q is None or q.bid_price is None or q.ask_price is None:
            return None
        mid = (q.bid_price + q.ask_price) / 2
        if self.last is not None:
            r = math.log(mid / self.last)
            self.returns.append(r)
            self._squares += r * r
            self._count += 1
        self.last = mid
        vol = normal = 0.0
        if len(self.returns) == self.returns.maxlen:
            vol = realised_vol(list(self.returns), 20, returns=True)
            normal = math.sqrt(self._squares / self._count)
        spread = spread_bps(q.bid_price, q.ask_price)
        offset = adaptive_offset(Decimal(1), spread, Decimal("0.5"), vol, normal or 1.0, Decimal(2))
        return static_limit(mid, parent.side, offset, self.tick)


def _one(qty: Decimal, start: int, end: int, lot: Decimal) -> list[Slice]:
    return [Slice(start, qty)]


def _on_demand(qty: Decimal, start: int, end: int, lot: Decimal) -> list[Slice]:
    """Nothing on a timetable: the children are sent as the market calls for them
    (:meth:`ParentWorker.send_now`); what is left at the end goes with the end's sweep."""
    return [Slice(end, qty)]


@dataclass(slots=True)
class _Setup:
    how: str
    schedule: Schedule
    pricing: Pricing
    rules: WorkRules
    limit: Decimal | None


_REPRICING = WorkRules(timeout_ns=_REPRICE_NS, max_attempts=_PASSIVE_TRIES, fallback="market")


def _setup(p: ExecuteParams, day: Day, arrival: Decimal) -> _Setup:
    tick, n = day.instrument.tick_size, p.slices
    touch = f"children at the near touch, repriced every {_REPRICE_NS // _S} s, at market "
    touch += f"after {_PASSIVE_TRIES} tries"
    if p.policy is Policy.MARKET:
        return _Setup(
            "market orders: the whole order at the start, what the book could not take again "
            "each second",
            _one,
            _at_market,
            WorkRules(),
            p.limit,
        )
    if p.policy is Policy.LIMIT:
        price = p.limit if p.limit is not None else static_limit(arrival, p.side, Decimal(0), tick)
        return _Setup(
            f"one limit order at {price} for the day, unfilled rest not chased",
            _one,
            lambda b, parent: price,
            WorkRules(at_end="stop"),
            price,
        )
    if p.policy is Policy.ADAPTIVE:
        return _Setup(
            f"{n} TWAP slices at an adaptive limit on the passive side of the mid (max(1 bp, half "
            "the spread), x2 in high volatility), at market after 2 tries of 30 s",
            lambda q, s, e, lot: twap(q, s, e, n, lot),
            AdaptiveOffsetPricing(tick),
            WorkRules(timeout_ns=30 * _S, max_attempts=2, fallback="market"),
            p.limit,
        )

    def at_touch(how: str, schedule: Schedule) -> _Setup:
        """A policy whose children rest at the near touch, repriced, then go at market."""
        return _Setup(f"{how}; {touch}", schedule, near_touch, _REPRICING, p.limit)

    if p.policy is Policy.TWAP:
        return at_touch(f"{n} equal slices", lambda q, s, e, lot: twap(q, s, e, n, lot))
    if p.policy is Policy.VWAP:
        profile = day.volume_profile()
        return at_touch(
            "slices by half-hour volume learnt in-sample from this day's own prints "
            "(look-ahead: an upper bound for a forecast profile)",
            lambda q, s, e, lot: vwap(q, s, e, profile, lot),
        )
    if p.policy is Policy.POV:
        return at_touch(
            f"{p.rate} of the printed volume (seen through the trade subscription), children "
            f"of {_POV_MIN} to {_POV_MAX}",
            _on_demand,
        )
    if p.policy is Policy.ICEBERG:
        return at_touch(
            f"shows 1/{n} of the order at a time, the next clip when one is done", _on_demand
        )
    # Almgren-Chriss over the window as one time unit, unit volatility and temporary impact,
    # no permanent impact, risk aversion 4: kappa * T about 2, a front-loaded trajectory.
    return at_touch(
        f"Almgren-Chriss trajectory in {n} trades, kappa*T ~ 2 (front-loaded)",
        lambda q, s, e, lot: almgren_chriss(
            q, 1.0, n, 1.0, 1.0, 0.0, 4.0, lot, start_ns=s, end_ns=e
        ),
    )


# ----- a run -------------------------------------------------------------------------------------


def _driver(p: ExecuteParams, w: ParentWorker, broker: Broker, lot: Decimal) -> Callable[[], None]:
    """Start the reacting part of a policy (market, POV, iceberg): a check each second of the
    broker's clock that sends what the policy calls for; returns what stops it."""
    name = f"{w.parent.id}-driver"
    stops: list[Callable[[], None]] = [lambda: broker.cancel_timer(name)]
    if p.policy is Policy.MARKET:

        def check(_: int) -> None:  # what the book could not take goes again at market
            if w.working == 0 and w.leaves > 0:
                w.send_now(w.leaves)

    elif p.policy is Policy.POV:
        tracker = PovTracker(p.rate, _POV_MIN, _POV_MAX, lot)
        stops.append(
            broker.subscribe_trades(w.parent.spec.symbol, lambda t: tracker.observe(t.size))
        )

        def check(_: int) -> None:
            child = tracker.allowed(w.filled, w.working, w.leaves)
            if child > 0:
                w.send_now(child)

    elif p.policy is Policy.ICEBERG:
        display = max(lot, (p.qty / p.slices / lot).to_integral_value(ROUND_FLOOR) * lot)
        rule = Iceberg(display, lot)

        def check(_: int) -> None:  # the next clip once the shown one is done
            if w.working == 0 and w.leaves > 0:
                w.send_now(rule.clip(w.leaves))

    else:
        return lambda: None
    broker.set_timer(name, check, every_ns=_S)

    def stop_all() -> None:
        for stop in stops:
            stop()

    return stop_all


def run_policy(p: ExecuteParams, day: Day | None = None, parent_id: str | None = None) -> PolicyRun:
    """Work one parent by ``p`` on ``day`` (default: the shipped LOBSTER day) on a fresh
    simulated broker, and report what it cost."""
    started = time.perf_counter()
    day = day or Day()
    inst = day.instrument
    if p.qty % inst.lot_size:
        raise ExecutionError("qty", p.qty, f"not a multiple of the lot {inst.lot_size}")
    start_ns, end_ns = day.ns(p.start), day.ns(p.end)
    broker = day.broker()
    broker.run(until_ns=start_ns)
    arrival = quote_mid(broker.latest_quote(inst.symbol))
    if arrival is None:
        raise ExecutionError("start", p.start.isoformat("minutes"), "no two-sided quote then")
    setup = _setup(p, day, arrival)
    parent = ParentOrder(
        parent_id=parent_id or p.policy.value,
        symbol=inst.symbol,
        side=p.side,
        qty=p.qty,
        start_ns=start_ns,
        end_ns=end_ns,
        decision_ns=start_ns,
        decision_price=arrival,
        limit_price=setup.limit,
        policy=p.policy,
    )
    w = ParentWorker(
        broker, parent, inst, rules=setup.rules, schedule=setup.schedule, pricing=setup.pricing
    )
    final: list[Decimal] = []

    def on_done(_: OrderEvent) -> None:
        if not final and w.parent.state.is_done:
            final.append(quote_mid(broker.latest_quote(inst.symbol)) or arrival)

    w.start()
    stop_driver = _driver(p, w, broker, inst.lot_size)
    unsubscribe = broker.subscribe(on_done)
    while not w.parent.state.is_done:
        if broker.run(max_messages=_STEP) == 0:
            broker.run(until_ns=max(broker.now(), end_ns) + _S)  # past the data: the end time
            break
    stop_driver()
    unsubscribe()
    w.close()
    cost = parent_cost(
        w.parent,
        w.fills,
        arrival_price=arrival,
        final_price=final[0] if final else (quote_mid(broker.latest_quote(inst.symbol)) or arrival),
        first_child_mid=w.first_child_mid,
        trades=day.trades,
    )
    rows = tuple(
        ChildRow(
            o.client_order_id,
            o.created_ts,
            o.request.type.value,
            o.limit_price,
            o.order_qty,
            o.cum_qty,
            o.status.value,
        )
        for o in w.children
    )
    return PolicyRun(
        p.policy.value, setup.how, cost, rows, tuple(w.fills), time.perf_counter() - started
    )


def compare_policies(
    qty: Decimal = Decimal(20_000),
    side: OrderSide = OrderSide.BUY,
    *,
    policies: Sequence[Policy] = COMPARED,
    day: Day | None = None,
) -> list[PolicyRun]:
    """The same parent worked by each of ``policies`` (default: the seven compared), each on
    a fresh simulated broker over the same day, with the default window and parameters."""
    day = day or Day()
    return [run_policy(ExecuteParams(p, side, qty), day) for p in policies]
