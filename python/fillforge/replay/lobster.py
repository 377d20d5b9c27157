"""LOBSTER replay: drive the book with a message file, check it against the true book.

The replay runs in the compiled core (reading, parsing and checking); the rules for orders the
file does not know are in ``docs/replay.md``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from fillforge import _core


@dataclass(frozen=True, slots=True)
class LobsterMismatch:
    """One level where the replayed book disagreed with the true book."""

    event: int
    side: str
    price: int
    expected: int
    got: int


@dataclass(frozen=True, slots=True)
class LobsterReport:
    """What a LOBSTER replay checked and found."""

    events: int
    checked_levels: int
    adopted_levels: int
    mismatches: int
    mismatched_events: int
    unknown_order_refs: int
    hidden_executions: int
    known_executions: int
    executions_at_queue_head: int
    parse_seconds: float
    replay_seconds: float
    msgs_per_s: float
    replay_msgs_per_s: float
    first_mismatches: tuple[LobsterMismatch, ...]

    @property
    def ok(self) -> bool:
        return self.mismatches == 0

    def to_dict(self) -> dict[str, Any]:
        d = {name: getattr(self, name) for name in self.__slots__}
        d["first_mismatches"] = [
            {k: getattr(m, k) for k in LobsterMismatch.__slots__} for m in self.first_mismatches
        ]
        return d


def replay_lobster(
    message_path: str | os.PathLike[str], orderbook_path: str | os.PathLike[str]
) -> LobsterReport:
    """Replay a LOBSTER message/orderbook file pair (plain or gzip).

    Raises :class:`fillforge.ReplayError` naming the file and line if either cannot be read or
    parsed, or if their row counts differ.
    """
    raw = dict(_core.replay_lobster(os.fspath(message_path), os.fspath(orderbook_path)))
    mismatches = tuple(LobsterMismatch(**m) for m in raw.pop("first_mismatches"))
    return LobsterReport(first_mismatches=mismatches, **raw)
