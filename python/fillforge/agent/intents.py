"""What the agent is asked to trade, made into orders: signals (``execute_signals``) and
target weights (``rebalance``, both on :class:`~fillforge.agent.ExecutionAgent`). Each order is
sized (or given), passes the session gates and the risk gate, and is worked under the file's
policy; a refusal is a :class:`~fillforge.agent.results.Denial` with its code."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from fillforge._exact import to_decimal
from fillforge.agent.results import Denial, SignalReport, Submitted
from fillforge.agent.sizing import Unsized, size_signal
from fillforge.broker import AccountSnapshot
from fillforge.errors import ExecutionError, FillforgeError, RiskDeniedError
from fillforge.execution.gates import reduces
from fillforge.orders.enums import OrderSide

if TYPE_CHECKING:
    from fillforge.agent.core import ExecutionAgent

__all__ = ["rebalance", "signals"]

_ZERO = Decimal(0)
_ONE = Decimal(1)


def signals(
    agent: ExecutionAgent,
    signals: Mapping[str, float | Decimal],
    prices: Mapping[str, Decimal],
    atr: Mapping[str, Decimal],
) -> SignalReport:
    submitted: list[Submitted] = []
    denied: list[Denial] = []
    account = agent._record()
    held = agent.broker.positions()
    for symbol in sorted(signals):
        try:
            sub = _one(agent, symbol, signals[symbol], prices, atr, account, held)
        except RiskDeniedError as e:
            sub = Denial(symbol=symbol, code=e.code or "risk", why=str(e))
        except FillforgeError as e:
            sub = Denial(symbol=symbol, code="refused", why=str(e))
        _file(agent, sub, submitted, denied)
    return _report(agent, submitted, denied)


def _file(
    agent: ExecutionAgent,
    sub: Submitted | Denial,
    submitted: list[Submitted],
    denied: list[Denial],
) -> None:
    if isinstance(sub, Denial):
        agent._denials[sub.code] += 1
        denied.append(sub)
    else:
        submitted.append(sub)


def _report(
    agent: ExecutionAgent, submitted: list[Submitted], denied: list[Denial]
) -> SignalReport:
    filled = []
    for s in submitted:
        st = agent._status(s.id)
        if st.filled_qty >= st.qty:
            filled.append(st)
    return SignalReport(submitted=tuple(submitted), filled=tuple(filled), denied=tuple(denied))


def _one(
    agent: ExecutionAgent,
    symbol: str,
    raw: float | Decimal,
    prices: Mapping[str, Decimal],
    atr: Mapping[str, Decimal],
    account: AccountSnapshot,
    held: Mapping[str, Any],
) -> Submitted | Denial:
    cfg = agent.config
    ex = cfg.execution
    equity, buying_power = account.equity, account.buying_power

    def no(code: str, why: str, sig: Decimal | None = None) -> Denial:
        return Denial(symbol=symbol, code=code, why=why, signal=sig)

    try:
        agent._instrument(symbol)
    except ExecutionError as e:
        return no("unknown_symbol", e.why)

    try:
        signal = to_decimal(raw)
    except (ArithmeticError, TypeError, ValueError):
        return no("bad_signal", f"{raw!r} is not a number")
    if not signal.is_finite() or abs(signal) > _ONE:
        return no("bad_signal", f"{raw!r}: a signal is in [-1, 1]")
    if not ex.enabled:
        return no("disabled", "execution.enabled is false", signal)
    if abs(signal) < ex.signal_threshold:
        return no("below_threshold", f"|{signal}| < signal_threshold {ex.signal_threshold}", signal)
    price = prices.get(symbol)
    if price is None or not Decimal(price) > 0:
        return no("no_price", f"no positive price given for {symbol}", signal)
    price = Decimal(price)
    pos = held.get(symbol)
    current = pos.qty if pos is not None else _ZERO
    sized = size_signal(
        cfg,
        symbol=symbol,
        signal=signal,
        price=price,
        instrument=agent._instrument(symbol),
        equity=equity,
        buying_power=buying_power,
        current=current,
        stop_distance=agent._stop_distance(price, atr.get(symbol))
        if ex.use_bracket_orders
        else None,
    )
    if isinstance(sized, Unsized):
        return no(sized.code, sized.why, signal)
    side, qty, cut_from = sized.side, sized.qty, sized.cut_from
    return _send(agent, symbol, side, qty, price, current, signal, atr, cut_from)


def _send(
    agent: ExecutionAgent,
    symbol: str,
    side: OrderSide,
    qty: Decimal,
    price: Decimal,
    current: Decimal,
    signal: Decimal | None = None,
    atr: Mapping[str, Decimal] | None = None,
    cut_from: Decimal | None = None,
) -> Submitted | Denial:
    """One sized order through the session gates and the risk gate, then worked: protected
    (the exit plan) when it opens, a parent under the policy when it reduces."""
    atr = atr or {}
    exit_ = reduces(current, side, qty)
    if agent._plan is not None and agent._plan.needs_atr and not exit_ and symbol not in atr:
        why = f"the exit plan is in ATRs: pass atr={{{symbol!r}: ...}}"
        return Denial(symbol=symbol, code="no_atr", why=why, signal=signal)
    if agent._gates is not None:
        d = agent._gates.admit(agent.broker.now_ns(), qty, exit_)
        if d.qty == 0:
            why = f"session gate: {d.reason}"
            return Denial(symbol=symbol, code=f"session_{d.reason}", why=why, signal=signal)
        qty = d.qty
    agent._check(symbol, side, qty, price)
    stop = target_price = None
    if agent._plan is not None and not exit_:
        oid, stop, target_price = agent._protected(symbol, side, qty, price, atr.get(symbol))
        kind = "bracket"
    else:
        oid, kind = agent._parent(symbol, side, qty, price), "parent"
    agent._sent += 1
    if agent._flattener is not None and not exit_:
        agent._flattener.tag(symbol)  # an intraday position: closed before the close
    return Submitted(
        symbol=symbol,
        id=oid,
        kind=kind,  # type: ignore[arg-type]
        side=str(side),  # type: ignore[arg-type]
        qty=qty,
        price=price,
        signal=signal,
        cut_from=cut_from,
        stop_price=stop,
        target_price=target_price,
    )


def rebalance(
    agent: ExecutionAgent,
    targets: Mapping[str, float | Decimal | str],
    prices: Mapping[str, Decimal],
    drift: Decimal | str,
) -> SignalReport:
    from fillforge.portfolio.rebalance import rebalance as plan

    account = agent._record()
    held = {s: p.qty for s, p in agent.broker.positions().items()}
    weights = {s: to_decimal(w) if isinstance(w, float) else w for s, w in targets.items()}
    orders = plan(
        weights,
        held,
        prices,
        account.equity,
        drift=drift,
        lot_of=lambda s: agent._instrument(s).lot_size,
    )
    submitted: list[Submitted] = []
    denied: list[Denial] = []
    for o in orders:
        try:
            sub = _send(agent, o.symbol, o.side, o.qty, o.price, held.get(o.symbol, _ZERO))
        except RiskDeniedError as e:
            sub = Denial(symbol=o.symbol, code=e.code or "risk", why=str(e))
        except FillforgeError as e:
            sub = Denial(symbol=o.symbol, code="refused", why=str(e))
        _file(agent, sub, submitted, denied)
    return _report(agent, submitted, denied)
