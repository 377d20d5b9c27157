"""How long ``fillforge serve alpaca --journal P`` takes to restart on a journal of many orders.

Run: ``python benches/bench_server_restart.py [--orders 100000] [--runs 3] [--profile] [--json]
[--keep DIR] [--overhead N]``.

1. Writes the journal a served account would have after ``--orders`` orders: the server of
   ``serve alpaca --data scripted`` (the options below) is built in this process, its journal
   attached, and its operations applied one after another on 1 ms of simulated time each, as
   requests would apply them (each journalled ahead, and a clock record per request as the
   answers append it): half market buys that fill against the standing quotes, half buy limits
   that rest (GTC, 1 share below the bid), and whenever 50 rest, a cancel of one of them.
2. Restores it in this process (the replay alone, wall and CPU time), then restarts ``fillforge
   serve alpaca --journal P`` on it in its own process, ``--runs`` times: the wall time from the
   command's start to its URLs (serving), and the replay's own wall and CPU time as the server
   reports them (the rest is the interpreter, imports and building the server).
3. With ``--overhead N``: what the journal adds per order: one alpaca-py client's N market orders
   against ``serve alpaca`` with and without ``--journal`` (orders/s, submit latency), twice.
4. With ``--profile``: the replay in this process under cProfile, its top functions.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import random
import re
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from fillforge.alpaca import AlpacaServer, scripted_broker, served_alpaca
from fillforge.alpaca.durable import CLOCK, ServerJournal, ServerSetup
from fillforge.errors import FillforgeError
from fillforge.time import NS_PER_MILLISECOND, WallClock, from_iso

D = Decimal
START = "2024-06-04T10:00:00-04:00"
QUOTES = ["AAPL=100.00/100.02x100000000", "MSFT=50.00/50.02x100000000"]
CASH = "100000000"
ARGS = ("--data", "scripted", *(a for q in QUOTES for a in ("--quote", q)), "--start", START)
ARGS += ("--cash", CASH, "--rate-limit", "100000")
# The options as ``serve alpaca`` records them for ARGS (a restart refuses others).
OPTIONS: dict[str, Any] = dict(
    data=["scripted"], quote=QUOTES, walk=False, volatility=None, rate=None, format=None
)
OPTIONS |= dict(symbol=None, tick=None, lot=None, cash=CASH, calendar="XNYS")
KEY = "PKBENCHRESTART"
WORKING = 50
"""Orders resting at once: past that many, the next request cancels one. (Each order the
simulated account takes scans the symbol's working orders, wash trades included: a journal of
100k orders all still working would cost ~O(n^2) to write or replay, live or restarted.)"""


def build(setup: ServerSetup) -> AlpacaServer:
    """The server ``serve alpaca ARGS`` builds for ``setup``."""
    broker = scripted_broker(
        ("AAPL", "MSFT", "SPY"),
        cash=D(CASH),
        seed=setup.seed,
        start_ns=setup.start_ns,
        calendar="XNYS",
    )
    for q in QUOTES:
        sym, rest = q.split("=")
        prices, size = rest.split("x")
        bid, ask = prices.split("/")
        broker.quote(sym, D(bid), D(ask), bid_size=D(size), ask_size=D(size))
    return AlpacaServer(broker, key_id=KEY, secret_key="bench-secret", speed=None)


def write_journal(path: Path, orders: int, seed: int = 18) -> dict[str, Any]:
    """A journal of ``orders`` orders (and their cancels), as the served account writes it."""
    kept = ServerJournal.open(path, ServerSetup(OPTIONS, seed=seed, start_ns=from_iso(START, "s")))
    server = build(kept.setup)
    kept.restore(server)
    broker, ops, wall = server.broker, server.ops, WallClock()
    rng = random.Random(seed)
    resting: list[str] = []
    began = time.perf_counter()
    submitted = canceled = 0
    while submitted < orders:
        broker.run(until_ns=broker.now() + NS_PER_MILLISECOND)
        roll = rng.random()
        if len(resting) >= WORKING:
            args: dict[str, Any] = {"id": resting.pop(rng.randrange(len(resting)))}
            name = "orders.cancel"
            canceled += 1
        else:
            body: dict[str, Any] = {"symbol": "AAPL", "qty": "1", "side": "buy"}
            if roll < 0.5:
                body |= {"type": "market", "time_in_force": "day"}
            else:
                body |= {"type": "limit", "time_in_force": "gtc", "limit_price": "99.00"}
            args = {"body": json.dumps(body)}
            name = "orders.submit"
            submitted += 1
        try:
            answer = ops.apply(name, args)
        except FillforgeError:
            continue
        if name == "orders.submit" and roll >= 0.5:
            resting.append(json.loads(answer.body)["id"])
        kept.journal.append(CLOCK, {"t": broker.now(), "wall": wall.now_ns(), "key": KEY})
    kept.close()
    return {
        "orders": submitted,
        "cancels": canceled,
        "resting": len(resting),
        "write_s": round(time.perf_counter() - began, 2),
        "journal_mb": round(sum(f.stat().st_size for f in path.parent.iterdir()) / 1e6, 1),
    }


def restart(path: Path) -> dict[str, Any]:
    """``serve alpaca --journal path`` in its own process: seconds to serving, and the replay's
    own seconds as it prints them."""
    began = time.perf_counter()
    with served_alpaca(
        *ARGS, "--journal", str(path), key_id=KEY, secret_key="bench-secret", start_timeout=3600
    ) as served:
        serving = time.perf_counter() - began
        deadline = time.monotonic() + 10
        said = ""
        while "restored" not in said and time.monotonic() < deadline:
            time.sleep(0.05)
            said = " ".join("".join(served.output).split())
    found = re.search(
        r"restored ([\d,]+) operations .* from ([\d,]+) records in ([\d.]+) s \(([\d.]+) s CPU",
        said,
    )
    assert found is not None, said
    return {
        "serving_s": round(serving, 2),
        "replay_s": float(found.group(3)),
        "replay_cpu_s": float(found.group(4)),
        "operations": int(found.group(1).replace(",", "")),
        "records": int(found.group(2).replace(",", "")),
    }


def overhead(orders: int, journal: Path | None) -> dict[str, Any]:
    """One alpaca-py client's ``orders`` market orders, alternately buy and sell, against
    ``serve alpaca`` in its own process, with ``--journal journal`` or without: orders/s and the
    submit latency (each answer waits for its operation to be durable)."""
    from alpaca.trading.requests import MarketOrderRequest

    extra = () if journal is None else ("--journal", str(journal))
    with served_alpaca(*ARGS, *extra, key_id=KEY, secret_key="bench-secret") as served:
        from alpaca.trading.client import TradingClient

        client = TradingClient(KEY, "bench-secret", url_override=served.base_url)
        reqs = [
            MarketOrderRequest(symbol="AAPL", qty=1, side=side, time_in_force="day")
            for side in ("buy", "sell")
        ]
        for i in range(50):  # warm up
            client.submit_order(reqs[i & 1])
        lat = []
        began = time.perf_counter()
        for i in range(orders):
            t = time.perf_counter()
            client.submit_order(reqs[i & 1])
            lat.append(time.perf_counter() - t)
        wall = time.perf_counter() - began
    lat.sort()
    return {
        "journal": journal is not None,
        "orders_per_s": round(orders / wall),
        "p50_ms": round(lat[len(lat) // 2] * 1e3, 2),
        "p99_ms": round(lat[int(len(lat) * 0.99)] * 1e3, 2),
    }


def replay(path: Path) -> dict[str, Any]:
    """The restore in this process (no interpreter start, no imports): its wall and CPU time."""
    kept = ServerJournal.open(path, ServerSetup(OPTIONS))
    server = build(kept.setup)
    done = kept.restore(server)
    kept.journal.abandon()  # (no server.start record: the journal stays as written)
    return {
        "replay_s": round(done.seconds, 2),
        "replay_cpu_s": round(done.cpu_seconds, 2),
        "operations": done.operations,
        "records": done.records,
    }


def profile(path: Path, top: int = 15) -> str:
    """The replay in this process under cProfile: its top functions by cumulative time."""
    kept = ServerJournal.open(path, ServerSetup(OPTIONS))
    server = build(kept.setup)
    prof = cProfile.Profile()
    prof.enable()
    kept.restore(server)
    prof.disable()
    kept.journal.close()
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(top)
    return out.getvalue()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--orders", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--served-only", action="store_true", help="skip the in-process replay")
    ap.add_argument(
        "--overhead",
        type=int,
        default=0,
        help="also time this many market orders with and without --journal",
    )
    ap.add_argument("--json", action="store_true")
    ap.add_argument(
        "--keep", type=Path, help="a directory to keep the journal in (reused when it is there)"
    )
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        path = (a.keep or Path(d)) / "paper.journal"
        path.parent.mkdir(parents=True, exist_ok=True)
        written = {"reused": str(path)} if path.exists() else write_journal(path, a.orders)
        inproc = {} if a.served_only else replay(path)
        runs = [restart(path) for _ in range(a.runs)]
        report = {"journal": written, "in_process": inproc, "restarts": runs}
        if a.json:
            print(json.dumps(report))
        else:
            print(f"journal: {written}")
            print(f"in process: {inproc}")
            for r in runs:
                print(f"restart: {r}")
        if a.overhead:
            for j in (None, Path(d) / "overhead.journal", None, Path(d) / "overhead2.journal"):
                print(f"overhead: {overhead(a.overhead, j)}")
        if a.profile:
            print(profile(path))


if __name__ == "__main__":
    main()
