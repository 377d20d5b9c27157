"""What each key of a configuration sets: ``fillforge config check``'s table.

:func:`check` walks the file's keys (as read: references resolved, secrets masked) and gives one
:class:`KeyRow` per leaf: the key path, the fillforge feature and module it sets, the value, and
its status:

- ``honoured``: the feature applies it;
- ``not honoured``: fillforge cannot do what it asks, and ``note`` says precisely why;
- ``not used``: valid, but the mode or another key leaves it without effect (``note`` says
  which);
- ``unknown``: not a fillforge key (nearest known key suggested); it is not applied.
"""

from __future__ import annotations

import difflib
import fnmatch
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from fillforge.config.loading import ConfigFile, SecretSource
from fillforge.config.model import NOT_A_BROKER, Config, Mode

__all__ = ["FEATURES", "KeyRow", "Status", "check"]

Status = Literal["honoured", "not honoured", "not used", "unknown"]
_ENV = {
    "alpaca": {"api_key": "APCA_API_KEY_ID", "secret_key": "APCA_API_SECRET_KEY"},
    "polygon": {"api_key": "POLYGON_API_KEY"},
}
_TRANSIENT_NAMES = frozenset({"timeout", "connection", "connection_error", "rate_limit"})


@dataclass(frozen=True, slots=True)
class KeyRow:
    key: str
    feature: str
    module: str
    value: str
    status: Status
    note: str = ""


# key pattern -> (feature, module). Every leaf key of the model has a row (a test holds them to
# each other); "*" stands for a user's own names (a window, a strategy parameter).
FEATURES: dict[str, tuple[str, str]] = {
    "execution.enabled": ("signals become orders (false: each is denied, code disabled)", "agent"),
    "execution.mode": ("where orders go: simulator, paper account or live account", "agent"),
    "execution.signal_threshold": ("weaker signals send nothing (code below_threshold)", "agent"),
    "execution.fallback": ("on a broker outage: raise (none) or simulate, logged", "agent"),
    "execution.spread_multiplier": ("the simulated market's spread", "sim.venue"),
    "execution.slippage_bps": ("taker fills move this many bps against the taker", "sim.venue"),
    "execution.execution_delay_ms": ("order-entry latency, fixed", "sim.latency"),
    "execution.commission_rate": ("commission, a fraction of notional (x 10,000 bps)", "sim.fees"),
    "execution.min_commission": ("minimum commission per fill", "sim.fees"),
    "execution.max_position_size": ("largest position, fraction of equity", "risk"),
    "execution.max_order_size": ("largest order notional (account currency)", "risk"),
    "execution.max_daily_trades": ("most orders sent per day", "risk"),
    "execution.default_order_type": (
        "a child's price: limit at the offset, or market",
        "execution",
    ),
    "execution.use_bracket_orders": ("entries carry a stop, a target, a trail", "exits"),
    "execution.time_in_force": ("children's time in force", "execution"),
    "execution.limit_orders.base_offset_bps": ("static limit offset from the mid", "execution"),
    "execution.limit_orders.adaptive_offset": (
        "offset widened by spread and volatility",
        "execution",
    ),
    "execution.limit_orders.time_of_day_adjustments.*": (
        "time-of-day offset multiplier",
        "execution",
    ),
    "execution.limit_orders.order_timeout_seconds": (
        "a resting child is cancelled after",
        "execution",
    ),
    "execution.time_slicing.enabled": ("orders above the threshold are sliced", "execution"),
    "execution.time_slicing.size_threshold_usd": ("slice orders above this notional", "execution"),
    "execution.time_slicing.child_order_size_usd": ("notional of each child", "execution"),
    "execution.time_slicing.interval_seconds": ("time between children", "execution"),
    "execution.time_slicing.method": ("the slicing schedule", "execution"),
    "execution.bracket_orders.stop_loss.method": (
        "stop distance: ATR multiple or percent",
        "exits",
    ),
    "execution.bracket_orders.stop_loss.atr_multiplier": ("stop at this many ATRs", "exits"),
    "execution.bracket_orders.stop_loss.percentage": ("stop at this percent", "exits"),
    "execution.bracket_orders.take_profit.risk_reward_ratio": (
        "target at this R multiple",
        "exits",
    ),
    "execution.bracket_orders.trailing_stop.enabled": ("a trailing stop follows the peak", "exits"),
    "execution.bracket_orders.trailing_stop.atr_multiplier": ("trail by this many ATRs", "exits"),
    "execution.bracket_orders.trailing_stop.percentage": ("trail by this percent", "exits"),
    "execution.session_gates.avoid_first_minutes": ("no entries after the open for", "execution"),
    "execution.session_gates.avoid_last_minutes": ("no entries before the close for", "execution"),
    "execution.session_gates.flatten_eod_time": ("intraday positions flattened at", "execution"),
    "execution.session_gates.flatten_eod_order_type": ("the flatten's order type", "execution"),
    "execution.throttling.max_orders_per_minute": ("child submits per 60 s", "execution"),
    "execution.throttling.backoff_on_rate_limit": ("a child over the limit waits", "execution"),
    "execution.retry_policy.max_retries": ("transient broker errors retried", "execution"),
    "execution.retry_policy.backoff_strategy": ("wait between retries", "execution"),
    "execution.retry_policy.retryable_errors": ("which errors are retried", "execution"),
    "execution.partial_fills.min_fill_threshold": (
        "accept a slice filled to this fraction",
        "execution",
    ),
    "execution.partial_fills.retry_on_low_fill": ("retry a slice filled below it", "execution"),
    "execution.slippage_limits.max_slippage_bps": ("stop a parent past this cost", "execution"),
    "execution.slippage_limits.cancel_on_breach": ("cancel what works at the limit", "execution"),
    "position_sizing.max_position_size": ("full-strength position, fraction of equity", "sizing"),
    "position_sizing.min_trade_size": ("smaller trades are not sent (notional)", "sizing"),
    "position_sizing.max_trade_size": ("larger trades are cut (notional)", "sizing"),
    "risk_management.max_daily_loss": ("daily loss limit, fraction of the day's equity", "risk"),
    "risk_management.max_position_risk": ("loss to the stop, fraction of equity", "sizing"),
    "risk_management.max_orders_per_day": ("most orders sent per day", "risk"),
    "risk_management.max_drawdown": ("drawdown limit, fraction of the peak", "risk"),
    "risk_management.max_open_orders": ("most open orders", "risk"),
    "risk_management.max_order_qty": ("largest order quantity", "risk"),
    "risk_management.max_gross_exposure": ("gross exposure limit, multiple of equity", "risk"),
    "risk_management.price_band_bps": ("fat-finger band around the reference price", "risk"),
    "strategy.name": ("the backtest's strategy", "strategy"),
    "strategy.params.*": ("a strategy parameter", "strategy"),
    "backtest.symbols": ("symbols of the shipped daily bars", "replay"),
    "backtest.cash": ("starting cash", "sim.account"),
    "backtest.periods_per_year": ("annualisation of the metrics", "portfolio.metrics"),
    "journal": ("the write-ahead journal; a restart recovers from it", "agent.recovery"),
}
for _where in ("broker", "execution.broker"):
    FEATURES[f"{_where}.type"] = ("the broker adapter", "agent.build")
    FEATURES[f"{_where}.api_key"] = ("the API key id (secret)", "alpaca")
    FEATURES[f"{_where}.secret_key"] = ("the API secret (secret)", "alpaca")
    FEATURES[f"{_where}.base_url"] = ("the REST endpoint (paper or live)", "alpaca")
    FEATURES[f"{_where}.host"] = ("the gateway host", "venues.ibkr")
    FEATURES[f"{_where}.port"] = ("the gateway port", "venues.ibkr")
    FEATURES[f"{_where}.client_id"] = ("the gateway client id", "venues.ibkr")


def _pattern(key: str) -> str | None:
    """The :data:`FEATURES` pattern ``key`` falls under."""
    if key in FEATURES:
        return key
    for pat in FEATURES:
        if "*" in pat and fnmatch.fnmatchcase(key, pat):
            return pat
    return None


def _leaves(data: Any, path: str = "") -> list[tuple[str, Any]]:
    if isinstance(data, dict) and data and _pattern(path) is None:
        out = []
        for k, v in data.items():
            out += _leaves(v, f"{path}.{k}" if path else str(k))
        return out
    return [(path, data)]


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if value is None:
        return "null"
    return str(value)


Rule = Callable[[Config, str, Any], tuple[Status, str]]
_OK: tuple[Status, str] = ("honoured", "")


def _frictions(cfg: Config, key: str, value: Any) -> tuple[Status, str]:
    if cfg.mode is not Mode.SIMULATION:
        return "not used", f"mode {cfg.mode}: the account's own fills apply, not the simulator's"
    ex = cfg.execution
    if key.endswith("spread_multiplier") and ex.spread_multiplier != 1:
        return "not honoured", (
            "the simulator matches against the recorded book and its spread and does not scale "
            "it (1, the recorded spread, is what it does)"
        )
    if key.endswith("commission_rate") and ex.commission_rate is not None:
        return "honoured", f"FeeModel.flat(bps={ex.commission_rate * 10_000})"
    return _OK


def _broker(cfg: Config, key: str, value: Any) -> tuple[Status, str]:
    b = cfg.broker_config
    if b is None:  # pragma: no cover - a broker key implies a block
        return _OK
    leaf = key.rsplit(".", 1)[1]
    if b.type == "polygon":
        if leaf in ("api_key", "base_url", "type"):
            return "honoured", "MassiveMarketData, a market-data source (agent.build)"
        return "not honoured", "not a Massive (Polygon) setting"
    gateway = leaf in ("host", "port", "client_id")
    if b.type == "ibkr" and leaf in ("api_key", "secret_key", "base_url"):
        return "not honoured", "not an IB gateway setting (TWS or IB Gateway log in themselves)"
    if b.type == "alpaca" and gateway:
        return "not honoured", "not an Alpaca setting (an ibkr block takes it)"
    if cfg.mode is Mode.SIMULATION:
        return "not used", "mode simulation: the simulated broker needs no connection"
    if b.type == "ibkr":
        return "honoured", f"IbkrBroker({leaf}=...)" if gateway else "IbkrBroker (agent.build)"
    if leaf == "base_url":
        kind = "paper" if b.is_paper_url else "live" if b.is_live_url else "a served account"
        return "honoured", f"AlpacaBroker(url_override=...), {kind}"
    return _OK


def _time_in_force(cfg: Config, key: str, value: Any) -> tuple[Status, str]:
    if value == "day":
        return "honoured", "children and entries are day orders"
    return "not honoured", "the execution engine sends day orders only (docs/execution.md)"


def _tod(cfg: Config, key: str, value: Any) -> tuple[Status, str]:
    lo = cfg.execution.limit_orders
    if lo is None or lo.base_offset_bps is None:
        return "not used", "needs execution.limit_orders.base_offset_bps to multiply"
    return "honoured", "a session window of TimeOfDayTable (docs/config.md: anchoring)"


def _slicing(cfg: Config, key: str, value: Any) -> tuple[Status, str]:
    ts = cfg.execution.time_slicing
    if ts is not None and not ts.enabled and not key.endswith(".enabled"):
        return "not used", "time_slicing.enabled is false"
    if key.endswith(".method") and value == "vwap":
        return "not honoured", (
            "the agent cuts by size and spaces children by interval_seconds (split); a VWAP "
            "schedule needs a volume profile from intraday bars, which the agent is not given"
        )
    if key.endswith(".method"):
        return "honoured", "split(threshold, child, interval)"
    return _OK


def _stop(cfg: Config, key: str, value: Any) -> tuple[Status, str]:
    if not cfg.execution.use_bracket_orders:
        return "not used", "execution.use_bracket_orders is false"
    bo = cfg.execution.bracket_orders
    sl = bo.stop_loss if bo is not None else None
    if sl is not None and key.endswith("stop_loss.percentage") and sl.method == "atr":
        return "not used", "stop_loss.method is atr"
    if sl is not None and key.endswith("stop_loss.atr_multiplier") and sl.method == "percentage":
        return "not used", "stop_loss.method is percentage"
    tr = bo.trailing_stop if bo is not None else None
    if tr is not None and ".trailing_stop." in key:
        if not tr.enabled and not key.endswith("enabled"):
            return "not used", "trailing_stop.enabled is false"
        if key.endswith("percentage") and tr.atr_multiplier is not None:
            return "not used", "the trail is by ATR when atr_multiplier is given"
        if tr.enabled and key.endswith("atr_multiplier"):
            return "honoured", "Trail(Distance.of_atr): needs the symbol's ATR (atr=)"
        if tr.enabled:
            return "honoured", "ExitManager: from the best price since the entry, reset on re-entry"
    if ".stop_loss." in key and sl is not None and sl.method == "atr":
        return "honoured", "ExitManager; needs the symbol's ATR: execute_signals(..., atr={...})"
    return _OK


def _flatten_type(cfg: Config, key: str, value: Any) -> tuple[Status, str]:
    if value == "market":
        return "honoured", "Flattener sends market orders"
    return "not honoured", "the end-of-day flatten sends market orders only (Flattener)"


def _must_be_true(what: str) -> Rule:
    def rule(cfg: Config, key: str, value: Any) -> tuple[Status, str]:
        return _OK if value is True else ("not honoured", what)

    return rule


def _backoff(cfg: Config, key: str, value: Any) -> tuple[Status, str]:
    if value == "exponential":
        return "honoured", "backoff_ns * 2**k, capped, with jitter"
    return "not honoured", "the worker's retries back off exponentially only"


def _retryable(cfg: Config, key: str, value: Any) -> tuple[Status, str]:
    odd = [
        c
        for c in value or ()
        if not (c == 429 or (isinstance(c, int) and 500 <= c <= 599))
        and not (isinstance(c, str) and c.lower() in _TRANSIENT_NAMES)
    ]
    if odd:
        return "not honoured", (
            f"{', '.join(map(str, odd))}: fillforge retries only transient errors (429, 5xx, "
            "timeouts, connection errors); any other refusal is fatal and never retried"
        )
    return "honoured", "also retried: every 5xx, timeouts and connection errors"


def _retry_low_fill(cfg: Config, key: str, value: Any) -> tuple[Status, str]:
    if value is True:
        return "honoured", "the remainder is retried within max_attempts"
    return "honoured", "WorkRules(max_attempts=1, fallback='none'): the rest goes back"


def _position_risk(cfg: Config, key: str, value: Any) -> tuple[Status, str]:
    if not cfg.execution.use_bracket_orders or _stop_config(cfg) is None:
        return "not honoured", (
            "no stop distance to measure the risk by: set execution.use_bracket_orders and "
            "execution.bracket_orders.stop_loss"
        )
    return "honoured", "qty <= equity * risk / stop distance per share"


def _stop_config(cfg: Config) -> object | None:
    bo = cfg.execution.bracket_orders
    return None if bo is None else bo.stop_loss


def _honoured(cfg: Config, key: str, value: Any) -> tuple[Status, str]:
    return _OK


def _strategy(cfg: Config, key: str, value: Any) -> tuple[Status, str]:
    return "honoured", "used by fillforge backtest"


def _adaptive(cfg: Config, key: str, value: Any) -> tuple[Status, str]:
    if value is not True:
        return _OK
    return "honoured", (
        "max(base_offset_bps, half the spread in bps); no volatility widening (the file gives no "
        "volatility window)"
    )


def _mode(cfg: Config, key: str, value: Any) -> tuple[Status, str]:
    b = cfg.broker_config
    if cfg.mode is Mode.SIMULATION:
        return "honoured", "SimulatedBroker on the shipped daily bars of backtest.symbols"
    if b is not None and b.type == "polygon":
        return "not honoured", f"mode {cfg.mode} needs a broker: {NOT_A_BROKER}"
    if b is not None and b.type == "ibkr":
        host, port, _ = b.gateway
        return "honoured", f"IbkrBroker on the IB gateway at {host}:{port}"
    url = b.base_url if b is not None and b.base_url else f"Alpaca's {cfg.mode} endpoint"
    return "honoured", f"AlpacaBroker on {url}"


def _position_cap(cfg: Config, key: str, value: Any) -> tuple[Status, str]:
    ps = cfg.position_sizing
    if ps is None or ps.max_position_size is None:
        return "honoured", "also the sizing fraction (position_sizing.max_position_size is absent)"
    return _OK


def _fallback(cfg: Config, key: str, value: Any) -> tuple[Status, str]:
    if value == "simulation":
        if cfg.mode is Mode.SIMULATION:
            return "not used", "mode simulation has no broker to lose"
        return "honoured", "opt-in: an unreachable broker falls back, logged and counted"
    return "honoured", "an unreachable broker raises BrokerUnavailableError"


RULES: dict[str, Rule] = {
    "execution.mode": _mode,
    "execution.fallback": _fallback,
    "execution.max_position_size": _position_cap,
    "execution.limit_orders.adaptive_offset": _adaptive,
    "execution.spread_multiplier": _frictions,
    "execution.slippage_bps": _frictions,
    "execution.execution_delay_ms": _frictions,
    "execution.commission_rate": _frictions,
    "execution.min_commission": _frictions,
    "execution.time_in_force": _time_in_force,
    "execution.limit_orders.time_of_day_adjustments.*": _tod,
    "execution.session_gates.flatten_eod_order_type": _flatten_type,
    "execution.throttling.backoff_on_rate_limit": _must_be_true(
        "a child over the rate limit always waits in line; fillforge never drops it"
    ),
    "execution.retry_policy.backoff_strategy": _backoff,
    "execution.retry_policy.retryable_errors": _retryable,
    "execution.partial_fills.retry_on_low_fill": _retry_low_fill,
    "execution.slippage_limits.cancel_on_breach": _must_be_true(
        "at the limit the worker always cancels what works and stops; leave max_slippage_bps "
        "out for no limit"
    ),
    "risk_management.max_position_risk": _position_risk,
    "strategy.name": _strategy,
    "strategy.params.*": _strategy,
}
for _pat in FEATURES:
    if _pat.startswith(("broker.", "execution.broker.")):
        RULES[_pat] = _broker
    elif _pat.startswith(("execution.time_slicing.",)):
        RULES[_pat] = _slicing
    elif _pat.startswith("execution.bracket_orders."):
        RULES[_pat] = _stop


def _secret_note(cfg: Config, key: str, source: SecretSource | None) -> str:
    b = cfg.broker_config
    var = _ENV.get(b.type if b else "", {}).get(key.rsplit(".", 1)[1])
    if source is None or source.kind == "placeholder":
        return f"placeholder: taken from {var} at start" if var else "placeholder: not set"
    if source.kind == "env":
        return f"from ${{{source.variable}}}"
    return "written in the file (warned): prefer a ${NAME} reference"


def check(loaded: ConfigFile) -> list[KeyRow]:
    """One row per key of the file, in the file's order."""
    cfg = loaded.config
    known = set(FEATURES)
    rows = []
    for key, value in _leaves(loaded.data):
        if not key or (value in (None, {}) and any(p.startswith(f"{key}.") for p in known)):
            continue  # an empty block sets nothing
        pat = _pattern(key)
        if pat is None or key in loaded.unknown_keys:
            near = difflib.get_close_matches(key, known, n=1, cutoff=0.75)
            hint = f"; did you mean {near[0]}?" if near else ""
            rows.append(KeyRow(key, "-", "-", _show(value), "unknown", f"not applied{hint}"))
            continue
        feature, module = FEATURES[pat]
        status, note = RULES.get(pat, _honoured)(cfg, key, value)
        if key.rsplit(".", 1)[-1] in ("api_key", "secret_key"):
            secret_note = _secret_note(cfg, key, loaded.secrets.get(key))
            note = f"{note}; {secret_note}" if note else secret_note
        rows.append(KeyRow(key, feature, f"fillforge.{module}", _show(value), status, note))
    return rows
