"""The TWS API socket protocol as the gateway speaks it: framing, field text, message ids and
the messages it sends, field for field as ib_async 2.1's decoder reads them at
:data:`SERVER_VERSION`.

A frame is a 4-byte big-endian length and that many bytes: fields, each ended by a NUL. The
client opens with ``API\\0`` and one frame holding its version range (``v157..178``); the server
answers with one frame of two fields, its version and its connection time; after that every
frame is a message whose first field is its id (most requests then carry a version).
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from fillforge.errors import IbkrError

__all__ = [
    "MAX_FRAME",
    "SERVER_VERSION",
    "Contract",
    "Framer",
    "In",
    "Out",
    "encode",
    "frame",
    "text",
]

SERVER_VERSION = 178
"""The server version announced: the newest ib_async 2.1 speaks (it asks for 157..178)."""
MIN_CLIENT_VERSION = 157
"""The oldest client range accepted: a client whose range does not reach 178 is refused."""
MAX_FRAME = 1 << 20
"""The largest frame read (TWS's own limit is 16 MB; no request the gateway serves is near 1 MB)."""
_LENGTH = struct.Struct(">I")


class In:
    """Ids of the requests the gateway serves (``ibapi``'s ``OUT`` messages)."""

    REQ_MKT_DATA = 1
    CANCEL_MKT_DATA = 2
    PLACE_ORDER = 3
    CANCEL_ORDER = 4
    REQ_OPEN_ORDERS = 5
    REQ_ACCT_DATA = 6
    REQ_EXECUTIONS = 7
    REQ_IDS = 8
    REQ_CONTRACT_DATA = 9
    REQ_AUTO_OPEN_ORDERS = 15
    REQ_ALL_OPEN_ORDERS = 16
    REQ_MANAGED_ACCTS = 17
    REQ_CURRENT_TIME = 49
    REQ_GLOBAL_CANCEL = 58
    REQ_MARKET_DATA_TYPE = 59
    REQ_POSITIONS = 61
    REQ_ACCOUNT_SUMMARY = 62
    CANCEL_ACCOUNT_SUMMARY = 63
    CANCEL_POSITIONS = 64
    START_API = 71
    REQ_ACCOUNT_UPDATES_MULTI = 76
    CANCEL_ACCOUNT_UPDATES_MULTI = 77
    REQ_COMPLETED_ORDERS = 99


class Out:
    """Ids of the messages the gateway sends (``ibapi``'s ``IN`` messages)."""

    TICK_PRICE = 1
    TICK_SIZE = 2
    ORDER_STATUS = 3
    ERR_MSG = 4
    OPEN_ORDER = 5
    ACCT_VALUE = 6
    PORTFOLIO_VALUE = 7
    ACCT_UPDATE_TIME = 8
    NEXT_VALID_ID = 9
    CONTRACT_DATA = 10
    EXECUTION_DATA = 11
    MANAGED_ACCTS = 15
    CURRENT_TIME = 49
    CONTRACT_DATA_END = 52
    OPEN_ORDER_END = 53
    ACCT_DOWNLOAD_END = 54
    EXECUTION_DATA_END = 55
    TICK_SNAPSHOT_END = 57
    COMMISSION_REPORT = 59
    POSITION_DATA = 61
    POSITION_END = 62
    ACCOUNT_SUMMARY = 63
    ACCOUNT_SUMMARY_END = 64
    ACCOUNT_UPDATE_MULTI_END = 74
    COMPLETED_ORDERS_END = 102


def text(value: object) -> str:
    """One field's text: Decimal in plain notation, bool as 1/0, None empty."""
    kind = type(value)
    if kind is str:
        return value  # type: ignore[return-value]
    if kind is int:
        return str(value)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value else "0"
    return str(value)


def encode(fields: Iterable[object]) -> bytes:
    """One message's payload: each field's text and a NUL."""
    parts = list(map(text, fields))
    return ("\0".join(parts) + "\0").encode() if parts else b""


def frame(fields: Iterable[object]) -> bytes:
    """One message, length-prefixed."""
    payload = encode(fields)
    return _LENGTH.pack(len(payload)) + payload


class Framer:
    """Cuts the bytes a client sends into messages (lists of fields): first the ``API\\0``
    greeting and its version frame, then length-prefixed frames. :meth:`feed` returns the
    messages complete so far; a frame past :data:`MAX_FRAME` raises :class:`IbkrError`."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self.greeted = False

    def feed(self, data: bytes) -> list[list[str]]:
        self._buf += data
        out: list[list[str]] = []
        if not self.greeted:
            if len(self._buf) < 4:
                return out
            if bytes(self._buf[:4]) != b"API\0":
                raise IbkrError(507, "Bad message length: the greeting is not API\\0")
            del self._buf[:4]
            self.greeted = True
        while len(self._buf) >= 4:
            (size,) = _LENGTH.unpack_from(self._buf)
            if size > MAX_FRAME:
                raise IbkrError(507, f"Bad message length {size}")
            if len(self._buf) < 4 + size:
                break
            raw = bytes(self._buf[4 : 4 + size])
            del self._buf[: 4 + size]
            fields = raw.decode("utf-8", "replace").split("\0")
            if fields and fields[-1] == "":
                fields.pop()
            out.append(fields)
        return out


def client_range(fields: Sequence[str]) -> tuple[int, int]:
    """The client's version range from its greeting (``v157..178`` and options after a space)."""
    raw = fields[0] if fields else ""
    head = raw.split(" ", 1)[0]
    if not head.startswith("v"):
        raise IbkrError(530, f"Unsupported version text {raw!r}")
    low, _, high = head[1:].partition("..")
    try:
        lo = int(low)
        hi = int(high) if high else lo
    except ValueError:
        raise IbkrError(530, f"Unsupported version text {raw!r}") from None
    return lo, hi


@dataclass(frozen=True, slots=True)
class Contract:
    """The twelve contract fields a request carries, in their wire order."""

    con_id: int
    symbol: str
    sec_type: str
    last_trade: str
    strike: str
    right: str
    multiplier: str
    exchange: str
    primary_exchange: str
    currency: str
    local_symbol: str
    trading_class: str

    @classmethod
    def read(cls, fields: Sequence[str], at: int) -> Contract:
        """The contract whose twelve fields start at ``at``."""
        if len(fields) < at + 12:
            raise IbkrError(320, "Error reading request: the contract is cut short")
        f = fields[at : at + 12]
        try:
            con_id = int(f[0] or 0)
        except ValueError:
            raise IbkrError(320, f"Error reading request: conId {f[0]!r}") from None
        return cls(con_id, *f[1:])


def integer(fields: Sequence[str], at: int, name: str) -> int:
    """Field ``at`` as an int (empty: 0), else error 320 naming ``name``."""
    if len(fields) <= at:
        raise IbkrError(320, f"Error reading request: {name} missing")
    raw = fields[at]
    try:
        return int(raw) if raw else 0
    except ValueError:
        raise IbkrError(320, f"Error reading request: {name}={raw!r} is not an integer") from None


def decimal(fields: Sequence[str], at: int, name: str) -> Decimal | None:
    """Field ``at`` as a Decimal (empty, or IB's unset 1.7976931348623157E308: None), else error
    320 naming ``name``."""
    if len(fields) <= at:
        raise IbkrError(320, f"Error reading request: {name} missing")
    raw = fields[at]
    if not raw or raw.upper().startswith("1.7976931348623157E308"):
        return None
    try:
        value = Decimal(raw)
    except ArithmeticError:
        raise IbkrError(320, f"Error reading request: {name}={raw!r} is not a number") from None
    if not value.is_finite():
        raise IbkrError(320, f"Error reading request: {name}={raw!r} is not a number")
    return value
