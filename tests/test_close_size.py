"""The close-size keywords are written once: ``CloseSize`` is what every ``close_request`` takes,
and its keys are the sizing keywords of :func:`close_qty` (where Alpaca's rules live)."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from decimal import Decimal

import pytest

from fillforge.errors import InsufficientQtyError, OrderValidationError
from fillforge.orders.enums import OrderSide
from fillforge.orders.models import Instrument, OrderRequest
from fillforge.orders.order import Order
from fillforge.venues import AlpacaRules, CloseSize, DayHours, VenueRules
from fillforge.venues.alpaca_rules import close_qty

D = Decimal


class _View:
    """Just enough of a :class:`~fillforge.venues.VenueView` to size a close."""

    def __init__(self, held: Decimal) -> None:
        self.held = held

    def now(self) -> int:
        return 0

    def instrument(self, symbol: str) -> Instrument:
        return Instrument(symbol=symbol, lot_size=D(10))

    def best_ask(self, symbol: str) -> Decimal | None:
        return None

    def best_bid(self, symbol: str) -> Decimal | None:
        return None

    def last(self, symbol: str) -> Decimal | None:
        return None

    def position_qty(self, symbol: str) -> Decimal:
        return self.held

    def working_orders(self, symbol: str, side: OrderSide | None = None) -> Iterable[Order]:
        return ()

    def hours(self) -> DayHours | None:
        return None


def test_close_size_is_the_sizing_keywords_of_close_qty() -> None:
    params = inspect.signature(close_qty).parameters.values()
    keyword_only = {p.name for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY}
    assert set(CloseSize.__annotations__) == keyword_only - {"symbol"} == {"qty", "percentage"}


@pytest.mark.parametrize("fn", [VenueRules.close_request, AlpacaRules.close_request])
def test_every_close_request_takes_the_keywords_as_close_size(fn: Callable[..., object]) -> None:
    params = list(inspect.signature(fn).parameters.values())
    assert [p.name for p in params] == ["self", "view", "symbol", "size"]
    assert params[-1].kind is inspect.Parameter.VAR_KEYWORD


def _sized(request: OrderRequest | None) -> tuple[OrderSide, Decimal | None]:
    assert request is not None
    return request.side, request.qty


def test_alpaca_sizes_a_close_from_the_keywords() -> None:
    rules, long_, short = AlpacaRules(), _View(D(95)), _View(D(-40))
    assert _sized(rules.close_request(long_, "X")) == (OrderSide.SELL, D(95))
    # 47.5 rounds down to whole lots of 10
    assert _sized(rules.close_request(long_, "X", percentage=D(50))) == (OrderSide.SELL, D(40))
    assert _sized(rules.close_request(short, "X", qty=D(15))) == (OrderSide.BUY, D(15))
    assert rules.close_request(_View(D(0)), "X", qty=D(1)) is None
    with pytest.raises(OrderValidationError) as e:
        rules.close_request(long_, "X", qty=D(1), percentage=D(1))
    assert e.value.field == "percentage"
    with pytest.raises(InsufficientQtyError):
        rules.close_request(long_, "X", qty=D(96))
