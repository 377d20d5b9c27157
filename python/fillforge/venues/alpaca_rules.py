"""Alpaca's venue rules (:class:`AlpacaRules`), each a pure function of what it reads.

- **Market-order collar** (:func:`collar`, :func:`converted`): a simple market buy that opens or
  adds to a long position becomes a marketable limit at the ask plus 4% (ask under $50) or 2.5%
  (from $50), rounded up to the tick. Auction (opg/cls) orders and sells are not converted.
- **Buy-stop conversion** (:func:`converted`): a simple buy stop becomes a stop-limit whose limit
  is the stop plus the same collar; sell stops are not converted.
- **Auction windows** (:func:`auction_refusal`): opg orders are refused from 2 minutes before the
  day's open (9:28 ET on a regular day), cls orders from 10 minutes before the day's close (3:50
  ET, 12:50 on an early close), both until 7:00 pm exchange time; the open and close come from the
  venue calendar. Outside those windows, and on days the venue does not trade, they are taken
  (queued for the next auction).
- **Position close sizing** (:func:`close_qty`): all of the position, ``qty`` of it, or
  ``percentage`` of it rounded down to the lot.
- **Wash trades** (:func:`~fillforge.risk.checks.would_wash`, the pre-trade check's own rule):
  a simple market or limit order that could trade against one of the account's own working
  market or limit orders on the other side is refused
  (:class:`~fillforge.venues.rules.WashTradeError`).
- **Short-sale hold**: a sale that opens a short holds buying power at ``max(limit, ask * 1.03)``.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_CEILING, Decimal
from typing import Final, Unpack

from fillforge.errors import InsufficientQtyError, OrderValidationError
from fillforge.orders.enums import OrderClass, OrderSide, OrderTimeInForce, OrderType
from fillforge.orders.models import OrderRequest
from fillforge.risk.checks import WASH_MESSAGE, would_wash
from fillforge.time import to_datetime
from fillforge.venues.rules import (
    AuctionWindowError,
    CloseSize,
    DayHours,
    VenueView,
    WashTradeError,
)

__all__ = [
    "WASH_MESSAGE",
    "AlpacaRules",
    "auction_refusal",
    "close_qty",
    "collar",
    "converted",
    "would_wash",
]

COLLAR_BREAK: Final = Decimal(50)
COLLAR_LOW: Final = Decimal("1.04")  # under COLLAR_BREAK
COLLAR_HIGH: Final = Decimal("1.025")  # from COLLAR_BREAK
SHORT_MARKUP: Final = Decimal("0.03")
OPG_LEAD: Final = dt.timedelta(minutes=2)  # opg orders refused from this long before the open
CLS_LEAD: Final = dt.timedelta(minutes=10)  # cls orders refused from this long before the close
REOPEN: Final = dt.time(19, 0)  # ... until this exchange-local time
_AUCTIONS: Final = frozenset({OrderTimeInForce.OPG, OrderTimeInForce.CLS})
_ZONE_LABELS: Final = {"America/New_York": "ET"}


def collar(price: Decimal, tick: Decimal) -> Decimal:
    """``price`` plus Alpaca's collar (4% under $50, else 2.5%), rounded up to ``tick``."""
    raised = price * (COLLAR_LOW if price < COLLAR_BREAK else COLLAR_HIGH)
    return (raised / tick).to_integral_value(rounding=ROUND_CEILING) * tick


def converted(
    request: OrderRequest, *, position_qty: Decimal, ask: Decimal | None, tick: Decimal
) -> OrderRequest:
    """The order Alpaca works for ``request``: a collared market buy (when it opens or adds to a
    long position and there is an ask), a buy stop as a stop-limit, anything else unchanged."""
    if request.side is not OrderSide.BUY or request.order_class is not OrderClass.SIMPLE:
        return request
    if request.type is OrderType.MARKET:
        if position_qty < 0 or ask is None or request.time_in_force in _AUCTIONS:
            return request
        limit = collar(ask, tick)
        return request.model_copy(update={"type": OrderType.LIMIT, "limit_price": limit})
    if request.type is OrderType.STOP and request.stop_price is not None:
        limit = collar(request.stop_price, tick)
        return request.model_copy(update={"type": OrderType.STOP_LIMIT, "limit_price": limit})
    return request


def auction_refusal(request: OrderRequest, now_ns: int, hours: DayHours | None) -> str | None:
    """Why Alpaca refuses ``request`` at ``now_ns`` as an auction order, or None: opg from
    :data:`OPG_LEAD` before ``hours``' open, cls from :data:`CLS_LEAD` before its close, both
    until :data:`REOPEN` exchange time. No session today (or no calendar): nothing refused."""
    tif = request.time_in_force
    if tif not in _AUCTIONS or hours is None:
        return None
    zone = hours.zone
    edge = hours.open_ns if tif is OrderTimeInForce.OPG else hours.close_ns
    lead = OPG_LEAD if tif is OrderTimeInForce.OPG else CLS_LEAD
    start = to_datetime(edge).astimezone(zone).replace(microsecond=0) - lead
    end = dt.datetime.combine(hours.day, REOPEN, tzinfo=zone)
    now = to_datetime(now_ns).astimezone(zone)
    if not start <= now < end:
        return None
    label = _ZONE_LABELS.get(str(zone), str(zone))
    return f"{tif.value} orders are not accepted between {_clock(start)} and {_clock(end)} {label}"


def _clock(t: dt.datetime) -> str:
    """``9:28am``, ``7:00pm``."""
    return f"{t.hour % 12 or 12}:{t.minute:02d}{'am' if t.hour < 12 else 'pm'}"


def close_qty(
    position_qty: Decimal,
    lot: Decimal,
    *,
    symbol: str,
    qty: Decimal | None = None,
    percentage: Decimal | None = None,
) -> Decimal:
    """How much of a position of ``position_qty`` (signed) a close sells or buys back: all of it,
    ``qty`` (at most the position: :class:`~fillforge.errors.InsufficientQtyError`), or
    ``percentage`` in (0, 100] of it rounded down to ``lot``; not both."""
    held = abs(position_qty)
    if qty is not None and percentage is not None:
        raise OrderValidationError("percentage", percentage, "give qty or percentage, not both")
    if percentage is not None:
        if not 0 < percentage <= 100:
            raise OrderValidationError("percentage", percentage, "expected (0, 100]")
        return (held * percentage / 100 // lot) * lot
    if qty is None:
        return held
    if qty > held:
        raise InsufficientQtyError(symbol, qty, held)
    return qty


class AlpacaRules:
    """Alpaca's venue profile: the rules above, over a :class:`~fillforge.venues.rules.
    VenueView`. Satisfies :class:`~fillforge.venues.rules.VenueRules`."""

    name = "alpaca"
    short_markup: Decimal | None = SHORT_MARKUP

    def refuse(self, request: OrderRequest, view: VenueView) -> None:
        """Wash trades (:class:`WashTradeError`), then auction windows
        (:class:`AuctionWindowError`)."""
        other = OrderSide.SELL if request.side is OrderSide.BUY else OrderSide.BUY
        if would_wash(request, view.working_orders(request.symbol, other)):
            raise WashTradeError("side", request.side.value, WASH_MESSAGE)
        why = auction_refusal(request, view.now(), view.hours())
        if why is not None:
            raise AuctionWindowError("time_in_force", request.time_in_force.value, why)

    def convert(self, request: OrderRequest, view: VenueView) -> OrderRequest:
        """The collar and the buy-stop conversion (:func:`converted`)."""
        if request.side is not OrderSide.BUY or request.order_class is not OrderClass.SIMPLE:
            return request
        return converted(
            request,
            position_qty=view.position_qty(request.symbol),
            ask=view.best_ask(request.symbol),
            tick=view.instrument(request.symbol).tick_size,
        )

    def close_request(
        self, view: VenueView, symbol: str, **size: Unpack[CloseSize]
    ) -> OrderRequest | None:
        """The market order closing ``qty`` or ``percentage`` (else all) of the position in
        ``symbol``; None when there is no position."""
        held = view.position_qty(symbol)
        if held == 0:
            return None
        lot = view.instrument(symbol).lot_size
        qty = close_qty(held, lot, symbol=symbol, **size)
        side = OrderSide.SELL if held > 0 else OrderSide.BUY
        return OrderRequest(symbol=symbol, side=side, type=OrderType.MARKET, qty=qty)

    def __repr__(self) -> str:
        return "AlpacaRules()"
