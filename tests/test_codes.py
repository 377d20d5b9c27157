"""The Python enums name exactly the codes the compiled core uses."""

from __future__ import annotations

from enum import IntEnum

import pytest

from fillforge import Op, Reason, Side, Status, TimeInForce, _core


@pytest.mark.parametrize(
    ("enum", "core"),
    [(Status, _core.STATUS_CODES), (Reason, _core.REASON_CODES), (Op, _core.OP_CODES)],
)
def test_enum_matches_core(enum: type[IntEnum], core: dict[str, int]) -> None:
    assert {m.name: m.value for m in enum} == core


def test_side_and_tif_are_accepted_by_the_book() -> None:
    book = _core.OrderBook()
    for i, tif in enumerate(TimeInForce):
        status, *_ = book.submit_limit(i + 1, Side.BUY, 100 - i, 1, tif)
        assert Status(status) in {Status.RESTING, Status.CANCELED}
    assert book.best_bid() is not None
