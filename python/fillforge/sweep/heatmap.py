"""A sweep's results as one self-contained HTML page (no script, no server, no download): a
heatmap of the metric over the first two swept parameters (the best value over any others),
each cell coloured red (low) to green (high), a trial that fails a constraint struck through
and one that is invalid grey (random samples: the values binned); under it the summary and
every trial in a table."""

from __future__ import annotations

import html
import math
from typing import Any

from fillforge.sweep.config import SweepConfig
from fillforge.sweep.results import SweepSummary, columns, shown

__all__ = ["heatmap_html"]

_STYLE = """
body{font:14px system-ui,sans-serif;margin:24px;color:#222}
table{border-collapse:collapse;margin:12px 0}
td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}
th{background:#f4f4f4}
td.fail{text-decoration:line-through}
td.invalid{background:#ddd;color:#666}
caption{caption-side:bottom;text-align:left;color:#555;padding-top:6px}
"""


def _colour(value: float, low: float, high: float) -> str:
    """Red at ``low``, white between, green at ``high``."""
    t = 0.5 if high <= low else (value - low) / (high - low)
    if t < 0.5:
        k = t / 0.5
        r, g, b = 230, int(110 + 145 * k), int(110 + 145 * k)
    else:
        k = (t - 0.5) / 0.5
        r, g, b = int(255 - 145 * k), int(255 - 35 * k), int(255 - 145 * k)
    return f"#{r:02x}{g:02x}{b:02x}"


def _score(row: dict[str, Any], metric: str) -> float | None:
    value = row.get(metric) if row["status"] == "ok" else None
    return None if value is None else float(value)


_BINS = 8


def _axis(values: list[Any], drawn: bool) -> tuple[dict[Any, Any], list[Any]]:
    """Each value's column or row label: itself, in the order first seen (a grid's order;
    random draws: sorted), or, for more than ``_BINS`` distinct numbers drawn at random, one of
    ``_BINS`` equal-width bins ``[low, high)``, in increasing order."""
    distinct = list(dict.fromkeys(values))
    numbers = [v for v in distinct if isinstance(v, int | float) and not isinstance(v, bool)]
    if drawn:
        distinct = sorted(
            distinct, key=lambda v: (isinstance(v, str), v if v in numbers else 0, str(v))
        )
    if not drawn or len(distinct) <= _BINS or len(numbers) != len(distinct):
        return {v: v for v in distinct}, distinct
    low, high = float(min(numbers)), float(max(numbers))
    width = (high - low) / _BINS or 1.0
    edges = [low + i * width for i in range(_BINS + 1)]
    labels = [f"[{edges[i]:.4g}, {edges[i + 1]:.4g})" for i in range(_BINS)]
    out = {}
    for v in sorted(numbers):
        out[v] = labels[min(int((float(v) - low) / width), _BINS - 1)]
    return out, labels  # every bin, an empty one too: an axis


def _grid(rows: list[dict[str, Any]], cfg: SweepConfig) -> str:
    names = cfg.names
    x_name = names[0]
    y_name = names[1] if len(names) > 1 else None
    drawn = cfg.random is not None
    x_of, xs = _axis([r[f"param.{x_name}"] for r in rows], drawn)
    y_of, ys = _axis([r[f"param.{y_name}"] for r in rows], drawn) if y_name else ({}, [None])
    cells: dict[tuple[Any, Any], dict[str, Any]] = {}
    for r in rows:  # the best trial of each cell (over any other parameters)
        key = (x_of[r[f"param.{x_name}"]], y_of[r[f"param.{y_name}"]] if y_name else None)
        held = cells.get(key)
        if held is None or (_score(r, cfg.metric) or -math.inf) > (
            _score(held, cfg.metric) or -math.inf
        ):
            cells[key] = r
    scores = [s for r in cells.values() if (s := _score(r, cfg.metric)) is not None]
    low, high = (min(scores), max(scores)) if scores else (0.0, 0.0)
    head = "".join(f"<th>{html.escape(shown(x))}</th>" for x in xs)
    corner = html.escape(f"{y_name} \\ {x_name}" if y_name else x_name)
    out = [f"<table><tr><th>{corner}</th>{head}</tr>"]
    for y in ys:
        out.append(f"<tr><th>{html.escape(shown(y)) if y_name else cfg.metric}</th>")
        for x in xs:
            got = cells.get((x, y))
            if got is None:
                out.append("<td></td>")
                continue
            r = got
            s = _score(r, cfg.metric)
            tip = html.escape(f"{r['trial_id']}: {r['why'] or r['failed'] or 'passes'}", True)
            if s is None:
                out.append(f'<td class="invalid" title="{tip}">invalid</td>')
                continue
            cls = "" if r["passed"] else ' class="fail"'
            colour = _colour(s, low, high)
            out.append(f'<td{cls} style="background:{colour}" title="{tip}">{shown(s)}</td>')
        out.append("</tr>")
    more = f"; the best over {', '.join(names[2:])}" if len(names) > 2 else ""
    out.append(
        f"<caption>{html.escape(cfg.metric)} by {html.escape(' and '.join(names[:2]))}{more}; "
        "struck through: fails a constraint; grey: invalid (hover for why)</caption></table>"
    )
    return "".join(out)


def _summary(s: SweepSummary) -> str:
    best = s.best
    items = [
        f"trials {s.trials}, valid {s.valid}, passing the constraints {s.passed}",
        f"best by {s.metric}: "
        + (
            "none"
            if best is None
            else f"{best['trial_id']} ({shown(best.get(s.metric))}; "
            + ", ".join(f"{k[6:]}={v}" for k, v in best.items() if k.startswith("param."))
            + ")"
        ),
        "deflated Sharpe ratio of the best (probability its true Sharpe is above 0, given "
        f"{s.valid} trials): {shown(s.deflated_sharpe)}; expected best Sharpe per period of "
        f"as many unskilled trials: {shown(s.expected_max_sharpe)}",
        "walk-forward: share of splits whose in-sample best did worse out of sample than the "
        f"median trial: {shown(s.below_median)}",
    ]
    lis = "".join(f"<li>{html.escape(i)}</li>" for i in items)
    picks = "".join(
        f"<tr><td>{p.split}</td><td>{html.escape(p.trial_id or '-')}</td>"
        f"<td>{shown(p.in_sample)}</td><td>{shown(p.out_of_sample)}</td>"
        f"<td>{shown(p.median_out_of_sample)}</td></tr>"
        for p in s.walk_forward
    )
    return (
        f"<ul>{lis}</ul><table><tr><th>split</th><th>in-sample best</th><th>its IS Sharpe</th>"
        f"<th>its OOS Sharpe</th><th>median OOS Sharpe</th></tr>{picks}</table>"
    )


def _all(rows: list[dict[str, Any]]) -> str:
    names = columns(rows)
    head = "".join(f"<th>{html.escape(n)}</th>" for n in names)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(shown(r.get(n)))}</td>" for n in names) + "</tr>"
        for r in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def heatmap_html(rows: list[dict[str, Any]], summary: SweepSummary, cfg: SweepConfig) -> str:
    """The page for finished rows and their summary."""
    title = f"fillforge sweep: {summary.trials} trials, {cfg.metric}"
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>"
        f"<h1>{html.escape(title)}</h1>{_grid(rows, cfg)}<h2>Summary</h2>{_summary(summary)}"
        f"<h2>Every trial</h2>{_all(rows)}</body></html>\n"
    )
