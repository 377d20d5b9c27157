"""Children are tracked by the order manager with their parent's id: ``Order.parent_id`` and
``OrderManager.children(parent_id)``, read from the client order id (``parent_of``), on the
simulated broker and on the served Alpaca paper account, including orders read back from the
venue after a restart."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from polling import wait_for
from served_helpers import alpaca_broker

from fillforge.alpaca.server import AlpacaServer
from fillforge.execution import parent as parent_module
from fillforge.execution.engine import ExecutionEngine
from fillforge.execution.parent import ParentOrder, WorkRules
from fillforge.execution.worker import ParentWorker
from fillforge.orders.enums import OrderSide, OrderType
from fillforge.orders.manager import OrderManager
from fillforge.orders.models import (
    MAX_PARENT_ID,
    Instrument,
    OrderRequest,
    ReplaceTerms,
    child_client_order_id,
    parent_of,
)
from fillforge.sim.broker import SimulatedBroker
from fillforge.sim.feeds import empty_feed
from fillforge.sim.venue import Venue
from fillforge.time import NS_PER_SECOND

D = Decimal
S = NS_PER_SECOND
AAA = Instrument(symbol="AAA")
AAPL = Instrument(symbol="AAPL")


def sim() -> SimulatedBroker:
    venue = Venue(calendar=None)
    venue.add(AAA, empty_feed())
    b = SimulatedBroker(venue, cash=D(10_000_000), start_ns=0)
    b.quote("AAA", D("100.00"), D("100.02"), bid_size=D(20), ts=0)
    return b


def parent(pid: str, qty: int, start_ns: int, end_ns: int, symbol: str = "AAA") -> ParentOrder:
    return ParentOrder(
        parent_id=pid,
        symbol=symbol,
        side=OrderSide.BUY,
        qty=D(qty),
        start_ns=start_ns,
        end_ns=end_ns,
    )


def limit(cid: str | None, symbol: str = "AAA", price: str = "99.00") -> OrderRequest:
    return OrderRequest(
        symbol=symbol,
        side=OrderSide.BUY,
        type=OrderType.LIMIT,
        qty=D(1),
        limit_price=D(price),
        client_order_id=cid,
    )


# ----- the id convention, in one place ----------------------------------------------------------


def test_the_execution_package_uses_the_order_models_functions() -> None:
    # One function each: the worker makes ids and the manager reads them with the same code.
    assert parent_module.parent_of is parent_of
    assert parent_module.child_client_order_id is child_client_order_id
    assert parent_module.MAX_PARENT_ID == MAX_PARENT_ID


@given(
    st.from_regex(r"[A-Za-z0-9_.:]{1,40}", fullmatch=True),
    st.integers(min_value=1, max_value=999_999),
    st.integers(min_value=0, max_value=99),
)
def test_a_routed_part_of_a_child_names_the_parent_too(pid: str, n: int, venue: int) -> None:
    assert parent_of(f"{child_client_order_id(pid, n)}.{venue}") == pid


@pytest.mark.parametrize(
    "cid",
    [
        "my-strategy-c1",  # a "-" in what would be the parent id: not a parent's id
        "P1-c1-tp",  # a bracket leg's id
        "P1-c1.x",
        "P1-c1.",
        "P1-c٣",  # a digit, but not an ASCII one
        "x" * (MAX_PARENT_ID + 1) + "-c1",  # longer than any parent id
        "o-1",
        "P1-c",
    ],
)
def test_ids_no_parent_can_have_name_none(cid: str) -> None:
    assert parent_of(cid) is None


# ----- the order manager ----------------------------------------------------------------------


@given(st.lists(st.sampled_from(["P1", "P2", "Q.3", None]), max_size=30))
def test_the_manager_lists_each_parents_children_oldest_first(owners: list[str | None]) -> None:
    m = OrderManager()
    want: dict[str, list[str]] = {}
    for i, pid in enumerate(owners, 1):
        cid = None if pid is None else child_client_order_id(pid, i)
        o = m.create(limit(cid))
        assert o.parent_id == pid
        if pid is not None:
            want.setdefault(pid, []).append(o.id)
    for pid in ("P1", "P2", "Q.3", "nobody"):
        assert [o.id for o in m.children(pid)] == want.get(pid, [])
        assert all(o.parent_id == pid for o in m.children(pid))


@given(st.permutations(["P1-c1", "P1-c2", "P1-c2.0", "P1-c2.1", "P1-c10", "P1-c11"]))
def test_children_read_back_in_any_order_are_listed_by_child_number(cids: list[str]) -> None:
    # A venue lists orders newest first: the children come back in their own order all the same.
    m = OrderManager()
    for cid in cids:
        m.create(limit(cid))
    want = ["P1-c1", "P1-c2", "P1-c2.0", "P1-c2.1", "P1-c10", "P1-c11"]
    assert [o.client_order_id for o in m.children("P1")] == want
    m.create(limit("P1-c5"))  # one more after a read: in its place too
    assert [o.client_order_id for o in m.children("P1")] == [*want[:4], "P1-c5", *want[4:]]


def test_the_parent_id_is_read_only() -> None:
    o = OrderManager().create(limit("P1-c1"))
    with pytest.raises(AttributeError):
        o.parent_id = "P2"  # type: ignore[misc]
    assert o.parent_id == "P1"


# ----- the simulated broker -------------------------------------------------------------------


def test_a_workers_children_are_the_managers_children_on_the_simulator() -> None:
    b = sim()
    b.submit(limit("mine"))  # not a child
    engine = ExecutionEngine(b)
    rules = WorkRules(timeout_ns=3 * S, max_attempts=1)
    engine.submit(parent("P1", 30, S, 40 * S), AAA, rules=rules, slices=3)
    engine.submit(parent("P2", 20, S, 40 * S), AAA, rules=rules, slices=2)
    b.run(until_ns=2 * S)
    b.trade("AAA", D("100.00"), D(25))
    b.run(until_ns=60 * S)
    for pid in ("P1", "P2"):
        kids = b.manager.children(pid)
        assert kids, pid
        # The worker's own list and the manager's agree, child by child and in order.
        assert [o.id for o in kids] == [o.id for o in engine.worker(pid).children]
        assert {o.parent_id for o in kids} == {pid}
        assert sum(o.cum_qty for o in kids) == engine.worker(pid).progress().filled
    assert b.get_order_by_client_id("mine").parent_id is None
    assert len(b.manager.children("P1")) + len(b.manager.children("P2")) + 1 == len(b.orders())


def test_a_replaced_child_is_listed_as_its_live_order() -> None:
    b = sim()
    first = b.submit(limit("P1-c1"))
    b.run(until_ns=S)
    b.replace(first.id, limit_price=D("99.50"))
    b.run(until_ns=2 * S)
    (live,) = b.manager.children("P1")
    assert live.replaces == first.id
    assert live.limit_price == D("99.50")
    assert live.parent_id == first.parent_id == "P1"


def test_a_replace_under_a_new_client_order_id_retags_the_order_by_that_id() -> None:
    # The tag is the client order id, as the venue holds it: a replace that names another
    # parent's child moves the order there (a venue read back after a restart would say so).
    b = sim()
    first = b.submit(limit("P1-c1"))
    b.run(until_ns=S)
    b.replace(first.id, ReplaceTerms(limit_price=D("99.50"), client_order_id="P2-c1"))
    b.run(until_ns=2 * S)
    new = b.get_order_by_client_id("P2-c1")
    assert new.parent_id == "P2"
    assert [o.id for o in b.manager.children("P2")] == [new.id]
    assert [o.id for o in b.manager.children("P1")] == [first.id]  # the replaced order
    assert b.manager.children("P1")[0].state == "replaced"


# ----- the served Alpaca paper account --------------------------------------------------------


def test_children_are_tagged_on_alpaca_and_read_back_after_a_restart(
    alpaca_server: AlpacaServer,
) -> None:
    alpaca_server.call(lambda b: b.quote("AAPL", D("100.00"), D("100.02")))
    first = alpaca_broker(alpaca_server)
    try:
        first.connect()
        now = first.now_ns()
        # A slice a second; the children rest at the bid (no timeout).
        spec = parent("A1", 30, now, now + 30 * S, "AAPL")
        w = ParentWorker(first, spec, AAPL, rules=WorkRules(timeout_ns=None), slices=30)
        w.start()
        first.submit(limit("plain", "AAPL"))
        wait_for(lambda: len(first.manager.children("A1")) >= 2, 10, 0.02)
        w.close()  # the process goes away: its children stay at the venue, resting
        kids = first.manager.children("A1")  # two, or more on a slow machine: a child a second
        cids = [f"A1-c{n}" for n in range(1, len(kids) + 1)]
        assert [o.client_order_id for o in kids] == cids
        assert [o.id for o in kids] == [o.id for o in w.children]
        assert {o.parent_id for o in kids} == {"A1"}
        assert first.get_order_by_client_id("plain").parent_id is None
        ids = [o.id for o in kids]
    finally:
        first.close()

    # A new process on the same account: the open children come back from the venue and are
    # tagged from their client order ids alone.
    second = alpaca_broker(alpaca_server)
    try:
        second.connect()
        back = second.manager.children("A1")
        assert [o.id for o in back] == ids
        assert [o.client_order_id for o in back] == cids
        assert {o.parent_id for o in back} == {"A1"}
        assert second.get_order_by_client_id("plain").parent_id is None
        # An order another client sends reaches this one on the stream, tagged the same way.
        third = alpaca_broker(alpaca_server)
        try:
            third.submit(limit("B7-c1", "AAPL"))
        finally:
            third.close()
        wait_for(lambda: len(second.manager.children("B7")) == 1, 10, 0.02)
        assert second.manager.children("B7")[0].parent_id == "B7"
    finally:
        second.close()
