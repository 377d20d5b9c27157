"""What TCA gives back (:class:`TcaResult`): numpy columns per order, per parent and per fill,
latency arrays, the reason behind every NaN, and summaries by policy, venue, symbol or hour."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final, Literal, get_args

import numpy as np
import numpy.typing as npt

from fillforge.broker.models import Trade
from fillforge.errors import TcaError
from fillforge.execution.cost import ParentCost, parent_cost
from fillforge.orders.models import Fill
from fillforge.time import NS_PER_HOUR, to_datetime

if TYPE_CHECKING:
    from fillforge.analytics.market import MarketData
    from fillforge.analytics.tape import Tape

__all__ = ["CONVENTION", "GroupKey", "TcaResult"]

CONVENTION: Final = (
    "positive = cost: a buy filled above its benchmark or a sell below it costs; "
    "negative = gain (bps of the benchmark; shortfall bps of the paper notional qty x P_d)"
)
"""The sign convention of every cost and slippage figure (execution.cost's), printed with them."""
GroupKey = Literal["policy", "venue", "symbol", "hour"]
GROUP_KEYS: Final = get_args(GroupKey)
_PARENT_KEYS: Final = ("policy", "symbol", "hour")
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

    @property
    def markouts(self) -> dict[int, npt.NDArray[np.float64]]:
        """Per horizon (seconds), each fill's markout in bps: ``s * (price - mid(t + h))`` over
        that mid; positive = cost (the market moved against the fill)."""
        return {h: self.fills[f"markout_{h}s_bps"] for h in self.horizons_s}

    # ----- summaries -----------------------------------------------------------------------

    def _labels(self, key: str, tz: dt.tzinfo) -> tuple[list[str], Any, Any, Any]:
        """Group labels and each order's, parent's and fill's group index (parents: None when
        ``key`` does not apply to a parent)."""
        o, p = self.orders, self.parents
        if key not in GROUP_KEYS:
            raise TcaError("key", key, f"expected one of {', '.join(GROUP_KEYS)}")
        if key == "hour":
            o_lab = _hours(o["send_ns"], tz)
            p_lab: npt.NDArray[Any] | None = _hours(p["decision_ns"], tz)
        else:
            o_lab = np.asarray(o[key], dtype=object)
            p_lab = np.asarray(p[key], dtype=object) if key in _PARENT_KEYS else None
        everything = list(o_lab.tolist()) + ([] if p_lab is None else list(p_lab.tolist()))
        labels = sorted(set(everything))
        index = {label: i for i, label in enumerate(labels)}
        oi = np.fromiter((index[v] for v in o_lab.tolist()), np.int64, len(o_lab))
        pi = (
            None
            if p_lab is None
            else np.fromiter((index[v] for v in p_lab.tolist()), np.int64, len(p_lab))
        )
        fi = oi[self.fills["order_row"]]
        return labels, oi, pi, fi

    def group_by(self, key: str, tz: dt.tzinfo = dt.UTC) -> dict[str, dict[str, float]]:
        """A summary per group of ``key`` (``policy``, ``venue``, ``symbol`` or ``hour``: the
        hour of day an order was sent, a parent decided, in ``tz``), each as :meth:`total`
        gives it. Counts and currency figures add up across groups to the total. A venue has
        no delay or opportunity cost (they belong to a parent, which may use many venues): only
        its fills' trading cost against their parent's P_0 and its fees."""
        labels, oi, pi, fi = self._labels(key, tz)
        n = len(labels)
        table = _summaries(self, oi, pi, fi, n)
        return {label: {k: v[i] for k, v in table.items()} for i, label in enumerate(labels)}

    def total(self) -> dict[str, float]:
        """Every order, parent and fill as one group: counts, quantities, rates, currency costs
        and their bps (see docs/tca.md for each figure's definition)."""
        k, n_p, m = (len(self.orders["side"]), len(self.parents["kind"]), len(self.fills["qty"]))
        zeros = (np.zeros(k, np.int64), np.zeros(n_p, np.int64), np.zeros(m, np.int64))
        table = _summaries(self, *zeros, 1)
        return {name: v[0] for name, v in table.items()}

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
        arrival_d = Decimal(repr(float(arrival)))
        if snap.arrival_price is not None and snap.spec.decision_price is None:
            arrival_d = snap.arrival_price
        p0_d = (
            snap.first_child_mid if snap.first_child_mid is not None else Decimal(repr(float(p0)))
        )
        final_d = Decimal(repr(float(final))) if not np.isnan(final) else arrival_d
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
                        price=Decimal(repr(px)),
                        size=Decimal(repr(q)),
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


def _hours(ns: npt.NDArray[np.int64], tz: dt.tzinfo) -> npt.NDArray[Any]:
    """Each time's hour of day in ``tz`` as ``"HH:00"`` (``"unknown"`` for -1)."""
    buckets = ns // NS_PER_HOUR
    out = np.empty(len(ns), dtype=object)
    for b in np.unique(buckets).tolist():
        label = (
            "unknown"
            if b < 0
            else to_datetime(int(b) * NS_PER_HOUR).astimezone(tz).strftime("%H:00")
        )
        out[buckets == b] = label
    return out


def _summaries(r: TcaResult, oi: Any, pi: Any, fi: Any, n: int) -> dict[str, list[float]]:
    """The figures of each of ``n`` groups (rows' group indexes ``oi``, ``pi``, ``fi``)."""
    o, p, f = r.orders, r.parents, r.fills

    def count(idx: Any, mask: Any) -> Any:
        return np.bincount(idx[mask], minlength=n)

    def add(idx: Any, values: Any, mask: Any = None) -> Any:
        if mask is None:
            return np.bincount(idx, values, minlength=n)
        return np.bincount(idx[mask], values[mask], minlength=n)

    ended, qty = o["ended"], o["qty"]
    known = ended & ~np.isnan(qty) & ~o["refused"]
    out: dict[str, Any] = {
        "orders": np.bincount(oi, minlength=n),
        "ended": count(oi, ended),
        "refused": count(oi, o["refused"]),
        "canceled": count(oi, o["canceled"]),
        "partial": count(oi, o["partial"]),
        "fills": np.bincount(fi, minlength=n),
        "filled_qty": add(fi, f["qty"]),
        "notional": add(fi, f["qty"] * f["price"]),
        "fees": add(fi, f["fee"]),
    }
    ended_qty = add(oi, qty, known)
    ended_filled = add(oi, o["filled_qty"], known)
    fill_rate = [_div(ended_filled[i], ended_qty[i]) for i in range(n)]
    partial_rate = [_div(out["partial"][i], out["ended"][i]) for i in range(n)]
    reject = [_div(out["refused"][i], out["orders"][i]) for i in range(n)]
    cancel = [_div(out["canceled"][i], out["orders"][i]) for i in range(n)]

    def weighted(bps: Any, base: Any) -> list[float]:
        ok = ~np.isnan(bps) & ~np.isnan(base)
        w = f["qty"] * base
        num, den = add(fi, bps * w, ok), add(fi, w, ok)
        return [_div(num[i], den[i]) for i in range(n)]

    arr = f["arrival_send"]
    with np.errstate(invalid="ignore", divide="ignore"):
        slip = f["side"] * (f["price"] - arr) / arr * 1e4
    result: dict[str, list[float]] = {k: [float(x) for x in v] for k, v in out.items()}
    result.update(
        fill_rate=fill_rate,
        partial_fill_rate=partial_rate,
        reject_ratio=reject,
        cancel_ratio=cancel,
        arrival_bps=weighted(slip, arr),
        spread_bps=weighted(f["spread_bps"], f["mid"]),
    )
    for h in r.horizons_s:
        result[f"markout_{h}s_bps"] = weighted(f[f"markout_{h}s_bps"], f["mid"])
    # The shortfall: by parent for policy, symbol and hour; a venue gets its fills' trading
    # cost and fees only.
    if pi is not None:
        ok = ~np.isnan(p["is_cost"])
        result["parents"] = [float(x) for x in np.bincount(pi, minlength=n)]
        result["parents_without_is"] = [float(x) for x in count(pi, ~ok)]
        paper = add(pi, p["paper_notional"], ok)
        result["paper_notional"] = [float(x) for x in paper]  # of the parents of known IS
        known = count(pi, ok)  # a group with no parent of known shortfall: NaN, not 0
        for column, (name, bps) in _COSTS.items():
            sums = add(pi, p[column], ok)
            result[name] = [float(x) if known[i] else math.nan for i, x in enumerate(sums)]
            result[bps] = [_div(sums[i], paper[i], 1e4) for i in range(n)]
    else:
        nan = [float("nan")] * n
        result["parents"] = nan
        result["parents_without_is"] = nan
        result["paper_notional"] = nan
        trading = add(fi, f["trading_cost"], ~np.isnan(f["trading_cost"]))
        result["trading_cost"] = [float(x) for x in trading]
        result["fees_cost"] = [float(x) for x in out["fees"]]
        for c in ("delay_cost", "opportunity_cost", "is_cost"):
            result[c] = nan
        for c in ("delay_bps", "trading_bps", "opportunity_bps", "fees_bps", "is_bps"):
            result[c] = nan
    return result
