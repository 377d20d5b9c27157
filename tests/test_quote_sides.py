"""A side a feed shows as price 0 (or none) is empty: no price and size 0, whatever size came
with it. One rule, ``Quote.zero_is_empty``, for Alpaca's SDK quotes, Alpaca's and Massive's
data rows."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from alpaca.data.models import Quote as AlpacaQuote

from fillforge.alpaca.convert import quote_of
from fillforge.broker import Quote
from fillforge.marketdata import alpaca as alpaca_data
from fillforge.marketdata import massive as massive_data

D = Decimal
T = 1_700_000_000 * 10**9


def test_a_zero_side_is_empty() -> None:
    q = Quote.zero_is_empty(
        "SPY", bid_price=D(0), bid_size=D(7), ask_price=D("1.5"), ask_size=D(3), timestamp_ns=T
    )
    assert (q.bid_price, q.bid_size, q.ask_price, q.ask_size) == (None, 0, D("1.5"), 3)
    q = Quote.zero_is_empty(
        "SPY", bid_price=D(2), bid_size=D(7), ask_price=None, ask_size=D(3), timestamp_ns=T
    )
    assert (q.bid_price, q.bid_size, q.ask_price, q.ask_size) == (D(2), 7, None, 0)


def test_the_feeds_share_the_rule() -> None:
    sdk = AlpacaQuote(
        "SPY",
        {
            "t": dt.datetime.fromtimestamp(T / 1e9, dt.UTC).isoformat(),
            "bp": 0.0,
            "bs": 5.0,
            "ap": 100.25,
            "as": 2.0,
        },
    )
    row = {"bp": 0, "bs": 5, "ap": 100.25, "as": 2}
    got = [
        quote_of("SPY", sdk),
        alpaca_data._quote("SPY", row, T),
        massive_data._quote("SPY", None, 5, 100.25, 2, T),
    ]
    for q in got:
        assert (q.bid_price, q.bid_size, q.ask_price, q.ask_size) == (None, 0, D("100.25"), 2)
        assert q.timestamp_ns == T
