"""Pricing a child (issue 16, "Pricing"): the static limit rounds to the tick in the protective
direction, exactly; the adaptive offset follows the spread and widens when realised volatility
runs above normal; realised volatility is taken over the stated window; the time-of-day table's
windows are set from the venue calendar's session, so an early close moves them; the
time-of-day pricing prices the same parent on a SimulatedBroker differently in the opening window,
mid-day and the closing window, and on an early close its closing window moves."""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fillforge.broker import Broker
from fillforge.errors import ExecutionError
from fillforge.execution.parent import ParentOrder
from fillforge.execution.pricing import (
    BPS,
    SessionWindow,
    TimeOfDayPricing,
    TimeOfDayTable,
    adaptive_offset,
    quote_mid,
    realised_vol,
    reference_price,
    spread_bps,
    static_limit,
)
from fillforge.execution.schedules import Slice
from fillforge.execution.worker import ParentWorker
from fillforge.orders.enums import OrderSide
from fillforge.orders.models import Instrument
from fillforge.sim.broker import SimulatedBroker
from fillforge.sim.calendar import TradingCalendar
from fillforge.sim.feeds import empty_feed
from fillforge.sim.venue import Venue
from fillforge.time import NS_PER_MINUTE, from_iso

D = Decimal
C = D("0.01")

# ----- static limit ------------------------------------------------------------------------------


def test_a_buy_rounds_down_and_a_sell_rounds_up_to_the_tick() -> None:
    # 100.005 x (1 -/+ 0.001) = 99.904995 / 100.105005
    assert static_limit(D("100.005"), "buy", D(10), C) == D("99.90")
    assert static_limit(D("100.005"), "sell", D(10), C) == D("100.11")
    # on the grid already: no rounding either way
    assert static_limit(D(100), "buy", D(25), C) == D("99.75")
    assert static_limit(D(100), "sell", D(25), C) == D("100.25")
    # no offset: a buy at the mid rounded down, a sell rounded up
    assert static_limit(D("10.005"), "buy", D(0), C) == D("10.00")
    assert static_limit(D("10.005"), "sell", D(0), C) == D("10.01")
    assert static_limit(D("4321.3"), "buy", D(7), D("0.25")) == D("4318.25")  # 4318.27...


@given(
    mid_ticks=st.integers(2, 10**7),
    half=st.booleans(),
    offset=st.decimals(0, 500, places=2),
    tick=st.sampled_from([D("0.01"), D("0.0001"), D("0.25"), D(5), D("0.5")]),
    side=st.sampled_from(["buy", "sell"]),
)
def test_the_static_limit_is_the_nearest_tick_on_the_protective_side(
    mid_ticks: int, half: bool, offset: Decimal, tick: Decimal, side: str
) -> None:
    mid = mid_ticks * tick + (tick / 2 if half else 0)
    price = static_limit(mid, side, offset, tick)
    exact = mid * (1 - offset / BPS) if side == "buy" else mid * (1 + offset / BPS)
    assert type(price) is Decimal
    assert price % tick == 0
    if side == "buy":
        assert exact - tick < price <= exact
    else:
        assert exact <= price < exact + tick


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ((D(100), "buy", D(-1), C), "offset_bps"),
        ((D(100), "hold", D(1), C), "side"),
        ((D(0), "buy", D(1), C), "mid"),
        ((D(100), "sell", D(1), D(0)), "tick"),
        ((D("0.01"), "buy", D(9_999), C), "offset_bps"),  # no price of a tick left
        ((D("NaN"), "buy", D(1), C), "mid"),
    ],
)
def test_static_limit_refuses_bad_parameters(args: tuple[Any, ...], field: str) -> None:
    with pytest.raises(ExecutionError) as e:
        static_limit(*args)
    assert e.value.field == field


# ----- adaptive offset ---------------------------------------------------------------------------


def test_the_adaptive_offset_is_the_larger_of_the_base_and_the_spread_share() -> None:
    # 10 bps spread: half of it is 5, above a 2 bps base
    assert adaptive_offset(D(2), D(10), D("0.5"), 0.01, 0.02, D(2)) == D(5)
    # a 2 bps spread: a quarter of it is below the base, the base holds
    assert adaptive_offset(D(2), D(2), D("0.25"), 0.01, 0.02, D(2)) == D(2)


def test_the_adaptive_offset_widens_only_when_volatility_runs_above_normal() -> None:
    args = (D(2), D(10), D("0.5"))
    assert adaptive_offset(*args, vol=0.03, normal_vol=0.02, widen=D("1.5")) == D("7.5")
    assert adaptive_offset(*args, vol=0.02, normal_vol=0.02, widen=D("1.5")) == D(5)
    assert adaptive_offset(*args, vol=D("0.019"), normal_vol=D("0.02"), widen=D(3)) == D(5)


def test_the_adaptive_offset_follows_a_widening_spread_and_a_volatility_burst() -> None:
    """A scripted market: the spread widens from 1 to 20 bps, then volatility doubles; the
    offset stays at the base, follows the spread, then widens by the factor."""
    prices = [D(100) + D(i % 2) * D("0.01") for i in range(21)]  # calm: 1 cent back and forth
    calm = realised_vol(prices, 20)
    burst = [*prices, D(101), D(99), D(101), D(99)]
    normal = calm * 2
    offsets = [
        adaptive_offset(D(3), spread_bps(bid, ask), D("0.5"), realised_vol(p, 20), normal, D(2))
        for bid, ask, p in [
            (D("99.995"), D("100.005"), prices),  # 1 bps: the base
            (D("99.90"), D("100.10"), prices),  # 20 bps: half of it
            (D("99.90"), D("100.10"), burst),  # and volatile: doubled
        ]
    ]
    assert offsets == [D(3), D(10), D(20)]


def test_spread_bps_is_the_spread_over_the_mid() -> None:
    assert spread_bps(D("99.99"), D("100.01")) == D(2)
    assert spread_bps(D(100), D(100)) == 0
    with pytest.raises(ExecutionError) as e:
        spread_bps(D("100.02"), D("100.01"))
    assert (e.value.field, e.value.value) == ("ask", D("100.01"))


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"base_bps": D(-1)}, "base_bps"),
        ({"spread": D(-1)}, "spread"),
        ({"spread_fraction": D("-0.1")}, "spread_fraction"),
        ({"vol": -0.1}, "vol"),
        ({"normal_vol": 0}, "normal_vol"),
        ({"widen": D("0.5")}, "widen"),
    ],
)
def test_adaptive_offset_refuses_bad_parameters(kwargs: dict[str, Any], field: str) -> None:
    args: dict[str, Any] = {
        "base_bps": D(1),
        "spread": D(4),
        "spread_fraction": D("0.5"),
        "vol": 0.01,
        "normal_vol": 0.01,
        "widen": D(2),
    }
    with pytest.raises(ExecutionError) as e:
        adaptive_offset(**(args | kwargs))
    assert e.value.field == field


# ----- realised volatility -----------------------------------------------------------------------


def test_realised_vol_is_the_root_mean_square_log_return_over_the_window() -> None:
    up = math.log(1.01)
    prices = [D(100), D(101), D("102.01"), D("103.0301")]  # +1% each step
    assert realised_vol(prices, 3) == pytest.approx(up)
    assert realised_vol([1, 2, 1, 2, 1], 4) == pytest.approx(math.log(2))
    assert realised_vol([0.01, -0.03], 2, returns=True) == pytest.approx(math.sqrt(0.0005))


def test_realised_vol_looks_only_at_the_stated_window() -> None:
    quiet_after_storm = [100, 150, 50, 150, 100, 100, 100, 100]
    assert realised_vol(quiet_after_storm, 3) == 0
    assert realised_vol(quiet_after_storm, 4) > 0
    ticks = [10_000, 10_100, 10_000]  # ticks or prices: the same returns
    assert realised_vol(ticks, 2) == pytest.approx(realised_vol([D(100), D(101), D(100)], 2))


@pytest.mark.parametrize(
    ("args", "kwargs", "field"),
    [
        (([D(1), D(2)], 2), {}, "values"),  # 2 prices: one return, the window wants 2
        (([0.1], 2), {"returns": True}, "values"),
        (([D(1), D(0)], 1), {}, "values"),
        (([1.0, math.inf, 2.0], 2), {}, "values"),
        (([1.0, math.nan, 2.0], 2), {}, "values"),
        (([0.1, math.nan], 2), {"returns": True}, "values"),
        (([D(1), D(2)], 0), {}, "window"),
    ],
)
def test_realised_vol_refuses_bad_parameters(
    args: tuple[Any, ...], kwargs: dict[str, Any], field: str
) -> None:
    with pytest.raises(ExecutionError) as e:
        realised_vol(*args, **kwargs)
    assert e.value.field == field


# ----- time of day -------------------------------------------------------------------------------

XNYS = TradingCalendar("XNYS")
TABLE = TimeOfDayTable(
    (
        SessionWindow("open", 0, 15, D(2)),  # the first quarter hour
        SessionWindow("close", 30, 10, D("1.5")),  # 30 to 10 minutes before the close
        SessionWindow("close", 10, 0, D(0)),  # the last ten minutes: nothing
    ),
    default=D(1),
)


def test_windows_are_set_from_the_open_and_the_close_of_a_full_day() -> None:
    day = "2024-11-27"  # a Wednesday, 09:30-16:00 New York
    at = {
        "09:30": D(2),
        "09:44": D(2),
        "09:45": D(1),
        "12:00": D(1),
        "15:29": D(1),
        "15:30": D("1.5"),
        "15:49": D("1.5"),
        "15:50": D(0),
        "15:59": D(0),
        "16:00": D(1),  # closed: the default
        "09:29": D(1),
    }
    got = {hhmm: TABLE.multiplier_at(from_iso(f"{day}T{hhmm}:00-05:00"), XNYS) for hhmm in at}
    assert got == at


def test_an_early_close_moves_the_windows_set_from_the_close() -> None:
    day = "2024-11-29"  # the day after Thanksgiving: XNYS closes at 13:00
    session = XNYS.session_at(from_iso(f"{day}T10:00:00-05:00"))
    assert session is not None
    assert session.early_close
    at = {
        "09:30": D(2),  # the open is where it always is
        "12:29": D(1),
        "12:30": D("1.5"),
        "12:50": D(0),
        "13:00": D(1),  # closed
        "15:30": D(1),  # a full day's window: closed today
        "15:55": D(1),
    }
    got = {hhmm: TABLE.multiplier_at(from_iso(f"{day}T{hhmm}:00-05:00"), XNYS) for hhmm in at}
    assert got == at


def test_a_day_without_a_session_and_no_session_give_the_default() -> None:
    assert TABLE.multiplier_at(from_iso("2024-11-28T10:00:00-05:00"), XNYS) == D(1)  # Thanksgiving
    assert TABLE.multiplier(from_iso("2024-11-27T09:31:00-05:00"), None) == D(1)


def test_the_first_window_holding_the_time_wins_and_windows_stay_inside_the_session() -> None:
    session = XNYS.session_at(from_iso("2024-11-29T10:00:00-05:00"))
    overlap = TimeOfDayTable(
        (SessionWindow("open", 0, 600, D(3)), SessionWindow("open", 0, 30, D(4)))
    )
    assert overlap.multiplier(from_iso("2024-11-29T09:40:00-05:00"), session) == D(3)
    assert session is not None
    assert SessionWindow("open", 0, 600, D(3)).bounds(session) == (
        session.open_ns,
        session.close_ns,
    )
    assert SessionWindow("close", 30, 0, D(1)).bounds(session) == (
        session.close_ns - 30 * NS_PER_MINUTE,
        session.close_ns,
    )


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (("noon", 0, 5, D(1)), "anchor"),
        (("open", 15, 5, D(1)), "start_min"),
        (("close", 5, 15, D(1)), "start_min"),
        (("open", -1, 5, D(1)), "start_min"),
        (("open", 0, 5, D(-1)), "multiplier"),
    ],
)
def test_session_windows_refuse_bad_parameters(args: tuple[Any, ...], field: str) -> None:
    with pytest.raises(ExecutionError) as e:
        SessionWindow(*args)
    assert e.value.field == field


# ----- time-of-day pricing ---------------------------------------------------------------------

INST = Instrument(symbol="X", tick_size=C)


def _ny(day: str, hhmm: str) -> int:
    return from_iso(f"{day}T{hhmm}:00-05:00")


def _sim(day: str) -> SimulatedBroker:
    """The simulated broker on the venue's real XNYS calendar, a 99.98/100.02 quote (mid 100)."""
    venue = Venue("V", calendar="XNYS")
    venue.add(INST, empty_feed())
    b = SimulatedBroker(venue, cash=D(10_000_000), start_ns=_ny(day, "09:30"))
    b.quote("X", D("99.98"), D("100.02"), bid_size=D(1_000), ask_size=D(1_000))
    return b


def _buy(day: str, end: str, qty: int = 100) -> ParentOrder:
    return ParentOrder(
        parent_id="P",
        symbol="X",
        side=OrderSide.BUY,
        qty=D(qty),
        start_ns=_ny(day, "09:30"),
        end_ns=_ny(day, end),
    )


@pytest.mark.parametrize(
    ("day", "close", "sent"),
    [
        # A full day: 10 bp below the mid mid-day, x2 in the first quarter hour, x1.5 from 30 to
        # 10 minutes before the 16:00 close, x0 (at the mid) in the last ten minutes.
        (
            "2024-11-27",
            "16:00",
            {
                "09:35": "99.80",
                "12:00": "99.90",
                "12:45": "99.90",
                "15:45": "99.85",
                "15:55": "100.00",
            },
        ),
        # The day after Thanksgiving closes at 13:00: 12:45 is in the closing window now.
        (
            "2024-11-29",
            "13:00",
            {"09:35": "99.80", "12:00": "99.90", "12:45": "99.85", "12:55": "100.00"},
        ),
    ],
)
def test_a_worker_prices_the_same_parent_by_the_time_of_day(
    day: str, close: str, sent: dict[str, str]
) -> None:
    b = _sim(day)
    times = [_ny(day, hhmm) for hhmm in sent]
    parent = _buy(day, close, qty=100 * len(times))

    def at_those_times(qty: Decimal, start: int, end: int, lot: Decimal) -> list[Slice]:
        return [Slice(t, D(100)) for t in times]

    assert b.venue.calendar is not None
    pricing = TimeOfDayPricing(TABLE, b.venue.calendar, C, D(10))
    worker = ParentWorker(b, parent, INST, schedule=at_those_times, pricing=pricing)
    worker.start()
    b.run(until_ns=times[-1] + 1)
    got = {o.created_ts: o.limit_price for o in worker.children}
    assert got == {t: D(p) for t, p in zip(times, sent.values(), strict=True)}
    assert [t for t, _, _, _ in pricing.decisions] == times  # the broker's clock, not the wall
    worker.close()


def test_the_multiplier_scales_an_adaptive_offset_asked_at_each_price() -> None:
    day = "2024-11-27"
    b = _sim(day)
    asked: list[int] = []

    def half_the_spread(broker: Broker, parent: ParentOrder) -> Decimal:
        q = broker.latest_quote(parent.symbol)
        assert q is not None
        assert q.bid_price is not None
        assert q.ask_price is not None
        asked.append(b.now())
        return spread_bps(q.bid_price, q.ask_price) / 2  # 4 bp / 2 = 2 bp

    assert b.venue.calendar is not None
    pricing = TimeOfDayPricing(TABLE, b.venue.calendar, C, half_the_spread)
    sell = _buy(day, "16:00").model_copy(update={"side": OrderSide.SELL})
    assert pricing(b, sell) == D("100.04")  # 09:30: 2 bp x 2 above the mid
    b.run(until_ns=_ny(day, "12:00"))
    assert pricing(b, sell) == D("100.02")  # mid-day: 2 bp
    b.quote("X", D("99.90"), D("100.10"))  # the spread widens to 20 bp: 10 bp offset
    b.run(until_ns=_ny(day, "15:40"))
    assert pricing(b, sell) == D("100.15")  # 10 bp x 1.5
    assert asked == [_ny(day, "09:30"), _ny(day, "12:00"), _ny(day, "15:40")]
    assert [(o, m) for _, o, m, _ in pricing.decisions] == [
        (D(2), D(2)),
        (D(2), D(1)),
        (D(10), D("1.5")),
    ]


def test_no_two_sided_quote_prices_at_market() -> None:
    b = _sim("2024-11-27")
    b.quote("X", None, D("100.02"))
    assert b.venue.calendar is not None
    pricing = TimeOfDayPricing(TABLE, b.venue.calendar, C, D(10))
    assert pricing(b, _buy("2024-11-27", "16:00")) is None
    assert pricing.decisions == []


def test_the_reference_price_is_the_last_trade_else_the_two_sided_mid() -> None:
    b = _sim("2024-11-27")
    assert quote_mid(b.latest_quote("X")) == D(100)
    assert reference_price(b, "X") == D(100)  # no print yet: the mid
    b.quote("X", None, D("100.02"))
    assert quote_mid(b.latest_quote("X")) is None
    assert quote_mid(None) is None
    assert reference_price(b, "X") is None  # neither a print nor a two-sided quote
    b.trade("X", D("100.01"), D(10))
    assert reference_price(b, "X") == D("100.01")  # a print wins over any quote
    b.quote("X", D("99.90"), D("100.10"))
    assert reference_price(b, "X") == D("100.01")


def _negative(broker: Broker, parent: ParentOrder) -> Decimal:
    return D(-1)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"table": "TABLE"}, "table"),
        ({"calendar": object()}, "calendar"),
        ({"tick": D(0)}, "tick"),
        ({"offset_bps": D(-1)}, "offset_bps"),
        ({"offset_bps": D("NaN")}, "offset_bps"),
    ],
)
def test_time_of_day_pricing_refuses_bad_parameters(kwargs: dict[str, Any], field: str) -> None:
    args: dict[str, Any] = {"table": TABLE, "calendar": XNYS, "tick": C, "offset_bps": D(10)}
    with pytest.raises(ExecutionError) as e:
        TimeOfDayPricing(**(args | kwargs))
    assert e.value.field == field


def test_a_negative_adaptive_offset_is_refused_when_asked() -> None:
    b = _sim("2024-11-27")
    pricing = TimeOfDayPricing(TABLE, XNYS, C, _negative)
    with pytest.raises(ExecutionError) as e:
        pricing(b, _buy("2024-11-27", "16:00"))
    assert e.value.field == "offset_bps"
    assert pricing.decisions == []
