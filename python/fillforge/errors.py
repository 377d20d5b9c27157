"""fillforge's exception hierarchy: every fillforge error is importable from here.

Every error fillforge raises derives from :class:`FillforgeError`, and also from the built-in
exception that says what kind of refusal it is, so code that knows nothing of fillforge can still
catch it: :class:`ValueError` for a bad value (a field, a price, a configuration, a time, a file's
content), :class:`LookupError` for an id or name that names nothing. The classes of the compiled
core are declared there and re-exported here so that ``except fillforge.errors.UnknownOrderError``
works the same for errors raised from Rust and from Python; the rest are declared here, whichever
layer raises them.

Every error pickles (a worker process can send one back to its parent): ``pickle.loads(
pickle.dumps(e))`` is an error of the same class with the same message and attributes.
"""

from decimal import Decimal
from typing import Any

from fillforge._core import (
    REASON_ERRORS,
    BatchInputError,
    CapacityError,
    ClockWentBackwardsError,
    DuplicateOrderIdError,
    DuplicateStopIdError,
    FillforgeError,
    InternalError,
    InvalidOrderError,
    InvalidPriceError,
    InvalidQuantityError,
    OrderBookError,
    PriceOffGridError,
    QuantityOffGridError,
    ReplayError,
    RequestTooLargeError,
    ThrottleError,
    TrailingStopError,
    UnknownOrderError,
    UnknownStopError,
)

__all__ = [
    "AlpacaError",
    "AuctionWindowError",
    "BatchInputError",
    "BinanceApiError",
    "BrokerUnavailableError",
    "CapacityError",
    "CcxtError",
    "ClockWentBackwardsError",
    "ConfigError",
    "DecimalTextError",
    "DuplicateClientOrderIdError",
    "DuplicateOrderIdError",
    "DuplicateStopIdError",
    "ExecutionError",
    "ExitPlanError",
    "FillforgeError",
    "IbkrError",
    "IndicatorError",
    "InsufficientBuyingPowerError",
    "InsufficientQtyError",
    "InternalError",
    "InvalidOrderError",
    "InvalidPriceError",
    "InvalidQuantityError",
    "InvalidTransitionError",
    "JournalError",
    "MarketDataApiError",
    "MarketDataError",
    "MetricsError",
    "NotFoundError",
    "NotShortableError",
    "OrderBookError",
    "OrderError",
    "OrderValidationError",
    "PriceOffGridError",
    "QuantityOffGridError",
    "ReplayError",
    "ReportError",
    "RequestTooLargeError",
    "RiskDeniedError",
    "RiskError",
    "SimulationError",
    "SizingError",
    "StrategyError",
    "SubscriptionError",
    "SweepError",
    "TcaError",
    "ThrottleError",
    "TimeError",
    "TimerError",
    "TrailingStopError",
    "UnknownOrderError",
    "UnknownOrderIdError",
    "UnknownStopError",
    "VenueRuleError",
    "WashTradeError",
    "error_for_reason",
]


def error_for_reason(reason: int) -> type[OrderBookError] | None:
    """The exception a per-call method raises for a refusal with this reason code.

    A batch row rejected with ``reason`` (``BatchResult.reason``) stands for this error, the one
    the same operation made alone would raise: ``INVALID_PRICE`` is :class:`InvalidPriceError`,
    ``PRICE_OFF_GRID`` is :class:`PriceOffGridError`, and so on. None for the codes that are
    outcomes rather than refusals (``NONE``, ``IOC_REMAINDER``, ``POST_ONLY_WOULD_CROSS``...).
    """
    return REASON_ERRORS.get(int(reason))


def _restore(cls: type[BaseException], args: tuple[Any, ...], state: dict[str, Any]) -> Any:
    """Rebuild a pickled error without calling its ``__init__`` (whose arguments differ from
    the message its ``args`` hold)."""
    e = cls.__new__(cls, *args)
    e.args = args
    e.__dict__.update(state)
    return e


class _Pickles:
    """Pickling for errors whose ``__init__`` takes other arguments than their message."""

    __slots__ = ()

    def __reduce__(self) -> tuple[Any, ...]:
        assert isinstance(self, BaseException)
        return (_restore, (type(self), self.args, self.__dict__))


class _FieldError(_Pickles, FillforgeError):
    """A refused value: ``field`` names it, ``value`` is what was given, ``why`` says why."""

    def __init__(self, field: str, value: object, why: str) -> None:
        super().__init__(f"{field}={value!r}: {why}")
        self.field, self.value, self.why = field, value, why


class OrderError(_Pickles, FillforgeError):
    """The order lifecycle refused a request or an event; nothing was changed."""


class OrderValidationError(OrderError, _FieldError, ValueError):
    """An order request, instrument, fill or event failed validation.

    ``field`` names the offending field (dotted for nested models), ``value`` is what was given.
    """


class InvalidTransitionError(OrderError, ValueError):
    """An event the order (or group) state table does not allow in the current state."""

    def __init__(self, order_id: str, state: str, event: str) -> None:
        state = str(state)
        super().__init__(f"order {order_id!r} in state {state!r} does not allow event {event!r}")
        self.order_id, self.state, self.event = order_id, state, event


class DuplicateClientOrderIdError(OrderError, ValueError):
    """A live or past order already uses this client order id."""


class UnknownOrderIdError(OrderError, LookupError):
    """The order manager holds no order with this id or client order id."""


class InsufficientBuyingPowerError(OrderError, ValueError):
    """The account cannot pay for the order: ``needed`` exceeds ``available`` buying power."""

    def __init__(self, field: str, value: object, needed: object, available: object) -> None:
        super().__init__(
            f"{field}={value!r}: insufficient buying power (needs {needed}, has {available})"
        )
        self.field, self.value, self.needed, self.available = field, value, needed, available


class InsufficientQtyError(OrderError, ValueError):
    """A close asks for more than the position holds: ``requested`` exceeds ``available``."""

    def __init__(self, symbol: str, requested: Decimal, available: Decimal) -> None:
        super().__init__(
            f"qty={requested!r}: insufficient qty available for order in {symbol} "
            f"(requested: {requested}, available: {available})"
        )
        self.field, self.value = "qty", requested
        self.symbol, self.requested, self.available = symbol, requested, available


class NotShortableError(OrderError, _FieldError, ValueError):
    """A sell would open or extend a short position the account may not hold."""


class MarketDataError(_Pickles, FillforgeError, ValueError):
    """A market-data file or array could not be loaded: which file, line and field, and why."""

    def __init__(self, source: str, line: int | None, field: str, value: object, why: str) -> None:
        where = f"{source}, line {line}" if line is not None else source
        super().__init__(f"{where}: {field}={value!r}: {why}")
        self.source, self.line, self.field, self.value, self.why = source, line, field, value, why


class SimulationError(_FieldError, ValueError):
    """The simulated exchange refused a request (unknown venue or instrument, bad configuration)."""


class TimeError(_FieldError, ValueError):
    """A time refused: not an int of nanoseconds, out of range, naive, unparsable, or before a
    clock that never goes back (:mod:`fillforge.time`)."""


class TimerError(TimeError):
    """A broker timer refused: both or neither of ``at_ns``/``every_ns``, a non-positive period,
    a time in the past, a name in use, or an unknown name to cancel."""


class SubscriptionError(_FieldError, ValueError):
    """A market-data subscription refused: an empty symbol, or a callback that is not callable."""


class VenueRuleError(OrderError, _FieldError, ValueError):
    """A venue rule refused an order before anything changed: ``field`` and ``value`` name what
    the rule refused, ``why`` says which rule (:mod:`fillforge.venues`)."""


class WashTradeError(VenueRuleError):
    """The order could trade against one of the account's own working orders (Alpaca: 403,
    code 40310000)."""


class AuctionWindowError(VenueRuleError):
    """An opening- or closing-auction order sent while the venue does not take them (Alpaca:
    422, code 42210000)."""


class AlpacaError(OrderError):
    """Alpaca refused a request (a 4xx other than 429): its status, code and message."""

    def __init__(self, status: int | None, code: int | None, message: str) -> None:
        super().__init__(f"Alpaca {status} ({code}): {message}")
        self.status, self.code, self.message = status, code, message


class NotFoundError(_Pickles, FillforgeError, LookupError):
    """What a request names does not exist: a watchlist, or a symbol in one (Alpaca's 404)."""


class DecimalTextError(_Pickles, FillforgeError, ValueError):
    """Text that is not a valid number for the requested grid or range; the message says why
    (:mod:`fillforge.marketdata.decimal_text`)."""


class ExecutionError(_FieldError, ValueError):
    """An execution parameter refused before anything is sent: a rate outside (0, 1], an end at
    or before the start, a quantity off the lot grid, a non-positive slice count, a negative
    offset, an unknown policy name (:mod:`fillforge.execution`). ``field`` names it, ``value``
    is what was given, ``why`` says why."""


class RiskError(_FieldError, ValueError):
    """A risk control's parameter refused (a negative limit, a confidence outside (0, 1), an
    unknown sector map entry) (:mod:`fillforge.risk`)."""


class RiskDeniedError(RiskError):
    """A pre-trade control denied an order before anything was sent: ``code`` is the control's
    machine-readable denial code (``max_order_notional``, ``halted``, ...), ``field`` and
    ``value`` name what it measured, ``why`` says which limit it crossed."""

    def __init__(self, field: str, value: object, why: str, code: str = "") -> None:
        super().__init__(field, value, why)
        self.code = code


class SizingError(_FieldError, ValueError):
    """A position sizer refused its parameters or inputs (a risk fraction outside (0, 1], a
    non-positive stop distance, a price that is not positive) (:mod:`fillforge.sizing`)."""


class MetricsError(_FieldError, ValueError):
    """A portfolio metric refused its input (an unknown period, a series with a NaN, a confidence
    outside (0, 1)) (:mod:`fillforge.portfolio.metrics`)."""


class StrategyError(_FieldError, ValueError):
    """A strategy or its runner refused a setting (an unknown mode, a symbol with no data, a
    callback that is not callable) (:mod:`fillforge.strategy`)."""


class ExitPlanError(_FieldError, ValueError):
    """A stop, target, trailing or scaling plan refused (a stop on the wrong side of the entry,
    tiers that do not sum to the position, a non-positive multiple) (:mod:`fillforge.exits`)."""


class ConfigError(_FieldError, ValueError):
    """A configuration refused: ``field`` is the key path (``risk.max_daily_loss``), ``value``
    what the file gave, ``why`` says why (:mod:`fillforge.config`)."""


class IndicatorError(_FieldError, ValueError):
    """An indicator refused its parameters or input (a non-positive period or window, a price
    that is not positive and finite, a bar whose high is under its low)
    (:mod:`fillforge.indicators`)."""


class BrokerUnavailableError(_FieldError, ConnectionError):
    """The broker a mode needs could not be reached or refused the credentials, and no fallback
    was opted into (:mod:`fillforge.agent`): ``field`` names the setting (``broker.base_url``),
    ``value`` what it was, ``why`` what failed. Live trading never turns into simulation
    silently."""


class JournalError(_FieldError, ValueError):
    """The journal refused: a damaged or torn file opened for writing without ``repair``, a
    second writer, a record that is not JSON, a path or URL that names no journal
    (:mod:`fillforge.journal`). ``field`` names what (``path``, ``seq``, ``payload``), ``value``
    what it was, ``why`` says why; nothing was changed."""


class SweepError(_FieldError, ValueError):
    """A parameter sweep refused: a results file that is another sweep's or damaged, a trial
    that failed, a Ray cluster that cannot be reached (:mod:`fillforge.sweep`). ``field`` names
    what (``results``, ``trial``, ``--address``), ``value`` what it was, ``why`` says why; the
    completed trials already recorded are kept."""


class CcxtError(OrderError):
    """A venue reached through ccxt refused a request, and retrying would not help
    (:mod:`fillforge.venues.ccxt`): ``exchange`` is ccxt's id (``binance``), ``kind`` ccxt's
    error class (``InvalidOrder``, ``OrderNotFound``, ``InsufficientFunds``...), ``message``
    the venue's answer. Nothing was changed locally."""

    def __init__(self, exchange: str | None, kind: str | None, message: str) -> None:
        super().__init__(f"{exchange} {kind}: {message}")
        self.exchange, self.kind, self.message = exchange, kind, message


class BinanceApiError(OrderError):
    """A request refused as Binance refuses it (:mod:`fillforge.binance`, the Binance-compatible
    server): the HTTP ``status``, Binance's ``code`` (``-1121`` invalid symbol, ``-2010`` new
    order rejected, ``-2011`` unknown order, ``-1022`` bad signature...) and its ``msg``.
    Nothing was changed."""

    def __init__(self, status: int, code: int, msg: str) -> None:
        super().__init__(f"Binance {status} ({code}): {msg}")
        self.status, self.code, self.msg = status, code, msg


class ReportError(_FieldError, ValueError):
    """A report could not be written (:mod:`fillforge.report`): an input that is neither a
    journal nor a run directory holding one, an output that cannot be written, a PNG folder
    that is a file. ``field`` names what (``input``, ``output``, ``png``), ``value`` what it
    was, ``why`` says why; nothing was written."""


class TcaError(_FieldError, ValueError):
    """Transaction-cost analysis refused its input (:mod:`fillforge.analytics`): an unknown
    grouping key, market data of the wrong shape, a markout horizon that is not positive.
    ``field`` names what (``key``, ``market``, ``horizons``), ``value`` what it was, ``why``
    says why; nothing was changed."""


class MarketDataApiError(_FieldError, ConnectionError):
    """A market-data provider refused or failed a request (:mod:`fillforge.marketdata`'s
    Alpaca and Massive sources): ``field`` names what (``api_key`` for a 401 or 403,
    ``rate_limit`` for a 429 still refused after the retries, ``status`` for a 5xx or any other
    answer), ``value`` the HTTP status, ``why`` the provider's message; or ``base_url`` and the
    URL when no answer came (connection refused, timeouts) after the retries. Bad input to a source
    (an unknown symbol, a start after the end, a timeframe it has not) is a
    :class:`MarketDataError` instead."""


class IbkrError(OrderError):
    """Interactive Brokers (TWS, IB Gateway or fillforge's local gateway) refused a request
    (:mod:`fillforge.venues.ibkr`): IB's error ``code`` (``201`` order rejected, ``110`` price
    off the tick grid, ``200`` no such contract, ``10147`` no such order to cancel...), its
    ``message``, and the ``req_id`` (the order id for an order) it was about. Nothing was
    changed locally."""

    def __init__(self, code: int, message: str, req_id: int = -1) -> None:
        super().__init__(f"IB error {code} (reqId {req_id}): {message}")
        self.code, self.message, self.req_id = code, message, req_id
