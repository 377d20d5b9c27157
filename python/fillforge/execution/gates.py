"""Session gates: when new entries may be sent, and the end-of-day flatten.

:class:`SessionGates` is the decision, a pure function of the time, the quantity and whether the
order is an exit: no new entries in the first ``open_minutes`` after the open; in the last
``close_minutes`` before the close, entries are cut to ``close_factor`` of their size (to the
lot grid below), or refused when no factor is given. Exits always pass (an order that only reduces
a position, see :func:`reduces`; a kill switch's orders are exits). Outside a session no entry
passes: an order sent while the venue is closed would wait for the open and reach it inside the
opening gate.

:class:`Flattener` is the plumbing: a broker timer at ``close - minutes`` of the session the
broker's clock is in (or the next one), which sends market orders closing the positions of the
symbols tagged intraday. Sessions come from the venue calendar, through the same
:class:`~fillforge.execution.pricing.SessionWindow` windows the time-of-day table uses, so an early
close moves the gates and the flatten with it. The rules are in ``docs/execution.md``
("Session gates").
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextlib import suppress
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal
from enum import StrEnum

from fillforge.broker import Broker
from fillforge.errors import ExecutionError, FillforgeError
from fillforge.execution.pricing import SessionHours, Sessions, SessionWindow
from fillforge.execution.schedules import _decimal, _int, _positive, _rate
from fillforge.orders.enums import OrderSide, OrderTimeInForce, OrderType
from fillforge.orders.models import OrderRequest
from fillforge.orders.order import Order

__all__ = ["Decision", "Flattener", "GateReason", "SessionGates", "reduces"]

_ZERO = Decimal(0)


class GateReason(StrEnum):
    """Why a gate decided as it did."""

    OPEN = "open"
    """Inside the session, outside every gate: the whole quantity passes."""
    EXIT = "exit"
    """An exit: it passes whatever the time."""
    OPENING = "opening"
    """In the first minutes after the open: no new entries."""
    CLOSING = "closing"
    """In the last minutes before the close: the entry is reduced (or refused at factor 0)."""
    CLOSED = "closed"
    """Outside a session: no new entries."""


@dataclass(frozen=True, slots=True)
class Decision:
    """What a gate lets through: ``qty`` (0: nothing) and why."""

    qty: Decimal
    reason: GateReason

    @property
    def admitted(self) -> bool:
        return self.qty > 0


def reduces(position_qty: Decimal, side: OrderSide, qty: Decimal) -> bool:
    """Whether an order of ``qty`` on ``side`` only reduces the signed position ``position_qty``
    (a sell of at most a long, a buy of at most a short): the exit test, ``reduce_only``. An order
    that would flip the position opens a new one, so it is an entry."""
    if qty <= 0:
        return False
    if side is OrderSide.SELL:
        return position_qty > 0 and qty <= position_qty
    return position_qty < 0 and qty <= -position_qty


def _minutes(value: object, field: str) -> int:
    return _int(value, field, 0)


class SessionGates:
    """The gates of one venue's ``calendar`` (anything with ``session_at``, such as
    :class:`fillforge.sim.TradingCalendar`).

    ``open_minutes``: no new entries in ``[open, open + N)``; ``close_minutes``: entries in
    ``[close - N, close)`` are multiplied by ``close_factor`` (in (0, 1]; None, the default,
    refuses them) and put on the ``lot`` grid (floored; None: left as they are). 0 minutes
    turns a gate off. A bad parameter is an :class:`~fillforge.errors.ExecutionError` naming
    it.
    """

    __slots__ = ("_close", "_last", "_open", "calendar", "close_factor", "lot")

    def __init__(
        self,
        calendar: Sessions,
        *,
        open_minutes: int = 0,
        close_minutes: int = 0,
        close_factor: Decimal | None = None,
        lot: Decimal | None = None,
    ) -> None:
        if not callable(getattr(calendar, "session_at", None)):
            raise ExecutionError("calendar", calendar, "expected a calendar with session_at()")
        n_open = _minutes(open_minutes, "open_minutes")
        n_close = _minutes(close_minutes, "close_minutes")
        factor = _ZERO if close_factor is None else _rate(close_factor, "close_factor")
        self.calendar = calendar
        self.close_factor = factor
        self.lot = None if lot is None else _positive(lot, "lot")
        self._open = SessionWindow("open", 0, n_open, _ZERO) if n_open else None
        self._close = SessionWindow("close", n_close, 0, factor) if n_close else None
        # the last session seen and its gate bounds: (open, close, opening end, closing start)
        self._last: tuple[int, int, int, int] | None = None

    def admit(self, now_ns: int, qty: Decimal, is_exit: bool) -> Decision:
        """What of ``qty`` may be sent at ``now_ns``: an exit passes whole; an entry is refused
        outside a session and in the opening gate, reduced in the closing gate."""
        q = _decimal(qty, "qty")
        if q <= 0:
            raise ExecutionError("qty", qty, "must be positive")
        if is_exit:
            return Decision(q, GateReason.EXIT)
        last = self._last
        if last is None or not last[0] <= now_ns < last[1]:
            last = self._bounds(now_ns)
            if last is None:
                return Decision(_ZERO, GateReason.CLOSED)
        if now_ns < last[2]:
            return Decision(_ZERO, GateReason.OPENING)
        if now_ns >= last[3]:
            return Decision(self._on_grid(q * self.close_factor), GateReason.CLOSING)
        return Decision(q, GateReason.OPEN)

    def _bounds(self, now_ns: int) -> tuple[int, int, int, int] | None:
        """The session holding ``now_ns`` (None: none) and where its gates end and begin; a
        gate that is off is an empty window."""
        hours = self.calendar.session_at(now_ns)
        if hours is None:
            return None
        opening_end = hours.open_ns if self._open is None else self._open.bounds(hours)[1]
        closing_start = hours.close_ns if self._close is None else self._close.bounds(hours)[0]
        self._last = (hours.open_ns, hours.close_ns, opening_end, closing_start)
        return self._last

    def _on_grid(self, qty: Decimal) -> Decimal:
        lot = self.lot
        if lot is None:
            return qty
        return (qty / lot).to_integral_value(ROUND_FLOOR) * lot

    def __repr__(self) -> str:
        n_open = self._open.end_min if self._open else 0
        n_close = self._close.start_min if self._close else 0
        factor = self.close_factor or None
        return (
            f"SessionGates(open_minutes={n_open}, close_minutes={n_close}, close_factor={factor})"
        )


class Flattener:
    """Closes the intraday-tagged positions on ``broker`` with market orders ``minutes`` before
    the close of the session of ``calendar`` (the venue's) that the broker's clock is in, or of
    the next one when it is between sessions.

    :meth:`tag` marks a symbol intraday, :meth:`untag` unmarks it; :meth:`arm` sets the timer
    (named ``name``) and returns when it is due. When it fires, each tagged symbol's open orders
    are cancelled, then its position (if any) is closed by one market order of its size, client
    order id ``<name>-<session close, s>-<n>``; with ``repeat`` it is armed again for the next
    session. The orders sent are in :attr:`sent`.
    """

    __slots__ = (
        "_armed",
        "_seq",
        "_tags",
        "broker",
        "calendar",
        "name",
        "repeat",
        "sent",
        "window",
    )

    def __init__(
        self,
        broker: Broker,
        calendar: Sessions,
        minutes: int,
        *,
        tagged: Iterable[str] = (),
        name: str = "flatten",
        repeat: bool = False,
    ) -> None:
        n = _minutes(minutes, "minutes")
        if n < 1:
            raise ExecutionError(
                "minutes", minutes, "must be at least 1: at the close a market order waits"
            )
        if not callable(getattr(calendar, "session_at", None)):
            raise ExecutionError("calendar", calendar, "expected a calendar with session_at()")
        if not isinstance(name, str) or not name.replace("_", "").isalnum():
            raise ExecutionError("name", name, "letters, digits or '_'")
        self.broker = broker
        self.calendar = calendar
        # [close - N, close): its start is the flatten time, kept inside the session.
        self.window = SessionWindow("close", n, 0, _ZERO)
        self.name = name
        self.repeat = bool(repeat)
        self.sent: list[Order] = []
        self._tags: set[str] = set()
        self._armed: int | None = None
        self._seq = 0
        for s in tagged:
            self.tag(s)

    @property
    def tagged(self) -> frozenset[str]:
        return frozenset(self._tags)

    @property
    def due_ns(self) -> int | None:
        """When the armed timer fires (None: not armed)."""
        return self._armed

    def tag(self, symbol: str) -> None:
        if not isinstance(symbol, str) or not symbol:
            raise ExecutionError("symbol", symbol, "expected a non-empty symbol")
        self._tags.add(symbol)

    def skip_to(self, seq: int) -> None:
        """Number the next flattening order after ``seq`` (a restart: the orders a journal
        shows were sent keep their client order ids)."""
        if isinstance(seq, bool) or not isinstance(seq, int) or seq < 0:
            raise ExecutionError("seq", seq, "expected an int >= 0")
        self._seq = max(self._seq, seq)

    def untag(self, symbol: str) -> None:
        if symbol not in self._tags:
            raise ExecutionError("symbol", symbol, "not tagged intraday")
        self._tags.discard(symbol)

    def flatten_time(self, hours: SessionHours) -> int:
        """``close - minutes`` of the session ``hours`` (its open when the session is
        shorter)."""
        return self.window.bounds(hours)[0]

    def session(self) -> SessionHours:
        """The session the broker's clock is in, else the next one."""
        clock = self.broker.clock()
        now = clock.timestamp_ns
        hours = self.calendar.session_at(now)
        if hours is None and clock.next_open_ns is not None:
            hours = self.calendar.session_at(clock.next_open_ns)
        if hours is None:
            raise ExecutionError("calendar", self.calendar, f"no session at or after {now}")
        return hours

    def arm(self) -> int:
        """Set the flatten timer for the current (or next) session; returns its time. When the
        flatten time of the current session has passed, it fires now. Arming again moves it."""
        self.disarm()
        hours = self.session()
        now = self.broker.clock().timestamp_ns
        due = max(self.flatten_time(hours), now)
        close = hours.close_ns
        self.broker.set_timer(self._timer, self._fire_step(close), at_ns=due)
        self._armed = due
        return due

    def disarm(self) -> None:
        if self._armed is not None:
            self.broker.cancel_timer(self._timer)
            self._armed = None

    @property
    def _timer(self) -> str:
        return f"{self.name}.timer"

    def _fire_step(self, close_ns: int) -> Callable[[int], None]:
        return lambda t: self._fire(close_ns)

    def _fire(self, close_ns: int) -> None:
        self._armed = None
        self.flatten(close_ns)
        if self.repeat:
            self._arm_next(close_ns)

    def _arm_next(self, close_ns: int) -> None:
        clock = self.broker.clock()
        nxt = clock.next_open_ns
        hours = None if nxt is None else self.calendar.session_at(nxt)
        if hours is None or hours.close_ns <= close_ns:
            return
        due = max(self.flatten_time(hours), clock.timestamp_ns)
        self.broker.set_timer(self._timer, self._fire_step(hours.close_ns), at_ns=due)
        self._armed = due

    def flatten(self, close_ns: int | None = None) -> list[Order]:
        """Close the tagged positions now (what the timer does); returns the orders sent."""
        stamp = (close_ns if close_ns is not None else self.broker.clock().timestamp_ns) // 10**9
        broker = self.broker
        positions = broker.positions()
        out: list[Order] = []
        for symbol in sorted(self._tags):
            for o in broker.orders(open_only=True, symbol=symbol):
                with suppress(FillforgeError):  # already ending: its event tells
                    broker.cancel(o.id)
            pos = positions.get(symbol)
            if pos is None or pos.qty == 0:
                continue
            self._seq += 1
            request = OrderRequest(
                symbol=symbol,
                side=OrderSide.SELL if pos.qty > 0 else OrderSide.BUY,
                type=OrderType.MARKET,
                time_in_force=OrderTimeInForce.DAY,
                qty=abs(pos.qty),
                client_order_id=f"{self.name}-{stamp}-{self._seq}",
            )
            out.append(broker.submit(request))
        self.sent.extend(out)
        return out

    def __repr__(self) -> str:
        n = self.window.start_min
        return f"Flattener(minutes={n}, tagged={sorted(self._tags)}, due_ns={self._armed})"
