"""``fillforge serve monitor``: a real process following the in-process Alpaca paper server
through alpaca-py (keys from the environment), its page state and metrics showing the orders
placed after it started; a bad flag or alerts file is one ``error:`` line and exit 2."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from alpaca.trading.requests import LimitOrderRequest, MarketOrderRequest
from child_env import child_env
from polling import wait_for
from served_helpers import quote, trading_client
from typer.testing import CliRunner

from fillforge.alpaca import AlpacaServer
from fillforge.cli import app

ROOT = Path(__file__).resolve().parents[1]


def get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as r:
        return str(r.read().decode())


def test_serve_monitor_follows_a_paper_server(alpaca_server: AlpacaServer, tmp_path: Path) -> None:
    quote(alpaca_server, "100.00", "100.02", size=100_000)
    env = child_env(
        APCA_API_KEY_ID=alpaca_server.key_id, APCA_API_SECRET_KEY=alpaca_server.secret_key
    )
    cmd = [sys.executable, "-m", "fillforge", "serve", "monitor", "--url", alpaca_server.base_url]
    log = tmp_path / "stderr.txt"
    with (
        log.open("w") as err,
        subprocess.Popen(
            [*cmd, "--interval", "0.2", "--duration", "60"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
        ) as proc,
    ):
        try:
            check_the_monitor(alpaca_server, proc)
        finally:
            proc.terminate()
            proc.wait(timeout=20)
    assert "Traceback" not in log.read_text()


def check_the_monitor(server: AlpacaServer, proc: subprocess.Popen[str]) -> None:
    assert proc.stdout is not None
    page = proc.stdout.readline().strip()
    metrics = proc.stdout.readline().strip()
    assert page.startswith("http://127.0.0.1:")
    assert page.endswith("/monitor")
    assert metrics.endswith("/metrics")
    assert "fillforge monitor" in get(page)
    client = trading_client(server)
    resting = client.submit_order(
        LimitOrderRequest(symbol="AAPL", qty=5, side="buy", time_in_force="gtc", limit_price=90)
    )
    client.submit_order(MarketOrderRequest(symbol="AAPL", qty=7, side="buy", time_in_force="day"))
    state_url = page + "/state"

    def shows() -> bool:
        s: dict[str, Any] = json.loads(get(state_url))
        ids = [o["client_order_id"] for o in s["open_orders"]]
        return s["totals"]["fills"] == 1 and resting.client_order_id in ids

    wait_for(shows, timeout=20)
    s = json.loads(get(state_url))
    assert s["positions"][0]["symbol"] == "AAPL"
    assert s["positions"][0]["qty"] == "7"
    assert s["metrics"]["orders"] == 2
    text = get(metrics)
    assert 'fillforge_orders_total{side="buy",status="new",symbol="AAPL"} 2.0' in text
    assert 'fillforge_position_quantity{symbol="AAPL"} 7.0' in text


BAD = [
    ([], "give the account's --url, or an agent --config"),
    (["--url", "ftp://x"], "--url='ftp://x': expected http://HOST:PORT"),
    (["--url", "http://127.0.0.1:9", "--interval", "0"], "--interval=0.0: expected a positive"),
    (["--url", "http://127.0.0.1:9", "--port", "70000"], "--port=70000: must be in [0, 65535]"),
    (["--url", "http://127.0.0.1:9"], "--url='http://127.0.0.1:9': cannot reach the account"),
    (["--url", "http://127.0.0.1:9", "--alerts", "{missing}"], "--alerts="),
    (["--config", "{simulation}"], "execution.mode='simulation': a simulation has no account"),
    (["--config", "{simulation}", "--url", "http://x"], "give the account's --url, or an agent"),
    (
        ["--url", "http://127.0.0.1:9", "--alerts", "{bad_rule}"],
        "monitor.rules.fill_rate.below='lots'",
    ),
]


@pytest.mark.parametrize(("args", "says"), BAD, ids=[" ".join(a) or "none" for a, _ in BAD])
def test_a_bad_flag_is_one_line(tmp_path: Path, args: list[str], says: str) -> None:
    bad_rule = tmp_path / "alerts.yaml"
    bad_rule.write_text("monitor:\n  rules:\n    fill_rate:\n      below: lots\n")
    simulation = tmp_path / "agent.yaml"
    simulation.write_text("execution:\n  mode: simulation\n")
    files = {
        "missing": str(tmp_path / "nope.yaml"),
        "bad_rule": str(bad_rule),
        "simulation": str(simulation),
    }
    argv = ["serve", "monitor", "--duration", "0", *(a.format(**files) for a in args)]
    env = {"APCA_API_KEY_ID": "cli-key", "APCA_API_SECRET_KEY": "cli-secret"}
    result = CliRunner().invoke(app, argv, env=env)
    out = result.output.strip()
    assert result.exit_code == 2, out
    assert out.startswith("error: "), out
    assert "\n" not in out, out
    assert says in out


def test_without_alpaca_py_the_command_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [
        m for m in sys.modules if m.split(".")[0] == "alpaca" or m == "fillforge.alpaca.broker"
    ]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "alpaca", None)  # import alpaca...: ImportError
    argv = ["serve", "monitor", "--duration", "0", "--url", "http://127.0.0.1:9"]
    result = CliRunner().invoke(app, argv)
    out = result.output.strip()
    assert result.exit_code == 2, out
    assert out == "error: client='alpaca-py': not installed: pip install 'fillforge[alpaca]'"
