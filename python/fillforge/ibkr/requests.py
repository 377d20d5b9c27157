"""The requests the gateway serves, each answered as TWS answers it (field positions: ib_async
2.1's ``Client`` at server version 178). Anything that reads or changes the simulation runs on
the simulation thread (``gateway.run``); the answers go out through the session in order."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from fillforge.broker.models import Quote, Trade
from fillforge.errors import IbkrError
from fillforge.ibkr import messages as m
from fillforge.ibkr.orders import read_place_order
from fillforge.ibkr.wire import Contract, In, Out, integer
from fillforge.time import NS_PER_SECOND

if TYPE_CHECKING:
    from fillforge.ibkr.gateway import IbGateway, Session

__all__ = ["handlers"]

Handler = Callable[["Session", list[str]], Awaitable[Any]]
# Tick types: bid, ask, last prices and their sizes.
_BID, _ASK, _LAST, _BID_SIZE, _ASK_SIZE, _LAST_SIZE = 1, 2, 4, 0, 3, 5
_ACCOUNT_TAGS = (
    "NetLiquidation",
    "TotalCashValue",
    "SettledCash",
    "BuyingPower",
    "AvailableFunds",
    "ExcessLiquidity",
    "EquityWithLoanValue",
    "GrossPositionValue",
    "RealizedPnL",
    "UnrealizedPnL",
)


def handlers(g: IbGateway) -> dict[int, Handler]:
    book = g.book

    async def start_api(s: Session, f: list[str]) -> bool:
        client_id = integer(f, 2, "clientId")
        if client_id in g.sessions:
            s.send(
                m.error(
                    -1,
                    326,
                    f"Unable to connect as the client id {client_id} is already in use. "
                    "Retry with a unique client id.",
                )
            )
            return False
        s.client_id = client_id
        g.sessions[client_id] = s
        next_id = await g.run(lambda: max(book.next_order_id, 1))
        s.send([Out.NEXT_VALID_ID, 1, next_id])
        s.send([Out.MANAGED_ACCTS, 1, g.account])
        return True

    async def place_or_cancel(s: Session, f: list[str]) -> None:
        await g.run(order_job(g, s, f))

    async def global_cancel(s: Session, f: list[str]) -> None:
        await g.run(book.cancel_all)

    def _open(s: Session, every: bool) -> None:
        for o in book.open_orders(None if every or s.client_id == 0 else s.client_id):
            s.send(m.open_order(o))
            s.send(m.order_status(o))
        s.send([Out.OPEN_ORDER_END, 1])

    async def open_orders(s: Session, f: list[str]) -> None:
        await g.run(lambda: _open(s, False))

    async def all_open_orders(s: Session, f: list[str]) -> None:
        await g.run(lambda: _open(s, True))

    async def completed_orders(s: Session, f: list[str]) -> None:
        s.send([Out.COMPLETED_ORDERS_END])

    async def next_ids(s: Session, f: list[str]) -> None:
        next_id = await g.run(lambda: book.next_order_id)
        s.send([Out.NEXT_VALID_ID, 1, next_id])

    async def managed_accounts(s: Session, f: list[str]) -> None:
        s.send([Out.MANAGED_ACCTS, 1, g.account])

    async def current_time(s: Session, f: list[str]) -> None:
        now = await g.run(g.broker.now)
        s.send([Out.CURRENT_TIME, 1, now // NS_PER_SECOND])

    async def executions(s: Session, f: list[str]) -> None:
        req_id = integer(f, 2, "reqId")
        want_client = integer(f, 3, "clientId")
        account, since, symbol, sec_type, exchange, side = (f + [""] * 10)[4:10]
        since_ns = _since(since)

        def match() -> None:
            for x in book.executions:
                if s.client_id != 0 and x.client_id != s.client_id:
                    continue
                if want_client and x.client_id != want_client:
                    continue
                if account and x.account != account:
                    continue
                if symbol and x.contract.symbol != symbol.upper():
                    continue
                if sec_type and sec_type.upper() != "STK":
                    continue
                if exchange and exchange.upper() not in (x.contract.exchange, "SMART"):
                    continue
                if side and {"BUY": "BOT", "SELL": "SLD"}.get(side.upper(), side) != x.side:
                    continue
                if since_ns is not None and x.ts_ns < since_ns:
                    continue
                s.send(m.exec_details(req_id, x))
                s.send(m.commission_report(x))
            s.send([Out.EXECUTION_DATA_END, 1, req_id])

        await g.run(match)

    async def contract_details(s: Session, f: list[str]) -> None:
        req_id = integer(f, 2, "reqId")
        c = Contract.read(f, 3)
        if c.sec_type not in ("STK", ""):
            raise IbkrError(200, "No security definition has been found for the request")
        info = book.contract(c.con_id, c.symbol)
        if c.currency and c.currency != info.currency:
            raise IbkrError(200, "No security definition has been found for the request")
        s.send(m.contract_details(req_id, info))
        s.send([Out.CONTRACT_DATA_END, 1, req_id])

    async def market_data(s: Session, f: list[str]) -> None:
        req_id = integer(f, 2, "reqId")
        c = Contract.read(f, 3)
        info = book.contract(c.con_id, c.symbol)
        at = 16 + (3 if len(f) > 15 and f[15] == "1" else 0)
        snapshot = len(f) > at + 1 and f[at + 1] == "1"

        def quote(q: Quote | None) -> None:
            if q is not None and q.bid_price is not None:
                s.send([Out.TICK_PRICE, 6, req_id, _BID, q.bid_price, q.bid_size, 0])
            if q is not None and q.ask_price is not None:
                s.send([Out.TICK_PRICE, 6, req_id, _ASK, q.ask_price, q.ask_size, 0])

        def trade(t: Trade | None) -> None:
            if t is not None:
                s.send([Out.TICK_PRICE, 6, req_id, _LAST, t.price, t.size, 0])

        def ticks() -> None:
            quote(g.broker.latest_quote(info.symbol))
            trade(g.broker.last_trade(info.symbol))
            if snapshot:
                s.send([Out.TICK_SNAPSHOT_END, 1, req_id])
                return
            # streaming: every later quote and trade, until cancelMktData or the disconnect
            stop = [
                g.broker.subscribe_quotes(info.symbol, quote),
                g.broker.subscribe_trades(info.symbol, trade),
            ]
            for old in s.market.pop(req_id, []):
                old()
            s.market[req_id] = stop

        await g.run(ticks)

    async def cancel_market_data(s: Session, f: list[str]) -> None:
        req_id = integer(f, 2, "reqId")
        await g.run(lambda: [stop() for stop in s.market.pop(req_id, [])])

    async def positions(s: Session, f: list[str]) -> None:
        def send() -> None:
            for sym, p in g.broker.positions().items():
                info = g.contracts.get(sym)
                if info is not None and p.qty:
                    s.send(m.position(g.account, info, p.qty, p.avg_price))
            s.send([Out.POSITION_END, 1])
            s.positions = True

        await g.run(send)

    async def cancel_positions(s: Session, f: list[str]) -> None:
        s.positions = False

    def _values() -> dict[str, Decimal]:
        return account_values(g)

    async def account_summary(s: Session, f: list[str]) -> None:
        req_id = integer(f, 2, "reqId")
        tags = {t.strip() for t in (f[4] if len(f) > 4 else "").split(",") if t.strip()}
        values = await g.run(_values)
        for tag in _ACCOUNT_TAGS:
            if not tags or tag in tags or "All" in tags:
                s.send([Out.ACCOUNT_SUMMARY, 1, req_id, g.account, tag, values[tag], "USD"])
        s.send([Out.ACCOUNT_SUMMARY_END, 1, req_id])

    async def account_updates(s: Session, f: list[str]) -> None:
        s.account_updates = len(f) > 2 and f[2] == "1"
        if not s.account_updates:
            return

        def send() -> None:
            push_account(g, s, None)
            s.send([Out.ACCT_DOWNLOAD_END, 1, g.account])

        await g.run(send)

    async def account_updates_multi(s: Session, f: list[str]) -> None:
        s.send([Out.ACCOUNT_UPDATE_MULTI_END, 1, integer(f, 2, "reqId")])

    async def ignored(s: Session, f: list[str]) -> None:
        return None

    return {
        In.START_API: start_api,
        In.PLACE_ORDER: place_or_cancel,
        In.CANCEL_ORDER: place_or_cancel,
        In.REQ_GLOBAL_CANCEL: global_cancel,
        In.REQ_OPEN_ORDERS: open_orders,
        In.REQ_ALL_OPEN_ORDERS: all_open_orders,
        In.REQ_COMPLETED_ORDERS: completed_orders,
        In.REQ_IDS: next_ids,
        In.REQ_MANAGED_ACCTS: managed_accounts,
        In.REQ_CURRENT_TIME: current_time,
        In.REQ_EXECUTIONS: executions,
        In.REQ_CONTRACT_DATA: contract_details,
        In.REQ_MKT_DATA: market_data,
        In.REQ_POSITIONS: positions,
        In.REQ_ACCOUNT_SUMMARY: account_summary,
        In.REQ_ACCT_DATA: account_updates,
        In.REQ_ACCOUNT_UPDATES_MULTI: account_updates_multi,
        In.CANCEL_MKT_DATA: cancel_market_data,
        In.REQ_AUTO_OPEN_ORDERS: ignored,
        In.REQ_MARKET_DATA_TYPE: ignored,
        In.CANCEL_ACCOUNT_SUMMARY: ignored,
        In.CANCEL_POSITIONS: cancel_positions,
        In.CANCEL_ACCOUNT_UPDATES_MULTI: ignored,
    }


ORDER_MESSAGES = frozenset({str(In.PLACE_ORDER), str(In.CANCEL_ORDER)})
"""The requests :func:`order_job` reads (the gateway runs a run of them as one job)."""


def order_job(g: IbGateway, s: Session, f: list[str]) -> Callable[[], None]:
    """A ``placeOrder`` or ``cancelOrder`` read (a frame that does not read raises
    :class:`~fillforge.errors.IbkrError` now), as the job that carries it out on the simulation
    thread."""
    cid = s.client_id
    assert cid is not None
    if f[0] == str(In.PLACE_ORDER):
        spec = read_place_order(f)
        return functools.partial(g.book.place, cid, spec)
    return functools.partial(g.book.cancel, cid, integer(f, 2, "orderId"))


def account_values(g: IbGateway) -> dict[str, Decimal]:
    """The account's values under IB's tags (USD)."""
    a = g.broker.account()
    return {
        "NetLiquidation": a.equity,
        "TotalCashValue": a.cash,
        "SettledCash": a.cash,
        "BuyingPower": a.buying_power,
        "AvailableFunds": a.buying_power,
        "ExcessLiquidity": a.buying_power,
        "EquityWithLoanValue": a.equity,
        "GrossPositionValue": a.long_market_value + abs(a.short_market_value),
        "RealizedPnL": a.realized_pnl,
        "UnrealizedPnL": a.unrealized_pnl,
    }


def push_position(g: IbGateway, s: Session, symbol: str) -> None:
    """``position`` for ``symbol`` now (zero when flat), to a ``reqPositions`` subscriber."""
    info = g.contracts[symbol]
    p = g.broker.positions().get(symbol)
    qty, avg = (p.qty, p.avg_price) if p is not None else (Decimal(0), Decimal(0))
    s.send(m.position(g.account, info, qty, avg))


def push_account(g: IbGateway, s: Session, symbols: list[str] | None) -> None:
    """The account's values and the portfolio lines of ``symbols`` (None: every position), to
    a ``reqAccountUpdates`` subscriber."""
    for tag, value in account_values(g).items():
        s.send([Out.ACCT_VALUE, 2, tag, value, "USD", g.account])
    held = g.broker.positions()
    for sym in symbols if symbols is not None else list(held):
        info, p = g.contracts.get(sym), held.get(sym)
        if info is None:
            continue
        if p is None:
            s.send(m.portfolio(g.account, info, *[Decimal(0)] * 6))
            continue
        mark = p.mark if p.mark is not None else p.avg_price
        s.send(
            m.portfolio(
                g.account,
                info,
                p.qty,
                mark,
                p.market_value,
                p.avg_price,
                p.unrealized_pnl,
                p.realized_pnl,
            )
        )
    s.send([Out.ACCT_UPDATE_TIME, 1, m.ib_time(g.broker.now())[9:14]])


def _since(text: str) -> int | None:
    """An execution filter's time (``yyyymmdd hh:mm:ss``, a zone after it read as UTC) in ns."""
    import datetime as dt

    raw = text.strip()
    if not raw:
        return None
    head = raw.replace("-", " ").split()
    if len(head) < 2:
        raise IbkrError(320, f"Error reading request: execution filter time {text!r}")
    try:
        t = dt.datetime.strptime(head[0] + head[1], "%Y%m%d%H:%M:%S").replace(tzinfo=dt.UTC)
    except ValueError:
        raise IbkrError(320, f"Error reading request: execution filter time {text!r}") from None
    return int(t.timestamp()) * NS_PER_SECOND
