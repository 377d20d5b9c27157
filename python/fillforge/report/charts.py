"""The report's charts: one matplotlib figure each, from a :class:`~fillforge.report.data.
ReportData` (``docs/report.md``).

Each :class:`Chart` has a title (drawn on the figure and above it in the HTML), a caption that
states its units and sign convention, and a builder. A chart whose data the journal does not
hold draws that sentence in its body instead of a plot: never blank, never an exception.
Figures are made with :class:`matplotlib.figure.Figure` (no pyplot: no global figure state,
no GUI backend).
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final

from fillforge.report.costs import SHORTFALL_PARTS
from fillforge.report.data import ReportData
from fillforge.time import to_datetime

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["CHARTS", "MOST_POINTS", "SIGN", "Chart", "thin"]

SIGN: Final = (
    "Sign convention: a positive cost or slippage figure is a cost (a buy filled above its "
    "benchmark, a sell below it), a negative one a gain; P&L is positive when money was made."
)
_SIZE: Final = (9.0, 4.6)
NO_COST: Final = (
    "no shortfall known: it needs a parent order (its decision price) or the market's quotes "
    "(a lone order's arrival), which a journal does not hold"
)
NO_ARRIVAL: Final = (
    "no fill with a known arrival price: a parent's child has its parent's; a lone order's "
    "needs the market's quotes, which a journal does not hold"
)
MOST_POINTS: Final = 4_000
"""A series longer than this is thinned for drawing (:func:`thin`)."""
_MOST_OUTLIERS: Final = 5_000  # a latency box plot draws its outliers up to this many samples
_COLORS: Final = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")


@dataclass(frozen=True, slots=True)
class Chart:
    """One chart of the report: ``slug`` names its PNG file and HTML anchor."""

    slug: str
    title: str
    caption: str
    build: Callable[[ReportData], Figure]


def _figure(title: str, rows: int = 1, cols: int = 1, **grid: Any) -> tuple[Figure, list[Axes]]:
    from matplotlib.figure import Figure

    fig = Figure(figsize=_SIZE, dpi=100, layout="constrained")
    fig.suptitle(title, fontsize=13, fontweight="bold")
    axes = fig.subplots(rows, cols, squeeze=False, gridspec_kw=grid or None)
    return fig, [ax for row in axes for ax in row]


def _missing(ax: Axes, why: str) -> None:
    """Say in the chart's body that its data is missing, and why."""
    ax.set_xticks([])
    ax.set_yticks([])
    for side in ax.spines.values():
        side.set_linestyle((0, (4, 4)))
        side.set_color("#999999")
    ax.set_facecolor("#f6f6f6")
    ax.text(
        0.5, 0.5, textwrap.fill(f"no data: {why}", 44), ha="center", va="center",
        color="#555555", fontsize=11, transform=ax.transAxes,
    )  # fmt: skip


def thin(
    series: Sequence[tuple[int, Decimal]], most: int = MOST_POINTS
) -> list[tuple[int, Decimal]]:
    """At most about ``most`` points of a time series to draw: cut into ``most // 4`` runs,
    each keeps its first, lowest, highest and last point (in time order), so every peak and
    trough of the curve (a drawdown's bottom) is still drawn; a short series is kept whole."""
    n = len(series)
    if n <= most:
        return list(series)
    runs = max(1, most // 4)
    out: list[tuple[int, Decimal]] = []
    for k in range(runs):
        run = series[k * n // runs : (k + 1) * n // runs]
        if not run:
            continue
        lo = min(range(len(run)), key=lambda i: run[i][1])
        hi = max(range(len(run)), key=lambda i: run[i][1])
        out += [run[i] for i in sorted({0, lo, hi, len(run) - 1})]
    return out


def _times(series: Sequence[tuple[int, Decimal]]) -> list[Any]:
    return [to_datetime(ts) for ts, _ in series]


def _values(series: Sequence[tuple[int, Decimal]]) -> list[float]:
    return [float(v) for _, v in series]


def _dates(ax: Axes) -> None:
    import matplotlib.dates as mdates

    locator = mdates.AutoDateLocator()  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]


def _equity(d: ReportData) -> Figure:
    fig, (top, bottom) = _figure(EQUITY.title, 2, 1, height_ratios=(2, 1))
    if not d.pnl:
        _missing(top, "no fills in this journal")
        _missing(bottom, "no fills, no drawdown")
        return fig
    pnl, drawdown = thin(d.pnl), thin(d.drawdown)
    top.step(_times(pnl), _values(pnl), where="post", color=_COLORS[0], linewidth=1.4)
    top.axhline(0, color="#888888", linewidth=0.8)
    top.set_ylabel("P&L (currency)")
    top.grid(alpha=0.3)
    dd = _values(drawdown)
    bottom.fill_between(_times(drawdown), dd, 0, step="post", color=_COLORS[1], alpha=0.5)
    bottom.set_ylabel("drawdown")
    bottom.grid(alpha=0.3)
    _dates(top)
    _dates(bottom)
    return fig


def _slippage(d: ReportData) -> Figure:
    fig, (ax,) = _figure(SLIPPAGE.title)
    c = d.costs
    if c is None or not c.slippage_bps:
        _missing(ax, d.costs_missing if c is None else NO_ARRIVAL)
        return fig
    values = c.slippage_bps
    ax.hist(values, bins=min(40, max(5, int(math.sqrt(len(values))))), color=_COLORS[0])
    mean = sum(values) / len(values)
    ax.axvline(0, color="#888888", linewidth=0.8)
    ax.axvline(mean, color=_COLORS[1], linestyle="--", label=f"mean {mean:.2f} bps")
    ax.set_xlabel(f"bps against the {c.benchmark} (positive = cost)")
    ax.set_ylabel("fills")
    ax.legend(loc="upper right")
    ax.grid(alpha=0.3)
    return fig


def _shortfall(d: ReportData) -> Figure:
    fig, (ax,) = _figure(SHORTFALL.title)
    c = d.costs
    if c is None or not c.shortfall:
        _missing(ax, d.costs_missing if c is None else "no parent order in this journal")
        return fig
    policies = sorted(c.shortfall)
    x = list(range(len(policies)))
    up, down = [0.0] * len(x), [0.0] * len(x)
    for i, part in enumerate(SHORTFALL_PARTS):
        values = [c.shortfall[p].get(part, 0.0) for p in policies]
        base = [u if v >= 0 else w for v, u, w in zip(values, up, down, strict=True)]
        ax.bar(x, values, bottom=base, color=_COLORS[i], label=part, width=0.6)
        up = [u + max(v, 0.0) for u, v in zip(up, values, strict=True)]
        down = [w + min(v, 0.0) for w, v in zip(down, values, strict=True)]
    totals = [sum(c.shortfall[p].get(part, 0.0) for part in SHORTFALL_PARTS) for p in policies]
    ax.scatter(x, totals, color="black", marker="D", zorder=3, label="total")
    ax.axhline(0, color="#888888", linewidth=0.8)
    ax.set_xticks(x, policies)
    ax.margins(y=0.12)
    ax.set_ylabel("bps of the paper notional (positive = cost)")
    ax.legend(loc="best", fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    return fig


def _bars(ax: Axes, labels: list[str], values: list[float | None], ylabel: str, title: str) -> None:
    x = list(range(len(labels)))
    ax.bar(x, [v if v is not None else 0.0 for v in values], color=_COLORS[0], width=0.6)
    for i, v in enumerate(values):
        if v is None:
            ax.text(i, 0, "n/a", ha="center", va="bottom", fontsize=8, color="#777777")
    ax.set_xticks(x, labels, fontsize=8)
    ax.set_ylabel(ylabel, fontsize=9)
    ax.set_title(title, fontsize=10)
    ax.axhline(0, color="#888888", linewidth=0.8)
    ax.grid(axis="y", alpha=0.3)


def _rate_and_cost(
    rate: Axes, cost: Axes, title: str, names: list[str], pairs: list[tuple[Any, Any]]
) -> None:
    if not names:
        _missing(rate, "no order in this journal")
        _missing(cost, "no order in this journal")
        return
    _bars(rate, names, [r for r, _ in pairs], "fill rate", title)
    rate.set_ylim(0, 1.05)
    costs = [c for _, c in pairs]
    if any(v is not None for v in costs):
        _bars(cost, names, costs, "cost (bps)", title)
    else:
        _missing(cost, NO_COST)


def _rates(d: ReportData) -> Figure:
    fig, axes = _figure(RATES.title, 2, 2)
    c = d.costs
    if c is None:
        for ax in axes:
            _missing(ax, d.costs_missing)
        return fig
    policies = sorted(c.by_policy)
    _rate_and_cost(axes[0], axes[1], "by policy", policies, [c.by_policy[p] for p in policies])
    hours = sorted(c.by_hour)
    _rate_and_cost(
        axes[2],
        axes[3],
        f"by hour of day ({c.hour_zone})",
        [f"{h:02d}h" for h in hours],
        [c.by_hour[h] for h in hours],
    )
    return fig


def _latency(d: ReportData) -> Figure:
    fig, (ax,) = _figure(LATENCY.title)
    c = d.costs
    stages = {k: v for k, v in c.latency_ms.items() if v} if c is not None else {}
    if not stages:
        _missing(ax, d.costs_missing if c is None else "no order with a measured latency")
        return fig
    import matplotlib

    names = list(stages)
    # ``orientation`` came in matplotlib 3.10 (and ``vert`` is deprecated since 3.11).
    old = tuple(int(x) for x in matplotlib.__version__.split(".")[:2]) < (3, 10)
    sideways: dict[str, Any] = {"vert": False} if old else {"orientation": "horizontal"}
    outliers = sum(len(v) for v in stages.values()) <= _MOST_OUTLIERS
    ax.boxplot([stages[n] for n in names], showfliers=outliers, **sideways)
    ax.set_yticks(range(1, len(names) + 1), [f"{n} (n={len(stages[n])})" for n in names])
    every = [v for n in names for v in stages[n]]
    lo, hi = min(every), max(every)
    if lo > 0 and hi / lo > 100:
        ax.set_xscale("log")
    ax.set_xlabel("milliseconds (the journal's clock)")
    ax.grid(axis="x", alpha=0.3)
    return fig


def _positions(d: ReportData) -> Figure:
    fig, (ax,) = _figure(POSITIONS.title)
    if not d.positions:
        _missing(ax, "no fills in this journal")
        return fig
    for i, (symbol, whole) in enumerate(sorted(d.positions.items())):
        color, series = _COLORS[i % len(_COLORS)], thin(whole)
        ax.step(_times(series), _values(series), where="post", label=symbol, color=color)
    ax.axhline(0, color="#888888", linewidth=0.8)
    ax.set_ylabel("signed quantity (long > 0)")
    ax.legend(loc="best", fontsize=8)
    ax.grid(alpha=0.3)
    _dates(ax)
    return fig


EQUITY: Final = Chart(
    "equity",
    "Equity and drawdown",
    "P&L of the journal's fills, net of fees, with open positions marked at each symbol's last "
    "fill price (the journal holds no market prices nor the starting cash: the curve starts "
    "at 0); drawdown below it, from the running peak. Venue time, UTC.",
    _equity,
)
SLIPPAGE: Final = Chart(
    "slippage",
    "Slippage distribution",
    "Each fill's price against its parent's arrival price, in basis points; positive = cost.",
    _slippage,
)
SHORTFALL: Final = Chart(
    "shortfall",
    "Implementation shortfall by policy",
    "Perold's decomposition (delay, trading, opportunity, fees) in bps of the paper notional, "
    "by execution policy; positive = cost; the diamond is the total.",
    _shortfall,
)
RATES: Final = Chart(
    "rates",
    "Fill rate and cost by policy and by time of day",
    "Fill rate: the orders' filled over ordered quantity (0 to 1; a parent's children each "
    "count). Cost: implementation shortfall in bps of the paper notional, positive = cost. "
    "Hour of day: when an order was sent, a parent decided.",
    _rates,
)
LATENCY: Final = Chart(
    "latency",
    "Latency",
    "A parent's decision to its first child's send; an order's send (its intent, written ahead) "
    "to the broker's ack and to its first fill; milliseconds between the journal's records. "
    "Boxes: quartiles and median; whiskers: 1.5 x the interquartile range (outliers drawn up "
    "to 5,000 samples).",
    _latency,
)
POSITIONS: Final = Chart(
    "positions",
    "Positions",
    "Each symbol's signed position after each fill (long above 0, short below). Venue time, UTC.",
    _positions,
)
CHARTS: Final = (EQUITY, SLIPPAGE, SHORTFALL, RATES, LATENCY, POSITIONS)
"""The report's charts, in its order."""
