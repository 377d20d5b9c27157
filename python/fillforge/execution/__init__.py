"""Parent orders and the execution algorithms that work them into child orders on any broker.

Layer 5: imports point down only (``broker``, ``orders``, ``time``, ``errors``, and the simulator's
fee schedule for routing); nothing below imports this package.

- :mod:`.parent`: the :class:`ParentOrder` spec, its :class:`WorkRules` and lifecycle;
- :mod:`.worker`, :mod:`.engine`: :class:`ParentWorker`, which works one parent on a broker's
  clock and timers, and :class:`ExecutionEngine`, many parents on one broker subscription
  (:mod:`.options`: their shared keywords, :class:`WorkOptions` and :class:`AmendTerms`);
- :mod:`.schedules`, :mod:`.pov`: how a quantity is cut into timed slices (TWAP, VWAP, POV, iceberg,
  Almgren-Chriss implementation shortfall);
- :mod:`.pricing`, :mod:`.adaptive`: the limit price of a child;
- :mod:`.gates`, :mod:`.routing`: session gates and the end-of-day flatten; venue choice and splits;
- :mod:`.cost`: what a parent cost (arrival, interval VWAP, Perold's shortfall).
"""

from fillforge.execution.adaptive import AdaptiveMix, AdaptivePricing
from fillforge.execution.cost import ParentCost, cost_rows, parent_cost
from fillforge.execution.engine import ExecutionEngine
from fillforge.execution.gates import Flattener, SessionGates
from fillforge.execution.options import AmendTerms, WorkOptions
from fillforge.execution.parent import (
    Parent,
    ParentOrder,
    ParentSnapshot,
    ParentState,
    WorkRules,
)
from fillforge.execution.pov import PovTracker
from fillforge.execution.pricing import (
    TimeOfDayPricing,
    TimeOfDayTable,
    adaptive_offset,
    realised_vol,
    static_limit,
)
from fillforge.execution.routing import Router, allocate
from fillforge.execution.schedules import (
    Iceberg,
    Policy,
    Slice,
    almgren_chriss,
    parse_policy,
    split,
    twap,
    volume_profile,
    vwap,
)
from fillforge.execution.worker import ParentWorker, Progress

__all__ = [
    "AdaptiveMix",
    "AdaptivePricing",
    "AmendTerms",
    "ExecutionEngine",
    "Flattener",
    "Iceberg",
    "Parent",
    "ParentCost",
    "ParentOrder",
    "ParentSnapshot",
    "ParentState",
    "ParentWorker",
    "Policy",
    "PovTracker",
    "Progress",
    "Router",
    "SessionGates",
    "Slice",
    "TimeOfDayPricing",
    "TimeOfDayTable",
    "WorkOptions",
    "WorkRules",
    "adaptive_offset",
    "allocate",
    "almgren_chriss",
    "cost_rows",
    "parent_cost",
    "parse_policy",
    "realised_vol",
    "split",
    "static_limit",
    "twap",
    "volume_profile",
    "vwap",
]
