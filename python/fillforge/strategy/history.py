"""Per-symbol bar history for strategies: numpy arrays of the bars delivered so far.

A :class:`BarHistory` grows by one row each time the runner delivers a bar, *before* the
strategy's ``on_bar`` sees it. Its arrays are read-only views of the rows written so far: the
buffer behind them holds nothing else (rows are copied in at delivery, never preloaded), so a
strategy cannot read a bar it has not been given, even through the view's ``base``.
"""

from __future__ import annotations

from typing import TypeVar

import numpy as np
import numpy.typing as npt

from fillforge.broker import Bar

__all__ = ["BarHistory"]

_F64 = npt.NDArray[np.float64]
_I64 = npt.NDArray[np.int64]
_START = 256
_G = TypeVar("_G", bound=np.generic)


class BarHistory:
    """The bars of ``symbol`` delivered so far, oldest first.

    ``time_ns`` (the bar's open time, UNIX ns, as :class:`~fillforge.broker.Bar` has it) is
    int64; ``open``, ``high``, ``low``, ``close`` and ``volume`` are float64 in price units
    (dollars, not ticks): they are for signals. Order prices stay exact: take them from the
    :class:`~fillforge.broker.Bar` itself (Decimal) or round a signal to the instrument's tick.
    Every array is a read-only view of length ``len(history)``; a view taken earlier keeps
    its length (take the attribute again after the next bar).
    """

    __slots__ = ("_c", "_h", "_l", "_n", "_o", "_t", "_v", "symbol")

    def __init__(self, symbol: str, capacity: int = _START) -> None:
        self.symbol = symbol
        self._n = 0
        cap = max(int(capacity), 1)
        self._t: _I64 = np.zeros(cap, np.int64)
        self._o: _F64 = np.zeros(cap, np.float64)
        self._h: _F64 = np.zeros(cap, np.float64)
        self._l: _F64 = np.zeros(cap, np.float64)
        self._c: _F64 = np.zeros(cap, np.float64)
        self._v: _F64 = np.zeros(cap, np.float64)

    def __len__(self) -> int:
        return self._n

    def __repr__(self) -> str:
        return f"BarHistory({self.symbol!r}, bars={self._n})"

    # ----- what strategies read -------------------------------------------------------------

    @property
    def time_ns(self) -> _I64:
        return _view(self._t, self._n)

    @property
    def open(self) -> _F64:
        return _view(self._o, self._n)

    @property
    def high(self) -> _F64:
        return _view(self._h, self._n)

    @property
    def low(self) -> _F64:
        return _view(self._l, self._n)

    @property
    def close(self) -> _F64:
        return _view(self._c, self._n)

    @property
    def volume(self) -> _F64:
        return _view(self._v, self._n)

    def last(self, n: int) -> _F64:
        """The last ``n`` closes (fewer while fewer bars have been delivered)."""
        return _view(self._c, self._n)[-n:] if n > 0 else _view(self._c, 0)

    # ----- what the runner writes -----------------------------------------------------------

    def append(self, bar: Bar) -> None:
        """Add ``bar`` (a :class:`~fillforge.broker.Bar`) as the newest row."""
        self.append_row(
            bar.timestamp_ns,
            float(bar.open),
            float(bar.high),
            float(bar.low),
            float(bar.close),
            float(bar.volume),
        )

    def append_row(
        self, time_ns: int, o: float, h: float, lo: float, c: float, volume: float
    ) -> None:
        """Add one row given as numbers (prices in price units)."""
        n = self._n
        if n == len(self._t):
            self._grow()
        self._t[n] = time_ns
        self._o[n] = o
        self._h[n] = h
        self._l[n] = lo
        self._c[n] = c
        self._v[n] = volume
        self._n = n + 1

    def _grow(self) -> None:
        cap = 2 * len(self._t)
        for name in ("_t", "_o", "_h", "_l", "_c", "_v"):
            old = getattr(self, name)
            new = np.zeros(cap, old.dtype)
            new[: len(old)] = old
            setattr(self, name, new)


def _view(a: npt.NDArray[_G], n: int) -> npt.NDArray[_G]:
    v = a[:n]
    v.flags.writeable = False
    return v
