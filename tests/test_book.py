"""Unit tests of :class:`fillforge.OrderBook` through its per-call API.

Every expectation below is derived from the book's rules (``rust/core/src/book/mod.rs``): price
then time priority, fills at the maker's price, the time-in-force and post-only rules, the
modify priority rule, the stop trigger rule and the typed errors.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import fillforge
from fillforge import (
    BatchInputError,
    DuplicateOrderIdError,
    FillforgeError,
    InternalError,
    InvalidOrderError,
    InvalidPriceError,
    InvalidQuantityError,
    OrderBook,
    OrderBookError,
    PriceOffGridError,
    QuantityOffGridError,
    Reason,
    Side,
    Status,
    TimeInForce,
    UnknownOrderError,
)

BUY, SELL = Side.BUY, Side.SELL
GTC, DAY, IOC, FOK = TimeInForce.GTC, TimeInForce.DAY, TimeInForce.IOC, TimeInForce.FOK
MAX_QTY = (1 << 62) - 1

Row = tuple[int, ...]


def fills(book: OrderBook) -> list[Row]:
    """Fills since the last call, as (taker, maker, price, qty, maker_remaining) rows."""
    cols = book.take_fills()
    return [tuple(int(v) for v in row) for row in zip(*cols, strict=True)]


def events(book: OrderBook) -> list[Row]:
    """Events since the last call, as (order_id, status, reason, filled, remaining) rows."""
    cols = book.take_events()
    return [tuple(int(v) for v in row) for row in zip(*cols, strict=True)]


def depth(book: OrderBook, side: int, levels: int = 100) -> list[tuple[int, int, int]]:
    prices, qtys, counts = book.depth(side, levels)
    return list(zip(prices.tolist(), qtys.tolist(), counts.tolist(), strict=True))


def snapshot(book: OrderBook, ids: range = range(0, 50)) -> dict[str, Any]:
    """All observable state of a book (for "a failing call changes nothing")."""
    return {
        "bids": depth(book, BUY),
        "asks": depth(book, SELL),
        "orders": {i: book.order(i) for i in ids},
        "stops": {i: book.is_stop_pending(i) for i in ids},
        "fill_count": book.fill_count,
        "len": len(book),
        "stop_count": book.stop_count,
        "last_trade": book.last_trade_price,
    }


def out(status: Status, reason: Reason, filled: int, remaining: int) -> tuple[int, int, int, int]:
    return (status, reason, filled, remaining)


@pytest.fixture
def book() -> OrderBook:
    return OrderBook()


@pytest.fixture
def ladder() -> OrderBook:
    """Bids 99 (ids 1, 2), 98 (id 3); asks 101 (ids 11, 12), 102 (id 13). No trades yet."""
    b = OrderBook()
    b.submit_limit(1, BUY, 99, 10)
    b.submit_limit(2, BUY, 99, 20)
    b.submit_limit(3, BUY, 98, 30)
    b.submit_limit(11, SELL, 101, 10)
    b.submit_limit(12, SELL, 101, 20)
    b.submit_limit(13, SELL, 102, 30)
    return b


# ----- queries -------------------------------------------------------------------------------


def test_empty_book_queries(book: OrderBook) -> None:
    assert book.best_bid() is None
    assert book.best_ask() is None
    assert len(book) == 0
    assert book.order_count == 0
    assert book.stop_count == 0
    assert book.level_count(BUY) == 0
    assert book.last_trade_price is None
    assert book.volume_at(SELL, 100) == 0
    assert book.order(1) is None
    assert book.fill_count == 0
    for arr in book.depth(BUY, 5):
        assert arr.dtype == np.int64
        assert arr.shape == (0,)


def test_queries_on_a_ladder(ladder: OrderBook) -> None:
    assert ladder.best_bid() == (99, 30)
    assert ladder.best_ask() == (101, 30)
    assert len(ladder) == 6
    assert ladder.order_count == 6
    assert ladder.level_count(BUY) == 2
    assert ladder.level_count(SELL) == 2
    assert ladder.volume_at(BUY, 99) == 30
    assert ladder.volume_at(BUY, 98) == 30
    assert ladder.volume_at(BUY, 101) == 0  # the price exists, but on the other side
    assert ladder.volume_at(SELL, 102) == 30
    # Depth is best first on each side: bids descending, asks ascending.
    prices, qtys, counts = ladder.depth(BUY, 10)
    assert (prices.dtype, qtys.dtype, counts.dtype) == (np.int64, np.int64, np.int64)
    assert prices.tolist() == [99, 98]
    assert qtys.tolist() == [30, 30]
    assert counts.tolist() == [2, 1]
    assert depth(ladder, SELL) == [(101, 30, 2), (102, 30, 1)]
    # Asking for fewer levels truncates from the best outward.
    assert depth(ladder, BUY, 1) == [(99, 30, 2)]
    assert depth(ladder, SELL, 0) == []
    # order(): (side, price, remaining, queue_position, qty_ahead).
    assert ladder.order(1) == (BUY, 99, 10, 0, 0)
    assert ladder.order(2) == (BUY, 99, 20, 1, 10)
    assert ladder.order(13) == (SELL, 102, 30, 0, 0)
    assert ladder.last_trade_price is None  # nothing traded
    assert ladder.fill_count == 0


def test_tick_and_lot_properties() -> None:
    b = OrderBook(tick=100, lot=10)
    assert (b.tick, b.lot) == (100, 10)
    assert (OrderBook().tick, OrderBook().lot) == (1, 1)


# ----- price-time priority -------------------------------------------------------------------


def test_fifo_within_a_level() -> None:
    b = OrderBook()
    for oid in (1, 2, 3):
        b.submit_limit(oid, SELL, 100, 5)
    assert b.submit_limit(9, BUY, 100, 12) == out(Status.FILLED, Reason.NONE, 12, 0)
    # Oldest first; the last maker is only partly filled.
    assert fills(b) == [(9, 1, 100, 5, 0), (9, 2, 100, 5, 0), (9, 3, 100, 2, 3)]
    assert b.order(3) == (SELL, 100, 3, 0, 0)
    assert b.order(1) is None
    assert b.last_trade_price == 100


def test_better_price_first_and_fills_at_maker_price() -> None:
    b = OrderBook()
    b.submit_limit(1, SELL, 103, 5)
    b.submit_limit(2, SELL, 101, 5)
    b.submit_limit(3, SELL, 102, 5)
    # A buy limited at 105 sweeps 101, 102, 103 in that order, each at the maker's price.
    assert b.submit_limit(9, BUY, 105, 12) == out(Status.FILLED, Reason.NONE, 12, 0)
    assert fills(b) == [(9, 2, 101, 5, 0), (9, 3, 102, 5, 0), (9, 1, 103, 2, 3)]
    assert b.last_trade_price == 103


def test_sell_taker_hits_highest_bid_first() -> None:
    b = OrderBook()
    b.submit_limit(1, BUY, 97, 5)
    b.submit_limit(2, BUY, 99, 5)
    b.submit_limit(3, BUY, 98, 5)
    assert b.submit_limit(9, SELL, 98, 20) == out(Status.RESTING, Reason.NONE, 10, 10)
    assert fills(b) == [(9, 2, 99, 5, 0), (9, 3, 98, 5, 0)]
    # The limit stops the sweep at 98; the remainder rests at the taker's limit.
    assert b.best_bid() == (97, 5)
    assert b.best_ask() == (98, 10)
    assert b.order(9) == (SELL, 98, 10, 0, 0)


def test_price_priority_beats_time_priority() -> None:
    b = OrderBook()
    b.submit_limit(1, BUY, 99, 5)  # earlier, worse price
    b.submit_limit(2, BUY, 100, 5)  # later, better price
    b.submit_limit(9, SELL, 99, 5)
    assert fills(b) == [(9, 2, 100, 5, 0)]


def test_non_crossing_limit_rests_without_fills(ladder: OrderBook) -> None:
    assert ladder.submit_limit(20, BUY, 100, 7) == out(Status.RESTING, Reason.NONE, 0, 7)
    assert fills(ladder) == []
    assert ladder.best_bid() == (100, 7)


# ----- time in force -------------------------------------------------------------------------


def test_gtc_remainder_rests(ladder: OrderBook) -> None:
    assert ladder.submit_limit(20, BUY, 101, 50, tif=GTC) == out(
        Status.RESTING, Reason.NONE, 30, 20
    )
    assert fills(ladder) == [(20, 11, 101, 10, 0), (20, 12, 101, 20, 0)]
    assert ladder.best_bid() == (101, 20)
    assert ladder.best_ask() == (102, 30)


def test_day_order_rests_and_expires_with_events() -> None:
    b = OrderBook()
    b.submit_limit(1, BUY, 98, 5, tif=DAY)
    b.submit_limit(2, BUY, 99, 6, tif=GTC)
    b.submit_limit(3, BUY, 99, 7, tif=DAY)
    b.submit_limit(4, SELL, 101, 8, tif=DAY)
    b.submit_limit(5, SELL, 102, 9, tif=GTC)
    b.submit_stop(6, BUY, 105, 4, tif=DAY)
    b.submit_stop(7, SELL, 95, 3, tif=GTC)
    assert events(b) == []
    assert b.expire_day() == 4
    expired = (Status.EXPIRED, Reason.DAY_EXPIRED, 0)
    # Book order: bids best first, then asks, then held stops; remaining = quantity expired.
    assert events(b) == [(3, *expired, 7), (1, *expired, 5), (4, *expired, 8), (6, *expired, 4)]
    assert depth(b, BUY) == [(99, 6, 1)]
    assert depth(b, SELL) == [(102, 9, 1)]
    assert not b.is_stop_pending(6)
    assert b.is_stop_pending(7)
    # A second session end has nothing left to expire.
    assert b.expire_day() == 0
    assert events(b) == []


def test_partly_filled_day_order_expires_its_remainder() -> None:
    b = OrderBook()
    b.submit_limit(1, SELL, 100, 10, tif=DAY)
    b.submit_limit(2, BUY, 100, 4)
    assert b.expire_day() == 1
    assert events(b) == [(1, Status.EXPIRED, Reason.DAY_EXPIRED, 0, 6)]


def test_ioc_fills_what_it_can_and_cancels_the_rest(ladder: OrderBook) -> None:
    assert ladder.submit_limit(20, BUY, 101, 50, tif=IOC) == out(
        Status.CANCELED, Reason.IOC_REMAINDER, 30, 20
    )
    assert fills(ladder) == [(20, 11, 101, 10, 0), (20, 12, 101, 20, 0)]
    assert ladder.order(20) is None
    assert ladder.best_bid() == (99, 30)  # nothing rested


def test_ioc_that_cannot_trade_is_canceled_whole(ladder: OrderBook) -> None:
    before = snapshot(ladder)
    assert ladder.submit_limit(20, BUY, 100, 5, tif=IOC) == out(
        Status.CANCELED, Reason.IOC_REMAINDER, 0, 5
    )
    assert snapshot(ladder) == before


def test_ioc_fully_filled(ladder: OrderBook) -> None:
    assert ladder.submit_limit(20, SELL, 99, 30, tif=IOC) == out(Status.FILLED, Reason.NONE, 30, 0)
    assert fills(ladder) == [(20, 1, 99, 10, 0), (20, 2, 99, 20, 0)]


def test_fok_fills_completely_when_exactly_enough(ladder: OrderBook) -> None:
    # 30 at 101 plus 30 at 102 within the limit 102.
    assert ladder.submit_limit(20, BUY, 102, 60, tif=FOK) == out(Status.FILLED, Reason.NONE, 60, 0)
    assert [f[3] for f in fills(ladder)] == [10, 20, 30]
    assert ladder.best_ask() is None


def test_fok_one_more_than_available_fills_nothing(ladder: OrderBook) -> None:
    before = snapshot(ladder)
    assert ladder.submit_limit(20, BUY, 102, 61, tif=FOK) == out(
        Status.CANCELED, Reason.FOK_UNFILLABLE, 0, 61
    )
    assert fills(ladder) == []
    assert snapshot(ladder) == before


def test_fok_counts_only_liquidity_within_its_limit(ladder: OrderBook) -> None:
    # 60 rest on the ask side but only 30 within 101.
    assert ladder.submit_limit(20, BUY, 101, 31, tif=FOK)[:2] == (
        Status.CANCELED,
        Reason.FOK_UNFILLABLE,
    )
    assert ladder.submit_limit(21, BUY, 101, 30, tif=FOK) == out(Status.FILLED, Reason.NONE, 30, 0)


# ----- post-only -----------------------------------------------------------------------------


def test_post_only_that_would_cross_is_rejected_not_repriced(ladder: OrderBook) -> None:
    before = snapshot(ladder)
    # Touching the best ask (101) takes liquidity: rejected.
    assert ladder.submit_limit(20, BUY, 101, 5, post_only=True) == out(
        Status.REJECTED, Reason.POST_ONLY_WOULD_CROSS, 0, 5
    )
    assert ladder.submit_limit(21, SELL, 90, 5, post_only=True) == out(
        Status.REJECTED, Reason.POST_ONLY_WOULD_CROSS, 0, 5
    )
    assert fills(ladder) == []
    assert snapshot(ladder) == before
    # The rejected id is not live, so it may be used again.
    assert ladder.submit_limit(20, BUY, 100, 5, post_only=True) == out(
        Status.RESTING, Reason.NONE, 0, 5
    )


def test_post_only_day_rests_when_passive(ladder: OrderBook) -> None:
    assert ladder.submit_limit(20, SELL, 100, 5, tif=DAY, post_only=True) == out(
        Status.RESTING, Reason.NONE, 0, 5
    )
    assert ladder.best_ask() == (100, 5)


@pytest.mark.parametrize("tif", [IOC, FOK])
def test_post_only_needs_a_resting_time_in_force(book: OrderBook, tif: int) -> None:
    with pytest.raises(InvalidOrderError, match="order_id=7: post_only"):
        book.submit_limit(7, BUY, 100, 5, tif=tif, post_only=True)


# ----- market orders -------------------------------------------------------------------------


def test_market_order_on_empty_book_is_canceled(book: OrderBook) -> None:
    assert book.submit_market(1, BUY, 10) == out(Status.CANCELED, Reason.IOC_REMAINDER, 0, 10)
    assert fills(book) == []
    assert book.last_trade_price is None


def test_market_order_sweeps_every_price(ladder: OrderBook) -> None:
    assert ladder.submit_market(20, BUY, 50) == out(Status.FILLED, Reason.NONE, 50, 0)
    assert fills(ladder) == [(20, 11, 101, 10, 0), (20, 12, 101, 20, 0), (20, 13, 102, 20, 10)]
    assert ladder.best_ask() == (102, 10)


def test_market_order_on_partial_book_cancels_the_rest(ladder: OrderBook) -> None:
    assert ladder.submit_market(20, SELL, 100) == out(Status.CANCELED, Reason.IOC_REMAINDER, 60, 40)
    assert ladder.best_bid() is None
    assert ladder.order(20) is None


@pytest.mark.parametrize("tif", [GTC, DAY])
def test_market_order_never_rests(ladder: OrderBook, tif: int) -> None:
    assert ladder.submit_market(20, SELL, 100, tif=tif) == out(
        Status.CANCELED, Reason.IOC_REMAINDER, 60, 40
    )
    assert ladder.order(20) is None
    assert ladder.best_ask() == (101, 30)


def test_market_fok(ladder: OrderBook) -> None:
    assert ladder.submit_market(20, BUY, 61, tif=FOK) == out(
        Status.CANCELED, Reason.FOK_UNFILLABLE, 0, 61
    )
    assert fills(ladder) == []
    assert ladder.submit_market(21, BUY, 60, tif=FOK) == out(Status.FILLED, Reason.NONE, 60, 0)


# ----- cancel and reduce ---------------------------------------------------------------------


def test_cancel_removes_the_order(ladder: OrderBook) -> None:
    assert ladder.cancel(1) == out(Status.CANCELED, Reason.USER, 0, 10)
    assert ladder.order(1) is None
    assert ladder.order(2) == (BUY, 99, 20, 0, 0)  # moved up the queue
    assert ladder.best_bid() == (99, 20)
    with pytest.raises(UnknownOrderError, match="order_id=1"):
        ladder.cancel(1)
    # A canceled id may be reused.
    assert ladder.submit_limit(1, SELL, 110, 3) == out(Status.RESTING, Reason.NONE, 0, 3)


def test_cancel_last_order_removes_the_level(ladder: OrderBook) -> None:
    ladder.cancel(3)
    assert ladder.level_count(BUY) == 1
    assert ladder.volume_at(BUY, 98) == 0


def test_cancel_filled_order_is_unknown(ladder: OrderBook) -> None:
    ladder.submit_market(20, BUY, 10)
    with pytest.raises(UnknownOrderError):
        ladder.cancel(11)
    # The remainder of a partly filled order can be canceled.
    ladder.submit_market(21, BUY, 5)
    assert ladder.cancel(12) == out(Status.CANCELED, Reason.USER, 0, 15)


def test_reduce_keeps_queue_priority(ladder: OrderBook) -> None:
    assert ladder.reduce(1, 4) == out(Status.REDUCED, Reason.USER, 0, 6)
    assert ladder.order(1) == (BUY, 99, 6, 0, 0)
    assert ladder.order(2) == (BUY, 99, 20, 1, 6)
    assert ladder.volume_at(BUY, 99) == 26
    # Still first in line.
    ladder.submit_limit(20, SELL, 99, 6)
    assert fills(ladder) == [(20, 1, 99, 6, 0)]


def test_reduce_by_exactly_open_quantity_cancels(ladder: OrderBook) -> None:
    assert ladder.reduce(2, 20) == out(Status.CANCELED, Reason.USER, 0, 20)
    assert ladder.order(2) is None
    assert ladder.best_bid() == (99, 10)


def test_reduce_beyond_open_quantity_is_an_error(ladder: OrderBook) -> None:
    before = snapshot(ladder)
    with pytest.raises(InvalidQuantityError, match="qty=21"):
        ladder.reduce(2, 21)
    assert snapshot(ladder) == before


def test_reduce_a_held_stop(book: OrderBook) -> None:
    book.submit_stop(1, BUY, 105, 10)
    assert book.reduce(1, 3) == out(Status.REDUCED, Reason.USER, 0, 7)
    assert book.reduce(1, 7) == out(Status.CANCELED, Reason.USER, 0, 7)
    assert not book.is_stop_pending(1)


# ----- modify --------------------------------------------------------------------------------


@pytest.fixture
def queue() -> OrderBook:
    """Three bids at 100: ids 1, 2, 3 with 10, 20, 30."""
    b = OrderBook()
    for oid, qty in ((1, 10), (2, 20), (3, 30)):
        b.submit_limit(oid, BUY, 100, qty)
    return b


def test_modify_qty_decrease_keeps_priority(queue: OrderBook) -> None:
    assert queue.order(2) == (BUY, 100, 20, 1, 10)
    assert queue.modify(2, 100, 15) == out(Status.AMENDED, Reason.NONE, 0, 15)
    assert queue.order(2) == (BUY, 100, 15, 1, 10)
    assert queue.order(3) == (BUY, 100, 30, 2, 25)
    assert queue.volume_at(BUY, 100) == 55


def test_modify_qty_increase_loses_priority(queue: OrderBook) -> None:
    assert queue.modify(1, 100, 11) == out(Status.RESTING, Reason.NONE, 0, 11)
    assert queue.order(1) == (BUY, 100, 11, 2, 50)
    assert queue.order(2) == (BUY, 100, 20, 0, 0)
    assert queue.order(3) == (BUY, 100, 30, 1, 20)


def test_modify_price_change_loses_priority_even_back_to_the_old_price(queue: OrderBook) -> None:
    assert queue.modify(1, 99, 10) == out(Status.RESTING, Reason.NONE, 0, 10)
    assert queue.order(1) == (BUY, 99, 10, 0, 0)
    assert queue.modify(1, 100, 5) == out(Status.RESTING, Reason.NONE, 0, 5)
    assert queue.order(1) == (BUY, 100, 5, 2, 50)


def test_modify_same_price_and_qty_changes_nothing(queue: OrderBook) -> None:
    before = snapshot(queue)
    assert queue.modify(1, 100, 10) == out(Status.AMENDED, Reason.NO_CHANGE, 0, 10)
    assert snapshot(queue) == before


def test_modify_that_crosses_matches_as_taker_first(queue: OrderBook) -> None:
    queue.submit_limit(11, SELL, 101, 4)
    queue.submit_limit(12, SELL, 102, 4)
    assert queue.modify(3, 101, 30) == out(Status.RESTING, Reason.NONE, 4, 26)
    assert fills(queue) == [(3, 11, 101, 4, 0)]
    assert queue.order(3) == (BUY, 101, 26, 0, 0)
    assert queue.best_bid() == (101, 26)
    assert queue.modify(2, 102, 4) == out(Status.FILLED, Reason.NONE, 4, 0)
    assert fills(queue) == [(2, 12, 102, 4, 0)]
    assert queue.order(2) is None


def test_post_only_modify_that_would_cross_is_rejected_unchanged() -> None:
    b = OrderBook()
    b.submit_limit(1, BUY, 99, 10)
    b.submit_limit(2, BUY, 99, 10, post_only=True)
    b.submit_limit(11, SELL, 101, 10)
    before = snapshot(b)
    assert b.modify(2, 101, 5) == out(Status.REJECTED, Reason.POST_ONLY_WOULD_CROSS, 0, 10)
    assert snapshot(b) == before
    assert b.order(2) == (BUY, 99, 10, 1, 10)
    # A passive move of the same post-only order is fine (and loses priority).
    assert b.modify(2, 100, 10) == out(Status.RESTING, Reason.NONE, 0, 10)


def test_modify_errors(book: OrderBook) -> None:
    with pytest.raises(UnknownOrderError, match="order_id=5"):
        book.modify(5, 100, 1)
    book.submit_stop(6, BUY, 105, 1)
    with pytest.raises(InvalidOrderError, match="order_id=6: a held stop cannot be modified"):
        book.modify(6, 106, 1)


# ----- stops ---------------------------------------------------------------------------------


def trade_at(book: OrderBook, price: int, buyer: int, seller: int, qty: int = 1) -> None:
    """Print one trade at ``price``: ``seller`` rests an ask, ``buyer`` takes it."""
    book.submit_limit(seller, SELL, price, qty)
    assert book.submit_limit(buyer, BUY, price, qty) == out(Status.FILLED, Reason.NONE, qty, 0)


def test_stop_is_held_off_book_until_triggered(book: OrderBook) -> None:
    assert book.submit_stop(1, BUY, 105, 10) == out(Status.PENDING, Reason.NONE, 0, 10)
    assert book.is_stop_pending(1)
    assert book.stop_count == 1
    assert len(book) == 0
    assert book.order(1) is None
    assert book.best_bid() is None
    with pytest.raises(DuplicateOrderIdError):
        book.submit_limit(1, BUY, 100, 1)  # a held stop's id is live
    assert book.cancel(1) == out(Status.CANCELED, Reason.USER, 0, 10)
    assert book.stop_count == 0


def test_buy_stop_triggers_on_a_print_equal_to_its_stop(book: OrderBook) -> None:
    book.submit_limit(50, SELL, 106, 100)  # liquidity for the triggered stop
    book.submit_stop(1, BUY, 105, 10)
    trade_at(book, 104, buyer=60, seller=61)
    assert book.is_stop_pending(1)  # 104 < 105
    assert events(book) == []
    fills(book)
    trade_at(book, 105, buyer=62, seller=63)
    assert not book.is_stop_pending(1)
    assert events(book) == [
        (1, Status.TRIGGERED, Reason.NONE, 0, 10),
        (1, Status.FILLED, Reason.NONE, 10, 0),
    ]
    assert fills(book) == [(62, 63, 105, 1, 0), (1, 50, 106, 10, 90)]
    assert book.last_trade_price == 106


def test_sell_stop_triggers_on_a_print_equal_to_its_stop(book: OrderBook) -> None:
    book.submit_limit(50, BUY, 90, 100)
    book.submit_stop(1, SELL, 95, 10)
    trade_at(book, 96, buyer=60, seller=61)
    assert book.is_stop_pending(1)  # 96 > 95
    trade_at(book, 95, buyer=62, seller=63)
    assert not book.is_stop_pending(1)
    assert events(book)[-1] == (1, Status.FILLED, Reason.NONE, 10, 0)
    assert fills(book)[-1] == (1, 50, 90, 10, 90)


def test_every_print_of_a_sweep_counts_not_only_the_last(book: OrderBook) -> None:
    book.submit_limit(1, BUY, 101, 1)
    book.submit_limit(2, BUY, 100, 1)
    book.submit_limit(3, BUY, 99, 1)
    book.submit_stop(10, BUY, 101, 5)  # buy stop: needs a print >= 101
    book.submit_limit(4, SELL, 110, 5)
    # A sell sweep prints 101, 100, 99: the last print alone would not trigger the buy stop.
    book.submit_limit(20, SELL, 99, 3)
    assert fills(book) == [
        (20, 1, 101, 1, 0),
        (20, 2, 100, 1, 0),
        (20, 3, 99, 1, 0),
        (10, 4, 110, 5, 0),
    ]
    assert not book.is_stop_pending(10)
    assert events(book) == [
        (10, Status.TRIGGERED, Reason.NONE, 0, 5),
        (10, Status.FILLED, Reason.NONE, 5, 0),
    ]


def test_stop_triggers_at_submission_when_last_trade_already_satisfies_it(book: OrderBook) -> None:
    book.submit_limit(50, SELL, 103, 100)
    trade_at(book, 100, buyer=60, seller=61)
    fills(book)
    # Buy stop at 100: the last trade (100) already meets it.
    assert book.submit_stop(1, BUY, 100, 10) == out(Status.FILLED, Reason.NONE, 10, 0)
    assert events(book) == [
        (1, Status.TRIGGERED, Reason.NONE, 0, 10),
        (1, Status.FILLED, Reason.NONE, 10, 0),
    ]
    assert fills(book) == [(1, 50, 103, 10, 90)]
    # Buy stop at 104 with last trade 103: held.
    assert book.submit_stop(2, BUY, 104, 10) == out(Status.PENDING, Reason.NONE, 0, 10)
    # Sell stop at 103 with last trade 103: triggers, finds no bids, cancels.
    assert book.submit_stop(3, SELL, 103, 10) == out(Status.CANCELED, Reason.IOC_REMAINDER, 0, 10)


def test_triggered_stop_limit_rests_at_its_limit(book: OrderBook) -> None:
    book.submit_limit(50, SELL, 102, 4)
    book.submit_stop(1, BUY, 101, 10, limit_price=102)
    trade_at(book, 101, buyer=60, seller=61)
    assert events(book) == [
        (1, Status.TRIGGERED, Reason.NONE, 0, 10),
        (1, Status.RESTING, Reason.NONE, 4, 6),
    ]
    assert book.order(1) == (BUY, 102, 6, 0, 0)


def test_triggered_stop_with_fok(book: OrderBook) -> None:
    book.submit_limit(50, SELL, 102, 4)
    book.submit_stop(1, BUY, 101, 10, tif=FOK)
    trade_at(book, 101, buyer=60, seller=61)
    assert events(book)[-1] == (1, Status.CANCELED, Reason.FOK_UNFILLABLE, 0, 10)
    assert book.volume_at(SELL, 102) == 4


def test_stops_triggered_together_run_nearest_first_then_in_time_order(book: OrderBook) -> None:
    book.submit_limit(50, SELL, 110, 100)
    book.submit_stop(1, BUY, 103, 1)
    book.submit_stop(2, BUY, 102, 1)
    book.submit_stop(3, BUY, 102, 1)
    book.submit_stop(4, BUY, 104, 1)  # not reached
    book.submit_limit(40, SELL, 101, 1)
    book.submit_limit(41, SELL, 103, 1)
    book.submit_limit(42, BUY, 103, 2)  # prints 101, 103
    # Prints 101 and 103 trigger the buy stops at 102 (2 then 3, by time) and 103 (1). Stop 2's
    # own print at 110 then triggers stop 4, which runs after the stops already triggered.
    triggered = [e[0] for e in events(book) if e[1] == Status.TRIGGERED]
    assert triggered == [2, 3, 1, 4]
    assert [(f[0], f[2]) for f in fills(book)] == [
        (42, 101),
        (42, 103),
        (2, 110),
        (3, 110),
        (1, 110),
        (4, 110),
    ]


def test_stop_cascade(book: OrderBook) -> None:
    book.submit_limit(50, SELL, 101, 1)
    book.submit_limit(51, SELL, 105, 1)
    book.submit_limit(52, SELL, 109, 1)
    book.submit_stop(1, BUY, 101, 1)  # triggered by the first trade, prints 105
    book.submit_stop(2, BUY, 105, 1)  # triggered by stop 1's print, prints 109
    book.submit_stop(3, SELL, 90, 1)  # never triggered
    book.submit_limit(9, BUY, 101, 1)
    assert [(f[0], f[2]) for f in fills(book)] == [(9, 101), (1, 105), (2, 109)]
    assert [e[:2] for e in events(book)] == [
        (1, Status.TRIGGERED),
        (1, Status.FILLED),
        (2, Status.TRIGGERED),
        (2, Status.FILLED),
    ]
    assert book.last_trade_price == 109
    assert book.stop_count == 1


def test_stop_market_with_no_liquidity_is_canceled(book: OrderBook) -> None:
    book.submit_stop(1, SELL, 100, 5)
    trade_at(book, 100, buyer=60, seller=61)
    assert events(book)[-1] == (1, Status.CANCELED, Reason.IOC_REMAINDER, 0, 5)


# ----- matching halt ------------------------------------------------------------------------


def test_matching_halt_rests_crossing_limits_and_refuses_takers(ladder: OrderBook) -> None:
    ladder.matching = False
    assert ladder.matching is False
    # A crossing limit rests without trading (book-building: the book may cross).
    assert ladder.submit_limit(20, BUY, 102, 5) == out(Status.RESTING, Reason.NONE, 0, 5)
    assert ladder.best_bid() == (102, 5)
    halted = (Status.REJECTED, Reason.MATCHING_HALTED, 0, 5)
    assert ladder.submit_market(21, SELL, 5) == halted
    assert ladder.submit_limit(22, SELL, 99, 5, tif=IOC) == halted
    assert ladder.submit_limit(23, SELL, 99, 5, tif=FOK) == halted
    assert fills(ladder) == []
    assert ladder.last_trade_price is None
    ladder.matching = True
    # Turning matching back on does not uncross the book by itself.
    assert ladder.best_bid() == (102, 5)
    assert ladder.best_ask() == (101, 30)


# ----- typed errors, grid and messages -------------------------------------------------------


def test_exception_hierarchy() -> None:
    for exc in (
        UnknownOrderError,
        DuplicateOrderIdError,
        InvalidQuantityError,
        PriceOffGridError,
        InvalidPriceError,
        QuantityOffGridError,
        InvalidOrderError,
        BatchInputError,
    ):
        assert issubclass(exc, OrderBookError)
    # Out of range is not off the grid: the two are distinct classes.
    assert not issubclass(InvalidPriceError, PriceOffGridError)
    assert not issubclass(PriceOffGridError, InvalidPriceError)
    assert issubclass(OrderBookError, FillforgeError)
    assert issubclass(InternalError, FillforgeError)
    assert not issubclass(InternalError, OrderBookError)
    assert fillforge.errors.UnknownOrderError is UnknownOrderError


@pytest.mark.parametrize(
    ("kwargs", "exc", "text"),
    [
        ({"tick": 0}, PriceOffGridError, "tick=0"),
        ({"tick": -5}, PriceOffGridError, "tick=-5"),
        ({"lot": 0}, InvalidQuantityError, "lot=0"),
    ],
)
def test_book_grid_must_be_positive(
    kwargs: dict[str, int], exc: type[Exception], text: str
) -> None:
    with pytest.raises(exc, match=text):
        OrderBook(**kwargs)


@pytest.fixture
def grid() -> OrderBook:
    """tick 100, lot 10, with a resting bid (1) and a held stop (2)."""
    b = OrderBook(tick=100, lot=10)
    b.submit_limit(1, BUY, 1000, 50)
    b.submit_stop(2, SELL, 900, 20)
    return b


GRID_ERRORS: list[tuple[str, tuple[Any, ...], dict[str, Any], type[Exception], str]] = [
    ("submit_limit", (5, BUY, 1050, 10), {}, PriceOffGridError, r"price=1050: .*tick 100"),
    ("submit_limit", (5, BUY, 1000, 15), {}, QuantityOffGridError, r"qty=15: .*lot size 10"),
    ("submit_limit", (5, BUY, 1000, 0), {}, InvalidQuantityError, r"qty=0: must be positive"),
    ("submit_limit", (5, BUY, 1000, -10), {}, InvalidQuantityError, r"qty=-10"),
    ("submit_limit", (5, BUY, 1000, 1 << 62), {}, InvalidQuantityError, r"qty=4611686018427387904"),
    ("submit_limit", (5, BUY, (1 << 62) + 100, 10), {}, InvalidPriceError, r"price=4611686018"),
    ("submit_limit", (5, BUY, -(1 << 62) - 100, 10), {}, InvalidPriceError, r"price=-4611686018"),
    ("submit_limit", (5, BUY, 1 << 63, 10), {}, InvalidPriceError, r"price=9223372036854775808"),
    ("modify", (1, (1 << 62) + 100, 50), {}, InvalidPriceError, r"price=4611686018"),
    ("submit_stop", (5, SELL, 1 << 62 | 100, 10), {}, InvalidPriceError, r"stop_price=4611"),
    ("submit_limit", (1, BUY, 900, 10), {}, DuplicateOrderIdError, r"order_id=1\b"),
    ("submit_limit", (2, BUY, 900, 10), {}, DuplicateOrderIdError, r"order_id=2\b"),
    ("submit_limit", (5, 0, 1000, 10), {}, InvalidOrderError, r"side=0"),
    ("submit_limit", (5, BUY, 1000, 10), {"tif": 9}, InvalidOrderError, r"tif=9"),
    ("submit_limit", (-1, BUY, 1000, 10), {}, InvalidOrderError, r"order_id=-1"),
    ("submit_limit", (5, BUY, 1000.0, 10), {}, InvalidPriceError, r"price=1000\.0"),
    ("cancel", (True,), {}, InvalidOrderError, r"order_id=True: .*not a bool"),
    ("submit_limit", (5, True, 1000, 10), {}, InvalidOrderError, r"side=True"),
    ("submit_limit", (5, BUY, 1000, 10), {"post_only": 1}, InvalidOrderError, r"post_only=1"),
    ("submit_limit", (5, BUY, 1000, 10.0), {}, InvalidQuantityError, r"qty=10\.0"),
    ("submit_market", (5, SELL, 25), {}, QuantityOffGridError, r"qty=25"),
    ("submit_market", (5, -2, 20), {}, InvalidOrderError, r"side=-2"),
    ("submit_stop", (5, SELL, 950, 10), {}, PriceOffGridError, r"stop_price=950"),
    (
        "submit_stop",
        (5, SELL, 900, 10),
        {"limit_price": 850},
        PriceOffGridError,
        r"limit_price=850",
    ),
    ("submit_stop", (5, SELL, 900, 7), {}, QuantityOffGridError, r"qty=7"),
    ("submit_stop", (1, SELL, 900, 10), {}, DuplicateOrderIdError, r"order_id=1\b"),
    ("cancel", (3,), {}, UnknownOrderError, r"order_id=3\b"),
    ("reduce", (3, 10), {}, UnknownOrderError, r"order_id=3\b"),
    ("reduce", (1, 5), {}, QuantityOffGridError, r"qty=5"),
    ("reduce", (1, 0), {}, InvalidQuantityError, r"qty=0"),
    ("reduce", (1, 60), {}, InvalidQuantityError, r"qty=60: reduce exceeds"),
    ("reduce", (2, 30), {}, InvalidQuantityError, r"qty=30: reduce exceeds"),
    ("modify", (1, 1050, 50), {}, PriceOffGridError, r"price=1050"),
    ("modify", (1, 1000, 55), {}, QuantityOffGridError, r"qty=55"),
    ("modify", (1, 1000, 0), {}, InvalidQuantityError, r"qty=0"),
    ("modify", (3, 1000, 50), {}, UnknownOrderError, r"order_id=3\b"),
    ("modify", (2, 800, 20), {}, InvalidOrderError, r"order_id=2: a held stop"),
    (
        "submit_limit",
        (5, BUY, 1000, 10),
        {"tif": IOC, "post_only": True},
        InvalidOrderError,
        "post",
    ),
]


@pytest.mark.parametrize(
    ("method", "args", "kwargs", "exc", "pattern"),
    GRID_ERRORS,
    ids=[f"{m}-{e.__name__}-{i}" for i, (m, _, _, e, _) in enumerate(GRID_ERRORS)],
)
def test_bad_input_raises_typed_error_and_changes_nothing(
    grid: OrderBook,
    method: str,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    exc: type[Exception],
    pattern: str,
) -> None:
    grid.submit_limit(3, SELL, 1100, 10)
    grid.submit_limit(4, BUY, 1100, 10)  # one trade, so fill_count and last trade are set
    before = snapshot(grid)
    with pytest.raises(exc, match=pattern) as info:
        getattr(grid, method)(*args, **kwargs)
    assert isinstance(info.value, OrderBookError)
    assert snapshot(grid) == before
    # The book still works normally afterwards.
    assert grid.submit_limit(40, SELL, 1200, 10) == out(Status.RESTING, Reason.NONE, 0, 10)


def test_on_grid_values_are_accepted() -> None:
    b = OrderBook(tick=100, lot=10)
    assert b.submit_limit(1, BUY, -300, 30) == out(Status.RESTING, Reason.NONE, 0, 30)
    assert b.submit_limit(2, SELL, -300, 10) == out(Status.FILLED, Reason.NONE, 10, 0)
    assert b.best_bid() == (-300, 20)
    assert b.last_trade_price == -300


# ----- internal errors -----------------------------------------------------------------------


def test_internal_error_poisons_the_book_until_reset(ladder: OrderBook) -> None:
    with pytest.raises(InternalError, match="deliberate panic"):
        ladder._panic_for_test()
    calls = [
        lambda: ladder.submit_limit(30, BUY, 100, 1),
        lambda: ladder.submit_market(30, BUY, 1),
        lambda: ladder.submit_stop(30, BUY, 100, 1),
        lambda: ladder.cancel(1),
        lambda: ladder.reduce(1, 1),
        lambda: ladder.modify(1, 99, 1),
        lambda: ladder.expire_day(),
        lambda: ladder.add_resting(30, BUY, 100, 1),
        lambda: ladder.apply_batch(
            np.zeros(1, np.uint8),
            np.ones(1, np.uint64),
            np.ones(1, np.int8),
            np.full(1, 100, np.int64),
            np.ones(1, np.int64),
        ),
    ]
    for call in calls:
        with pytest.raises(InternalError, match="refuses further use"):
            call()
    ladder.reset()
    assert len(ladder) == 0
    assert ladder.submit_limit(1, BUY, 100, 1) == out(Status.RESTING, Reason.NONE, 0, 1)


POISON_QUERIES: dict[str, Any] = {
    "best_bid": lambda b: b.best_bid(),
    "best_ask": lambda b: b.best_ask(),
    "depth": lambda b: b.depth(BUY, 5),
    "len": len,
    "order": lambda b: b.order(1),
    "volume_at": lambda b: b.volume_at(BUY, 99),
    "level_count": lambda b: b.level_count(BUY),
    "is_stop_pending": lambda b: b.is_stop_pending(1),
    "order_count": lambda b: b.order_count,
    "stop_count": lambda b: b.stop_count,
    "last_trade_price": lambda b: b.last_trade_price,
    "fill_count": lambda b: b.fill_count,
    "take_fills": lambda b: b.take_fills(),
    "take_events": lambda b: b.take_events(),
}


@pytest.mark.parametrize("query", POISON_QUERIES.values(), ids=POISON_QUERIES.keys())
def test_poisoned_book_refuses_queries_too(ladder: OrderBook, query: Any) -> None:
    with pytest.raises(InternalError):
        ladder._panic_for_test()
    with pytest.raises(InternalError, match="refuses further use"):
        query(ladder)
    ladder.reset()
    query(ladder)  # answers again after a reset
    assert len(ladder) == 0


def test_poisoned_book_refuses_the_matching_setter(ladder: OrderBook) -> None:
    with pytest.raises(InternalError):
        ladder._panic_for_test()
    with pytest.raises(InternalError):
        ladder.matching = False


# ----- level totals stay representable ---------------------------------------------------


def test_level_total_is_bounded_by_max_qty() -> None:
    """A level's total may not exceed 2^62 - 1, so every aggregate fits an int64."""
    b = OrderBook()
    assert b.submit_limit(1, BUY, 100, MAX_QTY - 5) == out(
        Status.RESTING, Reason.NONE, 0, MAX_QTY - 5
    )
    before = snapshot(b)
    with pytest.raises(InvalidQuantityError, match=r"qty=6: would make the price level's total"):
        b.submit_limit(2, BUY, 100, 6)
    assert snapshot(b) == before
    assert b.submit_limit(3, BUY, 100, 5) == out(Status.RESTING, Reason.NONE, 0, 5)
    assert b.best_bid() == (100, MAX_QTY)
    assert b.order(3) == (BUY, 100, 5, 1, MAX_QTY - 5)
    # Other levels have their own room.
    assert b.submit_limit(4, BUY, 99, MAX_QTY)[0] == Status.RESTING
    # A taker may take a whole full level (and nothing beyond its limit).
    taken = b.submit_limit(5, SELL, 100, MAX_QTY, tif=IOC)
    assert taken == out(Status.FILLED, Reason.NONE, MAX_QTY, 0)
    assert b.volume_at(BUY, 100) == 0
    assert b.volume_at(BUY, 99) == MAX_QTY


def test_modify_into_a_full_level_is_refused_and_changes_nothing() -> None:
    b = OrderBook()
    b.submit_limit(1, BUY, 100, MAX_QTY - 1)
    b.submit_limit(2, BUY, 99, 2)
    before = snapshot(b)
    with pytest.raises(InvalidQuantityError, match="qty=2: would make the price level's total"):
        b.modify(2, 100, 2)  # moving 2 into a level with room for 1
    assert snapshot(b) == before
    assert b.modify(2, 100, 1) == out(Status.RESTING, Reason.NONE, 0, 1)  # exactly fits
    assert b.best_bid() == (100, MAX_QTY)
    before = snapshot(b)
    # Same price: only the increase needs room (the message shows the increase, 1).
    with pytest.raises(InvalidQuantityError, match="qty=1: would make the price level's total"):
        b.modify(2, 100, 2)
    assert snapshot(b) == before
    # Decreases always fit.
    assert b.modify(1, 100, 5) == out(Status.AMENDED, Reason.NONE, 0, 5)


def test_triggered_stop_limit_without_room_is_canceled() -> None:
    b = OrderBook()
    b.submit_limit(1, BUY, 100, MAX_QTY - 1)
    b.submit_stop(2, BUY, 101, 2, limit_price=100)
    trade_at(b, 101, buyer=60, seller=61)
    assert events(b) == [
        (2, Status.TRIGGERED, Reason.NONE, 0, 2),
        (2, Status.CANCELED, Reason.INVALID_QUANTITY, 0, 2),
    ]
    assert b.volume_at(BUY, 100) == MAX_QTY - 1


def test_try_cancel_reports_unknown_ids_without_raising() -> None:
    book = OrderBook()
    book.submit_limit(1, Side.BUY, 100, 5)
    assert book.try_cancel(1) == (Status.CANCELED, Reason.USER, 0, 5)
    assert book.try_cancel(1) == (Status.REJECTED, Reason.UNKNOWN_ORDER, 0, 0)
    assert book.try_cancel(99) == (Status.REJECTED, Reason.UNKNOWN_ORDER, 0, 0)
    assert book.order_count == 0
    with pytest.raises(InvalidOrderError, match="order_id=-1"):
        book.try_cancel(-1)
