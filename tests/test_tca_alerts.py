"""The monitor's alert rules over a journal's TCA (issue 19): each default rule made to fire by
what a real journal holds (slippage above 15 bps, rejection rate above 5%, fill rate below 70%),
and cleared once the window holds nothing; the window figures by hand."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from test_tca_support import T0, Desk, S
from typer.testing import CliRunner

from fillforge.analytics import tca
from fillforge.cli import app
from fillforge.errors import ConfigError, InsufficientBuyingPowerError
from fillforge.monitor.alerts import AlertsConfig, alerts_config
from fillforge.monitor.tca import journal_alerts, tca_windows

D = Decimal
HOUR = 3600 * S


def test_slippage_above_15_bps_raises_then_clears(tmp_path: Path) -> None:
    desk = Desk(tmp_path / "j")
    desk.quote("99.80", "100.20")  # mid 100.00, the ask 20 bp above it
    for i in range(12):
        desk.order("buy", 10)
        desk.at(10 * (i + 1))
    desk.at(7200)
    desk.quote("99.99", "100.01")  # two hours on, one order paying 1 bp
    desk.order("buy", 10)
    desk.at(7201)
    r = tca(tmp_path / "j", desk.close())
    window = tca_windows(r, T0 + 120 * S)(HOUR)
    assert window.orders == 12
    assert window.fills == 12
    assert window.slippage_bps == pytest.approx(D(20))
    assert window.fill_rate == 1
    changes = journal_alerts(r)
    slippage = [(a.state, a.ts) for a in changes if a.name == "slippage"]
    assert slippage[0][0] == "raised"
    assert slippage[0][1] <= T0 + 120 * S  # raised once 10 fills were in
    assert slippage[-1][0] == "cleared"  # the hour after them held none of those fills
    assert len(slippage) == 2
    assert not [a for a in changes if a.name in ("rejection_rate", "fill_rate")]


def test_rejects_and_a_low_fill_rate_raise(tmp_path: Path) -> None:
    desk = Desk(tmp_path / "j")
    desk.quote("99.99", "100.01")
    resting = [desk.order("buy", 10, limit="99.00") for _ in range(10)]
    for _ in range(2):
        with pytest.raises(InsufficientBuyingPowerError):
            desk.order("buy", 10_000_000)
    desk.at(60)
    for o in resting:
        desk.broker.cancel(o.id)
    desk.at(120)
    r = tca(tmp_path / "j", desk.close())
    window = tca_windows(r, T0 + 120 * S)(HOUR)
    assert window.orders == 12
    assert window.rejects == 2
    assert window.reject_rate == pytest.approx(D(2) / 12)
    assert window.cancels == 10
    assert window.fill_rate == 0
    names = {a.name for a in journal_alerts(r) if a.state == "raised"}
    assert names == {"rejection_rate", "fill_rate"}
    # A user's thresholds: a fill rate alert below 0 % never fires.
    quiet = alerts_config({"rules": {"fill_rate": {"below": 0, "clear": 0}}})
    assert "fill_rate" not in {a.name for a in journal_alerts(r, quiet)}
    with pytest.raises(ConfigError, match="step_s"):
        journal_alerts(r, AlertsConfig(), step_s=0)


def test_the_cli_lists_the_alerts(tmp_path: Path) -> None:
    """No market data: the children of a journalled parent still have an arrival price (the
    parent's decision price), so their slippage is known."""
    desk = Desk(tmp_path / "j")
    desk.quote("99.80", "100.20")
    desk.parent("p1", "buy", 120, decision_price="100.00")
    for i in range(12):
        desk.order("buy", 10, cid=f"p1-c{i + 1}")
        desk.at(10 * (i + 1))
    desk.close()
    out = CliRunner().invoke(app, ["tca", str(tmp_path / "j"), "--alerts"])
    assert out.exit_code == 0, out.output
    assert "raised: slippage: slippage_bps 20.00" in out.output
    doc = json.loads(
        CliRunner().invoke(app, ["tca", str(tmp_path / "j"), "--json", "--alerts"]).output
    )
    assert [a["name"] for a in doc["alerts"]] == ["slippage"]
