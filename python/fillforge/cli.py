"""The ``fillforge`` command line (typer + rich): the app, its ``replay`` and ``serve`` groups,
and the registration of every command (each group's or command's own module holds it)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from fillforge import __version__, config_cli, execution_cli, journal_cli, sweep_cli
from fillforge.alpaca_cli import serve_alpaca
from fillforge.cli_errors import DEBUG_ENV, OneLineErrors
from fillforge.replay_cli import replay_app

app = typer.Typer(
    help="fillforge: an order-execution engine.", no_args_is_help=True, cls=OneLineErrors
)


@app.callback()
def _root(
    debug: Annotated[
        bool,
        typer.Option(
            "--debug",
            envvar=DEBUG_ENV,
            help="Show the traceback of a refused input instead of its one error line.",
        ),
    ] = False,
) -> None:
    """fillforge: an order-execution engine. A refused input is one ``error:`` line on stderr
    and exit code 2 (``docs/cli.md``)."""


app.add_typer(replay_app, name="replay")
serve_app = typer.Typer(
    help="Serve the simulated exchange through a broker's API.", no_args_is_help=True
)
app.add_typer(serve_app, name="serve")

console = Console()
app.command("demo")(execution_cli.demo)
app.command("execute")(execution_cli.execute)
app.add_typer(config_cli.config_app, name="config")
app.add_typer(journal_cli.journal_app, name="journal")
from fillforge import binance_cli  # noqa: E402 - registered here, beside the others

serve_app.command("binance")(binance_cli.serve_binance)
from fillforge import massive_cli  # noqa: E402 - registered here, beside the others

serve_app.command("massive")(massive_cli.serve_massive)
from fillforge import ibkr_cli  # noqa: E402 - registered here, beside the others

serve_app.command("ibkr")(ibkr_cli.serve_ibkr)
from fillforge import monitor_cli  # noqa: E402 - registered here, beside the others

serve_app.command("monitor")(monitor_cli.serve_monitor)
serve_app.command("alpaca")(serve_alpaca)
app.command("sweep")(sweep_cli.sweep)
from fillforge import run_cli  # noqa: E402 - registered here, beside the others

app.command("run")(run_cli.run)
app.command("backtest")(run_cli.backtest)
from fillforge import report_cli  # noqa: E402 - registered here, beside the others

app.command("report")(report_cli.report)
from fillforge import tca_cli  # noqa: E402 - registered here, beside the others

app.command("tca")(tca_cli.tca_command)


@app.command()
def version() -> None:
    """Print the version."""
    console.print(__version__)


def main() -> None:
    app()
