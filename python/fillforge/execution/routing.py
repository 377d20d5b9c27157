"""Smart order routing across venues (each a :class:`~fillforge.broker.Broker`).

The decision is pure, over each venue's touch (:class:`Touch`: the far touch a child takes, the
ask for a buy and the bid for a sell, with its displayed size and the venue's fee schedule):

* :func:`rank` orders the venues best first: by price (a lower ask for a buy, a higher bid for a
  sell), then by displayed size (bigger first), then by fee (the venue's
  :class:`~fillforge.sim.fees.FeeSchedule` on the child, cheaper first), then in listing order;
* :func:`allocate` splits a child across them by displayed liquidity: price levels are taken
  best first; inside a level the lots are shared pro rata to the displayed size (floored to the
  lot), and the lots left over go one venue at a time, best first, up to what each displays.
  The parts sum to the child exactly; no venue gets more than it displays unless every venue is
  exhausted, and then the excess goes to the best venue.

:class:`Router` is the plumbing: it reads each venue's latest quote from its broker and sends
the child (or its parts) there. The rules are in ``docs/execution.md`` ("Routing").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from itertools import groupby

from fillforge.broker import Broker
from fillforge.broker.models import Quote
from fillforge.errors import ExecutionError
from fillforge.execution.schedules import _on_grid, _positive
from fillforge.orders.enums import OrderSide
from fillforge.orders.models import OrderRequest
from fillforge.orders.order import Order
from fillforge.sim.fees import FeeSchedule

__all__ = ["Allocation", "RouteVenue", "Router", "Touch", "allocate", "best", "rank", "touch"]

_ZERO = Decimal(0)
_NO_FEES = FeeSchedule()


@dataclass(frozen=True, slots=True)
class Touch:
    """One venue's far touch for a child on ``side``: ``price`` (None: that side is empty) and
    its displayed ``size``; ``fees`` is the venue's schedule for taking; ``index`` its place in
    the router's list (the last tie-break)."""

    venue: str
    price: Decimal | None
    size: Decimal
    fees: FeeSchedule = _NO_FEES
    index: int = 0


@dataclass(frozen=True, slots=True)
class Allocation:
    """``qty`` of a child for ``venue``."""

    venue: str
    qty: Decimal


def touch(
    venue: str, side: OrderSide, quote: Quote | None, fees: FeeSchedule = _NO_FEES, index: int = 0
) -> Touch:
    """The touch a child on ``side`` would take in ``quote``: the ask for a buy, the bid for a
    sell (None quote: an empty touch)."""
    if quote is None:
        return Touch(venue, None, _ZERO, fees, index)
    if side is OrderSide.BUY:
        return Touch(venue, quote.ask_price, quote.ask_size, fees, index)
    return Touch(venue, quote.bid_price, quote.bid_size, fees, index)


def _side(side: object) -> OrderSide:
    if not isinstance(side, OrderSide):
        raise ExecutionError("side", side, "expected an OrderSide")
    return side


def _priced(touches: Sequence[Touch]) -> list[Touch]:
    if not touches:
        raise ExecutionError("touches", touches, "no venue to route to")
    priced = [t for t in touches if t.price is not None]
    if not priced:
        names = [t.venue for t in touches]
        raise ExecutionError("touches", names, "no venue shows a price on that side")
    return priced


def rank(side: OrderSide, touches: Sequence[Touch], qty: Decimal) -> list[Touch]:
    """The venues showing a price, best first for a child of ``qty`` on ``side``: price, then
    displayed size, then the fee on the child at that price, then listing order. A venue with an
    empty touch is left out; none showing a price is refused."""
    s = _side(side)
    q = _positive(qty, "qty")
    sign = 1 if s is OrderSide.BUY else -1

    def key(t: Touch) -> tuple[Decimal, Decimal, Decimal, int]:
        assert t.price is not None
        return (sign * t.price, -t.size, t.fees.raw(q, t.price), t.index)

    return sorted(_priced(touches), key=key)


def best(side: OrderSide, touches: Sequence[Touch], qty: Decimal) -> Touch:
    """The one venue :func:`rank` puts first."""
    return rank(side, touches, qty)[0]


def allocate(
    side: OrderSide, qty: Decimal, lot: Decimal, touches: Sequence[Touch]
) -> list[Allocation]:
    """Split ``qty`` (on the ``lot`` grid) across the venues by displayed liquidity, price level
    by price level (the module's rule). Parts are in rank order, none empty; they sum to
    ``qty`` exactly."""
    lot_ = _positive(lot, "lot")
    lots = _on_grid(qty, lot_, "qty")
    ranked = rank(side, touches, qty)
    caps = [int(t.size // lot_) for t in ranked]
    got = [0] * len(ranked)
    left = lots
    for _, level in groupby(range(len(ranked)), key=lambda k: ranked[k].price):
        idx = list(level)
        room = sum(caps[k] for k in idx)
        take = min(left, room)
        if take:
            for k in idx:
                got[k] = take * caps[k] // room
            extra = take - sum(got[k] for k in idx)
            for k in idx:  # best first, each up to its displayed size
                add = min(extra, caps[k] - got[k])
                got[k] += add
                extra -= add
        left -= take
        if not left:
            break
    got[0] += left  # every venue is exhausted: the rest to the best
    return [Allocation(t.venue, n * lot_) for t, n in zip(ranked, got, strict=True) if n]


@dataclass(frozen=True, slots=True)
class RouteVenue:
    """A venue to route to: its ``name``, the ``broker`` that reaches it, the ``fees`` a taking
    child pays there."""

    name: str
    broker: Broker
    fees: FeeSchedule = _NO_FEES


class Router:
    """Routes children across ``venues`` (names unique; at least one): :meth:`touches` reads
    their quotes, :meth:`choose` and :meth:`split` decide, :meth:`send` submits."""

    __slots__ = ("_by_name", "venues")

    def __init__(self, venues: Sequence[RouteVenue]) -> None:
        vs = tuple(venues)
        if not vs:
            raise ExecutionError("venues", list(vs), "at least one venue")
        by_name: dict[str, RouteVenue] = {}
        for i, v in enumerate(vs):
            if not isinstance(v, RouteVenue):
                raise ExecutionError(f"venues[{i}]", v, "expected a RouteVenue")
            if not isinstance(v.name, str) or not v.name:
                raise ExecutionError(f"venues[{i}].name", v.name, "expected a non-empty name")
            if v.name in by_name:
                raise ExecutionError(f"venues[{i}].name", v.name, "listed twice")
            if not isinstance(v.fees, FeeSchedule):
                raise ExecutionError(f"venues[{i}].fees", v.fees, "expected a FeeSchedule")
            by_name[v.name] = v
        self.venues = vs
        self._by_name: Mapping[str, RouteVenue] = by_name

    def venue(self, name: str) -> RouteVenue:
        v = self._by_name.get(name)
        if v is None:
            raise ExecutionError("venue", name, f"not one of {list(self._by_name)}")
        return v

    def touches(self, symbol: str, side: OrderSide) -> list[Touch]:
        """Every venue's touch for ``side`` from its broker's latest quote of ``symbol``."""
        s = _side(side)
        return [
            touch(v.name, s, v.broker.latest_quote(symbol), v.fees, i)
            for i, v in enumerate(self.venues)
        ]

    def choose(self, symbol: str, side: OrderSide, qty: Decimal) -> RouteVenue:
        """The best venue for a child of ``qty`` (:func:`rank`)."""
        return self.venue(best(side, self.touches(symbol, side), qty).venue)

    def split(self, symbol: str, side: OrderSide, qty: Decimal, lot: Decimal) -> list[Allocation]:
        """The child's parts by displayed liquidity (:func:`allocate`)."""
        return allocate(side, qty, lot, self.touches(symbol, side))

    def send(
        self, request: OrderRequest, *, split: bool = False, lot: Decimal = Decimal(1)
    ) -> list[tuple[RouteVenue, Order]]:
        """Submit ``request`` (a quantity order) to the best venue, or with ``split`` its parts
        to each venue by :func:`allocate`. A part's client order id is the request's with
        ``.<venue index>`` appended (none: the broker names it)."""
        if request.qty is None:
            raise ExecutionError("qty", request.notional, "routing needs a quantity order")
        if split:
            parts = [
                (self.venue(a.venue), a.qty)
                for a in self.split(request.symbol, request.side, request.qty, lot)
            ]
        else:
            parts = [(self.choose(request.symbol, request.side, request.qty), request.qty)]
        out = []
        for v, qty in parts:
            cid = request.client_order_id
            if cid is not None:
                cid = f"{cid}.{self.venues.index(v)}"
            part = OrderRequest(**{**request.model_dump(), "qty": qty, "client_order_id": cid})
            out.append((v, v.broker.submit(part)))
        return out

    def __repr__(self) -> str:
        return f"Router(venues={[v.name for v in self.venues]})"
