"""Databento MBO records as CSV (``dbn`` CSV output with decimal prices and integer timestamps).

Columns used, by header name: ``ts_recv, ts_event, action, side, price, size, order_id, flags,
sequence``; others (``ts_in_delta, instrument_id, symbol, channel_id``) are ignored. An empty
``price`` (how ``dbn`` writes ``UNDEF_PRICE``) loads as :data:`MBO_UNDEF_PRICE`. Databento sorts
records by ``ts_recv``, so it must never go backwards; ``ts_event`` and ``sequence`` may.
"""

from __future__ import annotations

import os
from decimal import Decimal

import numpy as np

from fillforge.marketdata._table import Column, int_column, read_table
from fillforge.marketdata.columns import MBO_UNDEF_PRICE, MboRecords
from fillforge.marketdata.decimal_text import DecimalTextError, Grid

__all__ = ["load_databento_mbo_csv"]

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
