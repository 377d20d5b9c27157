"""``fillforge tca JOURNAL``: the report of a real journal (its sign convention and baselines,
the JSON form), and bad input as one ``error:`` line with exit code 2, in-process and as a real
``python -m fillforge`` process."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from child_env import child_env
from test_tca_support import Desk
from typer.testing import CliRunner

from fillforge.cli import app
from fillforge.marketdata import load_tardis_quotes

D = Decimal
DATA = Path(__file__).resolve().parents[1] / "python" / "fillforge" / "data" / "binance"


@pytest.fixture
def journal(tmp_path: Path) -> Path:
    path = tmp_path / "orders.journal"
    desk = Desk(path)
    desk.quote("99.99", "100.01")
    desk.parent("p1", "buy", 20, decision_price="99.95", first_child_mid="100.00", first_child_s=0)
    desk.order("buy", 10, cid="p1-c1")
    desk.order("sell", 5)
    desk.at(2)
    desk.parent(
        "p1",
        "buy",
        20,
        change="completed",
        decision_price="99.95",
        first_child_mid="100.00",
        first_child_s=0,
        ended_s=2,
    )
    desk.close()
    return path


def test_the_report_says_what_its_numbers_mean(journal: Path) -> None:
    out = CliRunner().invoke(app, ["tca", str(journal)])
    assert out.exit_code == 0, out.output
    text = out.output
    assert "positive = cost" in text
    assert "paper notional" in text  # each cost's baseline
    assert "against the mid when its order was sent" in text
    assert "journalled parents" in text
    assert "n/a" in text  # no market data: said, with the reason
    assert "no market data was passed" in text


def test_json_and_grouping(journal: Path) -> None:
    out = CliRunner().invoke(app, ["tca", str(journal), "--json", "--by", "policy"])
    assert out.exit_code == 0, out.output
    doc = json.loads(out.output)
    assert doc["convention"].startswith("positive = cost")
    assert set(doc["groups"]) == {"twap", "none"}
    assert doc["total"]["orders"] == 2
    # p1: 20 decided at 99.95, P_0 100.00, 10 filled at 100.01, the rest marked at... no
    # market: the opportunity is unknown, and the parent's exact cost is not made up.
    assert doc["parents"] == [{"parent_id": "p1", "why": "a benchmark is unknown (see reasons)"}]
    assert doc["groups"]["twap"]["is_cost"] is None  # unknown, not 0
    assert doc["total"]["is_cost"] is None
    assert "opportunity_cost" in doc["reasons"]
    hours = CliRunner().invoke(app, ["tca", str(journal), "--json", "--by", "hour", "--tz", "UTC"])
    assert list(json.loads(hours.output)["groups"]) == ["22:00"]


def test_market_data_files_fill_the_market_figures(tmp_path: Path) -> None:
    """An order sent inside the Tardis BTCUSDT sample's day, analysed with the sample's quotes
    and trades files: its arrival is the files' mid at the send, by hand."""
    quotes_file = DATA / "tardis_binance-futures_BTCUSDT_quotes_2020-02-22.csv.gz"
    trades_file = DATA / "tardis_binance-futures_BTCUSDT_trades_2020-02-22.csv.gz"
    q = load_tardis_quotes(quotes_file, tick=D("0.01"), lot=D("0.001"))
    i = len(q) // 2
    at = int(q.time_ns[i]) + 1  # just after quote i (no other quote at that time)
    assert q.time_ns[i + 1] > at
    mid = (int(q.bid_price[i]) + int(q.ask_price[i])) / 200
    path = tmp_path / "btc.journal"
    desk = Desk(path, start_ns=at)
    desk.quote("9000.00", "9000.02")  # the desk's own venue: the fill is at 9000.02
    desk.order("buy", 1)
    desk.at(1)
    desk.close()
    argv = ["tca", str(path), "--json", "--data", str(quotes_file), "--data", str(trades_file)]
    out = CliRunner().invoke(app, [*argv, "--symbol", "TEST", "--tick", "0.01", "--lot", "0.001"])
    assert out.exit_code == 0, out.output
    doc = json.loads(out.output)
    assert "mid" not in doc["reasons"]  # the market was given
    assert doc["total"]["arrival_bps"] == pytest.approx((9000.02 - mid) / mid * 1e4)
    assert doc["total"]["markout_1s_bps"] is not None


CASES = [
    (["tca", "{tmp}/missing.journal"], "path='{tmp}/missing.journal': no such file"),
    (["tca", "{tmp}/text.txt"], "not a fillforge journal"),
    (["tca", "{journal}", "--by", "weekday"], "--by='weekday'"),
    (["tca", "{journal}", "--tz", "Mars/Olympus"], "--tz='Mars/Olympus'"),
    (["tca", "{journal}", "--tick", "0"], "--tick='0'"),
    (["tca", "{journal}", "--data", "{tmp}/none.csv"], "none.csv"),
    (["tca", "{journal}", "--data", "{tmp}/text.txt"], "text.txt"),
]


@pytest.mark.parametrize(("args", "says"), CASES)
def test_bad_input_is_one_line(journal: Path, args: list[str], says: str) -> None:
    tmp = journal.parent
    (tmp / "text.txt").write_text("not a journal\n")
    argv = [a.format(tmp=tmp, journal=journal) for a in args]
    out = CliRunner().invoke(app, argv)
    assert out.exit_code == 2, out.output
    lines = [line for line in out.output.splitlines() if line.strip()]
    assert len(lines) == 1, out.output
    assert lines[0].startswith("error:")
    assert says.format(tmp=tmp) in lines[0]
    assert "Traceback" not in out.output


def test_a_real_process_says_one_line_too(tmp_path: Path) -> None:
    (tmp_path / "text.txt").write_text("not a journal\n")
    for target, says in (("missing.journal", "no such file"), ("text.txt", "not a fillforge")):
        done = subprocess.run(
            [sys.executable, "-m", "fillforge", "tca", str(tmp_path / target)],
            capture_output=True,
            text=True,
            env=child_env(),
            timeout=120,
        )
        assert done.returncode == 2
        assert done.stdout == ""
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1, done.stderr
        assert lines[0].startswith("error:")
        assert says in lines[0]
