"""The order state machine against the FIX order state change matrices (FIX 4.4/5.0 Volume 4,
Appendix D), one test per scenario, named after it (``/work/shared/reference/
fix-order-state-matrices.md`` sections 2.6 and 2.7).

Every test drives one order (or one replace chain) step by step and compares the whole sequence
of ``(status, cum qty, leaves qty)`` after each step, and the order qty where it changes, with the
matrix. After every step :class:`Tape` checks the invariants of section 2.7 (INV-1, INV-2, INV-3,
INV-6, INV-7) on the order the event is about.

Orders are driven the supported way: our requests through the order manager and the venue's
answers as ``VenueReport``s through ``OrderManager.apply`` (``OrderDriver``, whose methods are
named after the table's events; the order itself is a read-only view).

How matrix rows map to the engine:

- Row 1 (``-> NewOrderSingle``) is our ``submit``: ``pending_new``, leaves = order qty.
- A ``-> CancelRequest``/``-> ReplaceRequest`` row is ``request_cancel``/``request_replace``: it
  records the request and keeps the status; ``pending_cancel``/``pending_replace`` move it when
  the venue's Pending report arrives (so a fill crossing the request still shows Partially
  Filled, as in the matrices).
- FIX keeps one OrderID and chains ClOrdIDs X -> Y -> Z; the engine follows Alpaca: a confirmed
  replace ends the old order as ``replaced`` and opens a new order (id Y, ``replaces`` = X) with
  the executions so far. The rows after a replace are those of the live order of the chain.
- An OrderCancelReject is ``cancel_reject``/``replace_reject``; it reports the restored status.
"""

# ruff: noqa: N802  (test names spell the FIX scenario ids: test_A_1_a_..., test_T_X1_...)

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

import pytest
from order_driver import OrderDriver
from order_snapshot import snapshot

from fillforge import (
    DuplicateClientOrderIdError,
    EventKind,
    Fill,
    InvalidTransitionError,
    OrderEvent,
    OrderManager,
    OrderRequest,
    OrderSide,
    OrderStatus,
    OrderTimeInForce,
    OrderType,
    UnknownOrderIdError,
    VenueReport,
)
from fillforge.orders.models import ReplaceTerms

S = OrderStatus
PN = S.PENDING_NEW
NEW = S.NEW
PF = S.PARTIALLY_FILLED
FILLED = S.FILLED
DFD = S.DONE_FOR_DAY
PC = S.PENDING_CANCEL
PR = S.PENDING_REPLACE
CXL = S.CANCELED
REJ = S.REJECTED
EXP = S.EXPIRED
REPL = S.REPLACED

DAY = OrderTimeInForce.DAY
GTC = OrderTimeInForce.GTC
D = Decimal

Qty = Decimal | int  # rows hold Decimals; the expected literals are ints
Row = tuple[OrderStatus, Qty, Qty]

# Leaves are 0 in these (and in a day order's done for day); elsewhere order qty - cum qty.
ZERO_LEAVES = frozenset({FILLED, CXL, REJ, EXP, REPL, S.DENIED})
# INV-7: no cancel or replace request is accepted any more.
NO_REQUESTS = frozenset({CXL, REJ, EXP, REPL, S.DENIED})
BUSTS = frozenset({EventKind.TRADE_CANCEL, EventKind.TRADE_CORRECT})
REQUEST_REJECTS = frozenset({EventKind.CANCEL_REJECTED, EventKind.REPLACE_REJECTED})
PENDING = frozenset({PC, PR})


def request(
    qty: int = 10000,
    *,
    cid: str | None = "X",
    tif: OrderTimeInForce = DAY,
    price: str = "100",
) -> OrderRequest:
    return OrderRequest(
        symbol="ACME",
        side=OrderSide.BUY,
        type=OrderType.LIMIT,
        limit_price=D(price),
        qty=D(qty),
        time_in_force=tif,
        client_order_id=cid,
    )


def restored(before: OrderStatus, cum: Decimal, qty: Decimal) -> OrderStatus:
    """INV-6: the status a cancel/replace reject returns to, from the status before the pending
    report and the fills since (B.1.c: a fill completing the order while pending -> Filled)."""
    if cum >= qty:
        return FILLED
    if before is DFD:
        return DFD
    if cum:
        return PF
    if before in (PN, S.ACCEPTED):
        return before
    return NEW


class Tape:
    """Collects ``(status, cum, leaves)`` (and order qty, avg price) after every step and checks
    the section 2.7 invariants on the order each event is about.

    ``tape(event)`` checks and records; :meth:`check` only checks (the ``replaced`` event of the
    old order of a chain, which is not a row of the live order).
    """

    def __init__(self, manager: OrderManager) -> None:
        self.manager = manager
        self.rows: list[Row] = []
        self.order_qtys: list[Qty] = []
        self.avgs: list[Qty | None] = []
        self._cum: dict[str, Decimal] = {}
        self._before_pending: dict[str, OrderStatus] = {}
        self._trade_ids = itertools.count(1)

    def order(self, order_id: str) -> OrderDriver:
        return OrderDriver(self.manager, order_id)

    def __call__(self, ev: OrderEvent) -> OrderEvent:
        self.check(ev)
        self.rows.append((ev.status, ev.cum_qty, ev.leaves_qty))
        self.order_qtys.append(ev.order_qty)
        self.avgs.append(ev.avg_price)
        return ev

    def many(self, events: Iterable[OrderEvent]) -> OrderEvent:
        """Check every event (a manager answer), record the last one (the live order's)."""
        evs = list(events)
        for ev in evs[:-1]:
            self.check(ev)
        return self(evs[-1])

    def fill(
        self, o: OrderDriver, qty: int, price: str | int = 100, trade_id: str | None = None
    ) -> OrderEvent:
        return self(o.fill(self.trade(o, qty, price, trade_id)))

    def trade(
        self, o: OrderDriver, qty: int, price: str | int = 100, trade_id: str | None = None
    ) -> Fill:
        tid = trade_id or f"T{next(self._trade_ids)}"
        return Fill(trade_id=tid, order_id=o.id, price=D(price), qty=D(qty))

    def replace(self, o: OrderDriver, new_id: str, **terms: Any) -> OrderDriver:
        """The venue confirms the replace: record the new (live) order's row."""
        old_ev, new, new_ev = o.replace(new_id, **terms)
        self.check(old_ev)
        assert (old_ev.status, old_ev.leaves_qty) == (REPL, D(0))
        assert (o.replaced_by, new.replaces) == (new.id, o.id)
        assert (new.cum_qty, new.avg_price, new.fills) == (o.cum_qty, o.avg_price, o.fills)
        self(new_ev)
        return new

    def refused(self, o: OrderDriver, event: str, call: Callable[[], object]) -> None:
        """An event the table does not allow raises InvalidTransitionError naming the order, its
        state and the event, and changes nothing."""
        before = snapshot(o)
        with pytest.raises(InvalidTransitionError) as info:
            call()
        err = info.value
        assert (err.order_id, err.state, err.event) == (o.id, o.state, event)
        assert o.id in str(err)
        assert snapshot(o) == before

    def check(self, ev: OrderEvent) -> None:
        o = self.order(ev.order_id)
        st, qty, cum, leaves = ev.status, ev.order_qty, ev.cum_qty, ev.leaves_qty
        # The event reports the order as it now is.
        assert (st, qty, cum, leaves, ev.avg_price) == (
            o.status,
            o.order_qty,
            o.cum_qty,
            o.leaves_qty,
            o.avg_price,
        )
        # INV-3 (the part a single report can show): a valid OrdStatus.
        assert st in set(OrderStatus)
        # INV-1
        if st in ZERO_LEAVES or (st is DFD and not o.is_good_till()):
            assert leaves == 0, ev
        else:
            assert leaves == qty - cum, ev
        # INV-2: cum qty only grows, except on busts/corrections; avg px over live fills.
        prev = self._cum.get(o.id, self._cum.get(o.replaces or "", D(0)))
        if ev.kind not in BUSTS:
            assert cum >= prev, ev
        self._cum[o.id] = cum
        assert cum == sum((f.qty for f in o.fills.values()), D(0))
        if cum:
            notional = sum((f.qty * f.price for f in o.fills.values()), D(0))
            assert ev.avg_price == notional / cum
        else:
            assert ev.avg_price is None
        # INV-6: a cancel/replace reject restores the status before the pending report, or
        # changes nothing when it crossed before any pending report.
        pending_report = ev.kind in (EventKind.PENDING_CANCEL, EventKind.PENDING_REPLACE)
        if pending_report and ev.prev_status not in PENDING:
            self._before_pending[o.id] = ev.prev_status
        if ev.kind is EventKind.NEW and ev.prev_status in PENDING:
            self._before_pending[o.id] = NEW  # the venue's New crossed the pending report
        if ev.kind in REQUEST_REJECTS:
            if ev.prev_status in PENDING:
                assert st == restored(self._before_pending[o.id], cum, qty), ev
            else:
                assert st == ev.prev_status, ev
            assert o.pending_request is None
        # INV-7: canceled/rejected (and every other ended order) take no more requests; a
        # filled order takes no cancel (too late to cancel).
        if st in NO_REQUESTS:
            self.refused(o, "request_cancel", o.request_cancel)
            self.refused(o, "request_replace", lambda: o.request_replace(qty=D(20000)))
        elif st is FILLED:
            self.refused(o, "request_cancel", o.request_cancel)


def start(tif: OrderTimeInForce = DAY, qty: int = 10000) -> tuple[OrderDriver, Tape]:
    o = OrderDriver.new(request(qty, tif=tif))
    return o, Tape(o.manager)


def new_part_filled(fill: int = 1000) -> tuple[OrderDriver, Tape]:
    """Rows 1-3 of most matrices: sent, New, a first partial fill."""
    o, t = start()
    t(o.submit())
    t(o.ack())
    t.fill(o, fill)
    return o, t


# ----- A: vanilla ------------------------------------------------------------------------------


def test_A_1_a_filled_order() -> None:
    o, t = start()
    t(o.submit())
    t(o.ack())
    t.fill(o, 2000)
    t.fill(o, 1000)
    t.fill(o, 7000)
    assert t.rows == [
        (PN, 0, 10000),
        (NEW, 0, 10000),
        (PF, 2000, 8000),
        (PF, 3000, 7000),
        (FILLED, 10000, 0),
    ]
    # T-A1: no further cancel possible (too late to cancel).
    t.refused(o, "request_cancel", o.request_cancel)


def test_A_1_a_alt_resent_execution_is_a_duplicate() -> None:
    o, t = start()
    t(o.submit())
    t(o.ack())
    t.fill(o, 2000, trade_id="C")
    before = snapshot(o)
    ev = o.fill(t.trade(o, 2000, trade_id="C"))  # the same ExecID again
    assert ev.kind is EventKind.DUPLICATE_FILL
    assert snapshot(o) == before
    t.fill(o, 8000, trade_id="D")
    assert t.rows == [(PN, 0, 10000), (NEW, 0, 10000), (PF, 2000, 8000), (FILLED, 10000, 0)]


def test_A_1_a_alt_fill_beyond_order_qty_is_flagged_overfill() -> None:
    o, t = start()
    t(o.submit())
    t(o.ack())
    assert not t.fill(o, 10000).overfill
    ev = t.fill(o, 500)
    assert (ev.overfill, ev.late) == (True, False)
    assert t.rows == [(PN, 0, 10000), (NEW, 0, 10000), (FILLED, 10000, 0), (FILLED, 10500, 0)]


def test_A_1_b_part_filled_day_order_done_for_day() -> None:
    o, t = start()
    t(o.submit())
    t(o.ack())
    t.fill(o, 2000)
    t.fill(o, 1000)
    t(o.done_for_day())
    assert t.rows == [
        (PN, 0, 10000),
        (NEW, 0, 10000),
        (PF, 2000, 8000),
        (PF, 3000, 7000),
        (DFD, 3000, 0),  # day order: LeavesQty goes to 0
    ]


def test_A_1_b_alt_rejected() -> None:
    o, t = start()
    t(o.submit())
    t(o.reject("unknown symbol"))
    assert t.rows == [(PN, 0, 10000), (REJ, 0, 0)]


def test_T_A3_reject_on_entry() -> None:
    m = OrderManager()
    o = m.create(request())
    t = Tape(manager=m)
    t(m.submit(o.id))
    t.many(m.apply(VenueReport(kind=EventKind.REJECTED, order_id=o.id, reason="bad")))
    assert t.rows == [(PN, 0, 10000), (REJ, 0, 0)]
    d = OrderDriver(m, o.id)
    t.refused(d, "ack", d.ack)
    t.refused(d, "expire", d.expire)


# ----- B: cancel -------------------------------------------------------------------------------


def test_B_1_a_cancel_zero_filled() -> None:
    o, t = start()
    t(o.submit())
    t(o.ack())
    t(o.request_cancel())
    t(o.pending_cancel())
    t(o.cancel())
    assert t.rows == [
        (PN, 0, 10000),
        (NEW, 0, 10000),
        (NEW, 0, 10000),  # CancelRequest sent: status unchanged
        (PC, 0, 10000),
        (CXL, 0, 0),
    ]


@pytest.mark.parametrize(
    ("pending", "expected"),
    [
        pytest.param(False, [(NEW, 0, 10000)], id="4alt-rejected-at-first-hop"),
        pytest.param(True, [(PC, 0, 10000), (NEW, 0, 10000)], id="5alt-rejected-status-reverts"),
    ],
)
def test_B_1_a_alt_cancel_rejected(pending: bool, expected: list[Row]) -> None:
    o, t = start()
    t(o.submit())
    t(o.ack())
    t(o.request_cancel())
    del t.rows[:]
    if pending:
        t(o.pending_cancel())
    t(o.cancel_reject("too late to cancel"))
    assert t.rows == expected
    # The rejected request is no longer outstanding: a new one is accepted.
    assert o.request_cancel().kind is EventKind.CANCEL_REQUESTED


def test_B_1_b_cancel_part_filled_with_fills_while_cancel_active() -> None:
    o, t = start()
    t(o.submit())
    t(o.ack())
    t.fill(o, 2000)
    t(o.request_cancel())
    t.fill(o, 3000)  # crosses the cancel request
    t(o.pending_cancel())
    t.fill(o, 1000)  # while pending: reported on X, PendCxl > PartFill
    t(o.cancel())
    assert t.rows == [
        (PN, 0, 10000),
        (NEW, 0, 10000),
        (PF, 2000, 8000),
        (PF, 2000, 8000),
        (PF, 5000, 5000),
        (PC, 5000, 5000),
        (PC, 6000, 4000),
        (CXL, 6000, 0),
    ]


@pytest.mark.parametrize(
    ("pending", "expected"),
    [
        pytest.param(False, [(PF, 5000, 5000)], id="5alt"),
        pytest.param(True, [(PC, 5000, 5000), (PC, 6000, 4000), (PF, 6000, 4000)], id="7alt"),
    ],
)
def test_B_1_b_alt_cancel_rejected(pending: bool, expected: list[Row]) -> None:
    o, t = start()
    t(o.submit())
    t(o.ack())
    t.fill(o, 2000)
    t(o.request_cancel())
    t.fill(o, 3000)
    del t.rows[:]
    if pending:
        t(o.pending_cancel())
        t.fill(o, 1000)
    t(o.cancel_reject())
    assert t.rows == expected


def test_B_1_c_order_fills_before_cancel_accepted() -> None:
    o, t = start()
    t(o.submit())
    t(o.ack())
    t.fill(o, 2000)
    t(o.request_cancel())
    t.fill(o, 3000)
    t(o.pending_cancel())
    t.fill(o, 5000)  # PendCxl > Filled while the request is open
    t(o.cancel_reject("too late to cancel"))
    assert t.rows == [
        (PN, 0, 10000),
        (NEW, 0, 10000),
        (PF, 2000, 8000),
        (PF, 2000, 8000),
        (PF, 5000, 5000),
        (PC, 5000, 5000),
        (PC, 10000, 0),
        (FILLED, 10000, 0),
    ]


def test_B_1_d_cancel_order_not_yet_acknowledged() -> None:
    o, t = start()
    t(o.submit())
    t(o.request_cancel())
    t(o.pending_cancel())
    t(o.cancel())
    assert t.rows == [(PN, 0, 10000), (PN, 0, 10000), (PC, 0, 10000), (CXL, 0, 0)]
    # T-B4: no stray New after Canceled.
    t.refused(o, "ack", o.ack)


def test_B_1_d_alt_cancel_rejected_returns_pending_new() -> None:
    o, t = start()
    t(o.submit())
    t(o.request_cancel())
    t(o.pending_cancel())
    t(o.cancel_reject())
    t(o.ack())
    assert t.rows == [
        (PN, 0, 10000),
        (PN, 0, 10000),
        (PC, 0, 10000),
        (PN, 0, 10000),
        (NEW, 0, 10000),
    ]


@pytest.mark.parametrize("kind", ["cancel", "replace"])
def test_B_1_d_alt_new_while_pending_then_rejected_restores_new(kind: str) -> None:
    # B.1.d with the venue's Pending Cancel ahead of its New, then the cancel rejected; by
    # precedence the New shows as Pending Cancel meanwhile, and the reject must leave New.
    o, t = start()
    t(o.submit())
    if kind == "cancel":
        t(o.request_cancel())
        t(o.pending_cancel())
    else:
        t(o.request_replace(qty=D(12000)))
        t(o.pending_replace())
    pending = t.rows[-1][0]
    t(o.ack())
    t(o.cancel_reject() if kind == "cancel" else o.replace_reject())
    assert t.rows == [
        (PN, 0, 10000),
        (PN, 0, 10000),
        (pending, 0, 10000),
        (pending, 0, 10000),
        (NEW, 0, 10000),
    ]


def test_B_1_e_cancel_crosses_acknowledgment() -> None:
    o, t = start()
    t(o.submit())
    t(o.request_cancel())
    t(o.ack())  # crosses the cancel request
    t(o.pending_cancel())
    t(o.cancel())
    assert t.rows == [
        (PN, 0, 10000),
        (PN, 0, 10000),
        (NEW, 0, 10000),
        (PC, 0, 10000),
        (CXL, 0, 0),
    ]
    t.refused(o, "ack", o.ack)


def test_B_1_f_cancel_unknown_order() -> None:
    m = OrderManager()
    known = m.create(request(cid="A"))
    m.submit(known.id)
    before = snapshot(known)
    with pytest.raises(UnknownOrderIdError, match="X"):
        m.request_cancel("X")
    # Nothing consumed: the known order is untouched and X is still free.
    assert snapshot(known) == before
    assert list(m.orders) == [known.id]
    with pytest.raises(UnknownOrderIdError):
        m.by_client_order_id("X")
    t = Tape(manager=m)
    o = m.create(request(cid="X"), order_id="X")
    t(m.submit(o.id))
    t.many(m.apply(VenueReport(kind=EventKind.NEW, order_id="X")))
    t.many(m.request_cancel("X"))
    t.many(m.apply(VenueReport(kind=EventKind.CANCELED, order_id="X")))
    assert t.rows == [(PN, 0, 10000), (NEW, 0, 10000), (NEW, 0, 10000), (CXL, 0, 0)]


# ----- C: cancel/replace quantity changes ------------------------------------------------------


def test_C_1_a_zero_filled_replace_increase_qty() -> None:
    # The reference notes give C.1.a's shape only (PendRepl on the old qty, then Replace/New
    # with leaves = new qty); the increase here is to 11000.
    o, t = start()
    t(o.submit())
    t(o.ack())
    t(o.request_replace(qty=D(11000)))
    t(o.pending_replace())
    y = t.replace(o, "Y")
    t.fill(y, 1000)
    t.fill(y, 10000)
    assert t.rows == [
        (PN, 0, 10000),
        (NEW, 0, 10000),
        (NEW, 0, 10000),
        (PR, 0, 10000),
        (NEW, 0, 11000),  # Replace / New, leaves = new qty
        (PF, 1000, 10000),
        (FILLED, 11000, 0),
    ]
    assert t.order_qtys == [10000] * 4 + [11000] * 3
    assert (o.status, o.leaves_qty) == (REPL, D(0))  # FIX 4.4 has no Replaced status (see module)


@pytest.mark.parametrize("pending", [False, True], ids=["4alt", "5alt"])
def test_C_1_a_alt_replace_rejected(pending: bool) -> None:
    o, t = start()
    t(o.submit())
    t(o.ack())
    t(o.request_replace(qty=D(11000)))
    if pending:
        t(o.pending_replace())
    t(o.replace_reject())
    assert t.rows[-1] == (NEW, 0, 10000)
    assert (o.order_qty, o.replaced_by) == (D(10000), None)


def test_C_1_b_part_filled_replace_increase_fill_while_pending() -> None:
    o, t = new_part_filled(1000)
    t(o.request_replace(qty=D(12000)))
    t(o.pending_replace())
    t.fill(o, 100)  # on the old terms (INV-4)
    y = t.replace(o, "Y")
    t.fill(y, 10900)
    assert t.rows == [
        (PN, 0, 10000),
        (NEW, 0, 10000),
        (PF, 1000, 9000),
        (PF, 1000, 9000),
        (PR, 1000, 9000),  # PendRepl > PartFill
        (PR, 1100, 8900),
        (PF, 1100, 10900),  # Leaves = 12000 - 1100
        (FILLED, 12000, 0),
    ]
    assert t.order_qtys == [10000] * 6 + [12000] * 2


@pytest.mark.parametrize(
    ("pending", "expected"),
    [
        pytest.param(False, [(PF, 1000, 9000)], id="5alt"),
        pytest.param(True, [(PR, 1000, 9000), (PR, 1100, 8900), (PF, 1100, 8900)], id="7alt"),
    ],
)
def test_C_1_b_alt_replace_rejected(pending: bool, expected: list[Row]) -> None:
    o, t = new_part_filled(1000)
    t(o.request_replace(qty=D(12000)))
    del t.rows[:]
    if pending:
        t(o.pending_replace())
        t.fill(o, 100)
    t(o.replace_reject())
    assert t.rows == expected
    assert o.order_qty == 10000


def test_C_1_c_filled_order_replace_increase_qty() -> None:
    o, t = start()
    t(o.submit())
    t(o.ack())
    t.fill(o, 10000)
    t(o.request_replace(qty=D(12000)))
    t(o.pending_replace())
    y = t.replace(o, "Y")
    assert t.rows == [
        (PN, 0, 10000),
        (NEW, 0, 10000),
        (FILLED, 10000, 0),
        (FILLED, 10000, 0),
        (PR, 10000, 0),
        (PF, 10000, 2000),  # a filled order re-opened by a qty increase
    ]
    assert t.order_qtys[-1] == y.order_qty == 12000


def test_C_2_a_price_replace_rejected_because_of_fill() -> None:
    o, t = new_part_filled(1000)
    t(o.request_replace(limit_price=D(101)))
    t.fill(o, 9000)  # crosses the request
    t(o.replace_reject("too late"))
    assert t.rows == [
        (PN, 0, 10000),
        (NEW, 0, 10000),
        (PF, 1000, 9000),
        (PF, 1000, 9000),
        (FILLED, 10000, 0),
        (FILLED, 10000, 0),  # CR reports Filled
    ]
    assert (o.limit_price, o.replaced_by) == (D(100), None)


def test_C_3_a_decrease_qty_above_cum_while_fill_reported() -> None:
    o, t = new_part_filled(1000)
    t(o.request_replace(qty=D(8000)))
    t.fill(o, 500)  # crosses
    t(o.pending_replace())
    t.fill(o, 100)
    y = t.replace(o, "Y")
    t.fill(y, 6400)
    assert t.rows == [
        (PN, 0, 10000),
        (NEW, 0, 10000),
        (PF, 1000, 9000),
        (PF, 1000, 9000),
        (PF, 1500, 8500),
        (PR, 1500, 8500),
        (PR, 1600, 8400),
        (PF, 1600, 6400),  # PartFill > Replaced
        (FILLED, 8000, 0),
    ]
    assert t.order_qtys == [10000] * 7 + [8000] * 2


def test_C_3_b_decrease_qty_to_cum() -> None:
    o, t = start()
    t(o.submit())
    t(o.ack())
    t(o.request_replace(qty=D(7000)))
    t.fill(o, 7000)  # crosses the request
    y = t.replace(o, "Y")  # the venue answers with Replace, no Pending Replace first
    assert t.rows == [
        (PN, 0, 10000),
        (NEW, 0, 10000),
        (NEW, 0, 10000),
        (PF, 7000, 3000),
        (FILLED, 7000, 0),  # balance canceled; Filled > Canceled/Replaced
    ]
    assert t.order_qtys == [10000] * 4 + [7000]
    assert y.order_qty == 7000


def test_C_3_c_decrease_qty_below_cum() -> None:
    o, t = start()
    t(o.submit())
    t(o.ack())
    t(o.request_replace(qty=D(6000)))
    t.fill(o, 7000)  # crosses the request
    y = t.replace(o, "Y")
    assert t.rows == [
        (PN, 0, 10000),
        (NEW, 0, 10000),
        (NEW, 0, 10000),
        (PF, 7000, 3000),
        (FILLED, 7000, 0),
    ]
    assert t.order_qtys == [10000] * 4 + [7000]  # amended to CumQty, not the requested 6000
    assert y.order_qty == 7000


# ----- D: cancel/replace sequencing and chaining -----------------------------------------------


def test_D_1_a_two_sequential_replaces_accepted() -> None:
    m = OrderManager()
    t = Tape(manager=m)
    x = m.create(request(cid="X"), order_id="X")
    t(m.submit("X"))
    t.many(m.apply(VenueReport(kind=EventKind.NEW, order_id="X")))

    def trade(order_id: str, qty: int, tid: str) -> None:
        f = Fill(trade_id=tid, order_id=order_id, price=D(100), qty=D(qty))
        t.many(m.apply(VenueReport(kind=EventKind.PARTIAL_FILL, order_id=order_id, fill=f)))

    trade("X", 1000, "C")
    t(m.request_replace("X", ReplaceTerms(qty=D(8000))))
    t.many(m.apply(VenueReport(kind=EventKind.PENDING_REPLACE, order_id="X")))
    trade("X", 500, "D")
    t.many(m.apply(VenueReport(kind=EventKind.REPLACED, order_id="X", new_order_id="Y")))
    trade("Y", 2000, "E")
    t(m.request_replace("Y", ReplaceTerms(qty=D(6000))))
    t.many(m.apply(VenueReport(kind=EventKind.PENDING_REPLACE, order_id="Y")))
    trade("Y", 500, "F")  # fill on Y during the second pending replace
    t.many(m.apply(VenueReport(kind=EventKind.REPLACED, order_id="Y", new_order_id="Z")))
    trade("Z", 2000, "G")
    assert t.rows == [
        (PN, 0, 10000),
        (NEW, 0, 10000),
        (PF, 1000, 9000),
        (PF, 1000, 9000),
        (PR, 1000, 9000),
        (PR, 1500, 8500),
        (PF, 1500, 6500),
        (PF, 3500, 4500),
        (PF, 3500, 4500),
        (PR, 3500, 4500),
        (PR, 4000, 4000),
        (PF, 4000, 2000),
        (FILLED, 6000, 0),
    ]
    assert t.order_qtys == [10000] * 6 + [8000] * 5 + [6000] * 2
    assert [o.id for o in m.chain("Y")] == ["X", "Y", "Z"]
    assert [o.status for o in m.chain("X")] == [REPL, REPL, FILLED]
    assert m.by_client_order_id("X") is m.get("Z")  # the client order id follows the chain
    assert x.leaves_qty == 0


def test_D_1_b_replace_rejected_before_pending_then_another_accepted() -> None:
    # The reference notes give D.1.b's shape only; the numbers follow D.1.c.
    o, t = new_part_filled(1000)
    t(o.request_replace(qty=D(8000)))  # Y
    t(o.replace_reject())  # Y rejected before any Pending Replace
    t.fill(o, 500)
    t(o.request_replace(qty=D(8000)))  # Z, OrigClOrdID X (the last accepted)
    t(o.pending_replace())
    z = t.replace(o, "Z")
    t.fill(z, 6500)
    assert t.rows == [
        (PN, 0, 10000),
        (NEW, 0, 10000),
        (PF, 1000, 9000),
        (PF, 1000, 9000),
        (PF, 1000, 9000),
        (PF, 1500, 8500),
        (PF, 1500, 8500),
        (PR, 1500, 8500),
        (PF, 1500, 6500),
        (FILLED, 8000, 0),
    ]
    assert z.replaces == "X"


def test_D_1_c_replace_rejected_after_pending_then_another_accepted() -> None:
    o, t = new_part_filled(1000)
    t(o.request_replace(qty=D(8000)))  # Y
    t(o.pending_replace())
    t.fill(o, 500)
    t(o.replace_reject())
    t.fill(o, 2000)
    t(o.request_replace(qty=D(6000)))  # Z, OrigClOrdID = X (Y was rejected)
    t(o.pending_replace())
    z = t.replace(o, "Z")
    t.fill(z, 1500)
    assert t.rows == [
        (PN, 0, 10000),
        (NEW, 0, 10000),
        (PF, 1000, 9000),
        (PF, 1000, 9000),
        (PR, 1000, 9000),
        (PR, 1500, 8500),
        (PF, 1500, 8500),
        (PF, 3500, 6500),
        (PF, 3500, 6500),
        (PR, 3500, 6500),
        (PF, 3500, 2500),
        (PF, 5000, 1000),
    ]
    assert t.order_qtys == [10000] * 10 + [6000] * 2
    assert z.replaces == "X"


def test_D_2_c_second_replace_rejected_while_pending() -> None:
    o, t = new_part_filled(1000)
    t(o.request_replace(qty=D(8000)))  # Y
    t(o.pending_replace())
    # Z while pending: refused, nothing changes (FIX: CR with OrdStatus Pending Replace, reason 3).
    t.refused(o, "request_replace", lambda: o.request_replace(qty=D(7000)))
    t.refused(o, "request_cancel", o.request_cancel)
    y = t.replace(o, "Y")  # the first completes
    t.fill(y, 2000)
    assert t.rows == [
        (PN, 0, 10000),
        (NEW, 0, 10000),
        (PF, 1000, 9000),
        (PF, 1000, 9000),
        (PR, 1000, 9000),
        (PF, 1000, 7000),
        (PF, 3000, 5000),
    ]
    assert t.order_qtys[-2:] == [8000, 8000]


def test_D_2_a_and_D_2_b_chained_replaces_not_applicable() -> None:
    # D.2.a/D.2.b need several outstanding requests; the engine allows one per order (D.2.c's
    # broker), so the chained request is refused at once and the first completes alone.
    o, t = new_part_filled(1000)
    t(o.request_replace(qty=D(8000)))  # Y
    t.refused(o, "request_replace", lambda: o.request_replace(qty=D(7000)))  # Z
    assert o.pending_request == {"kind": "replace", "qty": D(8000)}
    t(o.pending_replace())
    y = t.replace(o, "Y")
    assert t.rows == [
        (PN, 0, 10000),
        (NEW, 0, 10000),
        (PF, 1000, 9000),
        (PF, 1000, 9000),
        (PR, 1000, 9000),
        (PF, 1000, 7000),
    ]
    assert y.order_qty == 8000


# ----- E: unsolicited changes ------------------------------------------------------------------


def test_E_1_b_unsolicited_cancel_part_filled() -> None:
    o, t = new_part_filled(1000)
    t(o.cancel("verbal change"))
    assert t.rows == [(PN, 0, 10000), (NEW, 0, 10000), (PF, 1000, 9000), (CXL, 1000, 0)]


def test_E_1_c_unsolicited_replacement_restated() -> None:
    m = OrderManager()
    t = Tape(manager=m)
    o = m.create(request(cid="X"), order_id="X")
    t(m.submit("X"))
    t.many(m.apply(VenueReport(kind=EventKind.NEW, order_id="X")))
    t.many(m.apply(VenueReport(kind=EventKind.RESTATED, order_id="X", qty=D(11000))))
    f = Fill(trade_id="C", order_id="X", price=D(100), qty=D(1000))
    t.many(m.apply(VenueReport(kind=EventKind.PARTIAL_FILL, order_id="X", fill=f)))
    t.many(m.apply(VenueReport(kind=EventKind.RESTATED, order_id="X", qty=D(12000))))
    assert t.rows == [
        (PN, 0, 10000),
        (NEW, 0, 10000),
        (NEW, 0, 11000),
        (PF, 1000, 10000),
        (PF, 1000, 11000),
    ]
    assert t.order_qtys == [10000, 10000, 11000, 11000, 12000]
    assert o.replaced_by is None  # same order, same id
    assert m.chain("X") == [o]


def test_E_1_d_unsolicited_qty_reduction() -> None:
    o, t = start()
    t(o.submit())
    t(o.ack())
    t(o.restate(D(9000), reason="partial decline of OrderQty"))
    t.fill(o, 9000)
    assert t.rows == [(PN, 0, 10000), (NEW, 0, 10000), (NEW, 0, 9000), (FILLED, 9000, 0)]
    assert t.order_qtys == [10000, 10000, 9000, 9000]


def test_E_1_e_unsolicited_cancel_if_not_best() -> None:
    o, t = start()
    t(o.submit())
    t(o.ack())
    ev = t(o.cancel("canceled, not best"))
    assert t.rows == [(PN, 0, 10000), (NEW, 0, 10000), (CXL, 0, 0)]
    assert (ev.prev_status, ev.reason) == (NEW, "canceled, not best")  # New -> Canceled directly


# ----- F: order reject -------------------------------------------------------------------------


def test_F_1_a_duplicate_client_order_id_rejected() -> None:
    # The engine refuses the duplicate with an exception instead of an ER Rejected (OrdRejReason
    # 6); as in FIX, the first order is untouched.
    m = OrderManager()
    t = Tape(manager=m)
    o = m.create(request(cid="X"))
    t(m.submit(o.id))
    t.many(m.apply(VenueReport(kind=EventKind.NEW, order_id=o.id)))
    before = snapshot(o)
    with pytest.raises(DuplicateClientOrderIdError, match="X"):
        m.create(request(20000, cid="X"))
    assert snapshot(o) == before
    assert list(m.orders) == [o.id]
    assert m.by_client_order_id("X") is o
    assert t.rows == [(PN, 0, 10000), (NEW, 0, 10000)]


def test_F_1_b_poss_resend_and_duplicate_client_order_id() -> None:
    m = OrderManager()
    t = Tape(manager=m)
    x = m.create(request(cid="X"))
    t(m.submit(x.id))
    t.many(m.apply(VenueReport(kind=EventKind.NEW, order_id=x.id)))
    before = snapshot(x)
    # PossResend=Y of a known order: the "Order Status" answer, the order as it is.
    assert m.create(request(cid="X"), possible_resend=True) is x
    assert snapshot(x) == before
    # PossResend=N with the same ClOrdID: a true duplicate, refused; X untouched.
    with pytest.raises(DuplicateClientOrderIdError):
        m.create(request(20000, cid="X"))
    assert snapshot(x) == before
    # PossResend=Y of a ClOrdID never seen: a new order.
    y = m.create(request(15000, cid="Y"), possible_resend=True)
    assert y is not x
    t(m.submit(y.id))
    t.many(m.apply(VenueReport(kind=EventKind.NEW, order_id=y.id)))
    assert t.rows == [(PN, 0, 10000), (NEW, 0, 10000), (PN, 0, 15000), (NEW, 0, 15000)]
    assert (x.status, x.cum_qty, x.leaves_qty) == (NEW, D(0), D(10000))
    assert len(m) == 2


# ----- H: good-till orders ---------------------------------------------------------------------


def gt_day_one() -> tuple[OrderDriver, Tape]:
    o, t = start(GTC)
    t(o.submit())
    t(o.ack())
    t.fill(o, 2000)
    t(o.done_for_day())  # GT order: the order survives, LeavesQty kept
    t(o.restate(D(10000), reason="GT renewal"))  # day 2
    return o, t


def test_H_1_a_gtc_part_filled_restated_filled_next_day() -> None:
    o, t = gt_day_one()
    t.fill(o, 1000)
    assert t.rows == [
        (PN, 0, 10000),
        (NEW, 0, 10000),
        (PF, 2000, 8000),
        (DFD, 2000, 8000),
        (PF, 2000, 8000),
        (PF, 3000, 7000),
    ]


def test_H_1_c_gtc_part_filled_restated_canceled_next_day() -> None:
    o, t = gt_day_one()
    t(o.request_cancel())
    t(o.pending_cancel())
    t(o.cancel())
    assert t.rows == [
        (PN, 0, 10000),
        (NEW, 0, 10000),
        (PF, 2000, 8000),
        (DFD, 2000, 8000),
        (PF, 2000, 8000),
        (PF, 2000, 8000),
        (PC, 2000, 8000),
        (CXL, 2000, 0),
    ]


@pytest.mark.parametrize("pending", [False, True], ids=["before-pending", "after-pending"])
def test_H_1_c_alt_cancel_rejected(pending: bool) -> None:
    o, t = gt_day_one()
    t(o.request_cancel())
    if pending:
        t(o.pending_cancel())
    t(o.cancel_reject())
    assert t.rows[-1] == (PF, 2000, 8000)


@pytest.mark.parametrize("tif", [DAY, GTC])
@pytest.mark.parametrize("kind", ["cancel", "replace"])
def test_INV_6_reject_after_pending_restores_done_for_day(tif: OrderTimeInForce, kind: str) -> None:
    # Regression: the restore used to resolve by quantity (partially filled, and leaves back to
    # 8000 on a day order that was done for the day).
    o, t = start(tif)
    t(o.submit())
    t(o.ack())
    t.fill(o, 2000)
    t(o.done_for_day())
    if kind == "cancel":
        t(o.request_cancel())
        t(o.pending_cancel())
        t(o.cancel_reject())
    else:
        t(o.request_replace(qty=D(12000)))
        t(o.pending_replace())
        t(o.replace_reject())
    leaves = 0 if tif is DAY else 8000
    assert t.rows[-1] == (DFD, 2000, leaves)


# ----- I: time in force ------------------------------------------------------------------------


def test_I_1_a_fill_or_kill_cannot_be_filled() -> None:
    o = OrderDriver.new(request(tif=OrderTimeInForce.FOK))
    t = Tape(o.manager)
    t(o.submit())
    t(o.ack())
    t(o.cancel("fok: cannot be filled"))  # killed: ExecType Canceled
    assert t.rows == [(PN, 0, 10000), (NEW, 0, 10000), (CXL, 0, 0)]


def test_I_1_b_immediate_or_cancel_remainder() -> None:
    o = OrderDriver.new(request(tif=OrderTimeInForce.IOC))
    t = Tape(o.manager)
    t(o.submit())
    t(o.ack())
    t.fill(o, 1000)
    t(o.cancel("ioc: remainder"))
    assert t.rows == [(PN, 0, 10000), (NEW, 0, 10000), (PF, 1000, 9000), (CXL, 1000, 0)]


# ----- J: execution cancels and corrects -------------------------------------------------------


def test_J_1_a_filled_order_then_corrections_and_cancels() -> None:
    # FIX gives each correction a new ExecID with ExecRefID to the one corrected; the engine
    # corrects by the trade id of the execution (D here for D, F and H).
    o, t = start()
    t(o.submit())
    t(o.ack())
    t.fill(o, 1000, 100, "C")
    t.fill(o, 9000, 110, "D")
    t(o.trade_cancel("C"))
    t(o.trade_correct(t.trade(o, 9000, 100, "D")))
    t.fill(o, 1000, 120, "G")
    t(o.trade_correct(t.trade(o, 9000, 120, "D")))
    t(o.request_replace(qty=D(12000)))
    t(o.pending_replace())
    y = t.replace(o, "Y")
    t(y.trade_correct(t.trade(y, 9500, 120, "D")))  # reported on Y
    assert t.rows == [
        (PN, 0, 10000),
        (NEW, 0, 10000),
        (PF, 1000, 9000),
        (FILLED, 10000, 0),
        (PF, 9000, 1000),  # Filled -> Partially Filled by the bust
        (PF, 9000, 1000),
        (FILLED, 10000, 0),
        (FILLED, 10000, 0),
        (FILLED, 10000, 0),
        (PR, 10000, 0),
        (PF, 10000, 2000),
        (PF, 10500, 1500),
    ]
    assert t.avgs == [None, None, 100, 109, 110, 100, 102, 120, 120, 120, 120, 120]
    assert t.order_qtys == [10000] * 10 + [12000] * 2


def test_J_1_b_canceled_order_busted_execution_then_new_execution() -> None:
    m = OrderManager()
    t = Tape(manager=m)
    o = m.create(request(cid="X"), order_id="X")
    t(m.submit("X"))
    t.many(m.apply(VenueReport(kind=EventKind.NEW, order_id="X")))
    f1 = Fill(trade_id="C", order_id="X", price=D(50), qty=D(5000))
    t.many(m.apply(VenueReport(kind=EventKind.PARTIAL_FILL, order_id="X", fill=f1)))
    t.many(m.request_cancel("X"))
    t.many(m.apply(VenueReport(kind=EventKind.PENDING_CANCEL, order_id="X")))
    t.many(m.apply(VenueReport(kind=EventKind.CANCELED, order_id="X")))
    t.many(m.apply(VenueReport(kind=EventKind.TRADE_CANCEL, order_id="X", trade_id="C")))
    f2 = Fill(trade_id="E", order_id="X", price=D(51), qty=D(4000))
    late = t.many(m.apply(VenueReport(kind=EventKind.PARTIAL_FILL, order_id="X", fill=f2)))
    assert t.rows == [
        (PN, 0, 10000),
        (NEW, 0, 10000),
        (PF, 5000, 5000),
        (PF, 5000, 5000),
        (PC, 5000, 5000),
        (CXL, 5000, 0),
        (CXL, 0, 0),  # bust: Canceled > New
        (CXL, 4000, 0),  # late fill on a canceled order
    ]
    assert (late.late, late.overfill, o.avg_price) == (True, False, D(51))


# ----- T-X1: expiry ----------------------------------------------------------------------------


def test_T_X1_expiry() -> None:
    o, t = new_part_filled(1000)
    t(o.expire())
    ev = t.fill(o, 500)
    assert t.rows == [
        (PN, 0, 10000),
        (NEW, 0, 10000),
        (PF, 1000, 9000),
        (EXP, 1000, 0),
        (EXP, 1500, 0),
    ]
    assert ev.late


def test_T_X1_expiry_while_pending_cancel() -> None:
    o, t = new_part_filled(1000)
    t(o.request_cancel())
    t(o.pending_cancel())
    t(o.expire())
    assert t.rows[-2:] == [(PC, 1000, 9000), (EXP, 1000, 0)]
    assert o.pending_request is None


def test_T_X1_refused_expire_changes_nothing() -> None:
    # Regression: expire used to drop the outstanding request before the table refused it.
    o, t = start()
    t(o.submit())
    t(o.ack())
    t.fill(o, 10000)
    t(o.request_replace(qty=D(12000)))
    t.refused(o, "expire", o.expire)


# ----- disallowed events -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("setup", "event"),
    [
        pytest.param([], "ack", id="created-ack"),
        pytest.param(["submit"], "done_for_day", id="pending_new-done_for_day"),
        pytest.param(["submit", "ack"], "submit", id="new-submit"),
        pytest.param(["submit", "ack", "fill"], "reject", id="partially_filled-reject"),
        pytest.param(["submit", "ack", "pending_cancel"], "pending_replace", id="pc-pr"),
        pytest.param(["submit", "ack", "cancel"], "restate", id="canceled-restate"),
    ],
)
def test_disallowed_event_changes_nothing(setup: list[str], event: str) -> None:
    o, t = start()
    calls: dict[str, Callable[[], OrderEvent]] = {
        "submit": o.submit,
        "ack": o.ack,
        "fill": lambda: o.fill(t.trade(o, 1000)),
        "pending_cancel": o.pending_cancel,
        "pending_replace": o.pending_replace,
        "cancel": o.cancel,
        "done_for_day": o.done_for_day,
        "reject": lambda: o.reject("no"),
        "restate": lambda: o.restate(D(5000)),
    }
    for name in setup:
        t(calls[name]())
    t.refused(o, event, calls[event])
