"""Reading a CSV file (plain or gzip) into rows, and turning its columns into numpy arrays.

Every problem becomes a :class:`fillforge.errors.MarketDataError` naming the file, the 1-based
file line, the column and the raw text. Converters raise :class:`ValueError` whose message is the
reason. Parsing is done column by column (fast); when several cells fail, the one on the earliest
line is reported.
"""

from __future__ import annotations

import csv
import gc
import gzip
import io
import os
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from typing import Any, TextIO

import numpy as np
import numpy.typing as npt

from fillforge.errors import MarketDataError
from fillforge.marketdata.decimal_text import INT64_MAX, parse_int, parse_ints

_GZIP_MAGIC = b"\x1f\x8b"

Converter = Callable[[str], Any]


class Column:
    """How to parse one named column: a per-cell converter and the dtype; optionally a whole-column
    ``bulk`` converter (faster; on failure the per-cell one finds the cell) or ``dedupe`` to parse
    each distinct text once (worth it for prices, sizes and sides, which repeat)."""

    __slots__ = ("bulk", "convert", "dedupe", "dtype", "name")

    def __init__(
        self,
        name: str,
        convert: Converter,
        dtype: npt.DTypeLike,
        *,
        dedupe: bool = False,
        bulk: Callable[[Sequence[str]], list[Any]] | None = None,
    ) -> None:
        self.name, self.convert, self.dtype = name, convert, dtype
        self.dedupe, self.bulk = dedupe, bulk


def int_column(name: str, dtype: npt.DTypeLike, high: int = INT64_MAX) -> Column:
    """A column of plain non-negative integers up to ``high``."""
    return Column(
        name, partial(parse_int, low=0, high=high), dtype, bulk=partial(parse_ints, high=high)
    )


class Table:
    """The header and data rows of one CSV file (all rows have the header's width)."""

    __slots__ = ("_columns", "_lines", "header", "rows", "source")

    def __init__(self, source: str, header: list[str], rows: list[list[str]], simple: bool) -> None:
        self.source, self.header, self.rows = source, header, rows
        # When every row is one physical line (no quoted newlines), row i is on line i + 2.
        self._lines: list[int] | None = None if simple else _physical_lines(source)
        self._columns: list[tuple[str, ...]] | None = None

    def __len__(self) -> int:
        return len(self.rows)

    def line(self, row: int) -> int:
        """The 1-based file line of data row ``row``."""
        return row + 2 if self._lines is None else self._lines[row]

    def error(self, row: int, field: str, value: object, why: str) -> MarketDataError:
        return MarketDataError(self.source, self.line(row), field, value, why)

    def find(self, *names: str) -> list[int]:
        """Indices of the named columns (exact header names); raises if one is missing."""
        out = []
        for name in names:
            if self.header.count(name) != 1:
                why = "column is missing" if name not in self.header else "column is duplicated"
                raise MarketDataError(self.source, 1, name, ",".join(self.header), why)
            out.append(self.header.index(name))
        return out

    def text(self, index: int) -> tuple[str, ...]:
        """The raw text of one column."""
        if self._columns is None:
            with _gc_paused():
                self._columns = list(zip(*self.rows, strict=True)) or [()] * len(self.header)
        return self._columns[index]

    def parse(self, columns: Sequence[Column]) -> list[npt.NDArray[Any]]:
        """Parse the named columns into arrays; report the earliest failing cell."""
        arrays: list[npt.NDArray[Any]] = []
        failure: tuple[int, int, str, str] | None = None  # (row, column position, text, why)
        for position, column in enumerate(columns):
            (index,) = self.find(column.name)
            texts = self.text(index)
            try:
                if column.bulk is not None:
                    values = column.bulk(texts)
                elif column.dedupe:
                    lookup = {text: column.convert(text) for text in set(texts)}
                    values = list(map(lookup.__getitem__, texts))
                else:
                    values = list(map(column.convert, texts))
                arrays.append(np.array(values, dtype=column.dtype))
            except ValueError:
                row, text, why = _first_failure(texts, column.convert)
                if failure is None or (row, position) < failure[:2]:
                    failure = (row, position, text, why)
                arrays.append(np.empty(0))
        if failure is not None:
            row, position, text, why = failure
            raise self.error(row, columns[position].name, text, why)
        return arrays

    def check(self, bad: npt.NDArray[np.bool_], field: str, why: Callable[[int], str]) -> None:
        """Raise for the first row where ``bad`` is true, naming ``field`` and its raw text."""
        if bad.any():
            row = int(np.argmax(bad))
            (index,) = self.find(field)
            raise self.error(row, field, self.rows[row][index], why(row))

    def check_order(self, times: npt.NDArray[np.int64], field: str, *, strict: bool) -> None:
        """Raise at the first row whose time is before (or, if ``strict``, equal to) the last."""
        if len(times) < 2:
            return
        step = np.diff(times)
        bad = np.concatenate(([False], step <= 0 if strict else step < 0))
        (index,) = self.find(field)
        self.check(
            bad,
            field,
            lambda row: (
                f"time {'does not increase' if strict else 'goes backwards'}: previous row "
                f"(line {self.line(row - 1)}) has {self.rows[row - 1][index]!r}"
            ),
        )


def _first_failure(texts: Sequence[str], convert: Converter) -> tuple[int, str, str]:
    for row, text in enumerate(texts):
        try:
            convert(text)
        except ValueError as e:
            return row, text, str(e)
    raise AssertionError("a converter failed on a column, on none of its cells")  # pragma: no cover


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building many small containers, which cannot
    form cycles; its repeated scans would otherwise double the time to read a large file."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _open_text(path: str) -> TextIO:
    with open(path, "rb") as raw:
        gzipped = raw.read(2) == _GZIP_MAGIC
    if gzipped:
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8-sig", newline="")
    return open(path, encoding="utf-8-sig", newline="")  # closed by the caller


def _physical_lines(source: str) -> list[int]:
    """File line of each data row, for files whose quoted fields span lines (slow; rare)."""
    with _open_text(source) as f:
        reader = csv.reader(f)
        next(reader)
        return [reader.line_num for _ in reader]


def read_table(path: str | os.PathLike[str]) -> Table:
    """Read a CSV file with a header row; ``.gz`` content is detected by its magic bytes.

    Blank lines at the end are ignored; anywhere else they are rows of the wrong width.
    """
    source = os.fspath(path)
    with _open_text(source) as f:
        reader = csv.reader(f)
        try:
            header = next(reader, None)
            if header is None:
                raise MarketDataError(source, 1, "header", "", "file is empty")
            with _gc_paused():
                rows = list(reader)
        except csv.Error as e:
            raise MarketDataError(source, reader.line_num, "row", "", str(e)) from None
        except (UnicodeDecodeError, EOFError, zlib.error, gzip.BadGzipFile) as e:
            # Decoding reads ahead in blocks, so the line is not known.
            raise MarketDataError(source, None, "file", "", str(e)) from None
        simple = reader.line_num == len(rows) + 1
    while rows and not rows[-1]:  # blank lines at the end of the file
        rows.pop()
    width = len(header)
    if set(map(len, rows)) - {width}:
        table = Table(source, header, rows, simple)
        row = next(i for i, r in enumerate(rows) if len(r) != width)
        why = f"has {len(rows[row])} fields, the header has {width}"
        raise table.error(row, "row", ",".join(rows[row]), why)
    return Table(source, header, rows, simple)
