"""The reservation book: what each open order holds of the account's buying power.

An open order reserves ``qty`` (still unfilled) at ``price`` (its limit, else the reference
price the broker chose). Only the part that would open or extend a position counts: per
(symbol, side) the oldest orders reduce the position first, so the reserved value follows fills
without bookkeeping. The book keeps, per (symbol, side), the reservations oldest first, their
quantity and their full value (sum of ``qty * price``), and a cache of (the position it was
computed at, reducing capacity left, reserved value), so that a new order costs O(1), not a walk
over every open order. Appending a reservation extends the cache; anything else drops it, and a
fill (the position moving) makes it stale. A rebuild walks only the oldest orders of that key,
those that reduce the position.

The book checks nothing about buying power: :mod:`fillforge.risk.checks` decides whether an
order may reserve; the book only records it, and refuses bad ids and amounts with
:class:`~fillforge.errors.OrderValidationError`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Annotated

from pydantic import Field

from fillforge.errors import OrderValidationError
from fillforge.orders.enums import OrderSide
from fillforge.orders.models import FrozenModel
from fillforge.portfolio._exact import CTX, ZERO, check_symbol, positive, side_of

__all__ = ["Reservation", "ReservationBook"]

_Key = tuple[str, OrderSide]
# Exact arithmetic in the shared context, without entering it per call (a localcontext costs
# more than the sum it guards).
_add, _sub, _mul, _neg = CTX.add, CTX.subtract, CTX.multiply, CTX.minus
_SELL = OrderSide.SELL


class Reservation(FrozenModel):
    """An open order's claim: ``qty`` still unfilled at ``price``."""

    order_id: Annotated[str, Field(min_length=1)]
    symbol: Annotated[str, Field(min_length=1)]
    side: OrderSide
    qty: Decimal
    price: Decimal


_adopt = Reservation.adopter()  # every field, declared order (valid by construction)
# A reservation as the book holds it: (symbol, side, qty, price). The Reservation model is built
# only for a caller who reads one (``get``, ``reservation``, ``reservations``): the simulator's
# orders reserve and release without making one.
_Held = tuple[str, OrderSide, Decimal, Decimal]


def _reservation(order_id: str, h: _Held) -> Reservation:
    return _adopt({"order_id": order_id, "symbol": h[0], "side": h[1], "qty": h[2], "price": h[3]})


class ReservationBook:
    """Open orders' reservations by order id, oldest first. ``position(symbol)`` gives the
    signed position the reservations reduce first (the ledger's :meth:`~fillforge.portfolio.
    Ledger.qty`)."""

    def __init__(self, position: Callable[[str], Decimal]) -> None:
        self._position = position
        self._res: dict[str, _Held] = {}
        self._keyed: dict[_Key, dict[str, _Held]] = {}
        self._open: dict[_Key, Decimal] = {}
        self._value: dict[_Key, Decimal] = {}
        self._cache: dict[_Key, tuple[Decimal, Decimal, Decimal]] = {}

    # ----- what an order would need -----------------------------------------------------------

    def capacity(self, symbol: str, side: OrderSide) -> Decimal:
        """How much a ``side`` order in ``symbol`` can trade before it opens a position."""
        qty = self._position(symbol)
        return max(qty if side is _SELL else -qty, ZERO)

    def open_qty(self, symbol: str, side: OrderSide) -> Decimal:
        """The unfilled quantity of the open ``side`` orders in ``symbol``."""
        return self._open.get((symbol, side), ZERO)

    def opening(self, symbol: str, side: OrderSide, qty: Decimal) -> Decimal:
        """The part of a new ``qty`` that would open or extend a position: what the position
        cannot absorb after the earlier open orders on the same side have reduced it."""
        pos = self._position(symbol)
        capacity = _sub(pos if side is _SELL else _neg(pos), self._open.get((symbol, side), ZERO))
        return _sub(qty, min(qty, capacity)) if capacity > ZERO else qty

    @property
    def reserved(self) -> Decimal:
        """Buying power held by open orders: the part of each that would not reduce a position,
        at its price."""
        total = ZERO
        for key in self._open:
            total = _add(total, self._cached(key)[2])
        return total

    def _cached(self, key: _Key) -> tuple[Decimal, Decimal, Decimal]:
        """(position, reducing capacity left, reserved value) of ``key``, rebuilt if stale."""
        pos = self._position(key[0])
        cached = self._cache.get(key)
        if cached is not None and cached[0] == pos:
            return cached
        # Full value, less what the oldest orders take off it by reducing the position: only
        # those are walked.
        capacity, value = self.capacity(*key), self._value[key]
        for _, _, qty, price in self._keyed[key].values():
            if not capacity:
                break
            reduces = min(capacity, qty)
            capacity = _sub(capacity, reduces)
            value = _sub(value, _mul(reduces, price))
        cached = self._cache[key] = (pos, capacity, value)
        return cached

    # ----- changes ----------------------------------------------------------------------------

    def add(
        self, order_id: str, symbol: str, side: OrderSide | str, qty: Decimal, price: Decimal
    ) -> Reservation:
        """Record ``order_id``'s reservation, the youngest of its (symbol, side). The caller has
        run the pre-trade checks (:meth:`fillforge.risk.RiskChecks.check`)."""
        if not isinstance(order_id, str) or not order_id:
            raise OrderValidationError("order_id", order_id, "must be a non-empty string")
        if order_id in self._res:
            raise OrderValidationError("order_id", order_id, "already has an open reservation")
        check_symbol(symbol)
        held = (symbol, side_of(side), positive("qty", qty), positive("price", price))
        self.put(order_id, *held)
        return _reservation(order_id, held)

    def put(self, order_id: str, symbol: str, side: OrderSide, q: Decimal, p: Decimal) -> None:
        """:meth:`add` for arguments its caller has checked (an account's validated intent under
        an order id it has no reservation for yet): nothing is checked again."""
        h = self._res[order_id] = (symbol, side, q, p)
        key = (symbol, side)
        self._keyed.setdefault(key, {})[order_id] = h
        self._open[key] = _add(self._open.get(key, ZERO), q)
        self._value[key] = _add(self._value.get(key, ZERO), _mul(q, p))
        cached = self._cache.get(key)
        if cached is not None:
            pos, left, value = cached
            reduces = min(left, q)
            self._cache[key] = (pos, _sub(left, reduces), _add(value, _mul(_sub(q, reduces), p)))

    def rekey(self, order_id: str, new_order_id: str) -> None:
        """Move a reservation to another order id (one made before the order had its id)."""
        h = self._held(order_id)
        if new_order_id in self._res:
            raise OrderValidationError("order_id", new_order_id, "already has an open reservation")
        key = (h[0], h[1])
        keyed = self._keyed[key]
        newest = next(reversed(keyed)) == order_id
        del self._res[order_id], keyed[order_id]
        self._res[new_order_id] = keyed[new_order_id] = h  # the same claim, renamed
        if not newest:  # it moved behind younger orders: their reducing order changed
            self._cache.pop(key, None)

    def release_partial(self, order_id: str, qty: Decimal) -> Decimal:
        """``qty`` of the order filled (or was canceled): shrink its reservation and return what
        is left. Reaching zero (or overfilling) releases it."""
        h = self._held(order_id)
        return self._shrink(order_id, h, positive("qty", qty))

    def shrink(self, order_id: str, q: Decimal) -> Decimal:
        """:meth:`release_partial` for a ``q`` its caller checked (a venue's fill: a Decimal
        above 0) of an order that may hold no reservation (then nothing changes: 0)."""
        h = self._res.get(order_id)
        return ZERO if h is None else self._shrink(order_id, h, q)

    def _shrink(self, order_id: str, h: _Held, q: Decimal) -> Decimal:
        symbol, side, qty, price = h
        left = qty - q
        if left > ZERO:
            kept = self._res[order_id] = (symbol, side, left, price)
            key = (symbol, side)
            keyed = self._keyed[key]
            keyed[order_id] = kept  # keeps its place in line
            self._forget(key, keyed, q, price)
            return left
        self._drop(order_id, h)
        return ZERO

    def release(self, order_id: str) -> Decimal:
        """Drop the order's reservation (it was canceled, rejected or filled); return its qty."""
        h = self._held(order_id)
        self._drop(order_id, h)
        return h[2]

    def discard(self, order_id: str) -> None:
        """:meth:`release` the order's reservation if it holds one (else nothing changes)."""
        h = self._res.get(order_id)
        if h is not None:
            self._drop(order_id, h)

    def _drop(self, order_id: str, h: _Held) -> None:
        key = (h[0], h[1])
        keyed = self._keyed[key]
        del self._res[order_id], keyed[order_id]
        self._forget(key, keyed, h[2], h[3])

    def _forget(self, key: _Key, keyed: dict[str, _Held], qty: Decimal, price: Decimal) -> None:
        """``qty`` at ``price`` of ``key`` (whose reservations are ``keyed``) is no longer
        reserved."""
        left = _sub(self._open[key], qty)
        value = _sub(self._value[key], _mul(qty, price))
        if left > ZERO and keyed:
            self._open[key], self._value[key] = left, value
        else:
            del self._open[key], self._value[key], self._keyed[key]
        self._cache.pop(key, None)

    @contextmanager
    def without(self, order_id: str) -> Iterator[Reservation]:
        """Inside the block, ``order_id``'s reservation is released (to check what a
        replacement would take in its place); afterwards the book is exactly as before."""
        r = self.get(order_id)
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
            yield r
        finally:
            self._res, keyed, self._open, self._value, self._cache = saved
            self._keyed[key] = keyed

    # ----- queries ----------------------------------------------------------------------------

    def get(self, order_id: str) -> Reservation:
        """The order's open reservation; :class:`~fillforge.errors.OrderValidationError` if it
        has none."""
        return _reservation(order_id, self._held(order_id))

    def _held(self, order_id: str) -> _Held:
        h = self._res.get(order_id)
        if h is None:
            raise OrderValidationError("order_id", order_id, "has no open reservation")
        return h

    def reservations(self) -> dict[str, Reservation]:
        """The open reservations by order id, oldest first."""
        return {oid: _reservation(oid, h) for oid, h in self._res.items()}

    def reservation(self, order_id: str) -> Reservation | None:
        """The order's open reservation, or None."""
        h = self._res.get(order_id)
        return None if h is None else _reservation(order_id, h)

    def holds(self, order_id: str) -> bool:
        """Whether the order holds a reservation (:meth:`reservation` without building it)."""
        return order_id in self._res

    def __len__(self) -> int:
        return len(self._res)
