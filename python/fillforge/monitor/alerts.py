"""Alert rules on rolling windows of execution metrics, with hysteresis.

Pure code over numbers (no broker, no server): :class:`WindowStats` is what one window of order
events adds up to and the rates derived from it; :class:`AlertRule` is a threshold on one of
those rates (validated by pydantic); :class:`Alerts` evaluates the rules at a time and moves each
between *clear* and *raised*: it raises once when the value crosses the threshold and clears
once when it comes back past the ``clear`` level (default: the threshold itself), so a value
hovering at the threshold does not flap. Each change is one :class:`Alert`, delivered to the
subscribed callbacks and to the ``fillforge.monitor`` logger as one line (``WARNING`` raised,
``INFO`` cleared).

The defaults are the ones users ask for (:data:`DEFAULT_RULES`): rejection rate above 5% in the
last hour, average slippage above 15 bps (positive bps = cost: paid above the arrival price on a
buy, below it on a sell), fill rate below 70%, more than 10 timeouts in an hour.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from fillforge.errors import ConfigError
from fillforge.time import NS_PER_SECOND

__all__ = [
    "DEFAULT_RULES",
    "Alert",
    "AlertRule",
    "AlertSubscriber",
    "Alerts",
    "AlertsConfig",
    "Metric",
    "WindowStats",
    "alerts_config",
]

log = logging.getLogger("fillforge.monitor")

Metric = Literal[
    "reject_rate", "cancel_rate", "fill_rate", "partial_fill_rate", "slippage_bps", "timeouts"
]
_ZERO = Decimal(0)
_BPS = Decimal(10_000)


@dataclass(slots=True)  # not frozen: a frozen dataclass of 13 fields costs ~10x to build
class WindowStats:
    """What the order events of one window add up to.

    ``orders``: new orders (a replacement is not a new order); ``rejects``: orders rejected by
    the venue or denied before it (a risk gate); ``cancels``: orders canceled; ``timeouts``:
    orders that rested their timeout without filling in full and were canceled (or expired);
    ``fills``: executions; ``ended``: orders that reached a final status, asking ``ended_qty``
    and filled ``ended_filled`` of it, ``ended_partial`` of them part-filled; ``slip_cost`` and
    ``slip_base`` sum ``sign * (price - arrival) * qty`` and ``arrival * qty`` over the
    ``slip_fills`` fills that had an arrival price (sign +1 buy, -1 sell).
    """

    span_ns: int
    orders: int = 0
    rejects: int = 0
    cancels: int = 0
    timeouts: int = 0
    fills: int = 0
    ended: int = 0
    ended_qty: Decimal = _ZERO
    ended_filled: Decimal = _ZERO
    ended_partial: int = 0
    slip_cost: Decimal = _ZERO
    slip_base: Decimal = _ZERO
    slip_fills: int = 0

    @classmethod
    def of(cls, span_ns: int, totals: Iterable[int | Decimal]) -> WindowStats:
        """From a :class:`~fillforge.monitor.windows.Rolling`'s totals, in field order."""
        return cls(span_ns, *totals)  # type: ignore[arg-type]

    @staticmethod
    def zeros() -> tuple[int | Decimal, ...]:
        """The zero of each total, in field order (a :class:`Rolling`'s ``zeros``)."""
        return (0, 0, 0, 0, 0, 0, _ZERO, _ZERO, 0, _ZERO, _ZERO, 0)

    @property
    def reject_rate(self) -> Decimal | None:
        return Decimal(self.rejects) / self.orders if self.orders else None

    @property
    def cancel_rate(self) -> Decimal | None:
        return Decimal(self.cancels) / self.orders if self.orders else None

    @property
    def fill_rate(self) -> Decimal | None:
        """Filled quantity over the quantity of the orders that ended."""
        return self.ended_filled / self.ended_qty if self.ended_qty else None

    @property
    def partial_fill_rate(self) -> Decimal | None:
        """The share of ended orders that ended part-filled."""
        return Decimal(self.ended_partial) / self.ended if self.ended else None

    @property
    def slippage_bps(self) -> Decimal | None:
        """Quantity-weighted average slippage against arrival, bps; positive = cost."""
        return self.slip_cost / self.slip_base * _BPS if self.slip_base else None

    def value(self, metric: Metric) -> tuple[Decimal | None, int]:
        """``metric``'s value (None: nothing to compute it from) and how many samples it
        rests on (orders, ended orders or fills; a count rests on itself)."""
        if metric == "timeouts":
            return Decimal(self.timeouts), self.timeouts
        if metric in ("reject_rate", "cancel_rate"):
            return getattr(self, metric), self.orders
        if metric in ("fill_rate", "partial_fill_rate"):
            return getattr(self, metric), self.ended
        return self.slippage_bps, self.slip_fills

    def as_json(self) -> dict[str, Any]:
        """JSON-mode (Decimal as text; rates None when there is nothing to compute them from)."""

        def text(v: Decimal | None, places: str = "0.0001") -> str | None:
            return None if v is None else str(v.quantize(Decimal(places)))

        return {
            "window_s": self.span_ns // NS_PER_SECOND,
            "orders": self.orders,
            "rejects": self.rejects,
            "cancels": self.cancels,
            "timeouts": self.timeouts,
            "fills": self.fills,
            "ended": self.ended,
            "fill_rate": text(self.fill_rate),
            "partial_fill_rate": text(self.partial_fill_rate),
            "reject_rate": text(self.reject_rate),
            "cancel_rate": text(self.cancel_rate),
            "slippage_bps": text(self.slippage_bps, "0.01"),
        }


_Threshold = Annotated[Decimal, Field(allow_inf_nan=False)]


class AlertRule(BaseModel):
    """A threshold on ``metric`` over the last ``window_s`` seconds: raised when the value is
    ``above`` (or ``below``) it and at least ``min_samples`` samples back the value; cleared
    when it is back at or past ``clear`` (default: the threshold), or when the window holds no
    sample at all."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    metric: Metric
    above: _Threshold | None = None
    below: _Threshold | None = None
    clear: _Threshold | None = None
    window_s: Annotated[int, Field(gt=0, le=7 * 24 * 3600)] = 3600
    min_samples: Annotated[int, Field(ge=0)] = 10
    enabled: bool = True

    @model_validator(mode="after")
    def _one_side(self) -> Self:
        if (self.above is None) == (self.below is None):
            raise ValueError("give exactly one of above or below")
        if self.clear is not None:
            if self.above is not None and self.clear > self.above:
                raise ValueError(f"clear {self.clear} must be at or under above {self.above}")
            if self.below is not None and self.clear < self.below:
                raise ValueError(f"clear {self.clear} must be at or over below {self.below}")
        return self

    @property
    def threshold(self) -> Decimal:
        t = self.above if self.above is not None else self.below
        assert t is not None
        return t

    @property
    def clear_at(self) -> Decimal:
        return self.clear if self.clear is not None else self.threshold

    @property
    def window_ns(self) -> int:
        return self.window_s * NS_PER_SECOND

    def breached(self, value: Decimal) -> bool:
        return value > self.threshold if self.above is not None else value < self.threshold

    def recovered(self, value: Decimal) -> bool:
        return value <= self.clear_at if self.above is not None else value >= self.clear_at

    def describe(self) -> str:
        side = ">" if self.above is not None else "<"
        return f"{self.metric} {side} {self.threshold} over {self.window_s}s"


D = Decimal
DEFAULT_RULES: Mapping[str, AlertRule] = {
    "rejection_rate": AlertRule(metric="reject_rate", above=D("0.05"), clear=D("0.04")),
    "slippage": AlertRule(metric="slippage_bps", above=D(15), clear=D(12)),
    "fill_rate": AlertRule(metric="fill_rate", below=D("0.70"), clear=D("0.75")),
    "timeouts": AlertRule(metric="timeouts", above=D(10), clear=D(8), min_samples=0),
}
"""The defaults: rejection rate > 5% in the last hour (clears at 4%), average slippage > 15
bps (clears at 12), fill rate < 70% (clears at 75%), more than 10 timeouts in an hour (clears at
8); the rates need 10 samples in the window."""


class AlertsConfig(BaseModel):
    """The monitor's configuration: the alert ``rules`` by name, and ``order_timeout_s``, after
    which a resting order that has not filled in full counts as a timeout when it is canceled or
    expires (None: only the execution engine's children count, at their parent's timeout)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rules: dict[str, AlertRule] = Field(default_factory=lambda: dict(DEFAULT_RULES))
    order_timeout_s: Annotated[Decimal, Field(gt=0, allow_inf_nan=False)] | None = None


def alerts_config(data: Mapping[str, Any] | None = None, *, where: str = "monitor") -> AlertsConfig:
    """An :class:`AlertsConfig` from plain data (a parsed YAML/JSON block). A rule named as a
    default one changes only the keys it gives (``{"rules": {"fill_rate": {"below": 0.8,
    "clear": 0.85}}}``); ``{"rules": {"timeouts": {"enabled": false}}}`` turns one off. Bad
    data raises :class:`~fillforge.errors.ConfigError` naming the key path
    (``monitor.rules.fill_rate.below``) and the value, and nothing is built."""
    if data is None:
        return AlertsConfig()
    if not isinstance(data, Mapping):
        raise ConfigError(where, type(data).__name__, "expected a mapping")
    merged: dict[str, Any] = dict(data)
    rules = data.get("rules")
    if rules is not None:
        if not isinstance(rules, Mapping):
            raise ConfigError(f"{where}.rules", type(rules).__name__, "expected a mapping")
        out: dict[str, Any] = {}
        for name, rule in rules.items():
            base = DEFAULT_RULES.get(name)
            if base is not None and isinstance(rule, Mapping):
                given = dict(rule)
                if "above" in given or "below" in given:  # a new threshold: its own clear level
                    kept = base.model_dump(exclude={"above", "below", "clear"})
                else:
                    kept = base.model_dump()
                rule = {**kept, **given}
            out[name] = rule
        merged["rules"] = {**{k: v for k, v in DEFAULT_RULES.items()}, **out}
    try:
        return AlertsConfig.model_validate(merged)
    except ValidationError as e:
        first = e.errors(include_url=False)[0]
        loc = [str(p) for p in first["loc"]]
        value = first.get("input")
        if first["type"] == "value_error" and isinstance(value, Mapping):
            value = dict(value)
        why = str(first["msg"]).removeprefix("Value error, ")
        raise ConfigError(".".join([where, *loc]), value, why) from None


@dataclass(frozen=True, slots=True)
class Alert:
    """A rule raised or cleared at ``ts`` (broker time, ns) with the value that moved it."""

    name: str
    state: Literal["raised", "cleared"]
    metric: Metric
    value: Decimal
    threshold: Decimal
    ts: int
    message: str

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "state": self.state,
            "metric": self.metric,
            "value": str(self.value),
            "threshold": str(self.threshold),
            "ts": self.ts,
            "message": self.message,
        }


AlertSubscriber = Callable[[Alert], None]


class Alerts:
    """The rules' states: :meth:`evaluate` moves them, :attr:`active` holds the raised ones,
    :attr:`history` the last ``keep`` changes. Thread-safe."""

    def __init__(self, rules: Mapping[str, AlertRule], *, keep: int = 200) -> None:
        self.rules = {n: r for n, r in rules.items() if r.enabled}
        self.active: dict[str, Alert] = {}
        self.history: deque[Alert] = deque(maxlen=keep)
        self.raised_total: dict[str, int] = dict.fromkeys(self.rules, 0)
        self.metrics = frozenset(r.metric for r in self.rules.values())
        # What evaluate reads of each rule, read once (a pydantic property costs per read).
        self._plan = [
            (
                n,
                r,
                r.window_ns,
                r.metric,
                r.above is not None,
                r.threshold,
                r.clear_at,
                r.min_samples,
            )
            for n, r in self.rules.items()
        ]
        self._subscribers: list[AlertSubscriber] = []
        self._lock = threading.Lock()

    def spans(self) -> set[int]:
        """The window lengths (ns) the rules read."""
        return {r.window_ns for r in self.rules.values()}

    def subscribe(self, callback: AlertSubscriber) -> Callable[[], None]:
        """Call ``callback`` with each raise and clear; returns the unsubscribe."""
        self._subscribers.append(callback)
        return lambda: self._subscribers.remove(callback) if callback in self._subscribers else None

    def evaluate(
        self,
        stats: Callable[[int], WindowStats],
        ts: int,
        metrics: AbstractSet[str] | None = None,
    ) -> list[Alert]:
        """Move every rule (on ``metrics``; default: all) by ``stats(window_ns)`` at ``ts``;
        the changes, after they were delivered."""
        changes: list[Alert] = []
        read: dict[int, WindowStats] = {}  # each window read once, however many rules read it
        with self._lock:
            for name, rule, span, metric, above, threshold, clear, least in self._plan:
                if metrics is not None and metric not in metrics:
                    continue
                window = read.get(span)
                if window is None:
                    window = read[span] = stats(span)
                value, samples = window.value(metric)
                raised = name in self.active
                if not raised and value is not None and samples >= least:
                    if samples > 0 and (value > threshold if above else value < threshold):
                        change = self._change(name, rule, "raised", value, ts)
                        self.active[name] = change
                        self.raised_total[name] += 1
                        changes.append(change)
                elif raised and (
                    samples == 0
                    or (value is not None and (value <= clear if above else value >= clear))
                ):
                    shown = value if value is not None else _ZERO
                    changes.append(self._change(name, rule, "cleared", shown, ts))
                    del self.active[name]
            self.history.extend(changes)
        for change in changes:
            if change.state == "raised":
                log.warning("alert raised: %s", change.message)
            else:
                log.info("alert cleared: %s", change.message)
            for cb in list(self._subscribers):
                try:
                    cb(change)
                except Exception as x:  # a failing callback must not stop the others, or trading
                    log.error("alert callback %r failed on %s: %r", cb, change.name, x)
        return changes

    @staticmethod
    def _change(
        name: str, rule: AlertRule, state: Literal["raised", "cleared"], value: Decimal, ts: int
    ) -> Alert:
        shown = value.quantize(Decimal("0.01")) if rule.metric == "slippage_bps" else value
        if rule.metric not in ("slippage_bps", "timeouts"):
            shown = value.quantize(Decimal("0.0001"))
        message = f"{name}: {rule.metric} {shown} ({rule.describe()})"
        if state == "cleared":
            message = f"{name}: {rule.metric} {shown} (clears at {rule.clear_at})"
        return Alert(name, state, rule.metric, value, rule.threshold, ts, message)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "active": [a.as_json() for a in self.active.values()],
                "recent": [a.as_json() for a in list(self.history)[-20:]],
                "rules": {n: r.describe() for n, r in self.rules.items()},
            }
