"""The typed order model: Alpaca's validation rules (each failure names field and value), JSON
round trips, exact Decimal <-> tick/lot conversion, and ``trusted`` == validated construction."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
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


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("NaN", "not a finite number"),
        ("-Infinity", "not a finite number"),
        ("1e40", "too large: at most 9223372036854775807 units"),  # past Decimal's precision
        ("92233720368547758.08", "too large: at most 9223372036854775807 units"),  # past i64
    ],
)
def test_instrument_refuses_what_the_core_cannot_hold(value: str, why: str) -> None:
    inst = Instrument(symbol="X", tick_size="0.01", lot_size="0.01")
    for convert, field in ((inst.to_ticks, "limit_price"), (inst.to_lots, "qty")):
        with pytest.raises(OrderValidationError, match=why) as e:
            convert(Decimal(value), field)
        assert e.value.field == field
    assert inst.to_ticks(Decimal("92233720368547758.07")) == 2**63 - 1


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


@settings(max_examples=200)
@given(
    values=st.lists(
        st.decimals(
            allow_nan=False, allow_infinity=False, places=4, min_value=-(10**6), max_value=10**6
        )
        | st.sampled_from(
            [
                Decimal("100"),
                Decimal("100.00"),
                Decimal("1E+2"),
                Decimal("0.01"),
                Decimal("NaN"),
                Decimal("sNaN"),
                Decimal("-Infinity"),
                Decimal("1e40"),
            ]
        ),
        max_size=12,
    ),
    unit=st.sampled_from(["0.01", "0.25", "1", "0.0001"]),
)
def test_conversions_remembered_answer_as_computed(values: list[Decimal], unit: str) -> None:
    """The memo of whole units (asked again, the same value in another exponent) gives what the
    division gives, and an off-grid or unholdable value is refused every time it is asked."""
    from fillforge.orders import models

    inst = Instrument(symbol="X", tick_size=unit, lot_size=unit)

    def outcome(v: Decimal) -> object:
        try:
            return inst.to_ticks(v, "price")
        except OrderValidationError as e:
            return (e.field, e.why)

    models._WHOLE.clear()
    fresh = [outcome(v) for v in values]
    for v, want in zip(values, fresh, strict=True):  # asked again: from the memo where kept
        assert outcome(v) == want
        models._WHOLE.clear()
        assert outcome(v) == want
    inst.to_ticks(Decimal(5) * Decimal(unit))  # a kept value, then its other spellings
    assert inst.to_ticks(Decimal(5) * Decimal(unit) + Decimal("0.00")) == 5
    with pytest.raises(OrderValidationError, match="not a multiple"):
        inst.to_lots(Decimal(5) * Decimal(unit) + Decimal("0.00001"))


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
    made = Fill.adopter()(dict(f.model_dump()))  # the hot paths' bound form of adopt
    assert made == f
    assert made.model_dump_json() == f.model_dump_json()
    assert made.model_fields_set == Fill.adopt(dict(f.model_dump())).model_fields_set


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


WIDE: dict[str, list[Any]] = {
    "symbol": ["AAPL", ""],
    "qty": [None, "1", "0", "2.5"],
    "notional": [None, "100", "-5"],
    "limit_price": [None, "0", "8.9", "9", "10", "12"],
    "stop_price": [None, "-1", "9", "10", "10.5", "12"],
    "trail_price": [None, "0.5"],
    "trail_percent": [None, "1.5", "150"],
    "extended_hours": [False, True],
    "take_profit": [None, {"limit_price": "9"}, {"limit_price": "12"}, {"limit_price": "0"}],
    "stop_loss": [None, {"stop_price": "9"}, {"stop_price": "12", "limit_price": "11.9"}],
}
PX = st.sampled_from(["8.9", "9", "10", "10.5", "12"])


@st.composite
def near_valid_requests(draw: st.DrawFn) -> dict[str, Any]:
    """Requests shaped by their type and class (so many pass), then up to two fields
    overwritten from a wide pool of good and bad values (so every rule gets hit)."""
    t = draw(st.sampled_from([t.value for t in OrderType]))
    cls = draw(st.sampled_from([c.value for c in OrderClass]))
    kw: dict[str, Any] = {
        "symbol": "AAPL",
        "side": draw(st.sampled_from(["buy", "sell"])),
        "type": t,
        "time_in_force": draw(st.sampled_from(["day", "gtc"] * 3 + ["ioc", "fok", "opg", "cls"])),
        "order_class": cls,
    }
    size = draw(st.sampled_from(["qty"] * 5 + ["notional"]))
    kw[size] = "1" if size == "qty" else "100"
    if t in ("limit", "stop_limit"):
        kw["limit_price"] = draw(PX)
    if t in ("stop", "stop_limit"):
        kw["stop_price"] = draw(PX)
    if t == "trailing_stop":
        kw[draw(st.sampled_from(["trail_price", "trail_percent"]))] = "0.5"
    if cls in ("bracket", "oco", "oto"):
        kw["take_profit"] = {"limit_price": draw(PX)}
        kw["stop_loss"] = {"stop_price": draw(PX)}
        if cls == "oto":
            del kw[draw(st.sampled_from(["take_profit", "stop_loss"]))]
    for name in draw(st.lists(st.sampled_from(sorted(WIDE)), max_size=2)):
        kw[name] = draw(st.sampled_from(WIDE[name]))
    return kw


@settings(max_examples=400)
@given(near_valid_requests())
def test_random_requests_obey_every_rule_or_name_a_field(kw: dict[str, Any]) -> None:
    error: OrderValidationError | None = None
    try:
        r = OrderRequest(**kw)
    except OrderValidationError as e:
        error = e
    if error is not None:
        assert error.field.split(".")[0] in OrderRequest.model_fields, error
        return
    # Accepted: every documented rule holds, spelt out independently of the validator.
    assert (r.qty is None) != (r.notional is None)
    if r.notional is not None:
        assert (r.type, r.time_in_force, r.extended_hours) == ("market", "day", False)
    if r.type in ("limit", "stop_limit") and r.order_class != "oco":
        assert r.limit_price is not None
    if r.type in ("stop", "stop_limit"):
        assert r.stop_price is not None
    if r.type != "trailing_stop":
        assert r.trail_price is None
        assert r.trail_percent is None
    else:
        assert (r.trail_price is None) != (r.trail_percent is None)
        assert r.time_in_force in ("day", "gtc")
        assert r.order_class == "simple"
    if r.type in ("market", "stop", "trailing_stop"):
        assert r.limit_price is None
    if r.type in ("market", "limit", "trailing_stop"):
        assert r.stop_price is None
    if r.extended_hours:
        assert (r.type, r.time_in_force) == ("limit", "day")
    if r.time_in_force in ("opg", "cls"):
        assert r.type in ("market", "limit")
    if r.order_class == "simple":
        assert r.take_profit is None
        assert r.stop_loss is None
    else:
        assert r.time_in_force in ("day", "gtc")
        assert r.qty is not None
    if r.order_class in ("bracket", "oco"):
        assert r.take_profit is not None
        assert r.stop_loss is not None
    if r.order_class == "oto":
        assert r.take_profit is not None or r.stop_loss is not None
    if r.order_class == "oco":
        assert r.type == "limit"
    long = (r.side == "buy") != (r.order_class == "oco")
    if r.take_profit is not None and r.stop_loss is not None:
        tp, sl = r.take_profit.limit_price, r.stop_loss.stop_price
        assert tp > sl if long else tp < sl
    base = r.take_profit.limit_price if r.order_class == "oco" and r.take_profit else r.limit_price
    if r.stop_loss is not None and base is not None:
        assert r.stop_loss.stop_price < base if long else r.stop_loss.stop_price > base


@settings(max_examples=400)
@given(near_valid_requests(), st.data())
def test_defaults_left_out_or_spelt_out_give_the_same_answer(
    kw: dict[str, Any], data: st.DataObject
) -> None:
    """A plain request (its other fields left at their defaults) skips most of the checks; the
    same request with every field given takes all of them: same request or same error."""
    fields = OrderRequest.model_fields
    full = {n: f.default for n, f in fields.items() if not f.is_required()} | kw
    defaults = sorted(n for n, v in kw.items() if n in fields and v == fields[n].default)
    left_out = set(data.draw(st.lists(st.sampled_from(defaults or ["symbol"]), unique=True)))
    short = {n: v for n, v in kw.items() if n not in left_out or n == "symbol"}

    def outcome(values: dict[str, Any]) -> object:
        try:
            return OrderRequest(**values).model_dump()
        except OrderValidationError as e:
            return (type(e), e.field, e.value, str(e))

    assert outcome(short) == outcome(full)


def test_plain_requests_pass_every_check_and_others_are_still_refused() -> None:
    from fillforge.orders import models

    plain = [
        OrderRequest(**BASE),
        OrderRequest(**BASE, type="limit", limit_price="10", time_in_force="cls"),
        OrderRequest(**BASE, type="limit", limit_price="10", client_order_id="c1"),
    ]
    for r in plain:
        models._check_quantity(r)
        models._check_prices(r)
        models._check_class(r)
    bad("limit_price", type="market", limit_price="10")
    bad("limit_price", type="limit")
    bad("qty", qty=None)
    bad("stop_price", type="stop")
    bad("qty", qty=None, notional=None)


def test_direct_construction_is_what_init_does() -> None:
    """The classes built without ``__init__`` (models._DIRECT) keep BaseModel's ``__init__``
    and ``__new__``; positional arguments still take the ordinary path (and its TypeError)."""
    from pydantic import BaseModel

    from fillforge.orders import models

    for cls in models._DIRECT:
        init: object = cls.__init__  # type: ignore[misc]
        new: object = cls.__new__
        assert init is BaseModel.__init__, cls
        assert new is object.__new__, cls
    kw: dict[str, Any] = {**BASE, "type": "limit", "limit_price": "10"}
    made = OrderRequest(**kw)
    assert made == OrderRequest.model_validate(kw)
    assert made.model_fields_set == {"symbol", "side", "qty", "type", "limit_price"}
    assert made.__pydantic_extra__ is None
    assert made.__pydantic_private__ is None
    with pytest.raises(TypeError):
        OrderRequest("AAPL", **kw)  # type: ignore[call-arg]
    with pytest.raises(OrderValidationError) as info:
        Fill(trade_id="t", order_id="o", price="-1", qty="1")
    assert info.value.field == "price"
