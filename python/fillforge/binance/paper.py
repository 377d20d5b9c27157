"""Ready-made simulated spot venues for the Binance-compatible server: scripted prices, the
Binance sample the package ships, or the user's own Tardis files.

Every venue trades around the clock (no sessions), charges Binance's base spot commission
(0.1 % of notional, maker and taker, in the quote asset) and keeps one account whose cash is the
quote asset (USDT); selling more of the base asset than the account holds is refused (spot: no
borrowing), and buying takes at most the free cash (leverage 1).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from decimal import Decimal
from importlib import resources
from pathlib import Path

from fillforge.orders.models import Instrument
from fillforge.sim.account import Account
from fillforge.sim.broker import SimulatedBroker
from fillforge.sim.datafiles import market_files
from fillforge.sim.feeds import empty_feed
from fillforge.sim.fees import FeeModel
from fillforge.sim.venue import Venue

__all__ = [
    "FEE_BPS",
    "binance_instrument",
    "data_broker",
    "sample_broker",
    "sample_files",
    "scripted_broker",
    "spot_broker",
]

FEE_BPS = Decimal(10)
"""Binance's base spot commission: 10 basis points (0.1 %), maker and taker."""

# Binance's grids for the symbols a test or demo uses most; others get GRID.
_GRIDS = {
    "BTCUSDT": (Decimal("0.01"), Decimal("0.00001")),
    "ETHUSDT": (Decimal("0.01"), Decimal("0.0001")),
    "BNBUSDT": (Decimal("0.01"), Decimal("0.001")),
    "SOLUSDT": (Decimal("0.01"), Decimal("0.001")),
}
GRID = (Decimal("0.01"), Decimal("0.00001"))


def binance_instrument(
    symbol: str, tick: Decimal | None = None, lot: Decimal | None = None
) -> Instrument:
    """A spot symbol on Binance's tick and lot (``tick``/``lot`` override them)."""
    t, q = _GRIDS.get(symbol, GRID)
    return Instrument(symbol=symbol, tick_size=tick or t, lot_size=lot or q)


def order_numbers(start: int = 1) -> Callable[[], str]:
    """Order ids as Binance has them: increasing integers (as text, the manager's ids)."""
    counter = itertools.count(start)
    return lambda: str(next(counter))


def spot_broker(venue: Venue, *, cash: Decimal, start_ns: int | None = None) -> SimulatedBroker:
    """The broker behind every served spot venue: integer order ids, a long-only account."""
    return SimulatedBroker(
        venue,
        account=Account(cash, shortable=()),
        start_ns=start_ns,
        id_factory=order_numbers(),
    )


def _venue() -> Venue:
    return Venue("BINANCE", calendar=None, fees=FeeModel.flat(bps=FEE_BPS, places=8))


def scripted_broker(
    symbols: Iterable[str] = ("BTCUSDT",), *, cash: Decimal = Decimal(10_000), start_ns: int = 0
) -> SimulatedBroker:
    """Spot symbols whose prices a test scripts (``broker.quote`` / ``broker.trade``)."""
    venue = _venue()
    for s in symbols:
        venue.add(binance_instrument(s), empty_feed())
    return spot_broker(venue, cash=cash, start_ns=start_ns)


def data_broker(
    paths: list[str | Path],
    *,
    symbol: str | None = None,
    tick: Decimal | None = None,
    lot: Decimal | None = None,
    cash: Decimal = Decimal(10_000),
) -> SimulatedBroker:
    """One symbol on Tardis quotes and/or trades files (:func:`~fillforge.sim.datafiles.
    market_files`), the clock at the data's first message."""
    files = market_files(list(paths))
    name = (symbol or files.symbol or "BTCUSDT").upper()
    venue = _venue()
    instrument = binance_instrument(name, tick, lot)
    venue.add(instrument, files.feed(instrument))
    return spot_broker(venue, cash=cash)


def sample_files() -> list[Path]:
    """The Binance sample the package ships (BTCUSDT quotes and trades, 2020-02-22; see
    ``data/binance/README.md``)."""
    root = Path(str(resources.files("fillforge") / "data" / "binance"))
    return sorted(root.glob("*.csv.gz"))


def sample_broker(*, cash: Decimal = Decimal(10_000)) -> SimulatedBroker:
    """BTCUSDT on the shipped sample."""
    return data_broker(list(sample_files()), symbol="BTCUSDT", cash=cash)
