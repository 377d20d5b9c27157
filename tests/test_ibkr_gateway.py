"""The local IB gateway against unmodified ib_async over real sockets: orders really match and
fill on the simulated exchange, and come back as TWS sends them."""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterator
from decimal import Decimal

import pytest

pytest.importorskip("ib_async")

from ib_async import IB, LimitOrder, MarketOrder, Stock, StopOrder

from fillforge.ibkr import SERVER_VERSION, IbGateway, scripted_broker
from fillforge.orders.enums import OrderSide
from fillforge.sim.broker import SimulatedBroker
from fillforge.time import WallClock

D = Decimal
# ib_async runs on the main thread's loop: each test has its own (conftest.own_event_loop).
pytestmark = pytest.mark.usefixtures("own_event_loop")


@pytest.fixture
def gateway() -> Iterator[IbGateway]:
    broker = scripted_broker(["AAPL", "MSFT"], start_ns=WallClock().now_ns())
    broker.quote("AAPL", D("100.00"), D("100.02"), bid_size=D(500), ask_size=D(500))
    broker.quote("MSFT", D("300.00"), D("300.05"))
    with IbGateway(broker) as g:
        yield g


@pytest.fixture
def ib(gateway: IbGateway) -> Iterator[IB]:
    client = IB()
    client.connect("127.0.0.1", gateway.port, clientId=7, timeout=10)
    yield client
    client.disconnect()


def aapl(ib: IB) -> Stock:
    [c] = ib.qualifyContracts(Stock("AAPL", "SMART", "USD"))
    return c


def wait(ib: IB, done: object, timeout: float = 5.0) -> None:
    """Let ib_async read until ``done()`` holds (or time out)."""
    ib.sleep(0)
    for _ in range(int(timeout / 0.02)):
        if done():  # type: ignore[operator]
            return
        ib.sleep(0.02)
    raise AssertionError("timed out")


def print_trade(g: IbGateway, price: str, qty: int, aggressor: OrderSide) -> None:
    def run(b: SimulatedBroker) -> None:
        b.trade("AAPL", D(price), D(qty), aggressor=aggressor)

    g.call(run)


def test_connect_handshake_accounts_and_time(gateway: IbGateway, ib: IB) -> None:
    assert ib.client.serverVersion() == SERVER_VERSION == 178
    assert ib.managedAccounts() == ["DU1234567"]
    now = ib.reqCurrentTime()
    assert abs(now.timestamp() - WallClock().now_ns() / 1e9) < 60


def test_contract_details_give_tick_and_lot(ib: IB) -> None:
    c = aapl(ib)
    assert c.conId == 100_001
    [details] = ib.reqContractDetails(c)
    assert details.minTick == 0.01
    assert details.sizeIncrement == 1
    assert ib.qualifyContracts(Stock("NOPE", "SMART", "USD")) == [None]


def test_market_order_fills_with_execution_and_commission(gateway: IbGateway, ib: IB) -> None:
    c = aapl(ib)
    trade = ib.placeOrder(c, MarketOrder("BUY", 10))
    wait(ib, lambda: trade.orderStatus.status == "Filled" and trade.fills)
    assert trade.orderStatus.filled == 10
    assert trade.orderStatus.avgFillPrice == 100.02
    [fill] = trade.fills
    assert fill.execution.side == "BOT"
    assert fill.execution.shares == 10
    wait(ib, lambda: fill.commissionReport.commission > 0)
    assert fill.commissionReport.commission == 1.0  # 10 x 0.005 = 0.05, the USD 1 minimum
    wait(ib, lambda: any(p.position == 10 for p in ib.positions()))
    summary = {v.tag: v.value for v in ib.accountSummary()}
    assert D(summary["TotalCashValue"]) == D(1_000_000) - D("1000.20") - 1


def test_limit_rests_is_modified_then_fills(gateway: IbGateway, ib: IB) -> None:
    c = aapl(ib)
    trade = ib.placeOrder(c, LimitOrder("BUY", 5, 99.00))
    wait(ib, lambda: trade.orderStatus.status == "Submitted")
    trade.order.lmtPrice = 99.50
    ib.placeOrder(c, trade.order)
    wait(ib, lambda: trade.log[-1].message == "Modified")
    print_trade(gateway, "99.40", 600, OrderSide.SELL)  # through the 100.00 bid, then ours
    wait(ib, lambda: trade.orderStatus.status == "Filled")
    assert trade.fills[0].execution.price == 99.50


def test_outside_rth_is_kept_on_the_order_and_through_a_modify(gateway: IbGateway, ib: IB) -> None:
    c = aapl(ib)
    order = LimitOrder("BUY", 2, 98.00)
    order.outsideRth = True
    trade = ib.placeOrder(c, order)
    wait(ib, lambda: trade.orderStatus.status == "Submitted")
    trade.order.lmtPrice = 98.50
    ib.placeOrder(c, trade.order)
    wait(ib, lambda: trade.log[-1].message == "Modified")
    other = IB()  # another client: it knows the order only from the gateway's openOrder
    other.connect("127.0.0.1", gateway.port, clientId=8, timeout=10)
    try:
        (served,) = [t.order for t in other.reqAllOpenOrders() if t.order.permId]
        assert (served.outsideRth, served.lmtPrice) == (True, 98.50)
    finally:
        other.disconnect()


def test_stop_rests_until_the_market_trades_through(gateway: IbGateway, ib: IB) -> None:
    c = aapl(ib)
    trade = ib.placeOrder(c, StopOrder("BUY", 3, 101.00))
    wait(ib, lambda: trade.orderStatus.status == "Submitted")
    ib.sleep(0.2)
    assert trade.orderStatus.status == "Submitted"
    assert not trade.fills
    print_trade(gateway, "101.00", 1000, OrderSide.BUY)
    wait(ib, lambda: trade.orderStatus.status == "Filled")


def test_cancel_and_global_cancel(gateway: IbGateway, ib: IB) -> None:
    c = aapl(ib)
    one = ib.placeOrder(c, LimitOrder("BUY", 1, 90.00))
    two = ib.placeOrder(c, LimitOrder("SELL", 1, 110.00))
    three = ib.placeOrder(c, LimitOrder("BUY", 1, 91.00))
    wait(ib, lambda: all(t.orderStatus.status == "Submitted" for t in (one, two, three)))
    ib.cancelOrder(one.order)
    wait(ib, lambda: one.orderStatus.status == "Cancelled")
    assert two.orderStatus.status == "Submitted"
    ib.reqGlobalCancel()
    wait(ib, lambda: two.isDone() and three.isDone())
    assert ib.reqOpenOrders() == []


def test_bracket_parent_fills_children_work_one_exit_cancels_the_other(
    gateway: IbGateway, ib: IB
) -> None:
    c = aapl(ib)
    parent, take, stop = ib.bracketOrder("BUY", 3, 100.02, 101.00, 99.00)
    trades = [ib.placeOrder(c, o) for o in (parent, take, stop)]
    wait(ib, lambda: trades[0].orderStatus.status == "Filled")
    wait(ib, lambda: all(t.orderStatus.status == "Submitted" for t in trades[1:]))
    print_trade(gateway, "101.00", 1000, OrderSide.BUY)
    wait(ib, lambda: trades[1].orderStatus.status == "Filled")
    wait(ib, lambda: trades[2].orderStatus.status == "Cancelled")
    wait(ib, lambda: any(p.position == 0 for p in ib.positions()) or not ib.positions())


def test_bracket_children_wait_while_the_parent_rests(gateway: IbGateway, ib: IB) -> None:
    c = aapl(ib)
    parent, take, stop = ib.bracketOrder("BUY", 2, 99.00, 101.00, 98.00)
    trades = [ib.placeOrder(c, o) for o in (parent, take, stop)]
    wait(ib, lambda: trades[0].orderStatus.status == "Submitted")
    wait(ib, lambda: all(t.orderStatus.status == "PreSubmitted" for t in trades[1:]))
    ib.cancelOrder(parent)
    wait(ib, lambda: all(t.orderStatus.status == "Cancelled" for t in trades))


def test_oca_group_one_fill_cancels_the_rest(gateway: IbGateway, ib: IB) -> None:
    c = aapl(ib)
    orders = [LimitOrder("SELL", 2, 101.00), LimitOrder("SELL", 2, 102.00)]
    placed = [ib.placeOrder(c, o) for o in ib.oneCancelsAll(orders, "exit-1", 1)]
    wait(ib, lambda: all(t.orderStatus.status == "Submitted" for t in placed))
    print_trade(gateway, "101.00", 1000, OrderSide.BUY)
    wait(ib, lambda: placed[0].orderStatus.status == "Filled")
    wait(ib, lambda: placed[1].orderStatus.status == "Cancelled")


def test_executions_with_filter_and_commissions(gateway: IbGateway, ib: IB) -> None:
    c = aapl(ib)
    [msft] = ib.qualifyContracts(Stock("MSFT", "SMART", "USD"))
    a = ib.placeOrder(c, MarketOrder("BUY", 4))
    b = ib.placeOrder(msft, MarketOrder("SELL", 2))
    wait(ib, lambda: a.orderStatus.status == "Filled" and b.orderStatus.status == "Filled")
    from ib_async import ExecutionFilter

    fills = ib.reqExecutions(ExecutionFilter(symbol="MSFT"))
    assert [(f.contract.symbol, f.execution.side, f.execution.shares) for f in fills] == [
        ("MSFT", "SLD", 2.0)
    ]
    # ib_async keeps the commission on the fill it saw first (ib.fills()), not on the copy a
    # reqExecutions answer lists for an execution it already had
    known = {f.execution.execId: f for f in ib.fills()}
    assert known[fills[0].execution.execId].commissionReport.commission == 1.0
    assert len(ib.reqExecutions()) == 2
    assert ib.reqExecutions(ExecutionFilter(side="BUY"))[0].contract.symbol == "AAPL"


def test_a_fill_while_disconnected_is_read_back_after_reconnect(gateway: IbGateway) -> None:
    first = IB()
    first.connect("127.0.0.1", gateway.port, clientId=3, timeout=10)
    trade = first.placeOrder(aapl(first), LimitOrder("SELL", 5, 100.50))
    wait(first, lambda: trade.orderStatus.status == "Submitted")
    order_id = trade.order.orderId
    first.disconnect()
    print_trade(gateway, "100.50", 1000, OrderSide.BUY)
    again = IB()
    again.connect("127.0.0.1", gateway.port, clientId=3, timeout=10)
    try:
        fills = again.reqExecutions()
        assert [(f.execution.orderId, f.execution.shares) for f in fills] == [(order_id, 5.0)]
        [seen] = again.fills()  # read at connect (ib_async asks for executions then)
        assert seen.execution.execId == fills[0].execution.execId
        assert seen.commissionReport.commission == 1.0
        assert again.reqOpenOrders() == []
    finally:
        again.disconnect()


def test_snapshot_market_data(gateway: IbGateway, ib: IB) -> None:
    print_trade(gateway, "100.02", 10, OrderSide.BUY)
    [ticker] = ib.reqTickers(aapl(ib))
    assert (ticker.bid, ticker.ask, ticker.last) == (100.00, 100.02, 100.02)
    assert ticker.bidSize == 500


def test_duplicate_client_id_is_refused(gateway: IbGateway, ib: IB) -> None:
    other = IB()
    with pytest.raises((ConnectionError, TimeoutError)):
        other.connect("127.0.0.1", gateway.port, clientId=7, timeout=3)
    assert ib.isConnected()


def test_bad_orders_are_refused_with_ib_errors(gateway: IbGateway, ib: IB) -> None:
    c = aapl(ib)
    errors: list[int] = []
    ib.errorEvent += lambda req_id, code, text, contract: errors.append(code)
    off_grid = ib.placeOrder(c, LimitOrder("BUY", 1, 100.001))
    wait(ib, lambda: off_grid.orderStatus.status == "Cancelled")
    odd = LimitOrder("BUY", 1, 100.00)
    odd.orderType = "TRAIL LIMIT"
    refused = ib.placeOrder(c, odd)
    wait(ib, lambda: refused.orderStatus.status == "Cancelled")
    assert 110 in errors
    assert 201 in errors
    assert ib.reqOpenOrders() == []


# ----- raw frames -----------------------------------------------------------------------


def _frame(*fields: object) -> bytes:
    payload = "".join(f"{f}\0" for f in fields).encode()
    return struct.pack(">I", len(payload)) + payload


def _read(sock: socket.socket) -> list[str]:
    head = b""
    while len(head) < 4:
        head += sock.recv(4 - len(head))
    (size,) = struct.unpack(">I", head)
    body = b""
    while len(body) < size:
        body += sock.recv(size - len(body))
    return body.decode().split("\0")[:-1]


def _raw_client(port: int, client_id: int) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(b"API\0" + struct.pack(">I", 9) + b"v157..178")
    assert _read(s)[0] == "178"
    s.sendall(_frame(71, 2, client_id, ""))
    assert _read(s)[0] == "9"  # nextValidId
    assert _read(s)[0] == "15"  # managedAccounts
    return s


def test_bad_frames_get_ib_errors_and_the_gateway_serves_on(gateway: IbGateway) -> None:
    s = _raw_client(gateway.port, 21)
    with s:
        s.sendall(_frame(12345, 1))
        assert _read(s)[:4] == ["4", "2", "-1", "505"]
        s.sendall(_frame(3, "not-a-number"))
        assert _read(s)[:4] == ["4", "2", "-1", "320"]
        s.sendall(_frame(9, 8, 5, "x", "AAPL", "STK"))  # contract cut short
        assert _read(s)[:4] == ["4", "2", "5", "320"]
        s.sendall(_frame(49, 1))
        assert _read(s)[0] == "49"  # still served
    bad = socket.create_connection(("127.0.0.1", gateway.port), timeout=5)
    with bad:
        bad.sendall(b"GET / HTTP/1.1\r\n\r\n")
        assert _read(bad)[:4] == ["4", "2", "-1", "507"]
    again = _raw_client(gateway.port, 22)
    again.close()


def test_modify_after_a_partial_fill_keeps_the_fills(gateway: IbGateway, ib: IB) -> None:
    c = aapl(ib)
    trade = ib.placeOrder(c, LimitOrder("SELL", 10, 100.50))
    wait(ib, lambda: trade.orderStatus.status == "Submitted")

    def lift(sim: SimulatedBroker, qty: int) -> None:  # past the 500 offered at 100.02
        sim.trade("AAPL", D("100.50"), D(500 + qty), aggressor=OrderSide.BUY)
        sim.quote("AAPL", D("100.00"), D("100.02"), bid_size=D(500), ask_size=D(500))

    gateway.call(lambda sim: lift(sim, 4))
    wait(ib, lambda: trade.orderStatus.filled == 4)
    trade.order.totalQuantity = 7  # IB's total: 3 more
    ib.placeOrder(c, trade.order)
    wait(ib, lambda: trade.orderStatus.remaining == 3)
    gateway.call(lambda sim: lift(sim, 10))
    wait(ib, lambda: trade.orderStatus.status == "Filled")
    assert trade.orderStatus.filled == 7
    assert [f.execution.cumQty for f in trade.fills] == [4, 7]


def test_oca_reduce_type_shrinks_the_others(gateway: IbGateway, ib: IB) -> None:
    c = aapl(ib)
    orders = [LimitOrder("SELL", 5, 101.00), LimitOrder("SELL", 5, 102.00)]
    placed = [ib.placeOrder(c, o) for o in ib.oneCancelsAll(orders, "exit-2", 3)]
    wait(ib, lambda: all(t.orderStatus.status == "Submitted" for t in placed))

    def lift(sim: SimulatedBroker) -> None:  # past the 500 offered at 100.02, 2 of ours
        sim.trade("AAPL", D("101.00"), D(502), aggressor=OrderSide.BUY)

    gateway.call(lift)
    wait(ib, lambda: placed[0].orderStatus.filled == 2)
    wait(ib, lambda: placed[1].order.totalQuantity == 3)
    assert placed[1].orderStatus.status == "Submitted"


def test_streaming_market_data_until_cancelled(gateway: IbGateway, ib: IB) -> None:
    c = aapl(ib)
    ticker = ib.reqMktData(c)
    wait(ib, lambda: ticker.bid == 100.00 and ticker.ask == 100.02)
    gateway.call(lambda sim: sim.quote("AAPL", D("100.10"), D("100.12")))
    wait(ib, lambda: ticker.bid == 100.10 and ticker.ask == 100.12)
    print_trade(gateway, "100.12", 50, OrderSide.BUY)
    wait(ib, lambda: ticker.last == 100.12)
    ib.cancelMktData(c)
    ib.sleep(0.2)
    gateway.call(lambda sim: sim.quote("AAPL", D("100.20"), D("100.22")))
    ib.sleep(0.3)
    assert ticker.bid == 100.10
