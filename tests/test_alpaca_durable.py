"""The paper server's journal in one process (issue 18): a server restored from its journal
answers every route as the server that wrote it did; a restart with other options, a journal that
is not a server's, or a replay that diverges is refused; the rate windows survive; the clock
resumes where the journal says. The kill -9 of a served process is tests/test_alpaca_durable_kill.
"""

from __future__ import annotations

import contextlib
import json
import random
import secrets
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests
from alpaca.common.exceptions import APIError
from alpaca.trading.enums import OrderClass, OrderSide, TimeInForce
from alpaca.trading.requests import (
    CreateWatchlistRequest,
    LimitOrderRequest,
    MarketOrderRequest,
    ReplaceOrderRequest,
    StopLossRequest,
    TakeProfitRequest,
)
from postgres_server import fresh_journal_url, postgres_server  # noqa: F401
from served_helpers import trading_client

from fillforge.alpaca import AlpacaServer, walk_broker
from fillforge.alpaca.durable import (
    CLOCK,
    CONFIG,
    OP,
    ServerJournal,
    ServerSetup,
    default_journal_path,
    open_served,
)
from fillforge.errors import JournalError
from fillforge.journal import Journal
from fillforge.sim.walk import WalkConfig
from fillforge.time import from_iso

T0 = from_iso("2024-06-04T10:00:00-04:00", "start")  # a Tuesday, the market open
SECOND = 10**9
OPTIONS = {"data": ["walk"], "cash": "100000"}
KEY, SECRET = f"PK{secrets.token_hex(8).upper()}", secrets.token_urlsafe(24)


def build(setup: ServerSetup, *, speed: float | None = None, rpm: int = 100_000) -> AlpacaServer:
    """The server a setup gives: AAPL and MSFT on seeded walks (a step every 50 ms)."""
    assert setup.seed is not None
    assert setup.start_ns is not None
    walks = {s: WalkConfig(volatility=0.6, rate=20) for s in ("AAPL", "MSFT")}
    broker = walk_broker(
        walks, end_ns=setup.start_ns + 3600 * SECOND, seed=setup.seed, start_ns=setup.start_ns
    )
    return AlpacaServer(broker, key_id=KEY, secret_key=SECRET, speed=speed, requests_per_minute=rpm)


def serve(path: Path | str, **kw: Any) -> tuple[AlpacaServer, ServerJournal]:
    """Open the journal, build the server from its setup, restore it and start it."""
    kept = ServerJournal.open(path, ServerSetup(dict(OPTIONS), seed=11, start_ns=T0))
    server = build(kept.setup, **kw)
    kept.restore(server)
    return server.start(), kept


def crash(server: AlpacaServer, kept: ServerJournal) -> None:
    """As a kill -9 leaves it: nothing more is written (what was not durable is dropped)."""
    kept.journal.abandon()
    server.stop()


def advance(server: AlpacaServer, seconds: float) -> None:
    """Simulated time on (the server's clock is manual): the walks move, orders fill."""
    server.call(lambda b: b.run(until_ns=b.now() + int(seconds * SECOND)))


def get(server: AlpacaServer, path: str) -> Any:
    r = requests.get(
        server.base_url + path,
        headers={"APCA-API-KEY-ID": KEY, "APCA-API-SECRET-KEY": SECRET},
        timeout=10,
    )
    return r.status_code, r.json()


def every_route(server: AlpacaServer) -> dict[str, Any]:
    """Every GET route's answer: the lists, and each order, position and watchlist on its own."""
    paths = [
        "/v2/account",
        "/v2/orders?status=all&limit=500&nested=true",
        "/v2/orders?status=open&direction=asc",
        "/v2/orders?status=closed&limit=500",
        "/v2/positions",
        "/v2/account/configurations",
        "/v2/watchlists",
        "/v2/account/activities",
        "/v2/account/activities/FILL?direction=asc",
        "/v2/account/portfolio/history?period=1D&timeframe=1Min",
        "/v2/clock",
        "/v2/assets",
        "/v2/stocks/AAPL/quotes/latest",
    ]
    out = {p: get(server, p) for p in paths}
    for o in out["/v2/orders?status=all&limit=500&nested=true"][1]:
        out[o["id"]] = get(server, f"/v2/orders/{o['id']}?nested=true")
        cid = o["client_order_id"]
        out[cid] = get(server, f"/v2/orders:by_client_order_id?client_order_id={cid}")
    for p in out["/v2/positions"][1]:
        out[p["symbol"]] = get(server, f"/v2/positions/{p['symbol']}")
    for w in out["/v2/watchlists"][1]:
        out[w["id"]] = get(server, f"/v2/watchlists/{w['id']}")
    return out


def trade_a_while(server: AlpacaServer, rng: random.Random, n: int) -> list[str]:
    """``n`` rounds of what clients do, through alpaca-py: orders of every kind, replaces,
    cancels, closes, the configuration and watchlists; the ids the server acknowledged."""
    c = trading_client(server)
    acked: list[str] = []
    for i in range(n):
        advance(server, rng.uniform(0.05, 3))
        sym = rng.choice(["AAPL", "MSFT"])
        side = rng.choice([OrderSide.BUY, OrderSide.SELL])
        qty = rng.randint(1, 20)
        last = Decimal(get(server, f"/v2/stocks/{sym}/quotes/latest")[1]["quote"]["bp"])
        near = (last + Decimal(rng.randint(-10, 10)) / 100).quantize(Decimal("0.01"))
        kind = rng.random()
        try:
            if kind < 0.3:
                req: Any = MarketOrderRequest(
                    symbol=sym, qty=qty, side=side, time_in_force=TimeInForce.DAY
                )
            elif kind < 0.8:
                req = LimitOrderRequest(
                    symbol=sym,
                    qty=qty,
                    side=side,
                    limit_price=float(near),
                    time_in_force=TimeInForce.GTC,
                    client_order_id=f"lim-{i}",
                )
            else:
                req = LimitOrderRequest(
                    symbol=sym,
                    qty=qty,
                    side=OrderSide.BUY,
                    limit_price=float(near),
                    time_in_force=TimeInForce.GTC,
                    order_class=OrderClass.BRACKET,
                    take_profit=TakeProfitRequest(limit_price=float(near + 1)),
                    stop_loss=StopLossRequest(stop_price=float(near - 1)),
                )
            acked.append(str(c.submit_order(req).id))
        except APIError:
            pass  # refused (buying power, a wash trade...): refusals are journalled too
        open_orders = get(server, "/v2/orders?status=open")[1]
        if open_orders and rng.random() < 0.3:
            o = rng.choice(open_orders)
            try:
                if rng.random() < 0.5 and o["type"] == "limit" and o["order_class"] == "simple":
                    p = Decimal(o["limit_price"]) + Decimal(rng.choice([-2, -1, 1, 2])) / 100
                    acked.append(
                        str(c.replace_order_by_id(o["id"], ReplaceOrderRequest(limit_price=p)).id)
                    )
                else:
                    c.cancel_order_by_id(o["id"])
            except APIError:
                pass
    return acked


@pytest.fixture
def journal_path(tmp_path: Path) -> Path:
    return tmp_path / "paper.journal"


@pytest.mark.parametrize(("seed", "store"), [(1, "sqlite"), (2, "sqlite"), (3, "postgres")])
def test_a_restored_server_answers_every_route_as_before(
    request: pytest.FixtureRequest, tmp_path: Path, seed: int, store: str
) -> None:
    """On the default store (SQLite) and on a real PostgreSQL server."""
    journal_path: Any = tmp_path / "paper.journal"
    if store == "postgres":
        journal_path = fresh_journal_url(request.getfixturevalue("postgres_server"))
    rng = random.Random(seed)
    server, kept = serve(journal_path)
    try:
        acked = trade_a_while(server, rng, 25)
        c = trading_client(server)
        c.patch(
            "/account/configurations", {"no_shorting": True, "max_margin_multiplier": "2"}
        )  # (alpaca-py sends its whole model; the server takes the two fields)
        w = c.create_watchlist(CreateWatchlistRequest(name="tech", symbols=["AAPL"]))
        c.add_asset_to_watchlist_by_id(w.id, "MSFT")
        c.create_watchlist(CreateWatchlistRequest(name="gone", symbols=[]))
        requests.delete(
            server.base_url + "/v2/watchlists:by_name?name=gone",
            headers={"APCA-API-KEY-ID": KEY, "APCA-API-SECRET-KEY": SECRET},
            timeout=10,
        )
        for p in c.get_all_positions():
            # A wash trade against a working order is refused, and journalled so.
            with contextlib.suppress(APIError):
                c.close_position(p.symbol)
        advance(server, 5)
        before = every_route(server)
    finally:
        crash(server, kept)
    orders = before["/v2/orders?status=all&limit=500&nested=true"][1]
    assert len(acked) >= 10
    assert any(o["filled_qty"] != "0" for o in orders)
    assert any(o["status"] == "new" for o in orders)
    assert any(o["status"] == "canceled" for o in orders)

    again, kept = serve(journal_path)
    try:
        after = every_route(again)
        assert after.keys() == before.keys()
        for route, answer in before.items():
            assert after[route] == answer, route
        # New orders get new ids: none the first server gave (it gave them from the same seed).
        fresh = trading_client(again).submit_order(
            LimitOrderRequest(
                symbol="MSFT", qty=1, side=OrderSide.BUY, limit_price=1, time_in_force="day"
            )
        )
        assert str(fresh.id) not in before
        assert str(fresh.id) not in acked
    finally:
        again.stop()
        kept.close()


def test_an_answered_operation_is_in_the_journal_before_the_answer(journal_path: Path) -> None:
    server, kept = serve(journal_path)
    try:
        c = trading_client(server)
        c.submit_order(
            LimitOrderRequest(symbol="AAPL", qty=5, side="buy", limit_price=90, time_in_force="gtc")
        )
        # Read by another handle, as a restart would: the operation is durable already.
        with Journal.open(journal_path, readonly=True) as other:
            ops = [r.payload for r in other.records(kinds=(OP,))]
        assert [op["op"] for op in ops] == ["orders.submit"]
        assert Decimal(str(json.loads(ops[0]["args"]["body"])["limit_price"])) == 90
        assert ops[0]["t"] == server.broker.now()
        assert ops[0]["orders"] == 0
    finally:
        crash(server, kept)


def test_a_restart_with_other_options_is_refused_naming_the_option(journal_path: Path) -> None:
    ServerJournal.open(journal_path, ServerSetup(dict(OPTIONS), seed=11, start_ns=T0)).close()
    other = dict(OPTIONS, cash="5000")
    with pytest.raises(JournalError) as e:
        ServerJournal.open(journal_path, ServerSetup(other, seed=11, start_ns=T0))
    assert e.value.field == "--cash"
    assert e.value.value == "5000"
    assert "100000" in e.value.why
    with pytest.raises(JournalError) as e:
        ServerJournal.open(journal_path, ServerSetup(dict(OPTIONS), seed=12))
    assert e.value.field == "--seed"
    with pytest.raises(JournalError) as e:
        ServerJournal.open(journal_path, ServerSetup(dict(OPTIONS), start_ns=T0 + 1))
    assert e.value.field == "--start"
    # Without a seed or a start, a restart takes the journal's.
    kept = ServerJournal.open(journal_path, ServerSetup(dict(OPTIONS)))
    assert (kept.setup.seed, kept.setup.start_ns) == (11, T0)
    kept.close()


def test_a_first_start_chooses_a_seed_and_a_start_and_keeps_them(journal_path: Path) -> None:
    class Wall:
        def now_ns(self) -> int:
            return T0 + 123

    setup = ServerSetup(dict(OPTIONS), fresh_start=True)
    first = open_served(str(journal_path), dict(OPTIONS), None, None, fresh=True, wall=Wall())
    assert first.setup.start_ns == T0 + 123
    assert first.setup.seed is not None
    first.close()
    again = ServerJournal.open(journal_path, setup)
    assert again.setup == first.setup
    again.close()


def test_a_journal_that_is_not_a_servers_is_refused(journal_path: Path) -> None:
    with Journal.open(journal_path) as j:
        j.append("order.intent", {"id": "x"})
    with pytest.raises(JournalError) as e:
        ServerJournal.open(journal_path, ServerSetup(dict(OPTIONS), seed=11, start_ns=T0))
    assert e.value.field == "path"
    assert "order.intent" in e.value.why


def test_a_replay_that_diverges_is_refused_naming_the_record(journal_path: Path) -> None:
    kept = ServerJournal.open(journal_path, ServerSetup(dict(OPTIONS), seed=11, start_ns=T0))
    # What a journal written on other data or another version could hold: an operation that
    # found 3 orders where this replay has none.
    body = '{"symbol":"AAPL","qty":"1","side":"buy","type":"market","time_in_force":"day"}'
    args = {"body": body}
    seq = kept.journal.append(
        OP, {"t": T0 + SECOND, "op": "orders.submit", "args": args, "orders": 3}
    )
    kept.journal.close()
    kept = ServerJournal.open(journal_path, ServerSetup(dict(OPTIONS)))
    server = build(kept.setup)
    with pytest.raises(JournalError) as e:
        kept.restore(server)
    assert e.value.field == "seq"
    assert e.value.value == seq
    assert "diverged" in e.value.why
    assert len(server.broker.manager) == 0
    kept.journal.close()


def test_the_rate_window_survives_a_restart(journal_path: Path) -> None:
    server, kept = serve(journal_path, rpm=5)
    try:
        for _ in range(4):
            assert get(server, "/v2/account")[0] == 200
        # A read waits for no fsync: its rate entry lands with the next group commit.
        kept.journal.sync()
    finally:
        crash(server, kept)
    again, kept = serve(journal_path, rpm=5)
    try:
        assert get(again, "/v2/account")[0] == 200  # the fifth of the minute
        status, body = get(again, "/v2/account")  # a sixth: the window remembers the four
        assert status == 429
        assert body["code"] == 42910000
    finally:
        again.stop()
        kept.close()


def test_the_clock_resumes_at_the_journalled_time(journal_path: Path) -> None:
    server, kept = serve(journal_path)
    try:
        advance(server, 90)
        _, clock = get(server, "/v2/clock")  # the answer journals the time it shows
        seen = server.broker.now()
        advance(server, 30)  # nobody sees this half minute: it is simulated again later
    finally:
        crash(server, kept)
    assert clock["timestamp"].startswith("2024-06-04T14:01:30")  # UTC
    started = time.monotonic()
    again, kept = serve(journal_path, speed=1.0)
    try:
        restored = again.broker.now()
        # The last checkpoint, not the wall clock: at 1x, no more simulated time than the
        # restart took (however long a loaded machine takes). The checkpoint thread may have
        # journalled the unseen half minute before the crash (on a loaded machine it has the
        # time to), so the restored clock is at most that far on.
        took = int((time.monotonic() - started + 0.5) * SECOND)
        assert seen <= restored < seen + 30 * SECOND + took
        assert get(again, "/v2/clock")[1]["timestamp"] >= clock["timestamp"]
    finally:
        again.stop()
        kept.close()
    records = list(Journal.open(journal_path, readonly=True).records(kinds=(CONFIG, CLOCK)))
    assert records[0].kind == CONFIG
    assert all(r.kind == CLOCK for r in records[1:])


def test_the_default_journal_path(tmp_path: Path) -> None:
    state = tmp_path / "state"
    assert default_journal_path({"FILLFORGE_STATE_DIR": str(state)}) == (
        state / "alpaca-paper.journal"
    )
    assert state.is_dir()
    xdg = tmp_path / "xdg"
    assert default_journal_path({"XDG_STATE_HOME": str(xdg)}) == (
        xdg / "fillforge" / "alpaca-paper.journal"
    )
    blocked = tmp_path / "file"
    blocked.write_text("")
    with pytest.raises(JournalError) as e:
        default_journal_path({"FILLFORGE_STATE_DIR": str(blocked / "sub")})
    assert e.value.field == "path"


def test_a_server_record_without_its_fields_is_refused_naming_it(journal_path: Path) -> None:
    kept = ServerJournal.open(journal_path, ServerSetup(dict(OPTIONS), seed=11, start_ns=T0))
    seq = kept.journal.append(OP, {"t": T0, "op": "orders.cancel_all", "args": {}})
    kept.journal.close()
    kept = ServerJournal.open(journal_path, ServerSetup(dict(OPTIONS)))
    with pytest.raises(JournalError) as e:
        kept.restore(build(kept.setup))
    assert e.value.field == "seq"
    assert e.value.value == seq
    assert "orders" in e.value.why
    kept.journal.close()
