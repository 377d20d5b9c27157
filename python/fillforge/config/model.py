"""The settings tree: one pydantic model per block of a fillforge configuration file.

The blocks and their keys are the ones users already write (an agent's ``execution`` block, an
engine's ``execution.yaml``, an execution-policy file, broker blocks), plus fillforge's own
``strategy`` and ``backtest`` blocks. Every model is frozen; a refused value raises
:class:`~fillforge.errors.ConfigError` whose ``field`` is the key path (the loader,
:mod:`fillforge.config.loading`, turns pydantic's locations into dotted paths). Keys a model does
not know are kept out of the model and reported by the loader, never silently dropped.

Numbers are exact ``Decimal``: an int, a float (through its shortest text, so ``0.001`` is
``Decimal("0.001")``) or a numeric string (YAML reads ``1e3`` as text). ``true`` is never a
number, and an int field takes no float.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Annotated, Any, Literal, Self

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    Strict,
    field_validator,
    model_validator,
)

from fillforge._exact import to_decimal
from fillforge.errors import ConfigError

__all__ = [
    "ALPACA_LIVE_URL",
    "ALPACA_PAPER_URL",
    "NOT_A_BROKER",
    "REGULAR_CLOSE_MIN",
    "REGULAR_OPEN_MIN",
    "BacktestConfig",
    "BracketOrders",
    "BrokerConfig",
    "Config",
    "ExecutionConfig",
    "LimitOrders",
    "Mode",
    "PartialFills",
    "PositionSizing",
    "RetryPolicy",
    "RiskManagement",
    "SessionGatesConfig",
    "SlippageLimits",
    "StopLoss",
    "StrategyConfig",
    "TakeProfit",
    "Throttling",
    "TimeSlicing",
    "TrailingStop",
    "clock_minutes",
]

ALPACA_PAPER_URL = "https://paper-api.alpaca.markets"
ALPACA_LIVE_URL = "https://api.alpaca.markets"
# The regular XNYS session in New York minutes after midnight: the clock times a file gives
# (09:30-09:35, flatten at 15:55) are read against it and anchored to the real session.
REGULAR_OPEN_MIN = 9 * 60 + 30
REGULAR_CLOSE_MIN = 16 * 60
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


class Mode(StrEnum):
    """Where orders go: the simulator, a paper account, or a live account."""

    SIMULATION = "simulation"
    PAPER = "paper"
    LIVE = "live"


def _number(value: object) -> Decimal:
    if isinstance(value, bool):
        raise ValueError("expected a number, not true/false")
    if isinstance(value, Decimal | int | float):
        d = to_decimal(value)
    elif isinstance(value, str):
        try:
            d = Decimal(value.strip())
        except InvalidOperation:
            raise ValueError("expected a number") from None
    else:
        raise ValueError("expected a number")
    if not d.is_finite():
        raise ValueError("expected a finite number")
    return d


Number = Annotated[Decimal, BeforeValidator(_number)]
NonNegative = Annotated[Decimal, BeforeValidator(_number), Field(ge=0)]
Positive = Annotated[Decimal, BeforeValidator(_number), Field(gt=0)]
Fraction = Annotated[Decimal, BeforeValidator(_number), Field(gt=0, le=1)]
Percent = Annotated[Decimal, BeforeValidator(_number), Field(gt=0, lt=100)]
PositiveInt = Annotated[int, Strict(), Field(ge=1)]
NonNegativeInt = Annotated[int, Strict(), Field(ge=0)]
Flag = Annotated[bool, Strict()]


def clock_minutes(text: object, what: str = "time") -> int:
    """``"HH:MM"`` as minutes after midnight; ValueError says what is wrong (an unquoted
    ``15:55`` reaches here as the number 955: YAML 1.1 reads it in base 60)."""
    if isinstance(text, int) and not isinstance(text, bool):
        raise ValueError(
            f"expected a quoted {what} 'HH:MM': YAML reads an unquoted 15:55 as the number 955"
        )
    if not isinstance(text, str) or not _HHMM.match(text.strip()):
        raise ValueError(f"expected a {what} 'HH:MM' (24-hour, New York time)")
    hh, mm = text.strip().split(":")
    return int(hh) * 60 + int(mm)


class Block(BaseModel):
    """A block of the file: frozen; unknown keys are ignored here and reported by the loader."""

    model_config = ConfigDict(frozen=True, extra="ignore", hide_input_in_errors=True)


NOT_A_BROKER = "Polygon (Massive) is a market-data vendor, not a broker"
"""Why a ``type: polygon`` block cannot be the broker of a paper or live run."""


class BrokerConfig(Block):
    """A broker or data-vendor connection block. ``api_key`` and ``secret_key`` are secrets: a
    ``${ENV}`` reference or, left out (or a placeholder such as ``your_api_key``), the vendor's
    environment variables (Alpaca: ``APCA_API_KEY_ID``, ``APCA_API_SECRET_KEY``)."""

    type: Literal["alpaca", "ibkr", "polygon"]
    api_key: SecretStr | None = None
    secret_key: SecretStr | None = None
    base_url: str | None = None
    host: str | None = None
    port: Annotated[int, Strict(), Field(ge=1, le=65535)] | None = None
    client_id: NonNegativeInt | None = None

    @field_validator("base_url")
    @classmethod
    def _url(cls, url: str | None) -> str | None:
        if url is not None and not re.match(r"^https?://[^\s/]+", url):
            raise ValueError("expected an http(s) URL")
        return None if url is None else url.rstrip("/")

    @property
    def is_paper_url(self) -> bool:
        return self.base_url is not None and "paper-api." in self.base_url

    @property
    def is_live_url(self) -> bool:
        return self.base_url is not None and self.base_url == ALPACA_LIVE_URL

    @property
    def gateway(self) -> tuple[str, int, int]:
        """An ``ibkr`` block's ``(host, port, client_id)``, the defaults filled in: 127.0.0.1,
        7497 (TWS's paper port) and 1."""
        port = 7497 if self.port is None else self.port
        return self.host or "127.0.0.1", port, 1 if self.client_id is None else self.client_id


class TimeOfDayWindow(BaseModel):
    """One ``"HH:MM-HH:MM": multiplier`` entry, in New York minutes after midnight."""

    model_config = ConfigDict(frozen=True)
    start_min: int
    end_min: int
    multiplier: Decimal


def _window(text: str) -> tuple[int, int]:
    start, sep, end = text.partition("-")
    if not sep:
        raise ValueError("expected a window 'HH:MM-HH:MM'")
    lo, hi = clock_minutes(start, "window start"), clock_minutes(end, "window end")
    if lo >= hi:
        raise ValueError("the window must end after it starts")
    if lo < REGULAR_OPEN_MIN or hi > REGULAR_CLOSE_MIN:
        raise ValueError("the window must lie inside the regular session 09:30-16:00")
    return lo, hi


class LimitOrders(Block):
    base_offset_bps: NonNegative | None = None
    adaptive_offset: Flag = False
    time_of_day_adjustments: dict[str, NonNegative] | None = None
    order_timeout_seconds: Positive | None = None

    @field_validator("time_of_day_adjustments")
    @classmethod
    def _windows(cls, table: dict[str, Decimal] | None) -> dict[str, Decimal] | None:
        if table is None:
            return None
        spans: list[tuple[int, int, str]] = []
        for key in table:
            try:
                lo, hi = _window(str(key))
            except ValueError as e:
                raise ConfigError(str(key), key, str(e)) from None
            for a, b, other in spans:
                if lo < b and a < hi:
                    raise ConfigError(str(key), key, f"overlaps the window {other}")
            spans.append((lo, hi, str(key)))
        return table

    def windows(self) -> list[TimeOfDayWindow]:
        """The time-of-day table's windows, in the order the file gives them."""
        out = []
        for key, m in (self.time_of_day_adjustments or {}).items():
            lo, hi = _window(key)
            out.append(TimeOfDayWindow(start_min=lo, end_min=hi, multiplier=m))
        return out


class TimeSlicing(Block):
    enabled: Flag = False
    size_threshold_usd: Positive | None = None
    child_order_size_usd: Positive | None = None
    interval_seconds: NonNegative | None = None
    method: Literal["twap", "vwap"] = "twap"

    @model_validator(mode="after")
    def _needs(self) -> Self:
        if self.enabled and self.child_order_size_usd is None:
            raise ConfigError("child_order_size_usd", None, "slicing is enabled: give a size")
        return self


class StopLoss(Block):
    method: Literal["atr", "percentage"] = "percentage"
    atr_multiplier: Positive | None = None
    percentage: Percent | None = None

    @model_validator(mode="after")
    def _needs(self) -> Self:
        if self.method == "atr" and self.atr_multiplier is None:
            raise ConfigError("atr_multiplier", None, "method is atr: give a multiplier")
        if self.method == "percentage" and self.percentage is None:
            raise ConfigError("percentage", None, "method is percentage: give a percentage")
        return self


class TakeProfit(Block):
    risk_reward_ratio: Positive | None = None


class TrailingStop(Block):
    enabled: Flag = False
    atr_multiplier: Positive | None = None
    percentage: Percent | None = None

    @model_validator(mode="after")
    def _needs(self) -> Self:
        if self.enabled and self.atr_multiplier is None and self.percentage is None:
            raise ConfigError("enabled", True, "a trailing stop needs atr_multiplier or percentage")
        return self


class BracketOrders(Block):
    stop_loss: StopLoss | None = None
    take_profit: TakeProfit | None = None
    trailing_stop: TrailingStop | None = None


class SessionGatesConfig(Block):
    avoid_first_minutes: NonNegativeInt = 0
    avoid_last_minutes: NonNegativeInt = 0
    flatten_eod_time: str | int | None = None
    flatten_eod_order_type: Literal["market", "limit"] = "market"

    @field_validator("flatten_eod_time")
    @classmethod
    def _flatten(cls, text: str | int | None) -> str | None:
        if text is None:
            return None
        minute = clock_minutes(text, "flatten time")
        if not REGULAR_OPEN_MIN < minute < REGULAR_CLOSE_MIN:
            raise ValueError("must be inside the regular session, before 16:00")
        return str(text).strip()

    @property
    def flatten_minutes(self) -> int | None:
        """Minutes before the regular close the flatten is set at (None: no flatten)."""
        if self.flatten_eod_time is None:
            return None
        return REGULAR_CLOSE_MIN - clock_minutes(self.flatten_eod_time)


class Throttling(Block):
    max_orders_per_minute: PositiveInt = 150
    backoff_on_rate_limit: Flag = True


class RetryPolicy(Block):
    max_retries: NonNegativeInt = 5
    backoff_strategy: Literal["exponential", "linear", "fixed"] = "exponential"
    retryable_errors: list[int | str] | None = None

    @field_validator("retryable_errors", mode="before")
    @classmethod
    def _codes(cls, codes: object) -> object:
        if not isinstance(codes, list):
            return codes
        for i, c in enumerate(codes):
            if isinstance(c, bool) or not isinstance(c, int | str):
                raise ConfigError(f"[{i}]", c, "expected an HTTP status or an error name")
            if isinstance(c, int) and not 100 <= c <= 599:
                raise ConfigError(f"[{i}]", c, "an HTTP status is in 100-599")
        return codes


class PartialFills(Block):
    min_fill_threshold: Fraction | None = None
    retry_on_low_fill: Flag = True


class SlippageLimits(Block):
    max_slippage_bps: Positive | None = None
    cancel_on_breach: Flag = True


class ExecutionConfig(Block):
    """The ``execution`` block: the mode, the simulated market's frictions, per-order and per-day
    limits, the broker, and the execution policy."""

    enabled: Flag = True
    mode: Mode = Mode.SIMULATION
    signal_threshold: Annotated[Decimal, BeforeValidator(_number), Field(ge=0, lt=1)] = Decimal(0)
    fallback: Literal["none", "simulation"] = "none"
    spread_multiplier: Positive = Decimal(1)
    slippage_bps: NonNegative | None = None
    execution_delay_ms: NonNegative | None = None
    commission_rate: Annotated[Decimal, BeforeValidator(_number), Field(ge=0, lt=1)] | None = None
    min_commission: NonNegative | None = None
    max_position_size: Fraction | None = None
    max_order_size: Positive | None = None
    max_daily_trades: PositiveInt | None = None
    broker: BrokerConfig | None = None
    default_order_type: Literal["market", "limit"] = "market"
    use_bracket_orders: Flag = False
    time_in_force: Literal["day", "gtc", "ioc", "fok", "opg", "cls"] = "day"
    limit_orders: LimitOrders | None = None
    time_slicing: TimeSlicing | None = None
    bracket_orders: BracketOrders | None = None
    session_gates: SessionGatesConfig | None = None
    throttling: Throttling | None = None
    retry_policy: RetryPolicy | None = None
    partial_fills: PartialFills | None = None
    slippage_limits: SlippageLimits | None = None


class PositionSizing(Block):
    """How a signal becomes a quantity: at full strength a position of ``max_position_size`` of
    equity; trades below ``min_trade_size`` are not sent, above ``max_trade_size`` are cut."""

    max_position_size: Fraction | None = None
    min_trade_size: NonNegative | None = None
    max_trade_size: Positive | None = None

    @model_validator(mode="after")
    def _bounds(self) -> Self:
        lo, hi = self.min_trade_size, self.max_trade_size
        if lo is not None and hi is not None and lo > hi:
            raise ConfigError("min_trade_size", lo, f"above max_trade_size {hi}")
        return self


class RiskManagement(Block):
    """Pre-trade limits (fractions are of equity; ``max_daily_loss`` of the day's starting
    equity, ``max_drawdown`` of the peak)."""

    max_daily_loss: Fraction | None = None
    max_position_risk: Fraction | None = None
    max_orders_per_day: PositiveInt | None = None
    max_drawdown: Fraction | None = None
    max_open_orders: PositiveInt | None = None
    max_order_qty: Positive | None = None
    max_gross_exposure: Positive | None = None
    price_band_bps: Positive | None = None


class StrategyConfig(Block):
    """The strategy a backtest runs: ``sma_crossover`` (parameters ``fast``, ``slow``) or a
    user's class as ``"module:Class"``, with its keyword parameters."""

    name: Annotated[str, Field(min_length=1)] = "sma_crossover"
    params: dict[str, Any] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _name(cls, name: str) -> str:
        if name != "sma_crossover" and not re.match(r"^[\w.]+:[A-Za-z_]\w*$", name):
            raise ValueError("expected 'sma_crossover' or 'module:Class'")
        return name

    @field_validator("params", mode="before")
    @classmethod
    def _params(cls, params: object) -> object:
        if isinstance(params, dict):
            for k in params:
                if not isinstance(k, str) or not k.isidentifier():
                    raise ConfigError(str(k), k, "a parameter name is an identifier")
        return params


class BacktestConfig(Block):
    """What ``fillforge backtest`` runs on: shipped daily bars of ``symbols``, ``cash`` to start
    with, and ``periods_per_year`` for annualising (252 trading days)."""

    symbols: Annotated[
        list[Annotated[str, Field(pattern=r"^[A-Z][A-Z.]{0,9}$")]], Field(min_length=1)
    ] = Field(default_factory=lambda: ["SPY"])
    cash: Positive = Decimal(100_000)
    periods_per_year: PositiveInt = 252

    @field_validator("symbols")
    @classmethod
    def _unique(cls, symbols: list[str]) -> list[str]:
        if len(set(symbols)) != len(symbols):
            raise ValueError("a symbol is listed twice")
        return symbols


class Config(Block):
    """A whole configuration file. Every block is optional; the mode is ``execution.mode``
    (simulation when left out). The broker is a top-level ``broker`` block or
    ``execution.broker``, not both."""

    execution: ExecutionConfig = Field(default_factory=ExecutionConfig)
    position_sizing: PositionSizing | None = None
    risk_management: RiskManagement | None = None
    broker: BrokerConfig | None = None
    strategy: StrategyConfig | None = None
    backtest: BacktestConfig | None = None
    journal: str | None = None
    """The agent's write-ahead journal: a path (SQLite) or a ``postgresql://`` URL; with it,
    every intent and state change is journalled and a restart recovers from it
    (``docs/state-recovery.md``)."""

    @field_validator("journal")
    @classmethod
    def _journal(cls, target: str | None) -> str | None:
        if target is None:
            return None
        text = target.strip()
        if not text or any(c in text for c in "\0\n\r"):
            raise ValueError("expected a journal path or a postgresql:// URL")
        return text

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.broker is not None and self.execution.broker is not None:
            raise ConfigError("execution.broker", "...", "the broker is also a top-level block")
        b = self.broker_config
        where = "broker.base_url" if self.broker is not None else "execution.broker.base_url"
        if b is not None and b.type == "alpaca":
            if self.mode is Mode.LIVE and b.is_paper_url:
                raise ConfigError(where, b.base_url, "mode is live: a paper URL would not trade")
            if self.mode is Mode.PAPER and b.is_live_url:
                raise ConfigError(where, b.base_url, "mode is paper: this is the live URL")
        return self

    @property
    def mode(self) -> Mode:
        return self.execution.mode

    @property
    def broker_config(self) -> BrokerConfig | None:
        """The broker block, wherever the file put it."""
        return self.broker if self.broker is not None else self.execution.broker
