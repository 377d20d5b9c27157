"""The monitor's metrics in Prometheus' text format, from a registry of its own.

:func:`registry` gives a :class:`prometheus_client.CollectorRegistry` that holds one collector
reading an :class:`~fillforge.monitor.collector.ExecutionMonitor` at scrape time (never the
process-wide default registry: two monitors in one process never collide). The event path does
not touch prometheus-client at all: it counts in plain dicts, and a scrape turns them into
metric families. Names carry their unit (``_ratio``, ``_bps``, ``_currency`` — the account's
currency —, ``_quantity``); :data:`METRICS` lists every family with its type and help, and the
Grafana dashboard (``grafana-dashboard.json`` beside this module) queries exactly these.

prometheus-client is one of fillforge's own dependencies (no extra to install).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry
    from prometheus_client.metrics_core import Metric

    from fillforge.monitor.collector import ExecutionMonitor

__all__ = ["CONTENT_TYPE", "METRICS", "exposition", "registry"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

METRICS: dict[str, tuple[str, str]] = {
    # name (as exposed, without _bucket/_sum/_count): (type, help)
    "fillforge_orders_total": (
        "counter",
        "Orders by symbol, side and status: new when first seen, then the status each ended "
        "in (filled, canceled, rejected, denied, expired).",
    ),
    "fillforge_fills_total": ("counter", "Executions by symbol and side."),
    "fillforge_filled_quantity_total": ("counter", "Quantity filled by symbol and side."),
    "fillforge_filled_notional_currency_total": (
        "counter",
        "Notional filled (price x quantity), in the account's currency.",
    ),
    "fillforge_timeouts_total": (
        "counter",
        "Orders canceled or expired unfilled (in part or whole) after resting their timeout.",
    ),
    "fillforge_order_events_total": ("counter", "Order events by kind."),
    "fillforge_slippage_bps": (
        "histogram",
        "Slippage of each fill against its order's arrival price, bps; positive = cost (a buy "
        "above arrival, a sell below). Buckets only: slippage can be negative, and Prometheus "
        "omits _sum and _count then (the +Inf bucket is the count).",
    ),
    "fillforge_fill_rate_ratio": (
        "gauge",
        "Filled over ordered quantity of the orders that ended in the window.",
    ),
    "fillforge_partial_fill_rate_ratio": (
        "gauge",
        "Share of the orders that ended in the window part-filled.",
    ),
    "fillforge_reject_rate_ratio": ("gauge", "Rejected or denied orders over new orders."),
    "fillforge_cancel_rate_ratio": ("gauge", "Canceled orders over new orders."),
    "fillforge_slippage_average_bps": (
        "gauge",
        "Quantity-weighted average slippage against arrival in the window, bps; positive = cost.",
    ),
    "fillforge_window_orders": ("gauge", "New orders in the window."),
    "fillforge_window_timeouts": ("gauge", "Timeouts in the window."),
    "fillforge_open_orders": ("gauge", "Orders open at the broker."),
    "fillforge_position_quantity": ("gauge", "Signed position (+ long, - short) by symbol."),
    "fillforge_position_market_value_currency": ("gauge", "Market value of each position."),
    "fillforge_position_unrealized_pnl_currency": ("gauge", "Unrealized P&L of each position."),
    "fillforge_account_equity_currency": ("gauge", "Account equity."),
    "fillforge_account_cash_currency": ("gauge", "Account cash."),
    "fillforge_pnl_realized_currency": ("gauge", "Realized P&L, gross of fees."),
    "fillforge_pnl_unrealized_currency": ("gauge", "Unrealized P&L of the open positions."),
    "fillforge_fees_paid_currency": ("gauge", "Fees paid."),
    "fillforge_parent_progress_ratio": ("gauge", "Filled over quantity of each parent order."),
    "fillforge_parent_slippage_bps": (
        "gauge",
        "Each parent's average price against its arrival price, bps; positive = cost.",
    ),
    "fillforge_trading_state": ("gauge", "1 for the risk manager's trading state, else 0."),
    "fillforge_alert_active": ("gauge", "1 while the alert rule is raised, else 0."),
    "fillforge_alerts_raised_total": ("counter", "Times each alert rule was raised."),
}


def _f(v: Decimal | str | int | None) -> float | None:
    return None if v is None else float(Decimal(v))


def _families(m: ExecutionMonitor) -> Iterator[Metric]:
    from prometheus_client.core import (
        CounterMetricFamily,
        GaugeMetricFamily,
        HistogramMetricFamily,
    )

    from fillforge.monitor.collector import SLIPPAGE_BUCKETS_BPS

    def counter(name: str, labels: list[str]) -> CounterMetricFamily:
        return CounterMetricFamily(name.removesuffix("_total"), METRICS[name][1], labels=labels)

    def gauge(name: str, labels: list[str] | None = None) -> GaugeMetricFamily:
        return GaugeMetricFamily(name, METRICS[name][1], labels=labels or [])

    snap = m.snapshot()
    t = m.copy_totals()
    c = counter("fillforge_orders_total", ["symbol", "side", "status"])
    for (sym, side, status), n in sorted(t.orders.items()):
        c.add_metric([sym, side, status], n)
    yield c
    by_side: list[tuple[str, Mapping[tuple[str, str], int | Decimal]]] = [
        ("fillforge_fills_total", t.fills),
        ("fillforge_filled_quantity_total", t.filled_qty),
        ("fillforge_filled_notional_currency_total", t.filled_notional),
        ("fillforge_timeouts_total", t.timeouts),
    ]
    for name, source in by_side:
        c = counter(name, ["symbol", "side"])
        for (sym, side), amount in sorted(source.items()):
            c.add_metric([sym, side], float(amount))
        yield c
    c = counter("fillforge_order_events_total", ["kind"])
    for kind, n in sorted(t.events.items()):
        c.add_metric([str(kind)], n)
    yield c
    h = HistogramMetricFamily(
        "fillforge_slippage_bps", METRICS["fillforge_slippage_bps"][1], labels=["symbol", "side"]
    )
    for (sym, side), hist in sorted(t.slippage.items()):
        bounds = [
            (str(float(b)), n) for b, n in zip(SLIPPAGE_BUCKETS_BPS, hist.cumulative(), strict=True)
        ]
        h.add_metric([sym, side], [*bounds, ("+Inf", hist.count)], hist.sum)
    yield h
    window = f"{snap['metrics']['window_s']}s"
    met = snap["metrics"]
    for name, key in (
        ("fillforge_fill_rate_ratio", "fill_rate"),
        ("fillforge_partial_fill_rate_ratio", "partial_fill_rate"),
        ("fillforge_reject_rate_ratio", "reject_rate"),
        ("fillforge_cancel_rate_ratio", "cancel_rate"),
        ("fillforge_slippage_average_bps", "slippage_bps"),
        ("fillforge_window_orders", "orders"),
        ("fillforge_window_timeouts", "timeouts"),
    ):
        g = gauge(name, ["window"])
        v = _f(met[key])
        if v is not None:  # no value while the window has nothing to compute it from
            g.add_metric([window], v)
        yield g
    g = gauge("fillforge_open_orders")
    g.add_metric([], snap["open_orders_count"])
    yield g
    for name, key in (
        ("fillforge_position_quantity", "qty"),
        ("fillforge_position_market_value_currency", "market_value"),
        ("fillforge_position_unrealized_pnl_currency", "unrealized_pnl"),
    ):
        g = gauge(name, ["symbol"])
        for p in snap["positions"]:
            g.add_metric([p["symbol"]], float(Decimal(p[key])))
        yield g
    acct: dict[str, Any] = snap["account"] or {}
    for name, key in (
        ("fillforge_account_equity_currency", "equity"),
        ("fillforge_account_cash_currency", "cash"),
        ("fillforge_pnl_realized_currency", "realized_pnl"),
        ("fillforge_pnl_unrealized_currency", "unrealized_pnl"),
        ("fillforge_fees_paid_currency", "fees_paid"),
    ):
        g = gauge(name)
        if key in acct:
            g.add_metric([], float(Decimal(acct[key])))
        yield g
    progress = gauge("fillforge_parent_progress_ratio", ["parent_id", "symbol", "side"])
    slip = gauge("fillforge_parent_slippage_bps", ["parent_id", "symbol", "side"])
    for p in snap["parents"]:
        labels = [p["id"], p["symbol"], p["side"]]
        progress.add_metric(labels, float(Decimal(p["progress"])))
        if p["slippage_bps"] is not None:
            slip.add_metric(labels, float(Decimal(p["slippage_bps"])))
    yield progress
    yield slip
    g = gauge("fillforge_trading_state", ["state"])
    if snap["trading_state"] is not None:
        for state in ("active", "reducing", "halted"):
            g.add_metric([state], 1.0 if snap["trading_state"] == state else 0.0)
    yield g
    active = {a["name"] for a in snap["alerts"]["active"]}
    g = gauge("fillforge_alert_active", ["alert"])
    c = counter("fillforge_alerts_raised_total", ["alert"])
    for name, n in sorted(m.alerts.raised_total.items()):
        g.add_metric([name], 1.0 if name in active else 0.0)
        c.add_metric([name], n)
    yield g
    yield c


class _MonitorCollector:
    """A prometheus-client collector reading one monitor at each scrape."""

    def __init__(self, monitor: ExecutionMonitor) -> None:
        self.monitor = monitor

    def collect(self) -> Iterator[Metric]:
        return _families(self.monitor)


def registry(monitor: ExecutionMonitor) -> CollectorRegistry:
    """A registry of its own holding ``monitor``'s metrics."""
    from prometheus_client import CollectorRegistry

    reg = CollectorRegistry(auto_describe=False)
    reg.register(_MonitorCollector(monitor))
    return reg


def exposition(reg: CollectorRegistry) -> bytes:
    """The text a scrape gets (Prometheus' text format 0.0.4)."""
    from prometheus_client import generate_latest

    return generate_latest(reg)
