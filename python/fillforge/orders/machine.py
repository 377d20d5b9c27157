"""The order state table, declared once and run by a shared ``transitions`` machine.

``ORDER_TABLE`` rows are ``(event, sources, destination, conditions)``. Several rows for one event
and source are tried in order, first match wins (conditions are names of zero-argument predicates
on the order: ``is_complete``, ``is_partial``...), so "a fill resolves to partially filled or
filled from cumulative quantity" is part of the table. A destination of ``None`` is an internal
transition: the event is allowed and the status stays.

One :class:`TableMachine` is built per table for the whole process; orders are never added to it
(``add_model`` costs tens of microseconds and binds methods onto every order). Its
:class:`FastEvent` subclass keeps what a trigger does that we use (source check, ordered
conditions, state change) and drops the callbacks, ``EventData`` and logging we do not.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol

from transitions import Event, Machine
from transitions.extensions import GraphMachine

from fillforge.errors import InvalidTransitionError
from fillforge.orders.enums import OrderStatus as S

__all__ = [
    "GROUP_TABLE",
    "ORDER_TABLE",
    "FastEvent",
    "Row",
    "TableMachine",
    "diagram",
    "order_machine",
    "table_events",
]

Row = tuple[str, Sequence[str], str | None, Sequence[str]]


class Stateful(Protocol):
    state: str

    @property
    def id(self) -> str: ...


# Where an order can still work, with and without an outstanding cancel/replace at the venue.
_WORKING = (S.PENDING_NEW, S.ACCEPTED, S.NEW, S.PARTIALLY_FILLED, S.DONE_FOR_DAY)
_PENDING = (S.PENDING_CANCEL, S.PENDING_REPLACE)
_ENDED = (S.CANCELED, S.EXPIRED, S.REPLACED, S.REJECTED)


def _resolve(event: str, sources: Iterable[str]) -> list[Row]:
    """Rows sending ``event`` to filled / partially filled / new by cumulative quantity."""
    src = list(sources)
    return [
        (event, src, S.FILLED, ("is_complete",)),
        (event, src, S.PARTIALLY_FILLED, ("is_partial",)),
        (event, src, S.NEW, ()),
    ]


def _restore(event: str) -> list[Row]:
    """A rejected cancel/replace: back to what the order was, by quantity and prior status."""
    return [
        (event, [*_PENDING], S.FILLED, ("is_complete",)),
        (event, [*_PENDING], S.DONE_FOR_DAY, ("was_done_for_day",)),
        (event, [*_PENDING], S.PARTIALLY_FILLED, ("is_partial",)),
        (event, [*_PENDING], S.PENDING_NEW, ("was_pending_new",)),
        (event, [*_PENDING], S.ACCEPTED, ("was_accepted",)),
        (event, [*_PENDING], S.NEW, ()),
        # The reject crossed before the venue reported pending: nothing to restore.
        (event, [*_WORKING, S.FILLED, *_ENDED], None, ()),
    ]


ORDER_TABLE: list[Row] = [
    ("hold", [S.CREATED], S.HELD, ()),
    ("submit", [S.CREATED, S.HELD], S.PENDING_NEW, ()),
    ("deny", [S.CREATED, S.HELD], S.DENIED, ()),
    ("accept", [S.PENDING_NEW], S.ACCEPTED, ()),
    ("ack", [S.PENDING_NEW, S.ACCEPTED], S.NEW, ()),
    ("ack", [S.NEW, *_PENDING], None, ()),
    ("reject", [S.PENDING_NEW, S.ACCEPTED], S.REJECTED, ()),
    ("reject", [S.NEW], S.REJECTED, ("is_unfilled",)),
    # Fills: resolve by quantity while working; a pending cancel/replace outranks them (FIX
    # precedence); on an ended order the fill is recorded and flagged late; past the order qty it
    # is flagged as an overfill.
    *_resolve("fill", [S.PENDING_NEW, S.ACCEPTED, S.NEW, S.PARTIALLY_FILLED]),
    ("fill", [S.DONE_FOR_DAY], S.FILLED, ("is_complete", "is_good_till")),
    ("fill", [S.DONE_FOR_DAY], S.PARTIALLY_FILLED, ("is_good_till",)),
    ("fill", [*_PENDING, S.DONE_FOR_DAY, S.FILLED, *_ENDED], None, ()),
    ("done_for_day", [S.ACCEPTED, S.NEW, S.PARTIALLY_FILLED], S.DONE_FOR_DAY, ()),
    ("request_cancel", [*_WORKING], None, ("no_request",)),
    ("pending_cancel", [*_WORKING], S.PENDING_CANCEL, ()),
    ("pending_cancel", [S.PENDING_CANCEL], None, ()),
    ("cancel", [S.HELD, *_WORKING, *_PENDING], S.CANCELED, ()),
    *_restore("cancel_reject"),
    ("request_replace", [*_WORKING, S.FILLED], None, ("no_request",)),
    ("pending_replace", [*_WORKING, S.FILLED], S.PENDING_REPLACE, ()),
    ("pending_replace", [S.PENDING_REPLACE], None, ()),
    ("replace", [*_WORKING, S.FILLED, S.PENDING_REPLACE], S.REPLACED, ()),
    *_restore("replace_reject"),
    *_resolve("start_replacement", [S.CREATED]),
    ("expire", [S.HELD, *_WORKING, *_PENDING], S.EXPIRED, ()),
    *_resolve("restate", [S.ACCEPTED, S.NEW, S.PARTIALLY_FILLED, S.DONE_FOR_DAY]),
    # Busts and corrections move cum qty; working orders re-resolve, others keep their status.
    *_resolve("trade_bust", [S.NEW, S.PARTIALLY_FILLED, S.FILLED]),
    ("trade_bust", [*_PENDING, S.DONE_FOR_DAY, *_ENDED], None, ()),
]

# Contingent groups (bracket, OTO, OCO): the group's own status over its legs' events.
GROUP_TABLE: list[Row] = [
    ("entry_done", ["entry_working"], "exits_active", ("entry_has_fills",)),
    ("entry_done", ["entry_working"], "canceled", ()),
    ("exit_partial", ["exits_active"], None, ()),
    ("exit_filled", ["exits_active"], "completed", ()),
    ("member_ended", ["entry_working", "exits_active"], "canceling", ()),
    ("cancel", ["entry_working", "exits_active"], "canceling", ()),
    ("settle", ["canceling"], "canceled", ("all_members_done",)),
    ("settle", ["canceling"], None, ()),
]
GROUP_STATES = ["entry_working", "exits_active", "canceling", "completed", "canceled"]


class FastEvent(Event):
    """A trigger that checks the source, runs the table's ordered conditions and sets the state."""

    def __init__(self, name: str, machine: Machine) -> None:
        super().__init__(name, machine)
        self._plan: dict[str, list[tuple[tuple[tuple[str, bool], ...], str | None]]] = {}

    def plan(self, state: str) -> list[tuple[tuple[tuple[str, bool], ...], str | None]]:
        p = self._plan.get(state)
        if p is None:
            as_state = getattr(self.machine, "state_type", str)
            p = [
                (
                    tuple((str(c.func), c.target) for c in t.conditions),
                    None if t.dest is None else as_state(t.dest),
                )
                for t in self.transitions.get(state, ())
            ]
            self._plan[state] = p
        return p

    def allowed(self, model: Stateful) -> bool:
        return bool(self.plan(model.state))

    def check(self, model: Stateful) -> None:
        """Raise InvalidTransitionError unless the table has this event for the model's state."""
        if not (self._plan.get(model.state) or self.plan(model.state)):
            raise InvalidTransitionError(model.id, model.state, self.name)

    def trigger(self, model: Any, *args: Any, **kwargs: Any) -> bool:
        plan = self._plan.get(model.state)
        for conds, dest in plan if plan is not None else self.plan(model.state):
            for f, target in conds:
                if getattr(model, f)() is not target:
                    break
            else:
                if dest is not None:
                    model.state = dest
                return True
        raise InvalidTransitionError(model.id, model.state, self.name)


class TableMachine(Machine):
    """A model-less Machine over a table, whose events are :class:`FastEvent`; destinations are
    set on models as ``state_type(name)`` (the order machine uses OrderStatus members)."""

    event_cls = FastEvent

    def __init__(
        self,
        states: Sequence[str],
        table: Sequence[Row],
        initial: str,
        state_type: Callable[[str], str] = str,
    ) -> None:
        self.state_type = state_type
        super().__init__(
            model=None,
            states=list(states),
            initial=initial,
            transitions=_rows(table),
            auto_transitions=False,
            send_event=False,
        )

    def event(self, name: str) -> FastEvent:
        ev = self.events[name]
        assert isinstance(ev, FastEvent)
        return ev


def _rows(table: Sequence[Row]) -> list[dict[str, Any]]:
    return [
        {
            "trigger": ev,
            "source": [str(s) for s in src],
            "dest": None if dest is None else str(dest),
            "conditions": list(conds),
        }
        for ev, src, dest, conds in table
    ]


ORDER_STATES = [str(s) for s in S]


def order_machine() -> TableMachine:
    """The process-wide order machine (built once, on first use)."""
    global _ORDER_MACHINE
    if _ORDER_MACHINE is None:
        _ORDER_MACHINE = TableMachine(ORDER_STATES, ORDER_TABLE, S.CREATED, S)
    return _ORDER_MACHINE


_ORDER_MACHINE: TableMachine | None = None


def table_events(
    states: Sequence[str],
    table: Sequence[Row],
    initial: str,
    state_type: Callable[[str], str] = str,
) -> Callable[[str], FastEvent]:
    """The lookup of a table machine's events by name; the machine is built once, at the first
    lookup (not at import). A module keeps one for its table: ``_event = table_events(...)``."""
    machine: TableMachine | None = None

    def event(name: str) -> FastEvent:
        nonlocal machine
        if machine is None:
            machine = TableMachine(states, table, initial, state_type)
        return machine.event(name)

    return event


def diagram(table: Sequence[Row], states: Sequence[str], initial: str, title: str) -> str:
    """The table as a mermaid state diagram, drawn by transitions' GraphMachine."""

    class _Model:
        pass

    model = _Model()
    GraphMachine(
        model=model,
        states=list(states),
        initial=initial,
        transitions=_rows(table),
        auto_transitions=False,
        graph_engine="mermaid",
        show_conditions=True,
        title=title,
    )
    text: str = model.get_graph().draw(None)  # type: ignore[attr-defined]
    return text


def markdown_table(table: Sequence[Row]) -> str:
    """The table as markdown, one row per (event, destination, conditions)."""
    lines = ["| event | from | to | when |", "| --- | --- | --- | --- |"]
    for ev, src, dest, conds in table:
        to = "(stays)" if dest is None else f"`{dest}`"
        when = " and ".join(f"`{c}`" for c in conds) or "always"
        lines.append(f"| `{ev}` | {', '.join(f'`{s}`' for s in src)} | {to} | {when} |")
    return "\n".join(lines)


def generated_docs() -> str:
    """The generated part of ``docs/orders.md``: both tables and their diagrams."""
    order = diagram(ORDER_TABLE, ORDER_STATES, S.CREATED, "Order lifecycle")
    group = diagram(GROUP_TABLE, GROUP_STATES, "entry_working", "Contingent group")
    return "\n".join(
        [
            "### Order state table",
            "",
            markdown_table(ORDER_TABLE),
            "",
            "```mermaid",
            order.strip(),
            "```",
            "",
            "### Contingent group table",
            "",
            markdown_table(GROUP_TABLE),
            "",
            "```mermaid",
            group.strip(),
            "```",
        ]
    )
