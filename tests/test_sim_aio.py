"""The async twin of the broker interface over the simulated broker and over AlpacaBroker."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from order_helpers import gtc_limit
from served_helpers import alpaca_broker

from fillforge.alpaca import AlpacaServer
from fillforge.orders.enums import EventKind, OrderSide, OrderStatus
from fillforge.orders.models import OrderEvent, OrderRequest
from fillforge.sim.aio import AsyncAdapter, AsyncBroker
from fillforge.sim.broker import SimulatedBroker

D = Decimal


def limit(qty: int, price: str) -> OrderRequest:
    return gtc_limit("TEST", OrderSide.BUY, qty, price)


def test_async_strategy_on_the_simulated_broker(sim_broker: SimulatedBroker) -> None:
    sim_broker.quote("TEST", D("100.00"), D("100.02"))

    async def strategy() -> list[EventKind]:
        broker = AsyncAdapter(sim_broker)
        assert isinstance(broker, AsyncBroker)
        events = broker.events()
        order = await broker.submit(limit(10, "99.50"))
        await broker.replace(order.id, limit_price=D("99.60"))
        assert (await broker.get_order(order.id)).status is OrderStatus.REPLACED
        assert len(await broker.orders(open_only=True)) == 1
        assert (await broker.account()).cash == 1_000_000
        await broker.cancel((await broker.orders(open_only=True))[0].id)
        seen = []
        async for e in events:
            seen.append(e.kind)
            if e.kind is EventKind.CANCELED:
                break
        broker.close()
        return seen

    kinds = asyncio.run(strategy())
    assert kinds[:3] == [EventKind.CREATED, EventKind.SUBMITTED, EventKind.NEW]
    assert kinds[-1] is EventKind.CANCELED


def test_async_strategy_waits_for_a_fill_from_alpaca(alpaca_server: AlpacaServer) -> None:
    alpaca_server.call(lambda b: b.quote("AAPL", D("100.00"), D("100.02")))
    sync = alpaca_broker(alpaca_server)

    async def strategy() -> OrderEvent:
        with sync:
            broker = AsyncAdapter(sync)
            events = broker.events()
            req = gtc_limit("AAPL", OrderSide.BUY, 5, "99.50")
            order = await broker.submit(req)
            while not alpaca_server._streams:
                await asyncio.sleep(0.01)
            # The fill happens on the server; the update arrives on the SDK's stream thread.
            alpaca_server.call(lambda b: b.quote("AAPL", D("99.40"), D("99.45")))
            async with asyncio.timeout(10):
                async for e in events:
                    if e.order_id == order.id and e.kind is EventKind.FILL:
                        broker.close()
                        return e
        raise AssertionError("no fill")

    fill = asyncio.run(strategy())
    assert fill.status is OrderStatus.FILLED
    assert fill.fill is not None
    assert fill.fill.price == D("99.45")
