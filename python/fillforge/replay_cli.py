"""``fillforge replay lobster|cme|check`` (registered by :mod:`fillforge.cli`): real venue data
replayed through the order book, checked against the venue's own book or fills."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Protocol, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from fillforge.cli_errors import say_error
from fillforge.cli_progress import progress
from fillforge.errors import ReplayError
from fillforge.replay import LobsterReport, lobster_sample, replay_cme, replay_lobster

__all__ = ["JsonFlag", "NoProgress", "replay_app"]

replay_app = typer.Typer(
    help="Replay real venue data through the order book.", no_args_is_help=True
)
console = Console()
JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]
NoProgress = Annotated[
    bool, typer.Option("--no-progress", help="No progress bar (also off with --json).")
]


class _Report(Protocol):
    def to_dict(self) -> dict[str, object]: ...


R = TypeVar("R", bound=_Report)


def _bar(as_json: bool, no_progress: bool) -> bool | None:
    """A progress bar's ``force``: never with ``--json`` or ``--no-progress``, else when the
    output is a terminal (:func:`fillforge.cli_progress.shown`)."""
    return False if as_json or no_progress else None


def _replayed(name: str, run: Callable[[], R], as_json: bool, no_progress: bool) -> R:
    """``run()`` under a progress bar named after the file; a ReplayError is one ``error:``
    line and exit code 2; with ``--json`` the report is printed as one JSON object."""
    try:
        with progress(None, f"replay {name}", force=_bar(as_json, no_progress)):
            r = run()
    except ReplayError as err:
        say_error(str(err))
        raise typer.Exit(2) from err
    if as_json:
        print(json.dumps(r.to_dict()))
    return r


def _table(title: str, rows: list[tuple[str, str]]) -> Table:
    """A report as a two-column table: each row a label and its value."""
    t = Table(title=title, show_header=False)
    for label, value in rows:
        t.add_row(label, value)
    return t


def _lobster_table(title: str, r: LobsterReport) -> Table:
    return _table(
        title,
        [
            ("events replayed", f"{r.events:,}"),
            ("levels checked against the true book", f"{r.checked_levels:,}"),
            ("levels adopted as they came into view", f"{r.adopted_levels:,}"),
            ("mismatches", f"[{'green' if r.ok else 'red'}]{r.mismatches:,}[/]"),
            ("messages naming orders from before the file", f"{r.unknown_order_refs:,}"),
            (
                "executions at the head of their queue",
                f"{r.executions_at_queue_head:,} / {r.known_executions:,}",
            ),
            ("messages/s end to end (read, parse, replay, check)", f"{r.msgs_per_s:,.0f}"),
            ("messages/s once parsed (replay and check)", f"{r.replay_msgs_per_s:,.0f}"),
        ],
    )


def _print_lobster(title: str, r: LobsterReport) -> None:
    """The report's table and its first mismatches; exit code 1 on any mismatch."""
    console.print(_lobster_table(title, r))
    for m in r.first_mismatches:
        console.print(
            f"  event {m.event}: {m.side} {m.price}: true book {m.expected}, replayed book {m.got}"
        )
    if not r.ok:
        raise typer.Exit(1)


@replay_app.command("lobster")
def replay_lobster_cmd(
    message_csv: Annotated[Path, typer.Argument(help="LOBSTER message file (.csv or .csv.gz).")],
    orderbook_csv: Annotated[Path, typer.Argument(help="Matching orderbook file.")],
    as_json: JsonFlag = False,
    no_progress: NoProgress = False,
) -> None:
    """Replay a LOBSTER pair and check the book after every event; exit 1 on any mismatch."""
    r = _replayed(
        message_csv.name,
        lambda: replay_lobster(message_csv, orderbook_csv),
        as_json,
        no_progress,
    )
    if as_json:
        if not r.ok:
            raise typer.Exit(1)
        return
    _print_lobster(message_csv.name, r)


@replay_app.command("cme")
def replay_cme_cmd(
    mbo_csv: Annotated[Path, typer.Argument(help="Databento MBO CSV (.csv or .csv.gz).")],
    as_json: JsonFlag = False,
    no_progress: NoProgress = False,
) -> None:
    """Replay CME market-by-order data; compare engine fills with the exchange's for each trade."""
    r = _replayed(mbo_csv.name, lambda: replay_cme(mbo_csv), as_json, no_progress)
    if as_json:
        return
    rows = [
        ("records", f"{r.records:,}"),
        ("continuous-trading trades", f"{r.trades:,}"),
        ("agreed (same makers, order and sizes)", f"{r.agreed:,} ({r.agreement:.2%})"),
        (
            "agreed where the data is unambiguous",
            f"{r.unambiguous_agreed:,} / {r.unambiguous_trades:,} ({r.unambiguous_agreement:.2%})",
        ),
        *((f"  residue: {cause}", f"{n:,}") for cause, n in sorted(r.residue.items())),
        ("book crossed at an event end after the open", f"{r.crossed_after_open:,}"),
    ]
    if r.final_best_bid is not None and r.final_best_ask is not None:
        scale = r.price_scale
        bid, ask = r.final_best_bid / scale, r.final_best_ask / scale
        rows.append(("final best bid / ask", f"{bid} / {ask}"))
    console.print(_table(mbo_csv.name, rows))


@replay_app.command("check")
def replay_check_cmd(no_progress: NoProgress = False) -> None:
    """Replay the shipped LOBSTER sample and check the book against the true book."""
    message, orderbook = lobster_sample()
    with progress(None, f"replay {message.name}", force=_bar(False, no_progress)):
        r = replay_lobster(message, orderbook)
    _print_lobster(message.name, r)
    console.print("[green]The replayed book matched the true book at every checked level.[/green]")
