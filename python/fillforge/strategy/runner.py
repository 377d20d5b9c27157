"""The :class:`Runner`: one strategy on one broker, simulated or live, with the same code.

On a :class:`~fillforge.sim.SimulatedBroker` the runner drives the simulation
(:meth:`SimulatedBroker.run <fillforge.sim.SimulatedBroker.run>`) to the end of the data, or to
``until_ns``; the broker calls the runner back inside its run, in simulated time. On any other
broker (``AlpacaBroker``, live or on a paper account) the broker calls back from its own
threads (the order stream, the timer and data-poll scheduler); the runner queues every
callback and runs them one at a time on the thread that called :meth:`Runner.run`, until
:meth:`Runner.stop`, ``until_ns`` on the broker's clock, or ``timeout_s`` of wall time.

Either way a strategy's callbacks run one at a time, never one inside another: an order event
raised while a callback submits is delivered after that callback returns. The rules are in
``docs/strategy.md``.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal
from typing import Any, Literal

from fillforge.broker import Bar, Broker, Quote, Trade
from fillforge.errors import StrategyError, TimerError
from fillforge.journal.broker import JournalledBroker
from fillforge.orders.models import OrderEvent
from fillforge.portfolio.equity import PeriodsPerYear
from fillforge.risk.gate import RiskGate
from fillforge.sim.broker import SimulatedBroker
from fillforge.strategy.bars import BarSchedule, BarTable
from fillforge.strategy.base import Strategy, overridden
from fillforge.strategy.context import TIMER_PREFIX, Context
from fillforge.strategy.records import EquitySamples, FillRecord, RunResult
from fillforge.strategy.sessions import SessionBars

__all__ = ["EquityEvery", "Runner"]

#: When the equity curve takes a sample: at each instant bars are delivered, at each session
#: close, every so many nanoseconds, or only at the start and the end of the run.
EquityEvery = Literal["auto", "bar", "close", "none"] | int

_BARS = "\0strategy-bars"  # the broker timers the runner keeps for itself
_EQUITY = "\0strategy-equity"
_SESSION = "\0strategy-sessions"
_Item = tuple[Callable[[Any], None], Any]


class Runner:
    """Runs ``strategy`` on ``broker`` for ``symbols``.

    ``bars`` replays bar tables (:class:`~fillforge.strategy.bars.BarTable`, one per symbol)
    to ``on_bar`` at each bar's end, on a simulated broker only; without them ``on_bar`` gets
    the broker's own bars (``subscribe_bars``). ``symbols`` defaults to the tables' symbols.
    ``warmup`` tables (any broker) fill the history before ``on_start`` with bars that have all
    ended by the broker's time at the start (a live strategy's lookback; no ``on_bar`` for them).
    ``session_bars`` makes ``on_bar`` get one bar per symbol and session, built from the
    broker's prints and delivered at each session close (:mod:`fillforge.strategy.sessions`):
    a daily strategy on a live or paper broker; ``session_delay_ns`` later when the broker's
    last prints arrive late (a broker that polls: at least one poll period).
    ``equity_every`` says when the equity curve takes a sample (``"auto"``: at each bar instant
    when there are tables, else at each session close when the broker's venue has sessions;
    the start and the end are always sampled); ``periods_per_year`` annualises the curve's
    metrics (252 for daily samples; a callable of the first and last times for a calendar's).
    ``step_messages`` is how many market messages a simulated run applies between two looks at
    :meth:`stop`.
    """

    def __init__(
        self,
        strategy: Strategy,
        broker: Broker,
        *,
        symbols: Iterable[str] | None = None,
        bars: Sequence[BarTable] | None = None,
        warmup: Sequence[BarTable] | None = None,
        session_bars: bool = False,
        session_delay_ns: int = 0,
        equity_every: EquityEvery = "auto",
        periods_per_year: PeriodsPerYear = 252,
        step_messages: int = 4096,
    ) -> None:
        if not isinstance(strategy, Strategy):
            raise StrategyError("strategy", type(strategy).__name__, "expected a Strategy")
        if not isinstance(broker, Broker):
            raise StrategyError("broker", type(broker).__name__, "expected a Broker")
        tables = list(bars or ())
        if symbols is None:
            symbols = [t.symbol for t in tables]
        syms = tuple(symbols) if not isinstance(symbols, str) else (symbols,)
        if not syms:
            raise StrategyError("symbols", syms, "give at least one symbol")
        for s in syms:
            if not isinstance(s, str) or not s:
                raise StrategyError("symbols", s, "expected non-empty symbol strings")
        if len(set(syms)) != len(syms):
            raise StrategyError("symbols", syms, "a symbol is listed twice")
        _check_tables("bars", tables, syms)
        self._warmup = list(warmup or ())
        _check_tables("warmup", self._warmup, syms)
        self._sim = _simulator(broker)
        self.simulated = self._sim is not None
        if tables and not self.simulated:
            raise StrategyError("bars", len(tables), "bar tables replay on a SimulatedBroker only")
        if isinstance(step_messages, bool) or not isinstance(step_messages, int):
            raise StrategyError("step_messages", step_messages, "expected an int >= 1")
        if step_messages < 1:
            raise StrategyError("step_messages", step_messages, "expected an int >= 1")
        if not isinstance(session_bars, bool):
            raise StrategyError("session_bars", session_bars, "expected True or False")
        if session_bars and tables:
            raise StrategyError("session_bars", True, "bar tables already deliver the bars")
        if isinstance(session_delay_ns, bool) or not isinstance(session_delay_ns, int):
            raise StrategyError("session_delay_ns", session_delay_ns, "expected an int of ns")
        if session_delay_ns < 0:
            raise StrategyError("session_delay_ns", session_delay_ns, "expected ns >= 0")
        self._session_delay = session_delay_ns
        self._sessions = SessionBars(syms) if session_bars else None
        self._session_close = self._session_at = 0
        self._every = _check_every(equity_every, bool(tables) or session_bars)
        self.strategy, self.broker = strategy, broker
        self._step = step_messages
        self._schedule = BarSchedule(tables) if tables else None
        self.ctx = Context(
            broker,
            syms,
            arm=self._arm,
            disarm=self._disarm,
            stop=self.stop,
            qty=self._sim.ledger.ledger.qty if self._sim is not None else None,
            equity=self._equity,
        )
        self._fills: list[FillRecord] = []
        self._samples = EquitySamples(periods_per_year)
        self._state: Literal["new", "running", "done"] = "new"
        self._stopped = False
        self._busy = False
        self._later: deque[_Item] = deque()
        self._inbox: queue.SimpleQueue[_Item | None] | None = None
        self._unsubscribe: list[Callable[[], None]] = []
        self._own_timers: set[str] = set()
        self._timer_gen: dict[str, int] = {}
        self._result: RunResult | None = None
        self._stopped_by_user = False
        self._started = False

    # ----- running --------------------------------------------------------------------------

    def run(self, *, until_ns: int | None = None, timeout_s: float | None = None) -> RunResult:
        """Run to the end: of the data (simulated), of ``until_ns`` on the broker's clock, of
        ``timeout_s`` wall seconds (live brokers only), or until :meth:`stop`. Returns the
        :class:`RunResult`. A runner runs once. A callback's exception ends the run (the
        broker's subscriptions and the strategy's timers are removed) and is raised here."""
        if self._state != "new":
            raise StrategyError("runner", self._state, "a runner runs once: make a new one")
        if until_ns is not None and (isinstance(until_ns, bool) or not isinstance(until_ns, int)):
            raise StrategyError("until_ns", until_ns, "expected an int of nanoseconds")
        if timeout_s is not None:
            if self.simulated:
                raise StrategyError("timeout_s", timeout_s, "a simulated run ends with its data")
            if not timeout_s > 0:
                raise StrategyError("timeout_s", timeout_s, "expected seconds > 0")
        self._state = "running"
        ok = False
        try:
            self._start()
            if self.simulated:
                self._run_simulated(until_ns)
            else:
                self._run_live(until_ns, timeout_s)
            ok = True
        finally:
            self._finish(ok)
        assert self._result is not None
        return self._result

    async def run_async(
        self, *, until_ns: int | None = None, timeout_s: float | None = None
    ) -> RunResult:
        """:meth:`run` on a worker thread, awaitable: for an asyncio application (the agent's
        event loop keeps serving while a live strategy runs; :meth:`stop` is thread-safe)."""
        return await asyncio.to_thread(self.run, until_ns=until_ns, timeout_s=timeout_s)

    def stop(self) -> None:
        """End the run: no strategy callback after the current one, then ``on_stop``. Safe from
        any thread and from inside a callback. On a simulated broker the simulation stops at the
        end of the current step (``step_messages``); fills in it are still recorded."""
        self._stopped = True
        if self._inbox is not None:
            self._inbox.put(None)  # wake the loop

    @property
    def stopped(self) -> bool:
        return self._stopped

    @property
    def result(self) -> RunResult | None:
        """The result once the run has ended (None before)."""
        return self._result

    # ----- start and finish -----------------------------------------------------------------

    def _start(self) -> None:
        b, s = self.broker, self.strategy
        if not self.simulated:
            self._inbox = queue.SimpleQueue()
        s.ctx = self.ctx
        self._warm_up(b.now_ns())
        self._sample()
        via = self._direct if self.simulated else self._queued
        self._unsubscribe.append(b.subscribe(via(self._on_event)))
        if overridden(s, "on_quote"):
            on_quote = via(self._quote_handler())
            for sym in self.ctx.symbols:
                self._unsubscribe.append(b.subscribe_quotes(sym, on_quote))
        if overridden(s, "on_trade") or self._sessions is not None:
            on_trade = via(self._on_trade)
            for sym in self.ctx.symbols:
                self._unsubscribe.append(b.subscribe_trades(sym, on_trade))
        if self._schedule is not None:
            dropped = self._schedule.skip_before(b.now_ns())
            if dropped:
                raise StrategyError(
                    "bars", dropped, "bars that ended before the broker's clock (start earlier)"
                )
            self._arm_bars()
        elif self._sessions is not None:
            self._arm_session(None)
        elif overridden(s, "on_bar"):
            for sym in self.ctx.symbols:
                self._unsubscribe.append(b.subscribe_bars(sym, via(self._on_broker_bar)))
        self._arm_equity(None)
        if not self._stopped:  # stopped before it ran: neither on_start nor on_stop
            self._started = True
            self._call(lambda _: s.on_start(), None)

    def _warm_up(self, now: int) -> None:
        """The warm-up tables' bars into the history, before any callback: every one of them
        must have ended by ``now`` (a bar still open, or in the future, would be look-ahead)."""
        if not self._warmup:
            return
        sched = BarSchedule(self._warmup)
        if sched.last_end > now:
            raise StrategyError(
                "warmup", sched.last_end, f"a bar ends after the broker's time {now}"
            )
        ctx = self.ctx
        while sched.next_end() is not None:
            for bar, row in sched.pop():
                ctx._bars[bar.symbol] = bar
                ctx._histories[bar.symbol].append_row(*row)

    def _finish(self, ok: bool) -> None:
        self._stopped = True
        for unsubscribe in self._unsubscribe:
            with contextlib.suppress(Exception):
                unsubscribe()
        self._unsubscribe.clear()
        for name in list(self._own_timers):
            self._cancel_broker_timer(name)
        if self._inbox is not None:  # record the fills already queued; deliver nothing more
            while True:
                try:
                    item = self._inbox.get_nowait()
                except queue.Empty:
                    break
                if item is not None and item[0] == self._on_event:
                    self._record(item[1])
        if ok:
            self._sample()
        if ok and self._started:
            self._busy, self._stopped = False, False
            self._later.clear()
            try:
                self._call(lambda _: self.strategy.on_stop(), None)
            finally:
                self._stopped = True
        self._state = "done"
        self._result = RunResult.build(self._samples, self._fills, self._stopped_by_user)

    def _run_simulated(self, until_ns: int | None) -> None:
        b = self._sim
        assert b is not None
        self._stopped_by_user = False
        step = self._step
        while not self._stopped:
            if b.run(max_messages=step, until_ns=until_ns) < step:
                break
        # The data ended before the last bars' end (a daily bar's close is printed just before
        # its session closes): run the clock on to deliver them.
        end = None
        sched, sessions = self._schedule, self._sessions
        if sched is not None and sched.next_end() is not None:
            end = sched.last_end + 1
        elif sessions is not None and sessions:
            end = self._session_at + 1
        if not self._stopped and end is not None and (until_ns is None or end < until_ns):
            b.run(until_ns=end)
        self._stopped_by_user = self._stopped

    def _run_live(self, until_ns: int | None, timeout_s: float | None) -> None:
        inbox = self._inbox
        assert inbox is not None
        self._stopped_by_user = False
        b = self.broker
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while not self._stopped:
            wait = 0.05
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                wait = min(wait, left)
            if until_ns is not None and b.now_ns() >= until_ns:
                return
            try:
                item = inbox.get(timeout=wait)
            except queue.Empty:
                continue
            if item is not None:
                item[0](item[1])
        self._stopped_by_user = True

    # ----- dispatch -------------------------------------------------------------------------

    def _direct(self, handler: Callable[[Any], None]) -> Callable[[Any], None]:
        return handler

    def _queued(self, handler: Callable[[Any], None]) -> Callable[[Any], None]:
        inbox = self._inbox
        assert inbox is not None

        def put(value: Any) -> None:
            inbox.put((handler, value))

        return put

    def _call(self, fn: Callable[[Any], None], arg: Any) -> None:
        """Run one strategy callback, or queue it behind the one running."""
        if self._stopped:
            return
        if self._busy:
            self._later.append((fn, arg))
            return
        self._busy = True
        try:
            fn(arg)
            later = self._later
            while later and not self._stopped:
                f, a = later.popleft()
                f(a)
        finally:
            self._busy = False

    def _quote_handler(self) -> Callable[[Quote], None]:
        """The per-quote path, kept lean (it runs for every change of the top of the book):
        note the quote, then call ``on_quote``, or queue it behind the callback running."""
        quotes, on_quote, later, call = (
            self.ctx._quotes,
            self.strategy.on_quote,
            self._later,
            self._call,
        )

        def on(q: Quote) -> None:
            quotes[q.symbol] = q
            if self._busy or self._stopped:
                call(on_quote, q)
                return
            self._busy = True
            try:
                on_quote(q)
                if later:
                    self._drain()
            finally:
                self._busy = False

        return on

    def _on_trade(self, t: Trade) -> None:
        self.ctx._trades[t.symbol] = t
        if self._sessions is not None:
            self._sessions.add(t)
        self._call(self.strategy.on_trade, t)

    def _drain(self) -> None:
        later = self._later
        while later and not self._stopped:
            f, a = later.popleft()
            f(a)

    def _on_event(self, e: OrderEvent) -> None:
        if e.symbol not in self.ctx._histories:
            return
        fill = self._record(e)
        if self._stopped:
            return
        if fill is None:
            self._call(self.strategy.on_order, e)
        else:  # one slot: what on_order sets off comes after this fill's on_fill
            self._call(self._order_and_fill, (e, fill))

    def _order_and_fill(self, pair: tuple[OrderEvent, FillRecord]) -> None:
        self.strategy.on_order(pair[0])
        if not self._stopped:
            self.strategy.on_fill(pair[1])

    def _record(self, e: OrderEvent) -> FillRecord | None:
        if e.fill is None or e.symbol not in self.ctx._histories:
            return None
        side = self.broker.get_order(e.order_id).request.side
        fill = FillRecord.of(e, side)
        self._fills.append(fill)
        self._samples.traded += fill.notional
        return fill

    def _on_broker_bar(self, bar: Bar) -> None:
        self.ctx._bars[bar.symbol] = bar
        self.ctx._histories[bar.symbol].append(bar)
        self._call(self.strategy.on_bar, bar)

    def _bars_due(self, _t: int) -> None:
        sched = self._schedule
        assert sched is not None
        self._own_timers.discard(_BARS)
        if self._stopped:
            return
        group = sched.pop()
        ctx = self.ctx
        for bar, row in group:  # every bar of the instant is in the history before on_bar
            ctx._bars[bar.symbol] = bar
            ctx._histories[bar.symbol].append_row(*row)
        if self._every == "bar":
            self._sample()
        for bar, _ in group:
            self._call(self.strategy.on_bar, bar)
        if not self._stopped:
            self._arm_bars()

    # ----- timers ---------------------------------------------------------------------------

    def _arm_bars(self) -> None:
        sched = self._schedule
        assert sched is not None
        due = sched.next_end()
        if due is not None:
            self.broker.set_timer(_BARS, self._bars_due, at_ns=due)
            self._own_timers.add(_BARS)

    def _next_close(self) -> tuple[int, int] | None:
        """The venue's next session close (its own time), and when that is on the clock the
        broker's timers run on: now plus the venue's time to its close (a served paper account
        keeps its own time; on a simulated broker the two are the same). None: no sessions."""
        b = self.broker
        c = b.clock()
        if c.next_close_ns is None:
            return None
        return c.next_close_ns, b.now_ns() + max(c.next_close_ns - c.timestamp_ns, 0)

    def _arm_session(self, _t: int | None) -> None:
        """Deliver the session bars at each close, then wait for the next one."""
        sessions = self._sessions
        assert sessions is not None
        if _t is not None:
            self._own_timers.discard(_SESSION)
            if self._stopped:
                return
            bars = sessions.close(self._session_close)
            ctx = self.ctx
            for bar in bars:
                ctx._bars[bar.symbol] = bar
                ctx._histories[bar.symbol].append(bar)
            if self._every == "bar":
                self._sample()
            for bar in bars:
                self._call(self.strategy.on_bar, bar)
        if self._stopped:
            return
        nxt = self._next_close()
        if nxt is None:
            raise StrategyError("session_bars", True, "the broker's venue has no sessions")
        self._session_close, at = nxt
        self._session_at = at + self._session_delay
        self.broker.set_timer(_SESSION, self._arm_session, at_ns=self._session_at)
        self._own_timers.add(_SESSION)

    def _arm_equity(self, _t: int | None) -> None:
        every, b = self._every, self.broker
        if self._stopped:
            return
        if _t is not None:
            self._own_timers.discard(_EQUITY)
            self._sample()
        if every == "close":
            nxt = self._next_close()
            if nxt is not None:
                b.set_timer(_EQUITY, self._arm_equity, at_ns=nxt[1])
                self._own_timers.add(_EQUITY)
        elif isinstance(every, int) and _t is None:
            b.set_timer(_EQUITY, self._sample_at, every_ns=every)
            self._own_timers.add(_EQUITY)

    def _sample_at(self, _t: int) -> None:
        if not self._stopped:
            self._sample()

    def _arm(self, name: str, at_ns: int | None, every_ns: int | None) -> None:
        """A strategy timer on the broker (the context checked the name)."""
        gen = self._timer_gen.get(name, 0) + 1
        self._timer_gen[name] = gen
        recurring = every_ns is not None
        fire = self._direct if self.simulated else self._queued

        def due(t: int) -> None:
            if self._timer_gen.get(name) != gen or name not in self.ctx._timers:
                return  # cancelled (or set again) after it fired, before it was delivered
            if not recurring:
                self.ctx._timers.discard(name)
                self._own_timers.discard(TIMER_PREFIX + name)
            self._call(lambda _: self.strategy.on_timer(name, t), None)

        self.broker.set_timer(TIMER_PREFIX + name, fire(due), at_ns=at_ns, every_ns=every_ns)
        self._own_timers.add(TIMER_PREFIX + name)

    def _disarm(self, name: str) -> None:
        self._timer_gen[name] = self._timer_gen.get(name, 0) + 1
        self._cancel_broker_timer(TIMER_PREFIX + name)

    def _cancel_broker_timer(self, name: str) -> None:
        self._own_timers.discard(name)
        with contextlib.suppress(TimerError):  # a one-shot timer that has just fired
            self.broker.cancel_timer(name)

    # ----- equity ---------------------------------------------------------------------------

    def _sample(self) -> None:
        b, sim = self.broker, self._sim
        if sim is not None:
            ledger = sim.ledger.ledger  # its values, without a snapshot of every position
            long, short = ledger.values()
            equity = ledger.equity
        else:
            a = b.account()
            equity, long, short = a.equity, a.long_market_value, abs(a.short_market_value)
        self._samples.add(b.now_ns(), equity, long, short)

    def _equity(self) -> Decimal:
        if self._sim is not None:
            equity: Decimal = self._sim.ledger.equity
            return equity
        return self.broker.account().equity


def _simulator(broker: Broker) -> SimulatedBroker | None:
    """The simulated broker a run drives: ``broker`` itself, or the one behind a
    :class:`~fillforge.risk.RiskGate` (the strategy's orders then pass the gate's controls)
    and a :class:`~fillforge.journal.broker.JournalledBroker` (they are journalled), in any
    order."""
    while True:
        if isinstance(broker, RiskGate):
            broker = broker.broker
        elif isinstance(broker, JournalledBroker):
            broker = broker.inner
        else:
            return broker if isinstance(broker, SimulatedBroker) else None


def _check_tables(field: str, tables: list[BarTable], symbols: tuple[str, ...]) -> None:
    seen: set[str] = set()
    for t in tables:
        if not isinstance(t, BarTable):
            raise StrategyError(field, type(t).__name__, "expected BarTable")
        if t.symbol not in symbols or t.symbol in seen:
            raise StrategyError(field, t.symbol, "one table per symbol of the runner")
        seen.add(t.symbol)


def _check_every(every: EquityEvery, tables: bool) -> Literal["bar", "close", "none"] | int:
    if isinstance(every, bool):
        raise StrategyError("equity_every", every, "expected 'auto', 'bar', 'close', 'none' or ns")
    if isinstance(every, int):
        if every <= 0:
            raise StrategyError("equity_every", every, "a period must be > 0 ns")
        return every
    if every == "auto":
        return "bar" if tables else "close"
    if every in ("bar", "close", "none"):
        if every == "bar" and not tables:
            raise StrategyError("equity_every", every, "'bar' needs bar tables or session bars")
        return every
    raise StrategyError("equity_every", every, "expected 'auto', 'bar', 'close', 'none' or ns")
