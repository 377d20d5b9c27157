"""Waiting in tests for something another thread or process does: poll a condition until it
holds or a timeout passes (wall-clock time, which only bounds how long a test may wait)."""

from __future__ import annotations

import time
from collections.abc import Callable


def eventually(cond: Callable[[], bool], timeout: float = 15.0, every: float = 0.02) -> bool:
    """Poll ``cond`` every ``every`` seconds until it holds (True) or ``timeout`` seconds pass
    (False)."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            return False
        time.sleep(every)
    return True


def wait_for(cond: Callable[[], bool], timeout: float = 5.0, every: float = 0.01) -> None:
    """As :func:`eventually`, failing the test ("timed out") when ``cond`` never holds."""
    assert eventually(cond, timeout, every), "timed out"
