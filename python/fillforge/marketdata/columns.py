"""Column containers for loaded market data: one numpy array per field, all of equal length.

Prices are int64 ticks and quantities int64 lots of the instrument given to the loader (multiply
by the tick or lot as a ``Decimal`` to get the value back); times are int64 nanoseconds since the
UNIX epoch, UTC. ``source`` is the path the data was loaded from.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, ClassVar, Final, cast

import numpy as np
import numpy.typing as npt

from fillforge.time import NS_PER_DAY, NS_PER_MINUTE

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

__all__ = [
    "MBO_UNDEF_PRICE",
    "NS_PER_DAY",
    "NS_PER_MINUTE",
    "Bars",
    "MboRecords",
    "Quotes",
    "Trades",
]

MBO_UNDEF_PRICE: Final = 2**63 - 1
"""``MboRecords.price`` of a record without a price (Databento's ``UNDEF_PRICE``, e.g. ``R``)."""


def _check_lengths(obj: DataclassInstance) -> None:
    lengths = {
        f.name: len(value)
        for f in fields(obj)
        if isinstance(value := getattr(obj, f.name), np.ndarray)
    }
    if len(set(lengths.values())) > 1:
        raise ValueError(f"{type(obj).__name__} columns differ in length: {lengths}")


class _Columns:
    """What every column set does: refuse columns of different lengths when made, and give its
    length (the rows of its ``_rows`` column)."""

    __slots__ = ()
    _rows: ClassVar[str] = "time_ns"

    def __post_init__(self) -> None:
        _check_lengths(cast("DataclassInstance", self))

    def __len__(self) -> int:
        return len(getattr(self, self._rows))


@dataclass(frozen=True, slots=True)
class Trades(_Columns):
    """A trade tape.

    ``time_ns``: exchange time. ``price``: ticks. ``qty``: lots. ``aggressor``: 1 buyer-initiated,
    -1 seller-initiated. ``trade_id``: the venue's trade id as text, a numpy fixed-width unicode
    array (dtype ``<Un``, n = the longest id).
    """

    source: str
    time_ns: npt.NDArray[np.int64]
    price: npt.NDArray[np.int64]
    qty: npt.NDArray[np.int64]
    aggressor: npt.NDArray[np.int8]
    trade_id: npt.NDArray[np.str_]


@dataclass(frozen=True, slots=True)
class Quotes(_Columns):
    """Best bid and offer updates: ``time_ns`` (exchange time), prices in ticks, sizes in lots."""

    source: str
    time_ns: npt.NDArray[np.int64]
    bid_price: npt.NDArray[np.int64]
    bid_qty: npt.NDArray[np.int64]
    ask_price: npt.NDArray[np.int64]
    ask_qty: npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class Bars(_Columns):
    """OHLCV bars.

    ``time_ns``: the bar's OPEN time (a daily bar: its date at 00:00 UTC). ``period_ns``: bar length
    (:data:`NS_PER_MINUTE`, :data:`NS_PER_DAY`, ...). ``open``/``high``/``low``/``close``: ticks.
    ``volume``: float64 as the file gives it, informational only: its unit depends on the source
    (shares for the equity files, a quote-currency amount for FTX) and it is never money here.
    ``skipped``: rows dropped as inconsistent by ``on_invalid='skip'``.
    """

    source: str
    period_ns: int
    time_ns: npt.NDArray[np.int64]
    open: npt.NDArray[np.int64]
    high: npt.NDArray[np.int64]
    low: npt.NDArray[np.int64]
    close: npt.NDArray[np.int64]
    volume: npt.NDArray[np.float64]
    skipped: int = 0


@dataclass(frozen=True, slots=True)
class MboRecords(_Columns):
    """Market-by-order records (Databento MBO), in file order.

    ``ts_recv``/``ts_event``: capture and exchange time, ns. ``action``: ASCII code of ``A`` add,
    ``C`` cancel, ``M`` modify, ``F`` fill, ``T`` trade, ``R`` clear book. ``side``: 1 bid, -1 ask,
    0 none. ``price``: ticks, or :data:`MBO_UNDEF_PRICE` where the record has none. ``size``: lots.
    ``flags``: Databento's bit field (128 LAST, 32 SNAPSHOT, 8 BAD_TS_RECV).
    """

    _rows: ClassVar[str] = "ts_recv"
    source: str
    ts_recv: npt.NDArray[np.int64]
    ts_event: npt.NDArray[np.int64]
    action: npt.NDArray[np.uint8]
    side: npt.NDArray[np.int8]
    price: npt.NDArray[np.int64]
    size: npt.NDArray[np.int64]
    order_id: npt.NDArray[np.uint64]
    flags: npt.NDArray[np.uint8]
    sequence: npt.NDArray[np.uint64]
