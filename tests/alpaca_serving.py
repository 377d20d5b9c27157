"""``fillforge serve alpaca`` in a subprocess, for tests that want the server out of process."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator

KEY_ID, SECRET = "cli-key", "cli-secret"


@contextlib.contextmanager
def serving(*args: str, duration: float = 20) -> Iterator[str]:
    """``fillforge serve alpaca ARGS`` with the key pair ``KEY_ID`` / ``SECRET``: its base URL.
    The secret must not appear in anything it prints."""
    env = dict(os.environ, APCA_API_KEY_ID=KEY_ID, APCA_API_SECRET_KEY=SECRET)
    cmd = [sys.executable, "-m", "fillforge", "serve", "alpaca", "--duration", str(duration)]
    proc = subprocess.Popen(
        [*cmd, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        base = proc.stdout.readline().strip()
        assert base.startswith("http://127.0.0.1:"), proc.stderr and proc.stderr.read()
        assert proc.stdout.readline().strip() == base.replace("http", "ws") + "/stream"
        yield base
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=10)
    assert SECRET not in out + err
