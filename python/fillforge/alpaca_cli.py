"""``fillforge serve alpaca`` (registered by :mod:`fillforge.cli`): an Alpaca-compatible Trading
API v2 on the simulator, with its data (the shipped LOBSTER day, scripted quotes or a random walk,
or the user's own files), its flags refused one line each before anything starts, and the
account optionally kept in a journal. The server's modules load when the command runs, not when
the CLI starts."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated
from zoneinfo import ZoneInfo

import typer
from rich.console import Console

from fillforge.cli_errors import refuse, say_error
from fillforge.cli_serving import (
    Duration,
    Host,
    Port,
    Speed,
    check_endpoint,
    serve_announced,
)
from fillforge.errors import TimeError
from fillforge.time import NS_PER_DAY, WallClock, from_iso, from_seconds, to_datetime

__all__ = ["serve_alpaca"]

_NEW_YORK = ZoneInfo("America/New_York")
console = Console()


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
    speed: Speed = 1.0,
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
        notes = []
        if kept is not None:
            notes.append(f"journal {kept.journal.name}: {restored.summary()}")
        if monitor:
            where = server.base_url
            notes.append(f"monitor: {where}/monitor, metrics: {where}/metrics")
        served = ", ".join(broker.venue.markets)
        notes.append(f"serving {served} at {speed}x; key id {key_id}; Ctrl-C stops")
        if walk_end is not None:
            until = to_datetime(walk_end).astimezone(_NEW_YORK).isoformat(timespec="seconds")
            notes.append(f"the walk is drawn until {until}; then its last quotes stand")
        addresses = [server.base_url, server.stream_url]
        serve_announced(addresses, notes, duration, console=console)
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
