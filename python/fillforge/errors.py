"""fillforge's exception hierarchy.

Every error fillforge raises derives from :class:`FillforgeError`. The classes are declared in the
compiled core and re-exported here so that ``except fillforge.errors.UnknownOrderError`` works the
same for errors raised from Rust and from Python.
"""

from decimal import Decimal

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
    "BatchInputError",
    "CapacityError",
    "ClockWentBackwardsError",
    "DuplicateClientOrderIdError",
    "DuplicateOrderIdError",
    "DuplicateStopIdError",
    "FillforgeError",
    "InsufficientBuyingPowerError",
    "InsufficientQtyError",
    "InternalError",
    "InvalidOrderError",
    "InvalidPriceError",
    "InvalidQuantityError",
    "InvalidTransitionError",
    "MarketDataError",
    "NotShortableError",
    "OrderBookError",
    "OrderError",
    "OrderValidationError",
    "PriceOffGridError",
    "QuantityOffGridError",
    "ReplayError",
    "RequestTooLargeError",
    "SimulationError",
    "SubscriptionError",
    "ThrottleError",
    "TimeError",
    "TimerError",
    "TrailingStopError",
    "UnknownOrderError",
    "UnknownOrderIdError",
    "UnknownStopError",
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


class OrderError(FillforgeError):
    """The order lifecycle refused a request or an event; nothing was changed."""


class OrderValidationError(OrderError):
    """An order request, instrument, fill or event failed validation.

    ``field`` names the offending field (dotted for nested models), ``value`` is what was given.
    """

    def __init__(self, field: str, value: object, why: str) -> None:
        super().__init__(f"{field}={value!r}: {why}")
        self.field, self.value, self.why = field, value, why


class InvalidTransitionError(OrderError):
    """An event the order (or group) state table does not allow in the current state."""

    def __init__(self, order_id: str, state: str, event: str) -> None:
        state = str(state)
        super().__init__(f"order {order_id!r} in state {state!r} does not allow event {event!r}")
        self.order_id, self.state, self.event = order_id, state, event


class DuplicateClientOrderIdError(OrderError):
    """A live or past order already uses this client order id."""


class UnknownOrderIdError(OrderError):
    """The order manager holds no order with this id or client order id."""


class InsufficientBuyingPowerError(OrderError):
    """The account cannot pay for the order: ``needed`` exceeds ``available`` buying power."""

    def __init__(self, field: str, value: object, needed: object, available: object) -> None:
        super().__init__(
            f"{field}={value!r}: insufficient buying power (needs {needed}, has {available})"
        )
        self.field, self.value, self.needed, self.available = field, value, needed, available


class InsufficientQtyError(OrderError):
    """A close asks for more than the position holds: ``requested`` exceeds ``available``."""

    def __init__(self, symbol: str, requested: Decimal, available: Decimal) -> None:
        super().__init__(
            f"qty={requested!r}: insufficient qty available for order in {symbol} "
            f"(requested: {requested}, available: {available})"
        )
        self.field, self.value = "qty", requested
        self.symbol, self.requested, self.available = symbol, requested, available


class NotShortableError(OrderError):
    """A sell would open or extend a short position the account may not hold."""

    def __init__(self, field: str, value: object, why: str) -> None:
        super().__init__(f"{field}={value!r}: {why}")
        self.field, self.value, self.why = field, value, why


class MarketDataError(FillforgeError):
    """A market-data file or array could not be loaded: which file, line and field, and why."""

    def __init__(self, source: str, line: int | None, field: str, value: object, why: str) -> None:
        where = f"{source}, line {line}" if line is not None else source
        super().__init__(f"{where}: {field}={value!r}: {why}")
        self.source, self.line, self.field, self.value, self.why = source, line, field, value, why


class SimulationError(FillforgeError):
    """The simulated exchange refused a request (unknown venue or instrument, bad configuration)."""

    def __init__(self, field: str, value: object, why: str) -> None:
        super().__init__(f"{field}={value!r}: {why}")
        self.field, self.value, self.why = field, value, why


class TimeError(FillforgeError):
    """A time refused: not an int of nanoseconds, out of range, naive, unparsable, or before a
    clock that never goes back (:mod:`fillforge.time`)."""

    def __init__(self, field: str, value: object, why: str) -> None:
        super().__init__(f"{field}={value!r}: {why}")
        self.field, self.value, self.why = field, value, why


class TimerError(TimeError):
    """A broker timer refused: both or neither of ``at_ns``/``every_ns``, a non-positive period,
    a time in the past, a name in use, or an unknown name to cancel."""


class SubscriptionError(FillforgeError):
    """A market-data subscription refused: an empty symbol, or a callback that is not callable."""

    def __init__(self, field: str, value: object, why: str) -> None:
        super().__init__(f"{field}={value!r}: {why}")
        self.field, self.value, self.why = field, value, why
