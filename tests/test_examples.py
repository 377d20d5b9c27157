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
