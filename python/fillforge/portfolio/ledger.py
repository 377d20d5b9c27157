"""The ledger: cash, positions, realised and unrealised P&L, marks and fees, in exact Decimal.

Accounting: each position carries its signed cost basis (``qty * avg_price``, negative for a
short). A fill that grows a position adds ``qty * price`` to it; a fill that shrinks one takes away
the proportional share and books the difference from the fill price as realised P&L; a fill
through zero closes the position and opens the remainder at the fill price. Realised P&L is gross
of fees, which are counted separately, so at every moment, exactly::

    cash - initial cash + sum(qty * mark) == realized_pnl + unrealized_pnl - fees_paid

Marks: a position is valued at its symbol's price from the ledger's mark source (given to
:class:`Ledger` or to :meth:`Ledger.follow`; the simulated broker gives it its markets: the last
trade, else the mid of the recorded best bid and ask, see :func:`market_marks`), read when a
figure is asked for, so the market moving costs nothing here. Where the source has no price (or
there is no source), the last explicit :meth:`Ledger.mark` stands (a fill marks its symbol at its
price), else the average entry price. :meth:`Ledger.close_session` keeps each symbol's mark and
the equity at a session close (``lastday_price``, ``last_equity``).

The ledger records what happened; it refuses nothing an order might do (that is
:mod:`fillforge.risk`). Layer 3: it reads ``orders`` enums and ``broker`` models only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from decimal import localcontext as _localcontext
from typing import Final, Protocol

from fillforge.broker.models import AccountSnapshot, Position
from fillforge.errors import OrderValidationError, SimulationError
from fillforge.orders.enums import OrderSide
from fillforge.portfolio._exact import (
    CTX,
    ZERO,
    check_symbol,
    decimal_or_none,
    positive,
    side_of,
    total,
)

__all__ = ["Ledger", "MarkSource", "market_marks"]

MarkSource = Callable[[str], Decimal | None]
"""A symbol's current price, or None when the market shows none."""

# The one division (a partial close's share of the cost basis) is rounded to _COST_PLACES
# decimals when it does not come out exact; the invariant holds either way because the same
# rounded amount leaves the basis and enters realised P&L.
_COST_PLACES: Final = 12
_COST_QUANTUM: Final = Decimal(1).scaleb(-_COST_PLACES)
# CTX's operations, called directly on the hot paths (entering a localcontext per fill costs
# more than the arithmetic it guards).
_BUY: Final = OrderSide.BUY  # read once (an enum member read goes through a slow hook)
_add, _sub, _mul, _div, _neg, _abs = (
    CTX.add,
    CTX.subtract,
    CTX.multiply,
    CTX.divide,
    CTX.minus,
    CTX.abs,
)


class _Book:
    """The mutable state behind one symbol's :class:`Position`."""

    __slots__ = ("cost", "mark", "qty", "realized")

    def __init__(self) -> None:
        self.qty = ZERO
        self.cost = ZERO
        self.realized = ZERO
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


class Ledger:
    """Cash, positions, P&L, marks and fees; see the module docstring for the rules.

    Bad arguments raise :class:`~fillforge.errors.OrderValidationError` (or
    :class:`~fillforge.errors.SimulationError` for the configuration) and change nothing.
    """

    def __init__(self, cash: Decimal | int, *, marks: MarkSource | None = None) -> None:
        c = decimal_or_none(cash)
        if c is None or c < 0:
            raise SimulationError("cash", cash, "must be a finite Decimal >= 0")
        self.initial_cash = c
        self._cash = c
        self._fees = ZERO
        self._books: dict[str, _Book] = {}
        self._marks: MarkSource | None = None
        self.follow(marks)
        self._lastday: dict[str, Decimal] = {}  # each symbol's mark at the last session close
        self._last_equity = c

    # ----- fills and marks --------------------------------------------------------------------

    def apply_fill(
        self,
        symbol: str,
        side: OrderSide | str,
        qty: Decimal,
        price: Decimal,
        fee: Decimal = ZERO,
    ) -> Decimal:
        """Book a fill; return the P&L it realised (gross of ``fee``; 0 if it only adds).

        Buying pays ``qty * price + fee`` out of cash, selling receives ``qty * price - fee``;
        a negative ``fee`` is a rebate.
        """
        check_symbol(symbol)
        side = side_of(side)
        q, p = positive("qty", qty), positive("price", price)
        f = decimal_or_none(fee)
        if f is None:
            raise OrderValidationError("fee", fee, "must be a finite Decimal")
        return self.book_fill(symbol, side, q, p, f, mark=False)

    def book_fill(
        self, symbol: str, side: OrderSide, q: Decimal, p: Decimal, f: Decimal, *, mark: bool
    ) -> Decimal:
        """:meth:`apply_fill` for a fill its caller made valid (a simulated venue's own: a
        symbol, an ``OrderSide`` member, finite Decimals, ``q`` and ``p`` above 0): nothing is
        checked again. ``mark``: the fill's price marks the position from now on (the venue's
        last trade), as :meth:`mark` would set it; otherwise it marks only an unmarked one."""
        book = self._books.get(symbol)
        if book is None:
            book = self._books[symbol] = _Book()
        # Every operation in CTX (exact), called on it rather than entered per fill.
        s = q if side is _BUY else _neg(q)
        q0, c0 = book.qty, book.cost
        bought = _mul(s, p)
        self._cash = _sub(self._cash, _add(bought, f))
        self._fees = _add(self._fees, f)
        realized = ZERO
        if not q0 or (q0 > ZERO) == (s > ZERO):
            book.qty, book.cost = _add(q0, s), _add(c0, bought)
        else:
            held = _abs(q0)
            closing = min(q, held)
            if closing == held:
                removed = c0
            else:
                removed = _div(_mul(c0, closing), held)
                if _exponent(removed) < -_COST_PLACES:
                    removed = removed.quantize(_COST_QUANTUM, context=CTX)
            signed_closing = closing if s > ZERO else _neg(closing)
            realized = _sub(_neg(_mul(signed_closing, p)), removed)
            rest = _sub(s, signed_closing)  # what is left after closing: opens the other way
            book.qty = _add(q0, s)
            book.cost = _add(_sub(c0, removed), _mul(rest, p))
            book.realized = _add(book.realized, realized)
        if mark or book.mark is None:
            book.mark = p
        return realized

    def mark(self, symbol: str, price: Decimal) -> None:
        """Set the price ``symbol`` is valued at (for equity, unrealised P&L, buying power) while
        the mark source shows none for it (always, without a source)."""
        check_symbol(symbol)
        p = positive("price", price)
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

    # ----- the session roll -------------------------------------------------------------------

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
        return self.values()[0]

    @property
    def short_market_value(self) -> Decimal:
        """The value of the shorts as a positive amount."""
        return self.values()[1]

    @property
    def gross_exposure(self) -> Decimal:
        return self.exposure()[1]

    @property
    def equity(self) -> Decimal:
        return self.exposure()[0]

    def exposure(self) -> tuple[Decimal, Decimal]:
        """(equity, gross exposure): ``cash + long - short`` and ``long + short`` (the market
        values of :meth:`values`)."""
        long, short = self.values()
        return _sub(_add(self._cash, long), short), _add(long, short)

    def values(self) -> tuple[Decimal, Decimal]:
        """(long market value, short market value as a positive amount), in one pass."""
        long = short = ZERO
        for s, b in self._books.items():
            q = b.qty
            if q:
                mark = self._mark(s, b)
                assert mark is not None  # an open position has an entry price
                if q > ZERO:
                    long = _add(long, _mul(q, mark))
                else:
                    short = _sub(short, _mul(q, mark))
        return long, short

    def qty(self, symbol: str) -> Decimal:
        """The signed position in ``symbol`` (0 when flat): the cheap form of :meth:`position`."""
        book = self._books.get(symbol)
        return book.qty if book is not None else ZERO

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
            return book.realized if book else ZERO
        with _localcontext(CTX):
            return total(b.realized for b in self._books.values())

    def unrealized_pnl(self, symbol: str | None = None) -> Decimal:
        """``qty * mark - cost_basis`` of ``symbol``, or summed over all symbols."""
        with _localcontext(CTX):
            if symbol is not None:
                book = self._books.get(symbol)
                return self._unrealized(symbol, book) if book else ZERO
            return total(self._unrealized(s, b) for s, b in self._books.items())

    def _unrealized(self, symbol: str, b: _Book) -> Decimal:
        if not b.qty:
            return ZERO
        mark = self._mark(symbol, b)
        assert mark is not None  # an open position has an entry price
        return b.qty * mark - b.cost

    def snapshot(
        self, *, buying_power: Decimal, reserved: Decimal = ZERO, leverage: Decimal = Decimal(1)
    ) -> AccountSnapshot:
        """The ledger at this moment, with the buying power, reservations and leverage the
        pre-trade checks (:mod:`fillforge.risk`) give it."""
        return AccountSnapshot.adopt(
            {
                "cash": self._cash,
                "equity": self.equity,
                "buying_power": buying_power,
                "reserved": reserved,
                "leverage": leverage,
                "long_market_value": self.long_market_value,
                "short_market_value": self.short_market_value,
                "realized_pnl": self.realized_pnl(),
                "unrealized_pnl": self.unrealized_pnl(),
                "fees_paid": self._fees,
                "positions": self.positions(),
            }
        )

    def _position(self, symbol: str, b: _Book) -> Position:
        mark = self._mark(symbol, b)
        with _localcontext(CTX):
            value = b.qty * mark if mark is not None else ZERO
            unrealized = value - b.cost if b.qty else ZERO
        return Position.adopt(
            {
                "symbol": symbol,
                "qty": b.qty,
                # The one inexact figure: a display value at 28 digits; cost_basis is exact.
                "avg_price": b.cost / b.qty if b.qty else ZERO,
                "cost_basis": b.cost,
                "realized_pnl": b.realized,
                "mark": mark,
                "market_value": value,
                "unrealized_pnl": unrealized,
            }
        )

    def __repr__(self) -> str:
        return f"Ledger(cash={self._cash}, positions={len(self.positions())})"


def _exponent(d: Decimal) -> int:
    e = d.as_tuple().exponent
    return e if isinstance(e, int) else 0
