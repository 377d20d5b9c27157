"""What TCA gives back (:class:`TcaResult`): numpy columns per order, per parent and per fill,
latency arrays, the reason behind every NaN, and summaries by policy, venue, symbol or hour."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Literal, get_args

import numpy as np
import numpy.typing as npt

from fillforge._exact import to_decimal
from fillforge.analytics.sums import figures, grouped
from fillforge.broker.models import Trade
from fillforge.errors import TcaError
from fillforge.execution.cost import ParentCost, parent_cost
from fillforge.orders.models import Fill
from fillforge.time import NS_PER_HOUR, to_datetime

if TYPE_CHECKING:
    from fillforge.analytics.market import MarketData
    from fillforge.analytics.tape import Tape

__all__ = ["CONVENTION", "GROUP_KEYS", "GroupKey", "Grouping", "TcaResult"]

CONVENTION: Final = (
    "positive = cost: a buy filled above its benchmark or a sell below it costs; "
    "negative = gain (bps of the benchmark; shortfall bps of the paper notional qty x P_d)"
)
"""The sign convention of every cost and slippage figure (execution.cost's), printed with them."""
GroupKey = Literal["policy", "venue", "symbol", "hour"]
GROUP_KEYS: Final = get_args(GroupKey)
# A parent column -> its summed name and its bps name in a summary.
_COSTS: Final = {
    "delay_cost": ("delay_cost", "delay_bps"),
    "trading_cost": ("trading_cost", "trading_bps"),
    "opportunity_cost": ("opportunity_cost", "opportunity_bps"),
    "fees": ("fees_cost", "fees_bps"),
    "is_cost": ("is_cost", "is_bps"),
}


def _div(a: Any, b: Any, scale: float = 1.0) -> float:
    return float(a) / float(b) * scale if b else float("nan")


@dataclass(frozen=True, slots=True)
class Grouping:
    """A grouping key's labels (``names``) and each order's and parent's label index
    (``parents`` None: the key does not apply to a parent, as a venue)."""

    names: list[str]
    orders: npt.NDArray[np.integer[Any]]
    parents: npt.NDArray[np.integer[Any]] | None


@dataclass(frozen=True, slots=True)
class TcaResult:
    """TCA of one journal (:func:`fillforge.analytics.tca`).

    - ``orders``: one row per order (``order_id``, ``parent_id``, ``symbol``, ``side`` ±1,
      ``venue``, ``policy``, ``status``, ``qty``, ``filled_qty``, ``avg_price``, ``fees``,
      times ``send_ns`` / ``ack_ns`` / ``accept_venue_ns`` / ``first_fill_ns`` /
      ``last_fill_ns`` / ``end_ns`` (-1: unknown), benchmarks ``arrival_decision``,
      ``arrival_send``, ``interval_vwap``, ``interval_twap`` and the average price's slippage
      against each (``decision_bps``, ``arrival_bps``, ``vwap_bps``, ``twap_bps``), the
      quantity-weighted ``spread_bps`` and ``markout_<h>s_bps`` of its fills, flags
      ``ended``, ``refused``, ``canceled``, ``partial``; ``parent_row`` indexes ``parents``).
    - ``parents``: one row per parent (``kind`` ``parent``: journalled with its snapshot;
      ``unjournalled``: children of a parent with no ``parent.*`` record; ``order``: an order of
      no parent, its own parent), with Perold's decomposition (``delay_cost``,
      ``trading_cost``, ``opportunity_cost``, ``fees``, ``is_cost`` and the same in bps of
      ``paper_notional``), its benchmarks (``decision_price`` P_d, ``arrival_price``,
      ``first_child_mid`` P_0, ``final_price`` P_N, ``interval_vwap``, ``interval_twap``) and
      ``fill_rate``.
    - ``fills``: one row per fill (``time_ns`` venue time, ``symbol``, ``side``, ``qty``,
      ``price``, ``fee``, ids, ``venue``, ``policy``, ``mid`` at the fill, ``spread_bps``,
      ``markout_<h>s_bps``, ``trading_cost`` against its parent's P_0).
    - ``latency``: ns arrays of the stretches measured (``decision_to_send`` per parent,
      ``send_to_ack``, ``send_to_accept``, ``ack_to_first_fill``, ``send_to_first_fill`` per
      order).
    - ``reasons``: why a figure is NaN where it is (column or figure name -> text).

    Every cost and slippage figure follows :data:`CONVENTION`; floats are float64 (exact
    Decimal figures of a parent: :meth:`parent_cost`).
    """

    orders: dict[str, npt.NDArray[Any]]
    parents: dict[str, npt.NDArray[Any]]
    fills: dict[str, npt.NDArray[Any]]
    latency: dict[str, npt.NDArray[np.int64]]
    reasons: dict[str, str]
    horizons_s: tuple[int, ...]
    tape: Tape
    market: MarketData | None = None
    groups: dict[str, Grouping] = field(default_factory=dict)
    order_sums: npt.NDArray[np.float64] = field(default_factory=lambda: np.zeros((0, 0)))
    parent_sums: npt.NDArray[np.float64] = field(default_factory=lambda: np.zeros((0, 0)))

    @property
    def markouts(self) -> dict[int, npt.NDArray[np.float64]]:
        """Per horizon (seconds), each fill's markout in bps: ``s * (price - mid(t + h))`` over
        that mid; positive = cost (the market moved against the fill)."""
        return {h: self.fills[f"markout_{h}s_bps"] for h in self.horizons_s}

    # ----- summaries -----------------------------------------------------------------------

    def _labels(self, key: str, tz: dt.tzinfo) -> tuple[list[str], Any, Any, Any]:
        """Group labels and each order's, parent's and fill's group index (parents: None when
        ``key`` does not apply to a parent)."""
        if key not in GROUP_KEYS:
            raise TcaError("key", key, f"expected one of {', '.join(GROUP_KEYS)}")
        pi: npt.NDArray[np.int64] | None
        if key == "hour":
            o_b = self.orders["send_ns"] // NS_PER_HOUR
            p_b = self.parents["decision_ns"] // NS_PER_HOUR
            buckets, inverse = np.unique(np.concatenate([o_b, p_b]), return_inverse=True)
            names = [_hour(int(b), tz) for b in buckets.tolist()]
            labels = sorted(set(names))
            where = {label: i for i, label in enumerate(labels)}
            to_label = np.array([where[n] for n in names] or [0], np.int64)
            codes = to_label[inverse]
            oi, pi = codes[: len(o_b)], codes[len(o_b) :]
        else:
            g = self.groups[key]
            labels = list(g.names)
            oi = g.orders.astype(np.int64)
            pi = None if g.parents is None else g.parents.astype(np.int64)
        fi = oi[self.fills["order_row"]]
        return labels, oi, pi, fi

    def group_by(self, key: str, tz: dt.tzinfo = dt.UTC) -> dict[str, dict[str, float]]:
        """A summary per group of ``key`` (``policy``, ``venue``, ``symbol`` or ``hour``: the
        hour of day an order was sent, a parent decided, in ``tz``), each as :meth:`total`
        gives it. Counts and currency figures add up across groups to the total. A venue has
        no delay or opportunity cost (they belong to a parent, which may use many venues): only
        its fills' trading cost against their parent's P_0 and its fees."""
        labels, oi, pi, _ = self._labels(key, tz)
        n = len(labels)
        osums = grouped(oi, self.order_sums, n)
        psums = None if pi is None else grouped(pi, self.parent_sums, n)
        rows = figures(osums, psums, self.horizons_s)
        used = np.bincount(oi, minlength=n) + (0 if pi is None else np.bincount(pi, minlength=n))
        return {
            label: rows[i] for label, i in sorted((lb, i) for i, lb in enumerate(labels)) if used[i]
        }

    def total(self) -> dict[str, float]:
        """Every order, parent and fill as one group: counts, quantities, rates, currency costs
        and their bps (see docs/tca.md for each figure's definition)."""
        osums = self.order_sums.sum(axis=0, keepdims=True)
        psums = self.parent_sums.sum(axis=0, keepdims=True)
        return figures(osums, psums, self.horizons_s)[0]

    # ----- the exact cost of a parent --------------------------------------------------------

    def parent_cost(self, parent_id: str) -> ParentCost | None:
        """The exact (Decimal) cost of a journalled parent, by
        :func:`fillforge.execution.cost.parent_cost` (the same definitions as the columns);
        None when a benchmark it needs is unknown (a NaN in :attr:`parents`)."""
        p = self.parents
        rows = np.flatnonzero((p["parent_id"] == parent_id) & (p["kind"] == "parent"))
        if not len(rows):
            raise TcaError("parent_id", parent_id, "no journalled parent of that id")
        r = int(rows[0])
        snap = self.tape.parents[parent_id]
        arrival, final, p0 = (p[c][r] for c in ("arrival_price", "final_price", "first_child_mid"))
        if np.isnan(arrival) or (np.isnan(final) and p["leaves_qty"][r] > 0) or np.isnan(p0):
            return None
        arrival_d = to_decimal(float(arrival))
        if snap.arrival_price is not None and snap.spec.decision_price is None:
            arrival_d = snap.arrival_price
        p0_d = snap.first_child_mid if snap.first_child_mid is not None else to_decimal(float(p0))
        final_d = to_decimal(float(final)) if not np.isnan(final) else arrival_d
        fills: list[Fill] = []
        for row in np.flatnonzero(self.orders["parent_row"] == r).tolist():
            for jf in self.tape.exact[row]:
                fills.append(
                    Fill(
                        trade_id=jf.exec_id,
                        order_id=jf.order_id,
                        price=jf.price,
                        qty=jf.qty,
                        commission=jf.fee,
                        ts_event=jf.ts_ns,
                    )
                )
        trades: list[Trade] = []
        market = self.market
        start, end = snap.spec.start_ns, int(p["end_ns"][r])
        if market is not None and end >= start:
            sm = market.symbol(snap.spec.symbol)
            lo = int(np.searchsorted(sm.t_ns, start, side="left"))
            hi = int(np.searchsorted(sm.t_ns, end, side="right"))
            for t, px, q in zip(
                sm.t_ns[lo:hi].tolist(),
                sm.price[lo:hi].tolist(),
                sm.qty[lo:hi].tolist(),
                strict=True,
            ):
                trades.append(
                    Trade(
                        symbol=snap.spec.symbol,
                        price=to_decimal(px),
                        size=to_decimal(q),
                        timestamp_ns=t,
                    )
                )
        return parent_cost(
            snap.spec,
            fills,
            trades=trades,
            arrival_price=arrival_d,
            final_price=final_d,
            first_child_mid=p0_d,
            end_ns=end if end >= start else None,
        )

    def __repr__(self) -> str:
        return (
            f"TcaResult(orders={len(self.orders['side'])}, parents={len(self.parents['kind'])}, "
            f"fills={len(self.fills['qty'])})"
        )


def _hour(bucket: int, tz: dt.tzinfo) -> str:
    """The hour of day (``"HH:00"`` in ``tz``) of an hour since the epoch (-1: unknown)."""
    if bucket < 0:
        return "unknown"
    return to_datetime(bucket * NS_PER_HOUR).astimezone(tz).strftime("%H:00")
