"""The ``fillforge`` command line (typer + rich)."""

import typer

app = typer.Typer(help="fillforge: order-execution engine.", no_args_is_help=True)


@app.command()
def version() -> None:
    """Print the version."""
    from fillforge import __version__

    typer.echo(__version__)


def main() -> None:
    app()
