"""Feeds for the simulator: market data of every supported kind as one message stream.

Every source becomes a :class:`fillforge._core.Feed` of normalised messages (:class:`FeedKind`),
replayed in Rust. What each kind does to the book and to the user's orders is in
``docs/simulator.md``. Prices are integer ticks and sizes integer lots of the instrument.
"""

from __future__ import annotations

import os
import re
from datetime import date
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt

from fillforge import _core
from fillforge.codes import AuctionPrint, FeedFlag, FeedKind
from fillforge.errors import MarketDataError
from fillforge.marketdata import MBO_UNDEF_PRICE, NS_PER_DAY, Bars, MboRecords, Quotes, Trades
from fillforge.sim.calendar import TradingCalendar, local_midnight_ns

__all__ = [
    "BarFill",
    "FeedFlag",
    "FeedKind",
    "bars_feed",
    "empty_feed",
    "lobster_feed",
    "mbo_feed",
    "quotes_trades_feed",
]


#: When an order decided after a bar's close fills: ``"next_open"`` at the next bar's open (the
#: book is empty between bars), ``"close"`` at the bar's close (its quote stays up).
BarFill = Literal["next_open", "close"]
_BAR_FILLS = ("next_open", "close")

_LOBSTER_DAY = re.compile(r"_(\d{4}-\d{2}-\d{2})_")


def lobster_feed(
    message_path: str | os.PathLike[str],
    orderbook_path: str | os.PathLike[str],
    *,
    day: date | None = None,
    tz: str = "America/New_York",
    price_div: int = 100,
) -> _core.Feed:
    """A LOBSTER message/orderbook pair (plain or gzip) as a full-depth feed.

    Times become UNIX nanoseconds from ``day`` (default: the date in LOBSTER's file name) at
    midnight in ``tz``. The orderbook file seeds the book and holds the recorded liquidity to the
    true book after every message. LOBSTER prices are USD x 10000; ``price_div`` 100 makes
    them cent ticks (an instrument with ``tick_size`` 0.01).
    """
    if day is None:
        m = _LOBSTER_DAY.search(Path(message_path).name)
        if m is None:
            raise MarketDataError(
                os.fspath(message_path), None, "day", None, "no date in the file name; pass day="
            )
        day = date.fromisoformat(m.group(1))
    return _core.Feed.lobster(
        os.fspath(message_path), os.fspath(orderbook_path), local_midnight_ns(day, tz), price_div
    )


def _feed(
    time_ns: npt.NDArray[np.int64],
    kind: npt.ArrayLike,
    order_id: npt.ArrayLike,
    side: npt.ArrayLike,
    price: npt.ArrayLike,
    qty: npt.ArrayLike,
) -> _core.Feed:
    """Stable-sort rows by time (rows earlier in the input win ties) and build the feed."""
    order = np.argsort(time_ns, kind="stable")

    def col(a: npt.ArrayLike, dtype: type[np.generic]) -> npt.NDArray[np.generic]:
        return np.ascontiguousarray(np.asarray(a, dtype=dtype)[order])

    return _core.Feed.from_columns(
        col(time_ns, np.int64),  # type: ignore[arg-type]
        col(kind, np.uint8),  # type: ignore[arg-type]
        col(order_id, np.uint64),  # type: ignore[arg-type]
        col(side, np.int8),  # type: ignore[arg-type]
        col(price, np.int64),  # type: ignore[arg-type]
        col(qty, np.int64),  # type: ignore[arg-type]
    )


def quotes_trades_feed(quotes: Quotes | None = None, trades: Trades | None = None) -> _core.Feed:
    """Top-of-book quotes and trade prints as one feed, in time order (a quote before a trade
    at the same nanosecond).

    A quote sets each side's displayed liquidity (the user's resting orders keep their place:
    size leaves from the back of the queue and joins at the back). A trade takes liquidity resting
    on the side opposite its aggressor, in queue order, through its price: a user order behind
    displayed size fills only after that size trades.
    """
    parts: list[tuple[npt.NDArray[np.int64], ...]] = []
    if quotes is not None:
        n = len(quotes)
        parts.append(
            (
                np.concatenate([quotes.time_ns, quotes.time_ns]),
                np.full(2 * n, FeedKind.QUOTE),
                np.zeros(2 * n, np.int64),
                np.concatenate([np.ones(n, np.int64), -np.ones(n, np.int64)]),
                np.concatenate([quotes.bid_price, quotes.ask_price]),
                np.concatenate([quotes.bid_qty, quotes.ask_qty]),
            )
        )
    if trades is not None:
        n = len(trades)
        parts.append(
            (
                trades.time_ns,
                np.full(n, FeedKind.TRADE),
                np.zeros(n, np.int64),
                -trades.aggressor.astype(np.int64),
                trades.price,
                trades.qty,
            )
        )
    if not parts:
        raise MarketDataError("quotes_trades_feed", None, "quotes", None, "give quotes or trades")
    cols = [np.concatenate([p[i] for p in parts]) for i in range(6)]
    return _feed(*cols)


def bars_feed(
    bars: Bars,
    *,
    qty_per_point: int | None = None,
    half_spread_ticks: int = 0,
    fill_at: BarFill = "next_open",
    session: str | TradingCalendar | None = None,
) -> _core.Feed:
    """OHLC bars as an intrabar price path: open, the extreme nearer the open, the other extreme,
    close (ties: high first), at 0, 1/3, 2/3 of the bar and its last nanosecond.

    At every point the book shows ``qty_per_point`` lots (default: a quarter of the bar's volume,
    at least 1) at ``point -/+ half_spread_ticks`` and a trade prints at the point. A quote moving
    through a resting order fills it at the quote, so with no spread nothing fills at a price the
    bar did not trade (a bar gapping through an order fills it at the open). A session's first bar
    opens with the opening auction and its last bar ends with the closing auction, where
    at-the-open and at-the-close orders fill.
    A daily bar is one session; intraday, a session ends where the gap to the next bar exceeds
    the bar period.

    The path after the open is continuous (``FeedFlag.PATH``): a stop it passes through fills
    at its stop price; a bar that opens through a stop fills it at the open. The liquidity is a
    model (``FeedFlag.WAIT``): a day or gtc market order that finds no displayed size waits for
    the next print instead of being canceled. ``fill_at`` says where an order decided after a
    bar's close fills: ``"next_open"`` (default) empties the book after each close, so it fills
    at the next bar's open, never at a price already seen; ``"close"`` leaves the close quoted
    on both sides, so a market order fills at the close (plus the half spread).

    ``session`` (daily bars only): a calendar name or :class:`TradingCalendar`. Each daily bar is
    then laid on that day's session: the open at the session's open, the extremes at 1/3 and 2/3
    of it, the close 1 ns before the session's close (early closes included), so a venue on the
    same calendar sees the bar while it is open, expires DAY orders after the close print, and an
    order that waits for the open fills at the next bar's open. Without it a daily bar spans its
    UTC date. A date the calendar has no session for is a :class:`MarketDataError`.
    """
    n = len(bars)
    if fill_at not in _BAR_FILLS:
        raise MarketDataError(
            bars.source, None, "fill_at", fill_at, "expected 'next_open' or 'close'"
        )
    if n == 0:
        raise MarketDataError(bars.source, None, "bars", 0, "no bars")
    if half_spread_ticks < 0:
        raise MarketDataError(bars.source, None, "half_spread_ticks", half_spread_ticks, "< 0")
    o, h, lo, c = bars.open, bars.high, bars.low, bars.close
    high_first = np.abs(h - o) <= np.abs(o - lo)
    path = np.stack([o, np.where(high_first, h, lo), np.where(high_first, lo, h), c], axis=1)
    period = bars.period_ns
    offsets = np.array([0, period // 3, 2 * period // 3, period - 1], np.int64)
    times = bars.time_ns[:, None] + offsets[None, :]
    if session is not None:
        times = _session_times(bars, session)
    if qty_per_point is None:
        qty = np.maximum(np.floor(bars.volume / 4), 1).astype(np.int64)
    else:
        qty = np.full(n, qty_per_point, np.int64)
    # A daily bar is a session; intraday, a session ends where the next bar is not adjacent.
    gap = np.diff(bars.time_ns) > period if period < NS_PER_DAY else np.ones(n - 1, bool)
    first = np.concatenate([[True], gap])
    last = np.concatenate([gap, [True]])
    rows: list[list[npt.NDArray[np.int64]]] = [[] for _ in range(6)]

    def add(t: object, k: int, oid: object, side: object, px: object, q: object) -> None:
        for i, v in enumerate((t, k, oid, side, px, q)):
            rows[i].append(np.broadcast_to(np.asarray(v, np.int64), (n,)))

    # Per bar: each point's quotes (the open's then its print) and trade; the closing auction.
    # The open is a discrete print (it may gap); the later points continue the path from it.
    prev = np.concatenate([[path[0, 0]], path[:-1, 3]])
    for j in range(4):
        p = path[:, j]
        before = prev if j == 0 else path[:, j - 1]
        flags = FeedFlag.WAIT if j == 0 else FeedFlag.WAIT | FeedFlag.PATH
        add(times[:, j], FeedKind.QUOTE, flags, 1, p - half_spread_ticks, qty)
        add(times[:, j], FeedKind.QUOTE, flags, -1, p + half_spread_ticks, qty)
        if j == 0:
            add(
                times[:, 0],
                FeedKind.AUCTION,
                np.where(first, AuctionPrint.OPEN, AuctionPrint.GAP),
                0,
                p,
                qty,
            )
        # The trade takes liquidity on the side the move came from (down: the bids).
        add(times[:, j], FeedKind.TRADE, flags, np.where(p < before, 1, -1), p, qty)
        # The point stays quoted after its print: an order arriving before the next point (one
        # that waited for the open, say) trades at the price last seen, not at the next point.
        add(times[:, j], FeedKind.QUOTE, flags, 1, p - half_spread_ticks, qty)
        add(times[:, j], FeedKind.QUOTE, flags, -1, p + half_spread_ticks, qty)
    add(
        times[:, 3],
        FeedKind.AUCTION,
        np.where(last, AuctionPrint.CLOSE, AuctionPrint.GAP),
        0,
        path[:, 3],
        qty,
    )
    auction_close = len(rows[0]) - 1
    # After the close: an empty book until the next open, or the close quoted on both sides.
    c = path[:, 3]
    after = 0 if fill_at == "next_open" else qty
    add(times[:, 3], FeedKind.QUOTE, FeedFlag.WAIT, 1, c - half_spread_ticks, after)
    add(times[:, 3], FeedKind.QUOTE, FeedFlag.WAIT, -1, c + half_spread_ticks, after)
    # Interleave per bar (bar-major order), then keep the rows of each bar in the order added.
    stacked = [np.stack(col, axis=1).reshape(-1) for col in rows]
    keep = np.ones(len(stacked[0]), bool)
    kept = keep.reshape(n, len(rows[0]))
    kept[:, auction_close] = last  # a closing auction only where the session ends
    return _feed(*(col[keep] for col in stacked))


def _session_times(bars: Bars, session: str | TradingCalendar) -> npt.NDArray[np.int64]:
    """The four path times of each daily bar inside its day's session."""
    if bars.period_ns < NS_PER_DAY:
        raise MarketDataError(bars.source, None, "session", str(session), "only for daily bars")
    cal = session if isinstance(session, TradingCalendar) else TradingCalendar(session)
    opens, closes, found = cal.session_bounds(bars.time_ns // NS_PER_DAY)
    if not found.all():
        i = int(np.argmin(found))
        day = date.fromordinal(date(1970, 1, 1).toordinal() + int(bars.time_ns[i]) // NS_PER_DAY)
        raise MarketDataError(bars.source, i, "session", day.isoformat(), f"no {cal.name} session")
    span = closes - opens
    return np.stack([opens, opens + span // 3, opens + 2 * span // 3, closes - 1], axis=1)


_MBO_KIND = {ord("A"): FeedKind.ADD, ord("C"): FeedKind.REDUCE, ord("M"): FeedKind.MODIFY}


def mbo_feed(records: MboRecords) -> _core.Feed:
    """Databento market-by-order records as a full-depth feed, in receive-time order.

    Adds, cancels (by the size removed) and modifies rebuild the book order by order; a fill of a
    resting order (``F``) fills the user orders ahead of it in its queue and changes the order only
    through the cancel or modify that follows it, as the feed reports. Trade records (``T``, the
    aggressor's view), book clears and records without a price or side are skipped.
    """
    action = records.action
    kind = np.zeros(len(records), np.uint8)
    for code, k in _MBO_KIND.items():
        kind[action == code] = k
    kind[action == ord("F")] = FeedKind.PASS
    valid = (records.side != 0) & (records.price != MBO_UNDEF_PRICE)
    kind[~valid] = FeedKind.NOOP
    price = np.where(valid, records.price, 0)
    return _feed(
        records.ts_recv,
        kind,
        records.order_id,
        np.where(valid, records.side, 1),
        price,
        records.size,
    )


def empty_feed() -> _core.Feed:
    """A feed with no messages: for markets driven only by scripted quotes and trades."""
    z = np.zeros(0, np.int64)
    return _core.Feed.from_columns(
        z, np.zeros(0, np.uint8), np.zeros(0, np.uint64), np.zeros(0, np.int8), z, z
    )
