"""One broker interface, and the simulated broker that implements it on a :class:`Venue`.

Strategy code talks to a :class:`Broker`; :class:`SimulatedBroker` routes its orders through the
order manager's state machines to the venue's engines, with the venue's latency, fees and
sessions, and keeps an :class:`~fillforge.sim.account.Account`. Nothing runs until the caller
advances the simulation (:meth:`SimulatedBroker.run`): submit an order, get its events back;
step the data, get the events that result.

This module is the broker's API; each job behind it has its own module: the account calls
(:mod:`~fillforge.sim.funding`), ids and engine calls (:mod:`~fillforge.sim.translation`),
time and the latency queue (:mod:`~fillforge.sim.scheduling`), requests reaching the venue
(:mod:`~fillforge.sim.arrivals`) and the engine's events as reports (:mod:`~fillforge.sim.
reports`).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Unpack

from fillforge.broker import (
    Broker,
    BrokerClock,
    MarketDataMethods,
    ReplaceChanges,
    TimerBook,
    TimerMethods,
    replace_terms,
)
from fillforge.codes import FeedKind
from fillforge.errors import FillforgeError, SimulationError, UnknownOrderIdError
from fillforge.orders.enums import OrderClass, OrderSide, OrderStatus
from fillforge.orders.manager import ManagedOrders, OrderManager
from fillforge.orders.models import Fill, OrderRequest, ReplaceTerms
from fillforge.orders.order import Order
from fillforge.sim.account import Account, AccountSnapshot, Position, market_marks
from fillforge.sim.arrivals import Arrivals
from fillforge.sim.funding import Funding
from fillforge.sim.market_data import SimMarketData
from fillforge.sim.reports import Reports, Wiring
from fillforge.sim.rules import BrokerView
from fillforge.sim.scheduling import NEVER, Scheduler
from fillforge.sim.translation import Translation
from fillforge.sim.venue import Market, Venue
from fillforge.venues.rules import VenueRules, venue_rules

__all__ = ["Broker", "BrokerClock", "SimulatedBroker"]

_NO_TIME = -(2**63)  # an engine's clock before its first message


class SimulatedBroker(TimerMethods, MarketDataMethods, ManagedOrders):
    """A :class:`Broker` on a simulated :class:`Venue`.

    ``cash`` funds a new :class:`Account` unless ``account`` is given. The clock starts at
    ``start_ns`` (default: the earliest market's first message, else 0). Order ids come from
    ``id_factory`` (default: the order manager's deterministic ``o-<n>``, replacements
    ``<id>.r<n>``); trade ids are ``"<venue>-<n>"``. ``short_markup`` (Alpaca: 0.03) makes a sell
    that opens a short hold buying power at ``max(limit, ask * (1 + short_markup))``.
    ``wash_trades`` turns the account's wash-trade prevention on or off (a new order that could
    trade against one of its own working orders is refused with
    :class:`~fillforge.errors.WashTradeError`); None keeps the account's setting, except that
    the Alpaca profile (``rules="alpaca"``) turns it on.

    Timers (:meth:`set_timer`) count simulated time and fire inside :meth:`run` (and when a
    scripted quote or trade moves the clock past them), with the clock at their time: after the
    requests in flight due by then, before the market messages and the session close at that
    time (``docs/broker.md``, the tie rule). Market data is the recorded feed's
    (:class:`~fillforge.sim.market_data.SimMarketData`): the quote and bar subscriptions see the
    recorded top of book and the prints, data or scripted, as they are applied.
    """

    _market_data: SimMarketData
    _timers: TimerBook

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
        wash_trades: bool | None = None,
    ) -> None:
        self.rules = venue_rules(rules)  # a venue profile: check() and submit() apply it
        if wash_trades is not None and not isinstance(wash_trades, bool):
            raise SimulationError("wash_trades", wash_trades, "must be True, False or None")
        self.venue = venue
        self.manager = OrderManager(clock=self.now, id_factory=id_factory)
        self._account = account if account is not None else Account(cash)
        self._account.follow(market_marks(venue.markets))  # marks follow the market, lazily
        self._account.follow_orders(lambda s: self.orders(open_only=True, symbol=s))
        if wash_trades is None and self.rules is not None and self.rules.name == "alpaca":
            wash_trades = True
        if wash_trades is not None:
            self._account.checks.wash_trades = wash_trades
        starts = [
            m.engine.now if m.engine.now > _NO_TIME else m.engine.next_time
            for m in venue.markets.values()
        ]
        now = (
            start_ns
            if start_ns is not None
            else min((t for t in starts if t is not None), default=0)
        )
        self._sched = Scheduler(venue, now)
        self._timers = self._sched.timers
        self._ids = Translation(venue.name, id_factory)
        self._funding = Funding(self._account, venue, self.rules, short_markup)
        wiring = Wiring(self.manager, self._sched, self._ids, self._funding, venue)
        self._reports = Reports(wiring)
        self._arrivals = Arrivals(wiring, self._reports, venue.latency.sampler())
        self._market_data = SimMarketData(venue, self.now)

    @property
    def _uid(self) -> dict[str, int]:
        """Engine order numbers by order id (for tests that look into the engine)."""
        return self._ids.uid

    # ----- time ---------------------------------------------------------------------------

    def now(self) -> int:
        """Simulated time, UNIX nanoseconds."""
        return self._sched.now

    def now_ns(self) -> int:
        """Simulated time (the broker is a :class:`fillforge.time.Clock`)."""
        return self._sched.now

    def clock(self) -> BrokerClock:
        cal, t = self.venue.calendar, self._sched.now
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

    # ----- requests -----------------------------------------------------------------------

    def submit(self, request: OrderRequest) -> Order:
        """Send an order. Bad terms (unknown symbol, off-grid price or quantity) and the
        account's pre-trade checks (a wash trade when prevention is on, not shortable, beyond
        the short limit, insufficient buying power) raise a typed error and change nothing;
        the venue's own refusals arrive as a ``rejected`` event."""
        market = self.check(request)
        sent = request
        request = request if self.rules is None else self.rules.convert(request, BrokerView(self))
        funding = self._funding
        price = funding.reference_price(market, request)
        # A notional order's size is fixed when it reaches the venue; until then it holds the
        # buying power its notional buys at the reference price.
        qty = request.qty if request.qty is not None else request.notional / price  # type: ignore[operator]
        # Reserve under the id the order will get, before it exists: a refusal leaves nothing.
        oid = self.manager.next_id()
        account = self._account
        account.reserve(oid, request.symbol, request.side, qty, price, request=sent)
        try:
            order = self.manager.create(request, ts=self._sched.now, submit=True)
        except FillforgeError:
            account.release(oid)
            raise
        if order.group_id is None:
            self._arrivals.send(order)
        else:
            # An OCO's legs are one exit, at most one of which can fill: the first holds the
            # group's reservation, as venues lock one balance for both (Binance, Alpaca).
            shared = request.order_class is OrderClass.OCO
            for m in self.manager.groups[order.group_id].members:
                if m.status is OrderStatus.PENDING_NEW and m.id not in self._ids.uid:
                    if not account.book.holds(m.id) and not shared:
                        funding.reserve(m, m.limit_price or m.stop_price or price)
                    self._arrivals.send(m)
        self._sched.deliver_due()
        return order

    def check(self, request: OrderRequest) -> Market:
        """Every check of ``request``'s terms this venue makes before anything changes (the
        instrument's :meth:`~fillforge.orders.models.Instrument.check`: symbol, grids and range
        of every price and quantity, legs included; trails in whole basis points), then the refusals
        of the broker's venue profile (``rules``: Alpaca's wash trades and auction windows); the
        market it trades on. :meth:`submit` calls it first, then the account's checks."""
        market = self.venue.market(request.symbol)
        market.instrument.check(request)
        if request.trail_percent is not None and (request.trail_percent * 100) % 1:
            raise SimulationError(
                "trail_percent", request.trail_percent, "must be a whole number of basis points"
            )
        if self.rules is not None:
            self.rules.refuse(request, BrokerView(self))
        return market

    def cancel(self, order_id: str) -> None:
        """Ask to cancel; the venue answers ``canceled`` or ``order_cancel_rejected``. A member
        of a bracket, OCO or OTO cancels its whole group. An order still on its way to the
        venue (in flight, or waiting for the open) is canceled where it is."""
        o = self.manager.get(order_id)
        self.manager.request_cancel(order_id)
        if o.group_id is None:
            self._arrivals.cancel(o.id)
        self._arrivals.run_outbox()
        self._sched.deliver_due()

    def replace(
        self, order_id: str, terms: ReplaceTerms | None = None, **changes: Unpack[ReplaceChanges]
    ) -> None:
        """Ask to replace (Alpaca's semantics: a new order id, the old order ``replaced``; the
        new order takes a new place in the queue). ``trail`` changes a trailing stop's trail (a
        price, or a percent, as the order has it), keeping its water mark. An order still on
        its way to the venue is replaced where it is: the replacement keeps its arrival."""
        o = self.manager.get(order_id)
        # Every check before anything changes: the terms, their grids, the account.
        t = replace_terms(terms, changes)
        qty, limit_price, stop_price, trail = t.qty, t.limit_price, t.stop_price, t.trail
        market = self.venue.market(o.symbol)
        inst = market.instrument
        if qty is not None:
            inst.to_lots(qty)
        for field, value in (("limit_price", limit_price), ("stop_price", stop_price)):
            if value is not None:
                inst.to_ticks(value, field)
        if trail is not None:
            self._ids.trail_args(o, trail, market)  # validates before anything changes
        self._funding.check_replacement(o, qty, limit_price)
        self.manager.request_replace(order_id, t)
        self._arrivals.later(self._arrivals.replace_arrive, o.id)
        self._sched.deliver_due()

    # ----- queries ------------------------------------------------------------------------

    def positions(self) -> dict[str, Position]:
        return self._account.positions()

    def account(self) -> AccountSnapshot:
        return self._account.snapshot()

    def trailing_state(self, order_id: str) -> tuple[Decimal | None, Decimal | None] | None:
        """A working trailing stop's (stop price, water mark), None once it is not held."""
        o = self.manager.get(order_id)
        return self._ids.trailing_state(o, self.venue.market(o.symbol))

    # ----- history (fillforge.journal.reconcile.FillHistory) ---------------------------------

    def fills_since(self, ts_ns: int) -> list[Fill]:
        """Every fill of this account at or after ``ts_ns`` (venue time), oldest first: what a
        restarted process asks for to find the fills it missed (its own fill records)."""
        seen = {  # a replacement carries its predecessor's fills: each one once
            f.trade_id: f
            for o in self.manager.orders.values()
            for f in o.fills.values()
            if f.ts_event >= ts_ns
        }
        return sorted(seen.values(), key=lambda f: f.ts_event)

    def venue_order(self, order_id: str) -> Order | None:
        """The venue's order ``order_id`` (None: it has none)."""
        return self.manager.orders.get(order_id)

    def venue_order_by_client_id(self, client_order_id: str) -> Order | None:
        """The venue's order with this client order id (None: it has none)."""
        try:
            return self.manager.by_client_order_id(client_order_id)
        except UnknownOrderIdError:
            return None

    @property
    def ledger(self) -> Account:
        """The account itself (for marks and detailed queries)."""
        return self._account

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
        order fills it at the quote's price (on top-of-book and bar data, the price that traded:
        a gap through the order fills at the first price past it), as ``docs/simulator.md``
        describes.
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
            market.engine.apply(t, FeedKind.QUOTE, 0, side, ticks, lots)
        self._reports.drain(market)
        self._market_data.quote_moved(market)
        self._sched.deliver_due()

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
        market.engine.apply(t, FeedKind.TRADE, 0, resting, ticks, lots)
        self._reports.drain(market)
        self._market_data.scripted_trade(market, inst.to_price(ticks), inst.to_qty(lots), t)
        self._sched.deliver_due()

    def _script_time(self, ts: int | None) -> int:
        """Move the clock to a scripted event's time as :meth:`run` moves it: requests, timers
        and session closes due on the way happen first, in time order (a close expires the DAY
        orders of its session before a print after hours can reach them)."""
        sched = self._sched
        now = sched.now
        t = now if ts is None else ts
        if t < now:
            raise SimulationError("ts", ts, f"before the simulation clock ({now})")
        while (close := sched.next_close()) <= t:
            sched.catch_up(int(close))
            self._reports.expire_day(int(close))
        sched.catch_up(t)
        sched.advance(t)
        return t

    # ----- the simulation loop ------------------------------------------------------------

    def run(self, max_messages: int | None = None, until_ns: int | None = None) -> int:
        """Advance the simulation: apply up to ``max_messages`` market messages (all, if None)
        timed before ``until_ns``, delivering delayed requests at their times and expiring DAY
        orders at each session close. When the data ends first, the clock moves to
        ``until_ns``. Returns how many messages were applied."""
        budget = max_messages if max_messages is not None else 1 << 62
        until: float = NEVER if until_ns is None else until_ns
        applied = 0
        venue = self.venue
        markets = list(venue.markets.values())
        only = markets[0] if len(markets) == 1 else None
        paced = venue.speed is not None
        loop = None if paced else venue.markets_loop()
        sched, reports = self._sched, self._reports
        watched = self._market_data.subscriptions.watched
        while budget > 0:
            if only is not None:  # one market: no merge to make
                live = [only] if only.engine.next_time is not None else []
                first: Market | None = live[0] if live else None
            else:
                live = [m for m in markets if m.engine.next_time is not None]
                first = min(live, key=lambda m: (m.engine.next_time, m.index), default=None)
            nxt: float = NEVER if first is None else first.engine.next_time or 0
            # Time is known to reach this far (with no data and no end given, it stands still).
            horizon = min(nxt, until) if first is not None or until < NEVER else sched.now
            pending, close, timer = sched.next_pending, sched.next_close(), sched.next_timer
            if pending <= horizon and pending <= close and pending <= timer and pending < NEVER:
                sched.deliver_due(int(pending))
                continue
            if timer <= horizon and timer <= close and timer < until:  # before the data then
                if paced:
                    sched.pace(int(timer))
                sched.fire_timers(int(min(horizon, close, until - 1)))
                continue
            if close < NEVER and close <= horizon:
                reports.expire_day(int(close))
                continue
            if first is None:
                if until < NEVER:
                    sched.advance(int(until))
                elif timer < pending < NEVER:  # the data ended: timers due before a request
                    sched.fire_timers(int(pending) - 1)
                    continue
                else:  # the data ended: requests still in flight reach the venue
                    sched.deliver_due(int(pending) if pending < NEVER else None)
                    if sched.in_flight:
                        continue
                break
            if nxt >= until:
                sched.advance(int(until))
                break
            bound = min(until, pending, close, timer)
            symbol = first.instrument.symbol
            if loop is not None and not (
                watched(symbol) if only is not None else any(watched(m.symbol) for m in live)
            ):
                # Every market in time order, in Rust, to a user order's change or the bound.
                n, i, _ = loop.run(budget, int(min(bound, 1 << 62)))
                applied += n
                budget -= n
                if i is not None:
                    sched.advance(markets[i].engine.now)
                    reports.drain(markets[i])
                continue
            for m in live:
                if m is not first:
                    t = m.engine.next_time
                    assert t is not None
                    bound = min(bound, t + (1 if first.index < m.index else 0))
            if not paced and watched(symbol):
                n = self._run_watched(first, budget, int(min(bound, 1 << 62)))
                applied += n
                budget -= n
                continue
            if paced:  # paced: one timestamp at a time, each when due
                sched.pace(int(nxt))
                bound = min(bound, nxt + 1)
            # One message at a time, to observe it.
            observed = watched(symbol)
            n = first.engine.run(1 if observed else budget, int(min(bound, 1 << 62)), True)
            applied += n
            budget -= n
            sched.advance(first.engine.now)
            reports.drain(first)
            if observed and n:
                self._market_data.observe(first)
        return applied

    def _run_watched(self, market: Market, budget: int, bound: int) -> int:
        """A subscribed market, up to ``bound``: its engine runs until a message changes a user
        order, prints or moves the top of the book; what changed is delivered, and it runs on
        while nothing the callbacks did (a request in flight, a timer) is due before ``bound``.
        Returns the messages applied."""
        sched, md, e, symbol = self._sched, self._market_data, market.engine, market.symbol
        subs = md.subscriptions
        version = subs.version
        quote_cbs, prints = md.watching(symbol)
        run, make = e.run_watched, md.quote_maker(market)
        applied = 0
        while budget > 0:
            if subs.version != version:  # a callback (un)subscribed
                version = subs.version
                quote_cbs, prints = md.watching(symbol)
            n, now, changed, printed, moved, bp, bq, ap, aq = run(
                budget, bound, bool(quote_cbs), prints
            )
            if n == 0:
                break
            applied += n
            budget -= n
            if now > sched.now:
                sched.now = now
            if changed:
                self._reports.drain(market)
            if printed:
                md.deliver_print(market)
            if moved:
                q = make(now, bp, bq, ap, aq)
                if q is not None:
                    for cb in quote_cbs:
                        cb(q)
            elif not printed:
                break  # the run reached its bound: the loop decides what comes next
            if changed or sched.due_before(bound):
                break  # orders changed, or a callback made something due first
        return applied

    def run_until_done(self) -> int:
        """Replay every market to the end of its data."""
        return self.run()

    def __repr__(self) -> str:
        return f"SimulatedBroker(venue={self.venue.name!r}, orders={len(self.manager)})"
