"""fillforge.indicators: the vectorised functions and the incremental classes agree on random bars,
ATR is Wilder's on a hand-worked example, the rolling standard deviation keeps its precision
under a huge offset, and bad input is refused by name without changing anything."""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable
from decimal import Decimal
from fractions import Fraction
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fillforge.errors import IndicatorError
from fillforge.indicators import (
    ATR,
    RealisedVol,
    Returns,
    RollingMean,
    RollingStd,
    atr,
    realised_vol,
    returns,
    rolling_mean,
    rolling_std,
    true_range,
)

D = Decimal
REL = 1e-12

# ----- random bars -------------------------------------------------------------------------------


@st.composite
def bars(draw: st.DrawFn) -> tuple[list[float], list[float], list[float]]:
    """Random OHLC bars: a random walk of closes at a random price level, with random wicks."""
    n = draw(st.integers(1, 60))
    level = draw(st.sampled_from([0.01, 1.0, 100.0, 5e4, 1e9]))
    steps = draw(st.lists(st.floats(-0.2, 0.2), min_size=n, max_size=n))
    wicks = draw(st.lists(st.tuples(st.floats(0, 0.1), st.floats(0, 0.1)), min_size=n, max_size=n))
    high, low, close = [], [], []
    price = level
    for step, (up, down) in zip(steps, wicks, strict=True):
        opened, price = price, price * math.exp(step)
        high.append(max(opened, price) * (1 + up))
        low.append(min(opened, price) * (1 - down))
        close.append(price)
    return high, low, close


def close_to(got: float | None, want: float, scale: float) -> bool:
    """Equal to 1e-12 relative, or to 1e-12 of the data's magnitude (a mean near zero of numbers
    far from zero cannot be closer than a rounding of those numbers)."""
    assert got is not None
    return math.isclose(got, want, rel_tol=REL, abs_tol=REL * scale)


def check_incremental(
    vectorised: np.ndarray, incremental: list[float | None], data: list[float], window: int
) -> None:
    assert len(vectorised) == len(incremental)
    for i, (want, got) in enumerate(zip(vectorised.tolist(), incremental, strict=True)):
        if math.isnan(want):
            assert got is None, i
        else:
            scale = max(abs(x) for x in data[max(0, i - window + 1) : i + 1])
            assert close_to(got, want, scale), (i, got, want)


# ----- incremental == vectorised ------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(bars(), st.integers(1, 20))
def test_atr_incremental_equals_vectorised(
    ohlc: tuple[list[float], list[float], list[float]], period: int
) -> None:
    high, low, close = ohlc
    one = ATR(period)
    got = [one.update(h, lo, c) for h, lo, c in zip(high, low, close, strict=True)]
    want = atr(high, low, close, period)
    check_incremental(want, got, true_range(high, low, close).tolist(), period)
    assert got[period - 1 :] == want.tolist()[period - 1 :]  # bit for bit, not just close
    assert one.ready == (len(high) >= period)
    assert one.value == got[-1]


@settings(max_examples=150, deadline=None)
@given(bars(), st.booleans())
def test_returns_incremental_equals_vectorised(
    ohlc: tuple[list[float], list[float], list[float]], log: bool
) -> None:
    close = ohlc[2]
    one = Returns(log=log)
    got = [one.update(p) for p in close]
    want = returns(close, log=log)
    check_incremental(want, got, [1.0] * len(close), 1)
    assert got[1:] == want.tolist()[1:]  # bit for bit


@settings(max_examples=150, deadline=None)
@given(bars(), st.integers(1, 25), st.sampled_from([0, 1]))
def test_rolling_mean_and_std_incremental_equal_vectorised(
    ohlc: tuple[list[float], list[float], list[float]], window: int, ddof: int
) -> None:
    close = ohlc[2]
    mean, std = RollingMean(window), RollingStd(window + ddof, ddof)
    check_incremental(rolling_mean(close, window), [mean.update(x) for x in close], close, window)
    check_incremental(
        rolling_std(close, window + ddof, ddof), [std.update(x) for x in close], close, window + 1
    )


@settings(max_examples=150, deadline=None)
@given(bars(), st.integers(1, 25), st.sampled_from([None, 252, 365.25]))
def test_realised_vol_incremental_equals_vectorised(
    ohlc: tuple[list[float], list[float], list[float]], window: int, ppy: float | None
) -> None:
    r = returns(ohlc[2], log=True)
    vol = RealisedVol(window, ppy)
    got = [None] + [vol.update(x) for x in r[1:].tolist()]
    check_incremental(realised_vol(r, window, ppy), got, [0.0] * len(r), window)


def test_rolling_std_matches_numpy_on_each_window() -> None:
    x = np.random.default_rng(7).normal(100, 3, 400)
    got = rolling_std(x, 30)
    want = [np.std(x[i - 29 : i + 1], ddof=1) for i in range(29, 400)]
    assert np.isnan(got[:29]).all()
    np.testing.assert_allclose(got[29:], want, rtol=1e-13)
    np.testing.assert_allclose(
        rolling_mean(x, 30)[29:], [x[i - 29 : i + 1].mean() for i in range(29, 400)], rtol=1e-14
    )


# ----- ATR: Wilder, worked by hand ----------------------------------------------------------------

# high, low, close; true range by hand:
#   bar 0: no previous close: 10 - 8                               = 2
#   bar 1: max(12 - 10, |12 - 9|, |10 - 9|)       (gap up)          = 3
#   bar 2: max(11 - 10, |11 - 11|, |10 - 11|)                       = 1
#   bar 3: max(10 - 7, |10 - 10.5|, |7 - 10.5|)   (gap down)        = 3.5
#   bar 4: max(9 - 8.5, |9 - 8|, |8.5 - 8|)                         = 1
# ATR(3): bar 2 = (2 + 3 + 1) / 3 = 2; bar 3 = 2 + (3.5 - 2) / 3 = 2.5; bar 4 = 2.5 + (1 - 2.5) / 3
# = 2.0. Wilder's own form, ((n - 1) * prev + tr) / n, gives the same: (2 * 2 + 3.5) / 3 = 2.5.
HIGH = [10, 12, 11, 10, 9]
LOW = [8, 10, 10, 7, 8.5]
CLOSE = [9, 11, 10.5, 8, 9]


def test_true_range_and_atr_by_hand() -> None:
    assert true_range(HIGH, LOW, CLOSE).tolist() == [2, 3, 1, 3.5, 1]
    got = atr(HIGH, LOW, CLOSE, period=3)
    assert np.isnan(got[:2]).all()
    assert got[2:].tolist() == [2.0, 2.5, 2.0]
    one = ATR(3)
    assert [one.update(*bar) for bar in zip(HIGH, LOW, CLOSE, strict=True)] == [
        None,
        None,
        2.0,
        2.5,
        2.0,
    ]


def test_atr_is_wilders_recursive_form_on_shipped_bars() -> None:
    import csv
    from pathlib import Path

    import fillforge

    path = next((Path(fillforge.__file__).parent / "data" / "bars").glob("SPY_daily_*.csv"))
    rows = list(csv.DictReader(path.read_text().splitlines()))
    high, low, close = ([float(r[k]) for r in rows] for k in ("High", "Low", "Close"))
    got = atr(high, low, close, 14)
    tr = true_range(high, low, close)
    prev = sum(tr[:14]) / 14
    for i in range(14, len(tr)):
        prev = (13 * prev + tr[i]) / 14  # Wilder (1978): ((n - 1) * ATR + TR) / n
        assert got[i] == pytest.approx(prev, rel=1e-12)
    assert 0.3 < got[-1] < 5  # SPY's daily range in dollars, 2016-2017


def test_the_first_bars_true_range_is_its_range() -> None:
    assert true_range([5.0], [4.0], [4.5]).tolist() == [1.0]
    assert np.isnan(atr([5.0], [4.0], [4.5], 2)).all()
    assert atr([5.0], [4.0], [4.5], 1).tolist() == [1.0]


# ----- precision ----------------------------------------------------------------------------------


def exact_std(values: list[float], ddof: int = 1) -> float:
    xs = [Fraction(v) for v in values]
    m = sum(xs) / len(xs)
    return math.sqrt(sum((x - m) ** 2 for x in xs) / (len(xs) - ddof))


@given(st.lists(st.integers(0, 1000), min_size=5, max_size=40), st.sampled_from([1e6, 1e9, 1e12]))
def test_rolling_std_keeps_its_precision_under_a_huge_offset(ks: list[int], offset: float) -> None:
    x = [offset + k for k in ks]  # exact doubles: the offset must cost nothing
    w = 5
    vec = rolling_std(x, w)
    one = RollingStd(w)
    inc = [one.update(v) for v in x]
    for i in range(w - 1, len(x)):
        want = exact_std(x[i - w + 1 : i + 1])
        assert vec[i] == pytest.approx(want, rel=1e-12, abs=1e-300)
        assert inc[i] == pytest.approx(want, rel=1e-12, abs=1e-300)


def test_the_naive_sum_of_squares_formula_fails_where_ours_holds() -> None:
    """The test above can fail: the textbook one-pass formula loses every digit at 1e12."""
    x = [1e12 + k for k in (1, 2, 3, 4)]
    naive_var = (sum(v * v for v in x) - sum(x) ** 2 / 4) / 3
    want = statistics.stdev([1, 2, 3, 4])
    assert math.sqrt(abs(naive_var)) != pytest.approx(want, rel=1e-3)
    assert rolling_std(x, 4)[-1] == pytest.approx(want, rel=1e-15)
    std = RollingStd(4)
    assert [std.update(v) for v in x][-1] == pytest.approx(want, rel=1e-15)


def test_incremental_sums_never_drift() -> None:
    """A spike leaves the window and a flat stretch reads exactly 0 again; after 100k updates on a
    drifting series the value is still exact (the sums are integers, not running floats)."""
    std, mean = RollingStd(10), RollingMean(10)
    for v in [1.0] * 5 + [1e15] + [1.0] * 10:
        s, m = std.update(v), mean.update(v)
    assert (s, m) == (0.0, 1.0)
    rng = np.random.default_rng(3)
    x = (1e6 + np.cumsum(rng.normal(0, 1, 100_000))).tolist()
    for v in x:
        s = std.update(v)
    assert s == pytest.approx(exact_std(x[-10:]), rel=1e-14)


def test_a_constant_window_has_zero_deviation_exactly() -> None:
    x = [0.1] * 7 + [123456.789] * 7
    assert rolling_std(x, 3)[[2, 3, 4, 5, 6, 9, 10, 11, 12, 13]].tolist() == [0.0] * 10
    assert realised_vol([0.0] * 4, 4).tolist()[-1] == 0.0


# ----- conventions ------------------------------------------------------------------------------


def test_returns_simple_and_log() -> None:
    got = returns([100, 110, 99])
    assert math.isnan(got[0])
    assert got[1:].tolist() == pytest.approx([0.1, -0.1])
    assert returns([1, math.e], log=True)[1] == pytest.approx(1.0)


def test_realised_vol_is_the_root_mean_square_and_annualises() -> None:
    r = [0.01, -0.02, 0.02]
    want = math.sqrt((0.01**2 + 0.02**2 + 0.02**2) / 3)
    assert realised_vol(r, 3)[-1] == pytest.approx(want)
    assert realised_vol(r, 3, periods_per_year=252)[-1] == pytest.approx(want * math.sqrt(252))
    assert realised_vol(r, 2).tolist()[1:] == pytest.approx(
        [math.sqrt((0.0001 + 0.0004) / 2), math.sqrt((0.0004 + 0.0004) / 2)]
    )


def test_realised_vol_is_the_execution_layers_realised_vol() -> None:
    """One way of doing it: the pricing helper of fillforge.execution is this computation."""
    from fillforge.execution.pricing import realised_vol as pricing_vol

    prices = (100 * np.exp(np.cumsum(np.random.default_rng(5).normal(0, 0.01, 60)))).tolist()
    ours = realised_vol(returns(prices, log=True), 20)
    assert ours[-1] == pytest.approx(pricing_vol(prices, 20), rel=1e-13)
    assert ours[-1] == pytest.approx(
        pricing_vol(returns(prices, log=True)[1:].tolist(), 20, returns=True), rel=1e-13
    )


def test_warm_up_nans_pass_through_the_rolling_statistics() -> None:
    r = returns([100, 101, 100, 102, 101])
    vol = realised_vol(r, 2)
    assert np.isnan(vol[:2]).all()
    assert np.isfinite(vol[2:]).all()
    chained = rolling_mean(rolling_mean([1, 2, 3, 4, 5], 2), 2)
    assert np.isnan(chained[:2]).all()
    assert chained[2:].tolist() == [2.0, 3.0, 4.0]  # means of 1.5, 2.5, 3.5, 4.5


def test_decimal_input_is_the_same_as_float() -> None:
    prices = [D("101.25"), D("100.75"), D("102.5")]
    assert returns(prices).tolist()[1:] == returns([101.25, 100.75, 102.5]).tolist()[1:]
    one = Returns()
    one.update(D("101.25"))
    assert one.update(D("100.75")) == returns(prices)[1]


def test_short_series_are_all_nan() -> None:
    assert np.isnan(rolling_mean([1.0, 2.0], 3)).all()
    assert rolling_std([], 2).size == 0
    assert np.isnan(atr([2.0, 2.0], [1.0, 1.0], [1.5, 1.5], 3)).all()


def test_reset_forgets_everything() -> None:
    cases: list[tuple[Any, Callable[[Any], float | None]]] = [
        (ATR(2), lambda o: o.update(10, 9, 9.5)),
        (RollingMean(2), lambda o: o.update(3.0)),
        (RollingStd(2), lambda o: o.update(3.0)),
        (RealisedVol(2), lambda o: o.update(0.01)),
        (Returns(), lambda o: o.update(3.0)),
    ]
    for one, feed in cases:
        feed(one)
        first = feed(one)
        assert one.ready
        one.reset()
        assert not one.ready
        assert one.value is None
        assert feed(one) is None
        assert feed(one) == first


# ----- refusals ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: atr(HIGH, LOW, CLOSE, 0), "period"),
        (lambda: atr(HIGH, LOW, CLOSE, True), "period"),
        (lambda: atr(HIGH, LOW, CLOSE, 2.0), "period"),  # type: ignore[arg-type]
        (lambda: rolling_mean([1.0], 0), "window"),
        (lambda: rolling_std([1.0, 2.0], 1), "window"),
        (lambda: rolling_std([1.0, 2.0], 2, -1), "ddof"),
        (lambda: realised_vol([0.1], 1, 0), "periods_per_year"),
        (lambda: realised_vol([0.1], 1, math.inf), "periods_per_year"),
        (lambda: true_range([10, 9], [8, 9.5], [9, 9]), "low[1]"),
        (lambda: true_range([10, 11], [8, 9], [9, 12]), "close[1]"),
        (lambda: true_range([10, 11], [8, 9], [9]), "low"),
        (lambda: true_range([10, math.nan], [8, 9], [9, 9]), "high[1]"),
        (lambda: returns([100, 0, 3]), "prices[1]"),
        (lambda: returns([100, -1]), "prices[1]"),
        (lambda: returns(5.0), "prices"),
        (lambda: returns([[1.0, 2.0]]), "prices"),
        (lambda: returns(["a", "b"]), "prices"),
        (lambda: rolling_mean([1.0, math.nan, 2.0], 2), "x[1]"),
        (lambda: rolling_mean([math.nan, 1.0, math.inf], 2), "x[2]"),
        (lambda: ATR(0), "period"),
        (lambda: RollingStd(1, 1), "window"),
        (lambda: RealisedVol(5, -252), "periods_per_year"),
        (lambda: Returns().update(0), "price"),
        (lambda: RollingMean(3).update(math.nan), "x"),
        (lambda: RollingMean(3).update("1.0"), "x"),  # type: ignore[arg-type]
        (lambda: RealisedVol(3).update(D("Infinity")), "r"),
        (lambda: ATR(3).update(9, 10, 9.5), "low"),
        (lambda: ATR(3).update(10, 9, 11), "close"),
    ],
)
def test_bad_input_is_refused_by_name(call: object, field: str) -> None:
    with pytest.raises(IndicatorError) as e:
        call()  # type: ignore[operator]
    assert e.value.field == field


def test_a_refused_update_changes_nothing() -> None:
    one, two = ATR(2), ATR(2)
    for bar in zip(HIGH, LOW, CLOSE, strict=True):
        one.update(*bar)
        with pytest.raises(IndicatorError):
            one.update(5, 6, 5.5)
        two.update(*bar)
        assert one.value == two.value
    ret = Returns()
    ret.update(100)
    with pytest.raises(IndicatorError):
        ret.update(-1)
    assert ret.update(110) == pytest.approx(0.1)


def test_the_docs_examples_run() -> None:
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "docs" / "indicators.md").read_text()
    blocks = text.split("```python\n")[1:]
    assert len(blocks) == 2
    for block in blocks:
        exec(compile(block.split("```")[0], "docs/indicators.md", "exec"), {})


def test_incremental_indicators_pickle_mid_stream() -> None:
    import pickle

    one = ATR(3)
    for bar in zip(HIGH[:3], LOW[:3], CLOSE[:3], strict=True):
        one.update(*bar)
    copy = pickle.loads(pickle.dumps(one))
    assert copy.update(HIGH[3], LOW[3], CLOSE[3]) == one.update(HIGH[3], LOW[3], CLOSE[3]) == 2.5
    std = RollingStd(3)
    for x in (1.0, 2.0, 4.0):
        std.update(x)
    assert pickle.loads(pickle.dumps(std)).update(8.0) == std.update(8.0)


def test_numpy_scalars_feed_the_incremental_classes() -> None:
    mean = RollingMean(2)
    mean.update(np.int64(3))
    assert mean.update(np.float32(4.0)) == 3.5
    with pytest.raises(IndicatorError):
        mean.update(np.float64("inf"))
