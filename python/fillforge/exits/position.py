"""One managed position's exit state: what entered, what exited, which orders are whose.

:class:`ManagedExit` is the handle :class:`~fillforge.exits.manager.ExitManager` gives back. It
holds the bookkeeping only (lots in and out, the tiers, the orders by role); the manager decides
and sends. Quantities are integer lots of the instrument.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from fillforge.exits.plan import ExitLevels, ExitPlan
from fillforge.exits.watch import LevelWatch
from fillforge.orders.enums import OrderSide, OrderType
from fillforge.orders.models import Instrument

__all__ = ["ExitMode", "ManagedExit", "Phase", "Tier"]

_ZERO = Decimal(0)


class ExitMode(StrEnum):
    """Where the exits live. ``venue``: bracket/OCO, stop or trailing-stop orders at the broker;
    ``local``: held here and sent when the market crosses a level; ``auto``: the venue when the
    plan fits one venue order, else local."""

    AUTO = "auto"
    VENUE = "venue"
    LOCAL = "local"


class Phase(StrEnum):
    WAITING = "waiting"  # no entry fill yet
    ACTIVE = "active"  # protecting a position
    STOPPING = "stopping"  # the stop fired: siblings canceled, the rest goes at market
    DONE = "done"


@dataclass(slots=True)
class Tier:
    """A take-profit tier: ``lots`` at ``price`` (ticks); ``filled`` so far; its working order."""

    price: int
    lots: int
    filled: int = 0
    order_id: str | None = None

    @property
    def pending(self) -> int:
        return self.lots - self.filled


class ManagedExit:
    """The exits of one position in one symbol (read it; change it through the manager).

    ``side`` is +1 for a long, -1 for a short. ``entered``/``exited`` count lots; ``remaining``
    is what the plan still protects. ``reason`` says why it ended (``stop``, ``targets``,
    ``closed by hand``, ``entry unfilled``, ``detached``); ``log`` lists its decisions.
    """

    def __init__(
        self,
        symbol: str,
        plan: ExitPlan,
        instrument: Instrument,
        side: int,
        mode: ExitMode,
        atr: Decimal | None,
    ) -> None:
        self.symbol = symbol
        self.plan = plan
        self.instrument = instrument
        self.side = side
        self.mode = mode
        self.atr = atr
        self.phase = Phase.WAITING
        self.entered = 0
        self.exited = 0
        self.entry_price: Decimal | None = None
        self.levels: ExitLevels | None = None
        self.watch: LevelWatch | None = None
        self.tiers: list[Tier] = []
        self.roles: dict[str, str] = {}  # order id -> entry, tier:<i>, stop, venue_tp, venue_stop
        self.entries_open: set[str] = set()
        self.seen: dict[str, tuple[Decimal, Decimal]] = {}  # entry order -> (qty, value) counted
        self.stop_order: str | None = None
        self.stop_owed = False
        self.stop_retry = False
        self.resizing = False
        # Legs of a bracket or OCO to claim when they show: (role, type, side, price).
        self.pending_legs: list[tuple[str, OrderType, OrderSide, Decimal]] = []
        self.bracket = False  # the entry went as a bracket: its legs move once it is done
        self.reason: str | None = None
        self.last_exit: str | None = None
        self.log: list[str] = []
        self.entry_value = Decimal(0)

    # ----- reading ------------------------------------------------------------------------

    @property
    def remaining(self) -> int:
        return self.entered - self.exited

    @property
    def stop_price(self) -> Decimal | None:
        """The stop now (the most protective of fixed, break-even and trailing)."""
        if self.watch is None:
            return None
        return self.instrument.to_price(self.watch.stop)

    @property
    def target_prices(self) -> list[tuple[Decimal, Decimal]]:
        """``(price, qty still to take)`` per tier, nearest first."""
        inst = self.instrument
        return [(inst.to_price(t.price), inst.to_qty(t.pending)) for t in self.tiers]

    def working(self, role_prefix: str) -> list[str]:
        """Ids of orders with a role starting ``role_prefix`` that are still recorded as ours."""
        return [oid for oid, r in self.roles.items() if r.startswith(role_prefix)]

    def __repr__(self) -> str:
        return (
            f"ManagedExit({self.symbol!r}, side={self.side}, mode={self.mode.value}, "
            f"phase={self.phase.value}, remaining={self.remaining}, stop={self.stop_price})"
        )

    # ----- bookkeeping (the manager calls these) ------------------------------------------

    def saw(self, order_id: str, qty: Decimal, price: Decimal) -> None:
        """Count a fill of ``order_id`` (``qty`` at ``price``) as seen."""
        seen_qty, seen_value = self.seen.get(order_id, (_ZERO, _ZERO))
        self.seen[order_id] = (seen_qty + qty, seen_value + qty * price)

    def unseen(
        self, order_id: str, cum_qty: Decimal, avg_price: Decimal | None
    ) -> tuple[Decimal, Decimal] | None:
        """What an order that filled ``cum_qty`` at ``avg_price`` on average filled beyond the
        fills seen of it: (qty, at the rest of the order's average), None when nothing."""
        qty, value = self.seen.get(order_id, (_ZERO, _ZERO))
        if cum_qty <= qty:
            return None
        unseen = cum_qty - qty
        return unseen, ((avg_price or _ZERO) * cum_qty - value) / unseen

    def note(self, text: str) -> None:
        self.log.append(text)

    def entry_fill(self, lots: int, price: Decimal) -> None:
        """``lots`` more entered at ``price``: levels follow the average entry until anything has
        fired (a trail's progress is kept); afterwards only the last untouched tier grows, so the
        tiers still sum to what entered."""
        self.entered += lots
        self.entry_value += price * lots
        self.entry_price = self.entry_value / self.entered
        fresh = self.watch is None or (
            not self.watch.fired  # no target reached, none filled, no break-even, no stop
            and not any(t.filled for t in self.tiers)
            and (self.watch.levels.break_even is None or not self.watch.break_even_done)
            and self.phase is not Phase.STOPPING
        )
        if fresh:
            levels = self.plan.levels(
                self.instrument, self.side, self.entry_price, self.entered, self.atr
            )
            self.levels = levels
            if self.watch is None:
                tick = self.instrument.tick_size
                self.watch = LevelWatch(levels, int(price / tick))
            else:
                self.watch.rebase(levels)
            old = self.tiers
            self.tiers = [Tier(p, n) for p, n in levels.targets]
            for tier, was in zip(self.tiers, old, strict=False):
                tier.order_id, tier.filled = was.order_id, was.filled  # resized by the manager
        elif self.tiers:
            self.tiers[self._last_untouched()].lots += lots
        if self.phase is Phase.WAITING:
            self.phase = Phase.ACTIVE

    def _last_untouched(self) -> int:
        for i in range(len(self.tiers) - 1, -1, -1):
            if self.tiers[i].order_id is None and self.tiers[i].filled == 0:
                return i
        return len(self.tiers) - 1

    def shrink_to(self, lots: int) -> None:
        """The position is ``lots`` now (closed by hand in part): take the difference from the
        farthest tiers first, so the nearer targets keep their size."""
        gone = self.remaining - lots
        if gone <= 0:
            return
        self.exited += gone
        for t in reversed(self.tiers):
            cut = min(gone, t.pending)
            t.lots -= cut
            gone -= cut
            if not gone:
                break
