"""Waiting in tests for something another thread or process does: poll a condition until it
holds or a timeout passes (wall-clock time, which only bounds how long a test may wait)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fillforge.agent import ExecutionAgent, OrderReport


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


async def settled(agent: ExecutionAgent, order_id: str, timeout: float = 20.0) -> OrderReport:
    """An execution agent's order once it is done (or its last report when ``timeout`` seconds
    pass first), asked every 50 ms without blocking the event loop."""
    deadline = time.monotonic() + timeout
    status = await agent.get_order_status(order_id)
    while not status.done and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
        status = await agent.get_order_status(order_id)
    return status
