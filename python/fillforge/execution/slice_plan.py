"""A parent's timetable: :class:`SlicePlan` turns the schedule into what should have been sent by
each slice's due time, and keeps a timer for each slice to come and for the end time
(:class:`~fillforge.execution.worker.ParentWorker` sends the deficit when one fires)."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from fillforge.errors import ExecutionError
from fillforge.execution.callbacks import ParentTimers
from fillforge.execution.options import Schedule
from fillforge.execution.parent import ParentOrder
from fillforge.execution.schedules import Slice

__all__ = ["SlicePlan"]

_ZERO = Decimal(0)


class SlicePlan:
    """The plan of one parent: ``points``, (due time, cumulative quantity) from the time it was
    cut (``ns``, with ``base`` already committed then) to the last slice.

    ``schedule`` cuts a quantity on the ``lot`` grid into slices; ``on_slice(target)`` is
    called at each slice's time with what should have been sent by then, ``on_end()`` at the
    end time. A plan cut again drops the timers of the one before (a late timer of an old plan
    does nothing).
    """

    def __init__(
        self,
        schedule: Schedule,
        lot: Decimal,
        timers: ParentTimers,
        on_slice: Callable[[Decimal], None],
        on_end: Callable[[], None],
    ) -> None:
        self._schedule = schedule
        self._lot = lot
        self._timers = timers
        self._on_slice = on_slice
        self._on_end = on_end
        self._gen = 0
        self.points: list[tuple[int, Decimal]] = []
        self.ns, self.base = 0, _ZERO

    def cut(
        self, spec: ParentOrder, ns: int, base: Decimal, *, now: int | None = None, end: bool = True
    ) -> None:
        """Plan the rest of ``spec`` from ``ns``, ``base`` committed: the schedule of the
        remainder from then to the end time (nothing at or past the end time: the end's sweep
        takes the rest). Timers for the slices (only those due after ``now`` when it is given: a
        restart catches up with the others at once) and, with ``end``, the end time. A schedule
        whose slices do not sum to the remainder, or fall outside the time left, is refused."""
        for i in range(len(self.points)):
            self._timers.drop(f"s{self._gen}.{i}")
        self._gen += 1
        rest = spec.qty - base
        begin = max(ns, spec.start_ns)
        slices: list[Slice] = []
        if rest > 0 and begin < spec.end_ns:
            slices = self._schedule(rest, begin, spec.end_ns, self._lot)
            if sum((s.qty for s in slices), _ZERO) != rest:
                raise ExecutionError("schedule", slices, f"the slices do not sum to {rest}")
        points, cum = [(ns, base)], base
        for s in slices:
            if not begin <= s.due_ns <= spec.end_ns:
                raise ExecutionError("schedule", s, f"due outside [{begin}, {spec.end_ns}]")
            cum += s.qty
            points.append((s.due_ns, cum))
        self.points, self.ns, self.base = points, ns, base
        gen = self._gen
        for i, (due, _) in enumerate(points[1:], 1):
            if now is None or due > now:
                self._timers.set(f"s{gen}.{i}", due, self._slice_step(gen, i))
        if end:
            self._timers.set("end", spec.end_ns, lambda t: self._on_end())

    def scheduled(self, now: int, qty: Decimal) -> Decimal:
        """What the plan had sent by ``now`` (at most ``qty``)."""
        done = _ZERO
        for due, cum in self.points:
            if due <= now:
                done = cum
        return min(done, qty)

    def _slice_step(self, gen: int, i: int) -> Callable[[int], None]:
        return lambda t: self._fire(gen, i)

    def _fire(self, gen: int, i: int) -> None:
        if gen == self._gen:
            self._on_slice(self.points[i][1])
