"""The default journal store: one SQLite file in WAL mode, ``synchronous=FULL`` (a commit is
fsynced before it returns), one append-only table.

One process writes a journal at a time: the writer holds an exclusive ``flock`` on ``PATH.lock``
(which also names its pid), so a second writer, in this process or another, is refused with a
:class:`~fillforge.errors.JournalError`; the lock goes with the process, even on kill -9.
Readers (inspect, export, verify) open the file read-only and never take the lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import sqlite3
import threading
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from itertools import chain
from pathlib import Path
from typing import Final
from urllib.parse import quote

from fillforge.errors import JournalError
from fillforge.journal.store import Migration, Row, SnapshotRow, check_migrations
from fillforge.journal.wal import WalTail, wal_tail

__all__ = ["MIGRATIONS", "SqliteStore"]

MIGRATIONS: Final = (
    Migration(
        1,
        "the append-only journal table",
        (
            "CREATE TABLE journal (seq INTEGER PRIMARY KEY, ts_ns INTEGER NOT NULL, "
            "kind TEXT NOT NULL, payload BLOB NOT NULL, crc INTEGER NOT NULL)",
        ),
    ),
    Migration(
        2,
        "a log of repairs: when, what was kept, what was cut and why",
        (
            "CREATE TABLE journal_repairs (at_ns INTEGER NOT NULL, kept INTEGER NOT NULL, "
            "dropped_first INTEGER, dropped_last INTEGER, reason TEXT NOT NULL)",
        ),
    ),
    Migration(
        3,
        "snapshots of state derived from the records, kept beside them (the last of each name)",
        (
            "CREATE TABLE journal_snapshots (name TEXT PRIMARY KEY, seq INTEGER NOT NULL, "
            "chain_crc INTEGER NOT NULL, payload BLOB NOT NULL, crc INTEGER NOT NULL)",
        ),
    ),
    Migration(
        4,
        "the head: the last record's seq and checksum, noted with every commit",
        (
            "CREATE TABLE journal_head (id INTEGER PRIMARY KEY CHECK (id = 1), "
            "seq INTEGER NOT NULL, crc INTEGER NOT NULL)",
            "INSERT INTO journal_head (id, seq, crc) SELECT 1, seq, crc FROM journal "
            "ORDER BY seq DESC LIMIT 1",
        ),
    ),
)
check_migrations(MIGRATIONS)
# Each table's CREATE statement, as SQLite keeps it in sqlite_master.
_TABLES: Final = {
    stmt.split()[2]: stmt for m in MIGRATIONS for stmt in m.statements if stmt.startswith("CREATE")
}

_SCHEMA_TABLE: Final = (
    "CREATE TABLE IF NOT EXISTS journal_schema (version INTEGER PRIMARY KEY, "
    "description TEXT NOT NULL, applied_ns INTEGER NOT NULL)"
)
_COLUMNS: Final = "seq, ts_ns, kind, payload, crc"
_INSERT_ONE: Final = f"INSERT INTO journal ({_COLUMNS}) VALUES (?, ?, ?, ?, ?)"
_SET_HEAD: Final = "INSERT OR REPLACE INTO journal_head (id, seq, crc) VALUES (1, ?, ?)"
_HEAD_FROM_RECORDS: Final = (
    "DELETE FROM journal_head; INSERT INTO journal_head (id, seq, crc) "
    "SELECT 1, seq, crc FROM journal ORDER BY seq DESC LIMIT 1"
)
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
_Batch = tuple[int, int, int, int, bytes]
# Batches checked at once: SQLite builds each on its own connection without the GIL.
_CHAIN_THREADS: Final = max(1, min(4, os.cpu_count() or 1))
# Rows go in CHUNK to a statement: one sqlite3_step per chunk, so the writer thread gives up and
# takes back the GIL once per chunk, not once per row (which slowed the appending threads 3x).
_CHUNK: Final = 256
_INSERT_CHUNK: Final = f"INSERT INTO journal ({_COLUMNS}) VALUES " + ", ".join(
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
        for table, sql in _TABLES.items():
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
                db.executemany(_INSERT_ONE, rows[full:])
            if rows and self._has_head:
                db.execute(_SET_HEAD, (rows[-1][0], rows[-1][4]))
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def read(
        self, since: int, kinds: tuple[str, ...] | None, batch: int, until: int | None = None
    ) -> Iterator[list[Row]]:
        where, args = "seq > ?", [since]
        if until is not None:
            where += " AND seq <= ?"
            args.append(until)
        if kinds is not None:
            where += f" AND kind IN ({', '.join('?' * len(kinds))})"
            args.extend(kinds)  # type: ignore[arg-type]
        db = self._reader()
        try:
            cur = db.execute(f"SELECT {_COLUMNS} FROM journal WHERE {where} ORDER BY seq", args)
            while rows := cur.fetchmany(batch):
                yield rows
        except sqlite3.DatabaseError as e:
            raise JournalError("path", self.name, f"unreadable: {e}") from None
        finally:
            if db is not self._db:
                db.close()

    def chain_batches(self, since: int, batch: int) -> Iterator[_Batch]:
        with _ChainReaders(self) as readers:
            yield from readers.batches(since, batch)

    def kind_counts(self) -> dict[str, int]:
        try:
            rows = self._db.execute(
                "SELECT kind, count(*) FROM journal GROUP BY kind ORDER BY kind"
            ).fetchall()
        except sqlite3.DatabaseError as e:
            raise JournalError("path", self.name, f"unreadable: {e}") from None
        return {k: int(n) for k, n in rows}

    def max_seq(self) -> int | None:
        try:
            row = self._db.execute("SELECT max(seq) FROM journal").fetchone()
        except sqlite3.DatabaseError as e:
            raise JournalError("path", self.name, f"unreadable: {e}") from None
        return None if row[0] is None else int(row[0])

    def truncate_from(self, seq: int, at_ns: int, last: int | None, reason: str) -> None:
        if self._tail.damaged:  # the damaged WAL goes aside, as evidence, then SQLite drops it
            shutil.copyfile(f"{self._path}-wal", _aside(self._path, "-wal"))
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
                for stmt in _HEAD_FROM_RECORDS.split("; "):
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
            raise JournalError("path", self.name, f"unreadable: {e}") from None
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
        db = self._reader()
        try:
            got = db.execute(
                "SELECT seq, chain_crc, payload, crc FROM journal_snapshots WHERE name = ?",
                (name,),
            ).fetchone()
        except sqlite3.OperationalError:  # a journal from before snapshots (schema 2)
            return None
        except sqlite3.DatabaseError as e:
            raise JournalError("path", self.name, f"unreadable: {e}") from None
        finally:
            if db is not self._db:
                db.close()
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

    def _reader(self) -> sqlite3.Connection:
        """The writer reads through a connection of its own, so a long read never holds the
        writing connection; a read-only store reads through its one connection."""
        return self._open_read_only() if self._writable else self._db

    def _migrate(self, now_ns: int, target: int) -> None:
        db = self._db
        try:
            db.execute(_SCHEMA_TABLE)
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
        """Damage below the records (a torn or corrupted page): copy the records before ``seq``
        (those the scan read whole) into a fresh file, keep the damaged file beside it as
        ``PATH.damaged-<n>`` (evidence is never destroyed), and put the fresh one in place."""
        tmp = self._path.with_name(self._path.name + ".repair")
        tmp.unlink(missing_ok=True)
        fresh = sqlite3.connect(tmp, isolation_level=None)
        try:
            fresh.execute("PRAGMA journal_mode=DELETE")
            fresh.execute("PRAGMA synchronous=FULL")
            fresh.execute(_SCHEMA_TABLE)
            try:
                applied = self._db.execute(
                    "SELECT version, description, applied_ns FROM journal_schema ORDER BY version"
                ).fetchall()
            except sqlite3.DatabaseError:  # unreadable: the fresh file gets every migration
                applied = []
            if [r[0] for r in applied] != list(range(1, len(applied) + 1)) or not (
                0 < len(applied) <= len(MIGRATIONS)
            ):  # unreadable or damaged itself: the fresh file gets every migration
                applied = [(m.version, m.description, 0) for m in MIGRATIONS]
            for row in applied:
                for stmt in MIGRATIONS[row[0] - 1].statements:
                    fresh.execute(stmt)
                fresh.execute("INSERT INTO journal_schema VALUES (?, ?, ?)", row)
            fresh.execute("BEGIN")
            with contextlib.suppress(sqlite3.DatabaseError):
                fresh.executemany(
                    "INSERT INTO journal_repairs VALUES (?, ?, ?, ?, ?)",
                    self._db.execute("SELECT * FROM journal_repairs").fetchall(),
                )
            copied, rows = 0, []
            with contextlib.suppress(sqlite3.DatabaseError):
                # One row at a time (a fetch of many that meets the damage loses them all), and
                # only the run 1, 2, 3... the scan checked (a duplicated seq ends it).
                for row in self._db.execute(
                    f"SELECT {_COLUMNS} FROM journal WHERE seq < ? ORDER BY seq", (seq,)
                ):
                    if row[0] != copied + 1:
                        break
                    rows.append(row)
                    copied += 1
                    if len(rows) == 1_000:
                        fresh.executemany(_INSERT_ONE, rows)
                        rows = []
            fresh.executemany(_INSERT_ONE, rows)
            if "journal_head" in {r[0] for r in _table_names(fresh)}:
                for stmt in _HEAD_FROM_RECORDS.split("; "):
                    fresh.execute(stmt)
            if copied != seq - 1:
                raise JournalError(
                    "path", self.name, f"repair read {copied} of the {seq - 1} good records back"
                )
            fresh.execute("COMMIT")
        finally:
            fresh.close()
        self._db.close()
        aside = _aside(self._path, "")
        os.replace(self._path, aside)
        for suffix in ("-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                os.replace(f"{self._path}{suffix}", f"{aside}{suffix}")
        os.replace(tmp, self._path)
        _fsync_dir(self._path.parent)
        self._db = self._connect()
        self._check_tables()

    def _release_lock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing the descriptor releases the flock
            self._lock_fd = None


class _ChainReaders:
    """The checksum scan's batches, each built by SQLite on a read-only connection of its own in
    one of a few threads (the concatenation runs without the GIL), handed back in seq order, a
    few at a time (a batch's bytes are held until the scan has checked them)."""

    def __init__(self, store: SqliteStore) -> None:
        self._store = store
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(_CHAIN_THREADS, thread_name_prefix="journal-scan")

    def __enter__(self) -> _ChainReaders:
        return self

    def __exit__(self, *exc: object) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        for db in self._connections:
            db.close()

    def batches(self, since: int, batch: int) -> Iterator[_Batch]:
        try:  # on a connection of the scan's own (the store's may be in use by another thread)
            top = self._connection().execute("SELECT max(seq) FROM journal").fetchone()[0]
        except sqlite3.DatabaseError as e:
            raise JournalError("path", self._store.name, f"unreadable: {e}") from None
        if top is None or top <= since:
            self._nothing_past(since)
            return
        ahead: deque[tuple[int, Future[_Batch]]] = deque()
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
            raise JournalError("path", self._store.name, f"unreadable: {e}") from None
        if past is not None:
            raise JournalError("seq", past[0], "past the last seq the table reports")

    def _connection(self) -> sqlite3.Connection:
        """This thread's read-only connection."""
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = self._local.db = self._store._open_read_only()
            with self._lock:
                self._connections.append(db)
        return db

    def _batch(self, lo: int, hi: int) -> _Batch:
        db = self._connection()
        try:
            first, last, count, content, mistyped = db.execute(_CHAIN_RANGE, (lo, hi)).fetchone()
            if not count:  # a run of missing seqs: the walk says where
                raise JournalError("seq", lo + 1, "missing")
            crc = db.execute("SELECT crc FROM journal WHERE seq = ?", (last,)).fetchone()
        except sqlite3.DatabaseError as e:
            raise JournalError("path", self._store.name, f"unreadable: {e}") from None
        if mistyped or crc is None or not isinstance(content, bytes):
            raise JournalError("seq", first, "a batch with a value of the wrong type")
        return first, last, count, crc[0], content


def _table_names(db: sqlite3.Connection) -> list[tuple[str]]:
    """The names of the tables ``db`` holds."""
    return db.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()


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


def _aside(path: Path, suffix: str) -> str:
    """The first free ``PATH.damaged-N`` (+ ``suffix``): where damaged files are kept."""
    n = 1
    while Path(f"{path}.damaged-{n}").exists() or Path(f"{path}.damaged-{n}{suffix}").exists():
        n += 1
    return f"{path}.damaged-{n}{suffix}"


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


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
