"""Trailing stops: typed state and Decimal helpers around :class:`fillforge.TrailingStops`.

The engine works in integer ticks. These helpers convert Alpaca-style inputs (``trail_price`` in
currency, ``trail_percent`` in percent) to the engine's ``trail_ticks`` / ``trail_bps``, rounding
the distance *down* (toward the price: the protective direction), the same rule the engine applies
to percent trails. See ``docs/trailing.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal

from fillforge._core import TrailingStops

__all__ = ["StopState", "trail_bps_from_percent", "trail_ticks_from_price"]


@dataclass(frozen=True, slots=True)
class StopState:
    """One trailing stop as :meth:`StopState.of` reads it; prices in ticks.

    ``side`` is -1 (sell stop) or 1 (buy stop). ``hwm`` is the high-water mark for sells and the
    low-water mark for buys (Alpaca calls both ``hwm``); ``hwm`` and ``stop`` are None until armed.
    ``breakeven`` is ``(entry, profit, lock)`` or None; ``breakeven_active`` turns True once the
    water mark reaches ``entry +/- profit`` and the stop is held at ``entry +/- lock`` or better.
    """

    id: int
    instrument: int
    side: int
    trail_ticks: int | None
    trail_bps: int | None
    activation: int | None
    limit_offset: int | None
    breakeven: tuple[int, int, int] | None
    armed: bool
    hwm: int | None
    stop: int | None
    breakeven_active: bool

    @classmethod
    def of(cls, engine: TrailingStops, stop_id: int) -> StopState | None:
        """The state of ``stop_id`` in ``engine``, or None if it is not live."""
        t = engine.get(stop_id)
        return None if t is None else cls(*t)

    @property
    def limit_price(self) -> int | None:
        """The limit price a stop-limit would get if it triggered now (None: market or unarmed)."""
        if self.stop is None or self.limit_offset is None:
            return None
        return self.stop - self.limit_offset if self.side == -1 else self.stop + self.limit_offset


def trail_ticks_from_price(trail_price: Decimal | str | int, tick: Decimal | str | int) -> int:
    """``floor(trail_price / tick)`` ticks, at least 1: an off-grid trail tightens to the grid."""
    d, t = Decimal(trail_price), Decimal(tick)
    if not d.is_finite() or not t.is_finite() or d <= 0 or t <= 0:
        raise ValueError(f"trail_price={trail_price}, tick={tick}: both must be positive")
    return max(1, int((d / t).to_integral_value(rounding=ROUND_FLOOR)))


def trail_bps_from_percent(trail_percent: Decimal | str | int) -> int:
    """Alpaca's ``trail_percent`` (1.5 means 1.5%) as basis points, rounded down, at least 1."""
    d = Decimal(trail_percent)
    if not d.is_finite() or d <= 0 or d > 100:
        raise ValueError(f"trail_percent={trail_percent}: must be in (0, 100]")
    return max(1, int((d * 100).to_integral_value(rounding=ROUND_FLOOR)))
