"""Damage detection: the scan that opening and ``verify`` run over a journal's records.

Every record must carry the next seq (1, 2, 3...) and its chained checksum
(:func:`fillforge.journal.codec.chain_crc`). The scan stops at the first record that does not:
everything before it is kept, it and everything after it are reported as dropped, and nothing
is guessed. Damage below the records (a torn or corrupted database page) is what the store
reports (SQLite's ``quick_check``, or a read that fails).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fillforge.errors import JournalError
from fillforge.journal.codec import chain_crc
from fillforge.journal.store import Store

__all__ = ["Recovery", "scan"]

_BATCH = 50_000


@dataclass(frozen=True, slots=True)
class Recovery:
    """What opening (or verifying) a journal found.

    ``kept``: the complete records kept, seqs 1..kept. ``dropped``: the seqs not kept, as an
    inclusive range ``(first, last)`` (``last`` None when the damage hides how far the journal
    went), or None when nothing was dropped. ``reason``: why, in one line ("" when intact);
    ``problems``: every problem found, one line each. ``repaired``: the journal was cut back to
    its last good record (``Journal.open(..., repair=True)``)."""

    kept: int
    dropped: tuple[int, int | None] | None = None
    reason: str = ""
    problems: tuple[str, ...] = field(default=())
    repaired: bool = False

    @property
    def ok(self) -> bool:
        """No damage found."""
        return not self.problems


@dataclass(frozen=True, slots=True)
class Scan:
    """A scan's result: the recovery report, plus where a writer picks up (the last good
    record's timestamp and checksum)."""

    recovery: Recovery
    last_ts_ns: int
    last_crc: int


def scan(store: Store, *, page_check: bool = True, extra: tuple[str, ...] = ()) -> Scan:
    """Walk every record in seq order, checking the seq sequence and the checksum chain.

    ``extra``: problems found before (a torn WAL tail), reported first."""
    expected, crc, ts = 1, 0, 0
    problem = ""
    try:
        for batch in store.read(0, None, _BATCH):
            for seq, ts_ns, kind, payload, stored in batch:
                if seq != expected:
                    gap = f"{expected}" if seq == expected + 1 else f"{expected}..{seq - 1}"
                    problem = f"seq {gap} missing (the next stored record is seq {seq})"
                    break
                c = chain_crc(crc, seq, ts_ns, kind, payload)
                if c != stored:
                    problem = (
                        f"seq {seq} ({kind}): checksum mismatch (stored {stored & 0xFFFFFFFF:08x},"
                        f" computed {c:08x}): a corrupted record"
                    )
                    break
                crc, ts, expected = c, ts_ns, expected + 1
            if problem:
                break
    except JournalError as e:
        problem = f"cannot read past seq {expected - 1}: {e.why}"
    problems = list(extra)
    if problem:
        problems.append(problem)
    if page_check:
        problems.extend(store.integrity_problems())
    dropped: tuple[int, int | None] | None = None
    if problem:
        try:
            last = store.max_seq()
        except JournalError:
            last = None
        dropped = (expected, last if last is None or last >= expected else expected)
    kept = expected - 1
    reason = problem or (problems[0] if problems else "")
    return Scan(Recovery(kept, dropped, reason, tuple(problems)), ts, crc)
