"""Translation between the order manager's orders and a venue's Rust engine: engine order
numbers (``uid``) for order ids and back, which orders reached the engine, replacement and trade
ids, and an order's terms as an engine call (ticks, lots, time in force).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Final

from fillforge.codes import TimeInForce
from fillforge.errors import FillforgeError, SimulationError
from fillforge.orders.enums import OrderSide, OrderTimeInForce, OrderType
from fillforge.orders.order import Order
from fillforge.sim.venue import Market

__all__ = ["AUCTION", "Translation", "venue_reason"]

_TIF: Final = {
    OrderTimeInForce.GTC: TimeInForce.GTC,
    OrderTimeInForce.DAY: TimeInForce.DAY,
    OrderTimeInForce.IOC: TimeInForce.IOC,
    OrderTimeInForce.FOK: TimeInForce.FOK,
}
AUCTION: Final = {OrderTimeInForce.OPG: False, OrderTimeInForce.CLS: True}
# Members read once: ``OrderType.LIMIT`` goes through the enum metaclass's slow __getattr__ hook.
_BUY: Final = OrderSide.BUY
_PLAIN: Final = (OrderType.MARKET, OrderType.LIMIT)
_STOPS: Final = (OrderType.STOP, OrderType.STOP_LIMIT)
_ENGINE_ID: Final = re.compile(r"\border_id=\d+: ")


def venue_reason(e: FillforgeError) -> str:
    """The venue's refusal in the user's terms: without the engine's own order numbers, which
    name nothing the user knows (the user's order is the one refused)."""
    return _ENGINE_ID.sub("", str(e))


class Translation:
    """Ids both ways and engine calls. ``id_factory`` names replacements (default: the chain's
    first id with a replace number, ``o-1.r7``); trade ids are ``"<venue>-<n>"``."""

    def __init__(self, venue_name: str, id_factory: Callable[[], str] | None = None) -> None:
        self.uid: dict[str, int] = {}
        self.oid: dict[int, str] = {}
        self._venue_name = venue_name
        self._new_id = id_factory
        self._next_uid = itertools.count(1)
        self._trades = itertools.count(1)
        self._replaces = itertools.count(1)
        self._chain_root: dict[str, str] = {}  # a replacement's id -> its chain's first id
        self._in_engine: set[str] = set()

    def new_uid(self, order_id: str) -> int:
        """A fresh engine number for ``order_id``."""
        uid = next(self._next_uid)
        self.bind(order_id, uid)
        return uid

    def bind(self, order_id: str, uid: int) -> None:
        """``order_id`` is engine order ``uid`` (a replacement may take over its old uid)."""
        self.uid[order_id], self.oid[uid] = uid, order_id

    def reached(self, order_id: str) -> bool:
        """Whether ``order_id`` was put on the engine (it may have left it since)."""
        return order_id in self._in_engine

    def trade_id(self) -> str:
        return f"{self._venue_name}-{next(self._trades)}"

    def replacement_id(self, o: Order) -> str:
        """The id of ``o``'s replacement: from the id factory, else the chain's first id with a
        replace number, so ids stay short however long a chain grows."""
        if self._new_id:
            return self._new_id()
        root = self._chain_root.pop(o.id, o.id)
        new = f"{root}.r{next(self._replaces)}"
        self._chain_root[new] = root
        return new

    def place(self, o: Order, market: Market, now: int) -> None:
        """Put the open part of ``o`` on the venue's engine under its uid, by its type."""
        eng, inst, r, oid = market.engine, market.instrument, o.request, o.id
        uid = self.uid[oid]
        eng.advance_to(now)
        side = 1 if r.side is _BUY else -1
        lots = inst.to_lots(o.leaves_qty)
        limit_price = o.limit_price
        limit = None if limit_price is None else inst.to_ticks(limit_price, "limit_price")
        tif = r.time_in_force
        if tif in AUCTION:
            eng.submit_auction(uid, side, lots, limit, close=AUCTION[tif])
        elif r.type in _PLAIN:
            eng.submit(uid, side, limit, lots, _TIF[tif])
        elif r.type in _STOPS:
            assert o.stop_price is not None  # OrderRequest's rules
            stop = inst.to_ticks(o.stop_price, "stop_price")
            eng.submit_stop(uid, side, stop, lots, limit, _TIF[r.time_in_force])
        else:
            ticks = None if r.trail_price is None else inst.to_ticks(r.trail_price, "trail_price")
            bps = None if r.trail_percent is None else int(r.trail_percent * 100)
            eng.submit_trailing(
                uid, side, lots, trail_ticks=ticks, trail_bps=bps, tif=_TIF[r.time_in_force]
            )
        self._in_engine.add(oid)

    def moved(self, order_id: str, new_order_id: str) -> None:
        """``new_order_id`` took over ``order_id``'s place on the engine (a new trail)."""
        self.bind(new_order_id, self.uid[order_id])
        if order_id in self._in_engine:
            self._in_engine.add(new_order_id)

    def trail_args(self, o: Order, trail: Decimal, market: Market) -> dict[str, int]:
        """The engine's trail for a new ``trail`` of order ``o`` (ticks, or whole bps)."""
        r = o.request
        if r.type is not OrderType.TRAILING_STOP:
            raise SimulationError("trail", trail, "only a trailing stop has a trail")
        if r.trail_price is not None:
            return {"trail_ticks": market.instrument.to_ticks(trail, "trail")}
        bps = trail * 100
        if bps % 1 or not 0 < bps <= 10_000:
            raise SimulationError("trail", trail, "a percent in whole basis points, up to 100")
        return {"trail_bps": int(bps)}

    def trailing_state(
        self, o: Order, market: Market
    ) -> tuple[Decimal | None, Decimal | None] | None:
        """A working trailing stop's (stop price, water mark), None once it is not held."""
        uid = self.uid.get(o.id)
        state = None if uid is None else market.engine.trailing_state(uid)
        if state is None:
            return None
        inst = market.instrument
        stop, hwm = state
        return (
            None if stop is None else inst.to_price(stop),
            None if hwm is None else inst.to_price(hwm),
        )
