"""A plain-Python price-time order book on ``sortedcontainers.SortedDict``: the competitor.

Written for speed, as a fair baseline for ``fillforge.OrderBook``: one ``SortedDict`` of levels
per side keyed so that the best level is always the first key (bids by ``-price``, asks by
``price``), a ``deque`` of orders per level (FIFO), and a ``dict`` from order id to the order.
An order is a small mutable list ``[order_id, side, price, qty]``. Supports limit GTC, limit IOC,
market (IOC) and cancel, with the same outcome tuples ``(status, reason, filled, remaining)`` and
fill rows ``(taker, maker, price, qty, maker_remaining)`` as fillforge, so results can be
compared exactly. A cancel of an unknown id returns a rejection instead of raising.
"""

from __future__ import annotations

from collections import deque

from sortedcontainers import SortedDict

# Codes as in fillforge.codes (plain ints here: no enum lookups in the hot path).
RESTING, FILLED, CANCELED, REJECTED = 1, 2, 3, 4
NONE, USER, IOC_REMAINDER, UNKNOWN_ORDER, DUPLICATE_ORDER_ID = 0, 1, 2, 7, 8

Outcome = tuple[int, int, int, int]
Fill = tuple[int, int, int, int, int]

# Level: [deque of orders, total qty]. Order: [order_id, side, price, qty].
Order = list[int]


class SortedBook:
    """Price-time book: limit GTC/IOC, market, cancel."""

    __slots__ = ("asks", "bids", "fills", "orders", "rejected")

    def __init__(self) -> None:
        self.bids = SortedDict()  # -price -> level
        self.asks = SortedDict()  # price -> level
        self.orders: dict[int, Order] = {}
        self.fills: list[Fill] = []
        self.rejected = 0

    def _match(self, taker: int, side: int, limit: int | None, qty: int) -> int:
        """Take up to ``qty`` from the opposite side within ``limit``; return what is left."""
        levels = self.asks if side == 1 else self.bids
        orders = self.orders
        fills = self.fills
        while qty and levels:
            key, level = levels.peekitem(0)
            price = key if side == 1 else -key
            if limit is not None and (price > limit if side == 1 else price < limit):
                break
            queue = level[0]
            while qty and queue:
                maker = queue[0]
                q = maker[3] if maker[3] < qty else qty
                maker[3] -= q
                qty -= q
                level[1] -= q
                fills.append((taker, maker[0], price, q, maker[3]))
                if maker[3] == 0:
                    queue.popleft()
                    del orders[maker[0]]
            if not queue:
                del levels[key]
        return qty

    def limit(self, order_id: int, side: int, price: int, qty: int, ioc: bool = False) -> Outcome:
        if order_id in self.orders:
            self.rejected += 1
            return (REJECTED, DUPLICATE_ORDER_ID, 0, qty)
        left = self._match(order_id, side, price, qty)
        if not left:
            return (FILLED, NONE, qty, 0)
        if ioc:
            return (CANCELED, IOC_REMAINDER, qty - left, left)
        order = [order_id, side, price, left]
        self.orders[order_id] = order
        levels, key = (self.bids, -price) if side == 1 else (self.asks, price)
        level = levels.get(key)
        if level is None:
            levels[key] = [deque((order,)), left]
        else:
            level[0].append(order)
            level[1] += left
        return (RESTING, NONE, qty - left, left)

    def market(self, order_id: int, side: int, qty: int) -> Outcome:
        if order_id in self.orders:
            self.rejected += 1
            return (REJECTED, DUPLICATE_ORDER_ID, 0, qty)
        left = self._match(order_id, side, None, qty)
        if not left:
            return (FILLED, NONE, qty, 0)
        return (CANCELED, IOC_REMAINDER, qty - left, left)

    def cancel(self, order_id: int) -> Outcome:
        order = self.orders.pop(order_id, None)
        if order is None:
            self.rejected += 1
            return (REJECTED, UNKNOWN_ORDER, 0, 0)
        side, price, qty = order[1], order[2], order[3]
        levels, key = (self.bids, -price) if side == 1 else (self.asks, price)
        level = levels[key]
        level[0].remove(order)  # a few orders per level: a short scan in C
        level[1] -= qty
        if not level[0]:
            del levels[key]
        return (CANCELED, USER, 0, qty)

    # ----- queries (for checking, not timed) ----------------------------------------------

    def depth(self, side: int) -> list[tuple[int, int, int]]:
        """``(price, total qty, order count)`` per level, best first."""
        levels = self.bids if side == 1 else self.asks
        sign = -1 if side == 1 else 1
        return [(sign * key, level[1], len(level[0])) for key, level in levels.items()]

    def order_info(self) -> dict[int, tuple[int, int, int, int]]:
        """Every resting order as ``id -> (side, price, remaining, queue_position)``."""
        out: dict[int, tuple[int, int, int, int]] = {}
        for levels in (self.bids, self.asks):
            for level in levels.values():
                for pos, (oid, side, price, qty) in enumerate(level[0]):
                    out[oid] = (side, price, qty, pos)
        return out

    def __len__(self) -> int:
        return len(self.orders)
