"""TCA of a real journal (issue 19): a TWAP parent worked by a ``ParentWorker`` through a
``JournalledBroker`` over a ``SimulatedBroker`` replaying the shipped LOBSTER day (GOOG,
2012-06-21), its lifecycle journalled by a ``StateWriter`` as the engine does, the market the
broker published recorded; the same records again in PostgreSQL give the same TCA."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from postgres_server import fresh_journal_url, postgres_server  # noqa: F401

from fillforge.analytics import MarketData, MarketRecorder, TcaResult, tca
from fillforge.demos.policies import Day
from fillforge.execution.parent import ParentOrder
from fillforge.execution.worker import ParentWorker
from fillforge.journal import Journal
from fillforge.journal.broker import JournalledBroker
from fillforge.journal.rebuild import rebuild
from fillforge.journal.state import StateWriter
from fillforge.orders.enums import OrderSide

D = Decimal
NY = ZoneInfo("America/New_York")


def work_a_parent(target: str | Path) -> MarketData:
    """Buy 3,000 GOOG by TWAP in 10 slices over 10:00-10:10 (New York) into ``target``."""
    day = Day()
    sim = day.broker()
    start, end = day.ns(dt.time(10, 0)), day.ns(dt.time(10, 10))
    sim.run(until_ns=start)
    recorder = MarketRecorder(sim, ["GOOG"])
    journal = Journal.open(target, clock=sim)
    broker = JournalledBroker(sim, journal)
    writer = StateWriter(journal)
    spec = ParentOrder(
        parent_id="p1",
        symbol="GOOG",
        side=OrderSide.BUY,
        qty=D(3000),
        start_ns=start,
        end_ns=end,
        decision_ns=start,
    )
    worker = ParentWorker(broker, spec, day.instrument, slices=10)
    worker.observe(lambda change, snap: writer.parent("p1", change, snap))
    worker.start()
    while not worker.parent.state.is_done and sim.run(max_messages=2_000):
        pass
    sim.run(until_ns=sim.now() + 61 * 1_000_000_000)  # the last fills' 60 s markouts
    worker.close()
    recorder.close()
    broker.detach()
    journal.close()
    return recorder.market()


@pytest.fixture(scope="module")
def worked(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, MarketData, TcaResult]:
    path = tmp_path_factory.mktemp("tca") / "goog.journal"
    market = work_a_parent(path)
    return path, market, tca(path, market)


def test_the_fills_are_the_journals(worked: tuple[Path, MarketData, TcaResult]) -> None:
    path, _, r = worked
    with Journal.open(path, readonly=True) as j:
        book = rebuild(j)
    assert len(r.fills["qty"]) == len(book.fills) > 0
    assert r.fills["qty"].sum() == pytest.approx(float(book.position("GOOG")))
    assert sorted(r.fills["exec_id"].tolist()) == sorted(book.fills)
    assert set(r.orders["parent_id"].tolist()) == {"p1"}
    assert (r.fills["side"] == 1).all()
    assert (r.fills["policy"] == "twap").all()


def test_the_parents_shortfall_is_execution_costs(
    worked: tuple[Path, MarketData, TcaResult],
) -> None:
    _, _, r = worked
    p = {k: v[0] for k, v in r.parents.items()}
    assert p["kind"] == "parent"
    assert p["filled_qty"] == 3000
    exact = r.parent_cost("p1")
    assert exact is not None
    assert exact.filled_qty == D(3000)
    for figure in ("is_bps", "delay_bps", "trading_bps", "opportunity_bps", "fees_bps"):
        assert float(getattr(exact, figure)) == pytest.approx(p[figure], abs=1e-6), figure
    assert float(exact.is_cost) == pytest.approx(p["is_cost"], abs=1e-6)
    assert exact.vwap_bps is not None
    assert float(exact.vwap_bps) == pytest.approx(p["vwap_bps"], abs=1e-6)
    assert float(exact.interval_vwap or 0) == pytest.approx(p["interval_vwap"])
    # The decision's mid is the journal's (the worker's arrival), and the market agrees.
    assert p["arrival_price"] == pytest.approx(float(exact.arrival_price))
    assert np.isfinite(p["interval_twap"])


def test_markouts_spread_and_latency(worked: tuple[Path, MarketData, TcaResult]) -> None:
    _, market, r = worked
    f = r.fills
    assert np.isfinite(f["spread_bps"]).all()
    for h in r.horizons_s:
        assert np.isfinite(r.markouts[h]).all(), h  # the data runs 61 s past the last fill
    # A markout by hand: the mid h seconds later from the recorded quotes.
    sm = market.symbol("GOOG")
    i = len(f["qty"]) // 2
    later = sm.mid_at(np.array([f["time_ns"][i] + 5_000_000_000]))[0]
    assert f["markout_5s_bps"][i] == pytest.approx((f["price"][i] - later) / later * 1e4)
    children = len(r.orders["side"])
    assert len(r.latency["send_to_ack"]) == children
    assert len(r.latency["decision_to_send"]) == 1
    assert (r.latency["send_to_first_fill"] >= 0).all()
    assert list(r.group_by("hour", NY)) == ["10:00"]
    assert r.group_by("venue")["default"]["fills"] == len(f["qty"])


def test_the_same_journal_in_postgres_gives_the_same_tca(
    worked: tuple[Path, MarketData, TcaResult],
    postgres_server: str,  # noqa: F811
) -> None:
    path, market, r = worked
    url = fresh_journal_url(postgres_server)
    with Journal.open(path, readonly=True) as src:
        records = list(src.records())
    pg = Journal.open(url)
    try:
        for rec in records:  # the same records, in order (times are the new journal's)
            pg.append(rec.kind, rec.payload)
        pg.sync()
    finally:
        pg.close()
    again = tca(url, market)
    assert again.fills["exec_id"].tolist() == r.fills["exec_id"].tolist()
    assert again.parents["is_bps"][0] == pytest.approx(r.parents["is_bps"][0])
    assert again.total()["fills"] == r.total()["fills"]
