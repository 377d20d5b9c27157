"""The simulated account: a ledger (:class:`~fillforge.portfolio.Ledger`) and its pre-trade
checks (:class:`~fillforge.risk.RiskChecks` over a :class:`~fillforge.risk.ReservationBook`),
behind the one object a :class:`~fillforge.sim.broker.SimulatedBroker` keeps.

:class:`Account` composes the two and does nothing else: the ledger books fills, marks and the
session roll (see :mod:`fillforge.portfolio.ledger` for the accounting and marks rules); the
checks decide whether an order may reserve buying power (see :mod:`fillforge.risk.checks` for
each check and their order). Buying power follows the gross-exposure rule (Reg-T initial margin
when ``leverage`` is 2)::

    buying_power = max(0, equity * leverage - gross_exposure - reserved)

where ``equity = cash + sum(qty * mark)``, ``gross_exposure = sum(|qty| * mark)`` and ``reserved``
is what open orders would add to it at their prices. A long and a short of the same value use the
same buying power (Reg-T's 150% short requirement is this rule at leverage 2: the proceeds plus
50%). Orders that only reduce a position need none.

Shorting: every symbol is shortable unless ``shortable`` says otherwise: a collection of the
shortable symbols (``shortable=()`` forbids all shorting) or a function of the symbol.
``short_limits`` caps the short position per symbol (the shares available to borrow), counting
open sell orders as if they filled. ``wash_trades=True`` refuses a new order that could trade
against one of the account's own working orders (the broker supplies them, :meth:`Account.
follow_orders`).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from decimal import Decimal
from typing import Generic, TypeVar, overload

from fillforge.broker.models import AccountSnapshot, Position
from fillforge.errors import OrderValidationError, SimulationError
from fillforge.orders.enums import OrderSide
from fillforge.orders.models import OrderRequest
from fillforge.orders.order import Order
from fillforge.portfolio._exact import ZERO, check_symbol, decimal_or_none, positive, side_of
from fillforge.portfolio.ledger import Ledger, MarkSource, market_marks
from fillforge.risk.checks import OrderIntent, RiskChecks, RiskContext, ShortableCheck
from fillforge.risk.reservations import Reservation, ReservationBook

__all__ = ["Account", "AccountSnapshot", "MarkSource", "Position", "Reservation", "market_marks"]


_T = TypeVar("_T")


class _Read(Generic[_T]):
    """A read-only figure of one of the account's parts, by the same name: in ``class
    Account``, ``cash = _Read[Decimal]("ledger")`` reads ``account.ledger.cash``."""

    def __init__(self, part: str, doc: str | None = None) -> None:
        self._part, self._name, self.__doc__ = part, "", doc

    def __set_name__(self, owner: type, name: str) -> None:
        self._name = name

    @overload
    def __get__(self, obj: None, owner: type) -> _Read[_T]: ...
    @overload
    def __get__(self, obj: object, owner: type) -> _T: ...
    def __get__(self, obj: object, owner: type) -> _Read[_T] | _T:
        if obj is None:
            return self
        value: _T = getattr(getattr(obj, self._part), self._name)
        return value

    def __set__(self, obj: object, value: object) -> None:
        raise AttributeError(f"{self._name} is read-only (the {self._part}'s)")


class Account:
    """A :class:`~fillforge.portfolio.Ledger` and its pre-trade checks; see the module
    docstring.

    ``leverage`` is gross exposure per unit of equity (1: no borrowing; 2: Reg-T; 4: day-trading
    buying power). ``checks`` replaces the default checks (:meth:`RiskChecks.default` built from
    ``shortable``, ``short_limits`` and ``wash_trades``). Bad arguments raise
    :class:`~fillforge.errors.OrderValidationError` (or
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
        wash_trades: bool = False,
        checks: RiskChecks | None = None,
    ) -> None:
        ledger = Ledger(cash, marks=marks)
        lev = decimal_or_none(leverage)
        if lev is None or lev <= 0:
            raise SimulationError("leverage", leverage, "must be a finite Decimal > 0")
        if checks is None:
            checks = RiskChecks.default(
                shortable=shortable, short_limits=short_limits, wash_trades=wash_trades
            )
        elif not isinstance(checks, RiskChecks):
            raise SimulationError("checks", checks, "must be a RiskChecks")
        self.ledger = ledger
        self.book = ReservationBook(ledger.qty)
        self.checks = checks
        self.context = RiskContext(ledger, self.book, lev)

    @property
    def leverage(self) -> Decimal:
        return self.context.leverage

    @leverage.setter
    def leverage(self, value: Decimal) -> None:
        lev = decimal_or_none(value)
        if lev is None or lev <= 0:
            raise SimulationError("leverage", value, "must be a finite Decimal > 0")
        self.context.leverage = lev

    def follow_orders(self, orders: Callable[[str], Iterable[Order]]) -> None:
        """The account's working orders in a symbol, for the wash-trade check (the broker's)."""
        if not callable(orders):
            raise SimulationError("orders", orders, "give a function of the symbol")
        self.context.orders = orders

    # ----- the ledger -------------------------------------------------------------------------

    # The ledger's figures, read from it.
    initial_cash = _Read[Decimal]("ledger")
    cash = _Read[Decimal]("ledger")
    fees_paid = _Read[Decimal]("ledger")
    long_market_value = _Read[Decimal]("ledger")
    short_market_value = _Read[Decimal]("ledger")
    gross_exposure = _Read[Decimal]("ledger")
    equity = _Read[Decimal]("ledger")
    last_equity = _Read[Decimal]("ledger")

    def apply_fill(
        self, symbol: str, side: OrderSide | str, qty: Decimal, price: Decimal, fee: Decimal = ZERO
    ) -> Decimal:
        """Book a fill (:meth:`Ledger.apply_fill`). Reservations are not touched: call
        :meth:`release_partial` for the order that filled."""
        return self.ledger.apply_fill(symbol, side, qty, price, fee)

    def mark(self, symbol: str, price: Decimal) -> None:
        self.ledger.mark(symbol, price)

    def follow(self, marks: MarkSource | None) -> None:
        self.ledger.follow(marks)

    def current_mark(self, symbol: str) -> Decimal | None:
        return self.ledger.current_mark(symbol)

    def close_session(self, symbols: Iterable[str] = ()) -> None:
        self.ledger.close_session(symbols)

    def lastday_price(self, symbol: str) -> Decimal | None:
        return self.ledger.lastday_price(symbol)

    def qty(self, symbol: str) -> Decimal:
        return self.ledger.qty(symbol)

    def position(self, symbol: str) -> Position:
        return self.ledger.position(symbol)

    def positions(self) -> dict[str, Position]:
        return self.ledger.positions()

    def realized_pnl(self, symbol: str | None = None) -> Decimal:
        return self.ledger.realized_pnl(symbol)

    def unrealized_pnl(self, symbol: str | None = None) -> Decimal:
        return self.ledger.unrealized_pnl(symbol)

    def snapshot(self) -> AccountSnapshot:
        return self.ledger.snapshot(
            buying_power=self.buying_power, reserved=self.reserved, leverage=self.leverage
        )

    # ----- the checks and reservations --------------------------------------------------------

    reserved = _Read[Decimal]("book", "Buying power held by open orders (``book.reserved``).")
    buying_power = _Read[Decimal](
        "context", "``max(0, equity * leverage - gross_exposure - reserved)``."
    )

    def is_shortable(self, symbol: str) -> bool:
        s = self.checks.find(ShortableCheck)
        return True if s is None else s.is_shortable(symbol)

    def check(
        self,
        symbol: str,
        side: OrderSide | str,
        qty: Decimal,
        price: Decimal,
        *,
        request: OrderRequest | None = None,
    ) -> Decimal:
        """What :meth:`reserve` would check, without reserving: return the buying power the order
        would take now, or raise as :meth:`reserve` does."""
        intent = _intent(symbol, side, qty, price, request)
        return self.context.run(self.checks, intent) * intent.price

    def check_replace(self, order_id: str, qty: Decimal, price: Decimal) -> Decimal:
        """What replacing ``order_id``'s reservation with ``qty`` at ``price`` would take (the
        old one released, the new one the youngest), or raise as :meth:`reserve` does. Nothing
        changes either way."""
        with self.book.without(order_id) as r:
            return self.check(r.symbol, r.side, qty, price)

    def reserve(
        self,
        order_id: str,
        symbol: str,
        side: OrderSide | str,
        qty: Decimal,
        price: Decimal,
        *,
        request: OrderRequest | None = None,
    ) -> Decimal:
        """Run the checks, then reserve buying power for an open order; return the amount it
        takes now.

        The part of the order that reduces the position (net of earlier open orders on the same
        side, which reduce first) needs nothing; the rest needs ``qty * price``. ``request`` (the
        order as sent) lets the wash-trade check see it. Raises the first check's error
        (:class:`~fillforge.errors.WashTradeError`,
        :class:`~fillforge.errors.NotShortableError`,
        :class:`~fillforge.errors.InsufficientBuyingPowerError`) and then reserves nothing.
        """
        if not isinstance(order_id, str) or not order_id:
            raise OrderValidationError("order_id", order_id, "must be a non-empty string")
        book = self.book
        if book.holds(order_id):
            raise OrderValidationError("order_id", order_id, "already has an open reservation")
        intent = _intent(symbol, side, qty, price, request)
        p = intent.price
        needed = self.context.run(self.checks, intent) * p
        book.put(order_id, intent.symbol, intent.side, intent.qty, p)
        return needed

    def rekey(self, order_id: str, new_order_id: str) -> None:
        """Move a reservation to another order id (one made before the order had its id)."""
        self.book.rekey(order_id, new_order_id)

    def release_partial(self, order_id: str, qty: Decimal) -> Decimal:
        """``qty`` of the order filled (or was canceled): shrink its reservation and return what
        is left. Reaching zero (or overfilling) releases it."""
        return self.book.release_partial(order_id, qty)

    def release(self, order_id: str) -> Decimal:
        """Drop the order's reservation (it was canceled, rejected or filled); return its qty."""
        return self.book.release(order_id)

    def reservations(self) -> dict[str, Reservation]:
        """The open reservations by order id, oldest first."""
        return self.book.reservations()

    def reservation(self, order_id: str) -> Reservation | None:
        """The order's open reservation, or None."""
        return self.book.reservation(order_id)

    def __repr__(self) -> str:
        return f"Account(cash={self.cash}, leverage={self.leverage}, checks={self.checks!r})"


def _intent(
    symbol: str, side: OrderSide | str, qty: Decimal, price: Decimal, request: OrderRequest | None
) -> OrderIntent:
    """An order's intent from the account's arguments, each checked (a bad one raises)."""
    check_symbol(symbol)
    return OrderIntent(
        symbol, side_of(side), positive("qty", qty), positive("price", price), request
    )
