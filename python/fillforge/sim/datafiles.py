"""A user's market-data files as one instrument's feed: the format told or recognised.

Each supported format is recognised by its first line: a Databento MBO CSV by ``ts_recv`` and
``action`` (DBN by its magic bytes; it needs ``databento-dbn``), a Tardis quotes or trades CSV
by ``local_timestamp`` with the quote or trade columns, a bars CSV by ``open``/``high``/``low``/
``close``, and a LOBSTER file (no header) by a first row of numbers: six for a message file, a
multiple of four for an orderbook file. Files with a ``.gz`` content are read through gzip.
"""

from __future__ import annotations

import csv
import dataclasses
import gzip
import io
import os
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from pathlib import Path

from fillforge import _core
from fillforge.errors import MarketDataError
from fillforge.marketdata import (
    load_bars,
    load_databento_mbo_csv,
    load_databento_mbo_dbn,
    load_tardis_quotes,
    load_tardis_trades,
)
from fillforge.orders.models import Instrument
from fillforge.sim.feeds import bars_feed, lobster_feed, mbo_feed, quotes_trades_feed

__all__ = ["DataFormat", "MarketFiles", "market_files"]

_GZIP_MAGIC = b"\x1f\x8b"
_DBN_MAGICS = (b"DBN", b"\x28\xb5\x2f\xfd")  # DBN, plain or zstd-compressed
_LOBSTER_PRICE_UNIT = Decimal("0.0001")  # LOBSTER prices are USD x 10000
_LOBSTER_TICKER = re.compile(r"([A-Za-z][A-Za-z0-9.]*)_\d{4}-\d{2}-\d{2}_")


class DataFormat(StrEnum):
    """The market-data file formats a venue can be built on."""

    BARS = "bars"
    TARDIS = "tardis"
    LOBSTER = "lobster"
    MBO = "mbo"


@dataclass(frozen=True, slots=True)
class MarketFiles:
    """Files recognised as one market: the format, each file's role (``bars``, ``quotes``,
    ``trades``, ``message``, ``orderbook``, ``mbo``) and the symbol the data names, if any."""

    format: DataFormat
    paths: dict[str, Path]
    symbol: str | None

    def feed(self, instrument: Instrument, *, bars_half_spread_ticks: int = 1) -> _core.Feed:
        """Load the files on ``instrument``'s tick and lot grids. Values off the grids and
        malformed rows raise :class:`~fillforge.errors.MarketDataError` (file, line, field).

        Bars show their path ``bars_half_spread_ticks`` below and above each point (default
        one tick: a two-sided book that a point's trade print does not consume; 0 is
        :func:`~fillforge.sim.feeds.bars_feed`'s own default)."""
        tick, lot = instrument.tick_size, instrument.lot_size
        p = self.paths
        if self.format is DataFormat.BARS:
            bars = load_bars(p["bars"], tick=tick)
            # bars_feed shows a quarter of a bar's volume at each point, in lots.
            volume = dataclasses.replace(bars, volume=bars.volume / float(lot))
            return bars_feed(volume, half_spread_ticks=bars_half_spread_ticks)
        if self.format is DataFormat.TARDIS:
            quotes = load_tardis_quotes(p["quotes"], tick=tick, lot=lot) if "quotes" in p else None
            trades = load_tardis_trades(p["trades"], tick=tick, lot=lot) if "trades" in p else None
            return quotes_trades_feed(quotes, trades)
        if self.format is DataFormat.MBO:
            if "dbn" in p:
                return mbo_feed(load_databento_mbo_dbn(p["dbn"], tick=tick, lot=lot))
            return mbo_feed(load_databento_mbo_csv(p["mbo"], tick=tick, lot=lot))
        message = os.fspath(p["message"])
        div = tick / _LOBSTER_PRICE_UNIT
        if div != div.to_integral_value():
            why = "LOBSTER prices are in units of 0.0001: the tick must be a multiple of it"
            raise MarketDataError(message, None, "tick", str(tick), why)
        if lot != 1:
            raise MarketDataError(message, None, "lot", str(lot), "LOBSTER sizes are shares: 1")
        return lobster_feed(message, p["orderbook"], price_div=int(div))


def _first_rows(path: Path, n: int = 2) -> list[list[str]]:
    with open(path, "rb") as raw:
        gzipped = raw.read(2) == _GZIP_MAGIC
    opened = gzip.open(path, "rb") if gzipped else open(path, "rb")  # noqa: SIM115
    with io.TextIOWrapper(opened, encoding="utf-8-sig", errors="replace", newline="") as text:
        reader = csv.reader(text)
        rows = []
        try:
            for row in reader:
                rows.append(row)
                if len(rows) == n:
                    break
        except (csv.Error, OSError, EOFError) as e:
            raise MarketDataError(str(path), None, "file", "", f"not a CSV file: {e}") from None
    return rows


def _numeric(row: list[str]) -> bool:
    try:
        return bool(row) and all(Decimal(x).is_finite() for x in row)
    except InvalidOperation:
        return False


def _role(path: Path) -> tuple[DataFormat, str, str | None] | None:
    """What a file is, from its first rows: (format, role, the symbol it names)."""
    with open(path, "rb") as raw:
        if raw.read(4).startswith(_DBN_MAGICS):
            return DataFormat.MBO, "dbn", None
    rows = _first_rows(path)
    if not rows:
        return None
    header = [h.strip().lower() for h in rows[0]]
    names = set(header)
    first = rows[1] if len(rows) > 1 else []

    def column(name: str) -> str | None:
        if name in names and len(first) == len(header):
            return first[header.index(name)].strip() or None
        return None

    if {"ts_recv", "action", "order_id"} <= names:
        return DataFormat.MBO, "mbo", column("symbol")
    if "local_timestamp" in names and {"bid_price", "ask_price"} <= names:
        return DataFormat.TARDIS, "quotes", column("symbol")
    if "local_timestamp" in names and {"price", "amount", "side"} <= names:
        return DataFormat.TARDIS, "trades", column("symbol")
    if {"open", "high", "low", "close"} <= names:
        return DataFormat.BARS, "bars", None
    if _numeric(rows[0]):
        m = _LOBSTER_TICKER.match(path.name)
        ticker = m.group(1).upper() if m else None
        if len(rows[0]) == 6:
            return DataFormat.LOBSTER, "message", ticker
        if len(rows[0]) % 4 == 0:
            return DataFormat.LOBSTER, "orderbook", ticker
    return None


def _lobster_orderbook(message: Path) -> Path | None:
    """The orderbook file beside a LOBSTER message file, by LOBSTER's naming."""
    if "_message_" not in message.name:
        return None
    stem = message.name.split("_message_")[0]
    level = message.name.split("_message_")[1].split(".")[0]
    found = sorted(message.parent.glob(f"{stem}_orderbook_{level}.csv*"))
    return found[0] if found else None


def market_files(
    paths: list[str | os.PathLike[str]], data_format: DataFormat | str | None = None
) -> MarketFiles:
    """Recognise ``paths`` as one market in one format (``data_format`` if given, which the
    files must agree with): one bars file; a Tardis quotes and/or trades file; a LOBSTER message
    and orderbook pair (the orderbook found beside the message file when not given); one
    Databento MBO CSV or DBN file. What cannot be recognised raises
    :class:`~fillforge.errors.MarketDataError` saying why."""
    wanted = None if data_format is None else DataFormat(data_format)
    if not paths:
        raise MarketDataError("data", None, "paths", [], "no files given")
    roles: dict[str, Path] = {}
    formats: set[DataFormat] = set()
    symbols: list[str] = []
    for raw in paths:
        path = Path(raw)
        source = os.fspath(raw)
        if not path.is_file():
            why = "not a file" if path.exists() else "no such file"
            raise MarketDataError(source, None, "path", source, why)
        try:
            role = _role(path)
        except OSError as e:
            raise MarketDataError(source, None, "path", source, str(e)) from None
        if role is None:
            why = "not recognised as a bars, Tardis, LOBSTER or Databento MBO (CSV or DBN) file"
            raise MarketDataError(source, None, "path", source, why)
        fmt, name, symbol = role
        if wanted is not None and fmt is not wanted:
            why = f"looks like {fmt.value} data ({name}), not {wanted.value}"
            raise MarketDataError(source, None, "format", wanted.value, why)
        if name in roles:
            raise MarketDataError(source, None, "path", source, f"a second {name} file")
        formats.add(fmt)
        roles[name] = path
        if symbol:
            symbols.append(symbol)
    if len(formats) > 1:
        kinds = ", ".join(sorted(f.value for f in formats))
        raise MarketDataError(os.fspath(paths[0]), None, "format", kinds, "files of one format")
    (fmt,) = formats
    if {"dbn", "mbo"} <= roles.keys():
        source = os.fspath(roles["dbn"])
        raise MarketDataError(source, None, "path", source, "a second mbo file")
    if fmt is DataFormat.LOBSTER:
        if "message" not in roles:
            source = os.fspath(roles["orderbook"])
            why = "a LOBSTER orderbook file needs its message file"
            raise MarketDataError(source, None, "path", source, why)
        if "orderbook" not in roles:
            found = _lobster_orderbook(roles["message"])
            if found is None:
                source = os.fspath(roles["message"])
                why = "no orderbook file beside it: give it too"
                raise MarketDataError(source, None, "path", source, why)
            roles["orderbook"] = found
    return MarketFiles(fmt, roles, symbols[0].upper() if symbols else None)
