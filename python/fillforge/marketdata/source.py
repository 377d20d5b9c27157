"""A market-data provider behind one interface: historical bars, trades and quotes over
``[start_ns, end_ns)`` and the latest quote, whoever serves them.

:class:`MarketDataSource` is what strategy and research code asks; the adapters are
:class:`fillforge.marketdata.alpaca.AlpacaMarketData` (alpaca-py's historical data client) and
:class:`fillforge.marketdata.massive.MassiveMarketData` (the ``massive`` client, formerly
Polygon). Results are the broker interface's own models (:class:`~fillforge.broker.Bar`,
:class:`~fillforge.broker.Trade`, :class:`~fillforge.broker.Quote`): Decimal prices and sizes,
UTC nanosecond times, in time order. Each adapter follows its provider's pagination itself.

Bad input raises :class:`~fillforge.errors.MarketDataError` naming the field and value before any
request (a symbol that is not a ticker, a start after the end, a timeframe other than minute,
hour or day), or after the provider's answer (a symbol it does not know). A provider's refusal or
failure raises :class:`~fillforge.errors.MarketDataApiError`: 401/403 (``api_key``), 429 still
refused after the retries (``rate_limit``), 5xx after the retries (``status``). 429, 5xx and
connection failures are retried with exponential backoff and jitter (tenacity).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Final, Protocol, TypeVar, runtime_checkable

from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from fillforge._exact import to_decimal
from fillforge.broker import Bar, Quote, Trade
from fillforge.errors import MarketDataError
from fillforge.marketdata.columns import NS_PER_DAY, NS_PER_MINUTE

__all__ = [
    "MarketDataSource",
    "ProviderSource",
    "Timeframe",
    "check_count",
    "check_request",
    "check_symbol",
    "number",
    "with_retries",
]

_T = TypeVar("_T")
_TICKER: Final = re.compile(r"[A-Z][A-Z0-9.:/-]{0,20}").fullmatch


class Timeframe(StrEnum):
    """A bar length every source serves."""

    MINUTE = "minute"
    HOUR = "hour"
    DAY = "day"

    @property
    def period_ns(self) -> int:
        return _PERIODS[self]

    @classmethod
    def of(cls, source: str, value: object) -> Timeframe:
        """``value`` as a timeframe, or :class:`MarketDataError` naming it."""
        if isinstance(value, str) and value in cls._value2member_map_:
            return cls(value)
        raise MarketDataError(source, None, "timeframe", value, "expected one of minute, hour, day")


_PERIODS: Final = {
    Timeframe.MINUTE: NS_PER_MINUTE,
    Timeframe.HOUR: 60 * NS_PER_MINUTE,
    Timeframe.DAY: NS_PER_DAY,
}


@runtime_checkable
class MarketDataSource(Protocol):
    """Historical and latest market data of one provider. Windows are ``[start_ns, end_ns)`` in
    UTC nanoseconds; every row in it comes back, in time order, however many pages the provider
    answers in."""

    name: str

    def bars(
        self, symbol: str, timeframe: Timeframe | str, start_ns: int, end_ns: int
    ) -> list[Bar]:
        """``symbol``'s bars of ``timeframe`` whose open time is in the window."""
        ...

    def trades(self, symbol: str, start_ns: int, end_ns: int) -> list[Trade]:
        """``symbol``'s prints in the window."""
        ...

    def quotes(self, symbol: str, start_ns: int, end_ns: int) -> list[Quote]:
        """``symbol``'s best bid and offer changes in the window."""
        ...

    def latest_quote(self, symbol: str) -> Quote:
        """``symbol``'s latest best bid and offer (:class:`MarketDataError` when the provider
        has none)."""
        ...


class ProviderSource:
    """What a provider's adapter shares with the others: the checks of every request before it
    is sent (:func:`check_request`, :func:`check_symbol`, :meth:`Timeframe.of`), an empty
    window answered without asking, and the retries. The adapter gives ``name``, its
    ``base_url``, ``attempts`` and ``max_wait`` to ``__init__``, and the provider's side of each
    call: ``_bars``, ``_trades``, ``_quotes`` (a non-empty window, a checked
    symbol) and ``_latest_quote``; each sends its requests through :meth:`_retried`."""

    name: str
    base_url: str

    def __init__(self, base_url: str, *, attempts: int, max_wait: float) -> None:
        """``attempts`` tries per call (1 to 100), backoff up to ``max_wait`` seconds
        (:meth:`_retried`)."""
        self.base_url = base_url
        self._attempts = check_count(self.name, "attempts", attempts, 100)
        self._max_wait = max_wait

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.base_url})"

    def bars(
        self, symbol: str, timeframe: Timeframe | str, start_ns: int, end_ns: int
    ) -> list[Bar]:
        tf = Timeframe.of(self.name, timeframe)
        sym = check_request(self.name, symbol, start_ns, end_ns)
        return [] if start_ns == end_ns else self._bars(sym, tf, start_ns, end_ns)

    def trades(self, symbol: str, start_ns: int, end_ns: int) -> list[Trade]:
        sym = check_request(self.name, symbol, start_ns, end_ns)
        return [] if start_ns == end_ns else self._trades(sym, start_ns, end_ns)

    def quotes(self, symbol: str, start_ns: int, end_ns: int) -> list[Quote]:
        sym = check_request(self.name, symbol, start_ns, end_ns)
        return [] if start_ns == end_ns else self._quotes(sym, start_ns, end_ns)

    def latest_quote(self, symbol: str) -> Quote:
        return self._latest_quote(check_symbol(self.name, symbol))

    def _bars(self, symbol: str, tf: Timeframe, start_ns: int, end_ns: int) -> list[Bar]:
        raise NotImplementedError

    def _trades(self, symbol: str, start_ns: int, end_ns: int) -> list[Trade]:
        raise NotImplementedError

    def _quotes(self, symbol: str, start_ns: int, end_ns: int) -> list[Quote]:
        raise NotImplementedError

    def _latest_quote(self, symbol: str) -> Quote:
        raise NotImplementedError

    def _retried(self, call: Callable[[], _T], retryable: Callable[[BaseException], bool]) -> _T:
        """``call()`` under :func:`with_retries` with this source's attempts and backoff."""
        return with_retries(call, retryable, attempts=self._attempts, max_wait=self._max_wait)


def check_symbol(source: str, symbol: object) -> str:
    """``symbol`` if it reads as a ticker (upper case, e.g. ``GOOG``, ``BRK.B``)."""
    if not isinstance(symbol, str) or _TICKER(symbol) is None:
        why = "expected a ticker in upper case, e.g. GOOG or BRK.B"
        raise MarketDataError(source, None, "symbol", symbol, why)
    return symbol


def check_count(source: str, field: str, value: object, most: int) -> int:
    """``value`` if it is an integer from 1 to ``most`` (a number of tries, rows a page...)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= most:
        raise MarketDataError(source, None, field, value, f"expected 1 to {most}")
    return value


def check_request(source: str, symbol: object, start_ns: object, end_ns: object) -> str:
    """The symbol, once the window checks: integer ns times, start not after end."""
    for field, value in (("start_ns", start_ns), ("end_ns", end_ns)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise MarketDataError(source, None, field, value, "expected integer UTC nanoseconds")
    if start_ns > end_ns:  # type: ignore[operator]  # both ints, checked above
        raise MarketDataError(source, None, "start_ns", start_ns, f"after end_ns={end_ns}")
    return check_symbol(source, symbol)


def number(value: object, field: str, source: str) -> Decimal:
    """A JSON number as the Decimal it prints as (``579.4`` -> ``Decimal('579.4')``)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise MarketDataError(source, None, field, value, "expected a number")
    try:
        d = to_decimal(value)
    except InvalidOperation:  # text that is no number
        raise MarketDataError(source, None, field, value, "expected a number") from None
    if not d.is_finite():
        raise MarketDataError(source, None, field, value, "expected a finite number")
    return d


def with_retries(
    call: Callable[[], _T],
    retryable: Callable[[BaseException], bool],
    *,
    attempts: int,
    max_wait: float,
) -> _T:
    """``call()``, tried up to ``attempts`` times while it raises what ``retryable`` accepts,
    waiting an exponential backoff with jitter (50 ms doubling, at most ``max_wait`` seconds);
    the last error is raised as it was."""
    for attempt in Retrying(
        retry=retry_if_exception(retryable),
        wait=wait_exponential_jitter(multiplier=0.05, max=max_wait, jitter=0.05),
        stop=stop_after_attempt(attempts),
        reraise=True,
    ):
        with attempt:
            return call()
    raise AssertionError("unreachable")  # Retrying re-raises the last error
