"""Recovery through the local IB gateway (issue 18 with issue 20): IbkrBroker's fill history (IB's
executions, by execution id) and its venue lookups, and a JournalledBroker over it restarted
after its process stopped while an order filled: each fill journalled once."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from polling import wait_for

pytest.importorskip("ib_async")

from fillforge.ibkr import IbGateway, scripted_broker
from fillforge.journal import Journal
from fillforge.journal.broker import JournalledBroker
from fillforge.journal.reconcile import reconcile
from fillforge.orders.enums import OrderSide, OrderStatus
from fillforge.orders.models import OrderRequest
from fillforge.sim.broker import SimulatedBroker
from fillforge.time import WallClock
from fillforge.venues.ibkr import IbkrBroker

D = Decimal


@pytest.fixture
def gateway() -> Iterator[IbGateway]:
    sim = scripted_broker(["AAPL"], start_ns=WallClock().now_ns())
    sim.quote("AAPL", D("100.00"), D("100.02"), bid_size=D(500), ask_size=D(500))
    with IbGateway(sim) as g:
        yield g


def start(gateway: IbGateway, path: Path) -> tuple[IbkrBroker, JournalledBroker]:
    broker = IbkrBroker(port=gateway.port, client_id=9, reconnect_every=0.05)
    jb = JournalledBroker(broker, Journal.open(path))
    broker.connect()
    return broker, jb


def stop(broker: IbkrBroker, jb: JournalledBroker) -> None:
    broker.close()
    jb.detach()
    jb.journal.close()  # type: ignore[attr-defined]


def market(side: str, qty: int) -> OrderRequest:
    return OrderRequest(symbol="AAPL", side=OrderSide(side), type="market", qty=D(qty))


def limit(side: str, qty: int, price: str) -> OrderRequest:
    return OrderRequest(
        symbol="AAPL",
        side=OrderSide(side),
        type="limit",
        time_in_force="gtc",
        qty=D(qty),
        limit_price=D(price),
    )


def buyers_take(gateway: IbGateway, price: str) -> None:
    def run(sim: SimulatedBroker) -> None:
        sim.trade("AAPL", D(price), D(1000), aggressor=OrderSide.BUY)

    gateway.call(run)


def test_fill_history_and_venue_lookups(gateway: IbGateway, tmp_path: Path) -> None:
    broker, jb = start(gateway, tmp_path / "j")
    o = jb.submit(market("buy", 5))
    wait_for(lambda: o.status is OrderStatus.FILLED)
    history = broker.fills_since(0)
    assert [(f.order_id, f.qty) for f in history] == [(o.id, 5)]
    assert {f.trade_id for f in history} == set(jb.book.by_oid[o.id].fills)
    assert broker.fills_since(history[-1].ts_event + 10**9) == []
    resting = jb.submit(limit("sell", 5, "100.50"))
    wait_for(lambda: resting.status is OrderStatus.NEW)
    found = broker.venue_order_by_client_id(resting.client_order_id)
    assert found is not None
    assert found.id == resting.id
    assert broker.venue_order(resting.id) is resting
    assert broker.venue_order_by_client_id("never-sent") is None
    assert broker.venue_order("999999") is None
    stop(broker, jb)


def test_a_restart_after_a_fill_while_down_journals_each_fill_once(
    gateway: IbGateway, tmp_path: Path
) -> None:
    path = tmp_path / "j"
    broker, jb = start(gateway, path)
    bought = jb.submit(market("buy", 6))
    resting = jb.submit(limit("sell", 6, "100.50"))
    wait_for(lambda: bought.status is OrderStatus.FILLED and resting.status is OrderStatus.NEW)
    rid = resting.id
    stop(broker, jb)
    buyers_take(gateway, "100.50")  # it fills while no process runs
    broker, jb = start(gateway, path)
    report = reconcile(jb)
    assert report.discrepancies == ()
    assert jb.book.by_oid[rid].filled == 6
    execs = {f.execution.execId for f in broker.executions()}
    assert len(execs) == 2
    assert set(jb.book.fills) == execs
    again = reconcile(jb)
    assert again.fills_applied == ()
    assert set(jb.book.fills) == execs
    stop(broker, jb)
