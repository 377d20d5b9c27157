"""AsyncCcxtBroker: the async broker interface natively on unmodified ``ccxt.async_support.binance``
(and ccxt.pro for the stream) against the served Binance venue over real sockets: the same
guarantees as the sync broker (no duplicate on a retry or a late answer, refusals not retried,
fills made while the network was down arrive, the order stream), from the same shared steps."""

from __future__ import annotations

import asyncio
import inspect
import os
import secrets
from collections.abc import Awaitable, Callable, Iterator
from decimal import Decimal
from typing import Any, get_type_hints

import ccxt
import ccxt.async_support
import pytest

from fillforge.binance import BinanceServer, scripted_broker
from fillforge.broker import AsyncBroker
from fillforge.errors import CcxtError, OrderValidationError
from fillforge.orders.enums import OrderStatus
from fillforge.orders.models import OrderRequest
from fillforge.venues.ccxt import AsyncCcxtBroker, CcxtBroker

D = Decimal
SYMBOL = "BTC/USDT"
BID, ASK = D("30000.00"), D("30000.10")


@pytest.fixture
def server() -> Iterator[BinanceServer]:
    broker = scripted_broker(start_ns=1_700_000_000_000_000_000, cash=D(10_000))
    broker.quote("BTCUSDT", BID, ASK, bid_size=D(2), ask_size=D(2))
    key, secret = secrets.token_hex(16), secrets.token_hex(32)
    with BinanceServer(broker, api_key=key, secret_key=secret, speed=None) as s:
        yield s


def _broker(server: BinanceServer, **kw: Any) -> AsyncCcxtBroker:
    settings: dict[str, Any] = {"poll_every": None, "max_wait": 0.2, **kw}
    return AsyncCcxtBroker(
        "binance",
        api_key=server.api_key,
        secret=server.secret_key,
        config={"urls": {"api": server.urls}},
        **settings,
    )


def _limit(price: Decimal = BID - 100, cid: str | None = None, qty: str = "0.01") -> OrderRequest:
    return OrderRequest(
        symbol=SYMBOL,
        side="buy",
        type="limit",
        time_in_force="gtc",
        qty=D(qty),
        limit_price=price,
        client_order_id=cid,
    )


def _go(
    server: BinanceServer, body: Callable[[AsyncCcxtBroker], Awaitable[None]], **kw: Any
) -> None:
    async def main() -> None:
        async with _broker(server, **kw) as b:
            await body(b)

    asyncio.run(main())


async def _eventually(check: Callable[[], bool], timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():
        assert loop.time() < deadline, "not in time"
        await asyncio.sleep(0.02)


def _fill_down_to(server: BinanceServer, bid: Decimal) -> None:
    server.call(lambda s: s.quote("BTCUSDT", bid, bid + 1, bid_size=D(5), ask_size=D(5)))


def test_it_has_every_async_broker_method_with_its_signature() -> None:
    for name, fn in inspect.getmembers(AsyncBroker, inspect.isfunction):
        if name.startswith("_"):
            continue
        got = getattr(AsyncCcxtBroker, name)
        assert inspect.iscoroutinefunction(got) is inspect.iscoroutinefunction(fn), name
        want = [(p.name, p.kind, p.default) for p in inspect.signature(fn).parameters.values()]
        have = [(p.name, p.kind, p.default) for p in inspect.signature(got).parameters.values()]
        assert have[: len(want)] == want, name
        assert get_type_hints(got).get("return") == get_type_hints(fn).get("return"), name


def test_limit_market_cancel_and_the_account_through_async_support(server: BinanceServer) -> None:
    async def body(b: AsyncCcxtBroker) -> None:
        assert isinstance(b, AsyncBroker)
        assert type(b.exchange).__module__.startswith("ccxt.async_support")
        events = b.events()
        resting = await b.submit(_limit(price=BID - 1))
        assert resting.status is OrderStatus.NEW
        _fill_down_to(server, BID - 3)
        await b.reconcile()
        assert resting.status is OrderStatus.FILLED
        assert resting.cum_qty == D("0.01")
        assert resting.avg_price is not None
        assert resting.avg_price <= BID - 1
        fee = next(iter(resting.fills.values())).commission
        assert fee == resting.avg_price * D("0.01") * D("0.001")  # 0.1 %, quote asset, exact
        sold = await b.submit(
            OrderRequest(
                symbol=SYMBOL, side="sell", type="market", time_in_force="ioc", qty=D("0.004")
            )
        )
        assert sold.status is OrderStatus.FILLED  # the new-order answer's trades
        other = await b.submit(_limit())
        await b.cancel(other.id)
        assert (await b.get_order(other.id)).status is OrderStatus.CANCELED
        two = [await b.submit(_limit(price=BID - 200 - i)) for i in range(2)]
        await b.cancel_all(SYMBOL)
        assert {o.status for o in two} == {OrderStatus.CANCELED}
        account = await b.account()
        assert account.positions[SYMBOL].qty == D("0.006")
        assert account.fees_paid == fee + next(iter(sold.fills.values())).commission
        assert (await b.clock()).is_open
        quote = await b.latest_quote(SYMBOL)
        assert quote is not None
        assert quote.bid_price == BID - 3
        kinds = [e.kind.value async for e in _drain(events)]
        assert kinds.count("fill") == 2
        assert kinds.count("canceled") == 3

    _go(server, body)


async def _drain(events: Any) -> Any:
    for e in events:  # what is buffered now
        yield e


def test_a_503_after_the_order_was_placed_is_retried_without_a_duplicate(
    server: BinanceServer,
) -> None:
    async def body(b: AsyncCcxtBroker) -> None:
        server.faults.fail(503, 1, after=True)
        o = await b.submit(_limit(cid="async-503"))
        assert o.status is OrderStatus.NEW
        assert server.faults.injected == 1
        assert [x.client_order_id for x in server.call(lambda s: s.orders())] == ["async-503"]

    _go(server, body)


def test_a_late_answer_is_resolved_by_the_client_order_id(server: BinanceServer) -> None:
    async def body(b: AsyncCcxtBroker) -> None:
        server.faults.delay(1.0, 1)
        o = await b.submit(_limit(cid="async-late"))
        assert o.client_order_id == "async-late"
        assert len(server.call(lambda s: s.orders())) == 1

    _go(server, body, timeout=0.3)


def test_refusals_are_not_retried_and_change_nothing(server: BinanceServer) -> None:
    async def body(b: AsyncCcxtBroker) -> None:
        with pytest.raises(CcxtError, match="InsufficientFunds"):
            await b.submit(_limit(qty="10"))
        with pytest.raises(OrderValidationError, match="limit_price"):
            await b.submit(_limit(price=D("29999.001")))
        assert await b.orders() == []
        assert server.call(lambda s: s.orders()) == []

    _go(server, body)


def test_fills_made_while_the_network_was_down_arrive_after_it_comes_back(
    server: BinanceServer,
) -> None:
    async def body(b: AsyncCcxtBroker) -> None:
        o = await b.submit(_limit(price=BID - 1))
        _fill_down_to(server, BID - 3)
        server.faults.fail(503, 2, after=False)
        assert (await b.account()).cash  # the third try goes through: a reconnect
        assert b.reconnects == 1
        await _eventually(lambda: o.status is OrderStatus.FILLED)

    _go(server, body)


def test_the_poll_brings_fills_without_being_asked(server: BinanceServer) -> None:
    async def body(b: AsyncCcxtBroker) -> None:
        o = await b.submit(_limit(price=BID - 1))
        _fill_down_to(server, BID - 3)
        await _eventually(lambda: o.status is OrderStatus.FILLED)

    _go(server, body, poll_every=0.05)


def test_the_stream_brings_fills_and_reconciles_after_a_drop(server: BinanceServer) -> None:
    async def body(b: AsyncCcxtBroker) -> None:
        assert b.stream is not None
        o = await b.submit(_limit(price=BID - 1))
        _fill_down_to(server, BID - 3)
        await _eventually(lambda: o.status is OrderStatus.FILLED)  # no poll: the stream
        assert b.stream.updates >= 1
        assert b.stream.failures == 0
        second = await b.submit(_limit(price=BID - 10))
        server.stream.drop()  # the fill below happens while the socket is down
        _fill_down_to(server, BID - 13)
        await _eventually(lambda: second.status is OrderStatus.FILLED)
        assert b.reconnects >= 1

    _go(server, body, stream=True)


def test_market_data_subscriptions_poll_through_the_loop(server: BinanceServer) -> None:
    async def body(b: AsyncCcxtBroker) -> None:
        seen: list[Any] = []
        stop = await b.subscribe_quotes(SYMBOL, seen.append)
        _fill_down_to(server, BID - 1)
        await _eventually(lambda: bool(seen))
        stop()
        assert seen[-1].bid_price == BID - 1

    _go(server, body, data_poll_every=0.05)


def test_every_exchange_builds_on_async_support() -> None:
    for name in ("binance", "bybit", "coinbase"):
        b = AsyncCcxtBroker(name, poll_every=None)
        assert b.id == name
        assert type(b.exchange).__module__.startswith("ccxt.async_support")
        assert b.exchange.enableRateLimit is False  # the Rust throttle limits instead
    with pytest.raises(CcxtError, match="not an exchange"):
        AsyncCcxtBroker("nosuchvenue")
    with pytest.raises(OrderValidationError, match=r"ccxt\.async_support"):
        AsyncCcxtBroker(ccxt.binance())  # a sync exchange under the async broker
    with pytest.raises(OrderValidationError, match="expected a ccxt exchange"):
        CcxtBroker(ccxt.async_support.binance())


@pytest.mark.skipif(
    not (os.environ.get("BINANCE_TESTNET_KEY") and os.environ.get("BINANCE_TESTNET_SECRET")),
    reason="BINANCE_TESTNET_KEY / BINANCE_TESTNET_SECRET are not set",
)
def test_a_resting_limit_on_binances_testnet() -> None:  # pragma: no cover - needs keys
    async def main() -> None:
        b = AsyncCcxtBroker(
            "binance",
            api_key=os.environ["BINANCE_TESTNET_KEY"],
            secret=os.environ["BINANCE_TESTNET_SECRET"],
            poll_every=None,
        )
        b.exchange.set_sandbox_mode(True)
        async with b:
            last = (await b.last_trade(SYMBOL)).price  # type: ignore[union-attr]
            o = await b.submit(_limit(price=(last / 2).quantize(D("0.01")), qty="0.001"))
            await b.cancel(o.id)
            assert o.status is OrderStatus.CANCELED

    asyncio.run(main())
