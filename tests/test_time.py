"""fillforge.time: exact conversions between nanoseconds, datetimes and RFC 3339 text; clocks."""

from __future__ import annotations

import datetime as dt
import time
from decimal import Decimal

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fillforge.alpaca import wire
from fillforge.errors import TimeError
from fillforge.time import (
    NS_PER_DAY,
    NS_PER_HOUR,
    NS_PER_MINUTE,
    NS_PER_SECOND,
    Clock,
    SimulatedClock,
    WallClock,
    from_datetime,
    from_iso,
    from_seconds,
    from_timedelta,
    to_datetime,
    to_iso,
)

# Every nanosecond a datetime can hold (years 1-9999).
_LO = from_datetime(dt.datetime(1, 1, 1, tzinfo=dt.UTC))
_HI = from_datetime(dt.datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=dt.UTC)) + 999
nanos = st.integers(_LO, _HI)
zones = st.timezones() | st.just(dt.UTC)


@given(nanos)
def test_iso_round_trips_every_nanosecond(ns: int) -> None:
    text = to_iso(ns)
    assert text.endswith("Z")
    assert len(text.split(".")[1]) == 10
    assert from_iso(text) == ns


@given(nanos)
def test_datetime_floors_to_the_microsecond(ns: int) -> None:
    t = to_datetime(ns)
    assert t.tzinfo is dt.UTC
    assert from_datetime(t) == ns - ns % 1000  # floored: towards the past, also before 1970
    assert from_datetime(t) <= ns < from_datetime(t) + 1000


@given(
    st.datetimes(timezones=zones, min_value=dt.datetime(2, 1, 1), max_value=dt.datetime(9998, 1, 1))
)
def test_datetime_round_trips_exactly(t: dt.datetime) -> None:
    ns = from_datetime(t)
    assert to_datetime(ns) == t.astimezone(dt.UTC)  # the same instant, in UTC
    assert from_iso(t.astimezone(dt.UTC).isoformat()) == ns  # six fraction digits or none


def test_known_values() -> None:
    assert to_iso(0) == "1970-01-01T00:00:00.000000000Z"
    assert to_iso(-1) == "1969-12-31T23:59:59.999999999Z"
    assert to_datetime(999) == dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    assert to_datetime(-1) == dt.datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=dt.UTC)
    ns = 1_704_205_800 * NS_PER_SECOND + 123_456_789
    assert from_iso("2024-01-02T14:30:00.123456789Z") == ns
    assert from_iso("2024-01-02T09:30:00.123456789-05:00") == ns
    assert from_iso("2024-01-02T14:30:00.1Z") == ns - 23_456_789
    # A float would lose these: 2**53 ns is only 104 days.
    big = 253_402_300_799 * NS_PER_SECOND + 999_999_999
    assert from_iso(to_iso(big)) == big


def test_the_wire_uses_the_same_conversions() -> None:
    assert wire.timestamp(1_704_205_800_123_456_789) == to_iso(1_704_205_800_123_456_789)


def test_naive_text_is_read_in_the_zone_the_caller_names() -> None:
    ns = from_iso("2024-01-02T14:30:00.123456789Z")
    assert from_iso("2024-01-02T14:30:00.123456789", naive_zone=dt.UTC) == ns
    new_york = dt.timezone(dt.timedelta(hours=-5))
    assert from_iso("2024-01-02T09:30:00.123456789", naive_zone=new_york) == ns
    # A zone in the text wins over the one named for naive text.
    assert from_iso("2024-01-02T14:30:00.123456789Z", naive_zone=new_york) == ns


@given(nanos, zones)
def test_naive_text_round_trips_in_its_zone(ns: int, zone: dt.tzinfo) -> None:
    local = to_datetime(ns).astimezone(zone)
    if local.replace(tzinfo=None).replace(tzinfo=zone).utcoffset() != local.utcoffset():
        return  # a clock change: that wall time names two instants
    naive = local.replace(tzinfo=None).isoformat()
    assert from_iso(naive, naive_zone=zone) == ns - ns % 1000


def test_durations_are_exact_nanoseconds() -> None:
    assert (NS_PER_MINUTE, NS_PER_HOUR, NS_PER_DAY) == (60 * 10**9, 3600 * 10**9, 86_400 * 10**9)
    assert from_seconds(0.1) == 100_000_000  # 0.1 * 1e9 in binary is 100000000.00000001
    assert from_seconds(5.0 + 0.000000001) == 5_000_000_001
    assert from_seconds(3) == 3 * NS_PER_SECOND
    assert from_seconds(Decimal("1.0000000019")) == 1_000_000_001  # floored
    assert from_seconds(-0.0000000015) == -2  # floored towards the past
    assert from_timedelta(dt.timedelta(days=1, microseconds=3)) == NS_PER_DAY + 3000


def test_a_numpy_float_is_read_as_it_prints() -> None:
    """A numpy float is a float (np.float64 subclasses it) whose repr is "np.float64(0.1)":
    read through fillforge._exact.to_decimal, not refused by Decimal's parser."""
    assert from_seconds(np.float64(0.1)) == 100_000_000
    with pytest.raises(TimeError):
        from_seconds(np.float64("nan"))


@given(st.integers(-(10**18), 10**18))
def test_seconds_round_trip_through_their_decimal_text(ns: int) -> None:
    assert from_seconds(Decimal(ns) / NS_PER_SECOND) == ns


@pytest.mark.parametrize(
    ("call", "field", "value"),
    [
        (lambda: from_datetime(dt.datetime(2024, 1, 2)), "datetime", dt.datetime(2024, 1, 2)),
        (lambda: from_iso("2024-01-02T14:30:00"), "timestamp", "2024-01-02T14:30:00"),
        (lambda: from_iso("2024-01-02T14:30:00.1234567891Z"), "timestamp", None),
        (lambda: from_iso("2024-13-02T14:30:00Z"), "timestamp", "2024-13-02T14:30:00Z"),
        (lambda: to_iso(1.5), "ns", 1.5),  # type: ignore[arg-type]
        (lambda: to_iso(True), "ns", True),  # type: ignore[arg-type]
        (lambda: to_datetime(_HI + 1), "ns", _HI + 1),
        (lambda: SimulatedClock(5).set(4), "ns", 4),
        (lambda: SimulatedClock().advance(-1), "delta_ns", -1),
        (lambda: from_iso("2024-01-02T14:30:00", naive_zone=None), "timestamp", None),
        (lambda: from_iso("2024-01-02", "after", naive_zone=dt.UTC), "after", "2024-01-02"),
        (lambda: from_seconds(float("nan"), "--duration"), "--duration", None),
        (lambda: from_seconds(True), "seconds", True),
        (lambda: from_seconds("1"), "seconds", "1"),  # type: ignore[arg-type]
        (lambda: from_timedelta(5), "duration", 5),  # type: ignore[arg-type]
    ],
)
def test_bad_input_names_the_field_and_value(call: object, field: str, value: object) -> None:
    with pytest.raises(TimeError) as e:
        call()  # type: ignore[operator]
    assert e.value.field == field
    if value is not None:
        assert e.value.value == value


def test_simulated_clock_moves_only_when_told() -> None:
    c = SimulatedClock(10)
    assert isinstance(c, Clock)
    assert c.now_ns() == 10
    c.advance(5)
    c.set(15)  # setting the same time is fine
    assert c.now_ns() == 15
    with pytest.raises(TimeError):
        c.set(14)
    assert c.now_ns() == 15  # a refusal changes nothing


def test_wall_clock_reads_the_machine_clock() -> None:
    c = WallClock()
    assert isinstance(c, Clock)
    before = time.time_ns()
    now = c.now_ns()
    assert before <= now <= time.time_ns()
