"""After a restart: the journal's orders reconciled with the live broker (issue 18).

:func:`reconcile` takes a :class:`~fillforge.journal.broker.JournalledBroker` (its book rebuilt
from the journal) whose inner broker can be asked about its own history (:class:`FillHistory`),
and, journalling every verdict as ``order.resolved`` / ``order.fill``:

1. **An intent with no outcome** (written ahead, the process died before the ack): the broker is
   asked for its client order id. Found: the order is *adopted* (it reached the venue). Not
   found: it never left; it is resolved *unsent* and **never resubmitted**: whether to send it
   again is the owner's decision (the strategy's, the execution engine's), made with today's
   prices, not the dead process's.
2. **A cancel or replace with no outcome**: the order is asked for; the verdict is
   ``cancel_done`` / ``cancel_unsent`` / ``cancel_moot`` (it ended otherwise), ``replace_done``
   (with the new order, learned) / ``replace_unsent`` / ``replace_gone``.
3. **Orders the journal holds open**: asked for by venue id. Unknown to the broker: resolved
   *gone*. Otherwise their status is brought up to the broker's (*closed* when it ended).
4. **Fills missed while down, applied exactly once**: the broker's fills since the last
   journalled fill (less ``overlap_ns``) are deduplicated by execution id (fills of orders the
   journal did not place, another client's on the same account, are reported, not applied); for
   an order with fills the journal does not know, what is missing is the broker's filled
   quantity less the journal's, taken from its latest unknown fills (a broker may have reported
   earlier fills under other ids, as alpaca-py's REST catch-up does). Each one is journalled as
   ``order.fill``; the rest count as deduplicated.
5. **Positions**: the journal's (the signed sum of its fills) are compared with the broker's;
   every difference is reported (the journal cannot change the broker's).

The :class:`RecoveryReport` lists all of it; ``order.reconciled`` journals its counts.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol, runtime_checkable

from fillforge.errors import JournalError
from fillforge.journal.broker import JournalledBroker, fill_record
from fillforge.journal.rebuild import JournalOrder
from fillforge.orders.models import Fill
from fillforge.orders.order import Order

__all__ = ["FillHistory", "RecoveryReport", "reconcile"]

_ZERO = Decimal(0)


@runtime_checkable
class FillHistory(Protocol):
    """What reconciliation asks a broker, beyond :class:`~fillforge.broker.Broker`: the venue
    itself, not a local copy (``SimulatedBroker``: its own records; ``AlpacaBroker``: REST)."""

    def fills_since(self, ts_ns: int) -> list[Fill]:
        """The account's fills at or after ``ts_ns`` (venue time), oldest first."""
        ...

    def venue_order(self, order_id: str) -> Order | None:
        """The venue's order ``order_id``; None when it has none."""
        ...

    def venue_order_by_client_id(self, client_order_id: str) -> Order | None:
        """The venue's order with this client order id; None when it has none."""
        ...


@dataclass(frozen=True, slots=True)
class RecoveryReport:
    """What a reconciliation found and did. Orders are named by client order id; fills by
    execution id. ``resolved`` pairs an order (or ``oid``) with its verdict; ``discrepancies``
    says, in words, everything that did not match and what was done about it."""

    adopted: tuple[str, ...]
    unsent: tuple[str, ...]
    resolved: tuple[tuple[str, str], ...]
    fills_applied: tuple[str, ...]
    fills_deduplicated: int
    discrepancies: tuple[str, ...]
    positions: tuple[tuple[str, Decimal], ...]

    def counts(self) -> dict[str, int]:
        return {
            "adopted": len(self.adopted),
            "unsent": len(self.unsent),
            "resolved": len(self.resolved),
            "fills_applied": len(self.fills_applied),
            "fills_deduplicated": self.fills_deduplicated,
            "discrepancies": len(self.discrepancies),
        }


class _Run:
    """One reconciliation's working state (see the module)."""

    def __init__(self, jb: JournalledBroker, venue: FillHistory) -> None:
        self.jb, self.venue, self.book = jb, venue, jb.book
        self.adopted: list[str] = []
        self.unsent: list[str] = []
        self.resolved: list[tuple[str, str]] = []
        self.applied: list[str] = []
        self.deduplicated = 0
        self.discrepancies: list[str] = []
        self.seen: dict[str, Order | None] = {}  # venue answers by order id

    def ask(self, oid: str) -> Order | None:
        if oid not in self.seen:
            self.seen[oid] = self.venue.venue_order(oid)
        return self.seen[oid]

    def resolve(self, o: JournalOrder | None, v: Order | None, outcome: str, **extra: Any) -> None:
        p: dict[str, Any] = {"outcome": outcome, **extra}
        if o is not None:
            p["cid"] = o.client_order_id
        if v is not None:
            p.update(oid=v.id, cid=v.client_order_id, status=v.status.value)
            p.update(symbol=v.symbol, side=v.request.side.value, replaces=v.replaces)
        self.jb.record("order.resolved", p)
        self.resolved.append((str(p.get("cid") or p.get("oid")), outcome))

    def learn(self, v: Order) -> JournalOrder:
        """An order the venue has that the journal has not seen (a replacement, a leg)."""
        o = self.book.by_oid.get(v.id)
        if o is None:
            self.resolve(None, v, "learned")
            o = self.book.by_oid[v.id]
        return o

    def ours(self, v: Order) -> bool:
        """Whether an order the journal has not seen is one of its own: its client order id is
        the journal's (an intent, or a replacement that took one over), or it replaces one of
        its orders, or it is a leg of one of its bracket, OCO or OTO orders."""
        book = self.book
        cid = v.client_order_id
        return (
            cid in book.by_cid
            or (v.replaces is not None and v.replaces in book.by_oid)
            or (v.group_id is not None and v.group_id in book.by_oid)
            or cid.rpartition("-")[0] in book.by_cid
        )

    # 1. intents with no outcome
    def intents(self) -> None:
        for o in self.book.pending():
            v = self.venue.venue_order_by_client_id(o.client_order_id)
            if v is None:
                self.jb.record(
                    "order.resolved",
                    {"cid": o.client_order_id, "outcome": "unsent", "status": "unsent"},
                )
                self.unsent.append(o.client_order_id)
                self.resolved.append((o.client_order_id, "unsent"))
            else:
                self.seen[v.id] = v
                self.resolve(o, v, "adopted")
                self.adopted.append(o.client_order_id)

    # 2. cancels and replaces with no outcome
    def requests(self) -> None:
        for oid in list(self.book.pending_cancels):
            v = self.ask(oid)
            if v is None:
                outcome = "cancel_moot"
            elif v.status.value == "canceled":
                outcome = "cancel_done"
            elif v.status.is_open:
                outcome = "cancel_unsent"
            else:
                outcome = "cancel_moot"
            self.jb.record("order.resolved", {"oid": oid, "outcome": outcome})
            self.resolved.append((oid, outcome))
        for oid in list(self.book.pending_replaces):
            v = self.ask(oid)
            new = v.replaced_by if v is not None else None
            if v is None:
                outcome = "replace_gone"
            elif new is not None:
                outcome = "replace_done"
            else:
                outcome = "replace_unsent"
            self.jb.record("order.resolved", {"oid": oid, "outcome": outcome, "new_oid": new})
            self.resolved.append((oid, outcome))

    # 3. orders the journal holds open
    def open_orders(self) -> None:
        todo = self.book.open_orders()
        while todo:
            o = todo.pop()
            assert o.order_id is not None
            v = self.ask(o.order_id)
            if v is None:
                self.jb.record(
                    "order.resolved",
                    {
                        "cid": o.client_order_id,
                        "oid": o.order_id,
                        "outcome": "gone",
                        "status": "gone",
                        "reason": "the broker no longer knows this order",
                    },
                )
                self.resolved.append((o.client_order_id, "gone"))
                self.discrepancies.append(
                    f"{o.client_order_id} ({o.order_id}): open in the journal, unknown to the "
                    "broker: resolved gone"
                )
                continue
            if v.status.value != o.status:
                outcome = "open" if v.status.is_open else "closed"
                self.resolve(o, v, outcome)
            if v.replaced_by is not None and v.replaced_by not in self.book.by_oid:
                new = self.ask(v.replaced_by)
                if new is not None:
                    n = self.learn(new)
                    if n.is_open:
                        todo.append(n)

    # 4. fills missed while down
    def fills(self, overlap_ns: int) -> None:
        since = max(self.book.last_fill_ts - overlap_ns, 0)
        unknown: dict[str, list[Fill]] = defaultdict(list)
        history = {f.trade_id: f for f in reversed(self.venue.fills_since(since))}
        for f in reversed(history.values()):  # each execution once, oldest first
            if f.trade_id in self.book.fills:
                self.deduplicated += 1
            else:
                unknown[f.order_id].append(f)
        for oid, fills in unknown.items():
            v = self.ask(oid)
            if v is None:
                self.discrepancies.append(
                    f"{len(fills)} fill(s) of {oid}, which the broker does not show: not applied"
                )
                continue
            o = self.book.by_oid.get(oid)
            if o is None:
                if not self.ours(v):
                    self.discrepancies.append(
                        f"{len(fills)} fill(s) of {oid} ({v.client_order_id}), an order this "
                        "journal did not place: not applied"
                    )
                    continue
                o = self.learn(v)
            need = v.cum_qty - o.filled
            take: list[Fill] = []
            got = _ZERO
            for f in sorted(fills, key=lambda f: f.ts_event, reverse=True):
                if got + f.qty <= need:
                    take.append(f)
                    got += f.qty
            self.deduplicated += len(fills) - len(take)
            for f in reversed(take):
                self.jb.record(
                    "order.fill",
                    {
                        "oid": oid,
                        "cid": v.client_order_id,
                        "symbol": v.symbol,
                        "side": v.request.side.value,
                        "fill": fill_record(f),
                    },
                )
                self.applied.append(f.trade_id)
            if got != need:
                self.discrepancies.append(
                    f"{v.client_order_id} ({oid}): the broker filled {v.cum_qty}, the journal "
                    f"{o.filled} after applying {got} from the history"
                )

    # 5. positions
    def positions(self) -> None:
        theirs = {s: p.qty for s, p in self.jb.inner.positions().items()}
        ours = self.book.positions
        for s in sorted(set(theirs) | set(ours)):
            a, b = ours.get(s, _ZERO), theirs.get(s, _ZERO)
            if a != b:
                self.discrepancies.append(
                    f"position {s}: the journal's fills make {a}, the broker holds {b}"
                )


def reconcile(jb: JournalledBroker, *, overlap_ns: int = 60 * 10**9) -> RecoveryReport:
    """Reconcile ``jb``'s journal with its inner broker (see the module); durable on return.
    ``overlap_ns``: how far before the last journalled fill the broker's history is read
    (fills are deduplicated by execution id, so reading more is safe)."""
    venue = jb.inner
    if not isinstance(venue, FillHistory):
        raise JournalError(
            "broker",
            type(venue).__name__,
            "cannot be reconciled: it needs fills_since, venue_order and "
            "venue_order_by_client_id (FillHistory)",
        )
    run = _Run(jb, venue)
    run.intents()
    run.requests()
    run.open_orders()
    run.fills(overlap_ns)
    run.positions()
    report = RecoveryReport(
        adopted=tuple(run.adopted),
        unsent=tuple(run.unsent),
        resolved=tuple(run.resolved),
        fills_applied=tuple(run.applied),
        fills_deduplicated=run.deduplicated,
        discrepancies=tuple(run.discrepancies),
        positions=tuple(sorted(jb.book.positions.items())),
    )
    jb.record("order.reconciled", {**report.counts(), "discrepancies": list(report.discrepancies)})
    jb.journal.sync()
    return report
