"""Damage detection: the scan that opening and ``verify`` run over a journal's records.

Every record must carry the next seq (1, 2, 3...) and its chained checksum
(:func:`fillforge.journal.codec.chain_crc`). The scan stops at the first record that does not:
everything before it is kept, it and everything after it are reported as dropped, and nothing
is guessed. Damage below the records (a torn or corrupted database page) is what the store
reports (SQLite's ``quick_check``, or a read that fails).

Two depths. The batch check (opening) has the database concatenate each batch's record bytes
and checks them with one CRC call against the batch's last stored checksum, plus the batch's
first and last seq and its count: every byte of every record's content is covered, at C speed.
A batch that fails is walked record by record to name the first bad one. The exact check
(``verify``, ``deep=True``) walks every record and compares every stored checksum.
"""

from __future__ import annotations

import os
import zlib
from dataclasses import dataclass, field

from fillforge.errors import JournalError
from fillforge.journal.codec import chain_crc
from fillforge.journal.store import Store, open_store

__all__ = ["Recovery", "Scan", "scan", "verify"]

_BATCH = 50_000
_WALK_BATCH = 256
_TYPES = (int, int, str, bytes, int)


@dataclass(frozen=True, slots=True)
class Recovery:
    """What opening (or verifying) a journal found.

    ``kept``: the complete records kept, seqs 1..kept. ``dropped``: the seqs not kept, as an
    inclusive range ``(first, last)`` (``last`` None when the damage hides how far the journal
    went), or None when nothing was dropped. ``reason``: why, in one line ("" when intact);
    ``problems``: every problem found, one line each. ``repaired``: the journal was cut back to
    its last good record (``Journal.open(..., repair=True)``). ``torn``: a write cut short at
    the end (a crash mid-commit), which the store's own recovery left out: nothing it held was
    ever part of the journal, so it is reported, not refused ("" when none)."""

    kept: int
    dropped: tuple[int, int | None] | None = None
    reason: str = ""
    problems: tuple[str, ...] = field(default=())
    repaired: bool = False
    torn: str = ""

    @property
    def ok(self) -> bool:
        """No damage found."""
        return not self.problems


@dataclass(frozen=True, slots=True)
class Scan:
    """A scan's result: the recovery report, and the last good record's checksum (where a
    writer's chain picks up)."""

    recovery: Recovery
    last_crc: int
    fixes: list[tuple[int, int]] = field(default_factory=list)  # (seq, its true checksum)


def scan(store: Store, *, deep: bool = False, page_check: bool = True) -> Scan:
    """Check every record in seq order (see the module's docstring for ``deep``)."""
    expected, crc, problem = 1, 0, ""
    if not deep:
        try:
            for first, last, count, stored, content in store.chain_batches(0, _BATCH):
                ok = first == expected and last - first + 1 == count
                if not ok or zlib.crc32(content, crc) != stored & 0xFFFFFFFF:
                    deep = True  # find the first bad record, one by one
                    break
                expected, crc = last + 1, stored & 0xFFFFFFFF
        except (JournalError, TypeError, ValueError):
            deep = True  # unreadable or mistyped somewhere in the batch: find where, one by one
    fixes: list[tuple[int, int]] = []
    if deep:
        expected, crc, problem, fixes = _walk(store, expected - 1, crc)
    head_gap: tuple[int, int | None] | None = None  # records the head says are missing
    if not problem:
        problem, head_gap = _head_problem(store, expected - 1, crc)
    line, damaged = store.tail_report()
    problems = [line] if damaged else []
    problems += [
        f"seq {seq}: its stored checksum is damaged; the record is intact (the next record's "
        "checksum vouches for it): a repair rewrites it"
        for seq, _ in fixes
    ]
    if problem:
        problems.append(problem)
    if page_check:
        problems.extend(store.integrity_problems())
    dropped: tuple[int, int | None] | None = None
    if damaged and not problem:
        dropped = (expected, None)  # committed records SQLite cannot show: how many is unknown
    if problem and head_gap is not None:
        dropped = head_gap if head_gap[1] is not None else None  # None: only the head is wrong
    elif problem:
        try:
            last_seq = store.max_seq()
        except JournalError:
            last_seq = None
        dropped = (expected, None if last_seq is None else max(last_seq, expected))
    torn = "" if damaged else line
    reason = (line if damaged else problem) or (problems[0] if problems else torn)
    return Scan(Recovery(expected - 1, dropped, reason, tuple(problems), torn=torn), crc, fixes)


def _head_problem(store: Store, kept: int, crc: int) -> tuple[str, tuple[int, int | None] | None]:
    """Where the records end against the head the store noted with every commit: ("", None)
    when they agree (or it keeps none), else the problem and the seqs missing (``(first,
    None)`` when only the head is wrong). A damaged page pointer can hide a run of records
    whole, and their chain would not show it."""
    try:
        head = store.head()
    except JournalError as e:
        return f"the journal's head is unreadable: {e.why}", (kept + 1, None)
    if head is None or (head[0], head[1] & 0xFFFFFFFF) == (kept, crc):
        return "", None
    if head[0] > kept:
        return (
            f"seq {kept + 1}..{head[0]} missing: the journal's head says its last record is "
            f"seq {head[0]}, its records end at seq {kept}"
        ), (kept + 1, head[0])
    return (
        f"the journal's head is damaged: it says seq {head[0]}, the records end at seq {kept}"
    ), (kept + 1, None)


def verify(target: str | os.PathLike[str]) -> Recovery:
    """Check the journal at a path or URL read-only, record by record (the exact check: every
    seq, every stored checksum, the database's own pages, a torn WAL tail), without changing
    it. ``ok`` when intact; else ``problems`` has one line per problem."""
    store = open_store(target, writable=False, now_ns=0)
    try:
        r = scan(store, deep=True).recovery
    finally:
        store.close()
    if r.torn:
        return Recovery(r.kept, r.dropped, r.reason, (*r.problems, r.torn), torn=r.torn)
    return r


def _walk(store: Store, since: int, crc: int) -> tuple[int, int, str, list[tuple[int, int]]]:
    """Check the records after ``since`` one by one, from checksum ``crc``: (the next expected
    seq, the checksum so far, the first problem or "", the stored checksums that are damaged
    while their records are intact). Read in small batches, so a read that fails (a damaged
    page) stops close to the damage.

    A record whose stored checksum does not match is kept only when the next record vouches
    for it: the next record's stored checksum, which was chained from this record's true one,
    matches the chain computed from this record's content. Then the content is intact and only
    its stored checksum is damaged (a repair rewrites it). Otherwise, or for the last record,
    the record is damaged."""
    expected = since + 1
    fixes: list[tuple[int, int]] = []
    doubt: tuple[int, int, str] | None = None  # (seq, crc before it, the problem) to vouch for

    def refuse(problem: str) -> tuple[int, int, str, list[tuple[int, int]]]:
        if doubt is not None:  # the record in doubt goes with what follows
            return doubt[0], doubt[1], doubt[2], fixes
        return expected, crc, problem, fixes

    try:
        for batch in store.read(since, None, _WALK_BATCH):
            for seq, ts_ns, kind, payload, stored in batch:
                if (type(seq), type(ts_ns), type(kind), type(payload), type(stored)) != _TYPES:
                    return refuse(f"seq {expected}: a value of the wrong type stored")
                if seq < expected:
                    return refuse(f"seq {seq} stored again after seq {expected - 1}")
                if seq != expected:
                    gap = f"{expected}" if seq == expected + 1 else f"{expected}..{seq - 1}"
                    return refuse(f"seq {gap} missing (the next stored record is seq {seq})")
                c = chain_crc(crc, ts_ns, kind, payload)
                matches = c == stored & 0xFFFFFFFF
                if doubt is not None:
                    if not matches:
                        return refuse("")
                    fixes.append((doubt[0], crc))
                    doubt = None
                elif not matches:
                    doubt = (
                        seq,
                        crc,
                        f"seq {seq} ({kind}): checksum mismatch (stored {stored & 0xFFFFFFFF:08x},"
                        f" computed {c:08x}): a corrupted record",
                    )
                crc, expected = c, expected + 1
    except JournalError as e:
        return refuse(f"cannot read past seq {expected - 1}: {e.why}")
    if doubt is not None:
        return refuse("")
    return expected, crc, "", fixes
