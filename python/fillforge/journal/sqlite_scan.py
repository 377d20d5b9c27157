"""The SQLite journal's checksum scan: the records in batches, each built by SQLite on a
read-only connection of its own in one of a few threads (the concatenation runs without the
GIL), handed back in seq order (:meth:`fillforge.journal.sqlite.SqliteStore.chain_batches`)."""

from __future__ import annotations

import os
import sqlite3
import threading
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Final

from fillforge.errors import JournalError
from fillforge.journal.store import unreadable

__all__ = ["Batch", "ChainReaders"]

# codec.record_bytes of the records with seq in (?, ?], concatenated by SQLite (a rowid range is
# scanned in rowid order, so the concatenation is in seq order; were it not, the chain would fail
# and the record-by-record walk, which orders, would decide). A value of the wrong type (a flipped
# bit in a record's type byte: a kind stored as a blob, a payload as text) would concatenate the
# same and read back wrong: such rows are counted (SQLite orders numbers < text < blobs, so a text
# is ``>= ''`` and ``< x''``, a blob ``>= x''``: comparisons, no function call per row), and make
# the batch fail. A timestamp or checksum of the wrong type changes the bytes or fails the check.
_CHAIN_RANGE: Final = (
    "SELECT min(seq), max(seq), count(*), CAST(group_concat(ts_ns || kind || payload, '') AS BLOB),"
    " count(*) - count(CASE WHEN kind >= '' AND kind < x'' AND payload >= x'' THEN 1 END)"
    " FROM journal WHERE seq > ? AND seq <= ?"
)
# A batch: its first and last seq, how many records, the last one's stored checksum, their bytes.
Batch = tuple[int, int, int, int, bytes]
# Batches checked at once: SQLite builds each on its own connection without the GIL.
_CHAIN_THREADS: Final = max(1, min(4, os.cpu_count() or 1))


class ChainReaders:
    """The checksum scan's batches, each built by SQLite on a read-only connection of its own in
    one of a few threads (the concatenation runs without the GIL), handed back in seq order, a
    few at a time (a batch's bytes are held until the scan has checked them)."""

    def __init__(self, name: str, open_read_only: Callable[[], sqlite3.Connection]) -> None:
        self._name = name
        self._open_read_only = open_read_only
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(_CHAIN_THREADS, thread_name_prefix="journal-scan")

    def __enter__(self) -> ChainReaders:
        return self

    def __exit__(self, *exc: object) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        for db in self._connections:
            db.close()

    def batches(self, since: int, batch: int) -> Iterator[Batch]:
        try:  # on a connection of the scan's own (the store's may be in use by another thread)
            top = self._connection().execute("SELECT max(seq) FROM journal").fetchone()[0]
        except sqlite3.DatabaseError as e:
            raise unreadable(self._name, e) from None
        if top is None or top <= since:
            self._nothing_past(since)
            return
        ahead: deque[tuple[int, Future[Batch]]] = deque()
        starts = iter(range(since, top, batch))
        for lo in starts:
            ahead.append((lo, self._pool.submit(self._batch, lo, min(lo + batch, top))))
            if len(ahead) > 2 * _CHAIN_THREADS:
                break
        while ahead:
            lo, future = ahead.popleft()
            got = future.result()
            nxt = next(starts, None)
            if nxt is not None:
                ahead.append((nxt, self._pool.submit(self._batch, nxt, min(nxt + batch, top))))
            yield got
        self._nothing_past(top)

    def _nothing_past(self, seq: int) -> None:
        """No record past ``seq``, the highest the table reported (a damaged table may report
        less than it holds): else the walk, record by record, decides."""
        try:
            past = (
                self._connection()
                .execute("SELECT seq FROM journal WHERE seq > ? ORDER BY seq LIMIT 1", (seq,))
                .fetchone()
            )
        except sqlite3.DatabaseError as e:
            raise unreadable(self._name, e) from None
        if past is not None:
            raise JournalError("seq", past[0], "past the last seq the table reports")

    def _connection(self) -> sqlite3.Connection:
        """This thread's read-only connection."""
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = self._local.db = self._open_read_only()
            with self._lock:
                self._connections.append(db)
        return db

    def _batch(self, lo: int, hi: int) -> Batch:
        db = self._connection()
        try:
            first, last, count, content, mistyped = db.execute(_CHAIN_RANGE, (lo, hi)).fetchone()
            if not count:  # a run of missing seqs: the walk says where
                raise JournalError("seq", lo + 1, "missing")
            crc = db.execute("SELECT crc FROM journal WHERE seq = ?", (last,)).fetchone()
        except sqlite3.DatabaseError as e:
            raise unreadable(self._name, e) from None
        if mistyped or crc is None or not isinstance(content, bytes):
            raise JournalError("seq", first, "a batch with a value of the wrong type")
        return first, last, count, crc[0], content
