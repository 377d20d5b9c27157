"""The state records in a real journal (SQLite in the test's directory): each component's last
snapshot comes back typed after the journal is closed and opened again; a finished exit plan is
not taken up; a changed configuration is reported by the keys that changed, never their values."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from fillforge.errors import JournalError
from fillforge.execution.parent import ParentOrder, ParentSnapshot, ParentState, WorkRules
from fillforge.exits import Distance, ExitMode, ExitPlan, Phase
from fillforge.exits.recovery import ExitSnapshot
from fillforge.journal import Journal
from fillforge.journal.state import StateWriter, load_state
from fillforge.orders.enums import OrderSide
from fillforge.orders.models import Instrument
from fillforge.risk import RiskSnapshot, TradingState
from fillforge.time import SimulatedClock

D = Decimal


def parent(pid: str, state: ParentState) -> ParentSnapshot:
    spec = ParentOrder(
        parent_id=pid, symbol="AAA", side=OrderSide.BUY, qty=D(100), start_ns=1, end_ns=10**12
    )
    return ParentSnapshot(spec=spec, rules=WorkRules(), state=state, plan_ns=1, slices=4)


def exit_plan(symbol: str, phase: Phase) -> ExitSnapshot:
    return ExitSnapshot(
        symbol=symbol,
        plan=ExitPlan(stop=Distance.of_percent(2)),
        instrument=Instrument(symbol=symbol, tick_size=D("0.01")),
        side=1,
        mode=ExitMode.LOCAL,
        phase=phase,
        entered=10,
    )


def test_the_last_snapshot_of_each_component_comes_back_typed(tmp_path: Path) -> None:
    path = tmp_path / "state.journal"
    with Journal.open(path, clock=SimulatedClock(5)) as j:
        w = StateWriter(j)
        w.parent("P1", "started", parent("P1", ParentState.WORKING))
        w.parent("P2", "started", parent("P2", ParentState.WORKING))
        w.parent("P1", "paused", parent("P1", ParentState.PAUSED))
        w.parent("P2", "completed", parent("P2", ParentState.COMPLETED))
        w.exit("AAA", exit_plan("AAA", Phase.ACTIVE))
        w.exit("BBB", exit_plan("BBB", Phase.ACTIVE))
        w.exit("BBB", exit_plan("BBB", Phase.DONE))
        risk = RiskSnapshot(
            state=TradingState.HALTED, start_equity=D("1000.50"), peak_equity=D(1200), roll_at=9
        )
        w.risk("state", risk)
        j.append("order.submit", {"cid": "x"})  # another owner's record: not read here
    with Journal.open(path, clock=SimulatedClock(6)) as j:
        saved = load_state(j)
    assert saved.records == 8
    parents = saved.parent_snapshots(ParentSnapshot)
    assert [(p.spec.parent_id, p.state) for p in parents] == [
        ("P1", ParentState.PAUSED),
        ("P2", ParentState.COMPLETED),
    ]
    assert [e.symbol for e in saved.exit_snapshots(ExitSnapshot)] == ["AAA"]
    assert saved.risk_snapshot(RiskSnapshot) == risk
    assert saved.portfolio_snapshot(RiskSnapshot) is None


def test_a_changed_configuration_is_reported_by_its_keys(tmp_path: Path) -> None:
    path = tmp_path / "config.journal"
    first = {"execution": {"mode": "paper", "max_order_size": "1000"}, "broker": {"key": "***"}}
    with Journal.open(path, clock=SimulatedClock(6)) as j:
        check = StateWriter(j).config(first, load_state(j))
    assert check.first
    assert not check.changed
    with Journal.open(path, clock=SimulatedClock(6)) as j:
        check = StateWriter(j).config(first, load_state(j))
    assert (check.first, check.changed) == (False, False)
    second = {"execution": {"mode": "paper", "max_order_size": "5000"}, "broker": {"key": "***"}}
    with Journal.open(path, clock=SimulatedClock(6)) as j:
        check = StateWriter(j).config(second, load_state(j))
    assert check.changed
    assert check.differences == ("execution.max_order_size",)
    assert "5000" not in repr(check)


def test_refusals_name_what_is_wrong(tmp_path: Path) -> None:
    with Journal.open(tmp_path / "bad.journal", clock=SimulatedClock(1)) as j:
        w = StateWriter(j)
        with pytest.raises(JournalError) as e:
            w.parent("P1", "exploded", parent("P1", ParentState.WORKING))
        assert e.value.field == "change"
        with pytest.raises(JournalError) as e:
            w.risk("state", {"state": "halted"})  # type: ignore[arg-type]
        assert e.value.field == "snapshot"
        j.append("parent.started", {"parent_id": "P9", "snapshot": {"spec": "garbage"}})
        with pytest.raises(JournalError) as e:
            load_state(j).parent_snapshots(ParentSnapshot)
        assert e.value.field == "parent P9"
