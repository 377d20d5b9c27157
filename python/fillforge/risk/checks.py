"""Pre-trade checks: each a small object with ``check(intent, context)`` that raises a typed
fillforge error (naming the field and value) or returns, and changes nothing either way.

:class:`RiskChecks` runs its checks in order and stops at the first refusal. The default order
(:meth:`RiskChecks.default`):

1. :class:`WashTradeCheck` (only when wash-trade prevention is on): the order could trade
   against one of the account's own working orders on the other side
   (:class:`~fillforge.errors.WashTradeError`, field ``side``);
2. :class:`ShortableCheck`: a sell that would open or extend a short in a symbol that is not
   shortable (:class:`~fillforge.errors.NotShortableError`, field ``symbol``);
3. :class:`ShortLimitCheck`: a short beyond the shares available to borrow, open sell orders
   counted as if they filled (:class:`~fillforge.errors.NotShortableError`, field ``qty``);
4. :class:`BuyingPowerCheck`: the opening part of the order costs more than the buying power
   left (:class:`~fillforge.errors.InsufficientBuyingPowerError`, field ``qty``).

A new control (a position or order-size limit, orders per day, a kill switch) is one more class
with a ``check`` method, put in the list where it should run (:meth:`RiskChecks.insert`); no
broker changes. ``docs/portfolio-and-risk.md`` has the rules and an example.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Final, Protocol, TypeVar, runtime_checkable

from fillforge.errors import (
    InsufficientBuyingPowerError,
    NotShortableError,
    SimulationError,
    WashTradeError,
)
from fillforge.orders.enums import OrderClass, OrderSide, OrderStatus, OrderType
from fillforge.orders.models import OrderRequest
from fillforge.orders.order import Order
from fillforge.portfolio._exact import CTX, ZERO, decimal_or_none
from fillforge.portfolio.ledger import Ledger
from fillforge.risk.reservations import ReservationBook

__all__ = [
    "WASH_MESSAGE",
    "BuyingPowerCheck",
    "OrderIntent",
    "PreTradeCheck",
    "RiskChecks",
    "RiskContext",
    "ShortLimitCheck",
    "ShortableCheck",
    "WashTradeCheck",
    "would_wash",
]

WASH_MESSAGE: Final = "potential wash trade detected. use complex orders"
_WASHABLE: Final = frozenset({OrderType.MARKET, OrderType.LIMIT})
# Members read once: ``OrderSide.SELL`` goes through the enum metaclass's slow __getattr__ hook.
_BUY, _SELL = OrderSide.BUY, OrderSide.SELL
_SIMPLE, _HELD = OrderClass.SIMPLE, OrderStatus.HELD
_T = TypeVar("_T")
# Exact arithmetic in the shared context, without entering it per call.
_add, _sub, _mul, _neg = CTX.add, CTX.subtract, CTX.multiply, CTX.minus


@dataclass(frozen=True, slots=True, init=False)
class OrderIntent:
    """What an order asks of the account: ``qty`` (its open part) of ``symbol`` on ``side`` at
    ``price`` (the price its buying power is reserved at), and the ``request`` as the user sent
    it when there is one (a new order; not a bracket leg or a replacement)."""

    symbol: str
    side: OrderSide
    qty: Decimal
    price: Decimal
    request: OrderRequest | None = None

    def __init__(
        self,
        symbol: str,
        side: OrderSide,
        qty: Decimal,
        price: Decimal,
        request: OrderRequest | None = None,
    ) -> None:
        # Frozen: the slots are set through their descriptors (once per order, on the hot path;
        # the generated frozen __init__ goes through object.__setattr__ by name, twice as slow).
        _set_symbol(self, symbol)
        _set_side(self, side)
        _set_qty(self, qty)
        _set_price(self, price)
        _set_request(self, request)


_set_symbol, _set_side, _set_qty, _set_price, _set_request = (
    OrderIntent.__dict__[f].__set__ for f in ("symbol", "side", "qty", "price", "request")
)


def _no_orders(symbol: str) -> Iterable[Order]:
    return ()


@dataclass(slots=True)
class RiskContext:
    """What the checks read: the ledger, the reservation book, the leverage, and the account's
    working orders by symbol (``orders``; the broker supplies them, none by default)."""

    ledger: Ledger
    book: ReservationBook
    leverage: Decimal = Decimal(1)
    orders: Callable[[str], Iterable[Order]] = field(default=_no_orders)
    # While :meth:`run` runs its checks: the intent they check and its opening part.
    _running: OrderIntent | None = field(default=None, init=False, repr=False, compare=False)
    _running_opening: Decimal = field(default=ZERO, init=False, repr=False, compare=False)

    @property
    def buying_power(self) -> Decimal:
        """``max(0, equity * leverage - gross_exposure - reserved)``."""
        equity, gross = self.ledger.exposure()
        bp = _sub(_sub(_mul(equity, self.leverage), gross), self.book.reserved)
        return max(bp, ZERO)

    def opening(self, intent: OrderIntent) -> Decimal:
        """The part of ``intent`` that would open or extend a position (see
        :meth:`~fillforge.risk.reservations.ReservationBook.opening`)."""
        if intent is self._running:
            return self._running_opening
        return self.book.opening(intent.symbol, intent.side, intent.qty)

    def run(self, checks: RiskChecks, intent: OrderIntent) -> Decimal:
        """Run ``checks`` on ``intent`` (:meth:`RiskChecks.check`) and return its opening part
        (:meth:`opening`), computed once for all of them: checks change nothing."""
        opening = self.book.opening(intent.symbol, intent.side, intent.qty)
        outer, outer_opening = self._running, self._running_opening
        self._running, self._running_opening = intent, opening
        try:
            checks.check(intent, self)
        finally:
            self._running, self._running_opening = outer, outer_opening
        return opening


@runtime_checkable
class PreTradeCheck(Protocol):
    """One pre-trade control: raise a typed error naming the field and value, or return."""

    def check(self, intent: OrderIntent, context: RiskContext) -> None: ...


def would_wash(request: OrderRequest, working: Iterable[Order]) -> bool:
    """Whether a simple market or limit ``request`` could trade against one of ``working`` (the
    account's open orders in its symbol): a market or limit order on the other side that is
    working (held legs are not) with a market order on either side, or a limit at or through this
    one's. Complex orders are the remedy, so brackets, OCO and OTO are never refused."""
    if request.order_class is not _SIMPLE or request.type not in _WASHABLE:
        return False
    for o in working:
        if o.symbol != request.symbol or o.request.side is request.side:
            continue
        if o.request.type not in _WASHABLE or o.status is _HELD:
            continue
        mine, theirs = request.limit_price, o.limit_price
        if mine is None or theirs is None:
            return True
        if (mine >= theirs) if request.side is _BUY else (mine <= theirs):
            return True
    return False


class WashTradeCheck:
    """Refuse a new order that could trade against one of the account's own working orders
    (:func:`would_wash`). Needs the request; a leg or replacement is not checked."""

    name = "wash_trade"

    def check(self, intent: OrderIntent, context: RiskContext) -> None:
        r = intent.request
        if r is not None and would_wash(r, context.orders(r.symbol)):
            raise WashTradeError("side", r.side.value, WASH_MESSAGE)

    def __repr__(self) -> str:
        return "WashTradeCheck()"


class ShortableCheck:
    """A sell that would open or extend a short needs its symbol to be shortable: every symbol
    unless ``shortable`` says otherwise (a collection of the shortable symbols, ``()`` forbids
    all shorting, or a function of the symbol)."""

    name = "shortable"

    def __init__(self, shortable: Callable[[str], bool] | Collection[str] | None = None) -> None:
        self._shortable: Callable[[str], bool] | frozenset[str] | None
        if shortable is None or callable(shortable):
            self._shortable = shortable
        elif isinstance(shortable, str) or not all(isinstance(s, str) for s in shortable):
            raise SimulationError(
                "shortable", shortable, "give a collection of symbols, a function or None"
            )
        else:
            self._shortable = frozenset(shortable)

    def is_shortable(self, symbol: str) -> bool:
        s = self._shortable
        if s is None:
            return True
        return symbol in s if isinstance(s, frozenset) else bool(s(symbol))

    def check(self, intent: OrderIntent, context: RiskContext) -> None:
        if intent.side is not _SELL or self._shortable is None:
            return
        opening = context.opening(intent)
        if opening and not self.is_shortable(intent.symbol):
            raise NotShortableError(
                "symbol",
                intent.symbol,
                f"not shortable: selling {intent.qty} would open a short of {opening}",
            )

    def __repr__(self) -> str:
        return f"ShortableCheck({self._shortable!r})"


class ShortLimitCheck:
    """``limits`` caps the short position per symbol (the shares available to borrow), counting
    open sell orders as if they filled."""

    name = "short_limit"

    def __init__(self, limits: Mapping[str, Decimal | int] | None = None) -> None:
        checked = {}
        for sym, lim in (limits or {}).items():
            d = decimal_or_none(lim)
            if not isinstance(sym, str) or d is None or d < 0:
                raise SimulationError("short_limits", {sym: lim}, "symbol -> a Decimal >= 0")
            checked[sym] = d
        self.limits: Mapping[str, Decimal] = checked

    def check(self, intent: OrderIntent, context: RiskContext) -> None:
        limit = self.limits.get(intent.symbol)
        if limit is None or intent.side is not _SELL or not context.opening(intent):
            return
        q, pos = intent.qty, context.ledger.qty(intent.symbol)
        selling = _add(q, context.book.open_qty(intent.symbol, _SELL))
        short = _add(max(_sub(selling, max(pos, ZERO)), ZERO), max(_neg(pos), ZERO))
        if short > limit:
            raise NotShortableError(
                "qty",
                q,
                f"{intent.symbol}: a short of {short} exceeds the {limit} shares shortable",
            )

    def __repr__(self) -> str:
        return f"ShortLimitCheck({dict(self.limits)!r})"


class BuyingPowerCheck:
    """The part of the order that would open or extend a position, at its price, must fit in
    the buying power left (:attr:`RiskContext.buying_power`); the part that reduces a position
    (net of earlier open orders on its side) needs none."""

    name = "buying_power"

    def check(self, intent: OrderIntent, context: RiskContext) -> None:
        needed = _mul(context.opening(intent), intent.price)
        if needed:
            available = context.buying_power
            if needed > available:
                raise InsufficientBuyingPowerError("qty", intent.qty, needed, available)

    def __repr__(self) -> str:
        return "BuyingPowerCheck()"


class RiskChecks:
    """Pre-trade checks run in order; the first to raise refuses the order and nothing after it
    runs. A composite is itself a :class:`PreTradeCheck`."""

    def __init__(self, checks: Sequence[PreTradeCheck] = ()) -> None:
        self._checks: list[PreTradeCheck] = []
        for c in checks:
            self.append(c)

    @classmethod
    def default(
        cls,
        *,
        shortable: Callable[[str], bool] | Collection[str] | None = None,
        short_limits: Mapping[str, Decimal | int] | None = None,
        wash_trades: bool = False,
    ) -> RiskChecks:
        """Today's checks in their order: wash trades (when ``wash_trades``), shortability,
        short limits, buying power."""
        checks = cls([ShortableCheck(shortable), ShortLimitCheck(short_limits), BuyingPowerCheck()])
        checks.wash_trades = wash_trades
        return checks

    def check(self, intent: OrderIntent, context: RiskContext) -> None:
        for c in self._checks:
            c.check(intent, context)

    def append(self, check: PreTradeCheck) -> None:
        """Run ``check`` after the others."""
        self.insert(len(self._checks), check)

    def insert(self, index: int, check: PreTradeCheck) -> None:
        """Run ``check`` at position ``index`` (0: first)."""
        if not isinstance(check, PreTradeCheck):
            raise SimulationError("check", check, "needs a check(intent, context) method")
        self._checks.insert(index, check)

    def remove(self, check: PreTradeCheck) -> None:
        """Stop running ``check``; :class:`~fillforge.errors.SimulationError` if it is not run."""
        if check not in self._checks:
            raise SimulationError("check", check, "is not one of these checks")
        self._checks.remove(check)

    def find(self, kind: type[_T]) -> _T | None:
        """The first check of type ``kind``, or None."""
        return next((c for c in self._checks if isinstance(c, kind)), None)

    @property
    def wash_trades(self) -> bool:
        """Whether wash-trade prevention is on (a :class:`WashTradeCheck` runs, first)."""
        return self.find(WashTradeCheck) is not None

    @wash_trades.setter
    def wash_trades(self, on: bool) -> None:
        if not isinstance(on, bool):
            raise SimulationError("wash_trades", on, "must be True or False")
        present = self.find(WashTradeCheck)
        if on and present is None:
            self.insert(0, WashTradeCheck())
        elif not on and present is not None:
            self._checks.remove(present)

    def __iter__(self) -> Iterator[PreTradeCheck]:
        return iter(list(self._checks))

    def __len__(self) -> int:
        return len(self._checks)

    def __repr__(self) -> str:
        return f"RiskChecks({self._checks!r})"
