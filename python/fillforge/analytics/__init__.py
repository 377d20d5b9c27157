"""Transaction-cost analysis from the journal (issue 19): :func:`tca` reads a journal (a SQLite
path, a ``postgresql://`` URL or an open :class:`~fillforge.journal.Journal`) and the market it
traded in (:class:`MarketData`, optional) into a :class:`TcaResult` of numpy columns per order,
per parent and per fill, latency arrays and summaries by policy, venue, symbol or hour.

>>> from fillforge.analytics import tca
>>> r = tca("orders.journal", market=None)     # doctest: +SKIP
>>> r.group_by("policy")["twap"]["is_bps"]      # doctest: +SKIP

Every cost is positive when it costs (:data:`CONVENTION`, ``fillforge.execution.cost``'s sign
convention). See ``docs/tca.md`` for each figure, what it needs and what it is without it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from fillforge.analytics.compute import HORIZONS_S, NO_MARKET, analyse
from fillforge.analytics.market import MarketData, MarketRecorder, SymbolMarket
from fillforge.analytics.result import CONVENTION, GROUP_KEYS, GroupKey, TcaResult
from fillforge.analytics.tape import NO_TIME, Tape, read_tape

__all__ = [
    "CONVENTION",
    "GROUP_KEYS",
    "HORIZONS_S",
    "NO_MARKET",
    "NO_TIME",
    "GroupKey",
    "MarketData",
    "MarketRecorder",
    "SymbolMarket",
    "Tape",
    "TcaResult",
    "analyse",
    "read_tape",
    "tca",
]


def tca(
    journal: object,
    market: MarketData | None = None,
    *,
    horizons_s: Sequence[int] = HORIZONS_S,
    venues: Mapping[str, str] | None = None,
) -> TcaResult:
    """TCA of ``journal`` against ``market``: :func:`read_tape` then :func:`analyse` (see
    them). Refused with :class:`~fillforge.errors.JournalError` (a path that is no journal) or
    :class:`~fillforge.errors.TcaError` (bad arguments); nothing is written."""
    return analyse(read_tape(journal), market, horizons_s=horizons_s, venues=venues)
