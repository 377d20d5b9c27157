"""``fillforge sweep CONFIG [--address ray://...] [--workers N] [--json] [-o DIR]`` (registered
by :mod:`fillforge.cli`): many backtests of one configuration over a parameter grid or seeded
random samples, on Ray or in this process; the table, the heatmap and the overfitting guards.
A bad file or flag is one ``error:`` line on stderr and exit code 2 (``docs/sweeps.md``)."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from fillforge.cli_errors import refuse
from fillforge.cli_progress import progress

__all__ = ["sweep"]

_out = Console()
_SHOWN = ("sharpe_ratio", "max_drawdown", "cagr", "trades", "oos_sharpe_mean")


def _example() -> str:
    from importlib.resources import files

    return files("fillforge.data").joinpath("sweeps").joinpath("sma_grid.yaml").read_text()


def _print(run: Any) -> None:
    from fillforge.sweep.results import shown  # loaded by now: the sweep ran

    _figure = functools.partial(shown, spec=".4f")
    summary = run.summary
    names = [k for k in run.rows[0] if k.startswith("param.")] if run.rows else []
    t = Table(title=f"{summary.trials} trials ({run.ran} run now, {run.resumed} recorded before)")
    for n in names:
        t.add_column(n.removeprefix("param."), justify="right")
    for k in _SHOWN:
        t.add_column(k, justify="right")
    t.add_column("constraints")
    for r in run.rows:
        verdict = "pass" if r["passed"] else f"[red]fails {escape(r['failed'])}[/red]"
        if r["status"] != "ok":
            verdict = f"[yellow]invalid[/yellow] {escape(r['why'])}"
        t.add_row(*(str(r[n]) for n in names), *(_figure(r.get(k)) for k in _SHOWN), verdict)
    _out.print(t)
    best = summary.best
    if best is None:
        _out.print("no valid trial")
    else:
        params = ", ".join(f"{n.removeprefix('param.')}={best[n]}" for n in names)
        _out.print(
            f"best by {summary.metric}: {params} ({_figure(best.get(summary.metric))}); "
            f"deflated Sharpe ratio {_figure(summary.deflated_sharpe)} (the probability its "
            f"true Sharpe is above 0 given {summary.valid} trials; baseline: the best of as "
            f"many unskilled trials, Sharpe {_figure(summary.expected_max_sharpe)} per period)"
        )
    _out.print(
        "walk-forward: the in-sample best did worse out of sample than the median trial in "
        f"{_figure(summary.below_median)} of the splits (0.5 or more: in-sample choice "
        "carries no information)"
    )
    _out.print(f"table: {run.parquet}  heatmap: {run.heatmap}", soft_wrap=True)


def sweep(
    config: Annotated[
        Path | None, typer.Argument(help="A sweep YAML (fillforge sweep --example prints one).")
    ] = None,
    output: Annotated[
        Path,
        typer.Option(
            "--output", "-o", help="Directory for trials.jsonl, results.parquet, heatmap.html."
        ),
    ] = Path("sweep-out"),
    workers: Annotated[
        int | None,
        typer.Option(help="CPUs of the local Ray (default: every core). Not with --address."),
    ] = None,
    address: Annotated[
        str | None,
        typer.Option(help="A running Ray cluster, e.g. ray://head:10001 (default: a local Ray)."),
    ] = None,
    in_process: Annotated[
        bool, typer.Option("--in-process", help="Run the trials here, one by one, without Ray.")
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object (the summary and the rows).")
    ] = False,
    example: Annotated[
        bool, typer.Option("--example", help="Print the shipped example sweep and exit.")
    ] = False,
) -> None:
    """Backtest a configuration over a parameter grid or seeded random samples, on Ray; rerun
    with the same -o to resume. Prints the table, the best trial's deflated Sharpe ratio and
    the walk-forward check; writes results.parquet and heatmap.html."""
    from fillforge.sweep import read_sweep, run_sweep

    if example:
        print(_example(), end="")
        return
    if config is None:
        raise refuse("CONFIG", None, "give a sweep file (fillforge sweep --example prints one)")
    if workers is not None and workers < 1:
        raise refuse("--workers", workers, "must be at least 1")
    if in_process and workers is not None:
        raise refuse("--workers", workers, "not with --in-process (one trial at a time, here)")
    if address is not None and (workers is not None or in_process):
        flag, value = ("--workers", workers) if workers is not None else ("--in-process", True)
        raise refuse(flag, value, "not with --address (the cluster has its own workers)")
    if output.exists() and not output.is_dir():
        raise refuse("--output", str(output), "exists and is not a directory")
    cfg = read_sweep(config)  # a ConfigError is one line (cli_errors)
    run = run_sweep(
        cfg,
        output,
        workers=workers,
        address=address,
        in_process=in_process,
        progress=lambda n: progress(n, "trials"),
    )
    if as_json:
        print(
            json.dumps(
                {"summary": run.summary.as_dict(), "rows": run.rows, "directory": str(output)}
            )
        )
        return
    _print(run)
