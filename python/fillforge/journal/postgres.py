"""The PostgreSQL journal store, for a shared deployment: the same records, checks and
interface as the SQLite store, in tables of a PostgreSQL schema.

``Journal.open("postgresql://user:pw@host:5432/db?journal=desk1")``: the ``journal`` query
parameter names the journal (default ``main``); its tables live in the schema
``fillforge_<name>``, so one database holds many journals. A commit returns once the server has
flushed it (``synchronous_commit=on``, set on the session). One writer per journal: the writer
holds a session advisory lock, which the server releases when the writer's connection ends (a
killed process included). Requires psycopg 3 (``pip install 'fillforge[postgres]'``).
"""

from __future__ import annotations

import re
import time
import zlib
from collections.abc import Iterator, Sequence
from typing import Any, Final
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from fillforge._optional import needs_extra
from fillforge.errors import JournalError
from fillforge.journal.store import (
    Migration,
    Row,
    SnapshotRow,
    check_migrations,
    read_filter,
    unreadable,
)

__all__ = ["MIGRATIONS", "PostgresStore"]

MIGRATIONS: Final = (
    Migration(
        1,
        "the append-only journal table",
        (
            "CREATE TABLE {s}.journal (seq BIGINT PRIMARY KEY, ts_ns BIGINT NOT NULL, "
            "kind TEXT NOT NULL, payload BYTEA NOT NULL, crc BIGINT NOT NULL)",
        ),
    ),
    Migration(
        2,
        "a log of repairs: when, what was kept, what was cut and why",
        (
            "CREATE TABLE {s}.journal_repairs (at_ns BIGINT NOT NULL, kept BIGINT NOT NULL, "
            "dropped_first BIGINT, dropped_last BIGINT, reason TEXT NOT NULL)",
        ),
    ),
    Migration(
        3,
        "snapshots of state derived from the records, kept beside them (the last of each name)",
        (
            "CREATE TABLE {s}.journal_snapshots (name TEXT PRIMARY KEY, seq BIGINT NOT NULL, "
            "chain_crc BIGINT NOT NULL, payload BYTEA NOT NULL, crc BIGINT NOT NULL)",
        ),
    ),
)
check_migrations(MIGRATIONS)

_NAME: Final = re.compile(r"[a-z][a-z0-9_]{0,39}")
_COLUMNS: Final = "seq, ts_ns, kind, payload, crc"
_LOCK_CLASS: Final = 0x66F0  # the advisory lock's first key: fillforge journals
_LOCK_WAIT_S: Final = 2.0


class PostgresStore:
    """A journal in a PostgreSQL schema (see the module's docstring)."""

    def __init__(self, url: str, *, writable: bool, now_ns: int, schema: int | None) -> None:
        self._conninfo, journal, self._name = _parse(url)
        self._schema = f"fillforge_{journal}"
        self._writable = writable
        self._db = self._connect()
        try:
            if writable:
                self._lock()
                self._migrate(now_ns, len(MIGRATIONS) if schema is None else schema)
            elif self.schema_version() == 0:
                raise JournalError("path", self._name, "no journal of this name in the database")
        except BaseException:
            self._db.close()
            raise

    # -- the Store protocol -------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self._name

    @property
    def writable(self) -> bool:
        return self._writable

    def schema_version(self) -> int:
        row = self._one(
            "SELECT count(*) FROM information_schema.tables "
            "WHERE table_schema = %s AND table_name = 'journal_schema'",
            (self._schema,),
        )
        if not row[0]:
            return 0
        return int(
            self._one(f"SELECT coalesce(max(version), 0) FROM {self._schema}.journal_schema")[0]
        )

    def append(self, rows: Sequence[Row]) -> None:
        import psycopg

        try:
            copy_in = f"COPY {self._schema}.journal ({_COLUMNS}) FROM STDIN"
            with self._db.transaction(), self._db.cursor() as cur, cur.copy(copy_in) as copy:
                for row in rows:
                    copy.write_row(row)
        except psycopg.Error as e:
            raise JournalError("path", self._name, f"write failed: {e}") from None

    def read(
        self, since: int, kinds: tuple[str, ...] | None, batch: int, until: int | None = None
    ) -> Iterator[list[Row]]:
        import psycopg

        where, args = read_filter(since, until, kinds, "%s")
        db = self._reader()
        try:
            with db.transaction(), db.cursor(name="journal_read") as cur:
                cur.itersize = batch
                cur.execute(
                    f"SELECT {_COLUMNS} FROM {self._schema}.journal WHERE {where} ORDER BY seq",
                    args,
                )
                while rows := cur.fetchmany(batch):
                    yield [(r[0], r[1], r[2], bytes(r[3]), r[4]) for r in rows]
        except psycopg.Error as e:
            raise unreadable(self._name, e) from None
        finally:
            if db is not self._db:
                db.close()

    def chain_batches(self, since: int, batch: int) -> Iterator[tuple[int, int, int, int, bytes]]:
        s = self._schema
        while True:
            first, last, count, content = self._one(
                "SELECT min(seq), max(seq), count(*), string_agg(convert_to(ts_ns::text || kind, "
                "'UTF8') || payload, ''::bytea ORDER BY seq) FROM (SELECT seq, ts_ns, kind, "
                f"payload FROM {s}.journal WHERE seq > %s ORDER BY seq LIMIT %s) t",
                (since, batch),
            )
            if not count:
                return
            (crc,) = self._one(f"SELECT crc FROM {s}.journal WHERE seq = %s", (last,))
            yield first, last, count, crc, bytes(content)
            since = last

    def kind_counts(self) -> dict[str, int]:
        import psycopg

        try:
            rows = self._db.execute(
                f"SELECT kind, count(*) FROM {self._schema}.journal GROUP BY kind ORDER BY kind"
            ).fetchall()
        except psycopg.Error as e:
            raise unreadable(self._name, _first_line(e)) from None
        return {k: int(n) for k, n in rows}

    def max_seq(self) -> int | None:
        (last,) = self._one(f"SELECT max(seq) FROM {self._schema}.journal")
        return None if last is None else int(last)

    def truncate_from(self, seq: int, at_ns: int, last: int | None, reason: str) -> None:
        s = self._schema
        with self._db.transaction():
            self._db.execute(f"DELETE FROM {s}.journal WHERE seq >= %s", (seq,))
            if self.schema_version() >= 3:
                self._db.execute(f"DELETE FROM {s}.journal_snapshots WHERE seq >= %s", (seq,))
            self._db.execute(
                f"INSERT INTO {s}.journal_repairs (at_ns, kept, dropped_first, dropped_last, "
                "reason) VALUES (%s, %s, %s, %s, %s)",
                (at_ns, seq - 1, seq, last, reason),
            )

    def rewrite_checksums(self, fixes: Sequence[tuple[int, int]]) -> None:
        if fixes:
            with self._db.transaction(), self._db.cursor() as cur:
                cur.executemany(
                    f"UPDATE {self._schema}.journal SET crc = %s WHERE seq = %s",
                    [(c, s) for s, c in fixes],
                )

    def head(self) -> tuple[int, int] | None:
        return None  # the server keeps its own pages whole (a commit that returned is whole)

    def put_snapshot(self, name: str, row: SnapshotRow) -> None:
        import psycopg

        try:
            with self._db.transaction():
                self._db.execute(
                    f"INSERT INTO {self._schema}.journal_snapshots (name, seq, chain_crc, "
                    "payload, crc) VALUES (%s, %s, %s, %s, %s) ON CONFLICT (name) DO UPDATE SET "
                    "seq = excluded.seq, chain_crc = excluded.chain_crc, "
                    "payload = excluded.payload, crc = excluded.crc",
                    (name, *row),
                )
        except psycopg.Error as e:
            raise JournalError("path", self._name, f"write failed: {_first_line(e)}") from None

    def get_snapshot(self, name: str) -> SnapshotRow | None:
        if self.schema_version() < 3:  # a journal from before snapshots
            return None
        got = self._one(
            "SELECT seq, chain_crc, payload, crc FROM "
            f"{self._schema}.journal_snapshots WHERE name = %s",
            (name,),
        )
        return None if got is None else SnapshotRow(got[0], got[1], bytes(got[2]), got[3])

    def tail_report(self) -> tuple[str, bool]:
        return "", False  # the server's own recovery: a commit that returned is whole

    def integrity_problems(self) -> list[str]:
        return []  # the server checks its own pages (data checksums, when the cluster has them)

    def close(self) -> None:
        self._db.close()  # ends the session: the advisory lock goes with it

    # -- helpers --------------------------------------------------------------------------------

    def _connect(self) -> Any:
        with needs_extra(
            "postgres",
            lambda why: JournalError(
                "path", self._name, f"the PostgreSQL store needs psycopg, {why}"
            ),
        ):
            import psycopg
        try:
            db = psycopg.connect(self._conninfo, autocommit=True, connect_timeout=10)
            db.execute("SET synchronous_commit = on")
        except psycopg.Error as e:
            raise JournalError("path", self._name, f"cannot connect: {_first_line(e)}") from None
        return db

    def _reader(self) -> Any:
        return self._connect() if self._writable else self._db

    def _one(self, sql: str, args: Sequence[object] = ()) -> Any:
        import psycopg

        try:
            return self._db.execute(sql, args).fetchone()
        except psycopg.Error as e:
            raise unreadable(self._name, _first_line(e)) from None

    def _lock(self) -> None:
        key = zlib.crc32(self._schema.encode()) - (1 << 31)  # an int4
        # A writer that just closed its connection holds the lock until its server process has
        # ended, a few milliseconds later: try for a moment before calling it another writer.
        deadline = time.monotonic() + _LOCK_WAIT_S
        while True:
            (got,) = self._one(
                "SELECT pg_try_advisory_lock(%s::int4, %s::int4)", (_LOCK_CLASS, key)
            )
            if got or time.monotonic() >= deadline:
                break
            time.sleep(0.05)
        if not got:
            (pid,) = self._one(
                "SELECT min(pid) FROM pg_locks WHERE locktype = 'advisory' AND classid = %s::oid "
                "AND objid = %s::oid AND objsubid = 2 AND granted",
                (_LOCK_CLASS, key & 0xFFFFFFFF),
            )
            raise JournalError(
                "path", self._name, f"another writer (server pid {pid}) has it open for writing"
            )

    def _migrate(self, now_ns: int, target: int) -> None:
        import psycopg

        s = self._schema
        try:
            self._db.execute(f"CREATE SCHEMA IF NOT EXISTS {s}")
            self._db.execute(
                f"CREATE TABLE IF NOT EXISTS {s}.journal_schema (version INTEGER PRIMARY KEY, "
                "description TEXT NOT NULL, applied_ns BIGINT NOT NULL)"
            )
            current = self.schema_version()
            if current > len(MIGRATIONS):
                raise JournalError(
                    "path",
                    self._name,
                    f"schema version {current} is newer than this fillforge knows "
                    f"({len(MIGRATIONS)})",
                )
            for m in MIGRATIONS[current:target]:
                with self._db.transaction():
                    for stmt in m.statements:
                        self._db.execute(stmt.format(s=s))
                    self._db.execute(
                        f"INSERT INTO {s}.journal_schema (version, description, applied_ns) "
                        "VALUES (%s, %s, %s)",
                        (m.version, m.description, now_ns),
                    )
        except psycopg.Error as e:
            raise JournalError("path", self._name, f"cannot migrate: {_first_line(e)}") from None


def _parse(url: str) -> tuple[str, str, str]:
    """(the URL psycopg connects with, the journal's name, the URL shown in messages: no
    password)."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    names = [v for k, v in query if k == "journal"]
    journal = names[-1] if names else "main"
    shown_netloc = parts.netloc.rsplit("@", 1)
    if len(shown_netloc) == 2:
        shown_netloc[0] = shown_netloc[0].split(":", 1)[0]
    shown = urlunsplit(parts._replace(netloc="@".join(shown_netloc)))
    if not _NAME.fullmatch(journal):
        raise JournalError(
            "journal", journal, "a journal name is lower-case letters, digits and '_' (max 40)"
        )
    rest = urlencode([(k, v) for k, v in query if k != "journal"])
    return urlunsplit(parts._replace(query=rest)), journal, shown


def _first_line(e: Exception) -> str:
    return str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
