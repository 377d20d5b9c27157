"""The monitor's Prometheus metrics: a registry per monitor (two monitors in one process never
collide), the families and their values after a simulated tape (read back with
prometheus-client's own parser), and the shipped Grafana dashboard, whose every query names
only metrics the monitor exports."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from importlib import resources

from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from fillforge.execution.engine import ExecutionEngine
from fillforge.execution.parent import ParentOrder
from fillforge.monitor import ExecutionMonitor
from fillforge.monitor.prometheus import METRICS, exposition, registry
from fillforge.monitor.reads import SHOWN_ORDERS
from fillforge.orders.enums import OrderSide, OrderTimeInForce, OrderType
from fillforge.orders.models import Instrument, OrderRequest
from fillforge.risk import RiskManager
from fillforge.sim.broker import SimulatedBroker
from fillforge.sim.feeds import empty_feed
from fillforge.sim.venue import Venue
from fillforge.time import NS_PER_SECOND

D = Decimal
S = NS_PER_SECOND
AAA = Instrument(symbol="AAA")
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def market() -> SimulatedBroker:
    venue = Venue(calendar=None)
    venue.add(AAA, empty_feed())
    b = SimulatedBroker(venue, cash=D(1_000_000), start_ns=0)
    b.quote("AAA", D("100.00"), D("100.02"), bid_size=D(10_000), ask_size=D(10_000), ts=0)
    return b


def order(side: str, qty: int, limit: str | None = None) -> OrderRequest:
    return OrderRequest(
        symbol="AAA",
        side=OrderSide(side),
        type=OrderType.MARKET if limit is None else OrderType.LIMIT,
        time_in_force=OrderTimeInForce.DAY,
        qty=D(qty),
        limit_price=None if limit is None else D(limit),
    )


def scrape(m: ExecutionMonitor) -> tuple[Samples, dict[str, str]]:
    m.refresh()
    text = exposition(registry(m)).decode()
    families = list(text_string_to_metric_families(text))
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value for f in families for s in f.samples
    }
    return samples, {f.name: f.type for f in families}


def test_metrics_after_a_tape() -> None:
    b = market()
    risk = RiskManager(b)
    engine = ExecutionEngine(b)
    m = ExecutionMonitor(b, engine=engine, risk=risk)
    b.submit(order("buy", 10))
    b.submit(order("sell", 4))
    resting = b.submit(order("buy", 5, "90.00"))
    b.run(until_ns=S)
    b.cancel(resting.id)
    engine.submit(
        ParentOrder(
            parent_id="P1", symbol="AAA", side=OrderSide.BUY, qty=D(20), start_ns=S, end_ns=60 * S
        ),
        AAA,
    )
    b.run(until_ns=2 * S)
    samples, types = scrape(m)
    buy, sell = (("side", "buy"), ("symbol", "AAA")), (("side", "sell"), ("symbol", "AAA"))
    assert (
        samples[("fillforge_orders_total", (("side", "buy"), ("status", "new"), ("symbol", "AAA")))]
        == 3
    )
    assert (
        samples[
            ("fillforge_orders_total", (("side", "buy"), ("status", "canceled"), ("symbol", "AAA")))
        ]
        == 1
    )
    assert samples[("fillforge_fills_total", sell)] == 1
    assert samples[("fillforge_filled_quantity_total", buy)] == 10
    assert samples[("fillforge_filled_notional_currency_total", sell)] == 400.0
    # Both market orders paid half the spread against the mid: +1 bp each, a cost.
    assert samples[("fillforge_slippage_bps_bucket", (("le", "+Inf"), *buy))] == 1
    assert samples[("fillforge_slippage_bps_bucket", (("le", "0.0"), *buy))] == 0
    assert samples[("fillforge_slippage_bps_bucket", (("le", "2.0"), *buy))] == 1
    assert 0.99 < samples[("fillforge_slippage_average_bps", (("window", "3600s"),))] < 1.01
    assert samples[("fillforge_cancel_rate_ratio", (("window", "3600s"),))] == 1 / 4
    assert samples[("fillforge_position_quantity", (("symbol", "AAA"),))] == 6
    assert samples[("fillforge_open_orders", ())] == 1  # the parent's first child
    assert samples[("fillforge_account_equity_currency", ())] > 0
    progress = (("parent_id", "P1"), ("side", "buy"), ("symbol", "AAA"))
    assert samples[("fillforge_parent_progress_ratio", progress)] == 0
    assert samples[("fillforge_trading_state", (("state", "active"),))] == 1
    assert samples[("fillforge_trading_state", (("state", "halted"),))] == 0
    assert samples[("fillforge_alert_active", (("alert", "fill_rate"),))] == 0
    assert types["fillforge_slippage_bps"] == "histogram"
    assert types["fillforge_orders"] == "counter"
    risk.halt("test")
    samples, _ = scrape(m)
    assert samples[("fillforge_trading_state", (("state", "halted"),))] == 1


def exported_names() -> set[str]:
    out = set()
    for name, (kind, _) in METRICS.items():
        if kind == "histogram":  # buckets only (negative observations: no _sum, _count)
            out.add(f"{name}_bucket")
        else:
            out.add(name)
    return out


def test_every_family_is_documented_and_exported() -> None:
    b = market()
    m = ExecutionMonitor(b, risk=RiskManager(b))
    b.submit(order("buy", 1))
    b.run(until_ns=S)
    _, types = scrape(m)
    names = {n + ("_total" if t == "counter" else "") for n, t in types.items()}
    assert names == set(METRICS)
    for name, (kind, doc) in METRICS.items():
        assert name.startswith("fillforge_")
        assert doc
        assert (kind == "counter") == name.endswith("_total")


def test_each_monitor_has_its_own_registry() -> None:
    b1, b2 = market(), market()
    m1, m2 = ExecutionMonitor(b1), ExecutionMonitor(b2)
    b1.submit(order("buy", 10))
    b1.run(until_ns=S)
    s1, _ = scrape(m1)
    s2, _ = scrape(m2)
    new = ("fillforge_orders_total", (("side", "buy"), ("status", "new"), ("symbol", "AAA")))
    assert s1[new] == 1
    assert new not in s2
    assert not any(n.startswith("fillforge_") for n in REGISTRY._names_to_collectors)


def test_the_grafana_dashboard_queries_exported_metrics() -> None:
    text = resources.files("fillforge.monitor").joinpath("grafana-dashboard.json").read_text()
    dash = json.loads(text)
    exprs = [t["expr"] for p in dash["panels"] for t in p["targets"]]
    assert len(exprs) >= 10
    used = {n for e in exprs for n in re.findall(r"\bfillforge_[a-z_]+", e)}
    assert used <= exported_names(), sorted(used - exported_names())
    # Every family shows somewhere on the dashboard.
    assert {
        n.removesuffix("_bucket").removesuffix("_sum").removesuffix("_count") for n in used
    } == set(METRICS)
    for p in dash["panels"]:
        assert p["datasource"]["uid"] == "${DS_PROMETHEUS}"
        assert p["title"]


def test_the_page_lists_the_newest_open_orders_and_counts_them_all() -> None:
    b = market()
    m = ExecutionMonitor(b)
    ids = [b.submit(order("buy", 1, "90.00")).id for _ in range(SHOWN_ORDERS + 5)]
    b.run(until_ns=S)
    snap = m.refresh()
    assert snap["open_orders_count"] == SHOWN_ORDERS + 5
    assert [o["id"] for o in snap["open_orders"]] == ids[5:]
    samples, _ = scrape(m)
    assert samples[("fillforge_open_orders", ())] == SHOWN_ORDERS + 5


def test_the_equity_curve_keeps_each_change() -> None:
    b = market()
    m = ExecutionMonitor(b)
    b.submit(order("buy", 100))
    b.run(until_ns=S)
    first = m.refresh()["equity_curve"]
    assert len(first) == 1
    m.refresh()  # nothing moved: no new point
    b.trade("AAA", D("101.00"), D(1))  # a print marks the position
    curve = m.refresh()["equity_curve"]
    assert len(curve) == 2
    mark = m.snapshot()["positions"][0]["mark"]
    assert D(curve[1][1]) - D(curve[0][1]) == 100 * (D(mark) - D("100.02"))
    assert D(curve[1][1]) > D(curve[0][1])
    assert curve[1][0] >= curve[0][0]
