"""fillforge.sizing: every sizer on a scenario worked by hand, the limits and buying power
firing one by one, the dimensionally wrong ATR x price formula shown wrong, and hypothesis
invariants (on the lot grid, never negative, never over buying power or the maximum notional,
monotone in equity)."""

from __future__ import annotations

import dataclasses
import math
from decimal import Decimal
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fillforge.errors import SizingError
from fillforge.orders.enums import OrderSide
from fillforge.orders.models import Instrument
from fillforge.sizing import (
    CorrelationAdjusted,
    FixedAmount,
    FixedQuantity,
    Kelly,
    Limits,
    PercentOfEquity,
    RiskBased,
    SignalScaled,
    Sizer,
    SizingContext,
    VolatilityTarget,
    book_weights,
    covariance_row,
)

D = Decimal
SHARES = Instrument(symbol="XYZ")
FRACTIONAL = Instrument(symbol="XYZ", lot_size=D("0.0001"))
BOARD_LOT = Instrument(symbol="XYZ", lot_size=D(100))


def ctx(
    price: str = "50",
    equity: str = "100000",
    buying_power: str | None = None,
    instrument: Instrument = SHARES,
    **more: Any,
) -> SizingContext:
    bp = D(buying_power) if buying_power is not None else D(equity) * 4
    return SizingContext("XYZ", D(price), D(equity), bp, instrument, **more)


# ----- each sizer, by hand ------------------------------------------------------------------------


def test_fixed_amount() -> None:
    # 10,000 / 333 = 30.03...: 30 whole shares, 30.03 on a 0.0001 lot (30.0300300...)
    assert FixedAmount(D(10000)).size(ctx("333")) == 30
    assert FixedAmount(D(10000)).size(ctx("333", instrument=FRACTIONAL)) == D("30.0300")


def test_fixed_quantity_rounds_down_to_the_lot() -> None:
    assert FixedQuantity(D(150)).size(ctx()) == 150
    assert FixedQuantity(D(150)).size(ctx(instrument=BOARD_LOT)) == 100  # a 100-share board lot
    assert FixedQuantity(D(99)).size(ctx(instrument=BOARD_LOT)) == 0


def test_percent_of_equity() -> None:
    # 10% of 250,000 = 25,000; / 123.45 = 202.5...
    assert PercentOfEquity(D("0.1")).size(ctx("123.45", "250000")) == 202
    assert PercentOfEquity(D("0.1")).size(ctx("123.45", "-5000")) == 0  # no equity, no size


def test_risk_based_worked_example_and_the_old_formula() -> None:
    """Equity 100,000, risk 1% (1,000), ATR 2.00, a 1-ATR stop, price 50.

    Right: 1,000 / 2.00 per share = 500 shares; stopped out they lose 500 x 2.00 = 1,000, the
    1% intended. The formula from older guides, equity x risk / (ATR x price) = 1,000 / 100 =
    10 "shares", loses 20 at the stop (0.02%): wrong by a factor of the price, because its
    unit is not shares (currency / currency**2 per share**2)."""
    c = ctx("50", "100000", atr=D("2.00"))
    right = RiskBased(D("0.01"), atr_multiple=1).size(c)
    assert right == 500
    assert right * D("2.00") == D("0.01") * D(100000)  # the loss at the stop is the risk
    old = D(100000) * D("0.01") / (D("2.00") * D(50))
    assert old == 10
    assert old != right
    assert old * D("2.00") == 20  # it risks 20, not 1,000

    # Units: quote everything in cents instead of dollars. Shares cannot change; the old
    # formula's answer moves by a factor of 100 (1 / cents), ours does not.
    cents = ctx("5000", "10000000", atr=D(200))
    assert RiskBased(D("0.01"), atr_multiple=1).size(cents) == 500
    assert D(10000000) * D("0.01") / (D(200) * D(5000)) == D("0.1")


def test_risk_based_stop_sources() -> None:
    c = ctx("50", "100000", atr=2.0, stop_distance=D("1.25"))
    assert RiskBased(D("0.01"), atr_multiple=2).size(c) == 250  # 1,000 / 4.00
    assert RiskBased(D("0.01")).size(c) == 800  # the context's stop: 1,000 / 1.25
    assert RiskBased(D("0.01"), stop_distance=D(3)).size(c) == 333  # the sizer's own wins


def test_kelly_fractional_capped_and_no_edge() -> None:
    # p = 0.6, b = 2: f* = 0.6 - 0.4 / 2 = 0.4; half Kelly 0.2 of equity at risk:
    # 100,000 x 0.2 / 5.00 stop = 4,000 shares.
    c = ctx("20", "100000", buying_power="1000000", stop_distance=D(5))
    half = Kelly(D("0.6"), 2)
    assert half.risk_fraction == 0.2
    assert half.size(c) == 4000
    assert Kelly(D("0.6"), 2, cap=D("0.1")).size(c) == 2000  # capped at 10% risked
    assert Kelly(D("0.6"), 2, fraction=1, cap=1).size(c) == 8000  # full Kelly
    assert Kelly(D("0.4"), 1).size(c) == 0  # f* = 0.4 - 0.6 = -0.2: no bet
    assert Kelly(D("0.4"), 1).risk_fraction == 0
    assert Kelly(D("0.5"), 1).size(c) == 0  # a fair coin: f* = 0
    # p = 0.5, b = 3: f* = 0.5 - 0.5 / 3 = 1/3 exactly; 300 risked to a 1.00 stop is 100 shares,
    # not the 99 a rounded 0.333... would give
    third = Kelly(D("0.5"), 3, fraction=1, cap=1)
    assert third.risk_fraction == pytest.approx(1 / 3)
    assert third.size(ctx("1", "300", stop_distance=D(1))) == 100


def test_volatility_target() -> None:
    # target 15% / realised 30% = weight 0.5: 0.5 x 200,000 / 40 = 2,500 shares
    assert VolatilityTarget(D("0.15")).size(ctx("40", "200000", realised_vol=0.30)) == 2500
    # realised 5%: weight 3, capped at 1 (default) or 2
    assert VolatilityTarget(D("0.15")).size(ctx("40", "200000", realised_vol=0.05)) == 5000
    capped2 = VolatilityTarget(D("0.15"), max_leverage=2)
    assert capped2.size(ctx("40", "200000", realised_vol=0.05)) == 10000
    assert capped2.size(ctx("40", "200000", realised_vol=0.0)) == 10000  # no vol: the cap


def test_signal_scaled() -> None:
    base = PercentOfEquity(D("0.1"))  # 10,000 / 100 = 100 shares
    assert SignalScaled(base).size(ctx("100", signal=-0.5)) == 50  # the magnitude only
    assert SignalScaled(base).size(ctx("100", signal=1)) == 100
    assert SignalScaled(base).size(ctx("100", signal=0.0)) == 0
    assert SignalScaled(base).size(ctx("100", signal=D("0.333"))) == 33
    # a float is the decimal it prints as: 0.6 x 400 is 240, not the binary 239.99999...
    assert SignalScaled(FixedQuantity(D(400))).size(ctx("10", signal=0.6)) == 240
    assert SignalScaled(FixedQuantity(D(1000))).size(ctx("10", signal=0.1 + 0.2)) == 300


def test_correlation_adjusted_by_hand() -> None:
    """Base weight b = 1/8 (125 shares x 100 / 100,000); the symbol's daily variance v = 2**-11;
    the book holds half its equity in SPY, covariance 3 x 2**-15 with the symbol, so c = 0.5 x
    3 x 2**-15 = 3 x 2**-16 and b x v = 4 x 2**-16: k = bv / (c + sqrt(c**2 + (bv)**2)) = 4 /
    (3 + 5) = 0.5, and 125 x 0.5 = 62.5: 62 shares. Check: x = 1/16 adds x**2 v + 2 x c =
    2**-19 + 3 x 2**-19 = 2**-17, what b adds alone, b**2 v = 2**-17."""
    base = PercentOfEquity(D("0.125"))
    row = {"XYZ": 2.0**-11, "SPY": 3 * 2.0**-15}
    book = {"SPY": 0.5}
    c = ctx("100", covariance_row=row, book_weights=book)
    sizer = CorrelationAdjusted(base)
    assert base.size(c) == 125
    assert sizer.scale(c, D(125)) == 0.5
    assert sizer.size(c) == 62
    # selling it hedges the long book: not scaled up, not down
    assert sizer.size(ctx("100", side=OrderSide.SELL, covariance_row=row, book_weights=book)) == 125
    # an empty book, or one it does not move with: the base size
    assert sizer.size(ctx("100", covariance_row=row, book_weights={})) == 125
    assert sizer.size(ctx("100", covariance_row=row | {"SPY": 0.0}, book_weights=book)) == 125


def test_correlation_adjusted_is_the_rho_form() -> None:
    """k = sqrt(1 + rho**2 u**2) - rho u, u the book's volatility over the new position's."""
    rng = np.random.default_rng(11)
    spy = rng.normal(0, 0.01, 500)
    xyz = 0.8 * spy + rng.normal(0, 0.012, 500)
    row = covariance_row({"XYZ": xyz, "SPY": spy}, "XYZ")
    assert row["XYZ"] == pytest.approx(np.var(xyz, ddof=1))
    assert row["SPY"] == pytest.approx(np.cov(xyz, spy, ddof=1)[0, 1])
    book = book_weights({"SPY": D(600)}, {"SPY": D(500)}, D(1000000))  # 30% in SPY
    assert book == {"SPY": 0.3}
    c = ctx("100", "1000000", covariance_row=row, book_weights=book)
    sizer = CorrelationAdjusted(PercentOfEquity(D("0.1")))
    k = sizer.scale(c, D(1000))
    rho = np.corrcoef(xyz, spy)[0, 1]
    u = 0.3 * np.std(spy, ddof=1) / (0.1 * np.std(xyz, ddof=1))
    assert k == pytest.approx(math.sqrt(1 + rho**2 * u**2) - rho * u, rel=1e-9)
    assert 0 < k < 1
    assert sizer.size(c) == math.floor(1000 * k)


# ----- limits and buying power ------------------------------------------------------------------


def test_each_limit_fires() -> None:
    risk = RiskBased(D("0.01"), atr_multiple=1)  # 500 shares at 50 (25,000)
    c = ctx("50", "100000", atr=2.0)
    assert risk.with_limits(Limits(max_qty=D(300))).size(c) == 300
    assert risk.with_limits(Limits(max_notional=D(12000))).size(c) == 240
    assert risk.with_limits(Limits(max_notional=D(12049))).size(c) == 240  # rounds down
    assert risk.with_limits(Limits(min_qty=D(501))).size(c) == 0  # under the minimum: no trade
    assert risk.with_limits(Limits(min_qty=D(500))).size(c) == 500
    assert risk.with_limits(Limits(min_notional=D(25001))).size(c) == 0
    # cut to 300 first, then 300 x 50 = 15,000 is under a 20,000 minimum notional: 0
    assert risk.with_limits(Limits(max_qty=D(300), min_notional=D(20000))).size(c) == 0
    # the instrument's own minimum counts too
    big_min = Instrument(symbol="XYZ", min_qty=D(600))
    assert risk.size(ctx("50", "100000", instrument=big_min, atr=2.0)) == 0


def test_with_limits_replaces_and_keeps_the_rest() -> None:
    risk = RiskBased(D("0.01"), atr_multiple=1)
    limited = risk.with_limits(Limits(max_qty=D(10)))
    assert limited.risk_fraction == risk.risk_fraction
    assert limited.limits == Limits(max_qty=D(10))
    assert risk.limits == Limits()  # the original is unchanged (sizers are immutable)
    with pytest.raises(dataclasses.FrozenInstanceError):
        risk.risk_fraction = 0.5  # type: ignore[misc]


def test_buying_power_caps_the_opening_part_only() -> None:
    want = FixedQuantity(D(500))
    assert want.size(ctx("50", buying_power="10000")) == 200  # 10,000 / 50
    assert want.size(ctx("50", buying_power="10049.99")) == 200
    assert want.size(ctx("50", buying_power="0")) == 0
    assert want.size(ctx("50", buying_power="-100")) == 0
    # selling 500 while long 300: the 300 that close need nothing, the 200 that open short do
    long300: dict[str, Any] = {"side": OrderSide.SELL, "position": D(300)}
    assert want.size(ctx("50", buying_power="0", **long300)) == 300
    assert want.size(ctx("50", buying_power="5000", **long300)) == 400
    # buying to cover a short of 300, likewise; buying more of a long opens it all
    assert want.size(ctx("50", buying_power="0", position=D(-300))) == 300
    assert want.size(ctx("50", buying_power="0", position=D(300))) == 0


def test_wrappers_apply_their_own_limits() -> None:
    base = PercentOfEquity(D("0.1")).with_limits(Limits(max_qty=D(80)))  # 100 -> 80
    scaled = SignalScaled(base).with_limits(Limits(min_qty=D(50)))
    assert scaled.size(ctx("100", signal=0.75)) == 60
    assert scaled.size(ctx("100", signal=0.5)) == 0  # 40 is under its minimum


# ----- refusals ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "field"),
    [
        (lambda: FixedAmount(D(0)), "notional"),
        (lambda: FixedAmount(1000.0), "notional"),  # type: ignore[arg-type]
        (lambda: FixedQuantity(D(-1)), "qty"),
        (lambda: PercentOfEquity(D(10)), "fraction"),  # 10 is not 10%
        (lambda: PercentOfEquity(math.nan), "fraction"),
        (lambda: PercentOfEquity(True), "fraction"),
        (lambda: RiskBased(D(0)), "risk_fraction"),
        (lambda: RiskBased(D("1.5")), "risk_fraction"),
        (lambda: RiskBased(D("0.01"), stop_distance=D(1), atr_multiple=2), "atr_multiple"),
        (lambda: RiskBased(D("0.01"), stop_distance=D(0)), "stop_distance"),
        (lambda: RiskBased(D("0.01"), atr_multiple=-1), "atr_multiple"),
        (lambda: Kelly(1, 2), "win_rate"),
        (lambda: Kelly(0, 2), "win_rate"),
        (lambda: Kelly(D("0.6"), 0), "win_loss_ratio"),
        (lambda: Kelly(D("0.6"), 2, fraction=0), "fraction"),
        (lambda: Kelly(D("0.6"), 2, cap=D("1.1")), "cap"),
        (lambda: VolatilityTarget(0), "target_annual_vol"),
        (lambda: VolatilityTarget(15), "target_annual_vol"),  # 15 is not 15%
        (lambda: VolatilityTarget(D("0.15"), max_leverage=0), "max_leverage"),
        (lambda: SignalScaled(3), "base"),  # type: ignore[arg-type]
        (lambda: CorrelationAdjusted(None), "base"),  # type: ignore[arg-type]
        (lambda: PercentOfEquity(D("0.1"), limits=5), "limits"),  # type: ignore[arg-type]
        (lambda: Limits(min_qty=D(10), max_qty=D(5)), "min_qty"),
        (lambda: Limits(min_notional=D(10), max_notional=D(5)), "min_notional"),
        (lambda: Limits(max_notional=D(0)), "max_notional"),
        (lambda: Limits(min_qty=D(-1)), "min_qty"),
        (lambda: ctx("0"), "price"),
        (lambda: SizingContext("XYZ", 50.0, D(1), D(1), SHARES), "price"),  # type: ignore[arg-type]
        (lambda: SizingContext("ABC", D(50), D(1), D(1), SHARES), "symbol"),
        (lambda: SizingContext("XYZ", D(50), D("NaN"), D(1), SHARES), "equity"),
        (lambda: SizingContext("XYZ", D(50), D(1), D(1), "XYZ"), "instrument"),  # type: ignore[arg-type]
        (lambda: ctx(side="buy"), "side"),
        (lambda: ctx(signal=1.5), "signal"),
        (lambda: ctx(atr=-1.0), "atr"),
        (lambda: ctx(stop_distance=D(0)), "stop_distance"),
        (lambda: ctx(realised_vol=math.inf), "realised_vol"),
        (lambda: ctx(covariance_row={"XYZ": math.nan}), "covariance_row[XYZ]"),
        (lambda: ctx(book_weights=[0.5]), "book_weights"),
    ],
)
def test_bad_parameters_are_refused_by_name(make: Any, field: str) -> None:
    with pytest.raises(SizingError) as e:
        make()
    assert e.value.field == field


@pytest.mark.parametrize(
    ("sizer", "context", "field"),
    [
        (RiskBased(D("0.01")), ctx(), "stop_distance"),
        (RiskBased(D("0.01"), atr_multiple=2), ctx(), "atr"),
        (RiskBased(D("0.01"), atr_multiple=2), ctx(atr=0.0), "atr"),
        (Kelly(D("0.6"), 2), ctx(), "stop_distance"),
        (VolatilityTarget(D("0.15")), ctx(), "realised_vol"),
        (SignalScaled(FixedQuantity(D(1))), ctx(), "signal"),
        (CorrelationAdjusted(FixedQuantity(D(1))), ctx(book_weights={}), "covariance_row"),
        (
            CorrelationAdjusted(FixedQuantity(D(1))),
            ctx(covariance_row={"XYZ": 1.0}),
            "book_weights",
        ),
        (
            CorrelationAdjusted(FixedQuantity(D(1))),
            ctx(covariance_row={"SPY": 1.0}, book_weights={}),
            "covariance_row",
        ),
        (
            CorrelationAdjusted(FixedQuantity(D(1))),
            ctx(covariance_row={"XYZ": 1.0}, book_weights={"SPY": 0.5}),
            "covariance_row",
        ),
        (
            CorrelationAdjusted(FixedQuantity(D(1))),
            ctx(covariance_row={"XYZ": -1.0}, book_weights={}),
            "covariance_row[XYZ]",
        ),
    ],
)
def test_missing_inputs_are_refused_by_name(
    sizer: Sizer, context: SizingContext, field: str
) -> None:
    with pytest.raises(SizingError) as e:
        sizer.size(context)
    assert e.value.field == field


def test_helpers_refuse_bad_series() -> None:
    with pytest.raises(SizingError, match="returns\\[B\\]"):
        covariance_row({"A": [0.01, 0.02, 0.0], "B": [0.01, 0.02]}, "A")
    with pytest.raises(SizingError, match="returns\\[A\\]\\[1\\]"):
        covariance_row({"A": [0.01, math.nan]}, "A")
    with pytest.raises(SizingError, match="symbol"):
        covariance_row({"A": [0.01, 0.02]}, "B")
    with pytest.raises(SizingError, match="prices"):
        book_weights({"A": D(10)}, {}, D(1000))
    with pytest.raises(SizingError, match="equity"):
        book_weights({"A": D(10)}, {"A": D(1)}, D(0))


# ----- invariants -------------------------------------------------------------------------------

money = st.decimals(min_value=D("0.01"), max_value=D("100000000"), places=2)
lots = st.sampled_from([D(1), D(100), D("0.001"), D("0.000000001"), D(5)])


@st.composite
def sizers(draw: st.DrawFn) -> Sizer:
    frac = draw(st.decimals(min_value=D("0.001"), max_value=D(1), places=3))
    pick = draw(st.integers(0, 7))
    base: Sizer
    if pick == 0:
        base = FixedAmount(draw(money))
    elif pick == 1:
        base = FixedQuantity(draw(st.decimals(min_value=D("0.001"), max_value=D(10**7), places=3)))
    elif pick == 2:
        base = PercentOfEquity(frac)
    elif pick == 3:
        base = RiskBased(frac, atr_multiple=draw(st.floats(0.5, 5)))
    elif pick == 4:
        base = Kelly(draw(st.floats(0.01, 0.99)), draw(st.floats(0.1, 5)), stop_distance=D("1.5"))
    elif pick == 5:
        base = VolatilityTarget(draw(st.floats(0.01, 1)), max_leverage=draw(st.floats(0.1, 4)))
    elif pick == 6:
        base = SignalScaled(PercentOfEquity(frac))
    else:
        base = CorrelationAdjusted(RiskBased(frac, stop_distance=D(2)))
    limits = Limits(
        min_qty=draw(st.none() | st.decimals(min_value=0, max_value=1000, places=0)),
        max_qty=draw(st.none() | st.decimals(min_value=1000, max_value=10**6, places=0)),
        max_notional=draw(st.none() | money),
    )
    return base.with_limits(limits)


@st.composite
def contexts(draw: st.DrawFn) -> SizingContext:
    lot = draw(lots)
    return SizingContext(
        "XYZ",
        draw(st.decimals(min_value=D("0.0001"), max_value=D(100000), places=4)),
        draw(st.decimals(min_value=D(-1000), max_value=D(10**9), places=2)),
        draw(st.decimals(min_value=D(-1000), max_value=D(10**9), places=2)),
        Instrument(symbol="XYZ", lot_size=lot),
        side=draw(st.sampled_from(list(OrderSide))),
        position=draw(st.integers(-(10**6), 10**6)) * lot,
        atr=draw(st.floats(0.01, 50)),
        signal=draw(st.floats(-1, 1)),
        realised_vol=draw(st.floats(0, 2)),
        covariance_row={"XYZ": draw(st.floats(1e-6, 1e-2)), "SPY": draw(st.floats(-1e-2, 1e-2))},
        book_weights={"SPY": draw(st.floats(-2, 2))},
    )


@settings(max_examples=400, deadline=None)
@given(sizers(), contexts())
def test_every_size_is_on_the_lot_grid_and_within_buying_power(
    sizer: Sizer, c: SizingContext
) -> None:
    q = sizer.size(c)
    assert isinstance(q, Decimal)
    assert q >= 0
    assert q % c.instrument.lot_size == 0
    closing = max(-c.position if c.side is OrderSide.BUY else c.position, D(0))
    opening = max(q - closing, D(0))
    assert opening * c.price <= max(c.buying_power, D(0))
    lim = sizer.limits
    if lim.max_notional is not None:
        assert q * c.price <= lim.max_notional
    if lim.max_qty is not None:
        assert q <= lim.max_qty
    if lim.min_qty is not None and q:
        assert q >= lim.min_qty


LINEAR = [
    PercentOfEquity(D("0.2")),
    RiskBased(D("0.01"), atr_multiple=2),
    Kelly(D("0.55"), D("1.5"), stop_distance=D(3)),
    VolatilityTarget(D("0.15")),
    SignalScaled(PercentOfEquity(D("0.5"))),
]


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(LINEAR),
    contexts(),
    st.decimals(min_value=0, max_value=10**8, places=2),
    st.decimals(min_value=0, max_value=10**8, places=2),
    st.none() | st.builds(Limits, min_qty=st.decimals(0, 500, places=0)),
)
def test_linear_sizers_are_monotone_in_equity(
    sizer: Sizer, c: SizingContext, e1: Decimal, e2: Decimal, limits: Limits | None
) -> None:
    if limits is not None:
        sizer = sizer.with_limits(limits)
    lo, hi = sorted((e1, e2))
    small = sizer.size(dataclasses.replace(c, equity=lo))
    large = sizer.size(dataclasses.replace(c, equity=hi))
    assert small <= large


def test_the_docs_examples_run() -> None:
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "docs" / "sizing.md").read_text()
    blocks = text.split("```python\n")[1:]
    assert len(blocks) == 4
    for block in blocks:
        exec(compile(block.split("```")[0], "docs/sizing.md", "exec"), {"__name__": "docs"})


def test_sized_by_atr_in_a_backtest_on_the_shipped_bars() -> None:
    """The pieces together: an incremental ATR fed the bars as they arrive, a 1%-risk 2-ATR
    RiskBased sizer reading the account (SizingContext.from_account), entries every 40 bars on
    the three shipped symbols. Each entry is the hand formula's count at that bar, its loss at
    the stop is at most 1% of equity, and the ATR it used is the vectorised ATR at that bar
    (nothing from later bars)."""
    from fillforge.broker import Bar
    from fillforge.indicators import ATR, atr
    from fillforge.strategy import Backtest, Strategy

    sizer = RiskBased(D("0.01"), atr_multiple=2)

    class Sized(Strategy):
        def __init__(self) -> None:
            self.atr: dict[str, ATR] = {}
            self.entries: list[tuple[str, int, float, Decimal, Decimal, Decimal]] = []

        def on_bar(self, bar: Bar) -> None:
            value = self.atr.setdefault(bar.symbol, ATR(14)).update(bar.high, bar.low, bar.close)
            i = len(self.ctx.history(bar.symbol)) - 1
            if value is None or i % 40:
                return
            c = SizingContext.from_account(
                self.ctx.account(), Instrument(symbol=bar.symbol), bar.close, atr=value
            )
            qty = sizer.size(c)
            self.entries.append((bar.symbol, i, value, c.equity, c.buying_power, qty))
            if qty:
                self.ctx.buy(bar.symbol, qty)

    strategy = Sized()
    result = Backtest(cash=D(1_000_000)).add_daily_samples().run(strategy)
    assert result.fills
    assert len(strategy.entries) >= 30
    for symbol, i, value, equity, bp, qty in strategy.entries:
        bars = strategy.ctx.history(symbol)
        want_atr = atr(bars.high, bars.low, bars.close, 14)[i]
        assert value == pytest.approx(want_atr, rel=1e-12)
        risk = equity * D("0.01")
        distance = 2 * D(repr(value))
        want = min(
            math.floor(risk / distance), math.floor(max(bp, D(0)) / D(repr(float(bars.close[i]))))
        )
        assert qty == want
        assert qty * distance <= risk


def test_from_account_reads_equity_buying_power_position_and_weights() -> None:
    from fillforge.broker.models import AccountSnapshot, Position

    zero = D(0)
    account = AccountSnapshot(
        cash=D(50_000),
        equity=D(100_000),
        buying_power=D(30_000),
        reserved=zero,
        leverage=zero,
        long_market_value=D(30_000),
        short_market_value=D(-20_000),
        realized_pnl=zero,
        unrealized_pnl=zero,
        fees_paid=zero,
        positions={
            "XYZ": Position(symbol="XYZ", qty=D(-400), market_value=D(-20_000)),
            "SPY": Position(symbol="SPY", qty=D(60), market_value=D(30_000)),
        },
    )
    c = SizingContext.from_account(account, SHARES, D(50), atr=1.5)
    assert (c.equity, c.buying_power, c.position, c.atr) == (D(100_000), D(30_000), D(-400), 1.5)
    assert c.book_weights == {"XYZ": -0.2, "SPY": 0.3}
    # buying 1,000 to cover the short of 400: 400 close it, 600 more cost 30,000, all there is
    assert FixedQuantity(D(1000)).size(c) == 1000
    assert FixedQuantity(D(1001)).size(c) == 1000
    flat = SizingContext.from_account(account, Instrument(symbol="QQQ"), D(10), book_weights={})
    assert flat.position == 0
    assert flat.book_weights == {}


@settings(max_examples=300, deadline=None)
@given(
    st.decimals(min_value=D(1), max_value=D(10**9), places=2),
    st.decimals(min_value=D("0.01"), max_value=D(5000), places=2),
    st.decimals(min_value=D("0.0001"), max_value=D("0.9999"), places=4),
    st.floats(0.01, 100),
    st.sampled_from([D(1), D("0.001"), D(7), D(100)]),
)
def test_the_floor_is_exact_never_a_lot_short(
    equity: Decimal, price: Decimal, fraction: Decimal, atr_value: float, lot: Decimal
) -> None:
    """Against exact rationals: the size is the true floor of the formula, not one lot less
    (nor more), with and without the rounding of a quotient on the way."""
    from fractions import Fraction

    inst = Instrument(symbol="XYZ", lot_size=lot)
    c = SizingContext("XYZ", price, equity, D(10**15), inst, atr=atr_value)
    cases = [
        (PercentOfEquity(fraction), Fraction(equity) * Fraction(fraction) / Fraction(price)),
        (
            RiskBased(fraction, atr_multiple=3),
            Fraction(equity) * Fraction(fraction) / (3 * Fraction(repr(atr_value))),
        ),
        (FixedAmount(equity), Fraction(equity) / Fraction(price)),
        (
            Kelly(fraction, D(3), fraction=D("0.5"), cap=1, atr_multiple=3),
            Fraction(equity)
            * max(Fraction(fraction) - (1 - Fraction(fraction)) / 3, Fraction(0))
            / 2
            / (3 * Fraction(repr(atr_value))),
        ),
    ]
    for sizer, exact in cases:
        assert sizer.size(c) == math.floor(exact / Fraction(lot)) * lot


def test_sizers_and_contexts_pickle_and_hash() -> None:
    import pickle

    c = ctx("50", atr=2.0, signal=0.5)
    sizer = SignalScaled(Kelly(D("0.6"), 2, atr_multiple=2).with_limits(Limits(max_qty=D(900))))
    again = pickle.loads(pickle.dumps(sizer))
    assert again == sizer
    assert hash(again) == hash(sizer)
    assert again.size(pickle.loads(pickle.dumps(c))) == sizer.size(c) == 450


def test_numpy_numbers_are_numbers() -> None:
    """A vectorised indicator's element is a numpy float (whose repr is "np.float64(...)")."""
    c = ctx("50", atr=np.float64(2.0), signal=np.float32(0.5))
    assert RiskBased(D("0.01"), atr_multiple=1).size(c) == 500
    assert SignalScaled(FixedQuantity(D(10))).size(c) == 5
    assert FixedQuantity(np.int64(7)).size(c) == 7  # type: ignore[arg-type]
    with pytest.raises(SizingError):
        ctx(atr=np.float64("nan"))


def test_a_size_is_capped_at_what_an_order_can_carry() -> None:
    huge = SizingContext("XYZ", D("0.0001"), D("1e30"), D("1e30"), SHARES)
    assert PercentOfEquity(1).size(huge) == 2**63 - 1
    assert SHARES.to_lots(PercentOfEquity(1).size(huge)) == 2**63 - 1
