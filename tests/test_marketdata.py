"""Market-data loaders on the real files in ../shared/data, and their error reporting.

Expected values come from the raw file text, parsed here independently with ``Decimal``, and from
the counts in ``shared/data/README.md``.
"""

from __future__ import annotations

import csv
import gzip
import shutil
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fillforge.errors import MarketDataError
from fillforge.marketdata import (
    MBO_UNDEF_PRICE,
    NS_PER_DAY,
    NS_PER_MINUTE,
    Bars,
    DecimalTextError,
    Grid,
    Trades,
    load_bars,
    load_databento_mbo_csv,
    load_tardis_quotes,
    load_tardis_trades,
)

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
TICKS = DATA / "crypto_ticks"
TRADES = TICKS / "tardis_binance-futures_BTCUSDT_trades_2020-02-22.csv"
QUOTES = TICKS / "tardis_binance-futures_BTCUSDT_quotes_2020-02-22.csv"
MBO = DATA / "cme_mbo" / "ESH4_GLBX-MDP3_2023-12-25_mbo.csv"
DAILY = DATA / "bars" / "daily"
SP500 = DATA / "bars" / "intraday" / "SP500_index_1m_2019-11-05_2019-11-08.csv"
FTX = DATA / "bars" / "intraday" / "ftx_BTC-PERP_1m_2021-12-31_2022-02-01.csv"
SPY = DAILY / "yahoofinance-SPY-20080101-20180101.csv"
GOOG_DAILY = DAILY / "GOOG_daily_2004-08-19_2013-03-01_unadjusted.csv"

USDT = Decimal("0.01")
BTC = Decimal("0.001")
ES = Decimal("0.25")
MICRO = Decimal("0.000001")  # Yahoo prints six decimals: exact on this grid

TRADES_HEADER = "exchange,symbol,timestamp,local_timestamp,id,side,price,amount"
QUOTES_HEADER = (
    "exchange,symbol,timestamp,local_timestamp,ask_amount,ask_price,bid_price,bid_amount"
)
MBO_HEADER = (
    "ts_recv,ts_event,ts_in_delta,instrument_id,symbol,action,side,price,size,order_id,flags,"
    "sequence,channel_id"
)


def raw(path: Path) -> tuple[list[str], list[list[str]]]:
    with path.open(newline="") as f:
        header, *rows = csv.reader(f)
    return header, rows


def steps(texts: list[str], step: Decimal) -> list[int]:
    """The oracle: Decimal division, which must come out whole."""
    out = []
    for text in texts:
        q = Decimal(text) / step
        assert q == q.to_integral_value(), text
        out.append(int(q))
    return out


def utc_ns(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0, us: int = 0) -> int:
    moment = datetime(y, mo, d, h, mi, s, us, tzinfo=UTC)
    return (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1) * 1000


def write(tmp_path: Path, name: str, *lines: str) -> Path:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return path


@contextmanager
def raises_at(line: int, field: str, value: str) -> Iterator[pytest.ExceptionInfo[MarketDataError]]:
    """Expect a MarketDataError for exactly this line, field and raw value."""
    with pytest.raises(MarketDataError) as info:
        yield info
    err = info.value
    assert (err.line, err.field, err.value) == (line, field, value), str(err)
    assert f"line {line}: {field}={value!r}: " in str(err)


# --- Tardis -----------------------------------------------------------------------------------


def test_tardis_trades_equal_the_raw_text() -> None:
    header, rows = raw(TRADES)
    col = {name: [r[i] for r in rows] for i, name in enumerate(header)}
    t = load_tardis_trades(TRADES, tick=USDT, lot=BTC)
    assert len(t) == 9_999
    assert t.source == str(TRADES)
    assert t.time_ns.tolist() == [int(x) * 1000 for x in col["timestamp"]]
    assert t.price.tolist() == steps(col["price"], USDT)
    assert t.qty.tolist() == steps(col["amount"], BTC)
    assert t.trade_id.tolist() == col["id"]
    assert (t.price[0], t.qty[0], t.trade_id[0]) == (968_200, 132, "42377944")  # 9682, 0.132
    assert (t.price[-1], t.qty[-1], t.trade_id[-1]) == (966_684, 70, "42387942")  # 9666.84, 0.07
    assert t.time_ns[0] == utc_ns(2020, 2, 22, 0, 0, 2, 111_000)
    assert t.time_ns[-1] == utc_ns(2020, 2, 22, 2, 5, 47, 728_000)
    dtypes = [str(a.dtype) for a in (t.time_ns, t.price, t.qty, t.aggressor)]
    assert dtypes == ["int64", "int64", "int64", "int8"]
    assert t.trade_id.dtype.kind == "U"


def test_tardis_trade_aggressor_counts() -> None:
    _, rows = raw(TRADES)
    sides = Counter(r[5] for r in rows)
    t = load_tardis_trades(TRADES, tick=USDT, lot=BTC)
    buys, sells = int((t.aggressor == 1).sum()), int((t.aggressor == -1).sum())
    assert (buys, sells) == (sides["buy"], sides["sell"])
    assert buys + sells == len(t)
    assert buys > 0
    assert sells > 0
    assert t.aggressor[0] == 1  # first row: buy
    assert t.aggressor[-1] == -1  # last row: sell


def test_tardis_quotes_equal_the_raw_text() -> None:
    header, rows = raw(QUOTES)
    col = {name: [r[i] for r in rows] for i, name in enumerate(header)}
    q = load_tardis_quotes(QUOTES, tick=USDT, lot=BTC)
    assert len(q) == 9_999
    assert q.time_ns.tolist() == [int(x) * 1000 for x in col["timestamp"]]
    assert q.bid_price.tolist() == steps(col["bid_price"], USDT)
    assert q.ask_price.tolist() == steps(col["ask_price"], USDT)
    assert q.bid_qty.tolist() == steps(col["bid_amount"], BTC)
    assert q.ask_qty.tolist() == steps(col["ask_amount"], BTC)
    # First row: ask 0.84 @ 9682, bid 9681.92 x 0.67; last: ask 0.031 @ 9672.09, bid 9671.19 x 0.012
    assert [int(a[0]) for a in (q.bid_price, q.bid_qty, q.ask_price, q.ask_qty)] == [
        968_192,
        670,
        968_200,
        840,
    ]
    assert [int(a[-1]) for a in (q.bid_price, q.bid_qty, q.ask_price, q.ask_qty)] == [
        967_119,
        12,
        967_209,
        31,
    ]
    assert q.time_ns[0] == utc_ns(2020, 2, 22, 0, 0, 1, 96_000)
    assert q.time_ns[-1] == utc_ns(2020, 2, 22, 0, 3, 47, 61_000)


def test_gzip_loads_the_same_as_plain(tmp_path: Path) -> None:
    plain = load_tardis_trades(TRADES, tick=USDT, lot=BTC)
    gz = tmp_path / "trades.csv.gz"
    with TRADES.open("rb") as src, gzip.open(gz, "wb") as dst:
        shutil.copyfileobj(src, dst)
    zipped = load_tardis_trades(gz, tick=USDT, lot=BTC)
    assert zipped.source == str(gz)
    for name in ("time_ns", "price", "qty", "aggressor", "trade_id"):
        assert np.array_equal(getattr(zipped, name), getattr(plain, name)), name

    bars_gz = tmp_path / "sp500.csv.gz"
    bars_gz.write_bytes(gzip.compress(SP500.read_bytes()))
    assert np.array_equal(load_bars(bars_gz, tick=USDT).close, load_bars(SP500, tick=USDT).close)


# --- Databento MBO ----------------------------------------------------------------------------


def test_mbo_matches_the_readme_counts_and_the_raw_text() -> None:
    header, rows = raw(MBO)
    assert header == MBO_HEADER.split(",")
    m = load_databento_mbo_csv(MBO, tick=ES)
    assert len(m) == 68_792
    actions = Counter(chr(a) for a in m.action.tolist())
    assert actions == {"A": 29_216, "C": 17_999, "M": 12_233, "F": 6_371, "T": 2_973}
    assert int(((m.flags & 32) != 0).sum()) == 8_725  # snapshot adds
    trades = m.action == ord("T")
    assert int(m.size[trades].sum()) == 9_892
    assert (int(m.price[trades].min()), int(m.price[trades].max())) == (19_201, 19_247)
    assert m.price.tolist() == steps([r[7] for r in rows], ES)
    assert m.ts_recv.tolist() == [int(r[0]) for r in rows]
    assert m.ts_event.tolist() == [int(r[1]) for r in rows]
    assert m.order_id.tolist() == [int(r[9]) for r in rows]
    assert m.sequence.tolist() == [int(r[11]) for r in rows]
    sides = Counter(r[6] for r in rows)
    assert [int((m.side == s).sum()) for s in (1, -1, 0)] == [sides["B"], sides["A"], sides["N"]]
    # First row: 1703462400000000000,1703422805243925307,...,A,B,4799,2,6412777162812,40,682
    first = [int(getattr(m, f)[0]) for f in ("ts_recv", "ts_event", "action", "side", "price")]
    assert first == [1703462400000000000, 1703422805243925307, ord("A"), 1, 19_196]
    assert [int(getattr(m, f)[0]) for f in ("size", "order_id", "flags", "sequence")] == [
        2,
        6412777162812,
        40,
        682,
    ]
    # Last row: ...,M,A,4810.5,1,6412777285103,130,59585
    assert [int(a[-1]) for a in (m.action, m.side, m.price, m.size, m.order_id, m.flags)] == [
        ord("M"),
        -1,
        19_242,
        1,
        6412777285103,
        130,
    ]
    assert m.order_id.dtype == np.uint64
    assert m.action.dtype == np.uint8


def test_mbo_empty_price_is_undefined_and_bad_fields_raise(tmp_path: Path) -> None:
    ok = write(
        tmp_path, "ok.csv", MBO_HEADER, "5,4,0,1,X,R,N,,0,0,8,1,0", "5,4,0,1,X,A,B,-1.5,3,7,0,2,0"
    )
    m = load_databento_mbo_csv(ok, tick=ES)
    assert m.price.tolist() == [MBO_UNDEF_PRICE, -6]
    assert m.side.tolist() == [0, 1]
    assert m.action.tolist() == [ord("R"), ord("A")]

    bad_action = write(tmp_path, "a.csv", MBO_HEADER, "5,4,0,1,X,Q,B,1,1,7,0,2,0")
    with raises_at(2, "action", "Q"):
        load_databento_mbo_csv(bad_action, tick=ES)
    bad_side = write(
        tmp_path, "s.csv", MBO_HEADER, "5,4,0,1,X,A,B,1,1,7,0,2,0", "5,4,0,1,X,A,b,1,1,7,0,2,0"
    )
    with raises_at(3, "side", "b"):
        load_databento_mbo_csv(bad_side, tick=ES)
    off_tick = write(tmp_path, "p.csv", MBO_HEADER, "5,4,0,1,X,A,B,4799.1,1,7,0,2,0")
    with raises_at(2, "price", "4799.1"):
        load_databento_mbo_csv(off_tick, tick=ES)
    backwards = write(
        tmp_path, "t.csv", MBO_HEADER, "5,4,0,1,X,A,B,1,1,7,0,2,0", "4,4,0,1,X,A,B,1,1,7,0,2,0"
    )
    with raises_at(3, "ts_recv", "4"):
        load_databento_mbo_csv(backwards, tick=ES)
    flags = write(tmp_path, "f.csv", MBO_HEADER, "5,4,0,1,X,A,B,1,1,7,256,2,0")
    with raises_at(2, "flags", "256"):
        load_databento_mbo_csv(flags, tick=ES)


# --- bars -------------------------------------------------------------------------------------

BAR_FILES = [
    (GOOG_DAILY, USDT, 2_148),
    (DAILY / "yahoofinance-AAPL-20040819-20180120.csv", MICRO, 3_379),
    (DAILY / "yahoofinance-GOOG-20040819-20180120.csv", MICRO, 3_379),
    (DAILY / "yahoofinance-INTC-19950101-20040412.csv", MICRO, 2_335),
    (DAILY / "nvda-1999-2014.csv", MICRO, 4_012),
    (DAILY / "orcl-1995-2014.csv", MICRO, 5_036),
    (DAILY / "yhoo-1996-2015.csv", MICRO, 4_965),
    (SP500, USDT, 1_563),
    (FTX, Decimal("0.125"), 45_031),
]


@pytest.mark.parametrize(
    ("path", "tick", "rows"), BAR_FILES, ids=lambda p: p.stem if isinstance(p, Path) else None
)
def test_bar_files_load_whole_and_exact(path: Path, tick: Decimal, rows: int) -> None:
    header, raw_rows = raw(path)
    b = load_bars(path, tick=tick)
    assert len(b) == rows == len(raw_rows)
    assert b.skipped == 0
    for name in ("Open", "High", "Low", "Close"):
        i = [h.lower() for h in header].index(name.lower())
        column = getattr(b, name.lower())
        assert column[0] == steps([raw_rows[0][i]], tick)[0], name
        assert column[-1] == steps([raw_rows[-1][i]], tick)[0], name
    assert bool(np.all(np.diff(b.time_ns) > 0))
    assert bool(np.all((b.low <= b.open) & (b.open <= b.high)))
    assert bool(np.all((b.low <= b.close) & (b.close <= b.high)))
    assert b.volume.dtype == np.float64
    assert b.period_ns == (NS_PER_MINUTE if "intraday" in str(path) else NS_PER_DAY)


def test_goog_daily_bar_of_the_lobster_day() -> None:
    b = load_bars(GOOG_DAILY, tick=USDT)
    (row,) = np.flatnonzero(b.time_ns == utc_ns(2012, 6, 21))
    assert [int(a[row]) for a in (b.open, b.high, b.low, b.close)] == [
        57_984,
        57_984,
        56_373,
        56_521,
    ]
    assert b.volume[row] == 2_011_300.0
    assert b.time_ns[0] == utc_ns(2004, 8, 19)
    assert b.time_ns[-1] == utc_ns(2013, 3, 1)


def test_sp500_new_york_times_and_column_order() -> None:
    b = load_bars(SP500, tick=USDT)
    assert b.time_ns[0] == utc_ns(2019, 11, 5, 14, 30)  # 09:30 New York (EST) is 14:30 UTC
    assert b.time_ns[-1] == utc_ns(2019, 11, 8, 20, 59)
    assert b.period_ns == NS_PER_MINUTE
    # Date,Open,Close,High,Low: 3080.8,3080.49,3081.47,3080.3 (Close comes before High).
    assert [int(a[0]) for a in (b.open, b.high, b.low, b.close)] == [
        308_080,
        308_147,
        308_030,
        308_049,
    ]
    assert b.volume[0] == 2_209_795.0
    as_utc = load_bars(SP500, tick=USDT, timezone="UTC")
    assert np.array_equal(b.time_ns - as_utc.time_ns, np.full(len(b), 5 * 3600 * 10**9))


def test_ftx_is_utc_and_contiguous() -> None:
    b = load_bars(FTX, tick=Decimal("0.125"))
    assert b.time_ns[0] == utc_ns(2021, 12, 31, 23, 1)
    assert b.time_ns[-1] == utc_ns(2022, 2, 1, 5, 31)
    assert set(np.diff(b.time_ns).tolist()) == {NS_PER_MINUTE}
    assert b.open[0] == 46_319 * 8
    assert b.volume[0] == 2300413.7295
    # FTX prices are whole dollars except in two 7-minute runs (2022-01-01 and 2022-01-13,
    # 03:03-03:09) that are linear interpolations, in steps of 1/8 dollar; the first is line 244.
    with raises_at(244, "open", "46821.75"):
        load_bars(FTX, tick=1)


def test_spy_open_below_low_raises_by_default_and_skip_drops_two() -> None:
    with raises_at(1808, "Open", "209.419998") as info:
        load_bars(SPY, tick=MICRO)
    assert info.value.line == 1808
    assert info.value.field == "Open"
    assert info.value.source == str(SPY)
    b = load_bars(SPY, tick=MICRO, on_invalid="skip")
    assert b.skipped == 2
    assert len(b) == 2_519 - 2
    days = set((b.time_ns // NS_PER_DAY).tolist())
    assert utc_ns(2015, 3, 5) // NS_PER_DAY not in days
    assert utc_ns(2015, 3, 30) // NS_PER_DAY not in days
    assert utc_ns(2015, 3, 6) // NS_PER_DAY in days
    assert bool(np.all((b.low <= b.open) & (b.open <= b.high)))


def test_yahoo_floats_are_off_tick_unless_rounded_to_nearest() -> None:
    with raises_at(2, "Open", "147.100006"):
        load_bars(SPY, tick=USDT, on_invalid="skip")
    b = load_bars(SPY, tick=USDT, rounding="nearest", on_invalid="skip")
    assert b.skipped == 2
    _, rows = raw(SPY)
    kept = [r for r in rows if r[0] not in ("2015-03-05", "2015-03-30")]
    expected = [int(Decimal(r[4]).quantize(USDT, rounding=ROUND_HALF_EVEN) / USDT) for r in kept]
    assert b.close.tolist() == expected
    row = [r[0] for r in kept].index("2011-03-16")
    assert b.low[row] == 12_528  # 125.279999 -> 125.28
    assert b.open[0] == 14_710  # 147.100006 -> 147.10


def test_nearest_rounds_half_to_even(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "b.csv",
        "Date,Open,High,Low,Close,Volume",
        "2020-01-02,0.125,0.135,0.115,0.125,1",
        "2020-01-03,-0.125,0.005,-0.135,-0.015,0",
    )
    b = load_bars(path, tick=USDT, rounding="nearest")
    assert [b.open.tolist(), b.high.tolist(), b.low.tolist(), b.close.tolist()] == [
        [12, -12],
        [14, 0],
        [12, -14],
        [12, -2],
    ]


# --- error reporting --------------------------------------------------------------------------

T1 = "binance-futures,BTCUSDT,1000,2000,1,buy,9682,0.132"
T2 = "binance-futures,BTCUSDT,1001,2001,2,sell,9681.5,0.5"


@pytest.mark.parametrize(
    ("row", "line", "field", "value"),
    [
        ("binance-futures,BTCUSDT,1001,2001,2,sell,9682.005,0.5", 3, "price", "9682.005"),
        ("binance-futures,BTCUSDT,1001,2001,2,sell,9682,0.0005", 3, "amount", "0.0005"),
        ("binance-futures,BTCUSDT,1001,2001,2,hold,9682,0.5", 3, "side", "hold"),
        ("binance-futures,BTCUSDT,1001,2001,2,sell,9.68e3,0.5", 3, "price", "9.68e3"),
        ("binance-futures,BTCUSDT,1001,2001,2,sell,,0.5", 3, "price", ""),
        ("binance-futures,BTCUSDT,10x1,2001,2,sell,9682,0.5", 3, "timestamp", "10x1"),
        ("binance-futures,BTCUSDT,1001,1999,2,sell,9682,0.5", 3, "local_timestamp", "1999"),
        ("binance-futures,BTCUSDT,1001,2001,2,sell,9682,-0.5", 3, "amount", "-0.5"),
        (
            "binance-futures,BTCUSDT,1001,2001,2,sell,9682",
            3,
            "row",
            "binance-futures,BTCUSDT,1001,2001,2,sell,9682",
        ),
    ],
)
def test_bad_trade_rows_name_line_field_and_value(
    tmp_path: Path, row: str, line: int, field: str, value: str
) -> None:
    path = write(tmp_path, "t.csv", TRADES_HEADER, T1, row, T2)
    with pytest.raises(MarketDataError) as info:
        load_tardis_trades(path, tick=USDT, lot=BTC)
    assert (info.value.source, info.value.line, info.value.field, info.value.value) == (
        str(path),
        line,
        field,
        value,
    )
    assert info.value.why


def test_the_earliest_bad_line_is_reported_across_columns(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "t.csv",
        TRADES_HEADER,
        T1,
        "binance-futures,BTCUSDT,1001,2001,2,sell,9682,0.0001",  # bad amount, line 3
        "binance-futures,BTCUSDT,1001,2001,2,sell,9682.001,0.5",  # bad price, line 4
    )
    with raises_at(3, "amount", "0.0001"):
        load_tardis_trades(path, tick=USDT, lot=BTC)


def test_header_only_and_trailing_blank_lines(tmp_path: Path) -> None:
    assert len(load_tardis_trades(write(tmp_path, "h.csv", TRADES_HEADER), tick=USDT, lot=BTC)) == 0
    trailing = write(tmp_path, "t.csv", TRADES_HEADER, T1, T2, "", "")
    assert load_tardis_trades(trailing, tick=USDT, lot=BTC).qty.tolist() == [132, 500]
    inner = write(tmp_path, "i.csv", TRADES_HEADER, T1, "", T2)
    with raises_at(3, "row", ""):
        load_tardis_trades(inner, tick=USDT, lot=BTC)


def test_missing_column_and_empty_file(tmp_path: Path) -> None:
    path = write(tmp_path, "q.csv", QUOTES_HEADER.replace("bid_price", "bid"))
    with pytest.raises(MarketDataError, match="bid_price") as info:
        load_tardis_quotes(path, tick=USDT, lot=BTC)
    assert info.value.line == 1
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(MarketDataError, match="empty"):
        load_tardis_quotes(empty, tick=USDT, lot=BTC)


def test_quoted_newlines_keep_line_numbers_true(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "t.csv",
        TRADES_HEADER,
        'binance-futures,"BTC\nUSDT",1000,2000,1,buy,1,1',
        T1.replace("9682", "9682.001"),
    )
    with raises_at(4, "price", "9682.001"):
        load_tardis_trades(path, tick=USDT, lot=BTC)


BARS_HEADER = "Date,Open,High,Low,Close,Adj Close,Volume"


@pytest.mark.parametrize(
    ("row", "field", "value", "why"),
    [
        ("2020-01-03,10.00,9.50,9.60,9.55,9.55,100", "High", "9.50", "High < Low"),
        ("2020-01-03,10.00,10.50,9.60,10.60,10.60,100", "Close", "10.60", "Close outside"),
        ("2020-01-03,10.001,10.50,9.60,10.00,10.00,100", "Open", "10.001", "multiple of 0.01"),
        ("2020-01-02,10.00,10.50,9.60,10.00,10.00,100", "Date", "2020-01-02", "does not increase"),
        ("2020-01-01,10.00,10.50,9.60,10.00,10.00,100", "Date", "2020-01-01", "does not increase"),
        ("2020-13-03,10.00,10.50,9.60,10.00,10.00,100", "Date", "2020-13-03", "month"),
        ("2020-01-03,10.00,10.50,9.60,10.00,10.00,-1", "Volume", "-1", "negative"),
        ("2020-01-03,10.00,10.50,9.60,10.00,10.00,nan", "Volume", "nan", "plain decimal"),
    ],
)
def test_bad_bar_rows(tmp_path: Path, row: str, field: str, value: str, why: str) -> None:
    first = "2020-01-02,10.00,10.50,9.60,10.00,10.00,100"
    path = write(tmp_path, "b.csv", BARS_HEADER, first, row)
    with raises_at(3, field, value) as info:
        load_bars(path, tick=USDT)
    assert why in info.value.why


def test_skip_drops_only_inconsistent_bars(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "b.csv",
        BARS_HEADER,
        "2020-01-02,10.00,10.50,9.60,10.00,10.00,100",
        "2020-01-03,10.00,9.50,9.60,9.55,9.55,100",
        "2020-01-06,10.00,10.50,9.60,10.20,10.20,300",
    )
    b = load_bars(path, tick=USDT, on_invalid="skip")
    assert (len(b), b.skipped) == (2, 1)
    assert b.close.tolist() == [1_000, 1_020]
    assert b.volume.tolist() == [100.0, 300.0]
    bad_time = path.read_text().replace("2020-01-06", "2020-01-01")
    path.write_text(bad_time)
    with raises_at(4, "Date", "2020-01-01"):  # times are checked even on skipped rows
        load_bars(path, tick=USDT, on_invalid="skip")


@pytest.mark.parametrize(
    ("stamp", "why"),
    [("2019-03-10 02:30:00", "does not exist"), ("2019-11-03 01:30:00", "is ambiguous")],
)
def test_local_times_in_a_clock_change_raise(tmp_path: Path, stamp: str, why: str) -> None:
    path = write(tmp_path, "b.csv", "Date,Open,High,Low,Close,Volume", f"{stamp},1,1,1,1,1")
    with raises_at(2, "Date", stamp) as info:
        load_bars(path, tick=USDT, period=NS_PER_MINUTE)
    assert why in info.value.why
    as_utc = load_bars(path, tick=USDT, period=timedelta(minutes=1), timezone="UTC")
    assert as_utc.period_ns == NS_PER_MINUTE
    assert (
        as_utc.time_ns[0] % NS_PER_DAY
        == (2 if "03-10" in stamp else 1) * 3600 * 10**9 + 1800 * 10**9
    )


def test_intraday_fraction_and_naive_zone(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "b.csv",
        "timestamp,open,high,low,close,volume",
        "2022-07-01 12:00:00.000000001,1,1,1,1,1",
        "2022-07-01 12:05:00.000000001,1,1,1,1,1",
    )
    utc = load_bars(path, tick=1)
    assert utc.time_ns[0] == utc_ns(2022, 7, 1, 12) + 1
    assert utc.period_ns == 5 * NS_PER_MINUTE
    ny = load_bars(path, tick=1, timezone="America/New_York")  # EDT, UTC-4
    assert ny.time_ns[0] == utc_ns(2022, 7, 1, 16) + 1
    with pytest.raises(ValueError, match="period"):
        load_bars(path, tick=1, period=0)


def test_columns_must_have_equal_lengths() -> None:
    one, two = np.zeros(1, np.int64), np.zeros(2, np.int64)
    with pytest.raises(ValueError, match="differ in length"):
        Trades("x", one, two, one, np.zeros(1, np.int8), np.array(["a"]))
    b = Bars("x", NS_PER_DAY, one, one, one, one, one, np.zeros(1))
    assert len(b) == 1
    with pytest.raises(AttributeError):
        b.skipped = 3  # type: ignore[misc]


# --- the decimal text helper ------------------------------------------------------------------

grids = st.builds(
    lambda multiple, scale: Decimal(multiple).scaleb(-scale),
    st.integers(1, 1000),
    st.integers(0, 9),
)


@given(step=grids, n=st.integers(-(10**12), 10**12), pad=st.integers(0, 3))
def test_grid_round_trips_text(step: Decimal, n: int, pad: int) -> None:
    grid = Grid(step)
    text = grid.to_text(n)
    assert Decimal(text) == n * step
    assert grid.to_int(text) == n
    assert grid.to_int_nearest(text) == n
    padded = text + ("." if "." not in text and pad else "") + "0" * pad
    assert grid.to_int(padded) == n


@given(step=grids, n=st.integers(-(10**12), 10**12), digits=st.integers(1, 4), data=st.data())
def test_grid_rejects_off_grid_and_rounds_like_decimal(
    step: Decimal, n: int, digits: int, data: st.DataObject
) -> None:
    grid = Grid(step)
    fine = step.scaleb(-digits)  # a finer grid: 10**digits points per step
    k = data.draw(st.integers(1, 10**digits - 1))
    value = n * step + k * fine  # strictly between two grid points
    text = format(value, "f")
    with pytest.raises(DecimalTextError, match="not a multiple"):
        grid.to_int(text)
    expected = (value / step).to_integral_value(rounding=ROUND_HALF_EVEN)
    assert grid.to_int_nearest(text) == int(expected)


@pytest.mark.parametrize(
    "text",
    ["", ".", "-", "1e3", "nan", "inf", " 1", "1 ", "1_000", "\u0661", "--1", "1.2.3", "0x10"],
)
def test_grid_rejects_text_that_is_not_plain_decimal(text: str) -> None:
    with pytest.raises(DecimalTextError):
        Grid(USDT).to_int(text)
    with pytest.raises(DecimalTextError):
        Grid(USDT).to_int_nearest(text)


def test_grid_limits_and_step_validation() -> None:
    assert Grid(Decimal("0.250")).to_int("4811.75") == 19_247
    assert Grid("5E+2").to_int("1500") == 3
    assert Grid(1).to_text(-7) == "-7"
    assert Grid("0.25").to_text(-1) == "-0.25"
    assert Grid(1).to_int(str(2**63 - 1)) == 2**63 - 1
    with pytest.raises(DecimalTextError, match="int64"):
        Grid(1).to_int(str(2**63))
    for bad in (Decimal(0), Decimal(-1), Decimal("NaN"), "abc"):
        with pytest.raises(ValueError, match="step"):
            Grid(bad)
    with pytest.raises(TypeError):
        Grid(0.25)  # type: ignore[arg-type]


def test_dbn_loads_the_same_records_as_its_csv() -> None:
    from fillforge.marketdata import load_databento_mbo_csv, load_databento_mbo_dbn

    dbn = load_databento_mbo_dbn(DATA / "cme_mbo/esh4-glbx-mdp3-20231225.mbo.dbn.zst", tick="0.25")
    csv = load_databento_mbo_csv(DATA / "cme_mbo/ESH4_GLBX-MDP3_2023-12-25_mbo.csv", tick="0.25")
    assert len(dbn) == len(csv) == 68_792
    for name in ("ts_recv", "ts_event", "action", "side", "price", "size", "order_id", "flags"):
        assert (getattr(dbn, name) == getattr(csv, name)).all(), name
    assert (dbn.sequence == csv.sequence).all()


def test_dbn_refuses_a_tick_the_prices_are_not_on(tmp_path: Path) -> None:
    from fillforge.marketdata import load_databento_mbo_csv, load_databento_mbo_dbn

    quarters = load_databento_mbo_csv(
        DATA / "cme_mbo/ESH4_GLBX-MDP3_2023-12-25_mbo.csv", tick="0.25"
    )
    odd = (quarters.price % 2 == 1) & (quarters.price != MBO_UNDEF_PRICE)
    with pytest.raises(MarketDataError) as e:
        load_databento_mbo_dbn(DATA / "cme_mbo/esh4-glbx-mdp3-20231225.mbo.dbn.zst", tick="0.5")
    assert (e.value.field, e.value.line) == ("price", int(np.argmax(odd)) + 1)  # record number
    bad = tmp_path / "x.dbn"
    bad.write_bytes(b"not dbn at all")
    with pytest.raises(MarketDataError, match="not DBN MBO data"):
        load_databento_mbo_dbn(bad, tick="0.25")
