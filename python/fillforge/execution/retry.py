"""Which broker errors are worth another try, and how long to wait before it.

A transient error is one the same request may not meet again: the connection or a timeout
(``OSError``, ``TimeoutError``, and so requests' ``ConnectionError``/``Timeout``), the local
rate limit (:class:`~fillforge.errors.ThrottleError`), or an HTTP answer of 429 or 5xx carried
as ``status_code``. Anything else (a typed refusal of the terms, the account's checks, a bug)
is fatal. The wait is exponential with jitter drawn from a generator the caller seeds, so a
simulated run waits the same every time; it is counted on the broker's clock, never slept.
"""

from __future__ import annotations

import random

from fillforge.errors import ThrottleError

__all__ = ["Backoff", "is_transient"]

_RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})


def is_transient(e: BaseException) -> bool:
    """Whether ``e`` is worth trying the same request again."""
    if isinstance(e, OSError | TimeoutError | ThrottleError):
        return True
    status = getattr(e, "status_code", None)
    if status is None:
        status = getattr(e, "status", None)
    return isinstance(status, int) and status in _RETRYABLE_STATUS


class Backoff:
    """``base_ns * 2**k`` (k from 0), capped at ``max_ns``, plus up to half as much again of
    jitter from a generator seeded with ``seed``."""

    __slots__ = ("_base", "_max", "_rng")

    def __init__(self, base_ns: int, max_ns: int, seed: int) -> None:
        self._base, self._max = base_ns, max_ns
        self._rng = random.Random(seed)

    def delay_ns(self, attempt: int) -> int:
        d = min(self._base << min(attempt, 62), self._max)
        return d + self._rng.randrange(d // 2 + 1)
