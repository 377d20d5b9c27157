"""``fillforge report RUN_OR_JOURNAL -o report.html [--png DIR] [--tz ZONE] [--data FILE...]``
(registered by :mod:`fillforge.cli`): one self-contained HTML report of a journal (or of the
journal in a run directory), each chart also as a PNG with ``--png``. A bad input or output is
one ``error:`` line on stderr and exit code 2 (``docs/report.md``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from fillforge.cli_errors import positive_decimal, time_zone
from fillforge.tca_cli import DataSymbol, Lot, Tick

__all__ = ["report"]

_out = Console(highlight=False, soft_wrap=True)


def report(
    source: Annotated[
        str,
        typer.Argument(
            metavar="RUN_OR_JOURNAL",
            help="A journal (SQLite path or postgresql:// URL) or a run directory holding one.",
        ),
    ],
    output: Annotated[Path, typer.Option("--output", "-o", help="The HTML file to write.")] = Path(
        "report.html"
    ),
    png: Annotated[
        Path | None,
        typer.Option("--png", help="Also write each chart as DIR/<chart>.png."),
    ] = None,
    tz: Annotated[
        str, typer.Option("--tz", help="The time zone of the hours of day (IANA name).")
    ] = "UTC",
    data: Annotated[
        list[Path] | None,
        typer.Option(
            "--data",
            help="A Tardis quotes or trades file of the market, for the TCA (repeat; as "
            "fillforge tca --data).",
        ),
    ] = None,
    symbol: DataSymbol = None,
    tick: Tick = "0.00000001",
    lot: Lot = "0.00000001",
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object: the files written.")
    ] = False,
) -> None:
    """Write one self-contained HTML report (equity and drawdown, slippage, shortfall by
    policy, fill rate and cost by policy and hour, latency, positions). Positive cost = a cost."""
    from fillforge.report import (
        check_targets,
        open_input,
        report_data,
        require_matplotlib,
        write_report,
    )
    from fillforge.tca_cli import market_from_files

    require_matplotlib()  # the extra first: not after a long read
    zone = time_zone(tz)
    check_targets(output, png)  # before the journal is read: a long read, then a refusal
    market = None
    if data:
        for flag, grid in (("--tick", tick), ("--lot", lot)):
            positive_decimal(flag, grid)
        market = market_from_files(data, tick, lot, symbol)
    with open_input(source) as journal:
        figures = report_data(journal, tz=zone, market=market)
    written = write_report(figures, output, png)
    if as_json:
        print(json.dumps({"report": str(output), "png": [str(p) for p in written[1:]]}))
        return
    _out.print(f"wrote {output} ({len(figures.fills):,} fills, {len(figures.parents):,} parents)")
    if png is not None:
        _out.print(f"wrote {len(written) - 1} PNG files in {png}")
    if figures.costs is None:
        _out.print(f"no TCA charts: {figures.costs_missing}")
