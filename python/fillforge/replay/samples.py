"""Market data shipped inside the package (see ``fillforge/data/lobster/README.md``)."""

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
