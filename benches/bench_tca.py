"""Transaction-cost analysis speed (issue 19): fills analysed per second on one core.

Run: ``python benches/bench_tca.py [--fills 1000000] [--repeat 3] [--journal-orders 5000]``.

1. **Analysis** (``fillforge.analytics.analyse``): a tape of ``--fills`` fills (4 per order,
   orders in parents of 40 children, 1 in 10 orders alone; 4 symbols; rows in the order they
   were sent, as in a journal) and a market of one quote
   per 50 ms and one print per 100 ms per symbol over a 6.5 h day, built in memory as the
   journal reader lays it out; every figure: per-order, per-parent (Perold's decomposition),
   per-fill spread and markouts at 1, 5 and 60 s, latency arrays, then ``total()`` and
   ``group_by`` each key. Best of ``--repeat``.
2. **Baselines, same process, same data**: (a) the floor: one ``numpy.searchsorted`` of every
   fill's time into its symbol's quotes (what any markout needs at least); (b) the same
   per-fill figures (mid at the fill, spread, three markouts) in a plain Python loop with
   ``bisect``, on the first 100,000 fills, as a TCA without columns would do them.
3. **Reading a journal** (``fillforge.analytics.read_tape``): a real journal of
   ``--journal-orders`` market orders through a ``JournalledBroker`` on a ``SimulatedBroker``;
   records per second read into columns (the part that is not numpy: each record is decoded and
   applied to the journal's ``OrderBook``).

Prints one JSON object; the figures and the command are in ``docs/tca.md``.
"""

from __future__ import annotations

import argparse
import bisect
import json
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np

from fillforge.analytics import MarketData, Tape, analyse, read_tape
from fillforge.execution.parent import ParentOrder, ParentSnapshot, ParentState, WorkRules
from fillforge.orders.enums import OrderSide

D = Decimal
S = 1_000_000_000
DAY0 = 1_700_000_000 * S
DAY = int(6.5 * 3600) * S
SYMBOLS = ("AAA", "BBB", "CCC", "DDD")
FILLS_PER_ORDER = 4
CHILDREN = 40
PY_FILLS = 100_000


def market(rng: np.random.Generator) -> MarketData:
    m = MarketData()
    for i, s in enumerate(SYMBOLS):
        qt = DAY0 + np.arange(0, DAY, 50_000_000, dtype=np.int64)
        mid = 100.0 * (i + 1) + np.cumsum(rng.normal(0, 0.01, len(qt)))
        m.add_quotes(s, qt, mid - 0.01, mid + 0.01)
        tt = DAY0 + np.arange(0, DAY, 100_000_000, dtype=np.int64)
        m.add_trades(s, tt, np.interp(tt, qt, mid), rng.integers(1, 500, len(tt)).astype(float))
    return m


def tape(n_fills: int, rng: np.random.Generator) -> Tape:
    k = n_fills // FILLS_PER_ORDER
    n_parents = (k - k // 10) // CHILDREN
    child = np.arange(k) < n_parents * CHILDREN
    parent_code = np.where(child, np.arange(k) // CHILDREN + 1, 0).astype(np.int32)
    sym = (parent_code % len(SYMBOLS)).astype(np.int32)
    lone = ~child
    sym[lone] = rng.integers(0, len(SYMBOLS), int(lone.sum()))
    side = np.where(parent_code % 2 == 0, 1, -1).astype(np.int8)
    side[lone] = rng.choice(np.array([1, -1], np.int8), int(lone.sum()))
    send = DAY0 + rng.integers(0, DAY - 120 * S, k)
    pc64 = parent_code[child].astype(np.int64)
    send[child] = DAY0 + (pc64 * 7 % 360) * 60 * S + (np.arange(k)[child] % 40) * S
    # A journal holds its orders in the order they were sent (acknowledged).
    by_send = np.argsort(send, kind="stable")
    send, sym, side, parent_code = send[by_send], sym[by_send], side[by_send], parent_code[by_send]
    names = {
        "symbol": list(SYMBOLS),
        "venue": [""],
        "parent_id": ["", *(f"p{i}" for i in range(1, n_parents + 1))],
        "status": ["filled"],
    }
    ids = np.array([f"o-{i}" for i in range(k)], dtype=object)
    status = np.full(k, "filled", dtype=object)
    orders = {
        "order_id": ids,
        "client_order_id": ids,
        "parent_id": np.asarray(names["parent_id"], dtype=object)[parent_code],
        "venue": np.full(k, "", dtype=object),
        "symbol": np.asarray(SYMBOLS, dtype=object)[sym],
        "side": side,
        "status": status,
        "qty": np.full(k, 400.0),
        "limit_price": np.full(k, np.nan),
        "send_rec_ns": send,
        "ack_rec_ns": send + 200_000,
        "accept_venue_ns": send + 1_000_000,
        "end_rec_ns": send + 40 * S,
        "refused": np.zeros(k, bool),
        "status_code": np.zeros(k, np.int32),
        "symbol_code": sym,
        "venue_code": np.zeros(k, np.int32),
        "parent_code": parent_code,
    }
    order = np.repeat(np.arange(k), FILLS_PER_ORDER)
    t = send[order] + (np.tile(np.arange(FILLS_PER_ORDER), k) + 1) * 5 * S
    px = 100.0 * (sym[order] + 1) + rng.normal(0, 0.05, len(order))
    fills = {
        "exec_id": np.array([f"x-{i}" for i in range(len(order))], dtype=object),
        "order": order,
        "time_ns": t,
        "qty": np.full(len(order), 100.0),
        "price": px,
        "fee": np.full(len(order), 0.35),
    }
    parents = {}
    for i in range(1, n_parents + 1):
        start = DAY0 + (i * 7 % 360) * 60 * S
        spec = ParentOrder(
            parent_id=f"p{i}",
            symbol=SYMBOLS[i % len(SYMBOLS)],
            side=OrderSide.BUY if i % 2 == 0 else OrderSide.SELL,
            qty=D(CHILDREN * 400 + 1_000),  # a remainder: the opportunity cost is figured
            start_ns=start,
            end_ns=start + 600 * S,
            decision_ns=start,
            decision_price=D(100 * (i % len(SYMBOLS) + 1)),
        )
        parents[spec.parent_id] = ParentSnapshot(
            spec=spec,
            rules=WorkRules(),
            state=ParentState.COMPLETED,
            plan_ns=start,
            ended_ns=start + 300 * S,
            first_child_ns=start,
        )
    exact: list[list[Any]] = [[] for _ in range(k)]
    return Tape(orders, fills, names, parents, exact, 0, DAY0 + DAY)


def full_analysis(tp: Tape, m: MarketData) -> float:
    started = time.perf_counter()
    r = analyse(tp, m)
    r.total()
    for key in ("policy", "venue", "symbol", "hour"):
        r.group_by(key)
    return time.perf_counter() - started


def floor(tp: Tape, m: MarketData) -> float:
    started = time.perf_counter()
    sym = tp.orders["symbol_code"][tp.fills["order"]]
    t = tp.fills["time_ns"]
    for c, name in enumerate(SYMBOLS):
        rows = sym == c
        np.searchsorted(m.symbol(name).q_ns, t[rows], side="right")
    return time.perf_counter() - started


def python_loop(tp: Tape, m: MarketData, n: int) -> float:
    quotes = {s: (m.symbol(s).q_ns.tolist(), m.symbol(s).mid.tolist()) for s in SYMBOLS}
    order = tp.fills["order"][:n].tolist()
    times = tp.fills["time_ns"][:n].tolist()
    prices = tp.fills["price"][:n].tolist()
    sides = tp.orders["side"].tolist()
    syms = tp.orders["symbol"].tolist()
    started = time.perf_counter()
    out = []
    for o, t, p in zip(order, times, prices, strict=True):
        qt, mid = quotes[syms[o]]
        s = sides[o]
        at = mid[bisect.bisect_right(qt, t) - 1]
        row = [s * (p - at) / at * 1e4]
        for h in (1, 5, 60):
            later = mid[bisect.bisect_right(qt, t + h * S) - 1]
            row.append(s * (p - later) / later * 1e4)
        out.append(row)
    return time.perf_counter() - started


def journal_read(orders: int, where: Path) -> dict[str, Any]:
    from fillforge.journal import Journal
    from fillforge.journal.broker import JournalledBroker
    from fillforge.orders.models import Instrument, OrderRequest
    from fillforge.sim.broker import SimulatedBroker
    from fillforge.sim.feeds import empty_feed
    from fillforge.sim.venue import Venue

    v = Venue("BENCH", calendar=None)
    v.add(Instrument(symbol="TEST"), empty_feed())
    b = SimulatedBroker(v, cash=D(10**12))
    b.quote("TEST", D("99.99"), D("100.01"), bid_size=D(10**9), ask_size=D(10**9))
    path = where / "bench.journal"
    j = Journal.open(path, clock=b)
    jb = JournalledBroker(b, j)
    reqs = [OrderRequest(symbol="TEST", side=s, qty=D(10)) for s in (OrderSide.BUY, OrderSide.SELL)]
    for i in range(orders):
        jb.submit(reqs[i % 2])
    jb.detach()
    j.close()
    started = time.perf_counter()
    tp = read_tape(path)
    took = time.perf_counter() - started
    return {
        "orders": orders,
        "records": tp.records,
        "fills": len(tp.fills["qty"]),
        "seconds": round(took, 3),
        "records_per_s": round(tp.records / took),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fills", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--journal-orders", type=int, default=5_000)
    args = ap.parse_args()
    rng = np.random.default_rng(7)
    m = market(rng)
    tp = tape(args.fills, rng)
    n = len(tp.fills["qty"])
    analyse(tp, m)  # warm: each symbol's columns are built once per MarketData
    best = min(full_analysis(tp, m) for _ in range(args.repeat))
    base = min(floor(tp, m) for _ in range(args.repeat))
    py_n = min(PY_FILLS, n)
    py = python_loop(tp, m, py_n)
    with tempfile.TemporaryDirectory() as where:
        reading = journal_read(args.journal_orders, Path(where))
    print(
        json.dumps(
            {
                "fills": n,
                "orders": len(tp.orders["side"]),
                "parents": len(tp.parents),
                "quotes": sum(len(m.symbol(s).q_ns) for s in SYMBOLS),
                "analysis_s": round(best, 3),
                "fills_per_s": round(n / best),
                "floor_searchsorted_s": round(base, 3),
                "floor_fills_per_s": round(n / base),
                "analysis_over_floor": round(best / base, 1),
                "python_loop_fills_per_s": round(py_n / py),
                "speedup_over_python_loop": round((n / best) / (py_n / py), 1),
                "journal_read": reading,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
