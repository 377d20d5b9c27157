"""``fillforge serve binance``: the Binance-compatible spot server (registered by
:mod:`fillforge.cli`). The server's modules load when the command runs, not when the CLI
starts."""

from __future__ import annotations

from typing import Annotated

import typer

from fillforge import cli_serving
from fillforge.cli_errors import positive_decimal, refuse

__all__ = ["serve_binance"]


def serve_binance(
    host: cli_serving.Host = "127.0.0.1",
    port: cli_serving.Port = 0,
    data: Annotated[
        list[str] | None,
        typer.Option(
            help="'sample': the shipped BTCUSDT day (Tardis quotes and trades); 'scripted': "
            "BTCUSDT and ETHUSDT at --quote prices; or your own Tardis quotes and/or trades "
            "CSV (repeat --data for the second file)."
        ),
    ] = None,
    speed: cli_serving.Speed = 1.0,
    quote: cli_serving.Quotes = None,
    symbol: cli_serving.DataSymbol = None,
    cash: Annotated[str, typer.Option(help="The account's starting quote asset (USDT).")] = (
        "10000"
    ),
    api_key: Annotated[
        str | None,
        typer.Option(
            envvar="BINANCE_API_KEY", help="API key (or BINANCE_API_KEY).", show_default=False
        ),
    ] = None,
    secret: Annotated[
        str | None,
        typer.Option(
            envvar="BINANCE_SECRET", help="Secret (or BINANCE_SECRET).", show_default=False
        ),
    ] = None,
    weight_limit: Annotated[
        int, typer.Option(help="Request weight per minute per address (Binance: 6000).")
    ] = 6000,
    order_limit: Annotated[
        int, typer.Option(help="New orders per 10 seconds per key (Binance: 100).")
    ] = 100,
    duration: cli_serving.Duration = None,
) -> None:
    """Serve a Binance-compatible spot REST API on the simulator (for ccxt with ``urls``
    pointed at it); prints the base URL."""
    from fillforge.binance import BinanceServer, data_broker, sample_broker, scripted_broker
    from fillforge.time import WallClock

    if not api_key or not secret:
        raise refuse("--api-key", "", "set BINANCE_API_KEY and BINANCE_SECRET (or the flags)")
    cli_serving.check_endpoint(port, duration)
    sources = data or ["sample"]
    kind = cli_serving.data_kind(sources, speed, quote, symbol)
    for flag, limit in (("--weight-limit", weight_limit), ("--order-limit", order_limit)):
        if limit < 1:
            raise refuse(flag, limit, "must be >= 1")
    money = positive_decimal("--cash", cash)
    with cli_serving.refusing_data(sources):
        if kind == "sample":
            broker = sample_broker(cash=money)
        elif kind == "scripted":
            quotes = [cli_serving.standing_quote(q) for q in quote or ()]
            names = dict.fromkeys(["BTCUSDT", "ETHUSDT", *(q[0] for q in quotes)])
            broker = scripted_broker(names, cash=money, start_ns=WallClock().now_ns())
            for sym, bid, ask, size in quotes:
                broker.quote(sym, bid, ask, bid_size=size, ask_size=size)
        else:
            broker = data_broker(list(sources), symbol=symbol, cash=money)
        server = BinanceServer(
            broker,
            api_key=api_key,
            secret_key=secret,
            host=host,
            port=port,
            speed=speed,
            weight_per_minute=weight_limit,
            orders_per_10s=order_limit,
        )
    with server:
        served = ", ".join(broker.venue.markets)
        note = (
            f"serving {served} at {speed}x; ccxt: urls={{'api': ...}} at {server.base_url}; "
            "Ctrl-C stops"
        )
        cli_serving.serve_announced([server.base_url], [note], duration)
