"""The execution agent in mode paper on an ``ibkr`` broker block: unmodified ib_async (through
``IbkrBroker``) against the local IB gateway over a real socket, the same facade as on Alpaca."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from polling import settled

pytest.importorskip("ib_async")

from fillforge.agent import ExecutionAgent, OrderReport, SignalReport
from fillforge.config import Mode, parse_config
from fillforge.config.mapping import check
from fillforge.ibkr import IbGateway, scripted_broker
from fillforge.time import WallClock

D = Decimal


def test_paper_mode_on_an_ib_gateway_sends_and_fills() -> None:
    market = scripted_broker(["AAPL"], start_ns=WallClock().now_ns())
    market.quote("AAPL", D("100.00"), D("100.02"), bid_size=D(1000), ask_size=D(1000))
    with IbGateway(market) as gateway:
        cfg = parse_config(
            {
                "execution": {"mode": "paper", "default_order_type": "market", "fallback": "none"},
                "position_sizing": {"max_position_size": 0.1},
                "broker": {
                    "type": "ibkr",
                    "host": "127.0.0.1",
                    "port": gateway.port,
                    "client_id": 7,
                },
            },
            env={},
        ).config

        async def main() -> tuple[SignalReport, OrderReport, dict[str, Decimal], Mode, str]:
            agent = ExecutionAgent(cfg, env={})
            await agent.start()
            try:
                kind = type(agent.broker).__name__
                report = await agent.execute_signals({"AAPL": 0.5}, {"AAPL": D("100.01")})
                status = await settled(agent, report.submitted[0].id)
                perf = await agent.performance()
                return report, status, await agent.positions(), perf.mode, kind
            finally:
                await agent.stop()

        report, status, held, mode, kind = asyncio.run(main())
        assert market.positions()["AAPL"].qty == D(report.submitted[0].qty)  # the venue's own
    assert kind == "IbkrBroker"
    assert mode is Mode.PAPER
    qty = report.submitted[0].qty
    assert qty > 0
    assert status.state == "completed"
    assert status.avg_price == D("100.02")  # a market buy takes the ask
    assert held == {"AAPL": D(qty)}


def test_config_check_honours_an_ibkr_block_in_paper_mode() -> None:
    loaded = parse_config(
        {"execution": {"mode": "paper"}, "broker": {"type": "ibkr", "port": 4002, "client_id": 3}},
        env={},
    )
    rows = {r.key: r for r in check(loaded)}
    assert rows["broker.port"].status == "honoured"
    assert rows["broker.client_id"].status == "honoured"
    assert rows["execution.mode"].note == "IbkrBroker on the IB gateway at 127.0.0.1:4002"
