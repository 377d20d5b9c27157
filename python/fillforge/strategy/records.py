"""What a run leaves behind: the fills (:class:`FillRecord`), the equity curve
(:class:`EquityCurve`) and the two together as a :class:`RunResult`."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np
import numpy.typing as npt

from fillforge.errors import StrategyError
from fillforge.orders.enums import LiquiditySide, OrderSide
from fillforge.orders.models import OrderEvent

__all__ = ["EquityCurve", "FillRecord", "RunResult"]


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


class EquityCurve:
    """Equity samples ``(time_ns, equity)`` in time order; a sample at the time of the last one
    replaces it (one value per instant: the latest)."""

    __slots__ = ("_equity", "_times")

    def __init__(self) -> None:
        self._times: list[int] = []
        self._equity: list[Decimal] = []

    def add(self, time_ns: int, equity: Decimal) -> None:
        times = self._times
        if times and time_ns <= times[-1]:
            if time_ns < times[-1]:
                raise StrategyError("time_ns", time_ns, f"before the last sample ({times[-1]})")
            self._equity[-1] = equity
            return
        times.append(time_ns)
        self._equity.append(equity)

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

    ``time_ns`` (int64) and ``equity`` (float64) are the arrays ``fillforge.portfolio.metrics``
    takes; ``equity_exact`` holds the same values as Decimals. ``stopped`` is True when the
    strategy or its owner called ``stop()`` before the data (or the deadline) ran out.
    """

    time_ns: npt.NDArray[np.int64]
    equity: npt.NDArray[np.float64]
    equity_exact: tuple[Decimal, ...]
    fills: tuple[FillRecord, ...]
    stopped: bool
    callbacks: dict[str, int] = field(default_factory=dict)

    @classmethod
    def build(
        cls,
        curve: EquityCurve,
        fills: list[FillRecord],
        stopped: bool,
        callbacks: dict[str, int],
    ) -> RunResult:
        values = curve.values
        return cls(
            time_ns=np.asarray(curve.times, np.int64),
            equity=np.asarray([float(v) for v in values], np.float64),
            equity_exact=tuple(values),
            fills=tuple(fills),
            stopped=stopped,
            callbacks=dict(callbacks),
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

    def metrics(self, **kwargs: Any) -> Any:
        """The portfolio analytics of this run's equity curve and fills, from
        :mod:`fillforge.portfolio.metrics` (its keyword arguments: periods per year, the risk
        free rate, ...)."""
        from fillforge.portfolio import metrics

        return metrics.run_metrics(self, **kwargs)  # type: ignore[attr-defined]
