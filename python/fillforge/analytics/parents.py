"""The parents table of TCA: one row per parent, Perold's decomposition in columns.

Rows: each journalled parent (``kind`` ``parent``: its last ``parent.*`` snapshot gives the
spec, the decision price ``P_d``, the arrival mid, the mid at the first child ``P_0`` and when
it ended), each parent id whose children are journalled but not the parent (``unjournalled``),
and each order of no parent as its own parent (``order``). Every order belongs to exactly one
row, so sums over rows conserve the orders' fills and fees.

The benchmarks a row's snapshot lacks come from the market (:class:`~fillforge.analytics.
market.Rows`): the mid at the decision, at the first send, at the end (``P_N``); without the
market they are NaN and so is every figure built on them. The formulas are
:mod:`fillforge.execution.cost`'s (positive = cost)::

    delay = s X (P_0 - P_d); trading = s (sum q p - Q P_0); opportunity = s (X - Q)(P_N - P_0)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from fillforge.analytics.market import MarketData, Rows
from fillforge.analytics.tape import NO_TIME, Tape

__all__ = ["KINDS", "ParentRows", "parent_rows"]

KINDS: Final = ("parent", "unjournalled", "order")
_PARENT, _UNJOURNALLED, _ORDER = 0, 1, 2
_BPS: Final = 10_000.0
F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]


def bps(cost: F64, base: F64) -> F64:
    """``cost`` over ``base`` in basis points (NaN where the base is not above 0)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        out: F64 = np.where(base > 0, cost / base * _BPS, np.nan)
    return out


def _extreme(values: I64, groups: I64, n: int, *, last: bool) -> I64:
    """The minimum (``last``: maximum) of ``values`` per group (NO_TIME where none)."""
    big = np.iinfo(np.int64).max
    out = np.full(n, NO_TIME if last else big, np.int64)
    (np.maximum if last else np.minimum).at(out, groups, values)
    if not last:
        out[out == big] = NO_TIME
    return out


@dataclass(frozen=True, slots=True)
class ParentRows:
    """The table (``columns``), each order's row (``prow``), each row's policy code
    (``policy_code`` into ``policies``) and the reasons for its NaNs."""

    columns: dict[str, npt.NDArray[Any]]
    prow: I64
    policy_code: npt.NDArray[np.int32]
    policies: list[str]
    reasons: dict[str, str]


def parent_rows(
    tape: Tape,
    market: MarketData | None,
    symbols: list[str],
    per_order: dict[str, Any],
) -> ParentRows:
    """Build the table from ``tape`` and the orders' sums (``filled``, ``notional``,
    ``fees``, ``last_fill``, ``ended``); ``symbols`` may grow (a parent with no child)."""
    o = tape.orders
    k = len(o["side"])
    pc = o["parent_code"]
    parent_names = tape.names["parent_id"]
    snaps = tape.parents
    with_children = set(parent_names)
    id_codes = [c for c, name in enumerate(parent_names) if name != ""]
    extra = [pid for pid in snaps if pid not in with_children]  # parents with no child
    code_to_row = np.full(len(parent_names), -1, np.int64)
    code_to_row[id_codes] = np.arange(len(id_codes))
    prow = code_to_row[pc] if k else np.zeros(0, np.int64)
    lone = np.flatnonzero(prow < 0)
    base = len(id_codes) + len(extra)
    prow[lone] = base + np.arange(len(lone))
    n = base + len(lone)
    ids = np.empty(n, dtype=object)
    ids[: len(id_codes)] = [parent_names[c] for c in id_codes]
    ids[len(id_codes) : base] = extra
    ids[base:] = o["client_order_id"][lone]

    kind = np.full(n, _UNJOURNALLED, np.int8)
    kind[base:] = _ORDER
    policies = ["none", "unknown"]
    policy_code = np.full(n, 1, np.int32)
    policy_code[base:] = 0
    side = np.zeros(n)
    sym = np.zeros(n, np.int32)
    x = np.full(n, np.nan)
    pd_, arrival, p0 = np.full(n, np.nan), np.full(n, np.nan), np.full(n, np.nan)
    dec, start, spec_end, ended_ns, first_ns = (np.full(n, NO_TIME, np.int64) for _ in range(5))
    # The journalled parents' rows take their snapshot's figures (tape.snapshots).
    snap = tape.snapshots
    where = {pid: r for r, pid in enumerate(snap["parent_id"].tolist())}
    rows, srows = [], []
    for r, pid in enumerate(ids[:base].tolist()):
        got = where.get(pid)
        if got is not None:
            rows.append(r)
            srows.append(got)
    if rows:
        kind[rows] = _PARENT
        for name in snap["policy"][srows].tolist():
            if name not in policies:
                policies.append(name)
        for name in snap["symbol"][srows].tolist():
            if name not in symbols:
                symbols.append(name)
        pol_index = {p: i for i, p in enumerate(policies)}
        sym_index = {s: i for i, s in enumerate(symbols)}
        policy_code[rows] = [pol_index[p] for p in snap["policy"][srows].tolist()]
        sym[rows] = [sym_index[s] for s in snap["symbol"][srows].tolist()]
        side[rows], x[rows] = snap["side"][srows], snap["qty"][srows]
        dec[rows], start[rows] = snap["decision_ns"][srows], snap["start_ns"][srows]
        spec_end[rows], ended_ns[rows] = snap["end_ns"][srows], snap["ended_ns"][srows]
        first_ns[rows] = snap["first_child_ns"][srows]
        pd_[rows], arrival[rows] = snap["decision_price"][srows], snap["arrival"][srows]
        p0[rows] = snap["first_child_mid"][srows]

    # The orders' sums per row; rows without a snapshot take their orders' side and symbol.
    qty = o["qty"]
    filled = np.bincount(prow, per_order["filled"], minlength=n)
    notional = np.bincount(prow, per_order["notional"], minlength=n)
    fees = np.bincount(prow, per_order["fees"], minlength=n).astype(np.float64)
    children = np.bincount(prow, minlength=n)
    first_order = np.full(n, -1, np.int64)
    if k:
        first_order[prow[::-1]] = np.arange(k - 1, -1, -1)
    plain = np.flatnonzero((kind != _PARENT) & (first_order >= 0))
    side[plain] = o["side"][first_order[plain]]
    sym[plain] = o["symbol_code"][first_order[plain]]
    x[plain] = np.bincount(prow, np.where(np.isnan(qty), 0.0, qty), minlength=n)[plain]
    send = o["send_rec_ns"]
    sent = send != NO_TIME
    first_send = _extreme(send[sent], prow[sent], n, last=False)
    last_fill = per_order["last_fill"]
    has = last_fill != NO_TIME
    p_last_fill = _extreme(last_fill[has], prow[has], n, last=True)
    p_last_end = _extreme(o["end_rec_ns"], prow, n, last=True)
    dec[plain] = first_send[plain]  # a lone order is decided when it is sent
    start[plain] = first_send[plain]
    fc = np.where(first_ns != NO_TIME, first_ns, first_send)
    # The end (execution.cost's interval): when it ended, else its last fill when it filled
    # completely, else its spec's end; a row without a spec: when its orders ended, or the
    # journal's end while one is still open.
    full = (filled >= x) & (x > 0)
    end = np.where(ended_ns != NO_TIME, ended_ns, np.where(full, p_last_fill, spec_end))
    still_open = np.bincount(prow, ~per_order["ended"], minlength=n) > 0
    done = np.maximum(p_last_end, p_last_fill)
    end = np.where(end == NO_TIME, np.where(still_open, tape.last_ns, done), end)

    look = Rows(market, symbols, sym, dec)
    if market is not None:
        arrival = np.where(np.isnan(arrival), look.mid(dec), arrival)
    if "submit_mid" in o and len(plain):  # a row of orders: its first order's journalled mid
        mid = o["submit_mid"][first_order[plain]]
        arrival[plain] = np.where(np.isnan(arrival[plain]), mid, arrival[plain])
    arrival = np.where(np.isnan(arrival), pd_, arrival)
    pd_ = np.where(np.isnan(pd_), arrival, pd_)
    p0 = np.where(np.isnan(p0), np.where(fc != NO_TIME, look.mid(fc), arrival), p0)
    p0[plain] = np.where(np.isnan(p0[plain]), arrival[plain], p0[plain])  # decided when sent
    final = look.mid(end)
    leaves = x - filled
    delay = side * x * (p0 - pd_)
    trading = side * (notional - filled * p0)
    opportunity = np.where(leaves > 0, side * leaves * (final - p0), 0.0)
    shortfall = delay + trading + opportunity + fees
    paper = x * pd_
    vwap, volume = look.vwap(start, end)
    twap = look.twap(start, end)
    with np.errstate(invalid="ignore", divide="ignore"):
        avg = np.where(filled > 0, notional / filled, np.nan)
        fill_rate = np.where(x > 0, filled / x, np.nan)
    reasons: dict[str, str] = {}
    if bool(np.any((leaves > 0) & np.isnan(final))):
        reasons["opportunity_cost"] = (
            "an unfilled remainder needs the mid at the parent's end (P_N) from the market: "
            "NaN without it (and so is_cost)"
        )
    if bool(np.any(np.isnan(pd_))):
        reasons["decision_price"] = (
            "no decision price, arrival mid or market mid at the decision: the shortfall of "
            "those parents is NaN"
        )
    columns: dict[str, npt.NDArray[Any]] = {
        "parent_id": ids,
        "kind": np.asarray(KINDS, dtype=object)[kind],
        "symbol": np.asarray(symbols, dtype=object)[sym] if n else ids[:0],
        "side": side.astype(np.int8),
        "policy": np.asarray(policies, dtype=object)[policy_code],
        "qty": x,
        "filled_qty": filled,
        "leaves_qty": leaves,
        "children": children,
        "decision_ns": dec,
        "first_send_ns": fc,
        "end_ns": end,
        "decision_price": pd_,
        "arrival_price": arrival,
        "first_child_mid": p0,
        "final_price": final,
        "avg_price": avg,
        "interval_vwap": vwap,
        "interval_twap": twap,
        "market_volume": volume,
        "notional": notional,
        "paper_notional": paper,
        "delay_cost": delay,
        "trading_cost": trading,
        "opportunity_cost": opportunity,
        "fees": fees,
        "is_cost": shortfall,
        "delay_bps": bps(delay, paper),
        "trading_bps": bps(trading, paper),
        "opportunity_bps": bps(opportunity, paper),
        "fees_bps": bps(fees, paper),
        "is_bps": bps(shortfall, paper),
        "arrival_bps": bps(side * (avg - arrival) * filled, arrival * filled),
        "vwap_bps": bps(side * (avg - vwap) * filled, vwap * filled),
        "twap_bps": bps(side * (avg - twap) * filled, twap * filled),
        "fill_rate": fill_rate,
        "symbol_code": sym,
        "policy_code": policy_code,
    }
    return ParentRows(columns, prow, policy_code, policies, reasons)
