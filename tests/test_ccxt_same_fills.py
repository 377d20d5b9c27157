"""One strategy, unchanged, on ``SimulatedBroker`` and on ``CcxtBroker`` over the served Binance
venue: the same fills (price, quantity, fee, liquidity) from the same prices (issue 20, "What to
show", for the crypto pair)."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from decimal import Decimal

import ccxt

from fillforge.binance import BinanceServer, scripted_broker
from fillforge.broker import Broker
from fillforge.orders.models import OrderRequest
from fillforge.sim.broker import SimulatedBroker
from fillforge.venues.ccxt import CcxtBroker

D = Decimal
START_NS = 1_700_000_000_000_000_000
Script = Callable[[Callable[[SimulatedBroker], None]], None]


def strategy(broker: Broker, symbol: str, script: Script, settle: Callable[[], None]) -> None:
    """Rest a bid, let the market come to it, take some profit at market, protect the rest
    with a stop-limit that a falling print triggers."""

    def order(**kw: object) -> OrderRequest:
        return OrderRequest.model_validate({"symbol": symbol, **kw})

    broker.submit(
        order(side="buy", type="limit", time_in_force="gtc", qty="0.02", limit_price="29990")
    )
    script(lambda b: b.quote("BTCUSDT", D(29_980), D("29989.50"), bid_size=D(1), ask_size=D(1)))
    settle()
    broker.submit(order(side="sell", type="market", time_in_force="ioc", qty="0.005"))
    broker.submit(
        order(
            side="sell",
            type="stop_limit",
            time_in_force="gtc",
            qty="0.015",
            stop_price="29950",
            limit_price="29900",
        )
    )
    script(lambda b: b.trade("BTCUSDT", D(29_950), D("0.1")))
    settle()


def _fills(broker: Broker) -> list[tuple[str, Decimal, Decimal, Decimal, str]]:
    out = []
    for o in sorted(broker.orders(), key=lambda o: o.created_ts):
        for f in o.fills.values():
            out.append((o.request.side.value, f.price, f.qty, f.commission, f.liquidity.value))
    return out


def _venue() -> SimulatedBroker:
    b = scripted_broker(start_ns=START_NS, cash=D(10_000))
    b.quote("BTCUSDT", D(30_000), D("30000.10"), bid_size=D(1), ask_size=D(1))
    return b


def test_the_same_strategy_gets_the_same_fills_simulated_and_through_ccxt() -> None:
    sim = _venue()
    strategy(sim, "BTCUSDT", lambda f: f(sim), lambda: None)
    expected = _fills(sim)
    assert len(expected) >= 3  # the bid, the market sale, the stop

    served = _venue()
    key, secret = secrets.token_hex(8), secrets.token_hex(16)
    with BinanceServer(served, api_key=key, secret_key=secret, speed=None) as server:
        ex = ccxt.binance({"apiKey": key, "secret": secret, "urls": {"api": server.urls}})
        with CcxtBroker(ex, poll_every=None) as live:
            strategy(live, "BTC/USDT", server.call, live.reconcile)
            assert _fills(live) == expected
        assert _fills(served) == expected
