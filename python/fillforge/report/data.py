"""What a report shows, read from a journal (``docs/report.md``).

:func:`report_data` reads a journal once into a :class:`ReportData`:

- the fills (each execution once, by the venue's execution id: :func:`~fillforge.journal.rebuild.
  rebuild`), in venue-time order;
- the P&L after each fill: cash flows plus the positions marked at each symbol's last fill
  price (a journal holds no market prices; its starting cash is not known either, so the curve
  starts at 0), net of fees; its drawdown from the running peak;
- each symbol's signed position after each fill;
- the parents (their last snapshot: policy, quantity, filled), for the fill rate by policy;
- the transaction-cost analysis (:mod:`fillforge.report.costs`: slippage, shortfall, rates,
  latency), when it can be made.

Money stays :class:`~decimal.Decimal` here; the charts turn it into floats to draw.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Final

from fillforge.analytics import MarketData
from fillforge.journal import Journal
from fillforge.journal.rebuild import JournalFill, rebuild
from fillforge.journal.state import load_state
from fillforge.report.costs import CostFigures, cost_figures

__all__ = ["ParentRow", "ReportData", "report_data"]

_ZERO: Final = Decimal(0)


@dataclass(frozen=True, slots=True)
class ParentRow:
    """A parent order as its last journalled snapshot has it."""

    parent_id: str
    symbol: str
    side: str
    policy: str
    qty: Decimal
    filled: Decimal
    state: str


@dataclass(slots=True)
class ReportData:
    """Everything one report draws (see the module). Series are ``(ts_ns, value)`` pairs in
    time order."""

    source: str
    records: int = 0
    fills: list[JournalFill] = field(default_factory=list)
    pnl: list[tuple[int, Decimal]] = field(default_factory=list)
    drawdown: list[tuple[int, Decimal]] = field(default_factory=list)
    fees: Decimal = _ZERO
    positions: dict[str, list[tuple[int, Decimal]]] = field(default_factory=dict)
    parents: list[ParentRow] = field(default_factory=list)
    costs: CostFigures | None = None
    costs_missing: str = "the transaction-cost analysis was not run"

    @property
    def final_pnl(self) -> Decimal:
        return self.pnl[-1][1] if self.pnl else _ZERO

    @property
    def max_drawdown(self) -> Decimal:
        return min((d for _, d in self.drawdown), default=_ZERO)


def _pnl(fills: Iterable[JournalFill], out: ReportData) -> None:
    cash = _ZERO
    held: dict[str, Decimal] = {}
    last: dict[str, Decimal] = {}
    peak: Decimal | None = None
    for f in fills:
        signed = f.qty if f.side == "buy" else -f.qty
        cash -= signed * f.price + f.fee
        out.fees += f.fee
        held[f.symbol] = held.get(f.symbol, _ZERO) + signed
        last[f.symbol] = f.price
        value = cash + sum((q * last[s] for s, q in held.items()), _ZERO)
        peak = value if peak is None or value > peak else peak
        out.pnl.append((f.ts_ns, value))
        out.drawdown.append((f.ts_ns, value - peak))
        out.positions.setdefault(f.symbol, []).append((f.ts_ns, held[f.symbol]))


def _parents(journal: Journal) -> list[ParentRow]:
    rows = []
    for pid, snap in sorted(load_state(journal).parents.items()):
        spec = snap.get("spec", {})
        rows.append(
            ParentRow(
                parent_id=pid,
                symbol=str(spec.get("symbol", "")),
                side=str(spec.get("side", "")),
                policy=str(spec.get("policy", "twap")),
                qty=Decimal(str(spec.get("qty", "0"))),
                filled=Decimal(str(snap.get("filled", "0"))),
                state=str(snap.get("state", "")),
            )
        )
    return rows


def report_data(
    journal: Journal,
    *,
    costs: bool = True,
    tz: dt.tzinfo = dt.UTC,
    market: MarketData | None = None,
) -> ReportData:
    """Read ``journal`` into a :class:`ReportData` (``costs``: run the transaction-cost
    analysis too, against ``market`` if given; ``tz``: the zone of its hours of day)."""
    out = ReportData(source=str(getattr(journal, "name", "journal")))
    out.records = sum(journal.counts().values())
    book = rebuild(journal)
    # Venue time first; fills at the same time keep the journal's order.
    out.fills = sorted(book.fills.values(), key=lambda f: f.ts_ns)
    _pnl(out.fills, out)
    out.parents = _parents(journal)
    if costs:
        out.costs, out.costs_missing = cost_figures(journal, tz, market)
    return out
