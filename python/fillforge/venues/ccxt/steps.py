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


def _next(steps: Steps[_T], value: Any, error: BaseException | None) -> tuple[Ask | None, Any]:
    """Hand ``steps`` the last answer (or the error it raised); their next ask, or (None, their
    result) once they are done."""
    try:
        return (steps.send(value) if error is None else steps.throw(error)), None
    except StopIteration as done:
        return None, done.value


def run(steps: Steps[_T], exchange: Any, transport: Transport) -> _T:
    """Drive ``steps`` on a sync ccxt exchange; their result."""
    value: Any = None
    error: BaseException | None = None
    while True:
        ask, value = _next(steps, value, error)
        if ask is None:
            return value  # type: ignore[no-any-return]
        error = None
        try:
            value = _send(ask, exchange, transport)
        except Exception as e:  # into the steps: they may handle it
            value, error = None, e


def _send(ask: Ask, exchange: Any, transport: Transport) -> Any:
    if ask.raw:
        return ask.fn(exchange)
    lookup = ask.lookup
    before = None if lookup is None else (lambda: run(lookup(), exchange, transport))
    return transport.call(lambda: ask.fn(exchange), before)


async def arun(steps: Steps[_T], exchange: Any, transport: Transport) -> _T:
    """Drive ``steps`` on an async ccxt exchange (``ccxt.async_support``); their result."""
    value: Any = None
    error: BaseException | None = None
    while True:
        ask, value = _next(steps, value, error)
        if ask is None:
            return value  # type: ignore[no-any-return]
        error = None
        try:
            value = await _asend(ask, exchange, transport)
        except Exception as e:  # into the steps: they may handle it
            value, error = None, e


async def _asend(ask: Ask, exchange: Any, transport: Transport) -> Any:
    if ask.raw:
        value = ask.fn(exchange)
        return (await value) if inspect.isawaitable(value) else value
    lookup = ask.lookup
    before: Callable[[], Awaitable[Any]] | None = (
        None if lookup is None else (lambda: arun(lookup(), exchange, transport))
    )
    return await transport.acall(lambda: ask.fn(exchange), before)
