"""Integer codes used by :class:`fillforge.OrderBook`, its batch API and the simulator's engine.

The core speaks plain ints so a hot loop pays nothing for enum objects; these ``IntEnum`` classes
name the same values (``Status(book.cancel(7)[0])``). Each is a Rust enum in the core, exported
as a name -> code dict (``fillforge._core.*_CODES``); ``tests/test_codes.py`` checks that every
member here matches it, name and value.
"""

from enum import IntEnum, IntFlag


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


class FeedKind(IntEnum):
    """Message kinds of a :class:`fillforge._core.Feed` (``fillforge_core::sim::FeedKind``);
    what each does is in ``docs/simulator.md``."""

    NOOP = 0
    ADD = 1
    REDUCE = 2
    DELETE = 3
    EXECUTE = 4
    HIDDEN = 5
    MODIFY = 6
    PASS = 7
    QUOTE = 8
    TRADE = 9
    AUCTION = 10


class FeedFlag(IntFlag):
    """Flags in the ``order_id`` column of QUOTE and TRADE messages
    (``fillforge_core::sim::FeedFlag``).

    ``PATH``: the price moved continuously from the previous print to this one (a bar's path
    after its open); a stop it passes through fills at its own stop price. Without it, prints
    are discrete and a stop fills at the first print that reached it. ``WAIT``: modelled (bar)
    liquidity; a day or gtc market order that finds no displayed size waits for the next print
    and fills there.
    """

    PATH = 1
    WAIT = 2


class AuctionPrint(IntEnum):
    """What an AUCTION message is, in its ``order_id`` (``fillforge_core::sim::AuctionPrint``):
    the opening or closing auction (at-the-open / at-the-close orders fill there), or a gap print
    (a bar opening away from the last price)."""

    OPEN = 0
    CLOSE = 1
    GAP = 2


class EngineEvent(IntEnum):
    """Kinds of the events :meth:`fillforge._core.SimEngine.take_events` reports about the
    user's orders (``fillforge_core::sim::EventKind``)."""

    FILL = 1
    TRIGGERED = 2
    CANCELED = 3
    EXPIRED = 4
    RESTED = 5
