"""The SQLite journal's repair of damage below the records (a torn or corrupted page): the
good records copied into a fresh file put in place, the damaged file kept beside it as evidence
(:meth:`fillforge.journal.sqlite.SqliteStore.truncate_from`)."""

from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path

from fillforge.errors import JournalError
from fillforge.journal.sqlite_schema import (
    COLUMNS,
    HEAD_FROM_RECORDS,
    INSERT_ONE,
    MIGRATIONS,
    SCHEMA_TABLE,
)

__all__ = ["aside", "fsync_dir", "rebuild"]


def rebuild(db: sqlite3.Connection, path: Path, name: str, seq: int) -> None:
    """Copy the records before ``seq`` (those the scan read whole) from ``db``, the damaged
    journal at ``path``, into a fresh file, close ``db``, keep the damaged file beside the
    journal as ``PATH.damaged-<n>`` (evidence is never destroyed), and put the fresh one in
    place; the caller connects again. A JournalError (naming ``name``) when fewer records read
    back than the scan found."""
    tmp = path.with_name(path.name + ".repair")
    tmp.unlink(missing_ok=True)
    fresh = sqlite3.connect(tmp, isolation_level=None)
    try:
        fresh.execute("PRAGMA journal_mode=DELETE")
        fresh.execute("PRAGMA synchronous=FULL")
        fresh.execute(SCHEMA_TABLE)
        try:
            applied = db.execute(
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
                db.execute("SELECT * FROM journal_repairs").fetchall(),
            )
        copied, rows = 0, []
        with contextlib.suppress(sqlite3.DatabaseError):
            # One row at a time (a fetch of many that meets the damage loses them all), and
            # only the run 1, 2, 3... the scan checked (a duplicated seq ends it).
            for row in db.execute(
                f"SELECT {COLUMNS} FROM journal WHERE seq < ? ORDER BY seq", (seq,)
            ):
                if row[0] != copied + 1:
                    break
                rows.append(row)
                copied += 1
                if len(rows) == 1_000:
                    fresh.executemany(INSERT_ONE, rows)
                    rows = []
        fresh.executemany(INSERT_ONE, rows)
        if "journal_head" in {r[0] for r in _table_names(fresh)}:
            for stmt in HEAD_FROM_RECORDS.split("; "):
                fresh.execute(stmt)
        if copied != seq - 1:
            raise JournalError(
                "path", name, f"repair read {copied} of the {seq - 1} good records back"
            )
        fresh.execute("COMMIT")
    finally:
        fresh.close()
    db.close()
    kept = aside(path, "")
    os.replace(path, kept)
    for suffix in ("-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            os.replace(f"{path}{suffix}", f"{kept}{suffix}")
    os.replace(tmp, path)
    fsync_dir(path.parent)


def _table_names(db: sqlite3.Connection) -> list[tuple[str]]:
    """The names of the tables ``db`` holds."""
    return db.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()


def aside(path: Path, suffix: str) -> str:
    """The first free ``PATH.damaged-N`` (+ ``suffix``): where damaged files are kept."""
    n = 1
    while Path(f"{path}.damaged-{n}").exists() or Path(f"{path}.damaged-{n}{suffix}").exists():
        n += 1
    return f"{path}.damaged-{n}{suffix}"


def fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
