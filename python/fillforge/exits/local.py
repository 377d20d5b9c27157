"""The local side of :class:`~fillforge.exits.manager.ExitManager`: the market data a local
plan watches (trades, quotes or bars) moved through its levels, and the exits sent when a level
is crossed: a target as a limit at its level (or resting at the venue from the start), the stop
as a market order once no target works (OCO semantics: never both). A venue plan's break-even
moves the venue's stop from here too."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from fillforge.broker.models import Bar, Quote, Trade
from fillforge.exits.position import ExitMode, ManagedExit, Phase
from fillforge.exits.requests import stop_request, target_request
from fillforge.exits.venue import VenueOrders

__all__ = ["LocalExits"]


class LocalExits(VenueOrders):
    """Local triggers and the exits they send (a base class: the manager supplies
    ``_advance``)."""

    resting_targets: bool
    _plans: dict[str, ManagedExit]

    def _advance(self, m: ManagedExit) -> None:
        raise NotImplementedError  # the manager's next step for the plan

    # ----- market data --------------------------------------------------------------------

    def _market(self, kind: str, x: object) -> None:
        symbol = getattr(x, "symbol", "")
        m = self._plans.get(symbol)
        if m is None or m.watch is None or m.phase is Phase.DONE:
            return
        if m.stop_retry and self._shows_exit_side(m):
            m.stop_retry = False
            m.stop_owed = True
        tick = m.instrument.tick_size
        if isinstance(x, Quote):
            # A quote is a price only when it shows both sides, uncrossed: a book with one
            # side swept is in transition (a print took it), not a price to exit at.
            bid, ask = x.bid_price, x.ask_price
            if bid is None or ask is None or bid >= ask:
                return
            prices = [bid if m.side == 1 else ask]
        elif isinstance(x, Trade):
            prices = [x.price]
        else:
            assert isinstance(x, Bar)  # the adverse extreme first
            prices = [x.open, x.low, x.high] if m.side == 1 else [x.open, x.high, x.low]
            prices.append(x.close)
        for p in prices:
            if m.phase is not Phase.ACTIVE:
                break
            self._price(m, int(p / tick))
        if m.stop_owed:
            self._advance(m)

    def _shows_exit_side(self, m: ManagedExit) -> bool:
        """Does the market show the side a market exit would take (bids for a sell)?"""
        q = self.broker.latest_quote(m.symbol)
        return q is not None and (q.bid_price if m.side == 1 else q.ask_price) is not None

    def _price(self, m: ManagedExit, p: int) -> None:
        assert m.watch is not None
        before = m.watch.stop
        hit, crossed = m.watch.on_price(p)
        if m.mode is ExitMode.VENUE:
            if m.watch.stop != before:
                self._move_venue_stop(m)
            return
        if hit:
            m.note(
                f"stop {m.instrument.to_price(m.watch.stop)} crossed at {m.instrument.to_price(p)}"
            )
            m.phase = Phase.STOPPING
            m.stop_owed = True
            self._cancel_open(m, m.working("tier:"))
            return
        if crossed:  # the farthest first: a jump past several fires them all
            self._sync_tiers(m, crossed)

    # ----- sending ------------------------------------------------------------------------

    def _sync_tiers(self, m: ManagedExit, order: Iterable[int]) -> None:
        """Place the tiers that should work now, in ``order``: every tier with something to
        take when targets rest at the venue, else the tiers whose level was crossed; a resting
        tier whose size changed (more of the entry filled) is resized by replace."""
        assert m.watch is not None
        for i in order:
            tier = m.tiers[i]
            if tier.pending <= 0:
                continue
            if tier.order_id is None:
                if self.resting_targets or i in m.watch.fired:
                    self._send_tier(m, i)
                continue
            o = self.broker.get_order(tier.order_id)
            qty = o.cum_qty + m.instrument.to_qty(tier.pending)
            price = m.instrument.to_price(tier.price)
            if (
                o.status.is_open
                and o.pending_request is None
                and (o.order_qty != qty or o.limit_price != price)
            ):
                oid = tier.order_id
                m.note(f"target {i} now {qty} at {price}")
                self._call(m, lambda o=oid, q=qty, p=price: self._replace(o, q, p))  # type: ignore[misc]

    def _replace(self, order_id: str, qty: Decimal, price: Decimal) -> None:
        self.broker.replace(order_id, qty=qty, limit_price=price)

    def _send_tier(self, m: ManagedExit, i: int) -> None:
        tier = m.tiers[i]
        committed = sum(t.pending for t in m.tiers if t.order_id is not None)
        lots = min(tier.pending, m.remaining - committed, self._held(m) - committed)
        if lots <= 0 or tier.order_id is not None:
            return
        tier.lots = tier.filled + lots
        req = target_request(m, i, lots)
        m.note(f"target {i}: limit {req.qty} at {req.limit_price}")
        order = self._call(m, lambda: self.broker.submit(req))
        if order is not None:
            tier.order_id = order.id
            self._own(m, order.id, f"tier:{i}")
            self._put("sync", None)

    def _send_stop(self, m: ManagedExit) -> None:
        lots = min(m.remaining, self._held(m))
        if lots <= 0:
            m.stop_owed = False
            return
        req = stop_request(m, lots)
        m.stop_owed = False
        order = self._call(m, lambda: self.broker.submit(req))
        if order is None:
            m.stop_owed = True
            return
        m.stop_order = order.id
        self._own(m, order.id, "stop")
        m.note(f"stop: market {req.qty}")
        self._put("sync", None)
