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

from fillforge.analytics.market import MarketData, Rows
from fillforge.analytics.parents import bps, parent_rows
from fillforge.analytics.result import Grouping, TcaResult
from fillforge.analytics.sums import by_order, parent_matrix
from fillforge.analytics.sums import order_sums as order_sum_names
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
_REFUSED: Final = frozenset({"refused", "unsent", "rejected", "denied"})
F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
NO_MARKET: Final = (
    "no market data was passed (tca(journal, market=...)): mids, VWAP, TWAP, markouts and "
    "the spread need the market's quotes and trades"
)


def _grouped_extreme(values: I64, order: I64, n: int, *, last: bool) -> I64:
    """Per order, the first (``last``: last) of ``values`` where rows are grouped by order."""
    out = np.full(n, NO_TIME, np.int64)
    if not len(order):
        return out
    starts = np.flatnonzero(np.concatenate([[True], order[1:] != order[:-1]]))
    red = (np.maximum if last else np.minimum).reduceat(values, starts)
    out[order[starts]] = red
    return out


def _flag(codes: npt.NDArray[np.int32], names: list[str], which: frozenset[str]) -> Any:
    """Whether each row's coded value is one of ``which``."""
    table = np.array([name in which for name in names] or [False], bool)
    return table[codes] if len(codes) else np.zeros(0, bool)


def _against(paid: F64, paid_p: F64, qty: F64, benchmark: F64) -> tuple[F64, list[F64]]:
    """Each fill against ``benchmark`` (NaN: unknown): its bps, and the numerator (the cost
    ``s q (p - b)``) and denominator (the notional ``q b``) of a quantity-weighted bps figure,
    0 where the benchmark is unknown. ``paid`` is ``s q``, ``paid_p`` ``s q p``."""
    b = np.nan_to_num(benchmark, nan=0.0)
    den = qty * b
    num = np.where(den > 0, paid_p - paid * b, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        out: F64 = np.where(den > 0, num / den * 1e4, np.nan)
    return out, [num, den]


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
    symbols = list(names["symbol"])
    k, m = len(o["side"]), len(f["qty"])
    if market is None:
        for col in ("mid", "vwap", "twap", "markout", "spread", "arrival_send", "final_price"):
            reasons[col] = NO_MARKET

    # ----- fills: the market at each (the spread, the markouts), then sums per order --------
    fo: I64 = f["order"]
    fq, fp, ffee, ft = f["qty"], f["price"], f["fee"], f["time_ns"]
    side = o["side"].astype(np.float64)
    sym = o["symbol_code"]
    fsym = sym[fo] if m else np.zeros(0, np.int32)
    fs = side[fo] if m else np.zeros(0)
    at_fill = Rows(market, symbols, fsym, ft)
    mid_fill = at_fill.mid(ft)
    paid = fs * fq  # s q: a fill's cost against b is s q p - s q b
    paid_p = paid * fp
    fill_cols = [fq, fq * fp, ffee, np.ones(m)]
    spread, parts = _against(paid, paid_p, fq, mid_fill)
    fill_cols += parts
    quoted = ~np.isnan(mid_fill)
    markouts: dict[int, F64] = {}
    for h in hs:
        later = at_fill.mid(ft + h * _S)
        markouts[h], parts = _against(paid, paid_p, fq, later)
        fill_cols += parts
        if market is not None and bool(np.any(quoted & (parts[1] == 0))):
            reasons[f"markout_{h}s_bps"] = (
                f"NaN where {h} s after the fill is past the market data's end (or has no "
                "two-sided quote)"
            )
    sums = by_order(fo, k, fill_cols)
    filled, notional, fees, nfills = sums[:, 0], sums[:, 1], sums[:, 2], sums[:, 3]
    first_fill = _grouped_extreme(ft, fo, k, last=False)
    last_fill = _grouped_extreme(ft, fo, k, last=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        avg = np.where(filled > 0, notional / filled, np.nan)
    statuses = names["status"]
    ended = _flag(o["status_code"], statuses, _ENDED)
    canceled = _flag(o["status_code"], statuses, _CANCELED)
    refused = o["refused"] | _flag(o["status_code"], statuses, _REFUSED)
    qty = o["qty"]

    # ----- parents -----------------------------------------------------------------------
    per_order = {
        "filled": filled,
        "notional": notional,
        "fees": fees,
        "last_fill": last_fill,
        "ended": ended,
    }
    pr = parent_rows(tape, market, symbols, per_order)
    parents, prow = pr.columns, pr.prow
    reasons.update(pr.reasons)

    # ----- orders ------------------------------------------------------------------------
    send = o["send_rec_ns"]
    o_end = o["end_rec_ns"]
    stop = np.where(o_end != NO_TIME, o_end, np.where(ended, last_fill, tape.last_ns))
    stop = np.where(stop == NO_TIME, send, stop)
    look = Rows(market, symbols, sym, send)
    arr_send = look.mid(send)
    if "submit_mid" in o:  # the journal's own arrival where the market gives none
        arr_send = np.where(np.isnan(arr_send), o["submit_mid"], arr_send)
        if market is None and not bool(np.isnan(arr_send).any()):
            reasons.pop("arrival_send", None)
    arr_dec = parents["arrival_price"][prow] if k else np.zeros(0)
    arr_dec = np.where(parents["kind"][prow] == "parent", arr_dec, arr_send) if k else arr_dec
    o_vwap, _ = look.vwap(send, stop)
    o_twap = look.twap(send, stop)
    p0_o = parents["first_child_mid"][prow] if k else np.zeros(0)

    partial = ended & (filled > 0) & (filled < qty)
    asked = ended & ~np.isnan(qty) & ~refused
    arr_ok = ~np.isnan(arr_send) & (filled > 0)
    p0_ok = ~np.isnan(p0_o) & (filled > 0)
    marks = sums[:, 4:]  # spread then each markout: (num, den) pairs
    order_sums = np.empty((len(order_sum_names(hs)), k))
    for i, column in enumerate(
        [
            np.ones(k),
            ended,
            refused,
            canceled,
            partial,
            np.where(asked, qty, 0.0),
            np.where(asked, filled, 0.0),
            nfills,
            filled,
            notional,
            fees,
            np.where(arr_ok, side * (notional - filled * arr_send), 0.0),
            np.where(arr_ok, filled * arr_send, 0.0),
            *marks.T,
            np.where(p0_ok, side * (notional - filled * p0_o), 0.0),
        ]
    ):
        order_sums[i] = column
    order_sums = order_sums.T

    venue_names = [
        "default" if v == "" else (venues or {}).get(v, f"venue {v}") for v in names["venue"]
    ]
    venue_col = np.asarray(venue_names or [""], dtype=object)[o["venue_code"]] if k else sym[:0]
    policy_o = pr.policy_code[prow] if k else pr.policy_code[:0]
    policy_col = np.asarray(pr.policies, dtype=object)[policy_o]
    orders: dict[str, npt.NDArray[Any]] = {
        "order_id": o["order_id"],
        "client_order_id": o["client_order_id"],
        "parent_id": o["parent_id"],
        "symbol": o["symbol"],
        "side": o["side"],
        "venue": venue_col,
        "policy": policy_col,
        "status": o["status"],
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
        "decision_bps": bps(side * (avg - arr_dec), arr_dec),
        "arrival_bps": bps(side * (avg - arr_send), arr_send),
        "vwap_bps": bps(side * (avg - o_vwap), o_vwap),
        "twap_bps": bps(side * (avg - o_twap), o_twap),
        "spread_bps": bps(marks[:, 0], marks[:, 1]),
        **{
            f"markout_{h}s_bps": bps(marks[:, 2 + 2 * i], marks[:, 3 + 2 * i])
            for i, h in enumerate(hs)
        },
        "ended": ended,
        "refused": refused,
        "canceled": canceled,
        "partial": partial,
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
        "parent_id": parents["parent_id"][prow[fo]] if m else parents["parent_id"][:0],
        "venue": venue_col[fo],
        "policy": policy_col[fo],
        "order_row": fo,
        "mid": mid_fill,
        "arrival_send": arr_send[fo] if m else np.zeros(0),
        "spread_bps": spread,
        **{f"markout_{h}s_bps": markouts[h] for h in hs},
        "trading_cost": fs * fq * (fp - p0_o[fo]) if m else np.zeros(0),
    }
    groups = {
        "policy": Grouping(pr.policies, policy_o, pr.policy_code),
        "venue": Grouping(venue_names, o["venue_code"], None),
        "symbol": Grouping(symbols, sym, parents["symbol_code"]),
    }
    latency = _latency(orders, parents)
    return TcaResult(
        orders,
        parents,
        fills,
        latency,
        reasons,
        hs,
        tape,
        market,
        groups,
        order_sums,
        parent_matrix(parents),
    )


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
