"""A journal exported to JSON lines: ``order_book.jsonl`` (one line per order: its latest state)
and ``trade_log.jsonl`` (one line per fill), the files users know as ``order_book.json`` and
``trade_log.json``.

The orders and fills are the journal's :class:`~fillforge.journal.rebuild.OrderBook`, built by
:func:`~fillforge.journal.rebuild.rebuild` (the one reader of the ``order.*`` records, which a
restart runs too), so the export says what a recovery would see: every venue order once (a
replaced order and its replacement are two lines) and the intents that never reached the venue.
Records of other kinds are skipped. Money and quantities are decimal strings,
times both UNIX nanoseconds and RFC 3339 text. Each file is written beside its final name and
renamed over it, so a reader never sees half a file.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fillforge.errors import JournalError
from fillforge.journal.core import Journal
from fillforge.journal.rebuild import JournalFill, JournalOrder, OrderBook, rebuild
from fillforge.journal.verify import Recovery
from fillforge.time import to_iso

__all__ = ["ORDER_BOOK", "TRADE_LOG", "Exported", "export"]

ORDER_BOOK = "order_book.jsonl"
TRADE_LOG = "trade_log.jsonl"


@dataclass(frozen=True, slots=True)
class Exported:
    """What :func:`export` wrote: how many orders and trades, and where."""

    orders: int
    trades: int
    order_book: Path
    trade_log: Path
    last_seq: int
    recovery: Recovery  # the journal's state: when damaged, only its good records were read


def export(journal: Journal | str | os.PathLike[str], out_dir: str | os.PathLike[str]) -> Exported:
    """Write ``order_book.jsonl`` and ``trade_log.jsonl`` for ``journal`` (an open journal, or
    a path or URL, opened read-only) into ``out_dir`` (created if needed). A damaged journal
    exports its good records only; ``Exported.recovery`` says so."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise JournalError("out_dir", str(out), "exists and is not a directory")
    if isinstance(journal, Journal):
        book, recovery = _book(journal), journal.recovery
    else:
        with Journal.open(journal, readonly=True) as j:
            book, recovery = _book(j), j.recovery
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise JournalError("out_dir", str(out), f"cannot create it: {e.strerror}") from None
    every = book.orders()  # each venue order once (a replaced one and its replacement), and
    cid_of = {o.order_id: o.client_order_id for o in every if o.order_id}  # the unsent intents
    orders = [_order_line(o) for o in every]
    trades = [_trade_line(f, cid_of.get(f.order_id)) for f in book.fills.values()]
    order_book, trade_log = out / ORDER_BOOK, out / TRADE_LOG
    _write_lines(order_book, orders)
    _write_lines(trade_log, trades)
    return Exported(len(orders), len(trades), order_book, trade_log, book.last_seq, recovery)


def _book(journal: Journal) -> OrderBook:
    try:
        return rebuild(journal)
    except (KeyError, TypeError, ValueError, ArithmeticError) as e:
        if isinstance(e, JournalError):
            raise
        raise JournalError(
            "path", journal.name, f"an order.* record the order book cannot read: {e!r}"
        ) from None


def _order_line(o: JournalOrder) -> dict[str, Any]:
    return {
        "client_order_id": o.client_order_id,
        "order_id": o.order_id,
        "intent_seq": o.seq,
        "symbol": o.symbol,
        "side": o.side,
        "status": o.status,
        "filled_qty": str(o.filled),
        "fills": list(o.fills),
        "replaced_by": o.replaced_by,
        "resolution": o.resolution,
        "parent_id": o.parent_id,
        "request": o.request,
    }


def _trade_line(f: JournalFill, client_order_id: str | None) -> dict[str, Any]:
    return {
        "exec_id": f.exec_id,
        "order_id": f.order_id,
        "client_order_id": client_order_id,
        "symbol": f.symbol,
        "side": f.side,
        "qty": str(f.qty),
        "price": str(f.price),
        "fee": str(f.fee),
        "ts_ns": f.ts_ns,
        "time": to_iso(f.ts_ns),
    }


def _write_lines(path: Path, lines: Iterable[dict[str, Any]]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    try:
        with tmp.open("w", encoding="utf-8") as f:
            for line in lines:
                f.write(json.dumps(line, separators=(",", ":"), ensure_ascii=False))
                f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise JournalError("out_dir", str(path.parent), f"cannot write: {e.strerror}") from None
