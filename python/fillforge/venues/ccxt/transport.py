"""How :class:`~fillforge.venues.ccxt.CcxtBroker` calls ccxt: rate limited locally by the Rust
throttle (ccxt's own sleep-based limiter is turned off), and what ccxt calls an operation that
failed (network errors, timeouts, 429s, exchange outages, "execution status unknown") retried
with exponential backoff and jitter (tenacity). Before a retry, the caller may look for what the
first try did (a submit finds its order by client order id), so a retry never makes a duplicate.
Other ccxt errors raise :class:`~fillforge.errors.CcxtError` at once, naming ccxt's error class."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Final, TypeVar, cast

import ccxt
from tenacity import (
    AsyncRetrying,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from fillforge.errors import CcxtError
from fillforge.throttle import RateLimiter, SlidingWindow
from fillforge.time import NS_PER_MINUTE

__all__ = ["RETRYABLE", "Transport", "typed"]

_T = TypeVar("_T")
# What a retry can help with (ccxt's OperationFailed: network errors, timeouts, outages, rate
# limits, a stale timestamp, an unreadable answer): the request may or may not have been done.
RETRYABLE: Final = (ccxt.OperationFailed,)


def typed(exchange: str, e: ccxt.BaseError) -> CcxtError:
    """ccxt's error as fillforge's, naming its class (``OrderNotFound``, ``InvalidOrder``...)."""
    return CcxtError(exchange, type(e).__name__, str(e))


class Transport:
    """At most ``requests_per_minute`` calls per minute, ``attempts`` tries each, backoff up to
    ``max_wait`` seconds. ``failures`` counts calls that failed on the network (a reconnect
    follows each run of them: :attr:`reconnected` is set when a call succeeds after one)."""

    def __init__(
        self, exchange: str, requests_per_minute: int, attempts: int, max_wait: float
    ) -> None:
        self._exchange = exchange
        self._limiter = RateLimiter(SlidingWindow(requests_per_minute, NS_PER_MINUTE))
        self._attempts = attempts
        self._backoff = wait_exponential_jitter(multiplier=0.05, max=max_wait, jitter=0.05)
        self.failures = 0
        self._down = False
        self.reconnected: Callable[[], None] | None = None

    def call(self, fn: Callable[[], _T], before_retry: Callable[[], _T | None] | None = None) -> _T:
        """``fn()``, rate limited and retried (see the module); ``before_retry()`` may find that
        an earlier try went through: its answer, if not None, is returned instead. The last
        network error, when every try failed, raises as :class:`~fillforge.errors.CcxtError`."""
        try:
            return self._retrying(fn, before_retry)
        except RETRYABLE as e:
            raise typed(self._exchange, e) from None

    async def acall(
        self,
        fn: Callable[[], Awaitable[_T]],
        before_retry: Callable[[], Awaitable[_T | None]] | None = None,
    ) -> _T:
        """:meth:`call` for an async exchange (``ccxt.async_support``): the same throttle,
        retries and lookup, awaited."""
        try:
            async for attempt in AsyncRetrying(**self._policy()):
                with attempt:
                    if attempt.retry_state.attempt_number > 1 and before_retry is not None:
                        found = await self._aguarded(before_retry)
                        if found is not None:
                            return found
                    return await self._aguarded(fn)
        except RETRYABLE as e:
            raise typed(self._exchange, e) from None
        raise AssertionError("unreachable")  # AsyncRetrying re-raises the last error

    def _policy(self) -> dict[str, Any]:
        return {
            "retry": retry_if_exception(lambda e: isinstance(e, RETRYABLE)),
            "wait": self._backoff,
            "stop": stop_after_attempt(self._attempts),
            "reraise": True,
        }

    def _retrying(self, fn: Callable[[], _T], before_retry: Callable[[], _T | None] | None) -> _T:
        for attempt in Retrying(**self._policy()):
            with attempt:
                if attempt.retry_state.attempt_number > 1 and before_retry is not None:
                    found = self._guarded(before_retry)
                    if found is not None:
                        return found
                return self._guarded(fn)
        raise AssertionError("unreachable")  # Retrying re-raises the last error

    def _guarded(self, fn: Callable[[], _T]) -> _T:
        self._limiter.acquire_blocking("rest")
        try:
            out = fn()
        except ccxt.BaseError as e:
            raise self._failed(e) from None
        self._answered()
        return out

    async def _aguarded(self, fn: Callable[[], Awaitable[_T]]) -> _T:
        await self._limiter.acquire("rest")
        try:
            out = await fn()
        except ccxt.BaseError as e:
            raise self._failed(e) from None
        self._answered()
        return out

    def _failed(self, e: ccxt.BaseError) -> BaseException:
        """What a failed call raises: a network failure as is (retried; counted), else typed."""
        if isinstance(e, RETRYABLE):
            self.failures += 1
            self._down = True
            return cast(BaseException, e)
        return typed(self._exchange, e)

    def _answered(self) -> None:
        if self._down:
            self._down = False
            if self.reconnected is not None:
                self.reconnected()
