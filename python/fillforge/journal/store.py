"""What a journal store is: the table every backend keeps, its migrations, and the calls the
journal makes on it (:class:`Store`). The backends are :mod:`fillforge.journal.sqlite` (the
default, embedded) and :mod:`fillforge.journal.postgres` (a shared deployment)."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Final, NamedTuple, Protocol

from fillforge.errors import JournalError

__all__ = [
    "Migration",
    "Row",
    "SnapshotRow",
    "Store",
    "check_migrations",
    "open_store",
    "read_filter",
    "unreadable",
]

_POSTGRES_SCHEMES: Final = ("postgresql://", "postgres://")

# One stored record: (seq, ts_ns, kind, payload bytes, chained crc32).
Row = tuple[int, int, str, bytes, int]


@dataclass(frozen=True, slots=True)
class Migration:
    """One numbered schema change; a store applies the ones past its recorded version, in
    order, each in its own transaction together with its row in the schema table."""

    version: int
    description: str
    statements: tuple[str, ...]


def check_migrations(migrations: Sequence[Migration]) -> None:
    """A backend's list must be numbered 1, 2, 3... (checked when the module loads)."""
    versions = [m.version for m in migrations]
    if versions != list(range(1, len(migrations) + 1)):
        raise AssertionError(f"migrations must be numbered 1..n in order, got {versions}")


def unreadable(name: str, why: object) -> JournalError:
    """A store's refusal to read on (a driver's error, a damaged page): ``why`` says what."""
    return JournalError("path", name, f"unreadable: {why}")


def read_filter(
    since: int, until: int | None, kinds: tuple[str, ...] | None, mark: str
) -> tuple[str, list[object]]:
    """A read's WHERE clause and its arguments: the records with seq in ``(since, until]``
    (no upper bound: None) whose kind is one of ``kinds`` (None: any); ``mark`` is the driver's
    placeholder (``?``, ``%s``)."""
    where = f"seq > {mark}"
    args: list[object] = [since]
    if until is not None:
        where += f" AND seq <= {mark}"
        args.append(until)
    if kinds is not None:
        where += f" AND kind IN ({', '.join([mark] * len(kinds))})" if kinds else " AND FALSE"
        args.extend(kinds)
    return where, args


class SnapshotRow(NamedTuple):
    """A stored snapshot: state derived from the records up to ``seq`` (kept beside the records,
    outside their chain: it can always be made again from them). ``chain_crc`` is the stored
    checksum of record ``seq`` (it ties the snapshot to this history), ``crc`` the snapshot's
    own (:func:`~fillforge.journal.codec.snapshot_crc`)."""

    seq: int
    chain_crc: int
    payload: bytes
    crc: int


class Store(Protocol):
    """A journal's storage: the append-only ``journal`` table and its schema table.

    Rows go in through :meth:`append` (one transaction; durable when it returns) and come back
    in seq order through :meth:`read`. Only the writer (which holds the store's writer lock) may
    call :meth:`append` and :meth:`truncate_from`."""

    @property
    def name(self) -> str:
        """The journal's path or URL (without a password), for messages."""
        ...

    @property
    def writable(self) -> bool: ...

    def schema_version(self) -> int: ...

    def append(self, rows: Sequence[Row]) -> None:
        """Insert the rows in one transaction, committed durably before returning."""
        ...

    def read(
        self, since: int, kinds: tuple[str, ...] | None, batch: int, until: int | None = None
    ) -> Iterator[list[Row]]:
        """Rows with since < seq (<= until, if given) of these kinds (if given), in seq order,
        ``batch`` at a time."""
        ...

    def chain_batches(self, since: int, batch: int) -> Iterator[tuple[int, int, int, int, bytes]]:
        """For each next ``batch`` records after ``since``: the first and last seq, how many
        there are, the last one's stored checksum, and every record's
        :func:`~fillforge.journal.codec.record_bytes` concatenated, built by the database (the
        fast check of a whole batch at once)."""
        ...

    def kind_counts(self) -> dict[str, int]:
        """How many records of each kind, counted by the database."""
        ...

    def max_seq(self) -> int | None:
        """The highest stored seq (None when empty), read without scanning; may raise on a
        damaged store."""
        ...

    def truncate_from(self, seq: int, at_ns: int, last: int | None, reason: str) -> None:
        """Remove every record with seq >= ``seq`` (repair), durably, and log the repair in
        the ``journal_repairs`` table (when, what was kept and cut, why)."""
        ...

    def tail_report(self) -> tuple[str, bool]:
        """What the store found after its last complete commit when it opened: one line ("" when
        nothing), and whether it is damage (committed work the database leaves out) rather than
        a torn tail (a write cut short by a crash, never committed)."""
        ...

    def rewrite_checksums(self, fixes: Sequence[tuple[int, int]]) -> None:
        """Write each ``(seq, crc)``'s true checksum over a damaged stored one (repair)."""
        ...

    def integrity_problems(self) -> list[str]:
        """Damage the database itself finds below the records (SQLite's quick_check)."""
        ...

    def head(self) -> tuple[int, int] | None:
        """The last record's seq and checksum as the store noted them with every commit, apart
        from the records (None: the store keeps no such note, or holds no record): the records
        must end there (a damaged page pointer can hide a whole run of them)."""
        ...

    def put_snapshot(self, name: str, row: SnapshotRow) -> None:
        """Keep ``row`` as the snapshot ``name`` (replacing the one before), durably."""
        ...

    def get_snapshot(self, name: str) -> SnapshotRow | None:
        """The snapshot ``name`` as stored (None: none, or a journal older than snapshots)."""
        ...

    def close(self) -> None: ...


def open_store(
    target: str | os.PathLike[str], *, writable: bool, now_ns: int, schema: int | None = None
) -> Store:
    """The store at ``target``: a ``postgresql://`` URL opens the PostgreSQL store, anything
    else is a path to a SQLite journal."""
    text = os.fspath(target)
    if not text:
        raise JournalError("path", text, "empty: give a file path or a postgresql:// URL")
    if text.startswith(_POSTGRES_SCHEMES):
        from fillforge.journal.postgres import PostgresStore

        return PostgresStore(text, writable=writable, now_ns=now_ns, schema=schema)
    from fillforge.journal.sqlite import SqliteStore

    return SqliteStore(text, writable=writable, now_ns=now_ns, schema=schema)
