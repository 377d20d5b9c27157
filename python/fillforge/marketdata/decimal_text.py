"""Exact conversion between decimal text and integer counts of a tick or lot, never via float.

:class:`Grid` is the one way the market-data loaders turn a price or quantity written in decimal
(``"4811.25"``) into an integer number of steps (ticks or lots) and back. :func:`parse_int` reads
plain integer fields (timestamps, ids, flags) with the same strictness. Failures raise
:class:`~fillforge.errors.DecimalTextError` (a :class:`ValueError`) whose message is the reason
only; the loaders add file, line and field.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from typing import Final

from fillforge.errors import DecimalTextError

__all__ = [
    "INT64_MAX",
    "INT64_MIN",
    "DecimalTextError",
    "Grid",
    "parse_float",
    "parse_int",
    "parse_ints",
]

INT64_MIN: Final = -(2**63)
INT64_MAX: Final = 2**63 - 1

# Plain decimal text: optional sign, digits, optional point and digits; ASCII digits only. No
# exponent, spaces, underscores, "nan" or "inf". At least one digit is checked separately.
_NUMBER: Final = re.compile(r"([+-]?)([0-9]*)(?:\.([0-9]*))?").fullmatch


def _split(text: str) -> tuple[bool, str, str]:
    """``(negative, whole digits, fraction digits)`` of plain decimal text, or raise."""
    m = _NUMBER(text)
    if m is None:
        raise DecimalTextError("not a plain decimal number")
    sign, whole, frac = m.group(1, 2, 3)
    if frac is None:
        frac = ""
    if not whole and not frac:
        raise DecimalTextError("not a plain decimal number")
    return sign == "-", whole, frac


class Grid:
    """A positive decimal step (a tick or a lot) and exact text <-> step-count conversion.

    The step is held as ``multiple * 10**-scale`` (``Decimal("0.25")`` is 25 at scale 2), so a
    value is on the grid when its digits at ``scale`` are an integer multiple of ``multiple``.
    """

    __slots__ = ("multiple", "scale", "step")

    step: Decimal
    multiple: int
    scale: int

    def __init__(self, step: Decimal | int | str) -> None:
        if isinstance(step, bool) or not isinstance(step, Decimal | int | str):
            raise TypeError(f"step must be a Decimal, int or str, not {type(step).__name__}")
        try:
            d = Decimal(step)
        except InvalidOperation:
            raise ValueError(f"step {step!r} is not a decimal number") from None
        if not d.is_finite() or d <= 0:
            raise ValueError(f"step must be a positive finite decimal, got {step!r}")
        d = d.normalize()
        _, digits, exponent = d.as_tuple()
        assert isinstance(exponent, int)  # finite, checked above
        multiple = int("".join(map(str, digits)))
        if exponent >= 0:
            multiple *= 10**exponent
        self.step = d
        self.multiple = multiple
        self.scale = max(0, -exponent)

    def __repr__(self) -> str:
        return f"Grid({str(self.step)!r})"

    def to_int(self, text: str) -> int:
        """The exact number of steps in ``text``; raises if it is off the grid or out of int64."""
        negative, whole, frac = _split(text)
        scale = self.scale
        if len(frac) > scale:
            if frac[scale:].strip("0"):
                raise DecimalTextError(f"not a multiple of {self.step}")
            frac = frac[:scale]
        units = int((whole + frac + "0" * (scale - len(frac))) or "0")
        steps, rest = divmod(units, self.multiple)
        if rest:
            raise DecimalTextError(f"not a multiple of {self.step}")
        return _in_int64(-steps if negative else steps)

    def to_int_nearest(self, text: str) -> int:
        """Steps in ``text`` rounded half-to-even to the grid (lossy: for vendor float output)."""
        negative, whole, frac = _split(text)
        numerator = int((whole + frac) or "0") * 10**self.scale
        denominator = self.multiple * 10 ** len(frac)
        steps, rest = divmod(numerator, denominator)
        if 2 * rest > denominator or (2 * rest == denominator and steps & 1):
            steps += 1
        return _in_int64(-steps if negative else steps)

    def to_text(self, steps: int) -> str:
        """Canonical decimal text of ``steps`` steps, with exactly ``scale`` fraction digits."""
        digits = str(abs(steps) * self.multiple)
        if self.scale:
            digits = digits.rjust(self.scale + 1, "0")
            digits = f"{digits[: -self.scale]}.{digits[-self.scale :]}"
        return f"-{digits}" if steps < 0 else digits


def _in_int64(value: int) -> int:
    if value < INT64_MIN or value > INT64_MAX:
        raise DecimalTextError("out of the int64 range")
    return value


def parse_int(text: str, low: int = 0, high: int = INT64_MAX) -> int:
    """A plain base-10 integer (ASCII digits, optional ``-`` when ``low < 0``) in [low, high]."""
    digits = text[1:] if low < 0 and text.startswith("-") else text
    if not (digits.isdigit() and digits.isascii()):
        raise DecimalTextError("not a plain integer")
    value = int(text)
    if value < low or value > high:
        raise DecimalTextError(f"out of the range [{low}, {high}]")
    return value


def parse_ints(texts: Sequence[str], low: int = 0, high: int = INT64_MAX) -> list[int]:
    """:func:`parse_int` for a whole column with ``low >= 0`` (checks run at C speed); raises
    :class:`DecimalTextError` without saying which cell failed (use :func:`parse_int` for that)."""
    if low < 0:
        raise ValueError("parse_ints reads non-negative integers only")
    if not (all(map(str.isdigit, texts)) and all(map(str.isascii, texts))):
        raise DecimalTextError("not a plain integer")
    values = list(map(int, texts))
    if values and (min(values) < low or max(values) > high):
        raise DecimalTextError(f"out of the range [{low}, {high}]")
    return values


def parse_float(text: str) -> float:
    """A float from plain decimal text (no exponent, ``nan`` or ``inf``): informational values."""
    _split(text)
    return float(text)
