"""From a :class:`~fillforge.config.Config` to the objects that apply it: the simulated venue's
frictions, the execution engine's rules and pricing, the session gates, the risk controls, and
the broker of each mode. Pure constructors; the agent (:mod:`fillforge.agent.core`) wires them."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from decimal import Decimal
from pathlib import Path
from typing import TypedDict

from fillforge.broker import Broker
from fillforge.config.model import NOT_A_BROKER, BrokerConfig, Config, Mode
from fillforge.errors import ConfigError
from fillforge.execution import SessionGates, TimeOfDayTable, WorkRules
from fillforge.execution.parent import ParentOrder
from fillforge.execution.pricing import (
    Sessions,
    SessionWindow,
    TimeOfDayPricing,
    adaptive_offset,
    spread_bps,
)
from fillforge.exits import Distance, ExitPlan, Target, Trail
from fillforge.marketdata import load_bars
from fillforge.marketdata.source import MarketDataSource
from fillforge.orders.models import Instrument
from fillforge.risk import (
    Control,
    DailyLossLimit,
    GrossExposure,
    MaxDrawdown,
    MaxOpenOrders,
    MaxOrderNotional,
    MaxOrderQty,
    MaxOrdersPerDay,
    MaxPosition,
    PriceBand,
)
from fillforge.sim import FeeModel, LatencyModel, SimulatedBroker, Venue, bars_feed
from fillforge.sim.latency import Delay
from fillforge.sim.venue import FillModel
from fillforge.time import NS_PER_SECOND

__all__ = [
    "CENT",
    "Frictions",
    "alpaca_broker",
    "controls",
    "exit_plan",
    "fee_model",
    "fill_model",
    "frictions",
    "gates",
    "latency_model",
    "market",
    "pricing",
    "simulated_broker",
    "time_of_day_table",
    "work_rules",
]

CENT = Decimal("0.01")
_NS_PER_MS = 1_000_000
_MID_MIN = (9 * 60 + 30 + 16 * 60) // 2  # 12:45, the regular session's middle


def fee_model(cfg: Config) -> FeeModel:
    """``commission_rate`` (a fraction of notional) as bps, ``min_commission`` as the minimum,
    for maker and taker alike."""
    ex = cfg.execution
    rate = ex.commission_rate or Decimal(0)
    return FeeModel.flat(bps=rate * 10_000, minimum=ex.min_commission or Decimal(0), places=2)


def latency_model(cfg: Config) -> LatencyModel:
    """``execution_delay_ms`` as a fixed order-entry delay (cancels and data: none)."""
    ms = cfg.execution.execution_delay_ms
    if not ms:
        return LatencyModel.zero()
    return LatencyModel(entry=Delay.fixed(int(ms * _NS_PER_MS)))


def fill_model(cfg: Config) -> FillModel:
    return FillModel(slippage_bps=cfg.execution.slippage_bps or Decimal(0))


class Frictions(TypedDict):
    """The simulated venue's frictions the file sets: the keywords a
    :class:`~fillforge.sim.Venue` and a :class:`~fillforge.strategy.Backtest` take them as."""

    fees: FeeModel
    latency: LatencyModel
    fill_model: FillModel


def frictions(cfg: Config) -> Frictions:
    """The file's fees, latency and slippage (:func:`fee_model`, :func:`latency_model`,
    :func:`fill_model`), for ``Venue(..., **frictions(cfg))`` or ``Backtest(...)`` alike."""
    return Frictions(fees=fee_model(cfg), latency=latency_model(cfg), fill_model=fill_model(cfg))


def simulated_broker(
    cfg: Config, bars: Mapping[str, Path], *, cash: Decimal | None = None
) -> SimulatedBroker:
    """A simulated broker on daily bars (``symbol -> CSV``) laid on XNYS sessions, with the
    file's fees, latency and slippage. Orders decided after a bar's close fill at the next
    open (never at a price already seen)."""
    venue = Venue("SIM", calendar="XNYS", **frictions(cfg))
    for symbol, path in bars.items():
        venue.add(
            Instrument(symbol=symbol, tick_size=CENT),
            bars_feed(load_bars(path, tick=CENT), session="XNYS"),
        )
    start = cash if cash is not None else cfg.backtest.cash if cfg.backtest else Decimal(100_000)
    return SimulatedBroker(venue, cash=start)


def _secret(cfg: Config, name: str, env_var: str, env: Mapping[str, str]) -> str:
    b = cfg.broker_config
    value = getattr(b, name) if b is not None else None
    text = value.get_secret_value() if value is not None else env.get(env_var)
    if not text:
        where = "broker" if cfg.broker is not None else "execution.broker"
        raise ConfigError(f"{where}.{name}", None, f"not set: give ${{{env_var}}} or set {env_var}")
    return text


def live_broker(
    cfg: Config, *, env: Mapping[str, str] | None = None, timeout: float = 10.0
) -> Broker:
    """The broker of a paper or live configuration, by its block's ``type``: an IB gateway's
    (:func:`ibkr_broker`) for ``ibkr``, else Alpaca's (:func:`alpaca_broker`)."""
    b = cfg.broker_config
    if b is not None and b.type == "ibkr":
        return ibkr_broker(cfg, timeout=timeout)
    return alpaca_broker(cfg, env=env, timeout=timeout)


def _broker_block(cfg: Config, vendor: str) -> BrokerConfig | None:
    """The file's broker block, which must be ``vendor``'s when there is one."""
    b = cfg.broker_config
    if b is not None and b.type != vendor:
        where = "broker.type" if cfg.broker is not None else "execution.broker.type"
        why = NOT_A_BROKER if b.type == "polygon" else f"this needs a type {vendor} block"
        raise ConfigError(where, b.type, why)
    return b


def ibkr_broker(cfg: Config, *, timeout: float = 10.0) -> Broker:
    """The broker of a ``type: ibkr`` block, connected: TWS or IB Gateway at ``host`` (default
    127.0.0.1), ``port`` (default 7497, TWS's paper port) as ``client_id`` (default 1). Paper or
    live is the account the gateway is logged in to (by convention TWS 7497 paper, 7496 live;
    IB Gateway 4002 paper, 4001 live). A gateway that does not answer is a
    :class:`~fillforge.errors.BrokerUnavailableError`."""
    from fillforge.venues.ibkr import IbkrBroker

    b = _broker_block(cfg, "ibkr")
    if b is None:
        raise ConfigError("broker.type", None, "this needs a type ibkr block")
    broker = IbkrBroker(*b.gateway, timeout=timeout)
    try:
        return broker.connect()
    except BaseException:
        broker.close()
        raise


def alpaca_broker(
    cfg: Config, *, env: Mapping[str, str] | None = None, timeout: float = 10.0
) -> Broker:
    """The Alpaca broker of a paper or live configuration (the file's ``base_url``, else
    Alpaca's paper or live endpoint by mode). Credentials: the block's secrets, else
    ``APCA_API_KEY_ID`` / ``APCA_API_SECRET_KEY``."""
    from fillforge.alpaca.broker import AlpacaBroker

    environ = os.environ if env is None else env
    b = _broker_block(cfg, "alpaca")
    key = _secret(cfg, "api_key", "APCA_API_KEY_ID", environ)
    secret = _secret(cfg, "secret_key", "APCA_API_SECRET_KEY", environ)
    url = b.base_url if b is not None else None
    return AlpacaBroker(
        key,
        secret,
        paper=cfg.mode is not Mode.LIVE,
        url_override=url,
        timeout=timeout,
        attempts=2,
        max_wait=1.0,
    )


def massive_market_data(cfg: Config, *, env: Mapping[str, str] | None = None) -> MarketDataSource:
    """The Massive (formerly Polygon) market-data source of a ``type: polygon`` block: its
    ``api_key`` (else ``POLYGON_API_KEY``, else ``MASSIVE_API_KEY``) and ``base_url`` (else
    Massive's)."""
    from fillforge.marketdata.massive import MassiveMarketData

    environ = os.environ if env is None else env
    b = cfg.broker_config
    if b is None or b.type != "polygon":
        where = "broker.type" if cfg.broker is not None else "execution.broker.type"
        raise ConfigError(where, b.type if b else None, "a market-data source needs type polygon")
    var = "POLYGON_API_KEY" if environ.get("POLYGON_API_KEY") else "MASSIVE_API_KEY"
    return MassiveMarketData(_secret(cfg, "api_key", var, environ), base_url=b.base_url)


def time_of_day_table(cfg: Config) -> TimeOfDayTable:
    """The file's clock windows anchored to the venue's session: a window starting before
    12:45 counts from the open, one starting at or after it counts back from the close (so an
    early close moves it); 09:30 and 16:00 are the regular open and close."""
    lo = cfg.execution.limit_orders
    windows = []
    for w in lo.windows() if lo is not None else ():
        if w.start_min < _MID_MIN:
            windows.append(SessionWindow("open", w.start_min - 570, w.end_min - 570, w.multiplier))
        else:
            windows.append(SessionWindow("close", 960 - w.start_min, 960 - w.end_min, w.multiplier))
    return TimeOfDayTable(tuple(windows))


def market(broker: Broker, parent: ParentOrder) -> None:
    """The pricing of market children: no limit."""
    return None


def pricing(cfg: Config, calendar: Sessions) -> Callable[[Broker, ParentOrder], Decimal | None]:
    """A child's limit: ``base_offset_bps`` from the mid on the passive side (adaptive: at
    least half the spread), times the time-of-day multiplier; :func:`market` (no limit) for
    ``default_order_type: market``."""
    ex = cfg.execution
    if ex.default_order_type == "market":
        return market
    lo = ex.limit_orders
    base = lo.base_offset_bps if lo is not None and lo.base_offset_bps is not None else Decimal(0)
    if lo is not None and lo.adaptive_offset:

        def offset(broker: Broker, parent: ParentOrder) -> Decimal:
            q = broker.latest_quote(parent.symbol)
            if q is None or q.bid_price is None or q.ask_price is None:
                return base
            if q.bid_price >= q.ask_price:
                return base
            spread = spread_bps(q.bid_price, q.ask_price)
            return adaptive_offset(base, spread, Decimal("0.5"), Decimal(0), Decimal(0), Decimal(1))

        return TimeOfDayPricing(time_of_day_table(cfg), calendar, CENT, offset)
    return TimeOfDayPricing(time_of_day_table(cfg), calendar, CENT, base)


def work_rules(cfg: Config) -> WorkRules:
    """The execution engine's rules from the policy blocks."""
    ex = cfg.execution
    args: dict[str, object] = {}
    if ex.limit_orders is not None and ex.limit_orders.order_timeout_seconds is not None:
        args["timeout_ns"] = int(ex.limit_orders.order_timeout_seconds * NS_PER_SECOND)
    if ex.partial_fills is not None:
        if ex.partial_fills.min_fill_threshold is not None:
            args["partial_threshold"] = ex.partial_fills.min_fill_threshold
        if not ex.partial_fills.retry_on_low_fill:
            args.update(max_attempts=1, fallback="none")
    if ex.slippage_limits is not None and ex.slippage_limits.max_slippage_bps is not None:
        args["slippage_limit_bps"] = ex.slippage_limits.max_slippage_bps
    if ex.retry_policy is not None:
        args["max_retries"] = ex.retry_policy.max_retries
    if ex.throttling is not None:
        args["child_rate_limit"] = ex.throttling.max_orders_per_minute
        args["child_rate_window_ns"] = 60 * NS_PER_SECOND
    return WorkRules(**args)  # type: ignore[arg-type]


def gates(cfg: Config, calendar: Sessions) -> SessionGates | None:
    sg = cfg.execution.session_gates
    if sg is None or not (sg.avoid_first_minutes or sg.avoid_last_minutes):
        return None
    return SessionGates(
        calendar,
        open_minutes=sg.avoid_first_minutes,
        close_minutes=sg.avoid_last_minutes,
        lot=Decimal(1),
    )


def exit_plan(cfg: Config) -> ExitPlan | None:
    """The exits of an entry (``use_bracket_orders``): the stop (ATR multiple or percent), a
    target at ``risk_reward_ratio`` R, and a trailing stop (by ATR when ``atr_multiplier`` is
    given, else by percent) that follows the best price since the entry. None: no stop."""
    ex = cfg.execution
    bo = ex.bracket_orders
    if not ex.use_bracket_orders or bo is None or bo.stop_loss is None:
        return None
    sl = bo.stop_loss
    if sl.method == "atr" and sl.atr_multiplier is not None:
        stop = Distance.of_atr(sl.atr_multiplier)
    else:
        stop = Distance.of_percent(sl.percentage or Decimal(0))
    rr = bo.take_profit.risk_reward_ratio if bo.take_profit is not None else None
    targets = (Target(rr),) if rr is not None else ()
    trail = None
    tr = bo.trailing_stop
    if tr is not None and tr.enabled:
        if tr.atr_multiplier is not None:
            trail = Trail(Distance.of_atr(tr.atr_multiplier))
        elif tr.percentage is not None:
            trail = Trail(Distance.of_percent(tr.percentage))
    return ExitPlan(stop=stop, targets=targets, trail=trail)


def controls(cfg: Config) -> list[Control]:
    """The pre-trade controls of :mod:`fillforge.risk` the file's limits ask for."""
    ex, rm = cfg.execution, cfg.risk_management
    out: list[Control] = []
    if ex.max_order_size is not None:
        out.append(MaxOrderNotional(ex.max_order_size))
    if rm is not None and rm.max_order_qty is not None:
        out.append(MaxOrderQty(rm.max_order_qty))
    if ex.max_position_size is not None:
        out.append(MaxPosition(pct=ex.max_position_size))
    per_day = [n for n in (ex.max_daily_trades, rm.max_orders_per_day if rm else None) if n]
    if per_day:
        out.append(MaxOrdersPerDay(min(per_day)))
    if rm is not None:
        if rm.max_open_orders is not None:
            out.append(MaxOpenOrders(rm.max_open_orders))
        if rm.max_daily_loss is not None:
            out.append(DailyLossLimit(pct=rm.max_daily_loss))
        if rm.max_drawdown is not None:
            out.append(MaxDrawdown(rm.max_drawdown))
        if rm.max_gross_exposure is not None:
            out.append(GrossExposure(rm.max_gross_exposure))
        if rm.price_band_bps is not None:
            out.append(PriceBand(rm.price_band_bps))
    return out
