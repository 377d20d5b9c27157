"""What every ``fillforge serve ...`` command shares: the ``--host``, ``--port`` and
``--duration`` options, their checks (one line each, before anything starts), and serving until
the duration is over or Ctrl-C, its addresses and notes printed first
(:func:`serve_announced`); and what the venue servers on market data share (``serve
binance``, ``serve ibkr``, ``serve massive``): ``--speed``, ``--symbol``, ``--quote``
(:func:`standing_quote`), the checks of ``--data`` against them (:func:`data_kind`) and the
one-line refusal of data that cannot be read (:func:`refusing_data`)."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from decimal import Decimal
from typing import Annotated

import typer
from rich.console import Console

from fillforge.cli_errors import positive_decimal, refuse
from fillforge.errors import FillforgeError, MarketDataError

__all__ = [
    "DataSymbol",
    "Duration",
    "Host",
    "Port",
    "Quotes",
    "Speed",
    "check_endpoint",
    "data_kind",
    "refusing_data",
    "serve_announced",
    "serve_until_stopped",
    "standing_quote",
]

Host = Annotated[str, typer.Option(help="Interface to bind (loopback by default).")]
Port = Annotated[int, typer.Option(help="Port; 0 picks a free one.")]
Duration = Annotated[
    float | None, typer.Option(help="Stop after this many seconds (default: Ctrl-C).")
]
Speed = Annotated[float, typer.Option(help="Simulation seconds per wall-clock second.")]
DataSymbol = Annotated[
    str | None, typer.Option(help="With --data PATH: the symbol (default: the data's).")
]
Quotes = Annotated[
    list[str] | None,
    typer.Option(
        help="With --data scripted: a standing quote SYMBOL=BID/ASK[xSIZE] (size 1 unless "
        "given; repeat for more symbols)."
    ),
]


def check_endpoint(port: int, duration: float | None, *, stdout: bool = False) -> None:
    """Refuse a port outside [0, 65535] or a duration that is not a finite number of seconds
    >= 0, in one line (``stdout``: on stdout, as ``serve alpaca`` always has)."""
    if not 0 <= port <= 65535:
        raise refuse("--port", port, "must be in [0, 65535] (0 picks a free one)", stdout=stdout)
    if duration is not None and not (math.isfinite(duration) and duration >= 0):
        why = "must be a finite number of seconds >= 0"
        raise refuse("--duration", duration, why, stdout=stdout)


def standing_quote(text: str) -> tuple[str, Decimal, Decimal, Decimal]:
    """A ``--quote`` ``SYMBOL=BID/ASK[xSIZE]`` (size: 1 unless given)."""
    symbol, _, prices = text.partition("=")
    prices, _, size = prices.partition("x")
    bid, _, ask = prices.partition("/")
    if not symbol or not bid or not ask:
        why = "expected SYMBOL=BID/ASK[xSIZE], e.g. BTCUSDT=30000.00/30000.10x2"
        raise refuse("--quote", text, why)
    amount = positive_decimal("--quote", size) if size else Decimal(1)
    bid_price, ask_price = positive_decimal("--quote", bid), positive_decimal("--quote", ask)
    return symbol.strip().upper(), bid_price, ask_price, amount


def data_kind(
    sources: Sequence[str], speed: float, quote: Sequence[str] | None, symbol: str | None
) -> str:
    """What ``--data`` names, ``"sample"``, ``"scripted"`` or ``"path"``, after the checks that
    tie the other flags to it (``--speed`` > 0; ``sample`` and ``scripted`` stand alone;
    ``--quote`` needs ``scripted``, ``--symbol`` a path)."""
    if not speed > 0:
        raise refuse("--speed", speed, "must be > 0")
    kind = sources[0] if sources[0] in ("sample", "scripted") else "path"
    if kind != "path" and len(sources) > 1:
        raise refuse("--data", sources[0], "stands alone: give it once, with no other --data")
    if quote and kind != "scripted":
        raise refuse("--quote", quote[0], "needs --data scripted")
    if symbol and kind != "path":
        raise refuse("--symbol", symbol, "needs --data PATH")
    return kind


@contextmanager
def refusing_data(sources: Sequence[str]) -> Iterator[None]:
    """Market data that cannot be read (or a server that refuses it) as one ``--data`` line:
    the file and what is wrong in it, else the first ``--data`` and the error."""
    try:
        yield
    except MarketDataError as e:
        raise refuse("--data", e.source, f"{e.field}={e.value!r}: {e.why}") from None
    except FillforgeError as e:
        raise refuse("--data", sources[0], str(e)) from None


def serve_announced(
    addresses: Sequence[str],
    notes: Sequence[str],
    duration: float | None,
    *,
    console: Console | None = None,
) -> None:
    """What every ``serve`` command does once its server is up: print each address on stdout,
    one a line and flushed (what a script reads to connect), then each note dimmed for a person
    (on stderr unless ``console`` says otherwise), then serve until the duration is over or
    Ctrl-C."""
    for address in addresses:
        print(address, flush=True)
    out = Console(stderr=True) if console is None else console
    for note in notes:
        out.print(note, style="dim")
    serve_until_stopped(duration)


def serve_until_stopped(duration: float | None) -> None:
    """Return after ``duration`` seconds (None: never), or at Ctrl-C."""
    try:
        if duration is None:
            while True:
                time.sleep(3600)
        time.sleep(duration)
    except KeyboardInterrupt:
        pass
