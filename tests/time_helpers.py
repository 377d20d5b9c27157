"""Instants the tests name by the exchange's wall clock."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from fillforge.time import from_iso

NEW_YORK = ZoneInfo("America/New_York")


def ny(day: str, hhmm: str) -> int:
    """Epoch ns of ``day`` (ISO date) at ``hhmm`` New York time (EST or EDT, as on that day)."""
    return from_iso(f"{day}T{hhmm}:00", naive_zone=NEW_YORK)
