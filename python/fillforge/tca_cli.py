"""``fillforge tca JOURNAL [--json] [--by policy|venue|symbol|hour] [--data FILE]...``
(registered by :mod:`fillforge.cli`): transaction-cost analysis of a journal (``docs/tca.md``).

JOURNAL is a journal file (SQLite) or a ``postgresql://`` URL, opened read-only. ``--data`` gives
the market it traded in (a Tardis quotes and/or trades file, read through
:mod:`fillforge.marketdata`) for the mids, VWAP, TWAP, markouts and the spread; without it those
figures are n/a, each with its reason. Every cost is printed with its sign convention (positive
= cost) and its baseline. A path that is no journal, a bad flag or a bad data file is one
``error:`` line on stderr and exit code 2 (:mod:`fillforge.cli_errors`). ``--alerts`` replays the
monitor's default alert rules over the journal (:mod:`fillforge.monitor.tca`).
"""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from fillforge.analytics import CONVENTION, GROUP_KEYS, MarketData, TcaResult, tca
from fillforge.cli_errors import positive_decimal, refuse, time_zone
from fillforge.errors import TcaError
from fillforge.execution.cost import cost_rows
from fillforge.marketdata import load_tardis_quotes, load_tardis_trades
from fillforge.monitor.tca import journal_alerts
from fillforge.sim.datafiles import DataFormat, market_files
from fillforge.time import to_iso

__all__ = ["market_from_files", "summary_json", "tca_command"]

_PARENTS_SHOWN = 20
_QUANTILES = (50, 90, 99)
# (figure, header) of the two group tables: what happened, and what it cost.
_RATES: tuple[tuple[str, str], ...] = (
    ("orders", "orders"),
    ("fills", "fills"),
    ("fill_rate", "fill rate"),
    ("partial_fill_rate", "partial"),
    ("reject_ratio", "rejects"),
    ("cancel_ratio", "cancels"),
    ("fees", "commissions"),
)
_COSTS: tuple[tuple[str, str], ...] = (
    ("arrival_bps", "vs arrival"),
    ("is_bps", "IS"),
    ("delay_bps", "delay"),
    ("trading_bps", "trading"),
    ("opportunity_bps", "opport."),
    ("fees_bps", "fees"),
    ("spread_bps", "spread"),
)
BASELINES: dict[str, str] = {
    "arrival_bps": "each fill's price against the mid when its order was sent",
    "is_bps": "implementation shortfall = delay + trading + opportunity + fees, in bps of the "
    "paper notional (parent qty x decision price P_d)",
    "delay_bps": "the mid at the first child P_0 against P_d, on the whole quantity",
    "trading_bps": "the fills against P_0",
    "opportunity_bps": "the unfilled remainder marked at the mid at the end P_N against P_0",
    "fees_bps": "commissions over the paper notional",
    "spread_bps": "each fill against the mid at its time (positive = spread paid, negative = "
    "earned)",
    "markout": "each fill against the mid h seconds later (positive = the market moved against "
    "the fill)",
    "fill_rate": "filled over asked, of the orders that ended",
    "vwap_bps": "the average price against the market's VWAP over the order's interval",
    "twap_bps": "the average price against the time-weighted mid over the order's interval",
}


def _out() -> Console:
    return Console(soft_wrap=True, highlight=False)


def market_from_files(paths: list[Path], tick: str, lot: str, symbol: str | None) -> MarketData:
    """The market in Tardis quotes and/or trades files (recognised by their first line)."""
    files = market_files(list(paths))
    if files.format is not DataFormat.TARDIS:
        raise TcaError(
            "--data",
            files.format.value,
            "TCA reads Tardis quotes and trades files; record any other feed with "
            "fillforge.analytics.MarketRecorder",
        )
    name = symbol or files.symbol
    if not name:
        raise TcaError("--symbol", None, "the files name no symbol: give --symbol")
    p = files.paths
    quotes = load_tardis_quotes(p["quotes"], tick=tick, lot=lot) if "quotes" in p else None
    trades = load_tardis_trades(p["trades"], tick=tick, lot=lot) if "trades" in p else None
    return MarketData().add_columns(name, tick=tick, lot=lot, quotes=quotes, trades=trades)


def _number(v: Any) -> Any:
    """JSON-ready: NaN becomes None, numpy scalars plain numbers."""
    if isinstance(v, (np.integer, int)) and not isinstance(v, bool):
        return int(v)
    if isinstance(v, (np.floating, float)):
        return float(v) if math.isfinite(v) else None
    return v


def _figures(d: dict[str, Any]) -> dict[str, Any]:
    return {k: _number(v) for k, v in d.items()}


def _latency(r: TcaResult) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for name, ns in r.latency.items():
        row: dict[str, Any] = {"count": len(ns)}
        for q in _QUANTILES:
            row[f"p{q}_ms"] = float(np.percentile(ns, q)) / 1e6 if len(ns) else None
        row["max_ms"] = float(ns.max()) / 1e6 if len(ns) else None
        out[name] = row
    return out


def summary_json(r: TcaResult, by: str, tz: dt.tzinfo) -> dict[str, Any]:
    """What ``--json`` prints: the convention, the baselines, the totals, the groups, each
    journalled parent's exact cost (``execution.cost.cost_rows``), the latency quantiles and
    the reasons behind every n/a."""
    parents = []
    kinds = r.parents["kind"]
    for pid in r.parents["parent_id"][kinds == "parent"].tolist():
        exact = r.parent_cost(pid)
        if exact is not None:
            parents.append(cost_rows([exact], tz)[0])
        else:
            parents.append({"parent_id": pid, "why": "a benchmark is unknown (see reasons)"})
    return {
        "convention": CONVENTION,
        "baselines": BASELINES,
        "records": r.tape.records,
        "total": _figures(r.total()),
        "by": by,
        "groups": {k: _figures(v) for k, v in r.group_by(by, tz).items()},
        "parents": parents,
        "latency": _latency(r),
        "reasons": r.reasons,
    }


def _cell(v: Any, places: int = 2) -> str:
    v = _number(v)
    if v is None:
        return "n/a"
    if isinstance(v, int):
        return f"{v:,}"
    if float(v).is_integer() and abs(v) < 1e15 and places != 4:
        return f"{int(v):,}"
    return f"{v:,.{places}f}"


def _group_table(title: str, by: str, rows: dict[str, dict[str, float]], cols: Any) -> Table:
    t = Table(title=title)
    t.add_column(by)
    for _, header in cols:
        t.add_column(header, justify="right")
    for label, row in rows.items():
        places = [4 if key.endswith(("rate", "ratio")) else 2 for key, _ in cols]
        t.add_row(label, *(_cell(row[key], n) for (key, _), n in zip(cols, places, strict=True)))
    return t


def _parents_table(r: TcaResult, shown: list[str], tz: dt.tzinfo) -> Table:
    t = Table(title="journalled parents: exact shortfall, bps of the paper notional")
    heads = ("parent", "policy", "filled/qty", "P_d", "IS", "delay", "trading", "opport.", "fees")
    for h in heads:
        t.add_column(h, justify="left" if h in ("parent", "policy") else "right")
    for pid in shown[:_PARENTS_SHOWN]:
        c = r.parent_cost(pid)
        if c is None:
            i = int(np.flatnonzero(r.parents["parent_id"] == pid)[0])
            side = "buy" if r.parents["side"][i] > 0 else "sell"
            filled, qty = (_cell(r.parents[k][i]) for k in ("filled_qty", "qty"))
            known = (_cell(r.parents["decision_price"][i]),)
            t.add_row(
                pid,
                f"{r.parents['policy'][i]} {side}",
                f"{filled}/{qty}",
                *known,
                *["n/a"] * (len(heads) - 4),
            )
            continue
        row = cost_rows([c], tz)[0]
        keys = ("decision_price", "is_bps", "delay_bps", "trading_bps", "opportunity_bps")
        t.add_row(
            pid,
            f"{c.policy} {c.side.value}",
            f"{row['filled_qty']}/{row['qty']}",
            *(row[k] or "n/a" for k in (*keys, "fees_bps")),
        )
    return t


def _print(r: TcaResult, by: str, tz: dt.tzinfo, market: MarketData | None) -> None:
    out = _out()
    total = r.total()
    out.print(
        f"{r.tape.records:,} records: {_cell(total['orders'])} orders, "
        f"{_cell(total['parents'])} parents, {_cell(total['fills'])} fills; market: "
        f"{market if market is not None else 'none (--data): mids, VWAP, markouts n/a'}"
    )
    out.print(f"sign: {CONVENTION}")
    groups = {**r.group_by(by, tz), "all": total}
    out.print(_group_table(f"orders by {by}", by, groups, _RATES))
    out.print(_group_table(f"cost by {by}, bps (positive = cost)", by, groups, _COSTS))
    out.print("baselines:")
    for key, header in (*_COSTS, ("fill_rate", "fill rate")):
        out.print(f"  {header}: {BASELINES[key]}")
    marks = ", ".join(f"{h} s {_cell(total[f'markout_{h}s_bps'])} bps" for h in r.horizons_s)
    out.print(f"markouts (all fills): {marks}; {BASELINES['markout']}")
    out.print(
        f"shortfall (all parents): {_cell(total['is_cost'])} = delay "
        f"{_cell(total['delay_cost'])} + trading {_cell(total['trading_cost'])} + opportunity "
        f"{_cell(total['opportunity_cost'])} + fees {_cell(total['fees_cost'])} (currency; "
        f"baseline: the paper notional {_cell(total['paper_notional'])})"
    )
    lat = Table(title="latency, ms (record times; the venue's for accept and fill)")
    for h in ("stretch", "count", *(f"p{q}" for q in _QUANTILES), "max"):
        lat.add_column(h, justify="right" if h != "stretch" else "left")
    for name, row in _latency(r).items():
        lat.add_row(
            name.replace("_", " "),
            str(row["count"]),
            *(_cell(row[f"p{q}_ms"], 3) for q in _QUANTILES),
            _cell(row["max_ms"], 3),
        )
    out.print(lat)
    shown = r.parents["parent_id"][r.parents["kind"] == "parent"].tolist()
    if shown:
        out.print(_parents_table(r, shown, tz))
        if len(shown) > _PARENTS_SHOWN:
            out.print(f"... and {len(shown) - _PARENTS_SHOWN:,} more parents (--json: all)")
    why: dict[str, list[str]] = {}
    for figure, text in sorted(r.reasons.items()):
        why.setdefault(text, []).append(figure)
    for text, figures in why.items():
        out.print(f"n/a {', '.join(figures)}: {text}")


# The market data's options, as ``fillforge tca`` and ``fillforge report`` take them.
DataSymbol = Annotated[
    str | None, typer.Option("--symbol", help="The symbol of --data (default: the file's).")
]
Tick = Annotated[str, typer.Option("--tick", help="The price grid of --data.")]
Lot = Annotated[str, typer.Option("--lot", help="The size grid of --data.")]


def tca_command(
    journal: Annotated[
        str, typer.Argument(help="The journal: a file path or a postgresql:// URL.")
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    by: Annotated[
        str, typer.Option("--by", help="Group by policy, venue, symbol or hour (of day).")
    ] = "policy",
    data: Annotated[
        list[Path] | None,
        typer.Option("--data", help="A Tardis quotes or trades file of the market (repeat)."),
    ] = None,
    symbol: DataSymbol = None,
    tick: Tick = "0.00000001",
    lot: Lot = "0.00000001",
    tz: Annotated[str, typer.Option("--tz", help="The time zone of --by hour.")] = "UTC",
    alerts: Annotated[
        bool,
        typer.Option("--alerts", help="Replay the monitor's default alert rules over the journal."),
    ] = False,
) -> None:
    """Transaction-cost analysis of a journal: shortfall (delay, trading, opportunity, fees),
    slippage against arrival, VWAP and TWAP, markouts, spread, rates and latency."""
    if by not in GROUP_KEYS:
        raise refuse("--by", by, f"expected one of {', '.join(GROUP_KEYS)}")
    zone = time_zone(tz)
    positive_decimal("--tick", tick)  # the grids are checked here; the loaders take the text
    positive_decimal("--lot", lot)
    market = market_from_files(data, tick, lot, symbol) if data else None
    r = tca(journal, market)
    changes = journal_alerts(r) if alerts else None
    if as_json:
        doc = summary_json(r, by, zone)
        if changes is not None:
            doc["alerts"] = [a.as_json() for a in changes]
        typer.echo(json.dumps(doc, indent=2, default=str))
        return
    _print(r, by, zone, market)
    if changes is not None:
        out = _out()
        out.print(f"alerts (the monitor's default rules over the journal): {len(changes)}")
        for a in changes:
            out.print(f"  {to_iso(a.ts)} {a.state}: {a.message}")
