"""The crash-injection matrix against ``SimulatedBroker`` (issue 18): the venue lives in the test
and survives; the agent (a :class:`JournalledBroker` and the book it rebuilt) is abandoned at a
random kill point, rebuilt from the journal on disk, and reconciled with the same venue, over a
thousand orders and more. After every recovery: no order lost, none sent twice, every fill
counted once, positions equal to the venue's (``crash_agent.problems``)."""

from __future__ import annotations

import random
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import NoReturn

import pytest
from crash_agent import Crash, Trader, prints, problems

from fillforge.journal import Journal
from fillforge.journal.broker import ORDER_POINTS, CrashHook, JournalledBroker
from fillforge.journal.reconcile import RecoveryReport, reconcile
from fillforge.orders.models import Instrument
from fillforge.sim.broker import SimulatedBroker
from fillforge.sim.feeds import empty_feed
from fillforge.sim.venue import Venue

D = Decimal
BOOKS = {"TEST": (D("99.99"), D("100.01")), "ALT": (D("49.99"), D("50.01"))}
TOP = 50  # the largest order


def _crash() -> NoReturn:
    raise Crash("kill -9")


def venue() -> SimulatedBroker:
    v = Venue("TESTX", calendar=None)
    for s in BOOKS:
        v.add(Instrument(symbol=s), empty_feed())
    return SimulatedBroker(v, cash=D(10_000_000))


def refresh(broker: SimulatedBroker) -> None:
    """The touch, 20 shown each side: a marketable order larger than that rests its rest."""
    for s, (bid, ask) in BOOKS.items():
        broker.quote(s, bid, ask, bid_size=D(20), ask_size=D(20))


def start(
    broker: SimulatedBroker, path: Path, hook: CrashHook | None
) -> tuple[JournalledBroker, RecoveryReport]:
    jb = JournalledBroker(broker, Journal.open(path), crash=hook, checkpoint_every=97)
    return jb, reconcile(jb)


def abandon(jb: JournalledBroker) -> None:
    """Drop the agent as a kill -9 would: its callbacks leave the venue, its journal is
    abandoned (what was appended and not yet durable is lost, as in a kill)."""
    jb.detach()
    jb.journal.abandon()  # type: ignore[attr-defined]


def check(jb: JournalledBroker, broker: SimulatedBroker) -> None:
    held = {s: p.qty for s, p in broker.positions().items()}
    assert problems(jb.book, broker.orders(), held) == []


def run_matrix(tmp_path: Path, orders: int, seed: int, most: int) -> Counter[str]:
    """Trade ``orders`` intents, crashing at a random point within ``most`` passes each life;
    returns the crashes by point."""
    rng = random.Random(seed)
    broker = venue()
    refresh(broker)
    path = tmp_path / "agent.journal"

    def hook() -> CrashHook:
        return CrashHook(rng.choice(ORDER_POINTS), rng.randint(1, most), _crash)

    h = hook()
    jb, _ = start(broker, path, h)
    trader = Trader(jb, random.Random(seed + 1), BOOKS, TOP)
    crashes: Counter[str] = Counter()
    while len(jb.book.intents) < orders:
        try:
            trader.step()
            for symbol, price, qty, aggressor in prints(rng, BOOKS, 3 * TOP):
                broker.trade(symbol, price, qty, aggressor=aggressor)
            refresh(broker)
        except Crash:
            crashes[h.point] += 1
            abandon(jb)
            h = hook()
            jb, report = start(broker, path, h)
            trader.jb = jb
            assert not report.discrepancies or all(
                "position" not in d for d in report.discrepancies
            )
            check(jb, broker)
    abandon(jb)
    jb, report = start(broker, path, None)
    check(jb, broker)
    abandon(jb)
    return crashes


def test_quick_matrix_every_point(tmp_path: Path) -> None:
    crashes = run_matrix(tmp_path, orders=150, seed=3, most=4)
    assert sum(crashes.values()) >= 10


@pytest.mark.parametrize("seed", [11])
def test_thousand_orders_with_random_kills(tmp_path: Path, seed: int) -> None:
    crashes = run_matrix(tmp_path, orders=1000, seed=seed, most=25)
    assert set(crashes) == set(ORDER_POINTS), crashes  # every kill point was exercised
