"""An exit plan's state across a restart (``docs/state-recovery.md``): :class:`ExitSnapshot`
keeps everything a :class:`~fillforge.exits.position.ManagedExit` holds that the broker does
not (the plan and its levels, what entered and exited, the tiers, which order plays which role,
the stop owed, and the local triggers: the stop reached, break-even done, targets fired, the
trailing stop's water mark); :func:`managed_exit` builds the handle back from it.

The snapshot is a frozen pydantic model: ``model_dump(mode="json")`` is a plain JSON dict
(Decimals as text) and ``model_validate`` of that dict gives it back.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Final

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from fillforge.exits.plan import ExitLevels, ExitPlan
from fillforge.exits.position import ExitMode, ManagedExit, Phase, Tier
from fillforge.exits.watch import LevelWatch
from fillforge.orders.enums import OrderSide, OrderType
from fillforge.orders.models import Instrument

__all__ = ["ExitSnapshot", "TierState", "WatchState", "exit_snapshot", "managed_exit"]

_Lots = Annotated[int, Field(ge=0)]


def _public(value: Any) -> Any:
    """A plan as its JSON gives it, without the fields it derives itself (``_fractions``)."""
    if isinstance(value, dict):
        return {k: v for k, v in value.items() if not k.startswith("_")}
    return value


_Plan = Annotated[ExitPlan, BeforeValidator(_public)]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class TierState(_Frozen):
    price: int
    lots: int
    filled: _Lots = 0
    order_id: str | None = None


class WatchState(_Frozen):
    """The local triggers: ``stop`` reached (ticks), break-even done, the targets fired, and
    the trailing stop (live or triggered; its water mark once armed; ``arm_at`` the entry price
    it measures from until then)."""

    stop: int
    break_even_done: bool
    fired: tuple[int, ...] = ()
    arm_at: int
    trail_live: bool = False
    hwm: int | None = None


class ExitSnapshot(_Frozen):
    """One managed position's exits (see the module)."""

    symbol: str
    plan: _Plan
    instrument: Instrument
    side: Annotated[int, Field(ge=-1, le=1)]
    mode: ExitMode
    atr: Decimal | None = None
    phase: Phase
    entered: _Lots = 0
    exited: _Lots = 0
    entry_price: Decimal | None = None
    entry_value: Decimal = Decimal(0)
    levels: ExitLevels | None = None
    watch: WatchState | None = None
    tiers: tuple[TierState, ...] = ()
    roles: dict[str, str] = Field(default_factory=dict)
    entries_open: tuple[str, ...] = ()
    seen: dict[str, tuple[Decimal, Decimal]] = Field(default_factory=dict)
    stop_order: str | None = None
    stop_owed: bool = False
    stop_retry: bool = False
    resizing: bool = False
    pending_legs: tuple[tuple[str, OrderType, OrderSide, Decimal], ...] = ()
    bracket: bool = False
    reason: str | None = None
    last_exit: str | None = None


# The snapshot's fields a ManagedExit is made with, and those it holds as they are (immutable
# values, copied both ways by name); the others are converted each way below.
_MADE_WITH: Final = ("symbol", "plan", "instrument", "side", "mode", "atr")
_AS_IS: Final = (
    "phase",
    "entered",
    "exited",
    "entry_price",
    "entry_value",
    "levels",
    "stop_order",
    "stop_owed",
    "stop_retry",
    "resizing",
    "bracket",
    "reason",
    "last_exit",
)
_CONVERTED: Final = ("watch", "tiers", "roles", "entries_open", "seen", "pending_legs")
if set(ExitSnapshot.model_fields) != {*_MADE_WITH, *_AS_IS, *_CONVERTED}:  # checked at import
    raise AssertionError("every ExitSnapshot field is made with, copied or converted, once")


def exit_snapshot(m: ManagedExit) -> ExitSnapshot:
    """What rebuilds ``m`` after a restart."""
    w = m.watch
    watch = None
    if w is not None:
        trail = w.trail
        watch = WatchState(
            stop=w.stop,
            break_even_done=w.break_even_done,
            fired=tuple(sorted(w.fired)),
            arm_at=w.arm_at,
            trail_live=trail is not None,
            hwm=trail.hwm if trail is not None and trail.armed else None,
        )
    return ExitSnapshot(
        **{name: getattr(m, name) for name in (*_MADE_WITH, *_AS_IS)},
        watch=watch,
        tiers=tuple(
            TierState(price=t.price, lots=t.lots, filled=t.filled, order_id=t.order_id)
            for t in m.tiers
        ),
        roles=dict(m.roles),
        entries_open=tuple(sorted(m.entries_open)),
        seen=dict(m.seen),
        pending_legs=tuple(m.pending_legs),
    )


def managed_exit(snap: ExitSnapshot) -> ManagedExit:
    """The handle ``snap`` describes, as it stood (the manager re-registers its orders)."""
    m = ManagedExit(snap.symbol, snap.plan, snap.instrument, snap.side, snap.mode, snap.atr)
    for name in _AS_IS:
        setattr(m, name, getattr(snap, name))
    w = snap.watch
    if w is not None and snap.levels is not None:
        m.watch = LevelWatch.resumed(
            snap.levels,
            w.arm_at,
            stop=w.stop,
            break_even_done=w.break_even_done,
            fired=set(w.fired),
            trail_live=w.trail_live,
            hwm=w.hwm,
        )
    m.tiers = [Tier(t.price, t.lots, t.filled, t.order_id) for t in snap.tiers]
    m.roles = dict(snap.roles)
    m.entries_open = set(snap.entries_open)
    m.seen = dict(snap.seen)
    m.pending_legs = list(snap.pending_legs)
    m.note("restored")
    return m
