"""The ``fillforge run CONFIG`` command (registered by :mod:`fillforge.cli`): the configuration's
strategy and execution agent on the broker its mode names (:mod:`fillforge.run`), journalled,
with a live progress line, stopped cleanly by Ctrl-C or SIGTERM, and a summary that says what
each number means. A refused file or flag is one ``error:`` line and exit code 2."""

from __future__ import annotations

import json
import os
import re
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated, Any
from zoneinfo import ZoneInfo

import typer

from fillforge.cli_errors import refuse
from fillforge.cli_progress import Advance, progress
from fillforge.errors import TimeError
from fillforge.time import NS_PER_SECOND, from_iso, to_datetime

if TYPE_CHECKING:  # the command imports the agent when it runs, not when the CLI starts
    from fillforge.run import RunSession

__all__ = ["RUN_DIR", "backtest", "run"]

RUN_DIR = "fillforge-runs"
"""Where a run keeps its journal when neither ``--journal`` nor the file's ``journal`` names
one: ``./fillforge-runs/<config name>.journal``."""
_NEW_YORK = ZoneInfo("America/New_York")
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_SIGNAL_EXIT = {signal.SIGINT: 130, signal.SIGTERM: 143}


def _until(text: str) -> tuple[int | None, int | None]:
    """``--until`` as (an instant in ns, a duration in ns from the start): a duration (``90s``,
    ``5m``, ``2h``, ``1d``), a New York date (the end of that day) or an ISO 8601 time (New York
    when it gives no offset)."""
    body = text.strip()
    m = _DURATION.match(body)
    if m:
        span = int(Decimal(m[1]) * _UNIT_S[m[2]] * NS_PER_SECOND)
        if span <= 0:
            raise refuse("--until", text, "a duration must be > 0")
        return None, span
    try:
        if _DATE.match(body):
            return from_iso(f"{body}T23:59:59.999999999", "--until", naive_zone=_NEW_YORK), None
        return from_iso(body, "--until", naive_zone=_NEW_YORK), None
    except TimeError:
        raise refuse(
            "--until", text, "expected a duration (90s, 5m, 2h, 1d), a date or an ISO 8601 time"
        ) from None


def _journal_target(given: str | None, in_file: str | None, config: Path) -> str:
    """``--journal``, else the file's ``journal``, else ``./fillforge-runs/<name>.journal``;
    a path's directory is created."""
    target = given if given is not None else in_file
    if target is None:
        target = str(Path(RUN_DIR) / f"{config.stem}.journal")
    if target.startswith(("postgresql://", "postgres://")):
        return target
    if not target.strip():
        raise refuse("--journal", target, "give a path or a postgresql:// URL")
    try:
        Path(target).expanduser().parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise refuse("--journal", target, f"cannot create its directory: {e.strerror}") from None
    return str(Path(target).expanduser())


@contextmanager
def _stops(stop: Callable[[], None]) -> Iterator[list[int]]:
    """Ctrl-C and SIGTERM call ``stop`` (the run ends at its next step and finishes cleanly)
    instead of killing the process; the list holds the signals received."""
    got: list[int] = []

    def on_signal(signum: int, frame: FrameType | None) -> None:
        got.append(signum)
        stop()

    if threading.current_thread() is not threading.main_thread():  # a test's worker thread
        yield got
        return
    before = {s: signal.signal(s, on_signal) for s in _SIGNAL_EXIT}
    try:
        yield got
    finally:
        for s, handler in before.items():
            signal.signal(s, handler)


def _day(ns: int) -> str:
    return to_datetime(ns).astimezone(_NEW_YORK).date().isoformat()


def _money(x: Decimal, sign: bool = False) -> str:
    return f"{x:+,.2f}" if sign else f"{x:,.2f}"


def _bps(part: Decimal, whole: Decimal) -> str:
    return "n/a" if not whole else f"{part / whole * 10_000:+.2f} bps"


def _figures(
    session: RunSession, finished: dict[str, Any], ended: str, seed: int | None
) -> dict[str, Any]:
    """Every number of the summary, keyed as ``--json`` prints them (Decimals as text)."""
    from fillforge.agent.results import figure
    from fillforge.portfolio import metrics

    m = finished.get("metrics")
    t = session.tally
    result = session.result
    cfg = session.config
    final = m.equity if m is not None else session.start_equity
    ppy = cfg.backtest.periods_per_year if cfg.backtest else 252
    risk: dict[str, float | None] = {}
    if result is not None and len(result.equity) > 2:
        s = metrics.summary(result.returns(), annualization=float(ppy))
        risk = {
            "sharpe_ratio": figure(s.sharpe_ratio),
            "sortino_ratio": figure(s.sortino_ratio),
            "max_drawdown": figure(s.max_drawdown),
            "cagr": figure(s.cagr),
        }
    first_last = session.data_span()
    span = None if first_last is None else [_day(first_last[0]), _day(first_last[1])]
    return {
        "config": session.name,
        "mode": str(cfg.mode),
        "broker": session.where,
        "strategy": session.strategy_name,
        "strategy_params": {k: str(v) for k, v in session.strategy_params.items()},
        "strategy_default": session.default_strategy,
        "symbols": list(session.symbols),
        "data": span,
        "seed": seed,
        "ended": ended,
        "orders_sent": t.orders,
        "orders_filled": t.filled_orders,
        "orders_denied": dict(sorted(t.denied.items())),
        "open_orders_left": finished.get("open_orders", 0),
        "fills": t.fills,
        "shares_bought": str(t.bought),
        "shares_sold": str(t.sold),
        "notional_traded": str(t.notional),
        "starting_equity": str(session.start_equity),
        "final_equity": str(final),
        "pnl": str(final - session.start_equity),
        "realized_pnl": str(m.realized_pnl) if m is not None else None,
        "unrealized_pnl": str(m.unrealized_pnl) if m is not None else None,
        "fees_paid": str(m.fees_paid) if m is not None else None,
        "fees": str(t.fees),
        "slippage_vs_arrival": str(t.slippage),
        "positions": {k: str(v) for k, v in finished.get("positions", {}).items()},
        **risk,
    }


def _lines(f: dict[str, Any]) -> list[str]:
    """The summary for a person: every number with what it means."""
    params = ", ".join(f"{k}={v}" for k, v in f["strategy_params"].items())
    out = [
        f"fillforge run {f['config']}: mode {f['mode']} on the {f['broker']}"
        if f["broker"].startswith("simulated exchange")
        else f"fillforge run {f['config']}: mode {f['mode']} on {f['broker']}",
        f"strategy {f['strategy']}({params}) on {', '.join(f['symbols'])}"
        + (" (the file names no strategy: the default)" if f["strategy_default"] else ""),
    ]
    if f["seed"] is not None:
        out.append(f"seed {f['seed']} (Python's random and numpy's global generator)")
    if f["data"] is not None:
        out.append(f"data: the shipped daily bars, {f['data'][0]} to {f['data'][1]}")
    out.append(f"ended: {f['ended']}")
    denied = sum(f["orders_denied"].values())
    codes = ", ".join(f"{c} {n}" for c, n in f["orders_denied"].items())
    out += [
        "",
        f"orders sent          {f['orders_sent']:>14,}  (passed the risk gate)",
        f"orders filled        {f['orders_filled']:>14,}  (at least one fill)",
        f"orders denied        {denied:>14,}  (by the risk gate{': ' + codes if codes else ''})",
        f"open orders left     {f['open_orders_left']:>14,}  (left working at the broker)",
        f"fills                {f['fills']:>14,}  (executions)",
        f"shares bought / sold {f['shares_bought'] + ' / ' + f['shares_sold']:>14}",
        f"notional traded      {_money(Decimal(f['notional_traded'])):>14}",
        "",
        "P&L (positive = gain; baseline: the starting equity, kept in cash; "
        + (
            "P&L = realized + unrealized - fees)"
            if f["broker"].startswith("simulated exchange")
            else "realized, unrealized and fees below are the account's since it opened)"
        ),
        f"  starting equity    {_money(Decimal(f['starting_equity'])):>14}",
        f"  final equity       {_money(Decimal(f['final_equity'])):>14}",
        f"  P&L                {_money(Decimal(f['pnl']), True):>14}",
    ]
    if f["realized_pnl"] is not None:
        out += [
            f"    realized         {_money(Decimal(f['realized_pnl']), True):>14}",
            f"    unrealized       {_money(Decimal(f['unrealized_pnl']), True):>14}",
            f"    fees             {_money(-Decimal(f['fees_paid']), True):>14}",
        ]
    notional = Decimal(f["notional_traded"])
    fees, slip = Decimal(f["fees"]), Decimal(f["slippage_vs_arrival"])
    out += [
        "",
        "Costs (positive = paid; each against a baseline of 0)",
        f"  fees               {_money(fees):>14}  {_bps(fees, notional)} of notional; "
        "baseline: a venue that charges nothing",
        f"  slippage           {_money(slip, True):>14}  {_bps(slip, notional)} of notional; "
        "baseline: every fill at the arrival price (the last print when the order arrived); "
        "positive = bought above it or sold below it",
    ]
    risk = [k for k in ("sharpe_ratio", "sortino_ratio", "max_drawdown", "cagr") if k in f]
    if risk:
        out += ["", "Risk-adjusted (over the equity at each bar; max_drawdown <= 0, of the peak)"]
        for k in risk:
            v = f[k]
            out.append(f"  {k:<18} {'n/a' if v is None else f'{v:.4f}':>14}")
    if f["positions"]:
        out += ["", "positions at the end (shares, + long, - short)"]
        out += [f"  {s:<18} {q:>14}" for s, q in f["positions"].items()]
    return out


def run(
    config: Annotated[Path, typer.Argument(help="A YAML configuration file.")],
    journal: Annotated[
        str | None,
        typer.Option(
            help="The run's journal (a path or a postgresql:// URL; default: the file's "
            f"'journal', else ./{RUN_DIR}/<config name>.journal). A rerun on it recovers."
        ),
    ] = None,
    until: Annotated[
        str | None,
        typer.Option(
            help="Stop at this time on the broker's clock: a duration from the start (90s, 5m, "
            "2h, 1d), a New York date, or an ISO 8601 time (default: the end of the data; a "
            "paper or live account: Ctrl-C)."
        ),
    ] = None,
    url: Annotated[
        str | None,
        typer.Option(
            help="Mode paper: the Alpaca paper API at this address (a served local paper "
            "server), instead of the simulated exchange; keys from APCA_API_KEY_ID and "
            "APCA_API_SECRET_KEY."
        ),
    ] = None,
    seed: Annotated[
        int | None,
        typer.Option(
            min=0,
            help="Seed Python's random and numpy's global generator before the strategy is "
            "built (a strategy that draws from them repeats; the simulated exchange draws "
            "nothing).",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    no_progress: Annotated[
        bool, typer.Option("--no-progress", help="No progress bar (also off with --json).")
    ] = False,
) -> None:
    """Run the configuration's strategy and execution agent: mode simulation or paper on the
    simulated exchange (or --url), live on Alpaca; paper or live on the IB gateway of a
    `type: ibkr` broker block. Orders pass the file's risk limits and are journalled; Ctrl-C or
    SIGTERM stops cleanly; the summary says what each number means."""
    from fillforge.config.loading import ConfigFile
    from fillforge.config_cli import _read
    from fillforge.run import RunSession, check_runnable

    if url is not None and not re.match(r"^https?://[^\s/]+", url):
        raise refuse("--url", url, "expected an http(s) URL")
    loaded = _read(config)
    assert isinstance(loaded, ConfigFile)
    for line in check_runnable(loaded, url=url, env=os.environ):
        print(f"warning: {line}", file=sys.stderr)
    at_ns, span_ns = _until(until) if until is not None else (None, None)
    target = _journal_target(journal, loaded.config.journal, config)
    force = False if as_json or no_progress else None
    if seed is not None:
        import random

        import numpy as np

        random.seed(seed)
        np.random.seed(seed % 2**32)  # noqa: NPY002 - the global generator strategies draw from
    session = RunSession(loaded.config, journal=target, url=url, name=config.name)
    with _stops(session.stop) as got:
        session.start()
        try:
            _say_journal(target, session)
            if span_ns is not None:
                assert session.agent is not None
                at_ns = session.agent.broker.now_ns() + span_ns
            with progress(session.bars or None, "run", force=force) as advance:
                session.tick = lambda: advance(1, note=session.tally.note(session.pnl()))
                _run(session, advance, at_ns)
        finally:
            finished = session.finish()  # the journal closed, whatever ended the run
    ended = "the end of the data" if session.simulated else "the broker's stream ended"
    if got:
        ended = f"stopped by {signal.Signals(got[0]).name}"
    elif session.result is not None and session.result.stopped:
        ended = "the strategy stopped the run"
    elif at_ns is not None:
        ended = f"--until {until}"
    figures = _figures(session, finished, ended, seed)
    if as_json:
        print(json.dumps(figures, sort_keys=True))
    else:
        print("\n".join(_lines(figures)))
    if got:
        raise typer.Exit(_SIGNAL_EXIT.get(signal.Signals(got[0]), 1))


def _say_journal(target: str, session: RunSession) -> None:
    """Where the journal is and what the start recovered from it (stderr: the summary on
    stdout stays the same bytes for the same run)."""
    r = session.recovery
    shown = target if not target.startswith("postgres") else target.split("@")[-1]
    print(f"journal {shown}", file=sys.stderr)
    if r is not None and not r.first_start:
        print(r.text(), file=sys.stderr)


def _run(session: RunSession, advance: Advance, at_ns: int | None) -> None:
    """The run to its end; a paper or live run's progress line refreshed each second."""
    pulse = None if session.simulated else _pulse(session, advance)
    try:
        session.run(until_ns=at_ns)
    finally:
        if pulse is not None:
            pulse.set()


def _pulse(session: RunSession, advance: Advance) -> threading.Event:
    """A paper or live run: the progress line's orders, fills and P&L refreshed each second."""
    done = threading.Event()

    def loop() -> None:
        while not done.wait(1.0):
            advance(0, note=session.tally.note(session.pnl()))

    threading.Thread(target=loop, name="run-progress", daemon=True).start()
    return done


def backtest(
    config: Annotated[Path, typer.Argument(help="A YAML configuration with a strategy block.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    no_progress: Annotated[
        bool, typer.Option("--no-progress", help="No progress bar (also off with --json).")
    ] = False,
) -> None:
    """Backtest the configuration's strategy on the shipped daily bars; print the metrics
    (sharpe_ratio, sortino_ratio, max_drawdown, cagr, trades, final_equity)."""
    from fillforge import config_cli

    force = False if as_json or no_progress else None
    with progress(None, f"backtest {config.name}", force=force):
        config_cli.backtest(config, as_json)
