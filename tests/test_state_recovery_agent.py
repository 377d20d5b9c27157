"""The execution agent on a journal, killed in the middle of a parent's schedule (issue 18).

A simulated market outlives the agent process: the agent works a sliced parent, dies between
two slices (:class:`Mortal` takes everything it hooked into the broker off at once, and its
journal is abandoned as a kill -9 would leave it), the market goes on, and a new agent is
started on the same journal. It reconciles the orders, takes the parent up (children
re-attached, missed slices caught up, no child sent twice), brings back the risk state and its
own book, and says so in its recovery report; the parent then finishes its quantity and the
positions equal the broker's, as for an agent that never crashed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_state_recovery_support import Mortal

from fillforge.agent import ExecutionAgent
from fillforge.config import parse_config
from fillforge.config.model import Config
from fillforge.errors import ConfigError, RiskDeniedError
from fillforge.journal import Journal
from fillforge.journal.broker import CrashHook
from fillforge.orders.models import Instrument
from fillforge.sim.broker import SimulatedBroker
from fillforge.sim.feeds import empty_feed
from fillforge.sim.venue import Venue
from fillforge.time import NS_PER_SECOND

D = Decimal
S = NS_PER_SECOND
T0 = 1_700_000_000 * S  # a Tuesday, 22:13 UTC: the agent's clock is the simulated market's
T = TypeVar("T")


class Killed(BaseException):
    """A kill -9 in the middle of a step: not an Exception, so nothing on the way out handles
    it."""


def config(**execution: Any) -> Config:
    data: dict[str, Any] = {
        "execution": {
            "mode": "simulation",
            "default_order_type": "market",
            "time_slicing": {
                "enabled": True,
                "child_order_size_usd": 2000,  # 10 shares at 200
                "interval_seconds": 60,
            },
            **execution,
        },
    }
    return parse_config(data, env={}).config


def market(calendar: str | None = None, start: int = T0) -> SimulatedBroker:
    venue = Venue(calendar=calendar)
    venue.add(Instrument(symbol="SPY", tick_size=D("0.01")), empty_feed())
    b = SimulatedBroker(venue, cash=D(1_000_000), start_ns=start)
    b.quote("SPY", D("199.99"), D("200.01"), bid_size=D(10**6), ask_size=D(10**6), ts=start)
    b.trade("SPY", D("200.00"), D(1), ts=start)
    return b


def run(body: Callable[[], Awaitable[T]]) -> T:
    return asyncio.run(body())  # type: ignore[arg-type]


async def started(cfg: Config, b: SimulatedBroker, journal: Path) -> tuple[ExecutionAgent, Mortal]:
    proc = Mortal(b)
    agent = ExecutionAgent(cfg, broker=proc, journal=journal)  # type: ignore[arg-type]
    await agent.start()
    return agent, proc


async def kill(agent: ExecutionAgent, proc: Mortal) -> None:
    """kill -9: the process's hooks off the broker, its journal abandoned (what was queued and
    not durable is lost), its worker thread dropped."""
    proc.die()
    hook = agent._journal
    assert hook is not None
    hook.journal.abandon()
    assert agent._pool is not None
    agent._pool.shutdown(wait=True)


def children(b: SimulatedBroker, pid: str) -> list[tuple[str, Decimal, Decimal]]:
    return [
        (o.client_order_id, o.order_qty, o.cum_qty)
        for o in b.orders()
        if o.client_order_id.startswith(f"{pid}-c")
    ]


def twin(qty: int, until: int) -> tuple[SimulatedBroker, list[tuple[str, Decimal, Decimal]]]:
    """The same parent on the same market, never crashed."""
    b = market()

    async def body() -> None:
        agent = ExecutionAgent(config(), broker=b)
        await agent.start()
        await agent.submit_order("SPY", "buy", D(qty), price=D(200))
        b.run(until_ns=T0 + until * S)
        await agent.stop()

    run(body)
    return b, children(b, "ff1")


def crash_and_recover(
    tmp_path: Path, qty: int, kill_at: int, back_at: int, until: int, cfg: Config | None = None
) -> tuple[SimulatedBroker, ExecutionAgent]:
    cfg = cfg or config()
    b = market()
    path = tmp_path / "agent.journal"

    async def first() -> None:
        agent, proc = await started(cfg, b, path)
        assert agent.recovery is not None
        assert agent.recovery.first_start
        await agent.submit_order("SPY", "buy", D(qty), price=D(200))
        b.run(until_ns=T0 + kill_at * S)
        await kill(agent, proc)

    run(first)
    b.run(until_ns=T0 + back_at * S)  # the market goes on while nobody watches

    async def second() -> ExecutionAgent:
        agent = await ExecutionAgent.recover(cfg, path, broker=Mortal(b))  # type: ignore[arg-type]
        b.run(until_ns=T0 + until * S)
        return agent

    return b, run(second)


def test_a_parent_killed_between_slices_is_taken_up_and_finishes_like_its_twin(
    tmp_path: Path,
) -> None:
    ref, ref_children = twin(50, 600)
    b, agent = crash_and_recover(tmp_path, 50, kill_at=150, back_at=150, until=600)
    assert children(b, "ff1") == ref_children  # the same children, none twice
    assert [c[0] for c in ref_children] == [f"ff1-c{i}" for i in range(1, 6)]
    assert b.positions()["SPY"].qty == ref.positions()["SPY"].qty == D(50)
    report = agent.recovery
    assert report is not None
    assert not report.first_start
    [p] = report.parents
    assert (p.id, p.state, p.qty, p.filled, p.working, p.leaves) == (
        "ff1",
        "working",
        D(50),
        D(30),
        D(0),
        D(20),
    )
    assert report.positions_match
    assert report.positions == {"SPY": D(30)}
    assert not report.config_changed

    async def after() -> None:
        status = await agent.get_order_status("ff1")
        assert (status.state, status.filled_qty) == ("completed", D(50))
        perf = await agent.performance()
        assert perf.submitted == 1  # the agent's book came back
        nxt = await agent.submit_order("SPY", "sell", D(10), price=D(200))
        assert nxt == "ff2"  # never ff1 again
        await agent.stop()

    run(after)


def test_slices_missed_while_down_are_caught_up_at_once(tmp_path: Path) -> None:
    # slices of 10 at 0, 60, 120, 180 and 240 s; dead from 90 to 250 s.
    b, agent = crash_and_recover(tmp_path, 50, kill_at=90, back_at=250, until=600)
    sent = children(b, "ff1")
    assert [c[0] for c in sent] == ["ff1-c1", "ff1-c2", "ff1-c3"]
    assert [c[1] for c in sent] == [D(10), D(10), D(30)]  # the three missed, as one child
    assert b.positions()["SPY"].qty == D(50)
    run(agent.stop)


def test_a_changed_configuration_is_reported_and_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    b = market()
    path = tmp_path / "agent.journal"

    async def body() -> None:
        agent, _ = await started(config(), b, path)
        await agent.stop()
        with caplog.at_level(logging.WARNING, logger="fillforge.agent"):
            again = await ExecutionAgent.recover(
                config(max_order_size=5000),
                path,
                broker=Mortal(b),  # type: ignore[arg-type]
            )
        assert again.recovery is not None
        assert again.recovery.config_changed
        assert again.recovery.config_differences == ("execution.max_order_size",)
        assert "execution.max_order_size" in caplog.text
        await again.stop()
        same = await ExecutionAgent.recover(
            config(max_order_size=5000),
            path,
            broker=Mortal(b),  # type: ignore[arg-type]
        )
        assert same.recovery is not None
        assert not same.recovery.config_changed
        await same.stop()

    run(body)


def test_the_kill_switch_and_the_halt_survive_a_restart(tmp_path: Path) -> None:
    b = market()
    path = tmp_path / "agent.journal"

    async def body() -> None:
        agent, proc = await started(config(), b, path)
        await agent.submit_order("SPY", "buy", D(50), price=D(200))  # its first child fills
        await agent.kill(reason="test")
        await kill(agent, proc)
        again = await ExecutionAgent.recover(config(), path, broker=Mortal(b))  # type: ignore[arg-type]
        assert again.recovery is not None
        assert (again.recovery.risk_state, again.recovery.killed) == ("halted", True)
        with pytest.raises(RiskDeniedError) as e:
            await again.submit_order("SPY", "buy", D(10), price=D(200))
        assert e.value.code == "halted"
        status = await again.get_order_status("ff1")
        assert (status.state, status.filled_qty) == ("cancelled", D(10))
        b.run(until_ns=T0 + 900 * S)
        assert [c[0] for c in children(b, "ff1")] == ["ff1-c1"]  # nothing more was sent
        await again.stop()

    run(body)


def test_the_journal_key_of_the_configuration(tmp_path: Path) -> None:
    path = tmp_path / "from-config.journal"
    cfg = parse_config({"execution": {"mode": "simulation"}, "journal": str(path)}, env={}).config
    b = market()

    async def body() -> None:
        agent = ExecutionAgent(cfg, broker=b)
        await agent.start()
        assert agent.recovery is not None
        await agent.stop()

    run(body)
    with Journal.open(path, readonly=True) as j:
        kinds = {r.kind for r in j.records()}
    assert "config.start" in kinds
    with pytest.raises(ConfigError) as e:
        parse_config({"journal": "  "}, env={})
    assert e.value.field == "journal"


def test_the_schedule_crash_point_kills_between_two_children(tmp_path: Path) -> None:
    b = market()
    path = tmp_path / "agent.journal"

    def die() -> None:
        raise Killed("schedule")

    async def body() -> None:
        agent, proc = await started(config(), b, path)
        hook = agent._journal
        assert hook is not None
        crash = CrashHook("schedule", 2, die)
        assert agent._engine is not None
        agent._engine.before_slice = lambda: crash.hit("schedule")
        await agent.submit_order("SPY", "buy", D(50), price=D(200))
        with pytest.raises(Killed):
            b.run(until_ns=T0 + 600 * S)
        await kill(agent, proc)
        assert [c[0] for c in children(b, "ff1")] == ["ff1-c1", "ff1-c2"]
        again = await ExecutionAgent.recover(config(), path, broker=Mortal(b))  # type: ignore[arg-type]
        b.run(until_ns=T0 + 900 * S)
        status = await again.get_order_status("ff1")
        assert (status.state, status.filled_qty) == ("completed", D(50))
        await again.stop()

    run(body)


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    qty=st.integers(5, 80),
    kill_at=st.integers(1, 400),
    down=st.integers(0, 300),
)
def test_any_kill_point_conserves_the_parent(
    tmp_path_factory: pytest.TempPathFactory, qty: int, kill_at: int, down: int
) -> None:
    tmp = tmp_path_factory.mktemp("crash")
    b, agent = crash_and_recover(tmp, qty, kill_at, kill_at + down, until=kill_at + down + 900)
    sent = children(b, "ff1")
    ids = [c[0] for c in sent]
    assert len(ids) == len(set(ids))
    assert sum((c[2] for c in sent), D(0)) == D(qty)  # filled exactly once, never over
    assert b.positions()["SPY"].qty == D(qty)
    report = agent.recovery
    assert report is not None
    for p in report.parents:
        assert p.filled + p.working + p.leaves == p.qty
    run(agent.stop)


def bracket_config() -> Config:
    data: dict[str, Any] = {
        "execution": {
            "mode": "simulation",
            "default_order_type": "market",
            "use_bracket_orders": True,
            "bracket_orders": {
                "stop_loss": {"method": "percentage", "percentage": 5},
                "take_profit": {"risk_reward_ratio": 4},
                "trailing_stop": {"enabled": True, "percentage": 3},
            },
        },
        "position_sizing": {"max_position_size": 0.1},
    }
    return parse_config(data, env={}).config


def walk(b: SimulatedBroker, prices: list[str], start: int) -> None:
    """A print at each price, one a minute, with a deep quote around it."""
    for i, p in enumerate(prices):
        t = T0 + (start + i) * 60 * S
        b.run(until_ns=t)
        price = D(p)
        b.trade("SPY", price, D(1), ts=t)
        b.quote(
            "SPY", price - D("0.01"), price + D("0.01"), bid_size=D(10**6), ask_size=D(10**6), ts=t
        )


UP = ["202.00", "206.00", "210.00", "208.00"]
DOWN = ["205.00", "203.50", "201.00", "199.00"]


@pytest.mark.parametrize("kill_after", [0, 2, 4, 6])
def test_a_protected_entry_keeps_its_trailing_stop_across_a_crash(
    tmp_path: Path, kill_after: int
) -> None:
    """Long 500 SPY at 200.01 with a 5% stop, a 4R target and a 3% trailing stop held locally;
    the peak 210 sets the trail at 203.70; the fall through it exits the whole position, with
    or without a crash on the way."""

    def exits(b: SimulatedBroker) -> list[tuple[str, Decimal, Decimal]]:
        return [
            (str(o.request.side), f.price, f.qty)
            for o in b.orders()
            for f in o.fills.values()
            if o.request.side.value == "sell"
        ]

    async def life(b: SimulatedBroker, crash: int | None, path: Path) -> None:
        agent, proc = await started(bracket_config(), b, path)
        report = await agent.execute_signals({"SPY": 1.0}, {"SPY": D("200.00")})
        assert [s.kind for s in report.submitted] == ["bracket"]
        for i, p in enumerate(UP + DOWN):
            if i == crash:
                await kill(agent, proc)
                agent = await ExecutionAgent.recover(
                    bracket_config(),
                    path,
                    broker=Mortal(b),  # type: ignore[arg-type]
                )
                assert agent.recovery is not None
                # protected since the entry filled, until the stop at the 6th price
                assert agent.recovery.exits == (("SPY",) if crash <= 5 else ())
            walk(b, [p], 1 + i)
        await agent.stop()

    twin_market = market()
    run(lambda: life(twin_market, None, tmp_path / "twin.journal"))
    b = market()
    run(lambda: life(b, kill_after, tmp_path / "agent.journal"))
    assert exits(b) == exits(twin_market)
    [(_, price, qty)] = exits(b)  # one stop, at the bid standing when 203.50 crossed 203.70
    assert (price, qty) == (D("204.99"), D(500))
    assert b.positions().get("SPY") is None


def test_the_end_of_day_flattener_still_closes_what_was_opened_before_the_crash(
    tmp_path: Path,
) -> None:
    cfg = config(session_gates={"flatten_eod_time": "15:55"})
    morning = 1_700_060_400 * S  # Wednesday 15 November 2023, 15:00 UTC: 10:00 New York
    b = market("XNYS", morning)
    path = tmp_path / "agent.journal"
    close = morning + 330 * 60 * S  # 15:30 New York

    async def body() -> None:
        agent, proc = await started(cfg, b, path)
        await agent.submit_order("SPY", "buy", D(10), price=D(200))  # one child: filled now
        assert b.positions()["SPY"].qty == D(10)
        await kill(agent, proc)
        again = await ExecutionAgent.recover(cfg, path, broker=Mortal(b))  # type: ignore[arg-type]
        b.run(until_ns=close)
        assert b.positions()["SPY"].qty == D(10)
        b.run(until_ns=close + 40 * 60 * S)  # past 15:55 New York
        assert b.positions().get("SPY") is None
        await again.stop()

    run(body)
