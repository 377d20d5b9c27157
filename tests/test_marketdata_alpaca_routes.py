"""The Alpaca server's historical data routes over HTTP, as Alpaca's data API answers: the
multi-symbol and one-symbol routes, ``next_page_token`` across symbols, inclusive ``start`` and
``end``, and refusals (422 naming the parameter, 401 without the key)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import requests

from fillforge.alpaca import AlpacaServer, scripted_broker
from fillforge.massive.history import shipped_history
from fillforge.testing import ALPACA_SERVER_START_NS
from fillforge.time import from_iso, to_iso


@pytest.fixture(scope="module")
def server() -> Iterator[AlpacaServer]:
    broker = scripted_broker(("AAPL",), start_ns=ALPACA_SERVER_START_NS)
    s = AlpacaServer(
        broker,
        key_id=f"PK{secrets.token_hex(8).upper()}",
        secret_key=secrets.token_urlsafe(24),
        speed=None,
        requests_per_minute=100_000,
    )
    with s:
        yield s


def get(server: AlpacaServer, path: str, *, key: bool = True, **params: Any) -> requests.Response:
    headers = (
        {"APCA-API-KEY-ID": server.key_id, "APCA-API-SECRET-KEY": server.secret_key} if key else {}
    )
    return requests.get(server.base_url + path, params=params, headers=headers, timeout=30)


def test_multi_symbol_bars_page_across_symbols(server: AlpacaServer) -> None:
    params: dict[str, Any] = {"symbols": "SPY,AAPL", "timeframe": "1Day", "limit": 200}
    params.update(start="2016-01-01", end="2016-12-31")
    got: dict[str, list[dict[str, Any]]] = {}
    pages = 0
    while True:
        r = get(server, "/v2/stocks/bars", **params)
        assert r.status_code == 200, r.text
        body = r.json()
        pages += 1
        assert sum(len(v) for v in body["bars"].values()) <= 200
        for symbol, rows in body["bars"].items():
            got.setdefault(symbol, []).extend(rows)
        if body["next_page_token"] is None:
            break
        params["page_token"] = body["next_page_token"]
    h = shipped_history()
    y2017 = from_iso("2017-01-01T00:00:00Z")
    for symbol in ("AAPL", "SPY"):
        want = [b for b in h.bars(symbol, "day") if b.t < y2017]
        assert [(from_iso(r["t"]), r["o"], r["c"], r["v"]) for r in got[symbol]] == [
            (b.t, float(b.o), float(b.c), b.v) for b in want
        ]
    assert pages == 3  # 2 x 252 bars, 200 a page
    assert list(got) == ["AAPL", "SPY"]  # in alphabetical order


def test_one_symbol_trades_with_inclusive_bounds(server: AlpacaServer) -> None:
    trades = shipped_history().trades("GOOG")
    lo, hi = trades[5].t, trades[40].t
    body = get(server, "/v2/stocks/GOOG/trades", start=to_iso(lo), end=to_iso(hi), limit=10_000)
    assert body.status_code == 200
    rows = body.json()
    assert rows["symbol"] == "GOOG"
    assert rows["next_page_token"] is None
    assert [(from_iso(r["t"]), r["p"], r["s"]) for r in rows["trades"]] == [
        (t.t, float(t.price), t.size) for t in trades if lo <= t.t <= hi
    ]


def test_one_symbol_quotes_shape(server: AlpacaServer) -> None:
    q = shipped_history().quotes("GOOG")[0]
    body = get(server, "/v2/stocks/GOOG/quotes", limit=1).json()
    (row,) = body["quotes"]
    assert (row["bp"], row["bs"], row["ap"], row["as"]) == (
        float(q.bid),  # type: ignore[arg-type]
        q.bid_size,
        float(q.ask),  # type: ignore[arg-type]
        q.ask_size,
    )
    assert body["next_page_token"]


@pytest.mark.parametrize(
    ("path", "params", "says"),
    [
        ("/v2/stocks/bars", {"symbols": "GOOG", "timeframe": "5Min"}, "timeframe"),
        ("/v2/stocks/bars", {"symbols": "GOOG"}, "timeframe"),
        ("/v2/stocks/trades", {"symbols": "NOPE"}, "invalid symbol"),
        ("/v2/stocks/GOOG/trades", {"limit": "0"}, "limit"),
        ("/v2/stocks/GOOG/trades", {"limit": "10001"}, "limit"),
        ("/v2/stocks/GOOG/trades", {"start": "2013-01-01", "end": "2012-01-01"}, "start"),
        ("/v2/stocks/GOOG/trades", {"start": "yesterday"}, "start"),
        ("/v2/stocks/GOOG/trades", {"sort": "desc"}, "sort"),
        ("/v2/stocks/GOOG/quotes", {"page_token": "%%%"}, "page_token"),
    ],
)
def test_bad_parameters_are_422_naming_them(
    server: AlpacaServer, path: str, params: dict[str, Any], says: str
) -> None:
    r = get(server, path, **params)
    assert r.status_code == 422, r.text
    assert says in r.json()["message"]


def test_the_key_is_required(server: AlpacaServer) -> None:
    assert get(server, "/v2/stocks/GOOG/trades", key=False).status_code == 401


def test_a_symbol_only_the_venue_has_is_what_it_printed_so_far() -> None:
    """The LOBSTER day served as GOOGL (a symbol the history does not hold): the trades route
    answers the venue's prints up to the replay's clock, which are the file's executions."""
    from fillforge.alpaca.paper import data_broker
    from fillforge.marketdata.alpaca import AlpacaMarketData
    from fillforge.orders.models import Instrument
    from fillforge.replay.samples import lobster_sample
    from fillforge.sim.datafiles import market_files

    files = market_files(list(lobster_sample()))
    broker = data_broker(files, Instrument(symbol="GOOGL", tick_size=Decimal("0.01")))
    s = AlpacaServer(broker, key_id="PKVENUE", secret_key=secrets.token_urlsafe(24), speed=None)
    day = shipped_history().trades("GOOG")
    with s:
        source = AlpacaMarketData(s.key_id, s.secret_key, base_url=s.base_url)
        start = s.call(lambda b: b.now())  # the first message applied, nothing after it
        assert _close(source.trades("GOOGL", 0, 1 << 62), [t for t in day if t.t <= start])
        later = next(t.t for t in day[500:] if t.t > day[500].t)
        until = (day[500].t + later) // 2  # between two prints
        s.call(lambda b: b.run(until_ns=until))
        assert _close(source.trades("GOOGL", 0, 1 << 62), [t for t in day if t.t <= until])
        bars = source.bars("GOOGL", "minute", 0, 1 << 62)
        assert sum(b.volume for b in bars) == sum(t.size for t in day if t.t <= until)
        assert source.quotes("GOOGL", 0, 1 << 62) == []  # the venue's book is not kept


def _close(got: list[Any], want: list[Any]) -> bool:
    """The venue's prints against the file's: the same times and sizes, prices on the
    instrument's cent grid (a hidden execution at a half cent prints rounded)."""
    assert [(g.timestamp_ns, g.size) for g in got] == [(w.t, w.size) for w in want]
    assert all(abs(g.price - w.price) <= Decimal("0.005") for g, w in zip(got, want, strict=True))
    return True
