"""A torn tail in a SQLite journal's write-ahead log (``PATH-wal``), found before SQLite opens it.

SQLite appends each transaction to the WAL as frames (a 24-byte header and one page) and marks
its last frame as the commit; every frame carries the WAL's salts and a running checksum. On
opening, SQLite replays the frames up to the last valid commit and silently ignores the rest: a
transaction cut short by a crash (or bytes written after it) vanishes without a word. This module
reads the WAL the same way (https://www.sqlite.org/fileformat2.html#the_write_ahead_log) and says
how many bytes follow the last valid commit, so that opening and ``verify`` report the torn tail
instead of ignoring it. The writer keeps ``journal_size_limit=0``, so a healthy WAL ends exactly at
its last commit (no stale frames of an earlier generation follow it).

The running checksum is a linear recurrence over 32-bit words, so each frame's part of it is
computed for many frames at once with numpy (a 4 MB WAL in milliseconds).
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any, Final, NamedTuple

import numpy as np
from numpy.typing import NDArray

__all__ = ["WalTail", "wal_tail"]

_MAGIC: Final = (0x377F0682, 0x377F0683)
_HEADER: Final = 32
_FRAME_HEADER: Final = 24
_CHUNK: Final = 512  # frames checked per numpy pass


class WalTail(NamedTuple):
    """What follows the WAL's last valid commit: one line ("" when nothing), and whether it is
    damage (committed frames are among what SQLite leaves out) rather than a torn tail (a write
    cut short, never committed)."""

    text: str
    damaged: bool


_NOTHING: Final = WalTail("", False)


def wal_tail(db_path: Path) -> WalTail:
    """Read ``db_path``'s WAL as SQLite's recovery does and say what it will leave out."""
    try:
        data = Path(f"{db_path}-wal").read_bytes()
    except FileNotFoundError:
        return _NOTHING
    if len(data) <= _HEADER:
        return _torn(len(data), "a WAL with no frame") if data else _NOTHING
    magic, _version, page, _ckpt, salt1, salt2, c1, c2 = struct.unpack(">8I", data[:_HEADER])
    big = magic == _MAGIC[1]
    if magic not in _MAGIC or _checksum_plain(data[:24], big) != (c1, c2):
        return WalTail(
            f"damaged WAL: its header fails its check, so SQLite leaves out all {len(data):,} "
            "bytes of it, committed transactions included",
            True,
        )
    frame = _FRAME_HEADER + page
    frames = (len(data) - _HEADER) // frame
    s0, s1 = c1, c2
    committed_end, k = _HEADER, 0
    powers = _powers(1 + page // 8)
    while k < frames:
        n = min(_CHUNK, frames - k)
        block = np.frombuffer(data, np.uint8, n * frame, _HEADER + k * frame).reshape(n, frame)
        heads = block[:, :_FRAME_HEADER].copy().view(">u4")  # (n, 6): page, size, salts, sums
        parts = _frame_parts(block, big, powers)
        for i in range(n):
            h = heads[i]
            bad = ""
            if (int(h[2]), int(h[3])) != (salt1, salt2):
                bad = "a frame of another WAL generation"
            else:
                s0, s1 = _advance(powers[-1], (s0, s1), parts[i])
                if (s0, s1) != (int(h[4]), int(h[5])):
                    bad = "a frame that fails its checksum"
            if bad:
                return _end(data, committed_end, frame, bad, (salt1, salt2), k + i + 1)
            if h[1]:
                committed_end = _HEADER + (k + i + 1) * frame
        k += n
    return _end(data, committed_end, frame, "an unfinished transaction", (salt1, salt2), frames)


def _end(
    data: bytes, committed_end: int, frame: int, what: str, salts: tuple[int, int], after: int
) -> WalTail:
    extra = len(data) - committed_end
    if extra == 0:
        return _NOTHING
    first = (committed_end - _HEADER) // frame + 1
    frames = (len(data) - _HEADER) // frame
    for k in range(after, frames):  # a commit of this WAL beyond the break: committed work lost
        at = _HEADER + k * frame
        _page, size, a, b = struct.unpack(">4I", data[at : at + 16])
        if size and (a, b) == salts:
            return WalTail(
                f"damaged WAL: from frame {first}, {what}, and committed frames follow it "
                f"(frame {k + 1}): SQLite leaves out {extra:,} bytes, committed transactions "
                "included",
                True,
            )
    return _torn(extra, f"from frame {first}: {what}")


def _torn(extra: int, what: str) -> WalTail:
    return WalTail(
        f"torn tail: {extra:,} bytes of the WAL after its last complete commit ({what}), which "
        "SQLite's recovery leaves out: a write cut short, whose records are not in the journal",
        False,
    )


def _checksum_plain(buf: bytes, big: bool) -> tuple[int, int]:
    words = struct.unpack((">" if big else "<") + f"{len(buf) // 4}I", buf)
    s0 = s1 = 0
    for i in range(0, len(words), 2):
        s0 = (s0 + words[i] + s1) & 0xFFFFFFFF
        s1 = (s1 + words[i + 1] + s0) & 0xFFFFFFFF
    return s0, s1


def _powers(n: int) -> NDArray[np.uint64]:
    """M^0 .. M^n mod 2^32 for the checksum step M = [[1, 1], [1, 2]] (s0 += a + s1, then
    s1 += b + s0, is s' = M s + (a, a + b))."""
    out = np.empty((n + 1, 2, 2), np.uint64)
    out[0] = np.eye(2, dtype=np.uint64)
    m = np.array([[1, 1], [1, 2]], np.uint64)
    for j in range(1, n + 1):
        out[j] = (m @ out[j - 1]) & 0xFFFFFFFF
    return out


def _frame_parts(block: NDArray[np.uint8], big: bool, powers: NDArray[np.uint64]) -> NDArray[Any]:
    """Each frame's input term of the recurrence: sum over k of M^(n-k) u_k (mod 2^32), where
    the words are the frame header's first 8 bytes and the page."""
    n_frames = block.shape[0]
    words = np.concatenate([block[:, :8], block[:, _FRAME_HEADER:]], axis=1)
    w = words.copy().view(">u4" if big else "<u4").astype(np.uint64).reshape(n_frames, -1, 2)
    u = np.empty_like(w)
    u[:, :, 0] = w[:, :, 0]
    u[:, :, 1] = w[:, :, 0] + w[:, :, 1]
    n = w.shape[1]
    back = powers[n - 1 :: -1] if n > 0 else powers[:0]  # M^(n-1) .. M^0
    # uint64 products of values under 2^32 fit; sums wrap mod 2^64, which keeps them mod 2^32.
    out: NDArray[Any] = np.einsum("kij,fkj->fi", back, u) & 0xFFFFFFFF
    return out


def _advance(
    mn: NDArray[np.uint64], s: tuple[int, int], part: NDArray[np.uint64]
) -> tuple[int, int]:
    a = (int(mn[0, 0]) * s[0] + int(mn[0, 1]) * s[1] + int(part[0])) & 0xFFFFFFFF
    b = (int(mn[1, 0]) * s[0] + int(mn[1, 1]) * s[1] + int(part[1])) & 0xFFFFFFFF
    return a, b
