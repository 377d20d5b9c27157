"""Progress bars for the command line's long work (the demo's policies, a sweep's trials): a
rich bar on stderr when stderr is a terminal, nothing at all otherwise (a pipe, a file, a
test), so output that is read by programs stays exactly what it was."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

__all__ = ["progress"]


def _silent(_: int = 1) -> None:
    return None


@contextmanager
def progress(
    total: int, what: str, *, force: bool | None = None
) -> Iterator[Callable[[int], None]]:
    """Yield ``advance(n)``, which moves a bar of ``total`` steps labelled ``what``. The bar is
    drawn on stderr only when stderr is a terminal (``force`` overrides the test)."""
    shown = sys.stderr.isatty() if force is None else force
    if not shown or total <= 0:
        yield _silent
        return
    console = Console(stderr=True, force_terminal=True if force else None)
    with Progress(
        TextColumn(f"{what}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task(what, total=total)

        def advance(n: int = 1) -> None:
            bar.advance(task, n)

        yield advance
