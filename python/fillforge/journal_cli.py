"""``fillforge journal inspect|export|verify PATH`` (registered by :mod:`fillforge.cli`).

PATH is a journal file (SQLite) or a ``postgresql://`` URL; every command opens it read-only, so
it may run beside the process writing it. A path that names no journal prints one ``error:``
line and exits 2 (:mod:`fillforge.cli_errors`); ``verify`` exits 1 when it finds damage, one
line per problem.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from fillforge.journal import Journal, JournalError, Record, export, verify
from fillforge.time import to_iso

__all__ = ["journal_app"]

journal_app = typer.Typer(
    help="Inspect, export or verify a write-ahead journal (a file or a postgresql:// URL).",
    no_args_is_help=True,
)
_Target = Annotated[str, typer.Argument(help="The journal: a file path or a postgresql:// URL.")]
_Json = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]


def _out() -> Console:
    return Console(soft_wrap=True, highlight=False)


@journal_app.command("inspect")
def inspect(
    target: _Target,
    last: Annotated[int, typer.Option("--last", "-n", min=0, help="Show the last N records.")] = 10,
    as_json: _Json = False,
) -> None:
    """Counts by kind, the first and last seq and time, and the last N records."""
    with Journal.open(target, readonly=True) as j:
        kept = j.recovery.kept
        try:
            counts, schema = j.counts(), j.schema_version
        except JournalError:  # damaged pages: the state line says what opening found
            counts, schema = {}, None
        total = sum(counts.values())
        first = next(j.records(0), None)
        tail = list(j.records(max(0, kept - last))) if last else []
        recovery = j.recovery
        summary: dict[str, Any] = {
            "journal": j.name,
            "schema_version": schema,
            "records": total,
            "kinds": counts,
            "first": _brief(first),
            "last": _brief(tail[-1] if tail else _last(j, kept)),
            "recovery": {
                "ok": recovery.ok,
                "kept": kept,
                "dropped": list(recovery.dropped) if recovery.dropped else None,
                "reason": recovery.reason,
            },
            "tail": [_full(r) for r in tail],
        }
    if as_json:
        print(json.dumps(summary, separators=(",", ":")))
        return
    out = _out()
    t = Table(title=escape(summary["journal"]), show_header=False)
    t.add_row("records", f"{total:,}")
    for name in ("first", "last"):
        b = summary[name]
        t.add_row(name, "-" if b is None else f"seq {b['seq']:,} at {b['time']} ({b['kind']})")
    t.add_row("schema version", str(summary["schema_version"] or "unreadable"))
    status = "intact" if recovery.ok else f"[red]{escape(recovery.reason)}[/red]"
    t.add_row("state", status)
    out.print(t)
    kinds = Table("kind", "records", title="by kind")
    for kind, n in counts.items():
        kinds.add_row(escape(kind), f"{n:,}")
    out.print(kinds)
    if tail:
        recs = Table("seq", "time", "kind", "payload", title=f"the last {len(tail)} records")
        for r in tail:
            recs.add_row(str(r.seq), to_iso(r.ts_ns), escape(r.kind), escape(_compact(r.payload)))
        out.print(recs)


@journal_app.command("export")
def export_cmd(
    target: _Target,
    out_dir: Annotated[
        Path, typer.Option("--out", "-o", help="The directory to write the two files into.")
    ],
    as_json: _Json = False,
) -> None:
    """Write order_book.jsonl (one line per order) and trade_log.jsonl (one line per fill);
    exit 1 when the journal is damaged (its good records are exported, and it says so)."""
    done = export(target, out_dir)
    r = done.recovery
    if as_json:
        print(
            json.dumps(
                {
                    "orders": done.orders,
                    "trades": done.trades,
                    "order_book": str(done.order_book),
                    "trade_log": str(done.trade_log),
                    "last_seq": done.last_seq,
                    "ok": r.ok,
                    "kept": r.kept,
                    "problems": list(r.problems),
                }
            )
        )
    else:
        _out().print(
            f"{done.orders:,} orders -> {escape(str(done.order_book))}\n"
            f"{done.trades:,} trades -> {escape(str(done.trade_log))}"
        )
        if not r.ok:
            _out().print(
                f"damaged: {escape(r.reason)}; exported the good records only ({_kept(r.kept)})"
            )
    if not r.ok:
        raise typer.Exit(1)


@journal_app.command("verify")
def verify_cmd(target: _Target, as_json: _Json = False) -> None:
    """Check every record (seqs, checksums, the database's pages, a torn tail) without
    changing anything: exit 0 when intact, 1 with one line per problem."""
    r = verify(target)
    if as_json:
        print(
            json.dumps(
                {
                    "ok": r.ok,
                    "kept": r.kept,
                    "dropped": list(r.dropped) if r.dropped else None,
                    "problems": list(r.problems),
                }
            )
        )
    elif r.ok:
        _out().print(f"ok: {r.kept:,} records, seq 1..{r.kept:,}, intact")
    else:
        for p in r.problems:
            _out().print(f"damaged: {escape(p)}")
        if r.dropped:
            first, end = r.dropped
            _out().print(
                f"kept: {_kept(r.kept)}; a repair would drop seq {first:,}.."
                f"{'?' if end is None else f'{end:,}'}"
            )
    if not r.ok:
        raise typer.Exit(1)


def _kept(kept: int) -> str:
    return f"seq 1..{kept:,}" if kept else "no record"


def _last(j: Journal, kept: int) -> Record | None:
    return next(j.records(kept - 1), None) if kept else None


def _brief(r: Record | None) -> dict[str, Any] | None:
    if r is None:
        return None
    return {"seq": r.seq, "ts_ns": r.ts_ns, "time": to_iso(r.ts_ns), "kind": r.kind}


def _full(r: Record) -> dict[str, Any]:
    return {**(_brief(r) or {}), "payload": r.payload}


def _compact(payload: dict[str, Any], limit: int = 120) -> str:
    text = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 3] + "..."
