"""Position scaling: adding on pullbacks (rallies for shorts) and taking off in tiers.

:class:`ScaleIn` and :class:`ScaleOut` are pure: given the entry, the price and what has been done,
they say what is due, on the instrument's grids and within their caps. :class:`Scaler` works them
on a broker with market orders, from the broker's trades and quotes.

Scale-out tiers are evaluated from the **highest tier down**: a price that jumps past several
tiers at once fires every one of them (an ``if gain >= 5% ... elif gain >= 10%`` chain checks the
nearest tier first and never reaches the others).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal

from fillforge.broker.models import Quote, Trade
from fillforge.broker.protocol import Broker
from fillforge.errors import ExitPlanError, FillforgeError
from fillforge.exits.plan import Distance, Stat, _dec, _fraction, _round, atr_value
from fillforge.orders.enums import OrderSide, OrderType
from fillforge.orders.models import Instrument, OrderRequest
from fillforge.orders.order import Order

__all__ = ["ScaleIn", "ScaleOut", "ScaleOutTier", "Scaler"]

_ONE = Decimal(1)


def _side(side: int) -> int:
    if side not in (1, -1):
        raise ExitPlanError("side", side, "must be 1 (long) or -1 (short)")
    return side


def _lots(instrument: Instrument, qty: Decimal, field_name: str) -> int:
    """``qty`` in whole lots, rounded down (a cap is never exceeded)."""
    q = _dec(field_name, qty, positive=False)
    return int((q / instrument.lot_size).to_integral_value(rounding=ROUND_FLOOR))


@dataclass(frozen=True, slots=True)
class ScaleIn:
    """Add ``add_qty`` each time the price has moved one more ``step`` against the position from
    the first entry (down for a long, up for a short), at most ``max_adds`` times and never past
    ``max_qty`` in all."""

    step: Distance
    add_qty: Decimal
    max_adds: int
    max_qty: Decimal

    def __post_init__(self) -> None:
        if not isinstance(self.step, Distance):
            raise ExitPlanError("step", self.step, "expected a Distance")
        object.__setattr__(self, "add_qty", _dec("add_qty", self.add_qty))
        object.__setattr__(self, "max_qty", _dec("max_qty", self.max_qty))
        if isinstance(self.max_adds, bool) or not isinstance(self.max_adds, int):
            raise ExitPlanError("max_adds", self.max_adds, "must be an int")
        if self.max_adds < 1:
            raise ExitPlanError("max_adds", self.max_adds, "must be at least 1")

    def levels(
        self, instrument: Instrument, side: int, entry: Decimal, atr: Stat | None = None
    ) -> list[int]:
        """Each add's level in ticks, nearest first: ``entry -/+ k * step`` rounded away from the
        price (an add buys no higher, or sells no lower, than the rule asks)."""
        s = _side(side)
        e = _dec("entry", entry)
        d = self.step.price(e, None if atr is None else atr_value(atr), "step")
        tick = instrument.tick_size
        return [_round(e - s * k * d, tick, up=s != 1) for k in range(1, self.max_adds + 1)]

    def due(
        self,
        instrument: Instrument,
        side: int,
        entry: Decimal,
        price: Decimal,
        adds_done: int,
        position_qty: Decimal,
        atr: Stat | None = None,
    ) -> list[tuple[int, Decimal]]:
        """The adds due at ``price``: ``(level_ticks, qty)`` for every level reached that has
        not been added yet, each capped so the position never exceeds ``max_qty``."""
        s = _side(side)
        p = instrument.to_ticks(_dec("price", price))
        room = _lots(instrument, self.max_qty, "max_qty") - _lots(
            instrument, position_qty, "position_qty"
        )
        add = _lots(instrument, self.add_qty, "add_qty")
        out = []
        for level in self.levels(instrument, s, entry, atr)[adds_done:]:
            if room <= 0 or not (p <= level if s == 1 else p >= level):
                break
            n = min(add, room)
            room -= n
            out.append((level, instrument.to_qty(n)))
        return out


@dataclass(frozen=True, slots=True)
class ScaleOutTier:
    """Take ``fraction`` of the first position off once the price is ``gain`` in its favour."""

    gain: Distance
    fraction: Decimal

    def __post_init__(self) -> None:
        if not isinstance(self.gain, Distance):
            raise ExitPlanError("gain", self.gain, "expected a Distance")
        object.__setattr__(self, "fraction", _fraction(self.fraction))


@dataclass(frozen=True, slots=True)
class ScaleOut:
    """Scale-out tiers (nearest first); their fractions sum to at most 1 (the cap: never more
    than the position)."""

    tiers: tuple[ScaleOutTier, ...]

    def __post_init__(self) -> None:
        tiers = tuple(self.tiers)
        if not tiers:
            raise ExitPlanError("tiers", tiers, "give at least one tier")
        for i, t in enumerate(tiers):
            if not isinstance(t, ScaleOutTier):
                raise ExitPlanError(f"tiers[{i}]", t, "expected a ScaleOutTier")
        total = sum((t.fraction for t in tiers), Decimal(0))
        if total > _ONE:
            raise ExitPlanError("tiers", [str(t.fraction) for t in tiers], f"sum to {total} > 1")
        object.__setattr__(self, "tiers", tiers)

    def levels(
        self, instrument: Instrument, side: int, entry: Decimal, atr: Stat | None = None
    ) -> list[int]:
        """Each tier's level in ticks, rounded toward the entry (reached no later than asked)."""
        s = _side(side)
        e = _dec("entry", entry)
        a = None if atr is None else atr_value(atr)
        tick, out = instrument.tick_size, []
        for i, t in enumerate(self.tiers):
            out.append(_round(e + s * t.gain.price(e, a, f"tiers[{i}].gain"), tick, up=s != 1))
        if out != (sorted(out) if s == 1 else sorted(out, reverse=True)):
            raise ExitPlanError("tiers", out, "levels must move away from the entry in order")
        return out

    def due(
        self,
        instrument: Instrument,
        side: int,
        entry: Decimal,
        initial_qty: Decimal,
        price: Decimal,
        done: set[int] | frozenset[int],
        position_qty: Decimal,
        atr: Stat | None = None,
    ) -> list[tuple[int, Decimal]]:
        """``(tier index, qty)`` due at ``price``, the highest tier first: every tier reached and
        not done, each ``fraction`` of ``initial_qty`` (in whole lots, rounded down), and all of
        them together never more than ``position_qty``."""
        s = _side(side)
        p = instrument.to_ticks(_dec("price", price))
        first = _lots(instrument, initial_qty, "initial_qty")
        left = _lots(instrument, position_qty, "position_qty")
        levels = self.levels(instrument, s, entry, atr)
        out = []
        for i in range(len(self.tiers) - 1, -1, -1):  # the highest tier first
            if i in done or not (p >= levels[i] if s == 1 else p <= levels[i]):
                continue
            frac = self.tiers[i].fraction * first
            n = min(int(frac.to_integral_value(rounding=ROUND_FLOOR)), left)
            left -= n
            if n > 0:
                out.append((i, instrument.to_qty(n)))
        return out


def _dead(order: Order) -> bool:
    return order.status.is_terminal and order.cum_qty == 0


class Scaler:
    """Works a :class:`ScaleIn` and/or :class:`ScaleOut` on ``broker`` for one position in
    ``instrument``, entered at ``entry`` on ``side`` with ``initial_qty``, from the broker's
    trades and quotes (the exit side of the quote: bid for a long). Each due add or take-off is
    a market order. ``on_add`` gets each add order (e.g. ``ExitManager.add_entry``, so the exits
    grow with the position)."""

    def __init__(
        self,
        broker: Broker,
        instrument: Instrument,
        side: int,
        entry: Decimal,
        initial_qty: Decimal,
        *,
        scale_in: ScaleIn | None = None,
        scale_out: ScaleOut | None = None,
        atr: Stat | None = None,
        on_add: Callable[[Order], None] | None = None,
    ) -> None:
        self.broker = broker
        self.instrument = instrument
        self.side = _side(side)
        self.entry = _dec("entry", entry)
        self.initial_qty = _dec("initial_qty", initial_qty)
        self.scale_in, self.scale_out = scale_in, scale_out
        self.atr = None if atr is None else atr_value(atr)  # set it again as the ATR moves
        self.on_add = on_add
        self.adds: list[Order] = []
        self.outs: dict[int, Order] = {}
        self.errors: list[str] = []
        self._busy = False
        sym = instrument.symbol
        self._unsubscribe = [
            broker.subscribe_trades(sym, lambda t: self.on_price(t.price)),
            broker.subscribe_quotes(sym, self._quote),
        ]

    def _quote(self, q: Quote) -> None:
        p = q.bid_price if self.side == 1 else q.ask_price
        if p is not None:
            self.on_price(p)

    def _held(self) -> Decimal:
        pos = self.broker.positions().get(self.instrument.symbol)
        held = Decimal(0) if pos is None else pos.qty * self.side
        return max(held, Decimal(0))

    def on_price(self, price: Decimal | Trade) -> None:
        """Act on one price (the broker's feeds call this; call it yourself for bars)."""
        p = price.price if isinstance(price, Trade) else price
        if self._busy:
            return
        self._busy = True
        try:
            self._act(p)
        finally:
            self._busy = False

    def _act(self, p: Decimal) -> None:
        inst, sym = self.instrument, self.instrument.symbol
        # An order that ended without filling anything does not count: it is due again.
        self.outs = {i: o for i, o in self.outs.items() if not _dead(o)}
        self.adds = [o for o in self.adds if not _dead(o)]
        if self.scale_out is not None:
            done = set(self.outs)
            for i, qty in self.scale_out.due(
                inst, self.side, self.entry, self.initial_qty, p, done, self._held(), self.atr
            ):
                side = OrderSide.SELL if self.side == 1 else OrderSide.BUY
                order = self._send(
                    OrderRequest(symbol=sym, side=side, type=OrderType.MARKET, qty=qty)
                )
                if order is not None:
                    self.outs[i] = order
        if self.scale_in is not None and not self.outs:
            for _, qty in self.scale_in.due(
                inst, self.side, self.entry, p, len(self.adds), self._held(), self.atr
            ):
                side = OrderSide.BUY if self.side == 1 else OrderSide.SELL
                order = self._send(
                    OrderRequest(symbol=sym, side=side, type=OrderType.MARKET, qty=qty)
                )
                if order is None:
                    break
                self.adds.append(order)
                if self.on_add is not None:
                    self.on_add(order)

    def _send(self, request: OrderRequest) -> Order | None:
        try:
            return self.broker.submit(request)
        except FillforgeError as e:
            self.errors.append(str(e))
            return None

    def close(self) -> None:
        """Stop watching the market."""
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe = []
