"""Stateful property test of one order's lifecycle (hypothesis ``RuleBasedStateMachine``).

Random sequences of every venue report and local request, allowed or not, in any order: acks,
rejects, fills (new and repeated trade ids, beyond the order qty too), done for day, GT
restatements, cancel and replace requests, pending reports, confirmations and rejects,
unsolicited cancels, expiry, trade busts and corrections, and late fills on replaced orders.

A small model, written from the FIX matrices and the engine's modelling choices (not from
``ORDER_TABLE``), says whether each event is allowed and what status it leads to:

- a disallowed event raises InvalidTransitionError naming order, state and event, and changes
  nothing (status, quantities, fills, outstanding request, price, chain);
- after every step: INV-1 (leaves), INV-2 (cum qty = live fills, avg price = their weighted
  price, cum only moves down on busts/corrections), INV-6 (a cancel/replace reject restores the
  status before the pending report), one outstanding request at most, an ended order never
  works again (a filled one only through a bust or a C.1.c replace-to-increase), ``late`` exactly
  on fills to ended orders and ``overfill`` exactly when cum qty passes the order qty.

A New that crosses a pending report (it arrives while pending) makes a later reject restore
``new``: the venue has acknowledged the order.

The order is driven the supported way (``OrderDriver``): our requests through the order manager,
every venue answer as a ``VenueReport`` through ``OrderManager.apply``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)
from order_driver import OrderDriver
from order_snapshot import snapshot

from fillforge import (
    EventKind,
    Fill,
    InvalidTransitionError,
    OrderEvent,
    OrderRequest,
    OrderSide,
    OrderStatus,
    OrderTimeInForce,
    OrderType,
    OrderValidationError,
)

# ``HYPOTHESIS_PROFILE=long`` (see conftest.py) multiplies the example count below.
SCALE = 25 if os.environ.get("HYPOTHESIS_PROFILE") == "long" else 1

S = OrderStatus
D = Decimal
QTY = D(100)

CREATED, PN, ACC, NEW = S.CREATED, S.PENDING_NEW, S.ACCEPTED, S.NEW
PF, FILLED, DFD = S.PARTIALLY_FILLED, S.FILLED, S.DONE_FOR_DAY
PC, PR = S.PENDING_CANCEL, S.PENDING_REPLACE
CXL, EXP, REPL, REJ = S.CANCELED, S.EXPIRED, S.REPLACED, S.REJECTED

WORKING = frozenset({PN, ACC, NEW, PF, DFD})
PENDING = frozenset({PC, PR})
ENDED = frozenset({CXL, EXP, REPL, REJ})  # done without completing: fills here are late
TERMINAL = frozenset({FILLED, S.DENIED}) | ENDED
ZERO_LEAVES = TERMINAL

TRADE_IDS = [f"t{i}" for i in range(10)]
PRICES = [D("99.50"), D(100), D("100.25"), D(101)]

trade_ids = st.sampled_from(TRADE_IDS)
fill_qtys = st.integers(1, 60).map(D)
prices = st.sampled_from(PRICES)
new_qtys = st.integers(1, 150).map(D)


def resolve(cum: Decimal, qty: Decimal) -> OrderStatus:
    """Where a working order stands by quantity alone."""
    if cum >= qty:
        return FILLED
    return PF if cum else NEW


class OrderLifecycle(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.order: OrderDriver
        self.good_till = False
        self.request = False  # model: a cancel/replace request is outstanding
        self.before_pending: OrderStatus = CREATED
        self.replaced: list[OrderDriver] = []
        self.serial = 0

    @initialize(
        tif=st.sampled_from([OrderTimeInForce.DAY, OrderTimeInForce.GTC]),
        prefix=st.sampled_from(["created", "pending_new", "new", "partially_filled"]),
    )
    def create(self, tif: OrderTimeInForce, prefix: str) -> None:
        """A fresh order, sometimes already sent, acknowledged or part-filled (the walk then
        spends its steps deeper in the lifecycle)."""
        req = OrderRequest(
            symbol="ACME",
            side=OrderSide.BUY,
            type=OrderType.LIMIT,
            limit_price=D(100),
            qty=QTY,
            time_in_force=tif,
            client_order_id="c0",
        )
        self.order = OrderDriver.new(req, order_id="o0")
        self.good_till = tif is OrderTimeInForce.GTC
        if prefix != "created":
            self.submit()
        if prefix in ("new", "partially_filled"):
            self.ack()
        if prefix == "partially_filled":
            self.fill("t0", D(30), D(100))

    # ----- helpers ----------------------------------------------------------------------------

    @property
    def status(self) -> OrderStatus:
        return self.order.status

    def ended(self, o: OrderDriver) -> bool:
        """Ended for the purpose of fills: ``late`` is set on fills that hit it. A day order's
        done for day counts (its leaves are 0); a GT order's does not."""
        return o.status in ENDED or (o.status is DFD and not o.is_good_till())

    def run(
        self,
        event: str,
        expected: OrderStatus | None,
        call: Callable[[], OrderEvent],
    ) -> OrderEvent | None:
        """Apply ``call`` to the live order. ``expected`` None: the model says the table refuses
        ``event`` here, so it must raise and change nothing. Else the event must succeed and
        leave the order in ``expected``."""
        o = self.order
        before = snapshot(o)
        prev_status, prev_cum = o.status, o.cum_qty
        if expected is None:
            with pytest.raises(InvalidTransitionError) as info:
                call()
            assert (info.value.order_id, info.value.state, info.value.event) == (
                o.id,
                prev_status,
                event,
            )
            assert snapshot(o) == before
            return None
        ev = call()
        assert ev.status is o.status is expected, (event, prev_status, ev)
        assert ev.prev_status is prev_status
        assert (ev.order_qty, ev.cum_qty, ev.leaves_qty, ev.avg_price) == (
            o.order_qty,
            o.cum_qty,
            o.leaves_qty,
            o.avg_price,
        )
        # INV-2: cum qty moves down only on a bust or correction.
        if event != "trade_bust":
            assert o.cum_qty >= prev_cum
        # An ended order never works again. A filled one may: a bust re-opens it (J.1.a), and a
        # replace request to increase qty goes pending replace (C.1.c).
        if prev_status in TERMINAL and o.status not in TERMINAL:
            assert prev_status is FILLED
            assert event in ("trade_bust", "pending_replace")
        if prev_status in TERMINAL - {FILLED}:
            assert o.status is prev_status
        if o.status in PENDING and prev_status not in PENDING:
            self.before_pending = prev_status
        return ev

    def fill_expected(self, cum_after: Decimal) -> OrderStatus | None:
        st_ = self.status
        if st_ in (CREATED, S.HELD, S.DENIED):
            return None
        if st_ in (PN, ACC, NEW, PF) or (st_ is DFD and self.good_till):
            return resolve(cum_after, self.order.order_qty)
        return st_  # pending, day-order DFD, filled, ended: recorded, status kept

    def bust_expected(self, cum_after: Decimal) -> OrderStatus | None:
        st_ = self.status
        if st_ in (NEW, PF, FILLED):
            return resolve(cum_after, self.order.order_qty)
        if st_ in PENDING or st_ in ENDED or st_ is DFD:
            return st_
        return None

    def reject_expected(self) -> OrderStatus | None:
        """INV-6: back to the status before the pending report (resolved by the fills since),
        or unchanged when the reject crossed before any pending report."""
        st_, o = self.status, self.order
        if st_ in PENDING:
            if o.cum_qty >= o.order_qty:
                return FILLED
            if self.before_pending is DFD:
                return DFD
            if o.cum_qty:
                return PF
            return self.before_pending if self.before_pending in (PN, ACC) else NEW
        if st_ in WORKING or st_ in TERMINAL - {S.DENIED}:
            return st_
        return None

    # ----- order entry ------------------------------------------------------------------------

    def submit(self) -> None:
        self.run("submit", PN if self.status is CREATED else None, self.order.submit)

    def accept(self) -> None:
        self.run("accept", ACC if self.status is PN else None, self.order.accept)

    def ack(self) -> None:
        st_ = self.status
        expected = NEW if st_ in (PN, ACC) else st_ if st_ in (NEW, PC, PR) else None
        self.run("ack", expected, self.order.ack)
        if st_ in PENDING:
            self.before_pending = NEW

    def reject(self) -> None:
        st_ = self.status
        ok = st_ in (PN, ACC) or (st_ is NEW and not self.order.cum_qty)
        self.run("reject", REJ if ok else None, lambda: self.order.reject("venue says no"))

    # ----- executions -------------------------------------------------------------------------

    @rule(tid=trade_ids, qty=fill_qtys, price=prices)
    def fill(self, tid: str, qty: Decimal, price: Decimal) -> None:
        o = self.order
        f = Fill(trade_id=tid, order_id=o.id, price=price, qty=qty)
        if tid in o.fills:  # the same execution again: reported, ignored
            before = snapshot(o)
            dup = o.fill(f)
            assert dup.kind is EventKind.DUPLICATE_FILL
            assert (dup.status, dup.late, dup.overfill) == (o.status, False, False)
            assert snapshot(o) == before
            return
        late = self.ended(o)
        ev = self.run("fill", self.fill_expected(o.cum_qty + qty), lambda: o.fill(f))
        if ev is not None:
            assert ev.fill == f
            assert ev.late is late
            assert ev.overfill is (o.cum_qty > o.order_qty)
            assert o.fills[tid] == f

    def trade_cancel(self, pick: int) -> None:
        o = self.order
        ids = sorted(o.fills)
        if pick >= len(ids):  # no such execution: refused, nothing changes
            before = snapshot(o)
            with pytest.raises(OrderValidationError):
                o.trade_cancel("unknown")
            assert snapshot(o) == before
            return
        tid = ids[pick]
        cum_after = o.cum_qty - o.fills[tid].qty
        ev = self.run("trade_bust", self.bust_expected(cum_after), lambda: o.trade_cancel(tid))
        if ev is not None:
            assert ev.kind is EventKind.TRADE_CANCEL
            assert tid not in o.fills

    def trade_correct(self, pick: int, qty: Decimal, price: Decimal) -> None:
        o = self.order
        ids = sorted(o.fills)
        if pick >= len(ids):
            before = snapshot(o)
            with pytest.raises(OrderValidationError):
                o.trade_correct(Fill(trade_id="unknown", order_id=o.id, price=price, qty=qty))
            assert snapshot(o) == before
            return
        tid = ids[pick]
        f = Fill(trade_id=tid, order_id=o.id, price=price, qty=qty)
        cum_after = o.cum_qty - o.fills[tid].qty + qty
        ev = self.run("trade_bust", self.bust_expected(cum_after), lambda: o.trade_correct(f))
        if ev is not None:
            assert ev.kind is EventKind.TRADE_CORRECT
            assert ev.overfill is (o.cum_qty > o.order_qty)
            assert o.fills[tid] == f

    @precondition(lambda self: bool(self.replaced))
    @rule(data=st.data(), qty=fill_qtys, price=prices)
    def late_fill_on_replaced(self, data: st.DataObject, qty: Decimal, price: Decimal) -> None:
        old = data.draw(st.sampled_from(self.replaced))
        self.serial += 1
        f = Fill(trade_id=f"late{self.serial}", order_id=old.id, price=price, qty=qty)
        cum = old.cum_qty
        ev = old.fill(f)
        assert (ev.status, ev.late, ev.leaves_qty) == (REPL, True, D(0))
        assert old.cum_qty == cum + qty
        assert f.trade_id not in self.order.fills  # reported on the old order only

    # ----- day boundaries and unsolicited changes ----------------------------------------------

    @rule()
    def done_for_day(self) -> None:
        ok = self.status in (ACC, NEW, PF)
        self.run("done_for_day", DFD if ok else None, self.order.done_for_day)

    @rule(qty=new_qtys)
    def restate(self, qty: Decimal) -> None:
        o = self.order
        expected = None
        if self.status in (ACC, NEW, PF, DFD):
            expected = resolve(o.cum_qty, max(qty, o.cum_qty))
        ev = self.run("restate", expected, lambda: o.restate(qty, reason="restated"))
        if ev is not None:
            assert o.order_qty == max(qty, ev.cum_qty)

    @rule()
    def expire(self) -> None:
        st_ = self.status
        ok = st_ in WORKING or st_ in PENDING
        if self.run("expire", EXP if ok else None, self.order.expire) is not None:
            self.request = False

    def cancel(self, unsolicited: bool = False) -> None:
        ok = self.status in WORKING or self.status in PENDING
        reason = "venue cancel" if unsolicited else None
        if self.run("cancel", CXL if ok else None, lambda: self.order.cancel(reason)) is not None:
            self.request = False

    # ----- cancel / replace requests -----------------------------------------------------------

    @rule()
    def request_cancel(self) -> None:
        ok = self.status in WORKING and not self.request
        if (
            self.run("request_cancel", self.status if ok else None, self.order.request_cancel)
            is not None
        ):
            self.request = True

    @rule(qty=st.none() | new_qtys, price=st.none() | prices)
    def request_replace(self, qty: Decimal | None, price: Decimal | None) -> None:
        ok = (self.status in WORKING or self.status is FILLED) and not self.request
        terms: dict[str, Any] = {
            k: v for k, v in (("qty", qty), ("limit_price", price)) if v is not None
        }

        def call() -> OrderEvent:
            return self.order.request_replace(**terms)

        if self.run("request_replace", self.status if ok else None, call) is not None:
            self.request = True
            assert self.order.pending_request == {"kind": "replace", **terms}

    def pending_cancel(self) -> None:
        st_ = self.status
        expected = PC if st_ in WORKING or st_ is PC else None
        self.run("pending_cancel", expected, self.order.pending_cancel)

    def pending_replace(self) -> None:
        st_ = self.status
        expected = PR if st_ in WORKING or st_ in (FILLED, PR) else None
        self.run("pending_replace", expected, self.order.pending_replace)

    def _reject(self, event: str, call: Callable[[], OrderEvent]) -> None:
        if self.run(event, self.reject_expected(), call) is not None:
            self.request = False

    def cancel_reject(self) -> None:
        self._reject("cancel_reject", lambda: self.order.cancel_reject("too late to cancel"))

    def replace_reject(self) -> None:
        self._reject("replace_reject", lambda: self.order.replace_reject("too late"))

    @rule(qty=st.none() | new_qtys, price=st.none() | prices)
    def replace(self, qty: Decimal | None, price: Decimal | None) -> None:
        old = self.order
        st_ = self.status
        if not (st_ in WORKING or st_ in (FILLED, PR)):

            def refused() -> OrderEvent:
                return old.replace("never", qty=qty, limit_price=price)[0]

            self.run("replace", None, refused)
            return
        asked = dict(old.pending_request or {})
        self.serial += 1
        new_id = f"o{self.serial}"
        old_ev, new, new_ev = old.replace(new_id, qty=qty, limit_price=price)
        # INV-5: the new order has the terms given here, else those of the request; a qty at or
        # below the cum qty becomes the cum qty (filled).
        want_qty = qty if qty is not None else asked.get("qty")
        want_price = price if price is not None else asked.get("limit_price", old.limit_price)
        assert (old_ev.status, old_ev.leaves_qty, old_ev.related_id) == (REPL, D(0), new_id)
        assert (old.replaced_by, new.replaces, new.id) == (new_id, old.id, new_id)
        assert old.pending_request is None
        # (No qty asked: the old qty stays, even below an overfilled cum qty.)
        want = old.order_qty if want_qty is None else max(want_qty, old.cum_qty)
        assert new.order_qty == want
        assert new.limit_price == want_price
        assert (new.cum_qty, new.avg_price, new.fills) == (old.cum_qty, old.avg_price, old.fills)
        assert new.fills is not old.fills
        assert new_ev.kind is EventKind.NEW
        assert new_ev.status is new.status is resolve(new.cum_qty, new.order_qty)
        assert new.pending_request is None
        self.replaced.append(old)
        self.order = new
        self.request = False
        self.before_pending = CREATED

    # ----- grouped rules: hypothesis picks rules uniformly, so the events that end an order
    # share one rule (else most walks end within a few steps; expire has its own, as it is also
    # refused on filled orders that have a replace request out) and fills get two.

    @rule(step=st.sampled_from(["submit", "accept", "ack"]))
    def entry(self, step: str) -> None:
        getattr(self, step)()

    @rule(step=st.sampled_from(["reject", "cancel", "unsolicited"]))
    def end(self, step: str) -> None:
        if step == "unsolicited":
            self.cancel(unsolicited=True)
        else:
            getattr(self, step)()

    @rule(tid=trade_ids, qty=fill_qtys, price=prices)
    def fill_again(self, tid: str, qty: Decimal, price: Decimal) -> None:
        self.fill(tid, qty, price)

    @rule(
        correct=st.booleans(),
        pick=st.integers(0, len(TRADE_IDS)),
        qty=fill_qtys,
        price=prices,
    )
    def bust(self, correct: bool, pick: int, qty: Decimal, price: Decimal) -> None:
        if correct:
            self.trade_correct(pick, qty, price)
        else:
            self.trade_cancel(pick)

    @rule(step=st.sampled_from(["pending_cancel", "pending_replace"]))
    def pending(self, step: str) -> None:
        getattr(self, step)()

    @rule(step=st.sampled_from(["cancel_reject", "replace_reject"]))
    def reject_request(self, step: str) -> None:
        getattr(self, step)()

    # ----- invariants -------------------------------------------------------------------------

    @invariant()
    def quantities(self) -> None:
        for o in [self.order, *self.replaced]:
            status = S(o.state)  # a valid status
            # INV-1
            if status in ZERO_LEAVES or (status is DFD and not o.is_good_till()):
                assert o.leaves_qty == 0
            else:
                assert o.leaves_qty == max(o.order_qty - o.cum_qty, D(0))
            # INV-2: cum qty and avg price come from the live fills.
            assert o.cum_qty == sum((f.qty for f in o.fills.values()), D(0))
            notional = sum((f.qty * f.price for f in o.fills.values()), D(0))
            assert o.notional_filled == notional
            assert o.avg_price == (notional / o.cum_qty if o.cum_qty else None)
            assert o.order_qty > 0

    @invariant()
    def one_request_at_most(self) -> None:
        assert (self.order.pending_request is not None) == self.request
        for old in self.replaced:
            assert old.status is REPL
            assert old.pending_request is None


TestOrderLifecycle = OrderLifecycle.TestCase
TestOrderLifecycle.settings = settings(max_examples=300 * SCALE, stateful_step_count=50)
