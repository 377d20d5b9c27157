"""Databento MBO records as CSV (``dbn`` CSV output with decimal prices and integer timestamps).

Columns used, by header name: ``ts_recv, ts_event, action, side, price, size, order_id, flags,
sequence``; others (``ts_in_delta, instrument_id, symbol, channel_id``) are ignored. An empty
``price`` (how ``dbn`` writes ``UNDEF_PRICE``) loads as :data:`MBO_UNDEF_PRICE`. Databento sorts
records by ``ts_recv``, so it must never go backwards; ``ts_event`` and ``sequence`` may.
"""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path
from typing import cast

import numpy as np

from fillforge._optional import needs_extra
from fillforge.errors import MarketDataError
from fillforge.marketdata._table import Column, int_column, read_table
from fillforge.marketdata.columns import MBO_UNDEF_PRICE, MboRecords
from fillforge.marketdata.decimal_text import DecimalTextError, Grid

__all__ = ["load_databento_mbo_csv", "load_databento_mbo_dbn"]

_ACTIONS = {a: ord(a) for a in "ACMFTR"}
_SIDES = {"B": 1, "A": -1, "N": 0}
_U64_MAX = 2**64 - 1


def _action(text: str) -> int:
    code = _ACTIONS.get(text)
    if code is None:
        raise ValueError("action must be one of A, C, M, F, T, R")
    return code


def _side(text: str) -> int:
    side = _SIDES.get(text)
    if side is None:
        raise ValueError("side must be B, A or N")
    return side


def load_databento_mbo_csv(
    path: str | os.PathLike[str], *, tick: Decimal | int | str, lot: Decimal | int | str = 1
) -> MboRecords:
    """Load a Databento MBO CSV file (plain or gzip); ES futures use ``tick=Decimal("0.25")``."""
    table = read_table(path)
    grid, lots = Grid(tick), Grid(lot)

    def price(text: str) -> int:
        if not text:
            return MBO_UNDEF_PRICE
        ticks = grid.to_int(text)
        if ticks == MBO_UNDEF_PRICE:
            raise DecimalTextError("collides with the undefined-price marker")
        return ticks

    ts_recv, ts_event, action, side, prices, size, order_id, flags, sequence = table.parse(
        [
            int_column("ts_recv", np.int64),
            int_column("ts_event", np.int64),
            Column("action", _action, np.uint8, dedupe=True),
            Column("side", _side, np.int8, dedupe=True),
            Column("price", price, np.int64, dedupe=True),
            Column("size", lots.to_int, np.int64, dedupe=True),
            int_column("order_id", np.uint64, _U64_MAX),
            int_column("flags", np.uint8, 255),
            int_column("sequence", np.uint64, _U64_MAX),
        ]
    )
    table.check_order(ts_recv, "ts_recv", strict=False)
    table.check(size < 0, "size", lambda _: "negative size")
    return MboRecords(
        table.source, ts_recv, ts_event, action, side, prices, size, order_id, flags, sequence
    )


_DBN_UNDEF_PRICE = 2**63 - 1
_DBN_PRICE_SCALE = Decimal(1_000_000_000)  # DBN prices are fixed-point, 1e-9 units


def load_databento_mbo_dbn(
    path: str | os.PathLike[str], *, tick: Decimal | int | str, lot: Decimal | int | str = 1
) -> MboRecords:
    """Load a Databento MBO file in DBN (plain or ``.zst``) with the official ``databento-dbn``
    decoder (``pip install fillforge[dbn]``); the same columns as :func:`load_databento_mbo_csv`.
    """
    source = os.fspath(path)
    with needs_extra(
        "dbn",
        lambda why: MarketDataError(
            source, None, "path", source, f"DBN needs databento-dbn, {why}"
        ),
    ):
        import databento_dbn as dbn
    raw = Path(source).read_bytes()
    zstd = raw[:4] == b"\x28\xb5\x2f\xfd"
    # databento-dbn's stubs type the enum's members as str.
    kind = cast(dbn.Compression, dbn.Compression.ZSTD if zstd else dbn.Compression.NONE)
    decoder = dbn.DBNDecoder(compression=kind)
    try:
        decoder.write(raw)
        records = [r for r in decoder.decode() if isinstance(r, dbn.MBOMsg)]
    except Exception as e:  # the decoder raises plain exceptions with its own message
        raise MarketDataError(source, None, "path", source, f"not DBN MBO data: {e}") from e
    step = Decimal(tick) * _DBN_PRICE_SCALE
    lot_d = Decimal(lot)
    if step != step.to_integral_value():
        raise MarketDataError(source, None, "tick", tick, "finer than DBN's 1e-9 price unit")
    per_tick = int(step)
    n = len(records)
    price = np.empty(n, np.int64)
    size = np.empty(n, np.int64)
    for i, r in enumerate(records):
        p = r.price
        if p == _DBN_UNDEF_PRICE:
            price[i] = MBO_UNDEF_PRICE
        elif p % per_tick:
            raise MarketDataError(
                source, i + 1, "price", Decimal(p) / _DBN_PRICE_SCALE, "off the tick"
            )
        else:
            price[i] = p // per_tick
        q = Decimal(r.size) / lot_d
        if q != q.to_integral_value():
            raise MarketDataError(source, i + 1, "size", r.size, f"not a multiple of the lot {lot}")
        size[i] = int(q)
    return MboRecords(
        source,
        np.array([r.ts_recv for r in records], np.int64),
        np.array([r.ts_event for r in records], np.int64),
        np.array([ord(str(r.action)) for r in records], np.uint8),
        np.array([_SIDES[str(r.side)] for r in records], np.int8),
        price,
        size,
        np.array([r.order_id for r in records], np.uint64),
        np.array([int(r.flags) for r in records], np.uint8),
        np.array([r.sequence for r in records], np.uint64),
    )
