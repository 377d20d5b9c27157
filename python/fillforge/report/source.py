"""What ``fillforge report`` reads: a journal (a SQLite path or a ``postgresql://`` URL) or a run
directory holding one (``docs/report.md``).

A run directory (``fillforge run`` keeps its journals in ``./fillforge-runs/``) is searched, not
recursively, for a journal file: ``*.journal``, ``*.sqlite``, ``*.sqlite3``, ``*.db`` or a file
named ``journal``; the one of them that opens as a fillforge journal is read (several: refused,
naming them). ``fillforge backtest`` and a sweep's trials leave no journal (they print or
tabulate their figures): their report is made from the journal an agent or a paper run wrote
(``fillforge run``'s, or a configuration's ``journal:``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from fillforge.errors import JournalError, ReportError
from fillforge.journal import Journal

__all__ = ["JOURNAL_SUFFIXES", "open_input"]

JOURNAL_SUFFIXES: Final = (".journal", ".sqlite", ".sqlite3", ".db")


def _candidates(directory: Path) -> list[Path]:
    return sorted(
        p
        for p in directory.iterdir()
        if p.is_file() and (p.suffix in JOURNAL_SUFFIXES or p.name == "journal")
    )


def open_input(target: str) -> Journal:
    """Open ``target`` read-only: a journal, or the journal in a run directory. A
    :class:`~fillforge.errors.JournalError` or :class:`~fillforge.errors.ReportError` (field
    ``input``) says why not."""
    if target.startswith(("postgresql://", "postgres://")):
        return Journal.open(target, readonly=True)
    path = Path(target)
    if not path.exists():
        raise ReportError("input", target, "no such file or directory")
    if not path.is_dir():
        return Journal.open(path, readonly=True)
    found = _candidates(path)
    opened: list[Journal] = []
    for candidate in found:
        try:
            opened.append(Journal.open(candidate, readonly=True))
        except JournalError:
            continue
    if len(opened) == 1:
        return opened[0]
    for j in opened:
        j.close()
    if opened:
        names = ", ".join(Path(j.name).name for j in opened)
        raise ReportError("input", target, f"holds {len(opened)} journals: give one ({names})")
    tried = f" (tried {', '.join(p.name for p in found)})" if found else ""
    raise ReportError(
        "input",
        target,
        "no fillforge journal in this directory" + tried + ": a backtest or sweep run leaves "
        "none; give the journal an agent or paper run wrote (its configuration's journal:)",
    )
