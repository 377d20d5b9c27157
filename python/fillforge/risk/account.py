"""The account as the controls read it, kept current from a broker
(:class:`AccountWatch`): equity and positions read from ``broker.account()`` when stale, open
orders and fills followed from the broker's order events, and the per-day counts rolled at the
venue session's start by the broker's clock."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Final

from fillforge.broker.protocol import Broker
from fillforge.orders.enums import OPEN_STATUSES, EventKind, OrderSide
from fillforge.orders.models import OrderEvent
from fillforge.orders.order import Order
from fillforge.portfolio._exact import CTX, ZERO
from fillforge.risk.proposal import RiskView
from fillforge.time import NS_PER_SECOND

__all__ = ["AccountWatch"]

_DAY_NS: Final = 86_400 * NS_PER_SECOND
_add, _sub = CTX.add, CTX.subtract
_BUY, _SELL = OrderSide.BUY, OrderSide.SELL
_FILLS = frozenset({EventKind.FILL, EventKind.PARTIAL_FILL})


class AccountWatch:
    """Keeps :attr:`view` current for ``broker``: the account is re-read after a fill and when
    the broker's clock has moved ``refresh_ns`` since the last read (0: whenever it moved); a new
    session (``session_start(now_ns)`` gives the next start; default: the broker clock's next
    open, else midnight UTC) restarts the day's counts and start equity, then calls
    ``on_roll``. Not thread-safe by itself: the manager calls it under its lock."""

    def __init__(
        self,
        broker: Broker,
        *,
        refresh_ns: int,
        session_start: Callable[[int], int] | None,
        on_roll: Callable[[], None],
    ) -> None:
        self._broker = broker
        self.refresh_ns = refresh_ns
        self._session_start = session_start or self._next_open
        self._on_roll = on_roll
        self.view = RiskView()
        # Open orders: id -> (symbol, side, leaves); their leaves by symbol, one dict per side
        # (an enum in a key hashes slowly).
        self._open: dict[str, tuple[str, OrderSide, Decimal]] = {}
        self._pending: dict[OrderSide, dict[str, Decimal]] = {_BUY: {}, _SELL: {}}
        self._buying, self._selling = self._pending[_BUY], self._pending[_SELL]
        self.dirty = True
        self._refreshed_ns = -1
        self._next_fills = 0  # fills timed in a session not rolled to yet
        self.roll_at = 2**63  # (set below, once the account is read)
        now = broker.now_ns()
        for o in broker.orders(open_only=True):
            self._track(o.id, o.symbol, o.request.side, o.leaves_qty)
        self.refresh(now)
        self.view.start_equity = self.view.peak_equity = self.view.equity
        self.roll_at = self._session_start(now)

    def current(self) -> RiskView:
        """The view, rolled to the session and re-read from the broker if stale."""
        now = self._broker.now_ns()
        view = self.view
        if now >= self.roll_at:
            self.roll(now)
        elif self.dirty or (
            now != self._refreshed_ns and now - self._refreshed_ns >= self.refresh_ns
        ):
            self.refresh(now)
        view.now_ns = now
        view.open_orders = len(self._open)
        return view

    def refresh(self, now: int) -> None:
        """Re-read equity and positions from the broker (the peak follows the equity)."""
        a = self._broker.account()
        v = self.view
        v.equity = a.equity
        v.set_positions({s: (p.qty, p.market_value) for s, p in a.positions.items()})
        if a.equity > v.peak_equity:
            v.peak_equity = a.equity
        self._refreshed_ns, self.dirty = now, False

    def rebase(self) -> None:
        """The session's start equity and the peak restart from the equity now."""
        self.refresh(self._broker.now_ns())
        v = self.view
        v.start_equity = v.peak_equity = v.equity

    def roll(self, now: int) -> None:
        """A new session: restart the day's counts and start equity from now."""
        self.roll_at = max(self._session_start(now), now + 1)
        self.refresh(now)
        v = self.view
        v.start_equity = v.equity
        v.orders_today, v.fills_today, self._next_fills = 0, self._next_fills, 0
        self._on_roll()

    def _next_open(self, now: int) -> int:
        c = self._broker.clock()
        if c.next_open_ns is not None and c.next_open_ns > now:
            return c.next_open_ns
        return (now // _DAY_NS + 1) * _DAY_NS

    # ----- orders -----------------------------------------------------------------------------

    def sent(self, order: Order) -> None:
        """An order went out: count it, and follow it (its events may come later)."""
        self.view.orders_today += 1
        if order.status in OPEN_STATUSES and order.id not in self._open:
            self._track(order.id, order.symbol, order.request.side, order.leaves_qty)

    def apply(self, ev: OrderEvent) -> None:
        """Follow one of the broker's order events: fills, and the open orders' leaves."""
        if ev.kind in _FILLS:
            if ev.ts >= self.roll_at:  # the next session's, not yet rolled to
                self._next_fills += 1
            else:
                self.view.fills_today += 1
            self.dirty = True
        oid = ev.order_id
        entry = self._open.get(oid)
        if ev.status in OPEN_STATUSES:
            if entry is None:
                side = self._broker.get_order(oid).request.side
                self._track(oid, ev.symbol, side, ev.leaves_qty)
            elif entry[2] != ev.leaves_qty:
                self._untrack(oid)
                self._track(oid, ev.symbol, entry[1], ev.leaves_qty)
        elif entry is not None:
            self._untrack(oid)

    def is_open(self, order_id: str) -> bool:
        return order_id in self._open

    def pending(self, symbol: str, side: OrderSide) -> Decimal:
        """The signed open quantity of ``side`` orders in ``symbol`` (a sell's is negative)."""
        if side is _BUY:
            return self._buying.get(symbol, ZERO)
        q = self._selling.get(symbol)
        return ZERO if q is None else -q

    def _track(self, oid: str, symbol: str, side: OrderSide, leaves: Decimal) -> None:
        self._open[oid] = (symbol, side, leaves)
        book = self._pending[side]
        book[symbol] = _add(book.get(symbol, ZERO), leaves)

    def _untrack(self, oid: str) -> None:
        symbol, side, leaves = self._open.pop(oid)
        book = self._pending[side]
        left = _sub(book[symbol], leaves)
        if left:
            book[symbol] = left
        else:
            del book[symbol]
