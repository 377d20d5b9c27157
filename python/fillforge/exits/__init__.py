"""Stops, targets and exits, and position scaling (layer 5: works orders on any ``Broker``).

:class:`ExitPlan` computes a position's levels (pure); :class:`ExitManager` works them on a
broker, as venue orders (OCO, stop, trailing stop) or emulated locally; :mod:`.scaling` holds the
scale-in and scale-out plans. See ``docs/exits.md``.
"""

from fillforge.exits.manager import ExitManager
from fillforge.exits.plan import (
    BreakEven,
    Distance,
    ExitLevels,
    ExitPlan,
    Target,
    Trail,
    split_lots,
)
from fillforge.exits.position import ExitMode, ManagedExit, Phase, Tier
from fillforge.exits.recovery import ExitSnapshot
from fillforge.exits.requests import venue_fits
from fillforge.exits.scaling import ScaleIn, ScaleOut, ScaleOutTier, Scaler
from fillforge.exits.watch import LevelWatch

__all__ = [
    "BreakEven",
    "Distance",
    "ExitLevels",
    "ExitManager",
    "ExitMode",
    "ExitPlan",
    "ExitSnapshot",
    "LevelWatch",
    "ManagedExit",
    "Phase",
    "ScaleIn",
    "ScaleOut",
    "ScaleOutTier",
    "Scaler",
    "Target",
    "Tier",
    "Trail",
    "split_lots",
    "venue_fits",
]
