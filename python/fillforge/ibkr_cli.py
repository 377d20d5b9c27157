"""``fillforge serve ibkr``: the local IB gateway (registered by :mod:`fillforge.cli`). The
gateway's modules load when the command runs, not when the CLI starts."""

from __future__ import annotations

from typing import Annotated

import typer

from fillforge import cli_serving
from fillforge.cli_errors import positive_decimal, refuse

__all__ = ["serve_ibkr"]


def serve_ibkr(
    host: cli_serving.Host = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port; 0 picks a free one (TWS paper: 7497).")] = 0,
    data: Annotated[
        list[str] | None,
        typer.Option(
            help="'sample': GOOG on the shipped LOBSTER day (2012-06-21); 'scripted': the "
            "--quote symbols (AAPL and MSFT unless given) at standing quotes; or your own "
            "market-data files (bars, Tardis quotes/trades, LOBSTER, Databento MBO; repeat "
            "--data for a second file)."
        ),
    ] = None,
    symbol: cli_serving.DataSymbol = None,
    speed: cli_serving.Speed = 1.0,
    quote: cli_serving.Quotes = None,
    account: Annotated[str, typer.Option(help="The managed account's code.")] = "DU1234567",
    cash: Annotated[str, typer.Option(help="The account's starting cash (USD).")] = "1000000",
    duration: cli_serving.Duration = None,
) -> None:
    """Serve the TWS API socket protocol on the simulator (for ib_async: ``IB().connect(host,
    port, clientId)``); prints ``host:port``."""
    from decimal import Decimal

    from fillforge.errors import FillforgeError
    from fillforge.ibkr import IbGateway, data_broker, sample_broker, scripted_broker
    from fillforge.time import WallClock

    cli_serving.check_endpoint(port, duration)
    sources = data or ["sample"]
    kind = cli_serving.data_kind(sources, speed, quote, symbol)
    if not account.isalnum():
        raise refuse("--account", account, "letters and digits only")
    money = positive_decimal("--cash", cash)
    quotes = [cli_serving.standing_quote(q) for q in quote or ()]
    with cli_serving.refusing_data(sources):
        if kind == "sample":
            broker = sample_broker(cash=money)
        elif kind == "path":
            broker = data_broker(list(sources), symbol=symbol, cash=money)
        else:
            if not quotes:
                quotes = [
                    ("AAPL", Decimal("190.00"), Decimal("190.02"), Decimal(100)),
                    ("MSFT", Decimal("410.00"), Decimal("410.05"), Decimal(100)),
                ]
            names = list(dict.fromkeys(q[0] for q in quotes))
            broker = scripted_broker(names, cash=money, start_ns=WallClock().now_ns())
            for sym, bid, ask, size in quotes:
                broker.quote(sym, bid, ask, bid_size=size, ask_size=size)
        gateway = IbGateway(broker, host=host, port=port, account=account, speed=speed)
    try:
        gateway.start()
    except FillforgeError as e:
        raise refuse("--port", port, str(e)) from None
    try:
        served = ", ".join(broker.venue.markets)
        note = (
            f"serving {served} at {speed}x for account {account}; ib_async: "
            f"IB().connect('{gateway.host}', {gateway.port}, clientId=1); Ctrl-C stops"
        )
        cli_serving.serve_announced([f"{gateway.host}:{gateway.port}"], [note], duration)
    finally:
        gateway.stop()
