"""The ``fillforge`` command line (typer + rich)."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated
from zoneinfo import ZoneInfo

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from fillforge import __version__
from fillforge.errors import ReplayError
from fillforge.replay import LobsterReport, lobster_sample, replay_cme, replay_lobster

if TYPE_CHECKING:
    from fillforge.demos.passive_buy import PassiveBuyReport

_NEW_YORK = ZoneInfo("America/New_York")

app = typer.Typer(help="fillforge: an order-execution engine.", no_args_is_help=True)
replay_app = typer.Typer(
    help="Replay real venue data through the order book.", no_args_is_help=True
)
app.add_typer(replay_app, name="replay")
serve_app = typer.Typer(
    help="Serve the simulated exchange through a broker's API.", no_args_is_help=True
)
app.add_typer(serve_app, name="serve")

console = Console()
JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]


def _fail(err: ReplayError) -> typer.Exit:
    console.print(f"[red]error:[/red] {err}")
    return typer.Exit(2)


def _lobster_table(title: str, r: LobsterReport) -> Table:
    t = Table(title=title, show_header=False)
    t.add_row("events replayed", f"{r.events:,}")
    t.add_row("levels checked against the true book", f"{r.checked_levels:,}")
    t.add_row("levels adopted as they came into view", f"{r.adopted_levels:,}")
    t.add_row("mismatches", f"[{'green' if r.ok else 'red'}]{r.mismatches:,}[/]")
    t.add_row("messages naming orders from before the file", f"{r.unknown_order_refs:,}")
    t.add_row(
        "executions at the head of their queue",
        f"{r.executions_at_queue_head:,} / {r.known_executions:,}",
    )
    t.add_row("messages/s end to end (read, parse, replay, check)", f"{r.msgs_per_s:,.0f}")
    t.add_row("messages/s once parsed (replay and check)", f"{r.replay_msgs_per_s:,.0f}")
    return t


def _print_mismatches(r: LobsterReport) -> None:
    for m in r.first_mismatches:
        console.print(
            f"  event {m.event}: {m.side} {m.price}: true book {m.expected}, replayed book {m.got}"
        )


@replay_app.command("lobster")
def replay_lobster_cmd(
    message_csv: Annotated[Path, typer.Argument(help="LOBSTER message file (.csv or .csv.gz).")],
    orderbook_csv: Annotated[Path, typer.Argument(help="Matching orderbook file.")],
    as_json: JsonFlag = False,
) -> None:
    """Replay a LOBSTER pair and check the book after every event; exit 1 on any mismatch."""
    try:
        r = replay_lobster(message_csv, orderbook_csv)
    except ReplayError as err:
        raise _fail(err) from err
    if as_json:
        print(json.dumps(r.to_dict()))
    else:
        console.print(_lobster_table(message_csv.name, r))
        _print_mismatches(r)
    if not r.ok:
        raise typer.Exit(1)


@replay_app.command("cme")
def replay_cme_cmd(
    mbo_csv: Annotated[Path, typer.Argument(help="Databento MBO CSV (.csv or .csv.gz).")],
    as_json: JsonFlag = False,
) -> None:
    """Replay CME market-by-order data; compare engine fills with the exchange's for each trade."""
    try:
        r = replay_cme(mbo_csv)
    except ReplayError as err:
        raise _fail(err) from err
    if as_json:
        print(json.dumps(r.to_dict()))
        return
    t = Table(title=mbo_csv.name, show_header=False)
    t.add_row("records", f"{r.records:,}")
    t.add_row("continuous-trading trades", f"{r.trades:,}")
    t.add_row("agreed (same makers, order and sizes)", f"{r.agreed:,} ({r.agreement:.2%})")
    t.add_row(
        "agreed where the data is unambiguous",
        f"{r.unambiguous_agreed:,} / {r.unambiguous_trades:,} ({r.unambiguous_agreement:.2%})",
    )
    for cause, n in sorted(r.residue.items()):
        t.add_row(f"  residue: {cause}", f"{n:,}")
    t.add_row("book crossed at an event end after the open", f"{r.crossed_after_open:,}")
    if r.final_best_bid is not None and r.final_best_ask is not None:
        scale = r.price_scale
        t.add_row(
            "final best bid / ask", f"{r.final_best_bid / scale} / {r.final_best_ask / scale}"
        )
    console.print(t)


@app.command()
def demo(
    qty: Annotated[int, typer.Option(help="Shares to buy.")] = 5_000,
    reprice_every: Annotated[int, typer.Option(help="Market events between reprices.")] = 100,
    as_json: JsonFlag = False,
) -> None:
    """Work a buy with resting limit orders on the shipped LOBSTER day (simulated exchange)."""
    from fillforge.demos.passive_buy import run_passive_buy

    if not as_json:
        console.print(
            f"Buying {qty:,} GOOG on Nasdaq 2012-06-21 (LOBSTER sample, 10 levels; data: LOBSTER, "
            "lobsterdata.com) with a resting limit at the best bid, repriced every "
            f"{reprice_every} market events, on fillforge's simulated exchange."
        )
    with Progress(
        TextColumn("replaying"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        disable=as_json,
        transient=True,
    ) as bar:
        task = bar.add_task("replay", total=None)
        r = run_passive_buy(
            qty,
            reprice_every,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
    if as_json:
        print(json.dumps(_demo_dict(r)))
        return
    fills = Table(title=f"fills ({len(r.fills)})")
    for col in ("time (New York)", "price", "qty", "liquidity"):
        fills.add_column(col)
    shown = r.fills if len(r.fills) <= 12 else (*r.fills[:6], None, *r.fills[-6:])
    for f in shown:
        if f is None:
            fills.add_row("...", "", "", "")
            continue
        when = datetime.fromtimestamp(f.ts_event / 1e9, _NEW_YORK).strftime("%H:%M:%S.%f")
        fills.add_row(when, str(f.price), str(f.qty), f.liquidity.value)
    console.print(fills)
    t = Table(title="execution", show_header=False)
    t.add_row("filled", f"{r.filled:,} of {r.target:,} ({r.fill_rate:.1%} fill rate)")
    t.add_row("orders sent / replaced", f"{r.orders} / {r.replaces}")
    t.add_row("average price", f"{r.avg_price}")
    t.add_row("arrival mid", f"{r.arrival_mid}")
    t.add_row("interval VWAP (recorded executions)", f"{r.interval_vwap}")
    t.add_row("slippage vs arrival mid", f"{r.slippage_vs_arrival_bps} bps")
    t.add_row("slippage vs interval VWAP", f"{r.slippage_vs_vwap_bps} bps")
    t.add_row("market events replayed", f"{r.messages:,} in {r.seconds:.2f} s")
    console.print(t)


def _demo_dict(r: PassiveBuyReport) -> dict[str, object]:
    return {
        "target": str(r.target),
        "filled": str(r.filled),
        "fill_rate": str(r.fill_rate),
        "fills": len(r.fills),
        "orders": r.orders,
        "replaces": r.replaces,
        "avg_price": str(r.avg_price),
        "arrival_mid": str(r.arrival_mid),
        "interval_vwap": str(r.interval_vwap),
        "slippage_vs_arrival_bps": str(r.slippage_vs_arrival_bps),
        "slippage_vs_vwap_bps": str(r.slippage_vs_vwap_bps),
        "messages": r.messages,
    }


@replay_app.command("check")
def replay_check_cmd() -> None:
    """Replay the shipped LOBSTER sample and check the book against the true book."""
    message, orderbook = lobster_sample()
    r = replay_lobster(message, orderbook)
    console.print(_lobster_table(message.name, r))
    _print_mismatches(r)
    if not r.ok:
        raise typer.Exit(1)
    console.print("[green]The replayed book matched the true book at every checked level.[/green]")


def _standing_quote(text: str) -> tuple[str, Decimal, Decimal, Decimal]:
    """``SYMBOL=BID/ASK[xSIZE]`` (size 1000 when left out); ValueError names what is wrong."""
    symbol, eq, rest = text.partition("=")
    prices, _, size = rest.partition("x")
    bid, slash, ask = prices.partition("/")
    try:
        parsed = (Decimal(bid), Decimal(ask), Decimal(size or "1000"))
    except ArithmeticError:
        parsed = None
    if not (symbol and eq and slash) or parsed is None:
        raise ValueError(f"{text!r}: expected SYMBOL=BID/ASK[xSIZE]")
    b, a, n = parsed
    if not all(x.is_finite() for x in parsed) or not (0 < b < a) or n <= 0:
        raise ValueError(f"{text!r}: needs 0 < bid < ask and a positive size")
    return symbol.upper(), b, a, n


@serve_app.command("alpaca")
def serve_alpaca(
    host: Annotated[str, typer.Option(help="Interface to bind (loopback by default).")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(help="Port; 0 picks a free one.")] = 0,
    data: Annotated[
        str, typer.Option(help="'lobster': the shipped GOOG day; 'scripted': AAPL, MSFT, SPY.")
    ] = "lobster",
    speed: Annotated[float, typer.Option(help="Simulation seconds per wall-clock second.")] = 1.0,
    rate_limit: Annotated[int, typer.Option(help="Requests per minute per key.")] = 200,
    key_id: Annotated[
        str | None, typer.Option(envvar="APCA_API_KEY_ID", help="Key id (or APCA_API_KEY_ID).")
    ] = None,
    secret_key: Annotated[
        str | None,
        typer.Option(
            envvar="APCA_API_SECRET_KEY",
            help="Secret (or APCA_API_SECRET_KEY).",
            show_envvar=True,
            show_default=False,
        ),
    ] = None,
    duration: Annotated[
        float | None, typer.Option(help="Stop after this many seconds (default: Ctrl-C).")
    ] = None,
    start: Annotated[
        str | None,
        typer.Option(
            help="With --data scripted: when the clock starts, ISO 8601 with a UTC offset, e.g. "
            "2024-06-04T10:00:00-04:00 (default: now)."
        ),
    ] = None,
    quote: Annotated[
        list[str] | None,
        typer.Option(
            help="With --data scripted: a standing quote SYMBOL=BID/ASK[xSIZE], e.g. "
            "AAPL=100.00/100.02x1000 (repeat for more symbols)."
        ),
    ] = None,
) -> None:
    """Serve an Alpaca-compatible Trading API v2 (REST + trade_updates) on the simulator."""
    import time

    from fillforge.alpaca import AlpacaServer, replay_broker, scripted_broker, wire

    if not key_id or not secret_key:
        console.print("[red]error:[/red] set APCA_API_KEY_ID and APCA_API_SECRET_KEY (or flags)")
        raise typer.Exit(2)
    if data not in ("lobster", "scripted"):
        console.print(f"[red]error:[/red] --data={data!r}: expected 'lobster' or 'scripted'")
        raise typer.Exit(2)
    if (quote or start) and data != "scripted":
        console.print("[red]error:[/red] --quote and --start need --data scripted")
        raise typer.Exit(2)
    start_ns = None
    if start is not None:
        try:
            when = datetime.fromisoformat(start)
        except ValueError:
            when = None
        if when is None or when.tzinfo is None:
            console.print(f"[red]error:[/red] --start={start!r}: expected ISO 8601 with an offset")
            raise typer.Exit(2)
        start_ns = wire.epoch_ns(when)
    try:
        quotes = [_standing_quote(q) for q in quote or ()]
    except ValueError as e:
        console.print(f"[red]error:[/red] --quote={escape(str(e))}")
        raise typer.Exit(2) from None
    symbols = dict.fromkeys(["AAPL", "MSFT", "SPY", *(q[0] for q in quotes)])
    broker = replay_broker() if data == "lobster" else scripted_broker(symbols, start_ns=start_ns)
    for symbol, bid, ask, size in quotes:
        broker.quote(symbol, bid, ask, bid_size=size, ask_size=size)
    server = AlpacaServer(
        broker,
        key_id=key_id,
        secret_key=secret_key,
        host=host,
        port=port,
        requests_per_minute=rate_limit,
        speed=speed,
    )
    with server:
        print(server.base_url, flush=True)
        print(server.stream_url, flush=True)
        served = ", ".join(broker.venue.markets)
        console.print(f"serving {served} at {speed}x; key id {key_id}; Ctrl-C stops", style="dim")
        try:
            if duration is None:
                while True:
                    time.sleep(3600)
            time.sleep(duration)
        except KeyboardInterrupt:
            pass


@app.command()
def version() -> None:
    """Print the version."""
    console.print(__version__)


def main() -> None:
    app()
