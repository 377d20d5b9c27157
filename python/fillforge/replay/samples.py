"""Market data shipped inside the package (each folder of ``fillforge/data`` has a README with its
origin and terms)."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

_GOOG_10 = "GOOG_2012-06-21_34200000_57600000_{}_10.csv.gz"


def lobster_sample() -> tuple[Path, Path]:
    """Paths of the shipped LOBSTER GOOG 2012-06-21 level-10 message and orderbook files."""
    root = files("fillforge") / "data" / "lobster"
    message = Path(str(root / _GOOG_10.format("message")))
    orderbook = Path(str(root / _GOOG_10.format("orderbook")))
    return message, orderbook


_SPY_DAILY = "SPY_daily_2016-01-04_2017-12-29.csv"
_DAILY = "{}_daily_2016-01-04_2017-12-29.csv"
#: The symbols whose daily bars the package ships (the same 503 sessions each).
DAILY_SAMPLE_SYMBOLS = ("AAPL", "GOOG", "SPY")


def spy_daily_sample() -> Path:
    """Path of the shipped SPY daily bars, 2016-01-04 to 2017-12-29 (503 bars, cents)."""
    return Path(str(files("fillforge") / "data" / "bars" / _SPY_DAILY))


def aapl_daily_sample() -> Path:
    """Path of the shipped AAPL daily bars, 2016-01-04 to 2017-12-29 (503 bars, cents)."""
    return Path(str(files("fillforge") / "data" / "bars" / _DAILY.format("AAPL")))


def goog_daily_sample() -> Path:
    """Path of the shipped GOOG daily bars, 2016-01-04 to 2017-12-29 (503 bars, cents)."""
    return Path(str(files("fillforge") / "data" / "bars" / _DAILY.format("GOOG")))


def daily_samples() -> dict[str, Path]:
    """Every shipped daily-bar sample by symbol (:data:`DAILY_SAMPLE_SYMBOLS`), for
    multi-symbol backtests: the same 503 sessions, 2016-01-04 to 2017-12-29, in cents."""
    root = files("fillforge") / "data" / "bars"
    return {s: Path(str(root / _DAILY.format(s))) for s in DAILY_SAMPLE_SYMBOLS}
