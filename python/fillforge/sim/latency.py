"""Deterministic latency: how long an order, a cancel and a market-data update take to arrive.

A :class:`Delay` is a distribution over integer nanoseconds; a :class:`LatencyModel` gives one to
each path plus a seed; :meth:`LatencyModel.sampler` draws from them reproducibly. Each path has
its own random stream, so drawing more cancel delays never shifts the entry delays.
"""

from __future__ import annotations

from typing import Annotated, Any, Final, Literal, Self

import numpy as np
from numpy.random import PCG64, Generator, SeedSequence
from pydantic import (
    Field,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    field_validator,
    model_validator,
)

from fillforge.errors import OrderValidationError
from fillforge.orders.models import FrozenModel

__all__ = ["MAX_DELAY_NS", "Delay", "DelayKind", "LatencyModel", "LatencySampler"]

MAX_DELAY_NS: Final = 10**15
"""Every parameter and every sample is at most this (about 11.6 days): far past any latency,
well inside int64 for the core's clocks."""

DelayKind = Literal["fixed", "uniform", "normal", "lognormal", "exponential"]
_Ns = Annotated[int, Field(ge=0, le=MAX_DELAY_NS)]

# The parameters each kind takes (all required, except that a fixed delay's ``ns`` defaults to 0).
_PARAMS: Final[dict[str, tuple[str, ...]]] = {
    "fixed": ("ns",),
    "uniform": ("low", "high"),
    "normal": ("mean", "std"),
    "lognormal": ("median_ns", "sigma"),
    "exponential": ("mean",),
}
_ALL_PARAMS: Final = ("ns", "low", "high", "mean", "std", "median_ns", "sigma")
_BLOCK: Final = 512  # samples drawn per numpy call; one scalar call costs as much as a block


class Delay(FrozenModel):
    """A latency distribution in integer nanoseconds; every sample is rounded to the nearest
    nanosecond and clipped to ``[floor_ns, MAX_DELAY_NS]``.

    - ``fixed``: always ``ns`` (default 0).
    - ``uniform``: an integer in ``[low, high]``, both ends included.
    - ``normal``: mean ``mean``, standard deviation ``std`` (the clip at ``floor_ns`` keeps it
      non-negative).
    - ``lognormal``: ``median_ns * exp(sigma * z)`` with ``z`` standard normal.
    - ``exponential``: mean ``mean``.

    Parameters of other kinds must be left unset. The classmethods build each kind.
    """

    kind: DelayKind = "fixed"
    ns: _Ns | None = None
    low: _Ns | None = None
    high: _Ns | None = None
    mean: _Ns | None = None
    std: _Ns | None = None
    median_ns: Annotated[int, Field(gt=0, le=MAX_DELAY_NS)] | None = None
    sigma: Annotated[float, Field(ge=0, le=10, allow_inf_nan=False)] | None = None
    floor_ns: _Ns = 0

    @model_validator(mode="after")
    def _shape(self) -> Self:
        wanted = _PARAMS[self.kind]
        for name in _ALL_PARAMS:
            value = getattr(self, name)
            if name not in wanted and value is not None:
                raise OrderValidationError(name, value, f"not a parameter of a {self.kind} delay")
            if name in wanted and value is None and name != "ns":
                raise OrderValidationError(name, None, f"a {self.kind} delay needs {name}")
        if self.low is not None and self.high is not None and self.low > self.high:
            raise OrderValidationError("low", self.low, f"must be <= high ({self.high})")
        return self

    @classmethod
    def fixed(cls, ns: int) -> Delay:
        return cls(kind="fixed", ns=ns)

    @classmethod
    def uniform(cls, low: int, high: int) -> Delay:
        return cls(kind="uniform", low=low, high=high)

    @classmethod
    def normal(cls, mean: int, std: int, floor_ns: int = 0) -> Delay:
        return cls(kind="normal", mean=mean, std=std, floor_ns=floor_ns)

    @classmethod
    def lognormal(cls, median_ns: int, sigma: float) -> Delay:
        return cls(kind="lognormal", median_ns=median_ns, sigma=sigma)

    @classmethod
    def exponential(cls, mean: int) -> Delay:
        return cls(kind="exponential", mean=mean)

    @property
    def constant(self) -> int | None:
        """The one value a fixed delay takes; None for the random kinds."""
        return max(self.ns or 0, self.floor_ns) if self.kind == "fixed" else None

    def draw(self, gen: Generator, n: int) -> list[int]:
        """``n`` samples from ``gen``."""
        c = self.constant
        if c is not None:
            return [c] * n
        x: np.ndarray
        if self.kind == "uniform":
            x = gen.integers(self.low or 0, self.high or 0, size=n, endpoint=True)
        elif self.kind == "normal":
            x = gen.normal(self.mean or 0, self.std or 0, size=n)
        elif self.kind == "lognormal":
            x = (self.median_ns or 0) * np.exp((self.sigma or 0.0) * gen.standard_normal(n))
        else:
            x = gen.exponential(self.mean or 0, size=n)
        out: list[int] = np.clip(np.rint(x), self.floor_ns, MAX_DELAY_NS).astype(np.int64).tolist()
        return out


class LatencyModel(FrozenModel):
    """Delays for order entry, cancels and market data, and the seed that makes them repeatable."""

    entry: Delay = Delay()
    cancel: Delay = Delay()
    market_data: Delay = Delay()
    seed: Annotated[int, Field(ge=0)] = 0

    @field_validator("entry", "cancel", "market_data", mode="wrap")
    @classmethod
    def _path(cls, value: Any, handler: ValidatorFunctionWrapHandler, info: ValidationInfo) -> Any:
        # Delay's own checks raise directly, without pydantic's location: prefix the path.
        try:
            return handler(value)
        except OrderValidationError as e:
            raise OrderValidationError(f"{info.field_name}.{e.field}", e.value, e.why) from None

    @classmethod
    def zero(cls) -> LatencyModel:
        """No latency anywhere."""
        return _ZERO

    def sampler(self) -> LatencySampler:
        """A fresh sampler: the same model always yields the same sequences."""
        return LatencySampler(self)


class LatencySampler:
    """Draws a model's delays. Entry, cancel and market data each have a PCG64 stream spawned
    from ``SeedSequence(seed)``, so how often one path is sampled never changes another's values.
    """

    __slots__ = ("_cancel", "_entry", "_market_data", "_to_cancel", "_to_entry", "model")

    def __init__(self, model: LatencyModel) -> None:
        self.model = model
        seqs = SeedSequence(model.seed).spawn(3)
        self._entry = _Stream(model.entry, seqs[0])
        self._cancel = _Stream(model.cancel, seqs[1])
        self._market_data = _Stream(model.market_data, seqs[2])
        # The sums of two constant paths, computed once (None when either one is random).
        md, entry, cancel = self._market_data._const, self._entry._const, self._cancel._const
        self._to_entry = None if md is None or entry is None else md + entry
        self._to_cancel = None if md is None or cancel is None else md + cancel

    def order_delay(self) -> int:
        """Nanoseconds from the strategy seeing the market to its new order reaching the venue:
        market data, then entry (one draw of each)."""
        const = self._to_entry
        return const if const is not None else self._market_data.next() + self._entry.next()

    def cancel_delay(self) -> int:
        """The same for a cancel or replace: market data, then the cancel path."""
        const = self._to_cancel
        return const if const is not None else self._market_data.next() + self._cancel.next()

    def entry(self) -> int:
        """Nanoseconds from sending an order (or replace) to the venue receiving it."""
        return self._entry.next()

    def cancel(self) -> int:
        """Nanoseconds from sending a cancel to the venue receiving it."""
        return self._cancel.next()

    def market_data(self) -> int:
        """Nanoseconds from a venue event to the strategy seeing it."""
        return self._market_data.next()


class _Stream:
    """One path's delays, drawn a block at a time and handed out in order."""

    __slots__ = ("_buf", "_const", "_delay", "_gen")

    def __init__(self, delay: Delay, seq: SeedSequence) -> None:
        self._delay = delay
        self._const = delay.constant
        self._gen = Generator(PCG64(seq))
        self._buf: list[int] = []

    def next(self) -> int:
        if self._const is not None:
            return self._const
        if not self._buf:
            self._buf = self._delay.draw(self._gen, _BLOCK)
            self._buf.reverse()  # pop() from the end hands them out in drawn order
        return self._buf.pop()


_ZERO = LatencyModel()
