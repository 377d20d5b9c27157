"""kill -9 of ``fillforge serve alpaca --journal P`` under load (issue 18).

Several unmodified alpaca-py clients (threads, one account) submit market and limit orders,
cancel and replace them, while one more listens to ``trade_updates``; the server is killed with
SIGKILL at a seeded random moment and restarted on the same journal and port. Every operation a
client had acknowledged is there (each order by its client order id, with the same id, its status
and fills not gone back; every acknowledged cancel canceled, every replace replaced), every order
the stream showed exists, positions are the orders' fills, and new orders get new ids. A quiet
server then answers every route (the lists, and 40 orders by id and client order id) after a kill -9
exactly as before it. Three rounds on one journal.
"""

from __future__ import annotations

import json
import os
import random
import signal
import threading
from contextlib import ExitStack
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests
from alpaca.common.exceptions import APIError
from alpaca.trading.enums import OrderSide, TimeInForce
from alpaca.trading.requests import LimitOrderRequest, MarketOrderRequest, ReplaceOrderRequest
from polling import wait_for
from served_helpers import SCRIPTED_AAPL_MSFT, trading_client
from ws_client import ws_connect

from fillforge.alpaca import ServedAlpaca, served_alpaca
from fillforge.errors import SimulationError

CLIENTS = 4
ROUNDS = 3
KEY, SECRET = "PKDURABLEKILL", "durable-kill-secret"
GONE = (requests.RequestException, ConnectionError, OSError)


@dataclass
class Acked:
    """What the clients were told: orders by client order id (id, filled qty), cancels and
    replaces acknowledged, and the order ids the stream showed."""

    orders: dict[str, tuple[str, Decimal]] = field(default_factory=dict)
    canceled: set[str] = field(default_factory=set)
    replaced: dict[str, str] = field(default_factory=dict)
    streamed: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _client(served: ServedAlpaca, n: int, rng: random.Random, acked: Acked, tag: str) -> None:
    """One client's orders until the server goes away (at most 60)."""
    c = trading_client(served)
    mine: list[str] = []  # its working limit orders
    for k in range(60):
        cid = f"{tag}-c{n}-{k}"
        roll = rng.random()
        try:
            if roll < 0.45:
                side = rng.choice([OrderSide.BUY, OrderSide.SELL])
                sym = rng.choice(["AAPL", "MSFT"])
                req: Any = MarketOrderRequest(
                    symbol=sym,
                    qty=rng.randint(1, 5),
                    side=side,
                    time_in_force=TimeInForce.DAY,
                    client_order_id=cid,
                )
            elif roll < 0.8 or not mine:
                req = LimitOrderRequest(
                    symbol="MSFT",
                    qty=rng.randint(1, 5),
                    side=OrderSide.BUY,
                    limit_price=rng.choice([40, 41, 42]),
                    time_in_force=TimeInForce.GTC,
                    client_order_id=cid,
                )
            elif roll < 0.9:
                victim = mine.pop(rng.randrange(len(mine)))
                c.cancel_order_by_id(victim)
                with acked.lock:
                    acked.canceled.add(victim)
                continue
            else:
                old = mine.pop(rng.randrange(len(mine)))
                new = c.replace_order_by_id(old, ReplaceOrderRequest(limit_price=39))
                with acked.lock:
                    acked.replaced[old] = str(new.id)
                mine.append(str(new.id))
                continue
            o = c.submit_order(req)
            with acked.lock:
                acked.orders[cid] = (str(o.id), Decimal(o.filled_qty or 0))
            if isinstance(req, LimitOrderRequest):
                mine.append(str(o.id))
        except APIError:
            continue  # refused (a wash trade, buying power): nothing to keep
        except GONE:
            return  # killed


def _listen(served: ServedAlpaca, acked: Acked, ready: threading.Event) -> None:
    """trade_updates until the server goes away: the order ids it showed."""
    try:
        with ws_connect(served.stream_url, open_timeout=10) as ws:
            ws.send(
                json.dumps(
                    {"action": "authenticate", "data": {"key_id": KEY, "secret_key": SECRET}}
                )
            )
            ws.recv(timeout=10)
            ws.send(json.dumps({"action": "listen", "data": {"streams": ["trade_updates"]}}))
            while True:
                frame = json.loads(ws.recv(timeout=30))
                if frame.get("stream") == "listening":
                    ready.set()
                elif frame.get("stream") == "trade_updates":
                    with acked.lock:
                        acked.streamed.add(frame["data"]["order"]["id"])
    except Exception:  # the server was killed: the socket drops however it drops
        ready.set()
        return


def _all_orders(served: ServedAlpaca) -> list[dict[str, Any]]:
    r = _get(served, "/v2/orders?status=all&limit=500&direction=asc&nested=false")
    assert len(r) < 500, "more orders than one page: lower the load"
    return r


def _get(served: ServedAlpaca, path: str) -> Any:
    r = requests.get(
        served.base_url + path,
        headers={"APCA-API-KEY-ID": KEY, "APCA-API-SECRET-KEY": SECRET},
        timeout=15,
    )
    assert r.status_code == 200, (path, r.text)
    return r.json()


def _check(served: ServedAlpaca, acked: Acked) -> dict[str, dict[str, Any]]:
    """Every acknowledged operation, and every streamed order, in the restarted server."""
    orders = {o["id"]: o for o in _all_orders(served)}
    for cid, (oid, filled) in acked.orders.items():
        o = orders.get(oid)
        assert o is not None, f"acknowledged order {cid} ({oid}) lost"
        assert o["client_order_id"] == cid  # (a replacement keeps it: look orders up by id)
        assert Decimal(o["filled_qty"]) >= filled, f"{cid}: fills went back"
    for oid in acked.canceled:
        assert orders[oid]["status"] == "canceled", oid
    for old, new in acked.replaced.items():
        assert orders[old]["status"] == "replaced"
        assert orders[old]["replaced_by"] == new
        assert new in orders
    assert acked.streamed <= orders.keys(), "the stream showed an order the restart lost"
    # Positions are the orders' fills.
    held: dict[str, Decimal] = {}
    for o in orders.values():
        sign = 1 if o["side"] == "buy" else -1
        held[o["symbol"]] = held.get(o["symbol"], Decimal(0)) + sign * Decimal(o["filled_qty"])
    positions = {p["symbol"]: Decimal(p["qty"]) for p in _get(served, "/v2/positions")}
    assert positions == {s: q for s, q in held.items() if q}
    return orders


def _routes(served: ServedAlpaca, orders: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Every route a client reads, quiet (the quotes stand: nothing moves with the clock)."""
    paths = [
        "/v2/account",
        "/v2/positions",
        "/v2/account/configurations",
        "/v2/watchlists",
        "/v2/account/activities",
        "/v2/orders?status=all&limit=500&direction=asc",
    ]
    out = {p: _get(served, p) for p in paths}
    picked = random.Random(len(orders)).sample(sorted(orders.items()), min(40, len(orders)))
    for oid, o in picked:
        out[oid] = _get(served, f"/v2/orders/{oid}")
        cid = o["client_order_id"]
        out[cid] = _get(served, f"/v2/orders:by_client_order_id?client_order_id={cid}")
    return out


def _kill(served: ServedAlpaca) -> None:
    os.kill(served.pid, signal.SIGKILL)


def test_kill_9_under_load_loses_nothing(tmp_path: Path) -> None:
    rng = random.Random(18)
    journal = tmp_path / "paper.journal"
    args = (*SCRIPTED_AAPL_MSFT, "--journal", str(journal))
    acked = Acked()
    seen_ids: set[str] = set()
    port = "0"
    for round_ in range(ROUNDS):
        with served_alpaca(*args, "--port", port, key_id=KEY, secret_key=SECRET) as served:
            port = served.base_url.rsplit(":", 1)[1]
            if round_:
                orders = _check(served, acked)  # what the last round's kill left
                seen_ids |= orders.keys()
            ready = threading.Event()
            listener = threading.Thread(target=_listen, args=(served, acked, ready), daemon=True)
            listener.start()
            assert ready.wait(15)
            clients = [
                threading.Thread(
                    target=_client,
                    args=(served, n, random.Random(rng.random()), acked, f"r{round_}"),
                    daemon=True,
                )
                for n in range(CLIENTS)
            ]
            for t in clients:
                t.start()
            # A seeded random moment: once the clients have had this many more answers.
            target = len(acked.orders) + rng.randint(5, 80)
            wait_for(lambda n=target: len(acked.orders) >= n, timeout=60)
            _kill(served)
            for t in [*clients, listener]:
                t.join(timeout=30)
                assert not t.is_alive()
        assert acked.orders, "no order was acknowledged before the kill"

    with ExitStack() as stack:
        served = stack.enter_context(
            served_alpaca(*args, "--port", port, key_id=KEY, secret_key=SECRET)
        )
        orders = _check(served, acked)
        assert seen_ids <= orders.keys()
        # New orders get ids no earlier server gave.
        fresh = trading_client(served).submit_order(
            LimitOrderRequest(symbol="MSFT", qty=1, side="buy", limit_price=30, time_in_force="gtc")
        )
        assert str(fresh.id) not in orders
        orders[str(fresh.id)] = {"client_order_id": fresh.client_order_id}
        before = _routes(served, orders)
        _kill(served)
    with served_alpaca(*args, "--port", port, key_id=KEY, secret_key=SECRET) as served:
        after = _routes(served, orders)
    for route, answer in before.items():
        assert after[route] == answer, route
    assert before["/v2/positions"], "the clients' market orders left no position"


def test_the_default_journal_and_a_restart_with_other_options(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--journal default`` keeps the account in $FILLFORGE_STATE_DIR/alpaca-paper.journal; a
    restart on it with another --cash is refused in one line naming the option, and starts
    nothing."""
    monkeypatch.setenv("FILLFORGE_STATE_DIR", str(tmp_path / "state"))
    args = (*SCRIPTED_AAPL_MSFT, "--journal", "default")
    with served_alpaca(*args, key_id=KEY, secret_key=SECRET) as served:
        wait_for(lambda: "journal" in "".join(served.output))
        assert (tmp_path / "state" / "alpaca-paper.journal").exists()
        o = trading_client(served).submit_order(
            MarketOrderRequest(symbol="AAPL", qty=2, side="buy", time_in_force="day")
        )
        _kill(served)
    with (
        pytest.raises(SimulationError) as e,
        served_alpaca(*args, "--cash", "5000", key_id=KEY, secret_key=SECRET),
    ):
        pass
    said = e.value.why
    assert "error: --cash" in said
    assert "5000" in said
    assert "was started with '100000'" in said
    with served_alpaca(*args, key_id=KEY, secret_key=SECRET) as served:
        assert trading_client(served).get_order_by_id(o.id).filled_qty == "2"


def test_a_journalled_server_with_its_monitor(tmp_path: Path) -> None:
    """``serve alpaca --journal P --monitor`` (a service's command line) after a kill -9: the
    metrics and the page answer, and the account holds its position."""
    args = (*SCRIPTED_AAPL_MSFT, "--journal", str(tmp_path / "paper.journal"), "--monitor")
    with served_alpaca(*args, key_id=KEY, secret_key=SECRET) as served:
        trading_client(served).submit_order(
            MarketOrderRequest(symbol="AAPL", qty=3, side="buy", time_in_force="day")
        )
        _kill(served)
    with served_alpaca(*args, key_id=KEY, secret_key=SECRET) as served:
        wait_for(lambda: "metrics:" in "".join(served.output))
        metrics = requests.get(served.base_url + "/metrics", timeout=15)
        assert metrics.status_code == 200
        assert "fillforge" in metrics.text
        page = requests.get(served.base_url + "/monitor", timeout=15)
        assert page.status_code == 200
        assert trading_client(served).get_open_position("AAPL").qty == "3"
