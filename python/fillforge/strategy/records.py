"""What a run leaves behind: the fills (:class:`FillRecord`), the equity samples
(:class:`EquitySamples`) and the two together as a :class:`RunResult`."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import numpy as np
import numpy.typing as npt

from fillforge.errors import StrategyError
from fillforge.orders.enums import LiquiditySide, OrderSide
from fillforge.orders.models import OrderEvent
from fillforge.portfolio.equity import DrawdownPeriod, EquityCurve, PeriodsPerYear
from fillforge.portfolio.metrics import PerformanceSummary

__all__ = ["EquitySamples", "FillRecord", "RunResult"]


@dataclass(frozen=True, slots=True)
class FillRecord:
    """One execution of one of the strategy's orders, as ``on_fill`` receives it: ``qty`` is
    positive, ``side`` says which way; ``price`` and ``commission`` are exact."""

    time_ns: int
    symbol: str
    side: OrderSide
    qty: Decimal
    price: Decimal
    commission: Decimal
    order_id: str
    client_order_id: str
    trade_id: str
    liquidity: LiquiditySide

    @property
    def signed_qty(self) -> Decimal:
        """``qty`` with the sign of the position change (+ buy, - sell)."""
        return self.qty if self.side is OrderSide.BUY else -self.qty

    @property
    def notional(self) -> Decimal:
        return self.qty * self.price

    @classmethod
    def of(cls, event: OrderEvent, side: OrderSide) -> FillRecord:
        """The fill an order event carries (the event must carry one)."""
        f = event.fill
        if f is None:
            raise StrategyError("event", event.kind, "an order event without a fill")
        return cls(
            time_ns=f.ts_event or event.ts,
            symbol=event.symbol,
            side=side,
            qty=f.qty,
            price=f.price,
            commission=f.commission,
            order_id=event.order_id,
            client_order_id=event.client_order_id,
            trade_id=f.trade_id,
            liquidity=f.liquidity,
        )


class EquitySamples:
    """The exact equity at each sample, and the same points (with exposure and the notional
    traded since the point before) on a :class:`fillforge.portfolio.equity.EquityCurve` for
    the analytics. A sample at the time of the last one replaces it. The analytics curve takes
    positive equity only: it ends at the first sample that is not (the exact record goes on)."""

    __slots__ = ("_ended", "_equity", "_times", "curve", "traded")

    def __init__(self, periods_per_year: PeriodsPerYear = 252) -> None:
        self._times: list[int] = []
        self._equity: list[Decimal] = []
        self.curve = EquityCurve(periods_per_year)
        self.traded = Decimal(0)  # the notional filled since the last sample
        self._ended = False

    def add(self, time_ns: int, equity: Decimal, long: Decimal, short: Decimal) -> None:
        """A sample: ``long`` and ``short`` are the market values of the long and the short
        positions (both positive amounts)."""
        times = self._times
        if times and time_ns <= times[-1]:
            if time_ns < times[-1]:
                raise StrategyError("time_ns", time_ns, f"before the last sample ({times[-1]})")
            self._equity[-1] = equity
        else:
            times.append(time_ns)
            self._equity.append(equity)
        self._ended = self._ended or equity <= 0
        if not self._ended:
            gross, net = long + short, long - short
            self.curve.append(time_ns, equity, gross=gross, net=net, traded=self.traded)
        self.traded = Decimal(0)

    def __len__(self) -> int:
        return len(self._times)

    @property
    def times(self) -> list[int]:
        return list(self._times)

    @property
    def values(self) -> list[Decimal]:
        return list(self._equity)


@dataclass(frozen=True)
class RunResult:
    """A finished run: the equity curve (exact, and as numpy arrays for analytics), the fills,
    and how the run ended.

    ``time_ns`` (int64) and ``equity`` (float64) are the samples as arrays; ``equity_exact``
    holds the same values as Decimals. ``curve`` is the
    :class:`~fillforge.portfolio.equity.EquityCurve` of the same points with exposure and
    turnover, which :meth:`metrics` and :meth:`drawdowns` read. ``stopped`` is True when the
    strategy or its owner called ``stop()`` before the data (or the deadline) ran out.
    """

    time_ns: npt.NDArray[np.int64]
    equity: npt.NDArray[np.float64]
    equity_exact: tuple[Decimal, ...]
    fills: tuple[FillRecord, ...]
    stopped: bool
    curve: EquityCurve

    @classmethod
    def build(cls, samples: EquitySamples, fills: list[FillRecord], stopped: bool) -> RunResult:
        values = samples.values
        return cls(
            time_ns=np.asarray(samples.times, np.int64),
            equity=np.asarray([float(v) for v in values], np.float64),
            equity_exact=tuple(values),
            fills=tuple(fills),
            stopped=stopped,
            curve=samples.curve,
        )

    @property
    def start_equity(self) -> Decimal | None:
        return self.equity_exact[0] if self.equity_exact else None

    @property
    def final_equity(self) -> Decimal | None:
        return self.equity_exact[-1] if self.equity_exact else None

    def returns(self) -> npt.NDArray[np.float64]:
        """Simple returns between consecutive equity samples (one fewer than samples)."""
        e = self.equity
        if len(e) < 2:
            return np.zeros(0, np.float64)
        out: npt.NDArray[np.float64] = e[1:] / e[:-1] - 1.0
        return out

    def metrics(self, risk_free: float = 0) -> PerformanceSummary:
        """The headline metrics of the equity curve's returns (Sharpe, Sortino, maximum
        drawdown, CAGR, Calmar, volatility, total return), annualised with the curve's periods
        per year (:func:`fillforge.portfolio.metrics.summary`)."""
        return self.curve.summary(risk_free)

    def drawdowns(self) -> list[DrawdownPeriod]:
        """Every drawdown of the equity curve (peak, trough, recovery, depth, duration)."""
        return self.curve.drawdowns()

    @property
    def trades(self) -> int:
        """How many fills the run had."""
        return len(self.fills)
