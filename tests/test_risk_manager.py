"""The risk manager: trading states and their table, what a breach does, the events and counters,
resets by hand and at the session's start, replacements, the watch between orders; and a
hypothesis state machine showing that nothing passes while halted and only reductions pass
while reducing."""

from __future__ import annotations

from decimal import Decimal

import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck, event, settings
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule
from test_risk_limits import DAY, Desk

from fillforge.errors import RiskDeniedError, RiskError
from fillforge.orders.enums import OrderClass, OrderSide, OrderStatus
from fillforge.orders.models import OrderRequest, ReplaceTerms, StopLoss, TakeProfit
from fillforge.risk import (
    RISK_TABLE,
    Breach,
    DailyLossLimit,
    MaxDrawdown,
    MaxOrderNotional,
    MaxOrderQty,
    MaxPosition,
    PriceBand,
    RiskEvent,
    RiskManager,
    TradingState,
)
from fillforge.time import NS_PER_SECOND

D = Decimal
A, R, H = TradingState.ACTIVE, TradingState.REDUCING, TradingState.HALTED


def test_states_only_tighten_on_a_breach_and_loosen_by_hand() -> None:
    d = Desk([])
    m = d.manager
    m.reduce("test")
    assert m.state is R
    m.halt("test")
    assert m.state is H
    m.reduce("a milder breach")  # never loosens
    assert m.state is H
    m.reset()
    assert m.state is A

    def halt_twice() -> None:
        m.halt()
        m.halt()

    events = [(e.prev_state, e.state) for e in _events(m, halt_twice)]
    assert events == [(A, H)]  # halting twice is one change
    assert {(row[0], tuple(row[1]), row[2]) for row in RISK_TABLE} >= {
        ("reduce", (A,), R),
        ("halt", (A, R), H),
        ("resume", (R, H), A),
    }


def _events(m: RiskManager, act: object) -> list[RiskEvent]:
    seen: list[RiskEvent] = []
    stop = m.subscribe(seen.append)
    act()  # type: ignore[operator]
    stop()
    return seen


def test_every_decision_is_an_event_and_counted_by_code() -> None:
    d = Desk([MaxOrderQty(10)])
    seen: list[RiskEvent] = []
    d.manager.subscribe(seen.append)
    ok = d.market("AAA", "buy", 10)
    no = d.market("AAA", "buy", 11)
    d.manager.halt("lunch")
    again = d.market("AAA", "buy", 1)
    assert [e.kind for e in seen] == ["allowed", "denied", "state", "denied"]
    allowed, denied, state, halted = seen
    assert allowed.request is not None
    assert allowed.request.qty == 10
    assert (denied.code, denied.field, denied.value, denied.state) == (
        "max_order_qty",
        "qty",
        11,
        A,
    )
    assert denied.request is not None
    assert denied.request.qty == 11
    assert denied.ts == d.broker.now()
    assert (state.prev_state, state.state, state.code, state.why) == (A, H, "manual", "lunch")
    assert (halted.code, halted.state) == ("halted", H)
    assert dict(d.manager.counters) == {"allowed": 1, "max_order_qty": 1, "halted": 1}
    assert ok.status is OrderStatus.FILLED
    assert no.status is OrderStatus.DENIED
    assert again.status is OrderStatus.DENIED


@pytest.mark.parametrize(
    ("action", "state"),
    [(Breach.DENY, A), (Breach.REDUCE, R), (Breach.HALT, H), (Breach.KILL, H)],
)
def test_which_breach_moves_to_which_state_is_configurable(action: Breach, state: str) -> None:
    d = Desk([MaxOrderNotional(1000)], on_breach={"max_order_notional": action})
    d.limit("BBB", "buy", 1, "99.00")  # a resting order for the kill to cancel
    d.market("AAA", "buy", 11)
    assert d.manager.state is state
    assert d.manager.killed is (action is Breach.KILL)
    assert bool(d.broker.orders(open_only=True)) is (action is not Breach.KILL)


def test_on_breach_names_only_codes_its_controls_raise() -> None:
    with pytest.raises(RiskError) as e:
        Desk([MaxOrderQty(1)], on_breach={"daily_loss": "halted"})
    assert e.value.field == "on_breach"
    with pytest.raises(RiskError) as e:
        Desk([MaxOrderQty(1)], on_breach={"max_order_qty": "explode"})
    assert e.value.field == "on_breach[max_order_qty]"


def test_reducing_lets_only_reductions_through_counting_open_orders() -> None:
    d = Desk([])
    d.market("AAA", "buy", 100)
    d.market("BBB", "sell", 50)
    d.manager.reduce()
    d.denied(d.market("CCC", "buy", 1), "reducing", "state")  # no position: nothing to reduce
    d.denied(d.market("AAA", "buy", 1), "reducing")  # adds to the long
    d.denied(d.market("AAA", "sell", 101), "reducing")  # a flip
    d.passed(d.limit("AAA", "sell", 60, "101.00"))
    d.denied(d.market("AAA", "sell", 41), "reducing")  # 60 already on its way out: 101 > 100
    d.passed(d.market("AAA", "sell", 40))
    d.passed(d.market("BBB", "buy", 50))  # covering the short
    e = d.gate.denial(d.market("AAA", "sell", 500).id)
    assert e is not None
    assert "flip" in e.why


def test_a_bracket_entry_never_counts_as_a_reduction() -> None:
    d = Desk([])
    d.market("AAA", "sell", 10)
    d.manager.reduce()
    bracket = OrderRequest(
        symbol="AAA",
        side=OrderSide.BUY,
        qty=D(5),
        order_class=OrderClass.BRACKET,
        take_profit=TakeProfit(limit_price=D(110)),
        stop_loss=StopLoss(stop_price=D(90)),
    )
    d.denied(d.gate.submit(bracket), "reducing")


def test_halted_denies_everything_but_cancels_pass() -> None:
    d = Desk([])
    d.market("AAA", "buy", 100)
    resting = d.limit("AAA", "buy", 1, "90.00")
    d.manager.halt()
    d.denied(d.market("AAA", "sell", 100), "halted", "state")
    with pytest.raises(RiskDeniedError) as e:
        d.gate.replace(resting.id, qty=D(2))
    assert e.value.code == "halted"
    with pytest.raises(RiskDeniedError):
        d.gate.replace(resting.id, limit_price=D("89.00"))
    d.gate.cancel(resting.id)
    assert resting.status is OrderStatus.CANCELED


def test_a_replace_is_judged_at_its_new_terms() -> None:
    d = Desk([MaxOrderQty(10), PriceBand(500)])
    o = d.limit("AAA", "buy", 5, "99.00")
    with pytest.raises(RiskDeniedError) as e:
        d.gate.replace(o.id, qty=D(11))
    assert e.value.code == "max_order_qty"
    with pytest.raises(RiskDeniedError) as e:
        d.gate.replace(o.id, ReplaceTerms(limit_price=D("80.00")))
    assert e.value.code == "price_band"
    assert d.broker.get_order(o.id).status is OrderStatus.NEW  # nothing changed
    d.gate.replace(o.id, qty=D(10))
    assert d.broker.orders(open_only=True)[0].order_qty == 10


def test_a_replace_that_only_shrinks_passes_even_halted() -> None:
    d = Desk([])
    o = d.limit("AAA", "buy", 5, "99.00")
    d.manager.halt()
    d.gate.replace(o.id, qty=D(3))
    assert d.broker.orders(open_only=True)[0].order_qty == 3


def test_reset_rebases_the_day_and_the_peak() -> None:
    d = Desk([MaxDrawdown("0.01")])
    d.market("AAA", "buy", 500)
    d.price("AAA", "97.00")
    d.denied(d.market("BBB", "buy", 1), "max_drawdown")
    assert d.manager.state is R
    d.manager.reset("reviewed")
    assert d.manager.state is A
    assert d.manager.view.peak_equity == d.manager.view.equity
    d.passed(d.market("BBB", "buy", 1))


def test_a_daily_state_resets_at_the_session_start_unless_told_not_to() -> None:
    for reset_daily, after in ((True, A), (False, H)):
        d = Desk([DailyLossLimit(500)], reset_daily=reset_daily)
        d.market("AAA", "buy", 500)
        d.price("AAA", "98.00")
        d.denied(d.market("AAA", "buy", 1), "daily_loss")
        assert d.manager.state is H
        d.price("AAA", "98.00", ts=DAY)
        assert d.manager.state is after, reset_daily


def test_the_watch_acts_on_a_breach_between_orders() -> None:
    d = Desk(
        [DailyLossLimit(500)],
        on_breach={"daily_loss": "flatten"},
        watch_ns=NS_PER_SECOND,
    )
    d.market("AAA", "buy", 500)
    seen: list[RiskEvent] = []
    d.manager.subscribe(seen.append)
    d.price("AAA", "98.00")  # no order comes: the watch sees the loss at its next tick
    d.broker.run(until_ns=d.broker.now() + 2 * NS_PER_SECOND)
    assert d.manager.state is H
    assert d.manager.killed
    assert "AAA" not in d.broker.positions()
    kinds = [e.kind for e in seen]
    assert kinds[:2] == ["breach", "state"]
    assert "kill" in kinds
    assert "flatten" in kinds
    assert d.manager.counters["breach:daily_loss"] == 1
    d.manager.close()


def test_every_denial_code_is_documented() -> None:
    import inspect
    from pathlib import Path

    import fillforge.risk as risk

    doc = (Path(__file__).resolve().parents[1] / "docs" / "risk-manager.md").read_text()
    codes = {"halted", "reducing"}
    for _, cls in inspect.getmembers(risk, inspect.isclass):
        if isinstance(getattr(cls, "code", None), str):
            codes |= set(getattr(cls, "codes", (cls.code,)))
    assert len(codes) >= 17
    missing = sorted(c for c in codes if f"`{c}`" not in doc and c != "max_position")
    assert not missing, missing


def test_a_sub_code_can_be_given_a_breach() -> None:
    d = Desk([MaxPosition(qty=10)], on_breach={"max_position_qty": Breach.HALT})
    d.denied(d.market("AAA", "buy", 11), "max_position_qty")
    assert d.manager.state is H


def test_bad_options_are_refused() -> None:
    with pytest.raises(RiskError) as e:
        Desk([], refresh_ns=-1)
    assert e.value.field == "refresh_ns"
    with pytest.raises(RiskError) as e:
        Desk([], watch_ns=0)
    assert e.value.field == "watch_ns"
    with pytest.raises(RiskError) as e:
        Desk([object()])  # type: ignore[list-item]
    assert e.value.field == "controls"


# ----- the stateful property -------------------------------------------------------------------

SIDES = st.sampled_from(["buy", "sell"])
QTYS = st.integers(min_value=1, max_value=60)


class RiskStates(RuleBasedStateMachine):
    """Random orders, fills, prices and state changes: while halted no order reaches the
    broker; while reducing, every order that does reduces the position it found, never flips it."""

    @initialize()
    def start(self) -> None:
        self.d = Desk([DailyLossLimit(3000), MaxDrawdown("0.04")], cash=1_000_000)
        self.price = D(100)

    def _send(self, symbol: str, side: str, qty: int, limit: bool) -> None:
        d = self.d
        state = d.manager.state
        before = d.broker.positions().get(symbol)
        pos = before.qty if before is not None else D(0)
        open_same = sum(
            o.leaves_qty
            for o in d.broker.orders(open_only=True, symbol=symbol)
            if o.request.side is OrderSide(side)
        )
        sent = len(d.broker.orders())
        px = f"{self.price - 1:.2f}" if side == "buy" else f"{self.price + 1:.2f}"
        o = d.limit(symbol, side, qty, px) if limit else d.market(symbol, side, qty)
        reached = len(d.broker.orders()) > sent
        event(f"{state}: {'reached the broker' if reached else 'denied'}")
        if state is H:
            assert not reached
            assert o.status is OrderStatus.DENIED
        elif state is R and reached:
            sign = 1 if side == "buy" else -1
            assert pos * sign < 0, (pos, side)  # against the position
            assert qty + open_same <= abs(pos), (pos, qty, open_same)  # never through zero

    @rule(symbol=st.sampled_from(["AAA", "BBB"]), side=SIDES, qty=QTYS, limit=st.booleans())
    def order(self, symbol: str, side: str, qty: int, limit: bool) -> None:
        self._send(symbol, side, qty, limit)

    @rule(symbol=st.sampled_from(["AAA", "BBB"]), pct=st.integers(1, 150), limit=st.booleans())
    def against_the_position(self, symbol: str, pct: int, limit: bool) -> None:
        """An order on the other side of the position: a reduction, a close or a flip."""
        p = self.d.broker.positions().get(symbol)
        if p is None or not p.qty:
            self._send(symbol, "buy", pct, limit=False)
            return
        qty = max(1, int(abs(p.qty) * pct / 100))
        self._send(symbol, "sell" if p.qty > 0 else "buy", qty, limit)

    @rule(move=st.integers(min_value=-300, max_value=300))
    def move_price(self, move: int) -> None:
        self.price = max(D(10), self.price + D(move) / 100)
        self.d.price("AAA", f"{self.price:.2f}")

    @rule()
    def cancel_all(self) -> None:
        for o in self.d.broker.orders(open_only=True):
            self.d.gate.cancel(o.id)

    @rule(to=st.sampled_from(["reduce", "halt", "reset"]))
    def by_hand(self, to: str) -> None:
        getattr(self.d.manager, to)()

    @rule()
    def next_session(self) -> None:
        now = self.d.broker.now()
        self.d.price("AAA", f"{self.price:.2f}", ts=(now // DAY + 1) * DAY)

    @invariant()
    def counted(self) -> None:
        c = self.d.manager.counters
        assert sum(c.values()) >= 0
        assert self.d.manager.state in (A, R, H)


RiskStates.TestCase.settings = settings(
    max_examples=60,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_risk_state_machine = RiskStates.TestCase
