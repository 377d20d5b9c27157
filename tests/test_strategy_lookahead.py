"""Hypothesis: for any bars and any decisions, a strategy sees exactly the bars up to the one it
is given, and every order it sends at a bar's close fills at a later bar's open."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from fillforge.broker import Bar
from fillforge.marketdata import NS_PER_DAY, Bars
from fillforge.strategy import Backtest, Strategy

CENT = Decimal("0.01")
T0 = 19_000 * NS_PER_DAY  # a midnight UTC (2022-01-08)


@st.composite
def daily_bars(draw: st.DrawFn) -> Bars:
    n = draw(st.integers(3, 25))
    close = draw(st.lists(st.integers(500, 1500), min_size=n, max_size=n))
    opn = [c + draw(st.integers(-40, 40)) for c in close]
    hi = [max(o, c) + draw(st.integers(0, 30)) for o, c in zip(opn, close, strict=True)]
    lo = [min(o, c) - draw(st.integers(0, 30)) for o, c in zip(opn, close, strict=True)]
    gaps = draw(st.lists(st.integers(1, 3), min_size=n, max_size=n))  # days between bars
    days = np.cumsum(gaps).astype(np.int64) * NS_PER_DAY + T0

    def col(v: list[int]) -> np.ndarray:
        return np.array(v, np.int64)

    return Bars("h", NS_PER_DAY, days, col(opn), col(hi), col(lo), col(close), np.full(n, 1e6))


class Decider(Strategy):
    def __init__(self, bars: Bars, decisions: list[int]) -> None:
        self.bars, self.decisions = bars, decisions
        self.sent: dict[str, int] = {}

    def on_bar(self, bar: Bar) -> None:
        h = self.ctx.history("X")
        i = len(h) - 1
        b = self.bars
        assert np.array_equal(h.time_ns, b.time_ns[: i + 1])
        assert np.array_equal(h.close, b.close[: i + 1] / 100)
        assert bar.close == int(b.close[i]) * CENT
        assert self.ctx.now_ns() == int(b.time_ns[i]) + NS_PER_DAY  # delivered at its end
        qty = self.decisions[i]
        held = self.ctx.position("X")
        if qty > 0:
            self.sent[self.ctx.buy("X", qty).id] = i
        elif qty < 0 and held > 0:
            self.sent[self.ctx.sell("X", min(held, Decimal(-qty))).id] = i


@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_no_bar_is_seen_early_and_no_order_fills_on_its_own_bar(data: st.DataObject) -> None:
    bars = data.draw(daily_bars())
    decisions = data.draw(st.lists(st.integers(-5, 5), min_size=len(bars), max_size=len(bars)))
    s = Decider(bars, decisions)
    result = Backtest(calendar=None).add_bars("X", bars).run(s)
    for f in result.fills:
        i = s.sent[f.order_id]
        assert i + 1 < len(bars), "an order decided at the last bar cannot fill"
        # Filled at the next bar's open, when that bar began: never at the bar it was decided on.
        assert f.time_ns == int(bars.time_ns[i + 1])
        assert f.price == int(bars.open[i + 1]) * CENT
    assert len({f.order_id for f in result.fills}) == len(result.fills)
