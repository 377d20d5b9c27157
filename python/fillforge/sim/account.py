"""A simulated cash/margin account: cash, positions, P&L, fees and buying power, in exact Decimal.

Accounting: each position carries its signed cost basis (``qty * avg_price``, negative for a
short). A fill that grows a position adds ``qty * price`` to it; a fill that shrinks one takes away
the proportional share and books the difference from the fill price as realised P&L; a fill
through zero closes the position and opens the remainder at the fill price. Realised P&L is gross
of fees, which are counted separately, so at every moment, exactly::

    cash - initial cash + sum(qty * mark) == realized_pnl + unrealized_pnl - fees_paid

Buying power follows the gross-exposure rule (Reg-T initial margin when ``leverage`` is 2)::

    buying_power = max(0, equity * leverage - gross_exposure - reserved)

where ``equity = cash + sum(qty * mark)``, ``gross_exposure = sum(|qty| * mark)`` and ``reserved``
is what open orders would add to it at their prices. A long and a short of the same value use the
same buying power (Reg-T's 150% short requirement is this rule at leverage 2: the proceeds plus
50%). Orders that only reduce a position need none.

Marks: a position is valued at its symbol's price from the account's mark source (given to
:class:`Account` or to :meth:`Account.follow`; the simulated broker gives it its markets: the last
trade, else the mid of the recorded best bid and ask, see :func:`market_marks`), read when a
figure is asked for, so the market moving costs nothing here. Where the source has no price (or
there is no source), the last explicit :meth:`Account.mark` stands (a fill marks its symbol at
its price), else the average entry price. :meth:`Account.close_session` keeps each symbol's
mark and the equity at a session close (``lastday_price``, ``last_equity``).

Shorting: every symbol is shortable unless ``shortable`` says otherwise: a collection of the
shortable symbols (``shortable=()`` forbids all shorting) or a function of the symbol.
``short_limits`` caps the short position per symbol (the shares available to borrow), counting
open sell orders as if they filled.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from decimal import ROUND_HALF_EVEN, Context, Decimal, DivisionByZero, InvalidOperation, Overflow
from decimal import localcontext as _localcontext
from typing import Annotated, Final, Protocol

from pydantic import Field

from fillforge.broker.models import AccountSnapshot, Position
from fillforge.errors import (
    InsufficientBuyingPowerError,
    NotShortableError,
    OrderValidationError,
    SimulationError,
)
from fillforge.orders.enums import OrderSide
from fillforge.orders.models import FrozenModel

__all__ = ["Account", "AccountSnapshot", "MarkSource", "Position", "Reservation", "market_marks"]

MarkSource = Callable[[str], Decimal | None]
"""A symbol's current price, or None when the market shows none."""

_ZERO: Final = Decimal(0)
# Sums and products of prices and quantities are exact at 60 digits; the default 28 could round
# a large cost basis. The one division (a partial close's share of the cost basis) is rounded to
# _COST_PLACES decimals when it does not come out exact; the invariant holds either way because
# the same rounded amount leaves the basis and enters realised P&L.
_CTX: Final = Context(
    prec=60, rounding=ROUND_HALF_EVEN, traps=[InvalidOperation, DivisionByZero, Overflow]
)
_COST_PLACES: Final = 12
_COST_QUANTUM: Final = Decimal(1).scaleb(-_COST_PLACES)

_Symbol = Annotated[str, Field(min_length=1)]


class Reservation(FrozenModel):
    """An open order's claim: ``qty`` still unfilled at ``price``."""

    order_id: Annotated[str, Field(min_length=1)]
    symbol: _Symbol
    side: OrderSide
    qty: Decimal
    price: Decimal


class _Book:
    """The mutable state behind one symbol's :class:`Position`."""

    __slots__ = ("cost", "mark", "qty", "realized")

    def __init__(self) -> None:
        self.qty = _ZERO
        self.cost = _ZERO
        self.realized = _ZERO
        self.mark: Decimal | None = None


class _Priced(Protocol):
    """What :func:`market_marks` reads of a market (:class:`fillforge.sim.venue.Market`)."""

    def last(self) -> Decimal | None: ...
    def mid(self) -> Decimal | None: ...


def market_marks(markets: Mapping[str, _Priced]) -> MarkSource:
    """The marks rule for markets by symbol: the last trade, else the mid of the recorded best
    bid and ask, else None. Read on demand: the market's own state, nothing copied."""

    def mark(symbol: str) -> Decimal | None:
        m = markets.get(symbol)
        if m is None:
            return None
        last = m.last()
        return last if last is not None else m.mid()

    return mark


class Account:
    """Cash, positions and open-order reservations; see the module docstring for the rules.

    ``leverage`` is gross exposure per unit of equity (1: no borrowing; 2: Reg-T; 4: day-trading
    buying power). Bad arguments raise :class:`~fillforge.errors.OrderValidationError` (or
    :class:`~fillforge.errors.SimulationError` for the configuration) and change nothing.
    """

    def __init__(
        self,
        cash: Decimal | int,
        *,
        leverage: Decimal | int = 1,
        shortable: Callable[[str], bool] | Collection[str] | None = None,
        short_limits: Mapping[str, Decimal | int] | None = None,
        marks: MarkSource | None = None,
    ) -> None:
        c = _decimal(cash)
        if c is None or c < 0:
            raise SimulationError("cash", cash, "must be a finite Decimal >= 0")
        lev = _decimal(leverage)
        if lev is None or lev <= 0:
            raise SimulationError("leverage", leverage, "must be a finite Decimal > 0")
        self._shortable: Callable[[str], bool] | frozenset[str] | None
        if shortable is None or callable(shortable):
            self._shortable = shortable
        elif isinstance(shortable, str) or not all(isinstance(s, str) for s in shortable):
            raise SimulationError(
                "shortable", shortable, "give a collection of symbols, a function or None"
            )
        else:
            self._shortable = frozenset(shortable)
        limits = {}
        for sym, lim in (short_limits or {}).items():
            d = _decimal(lim)
            if not isinstance(sym, str) or d is None or d < 0:
                raise SimulationError("short_limits", {sym: lim}, "symbol -> a Decimal >= 0")
            limits[sym] = d
        self._short_limits = limits
        self.initial_cash = c
        self.leverage = lev
        self._cash = c
        self._fees = _ZERO
        self._books: dict[str, _Book] = {}
        self._marks: MarkSource | None = None
        self.follow(marks)
        self._lastday: dict[str, Decimal] = {}  # each symbol's mark at the last session close
        self._last_equity = c
        self._res: dict[str, Reservation] = {}
        # Per (symbol, side): the open reservations oldest first, their quantity and their value
        # at full size (sum of qty * price), and a cache of (reducing capacity left, reserved
        # value) so that a new order costs O(1), not a walk over every open order. Appending a
        # reservation extends the cache; anything else drops it. A rebuild walks only the
        # oldest orders of that key, those that reduce the position, not every open order.
        self._keyed: dict[tuple[str, OrderSide], dict[str, Reservation]] = {}
        self._open: dict[tuple[str, OrderSide], Decimal] = {}
        self._value: dict[tuple[str, OrderSide], Decimal] = {}
        self._cache: dict[tuple[str, OrderSide], tuple[Decimal, Decimal]] = {}

    # ----- fills and marks --------------------------------------------------------------------

    def apply_fill(
        self,
        symbol: str,
        side: OrderSide | str,
        qty: Decimal,
        price: Decimal,
        fee: Decimal = _ZERO,
    ) -> Decimal:
        """Book a fill; return the P&L it realised (gross of ``fee``; 0 if it only adds).

        Buying pays ``qty * price + fee`` out of cash, selling receives ``qty * price - fee``;
        a negative ``fee`` is a rebate. Reservations are not touched: call
        :meth:`release_partial` for the order that filled.
        """
        _check_symbol(symbol)
        side = _side(side)
        q, p = _positive("qty", qty), _positive("price", price)
        f = _decimal(fee)
        if f is None:
            raise OrderValidationError("fee", fee, "must be a finite Decimal")
        book = self._books.get(symbol)
        if book is None:
            book = self._books[symbol] = _Book()
        # The position changes: what its open orders reduce changes with it.
        self._cache.pop((symbol, OrderSide.BUY), None)
        self._cache.pop((symbol, OrderSide.SELL), None)
        with _localcontext(_CTX):
            s = q if side is OrderSide.BUY else -q
            q0, c0 = book.qty, book.cost
            self._cash -= s * p + f
            self._fees += f
            realized = _ZERO
            if q0 == 0 or (q0 > 0) == (s > 0):
                book.qty, book.cost = q0 + s, c0 + s * p
            else:
                closing = min(q, abs(q0))
                if closing == abs(q0):
                    removed = c0
                else:
                    removed = c0 * closing / abs(q0)
                    if _exponent(removed) < -_COST_PLACES:
                        removed = removed.quantize(_COST_QUANTUM)
                signed_closing = closing if s > 0 else -closing
                realized = -(signed_closing * p) - removed
                rest = s - signed_closing  # what is left after closing: opens the other way
                book.qty = q0 + s
                book.cost = c0 - removed + rest * p
                book.realized += realized
        if book.mark is None:
            book.mark = p
        return realized

    def mark(self, symbol: str, price: Decimal) -> None:
        """Set the price ``symbol`` is valued at (for equity, unrealised P&L, buying power) while
        the mark source shows none for it (always, without a source)."""
        _check_symbol(symbol)
        p = _positive("price", price)
        book = self._books.get(symbol)
        if book is None:
            book = self._books[symbol] = _Book()
        book.mark = p

    def follow(self, marks: MarkSource | None) -> None:
        """Value positions at ``marks(symbol)`` when it gives a price (None: explicit marks
        only). It is called whenever a figure that depends on marks is asked for, never when
        the market moves."""
        if marks is not None and not callable(marks):
            raise SimulationError("marks", marks, "give a function of the symbol, or None")
        self._marks = marks

    def current_mark(self, symbol: str) -> Decimal | None:
        """The price ``symbol`` is valued at now (the marks rule), None if it has none."""
        book = self._books.get(symbol)
        if book is None:
            return self._marks(symbol) if self._marks is not None else None
        return self._mark(symbol, book)

    def _mark(self, symbol: str, book: _Book) -> Decimal | None:
        source = self._marks
        if source is not None:
            p = source(symbol)
            if p is not None:
                return p
        if book.mark is not None:
            return book.mark
        return book.cost / book.qty if book.qty else None

    def close_session(self, symbols: Iterable[str] = ()) -> None:
        """A session closed: keep the equity (:attr:`last_equity`) and the current mark of every
        symbol held or marked, and of ``symbols`` (the venue's), as their ``lastday_price``."""
        closes = {}
        for s in {*self._books, *symbols}:
            p = self.current_mark(s)
            if p is not None:
                closes[s] = p
        self._lastday = closes
        self._last_equity = self.equity

    @property
    def last_equity(self) -> Decimal:
        """The equity at the last session close (:meth:`close_session`); before the first, the
        initial cash."""
        return self._last_equity

    def lastday_price(self, symbol: str) -> Decimal | None:
        """``symbol``'s mark at the last session close; before one, or if it had no price then,
        its average entry price (None when flat)."""
        p = self._lastday.get(symbol)
        if p is not None:
            return p
        book = self._books.get(symbol)
        return book.cost / book.qty if book is not None and book.qty else None

    # ----- reservations -----------------------------------------------------------------------

    def check(self, symbol: str, side: OrderSide | str, qty: Decimal, price: Decimal) -> Decimal:
        """What :meth:`reserve` would check, without reserving: return the buying power the order
        would take now, or raise as :meth:`reserve` does."""
        _check_symbol(symbol)
        return self._check(symbol, _side(side), _positive("qty", qty), _positive("price", price))

    def check_replace(self, order_id: str, qty: Decimal, price: Decimal) -> Decimal:
        """What replacing ``order_id``'s reservation with ``qty`` at ``price`` would take (the
        old one released, the new one the youngest), or raise as :meth:`reserve` does. Nothing
        changes either way."""
        r = self._reservation(order_id)
        key = (r.symbol, r.side)
        saved = (
            dict(self._res),
            dict(self._keyed[key]),
            dict(self._open),
            dict(self._value),
            dict(self._cache),
        )
        try:
            self.release(order_id)
            return self.check(r.symbol, r.side, qty, price)
        finally:
            self._res, keyed, self._open, self._value, self._cache = saved
            self._keyed[key] = keyed

    def reserve(
        self, order_id: str, symbol: str, side: OrderSide | str, qty: Decimal, price: Decimal
    ) -> Decimal:
        """Reserve buying power for an open order; return the amount it takes now.

        The part of the order that reduces the position (net of earlier open orders on the same
        side, which reduce first) needs nothing; the rest needs ``qty * price``. A sell whose rest
        would open or extend a short needs the symbol to be shortable. Raises
        :class:`~fillforge.errors.NotShortableError` or
        :class:`~fillforge.errors.InsufficientBuyingPowerError` and then reserves nothing.
        """
        if not isinstance(order_id, str) or not order_id:
            raise OrderValidationError("order_id", order_id, "must be a non-empty string")
        if order_id in self._res:
            raise OrderValidationError("order_id", order_id, "already has an open reservation")
        _check_symbol(symbol)
        side = _side(side)
        q, p = _positive("qty", qty), _positive("price", price)
        needed = self._check(symbol, side, q, p)
        r = self._res[order_id] = Reservation.adopt(
            {"order_id": order_id, "symbol": symbol, "side": side, "qty": q, "price": p}
        )
        key = (symbol, side)
        self._keyed.setdefault(key, {})[order_id] = r
        with _localcontext(_CTX):
            self._open[key] = self._open.get(key, _ZERO) + q
            self._value[key] = self._value.get(key, _ZERO) + q * p
            cached = self._cache.get(key)
            if cached is not None:
                left, value = cached
                reduces = min(left, q)
                self._cache[key] = (left - reduces, value + (q - reduces) * p)
        return needed

    def rekey(self, order_id: str, new_order_id: str) -> None:
        """Move a reservation to another order id (one made before the order had its id)."""
        r = self._reservation(order_id)
        if new_order_id in self._res:
            raise OrderValidationError("order_id", new_order_id, "already has an open reservation")
        keyed = self._keyed[(r.symbol, r.side)]
        newest = next(reversed(keyed)) == order_id
        del self._res[order_id], keyed[order_id]
        fields = {"order_id": new_order_id, "symbol": r.symbol, "side": r.side}
        moved = Reservation.adopt({**fields, "qty": r.qty, "price": r.price})
        self._res[new_order_id] = keyed[new_order_id] = moved
        if not newest:  # it moved behind younger orders: their reducing order changed
            self._cache.pop((r.symbol, r.side), None)

    def release_partial(self, order_id: str, qty: Decimal) -> Decimal:
        """``qty`` of the order filled (or was canceled): shrink its reservation and return what
        is left. Reaching zero (or overfilling) releases it."""
        r = self._reservation(order_id)
        q = _positive("qty", qty)
        left = r.qty - q
        if left > 0:
            kept = self._res[order_id] = r.model_copy(update={"qty": left})
            self._keyed[(r.symbol, r.side)][order_id] = kept  # keeps its place in line
            self._forget(r, q)
            return left
        del self._res[order_id], self._keyed[(r.symbol, r.side)][order_id]
        self._forget(r, r.qty)
        return _ZERO

    def release(self, order_id: str) -> Decimal:
        """Drop the order's reservation (it was canceled, rejected or filled); return its qty."""
        r = self._reservation(order_id)
        del self._res[order_id], self._keyed[(r.symbol, r.side)][order_id]
        self._forget(r, r.qty)
        return r.qty

    def _forget(self, r: Reservation, qty: Decimal) -> None:
        """``qty`` of ``r`` is no longer reserved."""
        key = (r.symbol, r.side)
        with _localcontext(_CTX):
            left = self._open[key] - qty
            value = self._value[key] - qty * r.price
        if left > 0 and self._keyed[key]:
            self._open[key], self._value[key] = left, value
        else:
            del self._open[key], self._value[key], self._keyed[key]
        self._cache.pop(key, None)

    def reservations(self) -> dict[str, Reservation]:
        """The open reservations by order id, oldest first."""
        return dict(self._res)

    def reservation(self, order_id: str) -> Reservation | None:
        """The order's open reservation, or None."""
        return self._res.get(order_id)

    def is_shortable(self, symbol: str) -> bool:
        s = self._shortable
        if s is None:
            return True
        return symbol in s if isinstance(s, frozenset) else bool(s(symbol))

    # ----- queries ----------------------------------------------------------------------------

    @property
    def cash(self) -> Decimal:
        return self._cash

    @property
    def fees_paid(self) -> Decimal:
        """All fees so far, net of rebates."""
        return self._fees

    @property
    def long_market_value(self) -> Decimal:
        return self._values()[0]

    @property
    def short_market_value(self) -> Decimal:
        """The value of the shorts as a positive amount."""
        return self._values()[1]

    @property
    def gross_exposure(self) -> Decimal:
        long, short = self._values()
        with _localcontext(_CTX):
            return long + short

    @property
    def equity(self) -> Decimal:
        long, short = self._values()
        with _localcontext(_CTX):
            return self._cash + long - short

    def _values(self) -> tuple[Decimal, Decimal]:
        """(long market value, short market value as a positive amount), in one pass."""
        long = short = _ZERO
        with _localcontext(_CTX):
            for s, b in self._books.items():
                if b.qty:
                    mark = self._mark(s, b)
                    assert mark is not None  # an open position has an entry price
                    if b.qty > 0:
                        long += b.qty * mark
                    else:
                        short -= b.qty * mark
        return long, short

    @property
    def reserved(self) -> Decimal:
        """Buying power held by open orders: the part of each that would not reduce a position,
        at its price. Earlier orders reduce first, so this follows fills without bookkeeping."""
        total = _ZERO
        with _localcontext(_CTX):
            for key in self._open:
                cached = self._cache.get(key)
                if cached is None:
                    # Full value, less what the oldest orders take off it by reducing the
                    # position: only those are walked.
                    capacity, value = self._capacity(*key), self._value[key]
                    for r in self._keyed[key].values():
                        if not capacity:
                            break
                        reduces = min(capacity, r.qty)
                        capacity -= reduces
                        value -= reduces * r.price
                    cached = self._cache[key] = (capacity, value)
                total += cached[1]
        return total

    @property
    def buying_power(self) -> Decimal:
        """``max(0, equity * leverage - gross_exposure - reserved)``."""
        long, short = self._values()
        with _localcontext(_CTX):
            equity = self._cash + long - short
            bp = equity * self.leverage - (long + short) - self.reserved
        return max(bp, _ZERO)

    def qty(self, symbol: str) -> Decimal:
        """The signed position in ``symbol`` (0 when flat): the cheap form of :meth:`position`."""
        book = self._books.get(symbol)
        return book.qty if book is not None else _ZERO

    def position(self, symbol: str) -> Position:
        """``symbol``'s position (flat, with no mark, if never traded or marked)."""
        book = self._books.get(symbol)
        return self._position(symbol, book) if book else Position(symbol=symbol)

    def positions(self) -> dict[str, Position]:
        """The open (non-flat) positions, in symbol order."""
        books = self._books
        return {s: self._position(s, books[s]) for s in sorted(books) if books[s].qty}

    def realized_pnl(self, symbol: str | None = None) -> Decimal:
        """Realised P&L (gross of fees) of ``symbol``, or of all symbols."""
        if symbol is not None:
            book = self._books.get(symbol)
            return book.realized if book else _ZERO
        with _localcontext(_CTX):
            return _sum(b.realized for b in self._books.values())

    def unrealized_pnl(self, symbol: str | None = None) -> Decimal:
        """``qty * mark - cost_basis`` of ``symbol``, or summed over all symbols."""
        with _localcontext(_CTX):
            if symbol is not None:
                book = self._books.get(symbol)
                return self._unrealized(symbol, book) if book else _ZERO
            return _sum(self._unrealized(s, b) for s, b in self._books.items())

    def _unrealized(self, symbol: str, b: _Book) -> Decimal:
        if not b.qty:
            return _ZERO
        mark = self._mark(symbol, b)
        assert mark is not None  # an open position has an entry price
        return b.qty * mark - b.cost

    def snapshot(self) -> AccountSnapshot:
        return AccountSnapshot.adopt(
            {
                "cash": self._cash,
                "equity": self.equity,
                "buying_power": self.buying_power,
                "reserved": self.reserved,
                "leverage": self.leverage,
                "long_market_value": self.long_market_value,
                "short_market_value": self.short_market_value,
                "realized_pnl": self.realized_pnl(),
                "unrealized_pnl": self.unrealized_pnl(),
                "fees_paid": self._fees,
                "positions": self.positions(),
            }
        )

    # ----- internals --------------------------------------------------------------------------

    def _position(self, symbol: str, b: _Book) -> Position:
        mark = self._mark(symbol, b)
        with _localcontext(_CTX):
            value = b.qty * mark if mark is not None else _ZERO
            unrealized = value - b.cost if b.qty else _ZERO
        return Position.adopt(
            {
                "symbol": symbol,
                "qty": b.qty,
                # The one inexact figure: a display value at 28 digits; cost_basis is exact.
                "avg_price": b.cost / b.qty if b.qty else _ZERO,
                "cost_basis": b.cost,
                "realized_pnl": b.realized,
                "mark": mark,
                "market_value": value,
                "unrealized_pnl": unrealized,
            }
        )

    def _check(self, symbol: str, side: OrderSide, q: Decimal, p: Decimal) -> Decimal:
        with _localcontext(_CTX):
            # Earlier open orders on the same side reduce the position first.
            capacity = max(
                self._capacity(symbol, side) - self._open.get((symbol, side), _ZERO), _ZERO
            )
            opening = q - min(q, capacity)
            if opening and side is OrderSide.SELL:
                if not self.is_shortable(symbol):
                    raise NotShortableError(
                        "symbol",
                        symbol,
                        f"not shortable: selling {q} would open a short of {opening}",
                    )
                self._check_short_limit(symbol, q)
            needed = opening * p
            available = self.buying_power
            if needed > available:
                raise InsufficientBuyingPowerError("qty", q, needed, available)
        return needed

    def _check_short_limit(self, symbol: str, q: Decimal) -> None:
        limit = self._short_limits.get(symbol)
        if limit is None:
            return
        book = self._books.get(symbol)
        pos = book.qty if book else _ZERO
        selling = q + self._open.get((symbol, OrderSide.SELL), _ZERO)
        short = max(selling - max(pos, _ZERO), _ZERO) + max(-pos, _ZERO)
        if short > limit:
            raise NotShortableError(
                "qty", q, f"{symbol}: a short of {short} exceeds the {limit} shares shortable"
            )

    def _capacity(self, symbol: str, side: OrderSide) -> Decimal:
        """How much a ``side`` order in ``symbol`` can trade before it opens a position."""
        book = self._books.get(symbol)
        qty = book.qty if book else _ZERO
        return max(qty if side is OrderSide.SELL else -qty, _ZERO)

    def _reservation(self, order_id: str) -> Reservation:
        r = self._res.get(order_id)
        if r is None:
            raise OrderValidationError("order_id", order_id, "has no open reservation")
        return r


def _sum(values: Iterable[Decimal]) -> Decimal:
    total = _ZERO
    for v in values:
        total += v
    return total


def _exponent(d: Decimal) -> int:
    e = d.as_tuple().exponent
    return e if isinstance(e, int) else 0


def _decimal(value: object) -> Decimal | None:
    """``value`` as a finite Decimal, or None. Ints and numeric strings convert exactly; floats
    are refused (binary rounding has no place in money) and so are bools."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | str):
        try:
            value = Decimal(value)
        except InvalidOperation:
            return None
    if isinstance(value, Decimal) and value.is_finite():
        return value
    return None


def _positive(field: str, value: object) -> Decimal:
    d = _decimal(value)
    if d is None or d <= 0:
        raise OrderValidationError(field, value, "must be a finite Decimal greater than 0")
    return d


def _side(side: OrderSide | str) -> OrderSide:
    try:
        return OrderSide(side)
    except ValueError:
        raise OrderValidationError("side", side, "must be 'buy' or 'sell'") from None


def _check_symbol(symbol: object) -> None:
    if not isinstance(symbol, str) or not symbol:
        raise OrderValidationError("symbol", symbol, "must be a non-empty string")
