"""JournalledBroker and reconciliation, one rule at a time (issue 18): ids from the journal's
sequence, intents durable before the send, refusals journalled, the rebuilt book equal to the
live one, and each reconcile verdict (unsent, adopted, missed fills applied once, gone, cancels
and replaces with no outcome) made to fire against a ``SimulatedBroker``."""

from __future__ import annotations

import asyncio
import inspect
import random
import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import Any, NoReturn

import pytest
from crash_agent import Crash, Trader, prints, problems
from hypothesis import given, settings
from hypothesis import strategies as st

from fillforge import broker as fb
from fillforge.errors import DuplicateClientOrderIdError, FillforgeError, JournalError
from fillforge.journal import Journal
from fillforge.journal.broker import CrashHook, JournalledBroker
from fillforge.journal.rebuild import BOOK_SNAPSHOT, OrderBook, rebuild
from fillforge.journal.reconcile import reconcile
from fillforge.orders.enums import OrderSide, OrderStatus, OrderTimeInForce, OrderType
from fillforge.orders.models import Instrument, OrderRequest, parent_of
from fillforge.sim.aio import AsyncAdapter
from fillforge.sim.broker import SimulatedBroker
from fillforge.sim.feeds import empty_feed
from fillforge.sim.venue import Venue

D = Decimal
BOOKS = {"TEST": (D("99.99"), D("100.01"))}


def _crash() -> NoReturn:
    raise Crash("kill -9")


def venue() -> SimulatedBroker:
    v = Venue("TESTX", calendar=None)
    v.add(Instrument(symbol="TEST"), empty_feed())
    b = SimulatedBroker(v, cash=D(1_000_000))
    b.quote("TEST", D("99.99"), D("100.01"), bid_size=D(20), ask_size=D(20))
    return b


def resting(qty: int = 50, price: str = "99.90", cid: str | None = None) -> OrderRequest:
    return OrderRequest(
        symbol="TEST",
        side=OrderSide.BUY,
        type=OrderType.LIMIT,
        time_in_force=OrderTimeInForce.GTC,
        qty=D(qty),
        limit_price=D(price),
        client_order_id=cid,
    )


def agent(b: SimulatedBroker, path: Path, hook: CrashHook | None = None) -> JournalledBroker:
    return JournalledBroker(b, Journal.open(path), crash=hook)


def drop(jb: JournalledBroker) -> None:
    jb.detach()
    jb.journal.close()  # type: ignore[attr-defined]


def kinds(path: Path) -> list[str]:
    with Journal.open(path, readonly=True) as j:
        return [r.kind for r in j.records()]


# ----- the broker ------------------------------------------------------------------------------


def test_it_has_the_broker_interface(tmp_path: Path) -> None:
    for name, fn in inspect.getmembers(fb.Broker, inspect.isfunction):
        if name.startswith("_"):
            continue
        got = getattr(JournalledBroker, name)
        assert inspect.signature(got).parameters.keys() == inspect.signature(fn).parameters.keys()
        assert [p.default for p in inspect.signature(got).parameters.values()] == [
            p.default for p in inspect.signature(fn).parameters.values()
        ], name
    jb = agent(venue(), tmp_path / "j")
    assert isinstance(jb, fb.Broker)
    drop(jb)


def test_ids_come_from_the_sequence_and_never_repeat_across_restarts(tmp_path: Path) -> None:
    b, path = venue(), tmp_path / "j"
    seen = []
    for _life in range(3):
        jb = agent(b, path)
        for _ in range(3):
            seq = jb.journal.next_seq  # type: ignore[attr-defined]
            o = jb.submit(resting())
            assert o.client_order_id == f"{jb.prefix}-{seq}"
            seen.append(o.client_order_id)
        prefix = jb.prefix
        drop(jb)
    assert len(set(seen)) == 9
    assert agent(b, path).prefix == prefix  # the journal keeps its prefix
    other = agent(venue(), tmp_path / "other")
    assert other.prefix != prefix  # another journal, other ids


def test_a_callers_client_order_id_is_kept_and_journalled(tmp_path: Path) -> None:
    jb = agent(venue(), tmp_path / "j")
    o = jb.submit(resting(cid="P7-c3"))
    assert o.client_order_id == "P7-c3"
    assert parent_of(o.client_order_id) == "P7"
    assert jb.book.by_cid["P7-c3"].parent_id == "P7"
    before = jb.journal.next_seq  # type: ignore[attr-defined]
    with pytest.raises(DuplicateClientOrderIdError):
        jb.submit(resting(cid="P7-c3"))
    assert jb.journal.next_seq == before  # type: ignore[attr-defined]  # nothing written
    drop(jb)


def test_the_intent_is_durable_before_the_send(tmp_path: Path) -> None:
    path = tmp_path / "j"
    seen: list[list[str]] = []

    class Watching(SimulatedBroker):
        def submit(self, request: OrderRequest) -> Any:
            with Journal.open(path, readonly=True) as j:  # what a restart would read
                seen.append([r.payload.get("cid") for r in j.records(kinds=("order.submit",))])
            return super().submit(request)

    b = venue()
    w = Watching(b.venue, cash=D(1_000_000))
    jb = agent(w, path)
    o = jb.submit(resting())
    assert seen == [[o.client_order_id]]
    drop(jb)


def test_a_refusal_is_journalled_and_changes_nothing(tmp_path: Path) -> None:
    b, path = venue(), tmp_path / "j"
    jb = agent(b, path)
    bad = OrderRequest(symbol="NOPE", side=OrderSide.BUY, qty=D(1))
    with pytest.raises(FillforgeError):
        jb.submit(bad)
    (o,) = jb.book.intents
    assert o.status == "refused"
    assert not o.is_pending
    assert b.orders() == []
    drop(jb)
    assert kinds(path)[-2:] == ["order.submit", "order.reject"]


def test_a_bad_prefix_is_refused(tmp_path: Path) -> None:
    with pytest.raises(JournalError) as e:
        JournalledBroker(venue(), Journal.open(tmp_path / "j"), prefix="a-b")
    assert e.value.field == "prefix"


def test_a_bad_crash_point_is_refused() -> None:
    with pytest.raises(JournalError) as e:
        CrashHook("nowhere", 1)
    assert e.value.field == "point"


@settings(max_examples=8)
@given(seed=st.integers(0, 10_000))
def test_the_rebuilt_book_is_the_live_book(tmp_path_factory: Any, seed: int) -> None:
    path = tmp_path_factory.mktemp("j") / "j"
    b, rng = venue(), random.Random(seed)
    jb = agent(b, path)
    trader = Trader(jb, random.Random(seed + 1), BOOKS, 30)
    for _ in range(60):
        trader.step()
        for symbol, price, qty, side in prints(rng, BOOKS, 60):
            b.trade(symbol, price, qty, aggressor=side)
    again = rebuild(jb.journal)  # type: ignore[arg-type]
    live = jb.book
    assert again.positions == live.positions
    assert again.fills == live.fills
    assert {k: (o.status, o.filled) for k, o in again.by_oid.items()} == {
        k: (o.status, o.filled) for k, o in live.by_oid.items()
    }
    assert problems(again, b.orders(), {s: p.qty for s, p in b.positions().items()}) == []
    drop(jb)


def same(a: OrderBook, b: OrderBook) -> None:
    assert (a.prefix, a.last_fill_ts, a.duplicate_fills) == (
        b.prefix,
        b.last_fill_ts,
        b.duplicate_fills,
    )
    assert a.positions == b.positions
    assert a.fills == b.fills
    assert a.by_oid == b.by_oid
    assert a.by_cid == b.by_cid
    assert a.intents == b.intents
    assert a.pending_cancels == b.pending_cancels
    assert a.pending_replaces == b.pending_replaces


@settings(max_examples=8)
@given(seed=st.integers(0, 10_000), every=st.integers(5, 60))
def test_a_checkpoint_and_the_records_after_it_are_every_record(
    tmp_path_factory: Any, seed: int, every: int
) -> None:
    path = tmp_path_factory.mktemp("j") / "j"
    b, rng = venue(), random.Random(seed)
    jb = JournalledBroker(b, Journal.open(path), checkpoint_every=every)
    trader = Trader(jb, random.Random(seed + 1), BOOKS, 30)
    for _ in range(40):
        trader.step()
        for symbol, price, qty, side in prints(rng, BOOKS, 60):
            b.trade(symbol, price, qty, aggressor=side)
    drop(jb)
    assert "order.checkpoint" not in kinds(path)  # beside the records, not one of them
    with Journal.open(path) as j:
        saved = j.snapshot(BOOK_SNAPSHOT)
        assert saved is not None
        fast, full = rebuild(j), rebuild(j, full=True)
        assert fast.replayed < full.replayed
        same(fast, full)
        again = JournalledBroker(b, j)  # and it goes on from there
        assert again.book.replayed == fast.replayed
        again.detach()


def _traded(path: Path, every: int | None, steps: int = 30) -> SimulatedBroker:
    b, rng = venue(), random.Random(7)
    jb = JournalledBroker(b, Journal.open(path), checkpoint_every=every)
    trader = Trader(jb, random.Random(8), BOOKS, 30)
    for _ in range(steps):
        trader.step()
        for symbol, price, qty, side in prints(rng, BOOKS, 60):
            b.trade(symbol, price, qty, aggressor=side)
    drop(jb)
    return b


def test_a_damaged_or_foreign_snapshot_is_not_used_and_the_records_decide(tmp_path: Path) -> None:
    path = tmp_path / "j"
    _traded(path, every=25)
    with Journal.open(path, readonly=True) as j:
        full = rebuild(j, full=True)
        assert rebuild(j).replayed < full.replayed
    with sqlite3.connect(path) as db:  # one byte of the stored book changed
        db.execute(
            "UPDATE journal_snapshots SET payload = CAST(replace(CAST(payload AS TEXT), "
            "'\"filled\"', '\"fillet\"') AS BLOB)"
        )
    db.close()
    with Journal.open(path, readonly=True) as j:
        assert j.snapshot(BOOK_SNAPSHOT) is None
        damaged = rebuild(j)
        assert damaged.replayed == full.replayed  # every record, as if there were no snapshot
        same(damaged, full)
    other = tmp_path / "other"
    _traded(other, every=25, steps=20)
    with sqlite3.connect(other) as db:  # another journal's snapshot, copied in
        row = db.execute("SELECT * FROM journal_snapshots").fetchone()
    db.close()
    with sqlite3.connect(path) as db:
        db.execute("INSERT OR REPLACE INTO journal_snapshots VALUES (?, ?, ?, ?, ?)", row)
    db.close()
    with Journal.open(path, readonly=True) as j:
        assert j.snapshot(BOOK_SNAPSHOT) is None
        same(rebuild(j), full)


def test_a_journal_from_before_snapshots_rebuilds_from_its_checkpoint_record(
    tmp_path: Path,
) -> None:
    path = tmp_path / "j"
    _traded(path, every=None)
    with Journal.open(path) as j:  # what an earlier fillforge appended every 100,000 records
        j.append("order.checkpoint", rebuild(j).checkpoint())
        at = j.next_seq
        j.append("order.session", {"prefix": rebuild(j).prefix})
    with Journal.open(path) as j:
        fast, full = rebuild(j), rebuild(j, full=True)
        assert fast.last_seq == at
        assert fast.replayed == 1
        same(fast, full)


def test_the_async_twin_journals_the_same(tmp_path: Path) -> None:
    b = venue()
    jb = agent(b, tmp_path / "j")

    async def go() -> str:
        a = AsyncAdapter(jb)
        o = await a.submit(resting())
        a.close()
        return o.client_order_id

    cid = asyncio.run(go())
    assert jb.book.by_cid[cid].status == "new"
    drop(jb)


# ----- reconcile -------------------------------------------------------------------------------


def test_an_intent_that_never_left_is_resolved_unsent_not_resent(tmp_path: Path) -> None:
    b, path = venue(), tmp_path / "j"
    jb = agent(b, path, CrashHook("journal", 1, _crash))
    with pytest.raises(Crash):
        jb.submit(resting())
    drop(jb)
    jb = agent(b, path)
    (cid,) = [o.client_order_id for o in jb.book.pending()]
    report = reconcile(jb)
    assert report.unsent == (cid,)
    assert report.adopted == ()
    assert b.orders() == []  # never resubmitted
    assert jb.book.by_cid[cid].status == "unsent"
    assert reconcile(jb).resolved == ()  # settled: a second pass finds nothing
    drop(jb)


def test_an_intent_that_reached_the_venue_is_adopted(tmp_path: Path) -> None:
    b, path = venue(), tmp_path / "j"
    jb = agent(b, path, CrashHook("send", 1, _crash))
    jb.detach()  # the send's events are lost with the process (appended, not yet committed)
    with pytest.raises(Crash):
        jb.submit(resting())
    drop(jb)
    jb = agent(b, path)
    assert [o.status for o in jb.book.intents] == ["intent"]
    report = reconcile(jb)
    (v,) = b.orders()
    assert report.adopted == (v.client_order_id,)
    assert report.unsent == ()
    assert jb.book.by_cid[v.client_order_id].order_id == v.id
    assert len(b.orders()) == 1  # not sent twice
    drop(jb)


def test_fills_missed_while_down_are_applied_exactly_once(tmp_path: Path) -> None:
    b, path = venue(), tmp_path / "j"
    jb = agent(b, path, CrashHook("fill", 1, _crash))
    o = jb.submit(resting(qty=50, price="99.90"))
    b.trade("TEST", D("99.90"), D(30), aggressor=OrderSide.SELL)  # 10 for us: the agent dies
    b.trade("TEST", D("99.90"), D(35), aggressor=OrderSide.SELL)  # 35 more while it is down
    with pytest.raises(Crash):
        jb.submit(resting())  # the dead agent's next call
    drop(jb)
    assert b.get_order(o.id).cum_qty == 45
    jb = agent(b, path)
    assert jb.book.by_oid[o.id].filled == 0
    report = reconcile(jb)
    assert len(report.fills_applied) == 2
    assert jb.book.by_oid[o.id].filled == 45
    assert jb.book.position("TEST") == 45
    assert reconcile(jb).fills_applied == ()  # once
    drop(jb)
    assert agent(b, path).book.position("TEST") == 45  # and durable


def test_an_order_the_broker_no_longer_knows_is_resolved_gone(tmp_path: Path) -> None:
    path = tmp_path / "j"
    jb = agent(venue(), path)
    o = jb.submit(resting())
    jb.submit(OrderRequest(symbol="TEST", side=OrderSide.BUY, qty=D(5)))  # fills 5
    drop(jb)
    jb = agent(venue(), path)  # a venue that lost everything
    report = reconcile(jb)
    assert (o.client_order_id, "gone") in report.resolved
    assert jb.book.by_oid[o.id].status == "gone"
    assert any("unknown to the broker" in d for d in report.discrepancies)
    assert any(d.startswith("position TEST") for d in report.discrepancies)
    drop(jb)


@pytest.mark.parametrize(
    ("point", "outcome", "status"),
    [("cancel", "cancel_unsent", OrderStatus.NEW), ("cancel_sent", "cancel_done", None)],
)
def test_a_cancel_with_no_outcome(
    tmp_path: Path, point: str, outcome: str, status: OrderStatus | None
) -> None:
    b, path = venue(), tmp_path / "j"
    jb = agent(b, path, CrashHook(point, 1, _crash))
    o = jb.submit(resting())
    with pytest.raises(Crash):
        jb.cancel(o.id)
    drop(jb)
    jb = agent(b, path)
    report = reconcile(jb)
    assert (o.id, outcome) in report.resolved
    assert b.get_order(o.id).status is (status or OrderStatus.CANCELED)
    assert jb.book.by_oid[o.id].status == b.get_order(o.id).status.value
    assert not jb.book.pending_cancels
    drop(jb)


@pytest.mark.parametrize(
    ("point", "outcome"), [("replace", "replace_unsent"), ("replace_sent", "replace_done")]
)
def test_a_replace_with_no_outcome(tmp_path: Path, point: str, outcome: str) -> None:
    b, path = venue(), tmp_path / "j"
    jb = agent(b, path, CrashHook(point, 1, _crash))
    o = jb.submit(resting())
    b.trade("TEST", D("99.90"), D(25), aggressor=OrderSide.SELL)  # 5 filled before the replace
    with pytest.raises(Crash):
        jb.replace(o.id, limit_price=D("99.80"))
    drop(jb)
    jb = agent(b, path)
    report = reconcile(jb)
    assert (o.id, outcome) in report.resolved
    new = b.get_order(o.id).replaced_by
    assert (new is not None) == (outcome == "replace_done")
    if new is not None:
        assert jb.book.by_oid[new].filled == 5  # it carries the old order's executions
    held = {s: p.qty for s, p in b.positions().items()}
    assert problems(jb.book, b.orders(), held) == []
    drop(jb)


def test_a_broker_without_history_cannot_be_reconciled(tmp_path: Path) -> None:
    class Bare:
        def subscribe(self, cb: Any) -> Any:
            return lambda: None

    jb = JournalledBroker(Bare(), Journal.open(tmp_path / "j"))  # type: ignore[arg-type]
    with pytest.raises(JournalError) as e:
        reconcile(jb)
    assert e.value.field == "broker"
    drop(jb)


def test_a_journal_that_stops_taking_records_stops_the_orders(tmp_path: Path) -> None:
    b = venue()
    jb = agent(b, tmp_path / "j")
    jb.submit(resting(qty=50, price="99.90"))
    jb.journal.close()  # type: ignore[attr-defined]  # the disk is gone
    b.trade("TEST", D("99.90"), D(30), aggressor=OrderSide.SELL)  # an event it cannot journal
    with pytest.raises(JournalError):
        jb.submit(resting())
    assert len(b.orders()) == 1  # nothing sent unjournalled


class _LostReply(SimulatedBroker):
    """The request reaches the venue; the reply is lost on the way back."""

    def submit(self, request: OrderRequest) -> Any:
        super().submit(request)
        raise ConnectionError("connection reset by peer")


class _Unreachable(SimulatedBroker):
    """Neither the request nor a lookup gets through (until ``up``)."""

    up = False

    def submit(self, request: OrderRequest) -> Any:
        raise ConnectionError("no route to host")

    def venue_order_by_client_id(self, client_order_id: str) -> Any:
        if not self.up:
            raise ConnectionError("no route to host")
        return super().venue_order_by_client_id(client_order_id)


def test_a_lost_reply_is_looked_up_at_once_and_adopted(tmp_path: Path) -> None:
    b = venue()
    jb = agent(_LostReply(b.venue, cash=D(1_000_000)), tmp_path / "j")
    jb.detach()  # only the lookup can tell (no events)
    with pytest.raises(ConnectionError):
        jb.submit(resting())
    (o,) = jb.book.intents
    assert o.order_id is not None  # acked from the venue's answer
    assert o.status == "new"
    drop(jb)


def test_a_send_with_no_answer_at_all_waits_for_reconciliation(tmp_path: Path) -> None:
    b = venue()
    down = _Unreachable(b.venue, cash=D(1_000_000))
    jb = agent(down, tmp_path / "j")
    with pytest.raises(ConnectionError):
        jb.submit(resting())
    (o,) = jb.book.intents
    assert o.status == "send_unknown"
    assert o.is_pending
    down.up = True
    report = reconcile(jb)
    assert report.unsent == (o.client_order_id,)
    drop(jb)


def test_another_clients_fills_are_reported_not_applied(tmp_path: Path) -> None:
    b, path = venue(), tmp_path / "j"
    jb = agent(b, path)
    jb.submit(resting())
    drop(jb)
    b.submit(OrderRequest(symbol="TEST", side=OrderSide.BUY, qty=D(7), client_order_id="other"))
    jb = agent(b, path)
    report = reconcile(jb)
    assert report.fills_applied == ()
    assert any("did not place" in d for d in report.discrepancies)
    assert any(d.startswith("position TEST") for d in report.discrepancies)
    assert jb.book.position("TEST") == 0
    drop(jb)


def test_arrival_mid_puts_the_brokers_mid_in_each_intent_for_tca(tmp_path: Path) -> None:
    from fillforge.analytics import tca

    path = tmp_path / "j"
    b = venue()
    with Journal.open(path) as j:
        jb = JournalledBroker(b, j, arrival_mid=True)
        jb.submit(OrderRequest(symbol="TEST", side=OrderSide.BUY, qty=D(10)))
        b.quote("TEST", None, D("100.01"), ask_size=D(20))  # one-sided: no mid to give
        jb.submit(OrderRequest(symbol="TEST", side=OrderSide.BUY, qty=D(5)))
        jb.detach()
        intents = [r.payload for r in j.records(kinds=["order.submit"])]
    assert [p.get("mid") for p in intents] == ["100.00", None]
    r = tca(path)  # the arrival price from the journal alone
    assert r.orders["arrival_send"][0] == 100.0
    with Journal.open(tmp_path / "k") as k, pytest.raises(JournalError, match="arrival_mid"):
        JournalledBroker(venue(), k, arrival_mid="yes")  # type: ignore[arg-type]
