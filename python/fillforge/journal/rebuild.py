"""The orders a journal knows, rebuilt from its ``order.*`` records (issue 18).

:class:`OrderBook` is the one reader of the records :class:`~fillforge.journal.broker.
JournalledBroker` and :mod:`~fillforge.journal.reconcile` write: the broker keeps one up to date
as it writes (every record it appends goes through :meth:`OrderBook.apply`), and a restart builds
one by applying the journal's records in order (:func:`rebuild`). So what a restart sees is,
record for record, what the process saw before it died.

For each order: the request and client order id (from its ``order.submit`` intent), the venue's
order id once known, its status, the quantity filled and the fills by the venue's execution id,
and the parent it is a child of (:func:`~fillforge.orders.ids.parent_of`). Across orders: every
fill by execution id (a fill journalled twice counts once), the signed position per symbol those
fills make, the last fill's venue time (where reconciliation asks the broker's history from), and
the cancels and replaces written ahead with no outcome yet.

The record kinds and their payloads (JSON-mode: quantities and prices as decimal strings):

``order.session``     ``{"prefix"}``: the client order id prefix of this journal (written once).
``order.submit``      ``{"cid", "request"[, "mid"]}``: written ahead of the send; the seq names the
                      intent; ``mid`` the broker's mid then (``arrival_mid=True``).
``order.ack``         ``{"cid", "oid", "status"}``: the broker took it (its venue order id).
``order.reject``      ``{"cid", "error", "message"}``: the broker refused it; nothing was sent.
``order.send_failed`` ``{"cid", "error", "message"}``: the send's outcome is unknown (a network
                      failure): the intent stays pending until reconciliation resolves it.
``order.cancel``      ``{"oid"}``; ``order.cancel_ack`` / ``order.cancel_reject``: a cancel.
``order.replace``     ``{"oid", "terms"}``; ``order.replace_ack`` ``{"oid", "new_oid"}`` /
                      ``order.replace_reject``: a replace.
``order.event``       ``{"oid", "cid", "kind", "status", "symbol", "side", "ts"[, "related"]
                      [, "replaces"][, "fill", "cum"]}``: an order event the broker published;
                      ``related`` the replacement of a ``replaced`` order, ``replaces`` the
                      order a replacement replaces; ``fill`` is ``{"id", "qty", "price", "fee",
                      "ts"}`` with the venue's execution id, ``cum`` the order's filled
                      quantity after it (a replacement's counts its predecessor's).
``order.fill``        ``{"oid", "cid", "symbol", "side", "fill"}``: a fill reconciliation found
                      in the broker's history that the journal did not have.
``order.resolved``    ``{"cid", "oid", "outcome", "status", "reason"}``: reconciliation's
                      verdict on an order (``adopted``, ``unsent``, ``gone``, ``closed``) or on a
                      cancel or replace (``cancel_*``, ``replace_*``).
``order.reconciled``  a reconciliation's summary (:class:`~fillforge.journal.reconcile.
                      RecoveryReport`'s counts).
``order.checkpoint``  the whole book (:meth:`OrderBook.checkpoint`), as journals written before
                      snapshots kept it: a restart starts from the last one and applies only the
                      records after it; a full replay skips it.

The whole book is now kept as the journal's ``order.book`` snapshot (:data:`BOOK_SNAPSHOT`,
``Journal.save_snapshot``): beside the records, the last one only, so the journal does not grow
by a copy of the book every :data:`CHECKPOINT_EVERY` records.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final, NamedTuple, Protocol

from fillforge.orders.enums import OPEN_STATUSES
from fillforge.orders.models import parent_of

__all__ = [
    "BOOK_SNAPSHOT",
    "CHECKPOINT_EVERY",
    "CHECKPOINT_LOOKBACK",
    "INTENT",
    "PENDING",
    "SEND_UNKNOWN",
    "JournalFill",
    "JournalOrder",
    "OrderBook",
    "RecordSource",
    "rebuild",
]

_ZERO: Final = Decimal(0)
INTENT: Final = "intent"  # written ahead; no outcome yet
SEND_UNKNOWN: Final = "send_unknown"  # the send failed in a way that may have reached the venue
PENDING: Final = frozenset({INTENT, SEND_UNKNOWN})
_OPEN: Final = frozenset(s.value for s in OPEN_STATUSES)


class JournalFill(NamedTuple):
    """One execution as journalled: the venue's execution id, its order, size, price, fee and
    venue time (a named tuple: a replay makes one per fill, and a tuple is the cheapest)."""

    exec_id: str
    order_id: str
    symbol: str
    side: str
    qty: Decimal
    price: Decimal
    fee: Decimal
    ts_ns: int


@dataclass(slots=True)
class JournalOrder:
    """One order as the journal knows it. ``seq`` is its ``order.submit`` intent (None: an
    order learned from the broker's events, such as a bracket's leg or a replacement);
    ``status`` is the venue's status value, or :data:`INTENT` / :data:`SEND_UNKNOWN` while the
    outcome of the send is unknown, or a resolution (``unsent``, ``refused``, ``gone``)."""

    client_order_id: str
    seq: int | None
    request: dict[str, Any] | None
    symbol: str
    side: str
    order_id: str | None = None
    status: str = INTENT
    filled: Decimal = _ZERO
    fills: list[str] = field(default_factory=list)
    replaced_by: str | None = None
    resolution: str | None = None

    @property
    def parent_id(self) -> str | None:
        """The parent order this order is a child of (from its client order id)."""
        return parent_of(self.client_order_id)

    @property
    def is_open(self) -> bool:
        """Working (or possibly working) at the venue, as far as the journal knows."""
        return self.status in _OPEN

    @property
    def is_pending(self) -> bool:
        """Written ahead with no known outcome: reconciliation must ask the venue."""
        return self.status in PENDING


class RecordSource(Protocol):
    """What :func:`rebuild` reads: the journal's records, oldest first (``Journal.records``),
    and its snapshots if it keeps them (``Journal.snapshot``)."""

    def records(self, since: int = 0, kinds: Iterable[str] | None = None) -> Iterable[Any]: ...


class OrderBook:
    """The orders, fills and positions the ``order.*`` records describe (see the module).

    Its writer (a :class:`~fillforge.journal.broker.JournalledBroker`) applies records under its
    ``lock``; the list queries here copy what they walk, so another thread may call them while
    records arrive (take the broker's lock for a view consistent across several reads)."""

    def __init__(self) -> None:
        self.prefix: str | None = None
        self.by_cid: dict[str, JournalOrder] = {}
        self.by_oid: dict[str, JournalOrder] = {}
        self.intents: list[JournalOrder] = []  # every order.submit, in seq order
        self.fills: dict[str, JournalFill] = {}
        self.positions: dict[str, Decimal] = {}
        self.last_fill_ts = 0
        self.duplicate_fills = 0
        self.pending_cancels: dict[str, int] = {}  # order id -> the cancel intent's seq
        self.pending_replaces: dict[str, tuple[int, dict[str, Any]]] = {}
        self.last_seq = 0
        self.replayed = 0  # order.* records a rebuild applied after its checkpoint
        self._seq = 0
        self._apply: dict[str, Callable[[dict[str, Any]], None]] = {
            "order.event": self._event,
            "order.submit": self._submit,
            "order.ack": self._ack,
            "order.reject": self._reject,
            "order.send_failed": self._send_failed,
            "order.cancel": self._cancel,
            "order.cancel_ack": self._cancel_done,
            "order.cancel_reject": self._cancel_done,
            "order.replace": self._replace,
            "order.replace_ack": self._replace_ack,
            "order.replace_reject": self._replace_done,
            "order.fill": self._recovered_fill,
            "order.resolved": self._resolved,
            "order.session": self._session,
        }

    # ----- applying records --------------------------------------------------------------------

    def apply(self, seq: int, kind: str, payload: dict[str, Any]) -> None:
        """Apply one record (kinds other than ``order.*`` are not this book's: skipped)."""
        self.last_seq = self._seq = seq
        handler = self._apply.get(kind)
        if handler is not None:
            handler(payload)

    def _session(self, p: dict[str, Any]) -> None:
        self.prefix = p["prefix"]

    def _submit(self, p: dict[str, Any]) -> None:
        r = p["request"]
        o = JournalOrder(p["cid"], self._seq, r, r["symbol"], r["side"])
        self.by_cid[o.client_order_id] = o
        self.intents.append(o)

    def _ack(self, p: dict[str, Any]) -> None:
        o = self.by_cid[p["cid"]]
        oid = p["oid"]
        o.order_id = oid
        self.by_oid[oid] = o
        if o.status in PENDING:
            o.status = p["status"]

    def _reject(self, p: dict[str, Any]) -> None:
        o = self.by_cid[p["cid"]]
        o.status, o.resolution = "refused", p["message"]

    def _send_failed(self, p: dict[str, Any]) -> None:
        o = self.by_cid[p["cid"]]
        if o.status == INTENT:
            o.status = SEND_UNKNOWN

    def _cancel(self, p: dict[str, Any]) -> None:
        self.pending_cancels[p["oid"]] = self._seq

    def _cancel_done(self, p: dict[str, Any]) -> None:
        self.pending_cancels.pop(p["oid"], None)

    def _replace(self, p: dict[str, Any]) -> None:
        self.pending_replaces[p["oid"]] = (self._seq, p["terms"])

    def _replace_ack(self, p: dict[str, Any]) -> None:
        self.pending_replaces.pop(p["oid"], None)
        new = p.get("new_oid")
        o = self.by_oid.get(p["oid"])
        if o is not None and new is not None:
            o.replaced_by = new

    def _replace_done(self, p: dict[str, Any]) -> None:
        self.pending_replaces.pop(p["oid"], None)

    def _order_for(self, p: dict[str, Any]) -> JournalOrder:
        """The order an event or fill names: by venue id, else by client order id (its first
        event), else a new one (a leg, a replacement, an order placed elsewhere). A replacement
        carries the executions of the order it replaces (its filled quantity starts there)."""
        oid = p["oid"]
        o = self.by_oid.get(oid)
        if o is not None:
            return o
        cid = p["cid"]
        o = self.by_cid.get(cid)
        if o is None or (o.order_id is not None and o.order_id != oid):
            o = JournalOrder(cid, None, None, p["symbol"], p["side"], status="new")
            self.by_cid[cid] = o  # a replacement takes its client order id over
            prev = self.by_oid.get(p.get("replaces") or "")
            if prev is not None:
                o.filled = prev.filled
                prev.replaced_by = oid
        o.order_id = oid
        self.by_oid[oid] = o
        return o

    def _event(self, p: dict[str, Any]) -> None:
        o = self.by_oid.get(p["oid"])  # _order_for's first step, inlined: most events
        if o is None:
            o = self._order_for(p)
        o.status = p["status"]
        if "related" in p:  # a replaced order names its replacement
            o.replaced_by = p["related"]
        f = p.get("fill")
        if f is not None:
            self._fill(o, f, Decimal(p["cum"]))

    def _recovered_fill(self, p: dict[str, Any]) -> None:
        self._fill(self._order_for(p), p["fill"], None)

    def _fill(self, o: JournalOrder, f: dict[str, Any], cum: Decimal | None) -> None:
        """Count a fill once: by execution id, and (for a broker's event, which says the
        order's filled quantity after it) only what it adds beyond what is already counted: a
        broker that rebuilt an order's history after a restart reports fills the journal has
        under other ids (alpaca-py's REST catch-up), and those add nothing."""
        fid = f["id"]
        if fid in self.fills:
            self.duplicate_fills += 1
            return
        qty = Decimal(f["qty"])
        if cum is not None and o.filled + qty > cum:
            qty = cum - o.filled
            if qty <= 0:
                self.duplicate_fills += 1
                return
        ts = f["ts"]
        oid = o.order_id
        assert oid is not None
        self.fills[fid] = JournalFill(
            fid, oid, o.symbol, o.side, qty, Decimal(f["price"]), Decimal(f["fee"]), ts
        )
        o.filled += qty
        o.fills.append(fid)
        nxt = o.replaced_by
        while nxt is not None:  # its replacements carry its executions
            later = self.by_oid.get(nxt)
            if later is None:
                break
            later.filled += qty
            nxt = later.replaced_by
        pos = self.positions
        pos[o.symbol] = pos.get(o.symbol, _ZERO) + (qty if o.side == "buy" else -qty)
        if ts > self.last_fill_ts:
            self.last_fill_ts = ts

    def _resolved(self, p: dict[str, Any]) -> None:
        outcome = p["outcome"]
        if outcome.startswith("cancel_"):
            self.pending_cancels.pop(p["oid"], None)
            return
        if outcome.startswith("replace_"):
            self.pending_replaces.pop(p["oid"], None)
            old = self.by_oid.get(p["oid"])
            if old is not None and p.get("new_oid"):
                old.replaced_by = p["new_oid"]
            return
        if "symbol" in p:  # the venue's view of an order: ids, status
            o: JournalOrder | None = self._order_for(p)
        elif p.get("oid") is not None:
            o = self.by_oid.get(p["oid"])
        else:
            o = self.by_cid.get(p["cid"])
        if o is not None:
            o.status, o.resolution = p["status"], outcome

    # ----- checkpoints ------------------------------------------------------------------------

    def checkpoint(self) -> dict[str, Any]:
        """The whole book as one JSON-mode payload (``order.checkpoint``): :meth:`restore` of it
        is this book, so a restart reads the last checkpoint and the records after it instead of
        every record."""
        orders = self.orders()
        index = {id(o): i for i, o in enumerate(orders)}
        return {
            "v": 1,
            "prefix": self.prefix,
            "last_fill_ts": self.last_fill_ts,
            "duplicate_fills": self.duplicate_fills,
            "orders": [
                [
                    o.client_order_id,
                    o.seq,
                    o.request,
                    o.symbol,
                    o.side,
                    o.order_id,
                    o.status,
                    str(o.filled),
                    o.fills,
                    o.replaced_by,
                    o.resolution,
                ]
                for o in orders
            ],
            "live": [index[id(o)] for o in self.by_cid.values()],
            "intents": [index[id(o)] for o in self.intents],
            "fills": [
                [f.exec_id, f.order_id, str(f.qty), str(f.price), str(f.fee), f.ts_ns]
                for f in self.fills.values()
            ],
            "positions": {s: str(q) for s, q in self.positions.items()},
            "cancels": self.pending_cancels,
            "replaces": {oid: [seq, terms] for oid, (seq, terms) in self.pending_replaces.items()},
        }

    def _restore(self, p: dict[str, Any]) -> None:
        """This book becomes the checkpoint ``p`` (see :meth:`checkpoint`). A checkpoint holds
        a few distinct quantities, prices and fees many times over: each text becomes one
        Decimal (immutable, so shared), and each fill a tuple made without a Python call."""
        dec = _Decimals()
        orders = [
            JournalOrder(c, q, r, sym, side, oid, st, dec[f], fl, rb, res)
            for c, q, r, sym, side, oid, st, f, fl, rb, res in p["orders"]
        ]
        self.prefix = p["prefix"]
        self.last_fill_ts = p["last_fill_ts"]
        self.duplicate_fills = p["duplicate_fills"]
        self.by_oid = by_oid = {o.order_id: o for o in orders if o.order_id is not None}
        self.by_cid = {orders[i].client_order_id: orders[i] for i in p["live"]}
        self.intents = [orders[i] for i in p["intents"]]
        new, fills = tuple.__new__, {}
        for fid, oid, qty, price, fee, ts in p["fills"]:
            o = by_oid[oid]
            fills[fid] = new(
                JournalFill, (fid, oid, o.symbol, o.side, dec[qty], dec[price], dec[fee], ts)
            )
        self.fills = fills
        self.positions = {s: Decimal(q) for s, q in p["positions"].items()}
        self.pending_cancels = dict(p["cancels"])
        self.pending_replaces = {oid: (sq, t) for oid, (sq, t) in p["replaces"].items()}

    # ----- questions ---------------------------------------------------------------------------

    def orders(self) -> list[JournalOrder]:
        """Every order once: each venue order (a replaced one and its replacement are two), and
        the intents that never got a venue id (unsent, refused, pending). ``by_cid`` holds only
        the live order of a replace chain (the client order id moves on with it)."""
        known = list(self.by_oid.values())  # copied at once: another thread may be writing
        return [*known, *(o for o in list(self.intents) if o.order_id is None)]

    def open_orders(self) -> list[JournalOrder]:
        """Orders the journal holds open at the venue (each once, by venue id)."""
        return [o for o in list(self.by_oid.values()) if o.status in _OPEN]

    def pending(self) -> list[JournalOrder]:
        """Intents written ahead whose send has no known outcome."""
        return [o for o in list(self.intents) if o.status in PENDING]

    def position(self, symbol: str) -> Decimal:
        return self.positions.get(symbol, _ZERO)

    def __repr__(self) -> str:
        return (
            f"OrderBook(intents={len(self.intents)}, orders={len(self.by_oid)}, "
            f"fills={len(self.fills)}, last_seq={self.last_seq})"
        )


class _Decimals(dict[str, Decimal]):
    """Decimal texts made into Decimals once each (``cache[text]``)."""

    def __missing__(self, text: str) -> Decimal:
        value = self[text] = Decimal(text)
        return value


#: How many records :class:`~fillforge.journal.broker.JournalledBroker` writes between two
#: checkpoints of its book (by default).
CHECKPOINT_EVERY: Final = 100_000
#: The name of the journal snapshot that holds the whole book (:meth:`OrderBook.checkpoint`).
BOOK_SNAPSHOT: Final = "order.book"
#: How far back from its end :func:`rebuild` looks for a checkpoint (records): first twice
#: :data:`CHECKPOINT_EVERY`, then this far (other writers' records come in between).
CHECKPOINT_LOOKBACK: Final = 1_000_000


def rebuild(journal: RecordSource, *, full: bool = False) -> OrderBook:
    """The :class:`OrderBook` the ``order.*`` records in ``journal`` make, in order: from its
    ``order.book`` snapshot and the records after it, else (a journal from before snapshots)
    from the last ``order.checkpoint`` record within :data:`CHECKPOINT_LOOKBACK` records of
    its end and the records after it, or (``full``, or neither found) from every record. All
    give the same book."""
    book = OrderBook()
    since = 0
    end = getattr(journal, "next_seq", None)
    # A million records (or a checkpoint of them) make a few hundred thousand objects that live
    # on: the cyclic collector would walk them again and again while they are made (none of
    # them is garbage).
    collecting = gc.isenabled()
    gc.disable()
    n = 0
    try:
        snapshot = getattr(journal, "snapshot", None)
        saved = snapshot(BOOK_SNAPSHOT) if snapshot is not None and not full else None
        if saved is not None:
            book._restore(saved[1])
            book.last_seq = book._seq = since = saved[0]
        elif not full and isinstance(end, int):
            last = None
            for back in (2 * CHECKPOINT_EVERY, CHECKPOINT_LOOKBACK):  # the nearest first
                for r in journal.records(max(end - 1 - back, 0), ("order.checkpoint",)):
                    last = r
                if last is not None or back >= end:
                    break
            if last is not None:
                book._restore(last.payload)
                book.last_seq = book._seq = since = last.seq
        handlers = book._apply
        for r in journal.records(since, None):
            handler = handlers.get(r.kind)
            book._seq = r.seq
            if handler is not None:
                handler(r.payload)
                n += 1
    finally:
        book.replayed = n
        if collecting:
            gc.enable()
    book.last_seq = book._seq
    return book
