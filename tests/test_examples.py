"""The examples run and print what they claim."""

from __future__ import annotations

import importlib.util
import inspect
import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

from fillforge.errors import RiskDeniedError
from fillforge.exits import Distance, ExitManager, ExitMode, ExitPlan, Trail
from fillforge.marketdata import NS_PER_DAY
from fillforge.orders.enums import OrderSide, OrderType
from fillforge.orders.models import Instrument, OrderRequest
from fillforge.strategy import FillRecord
from fillforge.testing import SimHarness

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def run(example: str) -> str:
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / example)], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_quickstart_runs() -> None:
    stdout = run("book_quickstart.py")
    assert "IOC sell 12 @ 99: FILLED" in stdout
    assert "POST_ONLY_WOULD_CROSS" in stdout
    assert "op 4: REJECTED  UNKNOWN_ORDER" in stdout


def test_bracket_lifecycle_runs() -> None:
    stdout = run("bracket_lifecycle.py")
    assert "o-3  held" in stdout
    assert "sl-2 new                new               cum=0 leaves=70" in stdout
    assert "sl-2 canceled           canceled          cum=0 leaves=0" in stdout
    assert "group o-1: completed; venue actions: 4" in stdout


def test_passive_buy_runs() -> None:
    stdout = run("passive_buy.py")
    assert "filled 5000 of 5000" in stdout
    assert "slippage vs arrival" in stdout


def test_passive_buy_costs_come_from_parent_cost() -> None:
    from fillforge.demos.passive_buy import run_passive_buy

    r = run_passive_buy(qty=1_000, reprice_every=100)
    c = r.cost
    assert (c.qty, c.filled_qty, c.start_ns, c.end_ns) == (r.target, r.filled, r.start_ns, r.end_ns)
    assert c.arrival_price == r.arrival_mid
    assert c.arrival_bps is not None
    assert c.vwap_bps is not None
    assert r.slippage_vs_arrival_bps == c.arrival_bps.quantize(Decimal("0.01"))
    assert r.slippage_vs_vwap_bps == c.vwap_bps.quantize(Decimal("0.01"))
    assert r.avg_price is not None
    assert r.interval_vwap is not None
    # Positive is a cost: a buy below the arrival mid is a negative figure, and back.
    assert (r.avg_price < r.arrival_mid) == (c.arrival_bps < 0)
    assert (r.avg_price < r.interval_vwap) == (c.vwap_bps < 0)


def test_daily_sma_stop_runs() -> None:
    # The example asserts as it runs: the stop is working until it fills or is canceled by the
    # strategy, and a sell stop never fills above its stop.
    stdout = run("daily_sma_stop.py")
    counts = dict(re.findall(r"(entries|crossover exits|stop exits) (\d+)", stdout))
    entries, exits, stops = (int(counts[k]) for k in ("entries", "crossover exits", "stop exits"))
    assert stops >= 1
    assert entries - (exits + stops) in (0, 1)  # every entry left, but maybe the last one
    at_stop, gapped = map(
        int, re.findall(r"at their stop (\d+), gapped through \(at the open\) (\d+)", stdout)[0]
    )
    assert at_stop + gapped == stops
    assert "max drawdown" in stdout


# ----- examples/multi_symbol_backtest.py (issue 17) ---------------------------------------------


def _multi() -> ModuleType:
    """The example as a module (its functions and the strategy class, for the tests)."""
    name = "multi_symbol_backtest"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses look their module up while it loads
        spec.loader.exec_module(module)
    return sys.modules[name]


@pytest.fixture(scope="module")
def multi() -> ModuleType:
    return _multi()


def _figures(report: Any) -> tuple[object, ...]:
    r = report.result
    m = r.metrics()
    entries = [(p.symbol, p.entered, p.entry_price, p.reason) for p in report.strategy.plans]
    return (m, r.final_equity, r.fills, tuple(r.equity_exact), entries, report.risk)


def test_multi_symbol_backtest_prints_its_metrics() -> None:
    stdout = run("multi_symbol_backtest.py")
    for label in ("Sharpe", "Sortino", "max drawdown", "CAGR", "trades", "final equity"):
        assert label in stdout
    entries = re.search(r"entries (\d+): (.*)", stdout)
    assert entries is not None
    reasons = dict((k, int(v)) for v, k in (p.rsplit(" ", 1)[::-1] for p in entries[2].split(", ")))
    assert sum(reasons.values()) == int(entries[1])
    assert reasons["stop"] >= 1


def test_multi_symbol_backtest_is_deterministic(multi: ModuleType) -> None:
    first, second = multi.backtest(), multi.backtest()
    assert _figures(first) == _figures(second)
    r = first.result
    assert r.trades >= 10  # it trades: the figures compared are not those of an idle run
    assert {f.symbol for f in r.fills} == set(multi.SYMBOLS)
    assert r.final_equity == r.equity_exact[-1]


def test_multi_symbol_backtest_stops_fire_and_trail_the_peak(multi: ModuleType) -> None:
    # Every position the stop ended was sold by its own trailing-stop order, all of it, at or
    # under the peak since the entry less the trail (at the stop, or at the open on a gap).
    report = multi.backtest()
    bars = multi.sample_bars()
    fills = report.result.fills
    cent = Decimal("0.01")
    stopped = 0
    for symbol, b in bars.items():
        plans = [p for p in report.strategy.plans if p.symbol == symbol and p.entered]
        orders: dict[str, list[FillRecord]] = {}
        for f in fills:
            if f.symbol == symbol:
                orders.setdefault(f.order_id, []).append(f)
        legs = list(orders.values())
        buys, sells = legs[0::2], legs[1::2]  # one position at a time: entry, exit, entry...
        assert all(f.side is OrderSide.BUY for leg in buys for f in leg)
        assert all(f.side is OrderSide.SELL for leg in sells for f in leg)
        assert len(buys) == len(plans)
        days = b.time_ns // NS_PER_DAY
        for p, entry, out in zip(plans, buys, sells, strict=False):
            assert p.reason == "stop"
            stopped += 1
            order = report.broker.get_order(out[0].order_id)
            assert order.request.type is OrderType.TRAILING_STOP
            assert sum(f.qty for f in out) == sum(f.qty for f in entry) == p.entered
            first = int(np.searchsorted(days, entry[0].time_ns // NS_PER_DAY))
            last = int(np.searchsorted(days, out[-1].time_ns // NS_PER_DAY))
            assert first < last  # filled at an open, stopped on a later session
            peak = int(b.high[first : last + 1].max())
            assert p.levels is not None
            assert p.levels.trail_ticks is not None
            for f in out:
                assert int(b.low[last]) * cent <= f.price <= (peak - p.levels.trail_ticks) * cent
        for p in plans[len(sells) :]:
            assert p.phase.value == "active"  # still held at the end
    assert stopped >= 5
    # every order went through the risk gate: entries and their stops, filled or working
    orders = report.broker.orders()
    assert report.risk["allowed"] == len(orders) > len({f.order_id for f in fills})
    assert sum(o.status.value == "new" for o in orders) == sum(
        p.phase.value == "active" for p in report.strategy.plans
    )


def test_multi_symbol_backtest_entries_pass_the_risk_gate(
    multi: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    # With a 1% position limit every entry the sizer makes (up to 20% of equity) is denied at
    # the gate: nothing fills, and each denial is counted with its code.
    from fillforge.risk import MaxPosition

    monkeypatch.setattr(multi, "controls", lambda: [MaxPosition(pct=Decimal("0.01"))])
    report = multi.backtest()
    assert report.result.fills == ()
    assert report.risk.get("allowed", 0) == 0
    assert report.risk["max_position_pct"] == len(report.strategy.plans) > 0
    assert report.result.final_equity == multi.CASH


def test_multi_symbol_strategy_fits_in_30_lines(multi: ModuleType) -> None:
    lines = inspect.getsource(multi.Breakout).splitlines()
    assert len(lines) <= 30, len(lines)


def test_multi_symbol_strategy_on_the_served_paper_account(multi: ModuleType) -> None:
    # The same strategy class on a served Alpaca account replaying the last sessions of the
    # samples at 100,000x fills the same entries, at the same prices, as a backtest of them.
    # About 12 sessions back is 2017-12-18, a Monday: 9 sessions, where all three symbols break
    # out on the first, so the first session's bar must be whole (about 15 s of wall time).
    run = multi.paper(sessions=12)
    assert run.started_ns < run.first_open_ns  # the runner saw every session whole
    paper, bt = run.paper, run.backtest
    assert bt.strategy.plans, "the backtest of these sessions enters something"

    def entries(report: Any) -> list[tuple[object, ...]]:
        return [(p.symbol, p.entered, p.entry_price) for p in report.strategy.plans]

    def fills(report: Any) -> list[tuple[object, ...]]:
        return sorted((f.symbol, f.side.value, f.qty, f.price) for f in report.result.fills)

    assert entries(paper) == entries(bt)
    assert fills(paper) == fills(bt)
    assert paper.result.final_equity == bt.result.final_equity


# ----- the exits seam the benchmark needed: a venue-held plan follows no prices ----------------


class _NoTrailingStops:
    """A control that denies every trailing-stop order (a venue that does not take them)."""

    code = "no_trailing_stop"

    def check(self, proposal: Any, view: Any) -> None:
        if proposal.request.type is OrderType.TRAILING_STOP:
            raise RiskDeniedError("type", "trailing_stop", "not taken here", self.code)


def _counting(broker: Any, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Note every market-data subscription made on ``broker``."""
    made: list[str] = []
    for kind in ("trades", "quotes", "bars"):
        real = getattr(broker, f"subscribe_{kind}")

        def sub(symbol: str, cb: Any, _real: Any = real, _kind: str = kind) -> Any:
            made.append(_kind)
            return _real(symbol, cb)

        monkeypatch.setattr(broker, f"subscribe_{kind}", sub)
    return made


@pytest.mark.parametrize("mode", ["venue", "local"])
def test_a_venue_trailing_stop_needs_no_price_subscription(
    sim: SimHarness, sim_instrument: Instrument, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    # The venue's trailing stop is the stop: the manager has nothing to move, so it does not ask
    # the simulator to hand it each print. Emulated locally, the same plan reads trades and
    # quotes. Both exit the same way.
    made = _counting(sim.broker, monkeypatch)
    plan = ExitPlan(stop=Distance.of_percent(10), trail=Trail(Distance.of_percent(5)))
    sim.path("99.00", "100.00")
    m = ExitManager(sim.broker, mode=mode).enter(
        OrderRequest(symbol="TEST", side=OrderSide.BUY, qty=Decimal(100)), plan, sim_instrument
    )
    assert made == ([] if mode == "venue" else ["trades", "quotes"])
    sim.path("110.00", "104.00")
    assert m.reason == "stop"
    assert "TEST" not in sim.broker.positions()  # flat


@pytest.mark.parametrize("raise_denied", [False, True])
def test_a_refused_venue_exit_falls_back_to_local_prices(
    sim: SimHarness,
    sim_instrument: Instrument,
    monkeypatch: pytest.MonkeyPatch,
    raise_denied: bool,
) -> None:
    # The venue will not take the trailing stop (denied, returned or raised): the plan emulates
    # it locally and subscribes to prices then, so the stop still fires.
    from fillforge.risk import RiskGate

    gate = RiskGate(sim.broker, [_NoTrailingStops()], raise_denied=raise_denied)
    made = _counting(gate, monkeypatch)
    plan = ExitPlan(stop=Distance.of_percent(10), trail=Trail(Distance.of_percent(5)))
    sim.path("99.00", "100.00")
    m = ExitManager(gate, mode="venue").enter(
        OrderRequest(symbol="TEST", side=OrderSide.BUY, qty=Decimal(100)), plan, sim_instrument
    )
    assert m.mode is ExitMode.LOCAL
    assert any("emulating locally" in line for line in m.log)
    assert made == ["trades", "quotes"]
    sim.path("110.00", "104.00")
    assert m.reason == "stop"
    assert "TEST" not in sim.broker.positions()  # flat


@pytest.mark.parametrize("sessions", [0, 4, 400, 2.5, True])
def test_multi_symbol_paper_refuses_a_bad_window(multi: ModuleType, sessions: object) -> None:
    from fillforge.errors import StrategyError

    with pytest.raises(StrategyError) as e:
        multi.paper(sessions=sessions)
    assert e.value.field == "sessions"


def test_the_walkthrough_shows_the_example_as_it_is(multi: ModuleType) -> None:
    # docs/backtest-example.md quotes the strategy: every line it shows is in the example, in
    # the same order (the class's docstring aside), so the page cannot drift from the code.
    doc = (EXAMPLES.parent / "docs" / "backtest-example.md").read_text()
    block = re.search(r"```python\n(PLAN = .*?)```", doc, re.S)
    assert block is not None
    source = (EXAMPLES / "multi_symbol_backtest.py").read_text().splitlines()
    at = 0
    for line in block[1].splitlines():
        if line.strip():
            at = source.index(line, at) + 1  # ValueError: the page shows a line the code lacks
    assert "class Breakout(Strategy):" in block[1]


def test_the_multi_symbol_backtest_runs_without_alpaca_py() -> None:
    """The backtest needs nothing of the ``alpaca`` extra (only ``--paper`` does): run the
    example with alpaca-py made unimportable."""
    code = (
        "import runpy, sys\n"
        "sys.modules['alpaca'] = None  # import alpaca... now raises ImportError\n"
        f"sys.argv = [{str(EXAMPLES / 'multi_symbol_backtest.py')!r}]\n"
        "runpy.run_path(sys.argv[0], run_name='__main__')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert "final equity" in done.stdout
