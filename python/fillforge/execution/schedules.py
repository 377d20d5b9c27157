"""Schedules: how a parent's quantity is cut into timed slices.

A schedule is a pure function of its parameters: no broker, no clock reads. Every slice is on the
instrument's lot grid, the slices sum to the parent's quantity, and none is due after the end.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class Slice:
    """``qty`` (a multiple of the lot size) to be worked from ``due_ns`` on."""

    due_ns: int
    qty: Decimal


def twap(qty: Decimal, start_ns: int, end_ns: int, slices: int, lot: Decimal) -> list[Slice]:
    """``slices`` equal slices at ``start + i * (end - start) / slices``; the lots that do not
    divide evenly go one each to the earliest slices, so the sum is exactly ``qty``."""
    lots = int(qty / lot)
    base, extra = divmod(lots, slices)
    step = (end_ns - start_ns) // slices
    out = []
    for i in range(slices):
        n = base + (1 if i < extra else 0)
        if n:
            out.append(Slice(start_ns + i * step, n * lot))
    return out
