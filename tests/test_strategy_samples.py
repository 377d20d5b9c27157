"""The shipped daily-bar samples for multi-symbol backtests: AAPL, GOOG and SPY on the same 503
sessions, in cents, each bar consistent (Low <= Open, Close <= High)."""

from __future__ import annotations

import csv
from decimal import Decimal

import numpy as np

from fillforge.marketdata import load_bars
from fillforge.replay.samples import (
    DAILY_SAMPLE_SYMBOLS,
    aapl_daily_sample,
    daily_samples,
    goog_daily_sample,
    spy_daily_sample,
)


def test_every_sample_is_on_the_same_sessions_in_cents() -> None:
    paths = daily_samples()
    assert tuple(paths) == DAILY_SAMPLE_SYMBOLS
    assert paths["AAPL"] == aapl_daily_sample()
    assert paths["GOOG"] == goog_daily_sample()
    assert paths["SPY"] == spy_daily_sample()
    times = None
    for symbol, path in paths.items():
        assert path.is_file(), symbol
        bars = load_bars(path, tick="0.01")
        assert len(bars) == 503
        assert (bars.low <= np.minimum(bars.open, bars.close)).all()
        assert (bars.high >= np.maximum(bars.open, bars.close)).all()
        assert (bars.volume > 0).all()
        if times is None:
            times = bars.time_ns
        assert np.array_equal(bars.time_ns, times), symbol
        with path.open() as f:
            rows = list(csv.reader(f))
        assert rows[0] == ["Date", "Open", "High", "Low", "Close", "Volume"]
        assert (rows[1][0], rows[-1][0]) == ("2016-01-04", "2017-12-29")
        for row in rows[1:]:  # every price is written to the cent
            assert all(Decimal(p) == Decimal(p).quantize(Decimal("0.01")) for p in row[1:5])
            assert all(len(p.split(".")[1]) == 2 for p in row[1:5])


def test_the_samples_hold_the_source_prices_rounded_to_the_cent() -> None:
    first = {}
    for symbol, path in daily_samples().items():
        with path.open() as f:
            first[symbol] = next(r for r in csv.DictReader(f))
    # 2016-01-04 in the source: AAPL 102.610001 / 105.370003 / 102.000000 / 105.349998,
    # GOOG 743.000000 / 744.059998 / 731.257996 / 741.840027.
    assert [first["AAPL"][k] for k in ("Open", "High", "Low", "Close")] == [
        "102.61",
        "105.37",
        "102.00",
        "105.35",
    ]
    assert [first["GOOG"][k] for k in ("Open", "High", "Low", "Close")] == [
        "743.00",
        "744.06",
        "731.26",
        "741.84",
    ]
    assert first["GOOG"]["Volume"] == "3272800"
