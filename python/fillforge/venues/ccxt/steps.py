"""One implementation of every ccxt conversation, run sync or async.

:class:`~fillforge.venues.ccxt.CcxtBroker` (``ccxt``) and
:class:`~fillforge.venues.ccxt.AsyncCcxtBroker` (``ccxt.async_support``) do the same things in the
same order: a submit, a cancel, a reconcile... each is written once, as a generator that yields
an :class:`Ask` (one ccxt call) and receives its answer (or has its error thrown in), and returns
its result. :func:`run` drives such steps on a sync exchange, :func:`arun` on an async one (whose
calls return coroutines); both send each call through the same
:class:`~fillforge.venues.ccxt.transport.Transport` (throttle, retries, the lookup before a
retry), so the logic, the conversions and the state changes are shared, and only the waiting
differs.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Generator
from dataclasses import dataclass
from typing import Any, TypeVar

from fillforge.venues.ccxt.transport import Transport

__all__ = ["Ask", "Steps", "arun", "run"]

_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class Ask:
    """One ccxt call: ``fn(exchange)`` (a coroutine on an async exchange). Sent through the
    transport (throttled, retried; ``lookup`` steps find, before a retry, what an earlier try
    did), or, ``raw``, as is: ccxt's own errors reach the steps (a lookup's ``OrderNotFound``)."""

    fn: Callable[[Any], Any]
    lookup: Callable[[], Steps[Any]] | None = None
    raw: bool = False


Steps = Generator[Ask, Any, _T]


class _Drive:
    """Steps being driven: the answer (or the error) their next ask gets. Used as ``with drive:``
    around the call that answers an ask, it hands the call's error, if any, to the steps (they
    may handle it) instead of raising it."""

    __slots__ = ("_steps", "error", "value")

    def __init__(self, steps: Steps[Any]) -> None:
        self._steps = steps
        self.value: Any = None
        self.error: Exception | None = None

    def ask(self) -> Ask | None:
        """The steps' next ask, handed the last answer or error; None once they are done, with
        their result in ``value``."""
        value, error = self.value, self.error
        self.value, self.error = None, None
        try:
            return self._steps.send(value) if error is None else self._steps.throw(error)
        except StopIteration as done:
            self.value = done.value
            return None

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: object, error: BaseException | None, tb: object) -> bool:
        if isinstance(error, Exception):  # into the steps: they may handle it
            self.error = error
            return True
        return False


def run(steps: Steps[_T], exchange: Any, transport: Transport) -> _T:
    """Drive ``steps`` on a sync ccxt exchange; their result."""
    drive = _Drive(steps)
    while (ask := drive.ask()) is not None:
        with drive:
            drive.value = _send(ask, exchange, transport)
    return drive.value  # type: ignore[no-any-return]


def _send(ask: Ask, exchange: Any, transport: Transport) -> Any:
    if ask.raw:
        return ask.fn(exchange)
    lookup = ask.lookup
    before = None if lookup is None else (lambda: run(lookup(), exchange, transport))
    return transport.call(lambda: ask.fn(exchange), before)


async def arun(steps: Steps[_T], exchange: Any, transport: Transport) -> _T:
    """Drive ``steps`` on an async ccxt exchange (``ccxt.async_support``); their result."""
    drive = _Drive(steps)
    while (ask := drive.ask()) is not None:
        with drive:
            drive.value = await _asend(ask, exchange, transport)
    return drive.value  # type: ignore[no-any-return]


async def _asend(ask: Ask, exchange: Any, transport: Transport) -> Any:
    if ask.raw:
        value = ask.fn(exchange)
        return (await value) if inspect.isawaitable(value) else value
    lookup = ask.lookup
    before: Callable[[], Awaitable[Any]] | None = (
        None if lookup is None else (lambda: arun(lookup(), exchange, transport))
    )
    return await transport.acall(lambda: ask.fn(exchange), before)
