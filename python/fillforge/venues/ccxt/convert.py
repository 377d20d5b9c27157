"""ccxt's unified structures and fillforge's, both ways, each conversion in one place.

- :func:`instrument_of`: a ccxt market (``load_markets()``) as an
  :class:`~fillforge.orders.models.Instrument`: the tick is the price precision and the lot the
  amount precision (ccxt's ``TICK_SIZE`` mode: Binance, Bybit; ``DECIMAL_PLACES``: a number of
  places, as some exchanges give), the minimum quantity the amount limit. Floats are read through
  their shortest text, so ``1e-05`` is exactly ``0.00001``.
- :func:`order_args`: a request as ``create_order``'s arguments (with ``clientOrderId``, and
  ``timeInForce``/``postOnly``/``stopPrice`` in ``params``).
- :func:`decimal_of`: a ccxt number (float, int, str or None) as an exact ``Decimal``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Final

from fillforge._exact import to_decimal
from fillforge.errors import CcxtError
from fillforge.orders.enums import AssetClass, OrderClass, OrderTimeInForce, OrderType
from fillforge.orders.models import Instrument, OrderRequest

__all__ = ["STATUS", "decimal_of", "fee_in_quote", "instrument_of", "order_args"]

# ccxt's precision modes (ccxt.base.decimal_to_precision): 2 decimal places, 3 significant
# digits, 4 tick size.
DECIMAL_PLACES: Final = 2
SIGNIFICANT_DIGITS: Final = 3
TICK_SIZE: Final = 4

# ccxt's unified order status -> whether the order is still working.
STATUS: Final = {
    "open": True,
    "closed": False,
    "canceled": False,
    "expired": False,
    "rejected": False,
}


def decimal_of(v: Any) -> Decimal | None:
    """A ccxt number as an exact Decimal (a float through its shortest repr); None stays None."""
    if v is None or v == "":
        return None
    if isinstance(v, bool):
        raise CcxtError(None, "BadResponse", f"expected a number, got {v!r}")
    d = to_decimal(v)
    if not d.is_finite():
        raise CcxtError(None, "BadResponse", f"expected a finite number, got {v!r}")
    return d


def _step(value: Any, mode: int, what: str, symbol: str) -> Decimal:
    d = decimal_of(value)
    if d is None or d <= 0:
        raise CcxtError(None, "BadSymbol", f"{symbol}: the market gives no {what} precision")
    if mode == DECIMAL_PLACES:
        return Decimal(1).scaleb(-int(d))
    if mode == SIGNIFICANT_DIGITS:
        raise CcxtError(None, "NotSupported", f"{symbol}: significant-digit precision has no grid")
    return d


def instrument_of(market: dict[str, Any], precision_mode: int = TICK_SIZE) -> Instrument:
    """The instrument a ccxt market describes (see the module notes); keyed by ccxt's unified
    symbol (``BTC/USDT``)."""
    symbol = str(market["symbol"])
    precision = market.get("precision") or {}
    tick = _step(precision.get("price"), precision_mode, "price", symbol)
    lot = _step(precision.get("amount"), precision_mode, "amount", symbol)
    limits = (market.get("limits") or {}).get("amount") or {}
    least = decimal_of(limits.get("min")) or Decimal(0)
    return Instrument(
        symbol=symbol,
        tick_size=tick.normalize(),
        lot_size=lot.normalize(),
        min_qty=least,
        asset_class=AssetClass.US_EQUITY if market.get("spot") is None else _asset(market),
    )


def _asset(market: dict[str, Any]) -> AssetClass:
    # Crypto spot and swaps trade GTC, IOC and FOK: the equity class leaves time in force to
    # the venue (fillforge's CRYPTO class is Alpaca's crypto, without FOK).
    return AssetClass.US_EQUITY if market.get("spot") else AssetClass.FUTURE


def order_args(
    r: OrderRequest, client_order_id: str, venue: str = "binance"
) -> tuple[str, str, str, Any, Any, dict[str, Any]]:
    """``create_order(symbol, type, side, amount, price, params)`` for ``r`` on ``venue`` (a
    ccxt id): market (by quantity, or a ``notional`` to spend: ``cost``, Binance's
    ``quoteOrderQty``), limit (GTC/IOC/FOK), stop and stop-limit. The stops are where venues
    differ: Binance takes its own types (``STOP_LOSS``, ``STOP_LOSS_LIMIT`` with ``stopPrice``);
    Bybit a market or limit order with ccxt's ``triggerPrice``; Coinbase a stop-limit only, with
    ``stopPrice`` and the direction the price must move (a sell stop down, a buy stop up: ccxt's
    default for a bare trigger is the other way), and a market buy by notional only (its API
    takes the quote to spend; ccxt replaces ``clientOrderId`` with an id of its own there, so the
    API's ``client_order_id`` is sent as well)."""
    if r.order_class is not OrderClass.SIMPLE:  # ccxt's unified API has no order lists
        raise CcxtError(venue, "NotSupported", f"{r.order_class.value} orders: not through ccxt")
    params: dict[str, Any] = {"clientOrderId": client_order_id}
    if venue == "coinbase":  # ccxt's coinbase sends its own id unless given the API's field
        params["client_order_id"] = client_order_id
    price: Any = None
    amount: Any = None if r.qty is None else _num(r.qty)
    stops_native = venue not in _TRIGGER_VENUES
    if r.type is OrderType.MARKET:
        kind = "market"
        if r.notional is not None:
            params["cost"] = _num(r.notional)
            if venue == "binance":
                params["quoteOrderQty"] = _num(r.notional)
        elif venue == "coinbase" and r.side.value == "buy":
            raise CcxtError(venue, "NotSupported", "a market buy takes a notional on Coinbase")
    elif r.type is OrderType.LIMIT:
        kind, price = "limit", _num(r.limit_price)
    elif r.type is OrderType.STOP_LIMIT:
        kind, price = ("STOP_LOSS_LIMIT" if stops_native else "limit"), _num(r.limit_price)
        params.update(_trigger(r, venue))
    elif r.type is OrderType.STOP:
        if venue == "coinbase":
            raise CcxtError(venue, "NotSupported", "Coinbase has stop-limit orders only")
        kind = "STOP_LOSS" if stops_native else "market"
        params.update(_trigger(r, venue))
    else:
        raise CcxtError(None, "NotSupported", f"{r.type.value} orders are not sent through ccxt")
    tif = r.time_in_force
    if kind not in ("market", "STOP_LOSS"):
        params["timeInForce"] = "GTC" if tif is OrderTimeInForce.DAY else tif.value.upper()
    return r.symbol, kind, r.side.value, amount, price, params


_TRIGGER_VENUES: Final = frozenset({"bybit", "coinbase"})  # stops as ccxt's triggerPrice


def _trigger(r: OrderRequest, venue: str) -> dict[str, Any]:
    if venue == "binance" or venue not in _TRIGGER_VENUES:
        return {"stopPrice": _num(r.stop_price)}
    if venue == "coinbase":
        way = "STOP_DIRECTION_STOP_DOWN" if r.side.value == "sell" else "STOP_DIRECTION_STOP_UP"
        return {"stopPrice": _num(r.stop_price), "stop_direction": way}
    return {"triggerPrice": _num(r.stop_price)}


def fee_in_quote(
    fee: dict[str, Any] | None, symbol: str, price: Decimal, rate: Decimal | None = None
) -> Decimal:
    """A trade's fee in the quote asset of ``symbol`` (``BASE/QUOTE``), exactly: one in the
    quote asset as is (Coinbase), one in the base asset (Binance's and Bybit's buys pay in what
    they receive) valued at the trade's ``price``, one in a third currency (BNB) at ``rate``, its
    price in the quote asset (0 when the venue has no such market: see ``docs/ccxt.md``)."""
    if not fee:
        return Decimal(0)
    cost = abs(decimal_of(fee.get("cost")) or Decimal(0))
    base, _, quote = symbol.partition("/")
    quote = quote.split(":")[0]
    currency = fee.get("currency")
    if currency in (None, quote):
        return cost
    if currency == base:
        return cost * price
    return cost * rate if rate is not None else Decimal(0)


def _num(d: Decimal | None) -> str | None:
    """A decimal as ccxt takes it without rounding: its plain text."""
    return None if d is None else format(d.normalize(), "f")
