"""Keeping :class:`~fillforge.venues.ccxt.CcxtBroker`'s local orders right: the venue's orders
(ours, and orders placed elsewhere) adopted as simple orders in the local
:class:`~fillforge.orders.manager.OrderManager`, and ccxt's order snapshots and trades applied to
them as venue reports, so the same order events reach the same stream as every other broker's.

Fills come from the venue's trades (``fetchOrderTrades``, or the order's own ``trades`` when the
answer lists them): one fill per trade id, with its price, quantity, liquidity and fee (a fee in
the base asset is valued at the trade's price, so every commission is in the quote asset). What
the trades leave unexplained of the order's ``filled`` (an exchange that lists none) is caught
up by one fill at the price the average implies; nothing counts twice.
"""

from __future__ import annotations

import functools
import threading
from decimal import Decimal
from typing import Any, Final

from fillforge.errors import CcxtError, FillforgeError
from fillforge.orders.enums import EventKind, OrderSide, OrderTimeInForce, OrderType
from fillforge.orders.manager import OrderManager
from fillforge.orders.models import OrderRequest
from fillforge.orders.order import Order
from fillforge.time import Clock
from fillforge.venues.ccxt.convert import decimal_of, fee_in_quote
from fillforge.venues.ccxt.steps import Ask, Steps
from fillforge.venues.reports import report_fill, report_state

__all__ = ["OrderSync"]

_NS_PER_MS: Final = 1_000_000
FEE_RATE: Final = "fillforge_fee_rate"  # a trade's third fee currency's price, in the quote asset
_ENDED: Final = {
    "canceled": EventKind.CANCELED,
    "expired": EventKind.EXPIRED,
    "rejected": EventKind.REJECTED,
}


class OrderSync:
    """ccxt's orders into ``manager`` under ``lock``; ``clock`` stamps what the venue gives no
    time for. What needs the venue is written as steps (:mod:`~fillforge.venues.ccxt.steps`),
    run by the sync and the async broker alike."""

    def __init__(
        self, manager: OrderManager, lock: threading.RLock, clock: Clock, has: dict[str, Any]
    ) -> None:
        self.manager = manager
        self._has = has  # the exchange's ccxt features (``fetchOrderTrades``...)
        self.lock = self._lock = lock
        self._time = clock
        self.sending: dict[str, OrderRequest] = {}
        self.seen_trades: set[str] = set()
        self.symbols: set[str] = set()  # every symbol an order has named (reconciled)
        self.reconciles = 0

    def ns(self, ms: Any) -> int:
        return int(ms) * _NS_PER_MS if ms is not None else self._time.now_ns()

    # ----- the venue's state (steps) -------------------------------------------------------

    def trades_of(self, raw: dict[str, Any]) -> Steps[list[dict[str, Any]]]:
        """The order's trades: those its answer lists, else the venue's for the order."""
        listed = raw.get("trades") or []
        filled = decimal_of(raw.get("filled")) or Decimal(0)
        oid = str(raw["id"])
        known = self.manager.orders.get(oid)
        symbol = str(raw.get("symbol"))
        if listed or filled <= (known.cum_qty if known is not None else Decimal(0)):
            got = list(listed)
        elif self._has.get("fetchOrderTrades"):
            got = list((yield Ask(lambda ex: ex.fetch_order_trades(oid, symbol))))
        else:
            mine = yield Ask(lambda ex: ex.fetch_my_trades(symbol))
            got = [t for t in mine if str(t.get("order")) == oid]
        return (yield from self._fee_rates(got, symbol))

    def _fee_rates(self, trades: list[dict[str, Any]], symbol: str) -> Steps[list[dict[str, Any]]]:
        """Trades whose fee is in a third currency (Binance's BNB) carry its price in the
        quote asset (the venue's last, asked once per currency), so the fee is exact."""
        base, _, quote = symbol.partition("/")
        quote = quote.split(":")[0]
        rates: dict[str, Decimal | None] = {}
        out = []
        for t in trades:
            cur = (t.get("fee") or {}).get("currency")
            if cur is None or cur in (base, quote) or str(t.get("id")) in self.seen_trades:
                out.append(t)
                continue
            if cur not in rates:
                try:
                    ticker = yield Ask(functools.partial(_ticker, symbol=f"{cur}/{quote}"))
                    rates[cur] = decimal_of(ticker.get("last"))
                except CcxtError:  # no such market: the fee stays unvalued (0)
                    rates[cur] = None
            out.append({**t, FEE_RATE: rates[cur]})
        return out

    def apply(self, raw: dict[str, Any]) -> Steps[Order | None]:
        """Apply one order snapshot (a stream's update, a poll's answer): its trades fetched
        when it lists none, then synced, or adopted when new here and still open."""
        trades = yield from self.trades_of(raw)
        with self._lock:
            if str(raw["id"]) in self.manager.orders:
                self.sync(raw, trades)
                return self.manager.get(str(raw["id"]))
            if raw.get("status") == "open":
                return self.adopt(raw, None, trades)
        return None

    def reconcile(self) -> Steps[None]:
        """Bring every local open order, and any open order the venue has in a symbol we trade,
        up to the venue's state (after a start, a reconnect, or on the poll timer)."""
        with self._lock:
            symbols = sorted(self.symbols | {o.symbol for o in self.manager.open_orders()})
        remote: dict[str, dict[str, Any]] = {}
        for s in symbols:
            for raw in (yield Ask(functools.partial(_open_orders, symbol=s))):
                remote[str(raw["id"])] = raw
        for raw in remote.values():
            yield from self.apply(raw)
        with self._lock:
            gone = [o for o in self.manager.open_orders() if o.id not in remote]
        for o in gone:
            yield from self.apply(
                (yield Ask(functools.partial(_one_order, oid=o.id, symbol=o.symbol)))
            )
        self.reconciles += 1

    # ----- one order (under the lock) ---------------------------------------------------------

    def adopt(
        self, raw: dict[str, Any], request: OrderRequest | None, trades: list[dict[str, Any]]
    ) -> Order:
        """Register a venue order (ours, or one placed elsewhere) as a simple order."""
        oid = str(raw["id"])
        if oid in self.manager.orders:
            self.sync(raw, trades)
            return self.manager.get(oid)
        cid = raw.get("clientOrderId")
        if request is None and cid is not None:
            request = self.sending.get(cid)
        r = request or request_of(raw)
        if r.client_order_id is None and cid:
            r = r.model_copy(update={"client_order_id": cid})
        self.symbols.add(r.symbol)
        t = self.ns(raw.get("timestamp"))
        order = self.manager.create(r, order_id=oid, ts=t, submit=True)
        self.sync(raw, trades)
        return order

    def sync(self, raw: dict[str, Any], trades: list[dict[str, Any]]) -> None:
        """Apply what a ccxt order snapshot and its trades say happened."""
        oid = str(raw["id"])
        o = self.manager.get(oid)
        t = self.ns(raw.get("lastUpdateTimestamp") or raw.get("timestamp"))
        status = raw.get("status")
        if o.status.value in ("pending_new", "created") and status != "rejected":
            self._report(EventKind.NEW, oid, t)
        ordered = sorted(trades, key=lambda x: x.get("timestamp") or 0)
        filled = decimal_of(raw.get("filled")) or Decimal(0)
        for i, trade in enumerate(ordered):
            # A notional order has no quantity to complete: its last trade, once the venue
            # says it is closed, is its fill.
            last = status == "closed" and i == len(ordered) - 1
            self._trade(o, trade, last and o.request.notional is not None, t)
        if o.cum_qty < filled:
            self._catch_up(o, raw, t, status == "closed")
        kind = _ENDED.get(str(status))
        if kind is not None and o.status.is_open:
            self._report(kind, oid, t)

    def _trade(self, o: Order, trade: dict[str, Any], final: bool, order_ts: int) -> None:
        tid = str(trade.get("id"))
        price, qty = decimal_of(trade.get("price")), decimal_of(trade.get("amount"))
        if tid in self.seen_trades or tid in o.fills or not price or not qty:
            return
        qty = min(qty, o.order_qty - o.cum_qty) if o.request.notional is None else qty
        if qty <= 0:
            return
        self.seen_trades.add(tid)
        rate = decimal_of(trade.get(FEE_RATE))
        commission = fee_in_quote(trade.get("fee"), o.symbol, price, rate)
        maker = trade.get("takerOrMaker") == "maker"
        # A trade listed in a new-order answer has no time of its own: the order's.
        stamp = trade.get("timestamp")
        t = self.ns(stamp) if stamp is not None else order_ts
        self._fill(o, tid, price, qty, commission, maker, t, final)

    def _catch_up(self, o: Order, raw: dict[str, Any], t: int, final: bool) -> None:
        filled = decimal_of(raw.get("filled")) or Decimal(0)
        gap = filled - o.cum_qty
        avg = decimal_of(raw.get("average"))
        if gap <= 0 or avg is None:
            return
        prior = (o.avg_price or Decimal(0)) * o.cum_qty
        price = (avg * filled - prior) / gap
        self._fill(o, f"{o.id}-sync-{filled}", price, gap, Decimal(0), False, t, final)

    def _fill(
        self,
        o: Order,
        trade_id: str,
        price: Decimal,
        qty: Decimal,
        commission: Decimal,
        maker: bool,
        t: int,
        final: bool = False,
    ) -> None:
        whole = final or (o.request.notional is None and o.cum_qty + qty >= o.order_qty)
        now = self._time.now_ns()
        report_fill(
            self.manager,
            o.id,
            trade_id,
            price,
            qty,
            ts=t,
            ts_recv=now,
            whole=whole,
            commission=commission,
            maker=maker,
        )

    def _report(self, kind: EventKind, oid: str, t: int) -> None:
        # A report the state already reflects (seen on a poll and a reply) is refused.
        report_state(self.manager, kind, oid, t)


def _open_orders(ex: Any, symbol: str) -> Any:
    return ex.fetch_open_orders(symbol)


def _ticker(ex: Any, symbol: str) -> Any:
    return ex.fetch_ticker(symbol)


def _one_order(ex: Any, oid: str, symbol: str) -> Any:
    return ex.fetch_order(oid, symbol)


def request_of(raw: dict[str, Any]) -> OrderRequest:
    """The request an order placed elsewhere stands for (market, limit, stop, stop-limit)."""
    kind = str(raw.get("type") or "limit").lower()
    price = decimal_of(raw.get("price"))
    stop = decimal_of(raw.get("triggerPrice") or raw.get("stopPrice"))
    tif = str(raw.get("timeInForce") or "GTC").lower()
    fields: dict[str, Any] = {
        "symbol": raw["symbol"],
        "side": OrderSide(str(raw["side"]).lower()),
        "qty": decimal_of(raw.get("amount")),
        "client_order_id": raw.get("clientOrderId") or None,
        "time_in_force": OrderTimeInForce(tif) if tif in ("gtc", "ioc", "fok") else "gtc",
    }
    if kind == "market":
        fields.update(type=OrderType.MARKET, time_in_force=OrderTimeInForce.IOC)
    elif stop is not None:
        fields.update(
            type=OrderType.STOP_LIMIT if price else OrderType.STOP,
            stop_price=stop,
            limit_price=price or None,
        )
    else:
        fields.update(type=OrderType.LIMIT, limit_price=price)
    try:
        return OrderRequest(**fields)
    except FillforgeError as e:
        raise CcxtError(None, "BadResponse", f"order {raw.get('id')}: {e}") from None
