"""Progress bars for the command line's long work (the demo's policies, a sweep's trials, a
backtest, a replay, ``fillforge run``): a rich bar on stderr when both stdout and stderr are
terminals, nothing at all otherwise (a pipe, a file, a test, ``--json``, ``--no-progress``), so
output that is read by programs stays exactly what it was.

A ``total`` of None is work of unknown length (a replay inside the compiled core, a live run):
a pulsing bar with the time elapsed. ``advance(n, note=...)`` moves the bar and replaces the
text shown beside it (a run's orders, fills and P&L).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)

__all__ = ["Advance", "progress", "shown"]


class Advance(Protocol):
    """``advance(n=1, note=None)``: ``n`` more steps done; ``note`` (when given) replaces the
    text shown after the bar."""

    def __call__(self, n: int = 1, *, note: str | None = None) -> None: ...


def _silent(n: int = 1, *, note: str | None = None) -> None:
    return None


def shown(force: bool | None = None) -> bool:
    """Whether a bar is drawn: ``force`` when given, else when stdout and stderr are both
    terminals (a bar under output that goes to a file or a program would be noise)."""
    if force is not None:
        return force
    return sys.stderr.isatty() and sys.stdout.isatty()


@contextmanager
def progress(total: int | None, what: str, *, force: bool | None = None) -> Iterator[Advance]:
    """Yield ``advance(n, note=...)``, which moves a bar of ``total`` steps (None: unknown)
    labelled ``what``. The bar is drawn on stderr only when :func:`shown` says so (``force``
    overrides the test: ``False`` for ``--json`` and ``--no-progress``)."""
    if not shown(force) or (total is not None and total <= 0):
        yield _silent
        return
    console = Console(stderr=True, force_terminal=True if force else None)
    columns: list[ProgressColumn] = [TextColumn(what), BarColumn()]
    if total is not None:
        columns.append(MofNCompleteColumn())
    columns += [TimeElapsedColumn(), TextColumn("{task.fields[note]}")]
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task(what, total=total, note="")

        def advance(n: int = 1, *, note: str | None = None) -> None:
            if note is None:
                bar.advance(task, n)
            else:
                bar.update(task, advance=n, note=note)

        yield advance
