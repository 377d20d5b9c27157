"""The examples run and print what they claim."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_quickstart_runs() -> None:
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / "book_quickstart.py")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "IOC sell 12 @ 99: FILLED" in proc.stdout
    assert "POST_ONLY_WOULD_CROSS" in proc.stdout
    assert "op 4: REJECTED  UNKNOWN_ORDER" in proc.stdout


def test_bracket_lifecycle_runs() -> None:
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / "bracket_lifecycle.py")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "o-3  held" in proc.stdout
    assert "sl-2 new                new               cum=0 leaves=70" in proc.stdout
    assert "sl-2 canceled           canceled          cum=0 leaves=0" in proc.stdout
    assert "group o-1: completed; venue actions: 4" in proc.stdout
