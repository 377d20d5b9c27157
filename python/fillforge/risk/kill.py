"""The kill switch: cancel every open order and, optionally, flatten every position.

:class:`KillSwitch` acts on the broker it is given (the one behind any risk gate, so its own
orders pass no pre-trade control). Firing it:

1. asks to cancel every open order (one already being canceled is left alone; a refusal is
   recorded, not raised);
2. with ``flatten``, sends for each symbol with a position one market order (day) for the whole
   position, on the other side. A symbol that still has an open order waiting for its cancel is
   flattened when the last of them ends (from a broker timer, due at once), so the flattening
   order never races the cancels (Alpaca refuses a market order against the account's own
   working order as a wash trade).

It is idempotent: firing it again cancels only what is still open and flattens only what no
flattening order already covers (position plus the open flattening orders' quantity).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import count

from fillforge.broker.protocol import Broker
from fillforge.errors import FillforgeError
from fillforge.orders.enums import OrderSide, OrderStatus, OrderTimeInForce, OrderType
from fillforge.orders.models import OrderEvent, OrderRequest
from fillforge.portfolio._exact import ZERO

__all__ = ["KillReport", "KillSwitch"]

_PENDING_CANCEL = OrderStatus.PENDING_CANCEL


@dataclass(frozen=True, slots=True)
class KillReport:
    """What one firing did: the orders it asked to cancel, the flattening orders it sent, the
    symbols waiting for their cancels before they are flattened, and what the broker refused
    (order id or symbol -> the error's message)."""

    canceled: tuple[str, ...] = ()
    flattening: tuple[str, ...] = ()
    waiting: tuple[str, ...] = ()
    failed: dict[str, str] = field(default_factory=dict)


class KillSwitch:
    """Cancels and flattens on ``broker`` (see the module). ``on_flatten`` hears every
    flattening order sent later (from a timer), with its symbol."""

    def __init__(
        self,
        broker: Broker,
        on_flatten: Callable[[str, str | None, str | None], None],
        guard: AbstractContextManager[None] | None = None,
    ) -> None:
        self._broker = broker
        self._guard = guard if guard is not None else nullcontext()
        self._on_flatten = on_flatten
        self._flatteners: dict[str, tuple[str, Decimal]] = {}  # id -> (symbol, signed qty)
        self._waiting: set[str] = set()
        self._timers = count(1)
        self.engaged = False

    @property
    def flattening(self) -> dict[str, str]:
        """The open flattening orders: order id -> symbol."""
        return {oid: s for oid, (s, _) in self._flatteners.items()}

    def fire(self, *, flatten: bool) -> KillReport:
        """Cancel every open order; with ``flatten``, flatten every position (the module)."""
        self.engaged = True
        b = self._broker
        canceled: list[str] = []
        failed: dict[str, str] = {}
        for o in b.orders(open_only=True):
            if o.id in self._flatteners or o.status is _PENDING_CANCEL:
                continue
            pending = o.pending_request
            if pending is not None and pending.get("kind") == "cancel":
                continue
            try:
                b.cancel(o.id)
            except (FillforgeError, LookupError) as e:  # ended meanwhile, or the venue refused
                failed[o.id] = str(e)
            else:
                canceled.append(o.id)
        sent: list[str] = []
        if flatten:
            sent = self._flatten(failed, set(self._waiting) | set(b.positions()))
        return KillReport(tuple(canceled), tuple(sent), tuple(sorted(self._waiting)), failed)

    def restore(
        self, engaged: bool, waiting: Iterable[str], flattening: Mapping[str, tuple[str, Decimal]]
    ) -> None:
        """Take up the state a :class:`~fillforge.risk.states.RiskSnapshot` kept: engaged or
        not, its open flattening orders, and the symbols waiting to be flattened (looked at
        again from a timer due at once: their cancels may have ended while nobody watched)."""
        self.engaged = bool(engaged)
        self._flatteners = {oid: (s, Decimal(q)) for oid, (s, q) in flattening.items()}
        self._waiting = set(waiting)
        if self._waiting:
            b = self._broker
            name = f"fillforge.risk.flatten.{next(self._timers)}"
            b.set_timer(name, self._flatten_waiting, at_ns=b.now_ns() + 1)

    @property
    def waiting(self) -> tuple[str, ...]:
        """The symbols waiting for their open orders' cancels before they are flattened."""
        return tuple(sorted(self._waiting))

    @property
    def open_flatteners(self) -> dict[str, tuple[str, Decimal]]:
        """The open flattening orders: id -> (symbol, signed open quantity)."""
        return dict(self._flatteners)

    def reset(self) -> None:
        """Disengage (the manager's reset); flattening orders still open stay tracked."""
        self.engaged = False
        self._waiting.clear()

    def _flatten(self, failed: dict[str, str], symbols: set[str]) -> list[str]:
        b = self._broker
        positions = b.positions()
        busy = {o.symbol for o in b.orders(open_only=True) if o.id not in self._flatteners}
        sent: list[str] = []
        for sym in sorted(symbols):
            if sym in busy:
                self._waiting.add(sym)
                continue
            self._waiting.discard(sym)
            pos = positions.get(sym)
            left = pos.qty if pos is not None else ZERO
            for s, q in self._flatteners.values():
                if s == sym:
                    left += q
            if not left:
                continue
            side = OrderSide.SELL if left > ZERO else OrderSide.BUY
            request = OrderRequest(
                symbol=sym,
                side=side,
                type=OrderType.MARKET,
                time_in_force=OrderTimeInForce.DAY,
                qty=abs(left),
            )
            try:
                order = b.submit(request)
            except FillforgeError as e:
                failed[sym] = str(e)
                self._on_flatten(sym, None, str(e))
                continue
            if order.status.is_open:
                leaves = order.leaves_qty
                self._flatteners[order.id] = (sym, -leaves if left > ZERO else leaves)
            sent.append(order.id)
            self._on_flatten(sym, order.id, None)
        return sent

    def on_event(self, event: OrderEvent) -> None:
        """Follow the broker's order events (the manager forwards them): a flattening order's
        open quantity, and the end of the last open order of a symbol waiting to be flattened."""
        oid = event.order_id
        status = event.status
        mine = self._flatteners.get(oid)
        if mine is not None:
            if status.is_open:
                sym, q = mine
                self._flatteners[oid] = (sym, -event.leaves_qty if q < ZERO else event.leaves_qty)
            else:
                del self._flatteners[oid]
        if event.symbol in self._waiting and status.is_terminal:
            b = self._broker
            working = b.orders(open_only=True, symbol=event.symbol)
            if not any(o.id not in self._flatteners for o in working):
                name = f"fillforge.risk.flatten.{next(self._timers)}"
                b.set_timer(name, self._flatten_waiting, at_ns=b.now_ns() + 1)

    def _flatten_waiting(self, due_ns: int) -> None:
        with self._guard:
            if self._waiting:
                self._flatten({}, set(self._waiting))
