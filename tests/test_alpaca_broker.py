"""AlpacaBroker (alpaca-py TradingClient + TradingStream behind the Broker interface) against
fillforge's Alpaca-compatible server: order flow, the same fills as SimulatedBroker, retries
without duplicates, and recovery after a dropped stream."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from decimal import Decimal

import pytest
from order_helpers import gtc_limit
from polling import wait_for
from served_helpers import alpaca_broker, quote

from fillforge.alpaca import AlpacaServer, scripted_broker
from fillforge.alpaca.broker import AlpacaBroker, AlpacaError
from fillforge.orders.enums import OrderSide, OrderStatus, OrderType
from fillforge.orders.models import OrderRequest
from fillforge.sim.broker import Broker, SimulatedBroker
from fillforge.testing import ALPACA_SERVER_START_NS

D = Decimal


@pytest.fixture
def adapter(alpaca_server: AlpacaServer) -> Iterator[AlpacaBroker]:
    b = alpaca_broker(
        alpaca_server,
        timeout=2.0,
        max_wait=0.5,
    )
    with b:
        wait_for(lambda: bool(alpaca_server._streams))
        yield b


def limit(side: str, qty: int, price: str, cid: str | None = None) -> OrderRequest:
    return gtc_limit("AAPL", side, qty, price, client_order_id=cid)


def test_adapter_is_a_broker_and_follows_an_order(
    alpaca_server: AlpacaServer, adapter: AlpacaBroker
) -> None:
    assert isinstance(adapter, Broker)
    quote(alpaca_server, "100.00", "100.02")
    o = adapter.submit(limit("buy", 10, "99.50"))
    assert o.status is OrderStatus.NEW
    quote(alpaca_server, "99.40", "99.45", size=4)
    quote(alpaca_server, "99.40", "99.45", size=6)
    wait_for(lambda: o.status is OrderStatus.FILLED)
    assert [(f.price, f.qty) for f in o.fills.values()] == [(D("99.45"), 4), (D("99.45"), 6)]
    assert adapter.positions()["AAPL"].qty == 10
    assert adapter.account().cash == D(100_000) - D("994.50")
    assert adapter.clock().next_close_ns is not None


def test_cancel_and_replace(alpaca_server: AlpacaServer, adapter: AlpacaBroker) -> None:
    quote(alpaca_server, "100.00", "100.02")
    a = adapter.submit(limit("buy", 5, "99.00"))
    adapter.replace(a.id, limit_price=D("99.10"))
    assert a.status is OrderStatus.REPLACED
    assert a.replaced_by is not None
    new = adapter.get_order(a.replaced_by)
    assert new.limit_price == D("99.10")
    adapter.cancel(new.id)
    wait_for(lambda: new.status is OrderStatus.CANCELED)
    with pytest.raises(AlpacaError) as e:  # already canceled: a 4xx, not retried
        adapter._call(lambda: adapter._client.cancel_order_by_id(new.id))
    assert e.value.status == 422


def strategy(
    broker: Broker, script: Callable[[str, str, int], None]
) -> list[tuple[Decimal, Decimal]]:
    """A small strategy written once against the Broker interface."""
    script("100.00", "100.02", 1000)
    entry = broker.submit(limit("buy", 30, "99.50"))
    script("99.60", "99.70", 1000)
    script("99.45", "99.48", 12)  # the offer moves through our bid: 12 fill
    script("99.40", "99.47", 25)  # then the rest
    exit_ = broker.submit(limit("sell", 30, "99.60"))
    script("99.61", "99.63", 40)  # the bid moves through our offer
    return [(f.price, f.qty) for o in (entry, exit_) for f in o.fills.values()]


def test_the_same_strategy_gets_the_same_fills_on_both_brokers(alpaca_server: AlpacaServer) -> None:
    sim: SimulatedBroker = scripted_broker(("AAPL",), start_ns=ALPACA_SERVER_START_NS)

    def script_sim(bid: str, ask: str, size: int) -> None:
        sim.quote("AAPL", D(bid), D(ask), bid_size=D(size), ask_size=D(size))

    expected = strategy(sim, script_sim)
    assert sum(q for _, q in expected) == 60

    with alpaca_broker(alpaca_server) as live:
        wait_for(lambda: bool(alpaca_server._streams))

        def script_server(bid: str, ask: str, size: int) -> None:
            quote(alpaca_server, bid, ask, size)
            time.sleep(0.05)  # let the stream deliver before the strategy looks

        got = strategy(live, script_server)
        wait_for(lambda: sum(o.cum_qty for o in live.orders()) == 60)
        got = [(f.price, f.qty) for o in live.orders() for f in o.fills.values()]
    assert got == expected


def test_failures_after_placement_never_duplicate_an_order(
    alpaca_server: AlpacaServer, adapter: AlpacaBroker
) -> None:
    quote(alpaca_server, "100.00", "100.02")
    alpaca_server.faults.fail(500, after=True)  # placed, but the client sees a 500
    a = adapter.submit(limit("buy", 1, "99.00", cid="once-1"))
    alpaca_server.faults.delay(3.0)  # placed, but the answer comes after the 2 s client timeout
    b = adapter.submit(limit("buy", 1, "98.90", cid="once-2"))
    placed = alpaca_server.call(lambda broker: [o.client_order_id for o in broker.orders()])
    assert sorted(placed) == ["once-1", "once-2"]
    assert (a.status, b.status) == (OrderStatus.NEW, OrderStatus.NEW)
    assert alpaca_server.faults.injected == 2


def test_429_and_5xx_before_placement_are_retried_and_other_4xx_are_not(
    alpaca_server: AlpacaServer, adapter: AlpacaBroker
) -> None:
    quote(alpaca_server, "100.00", "100.02")
    alpaca_server.faults.fail(429, after=False)
    alpaca_server.faults.fail(503, after=False)
    o = adapter.submit(limit("buy", 1, "99.00"))
    assert o.status is OrderStatus.NEW
    assert alpaca_server.faults.injected == 2
    with pytest.raises(AlpacaError) as e:
        adapter.submit(limit("buy", 10**6, "99.00"))
    assert (e.value.status, e.value.code) == (403, 40310000)
    assert alpaca_server.faults.injected == 2


def test_reconcile_catches_up_fills_missed_while_the_stream_was_down(
    alpaca_server: AlpacaServer, adapter: AlpacaBroker
) -> None:
    quote(alpaca_server, "100.00", "100.02")
    o = adapter.submit(limit("buy", 10, "99.50"))
    alpaca_server.drop_streams()
    wait_for(lambda: not alpaca_server._streams)
    quote(alpaca_server, "99.40", "99.45")  # fills while nobody listens
    assert o.status is OrderStatus.NEW
    adapter.reconcile()
    assert o.status is OrderStatus.FILLED
    assert o.avg_price == D("99.45")


@pytest.fixture
def busy_server() -> Iterator[AlpacaServer]:
    """A server whose rate limit does not bind (the fault test sends a few thousand requests)."""
    broker = scripted_broker(("AAPL",), cash=D(10**7), start_ns=ALPACA_SERVER_START_NS)
    with AlpacaServer(broker, key_id="k", secret_key="s", requests_per_minute=10**6) as server:
        yield server


def test_a_thousand_orders_under_random_faults_lose_and_duplicate_nothing(
    busy_server: AlpacaServer,
) -> None:
    import random

    alpaca_server = busy_server
    rng = random.Random(20261123)
    quote(alpaca_server, "100.00", "100.02", size=10**6)
    faults = alpaca_server.faults
    with alpaca_broker(
        alpaca_server,
        timeout=0.3,
        max_wait=0.02,
        attempts=10,
        requests_per_minute=10**6,
    ) as adapter:
        placed = []
        restarts = 0
        for i in range(1000):
            r = rng.random()
            if r < 0.05:
                faults.fail(500, after=True)  # done, but the client sees an error
            elif r < 0.08:
                faults.fail(503, after=False)
            elif r < 0.10:
                faults.fail(429, after=False)
            elif r < 0.12:
                faults.delay(0.4)  # done, but the answer misses the 0.3 s timeout
            elif r < 0.13:
                alpaca_server.drop_streams()
            elif r < 0.135:
                alpaca_server.restart()
                restarts += 1
            # One side only: a market order against the account's own resting limit on the
            # other side is refused as a potential wash trade, as Alpaca refuses it.
            side = "buy"
            if rng.random() < 0.5:
                req = limit(side, 1, "90.00", cid=f"f-{i}")
            else:
                req = OrderRequest(
                    symbol="AAPL",
                    side=OrderSide(side),
                    type=OrderType.MARKET,
                    qty=D(1),
                    client_order_id=f"f-{i}",
                )
            o = adapter.submit(req)
            placed.append(o)
            if o.status.is_open and rng.random() < 0.3:
                adapter.cancel(o.id)
        faults.clear()
        adapter.reconcile()
        on_server = alpaca_server.call(
            lambda b: {o.client_order_id: (o.status, o.cum_qty) for o in b.orders()}
        )
        assert sorted(on_server) == sorted(f"f-{i}" for i in range(1000)), "none lost, none twice"
        for o in placed:
            status, cum = on_server[o.client_order_id]
            assert (o.status.alpaca, o.cum_qty) == (status.alpaca, cum), o
    assert faults.injected > 100
    assert restarts > 0


def test_a_stream_reconnect_reconciles_by_itself(
    alpaca_server: AlpacaServer, adapter: AlpacaBroker
) -> None:
    quote(alpaca_server, "100.00", "100.02")
    o = adapter.submit(limit("buy", 10, "99.50"))
    alpaca_server.drop_streams()
    wait_for(lambda: not alpaca_server._streams)
    quote(alpaca_server, "99.40", "99.45")  # fills while the stream is down
    assert o.status is OrderStatus.NEW
    # The SDK reconnects after its backoff (1 s and up); the adapter then reconciles.
    wait_for(lambda: o.status is OrderStatus.FILLED, timeout=40)
    assert adapter.reconnects >= 1
    assert o.avg_price == D("99.45")


def test_without_the_sdk_hook_a_timer_reconciles_instead(
    alpaca_server: AlpacaServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A newer alpaca-py may move the private connect step the adapter wraps: then it warns, and
    # a timer catches up what the stream missed.
    monkeypatch.setattr("fillforge.alpaca.order_sync._SDK_CONNECT", "_no_such_step")
    monkeypatch.setattr("fillforge.alpaca.order_sync._FALLBACK_RECONCILE_S", 0.2)
    with pytest.warns(RuntimeWarning, match="reconciled every 0.2 s"):
        adapter = alpaca_broker(alpaca_server)
    with adapter:
        wait_for(lambda: bool(alpaca_server._streams))
        quote(alpaca_server, "100.00", "100.02")
        o = adapter.submit(limit("buy", 10, "99.50"))
        alpaca_server.drop_streams()
        wait_for(lambda: not alpaca_server._streams)
        quote(alpaca_server, "99.40", "99.45")  # fills while the stream is down
        wait_for(lambda: o.status is OrderStatus.FILLED, timeout=3)  # well before the SDK's 1 s+
        assert adapter.reconnects == 0  # nothing watched the reconnect: the timer did it
        assert o.avg_price == D("99.45")


def test_reconcile_every_must_be_positive(alpaca_server: AlpacaServer) -> None:
    with pytest.raises(AlpacaError, match="reconcile_every must be > 0, got 0"):
        AlpacaBroker("k", "s", url_override=alpaca_server.base_url, reconcile_every=0)


def test_a_local_server_is_reached_directly_whatever_proxy_the_environment_names(
    alpaca_server: AlpacaServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A proxy that answers nothing: requests would send loopback traffic to it from the SDK.
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")
    adapter = AlpacaBroker(
        alpaca_server.key_id,
        alpaca_server.secret_key,
        url_override=alpaca_server.base_url,
        stream=False,
        attempts=1,
    )
    assert adapter.account().cash == D(100_000)


def test_the_lookup_before_a_retry_is_retried_typed_and_never_duplicates(
    alpaca_server: AlpacaServer,
) -> None:
    """A submit placed but answered 500: before sending again, the broker asks for the order by
    its client order id; that lookup may meet a 429 too. It is retried like any request, and
    once the tries are spent the refusal is an AlpacaError, never alpaca-py's APIError."""
    quote(alpaca_server, "100.00", "100.02")
    faults = alpaca_server.faults
    with alpaca_broker(alpaca_server, timeout=2.0, max_wait=0.05, attempts=3) as b:
        faults.fail(500, after=True)  # placed; the client sees a 500
        faults.fail(429, after=False)  # the first lookup is refused, the second finds it
        o = b.submit(limit("buy", 1, "99.00", cid="look-1"))
        assert (o.client_order_id, o.status) == ("look-1", OrderStatus.NEW)
        assert faults.injected == 2

        faults.fail(500, after=True)
        faults.fail(429, n=2, after=False)  # every lookup refused: the tries run out
        with pytest.raises(AlpacaError) as e:
            b.submit(limit("buy", 1, "98.90", cid="look-2"))
        assert e.value.status == 429
        assert faults.injected == 5
    placed = alpaca_server.call(lambda broker: [o.client_order_id for o in broker.orders()])
    assert sorted(placed) == ["look-1", "look-2"]  # each once: nothing was sent twice


def test_a_replacement_seen_before_the_replace_reply_carries_the_fills_once(
    alpaca_server: AlpacaServer,
) -> None:
    """The trade_updates stream can show the replacement (its ``filled_qty`` carries the old
    order's fills) before the replace's REST reply or the old order's ``replaced``: it must
    become the old order's replacement, not a new order whose fills count again (a crash run
    journalled 4 shares twice that way)."""
    import threading

    from alpaca.trading.requests import LimitOrderRequest, ReplaceOrderRequest
    from served_helpers import trading_client

    from fillforge.alpaca.order_sync import OrderSync
    from fillforge.orders.manager import OrderManager
    from fillforge.time import WallClock

    client = trading_client(alpaca_server)
    quote(alpaca_server, "100.00", "100.02")
    placed = client.submit_order(
        LimitOrderRequest(symbol="AAPL", qty=10, side="buy", limit_price=99.50, time_in_force="gtc")
    )
    quote(alpaca_server, "99.40", "99.45", size=4)  # 4 of the 10 fill
    old = client.get_order_by_id(placed.id)  # type: ignore[union-attr]
    sync = OrderSync(OrderManager(), threading.RLock(), client, lambda f, *_: f(), WallClock())
    sync.adopt(old, None)  # type: ignore[arg-type]
    local = sync.manager.get(str(old.id))  # type: ignore[union-attr]
    assert local.cum_qty == 4
    new = client.replace_order_by_id(old.id, ReplaceOrderRequest(limit_price=99.30))  # type: ignore[union-attr]
    assert str(new.filled_qty) == "4"  # type: ignore[union-attr]  # the old order's, carried
    sync.adopt(new, None)  # type: ignore[arg-type]  # the stream's update, first
    replacement = sync.manager.get(str(new.id))  # type: ignore[union-attr]
    assert local.status is OrderStatus.REPLACED
    assert local.replaced_by == replacement.id
    assert replacement.cum_qty == 4
    # The replacement carries the old order's execution (the same trade id), and makes none
    # of its own from the carried filled_qty (a "-sync-" fill).
    every = {f.trade_id: f for o in sync.manager.orders.values() for f in o.fills.values()}
    assert sum(f.qty for f in every.values()) == 4
    assert list(replacement.fills) == list(local.fills)
    sync.replaced(str(old.id), str(new.id), 0)  # the REST reply after: changes nothing  # type: ignore[union-attr]
    assert len(sync.manager.orders) == 2
