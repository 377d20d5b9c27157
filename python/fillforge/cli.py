"""The ``fillforge`` command line (typer + rich)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

import typer
from rich.console import Console
from rich.table import Table

from fillforge import __version__, config_cli, execution_cli, journal_cli, sweep_cli
from fillforge.cli_errors import DEBUG_ENV, OneLineErrors, refuse, say_error
from fillforge.cli_progress import progress
from fillforge.cli_serving import Duration, Host, Port, check_endpoint, serve_until_stopped
from fillforge.errors import ReplayError, TimeError
from fillforge.replay import LobsterReport, lobster_sample, replay_cme, replay_lobster
from fillforge.time import NS_PER_DAY, WallClock, from_iso, from_seconds, to_datetime

_NEW_YORK = ZoneInfo("America/New_York")

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
NoProgress = Annotated[
    bool, typer.Option("--no-progress", help="No progress bar (also off with --json).")
]


def _bar(as_json: bool, no_progress: bool) -> bool | None:
    """A progress bar's ``force``: never with ``--json`` or ``--no-progress``, else when the
    output is a terminal (:func:`fillforge.cli_progress.shown`)."""
    return False if as_json or no_progress else None


def _fail(err: ReplayError) -> typer.Exit:
    say_error(str(err))
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
    no_progress: NoProgress = False,
) -> None:
    """Replay a LOBSTER pair and check the book after every event; exit 1 on any mismatch."""
    try:
        with progress(None, f"replay {message_csv.name}", force=_bar(as_json, no_progress)):
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
    no_progress: NoProgress = False,
) -> None:
    """Replay CME market-by-order data; compare engine fills with the exchange's for each trade."""
    try:
        with progress(None, f"replay {mbo_csv.name}", force=_bar(as_json, no_progress)):
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
app.command("sweep")(sweep_cli.sweep)
from fillforge import run_cli  # noqa: E402 - registered here, beside the others

app.command("run")(run_cli.run)
app.command("backtest")(run_cli.backtest)
from fillforge import report_cli  # noqa: E402 - registered here, beside the others

app.command("report")(report_cli.report)
from fillforge import tca_cli  # noqa: E402 - registered here, beside the others

app.command("tca")(tca_cli.tca_command)


@replay_app.command("check")
def replay_check_cmd(no_progress: NoProgress = False) -> None:
    """Replay the shipped LOBSTER sample and check the book against the true book."""
    message, orderbook = lobster_sample()
    with progress(None, f"replay {message.name}", force=_bar(False, no_progress)):
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


def _bad(flag: str, value: object, why: str) -> typer.Exit:
    """``error: --flag=value: why`` on one line, and exit code 2 (``serve alpaca``'s
    refusals: on stdout, where its callers have always read them)."""
    return refuse(flag, value, why, stdout=True)


def _positive_decimal(flag: str, text: str, *, zero: bool = False) -> Decimal:
    try:
        value = Decimal(text.strip())
    except ArithmeticError:
        raise _bad(flag, text, "not a number") from None
    if not value.is_finite():
        raise _bad(flag, text, "must be a finite number")
    if value < 0 or (value == 0 and not zero):
        raise _bad(flag, text, "must be >= 0" if zero else "must be > 0")
    return value


def _ranged_float(flag: str, text: str, low: float, high: float, *, percent: bool = False) -> float:
    body = text.strip()
    scale = 1.0
    if percent and body.endswith("%"):
        body, scale = body[:-1], 0.01
    try:
        value = float(body) * scale
    except ValueError:
        raise _bad(flag, text, "not a number") from None
    above = value > low if low == 0 else value >= low
    if not (above and value <= high):  # NaN fails this too
        why = f"must be in (0, {high:g}]" if low == 0 else f"must be in [{low:g}, {high:g}]"
        raise _bad(flag, text, why)
    return value


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise _bad("--seed", text, "not an integer") from None
    if value < 0:
        raise _bad("--seed", text, "must be a non-negative integer")
    return value


_SCRIPTED = ("AAPL", "MSFT", "SPY")
# The walk is drawn at start: for --duration x --speed of simulated time (a day without
# --duration, a margin on top), and at most this many steps per symbol.
_WALK_MARGIN_S = 5.0
_WALK_MAX_EVENTS = 500_000


@serve_app.command("alpaca")
def serve_alpaca(
    host: Host = "127.0.0.1",
    port: Port = 0,
    data: Annotated[
        list[str] | None,
        typer.Option(
            help="'lobster': the shipped GOOG day; 'scripted': AAPL, MSFT, SPY; or the path of "
            "your own data: a bars CSV, a Tardis quotes and/or trades CSV, a LOBSTER message "
            "(+ orderbook) file, a Databento MBO CSV or DBN (repeat --data for a second file)."
        ),
    ] = None,
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
    duration: Duration = None,
    start: Annotated[
        str | None,
        typer.Option(
            help="With --data scripted or a path: when the clock starts, ISO 8601 with a UTC "
            "offset, e.g. 2024-06-04T10:00:00-04:00 (default: now; a path: its first message)."
        ),
    ] = None,
    quote: Annotated[
        list[str] | None,
        typer.Option(
            help="With --data scripted: a standing quote SYMBOL=BID/ASK\\[xSIZE], e.g. "
            "AAPL=100.00/100.02x1000 (repeat for more symbols); with --walk, where it starts."
        ),
    ] = None,
    walk: Annotated[
        bool,
        typer.Option(
            "--walk",
            help="With --data scripted: every symbol's quotes and trades follow a seeded random "
            "walk from its --quote (default 100.00/100.01x1000).",
        ),
    ] = False,
    volatility: Annotated[
        str | None,
        typer.Option(
            help="With --walk: annualised volatility over 252 days of 6.5 hours, as a fraction "
            "or a percentage (0.2 or 20%; default 0.2; at most 10)."
        ),
    ] = None,
    rate: Annotated[
        str | None,
        typer.Option(
            help="With --walk: steps per second of simulated time (default 1; 0.001 to 1000)."
        ),
    ] = None,
    data_format: Annotated[
        str | None,
        typer.Option(
            "--format",
            help="With --data PATH: bars, tardis, lobster or mbo (default: recognised from the "
            "file).",
        ),
    ] = None,
    symbol: Annotated[
        str | None,
        typer.Option(
            help="With --data PATH: the symbol to serve it as (default: the one the data names; "
            "a bars file names none)."
        ),
    ] = None,
    tick: Annotated[
        str | None, typer.Option(help="With --data PATH: the price tick (default 0.01).")
    ] = None,
    lot: Annotated[
        str | None,
        typer.Option(help="With --data PATH: the quantity lot (default 1; LOBSTER: 1)."),
    ] = None,
    cash: Annotated[str, typer.Option(help="The account's starting cash.")] = "100000",
    seed: Annotated[
        str | None,
        typer.Option(
            help="Seeds the walk and the order ids: the same seed, the same run (default: fresh)."
        ),
    ] = None,
    calendar: Annotated[
        str,
        typer.Option(
            help="The venue's sessions: an exchange_calendars name (XNYS, XLON, CMES, ...) or "
            "24/7 for markets that always trade, such as crypto. Outside a session, orders wait "
            "for the next open."
        ),
    ] = "XNYS",
    journal: Annotated[
        str | None,
        typer.Option(
            help="Keep the account in this journal (a path, a postgresql:// URL, or 'default': "
            "$FILLFORGE_STATE_DIR/alpaca-paper.journal); a restart on it resumes the account "
            "(docs/alpaca-durable.md)."
        ),
    ] = None,
    monitor: Annotated[
        bool,
        typer.Option(
            "--monitor",
            help="Also serve the live monitoring page at /monitor and Prometheus metrics at "
            "/metrics.",
        ),
    ] = False,
) -> None:
    """Serve an Alpaca-compatible Trading API v2 (REST + trade_updates) on the simulator."""

    from fillforge.alpaca import AlpacaServer
    from fillforge.alpaca.paper import data_broker, replay_broker, scripted_broker, walk_broker
    from fillforge.errors import FillforgeError, MarketDataError, SimulationError
    from fillforge.orders.models import Instrument
    from fillforge.sim.broker import SimulatedBroker
    from fillforge.sim.calendar import TradingCalendar
    from fillforge.sim.datafiles import DataFormat, market_files
    from fillforge.sim.walk import MAX_RATE, MAX_VOLATILITY, MIN_RATE, WalkConfig

    if not key_id or not secret_key:
        say_error("set APCA_API_KEY_ID and APCA_API_SECRET_KEY (or flags)", stdout=True)
        raise typer.Exit(2)
    _serve_flags(host, port, speed, rate_limit, duration)
    sources = data or ["lobster"]
    named = [d for d in sources if d in ("lobster", "scripted")]
    if named and len(sources) > 1:
        raise _bad("--data", named[0], "stands alone: give it once, with no other --data")
    kind = named[0] if named else "path"
    if kind == "lobster" and (quote or start):
        say_error("--quote and --start need --data scripted", stdout=True)
        raise typer.Exit(2)
    if kind != "scripted":
        if quote:
            raise _bad("--quote", quote[0], "needs --data scripted")
        for flag, given in (("--walk", walk), ("--volatility", volatility), ("--rate", rate)):
            if given:
                raise _bad("--data", sources[0], f"{flag} needs --data scripted")
    elif not walk:
        for flag, value in (("--volatility", volatility), ("--rate", rate)):
            if value is not None:
                raise _bad(flag, value, "needs --walk")
    if kind != "path":
        for flag, value in (
            ("--format", data_format),
            ("--symbol", symbol),
            ("--tick", tick),
            ("--lot", lot),
        ):
            if value is not None:
                raise _bad(flag, value, "needs --data PATH (a data file)")
    start_ns = None
    if start is not None:
        try:
            start_ns = from_iso(start, "--start")
        except TimeError:
            raise _bad("--start", start, "expected ISO 8601 with an offset") from None
    try:
        sessions = TradingCalendar(calendar)
        _ = sessions.tz  # builds the sessions: a calendar that cannot is refused here
    except SimulationError as e:
        raise _bad("--calendar", calendar, f"{e.why} (e.g. XNYS, XLON, CMES, 24/7)") from None
    starting_cash = _positive_decimal("--cash", cash, zero=True)
    run_seed = None if seed is None else _seed(seed)
    try:
        quotes = [_standing_quote(q) for q in quote or ()]
    except ValueError as e:
        say_error(f"--quote={e}", stdout=True)
        raise typer.Exit(2) from None
    vol = (
        0.2
        if volatility is None
        else _ranged_float("--volatility", volatility, 0, MAX_VOLATILITY, percent=True)
    )
    steps = 1.0 if rate is None else _ranged_float("--rate", rate, MIN_RATE, MAX_RATE)
    kept = None
    if journal is not None:  # the journal's seed and start, or the ones it now records
        from fillforge.alpaca.durable import open_served

        shape = dict(data=sources, quote=quote or [], walk=walk, volatility=volatility, rate=rate)
        shape |= dict(format=data_format, symbol=symbol, tick=tick, lot=lot, cash=cash)
        shape |= dict(calendar=calendar)
        try:
            kept = open_served(journal, shape, run_seed, start_ns, fresh=kind == "scripted")
        except FillforgeError as e:
            raise _bad(*_journal_refusal(journal, e)) from None
        run_seed, start_ns = kept.setup.seed, kept.setup.start_ns

    broker: SimulatedBroker
    walk_end: int | None = None
    if kind == "lobster":
        broker = replay_broker(cash=starting_cash, seed=run_seed, calendar=sessions.name)
    elif kind == "scripted" and not walk:
        symbols = dict.fromkeys([*_SCRIPTED, *(q[0] for q in quotes)])
        broker = scripted_broker(
            symbols, cash=starting_cash, seed=run_seed, start_ns=start_ns, calendar=sessions.name
        )
        for text, (sym, bid, ask, size) in zip(quote or (), quotes, strict=True):
            try:
                broker.quote(sym, bid, ask, bid_size=size, ask_size=size)
            except FillforgeError as e:
                raise _bad("--quote", text, _why(e)) from None
    elif kind == "scripted":
        configs = {s: WalkConfig(volatility=vol, rate=steps) for s in _SCRIPTED}
        cents = Instrument(symbol="GRID", tick_size=Decimal("0.01"), lot_size=Decimal("1e-9"))
        for text, (sym, bid, ask, size) in zip(quote or (), quotes, strict=True):
            try:
                cents.to_ticks(bid, "bid")
                cents.to_ticks(ask, "ask")
                cents.to_lots(size, "size")
                configs[sym] = WalkConfig(bid=bid, ask=ask, size=size, volatility=vol, rate=steps)
            except FillforgeError as e:
                raise _bad("--quote", text, _why(e)) from None
        t0 = WallClock().now_ns() if start_ns is None else start_ns
        span = NS_PER_DAY if duration is None else from_seconds((duration + _WALK_MARGIN_S) * speed)
        try:
            broker = walk_broker(
                configs,
                end_ns=t0 + span,
                cash=starting_cash,
                seed=run_seed,
                start_ns=t0,
                calendar=sessions.name,
                max_events=_WALK_MAX_EVENTS,
            )
        except FillforgeError as e:  # the checks above leave nothing for here to refuse
            raise _bad("--walk", True, _why(e)) from None
        walk_end = max(int(m.feed.columns()[0][-1]) for m in broker.venue.markets.values())
    else:
        tick_size = Decimal("0.01") if tick is None else _positive_decimal("--tick", tick)
        lot_size = Decimal(1) if lot is None else _positive_decimal("--lot", lot)
        fmt = None
        if data_format is not None:
            if data_format not in tuple(DataFormat):
                raise _bad("--format", data_format, "expected bars, tardis, lobster or mbo")
            fmt = DataFormat(data_format)
        try:
            files = market_files(list(sources), fmt)
        except MarketDataError as e:
            raise _bad("--data", e.source, _data_why(e)) from None
        name = (symbol or files.symbol or "").strip().upper()
        if not name:
            why = f"{files.format.value} data names no symbol: give --symbol"
            raise _bad("--data", sources[0], why)
        try:
            instrument = Instrument(symbol=name, tick_size=tick_size, lot_size=lot_size)
        except FillforgeError as e:
            raise _bad("--symbol", name, str(e)) from None
        try:
            broker = data_broker(
                files,
                instrument,
                cash=starting_cash,
                seed=run_seed,
                start_ns=start_ns,
                calendar=sessions.name,
            )
        except MarketDataError as e:
            why = _data_why(e) + " (--tick and --lot set the grids)"
            raise _bad("--data", e.source, why) from None
        except (FillforgeError, OSError, ValueError) as e:
            raise _bad("--data", sources[0], str(e)) from None
    server = AlpacaServer(
        broker,
        key_id=key_id,
        secret_key=secret_key,
        host=host,
        port=port,
        requests_per_minute=rate_limit,
        speed=speed,
    )
    if kept is not None:
        try:
            restored = kept.restore(server)
        except FillforgeError as e:
            kept.close()
            raise _bad(*_journal_refusal(journal, e)) from None
    with server:
        if monitor:
            from fillforge.monitor.page import attach

            try:
                attach(server)
            except FillforgeError as e:
                raise _bad("--monitor", True, _why(e)) from None
        print(server.base_url, flush=True)
        print(server.stream_url, flush=True)
        if kept is not None:
            console.print(f"journal {kept.journal.name}: {restored.summary()}", style="dim")
        if monitor:
            where = server.base_url
            console.print(f"monitor: {where}/monitor, metrics: {where}/metrics", style="dim")
        served = ", ".join(broker.venue.markets)
        console.print(f"serving {served} at {speed}x; key id {key_id}; Ctrl-C stops", style="dim")
        if walk_end is not None:
            until = to_datetime(walk_end).astimezone(_NEW_YORK).isoformat(timespec="seconds")
            console.print(
                f"the walk is drawn until {until}; then its last quotes stand", style="dim"
            )
        serve_until_stopped(duration)
    if kept is not None:
        kept.close()


def _journal_refusal(journal: str | None, e: Exception) -> tuple[str, object, str]:
    """A journal's refusal as (flag, value, why): an option that differs from the journal's
    names that option; anything else names --journal."""
    field, value, why = (getattr(e, a, None) for a in ("field", "value", "why"))
    if isinstance(field, str) and field.startswith("--"):
        return field, value, str(why)
    return "--journal", journal, str(e) if why is None else f"{field} {value}: {why}"


def _serve_flags(
    host: str, port: int, speed: float, rate_limit: int, duration: float | None
) -> None:
    """The server's own flags, refused before anything starts (one line each)."""
    import math
    import socket

    check_endpoint(port, duration, stdout=True)
    if not (math.isfinite(speed) and speed > 0):
        raise _bad("--speed", speed, "must be a positive finite factor")
    if rate_limit < 1:
        raise _bad("--rate-limit", rate_limit, "must be at least 1 request per minute")
    try:  # the address is free and ours to bind (uvicorn would say so in a log traceback)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    except (OSError, OverflowError) as e:
        why = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        raise _bad("--host", host, f"cannot serve on port {port}: {why}") from None


def _why(e: Exception) -> str:
    """A validation error's field, value and reason, the value as given (not its repr)."""
    field, value, why = (getattr(e, a, None) for a in ("field", "value", "why"))
    return str(e) if why is None else f"{field} {value}: {why}"


def _data_why(e: object) -> str:
    """A MarketDataError's message without its file name (the flag's value says it)."""
    line, field, value, why = (getattr(e, a) for a in ("line", "field", "value", "why"))
    where = f"line {line}: " if line is not None else ""
    if field == "path":
        return f"{where}{why}"
    return f"{where}{field}={value!r}: {why}"


@app.command()
def version() -> None:
    """Print the version."""
    console.print(__version__)


def main() -> None:
    app()
