"""fillforge._exact.to_decimal: the one conversion of a number to Decimal."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

import numpy as np
import pytest

from fillforge._exact import to_decimal


def test_a_float_is_the_decimal_it_prints_as() -> None:
    assert to_decimal(0.1) == Decimal("0.1")
    assert str(to_decimal(1e-7)) == "1E-7"
    assert to_decimal(np.float64(0.1)) == Decimal("0.1")  # not "np.float64(0.1)"


def test_ints_text_and_decimals_convert_exactly() -> None:
    assert to_decimal(10**30) == Decimal(10**30)
    assert str(to_decimal("1.50")) == "1.50"
    d = Decimal("2.25")
    assert to_decimal(d) == d


def test_not_finite_converts_and_bad_text_raises() -> None:
    assert not to_decimal(float("nan")).is_finite()
    assert to_decimal(float("-inf")) == Decimal("-Infinity")
    with pytest.raises(InvalidOperation):
        to_decimal("abc")
