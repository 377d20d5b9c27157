"""Massive's (formerly Polygon's) JSON: the rows of aggregates, trades and quotes, the last quote,
its error bodies, and the query values it takes (times as dates, milliseconds or nanoseconds).

Shapes as Massive sends them (and the ``massive`` client reads them):

- aggregate: ``{"v", "vw", "o", "c", "h", "l", "t" (ms), "n"}`` (``vw``/``n`` left out when the
  source has none: a day bar of a bars file);
- trade (``/v3/trades``): ``price``, ``size``, ``sip_timestamp`` and ``participant_timestamp``
  (ns), ``sequence_number``, ``id``, ``exchange`` (12: Nasdaq), ``conditions``, ``tape`` (3: C);
- quote (``/v3/quotes``): ``bid_price``/``bid_size``/``ask_price``/``ask_size`` (a side the book
  does not show: price 0, size 0), exchanges, timestamps, ``sequence_number``, ``tape``;
- last quote (``/v2/last/nbbo``): the short keys ``T``, ``p``/``s``/``x`` (bid),
  ``P``/``S``/``X`` (ask), ``t``/``y`` (ns), ``q``, ``z``;
- errors: ``{"status": "ERROR", "request_id", "error"}`` (400, 401, 429, 5xx) and
  ``{"status": "NOT_FOUND", "request_id", "message"}`` (404).
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any, Final

from fillforge.errors import OrderValidationError, TimeError
from fillforge.massive.history import BarRow, QuoteRow, TradeRow
from fillforge.time import NS_PER_MILLISECOND, from_datetime, from_iso

__all__ = [
    "NASDAQ",
    "agg_json",
    "error",
    "last_quote_json",
    "ms_or_date",
    "not_found",
    "ns_time",
    "quote_json",
    "trade_json",
]

NASDAQ: Final = 12  # Massive's exchange id of Nasdaq
_TAPE_C: Final = 3
_DATE: Final = re.compile(r"\d{4}-\d{2}-\d{2}").fullmatch
_NS_PER_DAY: Final = 86_400 * 10**9


def agg_json(row: BarRow) -> dict[str, Any]:
    out: dict[str, Any] = {
        "v": row.v,
        "o": float(row.o),
        "c": float(row.c),
        "h": float(row.h),
        "l": float(row.l),
        "t": row.t // NS_PER_MILLISECOND,
    }
    if row.vw is not None:
        out["vw"] = float(row.vw)
    if row.n is not None:
        out["n"] = row.n
    return out


def trade_json(row: TradeRow) -> dict[str, Any]:
    return {
        "conditions": [],
        "exchange": NASDAQ,
        "id": str(row.seq),
        "participant_timestamp": row.t,
        "price": float(row.price),
        "sequence_number": row.seq,
        "sip_timestamp": row.t,
        "size": row.size,
        "tape": _TAPE_C,
    }


def quote_json(row: QuoteRow) -> dict[str, Any]:
    return {
        "ask_exchange": NASDAQ,
        "ask_price": _price(row.ask),
        "ask_size": row.ask_size,
        "bid_exchange": NASDAQ,
        "bid_price": _price(row.bid),
        "bid_size": row.bid_size,
        "participant_timestamp": row.t,
        "sequence_number": row.seq,
        "sip_timestamp": row.t,
        "tape": _TAPE_C,
    }


def last_quote_json(ticker: str, row: QuoteRow) -> dict[str, Any]:
    return {
        "T": ticker,
        "P": _price(row.ask),
        "S": row.ask_size,
        "X": NASDAQ,
        "p": _price(row.bid),
        "s": row.bid_size,
        "x": NASDAQ,
        "t": row.t,
        "y": row.t,
        "q": row.seq,
        "z": _TAPE_C,
    }


def _price(side: Decimal | None) -> float:
    """A side's price as Massive shows it: 0 when the book has no such side."""
    return 0 if side is None else float(side)


def error(request_id: str, message: str) -> dict[str, Any]:
    return {"status": "ERROR", "request_id": request_id, "error": message}


def not_found(request_id: str, message: str) -> dict[str, Any]:
    return {"status": "NOT_FOUND", "request_id": request_id, "message": message}


def ms_or_date(text: str, field: str, *, end: bool) -> int:
    """An aggregates range bound in UTC ns: a millisecond timestamp, or a date (its first
    millisecond, or with ``end`` its last: both bounds are inclusive, as Massive reads them)."""
    if _DATE(text):
        try:
            day = dt.date.fromisoformat(text)
        except ValueError:
            raise OrderValidationError(field, text, "not a date") from None
        ns = from_datetime(dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC), field)
        return ns + _NS_PER_DAY - NS_PER_MILLISECOND if end else ns
    if text.isdigit():
        return int(text) * NS_PER_MILLISECOND
    raise OrderValidationError(field, text, "expected a date YYYY-MM-DD or a millisecond timestamp")


def ns_time(text: str, field: str) -> int:
    """A trades or quotes timestamp bound: nanoseconds, a date (its midnight, UTC) or RFC 3339."""
    if text.isdigit():
        return int(text)
    if _DATE(text):
        return ms_or_date(text, field, end=False)
    try:
        return from_iso(text, field, naive_zone=dt.UTC)
    except TimeError:
        why = "expected nanoseconds, a date YYYY-MM-DD or an RFC 3339 time"
        raise OrderValidationError(field, text, why) from None
