"""fillforge.agent: the execution agent in simulation (submit, status, cancel, positions,
performance), execute_signals (sized, risk-checked, denied with reasons), and no silent
fallback."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fillforge.agent import ExecutionAgent, SignalReport
from fillforge.config import Mode, parse_config
from fillforge.config.model import Config
from fillforge.errors import BrokerUnavailableError, ConfigError, RiskDeniedError
from fillforge.time import NS_PER_SECOND

T = TypeVar("T")
D = Decimal
HOUR = 3600 * NS_PER_SECOND


def _config(**blocks: Any) -> Config:
    data: dict[str, Any] = {
        "execution": {"mode": "simulation", "default_order_type": "market"},
        "position_sizing": {"max_position_size": 0.1},
        "backtest": {"symbols": ["SPY", "AAPL"]},
    }
    for k, v in blocks.items():
        data[k] = {**data.get(k, {}), **v}
    return parse_config(data, env={}).config


def _run(cfg: Config, body: Callable[[ExecutionAgent], Awaitable[T]]) -> T:
    async def main() -> T:
        agent = ExecutionAgent(cfg)
        await agent.start()
        try:
            await agent.advance(agent.broker.now_ns() + HOUR)  # into the first session
            return await body(agent)
        finally:
            await agent.stop()

    return asyncio.run(main())


PRICES = {"SPY": D("201.00"), "AAPL": D("105.00")}


def test_simulation_submits_reports_status_and_fills() -> None:
    async def body(agent: ExecutionAgent) -> None:
        oid = await agent.submit_order("SPY", "buy", D(10))
        first = await agent.get_order_status(oid)
        assert first.kind == "parent"
        assert first.symbol == "SPY"
        assert first.qty == 10
        await agent.advance(agent.broker.now_ns() + HOUR)
        done = await agent.get_order_status(oid)
        assert done.state == "completed"
        assert done.filled_qty == 10
        assert done.avg_price is not None
        assert await agent.positions() == {"SPY": D(10)}
        perf = await agent.performance()
        assert perf.mode is Mode.SIMULATION
        assert perf.submitted == 1
        assert perf.filled == 1
        assert perf.fallbacks == 0

    _run(_config(), body)


def test_simulation_cancels_a_resting_limit_parent() -> None:
    cfg = _config(
        execution={
            "default_order_type": "limit",
            "limit_orders": {"base_offset_bps": 500},  # 5% under the mid: rests
        }
    )

    async def body(agent: ExecutionAgent) -> None:
        oid = await agent.submit_order("SPY", "buy", D(10))
        await agent.advance(agent.broker.now_ns() + 60 * NS_PER_SECOND)
        working = await agent.get_order_status(oid)
        assert working.state == "working"
        assert working.filled_qty == 0
        await agent.cancel(oid)
        gone = await agent.get_order_status(oid)
        assert gone.state == "cancelled"
        assert gone.done
        assert gone.reason == "cancelled by the agent"
        assert await agent.positions() == {}

    _run(cfg, body)


def test_submit_order_refused_by_risk_raises_with_its_code() -> None:
    cfg = _config(execution={"max_order_size": 1000})

    async def body(agent: ExecutionAgent) -> None:
        with pytest.raises(RiskDeniedError) as e:
            await agent.submit_order("SPY", "buy", D(10))  # ~2,000 of notional
        assert e.value.code == "max_order_notional"
        assert await agent.positions() == {}

    _run(cfg, body)


def _signals(cfg: Config, signals: dict[str, Any], prices: dict[str, D] = PRICES) -> SignalReport:
    async def body(agent: ExecutionAgent) -> SignalReport:
        report = await agent.execute_signals(signals, prices)
        await agent.advance(agent.broker.now_ns() + HOUR)
        return report

    return _run(cfg, body)


def test_execute_signals_sizes_by_strength_and_sends() -> None:
    report = _signals(_config(), {"SPY": 0.8, "AAPL": -0.6})
    by = {s.symbol: s for s in report.submitted}
    # 0.8 x 10% x 100,000 / 201 = 39.8 -> 39 shares; -0.6 x 10,000 / 105 = -57.1 -> 57 sold
    assert by["SPY"].side == "buy"
    assert by["SPY"].qty == 39
    assert by["AAPL"].side == "sell"
    assert by["AAPL"].qty == 57
    assert report.denied == ()


def test_execute_signals_denies_with_reasons() -> None:
    cfg = _config(
        execution={"signal_threshold": 0.2, "max_order_size": 5000},
        position_sizing={"min_trade_size": 100},
        backtest={"symbols": ["SPY", "AAPL", "GOOG"]},
    )
    report = _signals(
        cfg,
        {"SPY": 0.9, "AAPL": 0.1, "MSFT": 0.5, "GOOG": 2.0},
        {"SPY": D("201.00"), "AAPL": D("105.00"), "MSFT": D("50")},
    )
    codes = {d.symbol: d.code for d in report.denied}
    assert codes == {
        "SPY": "max_order_notional",  # 9,000 of SPY over the 5,000 limit
        "AAPL": "below_threshold",
        "MSFT": "unknown_symbol",
        "GOOG": "bad_signal",
    }
    assert report.submitted == ()
    spy = next(d for d in report.denied if d.symbol == "SPY")
    assert "5000" in spy.why


def test_execute_signals_cuts_to_max_trade_size_and_skips_tiny_trades() -> None:
    cfg = _config(position_sizing={"max_trade_size": 2000, "min_trade_size": 500})
    report = _signals(cfg, {"SPY": 1.0, "AAPL": 0.04})
    spy = next(s for s in report.submitted if s.symbol == "SPY")
    assert spy.cut_from == 49  # 10,000 / 201
    assert spy.qty == 9  # 2,000 / 201
    assert {d.symbol: d.code for d in report.denied} == {"AAPL": "below_min_trade"}


def test_execute_signals_disabled_and_unsized() -> None:
    off = _signals(_config(execution={"enabled": False}), {"SPY": 0.5})
    assert [d.code for d in off.denied] == ["disabled"]
    cfg = parse_config({"backtest": {"symbols": ["SPY"]}}, env={}).config
    unsized = _signals(cfg, {"SPY": 0.5})
    assert [d.code for d in unsized.denied] == ["no_sizing"]


def test_execute_signals_a_second_time_is_no_change() -> None:
    async def body(agent: ExecutionAgent) -> tuple[SignalReport, SignalReport]:
        first = await agent.execute_signals({"SPY": 0.5}, PRICES)
        await agent.advance(agent.broker.now_ns() + HOUR)
        again = await agent.execute_signals({"SPY": 0.5}, PRICES)
        return first, again

    first, again = _run(_config(), body)
    assert len(first.submitted) == 1
    assert [d.code for d in again.denied] == ["no_change"]


def test_bracket_entries_carry_stop_and_target() -> None:
    cfg = _config(
        execution={
            "use_bracket_orders": True,
            "bracket_orders": {
                "stop_loss": {"method": "percentage", "percentage": 2},
                "take_profit": {"risk_reward_ratio": 2},
            },
        }
    )
    report = _signals(cfg, {"SPY": 1.0})
    (spy,) = report.submitted
    assert spy.kind == "bracket"
    assert spy.stop_price == D("196.98")  # 201 - 2%
    assert spy.target_price == D("209.04")  # 201 + 2 x 4.02


def test_max_position_risk_caps_the_size_by_the_stop() -> None:
    cfg = _config(
        execution={
            "use_bracket_orders": True,
            "bracket_orders": {"stop_loss": {"method": "percentage", "percentage": 10}},
        },
        position_sizing={"max_position_size": 1.0},
        risk_management={"max_position_risk": 0.005},
    )
    report = _signals(cfg, {"SPY": 1.0})
    # 0.5% of 100,000 = 500 at risk; 10% of 201 = 20.1 a share -> 24 shares, not 497
    assert report.submitted[0].qty == 24


# ----- no silent fallback ---------------------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _live(fallback: str) -> Config:
    data = {
        "execution": {"mode": "live", "fallback": fallback},
        "broker": {
            "type": "alpaca",
            "api_key": "${K}",
            "secret_key": "${S}",
            "base_url": f"http://127.0.0.1:{_closed_port()}",
        },
        "backtest": {"symbols": ["SPY"]},
    }
    return parse_config(data, env={"K": "key", "S": "secret"}).config


def test_an_unreachable_live_broker_raises_and_never_simulates() -> None:
    agent = ExecutionAgent(_live("none"))
    with pytest.raises(BrokerUnavailableError) as e:
        asyncio.run(agent.start())
    assert e.value.field == "broker.base_url"
    assert "no fallback" in e.value.why
    assert agent.mode is Mode.LIVE
    assert agent.fallbacks == 0
    with pytest.raises(Exception, match="start"):
        _ = agent.broker


def test_the_opt_in_fallback_is_logged_and_counted(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, "fillforge.agent")

    async def main() -> Any:
        agent = ExecutionAgent(_live("simulation"))
        await agent.start()
        try:
            return await agent.performance()
        finally:
            await agent.stop()

    perf = asyncio.run(main())
    assert perf.mode is Mode.SIMULATION
    assert perf.configured_mode is Mode.LIVE
    assert perf.fallbacks == 1
    assert perf.fallback_reason is not None
    assert "falling back to simulation" in caplog.text
    assert "secret" not in caplog.text.replace("secret_key", "")


def test_live_without_credentials_is_a_config_error() -> None:
    cfg = parse_config(
        {"execution": {"mode": "live"}, "broker": {"type": "alpaca", "api_key": "your_api_key"}},
        env={},
    ).config
    agent = ExecutionAgent(cfg, env={})
    with pytest.raises(ConfigError) as e:
        asyncio.run(agent.start())
    assert e.value.field == "broker.api_key"
    assert "APCA_API_KEY_ID" in e.value.why


def test_the_opening_gate_denies_entries() -> None:
    # The agent starts an hour into the first session: inside a 90-minute opening gate.
    cfg = _config(execution={"session_gates": {"avoid_first_minutes": 90}})
    report = _signals(cfg, {"SPY": 0.5})
    assert [(d.symbol, d.code) for d in report.denied] == [("SPY", "session_opening")]


def test_the_end_of_day_flatten_closes_what_the_agent_entered() -> None:
    cfg = _config(execution={"session_gates": {"flatten_eod_time": "15:55"}})

    async def body(agent: ExecutionAgent) -> tuple[dict[str, Decimal], dict[str, Decimal]]:
        await agent.execute_signals({"SPY": 0.5}, PRICES)
        await agent.advance(agent.broker.now_ns() + HOUR)
        held = await agent.positions()
        await agent.advance(agent.broker.now_ns() + 8 * HOUR)  # past the close
        return held, await agent.positions()

    held, after = _run(cfg, body)
    assert held == {"SPY": D(24)}
    assert after == {}


def test_the_exit_manager_protects_a_filled_entry() -> None:
    cfg = _config(
        execution={
            "use_bracket_orders": True,
            "bracket_orders": {
                "stop_loss": {"method": "percentage", "percentage": 2},
                "take_profit": {"risk_reward_ratio": 2},
                "trailing_stop": {"enabled": True, "percentage": 3},
            },
        }
    )

    async def body(agent: ExecutionAgent) -> tuple[SignalReport, list[Any], dict[str, Decimal]]:
        report = await agent.execute_signals({"SPY": 1.0}, PRICES)
        await agent.advance(agent.broker.now_ns() + HOUR)
        held = await agent.positions()
        exits = [o for o in agent.broker.orders(open_only=True, symbol="SPY")]
        return report, exits, held

    report, exits, held = _run(cfg, body)
    assert held == {"SPY": D(49)}
    assert report.submitted[0].kind == "bracket"
    assert exits, "a filled entry has its exits working"
    assert all(o.request.side.value == "sell" for o in exits)


def test_an_atr_plan_without_the_atr_is_denied() -> None:
    cfg = _config(
        execution={
            "use_bracket_orders": True,
            "bracket_orders": {"stop_loss": {"method": "atr", "atr_multiplier": 1.5}},
        }
    )
    report = _signals(cfg, {"SPY": 1.0})
    assert [(d.symbol, d.code) for d in report.denied] == [("SPY", "no_atr")]
    assert "atr=" in report.denied[0].why


def test_time_slicing_cuts_a_large_order_into_children() -> None:
    cfg = _config(
        execution={
            "time_slicing": {
                "enabled": True,
                "size_threshold_usd": 1000,
                "child_order_size_usd": 500,
                "interval_seconds": 60,
            }
        }
    )

    async def body(agent: ExecutionAgent) -> tuple[Any, Any]:
        small = await agent.submit_order("SPY", "buy", D(4), price=D("201.00"))  # 804: one
        large = await agent.submit_order("SPY", "buy", D(20), price=D("201.00"))  # 4,020
        await agent.advance(agent.broker.now_ns() + HOUR)
        return await agent.get_order_status(small), await agent.get_order_status(large)

    small, large = _run(cfg, body)
    assert small.children == 1
    # 500 / 201 -> children of 2 shares, 60 s apart: ten of them
    assert large.children == 10
    assert large.filled_qty == 20
    assert large.state == "completed"


def test_the_kill_switch_cancels_flattens_and_halts() -> None:
    cfg = _config(
        execution={
            "time_slicing": {
                "enabled": True,
                "size_threshold_usd": 1000,
                "child_order_size_usd": 1000,
                "interval_seconds": 600,
            }
        }
    )

    async def body(agent: ExecutionAgent) -> tuple[Any, ...]:
        pid = await agent.submit_order("SPY", "buy", D(20), price=D("201.00"))
        await agent.advance(agent.broker.now_ns() + 60 * NS_PER_SECOND)
        held = await agent.positions()  # the first child of 4 filled; the rest wait
        report = await agent.kill(flatten=True, reason="test")
        await agent.advance(agent.broker.now_ns() + HOUR)
        status = await agent.get_order_status(pid)
        after = await agent.execute_signals({"SPY": 0.5}, PRICES)
        perf = await agent.performance()
        return held, report, status, after, perf, await agent.positions()

    held, report, status, after, perf, flat = _run(cfg, body)
    assert held == {"SPY": D(4)}
    assert status.state == "cancelled"
    assert status.reason == "kill switch: test"
    assert status.filled_qty == 4  # no child after the kill
    assert report.failed == {}
    assert flat == {}  # flattened
    assert perf.risk_state == "halted"
    assert [d.code for d in after.denied] == ["halted"]


def test_paper_on_an_unreachable_ib_gateway_raises_naming_the_port() -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cfg = parse_config(
        {
            "execution": {"mode": "paper", "fallback": "none"},
            "broker": {"type": "ibkr", "port": port},
        },
        env={},
    ).config
    agent = ExecutionAgent(cfg, env={})
    with pytest.raises(BrokerUnavailableError) as e:
        asyncio.run(agent.start())
    assert (e.value.field, e.value.value) == ("broker.port", port)
    assert "no fallback" in e.value.why
    assert agent.fallbacks == 0


def test_paper_on_a_polygon_block_is_refused_not_simulated() -> None:
    cfg = parse_config(
        {"execution": {"mode": "paper", "fallback": "simulation"}, "broker": {"type": "polygon"}},
        env={},
    ).config
    agent = ExecutionAgent(cfg, env={})
    with pytest.raises(ConfigError) as e:
        asyncio.run(agent.start())
    assert e.value.field == "broker.type"
    assert "market-data vendor, not a broker" in e.value.why
    assert agent.fallbacks == 0


def test_from_file_refuses_an_unknown_key_in_live_mode_only(tmp_path: Path) -> None:
    path = tmp_path / "live.yaml"
    path.write_text("execution:\n  mode: live\nrisk_management:\n  max_daly_loss: 0.02\n")
    with pytest.warns(UserWarning, match="max_daly_loss"), pytest.raises(ConfigError) as e:
        ExecutionAgent.from_file(path, env={})
    assert e.value.field == "risk_management.max_daly_loss"
    path.write_text("execution:\n  mode: simulation\nrisk_management:\n  max_daly_loss: 0.02\n")
    with pytest.warns(UserWarning, match="max_daly_loss"):
        agent = ExecutionAgent.from_file(path, env={})
    assert agent.config.mode is Mode.SIMULATION


def test_performance_has_the_metrics_of_the_sessions_it_saw() -> None:
    async def body(agent: ExecutionAgent) -> list[Any]:
        seen = []
        await agent.execute_signals({"SPY": 1.0}, PRICES)
        for _ in range(5):
            await agent.advance(agent.broker.now_ns() + 24 * HOUR)
            seen.append(await agent.performance())
        return seen

    seen = _run(_config(), body)  # from Monday 2016-01-04, a day at a time to Saturday
    first, last = seen[0], seen[-1]
    assert first.sessions == 2  # Monday's and Tuesday's
    assert last.sessions == 5  # to Friday's: Saturday has no session
    assert last.sharpe_ratio is not None
    assert last.max_drawdown is not None
    assert last.max_drawdown <= 0
    assert last.cagr is not None


@settings(max_examples=25, deadline=None)
@given(
    spy=st.floats(-1.5, 1.5, allow_nan=False),
    aapl=st.floats(-1.5, 1.5, allow_nan=False),
    price=st.decimals("50", "500", places=2),
)
def test_every_signal_is_submitted_or_denied_within_the_limits(
    spy: float, aapl: float, price: Decimal
) -> None:
    cfg = _config(
        execution={"signal_threshold": 0.05},
        position_sizing={"max_position_size": 0.5, "max_trade_size": 20000, "min_trade_size": 500},
    )
    report = _signals(cfg, {"SPY": spy, "AAPL": aapl}, {"SPY": price, "AAPL": price})
    sent = {s.symbol for s in report.submitted}
    refused = {d.symbol for d in report.denied}
    assert sent | refused == {"SPY", "AAPL"}
    assert not sent & refused
    for s in report.submitted:
        assert s.qty > 0
        assert s.qty * s.price <= 20000
        assert s.qty * s.price >= 500
        assert (s.side == "buy") == (s.signal is not None and s.signal > 0)
    for d in report.denied:
        assert d.code
        assert d.why


def test_rebalance_to_target_weights_through_the_policy_and_the_limits() -> None:
    """Target weights become orders on the lot grid, sells first, each worked as a parent
    under the file's policy and checked by its limits; a second call inside the drift sends
    nothing; a weight the limits refuse is a denial with its code."""

    async def body(agent: ExecutionAgent) -> tuple[Any, ...]:
        first = await agent.rebalance({"SPY": 0.3, "AAPL": 0.2}, PRICES)
        await agent.advance(agent.broker.now_ns() + HOUR)
        held = await agent.positions()
        again = await agent.rebalance({"SPY": 0.3, "AAPL": 0.2}, PRICES, drift="0.02")
        out = await agent.rebalance({"SPY": 0.3}, PRICES)  # AAPL held, not named: sold
        await agent.advance(agent.broker.now_ns() + HOUR)
        return first, held, again, out, await agent.positions()

    first, held, again, out, after = _run(_config(), body)
    by = {s.symbol: s for s in first.submitted}
    # 30% of 100,000 at 201 = 149.25 -> 149 SPY; 20% at 105 = 190.47 -> 190 AAPL
    assert (by["SPY"].side, by["SPY"].qty, by["SPY"].kind) == ("buy", 149, "parent")
    assert (by["AAPL"].side, by["AAPL"].qty) == ("buy", 190)
    assert held == {"SPY": D(149), "AAPL": D(190)}
    assert again.submitted == ()
    assert again.denied == ()
    assert [(s.symbol, s.side, s.qty) for s in out.submitted] == [("AAPL", "sell", 190)]
    assert after == {"SPY": D(149)}

    capped = _config(execution={"max_order_size": 20_000})

    async def limited(agent: ExecutionAgent) -> Any:
        return await agent.rebalance({"SPY": 0.3, "AAPL": 0.1}, PRICES)

    report = _run(capped, limited)
    assert {d.symbol: d.code for d in report.denied} == {"SPY": "max_order_notional"}
    assert [s.symbol for s in report.submitted] == ["AAPL"]


def test_an_alpaca_only_command_names_the_block_it_needs() -> None:
    """serve monitor follows Alpaca accounts (build.alpaca_broker): an ibkr block is refused
    naming the type it needs, before anything connects."""
    from fillforge.agent.build import alpaca_broker

    cfg = parse_config({"execution": {"mode": "paper"}, "broker": {"type": "ibkr"}}, env={}).config
    with pytest.raises(ConfigError) as e:
        alpaca_broker(cfg, env={})
    assert (e.value.field, e.value.value) == ("broker.type", "ibkr")
    assert e.value.why == "this needs a type alpaca block"
