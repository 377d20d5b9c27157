"""The agent process of the served "middle of a parent's schedule" crash test
(``tests/test_state_recovery_served.py``, issue 18)::

    FILLFORGE_CRASH_AT=schedule:2 APCA_API_KEY_ID=... APCA_API_SECRET_KEY=... \\
        python tests/crash_parent_agent.py --journal J --base-url URL --stream-url WS \\
        --qty 200 --run 0

An :class:`~fillforge.agent.ExecutionAgent` in paper mode on the served account, with a
journal. On its first start it sends one parent (AAPL, ``--qty`` shares, children of 2,000 USD
every 3 s); on every start it then waits until that parent is done. ``FILLFORGE_CRASH_AT``
kills it (SIGKILL) at that pass of a point: ``schedule`` is between two children. A restart on
the same journal recovers the parent and finishes it. The first line of output is the recovery
report as JSON, the last one the parent's status.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from decimal import Decimal

from fillforge.agent import ExecutionAgent
from fillforge.alpaca.broker import AlpacaBroker
from fillforge.config import parse_config
from fillforge.config.model import Config

D = Decimal


def config(base_url: str) -> Config:
    data = {
        "execution": {
            "mode": "paper",
            "default_order_type": "market",
            "time_slicing": {
                "enabled": True,
                "child_order_size_usd": 2000,
                "interval_seconds": 3,
            },
            "broker": {"type": "alpaca", "base_url": base_url},
        },
    }
    return parse_config(data).config


async def life(args: argparse.Namespace) -> int:
    broker = AlpacaBroker(
        url_override=args.base_url,
        stream_url=args.stream_url,
        timeout=30.0,
        requests_per_minute=1_000_000,
    )
    broker.connect()
    agent = ExecutionAgent(config(args.base_url), broker=broker, journal=args.journal)
    await agent.start()
    report = agent.recovery
    assert report is not None
    print(report.model_dump_json(), flush=True)
    if report.first_start:
        await agent.submit_order("AAPL", "buy", D(args.qty), price=D("100.02"))
    deadline = time.monotonic() + 90
    status = await agent.get_order_status("ff1")
    while not status.done and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
        status = await agent.get_order_status("ff1")
    await agent.stop()
    broker.close()
    print(json.dumps({"run": args.run, "state": status.state, "filled": str(status.filled_qty)}))
    return 0 if status.done else 1


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--journal", required=True)
    p.add_argument("--base-url", required=True)
    p.add_argument("--stream-url", required=True)
    p.add_argument("--qty", type=int, default=200)
    p.add_argument("--run", type=int, default=0)
    return asyncio.run(life(p.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
