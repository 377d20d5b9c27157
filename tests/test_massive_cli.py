"""``fillforge serve massive`` in its own process: it prints its base URL, the unmodified massive
client and MassiveMarketData (also as the seed ``broker: type: polygon`` config builds it) read
the shipped data from it; bad flags are one-line refusals (exit 2) before anything starts."""

from __future__ import annotations

import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import massive
import pytest
from child_env import child_env

from fillforge.agent.build import massive_market_data
from fillforge.config import load_config
from fillforge.errors import ConfigError
from fillforge.marketdata.massive import MassiveMarketData
from fillforge.massive.history import load_history, shipped_history
from fillforge.replay.samples import daily_samples

SEED = Path(__file__).parent / "data" / "seed-configs" / "broker-polygon.yaml"


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in child_env().items() if k not in ("MASSIVE_API_KEY", "POLYGON_API_KEY")}
    env.update(extra)
    return env


def _serve(*args: str, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "fillforge", "serve", "massive", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(**env),
    )


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[str, str]]:
    key = secrets.token_hex(16)
    proc = _serve("--duration", "120", MASSIVE_API_KEY=key)
    try:
        assert proc.stdout is not None
        base = proc.stdout.readline().strip()
        assert base.startswith("http://127.0.0.1:"), proc.stderr.read() if proc.stderr else ""
        yield base, key
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=20)
        assert key not in out + err


def test_the_massive_client_reads_the_shipped_data(served: tuple[str, str]) -> None:
    base, key = served
    client = massive.RESTClient(api_key=key, base=base)
    got = list(client.list_trades("GOOG", order="asc", limit=5000))
    want = shipped_history().trades("GOOG")
    assert [(t.sip_timestamp, t.price, t.size) for t in got] == [
        (t.t, float(t.price), t.size) for t in want
    ]


def test_the_seed_polygon_config_loads_into_a_massive_source(
    served: tuple[str, str], tmp_path: Path
) -> None:
    base, key = served
    cfg = load_config(SEED, env={"POLYGON_API_KEY": key})
    source = massive_market_data(cfg, env={"POLYGON_API_KEY": key})
    assert isinstance(source, MassiveMarketData)
    assert source.base_url == "https://api.massive.com"  # the block names none
    with pytest.raises(ConfigError) as e:
        massive_market_data(cfg, env={})
    assert e.value.field == "broker.api_key"
    with_url = tmp_path / "polygon.yaml"
    with_url.write_text(SEED.read_text() + f'  base_url: "{base}"\n')
    served_cfg = load_config(with_url, env={"MASSIVE_API_KEY": key})
    source = massive_market_data(served_cfg, env={"MASSIVE_API_KEY": key})
    assert source.base_url == base
    days = source.bars("SPY", "day", 0, 1 << 62)
    assert [b.timestamp_ns for b in days] == [b.t for b in shipped_history().bars("SPY", "day")]


def test_serves_given_files(tmp_path: Path) -> None:
    path = tmp_path / "AAPL_daily_copy.csv"
    path.write_bytes(daily_samples()["AAPL"].read_bytes())
    key = secrets.token_hex(8)
    proc = _serve("--data", str(path), "--duration", "60", MASSIVE_API_KEY=key)
    try:
        assert proc.stdout is not None
        base = proc.stdout.readline().strip()
        source = MassiveMarketData(key, base_url=base)
        want = load_history([path]).bars("AAPL", "day")
        assert [b.timestamp_ns for b in source.bars("AAPL", "day", 0, 1 << 62)] == [
            b.t for b in want
        ]
    finally:
        proc.terminate()
        proc.communicate(timeout=20)


@pytest.mark.parametrize(
    ("args", "env", "says"),
    [
        ((), {}, "--api-key"),
        (("--port", "70000"), {"MASSIVE_API_KEY": "k"}, "--port"),
        (("--rate-limit", "0"), {"MASSIVE_API_KEY": "k"}, "--rate-limit"),
        (("--data", "/no/such/file.csv"), {"MASSIVE_API_KEY": "k"}, "--data"),
        (("--data", "sample", "--data", "x"), {"MASSIVE_API_KEY": "k"}, "--data"),
        (("--data", __file__), {"MASSIVE_API_KEY": "k"}, "--data"),
    ],
)
def test_bad_flags_are_one_line_refusals(
    args: tuple[str, ...], env: dict[str, str], says: str
) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "fillforge", "serve", "massive", *args, "--duration", "0"],
        capture_output=True,
        text=True,
        env=_env(**env),
        timeout=120,
        check=False,
    )
    assert run.returncode == 2, run.stdout + run.stderr
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, run.stderr
    assert lines[0].startswith("error: ")
    assert says in lines[0]
    assert "Traceback" not in run.stderr
