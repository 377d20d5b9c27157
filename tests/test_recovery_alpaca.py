"""Recovery against the served paper account (issue 18): AlpacaBroker's fill history (Alpaca's
``FILL`` account activities, their ids the trade-update stream's execution ids) and its venue
lookups, and a JournalledBroker over it restarted with a crash and without one: nothing counted
twice when alpaca-py rebuilds an order's fills under other ids (its REST catch-up)."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import NoReturn

import pytest
from crash_agent import Crash, paper_server, problems
from polling import eventually
from served_helpers import alpaca_broker, quote

from fillforge.alpaca import AlpacaServer
from fillforge.alpaca.broker import AlpacaBroker
from fillforge.journal import Journal
from fillforge.journal.broker import CrashHook, JournalledBroker
from fillforge.journal.reconcile import reconcile
from fillforge.orders.enums import OrderSide, OrderTimeInForce, OrderType
from fillforge.orders.models import OrderRequest

D = Decimal


@pytest.fixture
def server() -> Iterator[AlpacaServer]:
    with paper_server() as s:
        quote(s, "100.00", "100.02", size=20)
        yield s


def _crash() -> NoReturn:
    raise Crash("kill -9")


def buy(qty: int, price: str) -> OrderRequest:
    return OrderRequest(
        symbol="AAPL",
        side=OrderSide.BUY,
        type=OrderType.LIMIT,
        time_in_force=OrderTimeInForce.GTC,
        qty=D(qty),
        limit_price=D(price),
    )


def start(
    server: AlpacaServer, path: Path, hook: CrashHook | None = None
) -> tuple[AlpacaBroker, JournalledBroker]:
    broker = alpaca_broker(server, requests_per_minute=1_000_000)
    jb = JournalledBroker(broker, Journal.open(path), crash=hook)
    broker.connect()
    return broker, jb


def stop(broker: AlpacaBroker, jb: JournalledBroker) -> None:
    broker.close()
    jb.detach()
    jb.journal.close()  # type: ignore[attr-defined]


def held(server: AlpacaServer) -> dict[str, Decimal]:
    return {s: p.qty for s, p in server.call(lambda b: b.positions()).items()}


def test_fill_history_has_the_streams_execution_ids(server: AlpacaServer, tmp_path: Path) -> None:
    broker, jb = start(server, tmp_path / "j")
    o = jb.submit(buy(50, "99.95"))
    for qty in (10, 15):  # through the 20 shown at 100.00, then ours
        quote(server, "100.00", "100.02", size=20)
        server.call(lambda b, q=qty: b.trade("AAPL", D("99.95"), D(20 + q)))
    assert eventually(lambda: jb.book.by_oid[o.id].filled == 25)
    streamed = set(jb.book.by_oid[o.id].fills)
    history = broker.fills_since(0)
    assert {f.trade_id for f in history} == streamed
    assert [f.qty for f in history] == [D(10), D(15)]
    assert all(f.order_id == o.id for f in history)
    assert broker.fills_since(history[-1].ts_event) == history[-1:]
    assert broker.fills_since(history[-1].ts_event + 1) == []
    stop(broker, jb)


def test_venue_lookups_ask_the_server(server: AlpacaServer, tmp_path: Path) -> None:
    broker, jb = start(server, tmp_path / "j")
    o = jb.submit(buy(5, "99.00"))
    found = broker.venue_order_by_client_id(o.client_order_id)
    assert found is not None
    assert found.id == o.id
    assert broker.venue_order_by_client_id("never-sent") is None
    assert broker.venue_order("00000000-0000-4000-8000-000000000000") is None
    stop(broker, jb)


def test_a_restart_counts_no_fill_twice(server: AlpacaServer, tmp_path: Path) -> None:
    path = tmp_path / "j"
    broker, jb = start(server, path)
    o = jb.submit(buy(50, "100.02"))  # 20 at once (REST catch-up), 30 rest
    server.call(lambda b: b.trade("AAPL", D("100.02"), D(12)))
    assert eventually(lambda: jb.book.by_oid[o.id].filled == 32)
    stop(broker, jb)
    # Restarted: alpaca-py adopts the open order afresh and reports its 32 as one catch-up fill.
    broker, jb = start(server, path)
    report = reconcile(jb)
    assert report.fills_applied == ()
    assert report.discrepancies == ()
    assert jb.book.by_oid[o.id].filled == 32
    assert problems(jb.book, server.call(lambda b: b.orders()), held(server)) == []
    stop(broker, jb)


@pytest.mark.parametrize("point", ["journal", "send"])
def test_a_crash_around_the_send_recovers(server: AlpacaServer, tmp_path: Path, point: str) -> None:
    path = tmp_path / "j"
    broker, jb = start(server, path, CrashHook(point, 2, _crash))
    jb.submit(buy(10, "100.02"))
    with pytest.raises(Crash):
        jb.submit(buy(30, "100.02"))
    stop(broker, jb)
    server.call(lambda b: b.trade("AAPL", D("100.02"), D(10)))  # while the agent is down
    broker, jb = start(server, path)
    report = reconcile(jb)
    venue_orders = server.call(lambda b: b.orders())
    assert len(venue_orders) == (1 if point == "journal" else 2)
    assert len(report.unsent) == (1 if point == "journal" else 0)
    assert problems(jb.book, venue_orders, held(server)) == []
    stop(broker, jb)


def test_a_restart_after_a_replace_counts_the_carried_fills_once(
    server: AlpacaServer, tmp_path: Path
) -> None:
    """The agent asks for a replace of a partly filled order and dies before it hears back. The
    restarted broker adopts the open replacement, whose ``filled_qty`` carries the old order's
    fills: it names the order it replaced, so the journal counts those fills once (the crash
    run of tests/test_crash_served.py once journalled them twice)."""
    path = tmp_path / "j"
    broker, jb = start(server, path)
    o = jb.submit(buy(10, "99.95"))
    quote(server, "100.00", "100.02", size=20)
    server.call(lambda b: b.trade("AAPL", D("99.95"), D(24)))  # the 20 shown at 100.00, 4 of ours
    assert eventually(lambda: jb.book.by_oid[o.id].filled == 4)
    stop(broker, jb)
    # The replace reached the venue; its answer did not reach the dead agent.
    new = server.call(lambda b: b.replace(o.id, limit_price=D("99.96")) or b.orders()[-1])
    assert new.cum_qty == 4  # the replacement carries the old order's executions
    broker, jb = start(server, path)
    report = reconcile(jb)
    assert report.discrepancies == ()
    venue_orders = server.call(lambda b: b.orders())
    assert problems(jb.book, venue_orders, held(server)) == []
    assert jb.book.positions["AAPL"] == 4
    stop(broker, jb)
