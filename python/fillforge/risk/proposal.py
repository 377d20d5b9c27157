"""What the pre-trade controls judge: one order (:class:`Proposal`) against the account
(:class:`RiskView`), the :class:`Control` protocol every control implements, and the checks of
their parameters (:func:`limit_of`, :func:`count_of`, :func:`per_symbol_limits`).

Conventions (``docs/risk-manager.md``):

- An order's **price** is its limit price (a stop order's stop price), else the market's reference
  price (last trade, else the quote's mid): :attr:`Proposal.price`.
- Its **position after** is the worst case: the position, plus the open orders on the same side in
  that symbol, plus this order (:attr:`Proposal.after`). An order **adds risk** when the absolute
  position after is larger than without it.
- Percentages are fractions (``Decimal("0.10")`` is 10%); money and quantities are Decimal.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from itertools import count
from typing import Protocol, runtime_checkable

from fillforge.errors import RiskDeniedError, RiskError
from fillforge.orders.enums import OrderClass, OrderSide
from fillforge.orders.models import OrderRequest
from fillforge.portfolio._exact import CTX, ZERO, decimal_or_none

__all__ = [
    "AccountControl",
    "Control",
    "Prices",
    "Proposal",
    "RiskView",
    "count_of",
    "limit_of",
    "per_symbol_limits",
]

_add, _sub, _mul, _div, _abs = CTX.add, CTX.subtract, CTX.multiply, CTX.divide, CTX.abs
_BUY = OrderSide.BUY
_SIMPLE, _OCO = OrderClass.SIMPLE, OrderClass.OCO
_VERSIONS = count(1)


def limit_of(field: str, value: object, *, allow_zero: bool = False) -> Decimal:
    """``value`` as a finite Decimal > 0 (>= 0 with ``allow_zero``), else :class:`RiskError`
    naming ``field``. Ints and numeric strings convert exactly; floats are refused."""
    d = decimal_or_none(value)
    if d is None or d < ZERO or (d == ZERO and not allow_zero):
        need = ">= 0" if allow_zero else "> 0"
        raise RiskError(field, value, f"must be a finite Decimal {need} (int or str converts)")
    return d


def count_of(field: str, value: object) -> int:
    """``value`` as an int >= 0, else :class:`RiskError`."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise RiskError(field, value, "must be an int >= 0")
    return value


def per_symbol_limits(field: str, limits: Mapping[str, object] | None) -> dict[str, Decimal]:
    """A symbol -> limit mapping, each checked with :func:`limit_of`."""
    if limits is None:
        return {}
    if not isinstance(limits, Mapping):
        raise RiskError(field, limits, "must map symbol to a limit")
    out = {}
    for sym, v in limits.items():
        if not isinstance(sym, str) or not sym:
            raise RiskError(field, sym, "keys must be non-empty symbols")
        out[sym] = limit_of(f"{field}[{sym}]", v)
    return out


class RiskView:
    """What the account holds, as the controls read it (the manager keeps it current).

    ``qty`` and ``value`` are the signed position and market value by symbol (a short is
    negative); ``gross`` is ``sum |value|``, ``net`` is ``sum value``; ``equity`` now,
    ``start_equity`` at the session's start, ``peak_equity`` the highest seen since the manager
    started (or was reset). ``orders_today``/``fills_today`` count since the session started;
    ``open_orders`` is what works at the broker now. ``now_ns`` is the broker's time.
    """

    __slots__ = (
        "equity",
        "fills_today",
        "gross",
        "net",
        "now_ns",
        "open_orders",
        "orders_today",
        "peak_equity",
        "qty",
        "start_equity",
        "value",
        "version",
    )

    def __init__(self, equity: Decimal = ZERO) -> None:
        self.equity = self.start_equity = self.peak_equity = equity
        self.qty: dict[str, Decimal] = {}
        self.value: dict[str, Decimal] = {}
        self.gross = self.net = ZERO
        self.orders_today = self.fills_today = self.open_orders = 0
        self.now_ns = 0
        # A new number, unique in the process, whenever the equity or the positions change:
        # a control may cache an answer by it (shared between managers, it cannot collide).
        self.version = next(_VERSIONS)

    def set_positions(self, positions: Mapping[str, tuple[Decimal, Decimal]]) -> None:
        """Replace the positions: symbol -> (signed qty, signed market value)."""
        self.qty = {s: q for s, (q, _) in positions.items() if q}
        self.value = {s: v for s, (q, v) in positions.items() if q}
        gross = net = ZERO
        for v in self.value.values():
            gross, net = _add(gross, _abs(v)), _add(net, v)
        self.gross, self.net = gross, net
        self.version = next(_VERSIONS)

    def __repr__(self) -> str:
        return (
            f"RiskView(equity={self.equity}, start={self.start_equity}, peak={self.peak_equity}, "
            f"gross={self.gross}, net={self.net}, orders_today={self.orders_today}, "
            f"fills_today={self.fills_today}, open_orders={self.open_orders})"
        )


class Prices(Protocol):
    """Where the controls read the market: the last trade price and the quote (bid, ask)."""

    def last(self, symbol: str) -> Decimal | None: ...
    def quote(self, symbol: str) -> tuple[Decimal | None, Decimal | None]: ...


class Proposal:
    """One order (or replacement) being judged: ``qty`` of ``symbol`` on ``side``; ``position``
    held and ``pending`` (the signed open quantity of the orders on the same side, not counting
    this one) when it was asked. The worst-case positions (``before``, ``after``) and
    ``adds_risk`` are computed once; the market prices are read lazily from ``prices``: only the
    controls that need them pay for them."""

    __slots__ = (
        "_quote",
        "_reference",
        "adds_risk",
        "after",
        "before",
        "buy",
        "fixed_price",
        "is_replace",
        "pending",
        "position",
        "prices",
        "qty",
        "request",
        "side",
        "symbol",
    )

    def __init__(
        self,
        request: OrderRequest,
        qty: Decimal | None,
        position: Decimal,
        pending: Decimal,
        prices: Prices,
        *,
        is_replace: bool = False,
    ) -> None:
        self.request = r = request
        self.symbol = r.symbol
        side = self.side = r.side
        buy = self.buy = side is _BUY
        self.position, self.pending, self.prices = position, pending, prices
        self.is_replace = is_replace
        self._reference: Decimal | bool | None = False  # False: not read yet
        self._quote: tuple[Decimal | None, Decimal | None] | None = None
        lp = r.limit_price
        self.fixed_price = lp if lp is not None else r.stop_price
        if qty is None:  # a notional order: its size at the price it would trade at
            notional = r.notional
            price = self.price
            qty = _div(notional, price) if notional is not None and price else ZERO
        self.qty = qty
        before = self.before = _add(position, pending) if pending else position
        after = self.after = _add(before, qty) if buy else _sub(before, qty)
        self.adds_risk = _abs(after) > _abs(before)

    @property
    def sign(self) -> int:
        return 1 if self.buy else -1

    @property
    def reference(self) -> Decimal | None:
        """The market's reference price: the last trade, else the quote's mid, else None."""
        ref = self._reference
        if ref is False:
            ref = self.prices.last(self.symbol)
            if ref is None:
                bid, ask = self.quote
                ref = _div(_add(bid, ask), 2) if bid is not None and ask is not None else None
            self._reference = ref
        return ref  # type: ignore[return-value]

    @property
    def quote(self) -> tuple[Decimal | None, Decimal | None]:
        q = self._quote
        if q is None:
            q = self._quote = self.prices.quote(self.symbol)
        return q

    @property
    def touch(self) -> Decimal | None:
        """The price a market order would meet: the ask for a buy, the bid for a sell."""
        bid, ask = self.quote
        return ask if self.buy else bid

    @property
    def price(self) -> Decimal | None:
        """What the order is valued at: its limit price (a stop's stop price), else the
        reference price."""
        p = self.fixed_price
        return p if p is not None else self.reference

    @property
    def notional(self) -> Decimal | None:
        p = self.price
        return None if p is None else _mul(self.qty, p)

    @property
    def reduces(self) -> bool:
        """Whether the order only reduces the position: on the other side of it, and small
        enough that, with the open orders on its side, it cannot flip it (a flip is not a
        reduction). Bracket and OTO entries open follow-up orders, so they never reduce."""
        cls = self.request.order_class
        if cls is not _SIMPLE and cls is not _OCO:
            return False
        pos = self.position
        if not pos or (pos > ZERO) == self.buy:
            return False
        return _add(self.qty, _abs(self.pending)) <= _abs(pos)

    @property
    def flips(self) -> bool:
        """Whether the order is on the other side of the position but would take it through
        zero to the other side."""
        pos = self.position
        if not pos or (pos > ZERO) == self.buy:
            return False
        return _add(self.qty, _abs(self.pending)) > _abs(pos)

    def __repr__(self) -> str:
        return (
            f"Proposal({self.side.value} {self.qty} {self.symbol}, position={self.position}, "
            f"pending={self.pending})"
        )


@runtime_checkable
class Control(Protocol):
    """One pre-trade control: ``code`` names its denials; ``check`` raises
    :class:`~fillforge.errors.RiskDeniedError` or returns, and changes nothing."""

    code: str

    def check(self, p: Proposal, view: RiskView) -> None: ...


@runtime_checkable
class AccountControl(Control, Protocol):
    """A control on the whole account: ``breach(view)`` is the denial it would raise now for
    any order that adds risk (None when within the limit), asked between orders too."""

    def breach(self, view: RiskView) -> RiskDeniedError | None: ...
