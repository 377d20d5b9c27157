"""Work a 5,000-share buy on a LOBSTER day with resting limit orders (``fillforge demo``).

Run: ``python examples/passive_buy.py``. The strategy itself is
:func:`fillforge.demos.passive_buy.run_passive_buy` (shipped in the package so that the
``fillforge demo`` command runs it after ``pip install .``); this script shows how to call it and
read its report.

The slippage figures are :func:`fillforge.execution.cost.parent_cost`'s ``arrival_bps`` and
``vwap_bps`` (the report keeps the whole :class:`~fillforge.execution.cost.ParentCost` as
``cost``), rounded to 0.01 bp: positive means the buy paid more than the benchmark. They are
measured from the exact average price and VWAP, not from the rounded ones printed beside them.
"""

from __future__ import annotations

from fillforge.demos.passive_buy import run_passive_buy


def main() -> None:
    r = run_passive_buy(qty=5_000, reprice_every=100)
    print(f"filled {r.filled} of {r.target} in {len(r.fills)} fills ({r.fill_rate:.1%})")
    print(f"orders {r.orders}, replaces {r.replaces}")
    print(f"average price {r.avg_price}, arrival mid {r.arrival_mid}, VWAP {r.interval_vwap}")
    print(
        f"slippage vs arrival {r.slippage_vs_arrival_bps} bps, vs VWAP {r.slippage_vs_vwap_bps} bps"
    )


if __name__ == "__main__":
    main()
