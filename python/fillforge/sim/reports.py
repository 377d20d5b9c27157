"""The drain: a venue engine's events (fills, cancels, expiries) turned into venue reports for
the order state machines, with each fill booked in the account (ledger, fees, reservation) and
each session close's DAY expiry and session roll."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from fillforge.codes import EngineEvent, Reason
from fillforge.orders.enums import EventKind, LiquiditySide
from fillforge.orders.manager import OrderManager
from fillforge.orders.models import Fill, VenueReport
from fillforge.sim.fees import FeeModel
from fillforge.sim.funding import Funding
from fillforge.sim.scheduling import Scheduler
from fillforge.sim.translation import Translation
from fillforge.sim.venue import Market, Venue

__all__ = ["Reports"]

_ZERO = Decimal(0)
_FREE = FeeModel.zero()


class Reports:
    """Venue reports into ``manager``, stamped with the scheduler's clock. ``after_each`` runs
    after every engine event (the broker carries out the group leg actions it caused)."""

    def __init__(
        self,
        manager: OrderManager,
        scheduler: Scheduler,
        ids: Translation,
        funding: Funding,
        venue: Venue,
    ) -> None:
        self._manager = manager
        self._sched = scheduler
        self._ids = ids
        self._funding = funding
        self._venue = venue
        self.after_each: Callable[[], None] = lambda: None

    def report(self, kind: EventKind, order_id: str, **kw: object) -> None:
        self._manager.apply(
            VenueReport.trusted(kind=kind, order_id=order_id, ts=self._sched.now, **kw)
        )

    def drain(self, market: Market) -> None:
        """Turn the engine's events into venue reports for the order state machines."""
        events = market.engine.take_events()
        if not events:
            return
        inst, fees, fm = market.instrument, self._venue.fees, self._venue.fill_model
        charged = fees != _FREE
        account, funding, manager = self._funding.account, self._funding, self._manager
        for kind, uid, price, qty, remaining, taker, reason, t, _msg in events:
            oid = self._ids.oid[uid]
            self._sched.advance(t)
            if kind == EngineEvent.FILL:
                o = manager.get(oid)
                side = o.request.side
                px = fm.taker_price(price, side, inst) if taker else inst.to_price(price)
                q = inst.to_qty(qty)
                liq = LiquiditySide.TAKER if taker else LiquiditySide.MAKER
                fee = fees.fee(q, px, liq) if charged else _ZERO
                fill = Fill.trusted(
                    trade_id=self._ids.trade_id(),
                    order_id=oid,
                    price=px,
                    qty=q,
                    liquidity=liq,
                    commission=max(fee, _ZERO),
                    ts_event=t,
                    ts_recv=t,
                )
                account.apply_fill(o.symbol, side, q, px, fee)
                funding.filled(oid, q, remaining)
                account.mark(o.symbol, px)
                done = EventKind.FILL if remaining == 0 else EventKind.PARTIAL_FILL
                self.report(done, oid, fill=fill)
            elif kind in (EngineEvent.CANCELED, EngineEvent.EXPIRED):
                funding.release(oid)
                if kind == EngineEvent.EXPIRED:
                    self.report(EventKind.EXPIRED, oid)
                else:
                    self.report(EventKind.CANCELED, oid, reason=Reason(reason).name.lower())
            self.after_each()

    def expire_day(self, close: int) -> None:
        """The session closing at ``close``: DAY orders on the engines expire, the account keeps
        the day's marks and equity."""
        self._sched.advance(close)
        for m in self._venue.markets.values():
            m.engine.advance_to(close)
            if m.engine.expire_day():
                self.drain(m)
        self._funding.account.close_session(self._venue.markets)  # lastday prices, last equity
        self._sched.closed(close)
