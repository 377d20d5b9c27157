"""The SQLite journal's schema: its numbered migrations, and the statements the store, its
checksum scan and its repair share (:mod:`fillforge.journal.sqlite`)."""

from __future__ import annotations

from typing import Final

from fillforge.journal.store import Migration, check_migrations

__all__ = [
    "COLUMNS",
    "HEAD_FROM_RECORDS",
    "INSERT_ONE",
    "MIGRATIONS",
    "SCHEMA_TABLE",
    "SET_HEAD",
    "TABLES",
]

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
TABLES: Final = {
    stmt.split()[2]: stmt for m in MIGRATIONS for stmt in m.statements if stmt.startswith("CREATE")
}

SCHEMA_TABLE: Final = (
    "CREATE TABLE IF NOT EXISTS journal_schema (version INTEGER PRIMARY KEY, "
    "description TEXT NOT NULL, applied_ns INTEGER NOT NULL)"
)
COLUMNS: Final = "seq, ts_ns, kind, payload, crc"
INSERT_ONE: Final = f"INSERT INTO journal ({COLUMNS}) VALUES (?, ?, ?, ?, ?)"
SET_HEAD: Final = "INSERT OR REPLACE INTO journal_head (id, seq, crc) VALUES (1, ?, ?)"
HEAD_FROM_RECORDS: Final = (
    "DELETE FROM journal_head; INSERT INTO journal_head (id, seq, crc) "
    "SELECT 1, seq, crc FROM journal ORDER BY seq DESC LIMIT 1"
)
