"""The listing window of ``allOrders`` and ``myTrades``: rows from the first id on, in the
time window, by id; from a given id the first ``limit``, else the most recent ``limit``."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fillforge.binance.routes import _Window
from fillforge.errors import BinanceApiError

_maybe = st.none() | st.integers(0, 40)


@given(
    rows=st.lists(st.tuples(st.integers(0, 40), st.integers(0, 40)), unique_by=lambda r: r[0]),
    lo=_maybe,
    hi=_maybe,
    first=_maybe,
    limit=st.integers(1, 10),
)
def test_pick(
    rows: list[tuple[int, int]], lo: int | None, hi: int | None, first: int | None, limit: int
) -> None:
    w = _Window(lo, hi, limit, first)
    kept = sorted(
        r
        for r in rows
        if (first is None or r[0] >= first)
        and (lo is None or r[1] >= lo)
        and (hi is None or r[1] <= hi)
    )
    want = kept[:limit] if first is not None else kept[-limit:]
    assert w.pick(rows, lambda r: r[0], lambda r: r[1]) == want


def test_of_reads_the_parameters() -> None:
    w = _Window.of({"startTime": "5", "endTime": "9", "limit": "3", "fromId": "7"}, "fromId")
    assert w == _Window(5, 9, 3, 7)
    assert _Window.of({}, "orderId") == _Window(None, None, 500, None)
    with pytest.raises(BinanceApiError):
        _Window.of({"limit": "1001"}, "orderId")
