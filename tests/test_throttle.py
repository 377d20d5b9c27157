"""fillforge.throttle and fillforge._core.Throttle: against a brute-force reference (hypothesis),
the exact window boundary, monotonic time, composition, eviction, the batch form and the
sync/async waiting helpers (on a fake clock: nothing here really sleeps)."""

from __future__ import annotations

import asyncio
import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fillforge
from fillforge import (
    ClockWentBackwardsError,
    FillforgeError,
    Gcra,
    RateLimiter,
    RequestTooLargeError,
    SlidingWindow,
    Throttle,
    ThrottleError,
)
from fillforge.throttle import key_of

# ----- brute-force reference ------------------------------------------------------------------


class Reference:
    """Every admitted request kept forever. A sliding window counts by scanning all of them; GCRA
    is a token bucket holding a fractional number of tokens that refills continuously."""

    def __init__(self, windows: list[tuple[int, int]], gcra: list[tuple[int, int, int]]) -> None:
        self.windows = windows
        # The core rounds the emission interval up: period / rate -> ceil.
        self.gcra = [(-(-p // r), b) for r, p, b in gcra]
        self.log: list[tuple[int, int, int]] = []  # (key, time, n)
        self.tokens: dict[tuple[int, int], tuple[Fraction, int]] = {}
        self.last: int | None = None
        self.max_n = min([w[0] for w in windows] + [b for _, b in self.gcra])

    def _count(self, key: int, now: int, window: int) -> int:
        return sum(n for k, t, n in self.log if k == key and t > now - window)

    def _tokens(self, key: int, i: int, now: int) -> Fraction:
        interval, burst = self.gcra[i]
        if (key, i) not in self.tokens:
            return Fraction(burst)
        tok, t = self.tokens[(key, i)]
        return min(Fraction(burst), tok + Fraction(now - t, interval))

    def _waits(self, key: int, now: int, n: int) -> list[int]:
        waits = []
        for limit, window in self.windows:
            cands = sorted({0} | {t + window - now for k, t, _ in self.log if k == key})
            waits.append(
                next(d for d in cands if d >= 0 and self._count(key, now + d, window) + n <= limit)
            )
        for i, (interval, _) in enumerate(self.gcra):
            short = n - self._tokens(key, i, now)
            waits.append(math.ceil(short * interval) if short > 0 else 0)
        return waits

    def _time(self, now: int, n: int) -> None:
        if n > self.max_n:
            raise RequestTooLargeError
        if self.last is not None and now < self.last:
            raise ClockWentBackwardsError
        self.last = now

    def check(self, key: int, now: int, n: int) -> tuple[bool, int, int]:
        self._time(now, n)
        if n == 0:
            return (True, 0, -1)
        waits = self._waits(key, now, n)
        wait = max(waits)
        if wait > 0:
            return (False, wait, waits.index(wait))
        for i, (_interval, _) in enumerate(self.gcra):
            self.tokens[(key, i)] = (self._tokens(key, i, now) - n, now)
        self.log.append((key, now, n))
        return (True, 0, -1)

    def wait_time(self, key: int, now: int, n: int) -> int:
        self._time(now, n)
        return max(self._waits(key, now, n)) if n else 0

    def count(self, key: int, now: int, limit: int) -> int:
        self._time(now, 0)
        if limit < len(self.windows):
            return self._count(key, now, self.windows[limit][1])
        i = limit - len(self.windows)
        interval, burst = self.gcra[i]
        used = (burst - self._tokens(key, i, now)) * interval  # ns of credit in use
        return int(-(-used // interval)) if used > 0 else 0


windows_st = st.lists(st.tuples(st.integers(1, 5), st.integers(1, 60)), max_size=2)
gcra_st = st.lists(st.tuples(st.integers(1, 4), st.integers(1, 40), st.integers(1, 5)), max_size=2)
op_st = st.tuples(
    st.sampled_from(["check", "check", "check", "try", "poll", "wait", "count", "back"]),
    st.integers(0, 3),  # key
    st.one_of(st.just(0), st.integers(0, 10), st.integers(0, 150)),  # time step
    st.integers(0, 6),  # n
)


@settings(max_examples=300)
@given(windows_st, gcra_st, st.lists(op_st, max_size=120))
def test_matches_brute_force_reference(
    windows: list[tuple[int, int]],
    gcra: list[tuple[int, int, int]],
    ops: list[tuple[str, int, int, int]],
) -> None:
    if not windows and not gcra:
        windows = [(2, 10)]
    t = Throttle(windows=windows, gcra=gcra)
    ref = Reference(windows, gcra)
    assert t.max_request == ref.max_n
    nlimits = len(windows) + len(gcra)
    now = 10_000
    for kind, key, dt, n in ops:
        if kind == "back":
            if ref.last is None:
                continue
            with pytest.raises(ClockWentBackwardsError):
                t.try_acquire(key, ref.last - 1 - dt)
            continue
        now += dt
        if n > ref.max_n and kind != "count":
            with pytest.raises(RequestTooLargeError):
                t.check(key, now, n)
            continue
        if kind == "check":
            assert t.check(key, now, n) == ref.check(key, now, n)
        elif kind == "try":
            assert t.try_acquire(key, now, n) == ref.check(key, now, n)[0]
        elif kind == "poll":
            assert t.poll(key, now, n) == ref.check(key, now, n)[1]
        elif kind == "wait":
            assert t.wait_time(key, now, n) == ref.wait_time(key, now, n)
        else:
            limit = n % nlimits
            assert t.count_in_window(key, now, limit) == ref.count(key, now, limit)


# ----- exact rules ------------------------------------------------------------------------------


def test_boundary_event_exactly_window_old_no_longer_counts() -> None:
    t = Throttle(windows=[(2, 100)])
    assert t.try_acquire(1, 0)
    assert t.try_acquire(1, 0)
    assert t.check(1, 99) == (False, 1, 0)  # window (-1, 99] still holds both
    assert t.count_in_window(1, 99) == 2
    assert t.count_in_window(1, 100) == 0  # window (0, 100]: events at 0 are out
    assert t.try_acquire(1, 100, 2)


def test_time_going_backwards_is_a_clear_error() -> None:
    t = Throttle(windows=[(5, 100)])
    assert t.try_acquire(1, 50)
    with pytest.raises(ClockWentBackwardsError, match=r"now=49: time went backwards.*t=50"):
        t.try_acquire(2, 49)  # any key: time is monotonic per throttle
    for call in (t.wait_time, t.poll, t.check):
        with pytest.raises(ClockWentBackwardsError):
            call(1, 10)
    assert issubclass(ClockWentBackwardsError, ThrottleError)
    assert issubclass(ThrottleError, FillforgeError)
    assert t.count_in_window(1, 50) == 1
    assert t.last_time == 50


def test_request_sizes() -> None:
    t = Throttle(windows=[(5, 100)], gcra=[(1, 10, 3)])
    assert t.max_request == 3
    with pytest.raises(RequestTooLargeError, match="n=4"):
        t.try_acquire(1, 0, 4)
    assert t.last_time is None
    assert t.try_acquire(1, 0, 0)
    assert len(t) == 0
    assert t.try_acquire(1, 0, 3)
    assert not t.try_acquire(1, 0, 1)
    last = t.last_time
    with pytest.raises(ThrottleError, match=r"key=-1: expected an integer"):
        t.try_acquire(-1, 0)
    with pytest.raises(ThrottleError, match=r"now=0\.5"):
        t.try_acquire(1, 0.5)  # type: ignore[arg-type]
    with pytest.raises(ThrottleError, match="n=-2"):
        t.poll(1, 0, -2)
    assert t.last_time == last  # bad arguments change nothing


@pytest.mark.parametrize(
    ("windows", "gcra"),
    [([], []), ([(0, 10)], []), ([(1, 0)], []), ([], [(0, 10, 1)]), ([], [(1, 10, 0)])],
)
def test_invalid_limits(windows: list[tuple[int, int]], gcra: list[tuple[int, int, int]]) -> None:
    with pytest.raises(ThrottleError):
        Throttle(windows=windows, gcra=gcra)


def test_composition_denied_consumes_nothing() -> None:
    # 10 per second and 200 per minute, in nanoseconds.
    sec, minute = 10**9, 60 * 10**9
    t = Throttle(windows=[(10, sec), (200, minute)])
    now = 0
    admitted = 0
    for _ in range(30):  # 30 s at 20 requests per second
        for i in range(20):
            admitted += t.try_acquire(7, now + i * (sec // 20))
        now += sec
    # Per second only 10 pass; by 20 s the minute limit (200) binds.
    assert admitted == 200
    allowed, wait, limit = t.check(7, now)
    assert (allowed, wait, limit) == (False, 30 * sec, 1)  # the events at t=0 leave at 60 s
    # Denials took nothing from the per-second window either.
    assert t.count_in_window(7, now, 0) == 0
    assert t.count_in_window(7, now, 1) == 200


def test_gcra_burst_then_rate() -> None:
    t = Throttle(gcra=[(10, 1_000, 3)])  # interval 100 ns, burst 3
    assert t.limits == [("gcra", 100, 3)]
    assert [t.try_acquire(5, 0) for _ in range(4)] == [True, True, True, False]
    assert t.poll(5, 0) == 100
    assert t.count_in_window(5, 50) == 3
    assert t.count_in_window(5, 100) == 2
    assert t.try_acquire(5, 100)
    assert not t.try_acquire(5, 199)
    assert t.try_acquire(5, 200)


def test_idle_keys_are_evicted_memory_bounded() -> None:
    t = Throttle(windows=[(3, 1_000)])
    now = 0
    for rnd in range(50):
        for k in range(200):
            assert t.try_acquire(rnd * 1_000_000 + k, now)
        now += 1_000
        assert len(t) <= 400
    assert t.slot_capacity <= 400
    assert t.sweep(now + 1_000) == len(t) or len(t) == 0
    assert len(t) == 0
    t.try_acquire(1, now + 2_000)
    assert t.slot_capacity <= 400  # slots are reused


def test_reset() -> None:
    t = Throttle(windows=[(1, 100)])
    assert t.try_acquire(1, 500)
    assert not t.try_acquire(1, 501)
    assert t.reset(1)
    assert not t.reset(1)
    assert t.try_acquire(1, 501)
    t.reset()
    assert len(t) == 0
    assert t.last_time is None
    assert t.try_acquire(1, 0)


# ----- batch ------------------------------------------------------------------------------------


@settings(max_examples=100)
@given(
    st.lists(st.tuples(st.integers(0, 4), st.integers(0, 8), st.integers(1, 3)), max_size=200),
    st.booleans(),
)
def test_batch_equals_per_call(rows: list[tuple[int, int, int]], with_n: bool) -> None:
    a = Throttle(windows=[(3, 20)], gcra=[(1, 5, 3)])
    b = Throttle(windows=[(3, 20)], gcra=[(1, 5, 3)])
    keys = np.array([r[0] for r in rows], dtype=np.uint64)
    times = np.cumsum([r[1] for r in rows], dtype=np.int64)
    ns = np.array([r[2] if with_n else 1 for r in rows], dtype=np.uint32)
    allowed, wait = a.try_acquire_batch(keys, times, ns if with_n else None)
    assert allowed.dtype == np.bool_
    assert wait.dtype == np.int64
    for i in range(len(rows)):
        ok, w, _ = b.check(int(keys[i]), int(times[i]), int(ns[i]))
        assert (bool(allowed[i]), int(wait[i])) == (ok, w)


def test_batch_errors_record_nothing() -> None:
    t = Throttle(windows=[(2, 100)])
    keys = np.ones(4, dtype=np.uint64)
    with pytest.raises(ClockWentBackwardsError, match="row 2"):
        t.try_acquire_batch(keys, np.array([0, 5, 4, 6], dtype=np.int64))
    with pytest.raises(RequestTooLargeError, match="row 1"):
        t.try_acquire_batch(keys, np.arange(4, dtype=np.int64), np.array([1, 3, 1, 1], np.uint32))
    assert len(t) == 0
    assert t.last_time is None
    with pytest.raises(ThrottleError, match="keys: expected a 1-D numpy array of uint64"):
        t.try_acquire_batch(np.ones(4, dtype=np.int64), np.arange(4, dtype=np.int64))
    with pytest.raises(ThrottleError, match="length"):
        t.try_acquire_batch(keys, np.arange(3, dtype=np.int64))


# ----- the Python layer -------------------------------------------------------------------------


class FakeClock:
    def __init__(self, start: int = 1_000) -> None:
        self.now = start
        self.slept: list[float] = []

    def __call__(self) -> int:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += round(seconds * 1e9)

    async def async_sleep(self, seconds: float) -> None:
        self.sleep(seconds)
        await asyncio.sleep(0)


def limiter(clock: FakeClock, *limits: SlidingWindow | Gcra) -> RateLimiter:
    return RateLimiter(*limits, clock=clock, sleep=clock.sleep, async_sleep=clock.async_sleep)


def test_drop_policy_gives_a_reason() -> None:
    clock = FakeClock()
    lim = limiter(clock, SlidingWindow(10, 10**9), SlidingWindow(2, 10**6))
    assert lim.check("AAPL") is None
    assert lim.check("AAPL") is None
    denied = lim.check("AAPL")
    assert denied is not None
    assert denied.limit == SlidingWindow(2, 10**6)
    assert denied.limit_index == 1
    assert denied.wait_ns == 10**6
    assert "2 per 0.001s" in denied.reason
    assert "'AAPL'" in denied.reason
    assert lim.check("MSFT") is None  # keys are independent
    assert lim.count_in_window("AAPL") == 2
    assert lim.count_in_window("MSFT", 1) == 1


def test_queue_policy_blocking_and_timeout() -> None:
    clock = FakeClock()
    lim = limiter(clock, Gcra(rate=150, period_ns=60 * 10**9, burst=2))
    assert lim.retry_after("acct") == 0
    assert lim.acquire_blocking("acct")
    assert clock.slept == []
    interval = 400_000_000  # 60 s / 150
    assert lim.wait_time("acct") == interval
    assert lim.acquire_blocking("acct")
    assert clock.slept == [pytest.approx(0.4)]
    # 2 more would need 0.8 s: a 0.5 s timeout fails at once, without sleeping.
    assert not lim.acquire_blocking("acct", 2, timeout_ns=500_000_000)
    assert len(clock.slept) == 1
    assert lim.acquire_blocking("acct", 2, timeout_ns=10**9)


def test_async_acquire_waits_on_the_injected_clock() -> None:
    clock = FakeClock()
    lim = limiter(clock, SlidingWindow(1, 1_000_000))

    async def main() -> list[int]:
        stamps = []
        for _ in range(3):
            assert await lim.acquire(42)
            stamps.append(clock())
        assert not await lim.acquire(42, timeout_ns=10)
        return stamps

    assert asyncio.run(main()) == [1_000, 1_001_000, 2_001_000]


def test_real_monotonic_clock_short() -> None:
    # A window no scheduling delay can outlast: the second call is refused however loaded the
    # machine is (a 2 ms window let it through once, on a busy CI run).
    lim = RateLimiter(SlidingWindow(1, 60 * 10**9))  # 1 per minute, real clock
    assert lim.try_acquire("x")
    assert not lim.try_acquire("x")
    short = RateLimiter(SlidingWindow(1, 2_000_000))  # 1 per 2 ms, real clock
    assert short.try_acquire("x")
    assert short.acquire_blocking("x")  # waits out what is left of the 2 ms, if anything
    assert lim.now() > 0
    assert "SlidingWindow" in repr(lim)


def test_keys_and_exports() -> None:
    assert key_of(5) == 5
    assert key_of(2**64 - 1) == 2**64 - 1
    for outside in (-1, -2, 2**64, 2**64 + 5, True, 1.0, None):  # would fold onto other keys
        with pytest.raises(ThrottleError, match="key="):
            key_of(outside)
    assert 0 <= key_of(("acct", "AAPL")) < 2**64
    assert key_of("AAPL") == key_of("AAPL")
    with pytest.raises(ThrottleError):
        RateLimiter()
    assert fillforge.RateLimiter is RateLimiter
    assert fillforge.errors.ThrottleError is ThrottleError


def test_a_limiter_shared_by_threads_never_hands_the_core_time_out_of_order() -> None:
    # Each call reads the clock and then calls the core; without one lock around both, a
    # thread switch between them hands the core an older time after a newer one, which it
    # refuses (ClockWentBackwardsError). Switching threads as often as CPython allows makes
    # that interleaving common.
    import sys
    import threading

    lim = RateLimiter(SlidingWindow(10**6, 60 * 10**9))
    errors: list[BaseException] = []

    def hammer() -> None:
        try:
            for _ in range(20_000):
                lim.try_acquire("shared")
                lim.wait_time("shared")
        except BaseException as e:
            errors.append(e)

    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        threads = [threading.Thread(target=hammer) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(old)
    assert errors == []
    assert lim.count_in_window("shared") == 80_000
