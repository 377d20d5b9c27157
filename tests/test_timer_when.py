"""The timer keywords are written once: ``TimerWhen`` is what every ``set_timer`` takes, and its
keys are exactly the keyword-only parameters of ``TimerBook.set`` (where the rules live)."""

from __future__ import annotations

import inspect
from collections.abc import Callable

import pytest

from fillforge.broker import AsyncBroker, Broker, TimerBook, TimerMethods, TimerWhen, WallTimers
from fillforge.errors import TimerError
from fillforge.time import SimulatedClock


def test_timer_when_is_the_keyword_only_parameters_of_the_book() -> None:
    params = inspect.signature(TimerBook.set).parameters.values()
    keyword_only = {p.name for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY}
    assert set(TimerWhen.__annotations__) == keyword_only == {"at_ns", "every_ns"}


@pytest.mark.parametrize(
    "fn", [Broker.set_timer, AsyncBroker.set_timer, TimerMethods.set_timer, WallTimers.set]
)
def test_every_set_timer_takes_the_keywords_as_timer_when(fn: Callable[..., object]) -> None:
    params = list(inspect.signature(fn).parameters.values())
    assert [p.name for p in params] == ["self", "name", "callback", "when"]
    assert params[-1].kind is inspect.Parameter.VAR_KEYWORD


def test_a_wall_timer_forwards_the_keywords_to_the_rules() -> None:
    clock = SimulatedClock(1_000)
    timers = WallTimers(clock)
    try:
        with pytest.raises(TimerError) as e:
            timers.set("t", lambda _t: None, at_ns=5)  # before now
        assert (e.value.field, e.value.value) == ("at_ns", 5)
        with pytest.raises(TimerError) as e:
            timers.set("t", lambda _t: None, at_ns=2_000, every_ns=10)  # both
        assert e.value.field == "at_ns"
        with pytest.raises(TypeError):
            timers.set("t", lambda _t: None, at=2_000)  # type: ignore[call-arg]
        assert "t" not in timers
        timers.set("t", lambda _t: None, every_ns=10)
        assert "t" in timers
    finally:
        timers.close()
