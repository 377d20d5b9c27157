"""The local triggers of one position's exits: fixed stop, break-even, trailing stop, targets.

:class:`LevelWatch` is pure bookkeeping over integer ticks: feed it the prices the position would
exit at (:meth:`LevelWatch.on_price`) and it says whether the stop was crossed and which targets
were. The trailing part runs on the compiled :class:`fillforge.TrailingStops` engine, one engine
per watch, so a new entry always starts a new water mark (the reset on re-entry).
"""

from __future__ import annotations

import numpy as np

from fillforge._core import TrailingStops
from fillforge.exits.plan import ExitLevels
from fillforge.trailing import StopState

__all__ = ["LevelWatch"]

_INSTRUMENT = np.zeros(1, np.uint32)
_TRAIL_ID = 1
_STOP = 10  # the stop's place in the engine's state tuple (StopState's field order)


class LevelWatch:
    """Watches one position's levels. ``stop`` is the most protective stop so far (ticks): the
    fixed stop, raised by the break-even move and by the trailing stop, never loosened.

    ``arm_at`` (ticks) is the trailing stop's first water mark: the entry's price, so the trail
    measures from the best price since *this* entry.
    """

    def __init__(self, levels: ExitLevels, arm_at: int) -> None:
        self.levels = levels
        self.side = levels.side
        self.arm_at = arm_at
        self.stop = levels.stop
        self.break_even_done = levels.break_even is None
        self._engine: TrailingStops | None = None
        self.fired: set[int] = set()  # target indices already triggered
        self._px = np.zeros(1, np.int64)  # the one price of an engine update, reused
        self._targets = [level for level, _ in levels.targets]
        if levels.trail_ticks is not None or levels.trail_bps is not None:
            self._engine = TrailingStops(1)
            self._engine.add(
                _TRAIL_ID,
                0,
                -self.side,
                trail_ticks=levels.trail_ticks,
                trail_bps=levels.trail_bps,
                activation=levels.trail_activation,
                price=arm_at,
            )
            self._ratchet()

    @classmethod
    def resumed(
        cls,
        levels: ExitLevels,
        arm_at: int,
        *,
        stop: int,
        break_even_done: bool,
        fired: set[int],
        trail_live: bool,
        hwm: int | None,
    ) -> LevelWatch:
        """A watch taken up after a restart: the trail starts again from its water mark
        ``hwm`` (the best price it had seen; None: not armed yet, from ``arm_at``), and the stop
        is at least the one it had reached (it never loosens)."""
        w = cls(levels, arm_at if hwm is None else hwm)
        w.arm_at = arm_at
        if not trail_live:
            w._engine = None  # it had triggered
        w._tighten(stop)
        w.break_even_done = break_even_done
        w.fired = set(fired)
        return w

    # ----- queries ------------------------------------------------------------------------

    @property
    def trail(self) -> StopState | None:
        """The trailing stop's state (water mark, stop), None without one or once triggered."""
        return None if self._engine is None else StopState.of(self._engine, _TRAIL_ID)

    def crossed(self, price: int, level: int) -> bool:
        """Has ``price`` reached ``level`` in the position's favour (a target, a trigger)?"""
        return price >= level if self.side == 1 else price <= level

    def stop_hit(self, price: int) -> bool:
        return price <= self.stop if self.side == 1 else price >= self.stop

    # ----- updates ------------------------------------------------------------------------

    def on_price(self, price: int) -> tuple[bool, list[int]]:
        """One price (ticks) the exits would trade at: (stop crossed, targets newly crossed,
        the farthest first). The stop is tested against the stop as it stood before ``price``;
        a price that moves the stop cannot also trigger it."""
        if self.stop_hit(price):
            return True, []
        hit = False
        if not self.break_even_done:
            trigger, lock = self.levels.break_even  # type: ignore[misc]
            if self.crossed(price, trigger):
                self.break_even_done = True
                self._tighten(lock)
        engine = self._engine
        if engine is not None:
            self._px[0] = price
            ids, _ = engine.update_last(_INSTRUMENT, self._px)
            if len(ids):
                hit = True
                self._engine = None  # triggered: the engine removed it
            else:
                state = engine.get(_TRAIL_ID)
                stop = None if state is None else state[_STOP]
                if isinstance(stop, int):
                    self._tighten(stop)
        # Every target the price has reached, from the farthest down: a jump past several
        # fires them all.
        if len(self.fired) == len(self._targets):
            return hit, []
        long = self.side == 1
        crossed = [
            i
            for i in range(len(self._targets) - 1, -1, -1)
            if i not in self.fired
            and (price >= self._targets[i] if long else price <= self._targets[i])
        ]
        self.fired.update(crossed)
        return hit, crossed

    def rebase(self, levels: ExitLevels) -> None:
        """New levels for the same entry (more of it filled) before anything has fired."""
        self.levels = levels
        self._targets = [level for level, _ in levels.targets]
        self.stop = levels.stop
        self.break_even_done = levels.break_even is None
        self._ratchet()

    def set_trail_ticks(self, ticks: int) -> None:
        """A new trail distance (an ATR update). The water mark is kept; the stop reached so far
        is kept too (``stop`` never loosens), so a wider ATR only widens what is still to come."""
        if self._engine is not None and _TRAIL_ID in self._engine:
            self._engine.amend(_TRAIL_ID, trail_ticks=ticks)
            self._ratchet()

    def _ratchet(self) -> None:
        state = self.trail
        if state is not None and state.stop is not None:
            self._tighten(state.stop)

    def _tighten(self, level: int) -> None:
        self.stop = max(self.stop, level) if self.side == 1 else min(self.stop, level)
