"""OrderBook and SimEngine convert the order arguments they share with the same converters: for
the same arguments, at least one of them of a wrong type or sign (what the bindings check), both
refuse with the same class and message, and when several are wrong the first refused is the same
(``tif`` first; a stop order's limit price before its quantity)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fillforge import FillforgeError, InvalidPriceError, OrderBook
from fillforge._core import SimEngine
from fillforge.sim.feeds import empty_feed

GOOD: dict[str, Any] = {
    "order_id": 7,
    "side": 1,
    "price": 100,
    "stop_price": 100,
    "qty": 5,
    "limit_price": None,
    "tif": 0,
}
BAD: dict[str, list[Any]] = {
    "order_id": [-1, 2**64, True, 1.5, "7"],
    "side": [0, 2, True, None, "buy"],
    "price": [None, 1.5, 2**63, "100"],
    "stop_price": [None, 1.5, 2**63, "100"],
    "qty": [-3, 1.5, True, None],
    "limit_price": [1.5, 2**63, "100"],
    "tif": [9, -1, True, None, 1.5],
}
SHARED: dict[str, list[str]] = {
    "submit_stop": ["order_id", "side", "stop_price", "qty", "limit_price", "tif"],
    "modify": ["order_id", "price", "qty"],
    "cancel": ["order_id"],
}


def _refusal(obj: object, method: str, args: list[Any]) -> tuple[type, str] | None:
    try:
        getattr(obj, method)(*args)
    except FillforgeError as e:
        return type(e), str(e)
    return None


@st.composite
def _calls(draw: st.DrawFn) -> tuple[str, list[Any]]:
    method = draw(st.sampled_from(sorted(SHARED)))
    names = SHARED[method]
    bad = draw(st.sets(st.sampled_from(names), min_size=1))
    args = [draw(st.sampled_from(BAD[n])) if n in bad else GOOD[n] for n in names]
    return method, args


@settings(max_examples=300, deadline=None)
@given(_calls())
def test_book_and_engine_refuse_shared_arguments_alike(call: tuple[str, list[Any]]) -> None:
    method, args = call
    book_says = _refusal(OrderBook(), method, args)
    engine_says = _refusal(SimEngine(empty_feed()), method, args)
    assert book_says is not None
    assert book_says == engine_says


@pytest.mark.parametrize("obj", [OrderBook, lambda: SimEngine(empty_feed())])
def test_tif_is_refused_before_a_bad_quantity(obj: Any) -> None:
    with pytest.raises(FillforgeError) as e:
        obj().submit_stop(7, 1, 100, -3, None, 9)
    assert "tif=9" in str(e.value)


@pytest.mark.parametrize("obj", [OrderBook, lambda: SimEngine(empty_feed())])
def test_a_stop_orders_limit_price_is_refused_before_its_quantity(obj: Any) -> None:
    with pytest.raises(InvalidPriceError) as e:
        obj().submit_stop(7, 1, 100, -3, 1.5)
    assert "limit_price=1.5" in str(e.value)
