"""The journal's record codec: one record's encoding and its chained checksum.

A record is ``(seq, ts_ns, kind, payload)``. The payload is stored as compact, deterministic JSON
(sorted keys, no spaces, UTF-8, no NaN): the same dict always encodes to the same bytes, so a
checksum over them means something. Each record's checksum is a CRC-32 over its timestamp, kind and
payload bytes, seeded with the previous record's checksum (the first record is seeded with 0): a
flipped byte, a removed record or two records swapped all break the chain from that record on.
"""

from __future__ import annotations

import json
import re
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from itertools import repeat
from typing import Any, Final, NamedTuple

from fillforge.errors import JournalError

__all__ = [
    "GOOD_KINDS",
    "Record",
    "chain_crc",
    "check_kind",
    "decode_payloads",
    "encode_payload",
    "iter_records",
    "record_bytes",
    "snapshot_crc",
]


def _refuse(o: object) -> object:
    raise TypeError(f"a {type(o).__name__} is not JSON")


# The C encoder made once (json.dumps makes one per call, a third of its cost here): sorted
# keys, no spaces, UTF-8 (no ASCII escapes), no NaN. No circular-reference markers: a payload
# that contains itself fails with RecursionError, refused below. (Without the C module: the
# same settings through json.JSONEncoder.)
_C_ENCODER = getattr(json.encoder, "c_make_encoder", None)
_ENCODE: Final[Callable[[object, int], Sequence[str]]] = (
    _C_ENCODER(None, _refuse, json.encoder.encode_basestring, None, ":", ",", True, False, False)
    if _C_ENCODER is not None
    else lambda o, _: [
        json.JSONEncoder(
            sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        ).encode(o)
    ]
)
_MAX_KIND: Final = 200
_KIND: Final = re.compile(rf"[A-Za-z][A-Za-z0-9._:-]{{0,{_MAX_KIND - 1}}}", re.ASCII)
# Kinds already checked (a journal uses a few dozen): the check runs once per kind.
GOOD_KINDS: set[object] = set()
_MAX_GOOD_KINDS: Final = 10_000


class Record(NamedTuple):
    """One journal record: its sequence number (1, 2, 3... with no gaps), the time it was
    appended (UNIX ns, from the journal's clock), its dotted kind (``order.intent``) and its
    payload (a JSON-mode dict)."""

    seq: int
    ts_ns: int
    kind: str
    payload: dict[str, Any]


def check_kind(kind: object) -> str:
    """``kind`` if it is a dotted name (``order.intent``): a letter, then letters, digits and
    ``. _ - :``, at most 200 characters; else JournalError."""
    if not isinstance(kind, str) or not _KIND.fullmatch(kind):
        raise JournalError(
            "kind",
            kind,
            f"expected a dotted name (a letter, then letters, digits, '._-:'; at most "
            f"{_MAX_KIND} characters)",
        )
    if len(GOOD_KINDS) < _MAX_GOOD_KINDS:
        GOOD_KINDS.add(kind)
    return kind


def encode_payload(payload: object) -> bytes:
    """The payload's deterministic JSON bytes; JournalError unless it is a dict of JSON values
    (a Decimal must already be a str: ``model_dump(mode="json")``)."""
    if type(payload) is not dict and not isinstance(payload, Mapping):
        raise JournalError("payload", type(payload).__name__, "expected a JSON-mode dict")
    try:
        return "".join(_ENCODE(payload, 0)).encode()
    except (TypeError, ValueError, RecursionError) as e:
        raise JournalError("payload", _short(payload), f"not JSON-mode data: {e}") from None


def record_bytes(ts_ns: int, kind: str, payload: bytes) -> bytes:
    """What a record's checksum covers: its timestamp as decimal text, its kind, its payload
    bytes, back to back (unambiguous: a kind starts with a letter, a payload with ``{``). The
    seq is covered by the chain itself: records are chained in seq order and the seqs must run
    1, 2, 3..., so a record moved, removed or renumbered breaks the chain or the run. (A store
    builds these bytes for a whole batch in one query, checked with one CRC call.)"""
    return b"%d%s%s" % (ts_ns, kind.encode(), payload)


def chain_crc(prev: int, ts_ns: int, kind: str, payload: bytes) -> int:
    """A record's checksum: CRC-32 of :func:`record_bytes`, seeded with ``prev`` (the previous
    record's checksum, 0 before the first). CRC-32 streams, so the last record's checksum is
    also the CRC of every record's bytes, concatenated, seeded with 0."""
    return zlib.crc32(b"%d%s%s" % (ts_ns, kind.encode(), payload), prev)


def snapshot_crc(name: str, seq: int, chain_crc: int, payload: bytes) -> int:
    """A snapshot's own checksum: CRC-32 of its seq, name and the chain checksum it stands on,
    then its payload bytes (a snapshot is kept beside the records, outside their chain)."""
    return zlib.crc32(b"%d:%s:%d:%s" % (seq, name.encode(), chain_crc, payload))


def decode_payloads(payloads: Iterable[bytes]) -> list[dict[str, Any]]:
    """Many payloads decoded in one ``json.loads`` (a JSON array of them): on the read-back path
    this is several times faster than one call per record."""
    out: list[dict[str, Any]] = json.loads(b"[" + b",".join(payloads) + b"]")
    return out


def iter_records(rows: Sequence[tuple[Any, ...]]) -> Iterator[Record]:
    """Records built from stored ``(seq, ts_ns, kind, payload)`` rows: the payloads decoded as
    one batch, the records made by ``tuple.__new__`` (no Python call per record)."""
    payloads = decode_payloads([r[3] for r in rows])
    seqs, times, kinds = [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows]
    return map(tuple.__new__, repeat(Record), zip(seqs, times, kinds, payloads, strict=True))


def _short(payload: object) -> str:
    text = repr(payload)
    return text if len(text) <= 80 else text[:77] + "..."
