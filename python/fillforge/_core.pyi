"""Type stubs for the compiled core ``fillforge._core`` (checked by ``mypy.stubtest``)."""

from collections.abc import Sequence
from typing import Any, Final, Self, final

import numpy as np
from numpy.typing import NDArray

__version__: Final[str]

# A side's best level (price in ticks, qty in lots), and the recorded top (bid, ask).
_Level = tuple[int, int]
_Top = tuple[_Level | None, _Level | None]

STATUS_CODES: Final[dict[str, int]]
REASON_CODES: Final[dict[str, int]]
OP_CODES: Final[dict[str, int]]
# The simulator's codes: fillforge.codes.FeedKind, FeedFlag, AuctionPrint and EngineEvent.
FEED_KIND_CODES: Final[dict[str, int]]
FEED_FLAG_CODES: Final[dict[str, int]]
AUCTION_PRINT_CODES: Final[dict[str, int]]
EVENT_CODES: Final[dict[str, int]]
# reason code -> the exception class a per-call refusal with that reason raises.
REASON_ERRORS: Final[dict[int, type[OrderBookError]]]

# (status, reason, filled, remaining): see fillforge.codes.Status and Reason.
_Outcome = tuple[int, int, int, int]

class FillforgeError(Exception): ...
class OrderBookError(FillforgeError): ...
class UnknownOrderError(OrderBookError, LookupError): ...
class DuplicateOrderIdError(OrderBookError, ValueError): ...
class InvalidQuantityError(OrderBookError, ValueError): ...
class PriceOffGridError(OrderBookError, ValueError): ...
class InvalidPriceError(OrderBookError, ValueError): ...
class QuantityOffGridError(OrderBookError, ValueError): ...
class InvalidOrderError(OrderBookError, ValueError): ...
class BatchInputError(OrderBookError, ValueError): ...
class CapacityError(FillforgeError, ValueError): ...
class ReplayError(FillforgeError, ValueError): ...
class InternalError(FillforgeError, RuntimeError): ...
class ThrottleError(FillforgeError, ValueError): ...
class ClockWentBackwardsError(ThrottleError, ValueError): ...
class RequestTooLargeError(ThrottleError, ValueError): ...
class TrailingStopError(FillforgeError, ValueError): ...
class UnknownStopError(TrailingStopError, LookupError): ...
class DuplicateStopIdError(TrailingStopError, ValueError): ...

# (id, instrument, side, trail_ticks, trail_bps, activation, limit_offset, breakeven, armed, hwm,
# stop, breakeven_active), breakeven being (entry, profit, lock) or None.
_StopStateTuple = tuple[
    int,
    int,
    int,
    int | None,
    int | None,
    int | None,
    int | None,
    tuple[int, int, int] | None,
    bool,
    int | None,
    int | None,
    bool,
]
_Triggered = tuple[NDArray[np.uint64], NDArray[np.int64]]

@final
class BatchResult:
    """Outcomes (one row per op) and fills/events (one row each, ``*_op`` = causing op index)."""

    @property
    def status(self) -> NDArray[np.uint8]: ...
    @property
    def reason(self) -> NDArray[np.uint8]: ...
    @property
    def filled(self) -> NDArray[np.int64]: ...
    @property
    def remaining(self) -> NDArray[np.int64]: ...
    @property
    def fill_op(self) -> NDArray[np.uint32]: ...
    @property
    def fill_taker(self) -> NDArray[np.uint64]: ...
    @property
    def fill_maker(self) -> NDArray[np.uint64]: ...
    @property
    def fill_price(self) -> NDArray[np.int64]: ...
    @property
    def fill_qty(self) -> NDArray[np.int64]: ...
    @property
    def fill_maker_remaining(self) -> NDArray[np.int64]: ...
    @property
    def event_op(self) -> NDArray[np.uint32]: ...
    @property
    def event_order_id(self) -> NDArray[np.uint64]: ...
    @property
    def event_status(self) -> NDArray[np.uint8]: ...
    @property
    def event_reason(self) -> NDArray[np.uint8]: ...
    @property
    def event_filled(self) -> NDArray[np.int64]: ...
    @property
    def event_remaining(self) -> NDArray[np.int64]: ...
    def __len__(self) -> int: ...

@final
class OrderBook:
    """An L3 price-time order book over integer ticks and lots.

    Prices must be multiples of ``tick`` and quantities of ``lot``. Order ids are caller-chosen
    ``uint64`` values; a live id cannot be reused. Sides are ``1`` (buy) and ``-1`` (sell); time
    in force ``0`` GTC, ``1`` DAY, ``2`` IOC, ``3`` FOK. Every operation returns an outcome tuple
    ``(status, reason, filled, remaining)``; fills accumulate until :meth:`take_fills`.
    """

    def __new__(cls, *, tick: int = 1, lot: int = 1, capacity: int = 0) -> Self: ...
    @property
    def tick(self) -> int: ...
    @property
    def lot(self) -> int: ...
    def submit_limit(
        self,
        order_id: int,
        side: int,
        price: int,
        qty: int,
        tif: int = 0,
        post_only: bool = False,
    ) -> _Outcome: ...
    def submit_market(self, order_id: int, side: int, qty: int, tif: int = 2) -> _Outcome: ...
    def submit_stop(
        self,
        order_id: int,
        side: int,
        stop_price: int,
        qty: int,
        limit_price: int | None = None,
        tif: int = 0,
    ) -> _Outcome: ...
    def cancel(self, order_id: int) -> _Outcome: ...
    def try_cancel(self, order_id: int) -> _Outcome: ...
    def reduce(self, order_id: int, qty: int) -> _Outcome: ...
    def modify(self, order_id: int, price: int, qty: int) -> _Outcome: ...
    def add_resting(self, order_id: int, side: int, price: int, qty: int) -> None: ...
    def expire_day(self) -> int: ...
    @property
    def matching(self) -> bool: ...
    @matching.setter
    def matching(self, on: bool) -> None: ...
    def best_bid(self) -> _Level | None: ...
    def best_ask(self) -> _Level | None: ...
    def depth(
        self, side: int, levels: int
    ) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]: ...
    def order(self, order_id: int) -> tuple[int, int, int, int, int] | None: ...
    def volume_at(self, side: int, price: int) -> int: ...
    def level_count(self, side: int) -> int: ...
    def is_stop_pending(self, order_id: int) -> bool: ...
    def __len__(self) -> int: ...
    @property
    def order_count(self) -> int: ...
    @property
    def stop_count(self) -> int: ...
    @property
    def last_trade_price(self) -> int | None: ...
    @property
    def fill_count(self) -> int: ...
    def take_fills(
        self,
    ) -> tuple[
        NDArray[np.uint64],
        NDArray[np.uint64],
        NDArray[np.int64],
        NDArray[np.int64],
        NDArray[np.int64],
    ]: ...
    def take_events(
        self,
    ) -> tuple[
        NDArray[np.uint64],
        NDArray[np.uint8],
        NDArray[np.uint8],
        NDArray[np.int64],
        NDArray[np.int64],
    ]: ...
    def apply_batch(
        self,
        op: NDArray[np.uint8],
        order_id: NDArray[np.uint64],
        side: NDArray[np.int8],
        price: NDArray[np.int64],
        qty: NDArray[np.int64],
        *,
        tif: NDArray[np.uint8] | None = None,
        stop_price: NDArray[np.int64] | None = None,
        post_only: NDArray[np.bool_] | None = None,
    ) -> BatchResult: ...
    def reset(self) -> None: ...
    def _noop(self) -> None: ...
    def _noop_args(
        self,
        order_id: int,
        side: int,
        price: int,
        qty: int,
        tif: int = 0,
        post_only: bool = False,
    ) -> _Outcome: ...
    def _panic_for_test(self) -> None: ...

@final
class Throttle:
    """A keyed rate limiter enforcing every one of its limits at once.

    ``windows`` are ``(limit, window_ns)`` pairs: at most ``limit`` units in any window
    ``(now - window_ns, now]`` (an event exactly ``window_ns`` old no longer counts). ``gcra`` are
    ``(rate, period_ns, burst)`` triples: a token bucket of ``burst`` tokens refilled at ``rate``
    per ``period_ns`` (emission interval ``period_ns / rate`` rounded up). Limits are numbered
    windows first, then GCRA. Keys are ints in ``[0, 2**64)``; times are int nanoseconds and must
    never decrease across calls (``ClockWentBackwardsError``). ``n`` may be 0 (always passes) up to
    ``max_request``; more raises ``RequestTooLargeError``.
    """

    def __new__(
        cls,
        *,
        windows: Sequence[tuple[int, int]] | None = None,
        gcra: Sequence[tuple[int, int, int]] | None = None,
    ) -> Self: ...
    @property
    def limits(self) -> list[tuple[str, int, int]]: ...
    @property
    def max_request(self) -> int: ...
    @property
    def last_time(self) -> int | None: ...
    @property
    def slot_capacity(self) -> int: ...
    def try_acquire(self, key: int, now: int, n: int = 1) -> bool: ...
    def poll(self, key: int, now: int, n: int = 1) -> int: ...
    def check(self, key: int, now: int, n: int = 1) -> tuple[bool, int, int]: ...
    def wait_time(self, key: int, now: int, n: int = 1) -> int: ...
    def count_in_window(self, key: int, now: int, limit: int = 0) -> int: ...
    def reset(self, key: int | None = None) -> bool: ...
    def sweep(self, now: int) -> int: ...
    def __len__(self) -> int: ...
    def try_acquire_batch(
        self,
        keys: NDArray[np.uint64],
        times: NDArray[np.int64],
        n: NDArray[np.uint32] | None = None,
    ) -> tuple[NDArray[np.bool_], NDArray[np.int64]]: ...
    def _noop(self, key: int, now: int, n: int = 1) -> bool: ...
    def _panic_for_test(self) -> None: ...

@final
class TrailingStops:
    """Many trailing stops over integer-tick prices (see ``docs/trailing.md``).

    ``side`` -1 is a sell stop (protects a long: tracks the high, stop = hwm - trail, triggers
    when price <= stop); 1 a buy stop (tracks the low, stop = hwm + trail, triggers when
    price >= stop). A percent trail is ``trail_bps`` basis points; its distance
    ``max(1, floor(hwm * bps / 10000))`` ticks rounds the stop toward the price. A break-even rule
    (``breakeven_entry``, ``breakeven_profit``, ``breakeven_lock``) holds the stop at
    ``entry -/+ lock`` or better once the water mark is ``profit`` ticks in the money. Updates
    return ``(triggered_ids, stop_prices)``; triggered stops are removed.
    """

    def __new__(cls, n_instruments: int) -> Self: ...
    @property
    def n_instruments(self) -> int: ...
    @property
    def kernel(self) -> str: ...
    def add(
        self,
        id: int,
        instrument: int,
        side: int,
        *,
        trail_ticks: int | None = None,
        trail_bps: int | None = None,
        activation: int | None = None,
        limit_offset: int | None = None,
        price: int | None = None,
        breakeven_entry: int | None = None,
        breakeven_profit: int | None = None,
        breakeven_lock: int = 0,
    ) -> None: ...
    def remove(self, id: int) -> _StopStateTuple: ...
    def amend(
        self, id: int, *, trail_ticks: int | None = None, trail_bps: int | None = None
    ) -> None: ...
    def get(self, id: int) -> _StopStateTuple | None: ...
    def __contains__(self, key: int, /) -> bool: ...
    def __len__(self) -> int: ...
    def update_last(
        self, instruments: NDArray[np.uint32], prices: NDArray[np.int64]
    ) -> _Triggered: ...
    def update_quotes(
        self,
        instruments: NDArray[np.uint32],
        bids: NDArray[np.int64],
        asks: NDArray[np.int64],
    ) -> _Triggered: ...
    def update_dense(self, prices: NDArray[np.int64]) -> _Triggered: ...
    def update_dense_quotes(
        self, bids: NDArray[np.int64], asks: NDArray[np.int64]
    ) -> _Triggered: ...
    def last_limit_prices(self) -> tuple[NDArray[np.int64], NDArray[np.bool_]]: ...
    def _panic_for_test(self) -> None: ...

def replay_lobster(message_path: str, orderbook_path: str) -> dict[str, Any]: ...
def replay_cme(path: str) -> dict[str, Any]: ...

# (kind, order_id, price, qty, remaining, taker, reason, time_ns, msg): see fillforge.sim.engine.
_SimEvent = tuple[int, int, int, int, int, bool, int, int, int]

@final
class Feed:
    """A replay's market data: normalised messages (and LOBSTER true-book snapshots)."""

    @staticmethod
    def lobster(
        message_path: str, orderbook_path: str, time_offset_ns: int = 0, price_div: int = 1
    ) -> Feed: ...
    @staticmethod
    def from_columns(
        time_ns: NDArray[np.int64],
        kind: NDArray[np.uint8],
        order_id: NDArray[np.uint64],
        side: NDArray[np.int8],
        price: NDArray[np.int64],
        qty: NDArray[np.int64],
    ) -> Feed: ...
    def __len__(self) -> int: ...
    @property
    def levels(self) -> int: ...
    def columns(
        self,
    ) -> tuple[
        NDArray[np.int64],
        NDArray[np.uint8],
        NDArray[np.uint64],
        NDArray[np.int8],
        NDArray[np.int64],
        NDArray[np.int64],
    ]: ...

@final
class SimEngine:
    """One instrument's simulated market: the feed replayed into a book, user orders in it."""

    def __new__(cls, feed: Feed, *, check: bool = True, prevent_wash: bool = True) -> Self: ...
    @property
    def prevent_wash(self) -> bool:
        """On (the default), a user order that would trade with the user's own resting order is
        refused; off, they trade like any orders and both report their fill."""
    def run(
        self, max_messages: int = ..., until_ns: int = ..., stop_on_user: bool = True
    ) -> int: ...
    def run_watched(
        self,
        max_messages: int = ...,
        until_ns: int = ...,
        quotes: bool = True,
        prints: bool = True,
    ) -> tuple[int, int, bool, bool, bool, int, int, int, int]:
        """Apply messages until one changes a user order, prints (``prints``) or ends an
        instant with a recorded top other than the one last handed out (``quotes``):
        ``(applied, now, changed, printed, moved, bid_price, bid_qty, ask_price, ask_qty)``,
        ``now`` the engine's clock after the run, the top when ``moved`` (qty 0: an empty
        side; all 0 otherwise)."""
    def take_top_change(self) -> _Top | None:
        """The recorded top ``(bid, ask)`` if it moved since last handed out, else None."""
    def reset_watched_top(self) -> None:
        """Take the top as it stands as handed out: report changes from now on."""
    @property
    def position(self) -> int: ...
    @property
    def done(self) -> bool: ...
    @property
    def now(self) -> int: ...
    @property
    def next_time(self) -> int | None: ...
    @property
    def last_trade(self) -> int | None: ...
    def advance_to(self, t: int) -> None: ...
    def apply(
        self, time_ns: int, kind: int, order_id: int, side: int, price: int, qty: int
    ) -> None: ...
    def submit(
        self,
        order_id: int,
        side: int,
        price: int | None,
        qty: int,
        tif: int = 0,
        post_only: bool = False,
    ) -> _Outcome: ...
    def submit_stop(
        self,
        order_id: int,
        side: int,
        stop_price: int,
        qty: int,
        limit_price: int | None = None,
        tif: int = 0,
    ) -> None: ...
    def submit_trailing(
        self,
        order_id: int,
        side: int,
        qty: int,
        *,
        trail_ticks: int | None = None,
        trail_bps: int | None = None,
        activation: int | None = None,
        limit_offset: int | None = None,
        tif: int = 0,
    ) -> None: ...
    def submit_auction(
        self,
        order_id: int,
        side: int,
        qty: int,
        limit_price: int | None = None,
        *,
        close: bool = False,
    ) -> None: ...
    def amend_trailing(
        self, order_id: int, *, trail_ticks: int | None = None, trail_bps: int | None = None
    ) -> None: ...
    def cancel(self, order_id: int) -> int: ...
    def modify(self, order_id: int, price: int, qty: int) -> _Outcome: ...
    def expire_day(self) -> int: ...
    def take_events(self) -> list[_SimEvent]: ...
    def best_bid(self, recorded_only: bool = True) -> _Level | None: ...
    def best_ask(self, recorded_only: bool = True) -> _Level | None: ...
    def depth(self, side: int, levels: int, recorded_only: bool = True) -> list[_Level]: ...
    def user_order(self, order_id: int) -> tuple[int, int, int, int] | None: ...
    def trailing_state(self, order_id: int) -> tuple[int | None, int | None] | None: ...
    @property
    def user_order_count(self) -> int: ...
    @property
    def book_len(self) -> int: ...
    def stats(self) -> dict[str, int]: ...
    def reset(self) -> None: ...
    def check_invariants(self) -> None: ...

@final
class MarketsLoop:
    """Several markets' engines replayed as one stream in time order (equal times: the engine
    listed first), in one call without the GIL. The engines stay shared with their owners."""

    def __new__(cls, engines: Sequence[SimEngine]) -> Self: ...
    def __len__(self) -> int: ...
    def run(self, max_messages: int = ..., until_ns: int = ...) -> tuple[int, int | None, bool]:
        """Apply up to ``max_messages`` messages timed before ``until_ns``, stopping after the
        first that changed a user order: ``(applied, market, changed)``, the index of the engine
        that applied the last message (None: none applied) and whether it changed a user order
        (its events wait in that engine)."""
