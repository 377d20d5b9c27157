"""Support for the state-recovery tests (no tests here): :class:`Mortal`, a broker seen
through a process that can die.

Everything a process hooks into a surviving broker (order-event subscriptions, market-data
subscriptions, timers) goes through :class:`Mortal`; :meth:`Mortal.die` takes all of it off the
broker at once and refuses every later call, as a kill -9 of the process would: the objects
the dead process held never act again, and the broker (the simulated venue, which outlives the
process) keeps every order, fill and position it had.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

from fillforge.broker import Broker
from fillforge.errors import TimerError


class DeadProcessError(RuntimeError):
    """A call from a process that was killed."""


class Mortal:
    """``broker`` as one process sees it (see the module)."""

    def __init__(self, broker: Broker) -> None:
        self._broker = broker
        self._hooks: list[Callable[[], None]] = []
        self._timers: set[str] = set()
        self.dead = False

    def now_ns(self) -> int:
        self._alive()
        return self._broker.now_ns()

    def _alive(self) -> None:
        if self.dead:
            raise DeadProcessError("this process was killed")

    def _hook(self, unsubscribe: Callable[[], None]) -> Callable[[], None]:
        self._hooks.append(unsubscribe)

        def off() -> None:
            if unsubscribe in self._hooks:
                self._hooks.remove(unsubscribe)
                unsubscribe()

        return off

    def subscribe(self, callback: Any) -> Callable[[], None]:
        self._alive()
        return self._hook(self._broker.subscribe(callback))

    def subscribe_trades(self, symbol: str, callback: Any) -> Callable[[], None]:
        self._alive()
        return self._hook(self._broker.subscribe_trades(symbol, callback))

    def subscribe_quotes(self, symbol: str, callback: Any) -> Callable[[], None]:
        self._alive()
        return self._hook(self._broker.subscribe_quotes(symbol, callback))

    def subscribe_bars(self, symbol: str, callback: Any) -> Callable[[], None]:
        self._alive()
        return self._hook(self._broker.subscribe_bars(symbol, callback))

    def set_timer(self, name: str, callback: Any, **when: Any) -> None:
        self._alive()
        self._broker.set_timer(name, callback, **when)
        self._timers.add(name)

    def cancel_timer(self, name: str) -> None:
        self._alive()
        self._timers.discard(name)
        self._broker.cancel_timer(name)

    def die(self) -> None:
        """Kill -9: every hook off the broker, every later call refused."""
        for unsubscribe in list(self._hooks):
            unsubscribe()
        self._hooks.clear()
        for name in sorted(self._timers):
            with contextlib.suppress(TimerError):  # it fired already
                self._broker.cancel_timer(name)
        self._timers.clear()
        self.dead = True

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        self._alive()
        return getattr(self._broker, name)
