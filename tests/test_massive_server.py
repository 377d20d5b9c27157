"""The Massive-compatible server over HTTP: the key check, Massive's JSON shapes and error bodies,
``next_url`` pagination (ascending and descending), the time filters, the rate limit; and the
unmodified massive client reading it page by page."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import massive
import pytest
import requests

from fillforge.errors import SimulationError
from fillforge.massive.history import History, shipped_history
from fillforge.massive.server import MassiveServer

MS = 1_000_000


@pytest.fixture(scope="module")
def server() -> Iterator[MassiveServer]:
    with MassiveServer(api_key=secrets.token_hex(16)) as s:
        yield s


def get(server: MassiveServer, path: str, *, key: bool = True, **params: Any) -> requests.Response:
    headers = {"Authorization": f"Bearer {server.api_key}"} if key else {}
    return requests.get(server.base_url + path, params=params, headers=headers, timeout=30)


def follow(server: MassiveServer, path: str, **params: Any) -> tuple[list[dict[str, Any]], int]:
    """Every page's results, and how many pages."""
    r = get(server, path, **params)
    out, pages = [], 0
    while True:
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["status"] == "OK"
        assert body["request_id"]
        out += body["results"]
        pages += 1
        if "next_url" not in body:
            return out, pages
        assert body["next_url"].startswith(server.base_url)
        r = requests.get(body["next_url"], headers={"Authorization": f"Bearer {server.api_key}"})


def test_the_key_is_checked_in_the_header_or_the_query(server: MassiveServer) -> None:
    missing = get(server, "/v2/last/nbbo/GOOG", key=False)
    assert missing.status_code == 401
    assert missing.json()["status"] == "ERROR"
    assert missing.json()["error"] == "API Key was not provided"
    wrong = requests.get(f"{server.base_url}/v2/last/nbbo/GOOG", params={"apiKey": "x"})
    assert (wrong.status_code, wrong.json()["error"]) == (401, "Unknown API Key")
    ok = requests.get(f"{server.base_url}/v2/last/nbbo/GOOG", params={"apiKey": server.api_key})
    assert ok.status_code == 200
    assert server.api_key not in repr(server)


def test_last_quote_shape(server: MassiveServer) -> None:
    body = get(server, "/v2/last/nbbo/GOOG").json()
    last = shipped_history().quotes("GOOG")[-1]
    r = body["results"]
    assert (r["T"], r["p"], r["s"], r["P"], r["S"], r["t"]) == (
        "GOOG",
        float(last.bid),  # type: ignore[arg-type]
        last.bid_size,
        float(last.ask),  # type: ignore[arg-type]
        last.ask_size,
        last.t,
    )
    nope = get(server, "/v2/last/nbbo/NOPE")
    assert nope.status_code == 404
    assert nope.json()["status"] == "NOT_FOUND"
    assert nope.json()["message"]


@pytest.mark.parametrize("order", ["asc", "desc"])
def test_trades_page_by_next_url_in_either_order(server: MassiveServer, order: str) -> None:
    trades = shipped_history().trades("GOOG")
    lo, hi = trades[100].t, trades[1234].t  # [lo, hi)
    rows, pages = follow(
        server,
        "/v3/trades/GOOG",
        limit=100,
        order=order,
        **{"timestamp.gte": lo, "timestamp.lt": hi},
    )
    want = [t for t in trades if lo <= t.t < hi]
    if order == "desc":
        want = want[::-1]
    assert [(r["sip_timestamp"], r["price"], r["size"]) for r in rows] == [
        (t.t, float(t.price), t.size) for t in want
    ]
    assert pages == -(-len(want) // 100)


def test_the_time_filters(server: MassiveServer) -> None:
    trades = shipped_history().trades("GOOG")
    t = trades[10].t
    for params, want in (
        (
            {"timestamp.gt": t, "timestamp.lte": trades[20].t},
            [x for x in trades if t < x.t <= trades[20].t],
        ),
        ({"timestamp": t}, [x for x in trades if x.t == t]),
        ({"timestamp": "2012-06-21"}, list(trades)),
        ({"timestamp": "2012-06-22"}, []),
    ):
        rows, _ = follow(server, "/v3/trades/GOOG", order="asc", limit=50_000, **params)
        assert [r["sip_timestamp"] for r in rows] == [x.t for x in want], params


def test_quotes_shape(server: MassiveServer) -> None:
    quotes = shipped_history().quotes("GOOG")
    body = get(server, "/v3/quotes/GOOG", order="asc", limit=3).json()
    first = body["results"][0]
    assert (first["bid_price"], first["bid_size"], first["ask_price"], first["ask_size"]) == (
        float(quotes[0].bid),  # type: ignore[arg-type]
        quotes[0].bid_size,
        float(quotes[0].ask),  # type: ignore[arg-type]
        quotes[0].ask_size,
    )
    assert first["sip_timestamp"] == quotes[0].t
    assert first["sequence_number"] == quotes[0].seq
    assert "cursor=" in body["next_url"]


@pytest.mark.parametrize("sort", ["asc", "desc"])
def test_aggregates_page_by_next_url(server: MassiveServer, sort: str) -> None:
    days = shipped_history().bars("SPY", "day")
    rows, pages = follow(
        server, "/v2/aggs/ticker/SPY/range/1/day/2016-01-01/2017-12-31", limit=100, sort=sort
    )
    want = days if sort == "asc" else days[::-1]
    assert [(r["t"], r["o"], r["c"], r["v"]) for r in rows] == [
        (b.t // MS, float(b.o), float(b.c), b.v) for b in want
    ]
    assert pages == 6  # 503 bars, 100 a page
    assert all("vw" not in r and "n" not in r for r in rows)  # the file has neither


def test_aggregates_bounds_are_inclusive_milliseconds(server: MassiveServer) -> None:
    minutes = shipped_history().bars("GOOG", "minute")
    lo, hi = minutes[3].t // MS, minutes[7].t // MS
    body = get(server, f"/v2/aggs/ticker/GOOG/range/1/minute/{lo}/{hi}").json()
    assert [r["t"] for r in body["results"]] == [b.t // MS for b in minutes[3:8]]
    assert body["resultsCount"] == 5
    assert body["ticker"] == "GOOG"
    assert {"vw", "n"} <= set(body["results"][0])


@pytest.mark.parametrize(
    ("path", "params", "says"),
    [
        ("/v2/aggs/ticker/GOOG/range/5/minute/0/1", {}, "multiplier"),
        ("/v2/aggs/ticker/GOOG/range/1/week/0/1", {}, "timespan"),
        ("/v2/aggs/ticker/GOOG/range/1/day/yesterday/1", {}, "from"),
        ("/v2/aggs/ticker/GOOG/range/x/day/0/1", {}, "multiplier"),
        ("/v3/trades/GOOG", {"limit": 0}, "limit"),
        ("/v3/trades/GOOG", {"limit": 50_001}, "limit"),
        ("/v3/trades/GOOG", {"order": "up"}, "order"),
        ("/v3/trades/GOOG", {"cursor": "nonsense"}, "cursor"),
        ("/v3/quotes/GOOG", {"timestamp.gte": "soon"}, "timestamp.gte"),
    ],
)
def test_bad_parameters_are_400_in_massives_shape(
    server: MassiveServer, path: str, params: dict[str, Any], says: str
) -> None:
    r = get(server, path, **params)
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["status"] == "ERROR"
    assert body["request_id"]
    assert says in body["error"]


def test_unknown_tickers_and_routes_are_404_not_found(server: MassiveServer) -> None:
    for path in ("/v3/trades/NOPE", "/v2/aggs/ticker/NOPE/range/1/day/0/1", "/v9/nothing"):
        r = get(server, path)
        assert r.status_code == 404
        assert r.json()["status"] == "NOT_FOUND"


def test_the_rate_limit_is_429_in_massives_shape() -> None:
    with MassiveServer(shipped_history(), api_key="k", requests_per_minute=1) as limited:
        assert get(limited, "/v2/last/nbbo/GOOG").status_code == 200
        r = get(limited, "/v2/last/nbbo/GOOG")
    assert r.status_code == 429
    assert r.json()["status"] == "ERROR"
    assert "maximum requests" in r.json()["error"]


def test_the_unmodified_client_reads_every_page(server: MassiveServer) -> None:
    client = massive.RESTClient(api_key=server.api_key, base=server.base_url)
    trades = shipped_history().trades("GOOG")
    got = list(client.list_trades("GOOG", order="asc", limit=777))
    assert [(g.sip_timestamp, g.price, g.size) for g in got] == [
        (t.t, float(t.price), t.size) for t in trades
    ]
    aggs = list(client.list_aggs("AAPL", 1, "day", "2016-01-01", "2017-12-31", limit=50))
    assert [a.timestamp for a in aggs] == [b.t // MS for b in shipped_history().bars("AAPL", "day")]
    last = client.get_last_quote("GOOG")
    assert last.sip_timestamp == shipped_history().quotes("GOOG")[-1].t


def test_a_server_refuses_bad_settings() -> None:
    with pytest.raises(SimulationError) as e:
        MassiveServer(History(), api_key="")
    assert e.value.field == "api_key"
    with pytest.raises(SimulationError) as e:
        MassiveServer(History(), api_key="k", requests_per_minute=0)
    assert (e.value.field, e.value.value) == ("requests_per_minute", 0)


def test_a_late_answer_past_the_timeout_is_retried() -> None:
    from fillforge.marketdata.massive import MassiveMarketData

    with MassiveServer(shipped_history(), api_key="k") as s:
        source = MassiveMarketData("k", base_url=s.base_url, timeout=0.5, max_wait=0.05)
        s.faults.delay(1.5, 1)  # the first answer comes after the client gave up
        q = source.latest_quote("GOOG")
        assert q.timestamp_ns == shipped_history().quotes("GOOG")[-1].t
        assert s.faults.injected == 1
