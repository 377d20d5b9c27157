"""The execution agent in mode paper, on a served Alpaca paper account (an in-process
``AlpacaServer`` over a scripted simulated market): the same facade as in simulation."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from decimal import Decimal

import pytest
from polling import settled

from fillforge.agent import ExecutionAgent, OrderReport, SignalReport
from fillforge.alpaca import AlpacaServer, scripted_broker
from fillforge.config import Mode, parse_config

D = Decimal
SECRET = "sEcReT-9f8e7d6c5b4a3210-never-printed"


def test_paper_mode_on_the_served_account_sends_and_fills(
    caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    t = dt.datetime.fromisoformat("2024-06-04T15:00:00+00:00")  # 11:00 New York
    market = scripted_broker(("AAPL",), start_ns=int(t.timestamp()) * 10**9)
    market.quote("AAPL", D("100.00"), D("100.02"), bid_size=D(1000), ask_size=D(1000))
    with AlpacaServer(market, key_id="k", secret_key=SECRET) as server:
        cfg = parse_config(
            {
                "execution": {"mode": "paper", "default_order_type": "market"},
                "position_sizing": {"max_position_size": 0.1},
                "broker": {
                    "type": "alpaca",
                    "api_key": "${K}",
                    "secret_key": "${S}",
                    "base_url": server.base_url,
                },
            },
            env={"K": "k", "S": SECRET},
        ).config

        async def main() -> tuple[SignalReport, OrderReport, dict[str, Decimal], Mode]:
            agent = ExecutionAgent(cfg)
            await agent.start()
            try:
                report = await agent.execute_signals({"AAPL": 0.5}, {"AAPL": D("100.01")})
                status = await settled(agent, report.submitted[0].id)
                perf = await agent.performance()
                return report, status, await agent.positions(), perf.mode
            finally:
                await agent.stop()

        report, status, held, mode = asyncio.run(main())
    assert mode is Mode.PAPER
    assert report.submitted[0].qty == 49  # 0.5 x 10% x 100,000 / 100.01
    assert status.state == "completed"
    assert status.avg_price == D("100.02")  # a market buy takes the ask
    assert held == {"AAPL": D(49)}
    # The secret reached the account, and nothing printed or logged it.
    out, err = capfd.readouterr()
    assert SECRET not in out + err
    assert SECRET not in caplog.text
    assert SECRET not in repr(cfg)
