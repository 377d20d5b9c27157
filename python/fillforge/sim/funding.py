"""What a simulated broker's orders hold of the account: the price buying power is reserved at,
and the account calls that reserve, check and release it (the checks themselves are
:mod:`fillforge.risk`'s, run by the :class:`~fillforge.sim.account.Account`)."""

from __future__ import annotations

from decimal import Decimal

from fillforge.errors import SimulationError
from fillforge.orders.enums import OrderSide
from fillforge.orders.models import OrderRequest
from fillforge.orders.order import Order
from fillforge.sim.account import Account
from fillforge.sim.venue import Market, Venue
from fillforge.venues.rules import VenueRules

__all__ = ["Funding"]

_BUY, _SELL = OrderSide.BUY, OrderSide.SELL  # read once (an enum member read is a slow hook)


class Funding:
    """Reservations for one broker's orders on ``account``. ``short_markup`` (else the venue
    profile's) makes a sell hold buying power at ``max(limit, ask * (1 + short_markup))``."""

    def __init__(
        self,
        account: Account,
        venue: Venue,
        rules: VenueRules | None,
        short_markup: Decimal | None,
    ) -> None:
        self.account = account
        self._venue = venue
        markup = short_markup
        if markup is None and rules is not None:
            markup = rules.short_markup
        self._markup = markup

    def reference_price(self, market: Market, request: OrderRequest) -> Decimal:
        """The price buying power is reserved at: the limit, else the far touch, else last; a
        sale at no less than the ask plus the short markup."""
        markup = self._markup
        side = request.side
        if side is _SELL and markup is not None:
            ask = market.best_ask()
            if ask is not None:
                marked = ask * (1 + markup)
                return max(request.limit_price or marked, marked)
        if request.limit_price is not None:
            return request.limit_price
        touch = market.best_ask() if side is _BUY else market.best_bid()
        ref = touch or market.last() or request.stop_price
        if ref is None:
            raise SimulationError(
                "symbol", request.symbol, "no price yet: no quote or trade to check the order"
            )
        return ref

    def replacement_price(self, o: Order, limit_price: Decimal | None) -> Decimal:
        """The price a replacement of ``o`` reserves buying power at."""
        price = limit_price or o.limit_price
        return price or self.reference_price(self._venue.market(o.symbol), o.request)

    def check_replacement(self, o: Order, qty: Decimal | None, limit_price: Decimal | None) -> None:
        """Raise as the account would if the replacement took ``o``'s place; change nothing."""
        if not self.account.book.holds(o.id):
            return
        leaves = (qty if qty is not None else o.order_qty) - o.cum_qty
        if leaves > 0:
            self.account.check_replace(o.id, leaves, self.replacement_price(o, limit_price))

    def reserve(self, order: Order, price: Decimal) -> None:
        self.account.reserve(order.id, order.symbol, order.request.side, order.leaves_qty, price)

    def release(self, order_id: str) -> None:
        """Free ``order_id``'s buying power, if it holds any."""
        self.account.book.discard(order_id)  # the account's reservations, not its forwarding

    def filled(self, order_id: str, qty: Decimal, remaining: int) -> None:
        """``qty`` of the order filled (the venue's: above 0), ``remaining`` lots are left on
        the venue."""
        book = self.account.book
        # What is left of its reservation (0 without one); a notional order's estimate may
        # leave some over when the venue has nothing left.
        if book.shrink(order_id, qty) and remaining == 0:
            book.release(order_id)

    def rekey(self, order_id: str, new_order_id: str) -> None:
        """``new_order_id`` holds what ``order_id`` held."""
        if self.account.book.holds(order_id):
            self.account.rekey(order_id, new_order_id)
