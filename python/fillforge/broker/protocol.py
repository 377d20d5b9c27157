"""The broker interface strategy code is written against: :class:`Broker` (sync) and its async
twin :class:`AsyncBroker`, for the simulated and the live brokers alike.

A replace takes one :class:`~fillforge.orders.models.ReplaceTerms`, or its fields as keywords
(sugar: ``replace(oid, limit_price=p)`` is ``replace(oid, ReplaceTerms(limit_price=p))``);
:func:`replace_terms` turns either form into the terms, and is the only place that does.
Every implementation's ``replace`` has the signature of :meth:`Broker.replace`.

:class:`AsyncBroker` has every method of :class:`Broker` with the same parameters and defaults,
awaitable, except :meth:`~Broker.events`, whose stream is itself async-iterable
(``tests/test_broker_protocol.py`` holds the two to this).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Protocol, TypedDict, Unpack, runtime_checkable

from fillforge.broker.models import AccountSnapshot, Bar, BrokerClock, Position, Quote, Trade
from fillforge.broker.timers import TimerCallback, TimerWhen
from fillforge.errors import OrderValidationError
from fillforge.orders.manager import EventStream, Subscriber
from fillforge.orders.models import OrderRequest, ReplaceTerms
from fillforge.orders.order import Order

__all__ = ["AsyncBroker", "Broker", "ReplaceChanges", "replace_terms"]


class ReplaceChanges(TypedDict, total=False):
    """The keyword form of :class:`~fillforge.orders.models.ReplaceTerms` (the same fields)."""

    qty: Decimal | None
    limit_price: Decimal | None
    stop_price: Decimal | None
    trail: Decimal | None
    client_order_id: str | None


def replace_terms(terms: ReplaceTerms | None, changes: ReplaceChanges) -> ReplaceTerms:
    """The terms a replace asks for: ``terms``, or the keyword ``changes`` (never both)."""
    if terms is None:
        return ReplaceTerms(**changes)
    if not isinstance(terms, ReplaceTerms):
        raise OrderValidationError("terms", terms, "expected ReplaceTerms (or keywords)")
    given = {k: v for k, v in changes.items() if v is not None}
    if given:
        raise OrderValidationError("terms", given, "give ReplaceTerms or keywords, not both")
    return terms


@runtime_checkable
class Broker(Protocol):
    """What strategy code needs from any broker, simulated or live.

    Timers (``set_timer``/``cancel_timer``) and market data (``latest_quote``, ``last_trade``,
    ``subscribe_quotes``/``_trades``/``_bars``) are described in ``docs/broker.md``.
    """

    def submit(self, request: OrderRequest) -> Order: ...
    def cancel(self, order_id: str) -> None: ...
    def replace(
        self, order_id: str, terms: ReplaceTerms | None = None, **changes: Unpack[ReplaceChanges]
    ) -> None: ...
    def get_order(self, order_id: str) -> Order: ...
    def get_order_by_client_id(self, client_order_id: str) -> Order: ...
    def orders(self, *, open_only: bool = False, symbol: str | None = None) -> list[Order]: ...
    def positions(self) -> dict[str, Position]: ...
    def account(self) -> AccountSnapshot: ...
    def clock(self) -> BrokerClock: ...
    def events(self) -> EventStream: ...
    def subscribe(self, callback: Subscriber) -> Callable[[], None]: ...
    def set_timer(self, name: str, callback: TimerCallback, **when: Unpack[TimerWhen]) -> None: ...
    def cancel_timer(self, name: str) -> None: ...
    def latest_quote(self, symbol: str) -> Quote | None: ...
    def last_trade(self, symbol: str) -> Trade | None: ...
    def subscribe_quotes(
        self, symbol: str, callback: Callable[[Quote], None]
    ) -> Callable[[], None]: ...
    def subscribe_trades(
        self, symbol: str, callback: Callable[[Trade], None]
    ) -> Callable[[], None]: ...
    def subscribe_bars(
        self, symbol: str, callback: Callable[[Bar], None]
    ) -> Callable[[], None]: ...


@runtime_checkable
class AsyncBroker(Protocol):
    """What an asyncio strategy needs from any broker: :class:`Broker`, awaitable."""

    async def submit(self, request: OrderRequest) -> Order: ...
    async def cancel(self, order_id: str) -> None: ...
    async def replace(
        self, order_id: str, terms: ReplaceTerms | None = None, **changes: Unpack[ReplaceChanges]
    ) -> None: ...
    async def get_order(self, order_id: str) -> Order: ...
    async def get_order_by_client_id(self, client_order_id: str) -> Order: ...
    async def orders(
        self, *, open_only: bool = False, symbol: str | None = None
    ) -> list[Order]: ...
    async def positions(self) -> dict[str, Position]: ...
    async def account(self) -> AccountSnapshot: ...
    async def clock(self) -> BrokerClock: ...
    def events(self) -> EventStream: ...
    async def subscribe(self, callback: Subscriber) -> Callable[[], None]: ...
    async def set_timer(
        self, name: str, callback: TimerCallback, **when: Unpack[TimerWhen]
    ) -> None: ...
    async def cancel_timer(self, name: str) -> None: ...
    async def latest_quote(self, symbol: str) -> Quote | None: ...
    async def last_trade(self, symbol: str) -> Trade | None: ...
    async def subscribe_quotes(
        self, symbol: str, callback: Callable[[Quote], None]
    ) -> Callable[[], None]: ...
    async def subscribe_trades(
        self, symbol: str, callback: Callable[[Trade], None]
    ) -> Callable[[], None]: ...
    async def subscribe_bars(
        self, symbol: str, callback: Callable[[Bar], None]
    ) -> Callable[[], None]: ...
