"""``fillforge serve binance``: the Binance-compatible spot server (registered by
:mod:`fillforge.cli`). The server's modules load when the command runs, not when the CLI
starts."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Annotated

import typer
from rich.console import Console

from fillforge.cli_errors import refuse
from fillforge.cli_serving import Duration, Host, Port, check_endpoint, serve_until_stopped

__all__ = ["serve_binance"]

console = Console(stderr=True)


def _decimal(flag: str, text: str) -> Decimal:
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise refuse(flag, text, "not a number") from None
    if not value.is_finite() or value <= 0:
        raise refuse(flag, text, "must be a finite number > 0")
    return value


def _standing_quote(text: str) -> tuple[str, Decimal, Decimal, Decimal]:
    """``SYMBOL=BID/ASK[xSIZE]`` (size: 1 unless given)."""
    symbol, _, prices = text.partition("=")
    prices, _, size = prices.partition("x")
    bid, _, ask = prices.partition("/")
    if not symbol or not bid or not ask:
        why = "expected SYMBOL=BID/ASK[xSIZE], e.g. BTCUSDT=30000.00/30000.10x2"
        raise refuse("--quote", text, why)
    amount = _decimal("--quote", size) if size else Decimal(1)
    return symbol.strip().upper(), _decimal("--quote", bid), _decimal("--quote", ask), amount


def serve_binance(
    host: Host = "127.0.0.1",
    port: Port = 0,
    data: Annotated[
        list[str] | None,
        typer.Option(
            help="'sample': the shipped BTCUSDT day (Tardis quotes and trades); 'scripted': "
            "BTCUSDT and ETHUSDT at --quote prices; or your own Tardis quotes and/or trades "
            "CSV (repeat --data for the second file)."
        ),
    ] = None,
    speed: Annotated[float, typer.Option(help="Simulation seconds per wall-clock second.")] = 1.0,
    quote: Annotated[
        list[str] | None,
        typer.Option(
            help="With --data scripted: a standing quote SYMBOL=BID/ASK[xSIZE] (size 1 unless "
            "given; repeat for more symbols)."
        ),
    ] = None,
    symbol: Annotated[
        str | None, typer.Option(help="With --data PATH: the symbol (default: the data's).")
    ] = None,
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
    duration: Duration = None,
) -> None:
    """Serve a Binance-compatible spot REST API on the simulator (for ccxt with ``urls``
    pointed at it); prints the base URL."""
    from fillforge.binance import BinanceServer, data_broker, sample_broker, scripted_broker
    from fillforge.errors import FillforgeError, MarketDataError
    from fillforge.time import WallClock

    if not api_key or not secret:
        raise refuse("--api-key", "", "set BINANCE_API_KEY and BINANCE_SECRET (or the flags)")
    check_endpoint(port, duration)
    if not speed > 0:
        raise refuse("--speed", speed, "must be > 0")
    for flag, limit in (("--weight-limit", weight_limit), ("--order-limit", order_limit)):
        if limit < 1:
            raise refuse(flag, limit, "must be >= 1")
    money = _decimal("--cash", cash)
    sources = data or ["sample"]
    kind = sources[0] if sources[0] in ("sample", "scripted") else "path"
    if kind != "path" and len(sources) > 1:
        raise refuse("--data", sources[0], "stands alone: give it once, with no other --data")
    if quote and kind != "scripted":
        raise refuse("--quote", quote[0], "needs --data scripted")
    if symbol and kind != "path":
        raise refuse("--symbol", symbol, "needs --data PATH")
    try:
        if kind == "sample":
            broker = sample_broker(cash=money)
        elif kind == "scripted":
            quotes = [_standing_quote(q) for q in quote or ()]
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
    except MarketDataError as e:
        raise refuse("--data", e.source, f"{e.field}={e.value!r}: {e.why}") from None
    except FillforgeError as e:
        raise refuse("--data", sources[0], str(e)) from None
    with server:
        print(server.base_url, flush=True)
        served = ", ".join(broker.venue.markets)
        console.print(
            f"serving {served} at {speed}x; ccxt: urls={{'api': ...}} at {server.base_url}; "
            "Ctrl-C stops",
            style="dim",
        )
        serve_until_stopped(duration)
