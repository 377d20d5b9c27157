"""A parent order: what to execute (:class:`ParentOrder`), the rules it is worked by
(:class:`WorkRules`), and its lifecycle.

The lifecycle is a table run by the orders' shared ``transitions`` machine
(:class:`~fillforge.orders.machine.TableMachine`): ``pending -> working <-> paused ->
(completed | cancelled | failed)``. Only this package fires its triggers, on a
:class:`ParentRecord`; users hold a read-only :class:`Parent` view, as they hold an
:class:`~fillforge.orders.order.Order` over its record. Every refused value raises
:class:`~fillforge.errors.ExecutionError` naming the field and the value, and changes nothing.
"""

from __future__ import annotations

import re
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Final, Literal, NoReturn, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from fillforge.errors import ExecutionError
from fillforge.execution.schedules import Policy, parse_policy
from fillforge.orders.enums import OrderSide
from fillforge.orders.ids import (
    MAX_PARENT_ID,
    PARENT_ID_CHARS,
    child_client_order_id,
    parent_of,
)
from fillforge.orders.machine import Row, table_events
from fillforge.orders.models import Instrument
from fillforge.time import NS_PER_SECOND

__all__ = [
    "MAX_PARENT_ID",
    "PARENT_TABLE",
    "Parent",
    "ParentOrder",
    "ParentRecord",
    "ParentSnapshot",
    "ParentState",
    "WorkRules",
    "child_client_order_id",
    "parent_of",
]

_Positive = Annotated[Decimal, Field(gt=0, allow_inf_nan=False)]
_Nanos = Annotated[int, Field(ge=0)]
# The most a sliding window of the rate limiter counts (fillforge.throttle).
MAX_CHILD_RATE = 1 << 24
_ID = re.compile(rf"^[{PARENT_ID_CHARS}]+$")


def _as_execution_error(e: ValidationError) -> ExecutionError:
    first = e.errors(include_url=False)[0]
    raised = first.get("ctx", {}).get("error")
    if isinstance(raised, ExecutionError):
        return raised
    where = ".".join(str(p) for p in first["loc"]) or e.title
    return ExecutionError(where, first.get("input"), first["msg"])


class _Spec(BaseModel):
    """Frozen, no unknown fields; a validation failure is an ExecutionError."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as e:
            raise _as_execution_error(e) from None


class ParentOrder(_Spec):
    """What to execute: ``qty`` of ``symbol`` on ``side`` between ``start_ns`` and ``end_ns``.

    ``decision_price`` and ``decision_ns`` are when and at what price the order was decided (the
    arrival price the slippage limit measures from; without one, the mid when work starts).
    ``limit_price`` caps every child (a buy pays at most, a sell receives at least it).
    ``urgency`` in [0, 1] is for policies that trade faster when it is higher; ``policy`` names
    the schedule that cuts the quantity into slices (``twap`` by default).
    """

    parent_id: Annotated[str, Field(min_length=1, max_length=MAX_PARENT_ID)]
    symbol: Annotated[str, Field(min_length=1, max_length=64)]
    side: OrderSide
    qty: _Positive
    start_ns: _Nanos
    end_ns: _Nanos
    decision_price: _Positive | None = None
    decision_ns: _Nanos | None = None
    limit_price: _Positive | None = None
    urgency: Annotated[Decimal, Field(ge=0, le=1, allow_inf_nan=False)] = Decimal("0.5")
    policy: Policy = Policy.TWAP

    @field_validator("policy", mode="before")
    @classmethod
    def _policy(cls, name: object) -> Policy:
        return parse_policy(name)

    @model_validator(mode="after")
    def _rules(self) -> Self:
        if not _ID.match(self.parent_id):
            raise ExecutionError("parent_id", self.parent_id, "letters, digits, '_', '.' or ':'")
        if self.end_ns <= self.start_ns:
            raise ExecutionError("end_ns", self.end_ns, f"must be after start_ns {self.start_ns}")
        return self

    def check(self, instrument: Instrument) -> None:
        """Refuse what does not fit ``instrument``: another symbol, a quantity off its lot grid
        (or below its minimum), a limit off its tick grid."""
        if instrument.symbol != self.symbol:
            raise ExecutionError("symbol", self.symbol, f"the instrument is {instrument.symbol!r}")
        lots = self.qty / instrument.lot_size
        if lots != lots.to_integral_value():
            raise ExecutionError(
                "qty", self.qty, f"not a multiple of the lot {instrument.lot_size}"
            )
        if self.qty < instrument.min_qty:
            raise ExecutionError("qty", self.qty, f"below the minimum {instrument.min_qty}")
        if self.limit_price is not None:
            ticks = self.limit_price / instrument.tick_size
            if ticks != ticks.to_integral_value():
                raise ExecutionError(
                    "limit_price",
                    self.limit_price,
                    f"not a multiple of the tick {instrument.tick_size}",
                )


class WorkRules(_Spec):
    """How children are worked (``docs/execution.md``, "Working a parent").

    - ``timeout_ns``: a resting limit child is cancelled after this long (None: never);
    - ``partial_threshold``: at the timeout, a slice filled to at least this fraction is
      accepted (its remainder goes back to the parent), otherwise it is retried;
    - ``max_attempts``: tries of a slice at the policy's price before ``fallback``
      (``market``; ``ladder``: ``ladder_steps`` limit children stepping to the far touch, then
      market; ``none``: the remainder goes back to the parent for later slices);
    - ``slippage_limit_bps``: stop when the average fill price is this far past the arrival
      price (cost positive);
    - ``max_rejects``: this many venue rejections in a row fail the parent;
    - ``at_end``: what the remainder does at the end time (``market``: one market child;
      ``stop``: nothing more is sent);
    - ``max_retries``, ``backoff_ns``, ``max_backoff_ns``: transient broker errors are retried
      on the broker's clock, ``backoff_ns * 2**k`` plus up to half as much jitter, capped;
    - ``child_rate_limit``, ``child_rate_window_ns``: at most this many child submits in any
      window of this length, per broker (Alpaca's 150 a minute by default); a child over the
      limit waits in line and is sent when the limit lets it through.
    """

    timeout_ns: Annotated[int, Field(gt=0)] | None = None
    partial_threshold: Annotated[Decimal, Field(gt=0, le=1, allow_inf_nan=False)] | None = None
    max_attempts: Annotated[int, Field(ge=1)] = 3
    fallback: Literal["market", "ladder", "none"] = "market"
    ladder_steps: Annotated[int, Field(ge=1)] = 3
    slippage_limit_bps: Annotated[Decimal, Field(gt=0, allow_inf_nan=False)] | None = None
    max_rejects: Annotated[int, Field(ge=1)] = 3
    at_end: Literal["market", "stop"] = "market"
    max_retries: Annotated[int, Field(ge=0)] = 5
    backoff_ns: Annotated[int, Field(gt=0)] = 100_000_000
    max_backoff_ns: Annotated[int, Field(gt=0)] = 5_000_000_000
    child_rate_limit: Annotated[int, Field(strict=True, ge=1, le=MAX_CHILD_RATE)] = 150
    child_rate_window_ns: Annotated[int, Field(strict=True, gt=0, lt=1 << 63)] = 60 * NS_PER_SECOND


class ParentState(StrEnum):
    PENDING = "pending"
    WORKING = "working"
    PAUSED = "paused"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    FAILED = "failed"

    @property
    def is_done(self) -> bool:
        return self in (ParentState.COMPLETED, ParentState.CANCELLED, ParentState.FAILED)


P = ParentState
PARENT_TABLE: list[Row] = [
    ("start", [P.PENDING], P.WORKING, ()),
    ("pause", [P.WORKING], P.PAUSED, ()),
    ("resume", [P.PAUSED], P.WORKING, ()),
    ("complete", [P.WORKING, P.PAUSED], P.COMPLETED, ()),
    ("cancel", [P.PENDING, P.WORKING, P.PAUSED], P.CANCELLED, ()),
    ("fail", [P.PENDING, P.WORKING, P.PAUSED], P.FAILED, ()),
]

_event: Final = table_events([str(s) for s in P], PARENT_TABLE, P.PENDING, P)


class ParentRecord:
    """A parent's private record: its spec, state and why it ended (package-only)."""

    __slots__ = ("ended_ns", "id", "reason", "spec", "state", "view")

    def __init__(self, spec: ParentOrder) -> None:
        self.spec = spec
        self.id = spec.parent_id
        self.state: str = P.PENDING
        self.reason: str | None = None
        self.ended_ns: int | None = None
        self.view = Parent(self)

    def allowed(self, trigger: str) -> bool:
        return _event(trigger).allowed(self)

    def fire(self, trigger: str, reason: str | None = None, ts: int | None = None) -> None:
        """Run ``trigger`` (an InvalidTransitionError if the table does not allow it here)."""
        _event(trigger).trigger(self)
        if reason is not None:
            self.reason = reason
        if ParentState(self.state).is_done:
            self.ended_ns = ts


class Parent:
    """A read-only view of a parent: its spec, ``state`` and ``reason`` (why it stopped)."""

    __slots__ = ("_r",)
    _r: ParentRecord

    def __init__(self, record: ParentRecord) -> None:
        object.__setattr__(self, "_r", record)

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise AttributeError(
            f"Parent is read-only: {name}={value!r} refused; work it through its worker "
            "(pause, resume, cancel, amend)",
            name=name,
            obj=self,
        )

    @property
    def id(self) -> str:
        return self._r.id

    @property
    def spec(self) -> ParentOrder:
        return self._r.spec

    @property
    def state(self) -> ParentState:
        return ParentState(self._r.state)

    @property
    def reason(self) -> str | None:
        return self._r.reason

    @property
    def ended_ns(self) -> int | None:
        return self._r.ended_ns

    def __repr__(self) -> str:
        return f"Parent(id={self.id!r}, {self._r.state}, qty={self.spec.qty})"


class ParentSnapshot(BaseModel):
    """What rebuilds a parent after a restart (``docs/state-recovery.md``): its spec as it
    stands (after any amend), the rules it is worked by, its state, and where its plan was cut
    (``plan_ns``: when, ``plan_base``: what was filled or held by open slices then), so the same
    pure schedule gives back the same slices. Its children are not in it: they are the broker's
    orders with the client order ids ``<parent>-c<n>``, read back at the restart.

    ``model_dump(mode="json")`` is a plain JSON dict (Decimals as text); ``model_validate`` of
    that dict gives the snapshot back."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    spec: ParentOrder
    rules: WorkRules
    slices: Annotated[int, Field(ge=1)] = 1
    state: ParentState
    reason: str | None = None
    ended_ns: int | None = None
    plan_ns: int
    plan_base: Annotated[Decimal, Field(ge=0)] = Decimal(0)
    arrival_price: Decimal | None = None
    first_child_mid: Decimal | None = None
    first_child_ns: int | None = None
    ending: bool = False
    swept: bool = False
    children: Annotated[int, Field(ge=0)] = 0
    filled: Annotated[Decimal, Field(ge=0)] = Decimal(0)
