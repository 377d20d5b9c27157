"""Conversions between alpaca-py's models and fillforge's, for :class:`~fillforge.alpaca.broker.
AlpacaBroker`: requests out (:func:`alpaca_request`, :func:`replace_request`), orders, quotes,
trades and bars in.

alpaca-py carries prices and sizes as floats. Coming in, each is read as the decimal it prints
as (:func:`fillforge._exact.to_decimal`); going out, a :class:`~decimal.Decimal` becomes the
float the SDK wants at the last step (:func:`sdk_float`). Times come in as aware datetimes and
become nanoseconds through :func:`fillforge.time.from_datetime`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Final, TypeVar

from alpaca.data.models import Bar as AlpacaBar
from alpaca.data.models import Quote as AlpacaQuote
from alpaca.data.models import Trade as AlpacaTrade
from alpaca.trading.models import Order as AlpacaOrder
from alpaca.trading.requests import (
    LimitOrderRequest,
    MarketOrderRequest,
    ReplaceOrderRequest,
    StopLimitOrderRequest,
    StopLossRequest,
    StopOrderRequest,
    TakeProfitRequest,
    TrailingStopOrderRequest,
)

from fillforge._exact import to_decimal
from fillforge.broker import Bar, Quote, Trade
from fillforge.errors import AlpacaError
from fillforge.orders.enums import EventKind, OrderClass, OrderSide, OrderType
from fillforge.orders.models import OrderRequest, ReplaceTerms
from fillforge.time import NS_PER_MINUTE, from_datetime

__all__ = [
    "ENDED",
    "STATUS_EVENT",
    "alpaca_request",
    "bar_of",
    "decimal_of",
    "expect",
    "quote_of",
    "replace_request",
    "request_of",
    "sdk_float",
    "trade_of",
]

_M = TypeVar("_M")

ENDED: Final = frozenset({"canceled", "expired", "filled", "rejected", "replaced"})
"""Alpaca's statuses of an order that is over."""
STATUS_EVENT: Final = {
    "canceled": EventKind.CANCELED,
    "expired": EventKind.EXPIRED,
    "rejected": EventKind.REJECTED,
    "done_for_day": EventKind.DONE_FOR_DAY,
}
"""The report an Alpaca status stands for, where it ends (or pauses) an order."""


def expect(cls: type[_M], value: object) -> _M:
    """``value`` as alpaca-py's ``cls`` (it returns models, or raw dicts with ``raw_data=True``,
    which we never set); anything else is an :class:`AlpacaError`."""
    if not isinstance(value, cls):
        raise AlpacaError(None, None, f"expected {cls.__name__} from alpaca-py, got {value!r:.80}")
    return value


def decimal_of(v: str | float | None) -> Decimal | None:
    """An SDK string (or number) field as a decimal (a number as the decimal it was sent as: its
    shortest repr, exact for JSON text of up to 15 significant digits, which prices and sizes
    are); None when absent or empty."""
    return None if v is None or v == "" else to_decimal(v)


def sdk_float(d: Decimal | None) -> float | None:
    """A decimal as the float alpaca-py's request models take."""
    return None if d is None else float(d)


def quote_of(symbol: str, q: AlpacaQuote) -> Quote:
    """A quote; a side Alpaca shows as 0 (empty) has no price."""
    return Quote.zero_is_empty(
        symbol,
        bid_price=to_decimal(q.bid_price),
        bid_size=to_decimal(q.bid_size),
        ask_price=to_decimal(q.ask_price),
        ask_size=to_decimal(q.ask_size),
        timestamp_ns=from_datetime(q.timestamp),
    )


def trade_of(symbol: str, t: AlpacaTrade) -> Trade:
    return Trade(
        symbol=symbol,
        price=to_decimal(t.price),
        size=to_decimal(t.size),
        timestamp_ns=from_datetime(t.timestamp),
    )


def bar_of(symbol: str, b: AlpacaBar) -> Bar:
    """One of Alpaca's latest (minute) bars."""
    return Bar(
        symbol=symbol,
        open=to_decimal(b.open),
        high=to_decimal(b.high),
        low=to_decimal(b.low),
        close=to_decimal(b.close),
        volume=to_decimal(b.volume),
        trade_count=int(b.trade_count or 0),
        vwap=to_decimal(b.vwap or b.close),
        timestamp_ns=from_datetime(b.timestamp),
        period_ns=NS_PER_MINUTE,
    )


def request_of(a: AlpacaOrder) -> OrderRequest:
    """The request an Alpaca order stands for (to adopt legs and foreign orders)."""
    return OrderRequest(
        symbol=a.symbol or "",
        side=OrderSide(a.side.value if a.side else "buy"),
        type=OrderType(a.type.value if a.type else "market"),
        time_in_force=a.time_in_force.value,
        qty=decimal_of(a.qty),
        notional=decimal_of(a.notional),
        limit_price=decimal_of(a.limit_price),
        stop_price=decimal_of(a.stop_price)
        if (a.type and a.type.value in ("stop", "stop_limit"))
        else None,
        trail_price=decimal_of(a.trail_price),
        trail_percent=decimal_of(a.trail_percent),
        client_order_id=a.client_order_id,
    )


def replace_request(t: ReplaceTerms) -> ReplaceOrderRequest:
    """alpaca-py's replace request for ``t``."""
    return ReplaceOrderRequest(
        qty=None if t.qty is None else int(t.qty),
        limit_price=sdk_float(t.limit_price),
        stop_price=sdk_float(t.stop_price),
        trail=sdk_float(t.trail),
        client_order_id=t.client_order_id,
    )


def alpaca_request(r: OrderRequest, cid: str) -> Any:
    """alpaca-py's request model for ``r``, with client order id ``cid``."""
    common: dict[str, Any] = {
        "symbol": r.symbol,
        "qty": sdk_float(r.qty),
        "notional": sdk_float(r.notional),
        "side": r.side.value,
        "time_in_force": r.time_in_force.value,
        "client_order_id": cid,
        "extended_hours": r.extended_hours or None,
    }
    if r.order_class is not OrderClass.SIMPLE:
        common["order_class"] = r.order_class.value
        if r.take_profit is not None:
            common["take_profit"] = TakeProfitRequest(limit_price=float(r.take_profit.limit_price))
        if r.stop_loss is not None:
            common["stop_loss"] = StopLossRequest(
                stop_price=float(r.stop_loss.stop_price),
                limit_price=sdk_float(r.stop_loss.limit_price),
            )
    common = {k: v for k, v in common.items() if v is not None}
    t = r.type
    if t is OrderType.MARKET:
        return MarketOrderRequest(**common)
    if t is OrderType.LIMIT:
        return LimitOrderRequest(limit_price=sdk_float(r.limit_price), **common)
    if t is OrderType.STOP:
        return StopOrderRequest(stop_price=sdk_float(r.stop_price), **common)
    if t is OrderType.STOP_LIMIT:
        return StopLimitOrderRequest(
            stop_price=sdk_float(r.stop_price), limit_price=sdk_float(r.limit_price), **common
        )
    return TrailingStopOrderRequest(
        trail_price=sdk_float(r.trail_price), trail_percent=sdk_float(r.trail_percent), **common
    )
