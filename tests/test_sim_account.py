"""fillforge.sim.account: average-price accounting, realised/unrealised P&L, flips through zero,
shorts, the exact equity invariant under random fills (hypothesis, against an exact rational
reference), buying-power reservations and the shortable rules."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fillforge.errors import (
    InsufficientBuyingPowerError,
    NotShortableError,
    OrderValidationError,
    SimulationError,
)
from fillforge.orders.enums import OrderSide
from fillforge.sim.account import Account, AccountSnapshot, Position

D = Decimal
BUY, SELL = OrderSide.BUY, OrderSide.SELL


def invariant(a: Account) -> None:
    """cash - initial + sum(qty * mark) == realised + unrealised - fees, exactly."""
    held = sum((p.qty * p.mark for p in a.positions().values() if p.mark), D(0))
    assert a.cash - a.initial_cash + held == a.realized_pnl() + a.unrealized_pnl() - a.fees_paid
    assert a.equity == a.cash + held


# ----- fills ----------------------------------------------------------------------------------


def test_buy_pays_cash_and_fee() -> None:
    a = Account(D(10_000))
    assert a.apply_fill("AAPL", BUY, D(10), D("150.25"), D("1.5")) == 0
    assert a.cash == D(10_000) - D("1502.5") - D("1.5")
    p = a.position("AAPL")
    assert (p.qty, p.avg_price, p.cost_basis) == (D(10), D("150.25"), D("1502.5"))
    assert p.realized_pnl == 0
    assert p.mark == D("150.25")  # the first fill marks a symbol nobody marked
    assert a.fees_paid == D("1.5")
    invariant(a)


def test_weighted_average_and_partial_close() -> None:
    a = Account(D(100_000))
    a.apply_fill("X", BUY, D(100), D(10))
    a.apply_fill("X", BUY, D(300), D(12))
    p = a.position("X")
    assert p.avg_price == D("11.5")
    assert p.cost_basis == D(4600)
    assert a.apply_fill("X", SELL, D(100), D(13), D(1)) == D(150)  # 100 * (13 - 11.5)
    p = a.position("X")
    assert (p.qty, p.avg_price, p.realized_pnl) == (D(300), D("11.5"), D(150))
    assert a.cash == D(100_000) - 1000 - 3600 + 1300 - 1
    invariant(a)


def test_close_to_flat() -> None:
    a = Account(D(10_000))
    a.apply_fill("X", BUY, D(50), D(20))
    assert a.apply_fill("X", SELL, D(50), D(18)) == D(-100)
    p = a.position("X")
    assert (p.qty, p.avg_price, p.cost_basis, p.unrealized_pnl) == (D(0), D(0), D(0), D(0))
    assert p.realized_pnl == D(-100)
    assert a.positions() == {}
    assert a.realized_pnl("X") == a.realized_pnl() == D(-100)
    assert a.cash == D(9_900)
    invariant(a)


def test_flip_long_to_short_opens_the_rest_at_the_fill_price() -> None:
    a = Account(D(10_000))
    a.apply_fill("X", BUY, D(100), D(10))
    assert a.apply_fill("X", SELL, D(150), D(12)) == D(200)
    p = a.position("X")
    assert (p.qty, p.avg_price, p.cost_basis) == (D(-50), D(12), D(-600))
    a.mark("X", D(11))
    assert a.unrealized_pnl("X") == D(50)  # short 50 from 12, now 11
    invariant(a)


def test_short_cover_and_flip_to_long() -> None:
    a = Account(D(10_000))
    a.apply_fill("X", SELL, D(100), D(20))
    assert a.cash == D(12_000)
    assert a.position("X").qty == D(-100)
    assert a.apply_fill("X", BUY, D(40), D(15)) == D(200)
    assert a.position("X").avg_price == D(20)
    assert a.apply_fill("X", BUY, D(100), D(25)) == D(-300)  # covers 60 at a loss of 5
    p = a.position("X")
    assert (p.qty, p.avg_price, p.realized_pnl) == (D(40), D(25), D(-100))
    invariant(a)


def test_inexact_average_keeps_the_invariant_exact() -> None:
    a = Account(D(1_000))
    a.apply_fill("X", BUY, D(1), D(10))
    a.apply_fill("X", BUY, D(2), D(11))  # avg 32/3
    r = a.apply_fill("X", SELL, D(1), D(12))
    assert r == D(12) - D("10.666666666667")  # the basis share is rounded to 12 places
    assert a.position("X").cost_basis == D("32") - D("10.666666666667")
    a.mark("X", D("11.37"))
    invariant(a)
    a.apply_fill("X", SELL, D(2), D(11))  # the last of it: the whole remaining basis
    assert a.position("X").cost_basis == 0
    assert a.realized_pnl() == 12 + 22 - 32
    invariant(a)


def test_marks_drive_unrealised_pnl_and_equity() -> None:
    a = Account(D(10_000))
    a.apply_fill("A", BUY, D(100), D(10))
    a.apply_fill("B", SELL, D(10), D(50))
    a.mark("A", D(12))
    a.mark("B", D(45))
    assert a.unrealized_pnl("A") == D(200)
    assert a.unrealized_pnl("B") == D(50)
    assert a.unrealized_pnl() == D(250)
    assert a.long_market_value == D(1200)
    assert a.short_market_value == D(450)
    assert a.equity == D(10_250)
    a.apply_fill("A", BUY, D(1), D(20))  # a later fill does not move a set mark
    assert a.position("A").mark == D(12)
    invariant(a)


def test_unknown_symbol_is_flat() -> None:
    a = Account(D(1))
    p = a.position("NOPE")
    assert p == Position(symbol="NOPE")
    assert p.is_flat
    assert a.realized_pnl("NOPE") == a.unrealized_pnl("NOPE") == 0


def test_snapshot_is_ordered_serialisable_and_deterministic() -> None:
    def run() -> AccountSnapshot:
        a = Account(D(50_000), leverage=D(2))
        a.apply_fill("MSFT", BUY, D(10), D("300.10"), D("0.05"))
        a.apply_fill("AAPL", SELL, D(5), D("190.00"), D("-0.01"))
        a.mark("MSFT", D("301.00"))
        a.reserve("o1", "AAPL", BUY, D(20), D("189.50"))
        return a.snapshot()

    s = run()
    assert list(AccountSnapshot.model_fields) == [
        "cash",
        "equity",
        "buying_power",
        "reserved",
        "leverage",
        "long_market_value",
        "short_market_value",
        "realized_pnl",
        "unrealized_pnl",
        "fees_paid",
        "positions",
    ]
    assert list(s.positions) == ["AAPL", "MSFT"]
    assert s.model_dump_json() == run().model_dump_json()
    assert AccountSnapshot.model_validate_json(s.model_dump_json()) == s
    assert s.reserved == 15 * D("189.50")  # 5 of the 20 only cover the short
    assert s.fees_paid == D("0.04")
    assert s.equity == s.cash + D(3010) - D(950)


# ----- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (("X", BUY, D(0), D(1)), "qty"),
        (("X", BUY, D(-3), D(1)), "qty"),
        (("X", BUY, 1.5, D(1)), "qty"),
        (("X", BUY, D("NaN"), D(1)), "qty"),
        (("X", BUY, D(1), D(0)), "price"),
        (("X", BUY, D(1), D("-1")), "price"),
        (("X", BUY, D(1), D("Infinity")), "price"),
        (("X", BUY, D(1), D(1), D("NaN")), "fee"),
        (("X", "hold", D(1), D(1)), "side"),
        (("", BUY, D(1), D(1)), "symbol"),
    ],
)
def test_bad_fill_changes_nothing(args: tuple[Any, ...], field: str) -> None:
    a = Account(D(1_000))
    a.apply_fill("X", BUY, D(2), D(10))
    before = a.snapshot()
    with pytest.raises(OrderValidationError) as e:
        a.apply_fill(*args)
    assert e.value.field == field
    assert a.snapshot() == before


def test_ints_and_strings_are_exact_inputs() -> None:
    a = Account(1_000)
    a.apply_fill("X", "buy", 3, "10.10")  # type: ignore[arg-type]
    assert a.position("X").cost_basis == D("30.30")
    assert a.cash == D("969.70")


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"cash": D(-1)}, "cash"),
        ({"cash": 100.0}, "cash"),
        ({"cash": D(1), "leverage": D(0)}, "leverage"),
        ({"cash": D(1), "leverage": D("NaN")}, "leverage"),
        ({"cash": D(1), "shortable": "AAPL"}, "shortable"),
        ({"cash": D(1), "shortable": [1, 2]}, "shortable"),
    ],
)
def test_bad_configuration(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(SimulationError) as e:
        Account(**kwargs)
    assert e.value.field == field


# ----- buying power and reservations ----------------------------------------------------------


def test_buying_power_is_equity_times_leverage_less_exposure() -> None:
    a = Account(D(10_000))
    assert a.buying_power == D(10_000)
    a.apply_fill("X", BUY, D(50), D(100))
    assert a.buying_power == D(5_000)
    a.mark("X", D(50))  # a loss: equity 7_500, exposure 2_500
    assert a.buying_power == D(5_000)

    m = Account(D(10_000), leverage=D(2))
    assert m.buying_power == D(20_000)
    m.apply_fill("X", BUY, D(100), D(100))  # 10_000 of stock: 10_000 left (Reg-T 50%)
    assert m.buying_power == D(10_000)
    m.mark("X", D(200))  # equity 20_000, exposure 20_000
    assert m.buying_power == D(20_000)

    s = Account(D(10_000), leverage=D(2))
    s.apply_fill("X", SELL, D(100), D(100))  # a short uses the same buying power as a long
    assert s.buying_power == D(10_000)
    s.mark("X", D(250))  # equity -5_000: buying power stops at zero
    assert s.equity == D(-5_000)
    assert s.buying_power == 0


def test_reserve_holds_buying_power_and_fills_consume_it() -> None:
    a = Account(D(10_000))
    assert a.reserve("o1", "X", BUY, D(50), D(100)) == D(5_000)
    assert a.buying_power == D(5_000)
    assert a.reserved == D(5_000)
    a.apply_fill("X", BUY, D(20), D(100))
    assert a.release_partial("o1", D(20)) == D(30)
    assert a.reserved == D(3_000)
    assert a.buying_power == D(10_000) - D(2_000) - D(3_000)
    assert a.release("o1") == D(30)
    assert a.reservations() == {}
    assert a.buying_power == D(8_000)


def test_reserve_rejection_changes_nothing() -> None:
    a = Account(D(10_000))
    a.reserve("o1", "X", BUY, D(50), D(100))
    before, held = a.snapshot(), a.reservations()
    with pytest.raises(InsufficientBuyingPowerError) as e:
        a.reserve("o2", "X", BUY, D(60), D(100))
    assert (e.value.field, e.value.value) == ("qty", D(60))
    assert (e.value.needed, e.value.available) == (D(6_000), D(5_000))
    assert a.snapshot() == before
    assert a.reservations() == held
    a.reserve("o2", "X", BUY, D(50), D(100))  # exactly the rest fits
    assert a.buying_power == 0


def test_check_is_reserve_without_reserving() -> None:
    a = Account(D(10_000), shortable=())
    a.reserve("o1", "X", BUY, D(50), D(100))
    before = a.snapshot()
    assert a.check("X", BUY, D(50), D(100)) == D(5_000)
    with pytest.raises(InsufficientBuyingPowerError):
        a.check("X", BUY, D(51), D(100))
    with pytest.raises(NotShortableError):
        a.check("X", SELL, D(1), D(100))
    with pytest.raises(OrderValidationError) as e:
        a.check("X", BUY, D(1), D(0))
    assert e.value.field == "price"
    assert a.snapshot() == before
    assert list(a.reservations()) == ["o1"]
    r = a.reservation("o1")
    assert r is not None
    assert (r.symbol, r.side, r.qty, r.price) == ("X", BUY, D(50), D(100))
    assert a.reservation("o2") is None


def test_overfill_release_drops_the_reservation() -> None:
    a = Account(D(10_000))
    a.reserve("o1", "X", BUY, D(5), D(100))
    assert a.release_partial("o1", D(7)) == 0
    assert "o1" not in a.reservations()


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda a: a.release("nope"), "order_id"),
        (lambda a: a.release_partial("nope", D(1)), "order_id"),
        (lambda a: a.release_partial("o1", D(0)), "qty"),
        (lambda a: a.reserve("o1", "X", BUY, D(1), D(1)), "order_id"),
        (lambda a: a.reserve("", "X", BUY, D(1), D(1)), "order_id"),
        (lambda a: a.reserve("o2", "X", BUY, D(0), D(1)), "qty"),
        (lambda a: a.reserve("o2", "X", BUY, D(1), D(-1)), "price"),
        (lambda a: a.reserve("o2", "X", "short", D(1), D(1)), "side"),
        (lambda a: a.mark("X", D(0)), "price"),
    ],
)
def test_bad_reservation_calls_change_nothing(call: Any, field: str) -> None:
    a = Account(D(1_000))
    a.reserve("o1", "X", BUY, D(1), D(10))
    before, held = a.snapshot(), a.reservations()
    with pytest.raises(OrderValidationError) as e:
        call(a)
    assert e.value.field == field
    assert a.snapshot() == before
    assert a.reservations() == held


def test_reducing_orders_need_no_buying_power() -> None:
    a = Account(D(1_000))
    a.apply_fill("X", BUY, D(100), D(10))
    assert a.buying_power == 0
    assert a.reserve("s1", "X", SELL, D(100), D(10)) == 0  # closes the long
    with pytest.raises(InsufficientBuyingPowerError):
        a.reserve("s2", "X", SELL, D(1), D(10))  # would open a short

    b = Account(D(1_000))
    b.apply_fill("X", SELL, D(100), D(10))
    assert b.buying_power == 0
    assert b.reserve("c1", "X", BUY, D(100), D(10)) == 0  # covers the short
    with pytest.raises(InsufficientBuyingPowerError):
        b.reserve("c2", "X", BUY, D(1), D(10))


def test_not_shortable_counts_open_sells() -> None:
    a = Account(D(10_000), shortable=())
    a.apply_fill("X", BUY, D(100), D(10))
    a.reserve("s1", "X", SELL, D(60), D(10))
    before = a.snapshot()
    with pytest.raises(NotShortableError) as e:
        a.reserve("s2", "X", SELL, D(60), D(10))  # only 40 left to sell before going short
    assert (e.value.field, e.value.value) == ("symbol", "X")
    assert a.snapshot() == before
    assert list(a.reservations()) == ["s1"]
    a.reserve("s3", "X", SELL, D(40), D(10))
    a.release("s1")
    a.reserve("s2", "X", SELL, D(60), D(10))
    with pytest.raises(NotShortableError):
        a.reserve("s4", "Y", SELL, D(1), D(10))  # flat: any sell opens a short


def test_shortable_set_and_function() -> None:
    a = Account(D(10_000), shortable=frozenset({"AAPL"}))
    assert a.reserve("1", "AAPL", SELL, D(1), D(100)) == D(100)
    with pytest.raises(NotShortableError):
        a.reserve("2", "GME", SELL, D(1), D(10))
    b = Account(D(10_000), shortable=lambda s: s != "GME")
    assert b.is_shortable("AAPL")
    assert not b.is_shortable("GME")
    with pytest.raises(NotShortableError):
        b.reserve("1", "GME", SELL, D(1), D(10))
    assert Account(D(1)).is_shortable("ANYTHING")  # the default allows every symbol


def test_reserved_follows_fills_in_either_order() -> None:
    a = Account(D(10_000))
    a.apply_fill("X", BUY, D(100), D(10))
    a.reserve("A", "X", SELL, D(100), D(11))  # reduces the long
    assert a.reserve("B", "X", SELL, D(50), D(12)) == D(600)  # opens a short
    assert a.reserved == D(600)
    # B fills first: A's last 50 would now open the short, at A's price.
    a.apply_fill("X", SELL, D(50), D(12))
    a.release_partial("B", D(50))
    assert a.reserved == 50 * D(11)
    a.apply_fill("X", SELL, D(50), D(11))
    a.release_partial("A", D(50))
    assert a.reserved == 50 * D(11)
    a.release("A")
    assert a.reserved == 0
    invariant(a)


# ----- properties -----------------------------------------------------------------------------

SYMBOLS = ("A", "B", "C")
prices = st.decimals(min_value=D("0.01"), max_value=D(1_000), places=2)
qtys = st.decimals(min_value=D("0.5"), max_value=D(500), places=1)
fees = st.decimals(min_value=D(-1), max_value=D(5), places=2)
ops = st.lists(
    st.tuples(
        st.one_of(
            st.tuples(st.just("fill"), st.sampled_from(SYMBOLS), st.sampled_from(OrderSide), qtys),
            st.tuples(st.just("mark"), st.sampled_from(SYMBOLS)),
        ),
        prices,
        fees,
    ),
    max_size=60,
)


class Reference:
    """Average-cost accounting in exact rationals: nothing is ever rounded."""

    def __init__(self) -> None:
        self.qty: dict[str, Fraction] = {}
        self.cost: dict[str, Fraction] = {}
        self.realized = Fraction(0)

    def fill(self, symbol: str, side: OrderSide, qty: Decimal, price: Decimal) -> Fraction:
        s = Fraction(qty) if side is BUY else -Fraction(qty)
        p = Fraction(price)
        q0, c0 = self.qty.get(symbol, Fraction(0)), self.cost.get(symbol, Fraction(0))
        if q0 == 0 or (q0 > 0) == (s > 0):
            self.qty[symbol], self.cost[symbol] = q0 + s, c0 + s * p
            return Fraction(0)
        closing = min(abs(s), abs(q0)) * (1 if s > 0 else -1)
        removed = c0 * abs(closing) / abs(q0)
        realized = -closing * p - removed
        rest = s - closing
        self.qty[symbol] = q0 + s
        self.cost[symbol] = c0 - removed + rest * p
        self.realized += realized
        return realized


@settings(max_examples=300)
@given(ops)
def test_random_fills_keep_the_books_exact(steps: list[Any]) -> None:
    a = Account(D(1_000_000), leverage=D(4))
    ref = Reference()
    tolerance = Fraction(len(steps) + 1, 10**12)
    for op, price, fee in steps:
        if op[0] == "mark":
            a.mark(op[1], price)
        else:
            _, symbol, side, qty = op
            r = a.apply_fill(symbol, side, qty, price, fee)
            # Only the basis share of a partial close is rounded (half of 1e-12 at most, each
            # time) on our side; the reference never rounds.
            assert abs(Fraction(r) - ref.fill(symbol, side, qty, price)) < tolerance
        invariant(a)
        for sym in SYMBOLS:
            p = a.position(sym)
            assert Fraction(p.qty) == ref.qty.get(sym, 0)
            if p.qty == 0:
                assert p.cost_basis == 0
            assert abs(Fraction(p.cost_basis) - ref.cost.get(sym, 0)) < tolerance
        assert abs(Fraction(a.realized_pnl()) - ref.realized) < tolerance
    assert sorted(a.positions()) == sorted(s for s in SYMBOLS if ref.qty.get(s, 0) != 0)


def test_short_limits_cap_the_short_including_open_sells() -> None:
    acct = Account(Decimal(100_000), short_limits={"XYZ": 300})
    acct.apply_fill("XYZ", OrderSide.BUY, Decimal(100), Decimal(10))
    acct.reserve("a", "XYZ", OrderSide.SELL, Decimal(300), Decimal(10))  # long 100 -> short 200
    with pytest.raises(NotShortableError) as e:
        acct.reserve("b", "XYZ", OrderSide.SELL, Decimal(101), Decimal(10))  # short 301
    assert (e.value.field, e.value.value) == ("qty", Decimal(101))
    assert set(acct.reservations()) == {"a"}
    acct.reserve("b", "XYZ", OrderSide.SELL, Decimal(100), Decimal(10))  # short 300: allowed
    acct.reserve("c", "ABC", OrderSide.SELL, Decimal(10_000), Decimal(1))  # no limit there
    with pytest.raises(SimulationError):
        Account(Decimal(1), short_limits={"XYZ": -1})


def _reserved_from_scratch(acct: Account) -> Decimal:
    """The definition of ``reserved``, walked in full (oldest orders reduce first)."""
    total, left = Decimal(0), {}
    for r in acct.reservations().values():
        key = (r.symbol, r.side)
        if key not in left:
            pos = acct.position(r.symbol).qty
            left[key] = max(pos if r.side is OrderSide.SELL else -pos, Decimal(0))
        reduces = min(left[key], r.qty)
        left[key] -= reduces
        total += (r.qty - reduces) * r.price
    return total


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["reserve", "release", "partial", "fill", "rekey"]),
            st.sampled_from(["A", "B"]),
            st.sampled_from([OrderSide.BUY, OrderSide.SELL]),
            st.integers(1, 50),
            st.integers(90, 110),
        ),
        max_size=60,
    )
)
@settings(max_examples=400)
def test_cached_reserved_equals_its_definition(
    ops: list[tuple[str, str, OrderSide, int, int]],
) -> None:
    acct = Account(Decimal(10**9))
    ids: list[str] = []
    for n, (op, sym, side, qty, price) in enumerate(ops):
        if op == "reserve" or not ids:
            oid = f"o{n}"
            acct.reserve(oid, sym, side, Decimal(qty), Decimal(price))
            ids.append(oid)
        elif op == "release":
            acct.release(ids.pop(qty % len(ids)))
        elif op == "partial":
            oid = ids[qty % len(ids)]
            if acct.release_partial(oid, Decimal(1)) == 0:
                ids.remove(oid)
        elif op == "rekey":
            old = ids.pop(qty % len(ids))
            acct.rekey(old, f"r{n}")
            ids.append(f"r{n}")
        else:
            acct.apply_fill(sym, side, Decimal(qty), Decimal(price))
        assert acct.reserved == _reserved_from_scratch(acct)


def test_rekey_of_an_older_order_changes_which_order_reduces() -> None:
    acct = Account(Decimal(10**6))
    acct.apply_fill("X", OrderSide.BUY, Decimal(10), Decimal(100))
    acct.reserve("o1", "X", OrderSide.SELL, Decimal(10), Decimal(100))  # reduces the long fully
    acct.reserve("o2", "X", OrderSide.SELL, Decimal(5), Decimal(110))  # opens a short of 5
    assert acct.reserved == 550
    acct.rekey("o1", "o1b")  # o1 now counts as the younger: o2 reduces 5, o1 opens 5 at 100
    assert acct.reserved == _reserved_from_scratch(acct) == 500
