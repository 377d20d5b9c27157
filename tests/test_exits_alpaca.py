"""The same exit plan on AlpacaBroker against the served paper account: the venue OCO, and the
local emulation driven by the broker's polled trades and quotes, and a bracket entry (its legs
claimed as they show) all stop the position out."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
from polling import eventually
from served_helpers import alpaca_broker

from fillforge.alpaca.broker import AlpacaBroker
from fillforge.alpaca.server import AlpacaServer
from fillforge.exits import Distance, ExitManager, ExitMode, ExitPlan, Phase, Target
from fillforge.orders.enums import OrderSide
from fillforge.orders.models import Instrument, OrderRequest

D = Decimal
AAPL = Instrument(symbol="AAPL", tick_size=D("0.01"))


@pytest.fixture
def live(alpaca_server: AlpacaServer) -> Iterator[AlpacaBroker]:
    b = alpaca_broker(alpaca_server, data_poll_every=0.02)
    with b:  # starts the trade-update stream
        assert eventually(lambda: bool(alpaca_server._streams))
        yield b


@pytest.mark.parametrize(("mode", "bracket"), [("venue", False), ("local", False), ("venue", True)])
def test_a_stop_on_the_served_paper_account(
    alpaca_server: AlpacaServer, live: AlpacaBroker, mode: str, bracket: bool
) -> None:
    alpaca_server.call(lambda b: b.quote("AAPL", D("99.98"), D("100.00"), bid_size=D(1000)))
    mgr = ExitManager(live, mode=mode)
    plan = ExitPlan(stop=Distance.of_percent(2), targets=(Target(2),))
    entry = OrderRequest(symbol="AAPL", side=OrderSide.BUY, qty=D(10))
    m = mgr.enter(entry, plan, AAPL, bracket=bracket)
    assert eventually(lambda: m.phase is Phase.ACTIVE), m.log
    assert (m.mode, m.entry_price, m.stop_price) == (ExitMode(mode), D("100.00"), D("98.00"))
    assert eventually(lambda: len(live.orders(open_only=True)) == (2 if mode == "venue" else 1))

    def fall(b: object) -> None:
        b.quote("AAPL", D("97.50"), D("97.52"), bid_size=D(1000))  # type: ignore[attr-defined]
        b.trade("AAPL", D("97.50"), D(5))  # type: ignore[attr-defined]

    alpaca_server.call(fall)
    assert eventually(lambda: m.phase is Phase.DONE), m.log
    assert m.reason == "stop"
    assert eventually(lambda: "AAPL" not in live.positions()), live.positions()
    assert eventually(lambda: live.orders(open_only=True) == []), live.orders(open_only=True)
    mgr.close()
