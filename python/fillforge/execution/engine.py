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
from collections.abc import Callable
from typing import Unpack

from fillforge.broker import Broker
from fillforge.errors import ExecutionError
from fillforge.execution.options import AmendTerms, WorkOptions
from fillforge.execution.parent import Parent, ParentOrder, parent_of
from fillforge.execution.worker import ParentWorker, Progress
from fillforge.orders.models import Instrument, OrderEvent
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
            worker = ParentWorker(
                self.broker, parent, instrument, clock=self._clock, subscribe=False, **options
            )
            if self._unsubscribe is None:
                self._unsubscribe = self.broker.subscribe(self._dispatch)
            self._workers[pid] = worker
            try:
                worker.start()
            except BaseException:
                del self._workers[pid]
                raise
            return worker.parent

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
