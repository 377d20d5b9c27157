"""The cost of a parent (execution/cost.py): every figure hand-computed on a buy and a sell, a
part fill, no fill and fees only; the degenerate inputs; the refusals; hypothesis for Perold's
decomposition (delay + trading + opportunity + fees = shortfall, exactly) and for the sign
convention (positive is a cost on both sides); the table rows; and a real parent worked by
ParentWorker on the simulated broker with a scripted market, its fills fed to parent_cost."""

from __future__ import annotations

import json
from decimal import Context, Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fillforge.broker.models import Trade
from fillforge.errors import ExecutionError
from fillforge.execution.cost import BPS_QUANTUM, ParentCost, cost_rows, parent_cost
from fillforge.execution.parent import ParentOrder, ParentState, WorkRules
from fillforge.execution.worker import ParentWorker
from fillforge.orders.enums import LiquiditySide, OrderSide
from fillforge.orders.models import Fill, Instrument
from fillforge.sim.broker import SimulatedBroker
from fillforge.sim.feeds import empty_feed
from fillforge.sim.fees import FeeModel
from fillforge.sim.venue import Venue
from fillforge.time import NS_PER_SECOND, from_iso

D = Decimal
S = NS_PER_SECOND
BUY, SELL = OrderSide.BUY, OrderSide.SELL
MAKER, TAKER = LiquiditySide.MAKER, LiquiditySide.TAKER


def spec(side: OrderSide, qty: int, **kw: Any) -> ParentOrder:
    kw.setdefault("start_ns", 10 * S)
    kw.setdefault("end_ns", 60 * S)
    return ParentOrder(parent_id="P1", symbol="T", side=side, qty=D(qty), **kw)


def fill(qty: int, price: str, second: int, fee: str = "0", liq: LiquiditySide = TAKER) -> Fill:
    return Fill(
        trade_id=f"x{second}.{qty}",
        order_id="o",
        qty=D(qty),
        price=D(price),
        commission=D(fee),
        liquidity=liq,
        ts_event=second * S,
    )


def trade(size: int, price: str, second: int) -> Trade:
    return Trade(symbol="T", price=D(price), size=D(size), timestamp_ns=second * S)


def parts(c: ParentCost) -> tuple[Decimal, Decimal, Decimal, Decimal, Decimal]:
    return (c.delay_bps, c.trading_bps, c.opportunity_bps, c.fees_bps, c.is_bps)


# ----- hand-computed scenarios ----------------------------------------------------------------


def test_a_buy_filled_in_full_every_figure_by_hand() -> None:
    # X = 1000, P_d = 50.00 (the signal's), mid at the decision 50.01, at the first child 50.02.
    p = spec(BUY, 1000, decision_price=D("50.00"), decision_ns=5 * S)
    fills = [fill(600, "50.03", 20, "0.60", MAKER), fill(400, "50.05", 30, "1.00")]
    tape = [  # in [10 s, 30 s]: 2000 at (25,000 + 75,060) / 2000 = 50.03; the rest outside
        trade(100, "40", 5),
        trade(500, "50.00", 15),
        trade(1500, "50.04", 25),
        trade(1000, "60", 40),
    ]
    c = parent_cost(
        p,
        fills,
        arrival_price=D("50.01"),
        first_child_mid=D("50.02"),
        final_price=D("50.10"),
        trades=tape,
    )
    assert (c.filled_qty, c.leaves_qty, c.avg_price) == (1000, 0, D("50.038"))
    assert (c.decision_price, c.arrival_price, c.first_child_mid) == (
        D("50.00"),
        D("50.01"),
        D("50.02"),
    )
    assert (c.interval_vwap, c.market_volume) == (D("50.03"), 2000)
    # Against the arrival mid: 0.028 / 50.01 = 5.59888022395520...; against the VWAP:
    # 0.008 / 50.03 = 1.59904057565460... (1e-12 bp, half-even).
    assert c.arrival_bps == D("5.598880223955")
    assert c.vwap_bps == D("1.599040575655")
    # delay 1000 * 0.02 = 20, trading 50,038 - 50,020 = 18, opportunity 0, fees 1.60;
    # over the paper notional 1000 * 50.00 = 50,000.
    assert (c.delay_cost, c.trading_cost, c.opportunity_cost, c.fees, c.is_cost) == (
        20,
        18,
        0,
        D("1.60"),
        D("39.60"),
    )
    assert parts(c) == (D(4), D("3.6"), 0, D("0.32"), D("7.92"))
    assert (c.fill_rate, c.maker_share, c.participation) == (1, D("0.6"), D("0.5"))
    # The interval: the parent's start to its last fill (it filled completely).
    assert (c.start_ns, c.end_ns, c.duration_s, c.decision_ns) == (10 * S, 30 * S, 20, 5 * S)


def test_a_sell_part_filled_every_figure_by_hand() -> None:
    # No decision price: P_d is the mid at the decision, 20.00. The mid fell to 19.98 before
    # the first child (a cost to a seller), 50 of 200 sold at 19.95, the rest marked at 19.90.
    p = spec(SELL, 200, start_ns=0)
    c = parent_cost(
        p,
        [fill(50, "19.95", 7)],
        arrival_price=D("20.00"),
        first_child_mid=D("19.98"),
        final_price=D("19.90"),
    )
    assert (c.filled_qty, c.leaves_qty, c.avg_price, c.decision_price) == (
        50,
        150,
        D("19.95"),
        D("20.00"),
    )
    assert c.arrival_bps == 25  # sold 0.05 below 20.00
    # delay 200 * 0.02 = 4, trading 50 * 0.03 = 1.5, opportunity 150 * 0.08 = 12; paper 4000.
    assert (c.delay_cost, c.trading_cost, c.opportunity_cost, c.fees, c.is_cost) == (
        4,
        D("1.5"),
        12,
        0,
        D("17.5"),
    )
    assert parts(c) == (10, D("3.75"), 30, 0, D("43.75"))
    # No trades: no VWAP, no participation; the interval runs to the parent's end.
    assert (c.interval_vwap, c.vwap_bps, c.participation, c.market_volume) == (None, None, None, 0)
    assert (c.fill_rate, c.maker_share, c.duration_s) == (D("0.25"), 0, 60)


def test_a_sell_filled_above_the_benchmarks_is_a_gain() -> None:
    p = spec(SELL, 100, decision_price=D("10.00"))
    c = parent_cost(
        p,
        [fill(100, "10.05", 20, liq=MAKER)],
        arrival_price=D("10.00"),
        first_child_mid=D("10.01"),
        final_price=D("10.00"),
        trades=[trade(400, "10.02", 15)],
    )
    # The mid rose before the first child (good for a seller): delay -1 = -10 bp; sold 0.04
    # above P_0: trading -4 = -40 bp; 0.03 above the VWAP.
    assert parts(c) == (-10, -40, 0, 0, -50)
    assert c.arrival_bps == -50
    assert c.vwap_bps == D("-29.940119760479")  # -0.03 / 10.02


def test_no_fill_the_shortfall_is_delay_plus_opportunity() -> None:
    # No child was sent: P_0 is the mid at the decision (10.02), P_d the signal's 10.00.
    p = spec(BUY, 100, decision_price=D("10.00"))
    c = parent_cost(p, [], arrival_price=D("10.02"), final_price=D("10.50"))
    assert (c.filled_qty, c.leaves_qty, c.avg_price, c.first_child_mid) == (
        0,
        100,
        None,
        D("10.02"),
    )
    assert (c.arrival_bps, c.vwap_bps, c.maker_share) == (None, None, None)
    assert c.fill_rate == 0
    assert (c.delay_cost, c.trading_cost, c.opportunity_cost, c.is_cost) == (2, 0, 48, 50)
    assert parts(c) == (20, 0, 480, 0, 500)
    assert c.is_bps == c.delay_bps + c.opportunity_bps


def test_fees_only() -> None:
    p = spec(BUY, 100)
    c = parent_cost(
        p,
        [fill(40, "10", 20, "0.2"), fill(60, "10", 21, "0.3")],
        arrival_price=D(10),
        first_child_mid=D(10),
        final_price=D(11),
    )
    assert parts(c) == (0, 0, 0, 5, 5)  # 0.5 on 1000
    assert (c.arrival_bps, c.is_cost, c.fees) == (0, D("0.5"), D("0.5"))
    assert str(c.delay_bps) == "0E-12"  # never -0, on either side
    s = parent_cost(spec(SELL, 100), [fill(100, "10", 20)], arrival_price=D(10), final_price=D(9))
    assert not any(x.is_signed() for x in parts(s))


def test_trades_at_the_interval_edges_count_and_others_do_not() -> None:
    p = spec(BUY, 100)
    tape = [trade(1, "1", 9), trade(10, "10", 10), trade(30, "20", 60), trade(1, "1", 61)]
    c = parent_cost(p, [], arrival_price=D(10), final_price=D(10), trades=tape)
    assert (c.market_volume, c.interval_vwap) == (40, D("17.5"))
    c = parent_cost(p, [], arrival_price=D(10), final_price=D(10), trades=tape, end_ns=59 * S)
    assert (c.market_volume, c.interval_vwap, c.end_ns) == (10, 10, 59 * S)
    c = parent_cost(p, [], arrival_price=D(10), final_price=D(10), trades=tape, start_ns=9 * S)
    assert c.market_volume == 41


# ----- refusals -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"arrival_price": D(0)}, "arrival_price"),
        ({"arrival_price": D("-1")}, "arrival_price"),
        ({"arrival_price": D("NaN")}, "arrival_price"),
        ({"arrival_price": 1.5}, "arrival_price"),
        ({"final_price": D(0)}, "final_price"),
        ({"first_child_mid": D("Infinity")}, "first_child_mid"),
        ({"fills": [fill(101, "10", 20)]}, "fills"),
        ({"fills": [object()]}, "fills"),
        ({"trades": [Trade(symbol="U", price=D(1), size=D(1), timestamp_ns=0)]}, "trades"),
        ({"end_ns": 5 * S}, "end_ns"),
        ({"start_ns": -1}, "start_ns"),
        ({"parent": "P1"}, "parent"),
    ],
)
def test_bad_input_is_refused_naming_the_field(kw: dict[str, Any], field: str) -> None:
    args: dict[str, Any] = {
        "parent": spec(BUY, 100),
        "fills": [],
        "arrival_price": D(10),
        "final_price": D(10),
    }
    args.update(kw)
    with pytest.raises(ExecutionError) as e:
        parent_cost(args.pop("parent"), args.pop("fills"), **args)
    assert e.value.field == field


def test_a_zero_decision_price_is_refused_by_the_spec() -> None:
    with pytest.raises(ExecutionError) as e:
        spec(BUY, 100, decision_price=D(0))
    assert e.value.field == "decision_price"


# ----- hypothesis: the decomposition and the sign convention ----------------------------------

prices = st.integers(1, 1_000_000).map(lambda c: D(c).scaleb(-2))
fees = st.integers(0, 10_000).map(lambda c: D(c).scaleb(-2))
_EXACT = Context(prec=200)


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[ParentOrder, list[Fill], dict[str, Decimal | None]]:
    side = draw(st.sampled_from([BUY, SELL]))
    qty = draw(st.integers(1, 100_000))
    decision = draw(st.none() | prices)
    p = spec(side, qty, decision_price=decision)
    cuts = sorted(draw(st.lists(st.integers(0, qty), max_size=6)))
    sizes = [b - a for a, b in zip([0, *cuts], cuts, strict=False) if b > a]
    fills = [
        fill(q, format(draw(prices), "f"), 20 + i, format(draw(fees), "f"))
        for i, q in enumerate(sizes)
    ]
    marks = {
        "arrival_price": draw(prices),
        "first_child_mid": draw(st.none() | prices),
        "final_price": draw(prices),
    }
    return p, fills, marks


@given(scenarios())
def test_the_four_parts_sum_to_the_shortfall_exactly(
    case: tuple[ParentOrder, list[Fill], dict[str, Any]],
) -> None:
    p, fills, marks = case
    c = parent_cost(p, fills, **marks)
    assert c.delay_bps + c.trading_bps + c.opportunity_bps + c.fees_bps == c.is_bps
    assert c.delay_cost + c.trading_cost + c.opportunity_cost + c.fees == c.is_cost
    # The paper portfolio, computed directly and exactly.
    s = 1 if p.side is BUY else -1
    pd = p.decision_price or marks["arrival_price"]
    q = sum((f.qty for f in fills), D(0))
    paid = sum((f.qty * f.price for f in fills), D(0))
    fee = sum((f.commission for f in fills), D(0))
    direct = s * (paid + (p.qty - q) * marks["final_price"] - p.qty * pd) + fee
    assert c.is_cost == direct
    assert c.filled_qty + c.leaves_qty == p.qty
    exact_bps = _EXACT.divide(direct * 10_000, p.qty * pd)
    assert abs(c.is_bps - exact_bps) <= 2 * BPS_QUANTUM
    for x in parts(c):
        assert x == x.quantize(BPS_QUANTUM)


@given(scenarios())
def test_positive_is_a_cost_on_both_sides(
    case: tuple[ParentOrder, list[Fill], dict[str, Any]],
) -> None:
    p, fills, marks = case
    c = parent_cost(p, fills, **marks)
    mirror = parent_cost(
        p.model_copy(update={"side": SELL if p.side is BUY else BUY}), fills, **marks
    )
    if not fills:
        assert c.arrival_bps is None
        return
    assert c.arrival_bps is not None
    assert c.avg_price is not None
    above = c.avg_price > marks["arrival_price"]
    below = c.avg_price < marks["arrival_price"]
    # A buy filled above the arrival mid costs; a sell filled below it costs.
    assert (c.arrival_bps > 0) == (above if p.side is BUY else below)
    assert mirror.arrival_bps == -c.arrival_bps
    assert mirror.trading_bps == -c.trading_bps
    assert mirror.fees_bps == c.fees_bps  # fees cost on either side


# ----- the table ------------------------------------------------------------------------------


def test_rows_are_json_strings_rounded_for_display_with_zoned_times() -> None:
    open_ = from_iso("2024-01-02T14:30:00Z")
    p = ParentOrder(
        parent_id="P9",
        symbol="T",
        side=BUY,
        qty=D(1000),
        start_ns=open_,
        end_ns=open_ + 3600 * S,
        decision_ns=open_ - S // 2,
        policy="vwap",
    )
    c = parent_cost(
        p,
        [fill(600, "50.03", 0, "0.60", MAKER)],
        arrival_price=D("50.01"),
        first_child_mid=D("50.02"),
        final_price=D("50.10"),
        trades=[Trade(symbol="T", price=D("50.02"), size=D(3000), timestamp_ns=open_ + S)],
    )
    [row] = cost_rows([c], ZoneInfo("America/New_York"))
    assert json.loads(json.dumps(row)) == row
    assert row["policy"] == "vwap"
    assert row["side"] == "buy"
    assert row["qty"] == "1000"
    assert (row["filled_qty"], row["leaves_qty"], row["avg_price"]) == ("600", "400", "50.03")
    assert row["arrival_bps"] == "4.00"  # 3.99920015996... rounded only here
    assert c.arrival_bps == D("3.999200159968")
    assert (row["fill_rate"], row["maker_share"], row["participation"]) == ("0.6", "1", "0.2")
    assert row["vwap_bps"] == "2.00"
    assert (row["decision_price"], row["final_price"], row["market_volume"]) == (
        "50.01",
        "50.10",
        "3000",
    )
    assert row["duration_s"] == "3600.000000000"
    assert row["decision"] == "2024-01-02T09:29:59.500000-05:00"
    assert (row["start"], row["end"]) == ("2024-01-02T09:30:00-05:00", "2024-01-02T10:30:00-05:00")
    assert cost_rows([c])[0]["start"] == "2024-01-02T14:30:00+00:00"
    for key in ("filled_qty", "leaves_qty", "avg_price", "arrival_bps", "vwap_bps", "is_bps"):
        assert key in row
    for key in ("fill_rate", "participation", "duration_s"):
        assert key in row
    empty = cost_rows([parent_cost(p, [], arrival_price=D(1), final_price=D(1))])[0]
    assert (empty["avg_price"], empty["arrival_bps"], empty["maker_share"]) == (None, None, None)


# ----- a real parent on the simulated broker --------------------------------------------------


def test_a_parent_worked_on_the_simulated_broker_costs_what_its_fills_say() -> None:
    inst = Instrument(symbol="T")
    venue = Venue(calendar=None, fees=FeeModel.flat(per_share=D("0.01")))
    venue.add(inst, empty_feed())
    b = SimulatedBroker(venue, cash=D(1_000_000), start_ns=0)
    b.quote("T", D("100.00"), D("100.02"), bid_size=D(100), ts=0)  # mid 100.01 at the decision
    p = ParentOrder(
        parent_id="P1",
        symbol="T",
        side=BUY,
        qty=D(100),
        start_ns=10 * S,
        end_ns=50 * S,
        decision_ns=0,
    )
    w = ParentWorker(b, p, inst, slices=2, rules=WorkRules(timeout_ns=5 * S, max_attempts=1))
    w.start()
    tape = [trade(130, "100.00", 12), trade(60, "100.01", 32)]
    b.run(until_ns=12 * S)
    b.trade("T", D("100.00"), D(130))  # 100 ahead of c1 at the bid, 30 to it
    b.run(until_ns=20 * S)  # c1 timed out at 15 s: the 20 left went at market
    b.quote("T", D("100.01"), D("100.03"), bid_size=D(10))
    b.run(until_ns=32 * S)
    b.trade("T", D("100.01"), D(60))  # 10 ahead of c2 at 100.01, 50 to it
    b.run(until_ns=60 * S)
    assert w.parent.state is ParentState.COMPLETED
    fills = [f for o in w.children for f in o.fills.values()]
    assert [(f.qty, f.price, f.liquidity, f.commission, f.ts_event // S) for f in fills] == [
        (30, D("100.00"), MAKER, D("0.30"), 12),
        (20, D("100.02"), TAKER, D("0.20"), 15),
        (50, D("100.01"), MAKER, D("0.50"), 32),
    ]

    c = parent_cost(
        w.parent,
        fills,
        arrival_price=D("100.01"),
        first_child_mid=D("100.01"),  # the quote had not moved at 10 s
        final_price=D("100.01"),
        trades=tape,
    )
    assert (c.filled_qty, c.leaves_qty, c.avg_price, c.fill_rate) == (100, 0, D("100.009"), 1)
    assert (c.end_ns, c.duration_s) == (32 * S, 22)  # the view's end: the last fill
    # 0.1 of price improvement on 10,001 of paper notional, 1.00 of fees.
    assert (c.delay_cost, c.trading_cost, c.opportunity_cost, c.fees) == (0, D("-0.1"), 0, 1)
    assert parts(c) == (0, D("-0.099990001000"), 0, D("0.999900009999"), D("0.899910008999"))
    assert c.arrival_bps == D("-0.099990001000")
    progress = w.progress().slippage_bps
    assert progress is not None
    assert c.arrival_bps == progress.quantize(BPS_QUANTUM)
    assert c.maker_share == D("0.8")
    # The tape's 190 (which includes c1's 30 and c2's 50) at 19,000.6.
    assert c.interval_vwap == D("100.0031578947368421052631579")
    assert c.participation == D("0.5263157894736842105263157895")
