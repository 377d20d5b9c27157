"""The pre-trade risk manager: controls, trading states, breach actions and the kill switch.

:class:`RiskManager` judges each order against its controls (:mod:`fillforge.risk.limits`,
:mod:`fillforge.risk.exposure`) in the current trading state:

- ``active``: the controls decide;
- ``reducing``: only an order that reduces a position passes (:attr:`~fillforge.risk.limits.
  Proposal.reduces`: a simple or OCO order on the other side of the position, no larger than
  the position less the open orders already on its side; a flip is refused), then the controls;
- ``halted``: nothing passes (cancels do; they are not orders), except the kill switch's own
  flattening orders, which go to the broker directly.

The states are a table (:data:`RISK_TABLE`) run by the orders' ``transitions`` machine. A state
only tightens on a breach (``reduce`` while halted stays halted); only :meth:`RiskManager.reset`
(by hand) or the session's start (for a state a daily limit caused, ``reset_daily``) loosens it.

Which denial moves to which state is ``on_breach`` (code -> :class:`Breach`); by default a daily
loss halts and a drawdown reduces. Every decision, breach, state change and kill is a
:class:`RiskEvent` delivered to subscribers; :attr:`RiskManager.counters` counts decisions by code.

The manager reads the broker through the :class:`~fillforge.broker.Broker` protocol: the account
(equity and positions, re-read after every fill and whenever the broker's clock has moved
``refresh_ns`` since the last read), its order events (open orders, fills), its clock (the session
start: per-day counters roll at the venue's next open, by the broker's clock, else at midnight UTC
of the broker's time), and prices (:class:`~fillforge.risk.prices.BrokerPrices` unless given).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping

from fillforge.broker.protocol import Broker
from fillforge.errors import RiskDeniedError, RiskError
from fillforge.orders.enums import OrderSide
from fillforge.orders.models import OrderEvent, OrderRequest, ReplaceTerms
from fillforge.orders.order import Order
from fillforge.portfolio._exact import CTX, ZERO
from fillforge.risk.account import AccountWatch
from fillforge.risk.kill import KillReport, KillSwitch
from fillforge.risk.prices import BrokerPrices
from fillforge.risk.proposal import AccountControl, Control, Prices, Proposal, RiskView
from fillforge.risk.states import (
    DEFAULT_ON_BREACH,
    RISK_TABLE,
    Breach,
    RiskEvent,
    RiskSnapshot,
    RiskSubscriber,
    TradingState,
    risk_event,
)
from fillforge.risk.states import Guard as _Guard
from fillforge.risk.states import Trading as _Trading
from fillforge.time import NS_PER_SECOND

__all__ = [
    "DEFAULT_ON_BREACH",
    "RISK_TABLE",
    "Breach",
    "RiskEvent",
    "RiskManager",
    "RiskSnapshot",
    "TradingState",
]

_sub = CTX.subtract
_BUY = OrderSide.BUY
T = TradingState
# Members read once (``TradingState.ACTIVE`` goes through the enum metaclass's slow hook).
_ACTIVE, _HALTED = T.ACTIVE, T.HALTED
# The denials of the states themselves: never a breach.
_STATE_CODES = frozenset({"halted", "reducing"})
_TRIGGER = {Breach.REDUCE: "reduce", Breach.HALT: "halt", Breach.KILL: "halt"}


def _nothing() -> None:
    pass


def _codes(c: Control) -> tuple[str, ...]:
    codes: tuple[str, ...] = getattr(c, "codes", (c.code,))
    return codes


class RiskManager:
    """Pre-trade controls, trading states and the kill switch over ``broker`` (the module).

    ``controls`` run in order (first denial wins). ``on_breach`` maps a denial code to a
    :class:`Breach` (default :data:`DEFAULT_ON_BREACH`; give ``{}`` for none). ``prices`` is where
    the controls read the market (default: :class:`~fillforge.risk.prices.BrokerPrices`).
    ``refresh_ns``: the account is re-read when the broker's clock has moved this far since the
    last read (0: whenever it moved), and after every fill. ``reset_daily``: the session's start
    returns a state a daily limit caused to active. ``session_start(now_ns)`` gives the next
    session start after ``now_ns`` (default: the broker clock's next open). ``watch_ns`` sets a
    broker timer that asks the account controls this often, so a breach acts between orders.
    """

    def __init__(
        self,
        broker: Broker,
        controls: Iterable[Control] = (),
        *,
        on_breach: Mapping[str, Breach | str] | None = None,
        prices: Prices | None = None,
        refresh_ns: int = NS_PER_SECOND,
        reset_daily: bool = True,
        session_start: Callable[[int], int] | None = None,
        watch_ns: int | None = None,
    ) -> None:
        self._broker = broker
        self._controls: list[Control] = []
        for c in controls:
            if not isinstance(c, Control):
                raise RiskError("controls", c, "needs a code and a check(proposal, view) method")
            self._controls.append(c)
        self._accounts = [c for c in self._controls if isinstance(c, AccountControl)]
        known = {code for c in self._controls for code in _codes(c)}
        self.on_breach: dict[str, Breach] = {}
        for code, action in (DEFAULT_ON_BREACH if on_breach is None else on_breach).items():
            try:
                act = Breach(action)
            except ValueError:
                raise RiskError(f"on_breach[{code}]", action, f"one of {list(Breach)}") from None
            if on_breach is not None and code not in known:
                raise RiskError("on_breach", code, f"no control denies with it; {sorted(known)}")
            self.on_breach[code] = act
        self._daily = {
            code for c in self._controls if getattr(c, "daily", False) for code in _codes(c)
        }
        if isinstance(refresh_ns, bool) or not isinstance(refresh_ns, int) or refresh_ns < 0:
            raise RiskError("refresh_ns", refresh_ns, "must be an int of nanoseconds >= 0")
        if watch_ns is not None and (not isinstance(watch_ns, int) or watch_ns <= 0):
            raise RiskError("watch_ns", watch_ns, "must be a positive int of nanoseconds")
        self.reset_daily = bool(reset_daily)
        self.prices: Prices = prices if prices is not None else BrokerPrices(broker)
        self._guard = _Guard(self._apply)
        self._trading = _Trading()
        self._cause = ""
        self._breached: set[str] = set()  # account limits breached at the last evaluation
        self._subscribers: list[RiskSubscriber] = []
        self._observer: Callable[[str, RiskSnapshot], None] | None = None
        self._counts: Counter[str] = Counter()
        self._passed = 0  # the allowed decisions: an int, on the hot path
        self.kill_switch = KillSwitch(broker, self._flattened, self._guard)
        self.account = AccountWatch(
            broker,
            refresh_ns=refresh_ns,
            session_start=session_start,
            on_roll=self._session_started,
        )
        self._unsubscribe = broker.subscribe(self._on_event)
        self._watching = watch_ns is not None
        if watch_ns is not None:
            broker.set_timer("fillforge.risk.watch", self._watch, every_ns=watch_ns)

    # ----- state --------------------------------------------------------------------------

    @property
    def state(self) -> TradingState:
        """The trading state now (a session that started since the last order is rolled
        first: it may reset a daily limit's state)."""
        with self._guard:
            now = self._broker.now_ns()
            if now >= self.account.roll_at:
                self.account.roll(now)
            return TradingState(self._trading.state)

    def _now_state(self) -> TradingState:
        return TradingState(self._trading.state)

    @property
    def broker(self) -> Broker:
        """The broker the manager watches (and the kill switch acts on)."""
        return self._broker

    @property
    def killed(self) -> bool:
        """Whether the kill switch fired since the last :meth:`reset`."""
        return self.kill_switch.engaged

    @property
    def counters(self) -> dict[str, int]:
        """Decisions by code: ``allowed``, each denial code, ``kill_switch`` (firings) and
        ``breach:<code>`` (account limits found crossed between orders)."""
        out = {"allowed": self._passed} if self._passed else {}
        out.update(self._counts)
        return out

    @property
    def controls(self) -> tuple[Control, ...]:
        return tuple(self._controls)

    def subscribe(self, callback: RiskSubscriber) -> Callable[[], None]:
        """Call ``callback`` with every :class:`RiskEvent`; returns a function that
        unsubscribes."""
        self._subscribers.append(callback)
        return lambda: self._subscribers.remove(callback)

    def reduce(self, reason: str = "manual") -> None:
        """Move to ``reducing`` by hand (halted stays halted)."""
        with self._guard:
            self._move("reduce", "manual", reason)

    def halt(self, reason: str = "manual") -> None:
        """Move to ``halted`` by hand."""
        with self._guard:
            self._move("halt", "manual", reason)

    # ----- recovery (docs/state-recovery.md) -----------------------------------------------

    def observe(self, observer: Callable[[str, RiskSnapshot], None] | None) -> None:
        """Tell ``observer(what changed, snapshot)`` after every change worth keeping across a
        restart: ``state``, ``kill``, ``sent`` (an order counted), ``denied``, ``breach``,
        ``session`` (the day's figures rolled), ``reset`` (None: stop telling)."""
        self._observer = observer

    def _changed(self, kind: str) -> None:
        if self._observer is not None:
            self._observer(kind, self.snapshot())

    def snapshot(self) -> RiskSnapshot:
        """The manager's state as :meth:`restore` takes it back."""
        with self._guard:
            v, ks = self.account.view, self.kill_switch
            return RiskSnapshot(
                state=TradingState(self._trading.state),
                cause=self._cause,
                killed=ks.engaged,
                waiting=ks.waiting,
                flattening=ks.open_flatteners,
                counts=dict(self._counts),
                allowed=self._passed,
                breached=tuple(sorted(self._breached)),
                start_equity=v.start_equity,
                peak_equity=v.peak_equity,
                orders_today=v.orders_today,
                fills_today=v.fills_today,
                roll_at=self.account.roll_at,
            )

    def restore(self, snap: RiskSnapshot) -> None:
        """Take back the state ``snap`` kept (after a restart): the trading state, the kill
        switch, the counters and the session's figures. A session that started while the
        process was down rolls on the next order, as it would have (the daily counts restart,
        a daily limit's state resets); the equity and positions are read from the broker."""
        if not isinstance(snap, RiskSnapshot):
            raise RiskError("snapshot", snap, "expected a RiskSnapshot")
        with self._guard:
            self._trading.state = snap.state
            self._cause = snap.cause
            self.kill_switch.restore(snap.killed, snap.waiting, snap.flattening)
            self._counts = Counter(snap.counts)
            self._passed = snap.allowed
            self._breached = set(snap.breached)
            v = self.account.view
            v.start_equity, v.peak_equity = snap.start_equity, snap.peak_equity
            v.orders_today, v.fills_today = snap.orders_today, snap.fills_today
            self.account.roll_at = snap.roll_at
            self.account.dirty = True
            self._changed("restored")

    def reset(self, reason: str = "manual", *, rebase: bool = True) -> None:
        """Back to ``active`` by hand, and disengage the kill switch. With ``rebase`` the
        session's start equity and the drawdown's peak restart from the equity now (else the
        same loss or drawdown denies the next order again)."""
        with self._guard:
            self.kill_switch.reset()
            if rebase:
                self.account.rebase()
            self._move("resume", "reset", reason)
            self._changed("reset")

    def _move(self, trigger: str, code: str, why: str) -> None:
        prev = self._trading.state
        risk_event(trigger).trigger(self._trading)
        if self._trading.state != prev:
            self._cause = code
            self._changed("state")
            self._emit(
                RiskEvent(
                    "state",
                    self._broker.now_ns(),
                    TradingState(self._trading.state),
                    code=code,
                    why=why,
                    prev_state=TradingState(prev),
                )
            )

    # ----- the kill switch ----------------------------------------------------------------

    def kill(self, *, flatten: bool = False, reason: str = "manual") -> KillReport:
        """Halt, cancel every open order and, with ``flatten``, flatten every position with
        market orders that bypass the halted state (:mod:`fillforge.risk.kill`). Idempotent."""
        with self._guard:
            self._move("halt", "kill_switch", reason)
            report = self.kill_switch.fire(flatten=flatten)
            self._counts["kill_switch"] += 1
            self._changed("kill")
            self._emit(
                RiskEvent(
                    "kill",
                    self._broker.now_ns(),
                    self._now_state(),
                    code="kill_switch",
                    field="flatten",
                    value=flatten,
                    why=reason,
                )
            )
            return report

    def _flattened(self, symbol: str, order_id: str | None, error: str | None) -> None:
        self._emit(
            RiskEvent(
                "flatten",
                self._broker.now_ns(),
                self._now_state(),
                code="kill_switch",
                why=error or "",
                order_id=order_id,
                symbol=symbol,
            )
        )

    # ----- judging orders -----------------------------------------------------------------

    def check(self, request: OrderRequest) -> None:
        """Judge a new order: return if it may go, else raise
        :class:`~fillforge.errors.RiskDeniedError` (after recording the denial and acting on
        its breach). Changes nothing at the broker unless a breach fires the kill switch."""
        with self._guard:
            view = self.account.current()
            side = request.side
            sym = request.symbol
            p = Proposal(
                request,
                request.qty,
                view.qty.get(sym, ZERO),
                self.account.pending(sym, side),
                self.prices,
            )
            self._judge(p, view)

    def check_replace(self, order: Order, terms: ReplaceTerms) -> None:
        """Judge a replacement of ``order`` by ``terms``: halted refuses it unless it only
        lowers the quantity; reducing refuses one that raises it; otherwise the controls judge
        the order as it would be (its open quantity at the new terms, the order itself not
        counted among the open ones)."""
        with self._guard:
            view = self.account.current()
            r = order.request
            new_qty = terms.qty if terms.qty is not None else order.order_qty
            open_qty = max(_sub(new_qty, order.cum_qty), ZERO)
            shrinks = terms.limit_price is None and terms.stop_price is None and terms.trail is None
            shrinks = shrinks and open_qty <= order.leaves_qty
            update: dict[str, object] = {"qty": new_qty, "notional": None}
            if terms.limit_price is not None:
                update["limit_price"] = terms.limit_price
            if terms.stop_price is not None:
                update["stop_price"] = terms.stop_price
            new = r.model_copy(update=update)
            pending = self.account.pending(r.symbol, r.side)
            mine = order.leaves_qty if r.side is _BUY else -order.leaves_qty
            if self.account.is_open(order.id):
                pending = _sub(pending, mine)
            p = Proposal(
                new, open_qty, view.qty.get(r.symbol, ZERO), pending, self.prices, is_replace=True
            )
            if shrinks:
                self._allowed(p, view)
                return
            self._judge(p, view)

    def sent(self, order: Order) -> None:
        """Count an order the gate sent (orders per day) and follow it."""
        with self._guard:
            self.account.sent(order)
            self._changed("sent")

    def _judge(self, p: Proposal, view: RiskView) -> None:
        state = self._trading.state
        if state is not _ACTIVE:
            if state is _HALTED:
                e = RiskDeniedError(
                    "state", "halted", "trading is halted: only cancels pass", "halted"
                )
                raise self._denied(p, e)
            if not p.reduces:
                why = "would flip the position" if p.flips else "does not reduce a position"
                raise self._denied(
                    p, RiskDeniedError("state", "reducing", f"reducing: {why}", "reducing")
                )
        try:
            for c in self._controls:
                c.check(p, view)
        except RiskDeniedError as e:
            raise self._denied(p, e) from None
        self._allowed(p, view)

    def _allowed(self, p: Proposal, view: RiskView) -> None:
        self._passed += 1
        if self._subscribers:
            self._emit(
                RiskEvent(
                    "allowed", view.now_ns, self._now_state(), request=p.request, symbol=p.symbol
                )
            )

    def _denied(self, p: Proposal, e: RiskDeniedError) -> RiskDeniedError:
        self._counts[e.code] += 1
        self._changed("denied")
        self._emit(
            RiskEvent(
                "denied",
                self.view.now_ns,
                self._now_state(),
                code=e.code,
                field=e.field,
                value=e.value,
                why=e.why,
                request=p.request,
                symbol=p.symbol,
            )
        )
        if e.code not in _STATE_CODES:
            self._act(e.code, e.why)
        return e

    def _act(self, code: str, why: str) -> None:
        action = self.on_breach.get(code)
        if action is None or action is Breach.DENY:
            return
        if action is Breach.KILL or action is Breach.FLATTEN:
            if not self.kill_switch.engaged or action is Breach.FLATTEN:
                self._move("halt", code, why)
                self.kill(flatten=action is Breach.FLATTEN, reason=f"{code}: {why}")
            return
        self._move(_TRIGGER[action], code, why)

    def evaluate(self) -> list[RiskDeniedError]:
        """Ask every account control (daily loss, drawdown) now; the breaches. A breach that
        was not one at the last evaluation is a ``breach`` event, counted (``breach:<code>``)
        and acted on as ``on_breach`` says; one that lasts is reported once."""
        with self._guard:
            view = self.account.current()
            found = []
            for c in self._accounts:
                e = c.breach(view)
                if e is None:
                    self._breached.discard(c.code)
                    continue
                found.append(e)
                if e.code in self._breached:
                    continue
                self._breached.add(e.code)
                self._counts[f"breach:{e.code}"] += 1
                self._changed("breach")
                self._emit(
                    RiskEvent(
                        "breach",
                        view.now_ns,
                        self._now_state(),
                        code=e.code,
                        field=e.field,
                        value=e.value,
                        why=e.why,
                    )
                )
                self._act(e.code, e.why)
            return found

    def _watch(self, due_ns: int) -> None:
        self.account.dirty = True
        self.evaluate()

    # ----- the account --------------------------------------------------------------------

    @property
    def view(self) -> RiskView:
        """The account as the controls last read it."""
        return self.account.view

    def refresh(self) -> RiskView:
        """Re-read the account from the broker now."""
        with self._guard:
            self.account.refresh(self._broker.now_ns())
            return self.account.view

    def _session_started(self) -> None:
        self._changed("session")
        if (
            self.reset_daily
            and self._trading.state is not _ACTIVE
            and self._cause in self._daily
            and not self.kill_switch.engaged
        ):
            self._move("resume", "session_start", "a new session resets the daily limits")

    # ----- the broker's events -------------------------------------------------------------

    def _on_event(self, ev: OrderEvent) -> None:
        """The broker's order event: applied now if no other thread is inside the manager,
        else by that thread when it leaves (a broker's stream thread never waits on the
        manager's lock while holding the broker's own: no lock-order deadlock)."""
        self._guard.post(ev)

    def _apply(self, ev: OrderEvent) -> None:
        self.account.apply(ev)
        self.kill_switch.on_event(ev)

    def _emit(self, event: RiskEvent) -> None:
        for cb in list(self._subscribers):
            cb(event)

    def close(self) -> None:
        """Stop following the broker (its events and the watch timer). Idempotent."""
        with self._guard:
            stop, self._unsubscribe = self._unsubscribe, _nothing
            stop()
            if self._watching:
                self._broker.cancel_timer("fillforge.risk.watch")
                self._watching = False

    def __repr__(self) -> str:
        return f"RiskManager({self.state}, {len(self._controls)} controls, {self.view!r})"
