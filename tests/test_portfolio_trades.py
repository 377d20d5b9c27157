"""Round trips from fills (fillforge.portfolio.trades): FIFO matching, partial closes, flips
through zero and shorts worked by hand; the statistics; the fill forms accepted; and, on random
fills, the exact agreement with the ledger's P&L and fees."""

from __future__ import annotations

import math
from decimal import Decimal, localcontext
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fillforge.errors import MetricsError
from fillforge.orders.enums import EventKind, LiquiditySide, OrderSide, OrderStatus
from fillforge.orders.models import Fill, OrderEvent
from fillforge.portfolio._exact import CTX
from fillforge.portfolio.ledger import Ledger
from fillforge.portfolio.trades import (
    OpenLot,
    RoundTrip,
    TradeBook,
    round_trips,
    trade_stats,
)
from fillforge.time import NS_PER_DAY

T0 = 1_700_000_000 * 10**9
D = Decimal


def test_fifo_partial_close_known() -> None:
    book = TradeBook()
    assert book.add("AAPL", "buy", D(100), D(10), D(1), T0) == []
    assert book.add("AAPL", OrderSide.BUY, D(100), D(12), D(1), T0 + NS_PER_DAY) == []
    (trip,) = book.add("AAPL", "sell", D(150), D(15), D("1.5"), T0 + 3 * NS_PER_DAY)
    # FIFO: all of the first lot (100 @ 10) and half of the second (50 @ 12).
    assert trip == RoundTrip(
        symbol="AAPL",
        side="long",
        qty=D(150),
        entry_time_ns=T0,
        exit_time_ns=T0 + 3 * NS_PER_DAY,
        entry_price=CTX.divide(D(1600), D(150)),
        exit_price=D(15),
        gross_pnl=D(650),
        fees=D(3),  # 1.5 exit + 1 (first lot) + 0.5 (half the second's)
        pnl=D(647),
    )
    assert trip.holding_days == 3.0
    assert trip.ret == pytest.approx(647 / 1600)
    assert book.open_lots() == [OpenLot("AAPL", D(50), D(12), T0 + NS_PER_DAY, D("0.5"))]
    assert book.position("AAPL") == D(50)
    assert book.unrealized_pnl({"AAPL": D(13)}) == D(50)


def test_a_flip_through_zero_closes_then_opens_the_other_way() -> None:
    book = TradeBook()
    book.add("X", "buy", D(50), D(10), D(1), T0)
    (trip,) = book.add("X", "sell", D(100), D(14), D(2), T0 + 1)
    assert (trip.side, trip.qty, trip.gross_pnl, trip.fees) == ("long", D(50), D(200), D(2))
    assert book.open_lots("X") == [OpenLot("X", D(-50), D(14), T0 + 1, D(1))]
    # The short then covers lower: a gain.
    (cover,) = book.add("X", "buy", D(50), D(11), D(0), T0 + 2)
    assert (cover.side, cover.gross_pnl, cover.fees, cover.pnl) == ("short", D(150), D(1), D(149))
    assert cover.entry_price == D(14)
    assert book.open_lots() == []
    assert book.position("X") == 0


def test_shorts_lose_when_the_price_rises() -> None:
    trips = round_trips([("Y", "sell", D(10), D(100)), ("Y", "buy", D(10), D(104), D(0), 5)])
    (t,) = trips
    assert (t.side, t.gross_pnl, t.pnl, t.entry_time_ns, t.exit_time_ns) == (
        "short",
        D(-40),
        D(-40),
        0,
        5,
    )
    assert t.ret == pytest.approx(-0.04)


def test_trades_per_position_merge_scale_ins_and_outs() -> None:
    fills = [
        ("A", "buy", D(100), D(10), D(1), 1),
        ("A", "buy", D(100), D(11), D(1), 2),
        ("A", "sell", D(50), D(12), D(1), 3),  # a partial close
        ("A", "sell", D(150), D(13), D(1), 4),  # flat: the position's trade is complete
        ("A", "sell", D(10), D(13), D(0), 5),  # a new short, still open
        ("A", "buy", D(5), D(12), D(0), 6),  # partly covered: not a position trade yet
    ]
    per_fill = round_trips(fills)
    assert len(per_fill) == 3
    (whole,) = round_trips(fills, by="position")
    assert whole.qty == D(200)
    assert whole.entry_price == D("10.5")
    assert whole.exit_price == (D(50) * 12 + D(150) * 13) / 200
    assert whole.gross_pnl == D(50) * 12 + D(150) * 13 - D(2100)
    assert whole.fees == D(4)
    assert (whole.entry_time_ns, whole.exit_time_ns) == (1, 4)
    assert sum(t.gross_pnl for t in per_fill[:2]) == whole.gross_pnl


def test_trade_stats_known() -> None:
    def trip(pnl: int, days: int = 1) -> RoundTrip:
        return RoundTrip("Z", "long", D(1), 0, days * NS_PER_DAY, D(100), D(100 + pnl), D(pnl),
                         D(0), D(pnl))  # fmt: skip

    stats = trade_stats([trip(30), trip(-10), trip(20, 3), trip(0), trip(-20, 2)])
    assert (stats.trades, stats.wins, stats.losses) == (5, 2, 2)
    assert stats.win_rate == 0.4
    assert stats.profit_factor == pytest.approx(50 / 30)
    assert (stats.gross_profit, stats.gross_loss, stats.total_pnl) == (D(50), D(-30), D(20))
    assert (stats.avg_win, stats.avg_loss, stats.expectancy) == (D(25), D(-15), D(4))
    assert (stats.largest_win, stats.largest_loss) == (D(30), D(-20))
    assert stats.avg_holding_days == pytest.approx(8 / 5)
    only_wins = trade_stats(iter([trip(5)]))
    assert only_wins.profit_factor == math.inf
    assert only_wins.avg_loss is None
    empty = trade_stats([])
    assert empty.trades == 0
    assert math.isnan(empty.win_rate)
    assert math.isnan(empty.profit_factor)
    assert empty.expectancy is None


def test_fill_forms_tuple_record_and_order_event() -> None:
    record = SimpleNamespace(
        symbol="B", side=OrderSide.BUY, qty=D(3), price=D(20), commission=D("0.1"), time_ns=7
    )
    fill = Fill(trade_id="t1", order_id="o1", price=D(25), qty=D(3), commission=D("0.2"),
                ts_event=9, liquidity=LiquiditySide.MAKER)  # fmt: skip
    event = OrderEvent(
        kind=EventKind.FILL,
        order_id="o1",
        client_order_id="c1",
        symbol="B",
        status=OrderStatus.FILLED,
        prev_status=OrderStatus.NEW,
        order_qty=D(3),
        cum_qty=D(3),
        leaves_qty=D(0),
        avg_price=D(25),
        fill=fill,
        ts=10,
    )
    book = TradeBook()
    assert book.add_fill(record) == []
    (trip,) = book.add_event(event, "sell")
    assert (trip.gross_pnl, trip.fees, trip.entry_time_ns, trip.exit_time_ns) == (
        D(15),
        D("0.3"),
        7,
        9,
    )
    no_fill = event.model_copy(update={"fill": None, "kind": EventKind.ACCEPTED})
    assert book.add_event(no_fill, "buy") == []


@pytest.mark.parametrize(
    ("fill", "field"),
    [
        (("A", "buy", 1.5, D(10)), "fills[0].qty"),
        (("A", "buy", D(1), 10.0), "fills[0].price"),
        (("A", "hold", D(1), D(10)), "fills[0].side"),
        (("A", "buy", D(0), D(10)), "fills[0].qty"),
        (("A", "buy", D(-1), D(10)), "fills[0].qty"),
        (("A", "buy", D(1), D(10), D("NaN")), "fills[0].fee"),
        (("A", "buy", D(1), D(10), D(0), 1.5), "fills[0].time_ns"),
        (("", "buy", D(1), D(10)), "fills[0].symbol"),
        (("A", "buy"), "fills[0].fill"),
        (SimpleNamespace(symbol="A", side="buy", qty=D(1)), "fills[0].fill"),
    ],
)
def test_bad_fills_are_refused(fill: object, field: str) -> None:
    with pytest.raises(MetricsError) as e:
        round_trips([fill])
    assert e.value.field == field


def test_a_refused_fill_changes_nothing_and_other_refusals() -> None:
    book = TradeBook()
    book.add("A", "buy", D(5), D(10))
    with pytest.raises(MetricsError):
        book.add("A", "sell", D(3), D(-1))
    assert book.position("A") == D(5)
    assert book.round_trips() == []
    with pytest.raises(MetricsError) as e:
        book.round_trips(by="day")  # type: ignore[arg-type]
    assert e.value.field == "by"
    with pytest.raises(MetricsError) as e:
        book.unrealized_pnl({})
    assert e.value.field == "marks[A]"
    book.add("A", "buy", D(1), D(10), D(0), 100)
    with pytest.raises(MetricsError) as e:
        book.add("A", "sell", D(1), D(11), D(0), 99)  # before the last fill
    assert e.value.field == "time_ns"
    assert book.position("A") == D(6)


# --- against the ledger ----------------------------------------------------------------------

FILLS = st.lists(
    st.tuples(
        st.sampled_from(["AAA", "BBB"]),
        st.sampled_from(["buy", "sell"]),
        st.integers(1, 400).map(lambda q: D(q) / 4),  # quarter lots
        st.integers(100, 20_000).map(lambda p: D(p) / 100),
        st.integers(-5, 300).map(lambda f: D(f) / 100),  # a negative fee is a rebate
    ),
    max_size=40,
)


@settings(max_examples=200, deadline=None)
@given(FILLS, st.integers(100, 20_000), st.integers(100, 20_000))
def test_round_trips_plus_open_lots_equal_the_ledger_exactly(
    fills: list[tuple[str, str, D, D, D]], mark_a: int, mark_b: int
) -> None:
    with localcontext(CTX):
        check_against_ledger(fills, {"AAA": D(mark_a) / 100, "BBB": D(mark_b) / 100})


def check_against_ledger(fills: list[tuple[str, str, D, D, D]], marks: dict[str, D]) -> None:
    ledger = Ledger(D(10) ** 12)
    book = TradeBook()
    for i, (sym, side, qty, price, fee) in enumerate(fills):
        ledger.apply_fill(sym, side, qty, price, fee)
        book.add(sym, side, qty, price, fee, i)
    for sym, mark in marks.items():
        if any(f[0] == sym for f in fills):
            ledger.mark(sym, mark)
    trips = book.round_trips()
    lots = book.open_lots()
    gross = sum((t.gross_pnl for t in trips), D(0))
    assert gross + book.unrealized_pnl(marks) == ledger.realized_pnl() + ledger.unrealized_pnl()
    assert sum((t.fees for t in trips), D(0)) + sum((lot.fee for lot in lots), D(0)) == (
        ledger.fees_paid
    )
    for sym in marks:
        assert book.position(sym) == ledger.qty(sym)
    # With every position closed at the marks, net round-trip P&L is the ledger's net P&L.
    net = sum((t.pnl for t in trips), D(0))
    open_fees = sum((lot.fee for lot in lots), D(0))
    assert net + book.unrealized_pnl(marks) - open_fees == (
        ledger.realized_pnl() + ledger.unrealized_pnl() - ledger.fees_paid
    )
    for t in trips:
        assert t.qty > 0
        assert t.pnl == t.gross_pnl - t.fees
        assert t.entry_time_ns <= t.exit_time_ns
    # Per position, the merged trades add up to the closed positions' round trips.
    merged = book.round_trips(by="position")
    assert sum((t.qty for t in merged), D(0)) <= sum((t.qty for t in trips), D(0))


def test_a_strategys_fill_records_are_fills() -> None:
    from fillforge.strategy.records import FillRecord

    def record(side: OrderSide, qty: int, price: int, t: int) -> FillRecord:
        return FillRecord(time_ns=t, symbol="R", side=side, qty=D(qty), price=D(price),
                          commission=D("0.5"), order_id=f"o{t}", client_order_id=f"c{t}",
                          trade_id=f"t{t}", liquidity=LiquiditySide.TAKER)  # fmt: skip

    (trip,) = round_trips([record(OrderSide.BUY, 10, 100, 1), record(OrderSide.SELL, 10, 90, 2)])
    assert (trip.gross_pnl, trip.fees, trip.pnl) == (D(-100), D(1), D(-101))
