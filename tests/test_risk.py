"""fillforge.risk: each pre-trade check fires with its typed error naming the field and value and
changes nothing; RiskChecks runs them in its stated order (the first refusal wins) and takes new
checks without broker changes; wash-trade prevention on and off, through the simulated broker;
hypothesis: reservations never go negative and free up exactly on cancel and fill."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fillforge.errors import (
    InsufficientBuyingPowerError,
    NotShortableError,
    OrderValidationError,
    SimulationError,
    WashTradeError,
)
from fillforge.orders.enums import OrderSide, OrderStatus
from fillforge.orders.models import Instrument, OrderRequest
from fillforge.portfolio import Ledger
from fillforge.risk import (
    BuyingPowerCheck,
    OrderIntent,
    ReservationBook,
    RiskChecks,
    RiskContext,
    ShortableCheck,
    ShortLimitCheck,
    WashTradeCheck,
)
from fillforge.sim.account import Account
from fillforge.sim.broker import SimulatedBroker
from fillforge.sim.feeds import empty_feed
from fillforge.sim.venue import Venue

D = Decimal
BUY, SELL = OrderSide.BUY, OrderSide.SELL


def _state(a: Account) -> tuple[object, ...]:
    return (a.snapshot(), a.reservations(), a.reserved, a.buying_power)


@pytest.mark.parametrize(
    ("account", "args", "error", "field"),
    [
        (Account(D(10_000), shortable=()), ("X", SELL, D(10), D(100)), NotShortableError, "symbol"),
        (
            Account(D(10_000), short_limits={"X": 5}),
            ("X", SELL, D(10), D(100)),
            NotShortableError,
            "qty",
        ),
        (Account(D(1_000)), ("X", BUY, D(11), D(100)), InsufficientBuyingPowerError, "qty"),
    ],
)
def test_each_check_fires_naming_its_field_and_changes_nothing(
    account: Account, args: tuple[object, ...], error: type[Exception], field: str
) -> None:
    account.reserve("held", "X", BUY, D(1), D(100))
    before = _state(account)
    with pytest.raises(error) as e:
        account.reserve("o-1", *args)  # type: ignore[arg-type]
    assert e.value.field == field  # type: ignore[attr-defined]
    assert _state(account) == before
    with pytest.raises(error):
        account.check(*args)  # type: ignore[arg-type]
    assert _state(account) == before


def test_reducing_orders_pass_every_check() -> None:
    a = Account(D(1_000), shortable=(), short_limits={"X": 0})
    a.apply_fill("X", BUY, D(10), D(100))  # all the cash
    assert a.reserve("sell", "X", SELL, D(10), D(100)) == 0  # closes the long: needs nothing
    with pytest.raises(NotShortableError):
        a.reserve("more", "X", SELL, D(1), D(100))  # the earlier sell reduces first


class Recorder:
    def __init__(self, name: str, log: list[str], refuse: bool = False) -> None:
        self.name, self.log, self.refuse = name, log, refuse

    def check(self, intent: OrderIntent, context: RiskContext) -> None:
        self.log.append(self.name)
        if self.refuse:
            raise OrderValidationError("qty", intent.qty, f"refused by {self.name}")


def test_the_composite_runs_in_order_and_stops_at_the_first_refusal() -> None:
    log: list[str] = []
    checks = RiskChecks([Recorder("a", log), Recorder("b", log, refuse=True), Recorder("c", log)])
    ledger = Ledger(D(100))
    ctx = RiskContext(ledger, ReservationBook(ledger.qty))
    with pytest.raises(OrderValidationError, match="refused by b"):
        checks.check(OrderIntent("X", BUY, D(1), D(1)), ctx)
    assert log == ["a", "b"]


def test_the_default_order_is_wash_shortable_limit_buying_power() -> None:
    checks = RiskChecks.default(wash_trades=True)
    kinds = [type(c) for c in checks]
    assert kinds == [WashTradeCheck, ShortableCheck, ShortLimitCheck, BuyingPowerCheck]
    checks.wash_trades = False
    assert [type(c) for c in checks] == kinds[1:]
    # Shortability before buying power: an unaffordable short of an unshortable symbol.
    a = Account(D(1), shortable=())
    with pytest.raises(NotShortableError):
        a.reserve("o", "X", SELL, D(100), D(100))


class MaxOrderQty:
    """A new control as a user would add one: no order above ``limit`` shares."""

    def __init__(self, limit: Decimal) -> None:
        self.limit = limit

    def check(self, intent: OrderIntent, context: RiskContext) -> None:
        if intent.qty > self.limit:
            raise OrderValidationError("qty", intent.qty, f"above the {self.limit} share limit")


def test_a_new_check_joins_without_broker_changes() -> None:
    account = Account(D(100_000))
    account.checks.insert(0, MaxOrderQty(D(50)))
    venue = Venue("V", calendar=None)
    venue.add(Instrument(symbol="X", tick_size=D("0.01")), empty_feed())
    b = SimulatedBroker(venue, account=account, start_ns=0)
    b.quote("X", D("100.00"), D("100.02"))
    with pytest.raises(OrderValidationError, match="share limit"):
        b.submit(OrderRequest(symbol="X", side="buy", qty=D(51)))
    assert b.orders() == []
    assert account.reservations() == {}
    assert b.submit(OrderRequest(symbol="X", side="buy", qty=D(50))).status is OrderStatus.FILLED


def test_checks_are_refused_when_they_cannot_check() -> None:
    with pytest.raises(SimulationError) as e:
        RiskChecks([object()])  # type: ignore[list-item]
    assert e.value.field == "check"
    with pytest.raises(SimulationError):
        RiskChecks.default().wash_trades = "yes"  # type: ignore[assignment]
    with pytest.raises(SimulationError):
        Account(D(1), checks=[])  # type: ignore[arg-type]


# ----- wash-trade prevention through the broker --------------------------------------------------


def _broker(**kw: object) -> SimulatedBroker:
    venue = Venue("V", calendar=None)
    venue.add(Instrument(symbol="X", tick_size=D("0.01")), empty_feed())
    b = SimulatedBroker(venue, cash=D(100_000), start_ns=0, **kw)  # type: ignore[arg-type]
    b.quote("X", D("99.00"), D("101.00"))
    b.ledger.apply_fill("X", BUY, D(100), D(100))  # something to sell
    return b


def _sell_limit(price: str) -> OrderRequest:
    return OrderRequest(symbol="X", side="sell", type="limit", qty=D(10), limit_price=D(price))


def _buy_limit(price: str) -> OrderRequest:
    return OrderRequest(symbol="X", side="buy", type="limit", qty=D(10), limit_price=D(price))


def test_with_prevention_on_a_wash_is_refused_before_the_venue_and_nothing_changes() -> None:
    b = _broker(wash_trades=True)
    resting = b.submit(_sell_limit("100.50"))
    before = (b.orders(), b.ledger.reservations(), b.account())
    with pytest.raises(WashTradeError) as e:
        b.submit(_buy_limit("100.60"))  # would reach our own sell at 100.50
    assert (e.value.field, e.value.value) == ("side", "buy")
    assert (b.orders(), b.ledger.reservations(), b.account()) == before
    assert b.submit(_buy_limit("100.40")).status is OrderStatus.NEW  # below it: no wash
    assert b.get_order(resting.id).status is OrderStatus.NEW


def test_with_prevention_off_the_engine_still_refuses_the_wash_at_the_venue() -> None:
    b = _broker()  # no profile: off by default
    assert not b.ledger.checks.wash_trades
    b.submit(_sell_limit("100.50"))
    reasons: list[str | None] = []
    b.subscribe(lambda e: reasons.append(e.reason))
    o = b.submit(_buy_limit("100.60"))
    assert o.status is OrderStatus.REJECTED
    assert "wash trade" in (reasons[-1] or "")
    assert b.ledger.reservation(o.id) is None


def test_the_alpaca_profile_turns_prevention_on_and_complex_orders_are_exempt() -> None:
    b = _broker(rules="alpaca")
    assert b.ledger.checks.wash_trades
    b.submit(_sell_limit("100.50"))
    with pytest.raises(WashTradeError):
        b.submit(_buy_limit("100.60"))
    assert not _broker(rules="alpaca", wash_trades=False).ledger.checks.wash_trades
    with pytest.raises(SimulationError):
        _broker(wash_trades="on")


def test_the_wash_check_alone_needs_a_request_and_working_orders() -> None:
    ledger = Ledger(D(1_000))
    ctx = RiskContext(ledger, ReservationBook(ledger.qty))
    check = WashTradeCheck()
    check.check(OrderIntent("X", BUY, D(1), D(1)), ctx)  # no request (a leg): not checked
    check.check(OrderIntent("X", BUY, D(1), D(1), _buy_limit("100")), ctx)  # nothing working


# ----- reservations (hypothesis) -----------------------------------------------------------------

ops = st.lists(
    st.tuples(
        st.sampled_from(["reserve", "fill", "cancel"]),
        st.sampled_from([BUY, SELL]),
        st.integers(1, 50),
        st.integers(90, 110),
    ),
    max_size=40,
)


@settings(max_examples=150, deadline=None)
@given(ops)
def test_reservations_never_go_negative_and_free_up_exactly(
    seq: list[tuple[str, OrderSide, int, int]],
) -> None:
    a = Account(D(10**9), leverage=D(2))
    n = 0
    for op, side, q, p in seq:
        open_ids = list(a.reservations())
        if op == "reserve" or not open_ids:
            n += 1
            a.reserve(f"o{n}", "X", side, D(q), D(p))
        else:
            oid = open_ids[(q + p) % len(open_ids)]
            r = a.reservation(oid)
            assert r is not None
            if op == "fill":
                part = min(D(q), r.qty)
                a.apply_fill("X", r.side, part, r.price)
                left = a.release_partial(oid, part)
                assert left == r.qty - part
            else:
                assert a.release(oid) == r.qty
                assert a.reservation(oid) is None
        assert a.reserved >= 0
        assert all(r.qty > 0 for r in a.reservations().values())
        # What the book holds is what it hands out, id for id (built on each read).
        assert all(a.book.holds(k) and a.book.get(k) == r for k, r in a.reservations().items())
        assert not a.book.holds(f"o{n + 1}")
        # The cached figure equals a fresh book built from the same reservations.
        fresh = ReservationBook(a.ledger.qty)
        for r in a.reservations().values():
            fresh.add(r.order_id, r.symbol, r.side, r.qty, r.price)
        assert fresh.reserved == a.reserved
    for oid in list(a.reservations()):
        a.release(oid)
    assert a.reserved == 0
    long, short = a.ledger.values()
    assert a.buying_power == max(a.equity * 2 - long - short, D(0))
