"""The monitor's rolling windows: the running totals always equal the sum over the events in
``(now - span, now]``, whatever the order of adds and reads (hypothesis against a brute-force
sum), exactly (ints and Decimals)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fillforge.errors import TimeError
from fillforge.monitor.alerts import AlertRule, Alerts, WindowStats
from fillforge.monitor.windows import Rolling

_money = st.decimals(min_value=-(10**9), max_value=10**9, places=4, allow_nan=False)
_event = st.tuples(st.integers(0, 50), st.integers(-5, 5), _money)
_op = st.one_of(
    st.tuples(st.just("add"), _event),
    st.tuples(st.just("read"), st.integers(0, 200)),
)


@given(span=st.integers(1, 100), ops=st.lists(_op, max_size=60))
def test_totals_equal_the_sum_over_the_window(span: int, ops: list[tuple[str, object]]) -> None:
    w = Rolling(span, (0, Decimal(0)))
    seen: list[tuple[int, int, Decimal]] = []  # as counted: a late event at the latest time
    clock = 0  # reads never go back either (a clock)
    last = -(2**63)
    for op, arg in ops:
        if op == "add":
            dt, n, x = arg  # type: ignore[misc]
            ts = max(clock + dt - 25, last)
            last = ts
            w.add(clock + dt - 25, (n, x))
            seen.append((ts, n, x))
        else:
            clock += arg  # type: ignore[operator]
            got = w.totals(clock)
            inside = [(n, x) for ts, n, x in seen if clock - span < ts]
            assert got == (sum(n for n, _ in inside), sum((x for _, x in inside), Decimal(0)))


@given(st.lists(st.tuples(st.integers(0, 10), st.integers(0, 3)), max_size=40))
def test_an_event_exactly_span_old_no_longer_counts(events: list[tuple[int, int]]) -> None:
    w = Rolling(10, (0,))
    t = 0
    for dt, n in events:
        t += dt
        w.add(t, (n,))
    assert w.totals(t + 10) == (0,)
    assert len(w) == 0


def test_rates_of_a_window() -> None:
    s = WindowStats.of(
        3600, (20, 1, 4, 2, 30, 10, Decimal(1000), Decimal(650), 3, Decimal(3), Decimal(2000), 5)
    )
    assert s.reject_rate == Decimal("0.05")
    assert s.cancel_rate == Decimal("0.2")
    assert s.fill_rate == Decimal("0.65")
    assert s.partial_fill_rate == Decimal("0.3")
    assert s.slippage_bps == 15
    assert s.value("timeouts") == (2, 2)
    assert s.value("fill_rate") == (Decimal("0.65"), 10)
    empty = WindowStats(3600)
    assert empty.fill_rate is None
    assert empty.value("slippage_bps") == (None, 0)


@pytest.mark.parametrize("span", [0, -1, 1.5, True])
def test_a_window_needs_a_positive_span(span: object) -> None:
    with pytest.raises(TimeError):
        Rolling(span, (0,))  # type: ignore[arg-type]


_rates = st.lists(
    st.tuples(st.integers(0, 40), st.integers(0, 40)),  # (orders, rejects) in the window
    max_size=60,
)


@given(
    seq=_rates,
    above=st.decimals("0.01", "0.5", places=2),
    gap=st.decimals("0", "0.1", places=2),
    least=st.integers(0, 10),
)
def test_hysteresis_raises_once_and_clears_once(
    seq: list[tuple[int, int]], above: Decimal, gap: Decimal, least: int
) -> None:
    """Whatever the values, changes alternate raised, cleared, raised...; a raise comes only
    with the value past the threshold on enough samples, a clear only with the value back at
    or under the clear level (or no sample at all)."""
    clear = max(above - gap, Decimal(0))
    rule = AlertRule(metric="reject_rate", above=above, clear=clear, min_samples=least)
    alerts = Alerts({"r": rule})
    state = "cleared"
    for ts, (orders, rejects) in enumerate(seq):
        stats = WindowStats(3600 * 10**9, orders=orders, rejects=min(rejects, orders))
        value, samples = stats.value("reject_rate")
        changes = alerts.evaluate(lambda span, s=stats: s, ts)
        assert len(changes) <= 1
        if changes:
            c = changes[0]
            assert c.state != state  # never twice the same way in a row
            state = c.state
            if c.state == "raised":
                assert value is not None
                assert value > above
                assert samples >= max(least, 1)
            else:
                assert samples == 0 or (value is not None and value <= clear)
        elif state == "raised":
            assert samples != 0
            assert value is None or value > clear
        else:
            assert value is None or samples < least or samples == 0 or value <= above
        assert ("r" in alerts.active) == (state == "raised")
