"""Schedules: how a parent's quantity is cut into timed slices.

A schedule is a pure function of its parameters: no broker, no clock reads. Every schedule here
keeps the same promises, whatever its parameters:

* the slices sum to the parent's quantity exactly;
* every slice is a whole number of lots and at least the minimum child (``min_child``, one lot
  unless given). A share that would make a smaller child is merged into its neighbour: carried
  forward into the next slice, and the last one into the slice before it. A parent smaller than
  the minimum child is one slice of the whole quantity;
* no slice is due after the end; slices come in time order.

Quantities are ``Decimal`` multiples of ``lot``, times are int UTC epoch nanoseconds. A bad
parameter is an :class:`~fillforge.errors.ExecutionError` naming the field and the value, raised
before any slice is made.

The schedules: :func:`split` (a size threshold and a child size), :func:`twap` (equal slices),
:func:`vwap` (a volume profile learnt from bars by :func:`volume_profile`, with a participation
cap), :class:`Iceberg` and :func:`iceberg` (display sizing and its refill rule), and
:func:`almgren_chriss` (the implementation-shortfall trajectory of Almgren and Chriss, 2000).
POV reacts to volume rather than following a timetable: see :mod:`fillforge.execution.pov`.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from fractions import Fraction
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np

from fillforge._exact import to_decimal
from fillforge.errors import ExecutionError
from fillforge.marketdata.columns import Bars
from fillforge.time import NS_PER_DAY, NS_PER_MINUTE, to_datetime

__all__ = [
    "Iceberg",
    "Policy",
    "Slice",
    "VolumeProfile",
    "ac_holdings",
    "ac_kappa",
    "almgren_chriss",
    "iceberg",
    "parse_policy",
    "split",
    "twap",
    "volume_profile",
    "vwap",
]


@dataclass(frozen=True, slots=True)
class Slice:
    """``qty`` (a multiple of the lot size) to be worked from ``due_ns`` on."""

    due_ns: int
    qty: Decimal


class Policy(StrEnum):
    """The execution policies a parent order can be worked by (``fillforge execute --policy``)."""

    MARKET = "market"
    LIMIT = "limit"
    ADAPTIVE = "adaptive"
    TWAP = "twap"
    VWAP = "vwap"
    POV = "pov"
    ICEBERG = "iceberg"
    IS = "is"


def parse_policy(name: object) -> Policy:
    """The policy called ``name``; any other name is an :class:`ExecutionError` naming
    ``policy`` that lists the known ones."""
    if isinstance(name, str) and name in Policy.__members__.values():
        return Policy(name)
    known = ", ".join(p.value for p in Policy)
    raise ExecutionError("policy", name, f"unknown policy (one of {known})")


# ----- parameter checks (shared by pov.py and pricing.py) --------------------------------------


def _decimal(value: object, field: str) -> Decimal:
    """``value`` as a finite Decimal: a Decimal, an int, decimal text, or a float read as the
    decimal it prints as (``0.1`` is ``Decimal("0.1")``)."""
    if isinstance(value, Decimal | int | float) and not isinstance(value, bool):
        d = to_decimal(value)
    elif isinstance(value, str):
        try:
            d = Decimal(value)
        except InvalidOperation:
            raise ExecutionError(field, value, "not a decimal number") from None
    else:
        raise ExecutionError(field, value, "expected a Decimal, an int or decimal text")
    if not d.is_finite():
        raise ExecutionError(field, value, "not a finite number")
    return d


def _non_negative(value: object, field: str) -> Decimal:
    d = _decimal(value, field)
    if d < 0:
        raise ExecutionError(field, value, "must not be negative")
    return d


def _positive(value: object, field: str) -> Decimal:
    d = _decimal(value, field)
    if d <= 0:
        raise ExecutionError(field, value, "must be positive")
    return d


def _rate(value: object, field: str = "rate") -> Decimal:
    d = _decimal(value, field)
    if not 0 < d <= 1:
        raise ExecutionError(field, value, "must be in (0, 1]")
    return d


def _real(value: object, field: str, *, positive: bool = False) -> float:
    """A model parameter (volatility, impact, risk aversion) as a finite float, >= 0 (> 0 when
    ``positive``)."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise ExecutionError(field, value, "expected a number")
    x = float(value)
    if not math.isfinite(x):
        raise ExecutionError(field, value, "not a finite number")
    if x < 0 or (positive and x == 0):
        raise ExecutionError(field, value, "must be positive" if positive else "must be >= 0")
    return x


def _on_grid(value: object, lot: Decimal, field: str) -> int:
    """``value`` in whole lots (> 0); off the lot grid is an error, never a rounding."""
    d = _positive(value, field)
    n, rest = divmod(d, lot)
    if rest:
        raise ExecutionError(field, value, f"not a multiple of the lot {lot}")
    return int(n)


def _min_lots(min_child: object, lot: Decimal) -> int:
    return 1 if min_child is None else _on_grid(min_child, lot, "min_child")


def _int(value: object, field: str, low: int) -> int:
    try:
        n = operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        raise ExecutionError(field, value, "expected an int") from None
    if isinstance(value, bool) or n < low:
        raise ExecutionError(field, value, f"must be an int >= {low}")
    return n


def _ns(value: object, field: str) -> int:
    try:
        return operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        raise ExecutionError(field, value, "expected an int of UTC epoch nanoseconds") from None


def _window(start_ns: object, end_ns: object) -> tuple[int, int]:
    start, end = _ns(start_ns, "start_ns"), _ns(end_ns, "end_ns")
    if end <= start:
        raise ExecutionError("end_ns", end_ns, f"must be after start_ns={start}")
    return start, end


def _merged(times: Sequence[int], lots: Sequence[int], min_lots: int, lot: Decimal) -> list[Slice]:
    """Slices of ``lots[i]`` lots due at ``times[i]``, none below ``min_lots``: a slice too small
    is carried into the next one, a last one too small into the slice before it; a total below
    the minimum is one slice, due when its first lot was."""
    out_t: list[int] = []
    out_n: list[int] = []
    carry, carry_t = 0, 0
    for t, n in zip(times, lots, strict=True):
        if n and not carry:
            carry_t = t
        carry += n
        if carry >= min_lots:
            out_t.append(t)
            out_n.append(carry)
            carry = 0
    if carry:
        if out_n:
            out_n[-1] += carry
        else:
            out_t, out_n = [carry_t], [carry]
    return [Slice(t, n * lot) for t, n in zip(out_t, out_n, strict=True)]


# ----- split and TWAP ----------------------------------------------------------------------------


def split(
    qty: Decimal,
    threshold: Decimal,
    child_qty: Decimal,
    lot: Decimal,
    *,
    start_ns: int,
    end_ns: int | None = None,
    interval_ns: int = 0,
    min_child: Decimal | None = None,
) -> list[Slice]:
    """A parent at or below ``threshold`` is one slice; above it, slices of ``child_qty`` (the
    last holds the rest, merged into the one before when below the minimum child, so that one
    may exceed ``child_qty`` by less than a minimum child).

    Slices are due ``interval_ns`` apart from ``start_ns`` (all at once by default); with an
    ``end_ns`` the interval shrinks so the last one is due by the end."""
    lot_d = _positive(lot, "lot")
    lots = _on_grid(qty, lot_d, "qty")
    limit = _non_negative(threshold, "threshold")
    child = _on_grid(child_qty, lot_d, "child_qty")
    min_lots = _min_lots(min_child, lot_d)
    if child < min_lots:
        raise ExecutionError("child_qty", child_qty, f"below min_child={min_child}")
    start = _ns(start_ns, "start_ns")
    step = _int(interval_ns, "interval_ns", 0)
    if lots * lot_d <= limit:
        return [Slice(start, lots * lot_d)]
    whole, rest = divmod(lots, child)
    counts = [child] * whole + ([rest] if rest else [])
    pieces = _merged(range(len(counts)), counts, min_lots, lot_d)
    if end_ns is not None:
        _, end = _window(start, end_ns)
        if len(pieces) > 1:
            step = min(step, (end - start) // (len(pieces) - 1))
    return [Slice(start + i * step, p.qty) for i, p in enumerate(pieces)]


def twap(
    qty: Decimal,
    start_ns: int,
    end_ns: int,
    slices: int,
    lot: Decimal,
    *,
    min_child: Decimal | None = None,
) -> list[Slice]:
    """``slices`` equal slices at ``start + i * (end - start) // slices``; the lots that do not
    divide evenly go one each to the earliest slices, so the sum is exactly ``qty``. When
    ``qty / slices`` is below the minimum child, fewer slices are made (as many as the minimum
    allows, spread over the whole window), so none is below it."""
    lot_d = _positive(lot, "lot")
    lots = _on_grid(qty, lot_d, "qty")
    start, end = _window(start_ns, end_ns)
    n = _int(slices, "slices", 1)
    min_lots = _min_lots(min_child, lot_d)
    n = max(1, min(n, lots // min_lots))
    base, extra = divmod(lots, n)
    step = (end - start) // n
    times = [start + i * step for i in range(n)]
    return _merged(times, [base + (1 if i < extra else 0) for i in range(n)], min_lots, lot_d)


# ----- VWAP ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class VolumeProfile:
    """The share of a day's volume traded in each time-of-day bucket: bucket ``k`` is
    ``[k * bucket_ns, (k + 1) * bucket_ns)`` after local midnight in ``tz``. ``fractions`` holds
    the buckets that traded; they sum to exactly 1."""

    bucket_ns: int
    tz: str
    fractions: Mapping[int, Fraction]

    def fraction(self, bucket: int) -> Fraction:
        return self.fractions.get(bucket, Fraction(0))


def _zone(tz: object) -> ZoneInfo:
    try:
        return ZoneInfo(tz)  # type: ignore[arg-type]
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise ExecutionError("tz", tz, "not an IANA time zone") from None


_QUARTER: Final = 15 * NS_PER_MINUTE  # zones change their UTC offset on a quarter hour


def _time_of_day(t_ns: int, zone: ZoneInfo, offsets: dict[int, int]) -> int:
    """Nanoseconds after local midnight (``offsets`` caches the zone's UTC offset per quarter
    hour of UTC time)."""
    quarter = t_ns // _QUARTER
    off = offsets.get(quarter)
    if off is None:
        delta = to_datetime(quarter * _QUARTER).astimezone(zone).utcoffset()
        assert delta is not None  # a ZoneInfo always has an offset
        off = offsets[quarter] = (delta.days * 86_400 + delta.seconds) * 10**9
    return (t_ns + off) % NS_PER_DAY


def volume_profile(bars: Bars, bucket_ns: int, tz: str = "America/New_York") -> VolumeProfile:
    """The volume profile of ``bars``: each bar's volume counts in the bucket of its open time
    (local time of day in ``tz``), summed over all the days the bars cover, as fractions of the
    total. ``bucket_ns`` is in (0, one day]; bars with no volume at all are refused."""
    if not isinstance(bars, Bars):
        raise ExecutionError("bars", type(bars).__name__, "expected fillforge.marketdata.Bars")
    bucket = _int(bucket_ns, "bucket_ns", 1)
    if bucket > NS_PER_DAY:
        raise ExecutionError("bucket_ns", bucket_ns, "must be at most one day")
    zone = _zone(tz)
    volume = np.asarray(bars.volume, dtype=np.float64)
    if not np.isfinite(volume).all() or (volume < 0).any():
        raise ExecutionError("bars.volume", bars.source, "volumes must be finite and >= 0")
    offsets: dict[int, int] = {}
    keys = np.fromiter(
        (_time_of_day(int(t), zone, offsets) // bucket for t in bars.time_ns),
        dtype=np.int64,
        count=len(bars),
    )
    sums = np.bincount(keys, weights=volume) if len(keys) else np.zeros(0)
    exact = {int(k): Fraction(float(v)) for k, v in enumerate(sums) if v > 0}
    total = sum(exact.values(), Fraction(0))
    if not total:
        raise ExecutionError("bars", bars.source, "no volume to learn a profile from")
    return VolumeProfile(bucket, str(tz), {k: v / total for k, v in exact.items()})


def _segments(start: int, end: int, profile: VolumeProfile) -> Iterator[tuple[int, int, Fraction]]:
    """The window cut at the profile's bucket edges: (from, to, expected share of the day's
    volume), the bucket's fraction prorated by the part of it inside the window."""
    zone, bucket, offsets = _zone(profile.tz), profile.bucket_ns, dict[int, int]()
    t = start
    while t < end:
        tod = _time_of_day(t, zone, offsets)
        k = tod // bucket
        stop = min(end, t + min((k + 1) * bucket, NS_PER_DAY) - tod)
        yield t, stop, profile.fraction(k) * Fraction(stop - t, bucket)
        t = stop


def _water_fill(lots: int, weights: Sequence[Fraction], caps: Sequence[int] | None) -> list[int]:
    """``lots`` shared in proportion to ``weights``, none above its cap: a capped share's excess
    goes to the others in proportion; then whole lots by largest remainder (caps kept)."""
    n = len(weights)
    cap = [Fraction(c) for c in caps] if caps is not None else None
    share: list[Fraction] = [Fraction(0)] * n
    free = [i for i in range(n) if weights[i] > 0]
    left = Fraction(lots)
    while left and free:
        total = sum((weights[i] for i in free), Fraction(0))
        over = set() if cap is None else {i for i in free if left * weights[i] / total > cap[i]}
        if not over:
            for i in free:
                share[i] = left * weights[i] / total
            break
        for i in over:
            share[i] = cap[i]  # type: ignore[index]  # over is empty without caps
            left -= share[i]
        free = [i for i in free if i not in over]
    whole = [int(s) for s in share]
    by_rest = sorted(range(n), key=lambda i: (-(share[i] - whole[i]), i))
    for i in by_rest[: lots - sum(whole)]:
        whole[i] += 1
    return whole


def vwap(
    qty: Decimal,
    start_ns: int,
    end_ns: int,
    profile: VolumeProfile,
    lot: Decimal,
    *,
    max_participation: Decimal | None = None,
    expected_volume: Decimal | None = None,
    min_child: Decimal | None = None,
) -> list[Slice]:
    """Slices at the profile's bucket edges inside ``[start_ns, end_ns)``, each in proportion
    to the volume the profile expects there (a bucket cut by the window counts prorated). When
    the window expects no volume at all, slices follow time alone (as TWAP does).

    ``max_participation`` (in (0, 1], with ``expected_volume``, the day's volume in units of
    ``qty``) caps each slice at that share of its bucket's expected volume; what a capped bucket
    cannot take goes to the others. A window that cannot take ``qty`` under the cap is refused.
    A slice merged up to the minimum child may pass the cap by less than one minimum child."""
    if not isinstance(profile, VolumeProfile):
        raise ExecutionError("profile", type(profile).__name__, "expected a VolumeProfile")
    lot_d = _positive(lot, "lot")
    lots = _on_grid(qty, lot_d, "qty")
    start, end = _window(start_ns, end_ns)
    min_lots = _min_lots(min_child, lot_d)
    if (max_participation is None) != (expected_volume is None):
        raise ExecutionError(
            "expected_volume", expected_volume, "max_participation and it go together"
        )
    segments = list(_segments(start, end, profile))
    weights = [w for _, _, w in segments]
    if not any(weights):
        weights = [Fraction(b - a) for a, b, _ in segments]
    caps = None
    if max_participation is not None:
        rate = Fraction(_rate(max_participation, "max_participation"))
        day = Fraction(_positive(expected_volume, "expected_volume")) / Fraction(lot_d)
        caps = [int(rate * day * w) for _, _, w in segments]
        if sum(caps) < lots:
            raise ExecutionError(
                "max_participation",
                max_participation,
                f"the window's expected volume takes at most {sum(caps) * lot_d} at this rate",
            )
    counts = _water_fill(lots, weights, caps)
    return _merged([a for a, _, _ in segments], counts, min_lots, lot_d)


# ----- iceberg ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Iceberg:
    """An iceberg's display sizing: ``display`` shown at a time, refilled when the shown child's
    leaves fall to ``refill_at`` (0: when it is done, filled or cancelled)."""

    display: Decimal
    lot: Decimal
    min_child: Decimal | None = None
    refill_at: Decimal = Decimal(0)

    def __post_init__(self) -> None:
        lot = _positive(self.lot, "lot")
        shown = _on_grid(self.display, lot, "display")
        minimum = _min_lots(self.min_child, lot)
        if shown < minimum:
            raise ExecutionError("display", self.display, f"below min_child={self.min_child}")
        refill = _decimal(self.refill_at, "refill_at")
        if not 0 <= refill < shown * lot:
            raise ExecutionError("refill_at", self.refill_at, "must be in [0, display)")
        object.__setattr__(self, "lot", lot)
        object.__setattr__(self, "display", shown * lot)
        object.__setattr__(self, "min_child", minimum * lot)
        object.__setattr__(self, "refill_at", refill)

    def clip(self, hidden: Decimal) -> Decimal:
        """The size of the next shown child when ``hidden`` of the parent is not on display: the
        display size, or all of ``hidden`` when what would stay hidden is below the minimum
        child (a last clip below the minimum is merged into the one before it)."""
        left = _non_negative(hidden, "hidden")
        assert self.min_child is not None  # set by __post_init__
        return left if left - self.display < self.min_child else self.display

    def refill(self, shown_leaves: Decimal) -> bool:
        """Whether the shown child is due for a refill: its leaves are at ``refill_at`` or below
        (it is then replaced by a fresh clip of its leaves plus what is hidden)."""
        return _non_negative(shown_leaves, "shown_leaves") <= self.refill_at


def iceberg(
    qty: Decimal, display: Decimal, lot: Decimal, *, start_ns: int, min_child: Decimal | None = None
) -> list[Slice]:
    """The clips an iceberg of ``qty`` shows in turn, each after the one before is done; they
    are event-driven, so all are due from ``start_ns``."""
    rule = Iceberg(display, lot, min_child)
    lots = _on_grid(qty, _positive(lot, "lot"), "qty")
    start, hidden, out = _ns(start_ns, "start_ns"), lots * rule.lot, []
    while hidden:
        shown = rule.clip(hidden)
        out.append(Slice(start, shown))
        hidden -= shown
    return out


# ----- implementation shortfall (Almgren-Chriss) ------------------------------------------------

_SMALL: Final = 1e-12  # kappa * T below this: the linear (TWAP) limit, exact to double precision


def ac_kappa(
    tau: float, sigma: float, eta: float, gamma: float, risk_aversion: float
) -> tuple[float, float]:
    """``(kappa, kappa_tilde)`` of the discrete Almgren-Chriss model for a period ``tau``:
    ``eta_tilde = eta * (1 - gamma * tau / (2 * eta))``, ``kappa_tilde**2 = lambda * sigma**2 /
    eta_tilde`` and ``2 * (cosh(kappa * tau) - 1) / tau**2 = kappa_tilde**2``."""
    eta_tilde = eta - gamma * tau / 2
    if eta_tilde <= 0:
        raise ExecutionError("eta", eta, f"eta - gamma * tau / 2 must be positive (tau={tau})")
    kt2 = risk_aversion * sigma * sigma / eta_tilde
    y = kt2 * tau * tau / 2  # kappa * tau = acosh(1 + y), written not to lose a small y
    return math.log1p(y + math.sqrt(y * (y + 2))) / tau, math.sqrt(kt2)


def ac_holdings(
    qty: float, horizon: float, n: int, sigma: float, eta: float, gamma: float, risk_aversion: float
) -> list[float]:
    """The optimal holdings ``x_0 .. x_n``: ``x_j = X sinh(kappa (T - t_j)) / sinh(kappa T)``,
    ``t_j = j T / n``; ``x_0 = X``, ``x_n = 0``, and with no risk aversion the straight line."""
    tau = horizon / n
    kappa, _ = ac_kappa(tau, sigma, eta, gamma, risk_aversion)
    a = kappa * horizon
    out = [float(qty)]
    for j in range(1, n):
        rest = (n - j) / n  # (T - t_j) / T
        if a < _SMALL:
            out.append(qty * rest)
        else:  # sinh(a r) / sinh(a), written to overflow for no a
            out.append(
                qty * math.exp(a * (rest - 1)) * math.expm1(-2 * a * rest) / math.expm1(-2 * a)
            )
    out.append(0.0)
    return out


def almgren_chriss(
    qty: Decimal,
    horizon: float,
    n: int,
    sigma: float,
    eta: float,
    gamma: float,
    risk_aversion: float,
    lot: Decimal,
    *,
    start_ns: int,
    end_ns: int,
    min_child: Decimal | None = None,
) -> list[Slice]:
    """The Almgren-Chriss optimal schedule (Almgren and Chriss 2000, "Optimal execution of
    portfolio transactions"): ``n`` trades over ``horizon`` (the paper's ``T``) in the model's
    time unit, the one ``sigma`` (volatility per square root of it) and ``eta`` (temporary
    impact per rate of trading) are stated in; ``gamma`` is the permanent impact and
    ``risk_aversion`` the lambda of ``E + lambda V``. Trade ``j`` works ``x_(j-1) - x_j`` and
    is due at ``start_ns + (j - 1) * (end_ns - start_ns) // n``. The holdings are rounded to
    whole lots (nearest), so the trades sum to ``qty`` exactly; trades then below the minimum
    child are merged as usual."""
    lot_d = _positive(lot, "lot")
    lots = _on_grid(qty, lot_d, "qty")
    start, end = _window(start_ns, end_ns)
    steps = _int(n, "n", 1)
    x = ac_holdings(
        float(lots),
        _real(horizon, "horizon", positive=True),
        steps,
        _real(sigma, "sigma"),
        _real(eta, "eta", positive=True),
        _real(gamma, "gamma"),
        _real(risk_aversion, "risk_aversion"),
    )
    held = [lots]
    for value in x[1:-1]:
        held.append(min(held[-1], max(0, round(value))))
    held.append(0)
    step = (end - start) // steps
    times = [start + j * step for j in range(steps)]
    trades = [held[j] - held[j + 1] for j in range(steps)]
    return _merged(times, trades, _min_lots(min_child, lot_d), lot_d)
