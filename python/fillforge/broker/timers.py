"""Named timers: :class:`TimerBook` keeps them in time order, :class:`WallTimers` fires them in
wall time on one scheduler thread.

Every broker's ``set_timer(name, callback, *, at_ns=None, every_ns=None)`` checks its arguments
here, so the rules are the same everywhere: exactly one of ``at_ns`` (once, at that time, not
before now) and ``every_ns`` (> 0: first at now + every, then every ``every_ns``); a name in use
or an unknown name to cancel is refused. Each refusal is a :class:`~fillforge.errors.TimerError`
naming the field and value, and changes nothing. Timers due at the same instant fire in the
order they were set (a recurring timer keeps its place). The callback gets the time the timer
was due, in UNIX nanoseconds. :class:`TimerMethods` is the ``set_timer``/``cancel_timer`` pair
every broker inherits, over its own timers.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
from collections.abc import Callable
from typing import TypedDict, Unpack

from fillforge.errors import TimerError
from fillforge.time import NS_PER_SECOND, Clock

__all__ = ["TimerBook", "TimerCallback", "TimerMethods", "TimerWhen", "WallTimers"]

TimerCallback = Callable[[int], None]
"""Called with the time the timer was due (UNIX ns)."""


class TimerWhen(TypedDict, total=False):
    """When a timer fires, the keywords of every ``set_timer`` (and :meth:`WallTimers.set`):
    exactly one of ``at_ns`` and ``every_ns``, checked by :meth:`TimerBook.set`, the one
    signature that spells them out."""

    at_ns: int | None
    every_ns: int | None


_log = logging.getLogger("fillforge.broker")
_MAX_WAIT_S = 1.0  # the scheduler re-reads its clock at least this often


class _Timer:
    __slots__ = ("callback", "due", "every", "seq")

    def __init__(self, callback: TimerCallback, due: int, every: int | None, seq: int) -> None:
        self.callback, self.due, self.every, self.seq = callback, due, every, seq


def _int(field: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TimerError(field, value, "expected an int of nanoseconds")
    return value


class TimerBook:
    """Named timers in (due time, order set) order. Not thread-safe: its owner serialises.
    ``clock`` (optional) tells the time :meth:`set` counts from when no ``now_ns`` is given."""

    __slots__ = ("_clock", "_heap", "_seq", "_timers")

    def __init__(self, clock: Callable[[], int] | None = None) -> None:
        self._clock = clock
        self._heap: list[tuple[int, int, str]] = []
        self._timers: dict[str, _Timer] = {}
        self._seq = itertools.count()

    def set(
        self,
        name: str,
        callback: TimerCallback,
        now_ns: int | None = None,
        *,
        at_ns: int | None = None,
        every_ns: int | None = None,
    ) -> int:
        """Add a timer (the module's rules) at time ``now_ns`` (default: the book's clock);
        returns when it is first due."""
        if now_ns is None:
            if self._clock is None:
                raise TimerError("now_ns", now_ns, "this book has no clock: give the time")
            now_ns = self._clock()
        if not isinstance(name, str) or not name:
            raise TimerError("name", name, "expected a non-empty string")
        if name in self._timers:
            raise TimerError("name", name, "a timer of this name is set: cancel it first")
        if not callable(callback):
            raise TimerError("callback", callback, "expected a function of the firing time")
        if (at_ns is None) == (every_ns is None):
            raise TimerError("at_ns", at_ns, f"give exactly one of at_ns and every_ns={every_ns}")
        if every_ns is not None:
            if _int("every_ns", every_ns) <= 0:
                raise TimerError("every_ns", every_ns, "the period must be > 0")
            due = now_ns + every_ns
        else:
            due = _int("at_ns", at_ns)
            if due < now_ns:
                raise TimerError("at_ns", at_ns, f"in the past (now is {now_ns})")
        seq = next(self._seq)
        self._timers[name] = _Timer(callback, due, every_ns, seq)
        heapq.heappush(self._heap, (due, seq, name))
        return due

    def cancel(self, name: str) -> None:
        """Remove a timer; an unknown name is refused."""
        if self._timers.pop(name, None) is None:  # its heap entry goes stale
            raise TimerError("name", name, "no timer of this name is set")

    def next_ns(self) -> int | None:
        """When the next timer is due (None: no timer)."""
        heap, timers = self._heap, self._timers
        while heap:
            due, seq, name = heap[0]
            t = timers.get(name)
            if t is not None and t.seq == seq and t.due == due:
                return due
            heapq.heappop(heap)  # cancelled, or set again under its name
        return None

    def pop_due(self, limit_ns: int) -> tuple[int, TimerCallback] | None:
        """Take the next timer if it is due by ``limit_ns`` (as :meth:`pop`); else None. The
        simulated broker's hot path: one heap step per firing."""
        heap, timers = self._heap, self._timers
        while heap:
            due, seq, name = heap[0]
            if due > limit_ns:
                return None
            t = timers.get(name)
            if t is None or t.seq != seq or t.due != due:
                heapq.heappop(heap)  # stale
                continue
            if t.every is None:
                heapq.heappop(heap)
                del timers[name]
            else:
                t.due = nxt = due + t.every
                heapq.heapreplace(heap, (nxt, seq, name))
            return due, t.callback
        return None

    def pop(self, after_ns: int | None = None) -> tuple[int, TimerCallback]:
        """Take the next timer (call :meth:`next_ns` first: there must be one); a recurring one
        is due again a period later (the first period end after ``after_ns``, if given: missed
        firings are skipped), a one-shot one is removed. Returns (due time, callback)."""
        due, seq, name = heapq.heappop(self._heap)
        t = self._timers[name]
        if t.every is None:
            del self._timers[name]
        else:
            nxt = due + t.every
            if after_ns is not None and nxt <= after_ns:
                nxt += (after_ns - nxt) // t.every * t.every + t.every
            t.due = nxt
            heapq.heappush(self._heap, (nxt, seq, name))
        return due, t.callback

    def __contains__(self, name: object) -> bool:
        return name in self._timers

    def __len__(self) -> int:
        return len(self._timers)


class WallTimers:
    """Timers fired by one scheduler thread at the times ``clock`` tells (no thread per timer).

    The thread starts with the first timer and waits on a condition until the next one is due;
    callbacks run on it, one at a time, outside the lock (a callback may set and cancel timers).
    A late scheduler skips the firings of a recurring timer it missed. A callback's exception is
    logged (``fillforge.broker``) and the scheduler goes on. With a clock that is not the wall
    clock (a :class:`~fillforge.time.SimulatedClock` in tests), call :meth:`poke` after moving it.
    A clock that runs at a steady multiple of the wall clock says so with a ``speed`` attribute
    (clock seconds per wall second, as the served Alpaca account's clock at ``--speed`` does):
    the scheduler then waits ``1/speed`` of each clock interval, so timers fire on time.
    """

    def __init__(self, clock: Clock, *, name: str = "fillforge-timers") -> None:
        self._clock = clock
        self._name = name
        self._book = TimerBook()
        self._cv = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False

    def set(self, name: str, callback: TimerCallback, **when: Unpack[TimerWhen]) -> None:
        with self._cv:
            self._book.set(name, callback, self._clock.now_ns(), **when)
            if self._thread is None or not self._thread.is_alive():
                self._closed = False
                self._thread = threading.Thread(target=self._loop, name=self._name, daemon=True)
                self._thread.start()
            self._cv.notify()

    def cancel(self, name: str) -> None:
        with self._cv:
            self._book.cancel(name)
            self._cv.notify()

    def poke(self) -> None:
        """Re-read the clock now (it was moved)."""
        with self._cv:
            self._cv.notify()

    def close(self) -> None:
        """Stop the scheduler (timers stay set; the next :meth:`set` starts it again)."""
        with self._cv:
            self._closed = True
            self._cv.notify()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)

    def _next(self) -> tuple[int, TimerCallback] | None:
        """Wait for the next due timer (None: closed)."""
        with self._cv:
            while not self._closed:
                nxt = self._book.next_ns()
                now = self._clock.now_ns()
                if nxt is not None and nxt <= now:
                    return self._book.pop(after_ns=now)
                wait = _MAX_WAIT_S if nxt is None else (nxt - now) / NS_PER_SECOND / self._speed()
                self._cv.wait(min(wait, _MAX_WAIT_S))
            return None

    def _speed(self) -> float:
        """Clock seconds per wall second: the clock's ``speed`` when it has a positive one."""
        speed = getattr(self._clock, "speed", None)
        if isinstance(speed, int | float) and not isinstance(speed, bool) and speed > 0:
            return float(speed)
        return 1.0

    def _loop(self) -> None:
        while (due := self._next()) is not None:
            t, callback = due
            try:
                callback(t)
            except Exception:
                _log.exception("timer callback failed at %d", t)

    def __contains__(self, name: object) -> bool:
        with self._cv:
            return name in self._book


class TimerMethods:
    """The :class:`~fillforge.broker.Broker` interface's ``set_timer``/``cancel_timer``, for a
    broker to inherit: they go to its ``_timers`` (a :class:`WallTimers`, or a :class:`TimerBook`
    with a clock). When and on which thread a timer fires is the broker's (its class docs)."""

    _timers: TimerBook | WallTimers

    def set_timer(self, name: str, callback: TimerCallback, **when: Unpack[TimerWhen]) -> None:
        """Call ``callback(t)`` at ``at_ns``, or every ``every_ns`` from now (``t``: the time it
        was due); the module's rules."""
        self._timers.set(name, callback, **when)

    def cancel_timer(self, name: str) -> None:
        """Remove a timer; an unknown name is refused."""
        self._timers.cancel(name)
