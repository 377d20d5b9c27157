"""The typed order model: Alpaca's validation rules (each failure names field and value), JSON
round trips, exact Decimal <-> tick/lot conversion, and ``trusted`` == validated construction."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fillforge import (
    AssetClass,
    EventKind,
    Fill,
    FillforgeError,
    Instrument,
    LiquiditySide,
    OrderClass,
    OrderEvent,
    OrderRequest,
    OrderSide,
    OrderStatus,
    OrderTimeInForce,
    OrderType,
    OrderValidationError,
    Side,
    StopLoss,
    TakeProfit,
    TimeInForce,
    VenueReport,
)

BASE: dict[str, Any] = {"symbol": "AAPL", "side": "buy", "qty": "10"}


def bad(field: str, **kw: Any) -> OrderValidationError:
    with pytest.raises(OrderValidationError) as info:
        OrderRequest(**{**BASE, **kw})
    assert info.value.field == field, str(info.value)
    assert str(info.value).startswith(f"{field}=")
    assert isinstance(info.value, FillforgeError)
    return info.value


def test_valid_requests_of_every_type_and_class() -> None:
    reqs = [
        OrderRequest(**BASE),
        OrderRequest(**BASE, type="limit", limit_price="10.5", extended_hours=True),
        OrderRequest(**BASE, type="stop", stop_price="9", time_in_force="gtc"),
        OrderRequest(**BASE, type="stop_limit", stop_price="9", limit_price="8.9"),
        OrderRequest(**BASE, type="trailing_stop", trail_percent="1.5", time_in_force="gtc"),
        OrderRequest(**BASE, type="trailing_stop", trail_price="0.25"),
        OrderRequest(symbol="AAPL", side="buy", notional="100"),
        OrderRequest(**BASE, time_in_force="opg"),
        OrderRequest(**BASE, type="limit", limit_price="10", time_in_force="cls"),
        OrderRequest(
            **BASE,
            type="limit",
            limit_price="10",
            order_class="bracket",
            take_profit={"limit_price": "12"},
            stop_loss={"stop_price": "9", "limit_price": "8.9"},
        ),
        OrderRequest(
            symbol="AAPL",
            side="sell",
            qty="1",
            type="limit",
            order_class="oco",
            take_profit=TakeProfit(limit_price=Decimal(12)),
            stop_loss=StopLoss(stop_price=Decimal(9)),
        ),
        OrderRequest(**BASE, order_class="oto", stop_loss={"stop_price": "9"}),
    ]
    assert [r.type for r in reqs][:5] == [
        OrderType.MARKET,
        OrderType.LIMIT,
        OrderType.STOP,
        OrderType.STOP_LIMIT,
        OrderType.TRAILING_STOP,
    ]
    for r in reqs:
        assert OrderRequest.model_validate_json(r.model_dump_json()) == r


@pytest.mark.parametrize(
    ("field", "kw"),
    [
        ("qty", {"qty": None}),
        ("qty", {"notional": "5"}),
        ("qty", {"qty": "-1"}),
        ("qty", {"qty": "nan"}),
        ("notional", {"qty": None, "notional": "5", "type": "limit", "limit_price": "1"}),
        ("notional", {"qty": None, "notional": "5", "time_in_force": "gtc"}),
        ("limit_price", {"type": "limit"}),
        ("limit_price", {"limit_price": "10"}),
        ("stop_price", {"type": "stop"}),
        ("stop_price", {"type": "stop_limit", "limit_price": "9"}),
        ("stop_price", {"type": "limit", "limit_price": "9", "stop_price": "8"}),
        ("trail_price", {"type": "trailing_stop"}),
        ("trail_price", {"type": "trailing_stop", "trail_price": "1", "trail_percent": "1"}),
        ("trail_percent", {"type": "trailing_stop", "trail_percent": "101"}),
        ("trail_percent", {"trail_percent": "1"}),
        ("time_in_force", {"type": "trailing_stop", "trail_price": "1", "time_in_force": "ioc"}),
        ("time_in_force", {"type": "stop", "stop_price": "9", "time_in_force": "opg"}),
        ("extended_hours", {"extended_hours": True}),
        (
            "extended_hours",
            {"type": "limit", "limit_price": "1", "extended_hours": True, "time_in_force": "gtc"},
        ),
        ("client_order_id", {"client_order_id": "x" * 49}),
        ("symbol", {"symbol": ""}),
        ("side", {"side": "hold"}),
        ("take_profit", {"take_profit": {"limit_price": "12"}}),
        ("take_profit", {"order_class": "bracket", "stop_loss": {"stop_price": "9"}}),
        ("stop_loss", {"order_class": "bracket", "take_profit": {"limit_price": "12"}}),
        ("take_profit", {"order_class": "oto"}),
        (
            "take_profit.limit_price",
            {
                "order_class": "bracket",
                "take_profit": {"limit_price": "9"},
                "stop_loss": {"stop_price": "10"},
            },
        ),
        (
            "stop_loss.stop_price",
            {
                "order_class": "bracket",
                "type": "limit",
                "limit_price": "10",
                "take_profit": {"limit_price": "12"},
                "stop_loss": {"stop_price": "10.5"},
            },
        ),
        (
            "time_in_force",
            {"order_class": "oto", "stop_loss": {"stop_price": "9"}, "time_in_force": "ioc"},
        ),
        (
            "type",
            {
                "order_class": "oco",
                "take_profit": {"limit_price": "12"},
                "stop_loss": {"stop_price": "9"},
            },
        ),
        (
            "type",
            {
                "order_class": "oto",
                "type": "trailing_stop",
                "trail_price": "1",
                "stop_loss": {"stop_price": "9"},
            },
        ),
        ("stop_loss.stop_price", {"stop_loss": {"stop_price": "0"}, "order_class": "oto"}),
        ("bogus", {"bogus": 1}),
    ],
)
def test_each_rule_names_its_field(field: str, kw: dict[str, Any]) -> None:
    bad(field, **kw)


def test_sell_bracket_reverses_the_price_rule() -> None:
    kw = {
        "side": "sell",
        "order_class": "bracket",
        "take_profit": {"limit_price": "12"},
        "stop_loss": {"stop_price": "9"},
    }
    err = bad("take_profit.limit_price", **kw)
    assert "below" in err.why
    ok = {**kw, "take_profit": {"limit_price": "9"}, "stop_loss": {"stop_price": "12"}}
    assert OrderRequest(**{**BASE, **ok}).side is OrderSide.SELL


def test_instrument_converts_exactly_once_and_refuses_off_grid() -> None:
    inst = Instrument(
        symbol="ES", tick_size="0.25", lot_size="1", min_qty="1", asset_class="future"
    )
    assert inst.to_ticks(Decimal("4500.75")) == 18003
    assert inst.to_price(18003) == Decimal("4500.75")
    assert inst.to_lots(Decimal(3)) == 3
    with pytest.raises(OrderValidationError, match=r"limit_price=Decimal\('4500.1'\)"):
        inst.to_ticks(Decimal("4500.1"), "limit_price")
    with pytest.raises(OrderValidationError, match="minimum"):
        inst.to_lots(Decimal(0))
    req = OrderRequest(symbol="ES", side="buy", qty="2", type="limit", limit_price="4500.10")
    with pytest.raises(OrderValidationError) as info:
        inst.check(req)
    assert info.value.field == "limit_price"
    crypto = Instrument(
        symbol="BTCUSD", tick_size="0.01", lot_size="0.0001", asset_class=AssetClass.CRYPTO
    )
    with pytest.raises(OrderValidationError, match="time_in_force"):
        crypto.check(OrderRequest(symbol="BTCUSD", side="buy", qty="0.5"))
    crypto.check(OrderRequest(symbol="BTCUSD", side="buy", qty="0.5", time_in_force="gtc"))
    with pytest.raises(OrderValidationError, match="lot size"):
        crypto.check(OrderRequest(symbol="BTCUSD", side="buy", qty="0.00005", time_in_force="gtc"))
    with pytest.raises(OrderValidationError, match="tick_size"):
        Instrument(symbol="X", tick_size="0")


@given(ticks=st.integers(-(10**12), 10**12), tick=st.sampled_from(["0.01", "0.25", "0.0001", "5"]))
def test_tick_round_trip_is_exact(ticks: int, tick: str) -> None:
    inst = Instrument(symbol="X", tick_size=tick)
    assert inst.to_ticks(inst.to_price(ticks)) == ticks


def test_enum_mappings_to_book_fix_and_alpaca() -> None:
    assert OrderSide.BUY.sign is Side.BUY
    assert OrderSide.SELL.opposite is OrderSide.BUY
    assert OrderTimeInForce.IOC.book is TimeInForce.IOC
    assert OrderTimeInForce.OPG.book is None
    assert OrderStatus.PENDING_REPLACE.fix == "E"
    assert OrderStatus.ACCEPTED.fix is None
    assert OrderStatus.DENIED.alpaca == "rejected"
    assert OrderStatus.PARTIALLY_FILLED.alpaca == "partially_filled"
    assert EventKind.PARTIAL_FILL.fix == "F"
    assert OrderStatus.HELD.is_open
    assert OrderStatus.REPLACED.is_terminal
    assert not OrderStatus.DONE_FOR_DAY.is_terminal


def fill() -> Fill:
    return Fill(
        trade_id="t1",
        order_id="o1",
        price="10.25",
        qty="3",
        liquidity=LiquiditySide.MAKER,
        commission="0.01",
        ts_event=5,
        ts_recv=7,
    )


def test_fill_event_report_round_trip_json() -> None:
    f = fill()
    ev = OrderEvent(
        kind="partial_fill",
        order_id="o1",
        client_order_id="c1",
        symbol="AAPL",
        status="partially_filled",
        prev_status="new",
        order_qty="10",
        cum_qty="3",
        leaves_qty="7",
        avg_price="10.25",
        fill=f,
        ts=7,
        late=False,
    )
    rep = VenueReport(kind="fill", order_id="o1", fill=f, ts=7)
    for model in (f, ev, rep, Instrument(symbol="AAPL")):
        again = type(model).model_validate_json(model.model_dump_json())
        assert again == model
        assert again.model_dump_json() == model.model_dump_json()
    with pytest.raises(Exception, match="frozen"):
        f.qty = Decimal(1)  # type: ignore[misc]


def test_trusted_equals_validated() -> None:
    f = fill()
    assert Fill.trusted(**f.model_dump()) == f
    assert Fill.trusted(**f.model_dump()).model_dump_json() == f.model_dump_json()
    r = VenueReport(kind="new", order_id="o1")
    assert VenueReport.trusted(kind=EventKind.NEW, order_id="o1") == r
    with pytest.raises(OrderValidationError, match="order_id"):
        Fill.trusted(trade_id="x")
    with pytest.raises(OrderValidationError, match="bogus"):
        Fill.trusted(**f.model_dump(), bogus=1)


@pytest.mark.parametrize(
    ("field", "kw"),
    [
        ("fill", {"kind": "fill"}),
        ("new_order_id", {"kind": "replaced"}),
        ("trade_id", {"kind": "trade_cancel"}),
        ("qty", {"kind": "restated"}),
        ("kind", {"kind": "nonsense"}),
    ],
)
def test_venue_report_shape(field: str, kw: dict[str, Any]) -> None:
    with pytest.raises(OrderValidationError) as info:
        VenueReport(order_id="o1", **kw)
    assert info.value.field == field


def test_order_class_default_is_simple() -> None:
    assert OrderRequest(**BASE).order_class is OrderClass.SIMPLE
