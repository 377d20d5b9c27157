"""Drawdown periods and durations, exposure, turnover and the equity curve
(fillforge.portfolio.equity): known values, a brute-force reference on random series, and the
refusals."""

from __future__ import annotations

import math
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given, note, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from fillforge.errors import MetricsError
from fillforge.portfolio import metrics as m
from fillforge.portfolio.equity import (
    DrawdownPeriod,
    EquityCurve,
    drawdown_periods,
    gross_exposure,
    longest_drawdown,
    net_exposure,
    notional_by_period,
    time_in_market,
    turnover,
    turnover_series,
)
from fillforge.time import NS_PER_DAY

T0 = 1_700_000_000 * 10**9


def test_drawdown_periods_known() -> None:
    r = [0.10, -0.20, 0.05, 0.20, -0.50]
    # Points: 1, 1.1, 0.88, 0.924, 1.1088 (a new high), 0.5544.
    first, second = drawdown_periods(r)
    assert (first.peak, first.trough, first.end, first.periods) == (1, 2, 4, 3)
    assert first.depth == pytest.approx(-0.2)
    assert first.recovered
    assert (second.peak, second.trough, second.end, second.periods) == (4, 5, None, 1)
    assert second.depth == pytest.approx(-0.5)
    assert not second.recovered
    assert longest_drawdown(r) == first
    assert first.days is None


def test_a_first_loss_draws_down_from_the_start_and_a_rounding_recovery_counts() -> None:
    (dd,) = drawdown_periods([-0.1, 0.05, 0.01])
    assert dd.peak == 0
    assert dd.trough == 1
    assert drawdown_periods([-0.1, 1 / 9])[0].end == 2  # 0.9 * (1 + 1/9) is 1 up to rounding
    assert drawdown_periods([0.01, 0.02]) == []
    assert longest_drawdown([0.01, 0.02]) is None
    assert drawdown_periods([]) == []


def test_durations_in_days_follow_the_timestamps() -> None:
    r = [-0.1, 0.2, -0.01, -0.01, -0.01, 0.5]
    # Daily points, except a long weekend-like gap inside the first drawdown.
    days = [0, 1, 10, 11, 12, 13, 14]
    times = [T0 + d * NS_PER_DAY for d in days]
    first, second = drawdown_periods(r, times)
    assert (first.peak, first.end, first.periods, first.days) == (0, 2, 2, 10.0)
    assert (second.peak, second.end, second.periods, second.days) == (2, 6, 4, 4.0)
    assert longest_drawdown(r) == drawdown_periods(r)[1]  # in periods
    assert longest_drawdown(r, times) == first  # in calendar time
    # n times: the start is taken at the first return's time.
    assert drawdown_periods(r, times[1:])[0].days == 9.0


def _reference(r: np.ndarray) -> list[tuple[int, int, int | None, float]]:
    """A point-by-point loop: (peak, trough, end, depth) of every drawdown."""
    value, high, high_at = 1.0, 1.0, 0
    out: list[tuple[int, int, int | None, float]] = []
    current: list[float | int] | None = None
    for k, x in enumerate(r, start=1):
        value *= 1.0 + (0.0 if math.isnan(x) else x)
        if value >= high * (1 - 1e-12):
            if current is not None:
                out.append((int(current[0]), int(current[1]), k, float(current[2])))
                current = None
            high, high_at = max(high, value), k  # the last point at the high is the peak
            continue
        depth = value / high - 1
        if current is None:
            current = [high_at, k, depth]
        elif depth < current[2]:
            current[1], current[2] = k, depth
    if current is not None:
        out.append((int(current[0]), int(current[1]), None, float(current[2])))
    return out


@settings(max_examples=200, deadline=None)
@given(
    hnp.arrays(
        np.float64,
        st.integers(0, 80),
        elements=st.one_of(
            st.floats(-0.5, 0.5, width=32), st.sampled_from([0.0, math.nan, 0.25, -0.2])
        ),
    )
)
def test_drawdown_periods_equal_a_point_by_point_loop(r: np.ndarray) -> None:
    note(repr(r.tolist()))
    got = drawdown_periods(r)
    want = _reference(r)
    assert [(d.peak, d.trough, d.end) for d in got] == [w[:3] for w in want]
    for d, w in zip(got, want, strict=True):
        assert d.depth == pytest.approx(w[3], rel=1e-9, abs=1e-12)
        assert d.periods == (d.end if d.end is not None else r.size) - d.peak
    if got:
        assert min(d.depth for d in got) == pytest.approx(m.max_drawdown(r), abs=1e-12)
        longest = longest_drawdown(r)
        assert longest is not None
        assert longest.periods == max(d.periods for d in got)


def test_bad_times_are_refused() -> None:
    r = [0.1, -0.1]
    for times, field in [
        ([T0], "times_ns"),  # neither n nor n + 1 times
        ([T0, T0, T0 + 5], "times_ns[1]"),
        (["x", "y", "z"], "times_ns"),
    ]:
        with pytest.raises(MetricsError) as e:
            drawdown_periods(r, times)
        assert e.value.field == field


# --- exposure and turnover -------------------------------------------------------------------


def test_exposure_known_values() -> None:
    values = [[50_000.0, -30_000.0], [0.0, 0.0], [120_000.0, 40_000.0]]
    equity = [100_000.0, 100_000.0, 80_000.0]
    np.testing.assert_allclose(gross_exposure(values, equity), [0.8, 0.0, 2.0])
    np.testing.assert_allclose(net_exposure(values, equity), [0.2, 0.0, 2.0])
    assert time_in_market(values) == pytest.approx(2 / 3)
    # One symbol as a 1-D series; Decimal values convert.
    np.testing.assert_allclose(gross_exposure([Decimal(-5), Decimal(5)], [10, 10]), [0.5, 0.5])
    assert math.isnan(time_in_market(np.empty((0, 2))))


def test_turnover_known_values() -> None:
    traded = [0.0, 200_000.0, 50_000.0, 0.0]
    equity = [100_000.0] * 4
    np.testing.assert_allclose(turnover_series(traded, equity), [0.0, 2.0, 0.5, 0.0])
    assert turnover(traded, equity) == pytest.approx(0.625 * 252)
    assert turnover(traded, equity, "monthly") == pytest.approx(0.625 * 12)
    assert math.isnan(turnover([], []))


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: gross_exposure([[1.0]], [0.0]), "equity[0]"),
        (lambda: gross_exposure([[1.0]], [1.0, 2.0]), "equity"),
        (lambda: net_exposure([[[1.0]]], [1.0]), "position_values"),
        (lambda: net_exposure([["a"]], [1.0]), "position_values"),
        (lambda: turnover_series([-1.0], [1.0]), "traded_notional[0]"),
        (lambda: turnover([1.0], [1.0], period="hourly"), "period"),
    ],
)
def test_bad_exposure_input_is_refused(call: object, field: str) -> None:
    with pytest.raises(MetricsError) as e:
        call()  # type: ignore[operator]
    assert e.value.field == field


# --- the equity curve ------------------------------------------------------------------------


def test_equity_curve_returns_summary_and_drawdowns() -> None:
    curve = EquityCurve(periods_per_year=252)
    values = ["100000", "101000", "99990", "100989.9", "102000"]
    for i, v in enumerate(values):
        curve.append(T0 + i * NS_PER_DAY, Decimal(v), gross=Decimal(v) / 2, traded=1000 * i)
    assert len(curve) == 5
    expected = np.array([float(v) for v in values])
    np.testing.assert_array_equal(curve.equity, expected)
    np.testing.assert_allclose(curve.returns(), expected[1:] / expected[:-1] - 1)
    assert curve.summary() == m.summary(curve.returns(), annualization=252)
    assert curve.summary(0.0001) == m.summary(curve.returns(), 0.0001, annualization=252)
    (dd,) = curve.drawdowns()
    assert (dd.peak, dd.trough, dd.end, dd.days) == (1, 2, 4, 3.0)
    assert curve.longest_drawdown() == dd
    np.testing.assert_allclose(curve.gross_exposure(), 0.5)
    np.testing.assert_allclose(curve.net_exposure(), 0.0)
    want = np.mean([1000 * i / float(v) for i, v in enumerate(values)][1:]) * 252
    assert curve.turnover() == pytest.approx(want)
    assert isinstance(dd, DrawdownPeriod)


def test_equity_curve_periods_per_year_from_a_calendar_callable() -> None:
    seen: list[tuple[int, int]] = []

    def sessions_per_year(first_ns: int, last_ns: int) -> float:
        seen.append((first_ns, last_ns))
        return 250.0

    curve = EquityCurve(periods_per_year=sessions_per_year)
    for i in range(251):
        curve.append(T0 + i * NS_PER_DAY, 100.0 * 1.001**i)
    assert curve.periods_per_year() == 250.0
    assert seen == [(T0, T0 + 250 * NS_PER_DAY)]
    # 250 returns of 0.1% at 250 a year: one year, CAGR 1.001^250 - 1 (quantstats counted
    # calendar days here).
    assert curve.summary().cagr == pytest.approx(1.001**250 - 1, rel=1e-9)
    with pytest.raises(MetricsError) as e:
        EquityCurve(periods_per_year=sessions_per_year).periods_per_year()
    assert e.value.field == "periods_per_year"
    bad = EquityCurve(periods_per_year=lambda a, b: -1.0)
    bad.append(T0, 1.0)
    bad.append(T0 + 1, 1.0)
    with pytest.raises(MetricsError):
        bad.summary()


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"time_ns": T0 - 1}, "time_ns"),  # before the last point
        ({"time_ns": 1.5e18}, "time_ns"),
        ({"time_ns": True}, "time_ns"),
        ({"equity": 0}, "equity"),
        ({"equity": Decimal("-1")}, "equity"),
        ({"equity": math.nan}, "equity"),
        ({"equity": "100"}, "equity"),
        ({"gross": -1.0}, "gross"),
        ({"traded": -1.0}, "traded"),
        ({"net": math.inf}, "net"),
    ],
)
def test_a_refused_point_changes_nothing(kwargs: dict[str, object], field: str) -> None:
    curve = EquityCurve()
    curve.append(T0, 100.0)
    before = curve.equity.copy()
    args: dict[str, object] = {"time_ns": T0 + NS_PER_DAY, "equity": 101.0} | kwargs
    with pytest.raises(MetricsError) as e:
        curve.append(**args)  # type: ignore[arg-type]
    assert e.value.field == field
    assert len(curve) == 1
    np.testing.assert_array_equal(curve.equity, before)


def test_a_point_at_the_same_time_replaces_the_last() -> None:
    curve = EquityCurve()
    curve.append(T0, 100.0)
    curve.append(T0 + 1, 101.0, gross=50.0, traded=10.0)
    curve.append(T0 + 1, 102.0, gross=60.0, traded=5.0)
    assert len(curve) == 2
    np.testing.assert_array_equal(curve.equity, [100.0, 102.0])
    np.testing.assert_allclose(curve.gross_exposure(), [0.0, 60.0 / 102.0])
    assert curve.turnover() == pytest.approx(15.0 / 102.0 * 252)


def test_a_curve_of_one_point_has_nan_figures() -> None:
    for ppy in (252, lambda a, b: 250.0):
        curve = EquityCurve(periods_per_year=ppy)
        curve.append(T0, 100.0)
        s = curve.summary()
        assert s.periods == 0
        assert math.isnan(s.sharpe_ratio)
        assert math.isnan(curve.turnover())
        assert curve.drawdowns() == []
    assert EquityCurve().summary().annualization == 252.0


def test_bad_periods_per_year_is_refused() -> None:
    for bad in (0, -252, math.nan, "252"):
        with pytest.raises(MetricsError):
            EquityCurve(periods_per_year=bad)  # type: ignore[arg-type]


def test_the_curves_arrays_are_read_only_snapshots() -> None:
    curve = EquityCurve()
    curve.append(T0, 100.0)
    curve.append(T0 + 1, 110.0)
    r = curve.returns()
    with pytest.raises(ValueError, match="read-only"):
        r[0] = 0.0
    curve.append(T0 + 2, 99.0)
    assert curve.returns().size == 2
    assert r.size == 1


def test_the_docs_calendar_example_runs() -> None:
    """docs/portfolio-analytics.md's periods-per-year callable on the XNYS calendar."""
    doc = Path(__file__).resolve().parents[1] / "docs" / "portfolio-analytics.md"
    text = doc.read_text()
    start = text.index("```python\n") + len("```python\n")
    code = text[start : text.index("```", start)]
    namespace: dict[str, object] = {}
    exec(compile(code, str(doc), "exec"), namespace)
    curve = namespace["curve"]
    assert isinstance(curve, EquityCurve)
    jan_2023 = 1_672_700_000 * 10**9  # 2023-01-02
    curve.append(jan_2023, 100.0)
    curve.append(jan_2023 + 200 * NS_PER_DAY, 110.0)
    assert curve.periods_per_year() == 250.0  # XNYS had 250 sessions in 2023
    curve.append(jan_2023 + 400 * NS_PER_DAY, 120.0)  # into 2024 (252 sessions)
    assert curve.periods_per_year() == 251.0


def test_notional_by_period_bins_fills_for_turnover() -> None:
    times = [T0, T0 + NS_PER_DAY, T0 + 2 * NS_PER_DAY]
    fills = [
        ("A", "buy", Decimal(10), Decimal(100), Decimal(1), T0 - 5),  # before the start: point 0
        ("A", "sell", Decimal(4), Decimal(110), Decimal(0), T0 + 1),  # in the first period
        SimpleNamespace(
            symbol="B",
            side="sell",
            qty=Decimal(2),
            price=Decimal(50),
            commission=Decimal(0),
            time_ns=T0 + NS_PER_DAY,
        ),
        ("A", "buy", Decimal(1), Decimal(90), Decimal(0), T0 + 2 * NS_PER_DAY),
    ]
    traded = notional_by_period(fills, times)
    np.testing.assert_allclose(traded, [1000.0, 540.0, 90.0])
    equity = [10_000.0, 10_000.0, 9_000.0]
    assert turnover(traded[1:], equity[1:]) == pytest.approx((0.054 + 0.01) / 2 * 252)
    with pytest.raises(MetricsError) as e:
        notional_by_period([("A", "buy", Decimal(1), Decimal(1), Decimal(0), T0 + 10**15)], times)
    assert e.value.field == "fills[0].time_ns"
    with pytest.raises(MetricsError) as e:
        notional_by_period([], [T0, T0])
    assert e.value.field == "times_ns"
