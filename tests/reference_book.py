"""A small, obviously correct reference model of :class:`fillforge.OrderBook` in plain Python.

Clarity over speed: each side is one list of resting orders in *time priority* (the order in
which they joined the book or were re-queued), and every question is a linear scan over it:

- the maker a taker meets next is the best-priced order of the opposite side, earliest first;
- an order's queue position is the number of same-side, same-price orders before it in the list.

Joining the book (or losing priority) appends to the list; keeping priority mutates in place.

It mirrors the rules of ``rust/core/src/book/mod.rs``:

- price-time matching, fills at the maker's price;
- market and IOC orders cancel what they cannot fill, FOK fills completely or not at all, a
  post-only order that would take liquidity is rejected (never repriced);
- stop and stop-limit orders are held off book; a buy stop triggers when any print of a taker is
  >= its stop, a sell stop when any print is <= its stop; a stop submitted when the last trade
  already meets its condition triggers at once; the stops one taker triggers run after it, in
  trigger order (buy stops nearest-first then sell stops nearest-first, ties by submission), and
  stops triggered by those run after every stop already triggered (a FIFO queue);
- reduce keeps priority (reducing by exactly the open quantity cancels; by more is an error);
  modify keeps priority only for a quantity decrease at the same price, otherwise the order is
  re-queued at the back of its new level and may first match as a taker; a post-only modify that
  would cross is rejected and leaves the order as it was;
- a price level's total may not exceed ``2^62 - 1`` (so every aggregate fits an int64): a limit
  order or modify that could push its level past that is refused with ``InvalidQuantityError``,
  and a triggered stop-limit whose remainder has no room is canceled (reason INVALID_QUANTITY).

It raises the same exception types as the compiled book, checked in the same order, with the
same messages (the order of checks matters when an operation has several faults). Matching
halts (``OrderBook.matching``) and book-building adds are not modelled.
"""

from __future__ import annotations

from dataclasses import dataclass

from fillforge import (
    DuplicateOrderIdError,
    InvalidOrderError,
    InvalidPriceError,
    InvalidQuantityError,
    PriceOffGridError,
    QuantityOffGridError,
    Reason,
    Side,
    Status,
    TimeInForce,
    UnknownOrderError,
)

MAX_QTY = (1 << 62) - 1
MAX_ABS_PRICE = 1 << 62

BUY = int(Side.BUY)
SELL = int(Side.SELL)
RESTING_TIFS = (int(TimeInForce.GTC), int(TimeInForce.DAY))

# (status, reason, filled, remaining)
Outcome = tuple[int, int, int, int]
# (taker, maker, price, qty, maker_remaining)
Fill = tuple[int, int, int, int, int]
# (order_id, status, reason, filled, remaining)
Event = tuple[int, int, int, int, int]
# (side, price, remaining, queue_position, qty_ahead)
OrderInfo = tuple[int, int, int, int, int]


def outcome(status: Status, reason: Reason, filled: int, remaining: int) -> Outcome:
    return (int(status), int(reason), filled, remaining)


@dataclass(eq=False)
class RestingOrder:
    order_id: int
    side: int
    price: int
    qty: int
    tif: int
    post_only: bool


@dataclass(eq=False)
class HeldStop:
    order_id: int
    side: int
    stop_price: int
    limit_price: int | None
    qty: int
    tif: int
    seq: int

    def trigger_rank(self) -> tuple[int, int, int]:
        """Order in which stops triggered together run: buy stops, lowest (nearest) stop first,
        then sell stops, highest (nearest) stop first; ties by submission."""
        if self.side == BUY:
            return (0, self.stop_price, self.seq)
        return (1, -self.stop_price, self.seq)

    def triggered_by(self, prints: list[int]) -> bool:
        if self.side == BUY:
            return any(p >= self.stop_price for p in prints)
        return any(p <= self.stop_price for p in prints)


def accepts(taker_side: int, limit: int | None, maker_price: int) -> bool:
    """Would a taker on ``taker_side`` with ``limit`` (None: market) trade at ``maker_price``?"""
    if limit is None:
        return True
    return maker_price <= limit if taker_side == BUY else maker_price >= limit


def better(side: int, a: int, b: int) -> bool:
    """Is price ``a`` strictly better than ``b`` for a resting order on ``side``?"""
    return a > b if side == BUY else a < b


class ReferenceBook:
    """Same public methods and results as :class:`fillforge.OrderBook` (the modelled subset)."""

    def __init__(self, *, tick: int = 1, lot: int = 1) -> None:
        if tick <= 0:
            raise PriceOffGridError(f"tick={tick}: must be a positive integer")
        if lot <= 0:
            raise InvalidQuantityError(f"lot={lot}: must be a positive integer")
        self.tick = tick
        self.lot = lot
        self.reset()

    def reset(self) -> None:
        self._book: dict[int, list[RestingOrder]] = {BUY: [], SELL: []}
        self._stops: list[HeldStop] = []
        self._stop_seq = 0
        self._triggered: list[HeldStop] = []
        self._fills: list[Fill] = []
        self._events: list[Event] = []
        self.last_trade_price: int | None = None

    # ----- validation (never mutates) ----------------------------------------------------

    @staticmethod
    def _check_side(side: int) -> None:
        if side not in (BUY, SELL):
            raise InvalidOrderError(f"side={side}: expected 1 (buy) or -1 (sell)")

    @staticmethod
    def _check_tif(tif: int) -> None:
        if tif not in range(4):
            raise InvalidOrderError(f"tif={tif}: expected 0 (GTC), 1 (DAY), 2 (IOC) or 3 (FOK)")

    @staticmethod
    def _check_not_negative(field: str, qty: int) -> None:
        # The bindings refuse negative quantities before the core sees them.
        if qty < 0:
            raise InvalidQuantityError(f"{field}={qty}: must be positive")

    def _check_qty(self, field: str, qty: int) -> None:
        if qty <= 0:
            raise InvalidQuantityError(f"{field}={qty}: must be positive")
        if qty > MAX_QTY:
            raise InvalidQuantityError(f"{field}={qty}: exceeds the maximum 2^62-1")
        if qty % self.lot != 0:
            raise QuantityOffGridError(f"{field}={qty}: not a multiple of the lot size {self.lot}")

    def _check_price(self, field: str, price: int) -> None:
        if not -MAX_ABS_PRICE <= price <= MAX_ABS_PRICE:
            raise InvalidPriceError(f"{field}={price}: outside the supported range +/-2^62")
        if price % self.tick != 0:
            raise PriceOffGridError(
                f"{field}={price}: not a multiple of the price tick {self.tick}"
            )

    def _check_level_room(self, side: int, price: int, qty: int) -> None:
        if self.volume_at(side, price) + qty > MAX_QTY:
            raise InvalidQuantityError(
                f"qty={qty}: would make the price level's total exceed 2^62-1"
            )

    def _check_new_id(self, order_id: int) -> None:
        if self._find(order_id) is not None or self._find_stop(order_id) is not None:
            raise DuplicateOrderIdError(
                f"order_id={order_id}: an order with this id is already live"
            )

    # ----- lookups -------------------------------------------------------------------------

    def _find(self, order_id: int) -> RestingOrder | None:
        for side in (BUY, SELL):
            for o in self._book[side]:
                if o.order_id == order_id:
                    return o
        return None

    def _find_stop(self, order_id: int) -> HeldStop | None:
        for s in self._stops:
            if s.order_id == order_id:
                return s
        return None

    def _next_maker(self, taker_side: int) -> RestingOrder | None:
        """Best price on the opposite side; among equal prices, the earliest in time."""
        best: RestingOrder | None = None
        for o in self._book[-taker_side]:
            if best is None or better(o.side, o.price, best.price):
                best = o
        return best

    def _available(self, taker_side: int, limit: int | None) -> int:
        return sum(o.qty for o in self._book[-taker_side] if accepts(taker_side, limit, o.price))

    def _would_cross(self, side: int, price: int) -> bool:
        return self._available(side, price) > 0

    def _levels(self, side: int) -> list[tuple[int, int, int]]:
        """(price, total qty, order count) of ``side``, best first."""
        prices = sorted({o.price for o in self._book[side]}, reverse=side == BUY)
        out = []
        for p in prices:
            at = [o for o in self._book[side] if o.price == p]
            out.append((p, sum(o.qty for o in at), len(at)))
        return out

    # ----- matching ------------------------------------------------------------------------

    def _match(self, taker_id: int, side: int, limit: int | None, qty: int) -> int:
        remaining = qty
        prints: list[int] = []
        while remaining > 0:
            maker = self._next_maker(side)
            if maker is None or not accepts(side, limit, maker.price):
                break
            q = min(remaining, maker.qty)
            maker.qty -= q
            remaining -= q
            self._fills.append((taker_id, maker.order_id, maker.price, q, maker.qty))
            prints.append(maker.price)
            if maker.qty == 0:
                self._book[maker.side].remove(maker)
        if prints:
            self.last_trade_price = prints[-1]
            self._queue_triggers(prints)
        return qty - remaining

    def _queue_triggers(self, prints: list[int]) -> None:
        hit = [s for s in self._stops if s.triggered_by(prints)]
        for s in sorted(hit, key=HeldStop.trigger_rank):
            self._stops.remove(s)
            self._triggered.append(s)

    def _execute(
        self,
        order_id: int,
        side: int,
        limit: int | None,
        qty: int,
        tif: int,
        post_only: bool,
    ) -> Outcome:
        """Match, then rest or cancel what is left. The order is already validated."""
        if post_only and limit is not None and self._would_cross(side, limit):
            return outcome(Status.REJECTED, Reason.POST_ONLY_WOULD_CROSS, 0, qty)
        if tif == TimeInForce.FOK and self._available(side, limit) < qty:
            return outcome(Status.CANCELED, Reason.FOK_UNFILLABLE, 0, qty)
        filled = self._match(order_id, side, limit, qty)
        remaining = qty - filled
        if remaining == 0:
            return outcome(Status.FILLED, Reason.NONE, filled, 0)
        if limit is not None and tif in RESTING_TIFS:
            if self.volume_at(side, limit) + remaining > MAX_QTY:
                return outcome(Status.CANCELED, Reason.INVALID_QUANTITY, filled, remaining)
            self._book[side].append(RestingOrder(order_id, side, limit, remaining, tif, post_only))
            return outcome(Status.RESTING, Reason.NONE, filled, remaining)
        return outcome(Status.CANCELED, Reason.IOC_REMAINDER, filled, remaining)

    def _run_triggers(self) -> None:
        while self._triggered:
            s = self._triggered.pop(0)
            self._events.append((s.order_id, int(Status.TRIGGERED), int(Reason.NONE), 0, s.qty))
            out = self._execute(s.order_id, s.side, s.limit_price, s.qty, s.tif, False)
            self._events.append((s.order_id, *out))

    # ----- operations ----------------------------------------------------------------------

    def submit_limit(
        self,
        order_id: int,
        side: int,
        price: int,
        qty: int,
        tif: int = 0,
        post_only: bool = False,
    ) -> Outcome:
        # The book's order: time in force (parsed with the arguments), side, then quantity.
        self._check_tif(tif)
        self._check_side(side)
        self._check_not_negative("qty", qty)
        self._check_qty("qty", qty)
        self._check_price("price", price)
        self._check_level_room(side, price, qty)
        if post_only and tif not in RESTING_TIFS:
            raise InvalidOrderError(
                f"order_id={order_id}: post_only needs a limit order with GTC or DAY"
            )
        self._check_new_id(order_id)
        out = self._execute(order_id, side, price, qty, tif, post_only)
        self._run_triggers()
        return out

    def submit_market(self, order_id: int, side: int, qty: int, tif: int = 2) -> Outcome:
        # The book's order: time in force (parsed with the arguments), side, then quantity.
        self._check_tif(tif)
        self._check_side(side)
        self._check_not_negative("qty", qty)
        self._check_qty("qty", qty)
        self._check_new_id(order_id)
        out = self._execute(order_id, side, None, qty, tif, False)
        self._run_triggers()
        return out

    def submit_stop(
        self,
        order_id: int,
        side: int,
        stop_price: int,
        qty: int,
        limit_price: int | None = None,
        tif: int = 0,
    ) -> Outcome:
        # The book's order: time in force (parsed with the arguments), side, then quantity.
        self._check_tif(tif)
        self._check_side(side)
        self._check_not_negative("qty", qty)
        self._check_qty("qty", qty)
        self._check_price("stop_price", stop_price)
        if limit_price is not None:
            self._check_price("limit_price", limit_price)
        self._check_new_id(order_id)
        stop = HeldStop(order_id, side, stop_price, limit_price, qty, tif, self._stop_seq)
        self._stop_seq += 1
        last = self.last_trade_price
        if last is None or not stop.triggered_by([last]):
            self._stops.append(stop)
            return outcome(Status.PENDING, Reason.NONE, 0, qty)
        first_event = len(self._events)
        self._triggered.append(stop)
        self._run_triggers()
        # Its own outcome is the event after its TRIGGERED event.
        _, status, reason, filled, remaining = self._events[first_event + 1]
        return (status, reason, filled, remaining)

    def cancel(self, order_id: int) -> Outcome:
        o = self._find(order_id)
        if o is not None:
            self._book[o.side].remove(o)
            return outcome(Status.CANCELED, Reason.USER, 0, o.qty)
        s = self._find_stop(order_id)
        if s is not None:
            self._stops.remove(s)
            return outcome(Status.CANCELED, Reason.USER, 0, s.qty)
        raise UnknownOrderError(f"order_id={order_id}: no live order with this id")

    def reduce(self, order_id: int, qty: int) -> Outcome:
        self._check_not_negative("qty", qty)
        self._check_qty("qty", qty)
        target: RestingOrder | HeldStop | None = self._find(order_id) or self._find_stop(order_id)
        if target is None:
            raise UnknownOrderError(f"order_id={order_id}: no live order with this id")
        if qty > target.qty:
            raise InvalidQuantityError(f"qty={qty}: reduce exceeds the order's open quantity")
        if qty == target.qty:
            return self.cancel(order_id)
        target.qty -= qty
        return outcome(Status.REDUCED, Reason.USER, 0, target.qty)

    def modify(self, order_id: int, price: int, qty: int) -> Outcome:
        self._check_not_negative("qty", qty)
        self._check_qty("qty", qty)
        self._check_price("price", price)
        o = self._find(order_id)
        if o is None:
            if self._find_stop(order_id) is not None:
                raise InvalidOrderError(
                    f"order_id={order_id}: a held stop cannot be modified; "
                    "cancel it and submit a new one"
                )
            raise UnknownOrderError(f"order_id={order_id}: no live order with this id")
        if price != o.price or qty > o.qty:
            # Room for what the level at the new price gains (the order's own old quantity
            # stays counted there only if the price is the same).
            self._check_level_room(o.side, price, qty - (o.qty if price == o.price else 0))
        if price == o.price and qty <= o.qty:
            if qty == o.qty:
                return outcome(Status.AMENDED, Reason.NO_CHANGE, 0, qty)
            o.qty = qty  # in place: keeps its place in the queue
            return outcome(Status.AMENDED, Reason.NONE, 0, qty)
        if o.post_only and self._would_cross(o.side, price):
            return outcome(Status.REJECTED, Reason.POST_ONLY_WOULD_CROSS, 0, o.qty)
        self._book[o.side].remove(o)  # loses priority: re-enters as a new order
        out = self._execute(order_id, o.side, price, qty, o.tif, o.post_only)
        self._run_triggers()
        return out

    def expire_day(self) -> int:
        """Expire DAY orders: bids best-first, then asks best-first, then held stops."""
        expired: list[int] = []
        for side in (BUY, SELL):
            for price, _, _ in self._levels(side):
                for o in self._book[side]:
                    if o.price == price and o.tif == TimeInForce.DAY:
                        expired.append(o.order_id)
        for s in sorted(self._stops, key=HeldStop.trigger_rank):
            if s.tif == TimeInForce.DAY:
                expired.append(s.order_id)
        for order_id in expired:
            _, _, _, remaining = self.cancel(order_id)
            self._events.append(
                (order_id, int(Status.EXPIRED), int(Reason.DAY_EXPIRED), 0, remaining)
            )
        return len(expired)

    # ----- queries -------------------------------------------------------------------------

    def best_bid(self) -> tuple[int, int] | None:
        levels = self._levels(BUY)
        return (levels[0][0], levels[0][1]) if levels else None

    def best_ask(self) -> tuple[int, int] | None:
        levels = self._levels(SELL)
        return (levels[0][0], levels[0][1]) if levels else None

    def depth(self, side: int, levels: int) -> tuple[list[int], list[int], list[int]]:
        self._check_side(side)
        top = self._levels(side)[:levels]
        return ([p for p, _, _ in top], [q for _, q, _ in top], [c for _, _, c in top])

    def order(self, order_id: int) -> OrderInfo | None:
        o = self._find(order_id)
        if o is None:
            return None
        ahead: list[RestingOrder] = []
        for other in self._book[o.side]:
            if other is o:
                break
            if other.price == o.price:
                ahead.append(other)
        return (o.side, o.price, o.qty, len(ahead), sum(a.qty for a in ahead))

    def volume_at(self, side: int, price: int) -> int:
        self._check_side(side)
        return sum(o.qty for o in self._book[side] if o.price == price)

    def level_count(self, side: int) -> int:
        self._check_side(side)
        return len(self._levels(side))

    def is_stop_pending(self, order_id: int) -> bool:
        return self._find_stop(order_id) is not None

    def __len__(self) -> int:
        return len(self._book[BUY]) + len(self._book[SELL])

    @property
    def order_count(self) -> int:
        return len(self)

    @property
    def stop_count(self) -> int:
        return len(self._stops)

    @property
    def fill_count(self) -> int:
        return len(self._fills)

    def take_fills(self) -> list[Fill]:
        fills, self._fills = self._fills, []
        return fills

    def take_events(self) -> list[Event]:
        events, self._events = self._events, []
        return events
