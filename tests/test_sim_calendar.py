"""fillforge.sim.calendar: XNYS hours, holidays and early closes (2012), next open/close from
inside and outside sessions, CME equity futures (CMES), 24/7 crypto, lunch breaks (XTKS),
LOBSTER's New York midnight, bad input, and consistency with exchange_calendars itself."""

from __future__ import annotations

import datetime as dt
import json
import warnings
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fillforge.errors import SimulationError
from fillforge.sim import calendar
from fillforge.sim.calendar import Session, TradingCalendar, local_midnight_ns

UTC = dt.UTC
Day = dt.date


def ns(y: int, m: int, d: int, hh: int = 0, mm: int = 0, ss: int = 0) -> int:
    delta = dt.datetime(y, m, d, hh, mm, ss, tzinfo=UTC) - dt.datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 10**9


@pytest.fixture(scope="module")
def nyse() -> TradingCalendar:
    return TradingCalendar("XNYS")


# ----- XNYS -----------------------------------------------------------------------------------


def test_regular_summer_session(nyse: TradingCalendar) -> None:
    s = nyse.session(Day(2012, 6, 21))
    assert s == Session(
        day=Day(2012, 6, 21),
        open_ns=ns(2012, 6, 21, 13, 30),
        close_ns=ns(2012, 6, 21, 20),
        early_close=False,
    )
    assert nyse.is_trading_day(Day(2012, 6, 21))


def test_regular_winter_session(nyse: TradingCalendar) -> None:
    s = nyse.session(Day(2012, 1, 3))
    assert s is not None
    assert (s.open_ns, s.close_ns) == (ns(2012, 1, 3, 14, 30), ns(2012, 1, 3, 21))


@pytest.mark.parametrize(
    ("day", "close_utc"),
    [
        (Day(2012, 11, 23), (18, 0)),  # the day after Thanksgiving
        (Day(2012, 12, 24), (18, 0)),  # Christmas Eve (EST)
        (Day(2012, 7, 3), (17, 0)),  # the day before Independence Day (EDT)
    ],
)
def test_early_closes(nyse: TradingCalendar, day: Day, close_utc: tuple[int, int]) -> None:
    s = nyse.session(day)
    assert s is not None
    assert s.early_close
    assert s.close_ns == ns(day.year, day.month, day.day, *close_utc)
    assert s.open_ns < s.close_ns


@pytest.mark.parametrize(
    "day",
    [Day(2012, 7, 4), Day(2012, 12, 25), Day(2012, 10, 29), Day(2012, 6, 23), Day(2012, 6, 24)],
)
def test_closed_days(nyse: TradingCalendar, day: Day) -> None:
    # Independence Day, Christmas, Hurricane Sandy, a Saturday and a Sunday.
    assert nyse.session(day) is None
    assert not nyse.is_trading_day(day)


def test_sessions_range(nyse: TradingCalendar) -> None:
    got = nyse.sessions(Day(2012, 7, 1), Day(2012, 7, 6))
    assert [s.day for s in got] == [Day(2012, 7, d) for d in (2, 3, 5, 6)]
    assert [s.early_close for s in got] == [False, True, False, False]
    assert nyse.sessions(Day(2012, 7, 4), Day(2012, 7, 4)) == []


def test_session_at_is_half_open(nyse: TradingCalendar) -> None:
    s = nyse.session(Day(2012, 6, 21))
    assert s is not None
    assert nyse.session_at(s.open_ns) == s
    assert nyse.session_at(s.open_ns + ns(1970, 1, 1, 3)) == s
    assert nyse.session_at(s.close_ns - 1) == s
    assert nyse.session_at(s.close_ns) is None
    assert nyse.session_at(s.open_ns - 1) is None
    assert nyse.session_at(ns(2012, 6, 23, 15)) is None  # Saturday
    assert nyse.is_open(s.open_ns)
    assert nyse.is_open(s.close_ns - 1)
    assert not nyse.is_open(s.close_ns)
    assert not nyse.is_open(ns(2012, 7, 4, 15))


def test_next_close(nyse: TradingCalendar) -> None:
    thu_close = ns(2012, 6, 21, 20)
    assert nyse.next_close(ns(2012, 6, 21, 15)) == thu_close  # inside the session
    assert nyse.next_close(ns(2012, 6, 21, 4)) == thu_close  # before the open
    assert nyse.next_close(ns(2012, 6, 21, 21)) == ns(2012, 6, 22, 20)  # after: Friday's
    assert nyse.next_close(thu_close) == ns(2012, 6, 22, 20)  # at the close: it is over
    assert nyse.next_close(ns(2012, 6, 22, 22)) == ns(2012, 6, 25, 20)  # Friday night: Monday
    assert nyse.next_close(ns(2012, 7, 3, 17, 30)) == ns(2012, 7, 5, 20)  # over the holiday
    assert nyse.next_close(ns(2012, 11, 23, 15)) == ns(2012, 11, 23, 18)  # an early close


def test_next_open(nyse: TradingCalendar) -> None:
    assert nyse.next_open(ns(2012, 6, 21, 4)) == ns(2012, 6, 21, 13, 30)  # before the open
    assert nyse.next_open(ns(2012, 6, 21, 15)) == ns(2012, 6, 22, 13, 30)  # inside: the next
    assert nyse.next_open(ns(2012, 6, 21, 13, 30)) == ns(2012, 6, 22, 13, 30)  # at the open
    assert nyse.next_open(ns(2012, 7, 3, 18)) == ns(2012, 7, 5, 13, 30)
    assert nyse.next_open(ns(2012, 6, 23, 12)) == ns(2012, 6, 25, 13, 30)  # weekend


def test_aliases_share_the_calendar() -> None:
    assert TradingCalendar("NYSE").name == "XNYS"
    assert TradingCalendar("NYSE").session(Day(2012, 6, 21)) == TradingCalendar().session(
        Day(2012, 6, 21)
    )
    assert TradingCalendar().tz == "America/New_York"


# ----- other calendars ------------------------------------------------------------------------


def test_crypto_24_7() -> None:
    c = TradingCalendar("24/7")
    assert c.tz == "UTC"
    for d in range(1, 8):  # every day of a week, weekend included
        s = c.session(Day(2012, 7, d))
        assert s is not None
        assert (s.open_ns, s.close_ns) == (ns(2012, 7, d), ns(2012, 7, d + 1))
        assert not s.early_close
    assert c.is_open(ns(2012, 7, 4, 12))
    assert c.is_open(ns(2012, 12, 25))
    assert c.next_close(ns(2012, 6, 23, 15)) == ns(2012, 6, 24)
    assert c.next_open(ns(2012, 6, 23, 15)) == ns(2012, 6, 24)
    at_midnight = c.session_at(ns(2012, 6, 24))
    assert at_midnight is not None
    assert at_midnight.day == Day(2012, 6, 24)


@given(st.integers(ns(1995, 1, 1), ns(2034, 12, 31)))
def test_crypto_is_always_open(t: int) -> None:
    c = TradingCalendar("24/7")
    assert c.is_open(t)
    s = c.session_at(t)
    assert s is not None
    assert s.open_ns <= t < s.close_ns
    assert c.next_close(t) == s.close_ns == c.next_open(t)


def test_cme_equity_futures() -> None:
    cme = TradingCalendar("CMES")
    assert TradingCalendar("CME").name == "CMES"
    assert cme.tz == "America/Chicago"
    # Thursday's session opens at 17:00 Chicago on Wednesday (22:00 UTC in summer).
    s = cme.session(Day(2012, 6, 21))
    assert s is not None
    assert (s.open_ns, s.close_ns) == (ns(2012, 6, 20, 22), ns(2012, 6, 21, 22))
    # Sunday evening trades in Monday's session; Saturday does not trade.
    sunday_evening = cme.session_at(ns(2012, 6, 24, 23))
    assert sunday_evening is not None
    assert sunday_evening.day == Day(2012, 6, 25)
    assert not cme.is_open(ns(2012, 6, 23, 15))
    assert cme.next_open(ns(2012, 6, 23, 15)) == ns(2012, 6, 24, 22)
    # Independence Day: equity futures close at noon Chicago.
    j4 = cme.session(Day(2012, 7, 4))
    assert j4 is not None
    assert j4.early_close
    assert j4.close_ns == ns(2012, 7, 4, 17)
    assert cme.session(Day(2012, 12, 25)) is None


def test_lunch_break_is_in_the_session_but_closed() -> None:
    tokyo = TradingCalendar("XTKS")
    s = tokyo.session(Day(2012, 3, 2))
    assert s is not None
    assert s.break_start_ns == ns(2012, 3, 2, 2, 30)  # 11:30 Tokyo
    assert s.break_end_ns == ns(2012, 3, 2, 3, 30)
    assert tokyo.session_at(ns(2012, 3, 2, 3)) == s
    assert not tokyo.is_open(ns(2012, 3, 2, 3))
    assert tokyo.is_open(ns(2012, 3, 2, 2, 29))
    assert tokyo.is_open(ns(2012, 3, 2, 3, 30))


# ----- helpers and bad input ------------------------------------------------------------------


def test_local_midnight_ns() -> None:
    assert local_midnight_ns(Day(2012, 6, 21)) == ns(2012, 6, 21, 4)  # EDT
    assert local_midnight_ns(Day(2012, 1, 3)) == ns(2012, 1, 3, 5)  # EST
    assert local_midnight_ns(Day(2012, 6, 21), "UTC") == ns(2012, 6, 21)
    assert local_midnight_ns(Day(2012, 6, 21), "Asia/Tokyo") == ns(2012, 6, 20, 15)
    # LOBSTER: 34_200 s after New York midnight is the 09:30 open.
    open_ = TradingCalendar().session(Day(2012, 6, 21))
    assert open_ is not None
    assert local_midnight_ns(Day(2012, 6, 21)) + 34_200 * 10**9 == open_.open_ns


@pytest.mark.parametrize("name", ["NOPE", "xnys", "", 7])
def test_unknown_calendar(name: Any) -> None:
    with pytest.raises(SimulationError) as e:
        TradingCalendar(name)
    assert (e.value.field, e.value.value) == ("calendar", name)


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda c: c.session(dt.datetime(2012, 6, 21, 12, tzinfo=UTC)), "day"),
        (lambda c: c.session("2012-06-21"), "day"),
        (lambda c: c.session(Day(1989, 12, 29)), "day"),
        (lambda c: c.is_trading_day(Day(2036, 1, 2)), "day"),
        (lambda c: c.sessions(Day(2012, 1, 1), Day(2040, 1, 1)), "last"),
        (lambda c: c.session_at(1.5e18), "t_ns"),
        (lambda c: c.is_open(ns(1985, 1, 1)), "t_ns"),
        (lambda c: c.next_close(ns(2036, 1, 2)), "t_ns"),
        (lambda c: c.next_open(ns(2035, 12, 31, 23)), "t_ns"),
        (lambda c: local_midnight_ns(Day(2012, 6, 21), "Mars/Olympus"), "tz"),
    ],
)
def test_bad_input_names_the_field(nyse: TradingCalendar, call: Any, field: str) -> None:
    with pytest.raises(SimulationError) as e:
        call(nyse)
    assert e.value.field == field


# ----- consistency ----------------------------------------------------------------------------


@settings(max_examples=300)
@given(st.integers(ns(1992, 1, 1), ns(2034, 12, 1)))
def test_queries_agree_with_each_other(t: int) -> None:
    for c in (TradingCalendar("XNYS"), TradingCalendar("CMES")):
        s = c.session_at(t)
        nc, no = c.next_close(t), c.next_open(t)
        assert nc > t
        assert no > t
        assert c.is_open(t) == (s is not None)
        if s is not None:
            assert s.open_ns <= t < s.close_ns
            assert nc == s.close_ns
            assert c.session(s.day) == s
            assert no >= s.close_ns
        else:
            assert no < nc  # closed: it opens before it next closes
            upcoming = c.session_at(no)
            assert upcoming is not None
            assert (upcoming.open_ns, upcoming.close_ns) == (no, nc)


@settings(max_examples=100)
@given(st.integers(ns(2000, 1, 1) // 60_000_000_000, ns(2030, 1, 1) // 60_000_000_000))
def test_agrees_with_exchange_calendars(minute: int) -> None:
    import exchange_calendars as xc  # type: ignore[import-untyped]
    import pandas as pd  # type: ignore[import-untyped]

    t = minute * 60_000_000_000
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        ref = xc.get_calendar("XNYS", start="1999-01-01", end="2031-01-01")
        expected = bool(ref.is_open_on_minute(pd.Timestamp(t, unit="ns", tz="UTC")))
    assert TradingCalendar("XNYS").is_open(t) == expected


# ----- the disk cache -------------------------------------------------------------------------


def _fresh(monkeypatch: pytest.MonkeyPatch, where: str) -> None:
    """Point the disk cache at ``where`` and forget this process's tables."""
    monkeypatch.setenv("FILLFORGE_CACHE_DIR", where)
    calendar._load.cache_clear()
    calendar._names.cache_clear()


@pytest.fixture
def restore_caches() -> Any:
    yield
    calendar._load.cache_clear()
    calendar._names.cache_clear()


def test_a_cached_table_is_the_built_table(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch, restore_caches: None
) -> None:
    built = calendar._build_table("XNYS")
    _fresh(monkeypatch, str(tmp_path))
    first = calendar._load("XNYS")  # built and saved
    assert first == built
    files = sorted(p.name for p in (tmp_path / "calendars").iterdir())
    assert any(f.startswith("XNYS-") and f.endswith(".npz") for f in files)
    calendar._load.cache_clear()
    again = calendar._load("XNYS")  # read back from disk
    assert again is not first
    assert again == built
    assert TradingCalendar("NYSE").session(dt.date(2024, 11, 29)) == Session(
        day=dt.date(2024, 11, 29),
        open_ns=built.opens[built.index[dt.date(2024, 11, 29)]],
        close_ns=built.closes[built.index[dt.date(2024, 11, 29)]],
        early_close=True,
    )


def test_the_names_map_is_cached_and_checked(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch, restore_caches: None
) -> None:
    _fresh(monkeypatch, str(tmp_path))
    assert TradingCalendar("NYSE").name == "XNYS"
    (names,) = (tmp_path / "calendars").glob("names-*.json")
    assert json.loads(names.read_text())["NYSE"] == "XNYS"
    names.write_text('{"NYSE": 5}')  # damaged: not trusted, rebuilt
    calendar._names.cache_clear()
    assert TradingCalendar("NYSE").name == "XNYS"
    with pytest.raises(SimulationError) as e:
        TradingCalendar("NOPE")
    assert e.value.field == "calendar"


@pytest.mark.parametrize(
    "damage",
    [
        lambda p: p.write_bytes(b""),  # empty
        lambda p: p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2]),  # torn
        lambda p: p.write_bytes(b"not an npz at all"),
    ],
    ids=["empty", "torn", "garbage"],
)
def test_a_damaged_table_is_rebuilt_not_trusted(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch, restore_caches: None, damage: Any
) -> None:
    built = calendar._build_table("XNYS")
    _fresh(monkeypatch, str(tmp_path))
    calendar._load("XNYS")
    (path,) = (tmp_path / "calendars").glob("XNYS-*.npz")
    damage(path)
    calendar._load.cache_clear()
    assert calendar._load("XNYS") == built
    calendar._load.cache_clear()
    assert calendar._read_table(path) == built  # and the good copy was written back


def test_an_inconsistent_table_is_rebuilt(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch, restore_caches: None
) -> None:
    built = calendar._build_table("XNYS")
    _fresh(monkeypatch, str(tmp_path))
    calendar._load("XNYS")
    (path,) = (tmp_path / "calendars").glob("XNYS-*.npz")
    arrays = calendar._table_arrays(built)
    arrays["closes"] = arrays["opens"]  # every session empty
    with path.open("wb") as f:
        np.savez(f, allow_pickle=False, **arrays)
    assert calendar._read_table(path) is None
    calendar._load.cache_clear()
    assert calendar._load("XNYS") == built


def test_no_disk_cache_when_turned_off_or_unwritable(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch, restore_caches: None
) -> None:
    _fresh(monkeypatch, "")
    assert calendar.cache_dir() is None
    assert TradingCalendar("XNYS").is_trading_day(dt.date(2024, 11, 29))
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    _fresh(monkeypatch, str(blocker))  # a file where the directory should be: cannot write
    assert TradingCalendar("XNYS").is_trading_day(dt.date(2024, 11, 29))
    assert blocker.read_text() == "x"


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(-8000, 25000), min_size=0, max_size=40))
def test_session_bounds_agrees_with_session_day_by_day(days: list[int]) -> None:
    """The vectorised lookup the bar feeds use gives each day's session, or not found (a
    weekend, a holiday, a day outside the calendar's span)."""
    nyse = TradingCalendar("XNYS")
    opens, closes, found = nyse.session_bounds(np.array(days, np.int64))
    for n, o, c, f in zip(days, opens.tolist(), closes.tolist(), found.tolist(), strict=True):
        day = dt.date(1970, 1, 1) + dt.timedelta(days=n)
        inside = calendar.FIRST_DAY <= day <= calendar.LAST_DAY
        s = nyse.session(day) if inside else None
        assert f == (s is not None)
        assert (o, c) == ((s.open_ns, s.close_ns) if s is not None else (0, 0))


_TOKYO_DAY = ns(2012, 3, 2, 0)


@settings(max_examples=150)
@given(
    st.lists(
        st.integers(_TOKYO_DAY - 3_600 * 10**9, _TOKYO_DAY + 30 * 3_600 * 10**9)
        | st.sampled_from(
            [ns(2012, 3, 2, 2, 30), ns(2012, 3, 2, 3, 30), ns(2012, 3, 2, 3, 30) - 1]
        ),
        min_size=1,
        max_size=20,
    )
)
def test_is_open_remembers_its_last_stretch_without_changing_answers(times: list[int]) -> None:
    """One calendar asked in sequence (its last open stretch remembered, a lunch break splitting
    the session) answers every time as a new calendar asked once does."""
    tokyo = TradingCalendar("XTKS")
    for t in times:
        assert tokyo.is_open(t) == TradingCalendar("XTKS").is_open(t)
    with pytest.raises(SimulationError, match="t_ns"):
        tokyo.is_open(float(times[-1]))  # type: ignore[arg-type]
