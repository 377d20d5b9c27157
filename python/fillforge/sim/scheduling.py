"""When things happen in a simulated broker: the clock, requests in flight (the latency queue),
orders waiting for the open, timers, the session close and wall-clock pacing.

One :class:`Scheduler` per :class:`~fillforge.sim.broker.SimulatedBroker`. It decides times and
runs what is due in order; what an arrival does is the caller's (:mod:`fillforge.sim.arrivals`).
The tie rule at one instant: requests in flight first, then timers (in the order set), then the
market data and the session close (``docs/broker.md``).
"""

from __future__ import annotations

import heapq
import itertools
import math
import time
from collections.abc import Callable
from typing import Final

from fillforge.broker import TimerBook
from fillforge.sim.venue import Venue

__all__ = ["NEVER", "Scheduler"]

NEVER: Final = math.inf


class Scheduler:
    """The simulated clock (``now``, UNIX ns) and everything queued against it."""

    def __init__(self, venue: Venue, now: int) -> None:
        self.now = now
        self.timers = TimerBook(clock=lambda: self.now)
        self._venue = venue
        self._pending: list[tuple[int, int, Callable[[], None]]] = []
        self._seq = itertools.count()
        self._due: dict[str, int] = {}  # an order in flight or waiting -> when it arrives
        self._close: int | None = None
        self._wall: tuple[float, int] | None = None

    def advance(self, t: int) -> None:
        """Move the clock to ``t`` (never back)."""
        if t > self.now:
            self.now = t

    # ----- requests in flight -----------------------------------------------------------------

    def schedule(self, t: int, action: Callable[[], None]) -> None:
        """Run ``action`` at ``t``, after whatever was scheduled earlier for ``t``."""
        heapq.heappush(self._pending, (t, next(self._seq), action))

    def after(self, delay: int, action: Callable[[], None]) -> None:
        """Run ``action`` ``delay`` ns from now: at once when there is no delay and nothing in
        flight it could overtake (the rule :meth:`send` follows for a new order)."""
        if delay == 0 and not self._pending:
            action()
        else:
            self.schedule(self.now + delay, action)

    @property
    def next_pending(self) -> float:
        """When the next request in flight is due (:data:`NEVER` when none is)."""
        return self._pending[0][0] if self._pending else NEVER

    @property
    def in_flight(self) -> bool:
        return bool(self._pending)

    def deliver_due(self, upto: int | None = None) -> None:
        """Run delayed requests due by ``upto`` (default: now), in time then request order."""
        limit = self.now if upto is None else upto
        while self._pending and self._pending[0][0] <= limit:
            t, _, action = heapq.heappop(self._pending)
            self.advance(t)
            action()

    def send(
        self, order_id: str, delay: int, *, auction: bool, arrive: Callable[[str], None]
    ) -> bool:
        """Route a new order to the venue ``delay`` ns from now; return whether it waits for
        the open. A request that would reach a closed venue waits for the next open, then
        arrives 1 ns after it, once the data stamped at the open itself has been applied: a
        market order fills at the session's first price, a DAY order is for that session.
        Auction orders (``auction``: opg, cls) go to the venue at once and wait there."""
        cal = self._venue.calendar
        opens = None
        if cal is not None and not auction:
            opens = cal.opening(self.now + delay)
        if opens is not None:
            self._arrive_at(opens + 1, order_id, arrive)
        elif delay == 0 and not self._pending:
            arrive(order_id)  # nothing in flight to overtake: arrive now
        else:
            self._arrive_at(self.now + delay, order_id, arrive)
        return opens is not None

    def take_over(self, order_id: str, new_order_id: str, arrive: Callable[[str], None]) -> bool:
        """``new_order_id`` replaces ``order_id`` before it reached the venue: it arrives when
        ``order_id`` would have. False when ``order_id`` is not on its way."""
        t = self._due.get(order_id)
        if t is None:
            return False
        self._arrive_at(max(t, self.now), new_order_id, arrive)
        return True

    def on_its_way(self, order_id: str) -> bool:
        """Whether ``order_id`` is in flight or waiting for the open (not yet at the venue)."""
        return order_id in self._due

    def _arrive_at(self, t: int, order_id: str, arrive: Callable[[str], None]) -> None:
        self._due[order_id] = t

        def action() -> None:
            if self._due.get(order_id) == t:
                del self._due[order_id]
            arrive(order_id)

        self.schedule(t, action)

    # ----- timers -----------------------------------------------------------------------------

    def fire_timers(self, limit: int) -> None:
        """Fire the timers due by ``limit`` in time order (set order at one instant); stop where
        a request in flight is due first (at or before the next timer)."""
        pop, pending = self.timers.pop_due, self._pending
        while True:
            if pending and pending[0][0] <= limit:
                limit = pending[0][0] - 1
            got = pop(limit)
            if got is None:
                return
            due, callback = got
            if due > self.now:
                self.now = due
            callback(due)

    def catch_up(self, t: int) -> None:
        """Requests in flight and timers due by ``t``, in time order (requests first at one
        instant): before a scripted quote or trade at ``t``."""
        while (tt := self.timers.next_ns()) is not None and tt <= t:
            self.deliver_due(tt)
            self.fire_timers(tt)
        self.deliver_due(t)

    @property
    def next_timer(self) -> float:
        due = self.timers.next_ns() if self.timers else None
        return NEVER if due is None else due

    def due_before(self, t: int) -> bool:
        """Whether a request in flight or a timer is due before ``t``."""
        pending = self._pending
        if pending and pending[0][0] < t:
            return True
        due = self.timers.next_ns()
        return due is not None and due < t

    # ----- sessions and pacing ----------------------------------------------------------------

    def next_close(self) -> float:
        """The next session close (:data:`NEVER` without a calendar)."""
        cal = self._venue.calendar
        if cal is None:
            return NEVER
        if self._close is None or self._close <= self.now - 1:
            self._close = cal.next_close(self.now)
        return self._close

    def closed(self, close: int) -> None:
        """The session closing at ``close`` has been handled: the clock moves past it."""
        self._close = None
        self.now = max(self.now, close + 1)

    def pace(self, t: int) -> None:
        """Wall-clock mode: wait until data time ``t`` is due at the venue's speed."""
        speed = self._venue.speed
        if speed is None:
            return
        if self._wall is None:
            self._wall = (time.monotonic(), t)
        wall0, t0 = self._wall
        delay = wall0 + (t - t0) / 1e9 / speed - time.monotonic()
        if delay > 0:
            time.sleep(delay)
