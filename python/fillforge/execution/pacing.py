"""Pacing children: every child submit passes a rate limit, and a child over it waits in line.

One :class:`~fillforge.throttle.RateLimiter` (a sliding window of ``limit`` submits per
``window_ns``) is kept per broker object, so every parent worked on one broker shares it (an
account's limit is the broker's, not a parent's). It runs on the first worker's clock, which is
the broker's (simulated time in a simulation; nothing here reads the wall clock).

Each parent has its own :class:`Pacer`: a first-in, first-out line of the children the limit
held back. A held child already has its client order id, so it is sent once, later, never
dropped, doubled or overtaken by a later child of the same parent. The line is worked from a
broker timer (:class:`~fillforge.execution.callbacks.ParentTimers`) set for when the limit will
let the head through. Cancels are not paced. The rules are in ``docs/execution.md``
("Pacing children").
"""

from __future__ import annotations

import weakref
from collections import deque
from collections.abc import Callable
from decimal import Decimal

from fillforge.broker import Broker
from fillforge.errors import ExecutionError
from fillforge.execution.callbacks import ParentTimers
from fillforge.execution.children import Child
from fillforge.throttle import RateLimiter, SlidingWindow
from fillforge.time import NS_PER_SECOND

__all__ = ["Pacer", "limiter_for"]

_KEY = 0  # one limiter per broker, so one key in it
_TIMER = "pace"

_LIMITERS: weakref.WeakKeyDictionary[Broker, RateLimiter] = weakref.WeakKeyDictionary()


def limiter_for(broker: Broker, limit: int, window_ns: int, now: Callable[[], int]) -> RateLimiter:
    """The child-submit limiter every parent on ``broker`` shares (made by the first one, on
    its clock ``now``). A parent asking for another limit on the same broker is refused with
    :class:`~fillforge.errors.ExecutionError` (field ``child_rate_limit``)."""
    try:
        limiter = _LIMITERS.get(broker)
        if limiter is None:
            limiter = RateLimiter(SlidingWindow(limit, window_ns), clock=now)
            _LIMITERS[broker] = limiter
            return limiter
    except TypeError:  # no __weakref__ slot, or unhashable: the limit could not be shared
        raise ExecutionError(
            "broker", broker, "cannot carry a child rate limit (it must be weakly referenceable)"
        ) from None
    window = limiter.limits[0]
    assert isinstance(window, SlidingWindow)
    if (window.limit, window.window_ns) != (limit, window_ns):
        raise ExecutionError(
            "child_rate_limit",
            f"{limit} per {window_ns / NS_PER_SECOND:g}s",
            f"this broker already paces children at {window.describe()}; the parents on one "
            "broker share one limit",
        )
    return limiter


class Pacer:
    """One parent's line of children waiting for ``limiter``; ``timers`` wake it."""

    __slots__ = ("_limiter", "_line", "_now", "_timers", "queued")

    def __init__(self, limiter: RateLimiter, timers: ParentTimers, now: Callable[[], int]) -> None:
        self._limiter, self._timers, self._now = limiter, timers, now
        self._line: deque[tuple[Child, Callable[[], None]]] = deque()
        self.queued = Decimal(0)
        """What the children in line ask for (kept as they join and leave)."""

    def __len__(self) -> int:
        return len(self._line)

    def send(self, child: Child, go: Callable[[], None], *, first: bool = False) -> None:
        """``go()`` now if the limit lets it through and nobody waits; else put ``child`` in
        line (at its head with ``first``: a child sent again after a transient error keeps its
        turn) and make sure the timer is set."""
        if not self._line:
            wait = self._limiter.retry_after(_KEY)
            if wait == 0:
                go()
                return
            self._arm(wait)
        child.queued = True
        self.queued += child.qty
        if first:
            self._line.appendleft((child, go))
        else:
            self._line.append((child, go))

    def remove(self, child: Child) -> bool:
        """Take ``child`` out of the line (it will not be sent); whether it was there."""
        for i, (c, _) in enumerate(self._line):
            if c is child:
                del self._line[i]
                self._leave(child)
                if not self._line:
                    self._timers.drop(_TIMER)
                return True
        return False

    def _arm(self, wait_ns: int) -> None:
        self._timers.set(_TIMER, self._now() + wait_ns, lambda t: self._drain())

    def _drain(self) -> None:
        """Send from the head while the limit lets each through; then wait for the next."""
        while self._line:
            wait = self._limiter.retry_after(_KEY)
            if wait:
                self._arm(wait)
                return
            child, go = self._line.popleft()
            self._leave(child)
            go()

    def _leave(self, child: Child) -> None:
        child.queued = False
        self.queued -= child.qty
