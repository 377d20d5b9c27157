"""``CcxtBroker``: the :class:`~fillforge.broker.Broker` interface on a crypto venue through ccxt's
unified API (Binance, Bybit, Coinbase, or any ccxt exchange with the same calls).

Symbols are ccxt's unified ones (``BTC/USDT``). Instruments come from ``load_markets()`` once, tick
and lot from each market's precision and the minimum from its amount limit
(:func:`~fillforge.venues.ccxt.convert.instrument_of`); every request is checked against its
instrument before anything is sent. Quantities are fractional; fills carry the venue's fees.

Robustness, as :class:`~fillforge.alpaca.AlpacaBroker`'s: every call is limited by the Rust
throttle and retried on network errors and outages (:mod:`~fillforge.venues.ccxt.transport`); a
submit always carries a client order id and, before a retry, looks its order up by it, so a timeout
never makes a duplicate. The venue's order states are polled (every ``poll_every`` seconds, while
orders are open), streamed where ccxt.pro offers a websocket (``stream=True``:
:mod:`~fillforge.venues.ccxt.stream`), and reconciled after a start, after every run of network
failures and after every stream reconnect (:mod:`~fillforge.venues.ccxt.sync`); the order events go
to the same :class:`~fillforge.orders.manager.OrderManager` stream as every other broker's.
Credentials come from the arguments or ``<EXCHANGE>_API_KEY`` / ``<EXCHANGE>_SECRET`` and are never
logged.

Async code wraps it in :class:`fillforge.sim.aio.AsyncAdapter` (each call on a worker thread)."""

from __future__ import annotations

import functools
import os
import threading
import uuid
from decimal import Decimal
from typing import Any, Unpack

import ccxt

from fillforge.broker import (
    AccountSnapshot,
    Bar,
    BrokerClock,
    MarketDataMethods,
    Position,
    Quote,
    ReplaceChanges,
    TimerMethods,
    Trade,
    WallTimers,
    replace_terms,
)
from fillforge.broker.polling import PolledMarketData
from fillforge.errors import CcxtError, OrderValidationError, UnknownOrderIdError
from fillforge.orders.enums import EventKind
from fillforge.orders.manager import ManagedOrders, OrderManager
from fillforge.orders.models import Instrument, OrderRequest, ReplaceTerms, VenueReport
from fillforge.orders.order import Order
from fillforge.time import Clock, WallClock, from_seconds
from fillforge.venues.ccxt.convert import decimal_of, instrument_of, order_args
from fillforge.venues.ccxt.stream import OrderStream, pro_exchange
from fillforge.venues.ccxt.sync import OrderSync
from fillforge.venues.ccxt.transport import Transport

__all__ = ["CcxtBroker"]

_POLL = "\0ccxt-orders"  # the scheduler's timer name for the order poll
_CLIENT_ID_CHARS = 32  # Binance takes 36, Bybit 36, Coinbase 128


class CcxtBroker(TimerMethods, MarketDataMethods, ManagedOrders):
    """A :class:`~fillforge.broker.Broker` over one ccxt exchange.

    ``exchange`` is a ccxt id (``"binance"``, ``"bybit"``, ``"coinbase"``) or a built ccxt
    exchange; ``config`` goes to its constructor (``urls`` to point it at a compatible server,
    ``options``...). ``quote`` is the account's cash currency. ``timeout`` bounds each request
    (seconds); ``attempts`` and ``max_wait`` the retries; ``poll_every`` (seconds) how often open
    orders are polled (None: only on :meth:`reconcile`); ``stream`` also follows them on
    ccxt.pro's ``watch_orders`` websocket. ``clock`` tells the time (default: the
    wall clock): timers, times the venue gives none for.
    """

    _market_data: PolledMarketData
    _timers: WallTimers

    def __init__(
        self,
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
        if isinstance(exchange, str):
            cls = getattr(ccxt, exchange, None)
            if not isinstance(cls, type) or not issubclass(cls, ccxt.Exchange):
                raise CcxtError(exchange, "ExchangeNotFound", "not an exchange ccxt knows")
            prefix = exchange.upper()
            key = api_key or os.environ.get(f"{prefix}_API_KEY")
            sec = secret or os.environ.get(f"{prefix}_SECRET")
            settings: dict[str, Any] = {**(config or {})}
            if key and sec:
                settings.update(apiKey=key, secret=sec)
            exchange = cls(settings)
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
        self._call = self._transport.call
        self._timers = WallTimers(self._time, name="ccxt-timers")
        self._market_data = PolledMarketData(
            self._timers,
            from_seconds(data_poll_every, "data_poll_every"),
            {"quotes": self._quotes, "trades": self._trades, "bars": self._bars},
        )
        self.manager = OrderManager(clock=self._time.now_ns)
        self._lock = threading.RLock()
        self._orders = OrderSync(self.manager, self._lock, exchange, self._call, self._time)
        self._transport.reconnected = self._after_reconnect
        self._poll_every = poll_every
        self._want_stream = stream
        self._stream: OrderStream | None = None
        self.instruments: dict[str, Instrument] = {}

    def __repr__(self) -> str:
        return f"CcxtBroker({self.id}, markets={len(self.instruments)})"

    @property
    def reconnects(self) -> int:
        """How many runs of network failures have ended (each one reconciled)."""
        return self._reconnects

    _reconnects = 0

    # ----- lifecycle --------------------------------------------------------------------------

    def load_markets(self) -> dict[str, Instrument]:
        """The venue's markets as instruments (once; ``reload`` by calling it again)."""
        markets = self._call(lambda: self.exchange.load_markets(True))
        mode = int(getattr(self.exchange, "precisionMode", 4))
        self.instruments = {s: instrument_of(m, mode) for s, m in markets.items()}
        return self.instruments

    def connect(self) -> CcxtBroker:
        """Load the markets, start the order websocket (``stream=True``), reconcile, and poll
        open orders every ``poll_every`` seconds."""
        if not self.instruments:
            self.load_markets()
        if self._want_stream and self._stream is None:
            pro = pro_exchange(self.exchange)
            if pro is None:
                raise CcxtError(self.id, "NotSupported", "ccxt.pro has no websocket for it")
            self._stream = OrderStream(pro, self._orders, self._after_stream_reconnect)
            self._stream.start()
            self._stream.ready.wait(timeout=5)
        self.reconcile()
        if self._poll_every is not None and _POLL not in self._timers:
            every = from_seconds(self._poll_every, "poll_every")
            self._timers.set(_POLL, self._orders.reconcile_quietly, every_ns=every)
        return self

    def close(self) -> None:
        """Stop polling and the timer scheduler (timers stay set: a new timer starts it)."""
        if _POLL in self._timers:
            self._timers.cancel(_POLL)
        self._timers.close()
        if self._stream is not None:
            self._stream.stop()
            self._stream = None

    def __enter__(self) -> CcxtBroker:
        return self.connect()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _after_stream_reconnect(self) -> None:
        self._reconnects += 1
        self._orders.reconcile_quietly()

    @property
    def stream(self) -> OrderStream | None:
        """The order websocket, while it runs."""
        return self._stream

    def _after_reconnect(self) -> None:
        self._reconnects += 1
        threading.Thread(target=self._orders.reconcile_quietly, daemon=True).start()

    def instrument(self, symbol: str) -> Instrument:
        if not self.instruments:
            self.load_markets()
        found = self.instruments.get(symbol)
        if found is None:
            raise OrderValidationError("symbol", symbol, f"not a market on {self.id}")
        return found

    # ----- requests -----------------------------------------------------------------------

    def submit(self, request: OrderRequest, *, post_only: bool = False) -> Order:
        """Send an order (a client order id is made if it has none); ``post_only``: a limit
        order the venue refuses rather than let take (Binance's ``LIMIT_MAKER``)."""
        self.instrument(request.symbol).check(request)
        cid = request.client_order_id or uuid.uuid4().hex[:_CLIENT_ID_CHARS]
        symbol, kind, side, amount, price, params = order_args(request, cid)
        if post_only:  # a maker-only limit has no time in force to send (Binance: -1106)
            params["postOnly"] = True
            params.pop("timeInForce", None)
        mine = request.model_copy(update={"client_order_id": cid})

        def lookup() -> dict[str, Any] | None:
            return self._by_client_id(symbol, cid)

        with self._lock:
            self._orders.sending[cid] = mine
        try:
            placed = self._call(
                lambda: self.exchange.create_order(symbol, kind, side, amount, price, params),
                before_retry=lookup,
            )
            trades = self._orders.trades_of(placed)
            with self._lock:
                return self._orders.adopt(placed, mine, trades)
        finally:
            with self._lock:
                self._orders.sending.pop(cid, None)

    def _by_client_id(self, symbol: str, cid: str) -> dict[str, Any] | None:
        """The venue's order with this client order id, None when it has none: asked by the id
        where the exchange takes it (Binance), else found among its orders in ``symbol``."""
        ex = self.exchange
        try:
            return dict(ex.fetch_order(None, symbol, {"clientOrderId": cid}))
        except ccxt.OrderNotFound:
            return None
        except (ccxt.ArgumentsRequired, ccxt.NotSupported, ccxt.BadRequest):
            pass  # this exchange finds orders by venue id only
        listed = ex.fetch_orders(symbol) if ex.has.get("fetchOrders") else []
        if not listed:
            listed = ex.fetch_open_orders(symbol) + ex.fetch_closed_orders(symbol)
        found = [o for o in listed if o.get("clientOrderId") == cid]
        return dict(found[0]) if found else None

    def cancel(self, order_id: str) -> None:
        """Ask to cancel; an order that ended meanwhile is brought up to date, and the venue's
        refusal raised (:class:`~fillforge.errors.CcxtError`, ``OrderNotFound``)."""
        with self._lock:
            o = self.manager.get(order_id)
            self.manager.request_cancel(order_id)

        def ended() -> dict[str, Any] | None:
            got = dict(self.exchange.fetch_order(order_id, o.symbol))
            return got if got.get("status") != "open" else None

        try:
            raw = self._call(lambda: self.exchange.cancel_order(order_id, o.symbol), ended)
        except CcxtError:
            self.refresh(order_id)
            raise
        if raw.get("status") in (None, "open"):  # some venues answer before it is done
            raw = self._call(lambda: self.exchange.fetch_order(order_id, o.symbol))
        trades = self._orders.trades_of(raw)
        with self._lock:
            self._orders.sync(raw, trades)

    def cancel_all(self, symbol: str) -> None:
        """Cancel every open order in ``symbol`` in one request (Binance's ``DELETE
        openOrders``); each is then brought up to date."""
        with self._lock:
            mine = [o for o in self.manager.open_orders(symbol) if o.pending_request is None]
            for o in mine:
                self.manager.request_cancel(o.id)
        if mine:
            self._call(lambda: self.exchange.cancel_all_orders(symbol))
        for o in mine:
            self.refresh(o.id)

    def refresh(self, order_id: str) -> Order:
        """Bring one order up to the venue's state now."""
        o = self.manager.get(order_id)
        raw = self._call(lambda: self.exchange.fetch_order(order_id, o.symbol))
        trades = self._orders.trades_of(raw)
        with self._lock:
            self._orders.sync(raw, trades)
        return o

    def replace(
        self, order_id: str, terms: ReplaceTerms | None = None, **changes: Unpack[ReplaceChanges]
    ) -> None:
        """Change an order's quantity or limit price with ccxt's ``edit_order`` (on Binance
        spot a cancel-replace: a new order id, the old order ``replaced``)."""
        t = replace_terms(terms, changes)
        with self._lock:
            o = self.manager.get(order_id)
        if not self.exchange.has.get("editOrder"):
            raise CcxtError(self.id, "NotSupported", "the exchange cannot edit orders")
        inst = self.instrument(o.symbol)
        qty = t.qty if t.qty is not None else o.leaves_qty
        inst.to_lots(qty)
        price = t.limit_price if t.limit_price is not None else o.limit_price
        if price is not None:
            inst.to_ticks(price, "limit_price")
        request = o.request.model_copy(
            update={"qty": qty, "limit_price": price, "client_order_id": None}
        )
        symbol, kind, side, amount, px, params = order_args(request, uuid.uuid4().hex[:32])
        with self._lock:
            self.manager.request_replace(order_id, t)
        raw = self._call(
            lambda: self.exchange.edit_order(order_id, symbol, kind, side, amount, px, params)
        )
        trades = self._orders.trades_of(raw)
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

    # ----- queries ------------------------------------------------------------------------

    def get_order(self, order_id: str) -> Order:
        return self.manager.get(order_id)

    def balances(self) -> dict[str, tuple[Decimal, Decimal]]:
        """Every currency's (free, used) on the venue."""
        raw = self._call(self.exchange.fetch_balance)
        out = {}
        for cur, free in (raw.get("free") or {}).items():
            used = (raw.get("used") or {}).get(cur)
            out[cur] = (decimal_of(free) or Decimal(0), decimal_of(used) or Decimal(0))
        return out

    def positions(self) -> dict[str, Position]:
        """Each base asset held, as a position in its market against :attr:`quote`: the
        quantity is the venue's balance, the average price the local fills' (0 without any),
        the mark the last price."""
        return self._positions(self.balances())

    def _positions(self, balances: dict[str, tuple[Decimal, Decimal]]) -> dict[str, Position]:
        out = {}
        for cur, (free, used) in balances.items():
            qty = free + used
            symbol = f"{cur}/{self.quote}"
            if cur == self.quote or qty == 0 or symbol not in self.instruments:
                continue
            last = self._last_price(symbol)
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
            for o in self.manager.open_orders(symbol) + self.orders(symbol=symbol):
                if o.request.side.value == "buy":
                    for f in o.fills.values():
                        qty += f.qty
                        cost += f.qty * f.price
        return cost / qty if qty else Decimal(0)

    def _last_price(self, symbol: str) -> Decimal | None:
        t = self._call(lambda: self.exchange.fetch_ticker(symbol))
        return decimal_of(t.get("last")) or decimal_of(t.get("close"))

    def account(self) -> AccountSnapshot:
        balances = self.balances()
        free, used = balances.get(self.quote, (Decimal(0), Decimal(0)))
        positions = self._positions(balances)
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

    def now_ns(self) -> int:
        """The time of the clock this broker's timers run on (the broker is a Clock)."""
        return self._time.now_ns()

    def clock(self) -> BrokerClock:
        """Crypto venues trade around the clock: always open, the venue's time."""
        ms = self._call(self.exchange.fetch_time)
        return BrokerClock.trusted(
            timestamp_ns=int(ms) * 1_000_000, is_open=True, next_open_ns=None, next_close_ns=None
        )

    # ----- market data ----------------------------------------------------------------------

    def _quotes(self, symbols: list[str]) -> dict[str, Quote]:
        out = {}
        for s in symbols:
            t = self._call(functools.partial(self.exchange.fetch_ticker, s))
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

    def _trades(self, symbols: list[str]) -> dict[str, Trade]:
        out = {}
        for s in symbols:
            t = self._call(functools.partial(self.exchange.fetch_ticker, s))
            last = decimal_of(t.get("last"))
            if last:
                size = decimal_of((t.get("info") or {}).get("lastQty")) or Decimal(0)
                ts = self._orders.ns(t.get("timestamp"))
                out[s] = Trade(symbol=s, price=last, size=size, timestamp_ns=ts)
        return out

    def _bars(self, symbols: list[str]) -> dict[str, Bar]:
        return {}  # minute bars are not polled through ccxt yet

    # ----- keeping the local state right ----------------------------------------------------

    def reconcile(self) -> None:
        """Bring every local open order (and any open order the venue has in a symbol traded
        here) up to the venue's state."""
        self._orders.reconcile()

    def order_by_client_id(self, client_order_id: str) -> Order | None:
        """The local order with this client order id, None when there is none."""
        try:
            return self.manager.by_client_order_id(client_order_id)
        except UnknownOrderIdError:
            return None
