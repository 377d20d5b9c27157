"""The market-data interface through both adapters, each on its unmodified client over real
sockets: AlpacaMarketData (alpaca-py) against the Alpaca server's data routes and
MassiveMarketData (the massive client) against the Massive-compatible server, both serving the
shipped data. What comes back is compared with the files as read here (the bars loader, the
LOBSTER files line by line), never with numbers written into the test."""

from __future__ import annotations

import datetime as dt
import gzip
import secrets
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fillforge.alpaca import AlpacaServer, scripted_broker
from fillforge.broker import Bar, Quote, Trade
from fillforge.errors import MarketDataApiError, MarketDataError
from fillforge.marketdata import load_bars
from fillforge.marketdata.alpaca import AlpacaMarketData
from fillforge.marketdata.massive import MassiveMarketData
from fillforge.marketdata.source import MarketDataSource, Timeframe, number
from fillforge.massive.server import MassiveServer
from fillforge.replay.samples import daily_samples, lobster_sample
from fillforge.testing import ALPACA_SERVER_START_NS

D = Decimal
CENT = D("0.01")
MINUTE = 60 * 10**9
EVER = (0, 1 << 62)
Y2016 = 1_451_606_400 * 10**9  # 2016-01-01T00:00Z
Y2018 = 1_514_764_800 * 10**9


# ----- the files, read here ---------------------------------------------------------------


def _lobster() -> tuple[list[tuple[int, D, D]], list[tuple[int, Any, D, Any, D]]]:
    """The GOOG day's executions (time, price, size) and best-level changes (time, bid, bid
    size, ask, ask size), straight from the LOBSTER files."""
    message, orderbook = lobster_sample()
    day = dt.datetime(2012, 6, 21, tzinfo=dt.timezone(dt.timedelta(hours=-4)))  # EDT
    midnight = int(day.timestamp()) * 10**9
    trades, quotes, last = [], [], None
    with gzip.open(message, "rt") as m, gzip.open(orderbook, "rt") as b:
        for msg, book in zip(m, b, strict=True):
            f = msg.strip().split(",")
            secs, _, frac = f[0].partition(".")
            t = midnight + int(secs) * 10**9 + int(frac.ljust(9, "0"))
            if f[1] in ("4", "5"):
                trades.append((t, D(f[4]) / 10_000, D(f[3])))
            top = book.split(",")[:4]
            if top != last:
                last = top
                ask, ask_size, bid, bid_size = (int(x) for x in top)
                quotes.append(
                    (
                        t,
                        None if abs(bid) == 9_999_999_999 else D(bid) / 10_000,
                        D(bid_size) if abs(bid) != 9_999_999_999 else D(0),
                        None if abs(ask) == 9_999_999_999 else D(ask) / 10_000,
                        D(ask_size) if abs(ask) != 9_999_999_999 else D(0),
                    )
                )
    return trades, quotes


TRADES, QUOTES = _lobster()
DAY_START, DAY_END = TRADES[0][0], TRADES[-1][0] + 1


def _daily(symbol: str) -> list[tuple[int, D, D, D, D, D]]:
    bars = load_bars(daily_samples()[symbol], tick=CENT)
    cols = (bars.time_ns, bars.open, bars.high, bars.low, bars.close, bars.volume)
    return [
        (int(t), D(int(o)) * CENT, D(int(h)) * CENT, D(int(lo)) * CENT, D(int(c)) * CENT, D(v))
        for t, o, h, lo, c, v in zip(*cols, strict=True)
    ]


def _minute_bars() -> list[tuple[int, D, D, D, D, D, int]]:
    out: dict[int, list[tuple[int, D, D]]] = {}
    for t, p, s in TRADES:
        out.setdefault(t - t % MINUTE, []).append((t, p, s))
    return [
        (
            k,
            v[0][1],
            max(x[1] for x in v),
            min(x[1] for x in v),
            v[-1][1],
            sum(x[2] for x in v),
            len(v),
        )
        for k, v in sorted(out.items())
    ]


def _t(rows: list[Trade]) -> list[tuple[int, D, D]]:
    return [(r.timestamp_ns, r.price, r.size) for r in rows]


def _q(rows: list[Quote]) -> list[tuple[int, Any, D, Any, D]]:
    return [(r.timestamp_ns, r.bid_price, r.bid_size, r.ask_price, r.ask_size) for r in rows]


def _b(rows: list[Bar]) -> list[tuple[int, D, D, D, D, D]]:
    return [(r.timestamp_ns, r.open, r.high, r.low, r.close, r.volume) for r in rows]


# ----- the servers and the sources --------------------------------------------------------


@pytest.fixture(scope="module")
def alpaca() -> Iterator[AlpacaServer]:
    broker = scripted_broker(("AAPL",), start_ns=ALPACA_SERVER_START_NS)
    server = AlpacaServer(
        broker,
        key_id=f"PK{secrets.token_hex(8).upper()}",
        secret_key=secrets.token_urlsafe(24),
        speed=None,
        requests_per_minute=1_000_000,
    )
    server.data_page_limit = 1000  # type: ignore[attr-defined]  # several pages per call
    with server:
        server.call(lambda b: b.quote("AAPL", D("100.00"), D("100.02"), bid_size=300, ask_size=200))
        yield server


@pytest.fixture(scope="module")
def massive() -> Iterator[MassiveServer]:
    with MassiveServer(api_key=secrets.token_hex(16)) as server:
        yield server


@pytest.fixture
def sources(alpaca: AlpacaServer, massive: MassiveServer) -> list[MarketDataSource]:
    return [
        AlpacaMarketData(alpaca.key_id, alpaca.secret_key, base_url=alpaca.base_url),
        MassiveMarketData(massive.api_key, base_url=massive.base_url, page_size=1000),
    ]


def test_both_are_market_data_sources(sources: list[MarketDataSource]) -> None:
    assert all(isinstance(s, MarketDataSource) for s in sources)
    assert [s.name for s in sources] == ["alpaca", "massive"]


@pytest.mark.parametrize("symbol", ["AAPL", "GOOG", "SPY"])
def test_day_bars_are_the_files_bars(sources: list[MarketDataSource], symbol: str) -> None:
    want = _daily(symbol)
    for source in sources:
        got = source.bars(symbol, "day", Y2016, Y2018)
        assert _b(got) == want, source.name
        assert {(b.period_ns, b.trade_count, b.vwap == b.close) for b in got} == {
            (Timeframe.DAY.period_ns, 0, True)  # the file has no count or VWAP
        }


def test_trades_of_the_day_are_the_files_executions(sources: list[MarketDataSource]) -> None:
    for source in sources:
        got = source.trades("GOOG", *EVER)
        assert len(got) > 10 * 1000  # more than ten pages of either server
        assert _t(got) == TRADES, source.name


def test_quotes_of_the_day_are_the_files_best_levels(sources: list[MarketDataSource]) -> None:
    for source in sources:
        assert _q(source.quotes("GOOG", *EVER)) == QUOTES, source.name


def test_minute_and_hour_bars_aggregate_the_files_trades(sources: list[MarketDataSource]) -> None:
    want = _minute_bars()
    for source in sources:
        got = source.bars("GOOG", Timeframe.MINUTE, DAY_START - MINUTE, DAY_END)
        assert [(*row, b.trade_count) for row, b in zip(_b(got), got, strict=True)] == want
        for b in got:  # the VWAP of the bar's prints, to 1/100 cent
            prints = [(p, s) for t, p, s in TRADES if b.timestamp_ns <= t < b.timestamp_ns + MINUTE]
            exact = sum(p * s for p, s in prints) / sum(s for _, s in prints)
            assert abs(b.vwap - exact) <= D("0.00005")
        hours = source.bars("GOOG", "hour", *EVER)
        assert sum(h.volume for h in hours) == sum(s for _, _, s in TRADES)
        assert [h.trade_count for h in hours if h.timestamp_ns < Y2016] == [
            sum(1 for t, _, _ in TRADES if h.timestamp_ns <= t < h.timestamp_ns + 60 * MINUTE)
            for h in hours
            if h.timestamp_ns < Y2016
        ]


def test_an_empty_window_and_a_window_between_rows(sources: list[MarketDataSource]) -> None:
    for source in sources:
        assert source.trades("GOOG", DAY_START, DAY_START) == []
        assert source.bars("GOOG", "day", DAY_START, DAY_START) == []
        first, second = TRADES[0][0], next(t for t, _, _ in TRADES if t > TRADES[0][0])
        got = source.trades("GOOG", first + 1, second)
        assert got == [], source.name


def test_latest_quote(
    sources: list[MarketDataSource], alpaca: AlpacaServer, massive: MassiveServer
) -> None:
    alpaca_source, massive_source = sources
    q = alpaca_source.latest_quote("AAPL")  # the served book's
    assert (q.bid_price, q.bid_size, q.ask_price, q.ask_size) == (D("100"), 300, D("100.02"), 200)
    q = massive_source.latest_quote("GOOG")  # the day's last best levels
    assert _q([q]) == [QUOTES[-1]]


def test_bad_input_is_refused_before_any_request(sources: list[MarketDataSource]) -> None:
    for source in sources:
        cases: list[tuple[Any, str, object]] = [
            (lambda s=source: s.bars("GOOG", "week", 0, 1), "timeframe", "week"),
            (lambda s=source: s.bars("GOOG", "day", 5, 1), "start_ns", 5),
            (lambda s=source: s.trades("GOOG", 5, 1), "start_ns", 5),
            (lambda s=source: s.quotes("GOOG", 0.5, 1), "start_ns", 0.5),
            (lambda s=source: s.trades("goog", 0, 1), "symbol", "goog"),
            (lambda s=source: s.latest_quote(""), "symbol", ""),
        ]
        for call, field, value in cases:
            with pytest.raises(MarketDataError) as e:
                call()
            assert (e.value.source, e.value.field, e.value.value) == (source.name, field, value)


def test_an_unknown_symbol_is_a_typed_error(sources: list[MarketDataSource]) -> None:
    for source in sources:
        for call in (
            lambda s=source: s.trades("NOPE", *EVER),
            lambda s=source: s.quotes("NOPE", *EVER),
            lambda s=source: s.bars("NOPE", "day", *EVER),
            lambda s=source: s.latest_quote("NOPE"),
        ):
            with pytest.raises(MarketDataError) as e:
                call()
            assert (e.value.field, e.value.value) == ("symbol", "NOPE"), source.name


def test_a_wrong_key_is_an_api_key_error(alpaca: AlpacaServer, massive: MassiveServer) -> None:
    wrong: list[MarketDataSource] = [
        AlpacaMarketData(alpaca.key_id, "not-the-secret", base_url=alpaca.base_url),
        MassiveMarketData("not-the-key", base_url=massive.base_url),
    ]
    for source in wrong:
        with pytest.raises(MarketDataApiError) as e:
            source.trades("GOOG", *EVER)
        assert (e.value.field, e.value.value) == ("api_key", 401), source.name


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_a_transient_failure_is_retried(
    sources: list[MarketDataSource],
    alpaca: AlpacaServer,
    massive: MassiveServer,
    status: int,
) -> None:
    want = TRADES[:50]
    window = (want[0][0], want[-1][0] + 1)
    for source, server in zip(sources, (alpaca, massive), strict=True):
        before = server.faults.injected
        server.faults.fail(status, 2)  # two failures, then the answer: within 4 attempts
        try:
            got = source.trades("GOOG", *window)
        finally:
            server.faults.clear()
        assert _t(got) == [r for r in TRADES if window[0] <= r[0] < window[1]]
        assert server.faults.injected - before == 2, source.name  # both were met and retried


@pytest.mark.parametrize(("status", "field"), [(429, "rate_limit"), (503, "status")])
def test_a_failure_past_the_retries_is_typed(
    alpaca: AlpacaServer, massive: MassiveServer, status: int, field: str
) -> None:
    sources: list[MarketDataSource] = [
        AlpacaMarketData(alpaca.key_id, alpaca.secret_key, base_url=alpaca.base_url, attempts=3),
        MassiveMarketData(massive.api_key, base_url=massive.base_url, attempts=3),
    ]
    for source, server in zip(sources, (alpaca, massive), strict=True):
        server.faults.fail(status, 3)
        try:
            with pytest.raises(MarketDataApiError) as e:
                source.quotes("GOOG", DAY_START, DAY_START + MINUTE)
        finally:
            server.faults.clear()
        assert (e.value.field, e.value.value) == (field, status), source.name


def test_a_real_rate_limit_past_the_retries(massive: MassiveServer) -> None:
    with MassiveServer(massive.history, api_key="k", requests_per_minute=2) as limited:
        source = MassiveMarketData("k", base_url=limited.base_url, attempts=2, max_wait=0.05)
        source.latest_quote("GOOG")
        source.latest_quote("GOOG")
        with pytest.raises(MarketDataApiError) as e:
            source.latest_quote("GOOG")
    assert (e.value.field, e.value.value) == ("rate_limit", 429)


def test_no_server_is_a_typed_error() -> None:
    for source in (
        AlpacaMarketData("PK", "s", base_url="http://127.0.0.1:9", attempts=2, max_wait=0.01),
        MassiveMarketData("k", base_url="http://127.0.0.1:9", attempts=2, max_wait=0.01),
    ):
        with pytest.raises(MarketDataApiError) as e:
            source.trades("GOOG", *EVER)
        assert (e.value.field, e.value.value) == ("base_url", "http://127.0.0.1:9")


def test_the_secret_is_not_shown(alpaca: AlpacaServer, massive: MassiveServer) -> None:
    a = AlpacaMarketData(alpaca.key_id, alpaca.secret_key, base_url=alpaca.base_url)
    m = MassiveMarketData(massive.api_key, base_url=massive.base_url)
    assert alpaca.secret_key not in repr(a)
    assert massive.api_key not in repr(m)


_TIMES = [t for t, _, _ in TRADES]
_edge = st.sampled_from(_TIMES).flatmap(lambda t: st.sampled_from([t - 1, t, t + 1]))
_inside = st.integers(DAY_START - MINUTE, DAY_END + MINUTE)


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    a=st.one_of(_edge, _inside),
    length=st.integers(0, 40 * MINUTE),
    page=st.sampled_from([100, 250, 1000, 10_000]),
    kind=st.sampled_from(["trades", "quotes"]),
)
def test_any_window_is_exactly_the_files_rows_in_it_across_page_sizes(
    alpaca: AlpacaServer, massive: MassiveServer, a: int, length: int, page: int, kind: str
) -> None:
    start, end = a, a + length
    alpaca.data_page_limit = page  # type: ignore[attr-defined]
    try:
        sources: list[MarketDataSource] = [
            AlpacaMarketData(alpaca.key_id, alpaca.secret_key, base_url=alpaca.base_url),
            MassiveMarketData(massive.api_key, base_url=massive.base_url, page_size=page),
        ]
        for source in sources:
            if kind == "trades":
                assert _t(source.trades("GOOG", start, end)) == [
                    r for r in TRADES if start <= r[0] < end
                ], source.name
            else:
                assert _q(source.quotes("GOOG", start, end)) == [
                    r for r in QUOTES if start <= r[0] < end
                ], source.name
    finally:
        alpaca.data_page_limit = 1000  # type: ignore[attr-defined]


def test_a_late_answer_past_the_timeout_is_retried_by_alpaca(alpaca: AlpacaServer) -> None:
    source = AlpacaMarketData(
        alpaca.key_id, alpaca.secret_key, base_url=alpaca.base_url, timeout=0.5, max_wait=0.05
    )
    before = alpaca.faults.injected
    alpaca.faults.delay(1.5, 1)  # the first answer comes after the client gave up
    try:
        got = source.trades("GOOG", TRADES[0][0], TRADES[9][0] + 1)
    finally:
        alpaca.faults.clear()
    assert _t(got) == [r for r in TRADES if TRADES[0][0] <= r[0] <= TRADES[9][0]]
    assert alpaca.faults.injected - before == 1


@pytest.mark.parametrize("bad", ["abc", "", True, None, float("nan"), "inf"])
def test_a_field_that_is_no_finite_number_is_a_typed_error(bad: object) -> None:
    with pytest.raises(MarketDataError) as e:
        number(bad, "bp", "alpaca")
    assert (e.value.source, e.value.field, e.value.value) == ("alpaca", "bp", bad)


def test_a_field_is_the_decimal_it_prints_as() -> None:
    assert [number(v, "bp", "alpaca") for v in (579.4, 3, "1.25")] == [D("579.4"), 3, D("1.25")]
