"""TCA's invariants over journals hypothesis makes (issue 19): on every parent, delay + trading +
opportunity + fees == shortfall (in currency and in bps) and equals execution.cost's exact
figure; on every grouping key, the groups' counts, quantities, fees and costs add up to the
total. Each example is a real journal: a journalled simulated broker trading lone orders and
parents' children against quotes that move (``test_tca_support.Desk``)."""

from __future__ import annotations

import contextlib
import math
import tempfile
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_tca_support import Desk

from fillforge.analytics import GROUP_KEYS, tca
from fillforge.errors import OrderError
from fillforge.sim.fees import FeeModel

D = Decimal
_PARENT_FIGURES = ("delay_cost", "trading_cost", "opportunity_cost", "fees_cost", "is_cost")

step = st.tuples(
    st.sampled_from(["lone", "p0", "p1", "orphan"]),  # orphan: a parent never journalled
    st.sampled_from(["buy", "sell"]),
    st.integers(1, 40),  # qty
    st.one_of(st.none(), st.integers(-3, 3)),  # market, or a limit this many ticks off the mid
    st.integers(-4, 4),  # the quote moves this many ticks after
    st.integers(0, 90),  # seconds pass
)
parent = st.tuples(
    st.sampled_from(["buy", "sell"]),
    st.integers(20, 200),  # qty
    st.integers(-20, 20),  # decision price, ticks off the first mid
    st.sampled_from(["twap", "vwap", "pov"]),
    st.booleans(),  # ended (cancelled) at the end, else still working
)


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-7)


def _sum(values: list[float]) -> float:
    """A sum over groups: a group whose figure is unknown (NaN: none of its parents has a
    known shortfall) adds nothing; all unknown is unknown."""
    known = [v for v in values if not math.isnan(v)]
    return math.fsum(known) if known else math.nan


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)
@given(st.lists(step, min_size=1, max_size=14), st.lists(parent, min_size=2, max_size=2))
def test_the_shortfall_identity_and_groups_conserving_totals(
    steps: list[tuple[str, str, int, int | None, int, int]],
    parents: list[tuple[str, int, int, str, bool]],
) -> None:
    with tempfile.TemporaryDirectory() as where:
        path = Path(where) / "j"
        desk = Desk(path, fees=FeeModel.flat(per_share=D("0.005")))
        mid = 10_000  # cents
        desk.quote("99.99", "100.01", size=25)
        for i, (side, qty, dec, policy, _) in enumerate(parents):
            desk.parent(f"p{i}", side, qty, decision_price=str(D(mid + dec) / 100), policy=policy)
        n = {"p0": 0, "p1": 0, "orphan": 0}
        t = 0
        for who, side, qty, limit, move, wait in steps:
            cid = None
            if who != "lone":
                n[who] += 1
                cid = f"{who}-c{n[who]}"
                if who != "orphan":
                    side = parents[int(who[1])][0]
            price = None if limit is None else str(D(mid + limit) / 100)
            with contextlib.suppress(OrderError):  # a refusal is journalled, and counted
                desk.order(side, qty, limit=price, cid=cid)
            mid = max(mid + move, 100)
            desk.quote(str(D(mid - 1) / 100), str(D(mid + 1) / 100), size=25)
            t += wait
            desk.at(t)
        for i, (side, qty, dec, policy, ended) in enumerate(parents):
            if ended:
                desk.parent(
                    f"p{i}",
                    side,
                    qty,
                    change="cancelled",
                    decision_price=str(D(10_000 + dec) / 100),
                    policy=policy,
                    ended_s=t,
                )
        desk.at(t + 61)
        r = tca(path, desk.close())

    p = r.parents
    for i in range(len(p["kind"])):
        if not np.isfinite(p["is_cost"][i]):
            continue
        parts = p["delay_cost"][i] + p["trading_cost"][i] + p["opportunity_cost"][i]
        assert _close(parts + p["fees"][i], p["is_cost"][i])
        bps = p["delay_bps"][i] + p["trading_bps"][i] + p["opportunity_bps"][i]
        assert _close(bps + p["fees_bps"][i], p["is_bps"][i])
        if p["kind"][i] == "parent" and p["filled_qty"][i] <= p["qty"][i]:
            exact = r.parent_cost(str(p["parent_id"][i]))
            assert exact is not None
            assert float(exact.is_cost) == pytest.approx(p["is_cost"][i], rel=1e-9, abs=1e-7)
            assert float(exact.delay_cost) == pytest.approx(p["delay_cost"][i], abs=1e-7)
            assert float(exact.opportunity_cost) == pytest.approx(
                p["opportunity_cost"][i], abs=1e-7
            )

    total = r.total()
    assert total["fills"] == len(r.fills["qty"])
    for key in GROUP_KEYS:
        groups = list(r.group_by(key).values())
        for figure in ("orders", "ended", "refused", "canceled", "fills", "filled_qty", "fees"):
            assert _close(sum(g[figure] for g in groups), total[figure]), (key, figure)
        assert _close(sum(g["notional"] for g in groups), total["notional"])
        if key == "venue":
            trading = float(np.nansum(r.fills["trading_cost"]))
            assert _close(sum(g["trading_cost"] for g in groups), trading)
            continue
        for figure in (*_PARENT_FIGURES, "paper_notional", "parents"):
            together, whole = _sum([g[figure] for g in groups]), total[figure]
            assert math.isnan(together) == math.isnan(whole), (key, figure)
            assert math.isnan(whole) or _close(together, whole), (key, figure)
