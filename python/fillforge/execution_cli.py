"""The ``fillforge execute`` and ``fillforge demo`` commands (registered by :mod:`fillforge.cli`):
one parent order worked by one policy, or the seven-policy comparison, on the shipped LOBSTER
day or a given LOBSTER pair."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from fillforge.cli_progress import progress
from fillforge.errors import (
    ExecutionError,
    FillforgeError,
    InsufficientBuyingPowerError,
    InternalError,
    OrderError,
)
from fillforge.time import to_datetime

if TYPE_CHECKING:  # the commands import the simulator when they run, not when the CLI starts
    from fillforge.demos.policies import Day, PolicyRun

__all__ = ["demo", "execute"]

SIGN = "positive bps = cost (paid above the benchmark on a buy, below it on a sell)"
_DEMO_KEYS = (
    "filled_qty",
    "avg_price",
    "arrival_bps",
    "vwap_bps",
    "is_bps",
    "fill_rate",
    "duration_s",
)
_EXEC_KEYS = (
    "filled_qty",
    "leaves_qty",
    "avg_price",
    "arrival_bps",
    "vwap_bps",
    "is_bps",
    "fill_rate",
    "participation",
    "duration_s",
)
_out = Console()
_err = Console(stderr=True)


def _refuse(field: str, value: object, why: str) -> typer.Exit:
    """``error: --field=value: why`` on one line of stderr, and exit code 2."""
    _err.print(f"[red]error:[/red] {escape(f'--{field}={value!r}: {why}')}", soft_wrap=True)
    return typer.Exit(2)


def _unaffordable(qty: object, e: OrderError) -> typer.Exit:
    """A child the simulated broker refused: the parent's size is what the flags can change
    (``--qty``, one line), not the child's own field."""
    if isinstance(e, InsufficientBuyingPowerError):
        why = f"more than the simulated account's {e.available} buys (a child needs {e.needed})"
    else:
        why = f"the simulated broker refused a child order: {getattr(e, 'why', None) or e}"
    return _refuse("qty", qty, why)


def _iso(ns: int) -> str:
    from fillforge.demos.policies import VENUE_TZ

    return to_datetime(ns).astimezone(VENUE_TZ).isoformat()


def _row(run: PolicyRun, keys: tuple[str, ...]) -> dict[str, object]:
    from fillforge.demos.policies import VENUE_TZ
    from fillforge.execution.cost import cost_rows

    row = cost_rows([run.cost], VENUE_TZ)[0]
    return {"name": run.name, **{k: row[k] for k in keys}}


def _day(data: list[Path] | None) -> Day:
    from fillforge.demos.policies import Day

    if not data:
        return Day()
    if len(data) != 2:
        raise _refuse(
            "data", [str(p) for p in data], "give the message file and the orderbook file"
        )
    for p in data:
        if not p.is_file():
            raise _refuse("data", str(p), "no such file")
    try:
        return Day((data[0], data[1]))
    except (FillforgeError, OSError, ValueError) as e:
        raise _refuse("data", str(data[0]), str(e)) from None


def execute(
    policy: Annotated[
        str, typer.Option(help="market, limit, adaptive, twap, vwap, pov, iceberg or is.")
    ],
    qty: Annotated[str, typer.Option(help="Shares (a whole number of lots).")],
    side: Annotated[str, typer.Option(help="buy or sell.")] = "buy",
    start: Annotated[
        str, typer.Option(help="Start, HH:MM in the venue's time (New York).")
    ] = "09:35",
    end: Annotated[str, typer.Option(help="End, HH:MM in the venue's time (New York).")] = "15:55",
    rate: Annotated[
        str, typer.Option(help="POV's share of the printed volume, in (0, 1].")
    ] = "0.1",
    slices: Annotated[
        int, typer.Option(help="Children of a schedule (an iceberg shows qty/slices).")
    ] = 78,
    limit: Annotated[str | None, typer.Option(help="The parent's limit price.")] = None,
    data: Annotated[
        list[Path] | None,
        typer.Option(help="A LOBSTER message file and its orderbook file (give --data twice)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Work one parent order by one policy on the shipped LOBSTER day (simulated exchange)."""
    from fillforge.demos.policies import make_params, run_policy

    try:
        params = make_params(policy, side, qty, start, end, rate, slices, limit)
    except ExecutionError as e:
        raise _refuse(e.field, e.value, e.why) from None
    day = _day(data)
    try:
        run = run_policy(params, day)
    except ExecutionError as e:
        raise _refuse(e.field, e.value, e.why) from None
    except OrderError as e:
        raise _unaffordable(qty, e) from None
    except InternalError as e:
        _err.print(f"[red]simulator error:[/red] {escape(str(e))}", soft_wrap=True)
        raise typer.Exit(1) from None
    out = _row(run, _EXEC_KEYS)
    out["how"] = run.how
    out["sign"] = SIGN
    baselines = _baselines(run)
    out["baselines"] = baselines
    out["start"] = _iso(run.cost.start_ns)
    out["end"] = _iso(run.cost.end_ns)
    out["children"] = [
        {
            "client_order_id": c.client_order_id,
            "time": _iso(c.sent_ns),
            "type": c.type,
            "limit_price": None if c.limit_price is None else str(c.limit_price),
            "qty": str(c.qty),
            "filled_qty": str(c.filled_qty),
            "status": c.status,
        }
        for c in run.children
    ]
    out["fills"] = [
        {
            "time": _iso(f.ts_event),
            "price": str(f.price),
            "qty": str(f.qty),
            "liquidity": f.liquidity.value,
        }
        for f in run.fills
    ]
    if as_json:
        print(json.dumps(out))
        return
    t = Table(
        title=f"{run.name}: {params.side.value} {params.qty} on {day.date}", show_header=False
    )
    t.add_row("how", run.how)
    for key in (*_EXEC_KEYS, "start", "end"):
        shown = str(out[key])
        if key in _AGAINST and out[key] is not None:
            shown += f" (vs {_AGAINST[key]} {baselines[key]})"
        t.add_row(key, shown)
    t.add_row("children / fills", f"{len(run.children)} / {len(run.fills)}")
    _out.print(t)
    _out.print(f"{SIGN}; IS marks the unfilled rest at the end's price")


# What each cost in bps is measured against, named next to its figure (the price: "baselines").
_AGAINST = {
    "arrival_bps": "arrival, the mid at the decision,",
    "vwap_bps": "the interval's VWAP",
    "is_bps": "the decision price",
}


def _baselines(run: PolicyRun) -> dict[str, str | None]:
    """The price each bps figure is measured against (JSON: ``baselines``)."""
    from fillforge.execution.cost import cost_rows

    row = cost_rows([run.cost])[0]
    return {
        "arrival_bps": row["arrival_price"],
        "vwap_bps": row["interval_vwap"],
        "is_bps": row["decision_price"],
    }


# The demo's columns: (header, row key, how the value is shown). Headers are words no wider
# than their values, so rich wraps a header onto two lines rather than widening its column.
_DEMO_COLUMNS: tuple[tuple[str, str, Callable[[object], str]], ...] = (
    ("filled", "filled_qty", lambda v: f"{Decimal(str(v)):,}"),
    ("avg price", "avg_price", lambda v: _places(v, "0.01")),
    ("arrival bps", "arrival_bps", lambda v: _places(v, "0.01")),
    ("VWAP bps", "vwap_bps", lambda v: _places(v, "0.01")),
    ("IS bps", "is_bps", lambda v: _places(v, "0.01")),
    ("fill rate", "fill_rate", str),
    ("minutes", "duration_s", lambda v: _places(Decimal(str(v)) / 60, "0.1")),
)


def _places(value: object, quantum: str) -> str:
    """``value`` rounded half-even to ``quantum`` for display (the JSON keeps every digit)."""
    return str(Decimal(str(value)).quantize(Decimal(quantum), ROUND_HALF_EVEN))


def demo_table(rows: list[dict[str, object]], qty: int) -> Table:
    """The comparison as a table that fits 80 columns whole: two decimals for prices and bps,
    durations in minutes, and a value too wide for its column folds onto a second line instead
    of being cut. The first row, market, is the baseline (the caption says so)."""
    t = Table(
        title=f"the same {qty:,}-share buy, seven ways",
        caption="market (the first row) is the baseline",
    )
    body = [
        [str(r["name"])]
        + ["-" if r[key] is None else show(r[key]) for _, key, show in _DEMO_COLUMNS]
        for r in rows
    ]
    headers = ["policy", *(header for header, _, _ in _DEMO_COLUMNS)]
    for i, header in enumerate(headers):
        # At least as wide as every value and each word of the header: only headers wrap.
        widest = max([len(row[i]) for row in body] + [len(w) for w in header.split()])
        t.add_column(header, justify="left" if i == 0 else "right", overflow="fold", width=widest)
    for cells in body:
        t.add_row(*cells)
    return t


def demo(
    qty: Annotated[int, typer.Option(help="Shares to buy.")] = 20_000,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Compare seven execution policies on one buy over the shipped LOBSTER day."""
    from fillforge.demos.policies import (
        COMPARED,
        Day,
        ExecuteParams,
        make_params,
        run_policy,
    )

    try:
        params = make_params("market", "buy", qty)
    except ExecutionError as e:
        raise _refuse(e.field, e.value, e.why) from None
    day = Day()
    intro = (
        f"Buying {qty:,} GOOG from {params.start:%H:%M} to {params.end:%H:%M} New York time "
        f"on Nasdaq {day.date} (LOBSTER sample, 10 levels; data: LOBSTER, lobsterdata.com), "
        "by each policy on its own fresh simulated exchange."
    )
    runs: list[PolicyRun] = []
    rows: list[dict[str, object]] = []
    said = as_json  # the intro, once the size is known to be tradable
    with progress(len(COMPARED), "policies") as advance:
        for policy in COMPARED:
            try:
                run = run_policy(ExecuteParams(policy, params.side, params.qty), day)
            except InternalError as e:  # a simulator fault: reported in the row, not hidden
                rows.append({"name": policy.value, **dict.fromkeys(_DEMO_KEYS), "error": str(e)})
                continue
            except OrderError as e:  # the first policy (market) meets it at once
                raise _unaffordable(qty, e) from None
            finally:
                advance(1)
            if not said:
                _out.print(intro)
                said = True
            runs.append(run)
            rows.append(_row(run, _DEMO_KEYS))
    if as_json:
        print(json.dumps({"sign": SIGN, "baseline": "market", "policies": rows}))
        return
    _out.print(demo_table(rows, qty))
    _out.print(
        f"Sign: {SIGN}. Arrival: the mid at the decision; VWAP: the day's prints over the "
        "parent's interval; IS: implementation shortfall (Perold), unfilled marked at the end."
    )
    for run in runs:
        _out.print(f"  {run.name}: {escape(run.how)}")
    for row in rows:
        if "error" in row:
            _out.print(f"  [red]{row['name']}: simulator error[/red] {escape(str(row['error']))}")
