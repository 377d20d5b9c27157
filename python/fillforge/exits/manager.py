"""The exit manager: works each position's :class:`~fillforge.exits.plan.ExitPlan` on a broker.

``venue`` mode places the exits as venue orders (an OCO for a stop and one target, a stop order,
or the venue's trailing stop) and moves the stop leg by replace (break-even). ``local`` mode holds
them here, watches the broker's trades and quotes (or bars), and sends each exit when its level is
crossed: a target as a limit at its level, the stop as a market order after every working target
is canceled (OCO semantics: never both). Either way the plan follows the position: entry fills
size it, exit fills shrink it, and a position closed by hand cancels what is left.

Every input (order events, market data) goes through one queue, so a broker that calls back
while we are inside one of its methods (the simulated broker does) never re-enters a decision.
The manager holds the plans, the queue and each plan's next step; its base classes hold the
rest: :mod:`.events` (what order events do to a plan), :mod:`.local` (the local triggers and
the exits they send), :mod:`.venue` (venue orders, owning orders by role).
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable, Iterable
from decimal import Decimal

from fillforge.broker.protocol import Broker
from fillforge.errors import ExitPlanError, FillforgeError
from fillforge.exits.events import ExitEvents
from fillforge.exits.local import LocalExits
from fillforge.exits.plan import ExitPlan, Stat, atr_value
from fillforge.exits.position import ExitMode, ManagedExit, Phase
from fillforge.exits.recovery import ExitSnapshot, exit_snapshot, managed_exit
from fillforge.exits.requests import (
    bracket_request,
    venue_fits,
)
from fillforge.orders.enums import OrderClass, OrderSide, OrderStatus
from fillforge.orders.models import Instrument, OrderEvent, OrderRequest
from fillforge.orders.order import Order

__all__ = ["ExitManager"]

log = logging.getLogger("fillforge.exits")
_WATCH = frozenset({"trades", "quotes", "bars"})
_SENDING = "\0sending"
_REFUSED = frozenset({OrderStatus.REJECTED, OrderStatus.EXPIRED, OrderStatus.DENIED})


class ExitManager(ExitEvents, LocalExits):
    """Exit plans for positions on ``broker`` (one plan per symbol at a time).

    ``mode`` is the default :class:`ExitMode`; ``watch`` the market data local triggers read
    (``trades`` and ``quotes`` by default, or ``bars``). In local mode, ``resting_targets``
    (default) places each target as a limit order at the venue as soon as the position exists
    (a limit is something every venue takes) and only the stop is held here; False holds the
    targets too and sends each as a limit at its level once the market reaches it.
    :meth:`enter` sends an entry and manages its exits; :meth:`attach` manages an entry already
    sent, or the position already held.
    """

    def __init__(
        self,
        broker: Broker,
        *,
        mode: ExitMode | str = ExitMode.AUTO,
        watch: Iterable[str] = ("trades", "quotes"),
        resting_targets: bool = True,
    ) -> None:
        self.broker = broker
        self.resting_targets = bool(resting_targets)
        self.mode = _mode(mode)
        self.watch = frozenset(watch)
        if not self.watch or not self.watch <= _WATCH:
            raise ExitPlanError("watch", sorted(self.watch), f"choose from {sorted(_WATCH)}")
        self._plans: dict[str, ManagedExit] = {}
        self._by_order: dict[str, ManagedExit] = {}
        self._feeds: dict[str, list[Callable[[], None]]] = {}
        self._queue: deque[tuple[str, object]] = deque()
        self._drain_lock = threading.Lock()
        self._observer: Callable[[str, ExitSnapshot], None] | None = None
        self._told: dict[str, ExitSnapshot] = {}
        self._unsubscribe = broker.subscribe(self._on_event)

    # ----- the API ------------------------------------------------------------------------

    def enter(
        self,
        request: OrderRequest,
        plan: ExitPlan,
        instrument: Instrument,
        *,
        atr: Stat | None = None,
        mode: ExitMode | str | None = None,
        bracket: bool = False,
    ) -> ManagedExit:
        """Send ``request`` (a simple order that opens a position) and manage its exits.

        With ``bracket=True`` (venue mode, a plan of a stop and at most one target, no trail)
        the entry goes as one bracket (OTO for a stop alone): the venue holds the exits from the
        moment the entry fills. Their levels come from the entry's limit price, else the touch
        it would take, else the last trade; once the entry is done they are moved by replace to
        the levels of the actual average entry."""
        if request.order_class is not OrderClass.SIMPLE:
            raise ExitPlanError(
                "order_class", request.order_class.value, "enter with a simple order"
            )
        side = 1 if request.side is OrderSide.BUY else -1
        m = self._new(request.symbol, plan, instrument, side, atr, mode)
        m.entries_open.add(_SENDING)  # the entry's events may arrive before submit returns
        try:
            if bracket:
                request = bracket_request(m, request, self._reference(m, request))
                m.bracket = True
            elif request.qty is not None:
                self._check_levels(m, request)
            order = self.broker.submit(request)
        except FillforgeError:
            m.entries_open.discard(_SENDING)
            self._finish(m, "entry refused")
            raise
        m.entries_open.discard(_SENDING)
        self._own(m, order.id, "entry")
        m.entries_open.add(order.id)
        if bracket:
            self._own_legs(m, request, order)
        self._put("sync", order.id)
        return m

    def attach(
        self,
        plan: ExitPlan,
        instrument: Instrument,
        *,
        entry: Order | None = None,
        atr: Stat | None = None,
        mode: ExitMode | str | None = None,
    ) -> ManagedExit:
        """Manage ``entry``'s exits (an order already sent), or without it the position held in
        ``instrument`` now, entered at its average price."""
        symbol = instrument.symbol
        if entry is not None:
            if entry.symbol != symbol:
                raise ExitPlanError("entry", entry.id, f"trades {entry.symbol}, not {symbol}")
            side = 1 if entry.request.side is OrderSide.BUY else -1
            m = self._new(symbol, plan, instrument, side, atr, mode)
            self._own(m, entry.id, "entry")
            m.entries_open.add(entry.id)
            if entry.cum_qty:
                self._entry_fill(m, entry.id, entry.cum_qty, entry.avg_price or Decimal(0))
            self._put("sync", entry.id)
            return m
        pos = self.broker.positions().get(symbol)
        if pos is None or pos.qty == 0:
            raise ExitPlanError("symbol", symbol, "no position to protect")
        m = self._new(symbol, plan, instrument, 1 if pos.qty > 0 else -1, atr, mode)
        try:
            self._entry_fill(m, "", abs(pos.qty), pos.avg_price)
        except FillforgeError:
            self._finish(m, "refused")
            raise
        self._put("sync", None)
        return m

    def add_entry(self, symbol: str, order: Order) -> None:
        """Count ``order`` (an add to the position, e.g. a scale-in) as entering ``symbol``'s
        plan: its fills grow the exits like the first entry's."""
        m = self._plans.get(symbol)
        if m is None or m.phase is Phase.DONE:
            raise ExitPlanError("symbol", symbol, "no plan working")
        if (1 if order.request.side is OrderSide.BUY else -1) != m.side:
            raise ExitPlanError("order", order.id, "does not add to the position")
        self._own(m, order.id, "entry")
        m.entries_open.add(order.id)
        self._put("sync", order.id)

    def get(self, symbol: str) -> ManagedExit | None:
        """The plan working on ``symbol``, if any."""
        return self._plans.get(symbol)

    def update_atr(self, symbol: str, atr: Stat) -> None:
        """A new ATR for ``symbol``: an ATR trail takes the new distance (its stop never
        loosens). The initial stop and R stay as set at the entry."""
        m = self._plans.get(symbol)
        if m is None:
            raise ExitPlanError("symbol", symbol, "no plan working")
        m.atr = atr_value(atr)
        ticks = m.plan.trail_ticks_for(m.instrument, m.atr)
        if ticks is None or m.watch is None:
            return
        m.watch.set_trail_ticks(ticks)
        trail = m.working("venue_trail")
        if m.mode is ExitMode.VENUE and trail:
            self._call(m, lambda: self.broker.replace(trail[0], trail=m.instrument.to_price(ticks)))
        self._put("sync", None)

    def detach(self, symbol: str) -> None:
        """Stop managing ``symbol``: cancel the plan's working exits, leave the position."""
        m = self._plans.get(symbol)
        if m is not None:
            self._finish(m, "detached")

    def close(self) -> None:
        """Detach every plan and stop listening to the broker."""
        for symbol in list(self._plans):
            self.detach(symbol)
        self._unsubscribe()

    # ----- recovery (docs/state-recovery.md) ----------------------------------------------

    def observe(self, observer: Callable[[str, ExitSnapshot], None] | None) -> None:
        """Tell ``observer(symbol, snapshot)`` whenever a plan's state changes (its phase,
        sizes, orders, or a local trigger: the stop reached, the trail's water mark), once per
        change, the last time when it is done (None: stop telling)."""
        self._observer = observer

    def snapshot(self, symbol: str) -> ExitSnapshot:
        """The state of the plan working on ``symbol`` (:meth:`restore` takes it back)."""
        m = self._plans.get(symbol)
        if m is None:
            raise ExitPlanError("symbol", symbol, "no plan working")
        return exit_snapshot(m)

    def restore(self, snap: ExitSnapshot) -> ManagedExit:
        """Take up a plan after a restart from its snapshot: its orders are its own again, its
        market data followed again, and it catches up with what the broker did while nobody
        watched: fills of its entries and exits (counted once: what each order filled beyond
        what the snapshot had seen), orders that ended, a position closed by hand."""
        if not isinstance(snap, ExitSnapshot):
            raise ExitPlanError("snapshot", snap, "expected an ExitSnapshot")
        if snap.phase is Phase.DONE:
            raise ExitPlanError("snapshot", snap.symbol, "that plan is done")
        if snap.symbol in self._plans:
            raise ExitPlanError("symbol", snap.symbol, "a plan is already working on it")
        m = managed_exit(snap)
        self._plans[m.symbol] = m
        self._feeds[m.symbol] = []
        for oid in m.roles:
            self._by_order[oid] = m
        if m.mode is ExitMode.LOCAL or m.plan.break_even is not None:
            self._follow(m)
        self._told[m.symbol] = snap
        self._put("restored", m.symbol)
        return m

    def _tell(self, symbol: str) -> None:
        observer = self._observer
        m = self._plans.get(symbol)
        if observer is None or m is None:
            return
        snap = exit_snapshot(m)
        if snap != self._told.get(symbol):
            self._told[symbol] = snap
            observer(symbol, snap)

    # ----- set-up -------------------------------------------------------------------------

    def _new(
        self,
        symbol: str,
        plan: ExitPlan,
        instrument: Instrument,
        side: int,
        atr: Stat | None,
        mode: ExitMode | str | None,
    ) -> ManagedExit:
        if not isinstance(plan, ExitPlan):
            raise ExitPlanError("plan", plan, "expected an ExitPlan")
        if not isinstance(instrument, Instrument) or instrument.symbol != symbol:
            raise ExitPlanError("instrument", instrument, f"expected the Instrument of {symbol}")
        if symbol in self._plans:
            raise ExitPlanError("symbol", symbol, "a plan is already working on it")
        a = None if atr is None else atr_value(atr)
        if plan.needs_atr and a is None:
            raise ExitPlanError("atr", None, "this plan has an ATR rule: give the current ATR")
        want = self.mode if mode is None else _mode(mode)
        why = venue_fits(plan)
        if want is ExitMode.VENUE and why is not None:
            raise ExitPlanError("mode", "venue", why)
        resolved = ExitMode.LOCAL if want is ExitMode.LOCAL or why is not None else ExitMode.VENUE
        m = ManagedExit(symbol, plan, instrument, side, resolved, a)
        self._plans[symbol] = m
        self._feeds[symbol] = []
        if resolved is ExitMode.LOCAL or plan.break_even is not None:
            self._follow(m)
        return m

    def _follow(self, m: ManagedExit) -> None:
        """Subscribe to ``m``'s market data, once: a local plan's triggers read it, and so does
        a venue plan's break-even (it moves the venue stop). A venue plan with nothing to move
        (a stop, an OCO, the venue's trailing stop) needs none: on the simulator a subscription
        makes the venue hand each of the symbol's prints to Python. A plan that falls back to
        local emulation subscribes then."""
        symbol = m.symbol
        if self._feeds.get(symbol) or self._plans.get(symbol) is not m:
            return
        feeds = self._feeds.setdefault(symbol, [])
        if "trades" in self.watch:
            feeds.append(self.broker.subscribe_trades(symbol, lambda t: self._put("trade", t)))
        if "quotes" in self.watch:
            feeds.append(self.broker.subscribe_quotes(symbol, lambda q: self._put("quote", q)))
        if "bars" in self.watch:
            feeds.append(self.broker.subscribe_bars(symbol, lambda b: self._put("bar", b)))

    # ----- the queue ----------------------------------------------------------------------

    def _on_event(self, e: OrderEvent) -> None:
        self._put("event", e)

    def _put(self, kind: str, item: object) -> None:
        """Queue one input and drain the queue unless someone is draining it already: a broker
        calling back from inside our own request (same thread) or from its stream or scheduler
        thread (another one) is served in arrival order, one input at a time."""
        self._queue.append((kind, item))
        while self._queue:
            if not self._drain_lock.acquire(blocking=False):
                return  # the drainer (this thread further up, or another) will take it
            try:
                while self._queue:
                    kind, x = self._queue.popleft()
                    try:
                        self._step(kind, x)
                    except FillforgeError as e:  # never into the broker's callback
                        log.warning("exit manager: %s on %s: %s", kind, x, e)
                        m = self._plans.get(getattr(x, "symbol", ""))
                        if m is not None:
                            m.note(f"refused: {e}")
                    if self._observer is not None:
                        symbol = x if isinstance(x, str) and kind == "restored" else None
                        symbol = symbol or getattr(x, "symbol", None)
                        for s in [symbol] if symbol else list(self._plans):
                            self._tell(s)
            finally:
                self._drain_lock.release()

    def _step(self, kind: str, x: object) -> None:
        if kind == "event":
            assert isinstance(x, OrderEvent)
            self._event(x)
        elif kind == "restored":
            m = self._plans.get(str(x))
            if m is not None:
                self._catch_up(m)
        elif kind == "sync":
            if isinstance(x, str):
                self._sync_order(x)
            for m in list(self._plans.values()):
                self._advance(m)
        else:
            self._market(kind, x)

    def _advance(self, m: ManagedExit) -> None:
        """Do what the state asks for now: send the owed stop, place venue exits, finish."""
        if m.phase is Phase.DONE:
            return
        if m.phase is Phase.WAITING:
            if not m.entries_open:
                self._finish(m, "entry unfilled")
            return
        if m.remaining <= 0 and not m.entries_open:
            stopped = m.phase is Phase.STOPPING or m.last_exit in ("venue_stop", "venue_trail")
            self._finish(m, "stop" if stopped else "targets")
            return
        if m.phase is Phase.STOPPING:
            if m.stop_owed and m.stop_order is None and not m.working("tier:"):
                self._send_stop(m)
            return
        if m.mode is ExitMode.VENUE:
            if m.bracket and not m.entries_open and not m.pending_legs:
                self._rebase_bracket(m)
            elif not m.working("venue") and m.remaining > 0 and not m.pending_legs:
                m.resizing = False
                self._place_venue(m)
        elif m.tiers:
            self._sync_tiers(m, range(len(m.tiers) - 1, -1, -1))

    # ----- ending -------------------------------------------------------------------------

    def _finish(self, m: ManagedExit, reason: str) -> None:
        if m.phase is Phase.DONE:
            return
        m.phase = Phase.DONE
        m.reason = reason
        m.note(f"done: {reason}")
        self._cancel_open(
            m, [o for o, r in m.roles.items() if r != "entry" or reason == "detached"]
        )
        if self._plans.get(m.symbol) is m:
            del self._plans[m.symbol]
        if self._observer is not None and self._told.pop(m.symbol, None) is not None:
            self._observer(m.symbol, exit_snapshot(m))  # the last word: done, and why
        for unsubscribe in self._feeds.pop(m.symbol, []):
            unsubscribe()


def _mode(mode: ExitMode | str) -> ExitMode:
    try:
        return ExitMode(mode)
    except ValueError:
        raise ExitPlanError("mode", mode, f"choose from {[x.value for x in ExitMode]}") from None
