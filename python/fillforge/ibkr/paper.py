"""Ready-made simulated venues for the IB gateway: US stocks whose prices a test scripts, the
GOOG LOBSTER day the package ships, or the user's own market-data files.

The venue is IB's SMART route as one simulated exchange: no sessions (orders work around the
clock; ``outsideRth`` changes nothing), IB's fixed commission (USD 0.005 a share, at least USD 1
an order... charged per fill here), whole shares on the cent grid, and an account that may sell
short (margin, leverage 2).
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path

from fillforge.errors import SimulationError
from fillforge.orders.models import Instrument
from fillforge.replay import lobster_sample
from fillforge.sim.account import Account
from fillforge.sim.broker import SimulatedBroker
from fillforge.sim.datafiles import market_files
from fillforge.sim.feeds import empty_feed, lobster_feed
from fillforge.sim.fees import FeeModel
from fillforge.sim.venue import Venue

__all__ = [
    "MINIMUM",
    "PER_SHARE",
    "data_broker",
    "ib_stock",
    "sample_broker",
    "scripted_broker",
]

PER_SHARE = Decimal("0.005")
"""IB's fixed US-stock commission per share (USD)."""
MINIMUM = Decimal(1)
"""IB's fixed minimum commission (USD; charged per fill by the simulated venue)."""


def ib_stock(symbol: str) -> Instrument:
    """A US stock as IB lists it: one-cent ticks, whole shares."""
    return Instrument(symbol=symbol.upper(), tick_size=Decimal("0.01"), lot_size=Decimal(1))


def _venue() -> Venue:
    fees = FeeModel.flat(per_share=PER_SHARE, minimum=MINIMUM, places=2)
    return Venue("SMART", calendar=None, fees=fees)


def _broker(venue: Venue, cash: Decimal, start_ns: int | None) -> SimulatedBroker:
    return SimulatedBroker(venue, account=Account(cash, leverage=2), start_ns=start_ns)


def scripted_broker(
    symbols: Iterable[str] = ("AAPL",),
    *,
    cash: Decimal = Decimal(1_000_000),
    start_ns: int = 0,
) -> SimulatedBroker:
    """Stocks whose prices a test scripts (``broker.quote`` / ``broker.trade``)."""
    venue = _venue()
    for s in symbols:
        venue.add(ib_stock(s), empty_feed())
    return _broker(venue, cash, start_ns)


def data_broker(
    paths: list[str | Path], *, symbol: str | None = None, cash: Decimal = Decimal(1_000_000)
) -> SimulatedBroker:
    """One stock on the user's market-data files (any format
    :func:`~fillforge.sim.datafiles.market_files` reads: bars, Tardis quotes/trades, LOBSTER,
    Databento MBO), the clock at the data's first message."""
    files = market_files(list(paths))
    name = symbol or files.symbol
    if not name:
        raise SimulationError("symbol", None, "the data names no symbol: give one")
    venue = _venue()
    instrument = ib_stock(name)
    venue.add(instrument, files.feed(instrument))
    return _broker(venue, cash, None)


def sample_broker(*, cash: Decimal = Decimal(1_000_000)) -> SimulatedBroker:
    """GOOG on the LOBSTER day the package ships (2012-06-21, Nasdaq, 10 levels), the clock at
    its first message."""
    venue = _venue()
    venue.add(ib_stock("GOOG"), lobster_feed(*lobster_sample()))
    return _broker(venue, cash, None)
