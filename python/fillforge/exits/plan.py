"""Exit plans: the rules (stop, targets, break-even, trailing) and the levels they give.

Everything here is pure: :meth:`ExitPlan.levels` turns a plan, an entry price, a side, a quantity
and (for ATR rules) the current ATR into :class:`ExitLevels` on the instrument's tick and lot
grids. Prices are ``Decimal`` at the edge and integer ticks inside; quantities integer lots.

Rounding (``docs/exits.md``): a stop is rounded toward the market (up for a long's sell stop, down
for a short's buy stop), so the loss it allows never exceeds the rule; a target is rounded toward
the entry, so it is reached no later than the exact level. A distance that rounds to nothing is
refused, never silently widened.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from fillforge.errors import ExitPlanError, SizingError
from fillforge.orders.models import Instrument
from fillforge.sizing.context import number

__all__ = [
    "BreakEven",
    "Distance",
    "ExitLevels",
    "ExitPlan",
    "Target",
    "Trail",
    "atr_value",
    "split_lots",
]

Number = Decimal | int | str
Stat = Decimal | int | str | float
_ZERO = Decimal(0)
_ONE = Decimal(1)
_HUNDRED = Decimal(100)


def _dec(field_name: str, value: object, *, positive: bool = True) -> Decimal:
    """``value`` as a finite Decimal (> 0 if ``positive``, else >= 0); floats, bools refused."""
    if isinstance(value, bool) or not isinstance(value, Decimal | int | str):
        raise ExitPlanError(field_name, value, "expected a Decimal, int or decimal string")
    try:
        d = Decimal(value)
    except ArithmeticError:
        raise ExitPlanError(field_name, value, "not a decimal number") from None
    if not d.is_finite():
        raise ExitPlanError(field_name, value, "not a finite number")
    if d < 0 or (positive and d == 0):
        raise ExitPlanError(field_name, value, "must be positive" if positive else "must be >= 0")
    return d


def _fraction(value: object) -> Decimal:
    """A ``fraction`` of the position: a Decimal in (0, 1]."""
    f = _dec("fraction", value)
    if f > _ONE:
        raise ExitPlanError("fraction", f, "must be at most 1")
    return f


def atr_value(value: object) -> Decimal:
    """An ATR reading (a statistic: a float as the indicators give it, an int, a Decimal or
    decimal text) as
    a positive Decimal; a float is read as the decimal it prints as, as :mod:`fillforge.sizing`
    reads statistics. Money and the plan's own parameters stay exact (no floats)."""
    if isinstance(value, str):
        return _dec("atr", value)
    try:
        d = number("atr", value)
    except SizingError as e:
        raise ExitPlanError("atr", value, e.why) from None
    if d <= 0:
        raise ExitPlanError("atr", value, "must be positive")
    return d


def _opt(field_name: str, value: object) -> Decimal | None:
    return None if value is None else _dec(field_name, value)


@dataclass(frozen=True, slots=True)
class Distance:
    """A price distance: ``atr`` multiples of the current ATR, or ``percent`` of a reference price
    (1.5 means 1.5%). Exactly one."""

    atr: Decimal | None = None
    percent: Decimal | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "atr", _opt("atr", self.atr))
        object.__setattr__(self, "percent", _opt("percent", self.percent))
        if (self.atr is None) == (self.percent is None):
            raise ExitPlanError("atr", self.atr, "give exactly one of atr and percent")
        if self.percent is not None and self.percent >= _HUNDRED:
            raise ExitPlanError("percent", self.percent, "must be below 100")

    @classmethod
    def of_atr(cls, multiple: Number) -> Distance:
        return cls(atr=_dec("atr", multiple))

    @classmethod
    def of_percent(cls, percent: Number) -> Distance:
        return cls(percent=_dec("percent", percent))

    def price(self, reference: Decimal, atr: Decimal | None, field_name: str) -> Decimal:
        """The distance in price at ``reference`` (exact; the caller rounds the level)."""
        if self.percent is not None:
            return reference * self.percent / _HUNDRED
        if atr is None:
            raise ExitPlanError(f"{field_name}.atr", None, "an ATR rule needs the current ATR")
        assert self.atr is not None
        return atr_value(atr) * self.atr


@dataclass(frozen=True, slots=True)
class Target:
    """Take ``fraction`` of the position (0 < fraction <= 1) at ``r`` R-multiples of profit."""

    r: Decimal
    fraction: Decimal = _ONE

    def __post_init__(self) -> None:
        object.__setattr__(self, "r", _dec("r", self.r))
        object.__setattr__(self, "fraction", _fraction(self.fraction))


@dataclass(frozen=True, slots=True)
class BreakEven:
    """Once the price has gone ``after_r`` R in the position's favour, move the stop to the entry
    plus ``lock_r`` R (0 <= lock_r < after_r), and never back."""

    after_r: Decimal = _ONE
    lock_r: Decimal = _ZERO

    def __post_init__(self) -> None:
        a = _dec("after_r", self.after_r)
        lock = _dec("lock_r", self.lock_r, positive=False)
        if lock >= a:
            raise ExitPlanError("lock_r", lock, f"must be below after_r {a}")
        object.__setattr__(self, "after_r", a)
        object.__setattr__(self, "lock_r", lock)


@dataclass(frozen=True, slots=True)
class Trail:
    """A trailing stop ``distance`` behind the best price since this entry (the peak for a long,
    the trough for a short), armed at once or, with ``after_r``, once the price has gone that
    many R in the position's favour."""

    distance: Distance
    after_r: Decimal | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.distance, Distance):
            raise ExitPlanError("trail.distance", self.distance, "expected a Distance")
        object.__setattr__(self, "after_r", _opt("after_r", self.after_r))


@dataclass(frozen=True, slots=True)
class ExitLevels:
    """What a plan gives for one entry, in ticks and lots. ``side`` is +1 for a long (exits
    sell), -1 for a short (exits buy). ``targets`` are ``(price_ticks, lots)`` nearest first and
    their lots sum to ``lots``; ``break_even`` is ``(trigger_ticks, stop_ticks)``; ``trail_ticks``
    / ``trail_bps`` the trail's distance and ``trail_activation`` where it arms."""

    side: int
    entry: Decimal
    lots: int
    stop: int
    risk: int  # R in ticks: |entry - stop| measured from the exact entry, rounded up
    targets: tuple[tuple[int, int], ...]
    break_even: tuple[int, int] | None
    trail_ticks: int | None
    trail_bps: int | None
    trail_activation: int | None


def split_lots(lots: int, fractions: tuple[Decimal, ...]) -> list[int]:
    """``lots`` shared by ``fractions`` (which sum to 1): each tier gets ``floor(f * lots)``, the
    last the rest, so the parts always sum to ``lots`` exactly."""
    if not fractions:
        return []
    parts = [int((f * lots).to_integral_value(rounding=ROUND_FLOOR)) for f in fractions[:-1]]
    parts.append(lots - sum(parts))
    return parts


def _round(value: Decimal, tick: Decimal, up: bool) -> int:
    return int((value / tick).to_integral_value(rounding=ROUND_CEILING if up else ROUND_FLOOR))


@dataclass(frozen=True, slots=True)
class ExitPlan:
    """A stop (required), take-profit ``targets`` (fractions summing to 1, or none), an optional
    :class:`BreakEven` and an optional :class:`Trail`.

    ``ExitPlan(stop=Distance.of_atr(2), targets=(Target(1, "0.5"), Target(2, "0.5")),
    break_even=BreakEven(after_r=1), trail=Trail(Distance.of_percent(3)))``. Refusals raise
    :class:`~fillforge.errors.ExitPlanError` naming the field.
    """

    stop: Distance
    targets: tuple[Target, ...] = ()
    break_even: BreakEven | None = None
    trail: Trail | None = None
    _fractions: tuple[Decimal, ...] = field(default=(), init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.stop, Distance):
            raise ExitPlanError("stop", self.stop, "expected a Distance")
        targets = tuple(self.targets)
        for i, t in enumerate(targets):
            if not isinstance(t, Target):
                raise ExitPlanError(f"targets[{i}]", t, "expected a Target")
        rs = [t.r for t in targets]
        if rs != sorted(set(rs)):
            raise ExitPlanError("targets", rs, "R-multiples must be distinct and increasing")
        total = sum((t.fraction for t in targets), _ZERO)
        if targets and total != _ONE:
            raise ExitPlanError(
                "targets", [str(t.fraction) for t in targets], f"fractions sum to {total}, not 1"
            )
        if self.break_even is not None and not isinstance(self.break_even, BreakEven):
            raise ExitPlanError("break_even", self.break_even, "expected a BreakEven")
        if self.trail is not None and not isinstance(self.trail, Trail):
            raise ExitPlanError("trail", self.trail, "expected a Trail")
        object.__setattr__(self, "targets", targets)
        object.__setattr__(self, "_fractions", tuple(t.fraction for t in targets))

    @property
    def needs_atr(self) -> bool:
        """True when a level depends on the ATR (give ``atr`` to :meth:`levels`)."""
        return self.stop.atr is not None or (
            self.trail is not None and self.trail.distance.atr is not None
        )

    def levels(
        self,
        instrument: Instrument,
        side: int,
        entry: Number,
        lots: int,
        atr: Stat | None = None,
    ) -> ExitLevels:
        """The levels for a position of ``lots`` (> 0) entered at ``entry`` (the average fill
        price; it may be off the tick grid), ``side`` +1 long, -1 short."""
        if side not in (1, -1):
            raise ExitPlanError("side", side, "must be 1 (long) or -1 (short)")
        if isinstance(lots, bool) or not isinstance(lots, int) or lots <= 0:
            raise ExitPlanError("lots", lots, "must be a positive int")
        e = _dec("entry", entry)
        a = None if atr is None else atr_value(atr)
        tick = instrument.tick_size
        long = side == 1
        exact = e - side * self.stop.price(e, a, "stop")
        stop = _round(exact, tick, up=long)
        if (stop * tick >= e) if long else (stop * tick <= e):
            raise ExitPlanError("stop", str(exact), f"within one tick {tick} of the entry {e}")
        if stop <= 0:
            raise ExitPlanError("stop", str(exact), "a stop must be a positive price")
        risk = _round(abs(e - stop * tick), tick, up=True)
        r_price = abs(e - stop * tick)  # R in price, exact
        targets = []
        for i, (t, n) in enumerate(
            zip(self.targets, split_lots(lots, self._fractions), strict=True)
        ):
            level = _round(e + side * t.r * r_price, tick, up=not long)
            if (level * tick <= e) if long else (level * tick >= e or level <= 0):
                raise ExitPlanError(f"targets[{i}].r", t.r, f"rounds to the entry {e} or worse")
            targets.append((level, n))
        be = None
        if self.break_even is not None:
            b = self.break_even
            trigger = _round(e + side * b.after_r * r_price, tick, up=long)
            lock = _round(e + side * b.lock_r * r_price, tick, up=long)
            if (lock >= trigger) if long else (lock <= trigger):
                raise ExitPlanError("break_even.lock_r", b.lock_r, "rounds onto its trigger")
            be = (trigger, lock)
        trail_ticks = trail_bps = activation = None
        if self.trail is not None:
            d = self.trail.distance
            if d.percent is not None:
                trail_bps = max(1, int((d.percent * 100).to_integral_value(rounding=ROUND_FLOOR)))
            else:
                dist = d.price(e, a, "trail")
                trail_ticks = max(1, _round(dist, tick, up=False))
            if self.trail.after_r is not None:
                activation = _round(e + side * self.trail.after_r * r_price, tick, up=long)
        return ExitLevels(
            side=side,
            entry=e,
            lots=lots,
            stop=stop,
            risk=risk,
            targets=tuple(targets),
            break_even=be,
            trail_ticks=trail_ticks,
            trail_bps=trail_bps,
            trail_activation=activation,
        )

    def trail_ticks_for(self, instrument: Instrument, atr: Stat) -> int | None:
        """The ATR trail's distance in ticks for a new ``atr`` (None if the trail is not ATR)."""
        if self.trail is None or self.trail.distance.atr is None:
            return None
        dist = self.trail.distance.price(_ONE, atr_value(atr), "trail")
        return max(1, _round(dist, instrument.tick_size, up=False))
