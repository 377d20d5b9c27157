"""The write-ahead journal: sequence numbers, checksums and group commit over a store.

:meth:`Journal.append` gives the record the next seq, stamps it with the journal's clock,
chains its checksum to the previous record's and queues it; a writer thread commits everything
queued so far in one transaction (group commit) and only then counts it durable.
:meth:`Journal.sync` returns once every record appended before it is durable;
:meth:`Journal.write_ahead` is both (an order's intent, durable before the order is sent).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import replace
from types import TracebackType
from typing import Any, Final

from fillforge.errors import JournalError
from fillforge.journal.codec import (
    GOOD_KINDS,
    Record,
    chain_crc,
    check_kind,
    decode_payloads,
    encode_payload,
    iter_records,
    snapshot_crc,
)
from fillforge.journal.store import Row, SnapshotRow, Store, open_store
from fillforge.journal.verify import Recovery, scan
from fillforge.time import Clock, WallClock

__all__ = ["Journal"]

_READ_BATCH: Final = 20_000
log = logging.getLogger(__name__)


class Journal:
    """An append-only, write-ahead journal (see the module's docstring); open one with
    :meth:`open`. Thread-safe: any thread may append, sync and read."""

    def __init__(
        self, store: Store, clock: Clock, recovery: Recovery, last_crc: int, checked: bool = True
    ) -> None:
        self._store = store
        self._checked = threading.Event()
        self._checker: threading.Thread | None = None
        if checked:
            self._checked.set()
        self._clock = clock
        self._recovery = recovery
        self._lock = threading.Lock()
        self._work = threading.Condition(self._lock)
        self._durable_cv = threading.Condition(self._lock)
        self._pending: list[Row] = []
        self._snapshots: dict[str, SnapshotRow] = {}  # to write after the records they follow
        self._snapshots_saved = self._snapshots_written = 0  # how many saves, how many written
        self._next_seq = recovery.kept + 1
        self._durable = recovery.kept
        self._crc = last_crc
        self._error: JournalError | None = None
        self._closing = False
        # Why appends are refused (read-only, closed, failed), checked once per append.
        self._refused: JournalError | None = (
            None if store.writable else JournalError("path", store.name, "opened read-only")
        )
        self._closed = False
        # A read-only view of a damaged journal shows only the records it kept.
        self._read_limit = recovery.kept if recovery.dropped else None
        self._writer: threading.Thread | None = None
        if store.writable:
            self._writer = threading.Thread(
                target=self._write_loop, name=f"journal-writer:{store.name}", daemon=True
            )
            self._writer.start()

    @classmethod
    def open(
        cls,
        target: str | os.PathLike[str],
        *,
        clock: Clock | None = None,
        readonly: bool = False,
        repair: bool = False,
        schema: int | None = None,
        check_while_reading: bool = False,
    ) -> Journal:
        """Open (creating it if needed) the journal at a path (SQLite, WAL mode) or a
        ``postgresql://`` URL, checking every record (:attr:`recovery` says what was found).

        ``clock`` stamps the records (the wall clock if not given). ``readonly`` opens without
        taking the writer lock, for inspecting a journal another process writes. A damaged
        journal is refused for writing (JournalError naming the damage) unless ``repair``,
        which cuts it back to its last good record and says so in :attr:`recovery`.
        ``schema`` stops the migrations at that version (tests of the migrations).

        ``check_while_reading`` (a writer, no repair): return at once and check every record in
        the background, so a restart reads its state (``rebuild``) while the check runs, on the
        other cores. Nothing is appended until the check has passed: :meth:`append` waits for
        it, and a damaged journal refuses every append with the JournalError ``open`` would
        have raised; :attr:`recovery` waits for it too. So whatever was read meanwhile counts
        only once ``recovery.ok``; nothing can be sent on it before, since every send is
        written ahead."""
        clock = clock if clock is not None else WallClock()
        store = open_store(target, writable=not readonly, now_ns=clock.now_ns(), schema=schema)
        if check_while_reading and not readonly and not repair and not store.tail_report()[1]:
            try:
                return cls._checking(store, clock)
            except BaseException:
                store.close()
                raise
        try:
            # Every record's content, not SQLite's whole-file quick_check (verify runs that): a
            # damaged page under the records fails their scan anyway.
            # A repair looks at everything verify does (every stored checksum, the pages).
            found = scan(store, deep=repair and not readonly, page_check=repair and not readonly)
            recovery = found.recovery
            if readonly or recovery.ok:
                return cls(store, clock, recovery, found.last_crc)
            if not repair:
                raise JournalError("path", store.name, _refusal(recovery))
            last = recovery.dropped[1] if recovery.dropped else None
            store.truncate_from(recovery.kept + 1, clock.now_ns(), last, recovery.reason)
            store.rewrite_checksums(found.fixes)
            again = scan(store, deep=True, page_check=True)
            if not again.recovery.ok or again.recovery.kept != recovery.kept:
                raise JournalError(
                    "path", store.name, f"repair failed: {again.recovery.reason or 'records lost'}"
                )
            return cls(store, clock, replace(recovery, repaired=True), found.last_crc)
        except BaseException:
            store.close()
            raise

    # -- writing ----------------------------------------------------------------------------

    @classmethod
    def _checking(cls, store: Store, clock: Clock) -> Journal:
        """A writer whose records are checked by a background thread (``check_while_reading``):
        it starts from what the store's last record says (its seq and stored checksum) and is
        closed to appends until the check agrees."""
        top, crc = 0, 0
        for rows in store.read(max((store.max_seq() or 0) - 1, 0), None, 1):
            top, crc = rows[-1][0], rows[-1][4] & 0xFFFFFFFF
        j = cls(store, clock, Recovery(top), crc, checked=False)
        j._checker = threading.Thread(
            target=j._check, args=(top, crc), name=f"journal-check:{store.name}", daemon=True
        )
        j._checker.start()
        return j

    def _check(self, top: int, crc: int) -> None:
        try:
            found = scan(self._store, deep=False, page_check=False)
            recovery = found.recovery
            if recovery.ok and (recovery.kept, found.last_crc) != (top, crc):
                recovery = replace(  # records came or went behind the journal's back
                    recovery,
                    dropped=(recovery.kept + 1, top),
                    reason=f"the last record changed while it was checked (seq {top})",
                    problems=(f"the last record changed while it was checked (seq {top})",),
                )
        except BaseException as e:  # the check itself failed: nothing may be appended
            recovery = Recovery(0, None, f"the check failed: {e}", (f"the check failed: {e}",))
        with self._lock:
            self._recovery = recovery
            if not recovery.ok:
                self._refused = JournalError("path", self._store.name, _refusal(recovery))
                self._read_limit = recovery.kept
        self._checked.set()

    def _wait_checked(self) -> None:
        if not self._checked.is_set():
            self._checked.wait()

    def wait_checked(self) -> Recovery:
        """Wait for the check of a journal opened with ``check_while_reading`` (at once for
        any other) and return what it found; a writer whose check found damage raises the
        JournalError ``open`` would have raised (what was read from it meanwhile is void)."""
        self._wait_checked()
        with self._lock:
            refused, recovery = self._refused, self._recovery
        if self._store.writable and not recovery.ok and refused is not None:
            raise refused
        return recovery

    def append(self, kind: str, payload: Mapping[str, Any]) -> int:
        """Queue a record and return its seq; it is durable once :meth:`sync` returns.

        ``payload`` is a JSON-mode dict (a Decimal as a str, as ``model_dump(mode="json")``
        gives it); anything else is refused with a JournalError and nothing is appended."""
        if type(kind) is not str or kind not in GOOD_KINDS:
            check_kind(kind)
        data = encode_payload(payload)
        self._wait_checked()
        with self._lock:
            if self._refused is not None:
                raise self._refused
            seq = self._next_seq
            ts = self._clock.now_ns()
            crc = chain_crc(self._crc, ts, kind, data)
            self._pending.append((seq, ts, kind, data, crc))
            self._crc, self._next_seq = crc, seq + 1
            if len(self._pending) == 1:
                self._work.notify()
        return seq

    def sync(self) -> None:
        """Return once every record appended so far is durable (committed and fsynced)."""
        with self._lock:
            target = self._next_seq - 1
            while self._durable < target and self._error is None:
                self._durable_cv.wait()
            if self._error is not None:
                raise self._error

    def write_ahead(self, kind: str, payload: Mapping[str, Any]) -> int:
        """Append and sync: the record is durable when this returns its seq."""
        seq = self.append(kind, payload)
        self.sync()
        return seq

    def save_snapshot(self, name: str, payload: Mapping[str, Any]) -> int:
        """Keep ``payload`` (a JSON-mode dict) as the snapshot ``name`` (a dotted name) of the
        state the records so far make; the seq of the last of them. It is kept beside the
        records, not in their chain, replacing the one before (a journal does not grow by a
        snapshot), and written once the records it follows are: :meth:`snapshot` reads it
        back, and a restart replays only the records after it."""
        check_kind(name)
        data = encode_payload(payload)
        self._wait_checked()
        with self._lock:
            if self._refused is not None:
                raise self._refused
            seq = self._next_seq - 1
            if seq < 1:
                raise JournalError("snapshot", name, "the journal holds no record yet")
            crc = self._crc
            self._snapshots[name] = SnapshotRow(seq, crc, data, snapshot_crc(name, seq, crc, data))
            self._snapshots_saved += 1
            self._work.notify()
        return seq

    def snapshot(self, name: str) -> tuple[int, dict[str, Any]] | None:
        """The last snapshot ``name`` saved, as ``(seq, payload)``: None if there is none, or
        if it does not stand on these records (its own checksum fails, or record ``seq`` is not
        the one it was made after: the journal was cut back, or it is another journal's)."""
        check_kind(name)
        if self._store.writable and not self._closed:
            self.sync()
            with self._lock:  # the snapshots saved so far are written (or the writer stopped)
                target = self._snapshots_saved
                while self._snapshots_written < target and self._error is None:
                    self._durable_cv.wait()
        row = self._store.get_snapshot(name)
        if row is None:
            return None
        seq = row.seq
        if snapshot_crc(name, seq, row.chain_crc, row.payload) != row.crc & 0xFFFFFFFF:
            log.warning("journal %s: snapshot %s is damaged; not used", self.name, name)
            return None
        if self._read_limit is not None and seq > self._read_limit:
            return None
        at = [r for rows in self._store.read(seq - 1, None, 1, seq) for r in rows]
        if not at or at[0][0] != seq or at[0][4] & 0xFFFFFFFF != row.chain_crc & 0xFFFFFFFF:
            log.warning(
                "journal %s: snapshot %s is not of these records; not used", self.name, name
            )
            return None
        return seq, decode_payloads([row.payload])[0]

    @property
    def next_seq(self) -> int:
        """The seq the next append will get (ids derived from it never repeat)."""
        with self._lock:
            return self._next_seq

    @property
    def durable_seq(self) -> int:
        """The highest seq known durable."""
        with self._lock:
            return self._durable

    # -- reading ----------------------------------------------------------------------------

    def records(self, since: int = 0, kinds: Iterable[str] | None = None) -> Iterator[Record]:
        """The records with seq > ``since`` (of these kinds, if given), in seq order. A writer
        syncs first, so everything appended before the call is included."""
        if self._store.writable and not self._closed:
            self.sync()
        ks = None if kinds is None else tuple(kinds)
        limit = self._read_limit  # a damaged journal read-only: up to its last good record
        if limit is None:
            for rows in self._store.read(since, ks, _READ_BATCH):
                yield from iter_records(rows)
            return
        # The damage may hide behind the good records (a duplicated or misplaced seq): only the
        # rows the scan checked, seqs strictly rising up to the last good one, are shown.
        if since >= limit:
            return
        last = since
        for rows in self._store.read(since, ks, _READ_BATCH, limit):
            good: list[Row] = []
            for r in rows:
                if not last < r[0] <= limit:
                    yield from iter_records(good)
                    return
                good.append(r)
                last = r[0]
            yield from iter_records(good)

    def counts(self) -> dict[str, int]:
        """How many records of each kind the journal holds (durable ones; a writer syncs
        first)."""
        if self._store.writable and not self._closed:
            self.sync()
        return self._store.kind_counts()

    @property
    def recovery(self) -> Recovery:
        """What opening found: the records kept, what was dropped and why (a journal opened
        with ``check_while_reading`` waits for its check)."""
        self._wait_checked()
        return self._recovery

    @property
    def name(self) -> str:
        """The journal's path or URL (without a password)."""
        return self._store.name

    @property
    def schema_version(self) -> int:
        return self._store.schema_version()

    # -- closing ----------------------------------------------------------------------------

    def close(self) -> None:
        """Commit and sync what is queued, stop the writer, close the store (idempotent)."""
        self._wait_checked()
        with self._lock:
            if self._closed:
                return
            self._closing = True
            if self._refused is None:
                self._refused = JournalError("path", self._store.name, "closed")
            self._work.notify()
        try:
            if self._writer is not None:
                self._writer.join()
        finally:
            with self._lock:
                self._closed = True
            self._store.close()
        if self._error is not None:
            raise self._error

    def abandon(self) -> None:
        """Drop the journal as a kill -9 would: what is queued but not yet durable is
        discarded (a commit already under way may still land), the writer stops, the store is
        closed and the writer lock released. Waiting and later calls get a JournalError. For
        crash tests in one process."""
        self._wait_checked()
        with self._lock:
            if self._closed:
                return
            self._pending.clear()
            self._snapshots.clear()
            self._closing = True
            if self._error is None:
                self._error = JournalError("path", self._store.name, "abandoned")
            self._refused = self._error
            self._work.notify()
        if self._writer is not None:
            self._writer.join()
        with self._lock:
            self._closed = True
            self._durable_cv.notify_all()
        self._store.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- the writer thread --------------------------------------------------------------------

    def _write_loop(self) -> None:
        while True:
            with self._lock:
                while not self._pending and not self._snapshots and not self._closing:
                    self._work.wait()
                if not self._pending and not self._snapshots:
                    return
                batch, self._pending = self._pending, []
                snapshots, self._snapshots = self._snapshots, {}
                saved = self._snapshots_saved
            if batch:
                try:
                    self._store.append(batch)
                except Exception as e:  # the disk, the server: the journal stops taking records
                    with self._lock:
                        self._error = JournalError(
                            "path", self._store.name, f"writing seq {batch[0][0]}.. failed: {e}"
                        )
                        self._refused = self._error
                        self._durable_cv.notify_all()
                    return
                with self._lock:
                    self._durable = batch[-1][0]
                    self._durable_cv.notify_all()
            for name, row in snapshots.items():  # after the records they stand on
                try:
                    self._store.put_snapshot(name, row)
                except Exception as e:  # derived state: the records are whole without it
                    log.warning("journal %s: snapshot %s not kept: %s", self.name, name, e)
            if snapshots:
                with self._lock:
                    self._snapshots_written = saved
                    self._durable_cv.notify_all()


def _refusal(r: Recovery) -> str:
    if r.dropped is None:
        lost = "no record lost"
    else:
        first, last = r.dropped
        lost = f"would drop seq {first}..{'?' if last is None else last}"
    return (
        f"damaged: {r.reason}; {r.kept} good records (seq 1..{r.kept}), {lost}; "
        "open with repair=True to cut it back to its last good record"
    )
