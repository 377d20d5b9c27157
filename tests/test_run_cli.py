"""``fillforge run CONFIG`` as a user runs it: a real ``python -m fillforge`` process (its
environment from ``tests/child_env.py``) on a paper configuration, on the seed configurations
users keep, killed with SIGTERM and rerun on its journal, against a served local Alpaca paper
server (checked with alpaca-py), and given bad input."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest
from alpaca.trading.enums import QueryOrderStatus
from alpaca.trading.requests import GetOrdersRequest
from child_env import child_env
from served_helpers import trading_client

from fillforge.alpaca import AlpacaServer, scripted_broker
from fillforge.journal import Journal
from fillforge.testing import ALPACA_SERVER_START_NS

SEEDS = Path("/work/shared/reference/seed-configs")
KEYS = {"APCA_API_KEY_ID": "run-key", "APCA_API_SECRET_KEY": "run-secret"}
NO_KEYS = {"APCA_API_KEY_ID": "", "APCA_API_SECRET_KEY": ""}

PAPER = """\
execution:
  mode: paper
  commission_rate: 0.0005
  slippage_bps: 2
backtest:
  symbols: [SPY, AAPL]
strategy:
  name: sma_crossover
  params: {fast: 5, slow: 20}
"""

# A strategy that takes a while per bar, so that a signal lands mid-run.
SLOW = """\
import time
from fillforge.agent.backtest import SmaCrossover


class SlowSma(SmaCrossover):
    def on_bar(self, bar):
        time.sleep(0.01)
        super().on_bar(bar)
"""

BUY_ONCE = """\
from decimal import Decimal
from fillforge.orders.enums import OrderSide
from fillforge.orders.models import OrderRequest
from fillforge.strategy import Strategy


class BuyOnce(Strategy):
    def __init__(self, qty=1):
        self.qty = qty

    def on_start(self):
        for s in self.ctx.symbols:
            self.ctx.submit(OrderRequest(symbol=s, side=OrderSide.BUY, qty=Decimal(self.qty)))
"""


def fillforge(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fillforge", *args],
        cwd=cwd,
        env=env or child_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def one_error_line(p: subprocess.CompletedProcess[str]) -> str:
    assert p.returncode == 2, (p.stdout, p.stderr)
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1, p.stderr
    assert lines[0].startswith("error: "), p.stderr
    assert "Traceback" not in p.stderr + p.stdout
    return lines[0]


def test_a_paper_run_twice_gives_the_same_summary_bytes(tmp_path: Path) -> None:
    (tmp_path / "paper.yaml").write_text(PAPER)
    runs = []
    for name in ("a", "b"):
        p = fillforge("run", "paper.yaml", "--journal", f"{name}/run.journal", cwd=tmp_path)
        assert p.returncode == 0, p.stderr
        assert "Traceback" not in p.stderr
        runs.append(p.stdout)
    assert runs[0] == runs[1]
    text = runs[0]
    assert "mode paper on the simulated exchange" in text
    assert "strategy sma_crossover(fast=5, slow=20, fraction=0.5) on SPY, AAPL" in text
    sent = int(text.split("orders sent")[1].split()[0])
    assert sent > 10
    # what each number means: the sign conventions and a baseline beside each cost
    assert "P&L (positive = gain" in text
    assert "Costs (positive = paid; each against a baseline of 0)" in text
    assert "baseline: a venue that charges nothing" in text
    assert "baseline: every fill at the arrival price" in text
    assert "\x1b" not in text  # no colour or progress bar in a pipe
    # the journal holds every order the summary counts
    with Journal.open(tmp_path / "a" / "run.journal", readonly=True) as j:
        submits = sum(1 for _ in j.records(kinds=["order.submit"]))
    assert submits == sent


def test_json_is_one_object_without_progress(tmp_path: Path) -> None:
    (tmp_path / "paper.yaml").write_text(PAPER)
    p = fillforge("run", "paper.yaml", "--journal", "j.journal", "--json", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["mode"] == "paper"
    assert out["broker"] == "simulated exchange"
    assert Decimal(out["final_equity"]) - Decimal(out["starting_equity"]) == Decimal(out["pnl"])
    parts = Decimal(out["realized_pnl"]) + Decimal(out["unrealized_pnl"])
    assert parts - Decimal(out["fees_paid"]) == Decimal(out["pnl"])
    assert Decimal(out["fees"]) == Decimal(out["fees_paid"]) > 0
    assert out["orders_sent"] == out["orders_filled"] + out["open_orders_left"]
    assert p.stderr.strip().splitlines() == ["journal j.journal"]


@pytest.mark.parametrize(
    "seed", ["agent-execution.yaml", "engine-execution.yaml", "execution-policy.yaml"]
)
def test_the_seed_configurations_run(tmp_path: Path, seed: str) -> None:
    if not (SEEDS / seed).exists():
        pytest.skip("no seed configurations on this machine")
    p = fillforge(
        "run", str(SEEDS / seed), "--journal", "j.journal", "--until", "90d", "--json",
        cwd=tmp_path, env=child_env(**NO_KEYS),
    )  # fmt: skip
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["ended"] == "--until 90d"
    assert out["strategy"] == "sma_crossover"
    assert out["strategy_default"] is True


def test_sigterm_stops_cleanly_the_journal_verifies_and_a_rerun_recovers(
    tmp_path: Path,
) -> None:
    (tmp_path / "slow_sma.py").write_text(SLOW)
    (tmp_path / "slow.yaml").write_text(
        PAPER.replace("name: sma_crossover", "name: slow_sma:SlowSma")
    )
    env = child_env(PYTHONPATH=str(tmp_path))
    env["PYTHONPATH"] = os.pathsep.join([env["PYTHONPATH"], str(tmp_path)])
    journal = tmp_path / "slow.journal"
    child = subprocess.Popen(
        [sys.executable, "-m", "fillforge", "run", "slow.yaml", "--journal", str(journal)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # orders are in the journal: the run is under way
            if journal.exists():
                with Journal.open(journal, readonly=True) as j:
                    if sum(1 for _ in j.records(kinds=["order.submit"])) >= 2:
                        break
            time.sleep(0.2)
        else:
            pytest.fail("the run journalled no order in 60 s")
        child.send_signal(signal.SIGTERM)
        out, err = child.communicate(timeout=120)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == 143, err
    assert "Traceback" not in err
    assert "ended: stopped by SIGTERM" in out
    assert "orders sent" in out
    verify = fillforge("journal", "verify", str(journal), cwd=tmp_path)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    with Journal.open(journal, readonly=True) as j:
        before = sum(1 for _ in j.records(kinds=["order.submit"]))

    again = fillforge("run", "slow.yaml", "--journal", str(journal), "--until", "30d",
                      cwd=tmp_path, env=env)  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert "state records read" in again.stderr  # it started by recovering the journal
    assert "first start" not in again.stderr
    assert fillforge("journal", "verify", str(journal), cwd=tmp_path).returncode == 0
    with Journal.open(journal, readonly=True) as j:
        assert sum(1 for _ in j.records(kinds=["order.submit"])) >= before


def test_a_paper_run_on_a_served_alpaca_server(tmp_path: Path) -> None:
    (tmp_path / "buy_once.py").write_text(BUY_ONCE)
    (tmp_path / "served.yaml").write_text(
        "execution:\n  mode: paper\nbacktest:\n  symbols: [AAPL]\n"
        "strategy:\n  name: buy_once:BuyOnce\n  params: {qty: 3}\n"
    )
    broker = scripted_broker(("AAPL",), start_ns=ALPACA_SERVER_START_NS)
    broker.quote("AAPL", Decimal("100.00"), Decimal("100.02"), bid_size=Decimal(1000),
                 ask_size=Decimal(1000))  # fmt: skip
    with AlpacaServer(broker, key_id="run-key", secret_key="run-secret") as server:
        env = child_env(**KEYS)
        env["PYTHONPATH"] = os.pathsep.join([env["PYTHONPATH"], str(tmp_path)])
        p = fillforge(
            "run", "served.yaml", "--url", server.base_url, "--until", "6s",
            "--journal", "served.journal", "--json", cwd=tmp_path, env=env,
        )  # fmt: skip
        assert p.returncode == 0, p.stderr
        out = json.loads(p.stdout)
        assert out["broker"] == server.base_url
        assert out["orders_sent"] == 1
        assert out["fills"] >= 1
        assert out["shares_bought"] == "3"
        assert "run-secret" not in p.stdout + p.stderr  # keys never printed
        every = GetOrdersRequest(status=QueryOrderStatus.ALL)
        orders = trading_client(server).get_orders(filter=every)
        mine = [o for o in orders if o.symbol == "AAPL"]  # type: ignore[union-attr]
        assert len(mine) == 1
        assert str(mine[0].filled_qty) == "3"
        positions = trading_client(server).get_all_positions()
        assert [(x.symbol, x.qty) for x in positions] == [("AAPL", "3")]  # type: ignore[union-attr]
    with Journal.open(tmp_path / "served.journal", readonly=True) as j:
        assert sum(1 for _ in j.records(kinds=["order.submit"])) == 1


@pytest.mark.parametrize(
    ("setup", "args", "says"),
    [
        (None, ["run", "none.yaml"], "file="),
        ("execution:\n  mode: backtest\n", ["run", "c.yaml"], "execution.mode"),
        ("execution:\n  mode: paper\n", ["run", "c.yaml", "--until", "soon"], "--until='soon'"),
        ("execution:\n  mode: paper\n", ["run", "c.yaml", "--url", "ftp://x"], "--url='ftp://x'"),
        (
            'execution:\n  mode: live\nbroker:\n  type: alpaca\n  api_key: "your_api_key"\n'
            '  secret_key: "your_secret_key"\n',
            ["run", "c.yaml"],
            "broker.api_key='<placeholder>': a placeholder, not a key: set APCA_API_KEY_ID",
        ),
        ("execution:\n  mode: live\n", ["run", "c.yaml"], "not set: set APCA_API_KEY_ID"),
        (
            'execution:\n  mode: paper\nbroker:\n  type: "ibkr"\n  port: 7497\n',
            ["run", "c.yaml", "--url", "http://127.0.0.1:1"],
            "--url='http://127.0.0.1:1': is an Alpaca paper server's",
        ),
        (
            'broker:\n  type: "polygon"\n',
            ["run", "c.yaml"],
            "broker.type='polygon'",
        ),
        (
            "execution:\n  enabled: false\n  mode: paper\n",
            ["run", "c.yaml"],
            "execution.enabled=False: the file turns execution off",
        ),
        (
            "execution:\n  mode: paper\nbacktest:\n  symbols: [TSLA]\n",
            ["run", "c.yaml"],
            "backtest.symbols='TSLA'",
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    tmp_path: Path, setup: str | None, args: list[str], says: str
) -> None:
    if setup is not None:
        (tmp_path / "c.yaml").write_text(setup)
    p = fillforge(*args, "--journal", "j.journal", cwd=tmp_path, env=child_env(**NO_KEYS))
    assert says in one_error_line(p)
    assert not (tmp_path / "j.journal").exists()  # refused before anything started


def test_the_ibkr_seed_configuration_runs_on_the_simulated_exchange(tmp_path: Path) -> None:
    """The seed's mode is simulation: its gateway block is not used (config check says so)."""
    if not (SEEDS / "broker-ibkr.yaml").exists():
        pytest.skip("no seed configurations on this machine")
    p = fillforge(
        "run", str(SEEDS / "broker-ibkr.yaml"), "--journal", "j.journal", "--until", "30d",
        "--json", cwd=tmp_path, env=child_env(**NO_KEYS),
    )  # fmt: skip
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["broker"] == "simulated exchange"


def test_a_paper_run_on_an_ib_gateway(tmp_path: Path) -> None:
    """Mode paper on a type: ibkr block: the strategy's order goes through unmodified ib_async
    to the local IB gateway over a real socket; no Alpaca keys needed."""
    pytest.importorskip("ib_async")
    from fillforge.ibkr import IbGateway
    from fillforge.ibkr import scripted_broker as ib_market
    from fillforge.time import WallClock

    (tmp_path / "buy_once.py").write_text(BUY_ONCE)
    market = ib_market(["AAPL"], start_ns=WallClock().now_ns())
    market.quote("AAPL", Decimal("100.00"), Decimal("100.02"), bid_size=Decimal(1000),
                 ask_size=Decimal(1000))  # fmt: skip
    with IbGateway(market) as gateway:
        (tmp_path / "ib.yaml").write_text(
            "execution:\n  mode: paper\nbacktest:\n  symbols: [AAPL]\n"
            "strategy:\n  name: buy_once:BuyOnce\n  params: {qty: 3}\n"
            f"broker:\n  type: ibkr\n  host: 127.0.0.1\n  port: {gateway.port}\n  client_id: 5\n"
        )
        env = child_env(**NO_KEYS)
        env["PYTHONPATH"] = os.pathsep.join([env["PYTHONPATH"], str(tmp_path)])
        p = fillforge(
            "run", "ib.yaml", "--until", "6s", "--journal", "ib.journal", "--json",
            cwd=tmp_path, env=env,
        )  # fmt: skip
        assert p.returncode == 0, p.stderr
        out = json.loads(p.stdout)
        assert out["broker"] == f"the IB gateway at 127.0.0.1:{gateway.port}"
        assert out["orders_sent"] == 1
        assert out["shares_bought"] == "3"
        assert market.positions()["AAPL"].qty == Decimal(3)  # the venue's own book
    with Journal.open(tmp_path / "ib.journal", readonly=True) as j:
        assert sum(1 for _ in j.records(kinds=["order.submit"])) == 1


def test_keys_written_in_the_file_are_warned_about_never_printed(tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text(
        "execution:\n  mode: simulation\nbroker:\n  type: alpaca\n"
        '  api_key: "AKREALLOOKING1234"\n  secret_key: "s3cr3t-value-xyz"\n'
    )
    p = fillforge("run", "c.yaml", "--journal", "j.journal", "--until", "30d", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert "warning: broker.api_key is written in the file" in p.stderr
    assert "AKREALLOOKING1234" not in p.stdout + p.stderr
    assert "s3cr3t-value-xyz" not in p.stdout + p.stderr


def test_a_live_configuration_trades_on_the_account_its_file_names(tmp_path: Path) -> None:
    """Mode live takes its keys from the environment (never the file) and trades on the
    file's base_url: here a served local account standing in for Alpaca's live API."""
    (tmp_path / "buy_once.py").write_text(BUY_ONCE)
    broker = scripted_broker(("AAPL",), start_ns=ALPACA_SERVER_START_NS)
    broker.quote("AAPL", Decimal("100.00"), Decimal("100.02"), bid_size=Decimal(1000),
                 ask_size=Decimal(1000))  # fmt: skip
    with AlpacaServer(broker, key_id="run-key", secret_key="run-secret") as server:
        (tmp_path / "live.yaml").write_text(
            f"execution:\n  mode: live\nbroker:\n  type: alpaca\n  base_url: {server.base_url}\n"
            "backtest:\n  symbols: [AAPL]\nstrategy:\n  name: buy_once:BuyOnce\n"
        )
        env = child_env(**KEYS)
        env["PYTHONPATH"] = os.pathsep.join([env["PYTHONPATH"], str(tmp_path)])
        p = fillforge("run", "live.yaml", "--until", "6s", "--journal", "live.journal",
                      cwd=tmp_path, env=env)  # fmt: skip
        assert p.returncode == 0, p.stderr
        assert f"mode live on {server.base_url}" in p.stdout
        assert "orders sent                       1" in p.stdout
        positions = trading_client(server).get_all_positions()
        assert [(x.symbol, x.qty) for x in positions] == [("AAPL", "1")]  # type: ignore[union-attr]


def test_an_unreachable_paper_server_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text("execution:\n  mode: paper\n")
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    p = fillforge("run", "c.yaml", "--url", f"http://127.0.0.1:{port}", "--journal", "j.journal",
                  cwd=tmp_path, env=child_env(**KEYS))  # fmt: skip
    line = one_error_line(p)
    assert "broker.base_url=" in line
    assert "unreachable" in line
    assert "run-secret" not in p.stderr


def test_ctrl_c_stops_cleanly_with_exit_130(tmp_path: Path) -> None:
    (tmp_path / "slow_sma.py").write_text(SLOW)
    (tmp_path / "slow.yaml").write_text(
        PAPER.replace("name: sma_crossover", "name: slow_sma:SlowSma")
    )
    env = child_env()
    env["PYTHONPATH"] = os.pathsep.join([env["PYTHONPATH"], str(tmp_path)])
    child = subprocess.Popen(
        [sys.executable, "-m", "fillforge", "run", "slow.yaml", "--journal", "s.journal"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert child.stderr is not None
        assert child.stderr.readline().startswith("journal ")  # started
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # an order in the journal: the run is under way
            with Journal.open(tmp_path / "s.journal", readonly=True) as j:
                if any(True for _ in j.records(kinds=["order.submit"])):
                    break
            time.sleep(0.2)
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=120)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == 130, err
    assert "Traceback" not in err
    assert "ended: stopped by SIGINT" in out
    assert fillforge("journal", "verify", "s.journal", cwd=tmp_path).returncode == 0


def test_a_rerun_on_a_served_account_recovers_its_journal(tmp_path: Path) -> None:
    """The second run starts by reconciling the first run's journal with the account: its
    order is found filled, and the journal's position matches the broker's."""
    (tmp_path / "buy_once.py").write_text(BUY_ONCE)
    (tmp_path / "served.yaml").write_text(
        "execution:\n  mode: paper\nbacktest:\n  symbols: [AAPL]\n"
        "strategy:\n  name: buy_once:BuyOnce\n  params: {qty: 2}\n"
    )
    broker = scripted_broker(("AAPL",), start_ns=ALPACA_SERVER_START_NS)
    broker.quote("AAPL", Decimal("100.00"), Decimal("100.02"), bid_size=Decimal(1000),
                 ask_size=Decimal(1000))  # fmt: skip
    with AlpacaServer(broker, key_id="run-key", secret_key="run-secret") as server:
        env = child_env(**KEYS)
        env["PYTHONPATH"] = os.pathsep.join([env["PYTHONPATH"], str(tmp_path)])
        args = ("run", "served.yaml", "--url", server.base_url, "--until", "6s",
                "--journal", "served.journal", "--json")  # fmt: skip
        first = fillforge(*args, cwd=tmp_path, env=env)
        assert first.returncode == 0, first.stderr
        assert "state records read" not in first.stderr
        second = fillforge(*args, cwd=tmp_path, env=env)
        assert second.returncode == 0, second.stderr
        assert "state records read" in second.stderr
        assert "positions differ" not in second.stderr
        assert json.loads(second.stdout)["positions"] == {"AAPL": "4"}
        positions = trading_client(server).get_all_positions()
        assert [(x.symbol, x.qty) for x in positions] == [("AAPL", "4")]  # type: ignore[union-attr]
    with Journal.open(tmp_path / "served.journal", readonly=True) as j:
        assert sum(1 for _ in j.records(kinds=["order.submit"])) == 2


RANDOM = """\
import random
from decimal import Decimal
from fillforge.orders.enums import OrderSide
from fillforge.orders.models import OrderRequest
from fillforge.strategy import Strategy


class Coin(Strategy):
    def on_bar(self, bar):
        if random.random() < 0.1:
            side = OrderSide.BUY if random.random() < 0.6 else OrderSide.SELL
            qty = Decimal(random.randint(1, 20))
            self.ctx.submit(OrderRequest(symbol=bar.symbol, side=side, qty=qty))
"""


def test_a_seed_repeats_a_strategy_that_draws_random_numbers(tmp_path: Path) -> None:
    (tmp_path / "coin.py").write_text(RANDOM)
    (tmp_path / "coin.yaml").write_text("execution:\n  mode: paper\nstrategy:\n  name: coin:Coin\n")
    env = child_env()
    env["PYTHONPATH"] = os.pathsep.join([env["PYTHONPATH"], str(tmp_path)])
    out = []
    for i, seed in enumerate(("7", "7", "8")):
        p = fillforge("run", "coin.yaml", "--seed", seed, "--journal", f"c{i}.journal",
                      cwd=tmp_path, env=env)  # fmt: skip
        assert p.returncode == 0, p.stderr
        out.append(p.stdout)
    assert out[0] == out[1]
    assert "seed 7 (Python's random" in out[0]
    assert out[0].replace("seed 7", "seed 8") != out[2]  # another seed, other orders
    bad = fillforge("run", "coin.yaml", "--seed", "-1", cwd=tmp_path, env=env)
    assert "--seed" in one_error_line(bad)


def test_the_files_fallback_to_simulation_is_honoured_and_said(tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text("execution:\n  mode: paper\n  fallback: simulation\n")
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    p = fillforge("run", "c.yaml", "--url", f"http://127.0.0.1:{port}", "--journal", "j.journal",
                  "--until", "60d", "--json", cwd=tmp_path, env=child_env(**KEYS))  # fmt: skip
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["broker"].startswith("simulated exchange (fallback: unreachable")
    assert "falling back to simulation" in p.stderr


@pytest.mark.parametrize(
    ("seed", "edit", "says"),
    [
        (
            "agent-execution.yaml",
            ('mode: "simulation"', 'mode: "live"'),
            "execution.broker.base_url='https://paper-api.alpaca.markets': mode is live",
        ),
        (
            "agent-execution.yaml",
            ('mode: "simulation"', 'mode: "live"', "paper-api.", "api."),
            "execution.broker.api_key='<placeholder>': a placeholder, not a key",
        ),
        (
            "engine-execution.yaml",
            ('mode: "paper"', 'mode: "live"'),
            "not set: set APCA_API_KEY_ID",
        ),
        ("broker-polygon.yaml", None, "broker.type='polygon'"),
    ],
)
def test_seed_configurations_that_cannot_run_are_refused_in_one_line(
    tmp_path: Path, seed: str, edit: tuple[str, ...] | None, says: str
) -> None:
    if not (SEEDS / seed).exists():
        pytest.skip("no seed configurations on this machine")
    text = (SEEDS / seed).read_text()
    for old, new in zip(edit[::2], edit[1::2], strict=True) if edit else ():
        assert old in text
        text = text.replace(old, new)
    (tmp_path / seed).write_text(text)
    p = fillforge("run", seed, "--journal", "j.journal", cwd=tmp_path, env=child_env(**NO_KEYS))
    assert says in one_error_line(p)
    assert "your_api_key" not in p.stderr
    assert not (tmp_path / "j.journal").exists()
