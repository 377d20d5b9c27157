""":class:`RiskGate`: any :class:`~fillforge.broker.Broker` behind a
:class:`~fillforge.risk.manager.RiskManager`, itself a :class:`~fillforge.broker.Broker`.

The same controls then run in a backtest (around ``SimulatedBroker``), on paper (around
``AlpacaBroker`` pointed at the served paper account) and live (``AlpacaBroker``): strategy code
talks to the gate as it would to the broker.

- :meth:`RiskGate.submit` asks the manager first. A denied order never reaches the broker: it is
  made here, in the gate's own order book, and ends ``denied`` at once (the local refusal state;
  Alpaca and FIX show it as rejected: ``status.alpaca == "rejected"``), its reason
  ``"<code>: <why>"``. The order comes back to the caller like any other, and
  :meth:`~RiskGate.get_order`, :meth:`~RiskGate.orders`, :meth:`~RiskGate.events` and
  :meth:`~RiskGate.subscribe` show it with the broker's orders. ``raise_denied=True`` raises the
  :class:`~fillforge.errors.RiskDeniedError` instead (and still records the denial).
- :meth:`RiskGate.replace` asks the manager too; a denied replace raises (a replace returns
  nothing to mark) and changes nothing.
- Cancels and everything else pass straight through.

For asyncio, wrap the gate: ``AsyncAdapter(RiskGate(broker, ...))`` is an
:class:`~fillforge.broker.AsyncBroker` with the same controls.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from itertools import count
from typing import Unpack

from fillforge.broker.delegate import BrokerDelegate
from fillforge.broker.models import AccountSnapshot, Position
from fillforge.broker.protocol import Broker, ReplaceChanges, replace_terms
from fillforge.errors import DuplicateClientOrderIdError, RiskDeniedError, RiskError
from fillforge.orders.manager import EventStream, OrderManager, Subscriber
from fillforge.orders.models import OrderEvent, OrderRequest, ReplaceTerms
from fillforge.orders.order import Order
from fillforge.risk.kill import KillReport
from fillforge.risk.manager import Breach, RiskManager
from fillforge.risk.proposal import Control

__all__ = ["RiskGate"]


def _nothing() -> None:
    pass


class RiskGate(BrokerDelegate):
    """``broker`` behind ``manager`` (or a new :class:`RiskManager` over ``broker`` with
    ``controls`` and ``on_breach``; build the manager yourself for its other options). Denied
    orders get ids ``risk-<n>``."""

    def __init__(
        self,
        broker: Broker,
        controls: Iterable[Control] = (),
        *,
        manager: RiskManager | None = None,
        on_breach: Mapping[str, Breach | str] | None = None,
        raise_denied: bool = False,
    ) -> None:
        self.broker = self.wrapped = broker
        if manager is None:
            manager = RiskManager(broker, controls, on_breach=on_breach)
        elif manager.broker is not broker:
            raise RiskError("manager", manager, "watches another broker than the one gated")
        self.manager = manager
        self.raise_denied = bool(raise_denied)
        n = count(1)
        self._denied = OrderManager(id_factory=lambda: f"risk-{next(n)}", clock=broker.now_ns)
        self._denials: dict[str, RiskDeniedError] = {}
        self._subscribers: list[Subscriber] = []
        self._streams: list[EventStream] = []
        self._unsubscribe = broker.subscribe(self._forward)
        self._denied.subscribe(self._forward)

    # ----- orders -------------------------------------------------------------------------

    def submit(self, request: OrderRequest) -> Order:
        try:
            self.manager.check(request)
        except RiskDeniedError as e:
            if self.raise_denied:
                raise
            return self._deny(request, e)
        order = self.broker.submit(request)
        self.manager.sent(order)
        return order

    def _deny(self, request: OrderRequest, e: RiskDeniedError) -> Order:
        cid = request.client_order_id
        if cid is not None:
            try:
                self.broker.get_order_by_client_id(cid)
            except LookupError:
                pass
            else:
                raise DuplicateClientOrderIdError(f"client_order_id={cid!r}: already used")
        order = self._denied.create(request)
        self._denials[order.id] = e
        self._denied.deny(order.id, f"{e.code}: {e.why}")
        return order

    def denial(self, order_id: str) -> RiskDeniedError | None:
        """Why the gate denied ``order_id`` (its ``code``, ``field``, ``value``, ``why``);
        None for an order it let through. The ``denied`` event's ``reason`` says the same as
        ``"<code>: <why>"``."""
        return self._denials.get(order_id)

    def cancel(self, order_id: str) -> None:
        self.broker.cancel(order_id)

    def replace(
        self, order_id: str, terms: ReplaceTerms | None = None, **changes: Unpack[ReplaceChanges]
    ) -> None:
        t = replace_terms(terms, changes)
        self.manager.check_replace(self.broker.get_order(order_id), t)
        self.broker.replace(order_id, t)

    def kill(self, *, flatten: bool = False, reason: str = "manual") -> KillReport:
        """The manager's kill switch (:meth:`RiskManager.kill`)."""
        return self.manager.kill(flatten=flatten, reason=reason)

    # ----- queries: the broker's orders and the denied ones --------------------------------

    def get_order(self, order_id: str) -> Order:
        o = self._denied.orders.get(order_id)
        return o if o is not None else self.broker.get_order(order_id)

    def get_order_by_client_id(self, client_order_id: str) -> Order:
        try:
            return self.broker.get_order_by_client_id(client_order_id)
        except LookupError:
            return self._denied.by_client_order_id(client_order_id)

    def orders(self, *, open_only: bool = False, symbol: str | None = None) -> list[Order]:
        """The broker's orders, then the denied ones (never open)."""
        out = self.broker.orders(open_only=open_only, symbol=symbol)
        if not open_only:
            out += [o for o in self._denied.orders.values() if symbol is None or o.symbol == symbol]
        return out

    def denied(self) -> list[Order]:
        """The orders the gate denied, oldest first."""
        return list(self._denied.orders.values())

    def events(self) -> EventStream:
        """A new buffered stream of every order event from now on, the broker's and the
        gate's denials alike."""
        s = EventStream()
        self._streams.append(s)
        return s

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        self._subscribers.append(callback)
        return lambda: self._subscribers.remove(callback)

    def _forward(self, event: OrderEvent) -> None:
        for cb in list(self._subscribers):
            cb(event)
        for s in self._streams:
            s.push(event)

    # ----- everything else: the broker's ----------------------------------------------------

    def positions(self) -> dict[str, Position]:
        return self.broker.positions()

    def account(self) -> AccountSnapshot:
        return self.broker.account()

    def close(self) -> None:
        """Stop following the broker (the gate's and the manager's subscriptions). Idempotent."""
        stop, self._unsubscribe = self._unsubscribe, _nothing
        stop()
        self.manager.close()

    def __repr__(self) -> str:
        return f"RiskGate({self.broker!r}, {self.manager!r})"
