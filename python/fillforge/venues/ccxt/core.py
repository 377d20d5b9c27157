"""What :class:`~fillforge.venues.ccxt.CcxtBroker` and
:class:`~fillforge.venues.ccxt.AsyncCcxtBroker` share: the exchange, its markets as instruments,
the local orders, and every conversation with the venue written once as steps
(:mod:`~fillforge.venues.ccxt.steps`): submit, cancel, cancel-all, refresh, replace, balances,
positions, the account, the clock, quotes and trades. The two brokers only drive these steps (one
blocking, one awaiting) and keep their own timers, polls and stream.

Robustness, as :class:`~fillforge.alpaca.AlpacaBroker`'s: every call is limited by the Rust
throttle and retried on network errors and outages (:mod:`~fillforge.venues.ccxt.transport`); a
submit always carries a client order id and, before a retry, looks its order up by it, so a timeout
never makes a duplicate. Credentials come from the arguments or ``<EXCHANGE>_API_KEY`` /
``<EXCHANGE>_SECRET`` and are never logged.
"""

from __future__ import annotations

import functools
import os
import threading
import uuid
from decimal import Decimal
from types import ModuleType
from typing import Any, TypedDict

import ccxt

from fillforge.broker import AccountSnapshot, BrokerClock, Position, Quote, Trade
from fillforge.errors import CcxtError, OrderValidationError, UnknownOrderIdError
from fillforge.orders.enums import EventKind
from fillforge.orders.manager import OrderManager
from fillforge.orders.models import Instrument, OrderRequest, ReplaceTerms, VenueReport
from fillforge.orders.order import Order
from fillforge.time import Clock, WallClock, from_seconds
from fillforge.venues.ccxt.convert import decimal_of, instrument_of, order_args
from fillforge.venues.ccxt.steps import Ask, Steps
from fillforge.venues.ccxt.sync import OrderSync
from fillforge.venues.ccxt.transport import Transport

__all__ = ["CcxtCore", "CcxtOptions", "build_exchange"]

_CLIENT_ID_CHARS = 32  # Binance takes 36, Bybit 36, Coinbase 128


def build_exchange(
    module: ModuleType,
    exchange: str | Any,
    api_key: str | None,
    secret: str | None,
    config: dict[str, Any] | None,
) -> Any:
    """``exchange`` as a ccxt exchange of ``module`` (``ccxt`` or ``ccxt.async_support``): a
    built one as is, an id built with ``config`` and the keys (arguments, else the
    environment's ``<EXCHANGE>_API_KEY`` / ``<EXCHANGE>_SECRET``). A built exchange of the other
    module (a sync one for the async broker) is refused."""
    if not isinstance(exchange, str):
        if not isinstance(exchange, module.Exchange):
            raise OrderValidationError(
                "exchange", type(exchange).__name__, f"expected a {module.__name__} exchange"
            )
        return exchange
    cls = getattr(module, exchange, None)
    if not isinstance(cls, type) or not issubclass(cls, module.Exchange):
        raise CcxtError(exchange, "ExchangeNotFound", "not an exchange ccxt knows")
    prefix = exchange.upper()
    key = api_key or os.environ.get(f"{prefix}_API_KEY")
    sec = secret or os.environ.get(f"{prefix}_SECRET")
    settings: dict[str, Any] = {**(config or {})}
    if key and sec:
        settings.update(apiKey=key, secret=sec)
    return cls(settings)


class CcxtOptions(TypedDict, total=False):
    """The keywords both ccxt brokers take, after the exchange (what each means:
    :class:`~fillforge.venues.ccxt.CcxtBroker`; the defaults: :class:`CcxtCore`)."""

    api_key: str | None
    secret: str | None
    config: dict[str, Any] | None
    quote: str
    requests_per_minute: int
    timeout: float
    attempts: int
    max_wait: float
    poll_every: float | None
    clock: Clock | None
    data_poll_every: float
    stream: bool


class CcxtCore:
    """One ccxt exchange's orders and conversations (see the module); not a broker by itself.
    ``exchange`` is built with ``module`` (``ccxt`` or ``ccxt.async_support``:
    :func:`build_exchange`); the keywords are :class:`CcxtOptions`."""

    def __init__(
        self,
        module: ModuleType,
        exchange: str | Any,
        *,
        api_key: str | None = None,
        secret: str | None = None,
        config: dict[str, Any] | None = None,
        quote: str = "USDT",
        requests_per_minute: int = 1200,
        timeout: float = 10.0,
        attempts: int = 6,
        max_wait: float = 8.0,
        poll_every: float | None = 1.0,
        clock: Clock | None = None,
        data_poll_every: float = 1.0,
        stream: bool = False,
    ) -> None:
        exchange = build_exchange(module, exchange, api_key, secret, config)
        if poll_every is not None and not poll_every > 0:
            raise OrderValidationError("poll_every", poll_every, "must be > 0 seconds, or None")
        if not data_poll_every > 0:
            raise OrderValidationError("data_poll_every", data_poll_every, "must be > 0 seconds")
        self.exchange = exchange
        # The Rust throttle limits the calls: ccxt's own limiter (a sleep per call) is off.
        exchange.enableRateLimit = False
        exchange.timeout = int(timeout * 1000)
        self.id = str(exchange.id)
        self.quote = quote
        self._time = clock if clock is not None else WallClock()
        self._transport = Transport(self.id, requests_per_minute, attempts, max_wait)
        self.manager = OrderManager(clock=self._time.now_ns)
        self._lock = threading.RLock()
        self._orders = OrderSync(self.manager, self._lock, self._time, exchange.has)
        self._poll_every = poll_every
        self._data_poll_ns = from_seconds(data_poll_every, "data_poll_every")
        self._want_stream = stream
        self._reconnects = 0
        self.instruments: dict[str, Instrument] = {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.id}, markets={len(self.instruments)})"

    @property
    def reconnects(self) -> int:
        """How many runs of network failures have ended (each one reconciled)."""
        return self._reconnects

    def order_by_client_id(self, client_order_id: str) -> Order | None:
        """The local order with this client order id, None when there is none."""
        try:
            return self.manager.by_client_order_id(client_order_id)
        except UnknownOrderIdError:
            return None

    # ----- markets --------------------------------------------------------------------------

    def _load_markets(self) -> Steps[dict[str, Instrument]]:
        markets = yield Ask(lambda ex: ex.load_markets(True))
        mode = int(getattr(self.exchange, "precisionMode", 4))
        self.instruments = {s: instrument_of(m, mode) for s, m in markets.items()}
        return self.instruments

    def _instrument(self, symbol: str) -> Steps[Instrument]:
        if not self.instruments:
            yield from self._load_markets()
        found = self.instruments.get(symbol)
        if found is None:
            raise OrderValidationError("symbol", symbol, f"not a market on {self.id}")
        return found

    # ----- orders ---------------------------------------------------------------------------

    def _submit(self, request: OrderRequest, post_only: bool) -> Steps[Order]:
        (yield from self._instrument(request.symbol)).check(request)
        cid = request.client_order_id or uuid.uuid4().hex[:_CLIENT_ID_CHARS]
        symbol, kind, side, amount, price, params = order_args(request, cid, self.id)
        if post_only:  # a maker-only limit has no time in force to send (Binance: -1106)
            params["postOnly"] = True
            params.pop("timeInForce", None)
        mine = request.model_copy(update={"client_order_id": cid})
        with self._lock:
            self._orders.sending[cid] = mine
        try:
            placed = yield Ask(
                lambda ex: ex.create_order(symbol, kind, side, amount, price, params),
                lookup=functools.partial(self._by_client_id, symbol, cid),
            )
            trades = yield from self._orders.trades_of(placed)
            with self._lock:
                return self._orders.adopt(placed, mine, trades)
        finally:
            with self._lock:
                self._orders.sending.pop(cid, None)

    def _by_client_id(self, symbol: str, cid: str) -> Steps[dict[str, Any] | None]:
        """The venue's order with this client order id, None when it has none: asked by the id
        where the exchange takes it (Binance), else found among its orders in ``symbol``."""
        try:
            return dict(
                (
                    yield Ask(
                        lambda ex: ex.fetch_order(None, symbol, {"clientOrderId": cid}), raw=True
                    )
                )
            )
        except ccxt.OrderNotFound:
            return None
        except (ccxt.ArgumentsRequired, ccxt.NotSupported, ccxt.BadRequest):
            pass  # this exchange finds orders by venue id only
        listed = []
        if self.exchange.has.get("fetchOrders"):
            listed = yield Ask(lambda ex: ex.fetch_orders(symbol), raw=True)
        if not listed:
            listed = (yield Ask(lambda ex: ex.fetch_open_orders(symbol), raw=True)) + (
                yield Ask(lambda ex: ex.fetch_closed_orders(symbol), raw=True)
            )
        found = [o for o in listed if o.get("clientOrderId") == cid]
        return dict(found[0]) if found else None

    def _cancel(self, order_id: str) -> Steps[None]:
        with self._lock:
            o = self.manager.get(order_id)
            self.manager.request_cancel(order_id)

        def ended() -> Steps[dict[str, Any] | None]:
            got = dict((yield Ask(lambda ex: ex.fetch_order(order_id, o.symbol), raw=True)))
            return got if got.get("status") != "open" else None

        try:
            raw = yield Ask(lambda ex: ex.cancel_order(order_id, o.symbol), lookup=ended)
        except CcxtError:
            yield from self._refresh(order_id)
            raise
        if raw.get("status") in (None, "open"):  # some venues answer before it is done
            raw = yield Ask(lambda ex: ex.fetch_order(order_id, o.symbol))
        trades = yield from self._orders.trades_of(raw)
        with self._lock:
            self._orders.sync(raw, trades)

    def _cancel_all(self, symbol: str) -> Steps[None]:
        with self._lock:
            mine = [o for o in self.manager.open_orders(symbol) if o.pending_request is None]
            for o in mine:
                self.manager.request_cancel(o.id)
        if mine:
            yield Ask(lambda ex: ex.cancel_all_orders(symbol))
        for o in mine:
            yield from self._refresh(o.id)

    def _refresh(self, order_id: str) -> Steps[Order]:
        o = self.manager.get(order_id)
        raw = yield Ask(lambda ex: ex.fetch_order(order_id, o.symbol))
        trades = yield from self._orders.trades_of(raw)
        with self._lock:
            self._orders.sync(raw, trades)
        return o

    def _replace(self, order_id: str, t: ReplaceTerms) -> Steps[None]:
        with self._lock:
            o = self.manager.get(order_id)
        if not self.exchange.has.get("editOrder"):
            raise CcxtError(self.id, "NotSupported", "the exchange cannot edit orders")
        inst = yield from self._instrument(o.symbol)
        qty = t.qty if t.qty is not None else o.leaves_qty
        inst.to_lots(qty)
        price = t.limit_price if t.limit_price is not None else o.limit_price
        if price is not None:
            inst.to_ticks(price, "limit_price")
        request = o.request.model_copy(
            update={"qty": qty, "limit_price": price, "client_order_id": None}
        )
        cid = uuid.uuid4().hex[:_CLIENT_ID_CHARS]
        symbol, kind, side, amount, px, params = order_args(request, cid, self.id)
        with self._lock:
            self.manager.request_replace(order_id, t)
        raw = yield Ask(lambda ex: ex.edit_order(order_id, symbol, kind, side, amount, px, params))
        trades = yield from self._orders.trades_of(raw)
        with self._lock:
            new_id = str(raw["id"])
            self.manager.apply(
                VenueReport.trusted(
                    kind=EventKind.REPLACED,
                    order_id=order_id,
                    ts=self._orders.ns(raw.get("timestamp")),
                    new_order_id=new_id,
                )
            )
            self._orders.sync(raw, trades)

    # ----- the account ----------------------------------------------------------------------

    def _balances(self) -> Steps[dict[str, tuple[Decimal, Decimal]]]:
        raw = yield Ask(lambda ex: ex.fetch_balance())
        out = {}
        for cur, free in (raw.get("free") or {}).items():
            used = (raw.get("used") or {}).get(cur)
            out[cur] = (decimal_of(free) or Decimal(0), decimal_of(used) or Decimal(0))
        return out

    def _positions(
        self, balances: dict[str, tuple[Decimal, Decimal]]
    ) -> Steps[dict[str, Position]]:
        out = {}
        for cur, (free, used) in balances.items():
            qty = free + used
            symbol = f"{cur}/{self.quote}"
            if cur == self.quote or qty == 0 or symbol not in self.instruments:
                continue
            ticker = yield Ask(functools.partial(_ticker, symbol=symbol))
            last = decimal_of(ticker.get("last")) or decimal_of(ticker.get("close"))
            avg = self._average_buy(symbol)
            value = qty * last if last is not None else Decimal(0)
            out[symbol] = Position.adopt(
                {
                    "symbol": symbol,
                    "qty": qty,
                    "avg_price": avg,
                    "cost_basis": qty * avg,
                    "realized_pnl": Decimal(0),
                    "mark": last,
                    "market_value": value,
                    "unrealized_pnl": value - qty * avg if avg else Decimal(0),
                }
            )
        return out

    def _average_buy(self, symbol: str) -> Decimal:
        qty = cost = Decimal(0)
        with self._lock:
            for o in self.manager.orders.values():
                if o.symbol != symbol:
                    continue
                if o.request.side.value == "buy":
                    for f in o.fills.values():
                        qty += f.qty
                        cost += f.qty * f.price
        return cost / qty if qty else Decimal(0)

    def _account(self) -> Steps[AccountSnapshot]:
        balances = yield from self._balances()
        free, used = balances.get(self.quote, (Decimal(0), Decimal(0)))
        positions = yield from self._positions(balances)
        long_value = sum((p.market_value for p in positions.values()), Decimal(0))
        zero = Decimal(0)
        with self._lock:
            fees = sum(
                (f.commission for o in self.manager.orders.values() for f in o.fills.values()),
                zero,
            )
        return AccountSnapshot.adopt(
            {
                "cash": free + used,
                "equity": free + used + long_value,
                "buying_power": free,
                "reserved": used,
                "leverage": Decimal(1),
                "long_market_value": long_value,
                "short_market_value": zero,
                "realized_pnl": zero,
                "unrealized_pnl": sum((p.unrealized_pnl for p in positions.values()), zero),
                "fees_paid": fees,
                "positions": positions,
            }
        )

    def _clock(self) -> Steps[BrokerClock]:
        """Crypto venues trade around the clock: always open, the venue's time."""
        ms = yield Ask(lambda ex: ex.fetch_time())
        return BrokerClock.trusted(
            timestamp_ns=int(ms) * 1_000_000, is_open=True, next_open_ns=None, next_close_ns=None
        )

    # ----- market data ----------------------------------------------------------------------

    def _quotes(self, symbols: list[str]) -> Steps[dict[str, Quote]]:
        out = {}
        for s in symbols:
            t = yield Ask(functools.partial(_ticker, symbol=s))
            bid, ask = decimal_of(t.get("bid")), decimal_of(t.get("ask"))
            if not bid and not ask:
                continue
            out[s] = Quote(
                symbol=s,
                bid_price=bid or None,
                bid_size=decimal_of(t.get("bidVolume")) or Decimal(0),
                ask_price=ask or None,
                ask_size=decimal_of(t.get("askVolume")) or Decimal(0),
                timestamp_ns=self._orders.ns(t.get("timestamp")),
            )
        return out

    def _trades(self, symbols: list[str]) -> Steps[dict[str, Trade]]:
        out = {}
        for s in symbols:
            t = yield Ask(functools.partial(_ticker, symbol=s))
            last = decimal_of(t.get("last"))
            if last:
                size = decimal_of((t.get("info") or {}).get("lastQty")) or Decimal(0)
                ts = self._orders.ns(t.get("timestamp"))
                out[s] = Trade(symbol=s, price=last, size=size, timestamp_ns=ts)
        return out


def _ticker(ex: Any, symbol: str) -> Any:
    return ex.fetch_ticker(symbol)
