"""Tardis.dev normalised CSV (``trades`` and ``quotes``): header row, epoch-microsecond times.

``timestamp`` (exchange time) becomes ``time_ns``. Tardis orders its files by
``local_timestamp`` (receipt time), so that column must never go backwards; the exchange time may.
"""

from __future__ import annotations

import os
from decimal import Decimal

import numpy as np

from fillforge.marketdata._table import Column, int_column, read_table
from fillforge.marketdata.columns import Quotes, Trades
from fillforge.marketdata.decimal_text import INT64_MAX, Grid

__all__ = ["load_tardis_quotes", "load_tardis_trades"]

_AGGRESSOR = {"buy": 1, "sell": -1}
_MAX_MICROS = INT64_MAX // 1000


def _aggressor(text: str) -> int:
    side = _AGGRESSOR.get(text)
    if side is None:
        raise ValueError("side must be 'buy' or 'sell'")
    return side


def load_tardis_trades(
    path: str | os.PathLike[str], *, tick: Decimal | int | str, lot: Decimal | int | str
) -> Trades:
    """Load a Tardis ``trades`` CSV; ``side`` (``buy``/``sell``) is the aggressor side."""
    table = read_table(path)
    price, qty = Grid(tick), Grid(lot)
    time_us, local_us, prices, qtys, aggressor = table.parse(
        [
            int_column("timestamp", np.int64, _MAX_MICROS),
            int_column("local_timestamp", np.int64, _MAX_MICROS),
            Column("price", price.to_int, np.int64, dedupe=True),
            Column("amount", qty.to_int, np.int64, dedupe=True),
            Column("side", _aggressor, np.int8, dedupe=True),
        ]
    )
    table.check_order(local_us, "local_timestamp", strict=False)
    table.check(qtys < 0, "amount", lambda _: "negative quantity")
    (id_index,) = table.find("id")
    trade_id = np.array(table.text(id_index), dtype=np.str_)
    return Trades(table.source, time_us * 1000, prices, qtys, aggressor, trade_id)


def load_tardis_quotes(
    path: str | os.PathLike[str], *, tick: Decimal | int | str, lot: Decimal | int | str
) -> Quotes:
    """Load a Tardis ``quotes`` CSV (best bid and offer)."""
    table = read_table(path)
    price, qty = Grid(tick), Grid(lot)
    time_us, local_us, bid_price, bid_qty, ask_price, ask_qty = table.parse(
        [
            int_column("timestamp", np.int64, _MAX_MICROS),
            int_column("local_timestamp", np.int64, _MAX_MICROS),
            Column("bid_price", price.to_int, np.int64, dedupe=True),
            Column("bid_amount", qty.to_int, np.int64, dedupe=True),
            Column("ask_price", price.to_int, np.int64, dedupe=True),
            Column("ask_amount", qty.to_int, np.int64, dedupe=True),
        ]
    )
    table.check_order(local_us, "local_timestamp", strict=False)
    table.check(bid_qty < 0, "bid_amount", lambda _: "negative quantity")
    table.check(ask_qty < 0, "ask_amount", lambda _: "negative quantity")
    return Quotes(table.source, time_us * 1000, bid_price, bid_qty, ask_price, ask_qty)
