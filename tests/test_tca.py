"""TCA from a journal, one figure at a time, each known by hand (issue 19): a journalled
simulated broker (``test_tca_support.Desk``) trades against quotes the test scripts, and
``fillforge.analytics.tca`` reads the journal back with the quotes recorded.

Sign convention everywhere: positive = cost."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from test_tca_support import SYMBOL, T0, Desk, S

from fillforge.analytics import NO_MARKET, MarketData, TcaResult, tca
from fillforge.errors import InsufficientBuyingPowerError, JournalError, TcaError
from fillforge.journal import Journal
from fillforge.sim.fees import FeeModel
from fillforge.sim.latency import Delay, LatencyModel

D = Decimal


def one(r: TcaResult, table: str, column: str, row: int = 0) -> float:
    return float(getattr(r, table)[column][row])


def test_a_buy_filled_above_arrival_costs_and_its_markouts_follow_the_mid(tmp_path: Path) -> None:
    desk = Desk(tmp_path / "j")
    desk.quote("99.99", "100.01")  # mid 100.00
    desk.order("buy", 10)  # takes the ask: 100.01
    desk.at(1)
    desk.quote("100.19", "100.21")  # mid 100.20 at +1 s: the buy gained
    desk.at(3)
    desk.quote("99.79", "99.81")  # mid 99.80 from +3 s: the buy lost
    desk.at(70)
    r = tca(tmp_path / "j", desk.close())
    assert one(r, "orders", "avg_price") == pytest.approx(100.01)
    assert one(r, "orders", "arrival_send") == pytest.approx(100.0)
    assert one(r, "orders", "arrival_bps") == pytest.approx(1.0)  # 0.01 over 100 = 1 bp cost
    assert one(r, "fills", "spread_bps") == pytest.approx(1.0)  # half the spread paid
    assert one(r, "fills", "markout_1s_bps") == pytest.approx((100.01 - 100.20) / 100.20 * 1e4)
    assert one(r, "fills", "markout_5s_bps") == pytest.approx((100.01 - 99.80) / 99.80 * 1e4)
    assert one(r, "fills", "markout_60s_bps") == pytest.approx((100.01 - 99.80) / 99.80 * 1e4)
    assert r.markouts[1][0] < 0 < r.markouts[5][0]  # gain at 1 s, cost at 5 s
    # A lone order is its own parent: no delay, trading = 10 x 0.01, no remainder.
    assert one(r, "parents", "delay_cost") == 0
    assert one(r, "parents", "trading_cost") == pytest.approx(0.1)
    assert one(r, "parents", "is_cost") == pytest.approx(0.1)
    assert one(r, "parents", "is_bps") == pytest.approx(1.0)
    assert r.total()["arrival_bps"] == pytest.approx(1.0)


def test_a_sell_filled_below_arrival_costs(tmp_path: Path) -> None:
    desk = Desk(tmp_path / "j")
    desk.quote("99.98", "100.02")  # mid 100.00
    desk.order("sell", 10)  # hits the bid: 99.98
    desk.at(2)
    r = tca(tmp_path / "j", desk.close())
    assert one(r, "orders", "side") == -1
    assert one(r, "orders", "arrival_bps") == pytest.approx(2.0)  # sold 2 bp under arrival
    assert one(r, "fills", "spread_bps") == pytest.approx(2.0)
    assert one(r, "parents", "trading_cost") == pytest.approx(0.2)  # 10 x 0.02, a cost
    assert one(r, "parents", "is_bps") == pytest.approx(2.0)


def test_a_sell_filled_above_arrival_is_a_gain(tmp_path: Path) -> None:
    desk = Desk(tmp_path / "j")
    desk.quote("99.98", "100.02")
    desk.order("sell", 10, limit="100.02")  # rests at the ask
    desk.at(1)
    desk.quote("100.03", "100.05")  # the market comes up through it: sold at 100.02 or better
    desk.at(2)
    r = tca(tmp_path / "j", desk.close())
    avg = one(r, "orders", "avg_price")
    assert one(r, "orders", "filled_qty") == 10
    assert avg >= 100.02
    assert one(r, "orders", "arrival_bps") == pytest.approx(-(avg - 100) / 100 * 1e4)
    assert one(r, "orders", "arrival_bps") < 0  # negative = gain
    assert one(r, "parents", "is_cost") == pytest.approx(-10 * (avg - 100))


@pytest.mark.parametrize("side", ["buy", "sell"])
def test_an_unfilled_remainder_makes_opportunity_cost_and_fees_add(
    tmp_path: Path, side: str
) -> None:
    """Parent of 100 decided at P_d 99.90 (buy) / 100.10 (sell); first child sent when the mid
    was P_0 = 100.00; 60 filled at the touch (100.01 / 99.99) paying 0.01 a share; cancelled
    when the mid had moved to P_N = 100.50 (buy) / 99.50 (sell): every part a cost."""
    desk = Desk(tmp_path / "j", fees=FeeModel.flat(per_share=D("0.01")))
    pd = "99.90" if side == "buy" else "100.10"
    desk.quote("99.99", "100.01")
    desk.parent("p1", side, 100, decision_price=pd, first_child_mid="100.00", first_child_s=0)
    desk.order(side, 60, cid="p1-c1")
    desk.at(10)
    desk.quote(*(("100.49", "100.51") if side == "buy" else ("99.49", "99.51")))
    desk.at(20)
    desk.parent(
        "p1",
        side,
        100,
        change="cancelled",
        decision_price=pd,
        first_child_mid="100.00",
        first_child_s=0,
        ended_s=20,
    )
    market = desk.close()
    r = tca(tmp_path / "j", market)
    p = {k: v[0] for k, v in r.parents.items()}
    assert p["kind"] == "parent"
    assert p["policy"] == "twap"
    assert p["filled_qty"] == 60
    assert p["leaves_qty"] == 40
    assert p["decision_price"] == pytest.approx(float(pd))
    assert p["first_child_mid"] == pytest.approx(100.0)
    assert p["final_price"] == pytest.approx(100.5 if side == "buy" else 99.5)
    assert p["delay_cost"] == pytest.approx(10.0)  # 100 x 0.10 waited
    assert p["trading_cost"] == pytest.approx(0.6)  # 60 x 0.01 past P_0
    assert p["opportunity_cost"] == pytest.approx(20.0)  # 40 x 0.50 missed
    assert p["fees"] == pytest.approx(0.6)  # 60 x 0.01
    assert p["is_cost"] == pytest.approx(31.2)
    paper = 100 * float(pd)
    assert p["is_bps"] == pytest.approx(31.2 / paper * 1e4)
    assert p["delay_bps"] + p["trading_bps"] + p["opportunity_bps"] + p["fees_bps"] == (
        pytest.approx(p["is_bps"])
    )
    # The exact figures are execution.cost's, and the columns agree with them.
    exact = r.parent_cost("p1")
    assert exact is not None
    assert exact.is_cost == D("31.2")
    assert exact.delay_cost == D("10.00")
    assert exact.opportunity_cost == D("20.00")
    assert exact.fees == D("0.6")
    assert float(exact.is_bps) == pytest.approx(p["is_bps"], abs=1e-9)
    by = r.group_by("policy")["twap"]
    assert by["is_cost"] == pytest.approx(31.2)
    assert by["fees_cost"] == pytest.approx(0.6)


def test_a_journalled_parent_is_costed_without_market_data_until_it_leaves_a_remainder(
    tmp_path: Path,
) -> None:
    desk = Desk(tmp_path / "j")
    desk.quote("99.99", "100.01")
    desk.parent(
        "full", "buy", 10, decision_price="99.95", first_child_mid="100.00", first_child_s=0
    )
    desk.order("buy", 10, cid="full-c1")
    desk.parent(
        "part", "buy", 20, decision_price="99.95", first_child_mid="100.00", first_child_s=0
    )
    desk.order("buy", 5, cid="part-c1")
    desk.at(5)
    desk.close()
    r = tca(tmp_path / "j")  # no market
    rows = {pid: i for i, pid in enumerate(r.parents["parent_id"].tolist())}
    full, part = rows["full"], rows["part"]
    assert r.parents["is_cost"][full] == pytest.approx(10 * 0.05 + 10 * 0.01)
    assert np.isnan(r.parents["opportunity_cost"][part])  # P_N needs the market
    assert np.isnan(r.parents["is_cost"][part])
    assert r.parents["delay_cost"][part] == pytest.approx(20 * 0.05)  # the journal has P_0
    assert "opportunity_cost" in r.reasons
    for figure in ("mid", "markout", "spread", "vwap", "twap"):
        assert r.reasons[figure] == NO_MARKET
    assert np.isnan(r.fills["markout_1s_bps"]).all()
    assert np.isnan(r.orders["arrival_bps"]).all()
    assert r.parent_cost("part") is None
    assert r.total()["parents_without_is"] == 1


def test_fill_partial_reject_and_cancel_rates(tmp_path: Path) -> None:
    desk = Desk(tmp_path / "j")
    desk.quote("99.99", "100.01", size=20)
    desk.order("buy", 10)  # filled in full
    with pytest.raises(InsufficientBuyingPowerError):
        desk.order("buy", 10_000_000)  # refused: journalled as a reject
    resting = desk.order("buy", 50, limit="99.00")  # rests, then cancelled: nothing filled
    partial = desk.order("buy", 50, limit="100.01")  # 10 of the 20 shown left... takes them
    desk.at(1)
    desk.broker.cancel(resting.id)
    desk.broker.cancel(partial.id)
    desk.at(2)
    r = tca(tmp_path / "j", desk.close())
    total = r.total()
    filled = r.orders["filled_qty"]
    assert total["orders"] == 4
    assert total["refused"] == 1
    assert total["canceled"] == 2
    assert total["reject_ratio"] == pytest.approx(1 / 4)
    assert total["cancel_ratio"] == pytest.approx(2 / 4)
    assert total["partial_fill_rate"] == pytest.approx(1 / 4)  # of the 4 ended orders
    got = filled[r.orders["partial"]]
    assert len(got) == 1
    assert 0 < got[0] < 50
    # Filled over asked, of the orders that ended and reached the venue: 10 + 0 + got of 110.
    assert total["fill_rate"] == pytest.approx((10 + got[0]) / 110)


def test_latency_from_record_and_venue_times(tmp_path: Path) -> None:
    five_ms = Delay(ns=5_000_000)
    desk = Desk(tmp_path / "j", latency=LatencyModel(entry=five_ms))
    desk.quote("99.99", "100.01")
    desk.parent("p1", "buy", 10, decision_price="100.00")
    desk.at(2)  # the first child goes 2 s after the decision
    desk.order("buy", 10, cid="p1-c1")
    desk.at(3)
    r = tca(tmp_path / "j", desk.close())
    assert r.latency["decision_to_send"].tolist() == [2 * S]
    assert r.latency["send_to_ack"].tolist() == [0]  # the broker took it at once
    assert r.latency["send_to_accept"].tolist() == [5_000_000]  # the venue, 5 ms later
    assert r.latency["send_to_first_fill"].tolist() == [5_000_000]
    assert r.orders["first_fill_ns"][0] == T0 + 2 * S + 5_000_000


def test_grouping_by_venue_policy_symbol_and_hour(tmp_path: Path) -> None:
    desk = Desk(tmp_path / "j", fees=FeeModel.flat(per_share=D("0.01")))
    desk.quote("99.99", "100.01")
    desk.parent("a", "buy", 10, decision_price="100.00", first_child_mid="100.00", first_child_s=0)
    desk.order("buy", 10, cid="a-c1.0")  # routed to venue 0
    desk.parent("b", "sell", 10, decision_price="100.00", first_child_mid="100.00", policy="vwap")
    desk.order("sell", 10, cid="b-c1.1")  # routed to venue 1
    desk.order("buy", 5)  # no parent
    desk.at(3600)  # an hour later
    desk.order("sell", 5)
    desk.at(3601)
    r = tca(tmp_path / "j", desk.close(), venues={"0": "NYSE", "1": "ARCA"})
    venues = r.group_by("venue")
    assert set(venues) == {"NYSE", "ARCA", "default"}
    assert venues["NYSE"]["trading_cost"] == pytest.approx(0.1)
    assert np.isnan(venues["NYSE"]["delay_cost"])  # a parent's, not a venue's
    policies = r.group_by("policy")
    assert set(policies) == {"twap", "vwap", "none"}
    assert policies["none"]["orders"] == 2
    assert policies["twap"]["parents"] == 1
    hours = r.group_by("hour", dt.timezone(dt.timedelta(hours=-5)))
    assert set(hours) == {"17:00", "18:00"}  # T0 is 22:13 UTC
    assert r.group_by("symbol")[SYMBOL]["fills"] == 4
    total = r.total()
    for key in ("venue", "policy", "symbol", "hour"):
        groups = r.group_by(key).values()
        for figure in ("orders", "fills", "filled_qty", "fees", "notional"):
            assert sum(g[figure] for g in groups) == pytest.approx(total[figure])
    with pytest.raises(TcaError, match="key"):
        r.group_by("weekday")


def test_market_data_from_the_marketdata_loaders() -> None:
    from importlib.resources import files

    from fillforge.marketdata import load_tardis_quotes, load_tardis_trades

    folder = files("fillforge.data").joinpath("binance")
    quotes_file = folder.joinpath("tardis_binance-futures_BTCUSDT_quotes_2020-02-22.csv.gz")
    trades_file = folder.joinpath("tardis_binance-futures_BTCUSDT_trades_2020-02-22.csv.gz")
    tick, lot = D("0.01"), D("0.001")
    q = load_tardis_quotes(str(quotes_file), tick=tick, lot=lot)
    t = load_tardis_trades(str(trades_file), tick=tick, lot=lot)
    m = MarketData().add_columns("BTCUSDT", tick=tick, lot=lot, quotes=q, trades=t)
    sm = m.symbol("BTCUSDT")
    i = len(q) // 2
    at = np.array([q.time_ns[i], q.time_ns[0] - 1])
    mid = (q.bid_price[i] + q.ask_price[i]) * 0.01 / 2
    got = sm.mid_at(at)
    later = q.time_ns[i + 1 :] == q.time_ns[i]  # several quotes may share a time: the last
    if not later.any():
        assert got[0] == pytest.approx(mid)
    assert np.isnan(got[1])  # before the first quote: unknown
    lo, hi = np.array([t.time_ns[0]]), np.array([t.time_ns[-1]])
    vwap, volume = sm.vwap(lo, hi)
    px, qty = t.price * 0.01, t.qty * 0.001
    assert vwap[0] == pytest.approx(float((px * qty).sum() / qty.sum()))
    assert volume[0] == pytest.approx(float(qty.sum()))
    with pytest.raises(TcaError, match="quotes"):
        MarketData().add_columns("X", tick=tick, quotes=t)  # type: ignore[arg-type]


def test_bad_input_is_refused_with_a_typed_error(tmp_path: Path) -> None:
    with pytest.raises(JournalError, match="no such file"):
        tca(tmp_path / "missing.journal")
    (tmp_path / "text").write_text("not a journal\n")
    with pytest.raises(JournalError, match="not a fillforge journal"):
        tca(tmp_path / "text")
    with pytest.raises(TcaError, match="journal"):
        tca(42)
    desk = Desk(tmp_path / "j")
    desk.close()
    with pytest.raises(TcaError, match="horizons_s"):
        tca(tmp_path / "j", horizons_s=(0,))
    with pytest.raises(TcaError, match="market"):
        tca(tmp_path / "j", market={"TEST": []})  # type: ignore[arg-type]
    empty = tca(tmp_path / "j")
    assert len(empty.orders["side"]) == 0
    assert empty.group_by("policy") == {}
    assert empty.total()["orders"] == 0
    with pytest.raises(TcaError, match="parent_id"):
        empty.parent_cost("nope")
    assert T0 > 0


def test_an_arrival_mid_the_journal_carries_is_read(tmp_path: Path) -> None:
    """A writer that journals the mid with each intent (``order.submit``'s ``mid``) gives lone
    orders an arrival price without market data; the records are the documented kinds."""
    with Journal.open(tmp_path / "j") as j:
        j.append("order.session", {"prefix": "w"})
        request = {"symbol": SYMBOL, "side": "sell", "qty": "10"}
        j.write_ahead("order.submit", {"cid": "w-2", "request": request, "mid": "50.00"})
        j.append("order.ack", {"cid": "w-2", "oid": "v1", "status": "new"})
        fill = {"id": "x1", "qty": "10", "price": "49.95", "fee": "0.10", "ts": T0}
        event = {"oid": "v1", "cid": "w-2", "kind": "fill", "status": "filled"}
        j.append(
            "order.event",
            {**event, "symbol": SYMBOL, "side": "sell", "ts": T0, "fill": fill, "cum": "10"},
        )
    r = tca(tmp_path / "j")
    assert one(r, "orders", "arrival_send") == 50.0
    assert one(r, "orders", "arrival_bps") == pytest.approx(10.0)  # sold 5 cents under 50.00
    assert one(r, "parents", "is_cost") == pytest.approx(10 * 0.05 + 0.10)  # plus the fee
    assert "arrival_send" not in r.reasons
