"""Market-data loaders: real vendor files into numpy columns with exact integer prices and sizes.

Prices become int64 ticks and quantities int64 lots of the instrument's ``tick``/``lot``, parsed
from the decimal text (never through float); problems raise
:class:`fillforge.errors.MarketDataError` with the file, line, field and value.
"""

from __future__ import annotations

from fillforge.marketdata.bars import DEFAULT_LOCAL_TIMEZONE, load_bars
from fillforge.marketdata.columns import (
    MBO_UNDEF_PRICE,
    NS_PER_DAY,
    NS_PER_MINUTE,
    Bars,
    MboRecords,
    Quotes,
    Trades,
)
from fillforge.marketdata.databento import load_databento_mbo_csv, load_databento_mbo_dbn
from fillforge.marketdata.decimal_text import DecimalTextError, Grid
from fillforge.marketdata.tardis import load_tardis_quotes, load_tardis_trades

__all__ = [
    "DEFAULT_LOCAL_TIMEZONE",
    "MBO_UNDEF_PRICE",
    "NS_PER_DAY",
    "NS_PER_MINUTE",
    "Bars",
    "DecimalTextError",
    "Grid",
    "MboRecords",
    "Quotes",
    "Trades",
    "load_bars",
    "load_databento_mbo_csv",
    "load_databento_mbo_dbn",
    "load_tardis_quotes",
    "load_tardis_trades",
]
