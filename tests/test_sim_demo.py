"""The demo strategy on the shipped LOBSTER day: its report is consistent with its own fills and
with the data, and two runs give byte-identical event logs."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from fillforge.demos.passive_buy import PassiveBuyReport, run_passive_buy
from fillforge.replay import lobster_sample
from fillforge.sim.feeds import FeedKind, lobster_feed

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def report() -> PassiveBuyReport:
    return run_passive_buy(qty=5_000, reprice_every=100)


def test_the_report_adds_up(report: PassiveBuyReport) -> None:
    assert report.filled == sum(f.qty for f in report.fills)
    assert report.filled <= report.target
    assert report.fill_rate == report.filled / report.target
    assert report.avg_price is not None
    vwap = sum(f.price * f.qty for f in report.fills) / report.filled
    assert abs(report.avg_price - vwap) < Decimal("0.0001")
    assert report.replaces > 0, "the bid moves within a few hundred events"


def test_fills_are_passive_and_at_prices_the_day_traded(report: PassiveBuyReport) -> None:
    _, kind, _, _, price, _ = lobster_feed(*lobster_sample()).columns()
    traded = (kind == FeedKind.EXECUTE) | (kind == FeedKind.HIDDEN)
    lo, hi = price[traded].min(), price[traded].max()
    for f in report.fills:
        assert f.liquidity.value == "maker"
        assert Decimal(int(lo)) / 100 <= f.price <= Decimal(int(hi)) / 100
        assert report.start_ns <= f.ts_event <= report.end_ns


def test_interval_vwap_is_the_recorded_executions_vwap(report: PassiveBuyReport) -> None:
    t, kind, _, _, price, qty = lobster_feed(*lobster_sample()).columns()
    m = (t >= report.start_ns) & (t <= report.end_ns)
    m &= np.isin(kind, [FeedKind.EXECUTE, FeedKind.HIDDEN])
    expected = Decimal(int((price[m] * qty[m]).sum())) / Decimal(int(qty[m].sum())) / 100
    assert report.interval_vwap is not None
    assert abs(report.interval_vwap - expected) < Decimal("0.0001")


def test_two_runs_give_byte_identical_event_logs(report: PassiveBuyReport) -> None:
    again = run_passive_buy(qty=5_000, reprice_every=100)
    assert "\n".join(again.events).encode() == "\n".join(report.events).encode()
    assert len(report.events) > 100
