"""Account activities and portfolio history: Alpaca's query rules over the simulated account.

:func:`activities` lists what moved the account (Alpaca's ``FILL`` trade activities, the ``FEE``
charged on each fill, the initial cash as a ``CSD`` deposit) and :func:`select_activities` applies
``GET /v2/account/activities``'s filters and paging; :func:`portfolio_history` turns an
:class:`~fillforge.alpaca.account_state.EquityHistory` into ``GET
/v2/account/portfolio/history``'s series. Every bad parameter raises
:class:`~fillforge.errors.OrderValidationError` naming it.
"""

from __future__ import annotations

import calendar as _cal
import datetime as dt
import re
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final
from zoneinfo import ZoneInfo

from fillforge.alpaca import wire
from fillforge.alpaca.account_state import EquityHistory
from fillforge.errors import OrderValidationError
from fillforge.orders.enums import OrderStatus
from fillforge.sim.broker import SimulatedBroker
from fillforge.sim.calendar import FIRST_DAY, LAST_DAY, TradingCalendar
from fillforge.time import NS_PER_SECOND, from_datetime, to_datetime

__all__ = [
    "ACTIVITY_TYPES",
    "Activity",
    "ActivityQuery",
    "HistoryQuery",
    "activities",
    "parse_activity_types",
    "portfolio_history",
    "select_activities",
    "zone_of",
]

# Alpaca's activity types (alpaca-py 0.44's ActivityType).
ACTIVITY_TYPES: Final = (
    "FILL",
    "ACATC",
    "ACATS",
    "CFEE",
    "CIL",
    "CSD",
    "CSW",
    "DIV",
    "DIVCGL",
    "DIVCGS",
    "DIVNRA",
    "DIVROC",
    "DIVTXEX",
    "DIVWH",
    "EXTRD",
    "FEE",
    "FXTRD",
    "INT",
    "INTPNL",
    "JNLC",
    "JNLS",
    "MA",
    "MEM",
    "NC",
    "OCT",
    "OPASN",
    "OPCSH",
    "OPEXC",
    "OPEXP",
    "OPTRD",
    "PTC",
    "REORG",
    "SPIN",
    "SPLIT",
    "SWP",
    "VOF",
    "WH",
)
_TRADE: Final = frozenset({"FILL"})
_LO_NS: Final = from_datetime(dt.datetime.combine(FIRST_DAY, dt.time(), tzinfo=dt.UTC))
_HI_NS: Final = from_datetime(dt.datetime.combine(LAST_DAY, dt.time(23, 59), tzinfo=dt.UTC))


def _bad(field: str, value: object, why: str) -> OrderValidationError:
    return OrderValidationError(field, value, why)


def _time(v: str | None, field: str, tz: dt.tzinfo) -> int | None:
    """An RFC 3339 time (UTC without an offset) or a date (its midnight in ``tz``), in ns,
    held to the days the calendars cover."""
    if v is not None and len(v) == 10:
        return _midnight(_date(v, field), tz)
    ns = wire.query_time(v, field)
    return None if ns is None else min(max(ns, _LO_NS), _HI_NS)


def _date(v: str, field: str) -> dt.date:
    if len(v) != 10:
        raise _bad(field, v, "expected a date, YYYY-MM-DD")
    try:
        return dt.date.fromisoformat(v)
    except ValueError:
        raise _bad(field, v, "expected a date, YYYY-MM-DD") from None


def _midnight(day: dt.date, tz: dt.tzinfo) -> int:
    return from_datetime(dt.datetime.combine(_clip(day), dt.time(), tzinfo=tz))


def _at(day: dt.date, hour: int, tz: dt.tzinfo) -> int:
    return from_datetime(dt.datetime.combine(day, dt.time(hour), tzinfo=tz))


def _local(ns: int, tz: dt.tzinfo) -> dt.datetime:
    return to_datetime(ns).astimezone(tz)


def zone_of(calendar: TradingCalendar | None) -> dt.tzinfo:
    """The calendar's time zone (New York without a calendar)."""
    return ZoneInfo(calendar.tz) if calendar is not None else ZoneInfo("America/New_York")


# ----- activities -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Activity:
    """One activity: ``key`` orders them (time, then the order they happened in)."""

    key: tuple[int, int, int]
    kind: str
    id: str
    body: dict[str, Any]


def _activity_id(ns: int, tz: dt.tzinfo, name: str) -> str:
    """Alpaca's ``<local time to the ms>::<uuid>`` id."""
    t = _local(ns, tz)
    return f"{t:%Y%m%d%H%M%S}{t.microsecond // 1000:03d}::{uuid.uuid5(uuid.NAMESPACE_URL, name)}"


def _trade_no(trade_id: str) -> int:
    tail = trade_id.rsplit("-", 1)[-1]
    return int(tail) if tail.isdigit() else 0


def activities(
    broker: SimulatedBroker, *, deposit_ns: int, deposit: Decimal, tz: dt.tzinfo
) -> list[Activity]:
    """Every activity of the account, oldest first: the deposit, then each fill (``FILL``) and
    the fee charged on it (``FEE``, when there was one)."""
    account = wire.ACCOUNT_ID
    out = [
        Activity(
            (deposit_ns, -1, 0),
            "CSD",
            _activity_id(deposit_ns, tz, f"fillforge/deposit/{deposit_ns}"),
            {
                "activity_type": "CSD",
                "account_id": account,
                "date": _local(deposit_ns, tz).date().isoformat(),
                "net_amount": wire.plain(deposit),
                "description": "initial deposit",
                "status": "executed",
            },
        )
    ]
    for o in broker.orders():
        cum = Decimal(0)
        for f in list(o.fills.values()):
            cum += f.qty
            done = o.order_qty > 0 and cum >= o.order_qty
            ts, n = f.ts_event, _trade_no(f.trade_id)
            out.append(
                Activity(
                    (ts, n, 0),
                    "FILL",
                    _activity_id(ts, tz, f.trade_id),
                    {
                        "activity_type": "FILL",
                        "account_id": account,
                        "transaction_time": wire.timestamp(ts),
                        "type": "fill" if done else "partial_fill",
                        "price": wire.plain(f.price),
                        "qty": wire.plain(f.qty),
                        "side": o.request.side.value,
                        "symbol": o.symbol,
                        "leaves_qty": wire.plain(max(o.order_qty - cum, Decimal(0))),
                        "order_id": o.id,
                        "cum_qty": wire.plain(cum),
                        "order_status": (
                            OrderStatus.FILLED if done else OrderStatus.PARTIALLY_FILLED
                        ).alpaca,
                    },
                )
            )
            if f.commission > 0:
                out.append(
                    Activity(
                        (ts, n, 1),
                        "FEE",
                        _activity_id(ts, tz, f"{f.trade_id}/fee"),
                        {
                            "activity_type": "FEE",
                            "account_id": account,
                            "date": _local(ts, tz).date().isoformat(),
                            "net_amount": wire.plain(-f.commission),
                            "description": (
                                f"fee on {wire.plain(f.qty)} {o.symbol} at {wire.plain(f.price)}"
                            ),
                            "status": "executed",
                            "symbol": o.symbol,
                            "qty": wire.plain(f.qty),
                            "price": wire.plain(f.price),
                        },
                    )
                )
    out.sort(key=lambda a: a.key)
    return out


def parse_activity_types(v: str | None, field: str = "activity_types") -> frozenset[str] | None:
    """A comma-separated list of Alpaca activity types (None: all)."""
    if v is None:
        return None
    kinds = v.split(",")
    for k in kinds:
        if k not in ACTIVITY_TYPES:
            raise _bad(field, v, f"invalid activity type: {k}")
    return frozenset(kinds)


@dataclass(frozen=True, slots=True)
class ActivityQuery:
    """``GET /v2/account/activities``'s filters and paging, as the client sent them (text)."""

    category: str | None = None
    date: str | None = None
    until: str | None = None
    after: str | None = None
    direction: str | None = None
    page_size: str | None = None
    page_token: str | None = None


def select_activities(
    every: list[Activity],
    *,
    tz: dt.tzinfo,
    kinds: frozenset[str] | None,
    query: ActivityQuery,
) -> list[dict[str, Any]]:
    """``GET /v2/account/activities``'s filters and paging over ``every`` (oldest first)."""
    category, date, until, after = query.category, query.date, query.until, query.after
    direction, page_size, page_token = query.direction, query.page_size, query.page_token
    if category is not None and category not in ("trade_activity", "non_trade_activity"):
        raise _bad("category", category, "expected trade_activity or non_trade_activity")
    if direction is not None and direction not in ("asc", "desc"):
        raise _bad("direction", direction, "expected asc or desc")
    day: dt.date | None = None
    if date:
        if until or after:
            raise _bad("date", date, "cannot be used with until or after")
        day = _date(date, "date") if len(date) == 10 else None
        if day is None:
            t = _time(date, "date", tz)
            assert t is not None
            day = _local(t, tz).date()
    hi, lo = _time(until, "until", tz), _time(after, "after", tz)
    size: int | None = None if date else 100
    if page_size is not None:
        try:
            size = int(page_size)
        except ValueError:
            raise _bad("page_size", page_size, "expected an integer") from None
        top = None if date else 100
        if size < 1 or (top is not None and size > top):
            raise _bad("page_size", page_size, "expected 1 to 100 (any size from 1 with date)")
    token: tuple[int, int, int] | None = None
    if page_token is not None:
        token = next((a.key for a in every if a.id == page_token), None)
        if token is None:
            raise _bad("page_token", page_token, "no activity has this id")
    desc = direction != "asc"
    keep = []
    for a in every:
        t = a.key[0]
        if kinds is not None and a.kind not in kinds:
            continue
        if category is not None and (a.kind in _TRADE) != (category == "trade_activity"):
            continue
        if day is not None and _local(t, tz).date() != day:
            continue
        if (hi is not None and t >= hi) or (lo is not None and t <= lo):
            continue
        if token is not None and (a.key >= token if desc else a.key <= token):
            continue
        keep.append(a)
    if desc:
        keep.reverse()
    if size is not None:
        keep = keep[:size]
    return [{"id": a.id, **a.body} for a in keep]


# ----- portfolio history ------------------------------------------------------------------------

_TIMEFRAMES: Final = {"1Min": 60, "5Min": 300, "15Min": 900, "1H": 3600, "1D": 0}
_PERIOD: Final = re.compile(r"([1-9][0-9]{0,3})([DWMA])")
_MAX_DAYS: Final = 3660  # ten years of daily points
_MAX_INTRADAY_DAYS: Final = 31  # a month
_REPORTING: Final = ("market_hours", "extended_hours", "continuous")
_RESETS: Final = ("per_day", "no_reset")


def _months_back(day: dt.date, months: int) -> dt.date:
    y, m = divmod(day.year * 12 + day.month - 1 - months, 12)
    return dt.date(y, m + 1, min(day.day, _cal.monthrange(y, m + 1)[1]))


def _bool(v: str | None, field: str) -> bool | None:
    if v is None:
        return None
    low = v.lower()
    if low in ("true", "1"):
        return True
    if low in ("false", "0"):
        return False
    raise _bad(field, v, "expected true or false")


@dataclass(frozen=True)
class HistoryQuery:
    """``GET /v2/account/portfolio/history``'s parameters, checked."""

    period: tuple[int, str] | None
    timeframe: str | None
    date_end: dt.date | None
    start_ns: int | None
    end_ns: int | None
    reporting: str
    pnl_reset: str
    cashflow_types: frozenset[str] | None

    @classmethod
    def parse(
        cls,
        *,
        period: str | None = None,
        timeframe: str | None = None,
        date_end: str | None = None,
        extended_hours: str | None = None,
        start: str | None = None,
        end: str | None = None,
        intraday_reporting: str | None = None,
        pnl_reset: str | None = None,
        cashflow_types: str | None = None,
        tz: dt.tzinfo,
    ) -> HistoryQuery:
        p = None
        if period is not None:
            m = _PERIOD.fullmatch(period)
            if m is None:
                raise _bad("period", period, "expected a number and D, W, M or A, such as 1M")
            p = (int(m.group(1)), m.group(2))
            if _approx_days(p) > _MAX_DAYS:
                raise _bad("period", period, f"at most {_MAX_DAYS} days")
        if timeframe is not None and timeframe not in _TIMEFRAMES:
            raise _bad("timeframe", timeframe, f"expected one of {', '.join(_TIMEFRAMES)}")
        ext = _bool(extended_hours, "extended_hours")
        if intraday_reporting is not None and intraday_reporting not in _REPORTING:
            raise _bad(
                "intraday_reporting", intraday_reporting, f"expected {', '.join(_REPORTING)}"
            )
        if pnl_reset is not None and pnl_reset not in _RESETS:
            raise _bad("pnl_reset", pnl_reset, f"expected one of {', '.join(_RESETS)}")
        flows = None
        if cashflow_types is not None and cashflow_types.upper() not in ("ALL", "NONE"):
            flows = parse_activity_types(cashflow_types, "cashflow_types")
        day_end = _date(date_end, "date_end") if date_end else None
        lo, hi = _time(start, "start", tz), _time(end, "end", tz)
        if day_end is not None and hi is not None:
            raise _bad("date_end", date_end, "cannot be used with end")
        if p is not None and lo is not None and (hi is not None or day_end is not None):
            raise _bad("period", period, "give at most two of start, end (or date_end), period")
        if lo is not None and hi is not None and lo >= hi:
            raise _bad("start", start, "must be before end")
        reporting = intraday_reporting or ("extended_hours" if ext else "market_hours")
        return cls(p, timeframe, day_end, lo, hi, reporting, pnl_reset or "per_day", flows)


def _approx_days(p: tuple[int, str]) -> int:
    n, unit = p
    return n * {"D": 1, "W": 7, "M": 31, "A": 366}[unit]


def _period_start(last: dt.date, p: tuple[int, str]) -> dt.date:
    n, unit = p
    if unit == "D":
        back = last - dt.timedelta(days=n)
    elif unit == "W":
        back = last - dt.timedelta(weeks=n)
    else:
        back = _months_back(last, n * (12 if unit == "A" else 1))
    return back + dt.timedelta(days=1)


def _period_end(first: dt.date, p: tuple[int, str]) -> dt.date:
    n, unit = p
    if unit == "D":
        return first + dt.timedelta(days=n - 1)
    if unit == "W":
        return first + dt.timedelta(weeks=n, days=-1)
    return _months_back(first, -n * (12 if unit == "A" else 1)) - dt.timedelta(days=1)


def _clip(day: dt.date) -> dt.date:
    return min(max(day, FIRST_DAY), LAST_DAY)


def portfolio_history(
    history: EquityHistory,
    calendar: TradingCalendar | None,
    now_ns: int,
    q: HistoryQuery,
) -> dict[str, Any]:
    """The equity and profit/loss series: one point per window of the timeframe (left-labelled,
    epoch seconds), each the equity at the window's end (now, for the window under way).

    Windows are the trading sessions (``market_hours``), 04:00-20:00 of each trading day
    (``extended_hours``) or whole days (``continuous``), cut into the timeframe; ``1D`` gives
    one point per trading day, labelled at its local midnight. Only windows since the history
    starts and up to now are given. Profit/loss is measured from the equity before the first
    window (``no_reset``, and always for ``1D``) or before each day's first window
    (``per_day``)."""
    tz = zone_of(calendar)
    # The range, [first day, last day] and [lo, hi) in ns.
    if q.end_ns is not None:
        hi = q.end_ns
    elif q.date_end is not None:
        hi = _midnight(q.date_end + dt.timedelta(days=1), tz)
    elif q.start_ns is not None and q.period is not None:
        first = _local(q.start_ns, tz).date()
        hi = _midnight(_clip(_period_end(first, q.period)) + dt.timedelta(days=1), tz)
    else:
        hi = now_ns + 1
    last_day = _clip(_local(hi - 1, tz).date())
    if q.start_ns is not None:
        lo = q.start_ns
    else:
        lo = _midnight(_clip(_period_start(last_day, q.period or (1, "M"))), tz)
    first_day = _clip(_local(lo, tz).date())
    days = (last_day - first_day).days + 1
    timeframe = q.timeframe or ("1Min" if days < 7 else "15Min" if days < 30 else "1D")
    step = _TIMEFRAMES[timeframe] * NS_PER_SECOND
    if step and days > _MAX_INTRADAY_DAYS:
        raise _bad("timeframe", timeframe, f"intraday covers at most {_MAX_INTRADAY_DAYS} days")
    if days > _MAX_DAYS + 1:
        raise _bad("start", q.start_ns, f"the range covers at most {_MAX_DAYS} days")
    hi = min(hi, now_ns + 1)
    since = history.start_ns

    # (day, window start, window end) for each window in range.
    windows: list[tuple[dt.date, int, int]] = []
    day = first_day
    while day <= last_day and days > 0:
        bounds = _day_bounds(day, calendar, tz, q.reporting if step else "market_hours")
        if bounds is not None:
            open_ns, close_ns = bounds
            if not step:
                open_ns, close_ns = _midnight(day, tz), _midnight(day + dt.timedelta(days=1), tz)
            a = open_ns
            while a < close_ns:
                b = min(a + step, close_ns) if step else close_ns
                if a < hi and b > lo and b > since:
                    windows.append((day, a, b))
                a = b
        day += dt.timedelta(days=1)

    per_day = bool(step) and q.pnl_reset == "per_day"
    stamps: list[int] = []
    equity: list[float] = []
    pnl: list[float] = []
    pct: list[float | None] = []
    base_value: Decimal | None = None
    base_day: dt.date | None = None
    base = Decimal(0)
    for d, a, b in windows:
        if base_value is None or (per_day and d != base_day):
            base, base_day = history.before(a), d
            if base_value is None:
                base_value = base
        e = history.before(min(b, now_ns + 1))
        stamps.append(a // NS_PER_SECOND)
        equity.append(float(e))
        pnl.append(float(e - base))
        pct.append(float((e - base) / base) if base else None)
    if base_value is None:
        base_value = history.before(min(hi, now_ns + 1))
    return {
        "timestamp": stamps,
        "equity": equity,
        "profit_loss": pnl,
        "profit_loss_pct": pct,
        "base_value": float(base_value),
        "timeframe": timeframe,
        "cashflow": {},
    }


def _day_bounds(
    day: dt.date, calendar: TradingCalendar | None, tz: dt.tzinfo, reporting: str
) -> tuple[int, int] | None:
    """The part of ``day`` a series covers, or None if it has none (not a trading day)."""
    whole = (_midnight(day, tz), _midnight(day + dt.timedelta(days=1), tz))
    if reporting == "continuous":
        return whole
    if calendar is None:
        return whole
    session = calendar.session(day)
    if session is None:
        return None
    if reporting == "extended_hours":
        return _at(day, 4, tz), max(_at(day, 20, tz), session.close_ns)
    return session.open_ns, session.close_ns
