"""One renderer for the report's charts: the HTML's inline SVG and the ``--png`` files come from
the same figures (``docs/report.md``).

The HTML is one self-contained file: each chart is an SVG inside a ``data:`` URI (no script, no
font, no stylesheet fetched; its Content-Security-Policy allows nothing from the network). It is
deterministic: the same journal gives the same bytes (matplotlib's default style whatever the
user's matplotlibrc, a fixed ``svg.hashsalt``, no creation date in the SVG or PNG metadata).
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from fillforge._optional import needs_extra
from fillforge.errors import ReportError
from fillforge.report.charts import CHARTS, SIGN, Chart
from fillforge.report.costs import TOTALS
from fillforge.report.data import ReportData

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "Rendered",
    "check_targets",
    "render_charts",
    "report_html",
    "require_matplotlib",
    "write_report",
]

_SALT: Final = "fillforge-report"
_CSP: Final = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
_CSS: Final = """
body { font-family: sans-serif; margin: 2em auto; max-width: 960px; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.15em; margin-top: 2em; }
table.summary td { padding: 2px 12px 2px 0; } p.sign { background: #f3f3f3; padding: 8px; }
section.chart img { width: 100%; height: auto; border: 1px solid #ddd; }
p.caption { font-size: 0.9em; color: #555; }
"""


def require_matplotlib() -> Any:
    """matplotlib (the ``report`` extra), or a ReportError saying how to install it."""
    with needs_extra("report", lambda why: ReportError("charts", "matplotlib", why)):
        import matplotlib
        import matplotlib.style
    return matplotlib


@contextmanager
def _style() -> Iterator[None]:
    """matplotlib's defaults (not the user's matplotlibrc), a fixed SVG id salt, glyphs as
    paths (the SVG needs no font)."""
    mpl = require_matplotlib()
    with (
        mpl.style.context("default"),
        mpl.rc_context({"svg.hashsalt": _SALT, "svg.fonttype": "path", "path.simplify": True}),
    ):
        yield


class Rendered:
    """One chart drawn: its SVG (for the HTML) and, on demand, its PNG."""

    def __init__(self, chart: Chart, figure: Figure) -> None:
        self.chart, self.figure = chart, figure

    def svg(self) -> bytes:
        buf = io.BytesIO()
        with _style():
            self.figure.savefig(buf, format="svg", metadata={"Date": None})
        return buf.getvalue()

    def png(self, dpi: int = 100) -> bytes:
        buf = io.BytesIO()
        with _style():
            self.figure.savefig(buf, format="png", dpi=dpi, metadata={"Software": None})
        return buf.getvalue()


def render_charts(data: ReportData, charts: Sequence[Chart] = CHARTS) -> list[Rendered]:
    """Draw each chart of ``data`` (an exception in a chart's builder is not caught: a bug)."""
    with _style():
        return [Rendered(c, c.build(data)) for c in charts]


def _money(x: Decimal) -> str:
    return f"{x.quantize(Decimal('0.01')):,}"


def report_html(data: ReportData, rendered: Sequence[Rendered]) -> str:
    """The report as one self-contained HTML page."""
    e = html.escape
    rows = [
        ("journal", e(data.source)),
        ("records", f"{data.records:,}"),
        ("fills", f"{len(data.fills):,}"),
        ("parent orders", f"{len(data.parents):,}"),
        ("P&amp;L at the last fill (net of fees; positive = money made)", _money(data.final_pnl)),
        ("maximum drawdown (from the running peak)", _money(data.max_drawdown)),
        ("fees paid (a cost)", _money(data.fees)),
    ]
    c = data.costs
    if c is None:
        rows.append(("transaction-cost analysis", e(data.costs_missing)))
    else:
        for key, what in TOTALS:
            v = c.totals.get(key)
            rows.append((e(what), "n/a (see below)" if v is None else f"{v:,.4g}"))
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">',
        f"<title>fillforge report: {e(Path(data.source).name or data.source)}</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>fillforge report</h1>",
        '<table class="summary">',
        *(f"<tr><td>{k}</td><td>{v}</td></tr>" for k, v in rows),
        "</table>",
        f'<p class="sign">{e(SIGN)}</p>',
    ]
    if c is not None and c.unknown:
        # One line per reason (several figures often share one).
        reasons: dict[str, list[str]] = {}
        for figure, why in c.unknown.items():
            reasons.setdefault(why, []).append(figure)
        out.append('<p>Not known from this journal:</p><ul class="unknown">')
        out += [f"<li>{e(', '.join(f))}: {e(why)}</li>" for why, f in reasons.items()]
        out.append("</ul>")
    for r in rendered:
        chart = r.chart
        uri = "data:image/svg+xml;base64," + base64.b64encode(r.svg()).decode("ascii")
        out += [
            f'<section class="chart" id="chart-{chart.slug}">',
            f"<h2>{e(chart.title)}</h2>",
            f'<img alt="{e(chart.title)}" src="{uri}">',
            f'<p class="caption">{e(chart.caption)}</p>',
            "</section>",
        ]
    out.append("</body></html>\n")
    return "\n".join(out)


def check_targets(output: Path, png_dir: Path | None = None) -> None:
    """Refuse (a ReportError naming it) an ``output`` or ``png_dir`` that cannot be written,
    before any work: a directory given as the file, a file in a directory that does not exist,
    a file given as the PNG directory."""
    if output.is_dir():
        raise ReportError("output", str(output), "is a directory, not a file")
    parent = output.parent
    if not parent.is_dir():
        raise ReportError("output", str(output), f"no directory {str(parent)!r} to write it in")
    if png_dir is not None and png_dir.exists() and not png_dir.is_dir():
        raise ReportError("png", str(png_dir), "is a file, not a directory")


def write_report(data: ReportData, output: Path, png_dir: Path | None = None) -> list[Path]:
    """Write the HTML report of ``data`` to ``output`` (and each chart as ``<slug>.png`` into
    ``png_dir``); the paths written. Refused before anything is written when ``output`` or
    ``png_dir`` cannot be (a ReportError naming it)."""
    check_targets(output, png_dir)
    rendered = render_charts(data)
    page = report_html(data, rendered).encode("utf-8")
    if png_dir is not None:
        try:
            png_dir.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise ReportError("png", str(png_dir), f"cannot be made: {err.strerror}") from None
    written: list[Path] = []
    try:
        output.write_bytes(page)
    except OSError as err:
        raise ReportError("output", str(output), f"cannot be written: {err.strerror}") from None
    written.append(output)
    if png_dir is not None:
        try:
            for r in rendered:
                path = png_dir / f"{r.chart.slug}.png"
                path.write_bytes(r.png())
                written.append(path)
        except OSError as err:
            raise ReportError("png", str(png_dir), f"cannot be written: {err.strerror}") from None
    return written
