"""The crash-injection matrix against the served paper account (issue 18): the agent
(``tests/crash_agent.py``) trades through ``AlpacaBroker`` with a journal, in a subprocess, against
a local Alpaca server this test runs; ``FILLFORGE_CRASH_AT`` has it kill itself (SIGKILL) at a
random pass of a random point; it is restarted on the same journal, reconciles, and goes on. A
market thread here keeps printing trades through the resting orders, dead agent or not. At the
end: no order lost or sent twice, every fill counted once, the journal's positions equal the
server's (``crash_agent.problems``)."""

from __future__ import annotations

import functools
import json
import os
import random
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from child_env import child_env
from crash_agent import paper_server, prints, problems
from served_helpers import alpaca_broker, quote

from fillforge.alpaca import AlpacaServer
from fillforge.journal import Journal
from fillforge.journal.broker import ORDER_POINTS, JournalledBroker
from fillforge.journal.reconcile import reconcile
from fillforge.orders.enums import OrderSide
from fillforge.sim.broker import SimulatedBroker

D = Decimal
AGENT = Path(__file__).with_name("crash_agent.py")
BOOKS = {"AAPL": (D("100.00"), D("100.02")), "MSFT": (D("50.00"), D("50.02"))}
# How many passes of each point a life lasts at most: the rarer points sooner.
MOST = {"journal": 30, "send": 30, "fill": 6}


class Market(threading.Thread):
    """Prints through the resting orders' levels every ``every`` seconds, the touch refreshed
    (20 shown each side), until stopped."""

    def __init__(self, server: AlpacaServer, seed: int, every: float = 0.02) -> None:
        super().__init__(name="crash-market", daemon=True)
        self.server, self.rng, self.every = server, random.Random(seed), every
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(self.every):
            for trade in prints(self.rng, BOOKS, 30):
                self.server.call(functools.partial(_print, trade=trade))
            for s, (bid, ask) in BOOKS.items():
                quote(self.server, str(bid), str(ask), size=20, symbol=s)

    def stop(self) -> None:
        self.done.set()
        self.join(timeout=10)


def _print(b: SimulatedBroker, trade: tuple[str, D, D, OrderSide]) -> None:
    symbol, price, qty, aggressor = trade
    b.trade(symbol, price, qty, aggressor=aggressor)


def _env(server: AlpacaServer, crash: str | None) -> dict[str, str]:
    env = child_env(APCA_API_KEY_ID=server.key_id, APCA_API_SECRET_KEY=server.secret_key)
    env.pop("FILLFORGE_CRASH_AT", None)
    if crash is not None:
        env["FILLFORGE_CRASH_AT"] = crash
    return env


def run_served(
    server: AlpacaServer, journal: Path, orders: int, seed: int, lives: int
) -> Counter[str]:
    """Run the agent to ``orders`` intents, killing it in each of its first ``lives`` lives;
    returns the kills by point."""
    rng = random.Random(seed)
    for s, (bid, ask) in BOOKS.items():
        quote(server, str(bid), str(ask), size=20, symbol=s)
    market = Market(server, seed)
    market.start()
    kills: Counter[str] = Counter()
    try:
        for run in range(lives + 50):
            crash = None
            if run < lives:
                point = rng.choice(ORDER_POINTS)
                crash = f"{point}:{rng.randint(1, MOST.get(point, 8))}"
            args = [
                sys.executable,
                str(AGENT),
                "--journal",
                str(journal),
                "--base-url",
                server.base_url,
                "--stream-url",
                server.stream_url,
                "--orders",
                str(orders),
                "--seed",
                str(seed),
                "--run",
                str(run),
            ]
            done = subprocess.run(
                args, env=_env(server, crash), capture_output=True, text=True, timeout=300
            )
            if done.returncode == -9:
                kills[crash.partition(":")[0] if crash else "?"] += 1
                continue
            assert done.returncode == 0, done.stderr[-3000:]
            summary = json.loads(done.stdout.splitlines()[0])
            assert summary["run"] == run
            break
    finally:
        market.stop()
    return kills


def check_served(server: AlpacaServer, journal: Path) -> None:
    """Reopen the journal, reconcile once more, and hold it to the server's books."""
    broker = alpaca_broker(server, requests_per_minute=1_000_000)
    jb = JournalledBroker(broker, Journal.open(journal))
    try:
        broker.connect()
        reconcile(jb)
        venue_orders = server.call(lambda b: b.orders())
        held = {s: p.qty for s, p in server.call(lambda b: b.positions()).items()}
        assert problems(jb.book, venue_orders, held) == []
        assert len(jb.book.intents) >= 1
    finally:
        broker.close()
        jb.detach()
        jb.journal.close()  # type: ignore[attr-defined]


@pytest.fixture
def server() -> Iterator[AlpacaServer]:
    with paper_server() as s:
        yield s


def test_served_quick_matrix(server: AlpacaServer, tmp_path: Path) -> None:
    journal = tmp_path / "agent.journal"
    kills = run_served(server, journal, orders=150, seed=5, lives=4)
    assert sum(kills.values()) >= 2, kills
    check_served(server, journal)


@pytest.mark.skipif(
    not os.environ.get("FILLFORGE_CRASH_LONG"),
    reason="about 2 minutes (15 agent lives at ~7 s of imports each): FILLFORGE_CRASH_LONG=1",
)
@pytest.mark.parametrize("seed", [21])
def test_served_thousand_orders(server: AlpacaServer, tmp_path: Path, seed: int) -> None:
    journal = tmp_path / "agent.journal"
    kills = run_served(server, journal, orders=1000, seed=seed, lives=14)
    assert sum(kills.values()) >= 10, kills
    check_served(server, journal)
