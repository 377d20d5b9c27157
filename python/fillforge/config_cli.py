"""The ``fillforge config check`` and ``fillforge backtest`` commands (registered by
:mod:`fillforge.cli`). A bad file or flag prints one ``error:`` line on stderr and exits 2; no
traceback reaches the user."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from fillforge.errors import ConfigError, FillforgeError

__all__ = ["backtest", "config_app"]

_out = Console()
_err = Console(stderr=True)
config_app = typer.Typer(
    help="Check a configuration file, or print a shipped example.", no_args_is_help=True
)
_STATUS_STYLE = {
    "honoured": "green",
    "not honoured": "red",
    "not used": "yellow",
    "unknown": "magenta",
}


def _fail(e: FillforgeError) -> typer.Exit:
    _err.print(f"[red]error:[/red] {escape(str(e))}", soft_wrap=True, highlight=False)
    return typer.Exit(2)


def _read(path: Path) -> object:
    """The file read quietly: what its warnings say (unknown keys, a literal secret), the
    command prints itself, in its table; the warnings and the log line would say it twice."""
    from fillforge.config import read_config

    return read_config(path, quiet=True)


@config_app.command("example")
def example(
    name: Annotated[
        str, typer.Argument(help="Which shipped example (see the list with --list).")
    ] = "sma_backtest",
    list_them: Annotated[bool, typer.Option("--list", help="List the shipped examples.")] = False,
) -> None:
    """Print a configuration the package ships, to start from:
    ``fillforge config example > my.yaml && fillforge backtest my.yaml``."""
    from importlib.resources import files

    shipped = {
        p.name.removesuffix(".yaml"): p
        for p in files("fillforge.data").joinpath("configs").iterdir()
        if p.name.endswith(".yaml")
    }
    if list_them:
        for n in sorted(shipped):
            print(n)
        return
    if name not in shipped:
        raise _fail(ConfigError("name", name, f"no shipped example; one of {sorted(shipped)}"))
    print(shipped[name].read_text(), end="")


@config_app.command("check")
def check(
    file: Annotated[Path, typer.Argument(help="A YAML configuration file.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Map every key of FILE to the fillforge feature it sets, and name each key fillforge
    cannot honour, with the reason. Exit 0 when the file is valid, 2 (one line) when not."""
    from fillforge.config.loading import ConfigFile
    from fillforge.config.mapping import check as check_rows

    try:
        loaded = _read(file)
    except ConfigError as e:
        raise _fail(e) from None
    assert isinstance(loaded, ConfigFile)
    rows = check_rows(loaded)
    if as_json:
        print(
            json.dumps(
                {
                    "file": str(file),
                    "mode": str(loaded.config.mode),
                    "keys": [
                        {
                            "key": r.key,
                            "feature": r.feature,
                            "module": r.module,
                            "value": r.value,
                            "status": r.status,
                            "note": r.note,
                        }
                        for r in rows
                    ],
                }
            )
        )
        return
    t = Table(title=f"{file.name}: mode {loaded.config.mode}")
    for col in ("key", "feature", "module", "value", "status", "note"):
        t.add_column(col, overflow="fold")
    for r in rows:
        style = _STATUS_STYLE[r.status]
        t.add_row(
            escape(r.key),
            escape(r.feature),
            r.module,
            escape(r.value),
            f"[{style}]{r.status}[/]",
            escape(r.note),
        )
    _out.print(t)
    counts = {s: sum(r.status == s for r in rows) for s in _STATUS_STYLE}
    _out.print(", ".join(f"{n} {s}" for s, n in counts.items()))
    for r in rows:
        if r.status in ("not honoured", "unknown"):
            _out.print(f"{r.status}: {escape(r.key)}: {escape(r.note)}", soft_wrap=True)


def backtest(
    config: Annotated[Path, typer.Argument(help="A YAML configuration with a strategy block.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Backtest the configuration's strategy on the shipped daily bars; print the metrics
    (sharpe_ratio, sortino_ratio, max_drawdown, cagr, trades, final_equity)."""
    from fillforge.agent.backtest import run_backtest
    from fillforge.config.loading import ConfigFile

    try:
        loaded = _read(config)
        assert isinstance(loaded, ConfigFile)
        report = run_backtest(loaded.config)
    except FillforgeError as e:
        raise _fail(e) from None
    if as_json:
        print(json.dumps(report.figures(), sort_keys=True))
        return
    t = Table(title=f"{config.name}: {report.strategy} on {', '.join(report.symbols)}")
    t.add_column("metric")
    t.add_column("value", justify="right")
    for key, value in report.figures().items():
        shown = "n/a" if value is None else f"{value:.4f}" if isinstance(value, float) else value
        t.add_row(key, str(shown))
    for code, n in sorted(report.denied.items()):
        t.add_row(f"orders denied: {code}", str(n))
    _out.print(t)
