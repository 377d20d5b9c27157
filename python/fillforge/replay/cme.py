"""CME market-by-order replay: engine fills against the exchange's own fill records.

Runs in the compiled core; disagreement classes are explained in ``docs/replay.md``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from fillforge import _core


@dataclass(frozen=True, slots=True)
class CmeReport:
    """Trades replayed, how many the engine filled exactly as the exchange did, and why not."""

    records: int
    snapshot_orders: int
    adds: int
    cancels: int
    modifies: int
    auction_trades: int
    trades: int
    agreed: int
    agreement: float
    unambiguous_trades: int
    unambiguous_agreed: int
    unambiguous_agreement: float
    residue: dict[str, int]
    unknown_order_refs: int
    crossed_after_open: int
    final_best_bid: int | None
    final_best_ask: int | None
    price_scale: int
    examples: tuple[dict[str, Any], ...]
    seconds: float
    msgs_per_s: float

    def to_dict(self) -> dict[str, Any]:
        d = {name: getattr(self, name) for name in self.__slots__}
        d["examples"] = list(self.examples)
        return d


def replay_cme(path: str | os.PathLike[str]) -> CmeReport:
    """Replay a Databento MBO CSV (plain or gzip); prices are in 1/``price_scale`` points."""
    raw = dict(_core.replay_cme(os.fspath(path)))
    raw["examples"] = tuple(raw["examples"])
    return CmeReport(**raw)
