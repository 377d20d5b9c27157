"""Alpaca's market-data API as a :class:`~fillforge.marketdata.source.MarketDataSource`, through
alpaca-py's ``StockHistoricalDataClient`` (``get_stock_bars``, ``get_stock_trades``,
``get_stock_quotes``, ``get_stock_latest_quote``), unmodified.

The client runs in its raw mode (``raw_data=True``): the JSON as Alpaca sends it, so that times
keep their nanoseconds (the client's models hold datetimes, to the microsecond) and prices their
printed digits. alpaca-py follows ``next_page_token`` itself. Alpaca reads ``start`` and ``end``
to the microsecond and both inclusive: the adapter asks for the microseconds around
``[start_ns, end_ns)`` and keeps exactly the rows in it. A bar without ``n`` or ``vw`` (a day bar
of a bars file on the local server) has ``trade_count`` 0 and ``vwap`` its close.

The client's own retries (three, three seconds apart) are off: 429, 5xx, timeouts and refused
connections are retried here (:func:`~fillforge.marketdata.source.with_retries`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any, Final, TypeVar

from fillforge._optional import needs_extra
from fillforge.broker import Bar, Quote, Trade
from fillforge.errors import MarketDataApiError, MarketDataError, TimeError
from fillforge.marketdata.source import ProviderSource, Timeframe, number
from fillforge.time import NS_PER_MICROSECOND, from_iso

__all__ = ["AlpacaMarketData"]

_T = TypeVar("_T")
_NAME: Final = "alpaca"
_RETRYABLE: Final = frozenset({429, 500, 502, 503, 504})
_DATA_URL: Final = "https://data.alpaca.markets"


class AlpacaMarketData(ProviderSource):
    """Alpaca's historical and latest stock data. ``base_url``: the data API's root (default
    Alpaca's; a local :class:`~fillforge.alpaca.AlpacaServer`'s ``base_url`` serves it too);
    ``feed``: ``iex``, ``sip``... (None: the account's default); ``attempts`` tries per call,
    backoff up to ``max_wait`` seconds; each HTTP request bounded by ``timeout`` seconds.
    The secret is never shown (``repr`` leaves it out)."""

    name = _NAME

    def __init__(
        self,
        key_id: str,
        secret_key: str,
        *,
        base_url: str | None = None,
        feed: str | None = None,
        attempts: int = 4,
        max_wait: float = 2.0,
        timeout: float = 30.0,
    ) -> None:
        with needs_extra(
            "alpaca", lambda why: MarketDataError(_NAME, None, "client", "alpaca-py", why)
        ):
            from alpaca.data.enums import DataFeed
            from alpaca.data.historical import StockHistoricalDataClient

        if not key_id or not secret_key:
            raise MarketDataApiError("api_key", None, "alpaca: a key id and a secret are needed")
        super().__init__(base_url or _DATA_URL, attempts=attempts, max_wait=max_wait)
        try:
            self._feed = None if feed is None else DataFeed(feed)
        except ValueError:
            why = f"expected one of {', '.join(f.value for f in DataFeed)}"
            raise MarketDataError(_NAME, None, "feed", feed, why) from None
        self.feed = feed
        client = StockHistoricalDataClient(key_id, secret_key, raw_data=True, url_override=base_url)
        client._retry = 0  # retried here, with backoff, instead of the client's fixed sleeps
        session = client._session
        plain = session.request
        session.request = lambda *a, **kw: plain(*a, **{"timeout": timeout, **kw})  # type: ignore[method-assign]
        self._client = client

    # ----- the source ---------------------------------------------------------------------

    def _bars(self, sym: str, tf: Timeframe, start_ns: int, end_ns: int) -> list[Bar]:
        from alpaca.data.requests import StockBarsRequest
        from alpaca.data.timeframe import TimeFrame

        frames = {
            Timeframe.MINUTE: TimeFrame.Minute,
            Timeframe.HOUR: TimeFrame.Hour,
            Timeframe.DAY: TimeFrame.Day,
        }
        request = StockBarsRequest(
            symbol_or_symbols=sym,
            timeframe=frames[tf],
            start=_floor(start_ns),
            end=_ceil(end_ns),
            feed=self._feed,
        )
        rows = self._rows(lambda: self._client.get_stock_bars(request), sym)
        return [_bar(sym, r, t, tf.period_ns) for r in rows if start_ns <= (t := _time(r)) < end_ns]

    def _trades(self, sym: str, start_ns: int, end_ns: int) -> list[Trade]:
        from alpaca.data.requests import StockTradesRequest

        request = StockTradesRequest(
            symbol_or_symbols=sym, start=_floor(start_ns), end=_ceil(end_ns), feed=self._feed
        )
        rows = self._rows(lambda: self._client.get_stock_trades(request), sym)
        return [
            Trade(
                symbol=sym,
                price=number(r.get("p"), "p", _NAME),
                size=number(r.get("s"), "s", _NAME),
                timestamp_ns=t,
            )
            for r in rows
            if start_ns <= (t := _time(r)) < end_ns
        ]

    def _quotes(self, sym: str, start_ns: int, end_ns: int) -> list[Quote]:
        from alpaca.data.requests import StockQuotesRequest

        request = StockQuotesRequest(
            symbol_or_symbols=sym, start=_floor(start_ns), end=_ceil(end_ns), feed=self._feed
        )
        rows = self._rows(lambda: self._client.get_stock_quotes(request), sym)
        return [_quote(sym, r, t) for r in rows if start_ns <= (t := _time(r)) < end_ns]

    def _latest_quote(self, sym: str) -> Quote:
        from alpaca.data.requests import StockLatestQuoteRequest

        request = StockLatestQuoteRequest(symbol_or_symbols=sym, feed=self._feed)
        got = self._call(lambda: self._client.get_stock_latest_quote(request), sym)
        row = got.get(sym) if isinstance(got, dict) else None
        if not isinstance(row, dict):
            why = "no latest quote: a symbol Alpaca does not know, or no two-sided book"
            raise MarketDataError(_NAME, None, "symbol", sym, why)
        return _quote(sym, row, _time(row))

    # ----- calls --------------------------------------------------------------------------

    def _rows(self, fn: Callable[[], Any], symbol: str) -> list[dict[str, Any]]:
        got = self._call(fn, symbol)
        rows = got.get(symbol, []) if isinstance(got, dict) else []
        return [r for r in rows if isinstance(r, dict)]

    def _call(self, fn: Callable[[], _T], symbol: str) -> _T:
        import requests
        from alpaca.common.exceptions import APIError

        def retryable(e: BaseException) -> bool:
            if isinstance(e, requests.ConnectionError | requests.Timeout):
                return True
            return isinstance(e, APIError) and (e.status_code or 0) in _RETRYABLE

        try:
            return self._retried(fn, retryable)
        except APIError as e:
            raise _typed(e, symbol) from None
        except (requests.ConnectionError, requests.Timeout) as e:
            why = f"alpaca: no answer after {self._attempts} tries ({type(e).__name__})"
            raise MarketDataApiError("base_url", self.base_url, why) from None


def _typed(e: Any, symbol: str) -> MarketDataError | MarketDataApiError:
    """alpaca-py's APIError as the fillforge error it stands for."""
    status = e.status_code
    try:
        message = str(e.message)
    except (ValueError, KeyError, TypeError):
        message = str(e)
    why = f"alpaca: {message}"
    if status in (401, 403):
        return MarketDataApiError("api_key", status, why)
    if status == 429:
        return MarketDataApiError("rate_limit", status, why)
    if status in (400, 404, 422) and "symbol" in message:
        return MarketDataError(_NAME, None, "symbol", symbol, message)
    return MarketDataApiError("status", status, why)


def _floor(ns: int) -> dt.datetime:
    """``ns``'s microsecond, as a naive UTC datetime (alpaca-py reads naive times as UTC)."""
    us = ns // NS_PER_MICROSECOND
    return dt.datetime(1970, 1, 1) + dt.timedelta(microseconds=us)


def _ceil(ns: int) -> dt.datetime:
    return _floor(ns + NS_PER_MICROSECOND - 1)


def _time(row: dict[str, Any]) -> int:
    try:
        return from_iso(row.get("t"), "t")  # type: ignore[arg-type]
    except TimeError:
        raise MarketDataError(_NAME, None, "t", row.get("t"), "not an RFC 3339 time") from None


def _bar(symbol: str, r: dict[str, Any], t: int, period_ns: int) -> Bar:
    close = number(r.get("c"), "c", _NAME)
    vwap = r.get("vw")
    return Bar(
        symbol=symbol,
        open=number(r.get("o"), "o", _NAME),
        high=number(r.get("h"), "h", _NAME),
        low=number(r.get("l"), "l", _NAME),
        close=close,
        volume=number(r.get("v"), "v", _NAME),
        trade_count=int(r.get("n") or 0),
        vwap=close if not vwap else number(vwap, "vw", _NAME),
        timestamp_ns=t,
        period_ns=period_ns,
    )


def _quote(symbol: str, r: dict[str, Any], t: int) -> Quote:
    """Alpaca's quote: a side it does not show is price 0 (None here) and size 0."""

    def n(key: str) -> Decimal:
        return number(r.get(key, 0), key, _NAME)

    return Quote.zero_is_empty(
        symbol,
        bid_price=n("bp"),
        bid_size=n("bs"),
        ask_price=n("ap"),
        ask_size=n("as"),
        timestamp_ns=t,
    )
