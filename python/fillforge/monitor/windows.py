"""Rolling windows of exact sums: what the monitor's rates and alert rules are computed over.

A :class:`Rolling` keeps the events of the last ``span_ns`` (each a timestamp and a vector of
values: counts as ``int``, quantities and money as ``Decimal``) and their running totals. The
window at time ``now`` is ``(now - span_ns, now]``: an event exactly ``span_ns`` old no longer
counts, as :mod:`fillforge.throttle`'s sliding windows. Totals are kept by adding each event
when it comes and subtracting it when it leaves, so reading them costs what left since the last
read; ``int`` and ``Decimal`` arithmetic is exact, so the totals always equal the sum over the
events in the window (``tests/test_monitor_windows.py`` holds them to that).

Time never goes backwards inside a window: an event stamped before the latest one is counted at
the latest one's time (a late report is still counted, for a full window).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from decimal import Decimal

from fillforge.errors import TimeError

__all__ = ["Number", "Rolling"]

Number = int | Decimal


class Rolling:
    """Running totals of ``len(zeros)`` values over the last ``span_ns`` nanoseconds."""

    __slots__ = ("_events", "_last", "_totals", "_zeros", "span_ns")

    def __init__(self, span_ns: int, zeros: Sequence[Number]) -> None:
        if isinstance(span_ns, bool) or not isinstance(span_ns, int) or span_ns <= 0:
            raise TimeError("span_ns", span_ns, "expected a positive number of nanoseconds")
        self.span_ns = span_ns
        self._zeros: tuple[Number, ...] = tuple(zeros)
        self._totals: list[Number] = list(zeros)
        self._events: deque[tuple[int, Sequence[Number]]] = deque()
        self._last = -(2**63)

    def add(self, ts: int, values: Sequence[Number]) -> None:
        """Count ``values`` (one per total, in order) at ``ts``."""
        if ts < self._last:
            ts = self._last
        self._last = ts
        self._events.append((ts, values))
        totals = self._totals
        for i, v in enumerate(values):
            if v:
                totals[i] += v

    def totals(self, now: int) -> tuple[Number, ...]:
        """The totals over ``(now - span_ns, now]`` (events later than ``now`` included: the
        window never reads the future, it only forgets the past)."""
        events, totals = self._events, self._totals
        cutoff = now - self.span_ns
        while events and events[0][0] <= cutoff:
            _, values = events.popleft()
            for i, v in enumerate(values):
                if v:
                    totals[i] -= v
        if not events:  # exactly zero again, whatever the values' exponents
            self._totals = totals = list(self._zeros)
        return tuple(totals)

    def __len__(self) -> int:
        return len(self._events)

    def __repr__(self) -> str:
        return f"Rolling(span_ns={self.span_ns}, {len(self._events)} events)"
