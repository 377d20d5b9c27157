"""A journal read into columns (:class:`Tape`): its orders, fills and parents, with the record
times TCA needs (when each order was written ahead, acknowledged, accepted at the venue, ended).

The orders and fills are the journal's :class:`~fillforge.journal.rebuild.OrderBook` (the one
reader of the ``order.*`` records: each record is applied to one, in order, so a fill journalled
twice counts once and a replacement carries its predecessor's executions); this module only
notes, as the records go by, the times the book does not keep. The parents are the last
``parent.*`` snapshot of each (:class:`~fillforge.execution.parent.ParentSnapshot`: its spec,
the decision price and time, the arrival mid and the mid at its first child, when it ended).

Times: ``*_rec_ns`` are record times (the journal's clock: the broker's time for an agent's
journal, simulated time in a backtest); ``*_venue_ns`` are the venue's times carried in the
records (an event's ``ts``, a fill's ``ts``). :data:`NO_TIME` (-1) marks a time not known.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

import numpy as np
import numpy.typing as npt

from fillforge.errors import JournalError, TcaError
from fillforge.execution.parent import ParentSnapshot
from fillforge.journal import Journal
from fillforge.journal.rebuild import JournalFill, OrderBook
from fillforge.orders.models import split_child_id

__all__ = ["NO_TIME", "JournalSource", "Tape", "read_tape", "snapshot_columns"]

NO_TIME: Final = -1
_TERMINAL: Final = frozenset(
    {"filled", "canceled", "expired", "rejected", "denied", "done_for_day", "replaced"}
)
_PARENT_PREFIX: Final = "parent."
# Events a broker makes before the venue has the order (the venue's first word is another).
_LOCAL: Final = frozenset({"created", "submitted", "pending_new"})


class JournalSource(Protocol):
    """What :func:`read_tape` reads (``fillforge.journal.Journal``)."""

    def records(self, since: int = 0, kinds: Iterable[str] | None = None) -> Iterable[Any]: ...


@dataclass(frozen=True, slots=True)
class Tape:
    """A journal's orders, fills and parents as columns (see the module).

    ``orders``: ``order_id`` (the venue's; the client order id for an intent never acked),
    ``client_order_id``, ``parent_id`` ("" for an order of no parent), ``venue`` (a routed
    part's venue index as text, else ""), ``symbol``, ``side`` (+1 buy, -1 sell), ``status``,
    ``qty`` (NaN: a notional order), ``limit_price`` (NaN: none), ``send_rec_ns`` (its
    ``order.submit``), ``ack_rec_ns``, ``accept_venue_ns`` (the venue's first word on it:
    accepted, filled or rejected),
    ``end_rec_ns`` (the record that ended it), ``refused`` (rejected before or by the venue),
    ``submit_mid`` (the mid its ``order.submit`` record carries, if its writer journals one:
    ``{"cid", "request", "mid"}``; NaN otherwise, as JournalledBroker writes them today).
    ``symbol_code``, ``venue_code``, ``parent_code`` and ``status_code`` index :attr:`names`
    (``symbol``, ``venue``, ``parent_id``, ``status``): the columns TCA groups by, as ints.
    ``fills``: ``exec_id``, ``order`` (row in ``orders``; rows are grouped by order, in order),
    ``time_ns`` (venue time), ``qty``, ``price``, ``fee``. ``parents``: the snapshots by id, in
    first-seen order, and ``snapshots`` their figures as columns (:func:`snapshot_columns`);
    ``last_ns`` the last record's time (what an order still open is marked
    at). ``exact``: each order row's
    :class:`~fillforge.journal.rebuild.JournalFill` list (Decimal), for a parent's exact cost."""

    orders: dict[str, npt.NDArray[Any]]
    fills: dict[str, npt.NDArray[Any]]
    names: dict[str, list[str]]
    parents: dict[str, ParentSnapshot]
    exact: list[list[JournalFill]]
    records: int
    last_ns: int = NO_TIME
    snapshots: dict[str, npt.NDArray[Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.snapshots:  # the parents' figures as columns, once (see snapshot_columns)
            object.__setattr__(self, "snapshots", snapshot_columns(self.parents))


def _open(journal: object) -> tuple[JournalSource, Journal | None]:
    if isinstance(journal, (str, os.PathLike)):
        text = os.fspath(journal)
        if not text.startswith(("postgresql://", "postgres://")) and not os.path.isfile(text):
            raise JournalError("path", text, "no such file")
        j = Journal.open(text, readonly=True)
        return j, j
    if not hasattr(journal, "records"):
        raise TcaError("journal", type(journal).__name__, "expected a path, URL or Journal")
    return journal, None


def read_tape(journal: object) -> Tape:
    """Read ``journal`` (a path, a ``postgresql://`` URL or an open journal) into a
    :class:`Tape`. A path is opened read-only and closed again; an open journal is left open."""
    source, owned = _open(journal)
    try:
        return _read(source)
    finally:
        if owned is not None:
            owned.close()


def _read(source: JournalSource) -> Tape:
    book = OrderBook()
    apply = book.apply
    sent: dict[str, int] = {}
    acked: dict[str, int] = {}
    refused: dict[str, int] = {}
    accepted: dict[str, int] = {}
    ended: dict[str, int] = {}
    snaps: dict[str, dict[str, Any]] = {}
    mids: dict[str, float] = {}
    n = 0
    last = NO_TIME
    for r in source.records(0, None):
        n += 1
        last = r.ts_ns
        kind, p = r.kind, r.payload
        if kind == "order.event":
            oid = p["oid"]
            if oid not in accepted and p["kind"] not in _LOCAL:
                accepted[oid] = p["ts"]
            if p["status"] in _TERMINAL:
                ended[oid] = r.ts_ns
        elif kind == "order.submit":
            sent[p["cid"]] = r.ts_ns
            if "mid" in p:  # the mid when it was sent, if the writer journals it
                mids[p["cid"]] = float(p["mid"])
        elif kind == "order.ack":
            acked.setdefault(p["cid"], r.ts_ns)
        elif kind == "order.reject":
            refused[p["cid"]] = r.ts_ns
        elif kind.startswith(_PARENT_PREFIX):
            snaps[p["parent_id"]] = p["snapshot"]
            continue
        apply(r.seq, kind, p)
    try:
        parents = {pid: ParentSnapshot.model_validate(s) for pid, s in snaps.items()}
    except ValueError as e:
        raise JournalError(
            "parent", type(e).__name__, f"a parent snapshot is refused: {e}"
        ) from None

    rows = book.orders()
    k = len(rows)
    order_id = np.empty(k, dtype=object)
    cid = np.empty(k, dtype=object)
    parent = np.empty(k, dtype=object)
    venue = np.empty(k, dtype=object)
    symbol = np.empty(k, dtype=object)
    status = np.empty(k, dtype=object)
    side = np.empty(k, np.int8)
    qty = np.full(k, np.nan)
    limit = np.full(k, np.nan)
    send = np.full(k, NO_TIME, np.int64)
    ack = np.full(k, NO_TIME, np.int64)
    accept = np.full(k, NO_TIME, np.int64)
    end = np.full(k, NO_TIME, np.int64)
    refusal = np.zeros(k, bool)
    submit_mid = np.full(k, np.nan)
    codes: dict[str, dict[str, int]] = {"symbol": {}, "venue": {}, "parent_id": {}, "status": {}}
    code_cols = {name: np.empty(k, np.int32) for name in codes}
    exact: list[list[JournalFill]] = []
    fill_rows: list[JournalFill] = []
    fill_order: list[int] = []
    fills = book.fills
    for i, o in enumerate(rows):
        c = o.client_order_id
        oid = o.order_id or c
        order_id[i], cid[i], symbol[i], status[i] = oid, c, o.symbol, o.status
        split = split_child_id(c)
        parent[i] = split[0] if split else ""
        venue[i] = str(split[2]) if split and split[2] >= 0 else ""
        side[i] = 1 if o.side == "buy" else -1
        req = o.request
        if req is not None:
            if req.get("qty") is not None:
                qty[i] = float(req["qty"])
            if req.get("limit_price") is not None:
                limit[i] = float(req["limit_price"])
        send[i] = sent.get(c, NO_TIME) if o.seq is not None else NO_TIME
        if c in mids and o.seq is not None:
            submit_mid[i] = mids[c]
        ack[i] = acked.get(c, NO_TIME) if o.seq is not None else NO_TIME
        if o.order_id is not None:
            accept[i] = accepted.get(o.order_id, NO_TIME)
            end[i] = ended.get(o.order_id, NO_TIME)
        if c in refused and o.status == "refused":
            refusal[i], end[i] = True, refused[c]
        elif o.status in ("rejected", "denied"):
            refusal[i] = True
        coded = (
            ("symbol", o.symbol),
            ("venue", venue[i]),
            ("parent_id", parent[i]),
            ("status", o.status),
        )
        for name, value in coded:
            table = codes[name]
            code = table.get(value)
            if code is None:
                code = table[value] = len(table)
            code_cols[name][i] = code
        mine = [fills[f] for f in o.fills]
        exact.append(mine)
        fill_rows += mine
        fill_order += [i] * len(mine)
    m = len(fill_rows)
    f_cols: dict[str, npt.NDArray[Any]] = {
        "exec_id": np.array([f.exec_id for f in fill_rows], dtype=object),
        "order": np.array(fill_order, np.int64),
        "time_ns": np.array([f.ts_ns for f in fill_rows], np.int64),
        "qty": np.array([float(f.qty) for f in fill_rows], np.float64),
        "price": np.array([float(f.price) for f in fill_rows], np.float64),
        "fee": np.array([float(f.fee) for f in fill_rows], np.float64),
    }
    if m == 0:
        f_cols["exec_id"] = np.zeros(0, dtype=object)
    o_cols: dict[str, npt.NDArray[Any]] = {
        "order_id": order_id,
        "client_order_id": cid,
        "parent_id": parent,
        "venue": venue,
        "symbol": symbol,
        "side": side,
        "status": status,
        "qty": qty,
        "limit_price": limit,
        "send_rec_ns": send,
        "ack_rec_ns": ack,
        "accept_venue_ns": accept,
        "end_rec_ns": end,
        "refused": refusal,
        "submit_mid": submit_mid,
        "symbol_code": code_cols["symbol"],
        "venue_code": code_cols["venue"],
        "parent_code": code_cols["parent_id"],
        "status_code": code_cols["status"],
    }
    names = {name: list(table) for name, table in codes.items()}
    return Tape(o_cols, f_cols, names, parents, exact, n, last)


def snapshot_columns(parents: dict[str, ParentSnapshot]) -> dict[str, npt.NDArray[Any]]:
    """The journalled parents' figures as columns, one row per parent in ``parents``' order:
    ``parent_id``, ``policy``, ``symbol``, ``side`` (±1), ``qty``, ``decision_ns`` (its
    start without one), ``start_ns``, ``end_ns``, ``ended_ns``, ``first_child_ns`` (NO_TIME:
    none), ``decision_price`` (the spec's, else the worker's arrival), ``arrival`` (the
    worker's mid when work started, when no decision price was given) and ``first_child_mid``
    (NaN: none)."""
    n = len(parents)
    out: dict[str, npt.NDArray[Any]] = {
        "parent_id": np.empty(n, dtype=object),
        "policy": np.empty(n, dtype=object),
        "symbol": np.empty(n, dtype=object),
        "side": np.zeros(n),
        "qty": np.zeros(n),
        **{
            name: np.full(n, NO_TIME, np.int64)
            for name in ("decision_ns", "start_ns", "end_ns", "ended_ns", "first_child_ns")
        },
        **{name: np.full(n, np.nan) for name in ("decision_price", "arrival", "first_child_mid")},
    }
    for r, (pid, snap) in enumerate(parents.items()):
        spec = snap.spec
        out["parent_id"][r], out["policy"][r], out["symbol"][r] = (
            pid,
            spec.policy.value,
            spec.symbol,
        )
        out["side"][r] = 1.0 if spec.side.value == "buy" else -1.0
        out["qty"][r] = float(spec.qty)
        out["decision_ns"][r] = spec.decision_ns if spec.decision_ns is not None else spec.start_ns
        out["start_ns"][r], out["end_ns"][r] = spec.start_ns, spec.end_ns
        if snap.ended_ns is not None:
            out["ended_ns"][r] = snap.ended_ns
        if snap.first_child_ns is not None:
            out["first_child_ns"][r] = snap.first_child_ns
        if spec.decision_price is not None:
            out["decision_price"][r] = float(spec.decision_price)
        elif snap.arrival_price is not None:
            out["decision_price"][r] = out["arrival"][r] = float(snap.arrival_price)
        if snap.first_child_mid is not None:
            out["first_child_mid"][r] = float(snap.first_child_mid)
    return out
