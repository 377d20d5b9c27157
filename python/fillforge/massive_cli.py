"""``fillforge serve massive``: the Massive (formerly Polygon)-compatible market-data server
(registered by :mod:`fillforge.cli`). The server's modules load when the command runs, not when
the CLI starts."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from fillforge import cli_serving
from fillforge.cli_errors import refuse

__all__ = ["serve_massive"]


def serve_massive(
    host: cli_serving.Host = "127.0.0.1",
    port: cli_serving.Port = 0,
    data: Annotated[
        list[str] | None,
        typer.Option(
            help="'sample': the shipped data (AAPL, GOOG and SPY daily bars 2016-2017, the GOOG "
            "LOBSTER day 2012-06-21); or your own files: daily bars CSVs named SYMBOL_daily_*.csv "
            "and LOBSTER message files (the orderbook file beside each). Repeat for more files."
        ),
    ] = None,
    api_key: Annotated[
        str | None,
        typer.Option(
            envvar="MASSIVE_API_KEY", help="API key (or MASSIVE_API_KEY).", show_default=False
        ),
    ] = None,
    rate_limit: Annotated[
        int | None, typer.Option(help="Requests per minute per address (default: no limit).")
    ] = None,
    duration: cli_serving.Duration = None,
) -> None:
    """Serve Massive's aggregates, trades, quotes and last-quote routes on market-data files (for
    the massive client with ``base=`` pointed at it); prints the base URL."""
    from fillforge.massive.history import load_history, shipped_history
    from fillforge.massive.server import MassiveServer

    if not api_key:
        raise refuse("--api-key", "", "set MASSIVE_API_KEY (or the flag)")
    if rate_limit is not None and rate_limit < 1:
        raise refuse("--rate-limit", rate_limit, "must be >= 1")
    cli_serving.check_endpoint(port, duration)
    sources = data or ["sample"]
    if "sample" in sources and len(sources) > 1:
        raise refuse("--data", "sample", "stands alone: give it once, with no other --data")
    with cli_serving.refusing_data(sources):
        if sources == ["sample"]:
            history = shipped_history()
        else:
            for s in sources:
                if not Path(s).is_file():
                    raise refuse("--data", s, "no such file")
            history = load_history([Path(s) for s in sources])
    server = MassiveServer(
        history, api_key=api_key, host=host, port=port, requests_per_minute=rate_limit
    )
    with server:
        note = (
            f"serving {', '.join(history.symbols)}; massive: RESTClient(base={server.base_url!r})"
            "; Ctrl-C stops"
        )
        cli_serving.serve_announced([server.base_url], [note], duration)
