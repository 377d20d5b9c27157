"""One broker interface, and the simulated broker that implements it on a :class:`Venue`.

Strategy code talks to a :class:`Broker`; :class:`SimulatedBroker` routes its orders through the
order manager's state machines to the venue's engines, with the venue's latency, fees and
sessions, and keeps an :class:`~fillforge.sim.account.Account`. Nothing runs until the caller
advances the simulation (:meth:`SimulatedBroker.run`): submit an order, get its events back;
step the data, get the events that result.
"""

from __future__ import annotations

import heapq
import itertools
import math
import re
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Unpack

from fillforge.broker import (
    Bar,
    Broker,
    BrokerClock,
    Quote,
    ReplaceChanges,
    TimerBook,
    TimerCallback,
    Trade,
    replace_terms,
)
from fillforge.codes import Reason
from fillforge.errors import (
    FillforgeError,
    InsufficientBuyingPowerError,
    NotShortableError,
    SimulationError,
)
from fillforge.orders.enums import (
    EventKind,
    LiquiditySide,
    OrderSide,
    OrderStatus,
    OrderTimeInForce,
    OrderType,
)
from fillforge.orders.manager import ManagedOrders, OrderManager
from fillforge.orders.models import Fill, OrderRequest, ReplaceTerms, VenueReport
from fillforge.orders.order import Order
from fillforge.sim.account import Account, AccountSnapshot, Position, market_marks
from fillforge.sim.fees import FeeModel
from fillforge.sim.market_data import SimMarketData
from fillforge.sim.rules import BrokerView
from fillforge.sim.venue import Market, Venue
from fillforge.venues.rules import VenueRules, venue_rules

__all__ = ["Broker", "BrokerClock", "SimulatedBroker"]

# Engine event kinds (fillforge_core::sim::event).
_FILL, _TRIGGERED, _CANCELED, _EXPIRED, _RESTED = 1, 2, 3, 4, 5
_TIF = {
    OrderTimeInForce.GTC: 0,
    OrderTimeInForce.DAY: 1,
    OrderTimeInForce.IOC: 2,
    OrderTimeInForce.FOK: 3,
}
_AUCTION = {OrderTimeInForce.OPG: False, OrderTimeInForce.CLS: True}
_NEVER = math.inf
_NO_TIME = -(2**63)
_PROVISIONAL = "\0provisional"
_ZERO = Decimal(0)
_FREE = FeeModel.zero()  # an engine's clock before its first message


class SimulatedBroker(ManagedOrders):
    """A :class:`Broker` on a simulated :class:`Venue`.

    ``cash`` funds a new :class:`Account` unless ``account`` is given. The clock starts at
    ``start_ns`` (default: the earliest market's first message, else 0). Order ids come from
    ``id_factory`` (default: the order manager's deterministic ``o-<n>``, replacements
    ``<id>.r<n>``); trade ids are ``"<venue>-<n>"``. ``short_markup`` (Alpaca: 0.03) makes a sell
    that opens a short hold buying power at ``max(limit, ask * (1 + short_markup))``.
    """

    def __init__(
        self,
        venue: Venue,
        *,
        cash: Decimal = Decimal(1_000_000),
        account: Account | None = None,
        start_ns: int | None = None,
        id_factory: Callable[[], str] | None = None,
        short_markup: Decimal | None = None,
        rules: str | VenueRules | None = None,
    ) -> None:
        self.rules = venue_rules(rules)  # a venue profile: check() and submit() apply it
        self.venue = venue
        self.manager = OrderManager(clock=self.now, id_factory=id_factory)
        self._new_id = id_factory
        self._short_markup = short_markup
        self._account = account if account is not None else Account(cash)
        self._account.follow(market_marks(venue.markets))  # marks follow the market, lazily
        self._latency = venue.latency.sampler()
        self._uid: dict[str, int] = {}
        self._oid: dict[int, str] = {}
        self._next_uid = itertools.count(1)
        self._trades = itertools.count(1)
        self._replaces = itertools.count(1)
        self._chain_root: dict[str, str] = {}  # a replacement's id -> its chain's first id
        self._pending: list[tuple[int, int, Callable[[], None]]] = []
        self._seq = itertools.count()
        starts = [
            m.engine.now if m.engine.now > _NO_TIME else m.engine.next_time
            for m in venue.markets.values()
        ]
        self._now = (
            start_ns
            if start_ns is not None
            else min((t for t in starts if t is not None), default=0)
        )
        self._close: int | None = None
        self._wall: tuple[float, int] | None = None
        self._timers = TimerBook()
        self._md = SimMarketData(venue, self.now)

    # ----- time ---------------------------------------------------------------------------

    def now(self) -> int:
        """Simulated time, UNIX nanoseconds."""
        return self._now

    def now_ns(self) -> int:
        """Simulated time (the broker is a :class:`fillforge.time.Clock`)."""
        return self._now

    def set_timer(
        self,
        name: str,
        callback: TimerCallback,
        *,
        at_ns: int | None = None,
        every_ns: int | None = None,
    ) -> None:
        """Call ``callback(t)`` at simulated time ``at_ns``, or every ``every_ns`` from now. It
        fires inside :meth:`run` (and when a scripted quote or trade moves the clock past it),
        with the clock at ``t``: after the requests in flight due by ``t``, before the market
        messages and the session close at ``t`` (``docs/broker.md``, the tie rule)."""
        self._timers.set(name, callback, self._now, at_ns=at_ns, every_ns=every_ns)

    def cancel_timer(self, name: str) -> None:
        self._timers.cancel(name)

    def _fire_timers(self, limit: int) -> None:
        """Fire the timers due by ``limit`` in time order (set order at one instant); stop where
        a request in flight is due first (at or before the next timer)."""
        pop, pending = self._timers.pop_due, self._pending
        while True:
            if pending and pending[0][0] <= limit:
                limit = pending[0][0] - 1
            got = pop(limit)
            if got is None:
                return
            due, callback = got
            if due > self._now:
                self._now = due
            callback(due)

    def _catch_up(self, t: int) -> None:
        """Requests in flight and timers due by ``t``, in time order (requests first at one
        instant): before a scripted quote or trade at ``t``."""
        while (tt := self._timers.next_ns()) is not None and tt <= t:
            self._deliver_due(tt)
            self._fire_timers(tt)
        self._deliver_due(t)

    def clock(self) -> BrokerClock:
        cal, t = self.venue.calendar, self._now
        if cal is None:
            return BrokerClock.trusted(
                timestamp_ns=t, is_open=True, next_open_ns=None, next_close_ns=None
            )
        return BrokerClock.trusted(
            timestamp_ns=t,
            is_open=cal.is_open(t),
            next_open_ns=cal.next_open(t),
            next_close_ns=cal.next_close(t),
        )

    def _advance(self, t: int) -> None:
        if t > self._now:
            self._now = t

    def _next_close(self) -> float:
        cal = self.venue.calendar
        if cal is None:
            return _NEVER
        if self._close is None or self._close <= self._now - 1:
            self._close = cal.next_close(self._now)
        return self._close

    # ----- requests -----------------------------------------------------------------------

    def submit(self, request: OrderRequest) -> Order:
        """Send an order. Bad terms (unknown symbol, off-grid price or quantity, insufficient
        buying power, not shortable) raise a typed error and change nothing; the venue's own
        refusals arrive as a ``rejected`` event."""
        market = self.check(request)
        request = request if self.rules is None else self.rules.convert(request, BrokerView(self))
        price = self._reference_price(market, request)
        # A notional order's size is fixed when it reaches the venue; until then it holds the
        # buying power its notional buys at the reference price.
        qty = request.qty if request.qty is not None else request.notional / price  # type: ignore[operator]
        # Reserve before the order exists (a refusal must leave nothing behind), then rename.
        self._account.reserve(_PROVISIONAL, request.symbol, request.side, qty, price)
        try:
            order = self.manager.create(request)
        except FillforgeError:
            self._account.release(_PROVISIONAL)
            raise
        self._account.rekey(_PROVISIONAL, order.id)
        self.manager.submit(order.id)
        if order.group_id is None:
            self._send(order)
        else:
            for m in self.manager.groups[order.group_id].members:
                if m.status is OrderStatus.PENDING_NEW and m.id not in self._uid:
                    if self._account.reservation(m.id) is None:
                        self._reserve(m, m.limit_price or m.stop_price or price)
                    self._send(m)
        self._deliver_due()
        return order

    def check(self, request: OrderRequest) -> Market:
        """Every check of ``request``'s terms this venue makes before anything changes (the
        instrument's :meth:`~fillforge.orders.models.Instrument.check`: symbol, grids and range
        of every price and quantity, legs included; trails in whole basis points), then the refusals
        of the broker's venue profile (``rules``: Alpaca's wash trades and auction windows); the
        market it trades on. :meth:`submit` calls it first."""
        market = self.venue.market(request.symbol)
        market.instrument.check(request)
        if request.trail_percent is not None and (request.trail_percent * 100) % 1:
            raise SimulationError(
                "trail_percent", request.trail_percent, "must be a whole number of basis points"
            )
        if self.rules is not None:
            self.rules.refuse(request, BrokerView(self))
        return market

    def _reference_price(self, market: Market, request: OrderRequest) -> Decimal:
        """The price buying power is reserved at: the limit, else the far touch, else last; a
        sale at no less than the ask plus the short markup (``short_markup``, else the
        profile's)."""
        markup = self._short_markup
        if markup is None and self.rules is not None:
            markup = self.rules.short_markup
        if request.side is OrderSide.SELL and markup is not None:
            ask = market.best_ask()
            if ask is not None:
                marked = ask * (1 + markup)
                return max(request.limit_price or marked, marked)
        if request.limit_price is not None:
            return request.limit_price
        touch = market.best_ask() if request.side is OrderSide.BUY else market.best_bid()
        ref = touch or market.last() or request.stop_price
        if ref is None:
            raise SimulationError(
                "symbol", request.symbol, "no price yet: no quote or trade to check the order"
            )
        return ref

    def _replacement_price(self, o: Order, limit_price: Decimal | None) -> Decimal:
        """The price a replacement of ``o`` reserves buying power at."""
        price = limit_price or o.limit_price
        return price or self._reference_price(self.venue.market(o.symbol), o.request)

    def _check_replacement(
        self, o: Order, qty: Decimal | None, limit_price: Decimal | None
    ) -> None:
        """Raise as the account would if the replacement took ``o``'s place; change nothing."""
        if self._account.reservation(o.id) is None:
            return
        leaves = (qty if qty is not None else o.order_qty) - o.cum_qty
        if leaves > 0:
            self._account.check_replace(o.id, leaves, self._replacement_price(o, limit_price))

    def _reserve(self, order: Order, price: Decimal) -> None:
        self._account.reserve(order.id, order.symbol, order.request.side, order.leaves_qty, price)

    def _release(self, order_id: str) -> None:
        if self._account.reservation(order_id) is not None:
            self._account.release(order_id)

    def _cancel_delay(self) -> int:
        return self._latency.market_data() + self._latency.cancel()

    def _send(self, order: Order) -> None:
        uid = next(self._next_uid)
        self._bind(order.id, uid)
        delay = self._latency.market_data() + self._latency.entry()
        cal = self.venue.calendar
        # A request that would reach a closed venue waits for the next open (pending_new), then
        # arrives 1 ns after it, once the data stamped at the open itself has been applied: a
        # market order fills at the session's first price, a DAY order is for that session.
        # Auction orders (opg, cls) go to the venue at once and wait there for their auction.
        opens = None
        if cal is not None and order.request.time_in_force not in _AUCTION:
            opens = cal.opening(self._now + delay)
        if opens is not None:
            self._schedule(opens + 1, lambda: self._arrive(order.id))
        elif delay == 0 and not self._pending:
            self._arrive(order.id)  # nothing in flight to overtake: arrive now
        else:
            self._schedule(self._now + delay, lambda: self._arrive(order.id))

    def cancel(self, order_id: str) -> None:
        """Ask to cancel; the venue answers ``canceled`` or ``order_cancel_rejected``. A member
        of a bracket, OCO or OTO cancels its whole group."""
        o = self.manager.get(order_id)
        self.manager.request_cancel(order_id)
        if o.group_id is None:
            self._schedule(self._now + self._cancel_delay(), lambda: self._cancel_arrive(o.id))
        self._run_outbox()
        self._deliver_due()

    def replace(
        self, order_id: str, terms: ReplaceTerms | None = None, **changes: Unpack[ReplaceChanges]
    ) -> None:
        """Ask to replace (Alpaca's semantics: a new order id, the old order ``replaced``; the
        new order takes a new place in the queue). ``trail`` changes a trailing stop's trail (a
        price, or a percent, as the order has it), keeping its water mark."""
        o = self.manager.get(order_id)
        # Every check before anything changes: the terms, their grids, the account.
        t = replace_terms(terms, changes)
        qty, limit_price, stop_price, trail = t.qty, t.limit_price, t.stop_price, t.trail
        inst = self.venue.market(o.symbol).instrument
        if qty is not None:
            inst.to_lots(qty)
        for field, value in (("limit_price", limit_price), ("stop_price", stop_price)):
            if value is not None:
                inst.to_ticks(value, field)
        if trail is not None:
            self._trail_args(o, trail)  # validates before anything changes
        self._check_replacement(o, qty, limit_price)
        self.manager.request_replace(order_id, t)
        self._schedule(self._now + self._cancel_delay(), lambda: self._replace_arrive(o.id))
        self._deliver_due()

    # ----- queries ------------------------------------------------------------------------

    def positions(self) -> dict[str, Position]:
        return self._account.positions()

    def account(self) -> AccountSnapshot:
        return self._account.snapshot()

    def trailing_state(self, order_id: str) -> tuple[Decimal | None, Decimal | None] | None:
        """A working trailing stop's (stop price, water mark), None once it is not held."""
        o = self.manager.get(order_id)
        uid = self._uid.get(o.id)
        market = self.venue.market(o.symbol)
        state = None if uid is None else market.engine.trailing_state(uid)
        if state is None:
            return None
        inst = market.instrument
        stop, hwm = state
        return (
            None if stop is None else inst.to_price(stop),
            None if hwm is None else inst.to_price(hwm),
        )

    @property
    def ledger(self) -> Account:
        """The account itself (for marks and detailed queries)."""
        return self._account

    # ----- market data --------------------------------------------------------------------

    def latest_quote(self, symbol: str) -> Quote | None:
        """The recorded best bid and ask (None while the book shows neither side)."""
        return self._md.latest_quote(symbol)

    def last_trade(self, symbol: str) -> Trade | None:
        """The last print applied, from the data or scripted (None before the first)."""
        return self._md.last_trade(symbol)

    def subscribe_quotes(
        self, symbol: str, callback: Callable[[Quote], None]
    ) -> Callable[[], None]:
        """Call ``callback`` whenever the recorded top of ``symbol``'s book changes."""
        return self._md.subscribe("quotes", symbol, callback)

    def subscribe_trades(
        self, symbol: str, callback: Callable[[Trade], None]
    ) -> Callable[[], None]:
        """Call ``callback`` with every print of ``symbol``."""
        return self._md.subscribe("trades", symbol, callback)

    def subscribe_bars(self, symbol: str, callback: Callable[[Bar], None]) -> Callable[[], None]:
        """Call ``callback`` with each minute bar of ``symbol``'s prints, at the first print of
        a later minute."""
        return self._md.subscribe("bars", symbol, callback)

    # ----- scripted market data -----------------------------------------------------------

    def quote(
        self,
        symbol: str,
        bid: Decimal | None,
        ask: Decimal | None,
        *,
        bid_size: Decimal = Decimal(100),
        ask_size: Decimal = Decimal(100),
        ts: int | None = None,
    ) -> None:
        """Script a top-of-book quote (None: that side empty) at ``ts`` (default: now).

        Displayed size ahead of a resting user order keeps it queued; a quote crossing a user
        order fills it at the order's price.
        """
        market = self.venue.market(symbol)
        inst = market.instrument
        rows = []
        for side, price, size, field in ((1, bid, bid_size, "bid"), (-1, ask, ask_size, "ask")):
            if price is None:
                rows.append((side, 0, 0))
            else:
                rows.append(
                    (side, inst.to_ticks(price, field), inst.to_lots(size, f"{field}_size"))
                )
        t = self._script_time(ts)
        for side, ticks, lots in rows:
            market.engine.apply(t, 8, 0, side, ticks, lots)
        self._drain(market)
        self._md.quote_moved(market)
        self._deliver_due()

    def trade(
        self,
        symbol: str,
        price: Decimal,
        qty: Decimal = Decimal(100),
        *,
        aggressor: OrderSide = OrderSide.SELL,
        ts: int | None = None,
    ) -> None:
        """Script a trade print: it takes liquidity resting opposite ``aggressor`` through
        ``price``, in queue order (user orders included), and moves the last price (stops)."""
        market = self.venue.market(symbol)
        inst = market.instrument
        ticks, lots = inst.to_ticks(price, "price"), inst.to_lots(qty, "qty")
        resting = 1 if aggressor is OrderSide.SELL else -1
        t = self._script_time(ts)
        market.engine.apply(t, 9, 0, resting, ticks, lots)
        self._drain(market)
        self._md.scripted_trade(market, inst.to_price(ticks), inst.to_qty(lots), t)
        self._deliver_due()

    def _script_time(self, ts: int | None) -> int:
        t = self._now if ts is None else ts
        if t < self._now:
            raise SimulationError("ts", ts, f"before the simulation clock ({self._now})")
        self._catch_up(t)
        self._advance(t)
        return t

    # ----- the simulation loop ------------------------------------------------------------

    def run(self, max_messages: int | None = None, until_ns: int | None = None) -> int:
        """Advance the simulation: apply up to ``max_messages`` market messages (all, if None)
        timed before ``until_ns``, delivering delayed requests at their times and expiring DAY
        orders at each session close. When the data ends first, the clock moves to
        ``until_ns``. Returns how many messages were applied."""
        budget = max_messages if max_messages is not None else 1 << 62
        until: float = _NEVER if until_ns is None else until_ns
        applied = 0
        markets = list(self.venue.markets.values())
        while budget > 0:
            live = [m for m in markets if m.engine.next_time is not None]
            first = min(live, key=lambda m: (m.engine.next_time, m.index), default=None)
            nxt: float = _NEVER if first is None else first.engine.next_time or 0
            # Time is known to reach this far (with no data and no end given, it stands still).
            horizon = min(nxt, until) if first is not None or until < _NEVER else self._now
            pending = self._pending[0][0] if self._pending else _NEVER
            close = self._next_close()
            due = self._timers.next_ns() if self._timers else None
            timer: float = _NEVER if due is None else due
            if pending < _NEVER and pending <= min(horizon, close, timer):
                self._deliver_due(int(pending))
                continue
            if timer <= min(horizon, close) and timer < until:  # before the data at its time
                if self.venue.speed is not None:
                    self._pace(int(timer))
                self._fire_timers(int(min(horizon, close, until - 1)))
                continue
            if close < _NEVER and close <= horizon:
                self._expire_day(int(close))
                continue
            if first is None:
                if until < _NEVER:
                    self._advance(int(until))
                elif timer < pending < _NEVER:  # the data ended: timers due before a request
                    self._fire_timers(int(pending) - 1)
                    continue
                else:  # the data ended: requests still in flight reach the venue
                    self._deliver_due(int(pending) if pending < _NEVER else None)
                    if self._pending:
                        continue
                break
            if nxt >= until:
                self._advance(int(until))
                break
            bound = min(until, pending, close, timer)
            for m in live:
                if m is not first:
                    t = m.engine.next_time
                    assert t is not None
                    bound = min(bound, t + (1 if first.index < m.index else 0))
            if self.venue.speed is not None:  # paced: one timestamp at a time, each when due
                self._pace(int(nxt))
                bound = min(bound, nxt + 1)
            watched = self._md.watched(first.symbol)  # one message at a time, to observe it
            n = first.engine.run(1 if watched else budget, int(min(bound, 1 << 62)), True)
            applied += n
            budget -= n
            self._advance(first.engine.now)
            self._drain(first)
            if watched and n:
                self._md.observe(first)
        return applied

    def run_until_done(self) -> int:
        """Replay every market to the end of its data."""
        return self.run()

    def _pace(self, t: int) -> None:
        """Wall-clock mode: wait until data time ``t`` is due at the venue's speed."""
        speed = self.venue.speed
        if speed is None:
            return
        if self._wall is None:
            self._wall = (time.monotonic(), t)
        wall0, t0 = self._wall
        delay = wall0 + (t - t0) / 1e9 / speed - time.monotonic()
        if delay > 0:
            time.sleep(delay)

    def _schedule(self, t: int, action: Callable[[], None]) -> None:
        heapq.heappush(self._pending, (t, next(self._seq), action))

    def _deliver_due(self, upto: int | None = None) -> None:
        """Run delayed requests due by ``upto`` (default: now), in time then request order."""
        limit = self._now if upto is None else upto
        while self._pending and self._pending[0][0] <= limit:
            t, _, action = heapq.heappop(self._pending)
            self._advance(t)
            action()

    def _expire_day(self, close: int) -> None:
        self._advance(close)
        for m in self.venue.markets.values():
            m.engine.advance_to(close)
            if m.engine.expire_day():
                self._drain(m)
        self._account.close_session(self.venue.markets)  # lastday prices, last equity
        self._close = None
        self._now = max(self._now, close + 1)

    # ----- venue side ---------------------------------------------------------------------

    def _report(self, kind: EventKind, order_id: str, **kw: object) -> None:
        self.manager.apply(VenueReport.trusted(kind=kind, order_id=order_id, ts=self._now, **kw))

    def _arrive(self, order_id: str) -> None:
        o = self.manager.get(order_id)
        if o.status is not OrderStatus.PENDING_NEW:
            return  # canceled before it reached the venue
        market = self.venue.market(o.symbol)
        if o.request.notional is not None:
            self._arrive_notional(o, market)
            return
        if self._placed(o, market, self._uid[o.id], EventKind.REJECTED):
            self._report(EventKind.NEW, o.id)
            self._drain(market)

    def _arrive_notional(self, o: Order, market: Market) -> None:
        """A notional market order: its quantity is what the notional buys (or sells) at the
        touch when it arrives, in whole lots; the venue acknowledges it with that quantity."""
        inst, notional = market.instrument, o.request.notional
        assert notional is not None
        touch = market.best_ask() if o.request.side is OrderSide.BUY else market.best_bid()
        lots = 0 if touch is None else int(notional / touch / inst.lot_size)
        if lots == 0:
            self._release(o.id)
            why = "no market to size it" if touch is None else f"buys less than one lot at {touch}"
            self._report(EventKind.REJECTED, o.id, reason=f"notional {notional}: {why}")
            return
        self._report(EventKind.NEW, o.id, qty=inst.to_qty(lots))
        if self._placed(o, market, self._uid[o.id], EventKind.CANCELED):
            self._drain(market)

    def _retrail(self, o: Order, market: Market, uid: int, trail: Decimal) -> None:
        """A trailing stop's new trail: amended in the engine (the water mark stays); the
        replacement order takes over the engine's stop."""
        try:
            market.engine.amend_trailing(uid, **self._trail_args(o, trail))
        except FillforgeError:
            self._report(EventKind.REPLACE_REJECTED, o.id, reason="the stop is no longer held")
            return
        new_id = self._replacement_id(o)
        self._report(EventKind.REPLACED, o.id, new_order_id=new_id)
        new = self.manager.get(new_id)  # its request carries the new trail (the manager's)
        self._bind(new.id, uid)
        if self._account.reservation(o.id) is not None:
            self._account.rekey(o.id, new.id)

    def _bind(self, order_id: str, uid: int) -> None:
        """``order_id`` is engine order ``uid`` (a replacement may take over its old uid)."""
        self._uid[order_id], self._oid[uid] = uid, order_id

    def _replacement_id(self, o: Order) -> str:
        """The id of ``o``'s replacement: from the id factory, else the chain's first id with a
        replace number (``o-1.r7``), so ids stay short however long a chain grows."""
        if self._new_id:
            return self._new_id()
        root = self._chain_root.pop(o.id, o.id)
        new = f"{root}.r{next(self._replaces)}"
        self._chain_root[new] = root
        return new

    def _placed(self, o: Order, market: Market, uid: int, refusal: EventKind) -> bool:
        """Place ``o``; if the venue refuses it, report ``refusal`` with the reason, free its
        buying power and return False."""
        try:
            self._place(o, market, uid)
        except FillforgeError as e:
            market.engine.take_events()
            self._release(o.id)
            self._report(refusal, o.id, reason=_venue_reason(e))
            return False
        return True

    def _place(self, o: Order, market: Market, uid: int) -> None:
        """Put the open part of ``o`` on the venue's engine under ``uid``, by its type."""
        eng, inst, r = market.engine, market.instrument, o.request
        eng.advance_to(self._now)
        side = 1 if r.side is OrderSide.BUY else -1
        lots = inst.to_lots(o.leaves_qty)
        limit = None if o.limit_price is None else inst.to_ticks(o.limit_price, "limit_price")
        if r.time_in_force in _AUCTION:
            eng.submit_auction(uid, side, lots, limit, close=_AUCTION[r.time_in_force])
        elif r.type in (OrderType.MARKET, OrderType.LIMIT):
            eng.submit(uid, side, limit, lots, _TIF[r.time_in_force])
        elif r.type in (OrderType.STOP, OrderType.STOP_LIMIT):
            assert o.stop_price is not None  # OrderRequest's rules
            stop = inst.to_ticks(o.stop_price, "stop_price")
            eng.submit_stop(uid, side, stop, lots, limit, _TIF[r.time_in_force])
        else:
            ticks = None if r.trail_price is None else inst.to_ticks(r.trail_price, "trail_price")
            bps = None if r.trail_percent is None else int(r.trail_percent * 100)
            eng.submit_trailing(
                uid, side, lots, trail_ticks=ticks, trail_bps=bps, tif=_TIF[r.time_in_force]
            )

    def _cancel_arrive(self, order_id: str) -> None:
        o = self.manager.get(order_id)
        if not o.status.is_open:
            self._too_late(o, EventKind.CANCEL_REJECTED)
            return
        uid = self._uid.get(o.id)
        market = self.venue.market(o.symbol)
        if uid is not None and o.status is not OrderStatus.PENDING_NEW:
            try:
                market.engine.cancel(uid)
            except FillforgeError:
                self._report(EventKind.CANCEL_REJECTED, o.id, reason="too late to cancel")
                return
        self._release(o.id)
        self._report(EventKind.CANCELED, o.id, reason="user")

    def _too_late(self, o: Order, kind: EventKind) -> None:
        """A cancel or replace that reaches the venue after the order ended (filled, say)."""
        if o.pending_request is not None:
            self._report(kind, o.id, reason=f"order is already {o.status.value}")

    def _trail_args(self, o: Order, trail: Decimal) -> dict[str, int]:
        """The engine's trail for a new ``trail`` of order ``o`` (ticks, or whole bps)."""
        r = o.request
        if r.type is not OrderType.TRAILING_STOP:
            raise SimulationError("trail", trail, "only a trailing stop has a trail")
        if r.trail_price is not None:
            inst = self.venue.market(o.symbol).instrument
            return {"trail_ticks": inst.to_ticks(trail, "trail")}
        bps = trail * 100
        if bps % 1 or not 0 < bps <= 10_000:
            raise SimulationError("trail", trail, "a percent in whole basis points, up to 100")
        return {"trail_bps": int(bps)}

    def _replace_arrive(self, order_id: str) -> None:
        o = self.manager.get(order_id)
        terms = o.pending_request
        if terms is None:
            return
        if not o.status.is_open:
            self._too_late(o, EventKind.REPLACE_REJECTED)
            return
        market = self.venue.market(o.symbol)
        uid = self._uid[o.id]
        if terms.get("trail") is not None:
            self._retrail(o, market, uid, terms["trail"])
            return
        try:  # the account may have changed since the replace was asked for
            self._check_replacement(o, terms.get("qty"), terms.get("limit_price"))
        except (InsufficientBuyingPowerError, NotShortableError) as e:
            self._report(EventKind.REPLACE_REJECTED, o.id, reason=str(e))
            return
        try:
            market.engine.cancel(uid)
        except FillforgeError:
            self._report(EventKind.REPLACE_REJECTED, o.id, reason="too late to replace")
            return
        new_id = self._replacement_id(o)
        self._report(
            EventKind.REPLACED,
            o.id,
            new_order_id=new_id,
            qty=terms.get("qty"),
            limit_price=terms.get("limit_price"),
            stop_price=terms.get("stop_price"),
        )
        new = self.manager.get(new_id)
        self._release(o.id)
        if not new.status.is_open:
            return
        self._reserve(new, self._replacement_price(new, None))
        nuid = next(self._next_uid)
        self._bind(new.id, nuid)
        # Already acknowledged: a refusal now cancels it.
        if self._placed(new, market, nuid, EventKind.CANCELED):
            self._drain(market)

    def _drain(self, market: Market) -> None:
        """Turn the engine's events into venue reports for the order state machines."""
        events = market.engine.take_events()
        if not events:
            return
        inst, fees, fm = market.instrument, self.venue.fees, self.venue.fill_model
        charged = fees != _FREE
        for kind, uid, price, qty, remaining, taker, reason, t, _msg in events:
            oid = self._oid[uid]
            self._advance(t)
            if kind == _FILL:
                o = self.manager.get(oid)
                side = o.request.side
                px = fm.taker_price(price, side, inst) if taker else inst.to_price(price)
                q = inst.to_qty(qty)
                liq = LiquiditySide.TAKER if taker else LiquiditySide.MAKER
                fee = fees.fee(q, px, liq) if charged else _ZERO
                fill = Fill.trusted(
                    trade_id=f"{self.venue.name}-{next(self._trades)}",
                    order_id=oid,
                    price=px,
                    qty=q,
                    liquidity=liq,
                    commission=max(fee, _ZERO),
                    ts_event=t,
                    ts_recv=t,
                )
                self._account.apply_fill(o.symbol, side, q, px, fee)
                if self._account.reservation(oid) is not None:
                    self._account.release_partial(oid, q)
                    if remaining == 0:  # a notional order's estimate may leave some over
                        self._release(oid)
                self._account.mark(o.symbol, px)
                done = EventKind.FILL if remaining == 0 else EventKind.PARTIAL_FILL
                self._report(done, oid, fill=fill)
            elif kind in (_CANCELED, _EXPIRED):
                self._release(oid)
                if kind == _EXPIRED:
                    self._report(EventKind.EXPIRED, oid)
                else:
                    self._report(EventKind.CANCELED, oid, reason=Reason(reason).name.lower())
            self._run_outbox()

    def _run_outbox(self) -> None:
        """Carry out the leg actions of bracket, OCO and OTO groups."""
        out = self.manager.outbox
        while out:
            a = out.popleft()
            leg = self.manager.get(a.order_id)
            if a.action == "submit":
                if leg.id not in self._uid:
                    price = leg.limit_price or leg.stop_price
                    assert price is not None  # exits are limit or stop orders
                    self._reserve(leg, price)
                    self._send(leg)
            elif a.action == "cancel":
                self._schedule(self._now + self._cancel_delay(), self._canceller(leg.id))
            else:
                self._schedule(self._now + self._cancel_delay(), self._replacer(leg.id))

    def _canceller(self, order_id: str) -> Callable[[], None]:
        return lambda: self._cancel_arrive(order_id)

    def _replacer(self, order_id: str) -> Callable[[], None]:
        return lambda: self._replace_arrive(order_id)

    def __repr__(self) -> str:
        return f"SimulatedBroker(venue={self.venue.name!r}, orders={len(self.manager)})"


_ENGINE_ID = re.compile(r"\border_id=\d+: ")


def _venue_reason(e: FillforgeError) -> str:
    """The venue's refusal in the user's terms: without the engine's own order numbers, which
    name nothing the user knows (the user's order is the one refused)."""
    return _ENGINE_ID.sub("", str(e))
