"""The cost of the pre-trade risk checks per order, against a plain Python call in the same
process.

Run: ``python benches/bench_risk.py [--orders 20000] [--repeats 5] [--json]``.

A ``SimulatedBroker`` with ten symbols, 1,000,000 in cash, a position in five of them and one
resting order in each; ``--orders`` limit orders (buys and sells across the ten symbols, every
one inside every limit, so every control runs to the end) judged by ``RiskManager.check``:

(a) the floor: a loop calling an empty Python function with each order;
(b) the realistic set the issue names: order notional and quantity, position as a percent of
    equity, open orders, orders per day, daily loss, price band; prices from a
    :class:`~fillforge.risk.PriceBook` (the prices a strategy already holds);
(c) as (b), the prices asked of the broker at each order (:class:`~fillforge.risk.BrokerPrices`:
    ``last_trade`` and, for market orders, ``latest_quote``; the simulator builds a model for
    each answer);
(d) the portfolio VaR control alone (historical, 99%, 1 day, 500 days of ten symbols): two VaR
    evaluations per order (before and after);
(e) ``RiskGate.submit`` of an order the set (b) denies: the check, and the denied order made
    in the gate's own book with its two events.

The broker's clock does not move during a run: the account is read once (``refresh_ns``), as
between two bars of a backtest. Each figure is the best of ``--repeats`` runs, garbage collector
off while timed, twice: wall time (``bench_timers.best_time``) and the process's CPU time
(``time.process_time``). On a shared machine whose load exceeds its cores the wall figure counts
the time other processes held the CPU; the CPU figure is what the checks cost. Target (issue
17): <= 5 us per order on the issue's machine, about 3.2x faster than the shared one these
figures come from, so <= 16 us here for (b).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from decimal import Decimal

import numpy as np
from bench_timers import best_time

from fillforge.orders.enums import OrderSide, OrderTimeInForce, OrderType
from fillforge.orders.models import Instrument, OrderRequest
from fillforge.risk import (
    BrokerPrices,
    Control,
    DailyLossLimit,
    MaxOpenOrders,
    MaxOrderNotional,
    MaxOrderQty,
    MaxOrdersPerDay,
    MaxPosition,
    PortfolioVaR,
    PriceBand,
    PriceBook,
    RiskGate,
    RiskManager,
)
from fillforge.sim.broker import SimulatedBroker
from fillforge.sim.feeds import empty_feed
from fillforge.sim.venue import Venue

D = Decimal
SYMBOLS = tuple(f"S{i:02d}" for i in range(10))
US = 1e6


def _broker() -> SimulatedBroker:
    venue = Venue("BENCH", calendar=None)
    for s in SYMBOLS:
        venue.add(Instrument(symbol=s), empty_feed())
    b = SimulatedBroker(venue, cash=D(1_000_000), start_ns=10**9)
    for i, s in enumerate(SYMBOLS):
        p = D(100 + i)
        b.trade(s, p, D(1), aggressor=OrderSide.BUY)
        b.quote(s, p - D("0.01"), p + D("0.01"), bid_size=D(10**6), ask_size=D(10**6))
    for s in SYMBOLS[:5]:
        b.submit(OrderRequest(symbol=s, side=OrderSide.BUY, qty=D(100)))
    for i, s in enumerate(SYMBOLS):
        b.submit(_limit(s, OrderSide.BUY, 1, D(90 + i)))
    return b


def _limit(symbol: str, side: OrderSide, qty: int, price: Decimal) -> OrderRequest:
    return OrderRequest(
        symbol=symbol,
        side=side,
        type=OrderType.LIMIT,
        time_in_force=OrderTimeInForce.GTC,
        qty=D(qty),
        limit_price=price,
    )


def _orders(n: int) -> list[OrderRequest]:
    out = []
    for k in range(n):
        i = k % len(SYMBOLS)
        side = OrderSide.BUY if k % 2 == 0 else OrderSide.SELL
        px = D(100 + i) + (D("-0.05") if side is OrderSide.BUY else D("0.05"))
        out.append(_limit(SYMBOLS[i], side, 10 + k % 7, px))
    return out


def _realistic() -> list[Control]:
    return [
        MaxOrderQty(10_000),
        MaxOrderNotional(500_000),
        MaxPosition(pct="0.25"),
        MaxOpenOrders(10_000),
        MaxOrdersPerDay(10**9),
        DailyLossLimit(50_000),
        PriceBand(200),
    ]


def _book(b: SimulatedBroker) -> PriceBook:
    book = PriceBook()
    book.follow(b, SYMBOLS)
    return book


def _returns(days: int = 500) -> dict[str, list[float]]:
    rng = np.random.default_rng(20261205)
    common = rng.normal(0, 0.01, days)
    return {s: list(common + rng.normal(0, 0.01, days)) for s in SYMBOLS}


def _per_order(fn: Callable[[], object], n: int, repeats: int) -> tuple[float, float]:
    """(wall, CPU) microseconds per order of ``fn``, which handles ``n`` orders."""
    return best_time(fn, repeats) / n * US, best_time(fn, repeats, time.process_time) / n * US


def _check_loop(m: RiskManager, orders: list[OrderRequest]) -> None:
    check = m.check
    for r in orders:
        check(r)


def _floor_loop(orders: list[OrderRequest]) -> None:
    def f(r: OrderRequest) -> None:
        pass

    for r in orders:
        f(r)


def run(n: int, repeats: int) -> dict[str, float]:
    orders = _orders(n)
    b = _broker()
    out: dict[str, float] = {}

    def measure(name: str, fn: Callable[[], object], count: int) -> None:
        out[f"{name}_us"], out[f"{name}_cpu_us"] = _per_order(fn, count, repeats)

    measure("floor", lambda: _floor_loop(orders), n)

    held = RiskManager(b, _realistic(), prices=_book(b))
    measure("realistic", lambda: _check_loop(held, orders), n)
    held.close()

    asked = RiskManager(b, _realistic(), prices=BrokerPrices(b))
    measure("broker_prices", lambda: _check_loop(asked, orders), n)
    asked.close()

    few = orders[: max(n // 10, 100)]
    var_m = RiskManager(b, [PortfolioVaR(_returns(), amount=10**7)], prices=_book(b))
    measure("var", lambda: _check_loop(var_m, few), len(few))
    var_m.close()

    def deny_all() -> None:
        gate = RiskGate(b, [MaxOrderQty(1)], on_breach={})
        for r in few:
            gate.submit(r)
        gate.close()

    measure("denied_submit", deny_all, len(few))
    out["realistic_ratio"] = out["realistic_cpu_us"] / out["floor_cpu_us"]
    out["target_here_us"] = 16.0
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--orders", type=int, default=20_000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    r = run(a.orders, a.repeats)
    if a.json:
        print(json.dumps(r, indent=2))
        return
    rows = [
        ("(a) empty Python call per order", "floor"),
        ("(b) realistic set, held prices", "realistic"),
        ("(c) realistic set, prices from the broker", "broker_prices"),
        ("(d) portfolio VaR alone (10 x 500 days)", "var"),
        ("(e) a denied submit through the gate", "denied_submit"),
    ]
    print(f"{'per order':44} {'wall us':>9} {'CPU us':>9}")
    for label, key in rows:
        print(f"{label:44} {r[key + '_us']:9.2f} {r[key + '_cpu_us']:9.2f}")
    print(
        f"(b) is {r['realistic_ratio']:.0f}x the floor (CPU); target <= "
        f"{r['target_here_us']:.0f} us here (5 us on the issue's machine)"
    )


if __name__ == "__main__":
    main()
