"""``fillforge serve ibkr``: the local IB gateway (registered by :mod:`fillforge.cli`). The
gateway's modules load when the command runs, not when the CLI starts."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from fillforge.binance_cli import _decimal, _standing_quote
from fillforge.cli_errors import refuse
from fillforge.cli_serving import Duration, Host, check_endpoint, serve_until_stopped

__all__ = ["serve_ibkr"]

console = Console(stderr=True)


def serve_ibkr(
    host: Host = "127.0.0.1",
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
    symbol: Annotated[
        str | None, typer.Option(help="With --data PATH: the symbol (default: the data's).")
    ] = None,
    speed: Annotated[float, typer.Option(help="Simulation seconds per wall-clock second.")] = 1.0,
    quote: Annotated[
        list[str] | None,
        typer.Option(
            help="With --data scripted: a standing quote SYMBOL=BID/ASK[xSIZE] (size 1 unless "
            "given; repeat for more symbols)."
        ),
    ] = None,
    account: Annotated[str, typer.Option(help="The managed account's code.")] = "DU1234567",
    cash: Annotated[str, typer.Option(help="The account's starting cash (USD).")] = "1000000",
    duration: Duration = None,
) -> None:
    """Serve the TWS API socket protocol on the simulator (for ib_async: ``IB().connect(host,
    port, clientId)``); prints ``host:port``."""
    from decimal import Decimal

    from fillforge.errors import FillforgeError, MarketDataError
    from fillforge.ibkr import IbGateway, data_broker, sample_broker, scripted_broker
    from fillforge.time import WallClock

    check_endpoint(port, duration)
    if not speed > 0:
        raise refuse("--speed", speed, "must be > 0")
    sources = data or ["sample"]
    kind = sources[0] if sources[0] in ("sample", "scripted") else "path"
    if kind != "path" and len(sources) > 1:
        raise refuse("--data", sources[0], "stands alone: give it once, with no other --data")
    if quote and kind != "scripted":
        raise refuse("--quote", quote[0], "needs --data scripted")
    if symbol and kind != "path":
        raise refuse("--symbol", symbol, "needs --data PATH")
    if not account.isalnum():
        raise refuse("--account", account, "letters and digits only")
    money = _decimal("--cash", cash)
    quotes = [_standing_quote(q) for q in quote or ()]
    try:
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
    except MarketDataError as e:
        raise refuse("--data", e.source, f"{e.field}={e.value!r}: {e.why}") from None
    except FillforgeError as e:
        raise refuse("--data", sources[0], str(e)) from None
    try:
        gateway.start()
    except FillforgeError as e:
        raise refuse("--port", port, str(e)) from None
    try:
        print(f"{gateway.host}:{gateway.port}", flush=True)
        served = ", ".join(broker.venue.markets)
        console.print(
            f"serving {served} at {speed}x for account {account}; ib_async: "
            f"IB().connect('{gateway.host}', {gateway.port}, clientId=1); Ctrl-C stops",
            style="dim",
        )
        serve_until_stopped(duration)
    finally:
        gateway.stop()
