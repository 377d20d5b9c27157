"""State the Alpaca-compatible server keeps beside the simulated account, one job per class.

- :class:`AccountConfig`: ``/v2/account/configurations``, validated field by field.
- :class:`Watchlists`: ``/v2/watchlists``, named lists of known symbols.
- :class:`EquityHistory`: the account's equity over simulated time, for
  ``/v2/account/portfolio/history``, in bounded memory.

Nothing here touches HTTP; every refusal is an :class:`~fillforge.errors.OrderValidationError`
naming the field (the routes answer it as Alpaca's 422), or :class:`NotFoundError` (404).
"""

from __future__ import annotations

import re
import uuid
from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final

from fillforge.errors import NotFoundError, OrderValidationError

__all__ = [
    "MAX_WATCHLISTS",
    "MAX_WATCHLIST_NAME",
    "MULTIPLIER",
    "AccountConfig",
    "EquityHistory",
    "NotFoundError",
    "Watchlist",
    "Watchlists",
]

MAX_WATCHLISTS: Final = 1000
MULTIPLIER: Final = re.compile(r"^(?:[1-3](?:\.[0-9]+)?|4(?:\.0+)?)$")
"""What ``max_margin_multiplier`` may be: a plain number from 1 to 4."""
MAX_WATCHLIST_NAME: Final = 64


# ----- account configurations -------------------------------------------------------------------

_CHECKS: Final = ("both", "entry", "exit")
_EMAILS: Final = ("all", "none")
_BOOLS: Final = (
    "suspend_trade",
    "no_shorting",
    "fractional_trading",
    "ptp_no_exception_entry",
)


class AccountConfig:
    """Alpaca's account configurations (the fields of alpaca-py 0.44's ``AccountConfiguration``).

    :meth:`patch` checks every field of a PATCH body before it changes anything: an unknown field,
    a wrong type or a value outside Alpaca's set is an ``OrderValidationError`` naming the field.
    ``null`` leaves a nullable field (``dtbp_check``, ``pdt_check``, ``max_options_trading_level``)
    as it is, since alpaca-py sends its whole model, and is refused for the others.
    """

    def __init__(self, *, max_margin_multiplier: Decimal) -> None:
        self.dtbp_check: str | None = "entry"
        self.trade_confirm_email = "all"
        self.suspend_trade = False
        self.no_shorting = False
        self.fractional_trading = True
        # The account's own leverage, even outside 1-4 (a PATCH may send it back unchanged).
        self.max_margin_multiplier = max_margin_multiplier
        self.pdt_check: str | None = "entry"
        self.ptp_no_exception_entry = False
        self.max_options_trading_level: int | None = 0

    def json(self) -> dict[str, Any]:
        return {
            "dtbp_check": self.dtbp_check,
            "trade_confirm_email": self.trade_confirm_email,
            "suspend_trade": self.suspend_trade,
            "no_shorting": self.no_shorting,
            "fractional_trading": self.fractional_trading,
            "max_margin_multiplier": format(self.max_margin_multiplier.normalize(), "f"),
            "pdt_check": self.pdt_check,
            "ptp_no_exception_entry": self.ptp_no_exception_entry,
            "max_options_trading_level": self.max_options_trading_level,
        }

    def patch(self, body: dict[str, Any]) -> None:
        """Apply a PATCH body: all of it, or (on the first bad field) none of it."""
        changes: dict[str, Any] = {}
        for name, value in body.items():
            if name in _BOOLS:
                if not isinstance(value, bool):
                    raise OrderValidationError(name, value, "expected true or false")
                changes[name] = value
            elif name in ("dtbp_check", "pdt_check"):
                if value is not None:
                    changes[name] = _choice(name, value, _CHECKS)
            elif name == "trade_confirm_email":
                changes[name] = _choice(name, value, _EMAILS)
            elif name == "max_margin_multiplier":
                if not isinstance(value, str):
                    raise OrderValidationError(name, value, "expected a string, 1 to 4")
                if value != self.json()[name]:
                    changes[name] = _multiplier(value)
            elif name == "max_options_trading_level":
                if value is not None:
                    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 3:
                        raise OrderValidationError(name, value, "expected an integer, 0 to 3")
                    changes[name] = value
            else:
                raise OrderValidationError(name, value, "not an account configuration field")
        for name, value in changes.items():
            setattr(self, name, value)


def _choice(name: str, value: object, allowed: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise OrderValidationError(name, value, f"expected one of {', '.join(allowed)}")
    return value


def _multiplier(value: str) -> Decimal:
    if MULTIPLIER.fullmatch(value) is None:
        raise OrderValidationError("max_margin_multiplier", value, "expected a number, 1 to 4")
    return Decimal(value)


# ----- watchlists -------------------------------------------------------------------------------


@dataclass
class Watchlist:
    id: str
    name: str
    symbols: list[str]
    created_ns: int
    updated_ns: int


@dataclass
class Watchlists:
    """The account's watchlists, in creation order. ``known`` answers whether a symbol is an
    asset; ``clock`` is the simulated time (ns) stamped on changes. Names are unique, 1 to 64
    characters; a list holds each known symbol at most once; at most :data:`MAX_WATCHLISTS`."""

    known: Callable[[str], bool]
    clock: Callable[[], int]
    _lists: dict[str, Watchlist] = field(default_factory=dict)

    def all(self) -> list[Watchlist]:
        return list(self._lists.values())

    def get(self, watchlist_id: str) -> Watchlist:
        try:
            key = str(uuid.UUID(watchlist_id))
        except ValueError:
            raise OrderValidationError("watchlist_id", watchlist_id, "expected a UUID") from None
        w = self._lists.get(key)
        if w is None:
            raise NotFoundError("watchlist not found")
        return w

    def by_name(self, name: object) -> Watchlist:
        _name(name)
        for w in self._lists.values():
            if w.name == name:
                return w
        raise NotFoundError("watchlist not found")

    def create(self, name: object, symbols: object, watchlist_id: str | None = None) -> Watchlist:
        """A new list, its id ``watchlist_id`` (default: a fresh UUID)."""
        n = self._unique_name(name, None)
        syms = self._symbols(symbols)
        if len(self._lists) >= MAX_WATCHLISTS:
            raise OrderValidationError("name", name, f"at most {MAX_WATCHLISTS} watchlists")
        now = self.clock()
        w = Watchlist(watchlist_id or str(uuid.uuid4()), n, syms, now, now)
        self._lists[w.id] = w
        return w

    def update(self, w: Watchlist, name: object, symbols: object) -> Watchlist:
        """Rename and/or replace the symbols (``None``: keep); one of them must be given."""
        if name is None and symbols is None:
            raise OrderValidationError("name", None, "give a name, symbols or both")
        n = w.name if name is None else self._unique_name(name, w)
        syms = w.symbols if symbols is None else self._symbols(symbols)
        w.name, w.symbols, w.updated_ns = n, syms, self.clock()
        return w

    def add(self, w: Watchlist, symbol: object) -> Watchlist:
        s = self._symbol(symbol, "symbol")
        if s in w.symbols:
            raise OrderValidationError("symbol", symbol, "already in the watchlist")
        w.symbols.append(s)
        w.updated_ns = self.clock()
        return w

    def remove(self, w: Watchlist, symbol: str) -> Watchlist:
        if symbol not in w.symbols:
            raise NotFoundError(f"symbol {symbol} not in the watchlist")
        w.symbols.remove(symbol)
        w.updated_ns = self.clock()
        return w

    def delete(self, w: Watchlist) -> None:
        del self._lists[w.id]

    def _unique_name(self, name: object, keep: Watchlist | None) -> str:
        n = _name(name)
        for other in self._lists.values():
            if other.name == n and other is not keep:
                raise OrderValidationError("name", name, "a watchlist with this name exists")
        return n

    def _symbols(self, symbols: object) -> list[str]:
        if symbols is None:
            return []
        if not isinstance(symbols, list):
            raise OrderValidationError("symbols", symbols, "expected a list of symbols")
        out: list[str] = []
        for i, s in enumerate(symbols):
            sym = self._symbol(s, f"symbols.{i}")
            if sym in out:
                raise OrderValidationError(f"symbols.{i}", s, "listed twice")
            out.append(sym)
        return out

    def _symbol(self, s: object, where: str) -> str:
        if not isinstance(s, str) or not s:
            raise OrderValidationError(where, s, "expected a symbol")
        if not self.known(s):
            raise OrderValidationError(where, s, "not an asset this server trades")
        return s


def _name(name: object) -> str:
    if not isinstance(name, str) or not 1 <= len(name) <= MAX_WATCHLIST_NAME:
        raise OrderValidationError("name", name, f"expected 1 to {MAX_WATCHLIST_NAME} characters")
    return name


# ----- equity history ---------------------------------------------------------------------------


class EquityHistory:
    """The account's equity over simulated time, kept per ``resolution_ns`` (a minute).

    Equity moves with the account (a fill changes cash) and with the market (positions are
    marked at it), so the curve is sampled: the server records it at every fill and whenever the
    history is read, and it is taken as constant between records. Records in one minute share a
    slot (the last one stands), so a burst of fills costs one slot; at most ``max_points`` slots
    are kept, the oldest dropped first, and the history then starts at the oldest slot kept.
    """

    def __init__(
        self,
        start_ns: int,
        equity: Decimal,
        *,
        resolution_ns: int = 60 * 10**9,
        max_points: int = 100_000,
    ) -> None:
        if max_points < 2 or resolution_ns <= 0:
            raise ValueError("max_points >= 2 and resolution_ns > 0")
        self.resolution_ns = resolution_ns
        self.max_points = max_points
        self._slots: list[int] = []  # slot start times (ns), ascending
        self._equity: list[Decimal] = []  # equity at the end of each slot (so far)
        self._floor = equity  # the equity before the first slot kept
        self.record(start_ns, equity)

    def __len__(self) -> int:
        return len(self._slots)

    @property
    def start_ns(self) -> int:
        """Where the history starts: the first slot kept."""
        return self._slots[0]

    def record(self, ts_ns: int, equity: Decimal) -> None:
        """The equity at ``ts_ns`` (simulated time never goes back; an earlier time joins the
        latest slot)."""
        slot = ts_ns - ts_ns % self.resolution_ns
        if self._slots and slot <= self._slots[-1]:
            self._equity[-1] = equity
            return
        self._slots.append(slot)
        self._equity.append(equity)
        if len(self._slots) > self.max_points:
            drop = max(len(self._slots) - self.max_points, self.max_points // 10)
            self._floor = self._equity[drop - 1]
            del self._slots[:drop], self._equity[:drop]

    def before(self, t_ns: int) -> Decimal:
        """The equity just before ``t_ns``: at the end of the last slot that starts before it, or
        what it was before the first slot kept."""
        i = bisect_left(self._slots, t_ns) - 1
        return self._equity[i] if i >= 0 else self._floor
