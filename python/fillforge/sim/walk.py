"""A market that moves with no data file: a seeded random walk of quotes and trades.

The mid follows a driftless geometric random walk at an annualised volatility, stepped at the
times of a Poisson process (``rate`` events per second of simulated time). Every step restates
the top of book (the mid rounded to the tick grid, the starting spread, random sizes), and a
share of the steps also prints a trade at the touch the move came from. The events become an
ordinary :func:`~fillforge.sim.feeds.quotes_trades_feed`, replayed by the Rust engine.

The same instrument, config, seed and times give the same events, byte for byte (numpy's PCG64,
seeded from the seed and the symbol, so each symbol walks on its own stream).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any, Final, NotRequired, TypedDict, Unpack

import numpy as np
import numpy.typing as npt
from pydantic import Field, model_validator

from fillforge import _core
from fillforge.errors import SimulationError
from fillforge.marketdata import Quotes, Trades
from fillforge.orders.models import FrozenModel, Instrument
from fillforge.sim.feeds import quotes_trades_feed

__all__ = [
    "MAX_RATE",
    "MAX_VOLATILITY",
    "MIN_RATE",
    "TRADING_SECONDS_PER_YEAR",
    "Walk",
    "WalkConfig",
    "WalkSpan",
    "random_walk",
    "walk_feed",
]

TRADING_SECONDS_PER_YEAR: Final = 252 * 23_400
"""What the volatility is annualised over: 252 sessions of 6.5 hours (the US equity
convention). The walk runs on every simulated second, so a 20% walk moves about
0.2 / sqrt(252) = 1.26% (one standard deviation) in 6.5 hours of simulated time."""

MAX_VOLATILITY: Final = 10.0
"""The largest annualised volatility accepted (1000%)."""

MIN_RATE: Final = 0.001
MAX_RATE: Final = 1_000.0
"""The fewest and most steps per second of simulated time accepted."""

_MAX_TICKS: Final = 2**50  # mids stay exact in a float64 and far from the core's i64
_BLOCK: Final = 4096  # steps drawn at a time


class WalkConfig(FrozenModel):
    """Where a walk starts and how it moves.

    ``bid``/``ask``: the first quote (prices; the spread in ticks is kept all along). ``size``:
    the mean displayed size per side, drawn uniformly from half to one and a half of it in whole
    ``size_step`` units (at least one). ``volatility``: annualised over
    :data:`TRADING_SECONDS_PER_YEAR`, as a fraction (0.2 is 20%). ``rate``: steps per second of
    simulated time. ``trade_share``: the share of steps that also print a trade.
    """

    bid: Annotated[Decimal, Field(gt=0, allow_inf_nan=False)] = Decimal("100.00")
    ask: Annotated[Decimal, Field(gt=0, allow_inf_nan=False)] = Decimal("100.01")
    size: Annotated[Decimal, Field(gt=0, allow_inf_nan=False)] = Decimal(1000)
    size_step: Annotated[Decimal, Field(gt=0, allow_inf_nan=False)] = Decimal(1)
    volatility: Annotated[float, Field(gt=0, le=MAX_VOLATILITY, allow_inf_nan=False)] = 0.2
    rate: Annotated[float, Field(ge=MIN_RATE, le=MAX_RATE, allow_inf_nan=False)] = 1.0
    trade_share: Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)] = 0.25

    @model_validator(mode="after")
    def _bid_below_ask(self) -> WalkConfig:
        if not self.bid < self.ask:
            raise ValueError(f"bid {self.bid} must be below ask {self.ask}")
        return self


@dataclass(frozen=True, slots=True)
class Walk:
    """A generated walk: its quotes (the first is the starting quote) and its trades, in the
    instrument's ticks and lots, and the time of its last event."""

    quotes: Quotes
    trades: Trades
    end_ns: int

    def feed(self) -> _core.Feed:
        return quotes_trades_feed(self.quotes, self.trades)


def _rng(seed: int, symbol: str) -> np.random.Generator:
    if seed < 0:
        raise SimulationError("seed", seed, "must be a non-negative integer")
    sequence = np.random.SeedSequence(seed, spawn_key=tuple(symbol.encode()))
    return np.random.Generator(np.random.PCG64(sequence))


def _sizes(
    rng: np.random.Generator, n: int, mean_steps: Decimal, step_lots: int
) -> npt.NDArray[np.int64]:
    lo = max(1, int(mean_steps / 2))
    hi = max(lo, int(mean_steps * 3 / 2))
    return rng.integers(lo, hi, n, endpoint=True, dtype=np.int64) * step_lots


def random_walk(
    instrument: Instrument,
    config: WalkConfig,
    *,
    seed: int,
    start_ns: int,
    end_ns: int,
    max_events: int = 1_000_000,
) -> Walk:
    """Walk ``instrument`` from ``config``'s quote at ``start_ns`` until ``end_ns`` (or
    ``max_events`` steps, whichever comes first). Prices stay on the tick grid and positive
    (a bid of at least one tick), the ask is the bid plus the starting spread, sizes are positive
    lots. Grids the config does not fit raise :class:`~fillforge.errors.SimulationError`."""
    if max_events < 0:
        raise SimulationError("max_events", max_events, "must be >= 0")
    bid0 = instrument.to_ticks(config.bid, "bid")
    ask0 = instrument.to_ticks(config.ask, "ask")
    step_lots = instrument.to_lots(config.size_step, "size_step")
    if ask0 >= _MAX_TICKS:
        raise SimulationError("ask", config.ask, f"more than 2**50 ticks of {instrument.tick_size}")
    spread = ask0 - bid0
    if config.size * 2 / instrument.lot_size >= 2**62:
        raise SimulationError("size", config.size, "too many lots for the core's i64")
    mean_steps = config.size / config.size_step
    rng = _rng(seed, instrument.symbol)
    first_bid_qty, first_ask_qty = _sizes(rng, 2, mean_steps, step_lots)

    # Draw in fixed blocks, in a fixed order, so a longer walk extends a shorter one.
    horizon = max(0, end_ns - start_ns)
    blocks: list[tuple[npt.NDArray[Any], ...]] = []
    elapsed = count = 0
    while count < max_events and elapsed <= horizon:
        # Step times: a Poisson process, whole nanoseconds apart (at least one).
        step_ns = np.maximum(np.ceil(rng.exponential(1e9 / config.rate, _BLOCK)), 1)
        block = (
            step_ns.astype(np.int64),
            rng.standard_normal(_BLOCK),
            _sizes(rng, _BLOCK, mean_steps, step_lots),
            _sizes(rng, _BLOCK, mean_steps, step_lots),
            rng.random(_BLOCK) < config.trade_share,
            rng.random(_BLOCK) < 0.5,
            rng.random(_BLOCK),
        )
        blocks.append(block)
        elapsed += int(step_ns.sum())
        count += _BLOCK
    cols = [np.concatenate([b[i] for b in blocks]) if blocks else np.zeros(0) for i in range(7)]
    gaps, normals, bid_sizes, ask_sizes, printed, coin, fraction = cols
    offsets = np.cumsum(gaps.astype(np.int64))
    n = min(max_events, int(np.searchsorted(offsets, horizon, side="right")))
    times = np.concatenate([[start_ns], start_ns + offsets[:n]]).astype(np.int64)

    # The log mid: independent normal steps with variance volatility^2 * dt (in years).
    per_second = config.volatility / math.sqrt(TRADING_SECONDS_PER_YEAR)
    shocks = normals[:n] * (per_second * np.sqrt(gaps[:n] / 1e9))
    mid0 = (bid0 + ask0) / 2
    log_mid = math.log(mid0) + np.concatenate([[0.0], np.cumsum(shocks)])
    mid = np.exp(np.clip(log_mid, 0.0, math.log(_MAX_TICKS)))
    bid = np.clip(np.floor(mid - spread / 2 + 0.5), 1, _MAX_TICKS - spread).astype(np.int64)
    bid[0] = bid0  # the walk starts exactly at the given quote
    ask = bid + spread
    bid_qty = np.concatenate([[first_bid_qty], bid_sizes[:n]]).astype(np.int64)
    ask_qty = np.concatenate([[first_ask_qty], ask_sizes[:n]]).astype(np.int64)

    # Trades: a share of the steps after the first, at the touch the move came from (an uptick
    # lifts the offer, a downtick hits the bid; no move: either, at random), at most its size.
    moved = np.diff(bid)
    buyer = (moved > 0) | ((moved == 0) & coin[:n].astype(bool))
    at = np.flatnonzero(printed[:n].astype(bool)) + 1
    buys = buyer[at - 1]
    touch = np.where(buys, ask[at], bid[at])
    shown = np.where(buys, ask_qty[at], bid_qty[at]) // step_lots
    qty = (1 + np.floor(fraction[:n][at - 1] * shown).astype(np.int64)) * step_lots
    source = f"walk:{instrument.symbol}:seed={seed}"
    quotes = Quotes(source, times, bid, bid_qty, ask, ask_qty)
    trades = Trades(
        source,
        times[at],
        touch.astype(np.int64),
        np.minimum(qty, shown * step_lots).astype(np.int64),
        np.where(buys, 1, -1).astype(np.int8),
        np.char.add("w", at.astype(str)) if len(at) else np.zeros(0, np.str_),
    )
    return Walk(quotes, trades, int(times[-1]))


class WalkSpan(TypedDict):
    """The keywords :func:`random_walk` spells out (``max_events`` optional), passed on as they
    are by :func:`walk_feed`."""

    seed: int
    start_ns: int
    end_ns: int
    max_events: NotRequired[int]


def walk_feed(instrument: Instrument, config: WalkConfig, **span: Unpack[WalkSpan]) -> _core.Feed:
    """:func:`random_walk` as a feed for :meth:`~fillforge.sim.venue.Venue.add`."""
    return random_walk(instrument, config, **span).feed()
