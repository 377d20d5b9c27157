"""Instants the tests name by the exchange's wall clock."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from fillforge.time import from_iso

NEW_YORK = ZoneInfo("America/New_York")


def ny(day: str, hhmm: str) -> int:
    """Epoch ns of ``day`` (ISO date) at ``hhmm`` (or ``hh:mm:ss``) New York time (EST or EDT,
    as on that day)."""
    seconds = "" if hhmm.count(":") == 2 else ":00"
    return from_iso(f"{day}T{hhmm}{seconds}", naive_zone=NEW_YORK)
