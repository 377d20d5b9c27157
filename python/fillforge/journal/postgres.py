"""The PostgreSQL journal store (being written; see docs/journal.md)."""

from __future__ import annotations

from fillforge.errors import JournalError
from fillforge.journal.store import Store

__all__ = ["PostgresStore"]


def PostgresStore(url: str, *, writable: bool, now_ns: int, schema: int | None) -> Store:  # noqa: N802
    raise JournalError("path", url.split("@")[-1], "the PostgreSQL store is not available yet")
