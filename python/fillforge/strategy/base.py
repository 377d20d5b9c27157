"""The :class:`Strategy` base: the callbacks a runner calls, every one optional.

Override only what the strategy needs: the runner subscribes to a kind of market data only when
its callback is overridden (a quote subscription makes the simulator observe that market
message by message, so a daily-bar strategy that never looks at quotes must not pay for them).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fillforge.broker import Bar, Quote, Trade
from fillforge.orders.models import OrderEvent
from fillforge.strategy.records import FillRecord

if TYPE_CHECKING:
    from fillforge.strategy.context import Context

__all__ = ["CALLBACKS", "Strategy", "overridden"]

#: The callbacks, in the order the docs list them.
CALLBACKS = (
    "on_start",
    "on_bar",
    "on_quote",
    "on_trade",
    "on_fill",
    "on_order",
    "on_timer",
    "on_stop",
)


class Strategy:
    """Subclass this and override the callbacks you need; each default does nothing.

    The runner sets :attr:`ctx` (a :class:`~fillforge.strategy.context.Context`: the broker,
    the time, timers, the latest market data and the bar history) before ``on_start`` and calls
    the callbacks one at a time, never one inside another, in the order things happened:

    - ``on_start()`` once, before any data; ``on_stop()`` once, after the last callback;
    - ``on_bar(bar)`` after ``bar`` has closed (its row is already in ``ctx.history``);
    - ``on_quote(quote)`` when a symbol's best bid or ask changes; ``on_trade(trade)`` per print;
    - ``on_order(event)`` for every event of the strategy's orders, and ``on_fill(fill)`` for
      each execution (after the ``on_order`` of the event that carried it);
    - ``on_timer(name, t_ns)`` when a timer set with ``ctx.set_timer`` is due.
    """

    ctx: Context

    def on_start(self) -> None:
        """Before the first data: subscribe, size, set timers."""

    def on_bar(self, bar: Bar) -> None:
        """A bar of one of the runner's symbols has closed."""

    def on_quote(self, quote: Quote) -> None:
        """The best bid or ask of one of the runner's symbols changed."""

    def on_trade(self, trade: Trade) -> None:
        """A print in one of the runner's symbols."""

    def on_fill(self, fill: FillRecord) -> None:
        """One of the strategy's orders (or a leg the broker placed for it) executed."""

    def on_order(self, event: OrderEvent) -> None:
        """Any change to one of the strategy's orders (accepted, canceled, filled, ...)."""

    def on_timer(self, name: str, t_ns: int) -> None:
        """The timer ``name`` (set with ``ctx.set_timer``) was due at ``t_ns``."""

    def on_stop(self) -> None:
        """After the last callback: the data ended, or the run was stopped."""


def overridden(strategy: Strategy, name: str) -> bool:
    """Whether ``strategy``'s class overrides the callback ``name`` (else it is a no-op)."""
    return getattr(type(strategy), name, None) is not getattr(Strategy, name)
