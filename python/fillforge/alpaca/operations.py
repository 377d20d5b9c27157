"""The state-changing calls of the Alpaca-compatible server, by name.

Every change a request makes to the served account (an order submitted, replaced or canceled, a
position closed, the account configured, a watchlist changed, the equity history marked) is an
*operation*: a registered name and a JSON-mode dict of arguments (the request's body as text, the
path's ids, and any id the server assigned). The routes put what the request says into the
arguments and answer what :meth:`Operations.apply` returns; ``apply`` runs on the simulation
thread and tells its listeners (the server's journal, :mod:`fillforge.alpaca.durable`) before
anything changes, so a journal writes each operation ahead of its effects. The simulation is
deterministic, so the same operations applied at the same simulated times to a fresh server give
the same state: that is how a restart restores the account (:meth:`Operations.replay`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fillforge.errors import SimulationError

__all__ = ["Listener", "Operation", "Operations", "body_arg", "body_of"]

Operation = Callable[[dict[str, Any]], Any]
"""An operation: its arguments in, its answer (a response, or a route's JSON) out."""
Listener = Callable[[str, dict[str, Any]], None]
"""Told every operation (name, arguments) before it runs, on the simulation thread."""


def body_arg(raw: bytes) -> str:
    """A request body as an argument: text that gives the same bytes back (:func:`body_of`),
    whatever the client sent."""
    return raw.decode("latin-1")


def body_of(args: dict[str, Any]) -> bytes:
    """The request body :func:`body_arg` put in ``args``."""
    text = args.get("body", "")
    return text.encode("latin-1") if isinstance(text, str) else b""


class Operations:
    """The server's operations by name, and who listens to them."""

    def __init__(self) -> None:
        self._ops: dict[str, Operation] = {}
        self._listeners: list[Listener] = []
        self.replaying = False
        """True while :meth:`replay` runs: nobody reads the answer (the server skips writing
        the order JSON)."""

    def register(self, name: str, op: Operation) -> None:
        if name in self._ops:
            raise SimulationError("operation", name, "registered twice")
        self._ops[name] = op

    def listen(self, listener: Listener) -> None:
        """Tell ``listener`` every operation from now on, before it runs."""
        self._listeners.append(listener)

    def __contains__(self, name: object) -> bool:
        return name in self._ops

    def apply(self, name: str, args: dict[str, Any]) -> Any:
        """Run operation ``name`` (on the simulation thread), its listeners told first; its
        answer, or what it raised."""
        op = self._op(name)
        for listener in self._listeners:
            listener(name, args)
        return op(args)

    def replay(self, name: str, args: dict[str, Any]) -> Any:
        """Run a journalled operation again, telling no listener (a restart's replay)."""
        op = self._op(name)
        self.replaying = True
        try:
            return op(args)
        finally:
            self.replaying = False

    def _op(self, name: str) -> Operation:
        op = self._ops.get(name)
        if op is None:
            raise SimulationError("operation", name, "no such operation on this server")
        return op
