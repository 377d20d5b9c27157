"""Everything above the orders, in the journal (issue 18; ``docs/state-recovery.md``).

The stateful components (the execution engine's parents, the exit manager's plans, the risk
manager, the agent's own book, the configuration in force) each give a typed snapshot (a
pydantic model) whenever their state changes; :class:`StateWriter` appends it as one record of
its kind, and :func:`load_state` reads the journal back into the last snapshot of each
(:class:`SavedState`), which the owner validates into its own model and restores from. This
module never imports the components (they sit in higher layers): it maps models to records and
records back to JSON dicts, and validates them with the model class it is handed.

The kinds (payloads are JSON-mode dicts; a snapshot is ``model_dump(mode="json")``):

==========================  ===================================================================
``parent.<change>``         ``{"parent_id", "snapshot"}``; change: started, paused, resumed,
                            amended, completed, cancelled, failed, restored
``exit.state``              ``{"symbol", "snapshot"}``: a plan's state changed
``exit.done``               ``{"symbol", "snapshot"}``: the plan ended (never taken up again)
``risk.<change>``           ``{"snapshot"}``; change: state, kill, sent, denied, breach, session,
                            reset, restored
``portfolio.book``          ``{"snapshot"}``: what the agent's ledger holds
``config.start``            ``{"digest", "config", "restart"}``: the configuration at a start
==========================  ===================================================================

The frequent records (``parent.started``, ``risk.sent``, ``risk.denied``, ``portfolio.book``) are
group-committed (:meth:`~fillforge.journal.Journal.append`): each is durable no later than the
next order's intent, which is written ahead (``write_ahead`` syncs everything appended before
it), so no order reaches a broker before the state that led to it is durable (whoever starts a
parent whose first slice is not due at once syncs before saying it was taken: the agent's
``submit_order`` does). The rare ones
that must never be lost even with no order after them (a parent's lifecycle: a cancelled or
paused parent must not come back working; the risk state and the kill switch: a halt must
survive a crash; an exit plan, down to its trailing stop's water mark: a position must not lose
its stop, nor have it loosened; the configuration) are written ahead: durable when the call
returns.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Final, Protocol, TypeVar

from pydantic import BaseModel, ValidationError

from fillforge.errors import JournalError

__all__ = [
    "EXIT_KINDS",
    "PARENT_CHANGES",
    "RISK_CHANGES",
    "STATE_KINDS",
    "ConfigCheck",
    "SavedState",
    "StateJournal",
    "StateWriter",
    "config_digest",
    "load_state",
]

PARENT_CHANGES: Final = (
    "started",
    "paused",
    "resumed",
    "amended",
    "completed",
    "cancelled",
    "failed",
    "restored",
)
RISK_CHANGES: Final = ("state", "kill", "sent", "denied", "breach", "session", "reset", "restored")
_GROUP_COMMITTED: Final = frozenset({"sent", "denied"})  # the risk changes not written ahead
EXIT_KINDS: Final = ("exit.state", "exit.done")
STATE_KINDS: Final = (
    *(f"parent.{c}" for c in PARENT_CHANGES),
    *EXIT_KINDS,
    *(f"risk.{c}" for c in RISK_CHANGES),
    "portfolio.book",
    "config.start",
)
_M = TypeVar("_M", bound=BaseModel)


class StateJournal(Protocol):
    """The journal calls the state needs (``fillforge.journal.Journal``)."""

    def append(self, kind: str, payload: dict[str, Any]) -> int: ...
    def sync(self) -> None: ...
    def records(self, since: int = 0, kinds: Any = None) -> Iterable[Any]: ...


def _dump(snapshot: BaseModel) -> dict[str, Any]:
    if not isinstance(snapshot, BaseModel):
        raise JournalError("snapshot", type(snapshot).__name__, "expected a pydantic model")
    return snapshot.model_dump(mode="json")


def config_digest(config: Mapping[str, Any]) -> str:
    """The SHA-256 of a configuration's JSON (keys sorted): equal digests, equal settings."""
    text = json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _flat(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(value, Mapping):
        for k in sorted(value):
            yield from _flat(value[k], f"{path}.{k}" if path else str(k))
    else:
        yield path, value


def _differences(old: Mapping[str, Any], new: Mapping[str, Any]) -> tuple[str, ...]:
    """The dotted keys whose value differs (values are not given: they may be secret)."""
    a, b = dict(_flat(old)), dict(_flat(new))
    return tuple(sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k)))


@dataclass(frozen=True, slots=True)
class ConfigCheck:
    """The configuration at a start against the one the journal held: ``first`` (the journal
    had none), ``changed`` and the dotted keys that differ (never their values)."""

    digest: str
    first: bool
    changed: bool
    differences: tuple[str, ...] = ()


class StateWriter:
    """Appends the components' snapshots to ``journal`` (see the module). Each method is an
    observer the component is wired to."""

    def __init__(self, journal: StateJournal) -> None:
        self.journal = journal
        self._deferred = 0

    @contextmanager
    def deferred(self) -> Iterator[None]:
        """Inside, records to be written ahead are only appended; one sync at the end makes
        them all durable (a restart taking up many components syncs once, not once each)."""
        self._deferred += 1
        try:
            yield
        finally:
            self._deferred -= 1
            if not self._deferred:
                self.journal.sync()

    def parent(self, parent_id: str, change: str, snapshot: BaseModel) -> int:
        if change not in PARENT_CHANGES:
            raise JournalError("change", change, f"one of {', '.join(PARENT_CHANGES)}")
        payload = {"parent_id": parent_id, "snapshot": _dump(snapshot)}
        if change == "started":  # its first child's intent, written ahead, syncs it
            return self.journal.append("parent.started", payload)
        return self._ahead(f"parent.{change}", payload)

    def exit(self, symbol: str, snapshot: BaseModel) -> int:
        """A plan's state, written ahead: a new water mark of its trailing stop included (the
        stop it set must not loosen because of a crash)."""
        data = _dump(snapshot)
        kind = "exit.done" if data.get("phase") == "done" else "exit.state"
        return self._ahead(kind, {"symbol": symbol, "snapshot": data})

    def risk(self, change: str, snapshot: BaseModel) -> int:
        if change not in RISK_CHANGES:
            raise JournalError("change", change, f"one of {', '.join(RISK_CHANGES)}")
        payload = {"snapshot": _dump(snapshot)}
        if change in _GROUP_COMMITTED:
            return self.journal.append(f"risk.{change}", payload)
        return self._ahead(f"risk.{change}", payload)

    def portfolio(self, snapshot: BaseModel) -> int:
        return self.journal.append("portfolio.book", {"snapshot": _dump(snapshot)})

    def config(self, config: Mapping[str, Any], saved: SavedState) -> ConfigCheck:
        """Journal the configuration in force at this start; how it compares with the one
        ``saved`` (the journal as it was opened) held."""
        digest = config_digest(config)
        before = saved.config
        check = ConfigCheck(
            digest=digest,
            first=before is None,
            changed=before is not None and saved.config_digest != digest,
            differences=() if before is None else _differences(before, config),
        )
        self._ahead(
            "config.start",
            {"digest": digest, "config": dict(config), "restart": before is not None},
        )
        return check

    def _ahead(self, kind: str, payload: dict[str, Any]) -> int:
        seq = self.journal.append(kind, payload)
        if not self._deferred:
            self.journal.sync()
        return seq


@dataclass(slots=True)
class SavedState:
    """The last snapshot of each component the journal holds (JSON dicts): parents by id (in
    the order first seen, finished ones included: their ids stay taken), exit plans still
    working by symbol, the risk manager, the agent's book, the last configuration and its
    digest; ``records`` state records read, up to seq ``last_seq``."""

    parents: dict[str, dict[str, Any]] = field(default_factory=dict)
    exits: dict[str, dict[str, Any]] = field(default_factory=dict)
    risk: dict[str, Any] | None = None
    portfolio: dict[str, Any] | None = None
    config: dict[str, Any] | None = None
    config_digest: str | None = None
    records: int = 0
    last_seq: int = 0

    @property
    def empty(self) -> bool:
        """Nothing above the orders was journalled (a first start)."""
        return self.records == 0

    def parent_snapshots(self, model: type[_M]) -> list[_M]:
        return [_typed(model, p, f"parent {pid}") for pid, p in self.parents.items()]

    def exit_snapshots(self, model: type[_M]) -> list[_M]:
        return [_typed(model, p, f"exit {s}") for s, p in self.exits.items()]

    def risk_snapshot(self, model: type[_M]) -> _M | None:
        return None if self.risk is None else _typed(model, self.risk, "risk")

    def portfolio_snapshot(self, model: type[_M]) -> _M | None:
        return None if self.portfolio is None else _typed(model, self.portfolio, "portfolio")


def _typed(model: type[_M], data: dict[str, Any], what: str) -> _M:
    try:
        return model.model_validate(data)
    except ValidationError as e:
        first = e.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"])
        raise JournalError(
            what, where, f"the journalled snapshot is refused: {first['msg']}"
        ) from None


def load_state(journal: StateJournal, *, since: int = 0) -> SavedState:
    """Read the state records of ``journal`` (after seq ``since``) into the last snapshot of
    each component (:class:`SavedState`)."""
    out = SavedState()
    for r in journal.records(since=since, kinds=STATE_KINDS):
        p = r.payload
        kind: str = r.kind
        out.records += 1
        out.last_seq = r.seq
        if kind.startswith("parent."):
            out.parents[p["parent_id"]] = p["snapshot"]
        elif kind == "exit.state":
            out.exits[p["symbol"]] = p["snapshot"]
        elif kind == "exit.done":
            out.exits.pop(p["symbol"], None)
        elif kind.startswith("risk."):
            out.risk = p["snapshot"]
        elif kind == "portfolio.book":
            out.portfolio = p["snapshot"]
        elif kind == "config.start":
            out.config, out.config_digest = p["config"], p["digest"]
    return out
