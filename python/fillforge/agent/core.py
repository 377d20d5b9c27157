"""The execution agent: one async facade over a broker, built from one configuration.

``ExecutionAgent(config)`` builds, at :meth:`~ExecutionAgent.start`, the broker of the mode
(simulation: :class:`~fillforge.sim.SimulatedBroker` on the shipped daily bars or a given
broker; paper: the served or Alpaca paper account; live: Alpaca), puts it behind the risk gate
(:class:`~fillforge.risk.RiskGate`, the file's limits) and works orders with the execution
engine (:class:`~fillforge.execution.ExecutionEngine`, the file's policy). Every broker call runs
on one worker thread, one at a time, so the event loop never blocks on the network.

**No silent fallback.** When the paper or live broker cannot be reached, :meth:`start` raises
:class:`~fillforge.errors.BrokerUnavailableError`. Only ``execution.fallback: simulation`` makes
it fall back, and then it logs a warning, counts it in :meth:`performance` and keeps the reason.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from decimal import ROUND_DOWN, Decimal
from itertools import count
from pathlib import Path
from typing import Any, TypeVar

from fillforge._exact import to_decimal
from fillforge.agent import build, intents
from fillforge.agent.recovery import AgentBook, AgentJournal, RecoveryReport, book_of
from fillforge.agent.results import (
    AgentMetrics,
    OrderReport,
    SignalReport,
    figure,
)
from fillforge.broker import AccountSnapshot, Broker
from fillforge.config.loading import read_config
from fillforge.config.model import Config, Mode
from fillforge.errors import (
    BrokerUnavailableError,
    ConfigError,
    ExecutionError,
    FillforgeError,
)
from fillforge.execution import ExecutionEngine, Flattener, ParentOrder, SessionGates
from fillforge.execution.options import WorkOptions
from fillforge.execution.pricing import reference_price
from fillforge.execution.schedules import parse_policy, split
from fillforge.exits import ExitManager
from fillforge.journal import Journal
from fillforge.orders.enums import OrderSide, OrderStatus, OrderType
from fillforge.orders.models import Instrument, OrderRequest
from fillforge.portfolio.equity import EquityCurve
from fillforge.replay.samples import daily_samples
from fillforge.risk import KillReport, RiskGate, RiskManager
from fillforge.sim import SimulatedBroker, TradingCalendar
from fillforge.time import NS_PER_SECOND

__all__ = ["ExecutionAgent"]

log = logging.getLogger("fillforge.agent")
_T = TypeVar("_T")
_ZERO = Decimal(0)
_ONE = Decimal(1)
_HUNDRED = Decimal(100)
_PARENT_WINDOW_NS = 30 * 60 * NS_PER_SECOND  # a parent's window unless slicing needs longer


class ExecutionAgent:
    """See the module. ``broker`` replaces the one the mode would build (a simulated broker
    on your own data, a served paper account); ``symbols`` are the shipped daily samples a
    simulation lists when no broker is given."""

    def __init__(
        self,
        config: Config,
        *,
        broker: Broker | None = None,
        symbols: tuple[str, ...] | None = None,
        env: Mapping[str, str] | None = None,
        journal: str | Path | Journal | None = None,
    ) -> None:
        if not isinstance(config, Config):
            raise ConfigError("config", type(config).__name__, "expected a fillforge Config")
        self.config = config
        self._given = broker
        self._symbols = symbols
        self._env = env
        self._pool: ThreadPoolExecutor | None = None
        self._broker: Broker | None = None
        self._gate: RiskGate | None = None
        self._engine: ExecutionEngine | None = None
        self._gates: SessionGates | None = None
        self._flattener: Flattener | None = None
        self._plan = build.exit_plan(config)
        self._exits: ExitManager | None = None
        self.mode = config.mode
        self.fallbacks = 0
        self.fallback_reason: str | None = None
        self._kinds: dict[str, str] = {}
        self._sent = 0
        self._denials: Counter[str] = Counter()
        self._seq = count(1)
        self._start_equity: Decimal | None = None
        ppy = config.backtest.periods_per_year if config.backtest else 252
        self._curve = EquityCurve(periods_per_year=ppy)
        self._journal_target = journal if journal is not None else config.journal
        self._journal: AgentJournal | None = None
        self._book: AgentBook | None = None
        self.recovery: RecoveryReport | None = None
        """What the start found in the journal and rebuilt (None: no journal)."""

    @classmethod
    def from_file(
        cls,
        path: str | Path,
        *,
        broker: Broker | None = None,
        symbols: tuple[str, ...] | None = None,
        env: Mapping[str, str] | None = None,
        journal: str | Path | Journal | None = None,
    ) -> ExecutionAgent:
        """An agent for the YAML file at ``path``. In mode live a key fillforge does not know
        is refused (``ConfigError`` naming it): a misspelt limit must not go unapplied with
        real money; elsewhere it is reported (a warning and a log line) and the agent builds."""
        loaded = read_config(path, env=env)
        if loaded.config.mode is Mode.LIVE and loaded.unknown_keys:
            key = loaded.unknown_keys[0]
            raise ConfigError(key, "...", "mode live: fillforge does not know this key")
        return cls(loaded.config, broker=broker, symbols=symbols, env=env, journal=journal)

    # ----- lifecycle --------------------------------------------------------------------------

    async def _call(self, fn: Callable[[], _T]) -> _T:
        if self._pool is None:
            raise ExecutionError("agent", "stopped", "call start() first")
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn)

    async def start(self) -> None:
        """Build (or take) the broker, check it answers, and put the risk gate and the engine
        in front of it. An unreachable paper or live broker raises unless the file opted into
        ``execution.fallback: simulation``."""
        if self._pool is not None:
            return
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="agent")
        try:
            broker = await self._call(self._connect)
        except BaseException:
            self._pool.shutdown(wait=False)
            self._pool = None
            raise
        self._broker = broker
        target = self._journal_target
        if target is not None:
            try:
                self._journal = await self._call(lambda: AgentJournal(target, broker))
            except BaseException:
                self._pool.shutdown(wait=False)
                self._pool = None
                raise
        routed = self._journal.broker if self._journal is not None else broker
        gate = RiskGate(routed, build.controls(self.config))
        self._gate = gate
        self._engine = ExecutionEngine(gate)
        calendar = getattr(getattr(broker, "venue", None), "calendar", None)
        self._calendar = calendar if calendar is not None else TradingCalendar("XNYS")
        self._gates = build.gates(self.config, self._calendar)
        if self._plan is not None:
            self._exits = ExitManager(gate)
        sg = self.config.execution.session_gates
        minutes = sg.flatten_minutes if sg is not None else None
        if minutes is not None:
            flattener = Flattener(gate, self._calendar, minutes, name="eod", repeat=True)
            await self._call(flattener.arm)
            self._flattener = flattener
        self._start_equity = (await self._call(broker.account)).equity
        journal = self._journal
        if journal is not None:
            self.recovery = await self._call(lambda: journal.take_up(self))
        await self._call(self._record)

    def _record(self) -> AccountSnapshot:
        """The account now, and its equity as the point of the session it falls in (at the
        session's close; the latest value of a session replaces the earlier ones). Between
        sessions nothing is recorded: the market is shut."""
        a = self.broker.account()
        hours = self._calendar.session_at(self.broker.now_ns())
        if hours is not None and a.equity > 0:
            t = hours.close_ns
            if not len(self._curve) or t >= int(self._curve.times_ns[-1]):
                self._curve.append(t, a.equity)
                self._book_changed()
        return a

    def _connect(self) -> Broker:
        if self._given is not None:
            return self._given
        if self.config.mode is Mode.SIMULATION:
            return self._simulator()
        try:
            broker = build.live_broker(self.config, env=self._env)
            broker.account()  # the account answers, or the broker is not there
            return broker
        except ConfigError:
            raise
        except (FillforgeError, OSError, Exception) as e:  # any failure to reach it
            b = self.config.broker_config
            where: tuple[str, object] = (
                ("broker.port", b.port)
                if b is not None and b.type == "ibkr"
                else ("broker.base_url", b.base_url if b is not None else None)
            )
            why = f"unreachable: {type(e).__name__}: {e}"
            if self.config.execution.fallback != "simulation":
                raise BrokerUnavailableError(
                    *where, f"{why}; no fallback (execution.fallback is none)"
                ) from None
            self.fallbacks += 1
            self.fallback_reason = why
            self.mode = Mode.SIMULATION
            log.warning(
                "mode %s: %s; falling back to simulation (execution.fallback)",
                self.config.mode,
                why,
            )
            return self._simulator()

    def _simulator(self) -> SimulatedBroker:
        symbols = self._symbols
        if symbols is None:
            symbols = tuple(self.config.backtest.symbols) if self.config.backtest else ("SPY",)
        paths = daily_samples()
        for s in symbols:
            if s not in paths:
                raise ConfigError("backtest.symbols", s, f"no shipped sample: {sorted(paths)}")
        return build.simulated_broker(self.config, {s: paths[s] for s in symbols})

    async def stop(self) -> None:
        """Stop following the broker (open orders stay as they are) and free the worker."""
        if self._pool is None:
            return
        engine, broker = self._engine, self._broker
        if engine is not None:
            await self._call(engine.close)
        if self._flattener is not None:
            await self._call(self._flattener.disarm)
        if self._exits is not None:
            await self._call(self._exits.close)
        close = getattr(broker, "close", None)
        if callable(close) and broker is not self._given:
            await self._call(close)
        if self._journal is not None:
            await self._call(self._journal.close)
            self._journal = None
        self._pool.shutdown(wait=True)
        self._pool = None

    @property
    def engine(self) -> ExecutionEngine:
        """The execution engine working the parents (after :meth:`start`)."""
        if self._engine is None:
            raise ExecutionError("agent", "stopped", "call start() first")
        return self._engine

    @property
    def risk(self) -> RiskManager:
        """The risk manager behind the gate (after :meth:`start`)."""
        if self._gate is None:
            raise ExecutionError("agent", "stopped", "call start() first")
        return self._gate.manager

    @property
    def broker(self) -> Broker:
        """The broker behind the gate (for a simulation: advance it with ``run``)."""
        if self._broker is None:
            raise ExecutionError("agent", "stopped", "call start() first")
        return self._broker

    async def advance(self, until_ns: int) -> None:
        """Simulation only: run the simulated market up to ``until_ns``."""
        broker = self.broker
        if not isinstance(broker, SimulatedBroker):
            raise ExecutionError("mode", self.mode, "only a simulation can be advanced")
        await self._call(lambda: broker.run(until_ns=until_ns))

    @classmethod
    async def recover(
        cls,
        config: Config,
        journal: str | Path | Journal,
        *,
        broker: Broker | None = None,
        symbols: tuple[str, ...] | None = None,
        env: Mapping[str, str] | None = None,
    ) -> ExecutionAgent:
        """An agent started on ``journal`` after a crash: orders reconciled with the broker,
        then parents, exit plans, risk and the agent's book rebuilt; :attr:`recovery` says what
        was found (``docs/state-recovery.md``)."""
        agent = cls(config, broker=broker, symbols=symbols, env=env, journal=journal)
        await agent.start()
        return agent

    def _book_now(self) -> AgentBook:
        times, values = self._curve.times_ns, self._curve.equity
        curve = tuple((int(t), to_decimal(float(v))) for t, v in zip(times, values, strict=True))
        nxt = next(self._seq)
        self._seq = count(nxt)
        tags = self._flattener.tagged if self._flattener is not None else ()
        return book_of(self._kinds, self._sent, self._denials, nxt, self._start_equity, curve, tags)

    def _book_changed(self, *, sync: bool = False) -> None:
        """Journal the agent's book when it changed (a journal only); with ``sync``, everything
        journalled so far is durable on return (a facade call that sent orders: its parents and
        the book are on disk before their ids are given)."""
        if self._journal is None:
            return
        book = self._book_now()
        if book != self._book:
            self._book = book
            self._journal.writer.portfolio(book)
        if sync:
            self._journal.journal.sync()

    def _taken_parent(self, parent_id: str) -> None:
        """A parent id the journal holds: it is a parent's, and no new one takes it."""
        self._kinds[parent_id] = "parent"
        if parent_id.startswith("ff") and parent_id[2:].isdigit():
            self._seq = count(max(int(parent_id[2:]) + 1, next(self._seq)))

    # ----- orders -----------------------------------------------------------------------------

    def _instrument(self, symbol: str) -> Instrument:
        """The simulated venue's instrument (an unlisted symbol is refused), else a US equity
        on the cent grid in whole shares."""
        venue = getattr(self._broker, "venue", None)
        if venue is not None:
            if symbol not in venue.markets:
                raise ExecutionError("symbol", symbol, f"not listed: {sorted(venue.markets)}")
            inst: Instrument = venue.markets[symbol].instrument
            return inst
        return Instrument(symbol=symbol, tick_size=build.CENT)

    def _parent(self, symbol: str, side: OrderSide, qty: Decimal, price: Decimal) -> str:
        """Send ``qty`` through the engine under the file's policy; the parent id."""
        engine, broker, cfg = self._engine, self.broker, self.config
        assert engine is not None
        now = broker.now_ns()
        pid = f"ff{next(self._seq)}"
        ts = cfg.execution.time_slicing
        inst = self._instrument(symbol)
        end = now + _PARENT_WINDOW_NS
        if ts is not None and ts.enabled and ts.child_order_size_usd is not None:
            child = (ts.child_order_size_usd / price).to_integral_value(ROUND_DOWN) or _ONE
            interval = int((ts.interval_seconds or _ZERO) * NS_PER_SECOND)
            n = int(qty / child) + 1
            end = max(end, now + n * interval + NS_PER_SECOND)
        spec = ParentOrder(
            parent_id=pid,
            symbol=symbol,
            side=side,
            qty=qty,
            start_ns=now,
            end_ns=end,
            decision_price=price,
            policy=parse_policy(cfg.execution.default_order_type),
        )
        options = self._slicing(price)
        options["rules"] = build.work_rules(cfg)
        engine.submit(spec, inst, **options)
        self._kinds[pid] = "parent"
        return pid

    def _slicing(self, price: Decimal | None) -> WorkOptions:
        """A parent's schedule (the file's time slicing, sized at ``price``) and pricing: the
        same for a parent sent now and one taken up after a restart."""
        cfg = self.config
        ts = cfg.execution.time_slicing
        schedule = None
        if ts is not None and ts.enabled and ts.child_order_size_usd is not None and price:
            child = (ts.child_order_size_usd / price).to_integral_value(ROUND_DOWN) or _ONE
            threshold = (ts.size_threshold_usd or _ZERO) / price
            interval = int((ts.interval_seconds or _ZERO) * NS_PER_SECOND)

            def schedule(q: Decimal, s: int, e: int, lot: Decimal) -> Any:
                return split(
                    q, threshold, child, lot, start_ns=s, end_ns=e - 1, interval_ns=interval
                )

        return {"schedule": schedule, "pricing": build.pricing(cfg, self._calendar)}

    def _protected(
        self, symbol: str, side: OrderSide, qty: Decimal, price: Decimal, atr: Decimal | None
    ) -> tuple[str, Decimal, Decimal | None]:
        """A market entry whose exits the exit manager works (stop, target, trailing stop;
        at the venue when one order fits, else held locally); the entry's id, and the stop
        and target the plan gives at ``price`` (the manager sets them from the fill)."""
        plan, exits, gate = self._plan, self._exits, self._gate
        assert plan is not None
        assert exits is not None
        assert gate is not None
        if plan.needs_atr and atr is None:
            raise ExecutionError("atr", None, f"the exit plan needs {symbol}'s ATR: pass atr=")
        inst = self._instrument(symbol)
        sign = 1 if side is OrderSide.BUY else -1
        lots = int(qty / inst.lot_size)
        levels = plan.levels(inst, sign, price, lots, atr)
        request = OrderRequest(symbol=symbol, side=side, type=OrderType.MARKET, qty=qty)
        entry = gate.submit(request)
        if entry.status is not OrderStatus.DENIED:
            exits.attach(plan, inst, entry=entry, atr=atr)
        oid = entry.id
        self._kinds[oid] = "bracket"
        target = levels.targets[0][0] * inst.tick_size if levels.targets else None
        return oid, levels.stop * inst.tick_size, target

    def _stop_distance(self, price: Decimal, atr: Decimal | None) -> Decimal | None:
        bo = self.config.execution.bracket_orders
        sl = bo.stop_loss if bo is not None else None
        if sl is None:
            return None
        if sl.method == "atr":
            return None if atr is None or sl.atr_multiplier is None else atr * sl.atr_multiplier
        return price * (sl.percentage or _ZERO) / _HUNDRED

    async def submit_order(
        self, symbol: str, side: OrderSide | str, qty: Decimal, *, price: Decimal | None = None
    ) -> str:
        """Work ``qty`` of ``symbol`` under the file's policy (through the risk gate); the id
        to ask :meth:`get_order_status` about. ``price`` is the decision price (default: the
        last trade or mid). A risk denial raises :class:`~fillforge.errors.RiskDeniedError`."""
        s = OrderSide(side)
        q = Decimal(qty)

        def send() -> str:
            self._instrument(symbol)
            p = price if price is not None else reference_price(self.broker, symbol)
            if p is None:
                raise ExecutionError("price", None, f"no market price for {symbol}: pass price=")
            self._check(symbol, s, q, p)
            pid = self._parent(symbol, s, q, p)
            self._sent += 1
            if self._flattener is not None:
                self._flattener.tag(symbol)
            self._book_changed(sync=True)
            return pid

        return await self._call(send)

    def _check(self, symbol: str, side: OrderSide, qty: Decimal, price: Decimal) -> None:
        """The gate's controls for a limit order at ``price`` (a denial raises)."""
        assert self._gate is not None
        tick = self._instrument(symbol).tick_size
        limit = (price / tick).to_integral_value(ROUND_DOWN) * tick
        probe = OrderRequest(
            symbol=symbol, side=side, type=OrderType.LIMIT, qty=qty, limit_price=limit
        )
        self._gate.manager.check(probe)

    async def cancel(self, order_id: str) -> None:
        """Cancel a parent (its working children) or an order."""

        def run() -> None:
            if self._kinds.get(order_id) == "parent":
                assert self._engine is not None
                self._engine.cancel(order_id, "cancelled by the agent")
            else:
                assert self._gate is not None
                self._gate.cancel(order_id)

        await self._call(run)

    async def get_order_status(self, order_id: str) -> OrderReport:
        """A parent's progress or an order's state."""
        return await self._call(lambda: self._status(order_id))

    def _status(self, order_id: str) -> OrderReport:
        if self._kinds.get(order_id) == "parent":
            assert self._engine is not None
            pr = self._engine.progress(order_id)
            spec = self._engine.get(order_id).spec
            return OrderReport(
                id=order_id,
                kind="parent",
                symbol=spec.symbol,
                side=str(spec.side),
                state=str(pr.state),
                qty=pr.qty,
                filled_qty=pr.filled,
                avg_price=pr.avg_price,
                reason=pr.reason,
                children=pr.children,
            )
        assert self._gate is not None
        o = self._gate.get_order(order_id)
        return OrderReport(
            id=o.id,
            kind="bracket" if self._kinds.get(order_id) == "bracket" else "order",
            symbol=o.symbol,
            side=str(o.request.side),
            state=str(o.status),
            qty=o.order_qty,
            filled_qty=o.cum_qty,
            avg_price=o.avg_price,
            reason=getattr(self._gate, "denial", lambda _i: None)(o.id),
        )

    async def kill(self, *, flatten: bool = False, reason: str = "manual") -> KillReport:
        """The kill switch: every working parent is cancelled (so no child follows), then the
        risk manager halts trading, cancels every open order and, with ``flatten``, closes
        every position once its cancels are done. New entries are denied (``halted``) until
        the risk manager is reset."""

        def run() -> KillReport:
            assert self._engine is not None
            assert self._gate is not None
            for p in self._engine.parents():
                if not p.state.is_done:
                    self._engine.cancel(p.id, f"kill switch: {reason}")
            return self._gate.manager.kill(flatten=flatten, reason=reason)

        return await self._call(run)

    async def positions(self) -> dict[str, Decimal]:
        """Signed quantity by symbol (open positions only)."""
        held = await self._call(self.broker.positions)
        return {s: p.qty for s, p in sorted(held.items()) if p.qty}

    async def performance(self) -> AgentMetrics:
        """The account and the agent's counters (fallbacks included)."""
        return await self._call(self._performance)

    def _performance(self) -> AgentMetrics:
        a = self._record()
        start = self._start_equity or a.equity
        figures = self._curve.summary()
        return AgentMetrics(
            mode=self.mode,
            configured_mode=self.config.mode,
            equity=a.equity,
            cash=a.cash,
            realized_pnl=a.realized_pnl,
            unrealized_pnl=a.unrealized_pnl,
            fees_paid=a.fees_paid,
            return_pct=(a.equity / start - 1) * _HUNDRED if start else _ZERO,
            submitted=self._sent,
            filled=sum(1 for i in self._kinds if self._status(i).filled_qty > 0),
            denied=sum(self._denials.values()),
            denials_by_code=dict(self._denials),
            fallbacks=self.fallbacks,
            fallback_reason=self.fallback_reason,
            risk_state=str(self._gate.manager.state) if self._gate is not None else "active",
            sessions=len(self._curve),
            sharpe_ratio=figure(figures.sharpe_ratio),
            sortino_ratio=figure(figures.sortino_ratio),
            max_drawdown=figure(figures.max_drawdown),
            cagr=figure(figures.cagr),
        )

    # ----- signals ----------------------------------------------------------------------------

    async def execute_signals(
        self,
        signals: Mapping[str, float | Decimal],
        prices: Mapping[str, Decimal],
        *,
        atr: Mapping[str, Decimal] | None = None,
    ) -> SignalReport:
        """Turn signals in [-1, 1] (the target position's direction and strength) into sized,
        risk-checked orders worked under the file's policy; see ``docs/agent.md``."""
        return await self._call(
            lambda: self._booked(intents.signals(self, signals, prices, atr or {}))
        )

    async def rebalance(
        self,
        targets: Mapping[str, float | Decimal | str],
        prices: Mapping[str, Decimal],
        *,
        drift: Decimal | str = _ZERO,
    ) -> SignalReport:
        """Bring the weights to ``targets`` (fractions of equity, long only; a symbol held and
        not named goes to 0) where they drifted by more than ``drift``: the orders from
        :func:`fillforge.portfolio.rebalance.rebalance` (on each instrument's lot grid, sells
        first), each through the session gates, the risk gate and the file's policy, as
        :meth:`execute_signals` sends them; see ``docs/agent.md``."""
        return await self._call(
            lambda: self._booked(intents.rebalance(self, targets, prices, drift))
        )

    def _booked(self, report: SignalReport) -> SignalReport:
        self._book_changed(sync=True)
        return report
