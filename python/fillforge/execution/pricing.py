"""Pricing a child order: a static offset from the mid, an adaptive offset that follows the
spread and widens when volatility runs high, realised volatility over a stated window, and
time-of-day multipliers set relative to the venue's session, and :class:`TimeOfDayPricing`, a
worker ``pricing`` callable that scales a static or adaptive offset by the multiplier now.

Prices and offsets are exact ``Decimal`` (offsets in basis points of the mid); realised
volatility is a statistic, a float. A bad parameter is an
:class:`~fillforge.errors.ExecutionError` naming the field and the value.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import pairwise
from typing import Final, Literal, Protocol

from fillforge.broker import Broker
from fillforge.broker.models import Quote
from fillforge.errors import ExecutionError
from fillforge.execution.callbacks import clock_of
from fillforge.execution.parent import ParentOrder
from fillforge.execution.schedules import _decimal, _int, _non_negative, _positive
from fillforge.orders.enums import OrderSide
from fillforge.time import NS_PER_MINUTE, Clock

__all__ = [
    "BPS",
    "Offset",
    "SessionHours",
    "SessionWindow",
    "Sessions",
    "TimeOfDayPricing",
    "TimeOfDayTable",
    "adaptive_offset",
    "quote_mid",
    "realised_vol",
    "reference_price",
    "spread_bps",
    "static_limit",
]

BPS: Final = Decimal(10_000)
"""Basis points in one."""


_SIDES: Final = {"buy": OrderSide.BUY, "sell": OrderSide.SELL}


def _side(side: object) -> OrderSide:
    found = _SIDES.get(side) if isinstance(side, str) else None
    if found is None:
        raise ExecutionError("side", side, "must be 'buy' or 'sell'")
    return found


def static_limit(
    mid: Decimal, side: OrderSide | str, offset_bps: Decimal, tick: Decimal
) -> Decimal:
    """The limit ``offset_bps`` away from ``mid`` on the passive side (below it for a buy, above
    for a sell), rounded to ``tick`` in the protective direction: a buy rounds down (it never
    pays more than the offset says), a sell rounds up. A buy offset that leaves no price of at
    least one tick is refused."""
    m = _positive(mid, "mid")
    s = _side(side)
    off = _non_negative(offset_bps, "offset_bps")
    t = _positive(tick, "tick")
    buy = s is OrderSide.BUY
    try:  # whole ticks in mid * (1 -/+ offset) exactly: floor for a buy, ceiling for a sell
        steps, rest = divmod(m * (BPS - off if buy else BPS + off), BPS * t)
    except ArithmeticError:
        raise ExecutionError("mid", mid, f"too many digits for the tick {t}") from None
    if not buy and rest:
        steps += 1
    if steps < 1:
        raise ExecutionError("offset_bps", offset_bps, f"leaves no buy price from mid {m}")
    return steps * t


def quote_mid(q: Quote | None) -> Decimal | None:
    """:attr:`Quote.mid <fillforge.broker.models.Quote.mid>` of a quote that may be missing
    (``latest_quote`` before any data): None then, or when it is one-sided."""
    return None if q is None else q.mid


def reference_price(broker: Broker, symbol: str) -> Decimal | None:
    """``symbol``'s price now at ``broker``: the last trade's, else the quote's mid (None:
    neither is known)."""
    t = broker.last_trade(symbol)
    return t.price if t is not None else quote_mid(broker.latest_quote(symbol))


def spread_bps(bid: Decimal, ask: Decimal) -> Decimal:
    """The quoted spread in basis points of the mid (``(ask - bid) / mid``); a crossed quote is
    refused."""
    b, a = _positive(bid, "bid"), _positive(ask, "ask")
    if a < b:
        raise ExecutionError("ask", ask, f"below the bid {b}")
    return (a - b) * 2 * BPS / (a + b)


def adaptive_offset(
    base_bps: Decimal,
    spread: Decimal,
    spread_fraction: Decimal,
    vol: Decimal | float,
    normal_vol: Decimal | float,
    widen: Decimal,
) -> Decimal:
    """The offset in bps: ``max(base_bps, spread_fraction * spread)`` (``spread`` in bps, see
    :func:`spread_bps`), times ``widen`` (>= 1) when the realised volatility ``vol`` is above
    its ``normal_vol``."""
    base = _non_negative(base_bps, "base_bps")
    width = _non_negative(spread, "spread")
    fraction = _non_negative(spread_fraction, "spread_fraction")
    now = _non_negative(vol, "vol")
    normal = _positive(normal_vol, "normal_vol")
    factor = _decimal(widen, "widen")
    if factor < 1:
        raise ExecutionError("widen", widen, "must be >= 1")
    offset = max(base, fraction * width)
    return offset * factor if now > normal else offset


def realised_vol(
    values: Sequence[Decimal | float | int], window: int, *, returns: bool = False
) -> float:
    """The realised volatility over the last ``window`` returns: ``sqrt(mean(r**2))``, per step
    of the input (not annualised; scale by ``sqrt(steps per period)``). ``values`` are prices
    (trade prices, bar closes, ticks: any positive scale), from which the log returns of the
    last ``window + 1`` are taken, or with ``returns=True`` the returns themselves. Fewer values
    than the window needs are refused."""
    n = _int(window, "window", 1)
    need = n if returns else n + 1
    if len(values) < need:
        raise ExecutionError("values", len(values), f"needs at least {need} for window={n}")
    tail = [float(v) for v in values[len(values) - need :]]
    if not returns:
        bad = [v for v in tail if not 0 < v < math.inf]  # NaN is bad too
        if bad:
            raise ExecutionError("values", bad[0], "prices must be positive and finite")
        tail = [math.log(b / a) for a, b in pairwise(tail)]
    total = math.fsum(r * r for r in tail)
    if not math.isfinite(total):
        raise ExecutionError("values", total, "must be finite")
    return math.sqrt(total / n)


# ----- time of day -----------------------------------------------------------------------------


class SessionHours(Protocol):
    """A session's open and close (UTC epoch ns): :class:`fillforge.sim.Session` and
    :class:`fillforge.venues.rules.DayHours` are ones."""

    @property
    def open_ns(self) -> int: ...

    @property
    def close_ns(self) -> int: ...


class Sessions(Protocol):
    """A venue calendar: :class:`fillforge.sim.TradingCalendar` is one."""

    def session_at(self, t_ns: int) -> SessionHours | None: ...


@dataclass(frozen=True, slots=True)
class SessionWindow:
    """A stretch of the session, in minutes from the open or before the close, and its
    multiplier. ``anchor="open"``: ``[open + start_min, open + end_min)``, ``start_min <
    end_min``. ``anchor="close"``: ``[close - start_min, close - end_min)``, ``start_min >
    end_min`` (``("close", 30, 0)`` is the last half hour). An early close moves the windows set
    from the close with it."""

    anchor: Literal["open", "close"]
    start_min: int
    end_min: int
    multiplier: Decimal

    def __post_init__(self) -> None:
        if self.anchor not in ("open", "close"):
            raise ExecutionError("anchor", self.anchor, "must be 'open' or 'close'")
        start = _int(self.start_min, "start_min", 0)
        end = _int(self.end_min, "end_min", 0)
        if (start >= end) if self.anchor == "open" else (start <= end):
            order = "before" if self.anchor == "open" else "more minutes before the close than"
            raise ExecutionError("start_min", start, f"must come {order} end_min={end}")
        object.__setattr__(self, "multiplier", _non_negative(self.multiplier, "multiplier"))

    def bounds(self, hours: SessionHours) -> tuple[int, int]:
        """``[from, to)`` in UTC epoch ns for this session, kept inside it."""
        if self.anchor == "open":
            lo = hours.open_ns + self.start_min * NS_PER_MINUTE
            hi = hours.open_ns + self.end_min * NS_PER_MINUTE
        else:
            lo = hours.close_ns - self.start_min * NS_PER_MINUTE
            hi = hours.close_ns - self.end_min * NS_PER_MINUTE
        return max(lo, hours.open_ns), min(hi, hours.close_ns)


@dataclass(frozen=True, slots=True)
class TimeOfDayTable:
    """Multipliers by session window (on an offset, a child size, a participation rate); the
    first window holding the time wins, and ``default`` applies elsewhere and outside sessions.
    The session comes from the venue calendar, so holidays and early closes come with it."""

    windows: tuple[SessionWindow, ...]
    default: Decimal = field(default=Decimal(1))

    def __post_init__(self) -> None:
        windows = tuple(self.windows)
        for i, w in enumerate(windows):
            if not isinstance(w, SessionWindow):
                raise ExecutionError(f"windows[{i}]", w, "expected a SessionWindow")
        object.__setattr__(self, "windows", windows)
        object.__setattr__(self, "default", _non_negative(self.default, "default"))

    def multiplier(self, t_ns: int, hours: SessionHours | None) -> Decimal:
        """The multiplier at ``t_ns`` in the session ``hours`` (None: no session, the
        default)."""
        if hours is None or not hours.open_ns <= t_ns < hours.close_ns:
            return self.default
        for w in self.windows:
            lo, hi = w.bounds(hours)
            if lo <= t_ns < hi:
                return w.multiplier
        return self.default

    def multiplier_at(self, t_ns: int, calendar: Sessions) -> Decimal:
        """The multiplier at ``t_ns`` in whichever of the calendar's sessions holds it."""
        return self.multiplier(t_ns, calendar.session_at(t_ns))


Offset = Callable[[Broker, ParentOrder], Decimal]
"""An offset in bps worked out from the market when a child is priced (an adaptive offset)."""


class TimeOfDayPricing:
    """A worker ``pricing`` callable (``ParentWorker(pricing=...)``): the limit
    :func:`static_limit` puts ``offset * m`` bps on the passive side of the mid, where ``m`` is
    ``table``'s multiplier at the broker's time in ``calendar``'s session. ``offset_bps`` is a
    fixed offset, or an :data:`Offset` callable asked each time (an adaptive offset). With no
    two-sided quote there is no mid, and the price is None (market, as the near touch does).

    The time is ``clock`` when given, else the broker's own (:func:`clock_of`), never the wall
    clock. Each decision is kept in ``decisions`` as ``(t_ns, offset, multiplier, price)``.
    """

    __slots__ = ("_clock", "calendar", "decisions", "offset_bps", "table", "tick")

    def __init__(
        self,
        table: TimeOfDayTable,
        calendar: Sessions,
        tick: Decimal,
        offset_bps: Decimal | Offset,
        *,
        clock: Clock | None = None,
    ) -> None:
        if not isinstance(table, TimeOfDayTable):
            raise ExecutionError("table", table, "expected a TimeOfDayTable")
        if not callable(getattr(calendar, "session_at", None)):
            raise ExecutionError("calendar", calendar, "expected a calendar with session_at")
        self.table = table
        self.calendar = calendar
        self.tick = _positive(tick, "tick")
        self.offset_bps: Decimal | Offset = (
            offset_bps if callable(offset_bps) else _non_negative(offset_bps, "offset_bps")
        )
        self._clock = clock
        self.decisions: list[tuple[int, Decimal, Decimal, Decimal]] = []

    def __call__(self, broker: Broker, parent: ParentOrder) -> Decimal | None:
        mid = quote_mid(broker.latest_quote(parent.symbol))
        if mid is None:
            return None
        base = self.offset_bps
        offset = _non_negative(base(broker, parent), "offset_bps") if callable(base) else base
        now = clock_of(broker, self._clock)()
        m = self.table.multiplier_at(now, self.calendar)
        price = static_limit(mid, parent.side, offset * m, self.tick)
        self.decisions.append((now, offset, m, price))
        return price
