"""The journal's record codec: one record's encoding and its chained checksum.

A record is ``(seq, ts_ns, kind, payload)``. The payload is stored as compact, deterministic JSON
(sorted keys, no spaces, UTF-8, no NaN): the same dict always encodes to the same bytes, so a
checksum over them means something. Each record's checksum is a CRC-32 over its sequence number,
timestamp, kind and payload bytes, seeded with the previous record's checksum (the first record is
seeded with 0): a flipped byte, a removed record or two records swapped all break the chain from
that record on.
"""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

from fillforge.errors import JournalError

__all__ = [
    "Record",
    "chain_crc",
    "check_kind",
    "decode_payloads",
    "encode_payload",
    "iter_records",
]

_HEADER: Final = struct.Struct("<qq")
_ENCODER: Final = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
)
_MAX_KIND: Final = 200


@dataclass(frozen=True, slots=True)
class Record:
    """One journal record: its sequence number (1, 2, 3... with no gaps), the time it was
    appended (UNIX ns, from the journal's clock), its dotted kind (``order.intent``) and its
    payload (a JSON-mode dict)."""

    seq: int
    ts_ns: int
    kind: str
    payload: dict[str, Any]


def check_kind(kind: object) -> str:
    """``kind`` if it is a dotted name of printable ASCII (``order.intent``), else JournalError."""
    if (
        not isinstance(kind, str)
        or not 0 < len(kind) <= _MAX_KIND
        or not kind.isascii()
        or not kind.isprintable()
        or " " in kind
        or kind.startswith(".")
        or kind.endswith(".")
    ):
        raise JournalError(
            "kind", kind, f"expected a dotted name of printable ASCII, at most {_MAX_KIND} chars"
        )
    return kind


def encode_payload(payload: object) -> bytes:
    """The payload's deterministic JSON bytes; JournalError unless it is a dict of JSON values
    (a Decimal must already be a str: ``model_dump(mode="json")``)."""
    if not isinstance(payload, Mapping):
        raise JournalError("payload", type(payload).__name__, "expected a JSON-mode dict")
    try:
        return _ENCODER.encode(payload).encode()
    except (TypeError, ValueError) as e:
        raise JournalError("payload", _short(payload), f"not JSON-mode data: {e}") from None


def chain_crc(prev: int, seq: int, ts_ns: int, kind: str, payload: bytes) -> int:
    """The record's checksum: CRC-32 of its header, kind and payload, seeded with ``prev``
    (the previous record's checksum, 0 before the first)."""
    c = zlib.crc32(_HEADER.pack(seq, ts_ns), prev)
    c = zlib.crc32(kind.encode(), c)
    return zlib.crc32(payload, c)


def decode_payloads(payloads: Iterable[bytes]) -> list[dict[str, Any]]:
    """Many payloads decoded in one ``json.loads`` (a JSON array of them): on the read-back path
    this is several times faster than one call per record."""
    out: list[dict[str, Any]] = json.loads(b"[" + b",".join(payloads) + b"]")
    return out


def iter_records(rows: Iterable[tuple[int, int, str, bytes]]) -> Iterator[Record]:
    """Records built from stored ``(seq, ts_ns, kind, payload)`` rows, decoded as one batch."""
    rows = list(rows)
    payloads = decode_payloads(r[3] for r in rows)
    for (seq, ts, kind, _), p in zip(rows, payloads, strict=True):
        yield Record(seq, ts, kind, p)


def _short(payload: object) -> str:
    text = repr(payload)
    return text if len(text) <= 80 else text[:77] + "..."
