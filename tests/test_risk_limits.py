"""Each pre-trade control fires on a scripted scenario on ``SimulatedBroker``, behind a
``RiskGate``: the order it denies ends ``denied`` with the control's code and never reaches the
broker; the order just inside the limit goes through. Parameters a control cannot take are
refused with a ``RiskError`` naming the field."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest
from order_helpers import gtc_limit

from fillforge.errors import RiskError
from fillforge.orders.enums import OrderSide, OrderStatus, OrderType
from fillforge.orders.models import Instrument, OrderRequest
from fillforge.orders.order import Order
from fillforge.risk import (
    Control,
    CorrelationExposure,
    DailyLossLimit,
    GrossExposure,
    MaxDrawdown,
    MaxOpenOrders,
    MaxOrderNotional,
    MaxOrderQty,
    MaxOrdersPerDay,
    MaxPosition,
    MaxTradesPerDay,
    NetExposure,
    PortfolioVaR,
    PriceBand,
    RiskGate,
    RiskManager,
    SectorExposure,
    TradingState,
)
from fillforge.sim.broker import SimulatedBroker
from fillforge.sim.feeds import empty_feed
from fillforge.sim.venue import Venue
from fillforge.time import NS_PER_SECOND

D = Decimal
DAY = 86_400 * NS_PER_SECOND
SYMBOLS = ("AAA", "BBB", "CCC")


class Desk:
    """A simulated broker (100,000 cash, three symbols, no calendar: sessions roll at midnight
    UTC), a risk gate over it, and helpers to script prices and send orders."""

    def __init__(self, controls: list[Control], *, cash: int = 100_000, **options: object):
        venue = Venue("RISKX", calendar=None)
        for s in SYMBOLS:
            venue.add(Instrument(symbol=s), empty_feed())
        self.broker = SimulatedBroker(venue, cash=D(cash), start_ns=NS_PER_SECOND)
        for s in SYMBOLS:
            self.price(s, "100.00")
        opts: dict[str, object] = {"refresh_ns": 0, **options}
        self.manager = RiskManager(self.broker, controls, **opts)  # type: ignore[arg-type]
        self.gate = RiskGate(self.broker, manager=self.manager)

    def price(self, symbol: str, last: str, spread: str = "0.02", ts: int | None = None) -> None:
        """A print at ``last`` and a quote around it (deep on both sides)."""
        b, p = self.broker, D(last)
        t = ts if ts is not None else b.now() + 1_000_000
        b.trade(symbol, p, D(1), aggressor=OrderSide.BUY, ts=t)
        half = D(spread) / 2
        b.quote(symbol, p - half, p + half, bid_size=D(10**6), ask_size=D(10**6), ts=t)

    def market(self, symbol: str, side: str, qty: int | str) -> Order:
        return self.gate.submit(OrderRequest(symbol=symbol, side=OrderSide(side), qty=D(qty)))

    def limit(self, symbol: str, side: str, qty: int | str, price: str) -> Order:
        return self.gate.submit(gtc_limit(symbol, side, qty, price))

    def denied(self, order: Order, code: str, field: str | None = None) -> None:
        assert order.status is OrderStatus.DENIED, order
        assert order.status.alpaca == "rejected"
        e = self.gate.denial(order.id)
        assert e is not None
        assert e.code == code, e
        if field is not None:
            assert e.field == field, e
        with pytest.raises(LookupError):
            self.broker.get_order(order.id)  # it never reached the broker

    def passed(self, order: Order) -> None:
        assert order.status is not OrderStatus.DENIED, self.gate.denial(order.id)
        assert order.status is not OrderStatus.REJECTED, order  # the venue took it too
        assert self.broker.get_order(order.id) is order


# ----- the order itself ------------------------------------------------------------------------


def test_max_order_qty_and_its_per_symbol_override() -> None:
    d = Desk([MaxOrderQty(500, per_symbol={"BBB": 50})])
    d.passed(d.market("AAA", "buy", 500))
    d.denied(d.market("AAA", "buy", 501), "max_order_qty", "qty")
    d.denied(d.market("BBB", "sell", 51), "max_order_qty")
    d.passed(d.market("BBB", "buy", 50))
    assert d.manager.counters["max_order_qty"] == 2


def test_max_order_notional_values_a_limit_at_its_limit_and_a_market_at_the_last_trade() -> None:
    d = Desk([MaxOrderNotional(10_000)])
    d.passed(d.market("AAA", "buy", 100))  # 100 x 100.00 (last trade)
    d.denied(d.market("AAA", "buy", 101), "max_order_notional", "notional")
    d.passed(d.limit("AAA", "buy", 125, "80.00"))  # 10,000 at the limit
    d.denied(d.limit("AAA", "buy", 126, "80.00"), "max_order_notional")
    notional = OrderRequest(symbol="AAA", side=OrderSide.BUY, notional=D("10000.01"))
    d.denied(d.gate.submit(notional), "max_order_notional")


def test_max_order_notional_denies_an_order_it_cannot_value() -> None:
    venue = Venue("V", calendar=None)
    venue.add(Instrument(symbol="ZZZ"), empty_feed())
    broker = SimulatedBroker(venue, cash=D(10**5), start_ns=0)
    gate = RiskGate(broker, [MaxOrderNotional(1000)])
    o = gate.submit(OrderRequest(symbol="ZZZ", side=OrderSide.BUY, qty=D(1)))
    assert o.status is OrderStatus.DENIED
    e = gate.denial(o.id)
    assert e is not None
    assert (e.code, e.field) == ("max_order_notional", "price")


def test_price_band_catches_a_fat_finger_limit_stop_and_market() -> None:
    d = Desk([PriceBand(500)])  # 5%
    d.passed(d.limit("AAA", "buy", 1, "95.00"))  # exactly 500 bps under 100.00
    d.denied(d.limit("AAA", "buy", 1, "94.99"), "price_band", "limit_price")
    d.denied(d.limit("AAA", "sell", 1, "105.01"), "price_band", "limit_price")
    stop = OrderRequest(
        symbol="AAA", side=OrderSide.SELL, type=OrderType.STOP, stop_price=D("50.00"), qty=D(1)
    )
    d.denied(d.gate.submit(stop), "price_band", "stop_price")
    # A market buy would meet an ask far from the last trade (a stale print, an empty book).
    d.broker.quote("BBB", D("99.99"), D("120.00"), bid_size=D(10), ask_size=D(10))
    d.denied(d.market("BBB", "buy", 1), "price_band", "touch")
    d.passed(d.market("BBB", "sell", 1))  # the bid is within the band


def test_price_band_without_a_reference_denies_unless_told_not_to() -> None:
    venue = Venue("V", calendar=None)
    venue.add(Instrument(symbol="ZZZ"), empty_feed())
    broker = SimulatedBroker(venue, cash=D(10**5), start_ns=0)
    limit = OrderRequest(
        symbol="ZZZ", side=OrderSide.BUY, type=OrderType.LIMIT, limit_price=D(10), qty=D(1)
    )
    strict = RiskGate(broker, [PriceBand(100)])
    o = strict.submit(limit)
    assert o.status is OrderStatus.DENIED
    e = strict.denial(o.id)
    assert e is not None
    assert e.field == "reference"
    strict.close()
    lenient = RiskGate(broker, [PriceBand(100, allow_no_reference=True)])
    assert lenient.submit(limit).status is not OrderStatus.DENIED


# ----- positions ---------------------------------------------------------------------------------


def test_max_position_qty_counts_open_orders_and_never_blocks_a_reduction() -> None:
    d = Desk([MaxPosition(qty=300)])
    d.passed(d.market("AAA", "buy", 250))
    assert d.broker.positions()["AAA"].qty == 250
    resting = d.limit("AAA", "buy", 40, "99.00")  # 290 if it fills
    d.passed(resting)
    d.denied(d.market("AAA", "buy", 20), "max_position_qty", "qty")  # 310
    d.passed(d.market("AAA", "buy", 10))  # 300
    # A sell's worst case leaves out the open buy (it may never fill): 260 - 561 = -301.
    d.denied(d.market("AAA", "sell", 561), "max_position_qty")
    d.gate.cancel(resting.id)  # (the venue would refuse a sell against it: a wash trade)
    d.passed(d.market("AAA", "sell", 560))
    d.denied(d.market("AAA", "sell", 1), "max_position_qty")


def test_max_position_pct_of_equity_and_notional_per_symbol() -> None:
    d = Desk([MaxPosition(pct="0.10", per_symbol={"BBB": {"notional": 5000}})])
    d.passed(d.market("AAA", "buy", 100))  # 10,000 of 100,000
    d.denied(d.market("AAA", "buy", 1), "max_position_pct")
    d.passed(d.market("BBB", "buy", 50))
    d.denied(d.market("BBB", "buy", 1), "max_position_notional")
    d.passed(d.market("AAA", "sell", 30))  # a reduction passes


def test_max_position_is_judged_on_the_equity_after_a_loss() -> None:
    d = Desk([MaxPosition(pct="0.50")])
    d.passed(d.market("AAA", "buy", 400))  # 40,000
    d.price("AAA", "50.00")  # equity 100,000 - 40,004 + 20,000 = 79,996
    d.passed(d.market("BBB", "buy", 399))  # 39,900 <= 39,998
    d.denied(d.market("BBB", "buy", 1), "max_position_pct")  # 40,000


# ----- counts ------------------------------------------------------------------------------------


def test_max_open_orders() -> None:
    d = Desk([MaxOpenOrders(2)])
    a = d.limit("AAA", "buy", 1, "99.00")
    d.passed(d.limit("BBB", "buy", 1, "99.00"))
    d.denied(d.limit("CCC", "buy", 1, "99.00"), "max_open_orders", "open_orders")
    d.gate.replace(a.id, limit_price=D("98.00"))  # a replacement is not one more order
    d.broker.cancel(d.broker.orders(open_only=True)[0].id)
    d.passed(d.limit("CCC", "buy", 1, "99.00"))


def test_max_orders_per_day_rolls_at_the_session_start() -> None:
    d = Desk([MaxOrdersPerDay(3)])
    for _ in range(3):
        d.passed(d.market("AAA", "buy", 1))
    d.denied(d.market("AAA", "buy", 1), "max_orders_per_day", "orders_today")
    d.price("AAA", "100.00", ts=DAY - 1)  # still the same day (UTC)
    d.denied(d.market("AAA", "buy", 1), "max_orders_per_day")
    d.price("AAA", "100.00", ts=DAY)  # midnight: a new session
    d.passed(d.market("AAA", "buy", 1))
    assert d.manager.view.orders_today == 1


def test_max_orders_per_day_rolls_at_the_venue_calendar_open() -> None:
    venue = Venue("XN", calendar="XNYS")
    venue.add(Instrument(symbol="AAA"), empty_feed())
    monday_10am = 1_795_446_000 * NS_PER_SECOND  # 2026-11-23 10:00 New York
    broker = SimulatedBroker(venue, cash=D(10**5), start_ns=monday_10am)
    gate = RiskGate(broker, [MaxOrdersPerDay(1)])
    broker.quote("AAA", D("99.99"), D("100.01"), bid_size=D(100), ask_size=D(100))
    limit = gtc_limit("AAA", "buy", 1, "90.00")
    assert gate.submit(limit).status is not OrderStatus.DENIED
    assert gate.submit(limit).status is OrderStatus.DENIED
    # 23:00 the same day (UTC has passed midnight: no matter) and 9:29 the next day: same session
    for hours in (13, 23.48):
        broker.quote("AAA", D("99.99"), D("100.01"), ts=monday_10am + int(hours * 3600e9))
        assert gate.submit(limit).status is OrderStatus.DENIED, hours
    broker.quote("AAA", D("99.99"), D("100.01"), ts=monday_10am + int(23.5 * 3600e9))  # 9:30
    assert gate.submit(limit).status is not OrderStatus.DENIED


def test_max_trades_per_day_counts_fills() -> None:
    d = Desk([MaxTradesPerDay(2)])
    d.passed(d.market("AAA", "buy", 1))
    r = d.limit("AAA", "buy", 1, "99.00")
    d.passed(r)
    assert d.manager.view.fills_today == 1
    d.passed(d.market("AAA", "buy", 1))
    d.denied(d.limit("AAA", "buy", 1, "99.00"), "max_trades_per_day", "fills_today")
    d.price("AAA", "100.00", ts=DAY)
    d.passed(d.market("AAA", "buy", 1))


def test_a_fill_after_the_session_start_counts_for_the_new_session() -> None:
    d = Desk([MaxTradesPerDay(1)])
    resting = d.limit("AAA", "buy", 1, "99.00")
    d.price("AAA", "98.00", ts=DAY + 5)  # fills it after midnight, before any order is asked
    assert resting.status is OrderStatus.FILLED
    d.denied(d.market("AAA", "buy", 1), "max_trades_per_day")
    assert d.manager.view.fills_today == 1


# ----- profit and loss --------------------------------------------------------------------------


def test_daily_loss_denies_orders_that_add_risk_and_lets_reductions_through() -> None:
    d = Desk([DailyLossLimit(2000)], on_breach={})
    d.passed(d.market("AAA", "buy", 500))  # at 100.01
    d.price("AAA", "96.00")  # -2,005 (and the spread)
    d.denied(d.market("BBB", "buy", 1), "daily_loss", "loss")
    d.passed(d.market("AAA", "sell", 100))  # a reduction still goes
    d.denied(d.market("AAA", "sell", 500), "daily_loss")  # a flip does not
    assert d.manager.state is TradingState.ACTIVE  # on_breach={}: deny only
    d.price("AAA", "96.00", ts=DAY)  # a new session starts from today's equity
    d.passed(d.market("BBB", "buy", 1))


def test_daily_loss_as_a_percent_halts_by_default_and_the_next_session_resumes() -> None:
    d = Desk([DailyLossLimit(pct="0.01")])
    d.passed(d.market("AAA", "buy", 500))
    d.price("AAA", "98.00")  # -1,005 of 100,000
    d.denied(d.market("BBB", "buy", 1), "daily_loss")
    assert d.manager.state is TradingState.HALTED
    d.denied(d.market("AAA", "sell", 1), "halted", "state")  # halted: not even a reduction
    d.price("AAA", "98.00", ts=DAY)
    assert d.manager.state is TradingState.ACTIVE  # type: ignore[comparison-overlap]
    d.passed(d.market("BBB", "buy", 1))


def test_max_drawdown_from_the_peak_moves_to_reducing() -> None:
    d = Desk([MaxDrawdown("0.05")])
    d.passed(d.market("AAA", "buy", 600))  # 60,006
    d.price("AAA", "110.00")  # equity ~105,994: the new peak
    d.passed(d.market("BBB", "buy", 1))
    d.price("AAA", "101.00")  # ~100,594: 5.1% under the peak, still above the start
    d.denied(d.market("BBB", "buy", 1), "max_drawdown", "drawdown")
    assert d.manager.state is TradingState.REDUCING
    d.passed(d.market("AAA", "sell", 100))
    d.denied(d.market("AAA", "sell", 501), "reducing", "state")  # a flip is no reduction
    d.price("AAA", "101.00", ts=DAY)
    assert d.manager.state is TradingState.REDUCING  # not a daily limit: stays until reset


# ----- exposure ---------------------------------------------------------------------------------


def test_sector_exposure_from_a_sector_map() -> None:
    sectors = {"AAA": "tech", "BBB": "tech", "CCC": "energy"}
    d = Desk([SectorExposure(sectors, {"tech": "0.5"}, default="0.2")])
    d.passed(d.market("AAA", "buy", 300))
    d.passed(d.market("BBB", "buy", 190))  # 30,000 + 19,000 of ~99,990 equity
    d.denied(d.market("BBB", "buy", 20), "sector_exposure", "sector")
    d.passed(d.market("CCC", "buy", 190))
    d.denied(d.market("CCC", "buy", 20), "sector_exposure")  # energy: the default 20%
    d.passed(d.market("AAA", "sell", 100))


def test_gross_and_net_exposure_as_multiples_of_equity() -> None:
    d = Desk([GrossExposure("0.8"), NetExposure("0.5")])
    d.passed(d.market("AAA", "buy", 400))
    d.denied(d.market("BBB", "buy", 200), "net_exposure", "net")  # net 60,000
    d.passed(d.market("BBB", "sell", 300))  # a short: net 10,000, gross 70,000
    d.denied(d.market("CCC", "sell", 200), "gross_exposure", "gross")  # gross 90,000
    d.passed(d.market("CCC", "buy", 50))  # gross 75,000, net 15,000
    d.passed(d.market("BBB", "buy", 100))  # covering: gross falls


def test_correlation_exposure_adds_correlated_longs_and_nets_a_hedge() -> None:
    rng = np.random.default_rng(7)
    base = rng.normal(0, 0.01, 250)
    returns = {"AAA": base, "BBB": base * 1.5, "CCC": -base}
    d = Desk([CorrelationExposure({k: list(v) for k, v in returns.items()}, "0.5")])
    d.passed(d.market("AAA", "buy", 300))
    d.denied(d.market("BBB", "buy", 250), "correlation_exposure", "correlated")  # 55,000
    d.passed(d.market("CCC", "buy", 250))  # anti-correlated, a hedge: |-30,000 + 25,000|
    d.passed(d.market("BBB", "buy", 250))  # 30,000 - 25,000 + 25,000 moves with BBB
    control = d.manager.controls[0]
    assert isinstance(control, CorrelationExposure)
    assert control.correlation("AAA", "BBB") == pytest.approx(1.0)
    assert control.correlation("AAA", "ZZZ") == 0.0


def test_portfolio_var_limit_asked_pre_trade() -> None:
    rng = np.random.default_rng(17)
    a = rng.normal(0, 0.02, 500)
    returns = {"AAA": list(a), "BBB": list(rng.normal(0, 0.02, 500)), "CCC": list(-a)}
    d = Desk([PortfolioVaR(returns, amount=2000)])
    var = PortfolioVaR(returns, amount=1).model
    d.passed(d.market("AAA", "buy", 300))  # about 30,000 x 4.6% = ~1,400
    assert var.var({"AAA": 30_000.0}) < 2000 < var.var({"AAA": 45_000.0})
    d.denied(d.market("AAA", "buy", 150), "portfolio_var", "var")
    d.passed(d.market("CCC", "buy", 300))  # the mirror image: VaR falls to 0
    d.denied(d.market("AAA", "buy", 1000), "portfolio_var")


def test_portfolio_var_denies_a_symbol_it_has_no_history_for() -> None:
    d = Desk([PortfolioVaR({"AAA": [0.01, -0.02, 0.005]}, pct="0.05")])
    d.denied(d.market("BBB", "buy", 1), "portfolio_var", "symbol")


# ----- parameters -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "field"),
    [
        (lambda: MaxOrderQty(-1), "limit"),
        (lambda: MaxOrderQty(1.5), "limit"),  # type: ignore[arg-type]  # floats: not money
        (lambda: MaxOrderNotional(per_symbol={"AAA": 0}), "per_symbol[AAA]"),
        (lambda: PriceBand("nan"), "max_bps"),
        (lambda: MaxPosition(pct="-0.1"), "pct"),
        (lambda: MaxPosition(per_symbol={"AAA": {"shares": 1}}), "per_symbol[AAA]"),
        (lambda: MaxOpenOrders(-1), "limit"),
        (lambda: MaxOrdersPerDay(True), "limit"),
        (lambda: DailyLossLimit(), "amount"),
        (lambda: MaxDrawdown(0), "pct"),
        (lambda: SectorExposure({"AAA": "tech"}, {"energy": 1}), "limits"),
        (lambda: SectorExposure({"AAA": 3}), "sectors"),  # type: ignore[dict-item]
        (lambda: GrossExposure(0), "max_multiple"),
        (lambda: CorrelationExposure({"A": [0.1, 0.2], "B": [0.1]}, 1), "returns"),
        (lambda: CorrelationExposure({"A": [0.1, float("nan")]}, 1), "returns"),
        (lambda: PortfolioVaR({"A": [0.1, 0.2]}), "amount"),
        (lambda: PortfolioVaR({"A": [0.1, 0.2]}, amount=1, confidence=1.5), "confidence"),
    ],
)
def test_bad_parameters_are_refused_naming_the_field(make: object, field: str) -> None:
    with pytest.raises(RiskError) as e:
        make()  # type: ignore[operator]
    assert e.value.field == field


def test_the_reference_is_the_mid_without_a_trade_and_a_price_book_serves_held_prices() -> None:
    from fillforge.risk import PriceBook

    venue = Venue("V", calendar=None)
    venue.add(Instrument(symbol="ZZZ"), empty_feed())
    broker = SimulatedBroker(venue, cash=D(10**5), start_ns=0)
    broker.quote("ZZZ", D("9.00"), D("11.00"), bid_size=D(10), ask_size=D(10))  # mid 10.00
    limit = OrderRequest(
        symbol="ZZZ", side=OrderSide.BUY, type=OrderType.LIMIT, limit_price=D("10.10"), qty=D(1)
    )
    asking = RiskGate(broker, [PriceBand(100)])
    assert asking.submit(limit).status is not OrderStatus.DENIED  # 100 bps from the mid
    asking.close()
    book = PriceBook()
    book.follow(broker, ["ZZZ"])
    assert book.quote("ZZZ") == (D("9.00"), D("11.00"))
    assert book.last("ZZZ") is None
    m = RiskManager(broker, [PriceBand(100)], prices=book, refresh_ns=0)
    held = RiskGate(broker, manager=m)
    broker.trade("ZZZ", D("9.50"), D(1), aggressor=OrderSide.SELL)  # the book hears it
    assert book.last("ZZZ") == D("9.50")
    o = held.submit(limit)  # 10.10 is 632 bps from 9.50
    assert o.status is OrderStatus.DENIED
    e = held.denial(o.id)
    assert e is not None
    assert "632 bps" in e.why
    book.set("ZZZ", last=D("10.05"))
    assert held.submit(limit).status is not OrderStatus.DENIED
    book.close()


def test_one_control_shared_by_two_managers_judges_each_account() -> None:
    loss = DailyLossLimit(1000)
    losing, fine = Desk([loss], on_breach={}), Desk([loss], on_breach={})
    losing.market("AAA", "buy", 500)
    losing.price("AAA", "97.00")
    losing.denied(losing.market("BBB", "buy", 1), "daily_loss")
    fine.passed(fine.market("BBB", "buy", 1))
    losing.denied(losing.market("BBB", "buy", 1), "daily_loss")
