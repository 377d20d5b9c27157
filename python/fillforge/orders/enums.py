"""String enums of the order model, spelt as Alpaca spells them (and mapped to FIX).

These are the order lifecycle's vocabulary. The book's integer codes (:mod:`fillforge.codes`)
stay separate because the book's hot loops take plain ints; ``OrderSide.sign`` and
``OrderTimeInForce.book`` convert.
"""

from __future__ import annotations

from enum import StrEnum

from fillforge.codes import Side, TimeInForce

__all__ = [
    "AssetClass",
    "EventKind",
    "LiquiditySide",
    "OrderClass",
    "OrderSide",
    "OrderStatus",
    "OrderTimeInForce",
    "OrderType",
]


class OrderSide(StrEnum):
    BUY = "buy"
    SELL = "sell"

    @property
    def sign(self) -> Side:
        """The book's side code (+1 buy, -1 sell)."""
        return Side.BUY if self is OrderSide.BUY else Side.SELL

    @property
    def opposite(self) -> OrderSide:
        return OrderSide.SELL if self is OrderSide.BUY else OrderSide.BUY


class OrderType(StrEnum):
    MARKET = "market"
    LIMIT = "limit"
    STOP = "stop"
    STOP_LIMIT = "stop_limit"
    TRAILING_STOP = "trailing_stop"


class OrderTimeInForce(StrEnum):
    DAY = "day"
    GTC = "gtc"
    IOC = "ioc"
    FOK = "fok"
    OPG = "opg"
    CLS = "cls"

    @property
    def book(self) -> TimeInForce | None:
        """The book's code, or None for the auction-only opg/cls (the venue handles those)."""
        return _BOOK_TIF.get(self)


_BOOK_TIF = {
    OrderTimeInForce.DAY: TimeInForce.DAY,
    OrderTimeInForce.GTC: TimeInForce.GTC,
    OrderTimeInForce.IOC: TimeInForce.IOC,
    OrderTimeInForce.FOK: TimeInForce.FOK,
}


class OrderClass(StrEnum):
    SIMPLE = "simple"
    BRACKET = "bracket"
    OCO = "oco"
    OTO = "oto"


class AssetClass(StrEnum):
    US_EQUITY = "us_equity"
    US_OPTION = "us_option"
    CRYPTO = "crypto"
    FUTURE = "future"


class LiquiditySide(StrEnum):
    MAKER = "maker"
    TAKER = "taker"


class OrderStatus(StrEnum):
    """Every state an order can be in; ``fix`` and ``alpaca`` map each one out.

    ``created`` (built, not yet sent), ``held`` (a contingent leg waiting for its trigger) and
    ``denied`` (stopped by our own checks before it left) are local; the rest are venue states.
    """

    CREATED = "created"
    HELD = "held"
    DENIED = "denied"
    PENDING_NEW = "pending_new"
    ACCEPTED = "accepted"
    NEW = "new"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    DONE_FOR_DAY = "done_for_day"
    PENDING_CANCEL = "pending_cancel"
    CANCELED = "canceled"
    PENDING_REPLACE = "pending_replace"
    REPLACED = "replaced"
    REJECTED = "rejected"
    EXPIRED = "expired"

    @property
    def fix(self) -> str | None:
        """FIX OrdStatus (39); None where FIX has no equivalent (local states, accepted)."""
        return _FIX_STATUS.get(self)

    @property
    def alpaca(self) -> str:
        """Alpaca's order ``status`` (local states map to the nearest status Alpaca shows)."""
        return _ALPACA_STATUS.get(self, self.value)

    @property
    def is_open(self) -> bool:
        """Working or about to work at a venue (can still fill or be canceled)."""
        return self in OPEN_STATUSES

    @property
    def is_terminal(self) -> bool:
        """Done: no request is accepted any more (late fills are still recorded and flagged)."""
        return self in TERMINAL_STATUSES


_FIX_STATUS = {
    OrderStatus.PENDING_NEW: "A",
    OrderStatus.NEW: "0",
    OrderStatus.PARTIALLY_FILLED: "1",
    OrderStatus.FILLED: "2",
    OrderStatus.DONE_FOR_DAY: "3",
    OrderStatus.CANCELED: "4",
    OrderStatus.REPLACED: "5",
    OrderStatus.PENDING_CANCEL: "6",
    OrderStatus.REJECTED: "8",
    OrderStatus.DENIED: "8",
    OrderStatus.EXPIRED: "C",
    OrderStatus.PENDING_REPLACE: "E",
}

_ALPACA_STATUS = {
    OrderStatus.CREATED: "pending_new",
    OrderStatus.DENIED: "rejected",
}

OPEN_STATUSES = frozenset(
    {
        OrderStatus.PENDING_NEW,
        OrderStatus.ACCEPTED,
        OrderStatus.NEW,
        OrderStatus.PARTIALLY_FILLED,
        OrderStatus.PENDING_CANCEL,
        OrderStatus.PENDING_REPLACE,
        OrderStatus.HELD,
    }
)
TERMINAL_STATUSES = frozenset(
    {
        OrderStatus.DENIED,
        OrderStatus.FILLED,
        OrderStatus.CANCELED,
        OrderStatus.REPLACED,
        OrderStatus.REJECTED,
        OrderStatus.EXPIRED,
    }
)


class EventKind(StrEnum):
    """What happened to an order; ``fix`` is the ExecType (150), ``alpaca`` the stream event."""

    CREATED = "created"
    DENIED = "denied"
    SUBMITTED = "submitted"
    ACCEPTED = "accepted"
    NEW = "new"
    REJECTED = "rejected"
    FILL = "fill"
    PARTIAL_FILL = "partial_fill"
    DONE_FOR_DAY = "done_for_day"
    CANCEL_REQUESTED = "cancel_requested"
    PENDING_CANCEL = "pending_cancel"
    CANCELED = "canceled"
    CANCEL_REJECTED = "order_cancel_rejected"
    REPLACE_REQUESTED = "replace_requested"
    PENDING_REPLACE = "pending_replace"
    REPLACED = "replaced"
    REPLACE_REJECTED = "order_replace_rejected"
    EXPIRED = "expired"
    RESTATED = "restated"
    TRADE_CANCEL = "trade_cancel"
    TRADE_CORRECT = "trade_correct"
    HELD = "held"
    DUPLICATE_FILL = "duplicate_fill"

    @property
    def fix(self) -> str | None:
        """FIX ExecType (150), None for local and reject-of-request events."""
        return _FIX_EXEC.get(self)


_FIX_EXEC = {
    EventKind.SUBMITTED: "A",
    EventKind.NEW: "0",
    EventKind.REJECTED: "8",
    EventKind.FILL: "F",
    EventKind.PARTIAL_FILL: "F",
    EventKind.DONE_FOR_DAY: "3",
    EventKind.PENDING_CANCEL: "6",
    EventKind.CANCELED: "4",
    EventKind.PENDING_REPLACE: "E",
    EventKind.REPLACED: "5",
    EventKind.EXPIRED: "C",
    EventKind.RESTATED: "D",
    EventKind.TRADE_CANCEL: "H",
    EventKind.TRADE_CORRECT: "G",
}
