"""The default journal store: one SQLite file in WAL mode, ``synchronous=FULL`` (a commit is
fsynced before it returns), one append-only table.

One process writes a journal at a time: the writer holds an exclusive ``flock`` on ``PATH.lock``
(which also names its pid), so a second writer, in this process or another, is refused with a
:class:`~fillforge.errors.JournalError`; the lock goes with the process, even on kill -9.
Readers (inspect, export, verify) open the file read-only and never take the lock.

The schema and its migrations are :mod:`.sqlite_schema`'s, the threaded checksum scan
:mod:`.sqlite_scan`'s, the rebuild of a file damaged below the records :mod:`.sqlite_repair`'s.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import sqlite3
from collections.abc import Iterator, Sequence
from itertools import chain
from pathlib import Path
from typing import Final
from urllib.parse import quote

from fillforge.errors import JournalError
from fillforge.journal.sqlite_repair import aside, rebuild
from fillforge.journal.sqlite_scan import Batch, ChainReaders
from fillforge.journal.sqlite_schema import (
    COLUMNS,
    HEAD_FROM_RECORDS,
    INSERT_ONE,
    MIGRATIONS,
    SCHEMA_TABLE,
    SET_HEAD,
    TABLES,
)
from fillforge.journal.store import Row, SnapshotRow, read_filter, unreadable
from fillforge.journal.wal import WalTail, wal_tail

__all__ = ["MIGRATIONS", "SqliteStore"]

# Rows go in CHUNK to a statement: one sqlite3_step per chunk, so the writer thread gives up and
# takes back the GIL once per chunk, not once per row (which slowed the appending threads 3x).
_CHUNK: Final = 256
_INSERT_CHUNK: Final = f"INSERT INTO journal ({COLUMNS}) VALUES " + ", ".join(
    ["(?, ?, ?, ?, ?)"] * _CHUNK
)


class SqliteStore:
    """A journal in one SQLite file (see the module's docstring)."""

    def __init__(
        self, path: str | os.PathLike[str], *, writable: bool, now_ns: int, schema: int | None
    ) -> None:
        self._path = Path(path)
        self._writable = writable
        self._lock_fd: int | None = None
        self._tail = WalTail("", False)
        self._tables: frozenset[str] = frozenset()  # the tables the file holds
        if writable:
            self._lock_fd = _take_writer_lock(self._path)
        try:
            if writable or _no_writer(self._path):
                self._tail = wal_tail(self._path)
            if self._tail.damaged:
                # Read-only until a repair: a writing connection would checkpoint the WAL away
                # when it closed, and with it the evidence that committed work is missing.
                self._db = self._open_read_only()
            else:
                self._db = self._connect()
            if self._tail.damaged or self._damaged():  # the scan reports it; repair deals
                pass
            elif writable:
                if self._tail.text and not self._tail.damaged:
                    self.checkpoint()  # said once (recovery.torn); the next open finds it clean
                self._migrate(now_ns, len(MIGRATIONS) if schema is None else schema)
                self._check_tables()
            else:
                self.schema_version()  # a file that is not a journal fails here
        except BaseException:
            if hasattr(self, "_db"):
                self._db.close()
            self._release_lock()
            raise

    # -- the Store protocol -------------------------------------------------------------------

    @property
    def name(self) -> str:
        return str(self._path)

    @property
    def writable(self) -> bool:
        return self._writable

    @property
    def path(self) -> Path:
        return self._path

    def _damaged(self) -> bool:
        """The file is an SQLite database whose pages are damaged (SQLITE_CORRUPT), as opposed
        to a file that is no database at all (refused with a JournalError)."""
        try:
            self._db.execute("SELECT max(version) FROM journal_schema").fetchone()
        except sqlite3.DatabaseError as e:
            if getattr(e, "sqlite_errorcode", None) == sqlite3.SQLITE_CORRUPT:
                return True
            if "no such table" in str(e) and self._writable and not self._has_tables():
                return False  # a new, empty file: the migrations make the tables
            raise JournalError("path", self.name, f"not a fillforge journal: {e}") from None
        except UnicodeDecodeError:  # SQLite's own message quotes a schema no longer UTF-8
            raise JournalError("path", self.name, "unreadable: its schema is damaged") from None
        self._check_tables()
        return False

    def _check_tables(self) -> None:
        """Each of the journal's tables reads as its migration made it: a flipped byte in the
        stored schema can change a column's meaning (a ``seq`` no longer the rowid reads NULL in
        every row, and the journal would look empty)."""
        try:
            stored = dict(
                self._db.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table'")
            )
        except (sqlite3.DatabaseError, UnicodeDecodeError):
            raise JournalError("path", self.name, "unreadable: its schema is damaged") from None
        self._tables = frozenset(stored)
        for table, sql in TABLES.items():
            if table in stored and stored[table] != sql:
                raise JournalError(
                    "path",
                    self.name,
                    f"its schema is damaged: table {table} reads {stored[table]!r}",
                )

    def _has_tables(self) -> bool:
        return bool(self._db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0])

    def schema_version(self) -> int:
        try:
            row = self._db.execute("SELECT max(version) FROM journal_schema").fetchone()
        except sqlite3.DatabaseError as e:
            raise JournalError("path", self.name, f"not a fillforge journal: {e}") from None
        return int(row[0] or 0)

    def append(self, rows: Sequence[Row]) -> None:
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            full = len(rows) - len(rows) % _CHUNK
            for k in range(0, full, _CHUNK):
                db.execute(_INSERT_CHUNK, list(chain.from_iterable(rows[k : k + _CHUNK])))
            if full < len(rows):
                db.executemany(INSERT_ONE, rows[full:])
            if rows and self._has_head:
                db.execute(SET_HEAD, (rows[-1][0], rows[-1][4]))
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def read(
        self, since: int, kinds: tuple[str, ...] | None, batch: int, until: int | None = None
    ) -> Iterator[list[Row]]:
        where, args = read_filter(since, until, kinds, "?")
        with self._reading() as db:
            try:
                cur = db.execute(f"SELECT {COLUMNS} FROM journal WHERE {where} ORDER BY seq", args)
                while rows := cur.fetchmany(batch):
                    yield rows
            except sqlite3.DatabaseError as e:
                raise unreadable(self.name, e) from None

    def chain_batches(self, since: int, batch: int) -> Iterator[Batch]:
        with ChainReaders(self.name, self._open_read_only) as readers:
            yield from readers.batches(since, batch)

    def kind_counts(self) -> dict[str, int]:
        try:
            rows = self._db.execute(
                "SELECT kind, count(*) FROM journal GROUP BY kind ORDER BY kind"
            ).fetchall()
        except sqlite3.DatabaseError as e:
            raise unreadable(self.name, e) from None
        return {k: int(n) for k, n in rows}

    def max_seq(self) -> int | None:
        try:
            row = self._db.execute("SELECT max(seq) FROM journal").fetchone()
        except sqlite3.DatabaseError as e:
            raise unreadable(self.name, e) from None
        return None if row[0] is None else int(row[0])

    def truncate_from(self, seq: int, at_ns: int, last: int | None, reason: str) -> None:
        if self._tail.damaged:  # the damaged WAL goes aside, as evidence, then SQLite drops it
            shutil.copyfile(f"{self._path}-wal", aside(self._path, "-wal"))
            self._db.close()
            self._db = self._connect()
            self.checkpoint()
            self._tail = WalTail("", False)
            self._migrate(at_ns, len(MIGRATIONS))
            self._check_tables()
        try:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute("DELETE FROM journal WHERE seq >= ?", (seq,))
            with contextlib.suppress(sqlite3.OperationalError):  # schema 2: no snapshots
                self._db.execute("DELETE FROM journal_snapshots WHERE seq >= ?", (seq,))
            if self._has_head:
                for stmt in HEAD_FROM_RECORDS.split("; "):
                    self._db.execute(stmt)
            self._db.execute("COMMIT")
            ok = not self.integrity_problems()
        except sqlite3.DatabaseError:
            with contextlib.suppress(sqlite3.Error):
                self._db.execute("ROLLBACK")
            ok = False
        if not ok:
            self._rebuild(seq)
        self.checkpoint()
        self._db.execute(
            "INSERT INTO journal_repairs (at_ns, kept, dropped_first, dropped_last, reason) "
            "VALUES (?, ?, ?, ?, ?)",
            (at_ns, seq - 1, seq, last, reason),
        )

    def rewrite_checksums(self, fixes: Sequence[tuple[int, int]]) -> None:
        if not fixes or self._tail.damaged:
            return  # a damaged WAL: truncate_from reconnects first, and a rebuild copies rows
        with contextlib.suppress(sqlite3.DatabaseError):  # damaged pages: the rebuild follows
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany(
                "UPDATE journal SET crc = ? WHERE seq = ?", [(c, s) for s, c in fixes]
            )
            self._db.execute("COMMIT")

    def tail_report(self) -> tuple[str, bool]:
        return self._tail

    def head(self) -> tuple[int, int] | None:
        if not self._has_head:
            return None
        try:
            got = self._db.execute("SELECT seq, crc FROM journal_head WHERE id = 1").fetchone()
        except sqlite3.DatabaseError as e:
            raise unreadable(self.name, e) from None
        if got is None:
            return None
        if type(got[0]) is not int or type(got[1]) is not int:  # a damaged page under it
            raise JournalError("path", self.name, f"unreadable: its head reads {got!r}")
        return got[0], got[1]

    @property
    def _has_head(self) -> bool:
        return "journal_head" in self._tables

    def put_snapshot(self, name: str, row: SnapshotRow) -> None:
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute(
                "INSERT OR REPLACE INTO journal_snapshots (name, seq, chain_crc, payload, crc) "
                "VALUES (?, ?, ?, ?, ?)",
                (name, *row),
            )
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def get_snapshot(self, name: str) -> SnapshotRow | None:
        with self._reading() as db:
            try:
                got = db.execute(
                    "SELECT seq, chain_crc, payload, crc FROM journal_snapshots WHERE name = ?",
                    (name,),
                ).fetchone()
            except sqlite3.OperationalError:  # a journal from before snapshots (schema 2)
                return None
            except sqlite3.DatabaseError as e:
                raise unreadable(self.name, e) from None
        if got is None or not isinstance(got[2], bytes):
            return None
        return SnapshotRow(*got)

    def integrity_problems(self) -> list[str]:
        try:
            rows = self._db.execute("PRAGMA quick_check").fetchall()
        except sqlite3.DatabaseError as e:
            return [f"SQLite: {e}"]
        return [f"SQLite quick_check: {r[0]}" for r in rows if r[0] != "ok"]

    def checkpoint(self) -> None:
        """Copy the WAL into the database file and empty the WAL (a torn tail included)."""
        self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def close(self) -> None:
        try:
            self._db.close()
        finally:
            self._release_lock()

    # -- helpers --------------------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        if self._writable:
            try:
                db = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA synchronous=FULL")
                # A WAL restarted after a checkpoint is cut back to what it holds, so no stale
                # frames of an earlier generation follow the live ones (see verify's WAL check).
                db.execute("PRAGMA journal_size_limit=0")
            except sqlite3.DatabaseError as e:
                if getattr(e, "sqlite_errorcode", None) == sqlite3.SQLITE_CORRUPT:
                    return db  # damaged pages: the scan says where, a repair rebuilds the file
                raise JournalError("path", self.name, f"cannot open for writing: {e}") from None
            return db
        if not self._path.is_file():
            raise JournalError("path", self.name, "no journal file at this path")
        return self._open_read_only()

    def _open_read_only(self) -> sqlite3.Connection:
        uri = f"file:{quote(str(self._path.resolve()))}?mode=ro"
        try:
            return sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
        except sqlite3.DatabaseError as e:
            raise JournalError("path", self.name, f"cannot open read-only: {e}") from None

    @contextlib.contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        """A connection to read through: the writer's own reader (closed after), so a long read
        never holds the writing connection; a read-only store's one connection."""
        db = self._open_read_only() if self._writable else self._db
        try:
            yield db
        finally:
            if db is not self._db:
                db.close()

    def _migrate(self, now_ns: int, target: int) -> None:
        db = self._db
        try:
            db.execute(SCHEMA_TABLE)
            current = self.schema_version()
            if current > len(MIGRATIONS):
                raise JournalError(
                    "path",
                    self.name,
                    f"schema version {current} is newer than this fillforge knows "
                    f"({len(MIGRATIONS)})",
                )
            for m in MIGRATIONS[current:target]:
                db.execute("BEGIN IMMEDIATE")
                for stmt in m.statements:
                    db.execute(stmt)
                db.execute(
                    "INSERT INTO journal_schema (version, description, applied_ns) "
                    "VALUES (?, ?, ?)",
                    (m.version, m.description, now_ns),
                )
                db.execute("COMMIT")
        except sqlite3.DatabaseError as e:
            with contextlib.suppress(sqlite3.Error):
                db.execute("ROLLBACK")
            raise JournalError("path", self.name, f"cannot migrate the schema: {e}") from None

    def _rebuild(self, seq: int) -> None:
        """Damage below the records: the records before ``seq`` in a fresh file, the damaged
        one kept beside it (:func:`~fillforge.journal.sqlite_repair.rebuild`)."""
        rebuild(self._db, self._path, self.name, seq)
        self._db = self._connect()
        self._check_tables()

    def _release_lock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing the descriptor releases the flock
            self._lock_fd = None


def _take_writer_lock(path: Path) -> int:
    lock = Path(f"{path}.lock")
    try:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as e:
        raise JournalError("path", str(path), f"cannot create its lock file: {e}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
        os.close(fd)
        raise JournalError(
            "path", str(path), f"another writer (pid {holder}) has it open for writing"
        ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


def _no_writer(path: Path) -> bool:
    """No writer holds the journal (its lock file is free): its WAL is quiet, and may be read."""
    try:
        fd = os.open(f"{path}.lock", os.O_RDONLY)
    except OSError:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)  # releases the shared lock at once: a writer may start
    return True
