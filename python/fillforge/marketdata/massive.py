"""Massive's (formerly Polygon's) stock data as a
:class:`~fillforge.marketdata.source.MarketDataSource`, through the unmodified ``massive`` client
(``list_aggs``, ``list_trades``, ``list_quotes``, ``get_last_quote``) with its base URL
overridable (``pip install 'fillforge[massive]'``).

The client follows ``next_url`` itself; ``page_size`` is the ``limit`` each page asks for.
Aggregates are asked for by millisecond bounds (Massive's: both inclusive) around
``[start_ns, end_ns)``, trades and quotes by ``timestamp.gte``/``timestamp.lt`` in nanoseconds,
ascending; only the rows in the window are kept. An aggregate without ``vw`` or ``n`` (a day bar
of a bars file on the local server) has ``vwap`` its close and ``trade_count`` 0.

The client's own retries are off (urllib3 ``Retry(total=0)``: a 429 or 5xx raises at once, with
its status): 429, 5xx and connection failures are retried here
(:func:`~fillforge.marketdata.source.with_retries`), from the first page. The client reports
other refusals by their body only: ``Unknown API Key`` / ``API Key was not provided`` (401) and
``NOT_AUTHORIZED`` become ``api_key`` errors, ``NOT_FOUND`` an unknown symbol.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from typing import Any, Final, TypeVar

from fillforge._optional import needs_extra
from fillforge.broker import Bar, Quote, Trade
from fillforge.errors import MarketDataApiError, MarketDataError
from fillforge.marketdata.source import ProviderSource, Timeframe, check_count, number

__all__ = ["MassiveMarketData"]

_T = TypeVar("_T")
_NAME: Final = "massive"
_NS_PER_MS: Final = 1_000_000
_RETRYABLE: Final = (429, 500, 502, 503, 504)
_STATUS: Final = re.compile(r"too many (\d{3}) error responses")


class MassiveMarketData(ProviderSource):
    """Massive's historical and latest stock data. ``base_url``: the API's root (default
    Massive's; a local :class:`~fillforge.massive.server.MassiveServer`'s ``base_url`` serves
    it too); ``page_size`` rows per page (at most 50,000); ``attempts`` tries per call, backoff
    up to ``max_wait`` seconds; ``timeout`` seconds to connect and to read. The key is never
    shown (``repr`` leaves it out)."""

    name = _NAME

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str | None = None,
        page_size: int = 50_000,
        attempts: int = 4,
        max_wait: float = 2.0,
        timeout: float = 30.0,
    ) -> None:
        with needs_extra(
            "massive", lambda why: MarketDataError(_NAME, None, "client", "massive", why)
        ):
            from massive import RESTClient  # type: ignore[import-untyped]
        from urllib3.util.retry import Retry

        if not api_key:
            raise MarketDataApiError("api_key", None, "massive: an API key is needed")
        self.page_size = check_count(_NAME, "page_size", page_size, 50_000)
        base = (base_url or "https://api.massive.com").rstrip("/")
        super().__init__(base, attempts=attempts, max_wait=max_wait)
        no_retries = Retry(total=0, status_forcelist=_RETRYABLE, raise_on_status=True)
        self._client = RESTClient(
            api_key=api_key,
            base=self.base_url,
            connect_timeout=timeout,
            read_timeout=timeout,
            retries=0,
            connection_pool_kw={"retries": no_retries},
        )

    # ----- the source ---------------------------------------------------------------------

    def _bars(self, sym: str, tf: Timeframe, start_ns: int, end_ns: int) -> list[Bar]:
        first_ms = -(-start_ns // _NS_PER_MS)
        last_ms = -(-end_ns // _NS_PER_MS) - 1
        if last_ms < first_ms:
            return []
        aggs = self._all(
            lambda: self._client.list_aggs(
                sym, 1, tf.value, first_ms, last_ms, sort="asc", limit=self.page_size
            ),
            sym,
        )
        out = []
        for a in aggs:
            t = _int(a.timestamp, "t") * _NS_PER_MS
            if start_ns <= t < end_ns:
                close = number(a.close, "c", _NAME)
                out.append(
                    Bar(
                        symbol=sym,
                        open=number(a.open, "o", _NAME),
                        high=number(a.high, "h", _NAME),
                        low=number(a.low, "l", _NAME),
                        close=close,
                        volume=number(a.volume, "v", _NAME),
                        trade_count=int(a.transactions or 0),
                        vwap=close if not a.vwap else number(a.vwap, "vw", _NAME),
                        timestamp_ns=t,
                        period_ns=tf.period_ns,
                    )
                )
        return out

    def _ticks(self, list_fn: Any, sym: str, start_ns: int, end_ns: int) -> list[Any]:
        """Every row ``list_fn`` (the client's ``list_trades`` or ``list_quotes``) pages
        through for [start_ns, end_ns), oldest first."""
        return self._all(
            lambda: list_fn(
                sym,
                timestamp_gte=start_ns,
                timestamp_lt=end_ns,
                order="asc",
                sort="timestamp",
                limit=self.page_size,
            ),
            sym,
        )

    def _trades(self, sym: str, start_ns: int, end_ns: int) -> list[Trade]:
        rows = self._ticks(self._client.list_trades, sym, start_ns, end_ns)
        return [
            Trade(
                symbol=sym,
                price=number(r.price, "price", _NAME),
                size=number(r.size, "size", _NAME),
                timestamp_ns=t,
            )
            for r in rows
            if start_ns <= (t := _int(r.sip_timestamp, "sip_timestamp")) < end_ns
        ]

    def _quotes(self, sym: str, start_ns: int, end_ns: int) -> list[Quote]:
        rows = self._ticks(self._client.list_quotes, sym, start_ns, end_ns)
        return [
            _quote(sym, r.bid_price, r.bid_size, r.ask_price, r.ask_size, t)
            for r in rows
            if start_ns <= (t := _int(r.sip_timestamp, "sip_timestamp")) < end_ns
        ]

    def _latest_quote(self, sym: str) -> Quote:
        q = self._call(lambda: self._client.get_last_quote(sym), sym)
        if not getattr(q, "sip_timestamp", None):
            raise MarketDataError(_NAME, None, "symbol", sym, "no last quote")
        t = _int(q.sip_timestamp, "t")
        return _quote(sym, q.bid_price, q.bid_size, q.ask_price, q.ask_size, t)

    # ----- calls --------------------------------------------------------------------------

    def _all(self, pages: Callable[[], Iterable[_T]], symbol: str) -> list[_T]:
        """Every row of a listing (all its pages), the whole listing retried on a failure."""
        return self._call(lambda: list(pages()), symbol)

    def _call(self, fn: Callable[[], _T], symbol: str) -> _T:
        from massive.exceptions import BadResponse  # type: ignore[import-untyped]
        from urllib3.exceptions import HTTPError, MaxRetryError

        def retryable(e: BaseException) -> bool:
            if isinstance(e, MaxRetryError):
                status = _status(e)
                return status is None or status in _RETRYABLE
            return isinstance(e, HTTPError)

        try:
            return self._retried(fn, retryable)
        except BadResponse as e:
            raise _refused(str(e), symbol) from None
        except MaxRetryError as e:
            status = _status(e)
            if status is None:
                why = f"massive: no answer after {self._attempts} tries ({e.reason!r})"
                raise MarketDataApiError("base_url", self.base_url, why) from None
            field = "rate_limit" if status == 429 else "status"
            why = f"massive: {status} after {self._attempts} tries"
            raise MarketDataApiError(field, status, why) from None
        except HTTPError as e:
            why = f"massive: no answer after {self._attempts} tries ({type(e).__name__})"
            raise MarketDataApiError("base_url", self.base_url, why) from None


def _status(e: Any) -> int | None:
    """The HTTP status a urllib3 ``MaxRetryError`` gave up on (None: no answer at all)."""
    m = _STATUS.search(str(e.reason))
    return int(m.group(1)) if m else None


def _refused(body: str, symbol: str) -> MarketDataError | MarketDataApiError:
    """A refusal the client raised as ``BadResponse(body)``, by Massive's error body."""
    try:
        parsed = json.loads(body)
    except ValueError:
        parsed = None
    if not isinstance(parsed, dict):
        return MarketDataApiError("status", None, f"massive: {body[:200]}")
    status = str(parsed.get("status", ""))
    message = str(parsed.get("error") or parsed.get("message") or body[:200])
    if status == "NOT_AUTHORIZED" or "api key" in message.lower():
        return MarketDataApiError("api_key", 403 if status == "NOT_AUTHORIZED" else 401, message)
    if status == "NOT_FOUND":
        return MarketDataError(_NAME, None, "symbol", symbol, message)
    return MarketDataApiError("status", status, f"massive: {message}")


def _int(value: object, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise MarketDataError(_NAME, None, field, value, "expected an integer timestamp")
    return value


def _quote(symbol: str, bid: Any, bid_size: Any, ask: Any, ask_size: Any, t: int) -> Quote:
    """A side Massive does not show (price 0 or absent) has no price and size 0."""
    return Quote.zero_is_empty(
        symbol,
        bid_price=number(bid or 0, "bid_price", _NAME),
        bid_size=number(bid_size or 0, "bid_size", _NAME),
        ask_price=number(ask or 0, "ask_price", _NAME),
        ask_size=number(ask_size or 0, "ask_size", _NAME),
        timestamp_ns=t,
    )
