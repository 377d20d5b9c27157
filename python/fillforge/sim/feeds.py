"""Feeds for the simulator: market data of every supported kind as one message stream.

Every source becomes a :class:`fillforge._core.Feed` of normalised messages (:class:`FeedKind`),
replayed in Rust. What each kind does to the book and to the user's orders is in
``docs/simulator.md``. Prices are integer ticks and sizes integer lots of the instrument.
"""

from __future__ import annotations

import os
import re
from datetime import date
from enum import IntEnum
from pathlib import Path

from fillforge import _core
from fillforge.errors import MarketDataError
from fillforge.sim.calendar import local_midnight_ns

__all__ = ["FeedKind", "lobster_feed"]


class FeedKind(IntEnum):
    """Message kinds of a :class:`fillforge._core.Feed` (``fillforge_core::sim::kind``)."""

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
