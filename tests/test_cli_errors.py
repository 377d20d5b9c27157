"""Every subcommand, given a bad flag or file: one line naming the flag (or key) and the value,
no traceback, exit code 2; through typer's CliRunner and as a real ``python -m fillforge``
process. ``--debug`` / ``FILLFORGE_DEBUG=1`` bring the traceback back."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fillforge.cli import app

KEYS = {"APCA_API_KEY_ID": "cli-key", "APCA_API_SECRET_KEY": "cli-secret"}

# (argv, what the line says: the flag or key and its value). Each must be refused before any
# long work starts; {tmp} is a fresh directory.
CASES: list[tuple[list[str], str]] = [
    (["demo", "--qty", "0"], "--qty=0"),
    (["demo", "--qty", "-5"], "--qty=-5"),
    (["demo", "--qty", "abc"], "'--qty'"),
    (["demo", "--qty", "99999999999999999999"], "--qty=99999999999999999999"),
    (["demo", "--reprice-every", "0"], "--reprice-every"),
    (["execute", "--policy", "twap", "--qty", "0"], "--qty='0'"),
    (["execute", "--policy", "warp", "--qty", "100"], "--policy='warp'"),
    (["execute", "--policy", "twap", "--qty", "100", "--slices", "0"], "--slices=0"),
    (["execute", "--policy", "pov", "--qty", "100", "--rate", "2"], "--rate='2'"),
    (["execute", "--policy", "twap", "--qty", "100", "--start", "25:00"], "--start='25:00'"),
    (["execute", "--policy", "twap", "--qty", "9999999999999"], "--qty='9999999999999'"),
    (["execute", "--qty", "100"], "'--policy'"),
    (["replay", "lobster", "{tmp}/m.csv", "{tmp}/o.csv"], "m.csv"),
    (["replay", "cme", "{tmp}/mbo.csv"], "mbo.csv"),
    (["backtest", "{tmp}/none.yaml"], "file='{tmp}/none.yaml'"),
    (["config", "check", "{tmp}/none.yaml"], "file='{tmp}/none.yaml'"),
    (["config", "example", "nope"], "name='nope'"),
    (["journal", "inspect", "{tmp}/none.journal"], "path='{tmp}/none.journal'"),
    (["sweep", "{tmp}/none.yaml"], "file='{tmp}/none.yaml'"),
    (["sweep", "--workers", "0", "{tmp}/none.yaml"], "--workers=0"),
    (["sweep", "--workers", "2", "--in-process", "{tmp}/none.yaml"], "--workers=2"),
    (["serve", "alpaca", "--port", "99999"], "--port=99999"),
    (["serve", "alpaca", "--speed", "0"], "--speed=0.0"),
    (["serve", "alpaca", "--rate-limit", "0"], "--rate-limit=0"),
    (["serve", "alpaca", "--duration", "-1"], "--duration=-1.0"),
    (["serve", "alpaca", "--host", "192.0.2.1"], "--host='192.0.2.1'"),
    (["serve", "alpaca", "--calendar", "NOPE"], "--calendar='NOPE'"),
    (["nope"], "'nope'"),
]
# serve alpaca says its refusals on stdout, where its callers have always read them.
_ON_STDOUT = ("serve",)


def _argv(args: list[str], tmp: Path) -> list[str]:
    return [a.format(tmp=tmp) for a in args]


def _one_line(stdout: str, stderr: str, says: str, on_stdout: bool) -> None:
    said, other = (stdout, stderr) if on_stdout else (stderr, stdout)
    assert other == "", other
    assert "Traceback" not in said
    lines = said.splitlines()
    assert len(lines) == 1, said
    assert lines[0].startswith("error: ")
    assert says in lines[0]


@pytest.mark.parametrize(("args", "says"), CASES, ids=[" ".join(a) for a, _ in CASES])
def test_cli_runner(args: list[str], says: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, _argv(args, tmp_path), env=KEYS)
    assert result.exit_code == 2, result.output
    assert not isinstance(result.exception, Exception) or isinstance(
        result.exception, SystemExit
    ), result.exception
    _one_line(result.stdout, result.stderr, says.format(tmp=tmp_path), args[0] in _ON_STDOUT)


# A process per command family (each starts an interpreter: seconds on a busy machine).
_PICKED = ("demo --qty -5", "execute --policy twap --qty 9999999999999", "sweep {tmp}/none.yaml")
SUBPROCESS = [c for c in CASES if " ".join(c[0]) in (*_PICKED, "serve alpaca --port 99999")]


def _run(args: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fillforge", *args],
        env={**os.environ, **KEYS, **env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.mark.parametrize(("args", "says"), SUBPROCESS, ids=[" ".join(a) for a, _ in SUBPROCESS])
def test_a_real_process(args: list[str], says: str, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k == "FILLFORGE_DEBUG"}
    assert not env, "the suite runs without FILLFORGE_DEBUG"
    proc = _run(_argv(args, tmp_path))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    _one_line(proc.stdout, proc.stderr, says.format(tmp=tmp_path), args[0] in _ON_STDOUT)


def test_debug_brings_the_traceback_back(tmp_path: Path) -> None:
    missing = str(tmp_path / "none.yaml")
    for proc in (
        _run(["--debug", "sweep", missing]),
        _run(["sweep", missing], FILLFORGE_DEBUG="1"),
    ):
        assert proc.returncode == 1
        assert "ConfigError" in proc.stderr
        assert "Traceback" in proc.stderr or "─" in proc.stderr  # rich's or Python's
        assert len(proc.stderr.splitlines()) > 3


def test_a_bare_group_prints_its_help() -> None:
    result = CliRunner().invoke(app, ["journal"])
    assert result.exit_code == 2
    assert "inspect" in result.stdout
    assert "error" not in result.output
