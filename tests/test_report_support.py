"""A real journal for the report's tests: a :class:`JournalledBroker` over a
:class:`SimulatedBroker` on the shipped LOBSTER day, an :class:`ExecutionEngine` working four
parents by three policies, its parents' snapshots journalled (as the agent journals them),
records stamped with the broker's clock."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

from fillforge.demos.policies import Day
from fillforge.execution.engine import ExecutionEngine
from fillforge.execution.parent import ParentOrder, WorkRules
from fillforge.journal import Journal
from fillforge.journal.broker import JournalledBroker
from fillforge.journal.state import StateWriter
from fillforge.sim.broker import SimulatedBroker
from fillforge.time import NS_PER_SECOND

PARENTS = (  # (policy, side, quantity)
    ("twap", "buy", 600),
    ("vwap", "sell", 400),
    ("market", "buy", 200),
    ("twap", "sell", 300),
)
POLICIES = sorted({p for p, _, _ in PARENTS})


class _BrokerClock:
    def __init__(self, broker: SimulatedBroker) -> None:
        self.broker = broker

    def now_ns(self) -> int:
        return self.broker.now_ns()


def traded_journal(path: Path | str) -> Path | str:
    """Write the journal at ``path`` (a SQLite path or a ``postgresql://`` URL; see the
    module) and close it."""
    day = Day()
    broker = day.broker()
    start = day.ns(dt.time(9, 35))
    broker.run(until_ns=start)
    journal = Journal.open(path, clock=_BrokerClock(broker))
    jb = JournalledBroker(broker, journal)
    engine = ExecutionEngine(jb)
    writer = StateWriter(journal)
    engine.observe(lambda pid, change, snap: writer.parent(pid, change, snap))
    q = broker.latest_quote("GOOG")
    assert q is not None
    assert q.bid_price is not None
    assert q.ask_price is not None
    mid = (q.bid_price + q.ask_price) / 2
    rules = WorkRules(timeout_ns=5 * NS_PER_SECOND, max_attempts=3, fallback="market")
    for i, (policy, side, qty) in enumerate(PARENTS):
        spec = ParentOrder(
            parent_id=f"p{i}_{policy}",
            symbol="GOOG",
            side=side,
            qty=Decimal(qty),
            start_ns=start,
            end_ns=start + 15 * 60 * NS_PER_SECOND,
            decision_ns=start,
            decision_price=mid,
            policy=policy,
        )
        engine.submit(spec, day.instrument, rules=rules, slices=5)
    broker.run(until_ns=start + 16 * 60 * NS_PER_SECOND)
    engine.close()
    jb.detach()
    journal.close()
    return path
