"""What brokers answer with: positions, account snapshots, their clock, and market data.

Prices and sizes are :class:`~decimal.Decimal`; times are UNIX nanoseconds (see
:mod:`fillforge.time`).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import Field

from fillforge.orders.models import FrozenModel

__all__ = ["AccountSnapshot", "Bar", "BrokerClock", "Position", "Quote", "Trade"]

_Symbol = Annotated[str, Field(min_length=1)]
_ZERO = Decimal(0)
_Price = Annotated[Decimal, Field(gt=0, allow_inf_nan=False)]
_Size = Annotated[Decimal, Field(ge=0, allow_inf_nan=False)]


class BrokerClock(FrozenModel):
    """The broker's time (UNIX ns) and the venue session around it."""

    timestamp_ns: int
    is_open: bool
    next_open_ns: int | None
    next_close_ns: int | None


class Position(FrozenModel):
    """One symbol's position. ``qty`` is signed (+ long, - short); ``avg_price`` is the average
    entry price of what is open (0 when flat); ``cost_basis = qty * avg_price`` exactly (signed);
    ``realized_pnl`` is everything closed so far in this symbol, gross of fees; ``mark`` is the
    price it is valued at (the marks rule of :mod:`fillforge.sim.account`: the market's price
    when it shows one)."""

    symbol: _Symbol
    qty: Decimal = _ZERO
    avg_price: Decimal = _ZERO
    cost_basis: Decimal = _ZERO
    realized_pnl: Decimal = _ZERO
    mark: Decimal | None = None
    market_value: Decimal = _ZERO
    unrealized_pnl: Decimal = _ZERO

    @property
    def is_flat(self) -> bool:
        return self.qty == 0


class AccountSnapshot(FrozenModel):
    """Everything about an account at one moment, for logs and determinism checks.

    ``positions`` holds the open (non-flat) positions in symbol order.
    """

    cash: Decimal
    equity: Decimal
    buying_power: Decimal
    reserved: Decimal
    leverage: Decimal
    long_market_value: Decimal
    short_market_value: Decimal
    realized_pnl: Decimal
    unrealized_pnl: Decimal
    fees_paid: Decimal
    positions: dict[str, Position]


class Quote(FrozenModel):
    """The best bid and ask of ``symbol`` as of ``timestamp_ns``. A side the book does not show
    has no price and size 0."""

    symbol: _Symbol
    bid_price: _Price | None
    bid_size: _Size
    ask_price: _Price | None
    ask_size: _Size
    timestamp_ns: int

    @classmethod
    def zero_is_empty(
        cls,
        symbol: str,
        *,
        bid_price: Decimal | None,
        bid_size: Decimal,
        ask_price: Decimal | None,
        ask_size: Decimal,
        timestamp_ns: int,
    ) -> Quote:
        """The quote of a feed that shows a side it does not have as price 0 (or none, as
        Alpaca and Massive do): that side has no price and size 0, whatever size came with it."""
        return cls(
            symbol=symbol,
            bid_price=bid_price or None,
            bid_size=bid_size if bid_price else _ZERO,
            ask_price=ask_price or None,
            ask_size=ask_size if ask_price else _ZERO,
            timestamp_ns=timestamp_ns,
        )

    @property
    def mid(self) -> Decimal | None:
        """The midpoint of the bid and ask, None unless the quote is two-sided (the one way to
        read a quote's mid: arrival prices, references, the monitor)."""
        bid, ask = self.bid_price, self.ask_price
        return None if bid is None or ask is None else (bid + ask) / 2


class Trade(FrozenModel):
    """A print of ``size`` at ``price`` in ``symbol`` at ``timestamp_ns``."""

    symbol: _Symbol
    price: _Price
    size: _Size
    timestamp_ns: int


class Bar(FrozenModel):
    """The prints of ``symbol`` in ``[timestamp_ns, timestamp_ns + period_ns)``: ``trade_count``
    of them, their volume-weighted average price ``vwap`` (to the decimal context's 28
    significant digits)."""

    symbol: _Symbol
    open: _Price
    high: _Price
    low: _Price
    close: _Price
    volume: _Size
    trade_count: Annotated[int, Field(ge=0)]
    vwap: _Price
    timestamp_ns: int
    period_ns: Annotated[int, Field(gt=0)]
