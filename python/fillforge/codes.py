"""Integer codes used by :class:`fillforge.OrderBook` and its batch API.

The book speaks plain ints so a hot loop pays nothing for enum objects; these ``IntEnum`` classes
name the same values (``Status(book.cancel(7)[0])``). ``tests/test_codes.py`` checks that they
match the compiled core.
"""

from enum import IntEnum


class Side(IntEnum):
    """Order side: the sign convention of LOBSTER and of signed quantities."""

    BUY = 1
    SELL = -1


class TimeInForce(IntEnum):
    GTC = 0
    DAY = 1
    IOC = 2
    FOK = 3


class Status(IntEnum):
    """What an order is after an operation (first element of every outcome tuple)."""

    RESTING = 1
    FILLED = 2
    CANCELED = 3
    REJECTED = 4
    PENDING = 5
    TRIGGERED = 6
    REDUCED = 7
    EXPIRED = 8
    AMENDED = 9


class Reason(IntEnum):
    """Why an order ended as it did, or why an operation was refused."""

    NONE = 0
    USER = 1
    IOC_REMAINDER = 2
    FOK_UNFILLABLE = 3
    POST_ONLY_WOULD_CROSS = 4
    MATCHING_HALTED = 5
    DAY_EXPIRED = 6
    UNKNOWN_ORDER = 7
    DUPLICATE_ORDER_ID = 8
    INVALID_QUANTITY = 9
    PRICE_OFF_GRID = 10
    QUANTITY_OFF_GRID = 11
    INVALID_SIDE = 12
    INVALID_TIME_IN_FORCE = 13
    INVALID_OP = 14
    INVALID_ORDER = 15
    INVALID_PRICE = 16
    NO_CHANGE = 17


class Op(IntEnum):
    """Operation codes of the ``op`` column of :meth:`fillforge.OrderBook.apply_batch`."""

    LIMIT = 0
    MARKET = 1
    CANCEL = 2
    REDUCE = 3
    MODIFY = 4
    STOP = 5
    STOP_LIMIT = 6
