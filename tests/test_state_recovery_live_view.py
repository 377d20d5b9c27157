"""A parent taken up on a live broker that, once restarted, holds only the open orders (issue 18).

A restarted ``AlpacaBroker`` reads back the open orders only. A child filled before the crash,
with its fills already in the journal, is then unknown to the broker's local view; the recovered
parent must still count it (asked of the venue), or it sends that quantity again. In process: the
first agent is dropped as a kill -9 would drop it, after its children's fills reached the
journal; the second takes the parent up on a fresh ``AlpacaBroker``.
"""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal
from pathlib import Path

from crash_agent import paper_server
from crash_parent_agent import config
from served_helpers import alpaca_broker, quote

from fillforge.agent import ExecutionAgent
from fillforge.alpaca import AlpacaServer
from fillforge.alpaca.broker import AlpacaBroker

D = Decimal


def broker(server: AlpacaServer) -> AlpacaBroker:
    b = alpaca_broker(server, timeout=30.0, requests_per_minute=1_000_000)
    b.connect()
    return b


def children_filled(server: AlpacaServer) -> Decimal:
    return sum(
        (
            o.cum_qty
            for o in server.call(lambda b: b.orders())
            if o.client_order_id.startswith("ff1-c")
        ),
        D(0),
    )


async def first_life(server: AlpacaServer, path: Path) -> Decimal:
    b = broker(server)
    agent = ExecutionAgent(config(server.base_url), broker=b, journal=path)
    await agent.start()
    await agent.submit_order("AAPL", "buy", D(200), price=D("100.02"))
    deadline = time.monotonic() + 60
    while (await agent.get_order_status("ff1")).filled_qty < D(30):
        assert time.monotonic() < deadline, "the first children never filled"
        await asyncio.sleep(0.05)
    hook = agent._journal
    assert hook is not None
    b.close()  # kill -9: no more events reach this agent...
    hook.journal.sync()  # ...whose children's fills are already in the journal
    hook.journal.abandon()
    assert agent._pool is not None
    agent._pool.shutdown(wait=True)
    return children_filled(server)


async def second_life(server: AlpacaServer, path: Path) -> tuple[Decimal, str]:
    b = broker(server)
    try:
        agent = ExecutionAgent(config(server.base_url), broker=b, journal=path)
        await agent.start()
        report = agent.recovery
        assert report is not None
        assert not report.first_start
        [parent] = report.parents
        deadline = time.monotonic() + 90
        status = await agent.get_order_status("ff1")
        while not status.done and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
            status = await agent.get_order_status("ff1")
        await agent.stop()
        return parent.filled, str(status.state)
    finally:
        b.close()


def test_children_filled_before_the_crash_count_on_a_restarted_live_broker(
    tmp_path: Path,
) -> None:
    path = tmp_path / "agent.journal"
    with paper_server() as server:
        quote(server, "100.00", "100.02", size=1_000_000)
        before = asyncio.run(first_life(server, path))
        assert before > 0
        recovered, state = asyncio.run(second_life(server, path))
        assert recovered == before  # the filled children were counted, not sent again
        assert state == "completed"
        assert children_filled(server) == D(200)  # never over-filled
        held = {s: p.qty for s, p in server.call(lambda b: b.positions()).items()}
        assert held == {"AAPL": D(200)}
