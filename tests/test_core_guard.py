"""Every stateful class of the compiled core follows one convention (issue 15): a panic inside a
core call surfaces as ``InternalError`` (never a ``PanicException`` or a crash), poisons the object,
and the poisoned object refuses every further call, reads included, with ``InternalError`` until
it is reset (or, without a ``reset()``, replaced). ``OrderBook``'s side of it is in
``test_book.py``; this module holds ``Throttle`` and ``TrailingStops`` to the same rule."""

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from fillforge._core import (
    InternalError,
    Throttle,
    ThrottleError,
    TrailingStopError,
    TrailingStops,
)

THROTTLE_CALLS: dict[str, Callable[[Throttle], Any]] = {
    "try_acquire": lambda t: t.try_acquire(1, 10),
    "poll": lambda t: t.poll(1, 10),
    "check": lambda t: t.check(1, 10),
    "wait_time": lambda t: t.wait_time(1, 10),
    "count_in_window": lambda t: t.count_in_window(1, 10),
    "reset_key": lambda t: t.reset(1),
    "sweep": lambda t: t.sweep(10),
    "len": len,
    "slot_capacity": lambda t: t.slot_capacity,
    "last_time": lambda t: t.last_time,
    "try_acquire_batch": lambda t: t.try_acquire_batch(
        np.ones(2, np.uint64), np.full(2, 10, np.int64)
    ),
}


def _throttle() -> Throttle:
    t = Throttle(windows=[(2, 100)])
    assert t.try_acquire(1, 5)
    return t


@pytest.mark.parametrize("call", THROTTLE_CALLS.values(), ids=THROTTLE_CALLS.keys())
def test_a_panic_poisons_the_throttle_until_reset(call: Callable[[Throttle], Any]) -> None:
    t = _throttle()
    with pytest.raises(InternalError, match="internal error in the throttle: deliberate panic"):
        t._panic_for_test()
    poisoned = r"this Throttle .* refuses further use until reset\(\)"
    with pytest.raises(InternalError, match=poisoned):
        call(t)
    # The configuration cannot be corrupted by a panic: it still answers, as does repr.
    assert t.limits == [("window", 2, 100)]
    assert t.max_request == 2
    assert "Throttle(" in repr(t)
    t.reset()
    call(t)  # answers again after a full reset
    assert t.try_acquire(2, 20)


def test_resetting_one_key_does_not_clear_the_poison() -> None:
    t = _throttle()
    with pytest.raises(InternalError):
        t._panic_for_test()
    with pytest.raises(InternalError, match="refuses further use"):
        t.reset(1)
    with pytest.raises(InternalError, match="refuses further use"):
        t.try_acquire(1, 10)


TRAILING_CALLS: dict[str, Callable[[TrailingStops], Any]] = {
    "add": lambda s: s.add(2, 0, -1, trail_ticks=5, price=100),
    "remove": lambda s: s.remove(1),
    "amend": lambda s: s.amend(1, trail_ticks=3),
    "get": lambda s: s.get(1),
    "contains": lambda s: 1 in s,
    "len": len,
    "update_last": lambda s: s.update_last(np.zeros(1, np.uint32), np.full(1, 100, np.int64)),
    "update_quotes": lambda s: s.update_quotes(
        np.zeros(1, np.uint32), np.full(1, 99, np.int64), np.full(1, 101, np.int64)
    ),
    "update_dense": lambda s: s.update_dense(np.full(2, 100, np.int64)),
    "update_dense_quotes": lambda s: s.update_dense_quotes(
        np.full(2, 99, np.int64), np.full(2, 101, np.int64)
    ),
}


@pytest.mark.parametrize("call", TRAILING_CALLS.values(), ids=TRAILING_CALLS.keys())
def test_a_panic_poisons_the_trailing_stops_for_good(
    call: Callable[[TrailingStops], Any],
) -> None:
    s = TrailingStops(2)
    s.add(1, 0, -1, trail_ticks=5, price=100)
    with pytest.raises(
        InternalError, match="internal error in the trailing stops: deliberate panic"
    ):
        s._panic_for_test()
    with pytest.raises(InternalError, match=r"refuses further use \(make a new one\)"):
        call(s)
    assert s.n_instruments == 2
    assert "TrailingStops(" in repr(s)


def test_bad_arguments_still_raise_typed_errors_before_the_guard() -> None:
    """A refused argument is checked before the core call: it neither panics nor poisons."""
    s = TrailingStops(1)
    with pytest.raises(TrailingStopError, match="prices: expected a 1-D numpy array of int64"):
        s.update_dense(np.zeros(1, np.int32))
    assert len(s) == 0
    t = Throttle(windows=[(1, 10)])
    with pytest.raises(ThrottleError, match="key=True"):
        t.try_acquire(True, 1)
    assert t.try_acquire(1, 1)
