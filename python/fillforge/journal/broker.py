"""``JournalledBroker``: any :class:`~fillforge.broker.Broker`, with every intent written ahead to
a journal and every order event journalled (issue 18).

What is journalled, and when (the kinds are :mod:`~fillforge.journal.rebuild`'s):

- ``submit``: the full request as ``order.submit``, written ahead (durable, ``write_ahead``)
  **before** the inner broker is called; then ``order.ack`` with the venue's order id, or
  ``order.reject`` when the broker refused it (after asking the venue, when the broker can be
  asked, whether it arrived anyway). A request without a client order id gets
  ``<prefix>-<seq>``: ``seq`` is the journal sequence the intent was due to take, ``prefix``
  names the journal (made once, kept in the journal), so an id never repeats across restarts. A
  caller's client order id (a parent's child, ``<parent>-c<n>``) is kept, and journalled.
- ``cancel`` and ``replace``: ``order.cancel`` / ``order.replace`` written ahead, then their
  outcome (``*_ack`` or ``*_reject``).
- every order event the inner broker publishes (status changes; fills with the venue's execution
  id, quantity, price, fee and time) as ``order.event``, appended (group commit): the last ones
  may be lost in a crash, and reconciliation (:mod:`~fillforge.journal.reconcile`) finds them
  again in the broker's history.

So a crash can never leave an order at the venue that the journal does not know: its intent is
durable before it is sent, and its client order id is in the intent.

The async twin costs nothing: :class:`~fillforge.sim.aio.AsyncAdapter` (``AsyncAdapter(
JournalledBroker(...))``) runs every call on one worker thread, so the journal sees the same
calls in the same order.

:class:`CrashHook` is the crash-injection tests' kill switch: ``FILLFORGE_CRASH_AT=send:17`` kills
the process (SIGKILL) at the 17th pass of the ``send`` point; it is never consulted when unset.
"""

from __future__ import annotations

import os
import re
import secrets
import signal
import threading
from collections.abc import Callable
from decimal import Decimal
from typing import Any, Final, Protocol, Unpack

from fillforge.broker import (
    AccountSnapshot,
    Broker,
    BrokerDelegate,
    Position,
    ReplaceChanges,
    replace_terms,
)
from fillforge.errors import DuplicateClientOrderIdError, JournalError
from fillforge.journal.rebuild import BOOK_SNAPSHOT, CHECKPOINT_EVERY, OrderBook, rebuild
from fillforge.orders.enums import EventKind
from fillforge.orders.manager import EventStream, Subscriber
from fillforge.orders.models import Fill, OrderEvent, OrderRequest, ReplaceTerms
from fillforge.orders.order import Order

__all__ = [
    "CHECKPOINT_EVERY",
    "CRASH_POINTS",
    "ORDER_POINTS",
    "CrashHook",
    "JournalledBroker",
    "OrderJournal",
    "fill_record",
]

#: Where :class:`JournalledBroker` lets :class:`CrashHook` kill: after the intent is durable and
#: before the send (``journal``); after the send, before its ack is journalled (``send``); when a
#: partial fill arrives, before it is journalled (``fill``); a cancel or a replace written ahead,
#: before it is sent (``cancel``, ``replace``) and after it was sent, before its outcome is
#: journalled (``cancel_sent``, ``replace_sent``).
ORDER_POINTS: Final = (
    "journal",
    "send",
    "fill",
    "cancel",
    "cancel_sent",
    "replace",
    "replace_sent",
)
#: Every crash point: the order points, and ``schedule`` (in the middle of a parent order's
#: schedule, between two children: the execution engine's, hit by whoever owns it).
CRASH_POINTS: Final = (*ORDER_POINTS, "schedule")
_PREFIX = re.compile(r"[A-Za-z0-9_.:]{1,24}")  # no "-": it separates the prefix from the seq
_PARTIAL_FILL: Final = EventKind.PARTIAL_FILL
_REPLACED: Final = EventKind.REPLACED
_NEW: Final = EventKind.NEW
_CREATED: Final = EventKind.CREATED


class CrashHook:
    """Counts the passes of each crash point and crashes at the ``at``-th pass of ``point``:
    ``action`` (default: SIGKILL this process; the in-process tests raise a ``BaseException``
    of their own, ``tests/crash_agent.Crash``, that nothing on the way out handles)."""

    def __init__(self, point: str, at: int, action: Callable[[], None] | None = None) -> None:
        if point not in CRASH_POINTS:
            raise JournalError("point", point, f"expected one of {', '.join(CRASH_POINTS)}")
        if isinstance(at, bool) or not isinstance(at, int) or at < 1:
            raise JournalError("at", at, "expected a pass number >= 1")
        self.point, self.at, self.passes = point, at, 0
        self._action = action or _kill_self

    @classmethod
    def from_env(cls, var: str = "FILLFORGE_CRASH_AT") -> CrashHook | None:
        """The hook ``$var`` asks for (``<point>:<pass>``, e.g. ``send:17``); None when unset."""
        spec = os.environ.get(var)
        if not spec:
            return None
        point, _, n = spec.partition(":")
        if not n.isdigit():
            raise JournalError(var, spec, "expected <point>:<pass>, e.g. send:17")
        return cls(point, int(n))

    def hit(self, point: str) -> None:
        """One pass of ``point``."""
        if point == self.point:
            self.passes += 1
            if self.passes == self.at:
                self._action()


def _kill_self() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


class OrderJournal(Protocol):
    """The journal calls :class:`JournalledBroker` makes (``fillforge.journal.Journal``)."""

    @property
    def next_seq(self) -> int: ...
    def append(self, kind: str, payload: dict[str, Any]) -> int: ...
    def write_ahead(self, kind: str, payload: dict[str, Any]) -> int: ...
    def sync(self) -> None: ...
    def records(self, since: int = 0, kinds: Any = None) -> Any: ...
    def save_snapshot(self, name: str, payload: dict[str, Any]) -> int: ...


class JournalledBroker(BrokerDelegate):
    """A :class:`~fillforge.broker.Broker` that writes ahead to ``journal`` (see the module).

    ``book`` is the journal's :class:`~fillforge.journal.rebuild.OrderBook` (default: rebuilt
    from ``journal``); the broker keeps it up to date with every record it writes. ``prefix``
    names this journal's client order ids (default: the one the journal holds, else a new random
    one, journalled). ``crash`` is the crash tests' :class:`CrashHook`. Every
    ``checkpoint_every`` records (None: never) the book is checkpointed (:meth:`checkpoint`).
    ``arrival_mid``: each intent also carries the inner broker's mid when it was written
    (``order.submit``'s ``mid``), the arrival price transaction-cost analysis reads from the
    journal alone; it costs one ``latest_quote`` per order (free on the simulated exchange, a
    request on a live broker's data API).
    """

    def __init__(
        self,
        inner: Broker,
        journal: OrderJournal,
        *,
        prefix: str | None = None,
        book: OrderBook | None = None,
        crash: CrashHook | None = None,
        checkpoint_every: int | None = CHECKPOINT_EVERY,
        arrival_mid: bool = False,
    ) -> None:
        if prefix is not None and (not isinstance(prefix, str) or not _PREFIX.fullmatch(prefix)):
            raise JournalError("prefix", prefix, "expected 1-24 of A-Z a-z 0-9 _ . : (no '-')")
        if checkpoint_every is not None and (
            isinstance(checkpoint_every, bool)
            or not isinstance(checkpoint_every, int)
            or checkpoint_every < 1
        ):
            raise JournalError("checkpoint_every", checkpoint_every, "expected records >= 1")
        if not isinstance(arrival_mid, bool):
            raise JournalError("arrival_mid", arrival_mid, "expected True or False")
        self.inner = self.wrapped = inner
        self.journal = journal
        self._arrival_mid = arrival_mid
        self.book = book if book is not None else rebuild(journal)
        self._every = checkpoint_every
        self._since_checkpoint = self.book.replayed
        self._crash = crash
        self._dead: BaseException | None = None
        # Held only around a journal write and the book's update (never across a call to the
        # inner broker, whose event thread calls back into _on_event).
        self._lock = threading.RLock()
        if self.book.prefix is None or (prefix is not None and prefix != self.book.prefix):
            self._write_ahead("order.session", {"prefix": prefix or f"j{secrets.token_hex(4)}"})
        assert self.book.prefix is not None
        self.prefix: str = self.book.prefix
        self._unsubscribe = inner.subscribe(self._on_event)

    @property
    def lock(self) -> threading.RLock:
        """Held while a record is written and applied to :attr:`book`: hold it to read the
        book consistently while the broker's event thread journals."""
        return self._lock

    # ----- journal writes ------------------------------------------------------------------

    def _write_ahead(self, kind: str, payload: dict[str, Any]) -> int:
        with self._lock:
            seq = self.journal.write_ahead(kind, payload)
            self._applied(seq, kind, payload)
        return seq

    def record(self, kind: str, payload: dict[str, Any]) -> int:
        """Append one ``order.*`` record (group commit) and apply it to the book."""
        with self._lock:
            seq = self.journal.append(kind, payload)
            self._applied(seq, kind, payload)
        return seq

    def _applied(self, seq: int, kind: str, payload: dict[str, Any]) -> None:
        self.book.apply(seq, kind, payload)
        self._since_checkpoint += 1
        if self._every is not None and self._since_checkpoint >= self._every:
            self.checkpoint()

    def checkpoint(self) -> int:
        """Save the whole book as the journal's ``order.book`` snapshot (kept beside the
        records, the last one only: a restart reads it and the records after it, not every
        record); the seq it stands at. Made every ``checkpoint_every`` records by the thread
        that writes the record that reaches the count (a pause that grows with the book: about
        a microsecond per order and fill)."""
        with self._lock:
            seq = self.journal.save_snapshot(BOOK_SNAPSHOT, self.book.checkpoint())
            self._since_checkpoint = 0
        return seq

    def _hit(self, point: str) -> None:
        if self._crash is not None:
            self._crash.hit(point)

    def _alive(self) -> None:
        if self._dead is not None:
            raise self._dead

    def _die(self, why: BaseException) -> None:
        """A crash (or a journal that stopped taking records) met where it cannot propagate,
        in the inner broker's event delivery: from here on nothing is journalled and every
        request (submit, cancel, replace) raises it again, so nothing is sent unjournalled."""
        self._dead = why
        self.detach()

    def detach(self) -> None:
        """Stop journalling the inner broker's events (the broker is being dropped)."""
        self._unsubscribe()
        self._unsubscribe = _nothing

    def _on_event(self, e: OrderEvent) -> None:
        if self._dead is not None:
            return
        if e.kind is _PARTIAL_FILL and self._crash is not None:
            try:
                self._crash.hit("fill")
            except BaseException as why:
                self._die(why)
                return
        try:
            side = self.inner.get_order(e.order_id).request.side.value
        except Exception:
            known = self.book.by_oid.get(e.order_id)
            side = known.side if known is not None else ""
        p: dict[str, Any] = {
            "oid": e.order_id,
            "cid": e.client_order_id,
            "kind": e.kind.value,
            "status": e.status.value,
            "symbol": e.symbol,
            "side": side,
            "ts": e.ts,
        }
        if e.related_id is not None:
            if e.kind is _REPLACED:
                p["related"] = e.related_id
            elif e.kind is _NEW or e.kind is _CREATED:
                # A replacement's first event names the order it replaces (its own New; an
                # order adopted mid-chain, its created).
                p["replaces"] = e.related_id
        f = e.fill
        if f is not None:
            p["fill"] = fill_record(f)
            p["cum"] = str(e.cum_qty)
        try:
            self.record("order.event", p)
        except JournalError as why:  # the journal stopped taking records: fail closed
            self._die(why)

    # ----- requests ------------------------------------------------------------------------

    def submit(self, request: OrderRequest) -> Order:
        """Write the intent ahead, send it, journal the outcome (see the module)."""
        self._alive()
        if not isinstance(request, OrderRequest):
            raise JournalError("request", type(request).__name__, "expected an OrderRequest")
        with self._lock:
            cid = request.client_order_id or f"{self.prefix}-{self.journal.next_seq}"
            if cid in self.book.by_cid:
                raise DuplicateClientOrderIdError(
                    f"client_order_id={cid!r}: already in the journal (seq "
                    f"{self.book.by_cid[cid].seq})"
                )
            if request.client_order_id is None:
                request = request.model_copy(update={"client_order_id": cid})
            wire = request.model_dump(mode="json", exclude_defaults=True)
            intent: dict[str, Any] = {"cid": cid, "request": wire}
            if self._arrival_mid:
                mid = self._mid(request.symbol)
                if mid is not None:
                    intent["mid"] = str(mid)
            self._write_ahead("order.submit", intent)
        self._hit("journal")
        try:
            order = self.inner.submit(request)
        except Exception as e:
            self._refused(cid, e)
            raise
        self._hit("send")
        self.record("order.ack", {"cid": cid, "oid": order.id, "status": order.status.value})
        return order

    def _mid(self, symbol: str) -> Decimal | None:
        """The inner broker's mid in ``symbol`` now (None without a two-sided quote)."""
        try:
            q = self.inner.latest_quote(symbol)
        except Exception:  # no quote is no arrival price, never a refused order
            return None
        if q is None or q.bid_price is None or q.ask_price is None:
            return None
        return (q.bid_price + q.ask_price) / 2

    def _refused(self, cid: str, e: Exception) -> None:
        """The send raised: if the venue has the order anyway, it is adopted; if it has not
        (or the broker cannot be asked), the intent is refused or left for reconciliation."""
        why = {"cid": cid, "error": type(e).__name__, "message": str(e)[:500]}
        lookup = getattr(self.inner, "venue_order_by_client_id", None)
        if lookup is None or isinstance(e, DuplicateClientOrderIdError):  # another's order
            self.record("order.reject", why)
            return
        try:
            found = lookup(cid)
        except Exception:
            self.record("order.send_failed", why)
            return
        if found is None:
            self.record("order.reject", why)
        else:
            self.record("order.ack", {"cid": cid, "oid": found.id, "status": found.status.value})

    def cancel(self, order_id: str) -> None:
        """Write the cancel ahead, send it, journal the outcome."""
        self._alive()
        self._write_ahead("order.cancel", {"oid": order_id})
        self._hit("cancel")
        try:
            self.inner.cancel(order_id)
        except Exception as e:
            self.record("order.cancel_reject", _why(order_id, e))
            raise
        self._hit("cancel_sent")
        self.record("order.cancel_ack", {"oid": order_id})

    def replace(
        self, order_id: str, terms: ReplaceTerms | None = None, **changes: Unpack[ReplaceChanges]
    ) -> None:
        """Write the replace ahead, send it, journal the outcome (the new order id, once the
        broker knows it)."""
        self._alive()
        t = replace_terms(terms, changes)
        wire = t.model_dump(mode="json", exclude_none=True)
        self._write_ahead("order.replace", {"oid": order_id, "terms": wire})
        self._hit("replace")
        try:
            self.inner.replace(order_id, t)
        except Exception as e:
            self.record("order.replace_reject", _why(order_id, e))
            raise
        self._hit("replace_sent")
        new = self.inner.get_order(order_id).replaced_by
        self.record("order.replace_ack", {"oid": order_id, "new_oid": new})

    # ----- the rest of the Broker interface: the inner broker's ------------------------------

    def get_order(self, order_id: str) -> Order:
        return self.inner.get_order(order_id)

    def get_order_by_client_id(self, client_order_id: str) -> Order:
        return self.inner.get_order_by_client_id(client_order_id)

    def orders(self, *, open_only: bool = False, symbol: str | None = None) -> list[Order]:
        return self.inner.orders(open_only=open_only, symbol=symbol)

    def positions(self) -> dict[str, Position]:
        return self.inner.positions()

    def account(self) -> AccountSnapshot:
        return self.inner.account()

    def events(self) -> EventStream:
        return self.inner.events()

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        return self.inner.subscribe(callback)

    def __repr__(self) -> str:
        return f"JournalledBroker({self.inner!r}, prefix={self.prefix!r}, {self.book!r})"


def fill_record(f: Fill) -> dict[str, Any]:
    """A fill as the journal's ``order.event`` and ``order.fill`` records carry it (what
    :mod:`~fillforge.journal.rebuild` reads back)."""
    return {
        "id": f.trade_id,
        "qty": str(f.qty),
        "price": str(f.price),
        "fee": str(f.commission),
        "ts": f.ts_event,
    }


def _why(order_id: str, e: Exception) -> dict[str, Any]:
    return {"oid": order_id, "error": type(e).__name__, "message": str(e)[:500]}


def _nothing() -> None:
    return None
