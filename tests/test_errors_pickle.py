"""One error hierarchy: every class ``fillforge.errors`` exports derives from ``FillforgeError``,
takes the built-in base that says what kind of refusal it is (``ValueError`` for a bad value,
``LookupError`` for an id that names nothing), and pickles (same class, message and attributes);
and every exception class any fillforge module declares is exported there.

The classes declared in Rust (``fillforge._core``) take their built-in base too: the core makes
them with two bases, the fillforge parent and the built-in."""

from __future__ import annotations

import importlib
import inspect
import pickle
import pkgutil
from decimal import Decimal
from typing import Any

import pytest

import fillforge
from fillforge import errors

D = Decimal

# Realistic arguments for every exported class: add one for every class you declare.
EXAMPLES: dict[str, tuple[Any, ...]] = {
    # declared in Rust: a message
    "FillforgeError": ("the engine refused the call",),
    "OrderBookError": ("order_id=7: the book refused it",),
    "UnknownOrderError": ("order_id=9: no live order has this id",),
    "DuplicateOrderIdError": ("order_id=7: an order with this id is already live",),
    "InvalidQuantityError": ("qty=0: must be in [1, 2^62)",),
    "PriceOffGridError": ("price=101: not a multiple of the tick 5",),
    "InvalidPriceError": ("price=4611686018427387905: outside [-2^62, 2^62]",),
    "QuantityOffGridError": ("qty=15: not a multiple of the lot 10",),
    "InvalidOrderError": ("side=3: must be 1 (buy) or -1 (sell)",),
    "BatchInputError": ("column price: expected int64, got float64",),
    "CapacityError": ("capacity=16777217: past the maximum of 2^24 orders",),
    "ReplayError": ("message.csv, line 3: unknown event type 9",),
    "InternalError": ("a queue lost an order: the engine refuses further use",),
    "ThrottleError": ("limit=0: a window needs a positive limit",),
    "ClockWentBackwardsError": ("now_ns=5: before 10, the latest time seen",),
    "RequestTooLargeError": ("cost=1000: more than the tightest limit (100) admits",),
    "TrailingStopError": ("trail_bps=0: must be in [1, 10000]",),
    "UnknownStopError": ("stop_id=9: no live trailing stop has this id",),
    "DuplicateStopIdError": ("stop_id=3: a live trailing stop has this id",),
    # declared in Python
    "OrderError": ("order 'o-1' cannot be changed now",),
    "OrderValidationError": ("limit_price", D("10.001"), "not on the 0.01 grid"),
    "InvalidTransitionError": ("o-1", "filled", "cancel_requested"),
    "DuplicateClientOrderIdError": ("client_order_id='my-1': already used by order o-3",),
    "UnknownOrderIdError": ("order_id='o-9': no such order",),
    "InsufficientBuyingPowerError": ("qty", D(100), D("10000.00"), D("5000.00")),
    "InsufficientQtyError": ("AAPL", D(20), D(10)),
    "NotShortableError": ("symbol", "GME", "not shortable: selling 10 would open a short of 10"),
    "MarketDataError": ("quotes.csv", 12, "bid_price", "1.2.3", "not a plain decimal number"),
    "SimulationError": ("symbol", "NOPE", "not listed on venue 'V'"),
    "TimeError": ("t_ns", 1.5, "must be an int of UTC epoch nanoseconds"),
    "TimerError": ("every_ns", 0, "a period must be positive"),
    "SubscriptionError": ("callback", 42, "not callable"),
    "ExecutionError": ("rate", D("1.5"), "must be in (0, 1]"),
    "VenueRuleError": ("type", "market", "refused by the venue profile"),
    "WashTradeError": ("side", "buy", "would trade against your own sell order o-2"),
    "AuctionWindowError": (
        "time_in_force",
        "opg",
        "opg orders are not accepted between 9:28am and 7:00pm ET",
    ),
    "AlpacaError": (422, 42210000, "qty must be > 0"),
    "NotFoundError": ("watchlist not found",),
    "DecimalTextError": ("not a multiple of 0.01",),
    "RiskError": ("confidence", 1.5, "must be in (0, 1)"),
    "RiskDeniedError": ("notional", D("250000"), "over the limit of 100000", "max_order_notional"),
    "SizingError": ("risk_fraction", D("0"), "must be in (0, 1]"),
    "MetricsError": ("period", "hourly", "unknown period"),
    "StrategyError": ("mode", "dream", "unknown mode"),
    "ExitPlanError": ("stop_price", D("101"), "a long's stop must be under its entry"),
    "ConfigError": ("risk.max_daily_loss", -5, "must not be negative"),
    "BrokerUnavailableError": (
        "broker.base_url",
        "https://api.alpaca.markets",
        "unreachable: connection refused; no fallback (execution.fallback is none)",
    ),
    "IndicatorError": ("period", 0, "must be a positive int"),
    "JournalError": ("path", "orders.journal", "a writer (pid 4242) already holds it"),
    "SweepError": ("results", "sweep/results.parquet", "written by another sweep (config hash)"),
    "ReportError": ("output", "/readonly/report.html", "cannot be written: permission denied"),
    "TcaError": ("key", "weekday", "expected one of policy, venue, symbol, hour"),
    "CcxtError": ("binance", "InvalidOrder", "Order would immediately match and take."),
    "BinanceApiError": (400, -2010, "Order would immediately match and take."),
    "MarketDataApiError": ("api_key", 401, "massive: Unknown API Key"),
    "IbkrError": (201, "Order rejected - reason:price off the tick grid", 12),
}

# The built-in base each class takes (None: a base class whose subclasses choose).
BUILTIN: dict[str, type[Exception] | None] = {
    "FillforgeError": None,
    "OrderBookError": None,
    "UnknownOrderError": LookupError,
    "DuplicateOrderIdError": ValueError,
    "InvalidQuantityError": ValueError,
    "PriceOffGridError": ValueError,
    "InvalidPriceError": ValueError,
    "QuantityOffGridError": ValueError,
    "InvalidOrderError": ValueError,
    "BatchInputError": ValueError,
    "CapacityError": ValueError,
    "ReplayError": ValueError,
    "InternalError": RuntimeError,
    "ThrottleError": ValueError,
    "ClockWentBackwardsError": ValueError,
    "RequestTooLargeError": ValueError,
    "TrailingStopError": ValueError,
    "UnknownStopError": LookupError,
    "DuplicateStopIdError": ValueError,
    "OrderError": None,
    "OrderValidationError": ValueError,
    "InvalidTransitionError": ValueError,
    "DuplicateClientOrderIdError": ValueError,
    "UnknownOrderIdError": LookupError,
    "InsufficientBuyingPowerError": ValueError,
    "InsufficientQtyError": ValueError,
    "ExecutionError": ValueError,
    "NotShortableError": ValueError,
    "MarketDataError": ValueError,
    "SimulationError": ValueError,
    "TimeError": ValueError,
    "TimerError": ValueError,
    "SubscriptionError": ValueError,
    "VenueRuleError": ValueError,
    "WashTradeError": ValueError,
    "AuctionWindowError": ValueError,
    "AlpacaError": None,  # its status says which: 404 or 422 from the same class
    "NotFoundError": LookupError,
    "DecimalTextError": ValueError,
    "RiskError": ValueError,
    "RiskDeniedError": ValueError,
    "SizingError": ValueError,
    "MetricsError": ValueError,
    "StrategyError": ValueError,
    "ExitPlanError": ValueError,
    "ConfigError": ValueError,
    "IndicatorError": ValueError,
    "BrokerUnavailableError": ConnectionError,
    "JournalError": ValueError,
    "SweepError": ValueError,
    "ReportError": ValueError,
    "TcaError": ValueError,
    "CcxtError": None,  # ccxt's kind says which: OrderNotFound or InvalidOrder from one class
    "BinanceApiError": None,  # its code says which: -2013 (no such order) or -2010 (refused)
    "MarketDataApiError": ConnectionError,
    "IbkrError": None,  # its code says which: 10147 (no such order) or 201 (refused)
}

EXPORTED = sorted(
    name
    for name in errors.__all__
    if isinstance(getattr(errors, name), type) and issubclass(getattr(errors, name), BaseException)
)


def test_every_exported_class_has_an_example_and_a_base() -> None:
    assert set(EXPORTED) - set(EXAMPLES) == set(), "add realistic arguments to EXAMPLES"
    assert set(EXPORTED) - set(BUILTIN) == set(), "say which built-in base it takes in BUILTIN"
    assert set(EXAMPLES) - set(EXPORTED) == set(), "an example for a class not exported"


@pytest.mark.parametrize("name", EXPORTED)
def test_round_trips_through_pickle(name: str) -> None:
    cls = getattr(errors, name)
    e = cls(*EXAMPLES[name])
    for protocol in (0, pickle.HIGHEST_PROTOCOL):
        back = pickle.loads(pickle.dumps(e, protocol))
        assert type(back) is cls
        assert str(back) == str(e)
        assert back.args == e.args
        assert back.__dict__ == e.__dict__
    assert str(e)  # a message, whatever the arguments


@pytest.mark.parametrize("name", EXPORTED)
def test_derives_from_fillforge_error(name: str) -> None:
    assert issubclass(getattr(errors, name), errors.FillforgeError)


@pytest.mark.parametrize("name", EXPORTED)
def test_takes_the_matching_builtin_base(name: str) -> None:
    cls, wanted = getattr(errors, name), BUILTIN[name]
    if wanted is None:
        assert not issubclass(cls, ValueError | LookupError), "a base class stays neutral"
    else:
        assert issubclass(cls, wanted)
        e = cls(*EXAMPLES[name])
        with pytest.raises(wanted):
            raise e


def test_field_errors_keep_their_fields_through_pickle() -> None:
    e = errors.InsufficientBuyingPowerError("qty", D(100), D("10000.00"), D("5000.00"))
    back = pickle.loads(pickle.dumps(e))
    assert (back.field, back.value, back.needed, back.available) == (
        "qty",
        D(100),
        D("10000.00"),
        D("5000.00"),
    )
    assert (
        str(back) == "qty=Decimal('100'): insufficient buying power (needs 10000.00, has 5000.00)"
    )


def test_a_validation_error_raised_by_a_model_rule_keeps_its_field() -> None:
    """OrderValidationError is a ValueError, which pydantic wraps: the models unwrap it, so the
    error still names the field the rule named, not the model."""
    from fillforge.orders.models import OrderRequest
    from fillforge.sim.latency import Delay, LatencyModel

    with pytest.raises(errors.OrderValidationError) as e:
        OrderRequest(symbol="X", side="buy", type="market", qty=D(1), extended_hours=True)
    assert (e.value.field, e.value.value) == ("extended_hours", True)
    with pytest.raises(errors.OrderValidationError) as e:
        LatencyModel(entry={"kind": "uniform", "low": 5, "high": 1})  # type: ignore[arg-type]
    assert e.value.field == "entry.low"
    with pytest.raises(errors.OrderValidationError) as e:
        Delay(kind="uniform", low=5, high=1)  # type: ignore[arg-type]
    assert e.value.field == "low"


def _fillforge_modules() -> list[str]:
    names = ["fillforge"]
    for info in pkgutil.walk_packages(fillforge.__path__, "fillforge."):
        if not info.name.endswith(".__main__"):  # runs the command line when imported
            names.append(info.name)
    return sorted(names)


def test_every_fillforge_error_class_is_exported_from_fillforge_errors() -> None:
    exported = {getattr(errors, n) for n in EXPORTED}
    declared = {}
    for name in _fillforge_modules():
        module = importlib.import_module(name)
        for attr, value in vars(module).items():
            if (
                inspect.isclass(value)
                and issubclass(value, BaseException)
                and value.__module__ == name
                and not attr.startswith("_")
            ):
                declared[f"{name}.{attr}"] = value
    assert {k for k, v in declared.items() if v not in exported} == set()
    assert {k for k, v in declared.items() if not issubclass(v, errors.FillforgeError)} == set()
