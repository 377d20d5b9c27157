"""The typed order model: requests, instruments, fills, venue reports and order events.

All are frozen pydantic v2 models that round-trip through JSON. Prices and quantities are
``Decimal`` here, at the edge; :class:`Instrument` converts them to the book's integer ticks and
lots exactly once and refuses anything off the grid. Validation follows what Alpaca enforces
(``docs/orders.md``); every failure is an :class:`~fillforge.errors.OrderValidationError` naming
the field and the value.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any, Self, cast

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic._internal._model_construction import ModelMetaclass

from fillforge.errors import OrderValidationError
from fillforge.orders.enums import (
    AssetClass,
    EventKind,
    LiquiditySide,
    OrderClass,
    OrderSide,
    OrderStatus,
    OrderTimeInForce,
    OrderType,
)
from fillforge.orders.ids import (  # re-exported: their home before orders.ids
    MAX_CLIENT_ORDER_ID,
    MAX_PARENT_ID,
    PARENT_ID_CHARS,
    child_client_order_id,
    parent_of,
    split_child_id,
)

__all__ = [
    "MAX_CLIENT_ORDER_ID",
    "MAX_PARENT_ID",
    "PARENT_ID_CHARS",
    "Fill",
    "FrozenModel",
    "Instrument",
    "OrderEvent",
    "OrderRequest",
    "ReplaceTerms",
    "StopLoss",
    "TakeProfit",
    "VenueReport",
    "child_client_order_id",
    "parent_of",
    "split_child_id",
]

Positive = Annotated[Decimal, Field(gt=0, allow_inf_nan=False)]
NonNegative = Annotated[Decimal, Field(ge=0, allow_inf_nan=False)]
Nanos = Annotated[int, Field(ge=0)]
_MISSING: Any = object()


def _as_fillforge_error(e: ValidationError) -> OrderValidationError:
    first = e.errors(include_url=False)[0]
    where = ".".join(str(p) for p in first["loc"])
    raised = first.get("ctx", {}).get("error")
    if isinstance(raised, OrderValidationError):  # a rule's own error (a ValueError): its field
        if not where:
            return raised
        return OrderValidationError(f"{where}.{raised.field}", raised.value, raised.why)
    return OrderValidationError(where or e.title, first.get("input"), first["msg"])


class _Converting(ModelMetaclass):
    """Makes a failed construction an :class:`OrderValidationError`. Only a call of the class
    converts (a nested model is validated by pydantic-core, which never calls the class), so
    the error keeps its full path (``stop_loss.stop_price``); no ``__init__`` override, which
    would make pydantic call back into Python for every nested model."""

    if not TYPE_CHECKING:  # hidden from mypy, which then checks each model's own fields

        def __call__(cls, *args: Any, **kwargs: Any) -> Any:  # noqa: N805 (a metaclass)
            try:
                if args or cls not in _DIRECT:
                    return super().__call__(*args, **kwargs)
                # What BaseModel.__init__ does, without its frame or the instance made first.
                return cls.__pydantic_validator__.validate_python(kwargs)
            except ValidationError as e:
                raise _as_fillforge_error(e) from None


# The classes whose call validates its keywords directly (filled in at the end of the module).
_DIRECT: frozenset[type] = frozenset()


class FrozenModel(BaseModel, metaclass=_Converting):
    """Immutable, strict about unknown fields; a validation failure is an OrderValidationError."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    @classmethod
    def trusted(cls, **values: Any) -> Self:
        """Build from values already known valid (our own events, a venue adapter's reports),
        skipping validation: about 1 us against 6-14 us for ``model_construct``. Missing fields
        take their defaults; a missing required or unknown field is still an error.
        ``tests/test_order_models.py`` checks the result equals the validated model.
        """
        spec = _SPECS.get(cls)
        if spec is None:
            spec = _SPECS[cls] = _spec(cls)
        template, required = spec
        data = {**template, **values}  # the template's (declared) field order is kept
        if len(data) != len(template):
            unknown = min(values.keys() - template.keys())
            raise _fail(unknown, values[unknown], f"not a {cls.__name__} field")
        for name in required:
            if data[name] is _MISSING:
                raise _fail(name, None, f"required to build a {cls.__name__}")
        return cls.adopt(data, set(values))

    @classmethod
    def adopt(cls, data: dict[str, Any], fields_set: set[str] | None = None) -> Self:
        """Wrap ``data`` (every field, declared order, valid) without copying or checking.

        Without ``fields_set`` every field counts as set; the set is shared by the class's
        adopted instances (pydantic copies it before any update, and these models are frozen).
        """
        m = _new(cls)
        _set_dict(m, data)
        if fields_set is None:
            fields_set = _ALL_SET.get(cls)
            if fields_set is None:
                fields_set = _ALL_SET[cls] = set(cls.model_fields)
        _set_fields_set(m, fields_set)
        _set_extra(m, None)
        _set_private(m, None)
        return m

    @classmethod
    def adopter(cls) -> Callable[[dict[str, Any]], Self]:
        """:meth:`adopt` without a ``fields_set``, as one function with everything it needs
        bound: for a hot path that wraps many instances of one class."""
        fields_set = _ALL_SET.get(cls)
        if fields_set is None:
            fields_set = _ALL_SET[cls] = set(cls.model_fields)
        new, set_dict, set_fields, set_extra, set_private = (
            _new,
            _set_dict,
            _set_fields_set,
            _set_extra,
            _set_private,
        )

        def adopt(data: dict[str, Any]) -> FrozenModel:
            m = new(cls)
            set_dict(m, data)
            set_fields(m, fields_set)
            set_extra(m, None)
            set_private(m, None)
            return m

        return cast("Callable[[dict[str, Any]], Self]", adopt)

    @classmethod
    def model_validate(cls, obj: Any, *args: Any, **kwargs: Any) -> Self:
        try:
            return super().model_validate(obj, *args, **kwargs)
        except ValidationError as e:
            raise _as_fillforge_error(e) from None

    @classmethod
    def model_validate_json(
        cls, json_data: str | bytes | bytearray, *args: Any, **kwargs: Any
    ) -> Self:
        try:
            return super().model_validate_json(json_data, *args, **kwargs)
        except ValidationError as e:
            raise _as_fillforge_error(e) from None


# ``adopt``'s steps, looked up once: BaseModel's slots set directly (no attribute lookup, no
# frozen-model __setattr__), an instance made without __init__.
_new = object.__new__
_set_dict = BaseModel.__dict__["__dict__"].__set__
_set_fields_set = BaseModel.__dict__["__pydantic_fields_set__"].__set__
_set_extra = BaseModel.__dict__["__pydantic_extra__"].__set__
_set_private = BaseModel.__dict__["__pydantic_private__"].__set__

_SPECS: dict[type[FrozenModel], tuple[dict[str, Any], tuple[str, ...]]] = {}
_ALL_SET: dict[type[FrozenModel], set[str]] = {}


def _spec(cls: type[FrozenModel]) -> tuple[dict[str, Any], tuple[str, ...]]:
    """Each field's default in declared order (required ones marked missing), and the required."""
    fields = cls.model_fields
    return (
        {n: _MISSING if f.is_required() else f.default for n, f in fields.items()},
        tuple(n for n, f in fields.items() if f.is_required()),
    )


def _fail(field: str, value: object, why: str) -> OrderValidationError:
    return OrderValidationError(field, value, why)


# The Rust core keeps prices and quantities in 64-bit integers.
_MAX_UNITS = 2**63 - 1


# Values already found to be whole units, by unit: a strategy sends the same sizes and nearby
# prices again and again, and a dict lookup costs a tenth of the division. Only exact whole
# units in range are kept; each unit's memo is emptied when it reaches _MEMO_SIZE entries.
_WHOLE: dict[Decimal, dict[Decimal, int]] = {}
_MEMO_SIZE = 4096
_NONE_LEFT = Decimal(0)


def _units(value: Decimal, unit: Decimal, field: str) -> tuple[int, Decimal]:
    """``value`` as whole ``unit``s and the remainder; past what the core holds is an error."""
    memo = _WHOLE.get(unit)
    if memo is not None and value.__class__ is Decimal:
        try:
            n = memo.get(value)
        except TypeError:  # a signaling NaN has no hash
            n = None
        if n is not None:
            return n, _NONE_LEFT
    try:
        q, r = divmod(value if value.__class__ is Decimal else Decimal(value), unit)
        n = int(q)
    except (ArithmeticError, ValueError):  # NaN, infinite, or past Decimal's precision
        n = None
    if n is None or not -_MAX_UNITS <= n <= _MAX_UNITS:
        if not Decimal(value).is_finite():
            raise _fail(field, value, "not a finite number")
        raise _fail(field, value, f"too large: at most {_MAX_UNITS} units of {unit}")
    if not r and value.__class__ is Decimal:
        if memo is None:
            memo = _WHOLE[unit] = {}
        elif len(memo) >= _MEMO_SIZE:
            memo.clear()
        memo[value] = n
    return n, r


class Instrument(FrozenModel):
    """A tradable instrument and its grids: prices are multiples of ``tick_size``, quantities of
    ``lot_size`` and at least ``min_qty``."""

    symbol: Annotated[str, Field(min_length=1, max_length=64)]
    tick_size: Positive = Decimal("0.01")
    lot_size: Positive = Decimal(1)
    min_qty: NonNegative = Decimal(0)
    asset_class: AssetClass = AssetClass.US_EQUITY

    def to_ticks(self, price: Decimal, field: str = "price") -> int:
        """``price`` in ticks; off the tick grid is an error, never a rounding."""
        q, r = _units(price, self.tick_size, field)
        if r:
            raise _fail(field, price, f"not a multiple of the tick size {self.tick_size}")
        return q

    def to_price(self, ticks: int) -> Decimal:
        return ticks * self.tick_size

    def to_lots(self, qty: Decimal, field: str = "qty") -> int:
        """``qty`` in lots; off the lot grid or below ``min_qty`` is an error."""
        q, r = _units(qty, self.lot_size, field)
        if r:
            raise _fail(field, qty, f"not a multiple of the lot size {self.lot_size}")
        if qty < self.min_qty:
            raise _fail(field, qty, f"below the minimum quantity {self.min_qty}")
        return q

    def to_qty(self, lots: int) -> Decimal:
        return lots * self.lot_size

    def check(self, request: OrderRequest) -> None:
        """Check that ``request`` fits this instrument: symbol, every price and quantity on its
        grid and in the core's range (the take-profit and stop-loss legs too, so a bracket never
        fills an entry whose exits the venue would refuse), and the allowed time in force. The
        one check of an order's terms: brokers and servers call it, not copies of it."""
        if request.symbol != self.symbol:
            raise _fail("symbol", request.symbol, f"this instrument is {self.symbol!r}")
        if request.qty is not None:
            self.to_lots(request.qty)
        if request.notional is not None:
            # Money in ticks must fit the core's integers too (its size comes at arrival).
            _units(request.notional, self.tick_size, "notional")
        for name in ("limit_price", "stop_price", "trail_price"):
            value = getattr(request, name)
            if value is not None:
                self.to_ticks(value, name)
        for leg, name in ((request.take_profit, "take_profit"), (request.stop_loss, "stop_loss")):
            if leg is not None:
                for f, v in leg:
                    if v is not None:
                        self.to_ticks(v, f"{name}.{f}")
        allowed = _TIF_BY_ASSET.get(self.asset_class)
        if allowed is not None and request.time_in_force not in allowed:
            raise _fail(
                "time_in_force",
                request.time_in_force.value,
                f"{self.asset_class.value} orders take {sorted(t.value for t in allowed)}",
            )


_TIF_BY_ASSET = {
    AssetClass.CRYPTO: frozenset({OrderTimeInForce.GTC, OrderTimeInForce.IOC}),
    AssetClass.US_OPTION: frozenset({OrderTimeInForce.DAY}),
}


class TakeProfit(FrozenModel):
    """The take-profit leg of a bracket, OCO or OTO: a limit order."""

    limit_price: Positive


class StopLoss(FrozenModel):
    """The stop-loss leg: a stop order, or a stop-limit with ``limit_price``."""

    stop_price: Positive
    limit_price: Positive | None = None


class OrderRequest(FrozenModel):
    """What a strategy asks for. Validation mirrors Alpaca's rules (docs/orders.md)."""

    symbol: Annotated[str, Field(min_length=1, max_length=64)]
    side: OrderSide
    type: OrderType = OrderType.MARKET
    time_in_force: OrderTimeInForce = OrderTimeInForce.DAY
    qty: Positive | None = None
    notional: Positive | None = None
    limit_price: Positive | None = None
    stop_price: Positive | None = None
    trail_price: Positive | None = None
    trail_percent: Annotated[Decimal, Field(gt=0, le=100, allow_inf_nan=False)] | None = None
    client_order_id: Annotated[str, Field(min_length=1, max_length=MAX_CLIENT_ORDER_ID)] | None = (
        None
    )
    extended_hours: bool = False
    order_class: OrderClass = OrderClass.SIMPLE
    take_profit: TakeProfit | None = None
    stop_loss: StopLoss | None = None

    @model_validator(mode="after")
    def _rules(self) -> Self:
        # Most requests are a simple market or limit order by qty: every field outside
        # _PLAIN_FIELDS keeps its default, so no rule can fail once qty is given and the limit
        # price is there exactly when the type is limit. Anything else takes every check.
        d = self.__dict__  # (a dict read is cheaper than a model attribute's)
        if self.__pydantic_fields_set__ <= _PLAIN_FIELDS and d["qty"] is not None:
            t = d["type"]
            if (t is _LIMIT) if d["limit_price"] is not None else (t is _MARKET):
                return self
        _check_quantity(self)
        _check_prices(self)
        _check_class(self)
        if self.extended_hours and (self.type is not _LIMIT or self.time_in_force is not _DAY):
            raise _fail("extended_hours", True, "only for limit orders with time_in_force day")
        return self


def _check_quantity(r: OrderRequest) -> None:
    if (r.qty is None) == (r.notional is None):
        raise _fail("qty", r.qty, "give exactly one of qty and notional")
    if r.notional is not None:
        if r.type is not _MARKET or r.time_in_force is not _DAY:
            raise _fail("notional", r.notional, "notional orders must be market orders for day")
        if r.extended_hours:
            raise _fail("extended_hours", True, "notional orders cannot trade extended hours")


# Which price fields each type needs (all of them) and allows; and so which it refuses, in
# the order they are checked.
_NEEDS = {
    OrderType.MARKET: (),
    OrderType.LIMIT: ("limit_price",),
    OrderType.STOP: ("stop_price",),
    OrderType.STOP_LIMIT: ("limit_price", "stop_price"),
    OrderType.TRAILING_STOP: (),
}
_ALLOWS = {**_NEEDS, OrderType.TRAILING_STOP: ("trail_price", "trail_percent")}
_PRICE_FIELDS = ("limit_price", "stop_price", "trail_price", "trail_percent")
_REFUSES = {t: tuple(n for n in _PRICE_FIELDS if n not in a) for t, a in _ALLOWS.items()}


# Read once (``OrderType.LIMIT`` goes through the enum metaclass's slow __getattr__ hook).
_SIMPLE, _OCO = OrderClass.SIMPLE, OrderClass.OCO
_NEEDS_BOTH_LEGS = (OrderClass.BRACKET, OrderClass.OCO)
_BUY = OrderSide.BUY
_MARKET, _LIMIT, _TRAILING_STOP = OrderType.MARKET, OrderType.LIMIT, OrderType.TRAILING_STOP
_DAY = OrderTimeInForce.DAY
_DAY_GTC = (OrderTimeInForce.DAY, OrderTimeInForce.GTC)
# The fields a simple market or limit order may set (OrderRequest._rules): none of the others
# (notional, stop and trail prices, extended hours, order class, legs) left at its default
# can break a rule.
_PLAIN_FIELDS = frozenset(
    {"symbol", "side", "type", "time_in_force", "qty", "limit_price", "client_order_id"}
)
_AUCTION_TIF = (OrderTimeInForce.OPG, OrderTimeInForce.CLS)
_PLAIN_TYPES = (OrderType.MARKET, OrderType.LIMIT)


def _check_prices(r: OrderRequest) -> None:
    t = r.type
    for name in _NEEDS[t]:
        # An OCO's limit price may come from its take-profit leg.
        if getattr(r, name) is None and not (
            name == "limit_price" and r.order_class is _OCO and r.take_profit is not None
        ):
            raise _fail(name, None, f"a {t.value} order needs {name}")
    for name in _REFUSES[t]:
        value = getattr(r, name)
        if value is not None:
            raise _fail(name, value, f"not allowed on a {t.value} order")
    tif = r.time_in_force
    if t is _TRAILING_STOP:
        if (r.trail_price is None) == (r.trail_percent is None):
            raise _fail(
                "trail_price", r.trail_price, "give exactly one of trail_price and trail_percent"
            )
        if tif not in _DAY_GTC:
            raise _fail("time_in_force", tif.value, "trailing stops take day or gtc")
    if tif in _AUCTION_TIF and t not in _PLAIN_TYPES:
        raise _fail("time_in_force", tif.value, "opg/cls take market or limit orders")


def _check_class(r: OrderRequest) -> None:
    cls = r.order_class
    if cls is _SIMPLE:
        for name in ("take_profit", "stop_loss"):
            if getattr(r, name) is not None:
                raise _fail(name, getattr(r, name), "only for bracket, oco and oto orders")
        return
    if r.time_in_force not in _DAY_GTC:
        raise _fail("time_in_force", r.time_in_force.value, f"{cls.value} orders take day or gtc")
    if r.extended_hours:
        raise _fail("extended_hours", True, f"{cls.value} orders cannot trade extended hours")
    if r.notional is not None:
        raise _fail("notional", r.notional, f"{cls.value} orders need qty")
    if r.type is _TRAILING_STOP:
        raise _fail("type", r.type.value, "trailing stops are single orders only")
    tp, sl = r.take_profit, r.stop_loss
    if cls in _NEEDS_BOTH_LEGS:
        if tp is None:
            raise _fail("take_profit", None, f"a {cls.value} order needs take_profit")
        if sl is None:
            raise _fail("stop_loss", None, f"a {cls.value} order needs stop_loss")
    elif tp is None and sl is None:
        raise _fail("take_profit", None, "an oto order needs take_profit or stop_loss")
    if cls is _OCO and r.type is not _LIMIT:
        raise _fail("type", r.type.value, "an oco order is type limit (its take-profit)")
    # The position the exits protect is long when a bracket/oto buys or an oco sells.
    long = (r.side is _BUY) != (cls is _OCO)
    if (
        tp is not None
        and sl is not None
        and (tp.limit_price <= sl.stop_price if long else tp.limit_price >= sl.stop_price)
    ):
        rel = "above" if long else "below"
        raise _fail(
            "take_profit.limit_price",
            tp.limit_price,
            f"must be {rel} stop_loss.stop_price {sl.stop_price} for this {cls.value}",
        )
    base = r.limit_price if cls is not _OCO else (tp.limit_price if tp else None)
    if (
        sl is not None
        and base is not None
        and (sl.stop_price >= base if long else sl.stop_price <= base)
    ):
        rel = "below" if long else "above"
        raise _fail("stop_loss.stop_price", sl.stop_price, f"must be {rel} the base price {base}")


class Fill(FrozenModel):
    """One execution. ``ts_event`` is venue time, ``ts_recv`` when we learned of it (ns)."""

    trade_id: Annotated[str, Field(min_length=1)]
    order_id: Annotated[str, Field(min_length=1)]
    price: Positive
    qty: Positive
    liquidity: LiquiditySide = LiquiditySide.TAKER
    commission: NonNegative = Decimal(0)
    ts_event: Nanos = 0
    ts_recv: Nanos = 0


class ReplaceTerms(FrozenModel):
    """The terms a replace asks for: each given one overrides the order's. Checked when the
    replace is asked for, so a bad term is refused before anything changes."""

    qty: Positive | None = None
    limit_price: Positive | None = None
    stop_price: Positive | None = None
    trail: Positive | None = None
    client_order_id: Annotated[str, Field(min_length=1, max_length=MAX_CLIENT_ORDER_ID)] | None = (
        None
    )


class VenueReport(FrozenModel):
    """What a venue (or broker) tells us about an order; drives the order state machines.

    ``fill`` carries trades and trade corrections; ``new_order_id`` the replacement of a
    ``replaced`` report (Alpaca gives it a new id); ``qty``/``limit_price``/``stop_price`` the new
    terms of a replace or restatement; ``trade_id`` the execution a ``trade_cancel`` busts.
    """

    kind: EventKind
    order_id: Annotated[str, Field(min_length=1)]
    ts: Nanos = 0
    fill: Fill | None = None
    new_order_id: str | None = None
    qty: Positive | None = None
    limit_price: Positive | None = None
    stop_price: Positive | None = None
    trade_id: str | None = None
    reason: str | None = None

    @model_validator(mode="after")
    def _shape(self) -> Self:
        k = self.kind
        if (
            k in (EventKind.FILL, EventKind.PARTIAL_FILL, EventKind.TRADE_CORRECT)
            and self.fill is None
        ):
            raise _fail("fill", None, f"a {k.value} report needs fill")
        if k is EventKind.REPLACED and not self.new_order_id:
            raise _fail("new_order_id", self.new_order_id, "a replaced report needs new_order_id")
        if k is EventKind.TRADE_CANCEL and not self.trade_id:
            raise _fail("trade_id", self.trade_id, "a trade_cancel report needs trade_id")
        if k is EventKind.RESTATED and self.qty is None:
            raise _fail("qty", None, "a restated report needs the new qty")
        return self


class OrderEvent(FrozenModel):
    """What the order manager publishes after each change to an order (or a flagged no-op).

    ``late`` marks a fill on an order that was already canceled, expired, replaced or rejected;
    ``overfill`` a fill beyond the order quantity; both are recorded, never hidden.
    """

    kind: EventKind
    order_id: str
    client_order_id: str
    symbol: str
    status: OrderStatus
    prev_status: OrderStatus
    order_qty: Decimal
    cum_qty: Decimal
    leaves_qty: Decimal
    avg_price: Decimal | None = None
    fill: Fill | None = None
    ts: int = 0
    reason: str | None = None
    late: bool = False
    overfill: bool = False
    group_id: str | None = None
    related_id: str | None = None


# Classes built by validating the call's keywords directly, as ``BaseModel.__init__`` would:
# each keeps BaseModel's __init__ and __new__, and its model validators return the instance
# they were given (BaseModel.__init__ only adds a warning when one does not). Exactly these
# classes: a subclass elsewhere, which may change either, takes the ordinary path.
_DIRECT = frozenset(
    {Instrument, TakeProfit, StopLoss, OrderRequest, Fill, ReplaceTerms, VenueReport, OrderEvent}
)
