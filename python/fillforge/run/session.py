"""One ``fillforge run``: a configuration's strategy, behind its execution agent (the file's
risk gate, its journal and recovery), on the broker its mode names, to the end of the data, a
deadline or a stop.

- ``simulation`` and ``paper`` (no ``url``): the simulated exchange on the shipped daily bars
  of ``backtest.symbols`` (fees, latency and slippage from the file). The run reads no wall
  clock: two runs of one file give the same orders, fills and figures.
- ``paper`` with ``url``: the Alpaca paper API at ``url`` (a served local paper server:
  ``fillforge serve alpaca``), keys from ``APCA_API_KEY_ID`` / ``APCA_API_SECRET_KEY``.
- ``live``: Alpaca's live API (or the file's ``base_url``), keys from the environment; a
  placeholder key is refused before anything connects.
- ``paper`` or ``live`` with a ``type: ibkr`` block: the IB gateway (TWS or IB Gateway) at the
  block's ``host`` and ``port``, on the account it is logged in to; no keys.

Every order the strategy sends passes the agent's risk gate and is written ahead to the
journal (:class:`~fillforge.journal.broker.JournalledBroker`) before the broker sees it; a
rerun on the same journal starts by recovering from it (:meth:`ExecutionAgent.start`).
:class:`RunTally` counts what happened for the progress line and the summary.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from fillforge.agent import ExecutionAgent
from fillforge.agent.backtest import SmaCrossover, strategy_of
from fillforge.agent.build import CENT, frictions
from fillforge.agent.recovery import RecoveryReport
from fillforge.config.loading import ConfigFile
from fillforge.config.model import (
    NOT_A_BROKER,
    BacktestConfig,
    BrokerConfig,
    Config,
    Mode,
    StrategyConfig,
)
from fillforge.errors import ConfigError
from fillforge.execution.pricing import reference_price
from fillforge.marketdata import load_bars
from fillforge.orders.enums import OrderSide
from fillforge.orders.models import OrderEvent
from fillforge.replay.samples import DAILY_SAMPLE_SYMBOLS, daily_samples
from fillforge.risk import RiskGate
from fillforge.sim import SimulatedBroker, TradingCalendar
from fillforge.strategy import Backtest, BarTable, Runner, RunResult, Strategy

__all__ = ["RunSession", "RunTally", "check_runnable", "where_it_runs"]

_KEY_VARS = {"api_key": "APCA_API_KEY_ID", "secret_key": "APCA_API_SECRET_KEY"}


def _on_gateway(cfg: Config) -> bool:
    """Whether the run trades on an IB gateway: an ``ibkr`` block, in mode paper or live."""
    b = cfg.broker_config
    return b is not None and b.type == "ibkr" and cfg.mode is not Mode.SIMULATION


def where_it_runs(cfg: Config, url: str | None) -> str:
    """``simulated exchange``, the IB gateway, or the URL of the Alpaca API the run trades
    on."""
    b = cfg.broker_config
    if _on_gateway(cfg):
        assert b is not None
        host, port, _ = b.gateway
        return f"the IB gateway at {host}:{port}"
    if cfg.mode is not Mode.LIVE and url is None:
        return "simulated exchange"
    if url is not None:
        return url
    return b.base_url if b is not None and b.base_url else "https://api.alpaca.markets"


def check_runnable(loaded: ConfigFile, *, url: str | None, env: Mapping[str, str]) -> list[str]:
    """Refuse (:class:`ConfigError`, one line) what cannot run, before anything connects: a
    market-data vendor's block as the broker, ``execution.enabled: false``, ``--url`` for a
    live account or an IB gateway, a live Alpaca run without keys (a placeholder is no key).
    The warnings to print: keys written in the file."""
    cfg = loaded.config
    b = cfg.broker_config
    where = "broker" if cfg.broker is not None else "execution.broker"
    if b is not None and b.type == "polygon":
        raise ConfigError(
            f"{where}.type",
            b.type,
            f"{NOT_A_BROKER}: use type alpaca or ibkr (mode paper or live), or mode simulation "
            "without a broker block",
        )
    if not cfg.execution.enabled:
        raise ConfigError(
            "execution.enabled", False, "the file turns execution off: set it true to run"
        )
    if url is not None and cfg.mode is Mode.LIVE:
        raise ConfigError("--url", url, "is a paper server's address; mode live trades on Alpaca")
    if url is not None and _on_gateway(cfg):
        raise ConfigError(
            "--url", url, "is an Alpaca paper server's; an ibkr block trades on its gateway"
        )
    warnings = []
    for path, source in sorted(loaded.secrets.items()):
        if source.kind == "literal":
            warnings.append(
                f"{path} is written in the file; keep keys in the environment "
                f"({_KEY_VARS.get(path.rsplit('.', 1)[-1], 'a ${NAME} reference')})"
            )
    if (cfg.mode is Mode.LIVE or url is not None) and not _on_gateway(cfg):
        for name, var in _KEY_VARS.items():
            found = loaded.secrets.get(f"{where}.{name}")
            given = b is not None and getattr(b, name) is not None
            if given or env.get(var):
                continue
            if found is not None and found.kind == "placeholder":
                raise ConfigError(
                    f"{where}.{name}", "<placeholder>", f"a placeholder, not a key: set {var}"
                )
            raise ConfigError(f"{where}.{name}", None, f"not set: set {var}")
    return warnings


def _with_defaults(cfg: Config, url: str | None) -> Config:
    """The file with a strategy (``sma_crossover``'s defaults when it names none) and, given
    ``url``, the Alpaca broker at that address."""
    update: dict[str, object] = {}
    if cfg.strategy is None:
        update["strategy"] = StrategyConfig()
    if url is not None:
        b = cfg.broker_config or BrokerConfig(type="alpaca")
        moved = b.model_copy(update={"base_url": url.rstrip("/")})
        if cfg.broker is not None or cfg.execution.broker is None:
            update["broker"] = moved
        else:
            update["execution"] = cfg.execution.model_copy(update={"broker": moved})
    return cfg.model_copy(update=update) if update else cfg


@dataclass
class RunTally:
    """What the run did, counted from the order events the risk gate publishes: orders sent,
    denied (by code), filled; fills, shares and notional each way; fees; and slippage against
    the arrival price (the last print, else the mid, when the order's first event arrived):
    positive is a cost (bought above, or sold below, the arrival price)."""

    orders: int = 0
    denied: dict[str, int] = field(default_factory=dict)
    filled_orders: int = 0
    fills: int = 0
    bought: Decimal = Decimal(0)
    sold: Decimal = Decimal(0)
    notional: Decimal = Decimal(0)
    fees: Decimal = Decimal(0)
    slippage: Decimal = Decimal(0)
    arrival_notional: Decimal = Decimal(0)
    _arrival: dict[str, Decimal | None] = field(default_factory=dict)
    _filled: set[str] = field(default_factory=set)
    _denied: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def watch(self, gate: RiskGate) -> Callable[[], None]:
        """Count ``gate``'s events from now on; returns the unsubscribe."""

        def on_event(e: OrderEvent) -> None:
            with self._lock:
                self._count(gate, e)

        return gate.subscribe(on_event)

    def _count(self, gate: RiskGate, e: OrderEvent) -> None:
        oid = e.order_id
        if oid in self._denied:
            return
        denial = gate.denial(oid)
        if denial is not None:  # the gate's own order: its first event may precede the denial
            if oid in self._arrival:
                self.orders -= 1
            self._denied.add(oid)
            self.denied[denial.code] = self.denied.get(denial.code, 0) + 1
            return
        if oid not in self._arrival:
            self.orders += 1
            self._arrival[oid] = reference_price(gate, e.symbol)
        f = e.fill
        if f is None:
            return
        side = gate.get_order(oid).request.side
        self.fills += 1
        if oid not in self._filled:
            self._filled.add(oid)
            self.filled_orders += 1
        notional = f.qty * f.price
        self.notional += notional
        self.fees += f.commission
        if side is OrderSide.BUY:
            self.bought += f.qty
        else:
            self.sold += f.qty
        arrival = self._arrival.get(oid)
        if arrival is not None:
            sign = 1 if side is OrderSide.BUY else -1
            self.slippage += sign * (f.price - arrival) * f.qty
            self.arrival_notional += arrival * f.qty

    def note(self, pnl: Decimal | None) -> str:
        """The progress line's text."""
        with self._lock:
            text = f"orders {self.orders}, fills {self.fills}"
            if sum(self.denied.values()):
                text += f", denied {sum(self.denied.values())}"
        return text if pnl is None else f"{text}, P&L {pnl:+,.2f}"


class RunSession:
    """See the module. Build it, then :meth:`start` (connects, opens the journal, recovers),
    :meth:`run` (blocks; :meth:`stop` from a signal handler or another thread ends it),
    :meth:`finish` (the agent's figures, then the agent stopped: the journal and the broker
    closed). ``env`` supplies the keys (default: the process's environment)."""

    def __init__(
        self,
        cfg: Config,
        *,
        journal: str | Path,
        url: str | None = None,
        env: Mapping[str, str] | None = None,
        name: str = "",
    ) -> None:
        self.config = _with_defaults(cfg, url)
        self.name = name
        self.where = where_it_runs(self.config, url)
        self.url = url
        self.journal = journal
        self._env = env
        self.tick: Callable[[], None] | None = None
        """Called after each of the strategy's bars (a progress bar's step)."""
        bt = self.config.backtest or BacktestConfig()
        self.symbols = tuple(bt.symbols)
        self.cash = bt.cash
        self.start_equity = bt.cash
        """The account's equity when the run started (a paper or live account's, as it answers;
        the simulated exchange's: ``backtest.cash``)."""
        self.simulated = (
            self.config.mode is not Mode.LIVE and url is None and not _on_gateway(self.config)
        )
        if self.simulated:
            for s in self.symbols:
                if s not in DAILY_SAMPLE_SYMBOLS:
                    raise ConfigError(
                        "backtest.symbols", s, f"no shipped sample: {list(DAILY_SAMPLE_SYMBOLS)}"
                    )
        sc = self.config.strategy
        self.strategy_name = sc.name if sc is not None else "sma_crossover"
        self.strategy_params = dict(sc.params) if sc is not None else {}
        self.strategy: Strategy = strategy_of(self.config, len(self.symbols))
        if isinstance(self.strategy, SmaCrossover):  # its parameters as they run
            sma = self.strategy
            self.strategy_params = {"fast": sma.fast, "slow": sma.slow, "fraction": sma.fraction}
        self.default_strategy = cfg.strategy is None
        """The file names no strategy: ``sma_crossover`` with its defaults runs."""
        self.tally = RunTally()
        self.bars = 0
        self.agent: ExecutionAgent | None = None
        self.recovery: RecoveryReport | None = None
        self.result: RunResult | None = None
        self._runner: Runner | None = None
        self._stop_requested = False
        self._tables: list[BarTable] = []

    # ----- the broker ---------------------------------------------------------------------------

    def _simulator(self) -> SimulatedBroker:
        bt = Backtest(cash=self.cash, **frictions(self.config)).add_daily_samples(self.symbols)
        self._tables = self._bar_tables(bt.calendar)
        return bt.broker()

    def _bar_tables(self, calendar: TradingCalendar | None) -> list[BarTable]:
        """The strategy's bars: the shipped daily bars of the run's symbols, each ending at its
        session's close."""
        paths = daily_samples()
        tables = []
        for s in self.symbols:
            bars = load_bars(paths[s], tick=CENT)
            tables.append(BarTable.of(s, bars, CENT, calendar))
        self.bars = max(len(t.bars) for t in tables)
        return tables

    def start(self) -> None:
        """Build the broker, start the agent on the journal (recovering what it holds) and the
        strategy's runner behind the agent's risk gate."""
        given = self._simulator() if self.simulated else None
        # A paper or live broker: the agent builds it and checks that the account answers (an
        # unreachable one is a BrokerUnavailableError, or the file's fallback to simulation).
        agent = ExecutionAgent(self.config, broker=given, journal=self.journal, env=self._env)
        asyncio.run(agent.start())
        self.agent = agent
        self.recovery = agent.recovery
        broker = agent.broker
        self.start_equity = broker.account().equity
        if isinstance(broker, SimulatedBroker) and not self.simulated:  # execution.fallback
            self.simulated = True
            self.where = f"simulated exchange (fallback: {agent.fallback_reason})"
            self._tables = self._bar_tables(broker.venue.calendar)
        gate = agent.engine.broker
        assert isinstance(gate, RiskGate)
        self.tally.watch(gate)
        if isinstance(broker, SimulatedBroker):  # the runner drives it, behind gate and journal
            runner = Runner(
                self.strategy, gate, bars=self._tables, equity_every="bar", step_messages=512
            )
        else:
            runner = Runner(self.strategy, gate, symbols=self.symbols)
        self._runner = runner
        self._watch_bars()
        if self._stop_requested:
            runner.stop()

    def _watch_bars(self) -> None:
        """:attr:`tick` after each of the strategy's bars (the progress bar's steps)."""
        on_bar = self.strategy.on_bar

        def counted(bar: object) -> None:
            on_bar(bar)  # type: ignore[arg-type]
            if self.tick is not None:
                self.tick()

        self.strategy.on_bar = counted  # type: ignore[method-assign]

    def data_span(self) -> tuple[int, int] | None:
        """The first and the last bar's end (ns) of a simulated run's data (None: a broker's)."""
        if not self._tables:
            return None
        ends = [int(x) for t in self._tables for x in (t.end_ns[0], t.end_ns[-1])]
        return min(ends), max(ends)

    # ----- running ------------------------------------------------------------------------------

    def run(self, *, until_ns: int | None = None, timeout_s: float | None = None) -> RunResult:
        """Run to the end of the data (simulated), to ``until_ns`` on the broker's clock, to
        ``timeout_s`` wall seconds (a paper or live broker), or until :meth:`stop`."""
        runner = self._runner
        assert runner is not None
        self.result = runner.run(until_ns=until_ns, timeout_s=None if self.simulated else timeout_s)
        return self.result

    def stop(self) -> None:
        """End the run at the next step (safe from a signal handler and any thread)."""
        self._stop_requested = True
        if self._runner is not None:
            self._runner.stop()

    @property
    def stopped(self) -> bool:
        return self._stop_requested

    def pnl(self) -> Decimal | None:
        """Equity now less the equity the run started with (None before the start)."""
        agent = self.agent
        if agent is None:
            return None
        try:
            return agent.broker.account().equity - self.start_equity
        except Exception:  # a live account that does not answer now: no figure on the line
            return None

    def finish(self) -> dict[str, object]:
        """The agent's account figures, then the agent stopped (journal closed; open orders are
        left as they stand at the broker) and the broker closed."""
        agent = self.agent
        figures: dict[str, object] = {}
        try:
            if agent is not None:
                m = asyncio.run(agent.performance())
                positions = asyncio.run(agent.positions())
                figures = {"metrics": m, "positions": positions}
                figures["open_orders"] = len(agent.broker.orders(open_only=True))
        finally:
            if agent is not None:
                asyncio.run(agent.stop())
        return figures
