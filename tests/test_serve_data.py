"""A market that moves, on the user's data: ``fillforge serve alpaca --walk`` (a seeded random
walk of quotes and trades), ``--data PATH`` (bars, Tardis, LOBSTER, Databento MBO files),
``--cash`` and ``--seed``; and every bad flag refused in one line with exit code 2."""

from __future__ import annotations

import contextlib
import math
import os
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from alpaca.data.historical import StockHistoricalDataClient
from alpaca.data.requests import StockLatestQuoteRequest
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderSide, OrderStatus, TimeInForce
from alpaca.trading.requests import MarketOrderRequest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from fillforge.alpaca import ServedAlpaca, served_alpaca
from fillforge.alpaca.paper import data_broker, walk_broker
from fillforge.cli import app
from fillforge.errors import MarketDataError, OrderValidationError
from fillforge.orders.models import Instrument
from fillforge.replay import lobster_sample
from fillforge.sim.datafiles import DataFormat, market_files
from fillforge.sim.walk import TRADING_SECONDS_PER_YEAR, WalkConfig, random_walk, walk_feed

D = Decimal
SECOND = 10**9
START = "2026-11-23T10:00:00-05:00"  # a Monday in the session: never the wall clock's hour
CENTS = Instrument(symbol="AAPL", tick_size=D("0.01"), lot_size=D("0.000000001"))

TARDIS_QUOTES = (
    "exchange,symbol,timestamp,local_timestamp,ask_amount,ask_price,bid_price,bid_amount",
    "binance-futures,BTCUSDT,1582556400016000,1582556400019000,2.5,9663.10,9663.00,1.25",
    "binance-futures,BTCUSDT,1582560000016000,1582560000019000,1.5,9663.20,9663.10,0.75",
)
TARDIS_TRADES = (
    "exchange,symbol,timestamp,local_timestamp,id,side,price,amount",
    "binance-futures,BTCUSDT,1582556400016000,1582556400020000,1,buy,9663.10,0.25",
)
MBO = (
    "ts_recv,ts_event,ts_in_delta,instrument_id,symbol,action,side,price,size,order_id,flags,"
    "sequence,channel_id",
    "1703602800000000000,1703602800000000000,0,17077,ESH4,A,B,4799.75,5,11,0,1,0",
    "1703602800000000000,1703602800000000000,0,17077,ESH4,A,A,4800.25,7,12,0,2,0",
    "1703602800000000001,1703602800000000001,0,17077,ESH4,A,B,4800,3,13,0,3,0",
)
BARS = (
    "timestamp,open,high,low,close,volume",
    "2026-11-23 15:00:00,50.10,50.30,50.00,50.20,4000",
    "2026-11-23 15:01:00,50.20,50.25,50.05,50.05,2000",
)


def write(tmp_path: Path, name: str, lines: tuple[str, ...]) -> Path:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return path


def columns(feed: object) -> bytes:
    return b"".join(np.ascontiguousarray(c).tobytes() for c in feed.columns())  # type: ignore[attr-defined]


# ----- the walk -----------------------------------------------------------------------------


def walk(seed: int, config: WalkConfig | None = None, seconds: float = 600) -> bytes:
    feed = walk_feed(
        CENTS, config or WalkConfig(), seed=seed, start_ns=0, end_ns=int(seconds * SECOND)
    )
    return columns(feed)


def test_the_same_seed_gives_the_same_events_byte_for_byte() -> None:
    config = WalkConfig(bid=D("100.00"), ask=D("100.02"), volatility=0.5, rate=20)
    assert walk(7, config) == walk(7, config)
    assert walk(7, config) != walk(8, config)
    # A longer walk extends a shorter one: --duration does not change the market it serves.
    short = random_walk(CENTS, config, seed=7, start_ns=0, end_ns=60 * SECOND)
    long = random_walk(CENTS, config, seed=7, start_ns=0, end_ns=600 * SECOND)
    n = len(short.quotes)
    assert n > 1000
    assert (long.quotes.time_ns[:n] == short.quotes.time_ns).all()
    assert (long.quotes.bid_price[:n] == short.quotes.bid_price).all()
    assert (long.trades.qty[: len(short.trades)] == short.trades.qty).all()


def test_symbols_walk_apart() -> None:
    other = CENTS.model_copy(update={"symbol": "MSFT"})
    config = WalkConfig(rate=20)
    a = random_walk(CENTS, config, seed=1, start_ns=0, end_ns=60 * SECOND)
    b = random_walk(other, config, seed=1, start_ns=0, end_ns=60 * SECOND)
    assert not np.array_equal(a.quotes.time_ns[:100], b.quotes.time_ns[:100])


@settings(max_examples=60)
@given(
    seed=st.integers(0, 2**63),
    volatility=st.floats(0.001, 10),
    rate=st.floats(0.01, 1000),
    bid_cents=st.integers(1, 10**7),
    spread=st.integers(1, 20),
    size=st.integers(1, 10**6),
    tick=st.sampled_from([D("0.01"), D("0.05"), D("0.25"), D(1)]),
)
def test_walk_invariants(
    seed: int, volatility: float, rate: float, bid_cents: int, spread: int, size: int, tick: D
) -> None:
    inst = Instrument(symbol="X", tick_size=tick, lot_size=D("0.001"))
    config = WalkConfig(
        bid=bid_cents * tick,
        ask=(bid_cents + spread) * tick,
        size=D(size),
        volatility=volatility,
        rate=rate,
    )
    start, end = 10**18, 10**18 + 10_000 * SECOND
    w = random_walk(inst, config, seed=seed, start_ns=start, end_ns=end, max_events=3000)
    q, t = w.quotes, w.trades
    assert (q.bid_price[0], q.ask_price[0]) == (bid_cents, bid_cents + spread)
    assert q.time_ns[0] == start
    assert (np.diff(q.time_ns) > 0).all()
    assert q.time_ns[-1] <= end
    assert w.end_ns == q.time_ns[-1]
    assert len(q) - 1 == 3000 or q.time_ns[-1] + 30 * SECOND / rate > end  # stopped at the end
    assert (q.bid_price >= 1).all()  # positive, on the tick grid (whole ticks)
    assert (q.ask_price - q.bid_price == spread).all()  # bid < ask, the spread kept
    step = 1000  # size_step 1 on a 0.001 lot
    for sizes in (q.bid_qty, q.ask_qty, t.qty):
        assert (sizes > 0).all()
        assert (sizes % step == 0).all()
    i = np.searchsorted(q.time_ns, t.time_ns)
    assert (q.time_ns[i] == t.time_ns).all()  # each trade prints with its step's quote
    buys = t.aggressor == 1
    assert (t.price == np.where(buys, q.ask_price[i], q.bid_price[i])).all()
    assert (t.qty <= np.where(buys, q.ask_qty[i], q.bid_qty[i])).all()


def test_a_walk_stays_positive_at_a_penny() -> None:
    config = WalkConfig(bid=D("0.01"), ask=D("0.02"), volatility=10, rate=1000)
    w = random_walk(CENTS, config, seed=3, start_ns=0, end_ns=600 * SECOND)
    assert w.quotes.bid_price.min() == 1  # floored at one tick, never zero
    assert (w.quotes.ask_price == w.quotes.bid_price + 1).all()


@pytest.mark.parametrize("volatility", [0.15, 0.6])
def test_realised_volatility_matches_the_requested_one(volatility: float) -> None:
    config = WalkConfig(bid=D("100.00"), ask=D("100.01"), volatility=volatility, rate=0.25)
    days = 45
    w = random_walk(CENTS, config, seed=2026, start_ns=0, end_ns=days * 86_400 * SECOND)
    q = w.quotes
    every = 600 * SECOND  # the mid every ten minutes (the tick's rounding noise is negligible)
    grid = np.arange(0, days * 86_400 * SECOND, every)
    at = np.searchsorted(q.time_ns, grid, side="right") - 1
    mid = (q.bid_price[at] + q.ask_price[at]) / 2
    returns = np.diff(np.log(mid))
    realised = returns.std() * math.sqrt(TRADING_SECONDS_PER_YEAR / (every / SECOND))
    assert len(returns) > 6000  # a relative standard error under 1%
    assert realised == pytest.approx(volatility, rel=0.05)


def test_walk_config_refuses_out_of_range() -> None:
    for bad in (
        {"volatility": 0},
        {"volatility": 11},
        {"volatility": math.nan},
        {"rate": 0},
        {"rate": 5000},
        {"bid": D("100.02"), "ask": D("100.00")},
        {"size": D(0)},
        {"trade_share": 1.5},
    ):
        with pytest.raises(OrderValidationError):
            WalkConfig(**bad)  # type: ignore[arg-type]


def test_walk_broker_quotes_move_and_orders_fill() -> None:
    t0 = 1_795_446_000 * SECOND  # 2026-11-23 10:00 New York
    config = WalkConfig(bid=D("100.00"), ask=D("100.02"), volatility=1, rate=10)
    broker = walk_broker({"AAPL": config}, end_ns=t0 + 3600 * SECOND, start_ns=t0, seed=5)
    market = broker.venue.market("AAPL")
    broker.run(until_ns=t0 + 1)
    assert (market.best_bid(), market.best_ask()) == (D("100.00"), D("100.02"))
    seen = set()
    for minute in range(1, 11):
        broker.run(until_ns=t0 + minute * 60 * SECOND)
        seen.add(market.best_bid())
    assert len(seen) > 3
    assert market.last() is not None


# ----- recognising the user's files ---------------------------------------------------------


def test_formats_are_recognised(tmp_path: Path) -> None:
    message, orderbook = lobster_sample()
    quotes = write(tmp_path, "q.csv", TARDIS_QUOTES)
    trades = write(tmp_path, "t.csv", TARDIS_TRADES)
    cases = [
        ([write(tmp_path, "bars.csv", BARS)], DataFormat.BARS, None),
        ([quotes, trades], DataFormat.TARDIS, "BTCUSDT"),
        ([trades], DataFormat.TARDIS, "BTCUSDT"),
        ([message, orderbook], DataFormat.LOBSTER, "GOOG"),
        ([message], DataFormat.LOBSTER, "GOOG"),
        ([write(tmp_path, "mbo.csv", MBO)], DataFormat.MBO, "ESH4"),
    ]
    for paths, fmt, symbol in cases:
        got = market_files(list(paths))
        assert (got.format, got.symbol) == (fmt, symbol)
        assert market_files(list(paths), fmt.value).format is fmt
    assert market_files([message]).paths["orderbook"] == orderbook
    with pytest.raises(MarketDataError, match="looks like tardis data"):
        market_files([quotes], "bars")
    with pytest.raises(MarketDataError, match="not recognised"):
        market_files([write(tmp_path, "x.csv", ("a,b", "1,2"))])
    with pytest.raises(MarketDataError, match="files of one format"):
        market_files([quotes, write(tmp_path, "b.csv", BARS)])


def test_data_broker_starts_at_the_first_message_or_at_start(tmp_path: Path) -> None:
    files = market_files([write(tmp_path, "quotes.csv", TARDIS_QUOTES)])
    inst = Instrument(symbol="BTCUSDT", tick_size=D("0.01"), lot_size=D("0.001"))
    broker = data_broker(files, inst)
    assert broker.now() == 1582556400016000 * 1000
    broker.run(until_ns=broker.now() + 1)
    assert broker.venue.market("BTCUSDT").best_bid() == D("9663.00")
    later = 1582560000016000 * 1000 + 1  # just after the second quote
    broker = data_broker(files, inst, start_ns=later, cash=D(5))
    broker.run(until_ns=later + 1)  # what came before the start is replayed at once
    assert broker.venue.market("BTCUSDT").best_bid() == D("9663.10")
    assert broker.account().cash == 5


# ----- the served market --------------------------------------------------------------------


def latest(s: ServedAlpaca, symbol: str) -> tuple[float, float, float, float]:
    data = StockHistoricalDataClient(s.key_id, s.secret_key, url_override=s.base_url)
    q = data.get_stock_latest_quote(StockLatestQuoteRequest(symbol_or_symbols=symbol))[symbol]
    return q.bid_price, q.ask_price, q.bid_size, q.ask_size


def serve(*args: str) -> contextlib.AbstractContextManager[ServedAlpaca]:
    return served_alpaca("--duration", "60", *args)


def buy(s: ServedAlpaca, symbol: str, qty: float) -> tuple[OrderStatus, float]:
    c = TradingClient(s.key_id, s.secret_key, url_override=s.base_url)
    o = c.submit_order(
        MarketOrderRequest(
            symbol=symbol, qty=qty, side=OrderSide.BUY, time_in_force=TimeInForce.DAY
        )
    )
    for _ in range(50):  # a fill may reach the client's next look
        if o.status is OrderStatus.FILLED:
            break
        time.sleep(0.1)
        o = c.get_order_by_id(o.id)
    return o.status, float(o.filled_avg_price or 0)


def test_the_served_walk_moves_and_fills() -> None:
    args = ("--data", "scripted", "--walk", "--volatility", "150%", "--rate", "50")
    with serve(*args, "--seed", "11", "--start", START, "--quote", "AAPL=100.00/100.02x500") as s:
        first = latest(s, "AAPL")
        deadline = time.monotonic() + 20
        while (now := latest(s, "AAPL"))[:2] == first[:2] and time.monotonic() < deadline:
            time.sleep(0.2)
        assert now[:2] != first[:2]  # the market moved
        bid, ask, bid_size, ask_size = now
        assert 0 < bid < ask
        assert bid_size > 0
        assert ask_size > 0
        assert round(bid * 100) == pytest.approx(bid * 100)  # on the cent grid
        for other in ("MSFT", "SPY"):  # the others walk from 100.00/100.01
            b, a, _, _ = latest(s, other)
            assert 90 < b < a < 110
        status, price = buy(s, "AAPL", 5)
        assert status is OrderStatus.FILLED
        assert 90 < price < 110
    said = "".join(s.output)
    assert "the walk is drawn until 2026-11-23T10:01:" in said  # 60 s + the margin at 1x


def test_cash_shows_in_the_account_and_the_seed_repeats_the_order_ids() -> None:
    def first_id() -> str:
        args = ("--data", "scripted", "--quote", "AAPL=10/10.01", "--start", START)
        with serve(*args, "--cash", "12345.67", "--seed", "42") as s:
            c = TradingClient(s.key_id, s.secret_key, url_override=s.base_url)
            account = c.get_account()
            assert (account.cash, account.equity) == ("12345.67", "12345.67")
            o = c.submit_order(
                MarketOrderRequest(
                    symbol="AAPL", qty=1, side=OrderSide.BUY, time_in_force=TimeInForce.DAY
                )
            )
            return str(o.id)

    assert first_id() == first_id()


def test_the_calendar_flag_sets_the_sessions_orders_wait_for() -> None:
    # Crypto trades always: with --calendar 24/7 a Saturday is in session and a market order
    # fills at once; on the default XNYS the same order waits for Monday's open.
    saturday = "2026-11-28T12:00:00+00:00"
    args = ("--data", "scripted", "--quote", "AAPL=100.00/100.02", "--start", saturday)
    with serve(*args, "--calendar", "24/7") as s:
        c = TradingClient(s.key_id, s.secret_key, url_override=s.base_url)
        assert c.get_clock().is_open
        assert buy(s, "AAPL", 1) == (OrderStatus.FILLED, 100.02)
    with serve(*args) as s:
        c = TradingClient(s.key_id, s.secret_key, url_override=s.base_url)
        assert not c.get_clock().is_open
        o = c.submit_order(
            MarketOrderRequest(
                symbol="AAPL", qty=1, side=OrderSide.BUY, time_in_force=TimeInForce.DAY
            )
        )
        time.sleep(0.3)
        waiting = c.get_order_by_id(o.id)
        assert (waiting.status, waiting.filled_qty) == (OrderStatus.ACCEPTED, "0")


def test_data_bars(tmp_path: Path) -> None:
    bars = write(tmp_path, "bars.csv", BARS)
    with serve("--data", str(bars), "--symbol", "xyz", "--speed", "1") as s:
        c = TradingClient(s.key_id, s.secret_key, url_override=s.base_url)
        assert [a.symbol for a in c.get_all_assets()] == ["XYZ"]
        assert c.get_clock().timestamp.isoformat().startswith("2026-11-23T15:00:0")
        bid, ask, _, _ = latest(s, "XYZ")
        assert (bid, ask) == (50.09, 50.11)  # the bar's open, a tick either side
        assert buy(s, "XYZ", 10) == (OrderStatus.FILLED, 50.11)


def test_data_tardis(tmp_path: Path) -> None:
    quotes = write(tmp_path, "quotes.csv", TARDIS_QUOTES)
    trades = write(tmp_path, "trades.csv", TARDIS_TRADES)
    with serve("--data", str(quotes), "--data", str(trades), "--lot", "0.001") as s:
        # The first quote, less the 0.25 the buyer's trade at the same instant took.
        assert latest(s, "BTCUSDT") == (9663.00, 9663.10, 1.25, 2.25)
        assert buy(s, "BTCUSDT", 0.5) == (OrderStatus.FILLED, 9663.10)


def test_data_lobster_pair_and_message_alone() -> None:
    message, orderbook = lobster_sample()
    with serve("--data", str(message), "--data", str(orderbook), "--format", "lobster") as s:
        bid, ask, _, _ = latest(s, "GOOG")
        assert 560 < bid < ask < 590
    with serve("--data", str(message), "--symbol", "goog2", "--speed", "600") as s:
        bid, ask, _, _ = latest(s, "GOOG2")
        assert 560 < bid < ask < 590
        status, price = buy(s, "GOOG2", 10)
        assert status is OrderStatus.FILLED
        assert 560 < price < 590


def test_data_mbo(tmp_path: Path) -> None:
    mbo = write(tmp_path, "es.csv", MBO)
    with serve("--data", str(mbo), "--tick", "0.25") as s:
        assert latest(s, "ESH4") == (4800.0, 4800.25, 3.0, 7.0)
        assert buy(s, "ESH4", 2) == (OrderStatus.FILLED, 4800.25)


# ----- bad flags ----------------------------------------------------------------------------

ENV = {"APCA_API_KEY_ID": "cli-key", "APCA_API_SECRET_KEY": "cli-secret"}


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    tmp = tmp_path_factory.mktemp("flags")
    return {
        "bars": str(write(tmp, "bars.csv", BARS)),
        "quotes": str(write(tmp, "quotes.csv", TARDIS_QUOTES)),
        "garbage": str(write(tmp, "garbage.csv", ("hello,world", "1,2"))),
        "orderbook": str(lobster_sample()[1]),
        "dir": str(tmp),
        "offtick": str(write(tmp, "off.csv", (*BARS, "2026-11-23 15:02:00,50.001,50.1,50,50,1"))),
    }


BAD = [
    (["--data", "scripted", "--walk", "--volatility", "abc"], "--volatility='abc': not a number"),
    (["--data", "scripted", "--walk", "--volatility", "0"], "--volatility='0': must be in (0, 10]"),
    (["--data", "scripted", "--walk", "--volatility", "nan"], "--volatility='nan': must be in"),
    (["--data", "scripted", "--walk", "--volatility", "1100%"], "--volatility='1100%': must be"),
    (["--data", "scripted", "--walk", "--rate", "0"], "--rate='0': must be in [0.001, 1000]"),
    (["--data", "scripted", "--walk", "--rate", "1e9"], "--rate='1e9': must be in [0.001, 1000]"),
    (["--data", "scripted", "--walk", "--rate", "-"], "--rate='-': not a number"),
    (["--walk"], "--data='lobster': --walk needs --data scripted"),
    (["--data", "lobster", "--walk"], "--data='lobster': --walk needs --data scripted"),
    (["--data", "{bars}", "--walk"], "--walk needs --data scripted"),
    (["--data", "scripted", "--rate", "5"], "--rate='5': needs --walk"),
    (["--data", "scripted", "--volatility", "0.3"], "--volatility='0.3': needs --walk"),
    (
        ["--data", "scripted", "--walk", "--quote", "AAPL=100.001/100.02"],
        "--quote='AAPL=100.001/100.02': bid 100.001: not a multiple of the tick size 0.01",
    ),
    (
        ["--data", "scripted", "--quote", "AAPL=100.001/100.02"],
        "--quote='AAPL=100.001/100.02': bid 100.001: not a multiple of the tick size 0.01",
    ),
    (["--cash", "-5"], "--cash='-5': must be >= 0"),
    (["--cash", "NaN"], "--cash='NaN': must be a finite number"),
    (["--cash", "Infinity"], "--cash='Infinity': must be a finite number"),
    (["--cash", "lots"], "--cash='lots': not a number"),
    (["--seed", "-1"], "--seed='-1': must be a non-negative integer"),
    (["--seed", "1.5"], "--seed='1.5': not an integer"),
    (["--data", "/no/such/file.csv"], "--data='/no/such/file.csv': no such file"),
    (["--data", "nope"], "--data='nope': no such file"),
    (["--data", "scripted", "--data", "lobster"], "--data='scripted': stands alone"),
    (["--data", "{garbage}"], "garbage.csv': not recognised as a bars, Tardis, LOBSTER or"),
    (["--data", "{dir}"], "not a file"),
    (["--data", "{quotes}", "--format", "bars"], "looks like tardis data (quotes), not bars"),
    (["--data", "{quotes}", "--format", "csv"], "--format='csv': expected bars, tardis, lobster"),
    (["--data", "{bars}"], "bars data names no symbol: give --symbol"),
    (["--data", "{bars}", "--symbol", "X", "--tick", "0"], "--tick='0': must be > 0"),
    (["--data", "{bars}", "--symbol", "X", "--lot", "x"], "--lot='x': not a number"),
    (["--data", "{offtick}", "--symbol", "X"], "line 4: open='50.001': not a multiple of"),
    (["--data", "{quotes}"], "bid_amount='1.25'"),  # the default lot is 1
    (["--data", "{orderbook}"], "a LOBSTER orderbook file needs its message file"),
    (["--data", "scripted", "--format", "bars"], "--format='bars': needs --data PATH"),
    (["--data", "scripted", "--symbol", "X"], "--symbol='X': needs --data PATH"),
    (["--data", "scripted", "--tick", "0.01"], "--tick='0.01': needs --data PATH"),
    (["--data", "{bars}", "--quote", "X=1/2"], "--quote='X=1/2': needs --data scripted"),
    (["--calendar", "NOPE"], "--calendar='NOPE': not an exchange_calendars calendar name"),
    (["--calendar", ""], "--calendar='': not an exchange_calendars calendar name"),
    (["--data", "scripted", "--calendar", "24/6"], "--calendar='24/6': not an exchange_calendars"),
]


@pytest.mark.parametrize(("args", "says"), BAD, ids=[" ".join(a) for a, _ in BAD])
def test_a_bad_flag_is_one_line_and_exit_code_2(
    files: dict[str, str], args: list[str], says: str
) -> None:
    argv = ["serve", "alpaca", "--duration", "0", *(a.format(**files) for a in args)]
    result = CliRunner().invoke(app, argv, env=ENV)
    out = result.output.strip()
    assert result.exit_code == 2, out
    assert out.startswith("error: "), out
    assert "\n" not in out, out
    assert says in out
    assert "Traceback" not in out
    assert isinstance(result.exception, SystemExit)  # typer's exit, nothing raised past it


def test_a_bad_flag_in_a_real_process(files: dict[str, str]) -> None:
    cmd = [sys.executable, "-m", "fillforge", "serve", "alpaca", "--duration", "1"]
    for args, says in (
        (["--data", "scripted", "--walk", "--rate", "0"], "--rate='0': must be in"),
        (["--data", files["offtick"], "--symbol", "X"], "open='50.001': not a multiple"),
    ):
        proc = subprocess.run(
            [*cmd, *args], env=dict(os.environ, **ENV), capture_output=True, text=True, check=False
        )
        assert proc.returncode == 2
        assert proc.stdout.startswith("error: ")
        assert proc.stdout.count("\n") == 1
        assert says in proc.stdout
        assert "Traceback" not in proc.stdout + proc.stderr
        assert "http://" not in proc.stdout  # it never started
