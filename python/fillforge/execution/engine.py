"""Many parents on one broker: :class:`ExecutionEngine`.

Each parent is worked by its own :class:`~fillforge.execution.worker.ParentWorker`, but the
engine, not the workers, follows the broker's order events: it subscribes once, however many
parents it holds, and hands each event to the worker whose child it is, found by the child's
client order id (:func:`~fillforge.execution.parent.parent_of`). Events of orders that are not
a held parent's child are ignored. The parents share the broker's child rate limit
(:mod:`~fillforge.execution.pacing`). The rules are in ``docs/execution.md`` ("Many parents").
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Unpack

from fillforge.broker import Broker
from fillforge.errors import ExecutionError
from fillforge.execution.options import AmendTerms, WorkOptions
from fillforge.execution.parent import Parent, ParentOrder, ParentSnapshot, parent_of
from fillforge.execution.worker import ParentObserver, ParentWorker, Progress
from fillforge.orders.models import Instrument, OrderEvent
from fillforge.orders.order import Order
from fillforge.time import Clock

__all__ = ["ExecutionEngine"]


class ExecutionEngine:
    """Works any number of parents on ``broker``, telling the time by ``clock`` (default: the
    broker's, as :class:`~fillforge.execution.worker.ParentWorker` picks it).

    Parent ids are unique within an engine (a finished parent keeps its id: it stays readable
    through :meth:`get` until the engine is closed). After :meth:`close` the engine takes no new
    parent and follows no event.
    """

    def __init__(self, broker: Broker, *, clock: Clock | None = None) -> None:
        self.broker = broker
        self._clock = clock
        self._workers: dict[str, ParentWorker] = {}
        self._lock = threading.RLock()
        self._unsubscribe: Callable[[], None] | None = None
        self._closed = False
        self._observer: Callable[[str, str, ParentSnapshot], None] | None = None
        self.before_slice: Callable[[], None] | None = None
        """Given to every parent's worker (:attr:`ParentWorker.before_slice`)."""

    def observe(self, observer: Callable[[str, str, ParentSnapshot], None] | None) -> None:
        """Tell ``observer(parent_id, what changed, snapshot)`` every change of every parent's
        lifecycle or plan, those held now and those to come (``docs/state-recovery.md``)."""
        with self._lock:
            self._observer = observer
            for pid, w in self._workers.items():
                w.observe(self._told(pid))

    def _told(self, pid: str) -> ParentObserver | None:
        observer = self._observer
        if observer is None:
            return None
        return lambda kind, snap: observer(pid, kind, snap)

    # ----- parents ----------------------------------------------------------------------------

    def submit(
        self, parent: ParentOrder, instrument: Instrument, **options: Unpack[WorkOptions]
    ) -> Parent:
        """Start working ``parent`` (the arguments are :class:`ParentWorker`'s). A duplicate
        parent id, or a parent the worker refuses, raises ExecutionError and adds nothing."""
        if not isinstance(parent, ParentOrder):
            raise ExecutionError("parent", parent, "expected a ParentOrder")
        with self._lock:
            if self._closed:
                raise ExecutionError("engine", self, "closed: it takes no new parent")
            pid = parent.parent_id
            if pid in self._workers:
                raise ExecutionError("parent_id", pid, "this engine already holds that parent")
            worker = self._add(parent, instrument, options)
            try:
                worker.start()
            except BaseException:
                del self._workers[pid]
                raise
            return worker.parent

    def restore(
        self,
        snap: ParentSnapshot,
        instrument: Instrument,
        children: Iterable[Order] | None = None,
        *,
        last_child: int = 0,
        **options: Unpack[WorkOptions],
    ) -> Parent:
        """Take up a parent after a restart from its snapshot (:meth:`ParentWorker.restore`):
        ``children`` are its orders as the broker (or the recovered order book) shows them
        (default: the broker's orders whose client order id names the parent). ``options`` are
        :meth:`submit`'s; the snapshot's rules and slices are used unless given."""
        if not isinstance(snap, ParentSnapshot):
            raise ExecutionError("snapshot", snap, "expected a ParentSnapshot")
        pid = snap.spec.parent_id
        options.setdefault("rules", snap.rules)
        options.setdefault("slices", snap.slices)
        with self._lock:
            if self._closed:
                raise ExecutionError("engine", self, "closed: it takes no new parent")
            if pid in self._workers:
                raise ExecutionError("parent_id", pid, "this engine already holds that parent")
            worker = self._add(snap.spec, instrument, options)
            try:
                worker.restore(snap, children, last_child=last_child)
            except BaseException:
                del self._workers[pid]
                raise
            return worker.parent

    def _add(
        self, parent: ParentOrder, instrument: Instrument, options: WorkOptions
    ) -> ParentWorker:
        pid = parent.parent_id
        worker = ParentWorker(
            self.broker, parent, instrument, clock=self._clock, subscribe=False, **options
        )
        worker.observe(self._told(pid))
        worker.before_slice = self.before_slice
        if self._unsubscribe is None:
            self._unsubscribe = self.broker.subscribe(self._dispatch)
        self._workers[pid] = worker
        return worker

    def get(self, parent_id: str) -> Parent:
        """The parent ``parent_id`` as it stands."""
        return self.worker(parent_id).parent

    def worker(self, parent_id: str) -> ParentWorker:
        """The worker of ``parent_id`` (its progress, children and fills)."""
        worker = self._workers.get(parent_id)
        if worker is None:
            raise ExecutionError("parent_id", parent_id, "this engine holds no such parent")
        return worker

    def parents(self) -> list[Parent]:
        """Every parent held, in the order submitted."""
        with self._lock:
            return [w.parent for w in self._workers.values()]

    def progress(self, parent_id: str) -> Progress:
        return self.worker(parent_id).progress()

    # ----- what users do to one parent --------------------------------------------------------

    def pause(self, parent_id: str) -> None:
        self.worker(parent_id).pause()

    def resume(self, parent_id: str) -> None:
        self.worker(parent_id).resume()

    def cancel(self, parent_id: str, reason: str = "cancelled") -> None:
        self.worker(parent_id).cancel(reason)

    def amend(self, parent_id: str, **terms: Unpack[AmendTerms]) -> None:
        """:meth:`ParentWorker.amend` on ``parent_id``."""
        self.worker(parent_id).amend(**terms)

    def close(self) -> None:
        """Stop following the broker: one unsubscribe, and every worker's timers dropped (the
        children stay as they are at the broker)."""
        with self._lock:
            self._closed = True
            if self._unsubscribe is not None:
                self._unsubscribe()
                self._unsubscribe = None
            for w in self._workers.values():
                w.close()

    # ----- the one subscription ---------------------------------------------------------------

    def _dispatch(self, e: OrderEvent) -> None:
        pid = parent_of(e.client_order_id)
        worker = self._workers.get(pid) if pid is not None else None
        if worker is not None:
            worker.feed(e)

    def __repr__(self) -> str:
        return f"ExecutionEngine({len(self._workers)} parents on {self.broker!r})"
