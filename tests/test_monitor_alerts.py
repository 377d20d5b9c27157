"""The monitor's alert rules on a simulated tape: each default rule fires once when its metric
crosses the threshold and clears once when it comes back, delivered to a callback, the log and
the page's snapshot; the metrics they read (rates, slippage sign, timeouts) are checked by hand."""

from __future__ import annotations

import logging
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fillforge.errors import ConfigError, FillforgeError
from fillforge.execution.engine import ExecutionEngine
from fillforge.execution.parent import ParentOrder, WorkRules
from fillforge.monitor import Alert, AlertRule, ExecutionMonitor, alerts_config
from fillforge.orders.enums import OrderSide, OrderStatus, OrderTimeInForce, OrderType
from fillforge.orders.models import Instrument, OrderRequest
from fillforge.risk import MaxOrderQty, RiskGate
from fillforge.sim.broker import SimulatedBroker
from fillforge.sim.feeds import empty_feed
from fillforge.sim.venue import Venue
from fillforge.time import NS_PER_HOUR, NS_PER_SECOND

D = Decimal
S = NS_PER_SECOND
AAA = Instrument(symbol="AAA")


def market(bid: str = "100.00", ask: str = "100.02") -> SimulatedBroker:
    venue = Venue(calendar=None)
    venue.add(AAA, empty_feed())
    b = SimulatedBroker(venue, cash=D(100_000_000), start_ns=0)
    b.quote("AAA", D(bid), D(ask), bid_size=D(1_000_000), ask_size=D(1_000_000), ts=0)
    return b


def market_order(side: str = "buy", qty: int = 10) -> OrderRequest:
    return OrderRequest(
        symbol="AAA",
        side=OrderSide(side),
        type=OrderType.MARKET,
        time_in_force=OrderTimeInForce.DAY,
        qty=D(qty),
    )


def resting_buy(qty: int = 10, price: str = "90.00") -> OrderRequest:
    return OrderRequest(
        symbol="AAA",
        side=OrderSide.BUY,
        type=OrderType.LIMIT,
        time_in_force=OrderTimeInForce.GTC,
        qty=D(qty),
        limit_price=D(price),
    )


def step(b: SimulatedBroker, seconds: float = 1) -> None:
    b.run(until_ns=b.now() + int(seconds * S))


class Seen:
    def __init__(self, m: ExecutionMonitor) -> None:
        self.alerts: list[Alert] = []
        m.alerts.subscribe(self.alerts.append)

    def states(self, name: str) -> list[str]:
        return [a.state for a in self.alerts if a.name == name]


def test_rejection_rate_fires_once_and_clears_once(caplog: pytest.LogCaptureFixture) -> None:
    b = market()
    gate = RiskGate(b, [MaxOrderQty(100)])
    m = ExecutionMonitor(gate, clock=b)
    seen = Seen(m)
    caplog.set_level(logging.INFO, "fillforge.monitor")
    for _ in range(19):
        gate.submit(market_order())
        step(b)
    assert seen.states("rejection_rate") == []
    gate.submit(market_order(qty=500))  # denied by the gate: 1 of 20 = 5%, not above
    step(b)
    assert seen.states("rejection_rate") == []
    gate.submit(market_order(qty=500))  # 2 of 21 = 9.5%
    step(b)
    assert seen.states("rejection_rate") == ["raised"]
    for _ in range(3):  # more denials: still one raise
        gate.submit(market_order(qty=500))
        step(b)
    assert seen.states("rejection_rate") == ["raised"]
    assert m.stats().rejects == 5
    assert m.stats().orders == 24
    # (the denied 500s also sink the fill rate: that rule raises too)
    raised = [r for r in caplog.records if r.getMessage().startswith("alert raised: rejection")]
    assert len(raised) == 1
    assert raised[0].levelno == logging.WARNING
    assert "reject_rate 0.0952" in raised[0].getMessage()
    assert "\n" not in raised[0].getMessage()
    snap = m.refresh()
    assert "rejection_rate" in [a["name"] for a in snap["alerts"]["active"]]
    # An hour on, the denials have left the window; clean orders bring it under 4%.
    b.run(until_ns=b.now() + NS_PER_HOUR)
    for _ in range(5):
        gate.submit(market_order())
        step(b)
    assert seen.states("rejection_rate") == ["raised", "cleared"]
    assert "rejection_rate" not in [a["name"] for a in m.refresh()["alerts"]["active"]]
    assert any("alert cleared: rejection_rate" in r.getMessage() for r in caplog.records)


def test_slippage_against_arrival_fires_and_clears() -> None:
    b = market("100.00", "100.40")  # mid 100.20: a market buy pays the ask, ~20 bps
    m = ExecutionMonitor(b)
    seen = Seen(m)
    for i in range(10):
        b.submit(market_order())
        step(b)
        if i < 9:
            assert seen.states("slippage") == []  # fewer than 10 fills back the average
    assert seen.states("slippage") == ["raised"]
    cost = m.stats().slippage_bps
    assert cost is not None
    assert cost == (D("100.40") - D("100.20")) / D("100.20") * 10_000
    assert cost > 0  # positive = cost (a buy above arrival)
    # A sell at the bid pays the same spread: positive too.
    b.submit(market_order("sell"))
    step(b)
    assert m.stats().slippage_bps == cost
    # The spread tightens: fills at ~1 bp pull the average down to the clear level, once.
    b.quote("AAA", D("100.00"), D("100.02"), bid_size=D(1_000_000), ask_size=D(1_000_000))
    for _ in range(40):
        b.submit(market_order())
        step(b)
    avg = m.stats().slippage_bps
    assert avg is not None
    assert avg <= 12
    assert seen.states("slippage") == ["raised", "cleared"]


def test_fill_rate_fires_and_clears() -> None:
    b = market()
    m = ExecutionMonitor(b)
    seen = Seen(m)
    for _ in range(10):  # resting far away, then canceled: nothing fills
        o = b.submit(resting_buy())
        step(b)
        b.cancel(o.id)
        step(b)
    assert m.stats().fill_rate == 0
    assert seen.states("fill_rate") == ["raised"]
    assert m.stats().cancel_rate == 1
    for _ in range(29):  # 290 of 390 filled = 74%: still raised (clears at 75%)
        b.submit(market_order())
        step(b)
    assert seen.states("fill_rate") == ["raised"]
    b.submit(market_order(qty=30))  # 320 of 420 = 76%
    step(b)
    assert seen.states("fill_rate") == ["raised", "cleared"]


def test_partial_fill_rate_counts_orders_ended_part_filled() -> None:
    b = market()
    m = ExecutionMonitor(b)
    o = b.submit(resting_buy(100, "100.00"))  # at the bid, behind 1,000,000 displayed
    step(b)
    b.trade("AAA", D("100.00"), D(1_000_040))  # reaches 40 of ours
    b.cancel(o.id)
    step(b)
    s = m.stats()
    assert s.ended == 1
    assert s.ended_partial == 1
    assert s.partial_fill_rate == 1
    assert s.fill_rate == D("0.4")


def test_engine_timeouts_fire_and_clear() -> None:
    b = market()
    engine = ExecutionEngine(b)
    m = ExecutionMonitor(b, engine=engine)
    seen = Seen(m)
    # A passive parent whose children rest at the bid (behind 1,000,000) and time out after
    # 3 s; each slice retries up to 20 times, then gives up (no market fallback).
    rules = WorkRules(timeout_ns=3 * S, max_attempts=20, fallback="none", at_end="stop")
    parent = ParentOrder(
        parent_id="P1",
        symbol="AAA",
        side=OrderSide.BUY,
        qty=D(100),
        start_ns=b.now() + S,
        end_ns=b.now() + 600 * S,
    )
    engine.submit(parent, AAA, rules=rules)
    for _ in range(60):  # one timeout every 3 s
        step(b)
        if m.stats().timeouts == 10:
            break
    assert seen.states("timeouts") == []  # 10 is not more than 10
    for _ in range(4):
        step(b)
    assert m.stats().timeouts == 11
    assert seen.states("timeouts") == ["raised"]
    assert m.stats().cancels == 11
    assert m.stats().orders == 12
    parents = m.refresh()["parents"]
    assert parents[0]["id"] == "P1"
    assert parents[0]["state"] == "working"
    engine.cancel("P1")
    step(b)
    # The window forgets the first timeouts: at 8 in the last hour, it clears, once.
    b.run(until_ns=b.now() + NS_PER_HOUR - 20 * S)
    m.refresh()
    assert seen.states("timeouts") == ["raised", "cleared"]


def test_order_timeout_counts_plain_orders() -> None:
    b = market()
    m = ExecutionMonitor(b, config=alerts_config({"order_timeout_s": 5}))
    early = b.submit(resting_buy())
    step(b, 2)
    b.cancel(early.id)  # canceled before its timeout: a cancel, not a timeout
    late = b.submit(resting_buy())
    step(b, 6)
    b.cancel(late.id)
    step(b)
    s = m.stats()
    assert (s.cancels, s.timeouts) == (2, 1)


def test_windows_are_in_the_broker_time() -> None:
    b = market()
    m = ExecutionMonitor(b)
    b.submit(market_order())
    step(b)
    assert m.stats().orders == 1
    b.run(until_ns=b.now() + NS_PER_HOUR)  # simulated: no wall time passes
    assert m.stats().orders == 0


def test_config_errors_name_the_key_path() -> None:
    with pytest.raises(ConfigError) as e:
        alerts_config({"rules": {"fill_rate": {"below": "lots"}}})
    assert e.value.field == "monitor.rules.fill_rate.below"
    assert e.value.value == "lots"
    with pytest.raises(ConfigError) as e:
        alerts_config({"rules": {"slippage": {"above": 10, "clear": 20}}})
    assert e.value.field == "monitor.rules.slippage"
    assert "clear" in e.value.why
    with pytest.raises(ConfigError) as e:
        alerts_config({"rules": {"mine": {"metric": "latency", "above": 1}}})
    assert e.value.field == "monitor.rules.mine.metric"
    with pytest.raises(ConfigError) as e:
        alerts_config({"rules": {"timeouts": {"window_s": 0}}})
    assert e.value.field == "monitor.rules.timeouts.window_s"
    with pytest.raises(ConfigError) as e:
        alerts_config({"order_timeout_s": -1})
    assert e.value.field == "monitor.order_timeout_s"
    # A default rule changes only the keys given; a threshold given brings its own clear level.
    c = alerts_config({"rules": {"fill_rate": {"below": "0.9"}, "timeouts": {"enabled": False}}})
    assert c.rules["fill_rate"] == AlertRule(metric="fill_rate", below=D("0.9"))
    assert not c.rules["timeouts"].enabled
    assert c.rules["slippage"].above == 15


def test_a_failing_callback_or_event_never_stops_trading(caplog: pytest.LogCaptureFixture) -> None:
    b = market("100.00", "100.40")
    m = ExecutionMonitor(b, config=alerts_config({"rules": {"slippage": {"min_samples": 1}}}))
    seen = Seen(m)

    def broken(alert: Alert) -> None:
        raise RuntimeError("a user's callback fails")

    m.alerts.subscribe(broken)
    m.alerts._subscribers.reverse()  # the broken one first: the next one still hears
    caplog.set_level(logging.INFO, "fillforge.monitor")
    o = b.submit(market_order())
    step(b)
    assert b.get_order(o.id).cum_qty == 10
    assert seen.states("slippage") == ["raised"]
    assert any("alert callback" in r.getMessage() for r in caplog.records)
    # An event the monitor cannot read is logged and counted; the broker goes on.
    m.on_event(None)  # type: ignore[arg-type]
    assert m.errors == 1
    o = b.submit(market_order())
    step(b)
    assert b.get_order(o.id).cum_qty == 10
    assert m.stats().fills == 2


_ACTIONS = st.lists(
    st.one_of(
        st.tuples(st.just("market"), st.sampled_from(["buy", "sell"]), st.integers(1, 50)),
        st.tuples(
            st.just("limit"), st.sampled_from(["99.98", "100.00", "100.02"]), st.integers(1, 50)
        ),
        st.tuples(st.just("cancel"), st.integers(0, 30), st.just(0)),
        st.tuples(st.just("print"), st.sampled_from(["99.99", "100.00"]), st.integers(1, 80)),
        st.tuples(st.just("wait"), st.integers(1, 5), st.just(0)),
    ),
    max_size=40,
)


@settings(max_examples=40, deadline=None)
@given(actions=_ACTIONS)
def test_the_counts_agree_with_the_broker(actions: list[tuple[str, object, int]]) -> None:
    """Whatever the tape, the monitor's window (longer than the tape) counts what the broker's
    own orders say: orders, fills, cancels, ended quantity and what of it filled."""
    b = market()
    b.quote("AAA", D("100.00"), D("100.02"), bid_size=D(20), ask_size=D(20))
    m = ExecutionMonitor(b)
    ids: list[str] = []
    for kind, arg, n in actions:
        try:
            if kind == "market":
                ids.append(b.submit(market_order(str(arg), n)).id)
            elif kind == "limit":
                ids.append(b.submit(resting_buy(n, str(arg))).id)
            elif kind == "cancel" and ids:
                b.cancel(ids[int(arg) % len(ids)])  # type: ignore[call-overload]
            elif kind == "print":
                b.trade("AAA", D(str(arg)), D(n))
            elif kind == "wait":
                step(b, int(arg))  # type: ignore[call-overload]
        except FillforgeError:
            pass  # refused (nothing to cancel, no short sale): nothing changed
    step(b)
    orders = b.orders()
    ended = [o for o in orders if o.status.is_terminal]
    s = m.stats()
    assert s.orders == len(orders)
    assert s.fills == sum(len(o.fills) for o in orders)
    assert s.cancels == sum(o.status is OrderStatus.CANCELED for o in orders)
    assert s.ended == len(ended)
    assert s.ended_qty == sum((o.order_qty for o in ended), D(0))
    assert s.ended_filled == sum((o.cum_qty for o in ended), D(0))
    assert s.ended_partial == sum(0 < o.cum_qty < o.order_qty for o in ended)
    assert s.rejects == sum(o.status is OrderStatus.REJECTED for o in orders)  # by the venue
    assert s.timeouts == 0
    filled = m.totals.filled_qty
    assert sum(filled.values(), D(0)) == sum((o.cum_qty for o in orders), D(0))
    assert m.errors == 0


@pytest.mark.parametrize(
    ("option", "value"), [("window_s", 0), ("window_s", -5), ("window_s", "1h")]
)
def test_a_bad_window_is_refused(option: str, value: object) -> None:
    with pytest.raises(FillforgeError) as e:
        ExecutionMonitor(market(), **{option: value})  # type: ignore[arg-type]
    assert e.value.field == option  # type: ignore[attr-defined]
