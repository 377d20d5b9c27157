"""Rebalancing to target weights (fillforge.portfolio.rebalance): worked examples for drift,
lots, unlisted positions, shorts and the cash limit; refusals; and, on random books, the
invariants (orders on the lot grid, sells first, never past the target, never more spent than
the cash there is)."""

from __future__ import annotations

from decimal import Decimal, localcontext

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from fillforge.broker.models import Position
from fillforge.errors import MetricsError
from fillforge.orders.enums import OrderSide
from fillforge.orders.models import Instrument
from fillforge.portfolio._exact import CTX
from fillforge.portfolio.rebalance import RebalanceOrder, current_weights, rebalance

D = Decimal
BUY, SELL = OrderSide.BUY, OrderSide.SELL


def test_from_cash_to_targets_in_whole_shares() -> None:
    orders = rebalance({"AAPL": D("0.6"), "MSFT": D("0.3")}, {}, {"AAPL": D(190), "MSFT": D(410)},
                       D(100_000))  # fmt: skip
    assert orders == [
        # 60,000 / 190 = 315.8 -> 315 shares; 30,000 / 410 = 73.2 -> 73 shares.
        RebalanceOrder("AAPL", BUY, D(315), D(190), D(0), D("0.6")),
        RebalanceOrder("MSFT", BUY, D(73), D(410), D(0), D("0.3")),
    ]
    assert orders[0].notional == D(59_850)
    assert orders[1].signed_qty == D(73)


def test_drift_threshold_and_sells_first() -> None:
    positions = {"A": D(500), "B": D(100), "C": D(50)}
    prices = {"A": D(100), "B": D(100), "C": D(100)}
    # Weights: A 0.5, B 0.1, C 0.05 of 100,000.
    orders = rebalance({"A": D("0.3"), "B": D("0.12"), "C": D("0.2")}, positions, prices,
                       D(100_000), drift=D("0.05"))  # fmt: skip
    # B drifted 0.02 (inside the threshold): left alone. A sells 200 first, C buys 150.
    assert [(o.symbol, o.side, o.qty) for o in orders] == [("A", SELL, D(200)), ("C", BUY, D(150))]
    assert orders[1].current_weight == D("0.05")


def test_unlisted_positions_are_closed_unless_kept() -> None:
    positions = {"OLD": Position(symbol="OLD", qty=D(10)), "NEW": D(0)}
    prices = {"OLD": D(50), "NEW": D(25)}
    orders = rebalance({"NEW": D("0.5")}, positions, prices, D(1000))
    assert [(o.symbol, o.side, o.qty) for o in orders] == [
        ("OLD", SELL, D(10)),
        ("NEW", BUY, D(20)),
    ]
    kept = rebalance({"NEW": D("0.5")}, positions, prices, D(1000), keep_unlisted=True)
    assert [(o.symbol, o.side, o.qty) for o in kept] == [("NEW", BUY, D(20))]


def test_fractional_lots_and_instruments() -> None:
    prices = {"X": D(300), "Y": D(300)}
    frac = rebalance({"X": D("0.5")}, {}, prices, D(1000), lot_of=D("0.001"))
    assert frac[0].qty == D("1.666")
    by_symbol = rebalance(
        {"X": D("0.5"), "Y": D("0.5")},
        {},
        prices,
        D(1000),
        lot_of={"X": D("0.5"), "Y": Instrument(symbol="Y", lot_size=D(1), min_qty=D(2))},
    )
    # X: 1.666 -> 1.5 (three half lots); Y: 1 share is under its minimum of 2: dropped.
    assert [(o.symbol, o.qty) for o in by_symbol] == [("X", D("1.5"))]
    called = rebalance({"X": D("0.5")}, {}, prices, D(1000), lot_of=lambda s: D("0.1"))
    assert called[0].qty == D("1.6")


def test_a_short_is_bought_back_toward_its_target() -> None:
    # Short 10 at 100: equity 1,000 means 2,000 of cash (the short's proceeds included).
    orders = rebalance({"S": D("0.2")}, {"S": D(-10)}, {"S": D(100)}, D(1000))
    assert [(o.side, o.qty) for o in orders] == [(BUY, D(12))]
    assert orders[0].current_weight == D(-1)


def test_buys_are_scaled_down_to_the_cash() -> None:
    # A is overweight but inside the drift, so its cash is not freed; B and C want 0.4 each.
    positions = {"A": D(900)}
    prices = {"A": D(1), "B": D(1), "C": D(2)}
    orders = rebalance({"A": D("0.2"), "B": D("0.4"), "C": D("0.4")}, positions, prices,
                       D(1000), drift=D("0.8"))  # fmt: skip
    assert orders == []  # everything within 0.8
    orders = rebalance({"A": D("0.85"), "B": D("0.08"), "C": D("0.07")}, positions, prices,
                       D(1000), drift=D("0.06"))  # fmt: skip
    # A (0.9 vs 0.85) is inside the drift; B wants 80, C wants 35 (cost 70): 150 > 100 cash,
    # so both are scaled by 2/3 and rounded down: 53 and 23 (cost 99).
    assert [(o.symbol, o.qty) for o in orders] == [("B", D(53)), ("C", D(23))]
    assert sum(o.notional for o in orders) == 99
    # A reserve of 5% of equity is held back.
    reserved = rebalance({"B": D("0.5")}, {}, prices, D(1000), cash_buffer=D("0.05"))
    assert reserved[0].qty == D(500)
    tight = rebalance({"B": D("1")}, {}, prices, D(1000), cash_buffer=D("0.05"))
    assert tight[0].qty == D(950)


def test_a_zero_target_not_held_needs_no_price() -> None:
    orders = rebalance({"A": D("0.5"), "GONE": D(0)}, {"GONE": D(0)}, {"A": D(10)}, D(1000))
    assert [(o.symbol, o.qty) for o in orders] == [("A", D(50))]


def test_current_weights() -> None:
    w = current_weights({"A": D(10), "B": D(-5), "C": D(0)}, {"A": D(20), "B": D(10)}, D(1000))
    assert w == {"A": D("0.2"), "B": D("-0.05")}


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"targets": {"A": D("0.7"), "B": D("0.4")}}, "targets"),
        ({"targets": {"A": D("-0.1")}}, "targets[A]"),
        ({"targets": {"A": 0.5}}, "targets[A]"),
        ({"targets": {"": D("0.5")}}, "targets"),
        ({"targets": [("A", D(1))]}, "targets"),
        ({"equity": D(0)}, "equity"),
        ({"equity": 1000.0}, "equity"),
        ({"drift": D(1)}, "drift"),
        ({"drift": D(-1)}, "drift"),
        ({"cash_buffer": D("1.5")}, "cash_buffer"),
        ({"prices": {}}, "prices[A]"),
        ({"prices": {"A": D(0)}}, "prices[A]"),
        ({"positions": {"A": "x"}}, "positions[A]"),
        ({"positions": [1]}, "positions"),
        ({"lot_of": D(0)}, "lot_of[A]"),
        ({"lot_of": {}}, "lot_of[A]"),
    ],
)
def test_bad_input_is_refused(kwargs: dict[str, object], field: str) -> None:
    args: dict[str, object] = {
        "targets": {"A": D("0.5")},
        "positions": {},
        "prices": {"A": D(10)},
        "equity": D(1000),
    } | kwargs
    with pytest.raises(MetricsError) as e:
        rebalance(**args)  # type: ignore[arg-type]
    assert e.value.field == field


# --- invariants ------------------------------------------------------------------------------

SYMBOLS = ["A", "B", "C", "D"]
LOTS = st.sampled_from([D(1), D(10), D("0.5"), D("0.001")])


@st.composite
def books(draw: st.DrawFn) -> tuple[dict[str, D], dict[str, D], dict[str, D], D, dict[str, D]]:
    prices = {s: D(draw(st.integers(100, 100_000))) / 100 for s in SYMBOLS}
    positions = {s: D(draw(st.integers(-50, 500))) for s in SYMBOLS}
    invested = sum(positions[s] * prices[s] for s in SYMBOLS)
    cash = D(draw(st.integers(0, 200_000)))
    equity = invested + cash
    if equity <= 0:
        equity = cash = D(1000)
        positions = dict.fromkeys(SYMBOLS, D(0))
    raw = [draw(st.integers(0, 100)) for _ in SYMBOLS]
    scale = max(sum(raw), 100)
    pct = [x * 100 // scale for x in raw]  # whole percents summing to at most 100
    targets = {s: D(x) / 100 for s, x in zip(SYMBOLS, pct, strict=True) if draw(st.booleans())}
    lots = {s: draw(LOTS) for s in SYMBOLS}
    return targets, positions, prices, equity, lots


@settings(max_examples=300, deadline=None)
@given(books(), st.sampled_from([D(0), D("0.01"), D("0.1")]), st.booleans())
def test_rebalance_invariants(
    book: tuple[dict[str, D], dict[str, D], dict[str, D], D, dict[str, D]],
    drift: D,
    keep: bool,
) -> None:
    targets, positions, prices, equity, lots = book
    orders = rebalance(targets, positions, prices, equity, drift=drift, lot_of=lots,
                       keep_unlisted=keep)  # fmt: skip
    with localcontext(CTX):
        invested = sum((positions[s] * prices[s] for s in SYMBOLS), D(0))
        cash = equity - invested
        sides = [o.side for o in orders]
        assert sides == sorted(sides, key=lambda s: s is BUY)  # sells first
        assert len({o.symbol for o in orders}) == len(orders)
        for o in orders:
            assert o.qty > 0
            assert o.qty % lots[o.symbol] == 0  # on the lot grid
            q0 = positions[o.symbol]
            q1 = q0 + o.signed_qty
            target_qty = targets.get(o.symbol, D(0)) * equity / prices[o.symbol]
            assert min(q0, target_qty) <= q1 <= max(q0, target_qty)  # never past the target
            assert abs(o.current_weight - o.target_weight) > drift
            cash -= o.signed_qty * o.price
            if o.side is BUY:
                assert cash >= 0  # never spends more than the cash there is
            if keep:
                assert o.symbol in targets


@settings(max_examples=200, deadline=None)
@given(books())
def test_with_cash_to_spare_every_symbol_ends_within_a_lot_of_its_target(
    book: tuple[dict[str, D], dict[str, D], dict[str, D], D, dict[str, D]],
) -> None:
    targets, positions, prices, equity, lots = book
    with localcontext(CTX):
        # Selling rounds down by less than a lot per symbol, so the buys always fit when the
        # cash left at the targets covers a lot of each.
        spare = equity * (1 - sum(targets.values(), D(0)))
        assume(spare >= sum(lots[s] * prices[s] for s in SYMBOLS))
        orders = rebalance(targets, positions, prices, equity, lot_of=lots)
        after = dict(positions)
        for o in orders:
            after[o.symbol] += o.signed_qty
        for s in SYMBOLS:
            target_qty = targets.get(s, D(0)) * equity / prices[s]
            assert abs(target_qty - after[s]) < lots[s]
