"""Export to JSON lines and the journal CLI (issue 18): a real JournalledBroker trading on a
SimulatedBroker writes the journal; ``export`` (and ``fillforge journal export``) turns it into
``order_book.jsonl`` (one line per order, its latest state) and ``trade_log.jsonl`` (one line
per fill) that agree with the venue; records of kinds the exporter does not know are skipped;
``inspect`` summarises; a bad path is one line, never a traceback."""

from __future__ import annotations

import json
import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from order_helpers import gtc_limit
from polling import wait_for
from typer.testing import CliRunner

from fillforge.cli import app
from fillforge.journal import Journal, JournalError, export
from fillforge.journal.broker import JournalledBroker
from fillforge.orders.models import Instrument
from fillforge.sim.broker import SimulatedBroker
from fillforge.sim.feeds import empty_feed
from fillforge.sim.venue import Venue

D = Decimal


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture
def traded(tmp_path: Path) -> tuple[Path, SimulatedBroker]:
    """A journal of four intents: one filled at once, one partly filled and resting, one
    resting and cancelled, one resting and replaced (five venue orders); with records of kinds
    the exporter does not know in between."""
    v = Venue("TESTX", calendar=None)
    v.add(Instrument(symbol="TEST"), empty_feed())
    broker = SimulatedBroker(v, cash=D(1_000_000))
    broker.quote("TEST", D("99.99"), D("100.01"), bid_size=D(20), ask_size=D(20))
    path = tmp_path / "agent.journal"
    journal = Journal.open(path)
    jb = JournalledBroker(broker, journal)
    a = jb.submit(gtc_limit("TEST", "buy", 10, "100.01"))
    journal.append("risk.state", {"halted": False})  # not the exporter's
    b = jb.submit(gtc_limit("TEST", "buy", 30, "100.01"))
    c = jb.submit(gtc_limit("TEST", "sell", 5, "101.00"))
    jb.cancel(c.id)
    d = jb.submit(gtc_limit("TEST", "sell", 7, "102.00"))
    jb.replace(d.id, limit_price=D("102.50"))  # the original and its replacement: two orders
    journal.append("strategy.note", {"text": "a kind nobody registered"})

    def settled() -> bool:
        orders = {o.id: o for o in broker.orders()}
        return (
            orders[a.id].cum_qty == 10
            and orders[b.id].cum_qty > 0
            and orders[c.id].status.value == "canceled"
            and orders[d.id].status.value == "replaced"
        )

    wait_for(settled)
    jb.detach()
    journal.close()
    return path, broker


def test_export_writes_one_line_per_order_and_per_fill(
    traded: tuple[Path, SimulatedBroker], tmp_path: Path
) -> None:
    path, broker = traded
    out = tmp_path / "out"
    done = export(path, out)
    orders = _lines(out / "order_book.jsonl")
    trades = _lines(out / "trade_log.jsonl")
    assert (done.orders, done.trades) == (len(orders), len(trades))
    assert done.order_book == out / "order_book.jsonl"

    venue = {o.id: o for o in broker.orders()}
    assert len(orders) == len(venue) == 5  # the replaced order and its replacement both
    for line in orders:
        o = venue[line["order_id"]]
        assert line["client_order_id"] == o.client_order_id
        assert line["status"] == o.status.value
        assert D(line["filled_qty"]) == o.cum_qty
        assert line["symbol"] == "TEST"
        if line["intent_seq"] is None:  # learned from the venue's events: the replacement
            assert line["order_id"] == next(x["replaced_by"] for x in orders if x["replaced_by"])
        else:
            assert line["intent_seq"] >= 1
            assert line["request"]["symbol"] == "TEST"
    assert sorted(x["side"] for x in orders) == ["buy", "buy", "sell", "sell", "sell"]
    replaced = [x for x in orders if x["status"] == "replaced"]
    assert len(replaced) == 1
    assert replaced[0]["replaced_by"] in venue

    # every fill once, with its execution id, and the fills add up to each order's filled qty
    assert len({t["exec_id"] for t in trades}) == len(trades)
    for oid, o in venue.items():
        mine = [t for t in trades if t["order_id"] == oid]
        assert sum((D(t["qty"]) for t in mine), D(0)) == o.cum_qty
        assert all(t["client_order_id"] == o.client_order_id for t in mine)
        assert all(D(t["price"]) == D("100.01") for t in mine)
    assert all(t["time"].endswith("Z") and isinstance(t["ts_ns"], int) for t in trades)


def test_export_of_a_journal_with_no_orders_writes_empty_files(tmp_path: Path) -> None:
    path = tmp_path / "j"
    with Journal.open(path) as j:
        j.append("risk.state", {"x": 1})
        done = export(j, tmp_path / "out")  # an open journal exports too
    assert (done.orders, done.trades) == (0, 0)
    assert (tmp_path / "out" / "order_book.jsonl").read_text() == ""


def test_export_refuses_an_output_that_is_a_file(
    traded: tuple[Path, SimulatedBroker], tmp_path: Path
) -> None:
    path, _ = traded
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(JournalError) as err:
        export(path, blocker)
    assert err.value.field == "out_dir"


def test_cli_export_and_inspect(traded: tuple[Path, SimulatedBroker], tmp_path: Path) -> None:
    path, _ = traded
    runner = CliRunner()
    out = tmp_path / "cli-out"
    r = runner.invoke(app, ["journal", "export", str(path), "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert "5 orders" in r.output
    assert len(_lines(out / "order_book.jsonl")) == 5

    r = runner.invoke(app, ["journal", "inspect", str(path), "--json", "-n", "2"])
    assert r.exit_code == 0, r.output
    summary = json.loads(r.output)
    assert summary["kinds"]["order.submit"] == 4
    assert summary["kinds"]["strategy.note"] == 1
    assert summary["records"] == sum(summary["kinds"].values())
    assert summary["first"]["seq"] == 1
    assert summary["last"]["seq"] == summary["records"]
    assert [x["seq"] for x in summary["tail"]] == [summary["records"] - 1, summary["records"]]
    assert summary["recovery"]["ok"] is True

    r = runner.invoke(app, ["journal", "inspect", str(path)])
    assert r.exit_code == 0, r.output
    assert "order.submit" in r.output
    assert "intact" in r.output


@pytest.mark.parametrize("command", ["inspect", "export", "verify"])
def test_cli_bad_path_is_one_line(tmp_path: Path, command: str) -> None:
    args = ["journal", command, str(tmp_path / "missing.journal")]
    if command == "export":
        args += ["-o", str(tmp_path / "out")]
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 2
    assert "Traceback" not in r.output
    lines = [x for x in r.output.splitlines() if x.strip()]
    assert len(lines) == 1
    assert lines[0].startswith("error:")
    assert "missing.journal" in lines[0]


def test_cli_export_of_a_damaged_journal_says_so_and_exits_1(
    traded: tuple[Path, SimulatedBroker], tmp_path: Path
) -> None:
    path, _ = traded
    with Journal.open(path, readonly=True) as j:
        fourth_submit = [r.seq for r in j.records(kinds=("order.submit",))][3]
    with sqlite3.connect(path) as db:
        db.execute("DELETE FROM journal WHERE seq = ?", (fourth_submit,))
    db.close()
    out = tmp_path / "out"
    r = CliRunner().invoke(app, ["journal", "export", str(path), "-o", str(out)])
    assert r.exit_code == 1
    assert f"damaged: seq {fourth_submit} missing" in r.output
    assert f"exported the good records only (seq 1..{fourth_submit - 1})" in r.output
    assert len(_lines(out / "order_book.jsonl")) == 3  # the orders before the damage
    done = export(path, tmp_path / "api")
    assert not done.recovery.ok
    assert done.recovery.kept == fourth_submit - 1
