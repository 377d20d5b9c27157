"""The round-trip trade list from fills, FIFO-matched, in exact Decimal, and its statistics.

Matching: each symbol keeps its open lots in the order they were opened. A fill in the
direction of the position (or from flat) opens a lot; a fill against it closes lots first in,
first out, and the closed quantity is one :class:`RoundTrip` (the lots it consumed give the
average entry price and the first entry time; the fill gives the exit). A fill larger than the
position closes it and opens the remainder the other way (a flip through zero). Shorts are
lots with a negative quantity.

Fees: a lot carries the fee of the fill that opened it (in proportion to the quantity when the
fill also closed something); closing part of a lot moves that share of its fee into the round
trip, with the closing fill's own fee share. A share that does not come out exact is rounded
to 12 decimals and the rest stays with the lot. Every fee ends in exactly one round trip or open
lot, so the sums are exact: ``sum(trip.fees) + sum(lot.fee) == all fees``.

P&L: ``gross_pnl`` is ``(exit - entry) * qty`` for a long and ``(entry - exit) * qty`` for a
short; ``pnl`` is net of ``fees``; ``ret`` is ``pnl`` over the entry notional. The realised
P&L of FIFO and of the ledger's average cost differ trade by trade, never in total: for any mark,
``sum(gross_pnl) + unrealised of the open lots`` equals the ledger's realised plus unrealised
P&L on the same fills.

Fills come in time order (a fill before the last one is refused; equal times are fine), as
tuples ``(symbol, side, qty, price, fee, time_ns)``, as objects with those attributes (``fee``
or ``commission``; a strategy's fill record is one), or as an order event that carries a fill
together with the order's side (:meth:`TradeBook.add_event`). Quantities, prices and fees must
be exact (Decimal, int or a numeric string; a float is refused).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final, Literal

from fillforge.errors import MetricsError
from fillforge.orders.enums import OrderSide
from fillforge.orders.models import OrderEvent
from fillforge.portfolio._exact import CTX, ZERO, decimal_or_none
from fillforge.time import NS_PER_DAY

__all__ = [
    "OpenLot",
    "RoundTrip",
    "TradeBook",
    "TradeStats",
    "fill_fields",
    "round_trips",
    "trade_stats",
]

_add, _sub, _mul, _div = CTX.add, CTX.subtract, CTX.multiply, CTX.divide
_neg, _abs = CTX.minus, CTX.abs
_BUY: Final = OrderSide.BUY
_SELL: Final = OrderSide.SELL


@dataclass(frozen=True, slots=True)
class RoundTrip:
    """One closed quantity: ``side`` is the position's (``long`` or ``short``), ``qty`` is
    positive; ``entry_price`` is the average of the lots it closed and ``exit_price`` the
    average of its closing fills; ``fees`` are the entry and exit fees allotted to it."""

    symbol: str
    side: Literal["long", "short"]
    qty: Decimal
    entry_time_ns: int
    exit_time_ns: int
    entry_price: Decimal
    exit_price: Decimal
    gross_pnl: Decimal
    fees: Decimal
    pnl: Decimal

    @property
    def entry_notional(self) -> Decimal:
        return _mul(self.entry_price, self.qty)

    @property
    def ret(self) -> float:
        """``pnl`` over the entry notional (0.05 is 5%)."""
        notional = self.entry_notional
        return float(_div(self.pnl, notional)) if notional else math.nan

    @property
    def holding_ns(self) -> int:
        return self.exit_time_ns - self.entry_time_ns

    @property
    def holding_days(self) -> float:
        return self.holding_ns / NS_PER_DAY


@dataclass(frozen=True, slots=True)
class OpenLot:
    """A lot still open: ``qty`` signed (negative short), the price and time it was opened
    at, and the part of the opening fee it still carries."""

    symbol: str
    qty: Decimal
    price: Decimal
    time_ns: int
    fee: Decimal


class _Lot:
    __slots__ = ("episode", "fee", "price", "qty", "time_ns")

    def __init__(self, qty: Decimal, price: Decimal, time_ns: int, fee: Decimal, ep: int):
        self.qty, self.price, self.time_ns, self.fee, self.episode = qty, price, time_ns, fee, ep


class TradeBook:
    """FIFO lots per symbol, fed fill by fill; every closing fill yields its round trip.

    ``round_trips()`` lists them all (``by="fill"``), or merged per position from flat back to
    flat (``by="position"``: one trade per holding period, average entry and exit prices over
    all its fills; a position still open is not a trade yet)."""

    __slots__ = ("_episode", "_episodes", "_last_ns", "_lots", "_trips")

    def __init__(self) -> None:
        self._lots: dict[str, deque[_Lot]] = {}
        self._trips: list[RoundTrip] = []
        self._episodes: list[int] = []  # each trip's holding period
        self._episode = 0
        self._last_ns = 0  # fills come in time order (equal times allowed)

    def add(
        self,
        symbol: str,
        side: OrderSide | str,
        qty: Decimal | int | str,
        price: Decimal | int | str,
        fee: Decimal | int | str = ZERO,
        time_ns: int = 0,
    ) -> list[RoundTrip]:
        """Book one fill; return the round trips it closed (empty when it only opens)."""
        if not isinstance(symbol, str) or not symbol:
            raise MetricsError("symbol", symbol, "must be a non-empty string")
        s = _side(side)
        q, p = _exact("qty", qty, positive=True), _exact("price", price, positive=True)
        f = _exact("fee", fee, positive=False)
        if isinstance(time_ns, bool) or not isinstance(time_ns, int):
            raise MetricsError("time_ns", time_ns, "must be int nanoseconds")
        if time_ns < self._last_ns:
            raise MetricsError("time_ns", time_ns, f"before the last fill ({self._last_ns})")
        self._last_ns = time_ns
        lots = self._lots.setdefault(symbol, deque())
        signed = q if s is _BUY else _neg(q)
        closed: list[RoundTrip] = []
        if lots and (lots[0].qty > 0) != (signed > 0):
            closing = min(q, _abs_total(lots))
            fee_close = f if closing == q else _share(f, closing, q)
            closed.append(self._close(symbol, lots, closing, p, fee_close, time_ns))
            q, f = _sub(q, closing), _sub(f, fee_close)
            signed = q if s is _BUY else _neg(q)
        if q:
            if not lots:
                self._episode += 1
            lots.append(_Lot(signed, p, time_ns, f, self._episode))
        return closed

    def add_fill(self, fill: Any) -> list[RoundTrip]:
        """Book a fill given as a tuple ``(symbol, side, qty, price, fee, time_ns)`` (fee and
        time optional) or an object with those attributes (``fee`` or ``commission``)."""
        return self.add(*fill_fields(fill))

    def add_event(self, event: OrderEvent, side: OrderSide | str) -> list[RoundTrip]:
        """Book the fill an order event carries; ``side`` is the order's (the event does not
        carry it). An event without a fill books nothing."""
        f = event.fill
        if f is None:
            return []
        return self.add(event.symbol, side, f.qty, f.price, f.commission, f.ts_event or event.ts)

    def _close(
        self,
        symbol: str,
        lots: deque[_Lot],
        qty: Decimal,
        price: Decimal,
        exit_fee: Decimal,
        time_ns: int,
    ) -> RoundTrip:
        long = lots[0].qty > 0
        left, cost, fees = qty, ZERO, exit_fee
        first_time, episode = lots[0].time_ns, lots[0].episode
        while left:
            lot = lots[0]
            held = _abs(lot.qty)
            take = min(left, held)
            fee = lot.fee if take == held else _share(lot.fee, take, held)
            cost, fees = _add(cost, _mul(take, lot.price)), _add(fees, fee)
            left = _sub(left, take)
            if take == held:
                lots.popleft()
            else:
                lot.qty = _sub(lot.qty, take) if long else _add(lot.qty, take)
                lot.fee = _sub(lot.fee, fee)
        value = _mul(qty, price)
        gross = _sub(value, cost) if long else _sub(cost, value)
        trip = RoundTrip(
            symbol=symbol,
            side="long" if long else "short",
            qty=qty,
            entry_time_ns=first_time,
            exit_time_ns=time_ns,
            entry_price=_div(cost, qty),
            exit_price=price,
            gross_pnl=gross,
            fees=fees,
            pnl=_sub(gross, fees),
        )
        self._trips.append(trip)
        self._episodes.append(episode)
        return trip

    def round_trips(self, by: Literal["fill", "position"] = "fill") -> list[RoundTrip]:
        """Every round trip so far, in closing order; see the class for ``by``."""
        if by == "fill":
            return list(self._trips)
        if by != "position":
            raise MetricsError("by", by, "must be 'fill' or 'position'")
        open_episodes = {lots[0].episode for lots in self._lots.values() if lots}
        groups: dict[int, list[RoundTrip]] = {}
        for trip, ep in zip(self._trips, self._episodes, strict=True):
            if ep not in open_episodes:
                groups.setdefault(ep, []).append(trip)
        return [_merge(g) for g in groups.values()]

    def open_lots(self, symbol: str | None = None) -> list[OpenLot]:
        """The lots still open (of ``symbol``, or of every symbol), oldest first."""
        names = [symbol] if symbol is not None else sorted(self._lots)
        return [
            OpenLot(s, lot.qty, lot.price, lot.time_ns, lot.fee)
            for s in names
            for lot in self._lots.get(s, ())
        ]

    def position(self, symbol: str) -> Decimal:
        """The signed quantity held."""
        return _sum(lot.qty for lot in self._lots.get(symbol, ()))

    def unrealized_pnl(self, marks: Mapping[str, Decimal]) -> Decimal:
        """The open lots' P&L at ``marks`` (gross of fees); every open symbol needs a mark."""
        total = ZERO
        for s, lots in self._lots.items():
            if not lots:
                continue
            mark = marks.get(s)
            m = _exact(f"marks[{s}]", mark, positive=True)
            for lot in lots:
                total = _add(total, _mul(lot.qty, _sub(m, lot.price)))
        return total


def fill_fields(fill: Any) -> tuple[Any, ...]:
    """A fill's ``(symbol, side, qty, price[, fee[, time_ns]])``, unchecked, from a tuple or
    from an object with those attributes (``fee`` or ``commission``: a strategy's fill record
    is one). The one reading of a fill for the analytics."""
    if isinstance(fill, tuple):
        if not 4 <= len(fill) <= 6:
            raise MetricsError("fill", fill, "a tuple (symbol, side, qty, price, fee, time)")
        return fill
    fee: Any = getattr(fill, "fee", None)
    if fee is None:
        fee = getattr(fill, "commission", ZERO)
    try:
        return (fill.symbol, fill.side, fill.qty, fill.price, fee, fill.time_ns)
    except AttributeError as e:
        raise MetricsError("fill", type(fill).__name__, f"lacks {e.name}") from None


def _merge(trips: list[RoundTrip]) -> RoundTrip:
    if len(trips) == 1:
        return trips[0]
    qty = cost = value = gross = fees = ZERO
    for t in trips:
        qty, gross, fees = _add(qty, t.qty), _add(gross, t.gross_pnl), _add(fees, t.fees)
        cost = _add(cost, _mul(t.entry_price, t.qty))
        value = _add(value, _mul(t.exit_price, t.qty))
    first = trips[0]
    return RoundTrip(
        symbol=first.symbol,
        side=first.side,
        qty=qty,
        entry_time_ns=min(t.entry_time_ns for t in trips),
        exit_time_ns=max(t.exit_time_ns for t in trips),
        entry_price=_div(cost, qty),
        exit_price=_div(value, qty),
        gross_pnl=gross,
        fees=fees,
        pnl=_sub(gross, fees),
    )


def round_trips(fills: Iterable[Any], by: Literal["fill", "position"] = "fill") -> list[RoundTrip]:
    """The round trips of ``fills`` (in time order; see :meth:`TradeBook.add_fill` for the
    forms a fill may take)."""
    book = TradeBook()
    for i, fill in enumerate(fills):
        try:
            book.add_fill(fill)
        except MetricsError as e:
            raise MetricsError(f"fills[{i}].{e.field}", e.value, e.why) from None
    return book.round_trips(by)


# --- statistics ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TradeStats:
    """What a trade list adds up to. A win has ``pnl > 0``, a loss ``pnl < 0`` (a trade at
    exactly 0 counts in ``trades`` only). ``win_rate`` is wins over trades;
    ``profit_factor`` gross wins over gross losses (inf with no loss, NaN with neither);
    ``avg_win`` and ``avg_loss`` (negative) the mean P&L of each; ``expectancy`` the mean P&L
    per trade. Money is exact Decimal (None when there is nothing to average)."""

    trades: int
    wins: int
    losses: int
    win_rate: float
    profit_factor: float
    total_pnl: Decimal
    gross_profit: Decimal
    gross_loss: Decimal
    avg_win: Decimal | None
    avg_loss: Decimal | None
    expectancy: Decimal | None
    largest_win: Decimal | None
    largest_loss: Decimal | None
    avg_holding_days: float


def trade_stats(trips: Iterable[RoundTrip]) -> TradeStats:
    """Win rate, profit factor, average win and loss, expectancy of a round-trip list."""
    trips = list(trips)
    pnls = [t.pnl for t in trips]
    wins = [p for p in pnls if p > 0]
    losses = [p for p in pnls if p < 0]
    profit, loss = _sum(wins), _sum(losses)
    n = len(pnls)
    factor = float(_div(profit, _neg(loss))) if loss else (math.inf if profit else math.nan)
    return TradeStats(
        trades=n,
        wins=len(wins),
        losses=len(losses),
        win_rate=len(wins) / n if n else math.nan,
        profit_factor=factor,
        total_pnl=_add(profit, loss),
        gross_profit=profit,
        gross_loss=loss,
        avg_win=_div(profit, len(wins)) if wins else None,
        avg_loss=_div(loss, len(losses)) if losses else None,
        expectancy=_div(_add(profit, loss), n) if n else None,
        largest_win=max(wins) if wins else None,
        largest_loss=min(losses) if losses else None,
        avg_holding_days=math.fsum(t.holding_days for t in trips) / n if n else math.nan,
    )


# --- helpers ---------------------------------------------------------------------------------


def _side(side: object) -> OrderSide:
    if isinstance(side, OrderSide):
        return side
    if isinstance(side, str) and side in _SIDES:
        return _SIDES[side]
    raise MetricsError("side", side, "must be 'buy' or 'sell'")


_SIDES: Final = {"buy": _BUY, "sell": _SELL}


def _exact(field: str, value: object, *, positive: bool) -> Decimal:
    d = decimal_or_none(value)
    if d is None:
        why = "must be an exact number (Decimal, int or numeric string; not a float)"
        raise MetricsError(field, value, why)
    if positive and d <= 0:
        raise MetricsError(field, value, "must be greater than 0")
    return d


def _share(fee: Decimal, part: Decimal, whole: Decimal) -> Decimal:
    """``fee * part / whole``, rounded to 12 decimals when it does not come out exact (what is
    left is ``fee`` minus this, so no fee is lost to the rounding)."""
    share = _div(_mul(fee, part), whole)
    exp = share.as_tuple().exponent
    if isinstance(exp, int) and exp < -_FEE_PLACES:
        share = share.quantize(_FEE_QUANTUM, context=CTX)
    return share


_FEE_PLACES: Final = 12
_FEE_QUANTUM: Final = Decimal(1).scaleb(-_FEE_PLACES)


def _sum(values: Iterable[Decimal]) -> Decimal:
    total = ZERO
    for v in values:
        total = _add(total, v)
    return total


def _abs_total(lots: deque[_Lot]) -> Decimal:
    total = ZERO
    for lot in lots:
        total = _add(total, _abs(lot.qty))
    return total
