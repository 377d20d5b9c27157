"""The drain: a venue engine's events (fills, cancels, expiries) turned into venue reports for
the order state machines, with each fill booked in the account (ledger, fees, reservation) and
each session close's DAY expiry and session roll."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from fillforge.codes import EngineEvent, Reason
from fillforge.orders.enums import EventKind, LiquiditySide
from fillforge.orders.manager import OrderManager
from fillforge.orders.models import Fill, VenueReport
from fillforge.sim.fees import FeeModel
from fillforge.sim.funding import Funding
from fillforge.sim.scheduling import Scheduler
from fillforge.sim.translation import Translation
from fillforge.sim.venue import Market, Venue

__all__ = ["Reports", "Wiring"]

_ZERO = Decimal(0)
_FREE = FeeModel.zero()
# Members read once: ``EventKind.FILL`` goes through the enum metaclass's slow __getattr__ hook.
_EE_FILL, _EE_CANCELED, _EE_EXPIRED = EngineEvent.FILL, EngineEvent.CANCELED, EngineEvent.EXPIRED
_FILL, _PARTIAL_FILL = EventKind.FILL, EventKind.PARTIAL_FILL
_EXPIRED, _CANCELED, _REPLACED = EventKind.EXPIRED, EventKind.CANCELED, EventKind.REPLACED
_TAKER, _MAKER = LiquiditySide.TAKER, LiquiditySide.MAKER
# A report with every field at its default, in declared order: a replace report is this with its
# own values, adopted whole (the broker's reports are valid by construction).
_BLANK_REPORT = {name: field.default for name, field in VenueReport.model_fields.items()}
_adopt_report = VenueReport.adopt
_adopt_fill = Fill.adopter()


@dataclass(frozen=True, slots=True)
class Wiring:
    """The parts of one simulated broker that its reports (:class:`Reports`) and its requests'
    arrivals (:class:`~fillforge.sim.arrivals.Arrivals`) both work with, built once by the
    broker."""

    manager: OrderManager
    sched: Scheduler
    ids: Translation
    funding: Funding
    venue: Venue


class Reports:
    """Venue reports into the wiring's ``manager``, stamped with the scheduler's clock.
    ``after_each`` runs after every engine event that queued group leg actions (the broker
    carries them out)."""

    def __init__(self, wiring: Wiring) -> None:
        self._w = wiring
        self.after_each: Callable[[], None] = lambda: None
        # Whether the venue's fee model charges anything, kept per fee model (comparing two
        # models field by field on every drain costs more than the drain).
        self._fees: FeeModel | None = None
        self._charged = False

    def report(self, kind: EventKind, order_id: str, **kw: Any) -> None:
        if kind is _REPLACED:  # carries the replacement's id and terms: a whole report
            ts = self._w.sched.now
            data = {**_BLANK_REPORT, "kind": kind, "order_id": order_id, "ts": ts, **kw}
            self._w.manager.apply(_adopt_report(data))
        else:  # the broker's reports are valid by construction: their fields, no report object
            self._w.manager.apply_fields(kind, order_id, self._w.sched.now, **kw)

    def drain(self, market: Market) -> None:
        """Turn the engine's events into venue reports for the order state machines."""
        events = market.engine.take_events()
        if not events:
            return
        inst, fees, fm = market.instrument, self._w.venue.fees, self._w.venue.fill_model
        if fees is not self._fees:
            self._fees, self._charged = fees, fees != _FREE
        charged = self._charged
        ledger, funding, manager = self._w.funding.account.ledger, self._w.funding, self._w.manager
        oids, advance, outbox = self._w.ids.oid, self._w.sched.advance, manager.outbox
        tick, lot, slipped = inst.tick_size, inst.lot_size, bool(fm.slippage_bps)
        for kind, uid, price, qty, remaining, taker, reason, t, _msg in events:
            oid = oids[uid]
            advance(t)
            if kind == _EE_FILL:
                o = manager.get(oid)
                side, symbol = o.request.side, o.symbol
                # inst.to_price / to_qty, inlined (the slippage model only moves a taker's price)
                px = fm.taker_price(price, side, inst) if taker and slipped else price * tick
                q = qty * lot
                liq = _TAKER if taker else _MAKER
                fee = fees.fee(q, px, liq) if charged else _ZERO
                fill = _adopt_fill(  # every field, in declared order
                    {
                        "trade_id": self._w.ids.trade_id(),
                        "order_id": oid,
                        "price": px,
                        "qty": q,
                        "liquidity": liq,
                        "commission": max(fee, _ZERO),
                        "ts_event": t,
                        "ts_recv": t,
                    }
                )
                ledger.book_fill(symbol, side, q, px, fee, mark=True)
                funding.filled(oid, q, remaining)
                self.report(_FILL if remaining == 0 else _PARTIAL_FILL, oid, fill=fill)
            elif kind in (_EE_CANCELED, _EE_EXPIRED):
                funding.release(oid)
                if kind == _EE_EXPIRED:
                    self.report(_EXPIRED, oid)
                else:
                    self.report(_CANCELED, oid, reason=Reason(reason).name.lower())
            if outbox:  # group leg actions this event caused
                self.after_each()

    def expire_day(self, close: int) -> None:
        """The session closing at ``close``: DAY orders on the engines expire, the account keeps
        the day's marks and equity."""
        self._w.sched.advance(close)
        for m in self._w.venue.markets.values():
            m.engine.advance_to(close)
            if m.engine.expire_day():
                self.drain(m)
        self._w.funding.account.close_session(self._w.venue.markets)  # lastday prices, last equity
        self._w.sched.closed(close)
