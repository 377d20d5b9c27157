"""What a strategy sees: :class:`Context`, the small typed view the runner gives it.

The context passes order requests and queries to the broker unchanged (the same calls on every
broker), tells the broker's time, keeps the strategy's timers under names of its own, and holds
the latest quote, trade and bar delivered per symbol and each symbol's :class:`BarHistory`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any, Unpack

from fillforge.broker import AccountSnapshot, Bar, Broker, Position, Quote, ReplaceChanges, Trade
from fillforge.errors import StrategyError
from fillforge.orders.enums import OrderSide, OrderType
from fillforge.orders.models import OrderRequest, ReplaceTerms
from fillforge.orders.order import Order
from fillforge.strategy.history import BarHistory

__all__ = ["TIMER_PREFIX", "Context"]

#: The broker timer name of a strategy timer ``name`` is ``TIMER_PREFIX + name``.
TIMER_PREFIX = "strategy:"
_ZERO = Decimal(0)


class Context:
    """The strategy's handle on its run (``strategy.ctx``).

    ``symbols`` are the runner's symbols, in the order given: bars and events at one instant
    are delivered in that order. ``quote``/``trade``/``bar`` are the latest delivered (a quote
    or trade not subscribed to, because the strategy does not override its callback, is asked
    of the broker on demand). ``history(symbol)`` is the bars delivered so far.
    """

    __slots__ = (
        "_arm",
        "_bars",
        "_disarm",
        "_equity",
        "_histories",
        "_qty",
        "_quotes",
        "_stop",
        "_timers",
        "_trades",
        "broker",
        "symbols",
    )

    def __init__(
        self,
        broker: Broker,
        symbols: Iterable[str],
        *,
        arm: Callable[[str, int | None, int | None], None],
        disarm: Callable[[str], None],
        stop: Callable[[], None],
        qty: Callable[[str], Decimal] | None = None,
        equity: Callable[[], Decimal] | None = None,
    ) -> None:
        self.broker = broker
        self.symbols = tuple(symbols)
        self._histories = {s: BarHistory(s) for s in self.symbols}
        self._quotes: dict[str, Quote] = {}
        self._trades: dict[str, Trade] = {}
        self._bars: dict[str, Bar] = {}
        self._timers: set[str] = set()
        self._arm, self._disarm, self._stop = arm, disarm, stop
        self._qty = qty  # the broker's cheap position read, where it has one
        self._equity = equity

    # ----- time and timers ------------------------------------------------------------------

    def now_ns(self) -> int:
        """The broker's time (simulated time on a simulated broker), UNIX ns."""
        return self.broker.now_ns()

    def set_timer(
        self, name: str, *, at_ns: int | None = None, every_ns: int | None = None
    ) -> None:
        """Call ``on_timer(name, t)`` at ``at_ns``, or every ``every_ns`` from now, on the
        broker's timers (their rules: exactly one of the two, not in the past, a name in use is
        refused until cancelled)."""
        if not isinstance(name, str) or not name:
            raise StrategyError("name", name, "expected a non-empty timer name")
        if name in self._timers:
            raise StrategyError("name", name, "a timer of this name is set: cancel it first")
        self._arm(name, at_ns, every_ns)
        self._timers.add(name)

    def cancel_timer(self, name: str) -> None:
        """Remove the timer ``name``; one not set (or a one-shot timer that fired) is refused."""
        if name not in self._timers:
            raise StrategyError("name", name, "no timer of this name is set")
        self._timers.discard(name)
        self._disarm(name)

    @property
    def timers(self) -> frozenset[str]:
        """The names of the strategy's timers that are set."""
        return frozenset(self._timers)

    def stop(self) -> None:
        """End the run: no callback after the current one but ``on_stop``."""
        self._stop()

    # ----- orders ---------------------------------------------------------------------------

    def submit(self, request: OrderRequest) -> Order:
        return self.broker.submit(request)

    def cancel(self, order_id: str) -> None:
        self.broker.cancel(order_id)

    def replace(
        self, order_id: str, terms: ReplaceTerms | None = None, **changes: Unpack[ReplaceChanges]
    ) -> None:
        self.broker.replace(order_id, terms, **changes)

    def buy(self, symbol: str, qty: Decimal | int, **terms: Any) -> Order:
        """Submit a buy of ``qty``: a market order, or a limit order when ``limit_price`` is
        given; any other :class:`~fillforge.orders.models.OrderRequest` field as a keyword."""
        return self.submit(_request(symbol, OrderSide.BUY, qty, terms))

    def sell(self, symbol: str, qty: Decimal | int, **terms: Any) -> Order:
        """Submit a sell of ``qty`` (as :meth:`buy`)."""
        return self.submit(_request(symbol, OrderSide.SELL, qty, terms))

    def order_target(self, symbol: str, qty: Decimal | int, **terms: Any) -> Order | None:
        """Buy or sell the difference between the position in ``symbol`` and ``qty`` (signed:
        negative is short); None when it is already there. Orders still working are not
        counted: cancel them first if they would change the position."""
        delta = _qty(qty) - self.position(symbol)
        if delta == 0:
            return None
        side = OrderSide.BUY if delta > 0 else OrderSide.SELL
        return self.submit(_request(symbol, side, abs(delta), terms))

    def orders(self, *, open_only: bool = False, symbol: str | None = None) -> list[Order]:
        return self.broker.orders(open_only=open_only, symbol=symbol)

    def positions(self) -> dict[str, Position]:
        return self.broker.positions()

    def position(self, symbol: str) -> Decimal:
        """The signed quantity held in ``symbol`` (0 when flat)."""
        if self._qty is not None:
            return self._qty(symbol)
        p = self.broker.positions().get(symbol)
        return _ZERO if p is None else p.qty

    def account(self) -> AccountSnapshot:
        return self.broker.account()

    def equity(self) -> Decimal:
        """The account's equity now (cash plus positions at their marks)."""
        if self._equity is not None:
            return self._equity()
        return self.broker.account().equity

    # ----- market data ----------------------------------------------------------------------

    def quote(self, symbol: str) -> Quote | None:
        """The latest quote of ``symbol`` (None while there is none)."""
        q = self._quotes.get(symbol)
        return q if q is not None else self.broker.latest_quote(symbol)

    def trade(self, symbol: str) -> Trade | None:
        """The latest print of ``symbol`` (None before the first)."""
        t = self._trades.get(symbol)
        return t if t is not None else self.broker.last_trade(symbol)

    def bar(self, symbol: str) -> Bar | None:
        """The latest bar delivered for ``symbol`` (None before the first)."""
        self.history(symbol)  # an unknown symbol is refused
        return self._bars.get(symbol)

    def history(self, symbol: str) -> BarHistory:
        """The bars of ``symbol`` delivered so far (numpy arrays, oldest first)."""
        h = self._histories.get(symbol)
        if h is None:
            raise StrategyError("symbol", symbol, f"not one of the runner's {self.symbols}")
        return h


def _qty(qty: Decimal | int) -> Decimal:
    if isinstance(qty, bool) or not isinstance(qty, (int, Decimal)):
        raise StrategyError("qty", qty, "expected an int or a Decimal (exact), not a float")
    return Decimal(qty)


def _request(
    symbol: str, side: OrderSide, qty: Decimal | int, terms: dict[str, Any]
) -> OrderRequest:
    if "type" not in terms:
        limit, stop = terms.get("limit_price"), terms.get("stop_price")
        if limit is not None:
            terms["type"] = OrderType.STOP_LIMIT if stop is not None else OrderType.LIMIT
        elif stop is not None:
            terms["type"] = OrderType.STOP
    return OrderRequest(symbol=symbol, side=side, qty=_qty(qty), **terms)
