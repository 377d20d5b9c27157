"""Progress bars on the command line's long work (``run``, ``backtest``, ``replay``): drawn when
stdout and stderr are a terminal (a real pseudo-terminal here), never with ``--json`` or
``--no-progress``, never into a pipe; and the ``demo`` flags issue 19 named stay one line."""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import sys
from pathlib import Path

import pytest
from child_env import child_env

from fillforge.cli_progress import progress, shown

ELAPSED = re.compile(
    r"(?<!\d)\d:\d\d:\d\d(?!\d)"
)  # the bar's elapsed-time column (tables use ━ too)
PAPER = "execution:\n  mode: paper\nstrategy:\n  name: sma_crossover\n"


def on_a_terminal(args: list[str], cwd: Path) -> tuple[int, str]:
    """Run ``python -m fillforge ARGS`` with stdout and stderr on one pseudo-terminal; its
    exit code and everything it wrote there."""
    if args[0] == "run":  # a fresh journal each time: no recovery report on the terminal
        args = [*args, "--journal", f"j{len(list(cwd.glob('j*.journal')))}.journal"]
    leader, follower = pty.openpty()
    child = subprocess.Popen(
        [sys.executable, "-m", "fillforge", *args],
        cwd=cwd,
        env=child_env(COLUMNS="120", TERM="xterm-256color"),
        stdin=subprocess.DEVNULL,
        stdout=follower,
        stderr=follower,
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(leader)
    return child.wait(timeout=120), b"".join(chunks).decode("utf-8", "replace")


@pytest.mark.parametrize(
    "args",
    [
        ["run", "paper.yaml", "--until", "200d"],
        ["backtest", "paper.yaml"],
        ["replay", "check"],
    ],
)
def test_a_bar_on_a_terminal_and_none_with_json_or_no_progress(
    tmp_path: Path, args: list[str]
) -> None:
    (tmp_path / "paper.yaml").write_text(PAPER)
    code, seen = on_a_terminal(args, tmp_path)
    assert code == 0, seen
    assert ELAPSED.search(seen), seen  # the test can fail: a terminal gets the bar
    quiet = ["--no-progress"] if args[0] == "replay" else ["--json"]
    code, seen = on_a_terminal([*args, *quiet], tmp_path)
    assert code == 0, seen
    assert not ELAPSED.search(seen), seen
    if quiet == ["--json"]:  # machine output stays clean: one JSON object, nothing else
        lines = [ln for ln in seen.splitlines() if ln.strip() and not ln.startswith("journal ")]
        assert len(lines) == 1, seen
        json.loads(lines[0])
    if args[0] != "replay":
        code, seen = on_a_terminal([*args, "--no-progress"], tmp_path)
        assert code == 0, seen
        assert not ELAPSED.search(seen), seen


def test_no_bar_into_a_pipe(tmp_path: Path) -> None:
    (tmp_path / "paper.yaml").write_text(PAPER)
    p = subprocess.run(
        [sys.executable, "-m", "fillforge", "backtest", "paper.yaml"],
        cwd=tmp_path,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert p.returncode == 0, p.stderr
    assert not ELAPSED.search(p.stdout + p.stderr)
    assert "\x1b" not in p.stdout + p.stderr


def test_progress_moves_and_notes_when_forced(capsys: pytest.CaptureFixture[str]) -> None:
    assert shown(False) is False
    assert shown(True) is True
    with progress(3, "steps", force=True) as advance:
        advance()
        advance(2, note="orders 2, fills 1")
    with progress(None, "unknown", force=True) as advance:
        advance(0, note="waiting")
    err = capsys.readouterr().err
    assert "orders 2, fills 1" in err
    assert "3/3" in err
    with progress(3, "silent", force=False) as advance:
        advance(note="nothing")
    assert capsys.readouterr() == ("", "")


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["demo", "--qty", "0"], "--qty=0"),
        (["demo", "--qty", "-5"], "--qty=-5"),
        (["demo", "--reprice-every", "0"], "--reprice-every"),
        (["demo", "--qty", "99999999999999999999"], "--qty=99999999999999999999"),
    ],
)
def test_the_demo_flags_of_issue_19_stay_one_line(
    tmp_path: Path, args: list[str], says: str
) -> None:
    p = subprocess.run(
        [sys.executable, "-m", "fillforge", *args],
        cwd=tmp_path,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert p.returncode == 2, p.stdout + p.stderr
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1, p.stderr
    assert lines[0].startswith("error: ")
    assert says in lines[0]
    assert "Traceback" not in p.stdout + p.stderr
    assert " of -5" not in p.stdout
