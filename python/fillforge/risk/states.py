"""The risk manager's vocabulary: the trading states and their table, what a breach does, the
events it publishes, and its lock (:mod:`fillforge.risk.manager` uses them; ``docs/risk-manager.md``
describes them)."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from threading import RLock
from typing import Annotated, Final

from pydantic import BaseModel, ConfigDict, Field

from fillforge.orders.machine import Row, table_events
from fillforge.orders.models import OrderEvent, OrderRequest

__all__ = [
    "DEFAULT_ON_BREACH",
    "RISK_TABLE",
    "Breach",
    "Guard",
    "RiskEvent",
    "RiskSnapshot",
    "RiskSubscriber",
    "Trading",
    "TradingState",
    "risk_event",
]


class TradingState(StrEnum):
    ACTIVE = "active"
    REDUCING = "reducing"
    HALTED = "halted"


T = TradingState
RISK_TABLE: list[Row] = [
    ("reduce", [T.ACTIVE], T.REDUCING, ()),
    ("reduce", [T.REDUCING, T.HALTED], None, ()),  # never loosens
    ("halt", [T.ACTIVE, T.REDUCING], T.HALTED, ()),
    ("halt", [T.HALTED], None, ()),
    ("resume", [T.REDUCING, T.HALTED], T.ACTIVE, ()),
    ("resume", [T.ACTIVE], None, ()),
]
risk_event: Final = table_events([str(s) for s in T], RISK_TABLE, T.ACTIVE, T)


class Breach(StrEnum):
    """What a denial with a given code does beyond denying the order."""

    DENY = "deny"  # nothing more
    REDUCE = "reducing"  # move to reducing
    HALT = "halted"  # move to halted
    KILL = "kill"  # halt and cancel every open order
    FLATTEN = "flatten"  # halt, cancel every open order and flatten every position


DEFAULT_ON_BREACH: Final[Mapping[str, Breach]] = {
    "daily_loss": Breach.HALT,
    "max_drawdown": Breach.REDUCE,
}


@dataclass(frozen=True, slots=True)
class RiskEvent:
    """One thing the manager did, at broker time ``ts``: ``kind`` is ``allowed``, ``denied``
    (an order refused: ``code``, ``field``, ``value``, ``why``), ``breach`` (an account limit
    crossed between orders), ``state`` (``prev_state`` -> ``state``, ``code`` the cause),
    ``kill`` (the kill switch fired) or ``flatten`` (a flattening order sent, ``order_id``, or
    refused, ``why``). ``state`` is the trading state after it."""

    kind: str
    ts: int
    state: TradingState
    code: str = ""
    field: str = ""
    value: object = None
    why: str = ""
    request: OrderRequest | None = None
    order_id: str | None = None
    symbol: str | None = None
    prev_state: TradingState | None = None


RiskSubscriber = Callable[[RiskEvent], None]


class Trading:
    """The state the table runs on (a model for :class:`~fillforge.orders.machine.FastEvent`)."""

    __slots__ = ("state",)
    id = "risk"

    def __init__(self) -> None:
        self.state: str = T.ACTIVE


class Guard:
    """The manager's re-entrant lock, and an inbox for the broker's events: a thread that finds
    the lock taken leaves its event in the inbox, and whoever holds the lock applies it before
    it leaves."""

    __slots__ = ("_apply", "_inbox", "_lock")

    def __init__(self, apply: Callable[[OrderEvent], None]) -> None:
        self._lock = RLock()
        self._inbox: deque[OrderEvent] = deque()
        self._apply = apply

    def __enter__(self) -> None:
        self._lock.acquire()
        if self._inbox:
            self._run()

    def __exit__(self, *exc: object) -> None:
        self._lock.release()
        if self._inbox:
            self.drain()

    def _run(self) -> None:
        inbox, apply = self._inbox, self._apply
        while inbox:
            apply(inbox.popleft())

    def post(self, event: OrderEvent) -> None:
        self._inbox.append(event)
        self.drain()

    def drain(self) -> None:
        while self._inbox:
            if not self._lock.acquire(blocking=False):
                return  # the holder applies it on its way out
            try:
                self._run()
            finally:
                self._lock.release()


_Count = Annotated[int, Field(ge=0)]


class RiskSnapshot(BaseModel):
    """What the risk manager needs back after a restart (``docs/state-recovery.md``): the
    trading state and what caused it, the kill switch (engaged, the symbols waiting for their
    cancels before they are flattened, its open flattening orders: id -> (symbol, signed open
    quantity)), the decision counters, the account limits found breached, and the session's
    figures the daily limits use (start and peak equity, orders and fills counted today, when
    the session rolls). The positions and the equity are the broker's, read again."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    state: TradingState = TradingState.ACTIVE
    cause: str = ""
    killed: bool = False
    waiting: tuple[str, ...] = ()
    flattening: dict[str, tuple[str, Decimal]] = Field(default_factory=dict)
    counts: dict[str, _Count] = Field(default_factory=dict)
    allowed: _Count = 0
    breached: tuple[str, ...] = ()
    start_equity: Decimal
    peak_equity: Decimal
    orders_today: _Count = 0
    fills_today: _Count = 0
    roll_at: int
