"""Ready-made paper brokers for the Alpaca-compatible server: scripted prices or replayed data."""

from __future__ import annotations

import random
import secrets
import uuid
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal

from fillforge.orders.models import Instrument
from fillforge.replay import lobster_sample
from fillforge.sim.broker import SimulatedBroker
from fillforge.sim.datafiles import MarketFiles
from fillforge.sim.feeds import empty_feed, lobster_feed
from fillforge.sim.venue import Venue
from fillforge.sim.walk import WalkConfig, walk_feed
from fillforge.time import Clock, WallClock

__all__ = ["data_broker", "replay_broker", "scripted_broker", "uuid_ids", "walk_broker"]

_FRACTION = Decimal("0.000000001")


def uuid_ids(seed: int | None = None) -> Callable[[], str]:
    """Order ids as Alpaca has them (UUID v4). With ``seed``, from a seeded generator (runs
    repeat exactly, for tests that ask for it); without, from a source seeded afresh from the
    operating system at every start, so ids never repeat across restarts (a client's stale id
    can never name another order)."""
    rng = random.Random(seed if seed is not None else secrets.randbits(128))
    return lambda: str(uuid.UUID(int=rng.getrandbits(128), version=4))


def scripted_broker(
    symbols: Iterable[str] = ("AAPL",),
    *,
    cash: Decimal = Decimal(100_000),
    seed: int | None = None,
    start_ns: int | None = None,
    calendar: str | None = "XNYS",
    clock: Clock | None = None,
) -> SimulatedBroker:
    """US equities on one-cent ticks whose prices a test scripts (``broker.quote``/``trade``);
    the clock starts at ``start_ns`` (default: ``clock``'s time, the wall clock unless given);
    order ids as :func:`uuid_ids` (``seed``)."""
    venue = Venue("ALPACA-SIM", calendar=calendar)
    for s in symbols:
        venue.add(_us_equity(s), empty_feed())
    start = _start(start_ns, clock)
    return _paper_broker(venue, cash, seed, start)


def replay_broker(
    *, cash: Decimal = Decimal(100_000), seed: int | None = None, calendar: str | None = "XNYS"
) -> SimulatedBroker:
    """GOOG on the LOBSTER day the package ships (2012-06-21, Nasdaq, 10 levels), clock at its
    first message."""
    venue = Venue("ALPACA-SIM", calendar=calendar)
    venue.add(Instrument(symbol="GOOG", tick_size=Decimal("0.01")), lobster_feed(*lobster_sample()))
    return _paper_broker(venue, cash, seed, None)


def walk_broker(
    walks: Mapping[str, WalkConfig],
    *,
    end_ns: int,
    cash: Decimal = Decimal(100_000),
    seed: int | None = None,
    start_ns: int | None = None,
    calendar: str | None = "XNYS",
    max_events: int = 1_000_000,
    clock: Clock | None = None,
) -> SimulatedBroker:
    """US equities as :func:`scripted_broker` has them, each on a seeded random walk
    (:mod:`fillforge.sim.walk`) from its config's quote at ``start_ns`` (default: ``clock``'s
    time, the wall clock unless given) until
    ``end_ns`` (at most ``max_events`` steps each; then the last quote stands). ``seed`` seeds
    the walks and the order ids (:func:`uuid_ids`); None: both fresh at every start."""
    start = _start(start_ns, clock)
    walk_seed = seed if seed is not None else random.SystemRandom().getrandbits(64)
    venue = Venue("ALPACA-SIM", calendar=calendar)
    for s, config in walks.items():
        instrument = _us_equity(s)
        feed = walk_feed(
            instrument, config, seed=walk_seed, start_ns=start, end_ns=end_ns, max_events=max_events
        )
        venue.add(instrument, feed)
    return _paper_broker(venue, cash, seed, start)


def data_broker(
    files: MarketFiles,
    instrument: Instrument,
    *,
    cash: Decimal = Decimal(100_000),
    seed: int | None = None,
    start_ns: int | None = None,
    calendar: str | None = "XNYS",
) -> SimulatedBroker:
    """One instrument on the user's own data files (:func:`fillforge.sim.datafiles.
    market_files`), the clock at ``start_ns`` (default: the data's first message); order ids as
    :func:`uuid_ids` (``seed``)."""
    venue = Venue("ALPACA-SIM", calendar=calendar)
    venue.add(instrument, files.feed(instrument))
    return _paper_broker(venue, cash, seed, start_ns)


def _start(start_ns: int | None, clock: Clock | None) -> int:
    """``start_ns``, or the time ``clock`` (default: the wall clock) tells now."""
    if start_ns is not None:
        return start_ns
    return (clock if clock is not None else WallClock()).now_ns()


def _us_equity(symbol: str) -> Instrument:
    """A US equity on the cent grid with fractional shares, as Alpaca has fractionable stocks
    (9 decimals)."""
    return Instrument(symbol=symbol, tick_size=Decimal("0.01"), lot_size=_FRACTION)


def _paper_broker(
    venue: Venue, cash: Decimal, seed: int | None, start_ns: int | None
) -> SimulatedBroker:
    """The broker behind every paper server: Alpaca's order ids and Alpaca's venue rules
    (:class:`~fillforge.venues.AlpacaRules`: collars, buy-stop conversion, auction windows, wash
    trades, the short-sale hold)."""
    return SimulatedBroker(
        venue, cash=cash, start_ns=start_ns, id_factory=uuid_ids(seed), rules="alpaca"
    )
