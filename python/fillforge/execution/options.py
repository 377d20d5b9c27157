"""The keyword arguments a parent is worked with, written once.

:class:`~fillforge.execution.worker.ParentWorker` spells its keywords out (that is where their
rules live); :class:`~fillforge.execution.engine.ExecutionEngine` takes the same ones as
:class:`WorkOptions` and :class:`AmendTerms` and passes them on, so the two cannot drift apart
(``tests/test_execution_engine.py`` holds each TypedDict to the worker's parameters).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import TypedDict

from fillforge.execution.parent import WorkRules
from fillforge.execution.schedules import Slice
from fillforge.execution.sender import Pricing

__all__ = ["AmendTerms", "Schedule", "WorkOptions"]

Schedule = Callable[[Decimal, int, int, Decimal], list[Slice]]
"""Slices of ``qty`` between ``start_ns`` and ``end_ns`` on a ``lot`` grid."""


class WorkOptions(TypedDict, total=False):
    """How a parent is worked: ``ParentWorker``'s keywords that the engine passes on."""

    rules: WorkRules | None
    schedule: Schedule | None
    slices: int
    pricing: Pricing | None


class AmendTerms(TypedDict, total=False):
    """What an amend may change: ``ParentWorker.amend``'s keywords."""

    qty: Decimal | None
    limit_price: Decimal | None
    end_ns: int | None
