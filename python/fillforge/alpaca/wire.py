"""Alpaca Trading API v2 wire shapes: fillforge objects to Alpaca JSON and Alpaca requests back.

The shapes follow ``alpaca-trading-api.md`` (what alpaca-py 0.44 sends and parses): decimals as
strings, RFC 3339 timestamps, UUID ids, error bodies ``{"code": int, "message": str}``.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
import uuid
from decimal import Decimal, InvalidOperation
from typing import Any

from fillforge._exact import to_decimal
from fillforge.errors import OrderValidationError, TimeError
from fillforge.orders.enums import EventKind, OrderClass, OrderStatus
from fillforge.orders.models import OrderRequest, StopLoss, TakeProfit
from fillforge.orders.order import Order
from fillforge.sim.account import Account, AccountSnapshot, Position
from fillforge.time import from_datetime, from_iso, to_iso

# Asset ids are stable per symbol: a UUID derived from it.
_ASSETS = uuid.UUID("6f1c2a52-5a7b-4d3e-9a58-3c1f0e0f2a11")
ACCOUNT_ID = "2d3c0a4e-8f1b-4b6a-9c2d-7e5f1a0b3c4d"

# Alpaca's 8-digit error codes start with the HTTP status.
CODE_INVALID = 40010001
CODE_FORBIDDEN = 40310000
CODE_NOT_FOUND = 40410000
CODE_UNPROCESSABLE = 42210000
CODE_RATE_LIMITED = 42910000
CODE_UNAUTHORIZED = 40110000

# Trade-update events per order event kind (others are not streamed).
TRADE_EVENTS = {
    EventKind.NEW: "new",
    EventKind.FILL: "fill",
    EventKind.PARTIAL_FILL: "partial_fill",
    EventKind.CANCELED: "canceled",
    EventKind.EXPIRED: "expired",
    EventKind.REPLACED: "replaced",
    EventKind.REJECTED: "rejected",
    EventKind.DONE_FOR_DAY: "done_for_day",
    EventKind.PENDING_CANCEL: "pending_cancel",
    EventKind.PENDING_REPLACE: "pending_replace",
    EventKind.CANCEL_REJECTED: "order_cancel_rejected",
    EventKind.REPLACE_REJECTED: "order_replace_rejected",
    EventKind.RESTATED: "restated",
}


@functools.lru_cache(maxsize=1024)
def asset_id(symbol: str) -> str:
    return str(uuid.uuid5(_ASSETS, symbol))


@functools.lru_cache(maxsize=4096)  # an order's timestamps repeat across its answers
def timestamp(ns: int) -> str:
    """RFC 3339 with nanoseconds, UTC (:func:`fillforge.time.to_iso`, cached)."""
    return to_iso(ns)


def query_time(v: str | None, field: str) -> int | None:
    """A query's time in epoch nanoseconds: RFC 3339 (UTC when it has no offset, as Alpaca reads
    it) or a date (its midnight, UTC); None when absent or empty."""
    if not v:
        return None
    try:
        if len(v) == 10:
            day = dt.date.fromisoformat(v)
            return from_datetime(dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC), field)
        return from_iso(v, field, naive_zone=dt.UTC)
    except (TimeError, ValueError):
        raise OrderValidationError(field, v, "expected an RFC 3339 time or a date") from None


_PPM = Decimal("0.000001")


def plain(d: Decimal | None) -> str | None:
    """A decimal as Alpaca writes it: a plain string without trailing zeros."""
    return None if d is None else format(d.normalize(), "f")


# A number as JSON writes it (ASCII digits, an optional sign, fraction and exponent): Python's
# Decimal also takes "1_000", " 50 " and other scripts' digits, which Alpaca refuses.
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)


def decimal_field(body: dict[str, Any], name: str) -> Decimal | None:
    """A decimal sent as a JSON number or a string holding one (alpaca-py sends numbers)."""
    v = body.get(name)
    if v is None or v == "":
        return None
    if isinstance(v, bool) or not isinstance(v, int | float | str):
        raise OrderValidationError(name, v, "expected a number")
    if isinstance(v, str) and _NUMBER.fullmatch(v) is None:
        raise OrderValidationError(name, v, "expected a number")
    try:
        d = to_decimal(v)
    except InvalidOperation:
        raise OrderValidationError(name, v, "expected a number") from None
    if not d.is_finite():
        raise OrderValidationError(name, v, "expected a finite number")
    return d


def not_json(token: str) -> Any:
    """A ``parse_constant`` that refuses NaN and the infinities, which JSON does not have."""
    raise ValueError(f"{token} is not JSON")


def json_object(raw: bytes) -> dict[str, Any]:
    """A request body that must be a JSON object."""
    try:
        body = json.loads(raw, parse_constant=not_json)
    except (ValueError, RecursionError):  # bad JSON or UTF-8, NaN / Infinity, nesting too deep
        raise OrderValidationError("body", raw[:40], "invalid JSON") from None
    if not isinstance(body, dict):
        raise OrderValidationError("body", body, "expected a JSON object")
    return body


def _object(body: dict[str, Any], name: str) -> dict[str, Any] | None:
    v = body.get(name)
    if v is not None and not isinstance(v, dict):
        raise OrderValidationError(name, v, "expected an object")
    return v


def order_request(body: dict[str, Any]) -> OrderRequest:
    """An Alpaca ``POST /v2/orders`` body as an :class:`OrderRequest` (validated by its rules)."""
    tp, sl = _object(body, "take_profit"), _object(body, "stop_loss")
    extended = body.get("extended_hours")
    if extended is not None and not isinstance(extended, bool):
        raise OrderValidationError("extended_hours", extended, "expected true or false")
    fields: dict[str, Any] = {
        "symbol": body.get("symbol"),
        "side": body.get("side"),
        "type": body.get("type") or body.get("order_type") or "market",
        "time_in_force": body.get("time_in_force") or "day",
        "qty": decimal_field(body, "qty"),
        "notional": decimal_field(body, "notional"),
        "limit_price": decimal_field(body, "limit_price"),
        "stop_price": decimal_field(body, "stop_price"),
        "trail_price": decimal_field(body, "trail_price"),
        "trail_percent": decimal_field(body, "trail_percent"),
        "client_order_id": body.get("client_order_id") or None,
        "extended_hours": bool(extended),
        "order_class": body.get("order_class") or "simple",
    }
    if tp is not None:
        fields["take_profit"] = TakeProfit(limit_price=decimal_field(tp, "limit_price"))
    if sl is not None:
        fields["stop_loss"] = StopLoss(
            stop_price=decimal_field(sl, "stop_price"),
            limit_price=decimal_field(sl, "limit_price"),
        )
    return OrderRequest(**{k: v for k, v in fields.items() if v is not None})


def order_json(
    o: Order,
    *,
    hwm: Decimal | None = None,
    stop: Decimal | None = None,
    legs: list[dict[str, Any]] | None = None,
    order_class: OrderClass | None = None,
) -> dict[str, Any]:
    """An order as Alpaca's ``Order`` entity (``order_class``: of its group, for a member)."""
    r = o.request
    status = o.status
    fills = list(o.fills.values())
    updated = timestamp(o.updated_ts)
    ended = status.is_terminal
    return {
        "id": o.id,
        "client_order_id": o.client_order_id,
        "created_at": timestamp(o.created_ts),
        "updated_at": updated,
        "submitted_at": timestamp(o.created_ts),
        "filled_at": timestamp(fills[-1].ts_event) if status is OrderStatus.FILLED else None,
        "expired_at": updated if status is OrderStatus.EXPIRED else None,
        "expires_at": None,
        "canceled_at": updated if status is OrderStatus.CANCELED else None,
        "failed_at": updated if status is OrderStatus.REJECTED else None,
        "replaced_at": updated if status is OrderStatus.REPLACED else None,
        "replaced_by": o.replaced_by,
        "replaces": o.replaces,
        "asset_id": asset_id(o.symbol),
        "symbol": o.symbol,
        "asset_class": "us_equity",
        "notional": plain(r.notional),
        "qty": plain(o.order_qty) if r.notional is None else None,
        "filled_qty": plain(o.cum_qty),
        "filled_avg_price": plain(o.avg_price) if ended or o.cum_qty else None,
        "order_class": (order_class or OrderClass.SIMPLE).value,
        "order_type": r.type.value,
        "type": r.type.value,
        "side": r.side.value,
        "time_in_force": r.time_in_force.value,
        "limit_price": plain(o.limit_price),
        "stop_price": plain(stop if stop is not None else o.stop_price),
        "status": status.alpaca,
        "extended_hours": r.extended_hours,
        "legs": legs,
        "trail_percent": plain(r.trail_percent),
        "trail_price": plain(r.trail_price),
        "hwm": plain(hwm),
    }


def position_json(
    p: Position, exchange: str = "NASDAQ", ledger: Account | None = None
) -> dict[str, Any]:
    """A position as Alpaca's ``Position`` entity, at its mark (the account's marks rule).
    ``lastday_price`` is its mark at the last session close (``ledger``'s, else the average
    entry price); ``change_today`` the move from there, as a fraction; the intraday P&L is the
    position's value change since then (``qty * (mark - lastday_price)``; as a fraction of the
    value at ``lastday_price``)."""
    mark = p.mark if p.mark is not None else p.avg_price
    value = p.qty * mark
    cost = p.cost_basis
    pl = value - cost
    lastday = ledger.lastday_price(p.symbol) if ledger is not None else None
    if lastday is None:
        lastday = p.avg_price
    intraday = p.qty * (mark - lastday)
    return {
        "asset_id": asset_id(p.symbol),
        "symbol": p.symbol,
        "exchange": exchange,
        "asset_class": "us_equity",
        "asset_marginable": True,
        "qty": plain(p.qty),
        "qty_available": plain(p.qty),
        "avg_entry_price": plain(p.avg_price),
        "side": "long" if p.qty > 0 else "short",
        "market_value": plain(value),
        "cost_basis": plain(cost),
        "unrealized_pl": plain(pl),
        "unrealized_plpc": _fraction(pl, abs(cost)),
        "unrealized_intraday_pl": plain(intraday),
        "unrealized_intraday_plpc": _fraction(intraday, abs(p.qty * lastday)),
        "current_price": plain(mark),
        "lastday_price": plain(lastday),
        "change_today": _fraction(mark - lastday, lastday),
    }


def _fraction(part: Decimal, whole: Decimal) -> str:
    """``part / whole`` to six decimals as Alpaca writes ratios ("0" for a zero whole)."""
    if not whole:
        return "0"
    return format((part / whole).quantize(_PPM).normalize(), "f")


def account_json(
    a: AccountSnapshot, created_ns: int, ledger: Account | None = None
) -> dict[str, Any]:
    """The account as Alpaca's ``TradeAccount``: every figure at the current marks;
    ``last_equity`` is the equity at the last session close (``ledger``'s, else the equity)."""
    last_equity = ledger.last_equity if ledger is not None else a.equity
    return {
        "id": ACCOUNT_ID,
        "account_number": "PA0FILLFORGE",
        "status": "ACTIVE",
        "crypto_status": "ACTIVE",
        "currency": "USD",
        "buying_power": plain(a.buying_power),
        "regt_buying_power": plain(a.buying_power),
        "non_marginable_buying_power": plain(a.buying_power / a.leverage),
        "options_buying_power": plain(a.buying_power / a.leverage),
        "cash": plain(a.cash),
        "accrued_fees": plain(a.fees_paid),
        "portfolio_value": plain(a.equity),
        "equity": plain(a.equity),
        "last_equity": plain(last_equity),
        "long_market_value": plain(a.long_market_value),
        "short_market_value": plain(a.short_market_value),
        "multiplier": plain(a.leverage),
        "initial_margin": "0",
        "maintenance_margin": "0",
        "last_maintenance_margin": "0",
        "sma": "0",
        "trading_blocked": False,
        "transfers_blocked": False,
        "account_blocked": False,
        "trade_suspended_by_user": False,
        "shorting_enabled": True,
        "created_at": timestamp(created_ns),
        "options_approved_level": 0,
        "options_trading_level": 0,
    }


def asset_json(
    symbol: str, *, exchange: str = "NASDAQ", shortable: bool = True, fractionable: bool = False
) -> dict[str, Any]:
    return {
        "id": asset_id(symbol),
        "class": "us_equity",
        "exchange": exchange,
        "symbol": symbol,
        "name": symbol,
        "status": "active",
        "tradable": True,
        "marginable": True,
        "shortable": shortable,
        "easy_to_borrow": shortable,
        "fractionable": fractionable,
        "attributes": [],
    }


def quote_json(
    ns: int, bid: Decimal, bid_size: Decimal, ask: Decimal, ask_size: Decimal
) -> dict[str, Any]:
    """A latest quote as Alpaca's market-data API sends it (short keys; prices as numbers)."""
    return {
        "t": timestamp(ns),
        "bp": float(bid),
        "bs": float(bid_size),
        "bx": "V",
        "ap": float(ask),
        "as": float(ask_size),
        "ax": "V",
        "c": ["R"],
        "z": "C",
    }


def error(code: int, message: str, **extra: Any) -> dict[str, Any]:
    return {"code": code, "message": message, **extra}
