"""How a broker calls a parent's worker back: :class:`StepQueue` runs the work one step at a
time, :class:`ParentTimers` keeps the parent's named timers on the broker.

A broker may call back (an order event, a timer) inside a request the worker is making, or from
another thread (a live broker's stream or timer thread). Every callback only queues a step; the
queue is run by whoever holds its lock, one step at a time, so each step sees the state the one
before left, a step never runs inside another, and a callback never waits for a lock that a
thread calling into the broker holds.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable

from fillforge.broker import Broker
from fillforge.errors import TimerError
from fillforge.time import Clock

__all__ = ["ParentTimers", "StepQueue"]

Step = Callable[[], None]


class StepQueue:
    """Steps run in the order posted, one at a time, by the thread that holds :attr:`lock`.

    A step that raises stops the run there and the error reaches the caller that was running
    the queue; the steps after it stay queued for the next :meth:`drain`.
    """

    __slots__ = ("_busy", "_inbox", "lock")

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self._inbox: deque[Step] = deque()
        self._busy = False

    def post(self, step: Step) -> None:
        self._inbox.append(step)
        self.drain()

    def drain(self) -> None:
        while self._inbox:
            if not self.lock.acquire(blocking=False):
                return  # another thread holds it and runs what we queued
            try:
                if self._busy:
                    return  # a step on this thread called out: it runs the rest when back
                self._busy = True
                try:
                    while self._inbox:
                        self._inbox.popleft()()
                finally:
                    self._busy = False
            finally:
                self.lock.release()


class ParentTimers:
    """One parent's timers on ``broker``, named ``<parent id>:<name>``; each fires its step
    through ``queue``. A step due now or earlier is queued at once instead (on a wall clock,
    "now" is already past by the time a timer for it would be set)."""

    __slots__ = ("_broker", "_names", "_now", "_prefix", "_queue")

    def __init__(
        self, broker: Broker, parent_id: str, queue: StepQueue, now: Callable[[], int]
    ) -> None:
        self._broker, self._queue, self._now = broker, queue, now
        self._prefix = f"{parent_id}:"
        self._names: set[str] = set()

    def set(self, name: str, at_ns: int, step: Callable[[int], None]) -> None:
        """Call ``step(t)`` at ``at_ns`` (a timer of this name already set is replaced)."""
        full = self._prefix + name

        def fire(t: int) -> None:
            self._names.discard(full)
            self._queue.post(lambda: step(t))

        self.drop(name)
        now = self._now()
        if at_ns > now:
            try:
                self._broker.set_timer(full, fire, at_ns=at_ns)
            except TimerError as e:
                if e.field != "at_ns":
                    raise
            else:
                self._names.add(full)
                return
        self._queue.post(lambda: step(max(at_ns, now)))

    def drop(self, name: str) -> None:
        """Cancel a timer if it is set."""
        full = self._prefix + name
        if full in self._names:
            self._names.discard(full)
            self._broker.cancel_timer(full)

    def clear(self) -> None:
        for full in sorted(self._names):
            self._broker.cancel_timer(full)
        self._names.clear()


def clock_of(broker: Broker, clock: Clock | None) -> Callable[[], int]:
    """What the worker tells the time by: ``clock``; else the broker itself when it is a
    :class:`~fillforge.time.Clock` (the simulated broker); else the broker's ``clock()``."""
    if clock is None and isinstance(broker, Clock):
        clock = broker
    if clock is not None:
        return clock.now_ns
    return lambda: broker.clock().timestamp_ns
