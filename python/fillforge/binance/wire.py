"""Binance spot API wire shapes: fillforge's orders, fills and account as Binance JSON, Binance's
order parameters back as an :class:`~fillforge.orders.models.OrderRequest`, and Binance's error
codes.

Decimals are strings with eight places (``"0.00100000"``), as Binance writes them; times are
epoch milliseconds of the simulation's clock; order and trade ids are integers. Errors are
``{"code": -1121, "msg": "Invalid symbol."}`` with Binance's codes and messages, so that ccxt
maps them to its exception classes exactly as it maps the real venue's.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from fillforge.errors import (
    BinanceApiError,
    DuplicateClientOrderIdError,
    FillforgeError,
    InsufficientBuyingPowerError,
    InsufficientQtyError,
    NotShortableError,
    OrderValidationError,
    UnknownOrderIdError,
)
from fillforge.orders.enums import OrderSide, OrderStatus, OrderTimeInForce, OrderType
from fillforge.orders.models import Fill, Instrument, OrderRequest
from fillforge.orders.order import Order

__all__ = [
    "client_id_ok",
    "error",
    "fill_json",
    "list_id",
    "money",
    "order_json",
    "order_request",
    "refusal_of",
]

_EIGHT: Final = Decimal("0.00000001")
NS_PER_MS: Final = 1_000_000

# Binance's error codes (https://developers.binance.com/docs/binance-spot-api-docs/errors).
UNKNOWN = -1000
UNAUTHORIZED = -1002
TOO_MANY_REQUESTS = -1003
TOO_MANY_ORDERS = -1015
TIMESTAMP = -1021
SIGNATURE = -1022
ILLEGAL_CHARS = -1100
MANDATORY = -1102
UNREAD_PARAMS = -1104
NOT_REQUIRED = -1106
BAD_TIF = -1115
BAD_ORDER_TYPE = -1116
BAD_SIDE = -1117
BAD_SYMBOL = -1121
BAD_PARAMETER = -1130
FILTER = -1013
NEW_REJECTED = -2010
CANCEL_REJECTED = -2011
NO_SUCH_ORDER = -2013
BAD_KEY = -2015

_STATUS: Final = {
    OrderStatus.CREATED: "NEW",
    OrderStatus.PENDING_NEW: "NEW",
    OrderStatus.ACCEPTED: "NEW",
    OrderStatus.NEW: "NEW",
    OrderStatus.HELD: "NEW",
    OrderStatus.PARTIALLY_FILLED: "PARTIALLY_FILLED",
    OrderStatus.FILLED: "FILLED",
    OrderStatus.PENDING_CANCEL: "PENDING_CANCEL",
    OrderStatus.CANCELED: "CANCELED",
    OrderStatus.REJECTED: "REJECTED",
    OrderStatus.DENIED: "REJECTED",
    OrderStatus.EXPIRED: "EXPIRED",
    OrderStatus.DONE_FOR_DAY: "EXPIRED",
    OrderStatus.PENDING_REPLACE: "NEW",
    OrderStatus.REPLACED: "CANCELED",
}
_TIF: Final = {
    "GTC": OrderTimeInForce.GTC,
    "IOC": OrderTimeInForce.IOC,
    "FOK": OrderTimeInForce.FOK,
}
ORDER_TYPES: Final = ("LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS", "STOP_LOSS_LIMIT")
# A number as Binance takes it: plain ASCII decimal, no sign, no exponent.
_NUMBER = re.compile(r"(?:\d+(?:\.\d*)?|\.\d+)", re.ASCII)
_DECIMAL_RANGE = r"^([0-9]{1,20})(\.[0-9]{1,20})?$"
_CLIENT_ID = re.compile(r"^[.A-Za-z:/|!_0-9-]{1,36}$")


def error(code: int, msg: str) -> dict[str, Any]:
    return {"code": code, "msg": msg}


def money(d: Decimal | None) -> str:
    """A decimal as Binance writes it: eight places (more only if the value has more)."""
    if d is None:
        return "0.00000000"
    q = d.quantize(_EIGHT) if d == d.quantize(_EIGHT) else d
    return format(q, "f")


def ms(ns: int) -> int:
    return ns // NS_PER_MS


def trade_number(trade_id: str) -> int:
    """A simulated trade id (``"<venue>-<n>"``) as Binance's integer trade id."""
    tail = trade_id.rsplit("-", 1)[-1]
    return int(tail) if tail.isdigit() else abs(hash(trade_id)) % (1 << 53)


def refusal_of(e: FillforgeError) -> BinanceApiError:
    """The Binance answer to a refusal from the simulated venue or its checks (one of its own
    as it is)."""
    if isinstance(e, BinanceApiError):
        return e
    if isinstance(e, InsufficientBuyingPowerError | InsufficientQtyError | NotShortableError):
        return BinanceApiError(
            400, NEW_REJECTED, "Account has insufficient balance for requested action."
        )
    if isinstance(e, DuplicateClientOrderIdError):
        return BinanceApiError(400, NEW_REJECTED, "Duplicate order sent.")
    if isinstance(e, UnknownOrderIdError):
        return BinanceApiError(400, NO_SUCH_ORDER, "Order does not exist.")
    if isinstance(e, OrderValidationError):
        field = e.field
        if "multiple of the tick" in e.why or field in ("limit_price", "stop_price"):
            return BinanceApiError(400, FILTER, "Filter failure: PRICE_FILTER")
        if "lot size" in e.why or "minimum quantity" in e.why or field == "qty":
            return BinanceApiError(400, FILTER, "Filter failure: LOT_SIZE")
        if field == "symbol":
            return BinanceApiError(400, BAD_SYMBOL, "Invalid symbol.")
        return BinanceApiError(400, BAD_PARAMETER, f"Invalid data sent for a parameter: {e}")
    return BinanceApiError(400, NEW_REJECTED, str(e))


# ----- parameters ---------------------------------------------------------------------------


def mandatory(params: Mapping[str, str], name: str) -> str:
    v = params.get(name)
    if v is None or v == "":
        raise BinanceApiError(
            400,
            MANDATORY,
            f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.",
        )
    return v


def decimal_param(params: Mapping[str, str], name: str) -> Decimal | None:
    """A decimal parameter (absent: None); anything else than a plain positive number is
    Binance's -1100."""
    v = params.get(name)
    if v is None or v == "":
        return None
    if _NUMBER.fullmatch(v) is None:
        raise BinanceApiError(
            400,
            ILLEGAL_CHARS,
            f"Illegal characters found in parameter '{name}'; legal range is '{_DECIMAL_RANGE}'.",
        )
    try:
        d = Decimal(v)
    except InvalidOperation:  # pragma: no cover - the pattern admits only numbers
        raise BinanceApiError(
            400, ILLEGAL_CHARS, f"Illegal characters found in parameter '{name}'."
        ) from None
    if d <= 0:
        raise BinanceApiError(400, FILTER, f"Invalid {name}.")
    return d


def int_param(params: Mapping[str, str], name: str) -> int | None:
    v = params.get(name)
    if v is None or v == "":
        return None
    if not (v.isascii() and v.lstrip("-").isdigit()) or len(v) > 20:
        raise BinanceApiError(
            400,
            ILLEGAL_CHARS,
            f"Illegal characters found in parameter '{name}'; legal range is '^[0-9]{{1,20}}$'.",
        )
    return int(v)


@dataclass(frozen=True, slots=True)
class NewOrder:
    """A ``POST /api/v3/order`` as fillforge's request, and what Binance adds to it: the type as
    Binance named it (``LIMIT_MAKER`` is a limit order that must not take) and the answer shape
    (``ACK``, ``RESULT``, ``FULL``)."""

    request: OrderRequest
    binance_type: str
    response_type: str


def order_request(params: Mapping[str, str], instrument: Instrument) -> NewOrder:
    """Binance's new-order parameters as a request on ``instrument`` (checked against its
    filters by the venue when submitted); a bad one raises
    :class:`~fillforge.errors.BinanceApiError` as Binance answers it."""
    side_text = mandatory(params, "side")
    if side_text not in ("BUY", "SELL"):
        raise BinanceApiError(400, BAD_SIDE, "Invalid side.")
    kind = mandatory(params, "type")
    if kind not in ORDER_TYPES:
        raise BinanceApiError(400, BAD_ORDER_TYPE, "Invalid orderType.")
    qty = decimal_param(params, "quantity")
    quote_qty = decimal_param(params, "quoteOrderQty")
    price = decimal_param(params, "price")
    stop = decimal_param(params, "stopPrice")
    tif_text = params.get("timeInForce")
    response = params.get("newOrderRespType") or ("FULL" if kind in ("MARKET", "LIMIT") else "ACK")
    if response not in ("ACK", "RESULT", "FULL"):
        raise BinanceApiError(
            400, BAD_PARAMETER, "Invalid data sent for a parameter: newOrderRespType."
        )
    cid = params.get("newClientOrderId") or None
    if cid is not None and _CLIENT_ID.fullmatch(cid) is None:
        raise BinanceApiError(
            400,
            ILLEGAL_CHARS,
            f"Illegal characters found in parameter 'newClientOrderId'; legal range is "
            f"'{_CLIENT_ID.pattern}'.",
        )
    fields: dict[str, Any] = {
        "symbol": instrument.symbol,
        "side": OrderSide.BUY if side_text == "BUY" else OrderSide.SELL,
        "client_order_id": cid,
    }
    if kind == "MARKET":
        if (qty is None) == (quote_qty is None):
            raise BinanceApiError(
                400,
                MANDATORY,
                "Param 'quantity' or 'quoteOrderQty' must be sent, but both were empty/null!",
            )
        if quote_qty is not None:
            # A quote quantity spends that much of the quote asset, on the tick grid of money.
            fields.update(
                type=OrderType.MARKET, time_in_force=OrderTimeInForce.DAY, notional=quote_qty
            )
        else:
            fields.update(type=OrderType.MARKET, time_in_force=OrderTimeInForce.IOC, qty=qty)
    else:
        if qty is None:
            mandatory(params, "quantity")
        if quote_qty is not None:
            raise BinanceApiError(
                400,
                BAD_PARAMETER,
                "Invalid data sent for a parameter: quoteOrderQty is for MARKET orders.",
            )
        fields["qty"] = qty
        if kind in ("LIMIT", "STOP_LOSS_LIMIT"):
            tif = _TIF.get(mandatory(params, "timeInForce"))
            if tif is None:
                raise BinanceApiError(400, BAD_TIF, "Invalid timeInForce.")
            fields["time_in_force"] = tif
        elif tif_text:
            raise BinanceApiError(
                400, NOT_REQUIRED, "Parameter 'timeInForce' sent when not required."
            )
        else:
            fields["time_in_force"] = OrderTimeInForce.GTC
        if kind in ("LIMIT", "LIMIT_MAKER", "STOP_LOSS_LIMIT"):
            fields["limit_price"] = price if price is not None else _missing("price")
        elif price is not None:
            raise BinanceApiError(
                400,
                BAD_PARAMETER,
                f"Invalid data sent for a parameter: price is not for {kind} orders.",
            )
        if kind in ("STOP_LOSS", "STOP_LOSS_LIMIT"):
            fields["stop_price"] = stop if stop is not None else _missing("stopPrice")
            fields["type"] = OrderType.STOP if kind == "STOP_LOSS" else OrderType.STOP_LIMIT
        else:
            fields["type"] = OrderType.LIMIT
    if stop is not None and kind not in ("STOP_LOSS", "STOP_LOSS_LIMIT"):
        raise BinanceApiError(
            400,
            BAD_PARAMETER,
            f"Invalid data sent for a parameter: stopPrice is not for {kind} orders.",
        )
    try:
        request = OrderRequest(**fields)
    except OrderValidationError as e:
        raise refusal_of(e) from None
    return NewOrder(request, kind, response)


def client_id_ok(cid: str) -> bool:
    """Whether ``cid`` is a client order id Binance takes (its characters, up to 36)."""
    return _CLIENT_ID.fullmatch(cid) is not None


def _missing(name: str) -> Decimal:
    raise BinanceApiError(
        400, MANDATORY, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed."
    )


# ----- answers ------------------------------------------------------------------------------


def status_of(o: Order) -> str:
    """Binance's order status: an IOC or FOK order (market orders included) that ended without
    filling all is ``EXPIRED``, as Binance has it."""
    s = _STATUS.get(o.status, "NEW")
    if s == "CANCELED" and o.request.time_in_force in (
        OrderTimeInForce.IOC,
        OrderTimeInForce.FOK,
        OrderTimeInForce.DAY,
    ):
        return "EXPIRED"
    return s


def binance_type(o: Order, maker: bool) -> str:
    t = o.request.type
    if t is OrderType.MARKET:
        return "MARKET"
    if t is OrderType.STOP:
        return "STOP_LOSS"
    if t is OrderType.STOP_LIMIT:
        return "STOP_LOSS_LIMIT"
    return "LIMIT_MAKER" if maker else "LIMIT"


def _tif(o: Order) -> str:
    tif = o.request.time_in_force
    return "GTC" if tif in (OrderTimeInForce.DAY, OrderTimeInForce.GTC) else tif.value.upper()


def order_json(
    o: Order, binance_id: int, *, maker: bool = False, fills: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """An order as ``GET /api/v3/order`` shows it (with ``fills``: as a FULL new-order answer)."""
    r = o.request
    qty = r.qty if r.qty is not None else o.order_qty
    quote = o.notional_filled
    out: dict[str, Any] = {
        "symbol": o.symbol,
        "orderId": binance_id,
        "orderListId": list_id(o),
        "clientOrderId": o.client_order_id,
        "price": money(r.limit_price or Decimal(0)),
        "origQty": money(qty or Decimal(0)),
        "executedQty": money(o.cum_qty),
        "cummulativeQuoteQty": money(quote),
        "status": status_of(o),
        "timeInForce": _tif(o),
        "type": binance_type(o, maker),
        "side": r.side.value.upper(),
        "stopPrice": money(r.stop_price or Decimal(0)),
        "icebergQty": money(Decimal(0)),
        "time": ms(o.created_ts),
        "updateTime": ms(o.updated_ts),
        "isWorking": r.type not in (OrderType.STOP, OrderType.STOP_LIMIT) or o.cum_qty > 0,
        "workingTime": ms(o.created_ts),
        "origQuoteOrderQty": money(r.notional or Decimal(0)),
        "selfTradePreventionMode": "NONE",
    }
    if fills is not None:
        out["transactTime"] = ms(o.updated_ts)
        out["fills"] = fills
    return out


def list_id(o: Order) -> int:
    """The order list (OCO) an order is a leg of: its group's id; -1 for a lone order."""
    return int(o.group_id) if o.group_id else -1


def fill_json(f: Fill, quote_asset: str) -> dict[str, Any]:
    """One fill as a FULL new-order answer lists it."""
    return {
        "price": money(f.price),
        "qty": money(f.qty),
        "commission": money(f.commission),
        "commissionAsset": quote_asset,
        "tradeId": trade_number(f.trade_id),
    }


def trade_json(o: Order, binance_id: int, f: Fill, quote_asset: str) -> dict[str, Any]:
    """One fill as ``GET /api/v3/myTrades`` lists it."""
    return {
        "symbol": o.symbol,
        "id": trade_number(f.trade_id),
        "orderId": binance_id,
        "orderListId": list_id(o),
        "price": money(f.price),
        "qty": money(f.qty),
        "quoteQty": money(f.price * f.qty),
        "commission": money(f.commission),
        "commissionAsset": quote_asset,
        "time": ms(f.ts_event),
        "isBuyer": o.request.side is OrderSide.BUY,
        "isMaker": f.liquidity.value == "maker",
        "isBestMatch": True,
    }


def params_of(query: str, body: str) -> dict[str, str]:
    """A request's parameters: the query string and the form body as one mapping (the body's
    value wins, as Binance has it)."""
    out: dict[str, str] = {}
    for text in (query, body):
        if text:
            try:
                pairs = urllib.parse.parse_qsl(text, keep_blank_values=True)
            except ValueError:
                why = "Illegal characters found in a parameter."
                raise BinanceApiError(400, ILLEGAL_CHARS, why) from None
            out.update(pairs)
    return out
