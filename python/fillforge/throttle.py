"""Rate limiting for order flow: keyed sliding-window and GCRA limits, composed all-or-nothing.

The engine is :class:`fillforge._core.Throttle`, which takes integer keys (``0 <= key < 2**64``)
and integer nanosecond times from the caller. :class:`RateLimiter` sits on top: it reads a
monotonic clock (injectable, so tests and simulations stay deterministic), accepts any hashable
key, and offers the two policies a caller can take when a limit binds:

- **drop**: :meth:`RateLimiter.check` returns ``None`` when the request passed, or a
  :class:`Denied` saying which limit refused it and when a retry would pass;
- **queue**: :meth:`RateLimiter.retry_after` says how long to wait (0: passed), and
  :meth:`RateLimiter.acquire_blocking` / :meth:`RateLimiter.acquire` (async) wait that long and
  retry until the request passes or the timeout would be overrun.

Semantics (see ``docs/throttle.md``): a sliding window of ``limit`` per ``window_ns`` admits at
most ``limit`` units in any window ``(now - window_ns, now]`` (an event exactly ``window_ns`` old
no longer counts); GCRA is a token bucket of ``burst`` tokens refilling at ``rate`` per
``period_ns``. A request passes only if every limit admits it, and a denied request consumes
nothing. Time never goes backwards (``ClockWentBackwardsError``).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from numbers import Integral, Number
from typing import Final

from fillforge._core import Throttle
from fillforge.errors import ClockWentBackwardsError, RequestTooLargeError, ThrottleError
from fillforge.time import NS_PER_SECOND

__all__ = [
    "NS_PER_SECOND",
    "ClockWentBackwardsError",
    "Denied",
    "Gcra",
    "RateLimiter",
    "RequestTooLargeError",
    "SlidingWindow",
    "Throttle",
    "ThrottleError",
    "key_of",
]

_KEY_MASK: Final = (1 << 64) - 1


def key_of(key: Hashable) -> int:
    """The ``uint64`` key the core uses for ``key``.

    Integers in ``[0, 2**64)`` are used as they are (an ``IntEnum`` member or a numpy integer as
    the integer it equals). Other integers, bools, other numbers (floats, Decimal, Fraction,
    complex) and None are refused with :class:`ThrottleError`: ``hash`` would fold them onto
    other keys (``hash(-1) == hash(-2)``, ``2**64 + 5`` onto 13, ``True`` onto 1), and
    ``reset(None)`` means every key. Any other hashable (a string, a tuple, an enum member) maps
    to ``hash(key)`` modulo ``2**64``. String hashes are salted per process
    (``PYTHONHASHSEED``), so these keys are only meaningful inside one process, which is where a
    throttle's state lives anyway.
    """
    if type(key) is int and 0 <= key <= _KEY_MASK:
        return key
    if isinstance(key, Integral) and not isinstance(key, bool):
        # An IntEnum member or a numpy integer is the integer it equals.
        if 0 <= (k := int(key)) <= _KEY_MASK:
            return k
    elif not isinstance(key, Number) and key is not None:
        return hash(key) & _KEY_MASK
    raise ThrottleError(
        f"key={key!r}: expected an integer in [0, 2**64) or a hashable that is not a number "
        "or None (out-of-range integers, bools, floats and None would collide with other keys)"
    )


def _check_timeout(timeout_ns: object) -> None:
    """``n``, ``limit`` and the times are checked by the core; ``timeout_ns`` only exists here."""
    if timeout_ns is None:
        return
    if (
        isinstance(timeout_ns, bool)
        or not isinstance(timeout_ns, int)
        or not 0 <= timeout_ns < 1 << 63
    ):
        raise ThrottleError(f"timeout_ns={timeout_ns!r}: expected None or an integer in [0, 2**63)")


@dataclass(frozen=True, slots=True)
class SlidingWindow:
    """At most ``limit`` units in any window ``(now - window_ns, now]``."""

    limit: int
    window_ns: int

    def describe(self) -> str:
        return f"{self.limit} per {self.window_ns / NS_PER_SECOND:g}s (sliding window)"


@dataclass(frozen=True, slots=True)
class Gcra:
    """GCRA token bucket: ``rate`` units per ``period_ns`` on average, ``burst`` at once.

    ``burst`` defaults to ``rate``. The emission interval is ``period_ns / rate`` rounded up.
    """

    rate: int
    period_ns: int
    burst: int | None = None

    def describe(self) -> str:
        burst = self.rate if self.burst is None else self.burst
        return f"{self.rate} per {self.period_ns / NS_PER_SECOND:g}s (GCRA, burst {burst})"


Limit = SlidingWindow | Gcra


@dataclass(frozen=True, slots=True)
class Denied:
    """Why a request was dropped, and when the same request would pass."""

    key: Hashable
    n: int
    wait_ns: int
    limit: Limit
    limit_index: int

    @property
    def reason(self) -> str:
        return (
            f"rate limit {self.limit.describe()} reached for key {self.key!r}: "
            f"{self.n} more would pass in {self.wait_ns / NS_PER_SECOND:.6f}s"
        )


def _build(limits: tuple[Limit, ...]) -> tuple[Throttle, tuple[Limit, ...]]:
    windows = [(w.limit, w.window_ns) for w in limits if isinstance(w, SlidingWindow)]
    gcras = [
        (g.rate, g.period_ns, g.rate if g.burst is None else g.burst)
        for g in limits
        if isinstance(g, Gcra)
    ]
    core = Throttle(windows=windows, gcra=gcras)
    # The core numbers limits windows first, then GCRA.
    ordered = tuple(x for x in limits if isinstance(x, SlidingWindow)) + tuple(
        x for x in limits if isinstance(x, Gcra)
    )
    return core, ordered


class RateLimiter:
    """Keyed rate limiting on a monotonic clock, over one :class:`fillforge._core.Throttle`.

    ``clock`` returns integer nanoseconds and must never go backwards (default
    :func:`time.monotonic_ns`); ``sleep`` and ``async_sleep`` take seconds and exist so that tests
    can wait on a fake clock.

    A limiter may be shared by threads: reading the clock and handing that time to the core is
    one step under a lock, so two threads cannot hand the core their times out of order (which
    it would refuse as time going backwards).
    """

    __slots__ = ("_async_sleep", "_clock", "_core", "_limits", "_lock", "_sleep")

    def __init__(
        self,
        *limits: Limit,
        clock: Callable[[], int] = time.monotonic_ns,
        sleep: Callable[[float], None] = time.sleep,
        async_sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if not limits:
            raise ThrottleError("a RateLimiter needs at least one SlidingWindow or Gcra limit")
        for i, limit in enumerate(limits):
            if not isinstance(limit, SlidingWindow | Gcra):
                raise ThrottleError(f"limits[{i}]={limit!r}: expected a SlidingWindow or a Gcra")
        self._core, self._limits = _build(limits)
        self._clock = clock
        self._lock = threading.Lock()
        self._sleep = sleep
        self._async_sleep = async_sleep

    @property
    def core(self) -> Throttle:
        """The compiled throttle (integer keys, explicit times, batch form)."""
        return self._core

    @property
    def limits(self) -> tuple[Limit, ...]:
        """The limits, in the core's numbering (sliding windows first, then GCRA)."""
        return self._limits

    def now(self) -> int:
        return self._clock()

    def try_acquire(self, key: Hashable, n: int = 1) -> bool:
        """Take ``n`` units for ``key`` now if every limit admits all of them; else take none."""
        k = key_of(key)
        with self._lock:
            return self._core.try_acquire(k, self._clock(), n)

    def check(self, key: Hashable, n: int = 1) -> Denied | None:
        """Drop policy: ``None`` if the request passed, else why it was refused."""
        k = key_of(key)
        with self._lock:
            allowed, wait, index = self._core.check(k, self._clock(), n)
        if allowed:
            return None
        return Denied(key, n, wait, self._limits[index], index)

    def retry_after(self, key: Hashable, n: int = 1) -> int:
        """Queue policy: 0 if the request passed, else nanoseconds until it would."""
        k = key_of(key)
        with self._lock:
            return self._core.poll(k, self._clock(), n)

    def wait_time(self, key: Hashable, n: int = 1) -> int:
        """Nanoseconds until ``n`` units for ``key`` would pass (0: now); takes nothing."""
        k = key_of(key)
        with self._lock:
            return self._core.wait_time(k, self._clock(), n)

    def count_in_window(self, key: Hashable, limit: int = 0) -> int:
        """Units ``key`` holds now in limit number ``limit``."""
        k = key_of(key)
        with self._lock:
            return self._core.count_in_window(k, self._clock(), limit)

    def reset(self, key: Hashable | None = None) -> None:
        """Forget ``key``, or every key when ``key`` is None."""
        if key is None:
            self._core.reset()
        else:
            self._core.reset(key_of(key))

    def _begin(self, key: Hashable, timeout_ns: int | None) -> tuple[int, int | None]:
        """An acquire's key number and deadline (None: no timeout); ``timeout_ns`` checked."""
        _check_timeout(timeout_ns)
        k = key_of(key)
        return k, None if timeout_ns is None else self._clock() + timeout_ns

    def _next_wait(self, k: int, n: int, deadline: int | None) -> int:
        """0 if acquired now; -1 if the wait would overrun ``deadline``; else the wait in ns."""
        with self._lock:
            now = self._clock()
            wait = self._core.poll(k, now, n)
        if wait and deadline is not None and now + wait > deadline:
            return -1
        return wait

    def acquire_blocking(self, key: Hashable, n: int = 1, *, timeout_ns: int | None = None) -> bool:
        """Wait until ``n`` units for ``key`` pass and take them; True once taken.

        With ``timeout_ns``, returns False at once (without sleeping) if the request could not pass
        before the deadline.
        """
        k, deadline = self._begin(key, timeout_ns)
        while True:
            wait = self._next_wait(k, n, deadline)
            if wait <= 0:
                return wait == 0
            self._sleep(wait / NS_PER_SECOND)

    async def acquire(self, key: Hashable, n: int = 1, *, timeout_ns: int | None = None) -> bool:
        """Async :meth:`acquire_blocking`: awaits ``async_sleep`` instead of blocking."""
        k, deadline = self._begin(key, timeout_ns)
        while True:
            wait = self._next_wait(k, n, deadline)
            if wait <= 0:
                return wait == 0
            await self._async_sleep(wait / NS_PER_SECOND)

    def __repr__(self) -> str:
        return f"RateLimiter({', '.join(map(repr, self._limits))}, keys={len(self._core)})"
