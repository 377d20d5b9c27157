"""VaR, CVaR, stress and historical scenarios (fillforge.portfolio.var): checked against
empyrical-reloaded, against known values worked by hand, and for the invariants that hold on
any series (CVaR >= VaR, a portfolio of one symbol scales its VaR, the worst window is the worst
P&L the model sees)."""

from __future__ import annotations

import math
import pickle
from decimal import Decimal
from statistics import NormalDist
from types import SimpleNamespace

import empyrical
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from fillforge.errors import MetricsError
from fillforge.marketdata.bars import load_bars
from fillforge.portfolio.ledger import Ledger
from fillforge.portfolio.var import (
    StressResult,
    VarModel,
    daily_returns,
    exposures_of,
    historical_cvar,
    historical_scenarios,
    historical_var,
    parametric_cvar,
    parametric_var,
    portfolio_cvar,
    portfolio_var,
    stress,
    worst_window,
)
from fillforge.replay.samples import daily_samples
from fillforge.time import to_iso

RETURN = st.floats(-0.5, 0.5, allow_nan=False, allow_infinity=False)
SERIES = hnp.arrays(np.float64, st.integers(1, 300), elements=RETURN)
CONFIDENCE = st.sampled_from([0.9, 0.95, 0.975, 0.99, 0.999])


# --- one series ------------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(SERIES, CONFIDENCE)
def test_historical_var_and_cvar_equal_empyricals(r: np.ndarray, c: float) -> None:
    cutoff = 1.0 - c
    assert historical_var(r, c) == pytest.approx(-empyrical.value_at_risk(r, cutoff), abs=1e-12)
    assert historical_cvar(r, c) == pytest.approx(
        -empyrical.conditional_value_at_risk(r, cutoff), abs=1e-12
    )


@settings(max_examples=200, deadline=None)
@given(SERIES, CONFIDENCE)
def test_cvar_is_never_below_var(r: np.ndarray, c: float) -> None:
    assert historical_cvar(r, c) >= historical_var(r, c) - 1e-12
    if r.size >= 2:
        assert parametric_cvar(r, c) >= parametric_var(r, c) - 1e-12


def test_historical_var_known_values() -> None:
    # 101 returns -0.50, -0.49, ..., 0.50: the 1% quantile is order statistic 1 exactly.
    r = np.linspace(-0.5, 0.5, 101)
    assert historical_var(r, 0.99) == pytest.approx(0.49)
    # CVaR's tail is floor(100 * 0.01) + 1 = 2 observations: mean(-0.50, -0.49).
    assert historical_cvar(r, 0.99) == pytest.approx(0.495)
    # Interpolation: four values, the 10% quantile sits at position 0.3 between -4 and -2.
    assert historical_var([-4.0, -2.0, 0.0, 2.0], 0.9) == pytest.approx(3.4)
    # A series that only gains has a negative VaR (the tail is a gain), reported as is.
    assert historical_var([0.01, 0.02, 0.03], 0.99) < 0


def test_parametric_known_values() -> None:
    r = np.array([0.01, -0.02, 0.03, -0.01, 0.0])
    m, s = r.mean(), r.std(ddof=1)
    z = NormalDist().inv_cdf(0.99)
    assert parametric_var(r, 0.99) == pytest.approx(z * s - m)
    assert parametric_cvar(r, 0.99) == pytest.approx(s * NormalDist().pdf(z) / 0.01 - m)
    # The 95% normal quantile is 1.6449: a zero-mean 1% daily vol has a 1.645% VaR.
    assert parametric_var([0.01, -0.01], 0.95) == pytest.approx(1.6448536 * math.sqrt(2) * 0.01)


def test_decimal_and_list_input_convert() -> None:
    r = [Decimal("0.01"), Decimal("-0.02"), Decimal("0.005")]
    assert historical_var(r, 0.5) == pytest.approx(historical_var([0.01, -0.02, 0.005], 0.5))


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: historical_var([0.1, math.nan], 0.99), "returns[1]"),
        (lambda: historical_var([], 0.99), "returns"),
        (lambda: historical_var([0.1], 1.0), "confidence"),
        (lambda: historical_var([0.1], 0.0), "confidence"),
        (lambda: historical_var([0.1], True), "confidence"),
        (lambda: historical_var(0.1, 0.99), "returns"),
        (lambda: historical_var([[0.1, 0.2]], 0.99), "returns"),
        (lambda: historical_var(["x"], 0.99), "returns"),
        (lambda: parametric_var([0.1], 0.99), "returns"),
        (lambda: parametric_cvar([0.1, math.inf], 0.99), "returns[1]"),
    ],
)
def test_bad_series_and_confidence_are_refused(call: object, field: str) -> None:
    with pytest.raises(MetricsError) as e:
        call()  # type: ignore[operator]
    assert e.value.field == field
    assert pickle.loads(pickle.dumps(e.value)).field == field


# --- a portfolio -----------------------------------------------------------------------------


def _history(seed: int = 7, n: int = 500) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    common = rng.normal(0, 0.015, n)
    return {
        "AAPL": common + rng.normal(0.0004, 0.006, n),
        "MSFT": common + rng.normal(0.0003, 0.005, n),
        "XOM": rng.normal(0.0002, 0.015, n),
    }


@settings(max_examples=100, deadline=None)
@given(
    SERIES.filter(lambda a: a.size >= 2),
    st.floats(1.0, 1e7),
    st.sampled_from(["historical", "parametric"]),
)
def test_a_long_position_in_one_symbol_scales_the_series_var(
    r: np.ndarray, e: float, method: str
) -> None:
    var = portfolio_var({"X": e}, {"X": r}, method=method)  # type: ignore[arg-type]
    one = historical_var(r) if method == "historical" else parametric_var(r)
    assert var == pytest.approx(e * one, rel=1e-9, abs=1e-6)
    cvar = portfolio_cvar({"X": e}, {"X": r}, method=method)  # type: ignore[arg-type]
    one = historical_cvar(r) if method == "historical" else parametric_cvar(r)
    assert cvar == pytest.approx(e * one, rel=1e-9, abs=1e-6)


def test_a_short_loses_on_the_upper_tail() -> None:
    r = np.linspace(-0.05, 0.10, 151)  # skewed up: a short's tail is the rallies
    short = portfolio_var({"X": -1000.0}, {"X": r})
    long = portfolio_var({"X": 1000.0}, {"X": r})
    assert short == pytest.approx(1000.0 * np.percentile(r, 99))
    assert short > long > 0


def test_portfolio_var_is_the_quantile_of_the_pnl_series() -> None:
    hist = _history()
    exp = {"AAPL": Decimal("100000"), "MSFT": -50_000.0, "XOM": 30_000}
    pnl = 100_000 * hist["AAPL"] - 50_000 * hist["MSFT"] + 30_000 * hist["XOM"]
    assert portfolio_var(exp, hist) == pytest.approx(-np.percentile(pnl, 1), rel=1e-12)
    par = portfolio_var(exp, hist, method="parametric")
    assert par == pytest.approx(parametric_var(pnl), rel=1e-9)
    assert portfolio_cvar(exp, hist, method="parametric") == pytest.approx(
        parametric_cvar(pnl), rel=1e-9
    )
    # Hedged: the long AAPL and short MSFT share a factor, so the pair is less risky than AAPL.
    assert portfolio_var({"AAPL": 1e5, "MSFT": -1e5}, hist) < portfolio_var({"AAPL": 1e5}, hist)


def test_horizon_scaling() -> None:
    hist = _history()
    exp = {"AAPL": 1e5, "XOM": 5e4}
    one = VarModel(hist, method="parametric")
    ten = VarModel(hist, method="parametric", horizon_days=10)
    pnl = one.pnl(exp)
    m, s = pnl.mean(), pnl.std(ddof=1)
    z = NormalDist().inv_cdf(0.99)
    assert ten.var(exp) == pytest.approx(z * s * math.sqrt(10) - 10 * m, rel=1e-9)
    # Historical: every overlapping 10-day window, each symbol compounded over it.
    hist10 = VarModel(hist, horizon_days=10)
    windows = hist10.pnl(exp)
    assert windows.size == 500 - 10 + 1
    grow = np.prod(1 + hist["AAPL"][3:13]) - 1
    assert windows[3] == pytest.approx(1e5 * grow + 5e4 * (np.prod(1 + hist["XOM"][3:13]) - 1))
    assert hist10.var(exp) > VarModel(hist).var(exp)


def test_no_exposure_has_no_var_and_a_flat_unknown_symbol_is_ignored() -> None:
    hist = _history()
    assert portfolio_var({}, hist) == 0.0
    assert portfolio_var({"AAPL": 0.0, "GOOG": 0}, hist) == 0.0
    assert portfolio_cvar({"AAPL": 0.0}, hist, method="parametric") == 0.0


def test_the_model_answers_many_questions_without_changing() -> None:
    hist = _history()
    model = VarModel(hist, confidence=0.95)
    before = model.var({"AAPL": 1e5})
    after_order = model.var({"AAPL": 1e5, "MSFT": 2e5})
    assert after_order > before
    assert model.var({"AAPL": 1e5}) == before
    assert model.symbols == ("AAPL", "MSFT", "XOM")
    assert model.n_days == 500


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"exposures": {"GOOG": 1.0}}, "returns[GOOG]"),
        ({"exposures": {"AAPL": math.nan}}, "exposures[AAPL]"),
        ({"exposures": {"AAPL": "1"}}, "exposures[AAPL]"),
        ({"exposures": {"": 1.0}}, "exposures"),
        ({"exposures": [("AAPL", 1.0)]}, "exposures"),
        ({"method": "monte-carlo"}, "method"),
        ({"horizon_days": 0}, "horizon_days"),
        ({"horizon_days": 1.5}, "horizon_days"),
        ({"horizon_days": 3}, "horizon_days"),
        ({"confidence": 99}, "confidence"),
        ({"returns": {"AAPL": [0.01, 0.02], "MSFT": [0.01]}}, "returns[MSFT]"),
        ({"returns": {"AAPL": [0.01, math.nan]}}, "returns[AAPL][1]"),
        ({"returns": [[0.01, 0.02]]}, "returns"),
        ({"returns": {1: [0.01, 0.02]}}, "returns"),
        ({"exposures": {"AAPL": 1.0, 7: 0.0}}, "exposures"),
        ({"exposures": {"AAPL": 1.0, "GOOG": math.nan}}, "exposures[GOOG]"),
    ],
)
def test_bad_portfolio_input_is_refused(kwargs: dict[str, object], field: str) -> None:
    args: dict[str, object] = {
        "exposures": {"AAPL": 1.0},
        "returns": {"AAPL": [0.01, -0.02]},
    } | kwargs
    with pytest.raises(MetricsError) as e:
        portfolio_var(**args)  # type: ignore[arg-type]
    assert e.value.field == field


# --- stress and scenarios --------------------------------------------------------------------


def test_stress_symbol_shock_wins_over_sector_and_sums_by_sector() -> None:
    exp = {"AAPL": 100_000.0, "MSFT": Decimal("50000"), "XOM": -20_000.0, "ZZZ": 10_000.0}
    sectors = {"AAPL": "tech", "MSFT": "tech", "XOM": "energy"}
    r = stress(
        exp,
        shocks_by_symbol={"AAPL": -0.25, "NVDA": -0.5},
        shocks_by_sector={"tech": -0.10, "energy": Decimal("0.3")},
        sectors=sectors,
        name="tech crash",
    )
    assert isinstance(r, StressResult)
    assert r.name == "tech crash"
    assert r.shocks == {"AAPL": -0.25, "MSFT": -0.10, "XOM": 0.3, "ZZZ": 0.0}
    assert r.pnl_by_symbol == pytest.approx(
        {"AAPL": -25_000.0, "MSFT": -5_000.0, "XOM": -6_000.0, "ZZZ": 0.0}
    )
    assert r.pnl_by_sector == pytest.approx({"tech": -30_000.0, "energy": -6_000.0})
    assert r.total == pytest.approx(-36_000.0)
    assert r.loss == pytest.approx(36_000.0)
    assert r.start is None
    assert r.end is None


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"shocks_by_sector": {"tech": -0.1}}, "sectors"),
        ({"shocks_by_symbol": {"AAPL": -1.5}}, "shocks_by_symbol[AAPL]"),
        ({"shocks_by_symbol": {"AAPL": math.nan}}, "shocks_by_symbol[AAPL]"),
        ({"shocks_by_sector": {"x": "bad"}, "sectors": {}}, "shocks_by_sector[x]"),
        ({"shocks_by_symbol": [-0.1]}, "shocks_by_symbol"),
        ({"sectors": ["tech"]}, "sectors"),
    ],
)
def test_bad_stress_input_is_refused(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(MetricsError) as e:
        stress({"AAPL": 1.0}, **kwargs)  # type: ignore[arg-type]
    assert e.value.field == field


def test_worst_day_and_worst_five_days_known() -> None:
    a = np.zeros(20)
    b = np.zeros(20)
    a[4] = -0.10  # the worst single day for a long in A
    a[10:15] = -0.03  # five bad days in a row: compounded -14.1%
    b[12] = 0.05  # B rallies inside the window: hurts a short in B
    exp = {"A": 1000.0, "B": -200.0}
    out = historical_scenarios(exp, {"A": a, "B": b}, sectors={"A": "s1", "B": "s1"})
    day, week = out["worst_day"], out["worst_5_days"]
    assert (day.start, day.end) == (4, 5)
    assert day.total == pytest.approx(-100.0)
    assert (week.start, week.end) == (10, 15)
    assert week.shocks["A"] == pytest.approx(0.97**5 - 1)
    assert week.shocks["B"] == pytest.approx(0.05)
    assert week.total == pytest.approx(1000 * (0.97**5 - 1) - 200 * 0.05)
    assert week.pnl_by_sector == pytest.approx({"s1": week.total})


@settings(max_examples=60, deadline=None)
@given(
    hnp.arrays(np.float64, st.tuples(st.integers(5, 60), st.just(3)), elements=RETURN),
    st.lists(st.floats(-1e6, 1e6), min_size=3, max_size=3),
    st.integers(1, 5),
)
def test_the_worst_window_is_the_worst_pnl_the_model_sees(
    m: np.ndarray, e: list[float], days: int
) -> None:
    hist = {s: m[:, i] for i, s in enumerate("ABC")}
    exp = dict(zip("ABC", e, strict=True))
    w = worst_window(exp, hist, days)
    pnl = VarModel(hist, horizon_days=days).pnl(exp)
    assert w.total == pytest.approx(pnl.min(), rel=1e-9, abs=1e-6)
    assert w.end is not None
    assert w.start is not None
    assert w.end - w.start == days
    # And no historical VaR at that horizon exceeds that worst loss.
    assert portfolio_var(exp, hist, horizon_days=days) <= w.loss + 1e-6


# --- from the shipped daily bars and the ledger -----------------------------------------------


def test_the_current_portfolio_on_the_shipped_daily_bars() -> None:
    bars = {s: load_bars(p, tick="0.01") for s, p in daily_samples().items()}
    times, rets = daily_returns(bars)
    assert times.size == 502  # 503 sessions, 2016-01-04 to 2017-12-29
    assert set(rets) == {"AAPL", "GOOG", "SPY"}
    closes = bars["SPY"].close
    assert rets["SPY"][0] == pytest.approx(closes[1] / closes[0] - 1, rel=1e-15)
    # The ledger's positions are the exposures: long SPY, short AAPL.
    ledger = Ledger(Decimal(1_000_000))
    ledger.apply_fill("SPY", "buy", Decimal(500), Decimal("200.00"))
    ledger.apply_fill("AAPL", "sell", Decimal(200), Decimal("150.00"))
    exposures = exposures_of(ledger.positions())
    assert exposures == {"AAPL": Decimal("-30000.00"), "SPY": Decimal("100000.00")}
    out = historical_scenarios(exposures, rets)
    day = out["worst_day"]
    assert day.start is not None
    assert to_iso(int(times[day.start])).startswith("2016-06-24")  # the Brexit vote
    assert day.total < 0
    for method in ("historical", "parametric"):
        var = portfolio_var(exposures, rets, method=method)  # type: ignore[arg-type]
        cvar = portfolio_cvar(exposures, rets, method=method)  # type: ignore[arg-type]
        assert 0 < var <= cvar <= day.loss * 1.5
    # The hedge: short AAPL against long SPY has less VaR than SPY alone.
    assert portfolio_var(exposures, rets) < portfolio_var({"SPY": 100_000}, rets)


def test_daily_returns_align_on_common_sessions_and_refuse_bad_bars() -> None:
    a = SimpleNamespace(time_ns=np.array([1, 2, 3, 4]), close=np.array([100, 110, 121, 100]))
    b = SimpleNamespace(time_ns=np.array([1, 3, 4]), close=np.array([50, 55, 44]))
    times, rets = daily_returns({"A": a, "B": b})
    np.testing.assert_array_equal(times, [3, 4])
    np.testing.assert_allclose(rets["A"], [0.21, 100 / 121 - 1])  # across the session B lacks
    np.testing.assert_allclose(rets["B"], [0.1, -0.2])
    bad = [
        ({}, "bars"),
        ({"A": 5}, "bars[A]"),
        ({"A": SimpleNamespace(time_ns=np.array([2, 1]), close=np.array([1, 1]))}, "bars[A]"),
        ({"A": SimpleNamespace(time_ns=np.array([1, 2]), close=np.array([1, 0]))}, "bars[A].close"),
        ({"A": a, "C": SimpleNamespace(time_ns=np.array([9]), close=np.array([1]))}, "bars"),
    ]
    for arg, field in bad:
        with pytest.raises(MetricsError) as e:
            daily_returns(arg)
        assert e.value.field == field
    with pytest.raises(MetricsError) as e:
        exposures_of([object()])
    assert e.value.field == "positions"


@settings(max_examples=80, deadline=None)
@given(
    hnp.arrays(np.float64, st.tuples(st.integers(5, 80), st.just(3)), elements=RETURN),
    st.lists(st.floats(-1e6, 1e6), min_size=3, max_size=3),
    st.sampled_from(["historical", "parametric"]),
    st.sampled_from(["var", "cvar"]),
    st.integers(1, 3),
    CONFIDENCE,
)
def test_contributions_add_up_to_the_whole(
    m: np.ndarray, e: list[float], method: str, measure: str, days: int, c: float
) -> None:
    hist = {s: m[:, i] for i, s in enumerate("ABC")}
    exp = dict(zip("ABC", e, strict=True))
    model = VarModel(hist, method=method, horizon_days=days, confidence=c)  # type: ignore[arg-type]
    parts = model.contributions(exp, measure)  # type: ignore[arg-type]
    whole = model.var(exp) if measure == "var" else model.cvar(exp)
    scale = sum(abs(x) for x in e) + 1.0
    assert sum(parts.values()) == pytest.approx(whole, rel=1e-9, abs=1e-9 * scale)
    one = VarModel({"A": hist["A"]}, method=method, horizon_days=days, confidence=c)  # type: ignore[arg-type]
    solo = one.contributions({"A": e[0]}, measure)  # type: ignore[arg-type]
    assert solo["A"] == pytest.approx(
        one.var({"A": e[0]}) if measure == "var" else one.cvar({"A": e[0]}),
        rel=1e-9,
        abs=1e-9 * scale,
    )


def test_contributions_name_the_risky_leg() -> None:
    hist = _history()
    model = VarModel(hist, method="parametric")
    parts = model.contributions({"AAPL": 1e5, "XOM": 1e3, "MSFT": 0})
    assert parts["AAPL"] > 50 * abs(parts["XOM"])  # the small, unrelated leg adds little
    assert parts["MSFT"] == 0.0
    assert model.contributions({}) == dict.fromkeys(model.symbols, 0.0)
    with pytest.raises(MetricsError) as e:
        model.contributions({"AAPL": 1.0}, "es")  # type: ignore[arg-type]
    assert e.value.field == "measure"
