"""The execution metrics of one broker, from its live order events: :class:`ExecutionMonitor`.

One subscription to the broker's order events (:meth:`Broker.subscribe`) feeds cumulative
counters (what Prometheus scrapes) and rolling windows (what the rates and the alert rules
read); :meth:`ExecutionMonitor.refresh` reads what events do not carry (positions, the account's
P&L, open orders, an :class:`~fillforge.execution.engine.ExecutionEngine`'s parents and their
progress, a :class:`~fillforge.risk.RiskManager`'s trading state) and moves the alerts as the
windows age. Time is the broker's clock (or ``clock``): a simulated run's windows are in
simulated time. The definitions are in ``docs/monitoring.md``:

- an *order* is counted when it is first seen; its *arrival price* is its parent's arrival price
  for a child of a parent the engine holds, else the mid quoted when it was first seen;
- a *reject* is an order rejected by the venue or denied before it (a risk gate);
- *slippage* of a fill is ``sign * (price - arrival) / arrival`` in bps, ``sign`` +1 for a buy
  and -1 for a sell: **positive bps = cost** (paid above arrival on a buy, below it on a sell);
- a *timeout* is an order canceled or expired without filling in full after resting its timeout:
  the parent's ``WorkRules.timeout_ns`` for an engine's child, ``order_timeout_s`` for others;
- the *fill rate* is the filled quantity over the quantity of the orders that ended in the
  window; the *partial-fill rate* the share of them that ended part-filled.
"""

from __future__ import annotations

import logging
import threading
from bisect import bisect_left
from collections import deque
from collections.abc import Callable, Set
from dataclasses import dataclass
from decimal import Decimal
from itertools import accumulate
from typing import TYPE_CHECKING, Any, TypeVar

from fillforge.broker import Broker
from fillforge.errors import ConfigError, FillforgeError
from fillforge.execution.pricing import quote_mid
from fillforge.monitor.alerts import Alerts, AlertsConfig, WindowStats
from fillforge.monitor.reads import read_account
from fillforge.monitor.windows import Number, Rolling
from fillforge.orders.enums import EventKind, OrderSide, OrderStatus
from fillforge.orders.models import OrderEvent, parent_of
from fillforge.time import Clock, from_seconds

if TYPE_CHECKING:
    from fillforge.execution.engine import ExecutionEngine
    from fillforge.risk.manager import RiskManager

__all__ = ["EQUITY_POINTS", "SLIPPAGE_BUCKETS_BPS", "ExecutionMonitor", "Totals"]

T = TypeVar("T")
log = logging.getLogger("fillforge.monitor")
Call = Callable[[Callable[[], Any]], Any]

SLIPPAGE_BUCKETS_BPS: tuple[float, ...] = (-50, -25, -10, -5, -2, 0, 2, 5, 10, 15, 25, 50, 100)
"""The upper bounds of the slippage histogram's buckets, bps (then +Inf)."""

EQUITY_POINTS = 500
"""The page's equity sparkline keeps this many changes of equity."""
_ZERO = Decimal(0)
_BPS = Decimal(10_000)
_FILL_KINDS = frozenset({EventKind.FILL, EventKind.PARTIAL_FILL})
_STATUS_NAMES = {
    OrderStatus.FILLED: "filled",
    OrderStatus.CANCELED: "canceled",
    OrderStatus.REJECTED: "rejected",
    OrderStatus.DENIED: "denied",
    OrderStatus.EXPIRED: "expired",
    OrderStatus.DONE_FOR_DAY: "done_for_day",
}
_TIMED = (OrderStatus.CANCELED, OrderStatus.EXPIRED)
_REFUSED = (OrderStatus.REJECTED, OrderStatus.DENIED)
# Read once: a member read through the enum class goes through its metaclass's slow hook.
_REPLACED, _CANCELED, _BUY = EventKind.REPLACED, OrderStatus.CANCELED, OrderSide.BUY
_TERMINAL = frozenset(s for s in OrderStatus if s.is_terminal)
# Indexes into a window's vector (WindowStats' fields after span_ns).
_W = len(WindowStats.zeros())
# The metrics an entry of the vector moves: orders, rejects, cancels, timeouts, ended, and
# fills with an arrival price.
_MOVES: tuple[tuple[int, tuple[str, ...]], ...] = (
    (0, ("reject_rate", "cancel_rate")),
    (1, ("reject_rate",)),
    (2, ("cancel_rate",)),
    (3, ("timeouts",)),
    (5, ("fill_rate", "partial_fill_rate")),
    (11, ("slippage_bps",)),
)


@dataclass(slots=True)
class _Live:
    """An order the monitor follows until it ends."""

    symbol: str
    side: str
    sign: int
    arrival: Decimal | None
    seen_ns: int
    timeout_ns: int | None


@dataclass(slots=True)
class Histogram:
    """Counts per bucket (``counts[i]``: observations in ``(bound[i-1], bound[i]]``, the last
    past every bound), their sum and count; :meth:`cumulative` gives Prometheus' ``le``
    buckets."""

    counts: list[int]
    sum: float = 0.0
    count: int = 0

    def observe(self, v: float) -> None:
        self.counts[bisect_left(SLIPPAGE_BUCKETS_BPS, v)] += 1
        self.sum += v
        self.count += 1

    def cumulative(self) -> list[int]:
        """Observations at or under each bound, in bound order."""
        return list(accumulate(self.counts[: len(SLIPPAGE_BUCKETS_BPS)]))


@dataclass(slots=True)
class Totals:
    """Everything counted since the monitor started, by label."""

    orders: dict[tuple[str, str, str], int]  # (symbol, side, status): new, filled, ...
    fills: dict[tuple[str, str], int]
    filled_qty: dict[tuple[str, str], Decimal]
    filled_notional: dict[tuple[str, str], Decimal]
    timeouts: dict[tuple[str, str], int]
    slippage: dict[tuple[str, str], Histogram]
    events: dict[str, int]


class ExecutionMonitor:
    """Follows ``broker``'s order events from construction until :meth:`close`.

    ``engine`` and ``risk`` add parents and the trading state; ``config`` holds the alert rules
    (default: :data:`~fillforge.monitor.alerts.DEFAULT_RULES`); ``clock`` tells the time
    (default: the broker, which is a :class:`~fillforge.time.Clock`); ``call(fn)`` runs ``fn``
    where the broker may be read (default: here; a served simulation's thread for the Alpaca
    server). ``window_s`` is the window the page and the gauges show; ``refresh_every_s`` how
    old :meth:`refresh`'s reads of the broker may be before it reads again (0: every time).
    """

    def __init__(
        self,
        broker: Broker,
        *,
        engine: ExecutionEngine | None = None,
        risk: RiskManager | None = None,
        config: AlertsConfig | None = None,
        clock: Clock | None = None,
        call: Call | None = None,
        window_s: int = 3600,
        refresh_every_s: int | float | Decimal = 0,
    ) -> None:
        self.broker = broker
        self.engine = engine
        self.risk = risk
        self.config = config if config is not None else AlertsConfig()
        self.clock: Clock = clock if clock is not None else broker
        self._call: Call = call if call is not None else (lambda fn: fn())
        self.alerts = Alerts(self.config.rules)
        self.window_ns = from_seconds(window_s, "window_s")
        if self.window_ns <= 0:
            raise ConfigError("window_s", window_s, "expected a positive number of seconds")
        self._refresh_ns = from_seconds(refresh_every_s, "refresh_every_s")
        self._read_ns: int | None = None
        self._timeout_ns = (
            None
            if self.config.order_timeout_s is None
            else from_seconds(self.config.order_timeout_s, "order_timeout_s")
        )
        zeros = WindowStats.zeros()
        self._windows = {s: Rolling(s, zeros) for s in self.alerts.spans() | {self.window_ns}}
        self._rolling = tuple(self._windows.values())
        self.totals = Totals({}, {}, {}, {}, {}, {}, {})
        self._live: dict[str, _Live] = {}
        self._lock = threading.RLock()
        self.version = 0  # moves with every change the page shows
        self.errors = 0  # events that could not be counted (logged)
        self._state: dict[str, Any] = {}
        # (time, equity) at each read that changed it: the page's sparkline.
        self._equity: deque[tuple[int, str]] = deque(maxlen=EQUITY_POINTS)
        self._unsubscribe: Callable[[], None] | None = broker.subscribe(self.on_event)

    # ----- the event path ---------------------------------------------------------------------

    def on_event(self, e: OrderEvent) -> None:
        """Count one order event (the broker calls this; a test may too). Watching never
        stops trading: an event the monitor cannot count is logged (one line) and counted in
        :attr:`errors`, and the broker's publication goes on."""
        try:
            with self._lock:
                vector = self._count(e)
                self.version += 1
            if vector is not None:
                moved = {m for i, metrics in _MOVES for m in metrics if vector[i]}
                if moved & self.alerts.metrics:  # only the rules whose metric moved
                    self.evaluate(metrics=moved)
        except Exception as x:
            self.errors += 1
            what = f"{getattr(e, 'kind', '?')} event of {getattr(e, 'order_id', '?')}"
            log.error("monitor: %s not counted: %r", what, x)

    def _count(self, e: OrderEvent) -> list[Number] | None:
        """Count ``e``; what it adds to the windows (None: nothing)."""
        t = self.totals
        kind = e.kind
        t.events[kind] = t.events.get(kind, 0) + 1
        oid = e.order_id
        live = self._live.get(oid)
        vector: list[Number] | None = None
        if live is None:
            ended = kind is _REPLACED or (e.status in _TERMINAL and kind not in _FILL_KINDS)
            if ended and e.status not in _REFUSED:
                return None  # an order seen first at its end (it worked before we started)
            live = self._follow(e)
            vector = [0] * _W
            vector[0] = 1
            key = (live.symbol, live.side, "new")
            t.orders[key] = t.orders.get(key, 0) + 1
        side_key = (live.symbol, live.side)
        fill = e.fill
        if fill is not None and kind in _FILL_KINDS:
            vector = vector or [0] * _W
            vector[4] = 1
            t.fills[side_key] = t.fills.get(side_key, 0) + 1
            t.filled_qty[side_key] = t.filled_qty.get(side_key, _ZERO) + fill.qty
            t.filled_notional[side_key] = t.filled_notional.get(side_key, _ZERO) + (
                fill.qty * fill.price
            )
            arrival = live.arrival
            if arrival is not None:
                cost = live.sign * (fill.price - arrival)
                vector[9] = cost * fill.qty
                vector[10] = arrival * fill.qty
                vector[11] = 1
                hist = t.slippage.get(side_key)
                if hist is None:
                    hist = t.slippage[side_key] = Histogram([0] * (len(SLIPPAGE_BUCKETS_BPS) + 1))
                hist.observe(float(cost / arrival * _BPS))
        if kind is _REPLACED:
            if e.related_id is not None:
                self._live[e.related_id] = live
            del self._live[oid]
        elif e.status in _TERMINAL:
            vector = vector or [0] * _W
            self._ended(e, live, vector)
            del self._live[oid]
        if vector is not None:
            now = self.clock.now_ns()
            for w in self._rolling:
                w.add(now, vector)
        return vector

    def _follow(self, e: OrderEvent) -> _Live:
        """Start following the order of ``e``: its side, arrival price and timeout."""
        side, sign = "unknown", 1
        try:
            side = str(self.broker.get_order(e.order_id).request.side)
            sign = 1 if side == _BUY else -1
        except (FillforgeError, LookupError):
            pass
        arrival: Decimal | None = None
        timeout = self._timeout_ns
        pid = parent_of(e.client_order_id)
        if pid is not None and self.engine is not None:
            try:
                worker = self.engine.worker(pid)
            except FillforgeError:
                pass
            else:
                arrival = worker.arrival_price
                timeout = worker.rules.timeout_ns
        if arrival is None and e.status not in _REFUSED:
            arrival = self._mid(e.symbol)
        live = _Live(e.symbol, side, sign, arrival, self.clock.now_ns(), timeout)
        self._live[e.order_id] = live
        return live

    def _mid(self, symbol: str) -> Decimal | None:
        try:
            q = self.broker.latest_quote(symbol)
        except Exception:  # a data source that fails must not stop the count
            return None
        return quote_mid(q)

    def _ended(self, e: OrderEvent, live: _Live, vector: list[Number]) -> None:
        t, status = self.totals, e.status
        name = _STATUS_NAMES.get(status, str(status))
        key = (live.symbol, live.side, name)
        t.orders[key] = t.orders.get(key, 0) + 1
        vector[5] = 1
        vector[6] = e.order_qty
        vector[7] = e.cum_qty
        if _ZERO < e.cum_qty < e.order_qty:
            vector[8] = 1
        if status in _REFUSED:
            vector[1] = 1
        elif status in _TIMED:
            if status is _CANCELED:
                vector[2] = 1
            timeout = live.timeout_ns
            if (
                timeout is not None
                and e.cum_qty < e.order_qty
                and self.clock.now_ns() - live.seen_ns >= timeout
            ):
                vector[3] = 1
                side_key = (live.symbol, live.side)
                t.timeouts[side_key] = t.timeouts.get(side_key, 0) + 1

    def copy_totals(self) -> Totals:
        """A consistent copy of the counters (for a scrape, while events keep coming)."""
        with self._lock:
            t = self.totals
            return Totals(
                dict(t.orders),
                dict(t.fills),
                dict(t.filled_qty),
                dict(t.filled_notional),
                dict(t.timeouts),
                {k: Histogram(list(h.counts), h.sum, h.count) for k, h in t.slippage.items()},
                dict(t.events),
            )

    # ----- windows and alerts -----------------------------------------------------------------

    def stats(self, span_ns: int | None = None, now: int | None = None) -> WindowStats:
        """What the window of ``span_ns`` (default: the page's) adds up to at ``now``."""
        span = self.window_ns if span_ns is None else span_ns
        with self._lock:
            w = self._windows.get(span)
            if w is None:
                w = self._windows[span] = Rolling(span, WindowStats.zeros())
                self._rolling = tuple(self._windows.values())
            at = self.clock.now_ns() if now is None else now
            return WindowStats.of(span, w.totals(at))

    def evaluate(self, now: int | None = None, metrics: Set[str] | None = None) -> None:
        """Move the alert rules (those on ``metrics``; default: all) to what the windows say
        at ``now`` (default: the clock's)."""
        at = self.clock.now_ns() if now is None else now
        if self.alerts.evaluate(lambda span: self.stats(span, at), at, metrics):
            with self._lock:
                self.version += 1

    # ----- what events do not carry -----------------------------------------------------------

    def refresh(self) -> dict[str, Any]:
        """Read positions, the account, open orders, parents and the trading state (through
        ``call``), age the alerts to now, and return :meth:`snapshot`. The reads are reused
        while younger than ``refresh_every_s`` (a remote broker's rate limit: every page and
        every scrape refreshes)."""
        now = self.clock.now_ns()
        last = self._read_ns
        if last is None or now - last >= self._refresh_ns or now < last:
            state = self._call(self._read)
            with self._lock:
                self._read_ns = now
                if state != self._state:
                    self._state = state
                    self.version += 1
                    equity = state["account"]["equity"]
                    if not self._equity or self._equity[-1][1] != equity:
                        self._equity.append((now, equity))
        self.evaluate()
        return self.snapshot()

    def _read(self) -> dict[str, Any]:
        return read_account(self.broker, self.engine, self.risk)

    def snapshot(self) -> dict[str, Any]:
        """Everything the page shows, JSON-mode (Decimal as text, times in ns): the last
        :meth:`refresh`'s reads, the window's metrics, the totals and the alerts."""
        stats = self.stats()
        with self._lock:
            t = self.totals
            fills = sum(t.fills.values())
            counts: dict[str, int] = {}
            for (_, _, status), n in t.orders.items():
                counts[status] = counts.get(status, 0) + n
            state = dict(self._state)
            version = self.version
            equity = [list(p) for p in self._equity]
        return {
            "version": version,
            "ts": self.clock.now_ns(),
            "metrics": stats.as_json(),
            "totals": {"orders": counts, "fills": fills, "timeouts": sum(t.timeouts.values())},
            "alerts": self.alerts.snapshot(),
            "account": state.get("account"),
            "positions": state.get("positions", []),
            "open_orders": state.get("open_orders", []),
            "open_orders_count": state.get("open_orders_count", 0),
            "parents": state.get("parents", []),
            "trading_state": state.get("trading_state"),
            "killed": state.get("killed"),
            "equity_curve": equity,
            "sign": "slippage: positive bps = cost (a buy above arrival, a sell below)",
        }

    # ----- the end ----------------------------------------------------------------------------

    def close(self) -> None:
        """Stop following the broker (what was counted stays readable)."""
        with self._lock:
            unsubscribe, self._unsubscribe = self._unsubscribe, None
        if unsubscribe is not None:
            unsubscribe()

    def __enter__(self) -> ExecutionMonitor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"ExecutionMonitor({self.broker!r}, {len(self._live)} orders followed)"
