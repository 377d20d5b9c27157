"""The agent on a journal: every component wired to it, and everything rebuilt from it after a
restart (issue 18; ``docs/state-recovery.md``).

:class:`AgentJournal` opens the journal, puts the broker behind a
:class:`~fillforge.journal.broker.JournalledBroker` (orders written ahead, every order event
journalled) and, once the agent has built its risk gate, engine and exit manager on it,
:meth:`AgentJournal.take_up` rebuilds them: the orders are reconciled with the broker first
(:func:`~fillforge.journal.reconcile.reconcile`: fills missed while down applied once, orders
the broker no longer knows resolved), then the risk state, the parents (re-attached to their
children, their schedule resumed), the exit plans and the agent's own book come back from their
last snapshots, and the configuration in force is journalled and compared with the last one.
What it did is a :class:`RecoveryReport`.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Mapping
from decimal import Decimal
from itertools import count
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from fillforge.broker import Broker
from fillforge.errors import ExitPlanError, FillforgeError, UnknownOrderIdError
from fillforge.execution.parent import ParentSnapshot
from fillforge.exits.recovery import ExitSnapshot
from fillforge.journal import Journal
from fillforge.journal.broker import CrashHook, JournalledBroker
from fillforge.journal.reconcile import RecoveryReport as OrdersReport
from fillforge.journal.reconcile import reconcile
from fillforge.journal.state import ConfigCheck, SavedState, StateWriter, load_state
from fillforge.orders.models import split_child_id
from fillforge.orders.order import Order
from fillforge.risk import RiskSnapshot

if TYPE_CHECKING:
    from fillforge.agent.core import ExecutionAgent

__all__ = ["AgentBook", "AgentJournal", "ParentRecovered", "RecoveryReport"]

log = logging.getLogger("fillforge.agent")
_Count = Annotated[int, Field(ge=0)]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class AgentBook(_Frozen):
    """What the agent's ledger holds that the broker does not give back: what each id it
    handed out is, its counters (orders sent, denials by code), the next parent number, the
    equity it started from and the equity curve its performance figures are computed over."""

    kinds: dict[str, Literal["parent", "bracket", "order"]] = Field(default_factory=dict)
    sent: _Count = 0
    denials: dict[str, _Count] = Field(default_factory=dict)
    next_parent: Annotated[int, Field(ge=1)] = 1
    start_equity: Decimal | None = None
    curve: tuple[tuple[int, Decimal], ...] = ()
    intraday: tuple[str, ...] = ()
    """The symbols the end-of-day flattener closes (positions opened intraday)."""


class ParentRecovered(_Frozen):
    """One parent as the restart took it up: ``filled + working + leaves == qty``."""

    id: str
    state: str
    qty: Decimal
    filled: Decimal
    working: Decimal
    leaves: Decimal
    children: _Count


class RecoveryReport(_Frozen):
    """What a start on a journal found and did. ``first_start``: the journal held nothing
    above the orders. ``orders``: the reconciliation's counts (adopted, unsent, resolved,
    fills applied, fills deduplicated, discrepancies) and ``discrepancies`` in words.
    ``positions`` are the broker's after it, ``journal_positions`` the journal's fills'; they
    ``match`` or the difference is in ``discrepancies``. ``config_changed`` and the keys that
    differ from the configuration the journal last started with. ``problems``: a snapshot that
    could not be taken up, and why."""

    journal: str
    records: _Count
    first_start: bool
    orders: dict[str, int] = Field(default_factory=dict)
    discrepancies: tuple[str, ...] = ()
    parents: tuple[ParentRecovered, ...] = ()
    exits: tuple[str, ...] = ()
    risk_state: str | None = None
    killed: bool = False
    positions: dict[str, Decimal] = Field(default_factory=dict)
    journal_positions: dict[str, Decimal] = Field(default_factory=dict)
    positions_match: bool = True
    config_changed: bool = False
    config_differences: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()

    def text(self) -> str:
        """The report as lines for a person."""
        if self.first_start:
            return f"journal {self.journal}: first start, nothing to recover"
        lines = [f"journal {self.journal}: {self.records} state records read"]
        if self.orders:
            lines.append("orders: " + ", ".join(f"{k} {v}" for k, v in self.orders.items()))
        for p in self.parents:
            lines.append(
                f"parent {p.id}: {p.state}, filled {p.filled} + working {p.working} + "
                f"leaves {p.leaves} of {p.qty} ({p.children} children)"
            )
        if self.exits:
            lines.append("exit plans taken up: " + ", ".join(self.exits))
        if self.risk_state is not None:
            lines.append(
                f"risk: {self.risk_state}" + (", kill switch engaged" if self.killed else "")
            )
        lines.append("positions match the broker" if self.positions_match else "positions differ")
        if self.config_changed:
            lines.append("configuration changed: " + ", ".join(self.config_differences))
        lines += [f"discrepancy: {d}" for d in self.discrepancies]
        lines += [f"problem: {p}" for p in self.problems]
        return "\n".join(lines)


class _BrokerTime:
    """The broker's clock for the journal's timestamps (never the wall clock in a simulation)."""

    def __init__(self, broker: Broker) -> None:
        self._broker = broker

    def now_ns(self) -> int:
        return self._broker.now_ns()


def config_json(agent: ExecutionAgent) -> dict[str, Any]:
    """The configuration in force as JSON: secrets masked, a journal URL without its password."""
    data = agent.config.model_dump(mode="json")
    target = data.get("journal")
    if isinstance(target, str) and "@" in target and "://" in target:
        scheme, rest = target.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        data["journal"] = f"{scheme}://{creds.split(':', 1)[0]}:***@{host}"
    return data


class AgentJournal:
    """The agent's journal (see the module): ``target`` a path, a ``postgresql://`` URL or an
    open :class:`~fillforge.journal.Journal` (left open on :meth:`close`)."""

    def __init__(self, target: str | Path | Journal, broker: Broker) -> None:
        if isinstance(target, Journal):
            self.journal, self._owned = target, False
        else:
            # Checked while the state below is read from it (on the other cores); nothing is
            # appended or sent before the check has passed.
            self.journal = Journal.open(target, clock=_BrokerTime(broker), check_while_reading=True)
            self._owned = True
        try:
            self.saved: SavedState = load_state(self.journal)
            self.crash = CrashHook.from_env()
            self.broker = JournalledBroker(broker, self.journal, crash=self.crash)
            self.journal.wait_checked()
        except BaseException:
            try:  # a read that failed on damage: the check's finding says more than the read
                self.journal.wait_checked()
            finally:
                if self._owned:
                    self.journal.close()
            raise
        self.writer = StateWriter(self.journal)
        self.name = str(getattr(self.journal, "name", target))

    def take_up(self, agent: ExecutionAgent) -> RecoveryReport:
        """Reconcile the orders, wire every component to the journal, rebuild each from its
        last snapshot, journal the configuration; the report (also logged)."""
        jb, w = self.broker, self.writer
        orders = reconcile(jb) if jb.book.by_cid else None
        gate, engine, exits = agent._gate, agent._engine, agent._exits
        assert gate is not None
        assert engine is not None
        gate.manager.observe(lambda change, snap: void(w.risk(change, snap)))
        engine.observe(lambda pid, change, snap: void(w.parent(pid, change, snap)))
        if exits is not None:
            exits.observe(lambda symbol, snap: void(w.exit(symbol, snap)))
        crash = self.crash
        if crash is not None:  # the crash tests' kill in the middle of a parent's schedule
            engine.before_slice = lambda: crash.hit("schedule")
        with w.deferred():
            return self._take_up(agent, orders)

    def _take_up(self, agent: ExecutionAgent, orders: OrdersReport | None) -> RecoveryReport:
        saved, jb, w = self.saved, self.broker, self.writer
        gate, engine, exits = agent._gate, agent._engine, agent._exits
        assert gate is not None
        assert engine is not None
        problems: list[str] = []
        risk = saved.risk_snapshot(RiskSnapshot)
        if risk is not None:
            gate.manager.restore(risk)
        book = saved.portfolio_snapshot(AgentBook)
        if book is not None:
            restore_book(agent, book)
        flattener = agent._flattener
        if flattener is not None:  # its orders' numbers go on after the journal's
            prefix = f"{flattener.name}-"
            seqs = [c.rsplit("-", 1)[-1] for c in jb.book.by_cid if c.startswith(prefix)]
            flattener.skip_to(max((int(n) for n in seqs if n.isdigit()), default=0))
        parents = self._parents(agent, problems)
        taken = []
        for snap in saved.exit_snapshots(ExitSnapshot):
            if exits is None:
                problems.append(f"exit plan {snap.symbol}: the configuration has no exit plan")
                continue
            try:
                exits.restore(snap)
                taken.append(snap.symbol)
            except ExitPlanError as e:
                problems.append(f"exit plan {snap.symbol}: {e}")
        check: ConfigCheck = w.config(config_json(agent), saved)
        if check.changed:
            log.warning(
                "the configuration changed since the journal's last start: %s",
                ", ".join(check.differences),
            )
        held = {s: p.qty for s, p in jb.positions().items() if p.qty}
        mine = {s: q for s, q in jb.book.positions.items() if q}
        report = RecoveryReport(
            journal=self.name,
            records=saved.records,
            first_start=saved.empty and not jb.book.by_cid,
            orders=orders.counts() if orders is not None else {},
            discrepancies=orders.discrepancies if orders is not None else (),
            parents=parents,
            exits=tuple(taken),
            risk_state=str(risk.state) if risk is not None else None,
            killed=risk.killed if risk is not None else False,
            positions=held,
            journal_positions=mine,
            positions_match=held == mine,
            config_changed=check.changed,
            config_differences=check.differences,
            problems=tuple(problems),
        )
        agent._book_changed()
        if not report.first_start:
            log.info("recovered from the journal:\n%s", report.text())
        return report

    def _parents(self, agent: ExecutionAgent, problems: list[str]) -> tuple[ParentRecovered, ...]:
        engine = agent._engine
        assert engine is not None
        last: dict[str, int] = {}
        for cid in self.broker.book.by_cid:
            split = split_child_id(cid)
            if split is not None:
                last[split[0]] = max(last.get(split[0], 0), split[1])
        out = []
        for snap in self.saved.parent_snapshots(ParentSnapshot):
            pid = snap.spec.parent_id
            agent._taken_parent(pid)
            try:
                engine.restore(
                    snap,
                    agent._instrument(snap.spec.symbol),
                    self._children(pid),
                    last_child=last.get(pid, 0),
                    **agent._slicing(snap.spec.decision_price or snap.arrival_price),
                )
            except FillforgeError as e:
                problems.append(f"parent {pid}: {e}")
                continue
            w = engine.worker(pid)
            filled, working = w.filled, w.working
            out.append(
                ParentRecovered(
                    id=pid,
                    state=str(w.parent.state),
                    qty=snap.spec.qty,
                    filled=filled,
                    working=working,
                    leaves=snap.spec.qty - filled - working,
                    children=w.progress().children,
                )
            )
        return tuple(out)

    def _children(self, pid: str) -> list[Order]:
        """Every order of parent ``pid`` the journal knows, as the broker shows it now: its local
        copy, else asked of the venue. A restarted live broker holds only the open orders; a
        child filled before the crash would otherwise go uncounted and its quantity be sent
        again (a served kill -9 test over-filled a parent this way)."""
        inner = self.broker.inner
        ask = getattr(inner, "venue_order", None)
        out: list[Order] = []
        for o in self.broker.book.by_oid.values():
            split = split_child_id(o.client_order_id)
            if split is None or split[0] != pid or o.order_id is None:
                continue
            try:
                out.append(inner.get_order(o.order_id))
            except UnknownOrderIdError:
                got = ask(o.order_id) if ask is not None else None
                if got is not None:
                    out.append(got)
        return out

    def close(self) -> None:
        """Stop journalling the broker's events; close the journal if this opened it."""
        self.broker.detach()
        if self._owned:
            self.journal.close()


def restore_book(agent: ExecutionAgent, book: AgentBook) -> None:
    """Give ``agent`` its book back (after a restart)."""
    agent._kinds.update(book.kinds)
    agent._sent = book.sent
    agent._denials = Counter(book.denials)
    agent._seq = count(max(book.next_parent, next(agent._seq)))
    if book.start_equity is not None:
        agent._start_equity = book.start_equity
    curve = agent._curve
    for t, v in book.curve:
        if not len(curve) or t > int(curve.times_ns[-1]):
            curve.append(t, v)
    if agent._flattener is not None:
        for symbol in book.intraday:
            agent._flattener.tag(symbol)
    agent._book = book


def void(_: object) -> None:
    """Drop a value (an observer returns nothing)."""


def book_of(
    kinds: Mapping[str, str],
    sent: int,
    denials: Mapping[str, int],
    next_parent: int,
    start_equity: Decimal | None,
    curve: tuple[tuple[int, Decimal], ...],
    intraday: Iterable[str] = (),
) -> AgentBook:
    return AgentBook(
        intraday=tuple(sorted(intraday)),
        kinds=dict(kinds),  # type: ignore[arg-type]
        sent=sent,
        denials=dict(denials),
        next_parent=next_parent,
        start_equity=start_equity,
        curve=curve,
    )
