"""fillforge.portfolio.Ledger: the ledger alone. Fills book cash, positions, realised and
unrealised P&L and fees exactly (hypothesis against rational arithmetic); marks follow the lazy
rule (the source, else an explicit mark, else the entry price); the session roll keeps lastday
prices and equity; the ledger refuses bad input with typed errors and nothing else (no pre-trade
checks: it books what it is given)."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fillforge.broker import AccountSnapshot
from fillforge.errors import OrderValidationError, SimulationError
from fillforge.orders.enums import OrderSide
from fillforge.portfolio import Ledger, market_marks

D = Decimal
BUY, SELL = OrderSide.BUY, OrderSide.SELL


def test_fills_book_cash_fees_and_realised_pnl() -> None:
    led = Ledger(D(10_000))
    assert led.apply_fill("X", BUY, D(10), D(100), D(1)) == 0
    assert led.apply_fill("X", SELL, D(4), D(110), D(1)) == D(40)
    assert led.cash == D(10_000) - D(1000) - 1 + D(440) - 1
    assert led.fees_paid == D(2)
    p = led.position("X")
    assert (p.qty, p.cost_basis, p.realized_pnl) == (D(6), D(600), D(40))


def test_the_ledger_makes_no_pre_trade_checks() -> None:
    led = Ledger(D(100))
    led.apply_fill("X", BUY, D(100), D(100))  # far beyond its cash: a ledger records it
    led.apply_fill("Y", SELL, D(5), D(10))  # a short, no shortable rule here
    assert led.cash == D(100) - D(10_000) + D(50)
    assert (led.qty("X"), led.qty("Y")) == (D(100), D(-5))


def test_marks_follow_the_source_then_explicit_then_entry() -> None:
    prices: dict[str, Decimal | None] = {"X": None}
    led = Ledger(D(10_000), marks=lambda s: prices.get(s))
    led.apply_fill("X", BUY, D(10), D(100))
    assert led.current_mark("X") == D(100)  # a fill marks at its price
    led.mark("X", D(105))
    assert led.unrealized_pnl("X") == D(50)
    prices["X"] = D(80)  # the market shows a price: it wins, read lazily
    assert led.equity == D(10_000) - D(1000) + D(800)
    assert led.position("X").mark == D(80)
    led.follow(None)
    assert led.current_mark("X") == D(105)


def test_market_marks_reads_last_then_mid() -> None:
    class M:
        def __init__(self, last: Decimal | None, mid: Decimal | None) -> None:
            self._last, self._mid = last, mid

        def last(self) -> Decimal | None:
            return self._last

        def mid(self) -> Decimal | None:
            return self._mid

    mark = market_marks({"A": M(D(10), D(11)), "B": M(None, D(11)), "C": M(None, None)})
    assert (mark("A"), mark("B"), mark("C"), mark("Z")) == (D(10), D(11), None, None)


def test_session_roll_keeps_lastday_prices_and_equity() -> None:
    led = Ledger(D(10_000))
    led.apply_fill("X", BUY, D(10), D(100))
    assert led.lastday_price("X") == D(100)  # before a close: the entry price
    assert led.last_equity == D(10_000)
    led.mark("X", D(120))
    led.close_session(["Y"])
    assert led.lastday_price("X") == D(120)
    assert led.lastday_price("Y") is None  # no price then
    assert led.last_equity == D(10_200)
    led.mark("X", D(130))
    assert led.lastday_price("X") == D(120)  # kept until the next close


def test_snapshot_carries_what_the_checks_give_it() -> None:
    led = Ledger(D(1_000))
    led.apply_fill("X", BUY, D(1), D(100))
    snap = led.snapshot(buying_power=D(800), reserved=D(100), leverage=D(2))
    assert isinstance(snap, AccountSnapshot)
    assert (snap.cash, snap.equity, snap.buying_power, snap.reserved, snap.leverage) == (
        D(900),
        D(1000),
        D(800),
        D(100),
        D(2),
    )
    assert list(snap.positions) == ["X"]


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (("", BUY, D(1), D(1)), "symbol"),
        (("X", "hold", D(1), D(1)), "side"),
        (("X", BUY, D(0), D(1)), "qty"),
        (("X", BUY, D(1), D(-1)), "price"),
        (("X", BUY, D(1), 1.5), "price"),
        (("X", BUY, D(1), D(1), D("NaN")), "fee"),
    ],
)
def test_bad_fills_raise_naming_the_field_and_change_nothing(
    args: tuple[object, ...], field: str
) -> None:
    led = Ledger(D(1_000))
    led.apply_fill("X", BUY, D(1), D(10))
    before = led.snapshot(buying_power=D(0))
    with pytest.raises(OrderValidationError) as e:
        led.apply_fill(*args)  # type: ignore[arg-type]
    assert e.value.field == field
    assert led.snapshot(buying_power=D(0)) == before


@pytest.mark.parametrize("cash", [D(-1), 1.0, "x", D("Infinity")])
def test_bad_cash_is_refused(cash: object) -> None:
    with pytest.raises(SimulationError) as e:
        Ledger(cash)  # type: ignore[arg-type]
    assert e.value.field == "cash"


fills = st.lists(
    st.tuples(
        st.sampled_from(["A", "B"]),
        st.sampled_from([BUY, SELL]),
        st.integers(1, 500),
        st.integers(1, 50_000),  # cents
        st.integers(-100, 300),  # fee, cents (negative: a rebate)
    ),
    max_size=40,
)


@settings(max_examples=150, deadline=None)
@given(fills, st.dictionaries(st.sampled_from(["A", "B"]), st.integers(1, 50_000)))
def test_the_books_balance_exactly_against_rational_arithmetic(
    seq: list[tuple[str, OrderSide, int, int, int]], marks: dict[str, int]
) -> None:
    led = Ledger(D(1_000_000))
    cash = Fraction(1_000_000)
    qty: dict[str, int] = {}
    for sym, side, q, cents, fee in seq:
        p, f = D(cents) / 100, D(fee) / 100
        led.apply_fill(sym, side, D(q), p, f)
        s = q if side is BUY else -q
        cash -= s * Fraction(cents, 100) + Fraction(fee, 100)
        qty[sym] = qty.get(sym, 0) + s
    for sym, cents in marks.items():
        led.mark(sym, D(cents) / 100)
    assert Fraction(led.cash) == cash
    held = sum((p.qty * p.mark for p in led.positions().values() if p.mark), D(0))
    assert led.cash - led.initial_cash + held == (
        led.realized_pnl() + led.unrealized_pnl() - led.fees_paid
    )
    assert {s: q for s, q in qty.items() if q} == {s: int(led.qty(s)) for s in led.positions()}
