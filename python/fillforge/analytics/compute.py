"""TCA over a :class:`~fillforge.analytics.tape.Tape`'s columns: every figure is a numpy
expression over all orders, fills or parents at once (no Python loop per fill), so a million
fills take well under a second (``benches/bench_tca.py``).

The definitions are :mod:`fillforge.execution.cost`'s, applied to columns: a positive figure is
a cost (``s * (price - benchmark)``, ``s`` +1 buy, -1 sell), and the implementation shortfall of
a parent is ``delay + trading + opportunity + fees`` against the decision price ``P_d``, the mid
at the first child ``P_0`` and the final mark ``P_N`` (that module's docstring). The exact
Decimal figures of one parent are :meth:`TcaResult.parent_cost`, which calls
:func:`~fillforge.execution.cost.parent_cost` itself; the tests hold the columns to it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from fillforge.analytics.market import MarketData
from fillforge.analytics.result import TcaResult
from fillforge.analytics.tape import NO_TIME, Tape
from fillforge.errors import TcaError

__all__ = ["HORIZONS_S", "analyse"]

HORIZONS_S: Final = (1, 5, 60)
"""The markout horizons (seconds) by default."""
_S: Final = 1_000_000_000
_BPS: Final = 10_000.0
_ENDED: Final = frozenset(
    {"filled", "canceled", "expired", "rejected", "denied", "done_for_day", "refused", "unsent"}
)
_CANCELED: Final = frozenset({"canceled", "expired", "done_for_day"})
F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
NO_MARKET: Final = (
    "no market data was passed (tca(journal, market=...)): mids, VWAP, TWAP, markouts and "
    "the spread need the market's quotes and trades"
)


def _bps(cost: F64, base: F64) -> F64:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(base > 0, cost / base * _BPS, np.nan)


class _Lookup:
    """Market lookups for rows of many symbols: each symbol's rows at once."""

    def __init__(self, market: MarketData | None, symbols: list[str]) -> None:
        self.market = market
        self.symbols = symbols
        self.cache: dict[int, Any] = {}

    def _each(self, codes: npt.NDArray[np.int32]) -> list[tuple[Any, npt.NDArray[np.intp] | slice]]:
        if self.market is None:
            return []
        present = np.unique(codes) if len(codes) else np.zeros(0, np.int32)
        out: list[tuple[Any, npt.NDArray[np.intp] | slice]] = []
        for c in present.tolist():
            sm = self.cache.get(c)
            if sm is None:
                sm = self.cache[c] = self.market.symbol(self.symbols[c])
            out.append((sm, slice(None) if len(present) == 1 else np.flatnonzero(codes == c)))
        return out

    def mid(self, codes: npt.NDArray[np.int32], ns: I64) -> F64:
        out = np.full(len(ns), np.nan)
        for sm, rows in self._each(codes):
            out[rows] = sm.mid_at(ns[rows])
        return out

    def vwap(self, codes: npt.NDArray[np.int32], a: I64, b: I64) -> tuple[F64, F64]:
        v, vol = np.full(len(a), np.nan), np.zeros(len(a))
        for sm, rows in self._each(codes):
            v[rows], vol[rows] = sm.vwap(a[rows], b[rows])
        return v, vol

    def twap(self, codes: npt.NDArray[np.int32], a: I64, b: I64) -> F64:
        out = np.full(len(a), np.nan)
        for sm, rows in self._each(codes):
            out[rows] = sm.twap(a[rows], b[rows])
        return out


def _first(values: I64, groups: I64, n: int, *, last: bool = False) -> I64:
    """The minimum (``last``: maximum) of ``values`` per group (NO_TIME where none)."""
    out = np.full(n, np.iinfo(np.int64).max if not last else NO_TIME, np.int64)
    if last:
        np.maximum.at(out, groups, values)
    else:
        np.minimum.at(out, groups, values)
        out[out == np.iinfo(np.int64).max] = NO_TIME
    return out


def _grouped_extreme(values: I64, order: I64, n: int, *, last: bool) -> I64:
    """Per order, the first (``last``: last) of ``values`` where rows are grouped by order."""
    out = np.full(n, NO_TIME, np.int64)
    if not len(order):
        return out
    starts = np.flatnonzero(np.concatenate([[True], order[1:] != order[:-1]]))
    red = (np.maximum if last else np.minimum).reduceat(values, starts)
    out[order[starts]] = red
    return out


def analyse(
    tape: Tape,
    market: MarketData | None = None,
    *,
    horizons_s: Sequence[int] = HORIZONS_S,
    venues: Mapping[str, str] | None = None,
) -> TcaResult:
    """TCA of ``tape`` against ``market`` (None: the figures that need the market are NaN, with
    the reason in :attr:`TcaResult.reasons`). ``horizons_s`` are the markout horizons;
    ``venues`` names the routed venues (a routed child's venue index as text -> a name)."""
    hs = tuple(horizons_s)
    if not hs or any(isinstance(h, bool) or not isinstance(h, int) or h <= 0 for h in hs):
        raise TcaError("horizons_s", hs, "expected whole seconds > 0")
    if market is not None and not isinstance(market, MarketData):
        raise TcaError("market", type(market).__name__, "expected an analytics.MarketData")
    reasons: dict[str, str] = {}
    o, f, names = tape.orders, tape.fills, tape.names
    k, m = len(o["side"]), len(f["qty"])
    look = _Lookup(market, names["symbol"])
    if market is None:
        for col in ("mid", "vwap", "twap", "markout", "spread", "arrival_send", "final_price"):
            reasons[col] = NO_MARKET

    # ----- fills, per order --------------------------------------------------------------
    fo: I64 = f["order"]
    fq, fp, ffee, ft = f["qty"], f["price"], f["fee"], f["time_ns"]
    filled = np.bincount(fo, fq, minlength=k)
    notional = np.bincount(fo, fq * fp, minlength=k)
    fees = np.bincount(fo, ffee, minlength=k)
    nfills = np.bincount(fo, minlength=k)
    first_fill = _grouped_extreme(ft, fo, k, last=False)
    last_fill = _grouped_extreme(ft, fo, k, last=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        avg = np.where(filled > 0, notional / filled, np.nan)
    side = o["side"].astype(np.float64)
    sym = o["symbol_code"]
    status = o["status"]
    ended = np.fromiter((s in _ENDED for s in status), bool, k)
    canceled = np.fromiter((s in _CANCELED for s in status), bool, k)
    refused = o["refused"] | np.fromiter((s in ("refused", "unsent") for s in status), bool, k)
    qty = o["qty"]

    # ----- parents: the journalled ones, each unjournalled parent id, each lone order --------
    pc = o["parent_code"]
    parent_names = names["parent_id"]
    snaps = tape.parents
    n_ids = len(parent_names)
    # A parent row per parent id (code) that has children, plus one per order without a parent.
    lone = (
        np.flatnonzero(np.asarray([parent_names[c] == "" for c in range(n_ids)])[pc])
        if k
        else (np.zeros(0, np.int64))
    )
    id_rows = [c for c in range(n_ids) if parent_names[c] != ""]
    extra = [pid for pid in snaps if pid not in set(parent_names)]  # parents with no child
    prow = np.full(k, -1, np.int64)
    code_to_row = np.full(n_ids, -1, np.int64)
    for r, c in enumerate(id_rows):
        code_to_row[c] = r
    is_child = code_to_row[pc] >= 0 if k else np.zeros(0, bool)
    prow[is_child] = code_to_row[pc[is_child]]
    base = len(id_rows) + len(extra)
    prow[lone] = base + np.arange(len(lone))
    n_p = base + len(lone)
    p_ids = np.empty(n_p, dtype=object)
    p_ids[: len(id_rows)] = [parent_names[c] for c in id_rows]
    p_ids[len(id_rows) : base] = extra
    p_ids[base:] = o["client_order_id"][lone]
    kind = np.empty(n_p, dtype=object)
    policy = np.empty(n_p, dtype=object)
    p_side = np.zeros(n_p)
    p_sym = np.zeros(n_p, np.int32)
    x_qty = np.full(n_p, np.nan)
    pd_ = np.full(n_p, np.nan)
    arrival = np.full(n_p, np.nan)
    p0 = np.full(n_p, np.nan)
    dec_ns = np.full(n_p, NO_TIME, np.int64)
    start_ns = np.full(n_p, NO_TIME, np.int64)
    spec_end = np.full(n_p, NO_TIME, np.int64)
    ended_ns = np.full(n_p, NO_TIME, np.int64)
    first_child_ns = np.full(n_p, NO_TIME, np.int64)
    sym_index = {s: i for i, s in enumerate(names["symbol"])}
    q_child = np.bincount(prow, np.where(np.isnan(qty), 0.0, qty), minlength=n_p)
    for r, pid in enumerate(p_ids[:base].tolist()):
        snap = snaps.get(pid)
        if snap is None:
            kind[r], policy[r] = "unjournalled", "unknown"
            continue
        spec = snap.spec
        kind[r], policy[r] = "parent", spec.policy.value
        p_side[r] = 1.0 if spec.side.value == "buy" else -1.0
        code = sym_index.get(spec.symbol)
        if code is None:
            code = sym_index[spec.symbol] = len(names["symbol"])
            names["symbol"].append(spec.symbol)
            look.symbols = names["symbol"]
        p_sym[r] = code
        x_qty[r] = float(spec.qty)
        dec_ns[r] = spec.decision_ns if spec.decision_ns is not None else spec.start_ns
        start_ns[r], spec_end[r] = spec.start_ns, spec.end_ns
        if snap.ended_ns is not None:
            ended_ns[r] = snap.ended_ns
        if snap.first_child_ns is not None:
            first_child_ns[r] = snap.first_child_ns
        if spec.decision_price is not None:
            pd_[r] = float(spec.decision_price)
        elif snap.arrival_price is not None:
            pd_[r] = float(snap.arrival_price)
        if spec.decision_price is None and snap.arrival_price is not None:
            arrival[r] = float(snap.arrival_price)  # the worker's mid when work started
        if snap.first_child_mid is not None:
            p0[r] = float(snap.first_child_mid)
    # Rows without a snapshot take their orders' side, symbol and total quantity.
    first_order = np.full(n_p, -1, np.int64)
    if k:
        first_order[prow[::-1]] = np.arange(k - 1, -1, -1)
    plain = np.flatnonzero(np.asarray([x != "parent" for x in kind.tolist()], bool))
    plain = plain[first_order[plain] >= 0]
    fo_rows = first_order[plain]
    p_side[plain] = side[fo_rows]
    p_sym[plain] = sym[fo_rows]
    x_qty[plain] = q_child[plain]
    kind[base:] = "order"
    policy[base:] = "none"
    p_filled = np.bincount(prow, filled, minlength=n_p)
    p_notional = np.bincount(prow, notional, minlength=n_p)
    p_fees: F64 = np.bincount(prow, fees, minlength=n_p).astype(np.float64)
    p_children = np.bincount(prow, minlength=n_p)
    send = o["send_rec_ns"]
    sent = send != NO_TIME
    p_first_send = _first(send[sent], prow[sent], n_p)
    p_last_fill = _first(last_fill[nfills > 0], prow[nfills > 0], n_p, last=True)
    p_last_end = _first(o["end_rec_ns"], prow, n_p, last=True)
    # The decision of a lone or unjournalled parent: its first send.
    dec_ns[plain] = p_first_send[plain]
    start_ns[plain] = p_first_send[plain]
    fc = np.where(first_child_ns != NO_TIME, first_child_ns, p_first_send)
    # Benchmarks from the market where the journal has none.
    mid_dec = look.mid(p_sym, dec_ns)
    arrival = np.where(np.isnan(arrival), mid_dec, arrival) if market is not None else arrival
    arrival = np.where(np.isnan(arrival), pd_, arrival)
    pd_ = np.where(np.isnan(pd_), arrival, pd_)
    mid_first = look.mid(p_sym, fc)
    p0 = np.where(np.isnan(p0), np.where(fc != NO_TIME, mid_first, arrival), p0)
    # The end of a parent (execution.cost's interval): when it ended, else its last fill when
    # it filled completely, else its spec's end, else its orders' last record.
    full = (p_filled >= x_qty) & (x_qty > 0)
    end = np.where(ended_ns != NO_TIME, ended_ns, np.where(full, p_last_fill, spec_end))
    # A lone order (or unjournalled parent): when its orders ended, else the journal's end.
    done = np.maximum(p_last_end, p_last_fill)
    open_rows = np.bincount(prow, ~ended, minlength=n_p) > 0
    end = np.where(end == NO_TIME, np.where(open_rows, tape.last_ns, done), end)
    final = look.mid(p_sym, end)
    leaves = x_qty - p_filled
    # Perold (execution.cost): delay, trading, opportunity, fees; positive = cost.
    delay = p_side * x_qty * (p0 - pd_)
    trading = p_side * (p_notional - p_filled * p0)
    opportunity = np.where(leaves > 0, p_side * leaves * (final - p0), 0.0)
    shortfall = delay + trading + opportunity + p_fees
    paper = x_qty * pd_
    p_vwap, p_volume = look.vwap(p_sym, start_ns, end)
    p_twap = look.twap(p_sym, start_ns, end)
    with np.errstate(invalid="ignore", divide="ignore"):
        p_avg = np.where(p_filled > 0, p_notional / p_filled, np.nan)
        fill_rate = np.where(x_qty > 0, p_filled / x_qty, np.nan)
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
    parents: dict[str, npt.NDArray[Any]] = {
        "parent_id": p_ids,
        "kind": kind,
        "symbol": np.asarray(names["symbol"], dtype=object)[p_sym] if n_p else p_ids[:0],
        "side": p_side.astype(np.int8),
        "policy": policy,
        "qty": x_qty,
        "filled_qty": p_filled,
        "leaves_qty": leaves,
        "children": p_children,
        "decision_ns": dec_ns,
        "first_send_ns": fc,
        "end_ns": end,
        "decision_price": pd_,
        "arrival_price": arrival,
        "first_child_mid": p0,
        "final_price": final,
        "avg_price": p_avg,
        "interval_vwap": p_vwap,
        "interval_twap": p_twap,
        "market_volume": p_volume,
        "notional": p_notional,
        "paper_notional": paper,
        "delay_cost": delay,
        "trading_cost": trading,
        "opportunity_cost": opportunity,
        "fees": p_fees,
        "is_cost": shortfall,
        "delay_bps": _bps(delay, paper),
        "trading_bps": _bps(trading, paper),
        "opportunity_bps": _bps(opportunity, paper),
        "fees_bps": _bps(p_fees, paper),
        "is_bps": _bps(shortfall, paper),
        "arrival_bps": _bps(p_side * (p_avg - arrival) * p_filled, arrival * p_filled),
        "vwap_bps": _bps(p_side * (p_avg - p_vwap) * p_filled, p_vwap * p_filled),
        "twap_bps": _bps(p_side * (p_avg - p_twap) * p_filled, p_twap * p_filled),
        "fill_rate": fill_rate,
    }

    # ----- orders ------------------------------------------------------------------------
    o_end = o["end_rec_ns"]
    stop = np.where(o_end != NO_TIME, o_end, np.where(ended, last_fill, tape.last_ns))
    stop = np.where(stop == NO_TIME, send, stop)
    arr_send = look.mid(sym, send)
    arr_dec = np.where(prow >= 0, arrival[np.maximum(prow, 0)], np.nan)
    lone_mask = kind[np.maximum(prow, 0)] != "parent" if k else np.zeros(0, bool)
    arr_dec = np.where(lone_mask, arr_send, arr_dec)
    o_vwap, _ = look.vwap(sym, send, stop)
    o_twap = look.twap(sym, send, stop)
    p0_o = p0[prow] if k else np.zeros(0)

    # ----- fills: the spread and markouts ------------------------------------------------
    fsym = sym[fo] if m else np.zeros(0, np.int32)
    fs = side[fo] if m else np.zeros(0)
    mid_fill = look.mid(fsym, ft)
    spread = _bps(fs * (fp - mid_fill), mid_fill)
    markouts: dict[int, F64] = {}
    for h in hs:
        later = look.mid(fsym, ft + h * _S)
        markouts[h] = _bps(fs * (fp - later), later)
        if market is not None and bool(np.any(np.isnan(later) & ~np.isnan(mid_fill))):
            reasons[f"markout_{h}s_bps"] = (
                f"NaN where {h} s after the fill is past the market data's end (or has no "
                "two-sided quote)"
            )
    f_trading = fs * fq * (fp - p0_o[fo]) if m else np.zeros(0)
    f_arrival = arr_send[fo] if m else np.zeros(0)

    def per_order(values: F64, weights: F64) -> F64:
        ok = ~np.isnan(values)
        num = np.bincount(fo[ok], values[ok] * weights[ok], minlength=k)
        den = np.bincount(fo[ok], weights[ok], minlength=k)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(den > 0, num / den, np.nan)

    orders: dict[str, npt.NDArray[Any]] = {
        "order_id": o["order_id"],
        "client_order_id": o["client_order_id"],
        "parent_id": o["parent_id"],
        "symbol": o["symbol"],
        "side": o["side"],
        "venue": _venue_names(o["venue"], venues),
        "policy": policy[prow] if k else policy[:0],
        "status": status,
        "qty": qty,
        "limit_price": o["limit_price"],
        "filled_qty": filled,
        "avg_price": avg,
        "notional": notional,
        "fees": fees,
        "fills": nfills,
        "send_ns": send,
        "ack_ns": o["ack_rec_ns"],
        "accept_venue_ns": o["accept_venue_ns"],
        "first_fill_ns": first_fill,
        "last_fill_ns": last_fill,
        "end_ns": o_end,
        "arrival_decision": arr_dec,
        "arrival_send": arr_send,
        "interval_vwap": o_vwap,
        "interval_twap": o_twap,
        "decision_bps": _bps(side * (avg - arr_dec), arr_dec),
        "arrival_bps": _bps(side * (avg - arr_send), arr_send),
        "vwap_bps": _bps(side * (avg - o_vwap), o_vwap),
        "twap_bps": _bps(side * (avg - o_twap), o_twap),
        "spread_bps": per_order(spread, fq),
        **{f"markout_{h}s_bps": per_order(markouts[h], fq) for h in hs},
        "ended": ended,
        "refused": refused,
        "canceled": canceled,
        "partial": ended & (filled > 0) & (filled < qty),
        "parent_row": prow,
    }
    fills: dict[str, npt.NDArray[Any]] = {
        "time_ns": ft,
        "symbol": o["symbol"][fo],
        "side": o["side"][fo],
        "qty": fq,
        "price": fp,
        "fee": ffee,
        "exec_id": f["exec_id"],
        "order_id": o["order_id"][fo],
        "parent_id": p_ids[prow[fo]] if m else p_ids[:0],
        "venue": orders["venue"][fo],
        "policy": orders["policy"][fo],
        "order_row": fo,
        "mid": mid_fill,
        "arrival_send": f_arrival,
        "spread_bps": spread,
        **{f"markout_{h}s_bps": markouts[h] for h in hs},
        "trading_cost": f_trading,
    }
    latency = _latency(orders, parents)
    return TcaResult(orders, parents, fills, latency, reasons, hs, tape, market)


def _venue_names(venue: npt.NDArray[Any], names: Mapping[str, str] | None) -> npt.NDArray[Any]:
    out = np.array(venue, dtype=object)
    table = {"": "default", **(names or {})}
    for code in set(out.tolist()):
        out[out == code] = table.get(code, f"venue {code}")
    return out


def _latency(orders: dict[str, npt.NDArray[Any]], parents: dict[str, Any]) -> dict[str, I64]:
    """The measured stretches (ns), each over the rows where both ends are known."""

    def span(a: I64, b: I64) -> I64:
        ok = (a != NO_TIME) & (b != NO_TIME)
        out: I64 = (b[ok] - a[ok]).astype(np.int64)
        return out

    p = parents["kind"] == "parent"
    return {
        "decision_to_send": span(parents["decision_ns"][p], parents["first_send_ns"][p]),
        "send_to_ack": span(orders["send_ns"], orders["ack_ns"]),
        "send_to_accept": span(orders["send_ns"], orders["accept_venue_ns"]),
        "ack_to_first_fill": span(orders["ack_ns"], orders["first_fill_ns"]),
        "send_to_first_fill": span(orders["send_ns"], orders["first_fill_ns"]),
    }
