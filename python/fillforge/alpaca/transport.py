"""How :class:`~fillforge.alpaca.broker.AlpacaBroker` calls alpaca-py: rate limited locally by
the Rust throttle, each HTTP request bounded by a timeout, and timeouts, 429 (waiting for
``X-Ratelimit-Reset``) and 5xx retried with exponential backoff and jitter (tenacity). Other
4xx raise :class:`~fillforge.errors.AlpacaError` at once, and so does the last 429 or 5xx once
the tries are spent (a timeout or lost connection stays the ``requests`` error it is)."""

from __future__ import annotations

import contextlib
import ipaddress
import urllib.parse
from collections.abc import Callable
from decimal import Decimal
from typing import Any, Final, TypeVar

import requests
from alpaca.common.exceptions import APIError
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from fillforge.errors import AlpacaError, TimeError
from fillforge.throttle import RateLimiter, SlidingWindow
from fillforge.time import NS_PER_MINUTE, NS_PER_SECOND, Clock, from_seconds

__all__ = ["Transport", "tune"]

_T = TypeVar("_T")
_RETRYABLE: Final = frozenset({429, 500, 502, 503, 504})


class Transport:
    """Rate limiting and retries around alpaca-py's calls: at most ``requests_per_minute`` per
    key (trading ``rest``, market ``data``), ``attempts`` tries, backoff up to ``max_wait``
    seconds. ``clock`` reads the time a 429's ``X-Ratelimit-Reset`` is measured from."""

    def __init__(
        self, clock: Clock, requests_per_minute: int, attempts: int, max_wait: float
    ) -> None:
        self._time = clock
        self._limiter = RateLimiter(SlidingWindow(requests_per_minute, NS_PER_MINUTE))
        self._attempts, self._max_wait = attempts, max_wait
        self._backoff = wait_exponential_jitter(multiplier=0.05, max=max_wait, jitter=0.05)

    def call(
        self,
        fn: Callable[[], _T],
        before_retry: Callable[[], _T | None] | None = None,
        key: str = "rest",
    ) -> _T:
        """``fn()``, rate-limited per ``key`` and retried on timeouts, 429 and 5xx. Before each
        retry, ``before_retry()`` may find that the first try went through: its answer, if not
        None, is returned instead (so a retried submit never makes a duplicate). The lookup is
        a request like any other: rate-limited, retried on the same failures, and its refusals
        typed. Every refusal is an AlpacaError, the last one's once the tries are spent."""
        try:
            for attempt in Retrying(
                retry=retry_if_exception(_retryable),
                wait=self._wait,
                stop=stop_after_attempt(self._attempts),
                reraise=True,
            ):
                with attempt:
                    try:
                        if attempt.retry_state.attempt_number > 1 and before_retry is not None:
                            self._limiter.acquire_blocking(key)
                            found = before_retry()
                            if found is not None:
                                return found
                        self._limiter.acquire_blocking(key)
                        return fn()
                    except APIError as e:
                        if _retryable(e):
                            raise
                        raise _typed(e) from None
        except APIError as e:  # retried as often as allowed
            raise _typed(e) from None
        raise AssertionError("unreachable")  # Retrying re-raises the last error

    def _wait(self, state: RetryCallState) -> float:
        """Seconds before the next try: the backoff, or until a 429's reset (at most
        ``max_wait``)."""
        base = self._backoff(state)
        outcome = state.outcome
        e = outcome.exception() if outcome is not None else None
        if isinstance(e, APIError) and e.status_code == 429 and e.response is not None:
            reset = e.response.headers.get("X-Ratelimit-Reset")
            if reset is not None:
                with contextlib.suppress(ArithmeticError, TimeError):  # a reset we cannot read
                    left_ns = from_seconds(Decimal(reset), "X-Ratelimit-Reset")
                    left = (left_ns - self._time.now_ns()) / NS_PER_SECOND
                    return float(min(max(left, base), self._max_wait))
        return float(base)


def tune(client: Any, url: str | None, timeout: float) -> None:
    """Bound every request of an alpaca-py client by ``timeout``; leave retries to tenacity."""
    client._retry = 0  # tenacity replaces the SDK's fixed 3 s sleeps
    session = client._session
    if url is not None and _loopback(url):
        # No proxy, .netrc or CA bundle from the environment applies to a local server, and
        # requests would otherwise re-read the environment on every call (a sixth of the
        # client's time per order) and send loopback traffic to any HTTP(S)_PROXY set.
        session.trust_env = False
    plain = session.request
    session.request = lambda *a, **kw: plain(*a, **{"timeout": timeout, **kw})


def _loopback(url: str) -> bool:
    host = urllib.parse.urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _retryable(e: BaseException) -> bool:
    if isinstance(e, requests.Timeout | requests.ConnectionError):
        return True
    return isinstance(e, APIError) and (e.status_code or 0) in _RETRYABLE


def _typed(e: APIError) -> AlpacaError:
    try:
        code, message = e.code, e.message
    except (ValueError, KeyError, TypeError):
        code, message = None, str(e)
    return AlpacaError(e.status_code, code, str(message))
