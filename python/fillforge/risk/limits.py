"""Pre-trade limits on the order, the position, the day's counts and the session's P&L.

Each control is a small object with a machine-readable ``code`` and ``check(proposal, view)``
(:class:`~fillforge.risk.proposal.Control`), which returns or raises
:class:`~fillforge.errors.RiskDeniedError` (``field``, ``value``, ``why``, ``code``) and changes
nothing either way. :class:`~fillforge.risk.manager.RiskManager` runs them in order, first
refusal wins. Account-wide controls (:class:`DailyLossLimit`, :class:`MaxDrawdown`) also answer
``breach(view)`` so the manager can act on a breach between orders. The position limits only
judge orders that add risk (:attr:`~fillforge.risk.proposal.Proposal.adds_risk`), so an order
that shrinks a position over its limit always passes them. The conventions are in
:mod:`fillforge.risk.proposal` and ``docs/risk-manager.md``.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Final

from fillforge.errors import RiskDeniedError, RiskError
from fillforge.orders.enums import OrderType
from fillforge.portfolio._exact import CTX, ZERO
from fillforge.risk.proposal import Proposal, RiskView, count_of, limit_of, per_symbol_limits

__all__ = [
    "DailyLossLimit",
    "MaxDrawdown",
    "MaxOpenOrders",
    "MaxOrderNotional",
    "MaxOrderQty",
    "MaxOrdersPerDay",
    "MaxPosition",
    "MaxTradesPerDay",
    "PriceBand",
]

_sub, _mul, _div, _abs = CTX.subtract, CTX.multiply, CTX.divide, CTX.abs
_MARKET = OrderType.MARKET
_BPS: Final = Decimal(10_000)
_ONE: Final = Decimal(1)


def _deny(code: str, field: str, value: object, why: str) -> RiskDeniedError:
    return RiskDeniedError(field, value, why, code)


# ----- the order itself ---------------------------------------------------------------------


class _OrderLimit:
    """A limit on each order: ``limit`` for every symbol, ``per_symbol`` overriding it for some
    (no limit for a symbol neither names)."""

    def __init__(
        self,
        limit: Decimal | int | str | None = None,
        *,
        per_symbol: Mapping[str, object] | None = None,
    ) -> None:
        self.limit = None if limit is None else limit_of("limit", limit)
        self.per_symbol = per_symbol_limits("per_symbol", per_symbol)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.limit}, per_symbol={self.per_symbol})"


class MaxOrderQty(_OrderLimit):
    """An order's quantity at most ``limit`` (``per_symbol`` overrides it for some symbols)."""

    code = "max_order_qty"

    def check(self, p: Proposal, view: RiskView) -> None:
        lim = self.per_symbol.get(p.symbol, self.limit)
        if lim is not None and p.qty > lim:
            raise _deny(self.code, "qty", p.qty, f"{p.symbol}: over the order limit of {lim}")


class MaxOrderNotional(_OrderLimit):
    """An order's notional (qty x price) at most ``limit`` (``per_symbol`` overrides it). An
    order with no price to value it at (a market order in a market that shows none) is denied:
    its notional is unknown."""

    code = "max_order_notional"

    def check(self, p: Proposal, view: RiskView) -> None:
        lim = self.per_symbol.get(p.symbol, self.limit)
        if lim is None:
            return
        price = p.fixed_price
        if price is None:
            price = p.reference
        n = None if price is None else _mul(p.qty, price)
        if n is None:
            raise _deny(self.code, "price", None, f"{p.symbol}: no price to value the order at")
        if n > lim:
            raise _deny(self.code, "notional", n, f"{p.symbol}: over the order limit of {lim}")


class PriceBand:
    """Fat-finger check: the order's price within ``max_bps`` basis points of the reference
    price (last trade, else mid). A limit order is judged by its limit, a stop by its stop (a
    stop-limit by both), a market order by the price it would meet (ask for a buy, bid for a
    sell) when the quote shows one. No reference price: denied unless ``allow_no_reference``."""

    code = "price_band"

    def __init__(self, max_bps: Decimal | int | str, *, allow_no_reference: bool = False) -> None:
        self.max_bps = limit_of("max_bps", max_bps)
        self.allow_no_reference = bool(allow_no_reference)
        self._frac = _div(self.max_bps, _BPS)

    def check(self, p: Proposal, view: RiskView) -> None:
        ref = p.reference
        if ref is None:
            if self.allow_no_reference:
                return
            raise _deny(self.code, "reference", None, f"{p.symbol}: no reference price")
        r = p.request
        band = _mul(ref, self._frac)
        if r.type is _MARKET:
            touch = p.touch
            if touch is not None and _abs(_sub(touch, ref)) > band:
                raise self._outside("touch", touch, ref, p.symbol)
            return
        lp, sp = r.limit_price, r.stop_price
        if lp is not None and _abs(_sub(lp, ref)) > band:
            raise self._outside("limit_price", lp, ref, p.symbol)
        if sp is not None and _abs(_sub(sp, ref)) > band:
            raise self._outside("stop_price", sp, ref, p.symbol)

    def _outside(self, field: str, price: Decimal, ref: Decimal, symbol: str) -> RiskDeniedError:
        bps = _div(_mul(_abs(_sub(price, ref)), _BPS), ref).quantize(_ONE)
        why = f"{symbol}: {bps} bps from the reference {ref}, over {self.max_bps}"
        return _deny(self.code, field, price, why)

    def __repr__(self) -> str:
        return f"PriceBand({self.max_bps} bps)"


# ----- positions ----------------------------------------------------------------------------


class MaxPosition:
    """The worst-case position after the order (:attr:`Proposal.after`) within: ``qty``
    shares, ``notional`` (at the order's price) and ``pct`` of equity (a fraction), each
    optional; ``per_symbol`` maps a symbol to its own ``{"qty": ..., "notional": ...,
    "pct": ...}``, replacing the defaults for that symbol. Only orders that add risk are
    judged. Codes ``max_position_qty``, ``max_position_notional``, ``max_position_pct``."""

    code = "max_position"
    codes = ("max_position_qty", "max_position_notional", "max_position_pct")

    def __init__(
        self,
        *,
        qty: Decimal | int | str | None = None,
        notional: Decimal | int | str | None = None,
        pct: Decimal | int | str | None = None,
        per_symbol: Mapping[str, Mapping[str, object]] | None = None,
    ) -> None:
        self.default = _position_limits("", {"qty": qty, "notional": notional, "pct": pct})
        self.per_symbol: dict[str, tuple[Decimal | None, Decimal | None, Decimal | None]] = {}
        for sym, lims in (per_symbol or {}).items():
            if not isinstance(lims, Mapping) or set(lims) - {"qty", "notional", "pct"}:
                raise RiskError(f"per_symbol[{sym}]", lims, "a mapping of qty, notional, pct")
            self.per_symbol[sym] = _position_limits(f"per_symbol[{sym}].", lims)

    def check(self, p: Proposal, view: RiskView) -> None:
        qty_lim, notional_lim, pct_lim = self.per_symbol.get(p.symbol, self.default)
        if not p.adds_risk:
            return
        after = _abs(p.after)
        if qty_lim is not None and after > qty_lim:
            why = f"{p.symbol}: a position of {after} would pass the limit of {qty_lim}"
            raise _deny("max_position_qty", "qty", p.qty, why)
        if notional_lim is None and pct_lim is None:
            return
        price = p.price
        if price is None:
            raise _deny("max_position_notional", "price", None, f"{p.symbol}: no price")
        value = _mul(after, price)
        if notional_lim is not None and value > notional_lim:
            why = f"{p.symbol}: a position worth {value} would pass the limit of {notional_lim}"
            raise _deny("max_position_notional", "qty", p.qty, why)
        if pct_lim is not None:
            equity = view.equity
            if equity <= ZERO or value > _mul(equity, pct_lim):
                why = (
                    f"{p.symbol}: a position worth {value} would pass {pct_lim} of the equity "
                    f"{equity}"
                )
                raise _deny("max_position_pct", "qty", p.qty, why)

    def __repr__(self) -> str:
        return f"MaxPosition({self.default}, per_symbol={self.per_symbol})"


def _position_limits(
    prefix: str, lims: Mapping[str, object]
) -> tuple[Decimal | None, Decimal | None, Decimal | None]:
    q, n, pct = (lims.get(k) for k in ("qty", "notional", "pct"))
    return (
        None if q is None else limit_of(f"{prefix}qty", q),
        None if n is None else limit_of(f"{prefix}notional", n),
        None if pct is None else limit_of(f"{prefix}pct", pct),
    )


# ----- counts -------------------------------------------------------------------------------


class _CountLimit:
    """At most ``limit`` (a whole number) of something the account view counts."""

    def __init__(self, limit: int) -> None:
        self.limit = count_of("limit", limit)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.limit})"


class MaxOpenOrders(_CountLimit):
    """At most ``limit`` orders working at the broker (a new order that would be one more is
    denied; a replacement takes its order's place and is not)."""

    code = "max_open_orders"

    def check(self, p: Proposal, view: RiskView) -> None:
        if not p.is_replace and view.open_orders >= self.limit:
            why = f"{view.open_orders} orders are open, the limit is {self.limit}"
            raise _deny(self.code, "open_orders", view.open_orders, why)


class MaxOrdersPerDay(_CountLimit):
    """At most ``limit`` orders sent per session (counted as the gate sends them; a
    replacement is not a new order). The count restarts at the venue session's start."""

    code = "max_orders_per_day"
    daily = True

    def check(self, p: Proposal, view: RiskView) -> None:
        if not p.is_replace and view.orders_today >= self.limit:
            why = f"{view.orders_today} orders sent this session, the limit is {self.limit}"
            raise _deny(self.code, "orders_today", view.orders_today, why)


class MaxTradesPerDay(_CountLimit):
    """At most ``limit`` fills per session: once reached, a new order (which could fill) is
    denied. The count restarts at the venue session's start."""

    code = "max_trades_per_day"
    daily = True

    def check(self, p: Proposal, view: RiskView) -> None:
        if view.fills_today >= self.limit:
            why = f"{view.fills_today} fills this session, the limit is {self.limit}"
            raise _deny(self.code, "fills_today", view.fills_today, why)


# ----- profit and loss ----------------------------------------------------------------------


class _AccountLimit:
    """An account-wide limit: :meth:`breach` says whether the account is past it, and while it
    is, every order that does not reduce a position is denied. The answer changes only with the
    account read (the view's version) and the equity it is measured from (:meth:`_anchor`), so
    it is kept until either changes."""

    _seen: tuple[int, Decimal, RiskDeniedError | None] = (-1, ZERO, None)

    def _anchor(self, view: RiskView) -> Decimal:
        raise NotImplementedError

    def breach(self, view: RiskView) -> RiskDeniedError | None:
        raise NotImplementedError

    def check(self, p: Proposal, view: RiskView) -> None:
        version, anchor, e = self._seen
        now = self._anchor(view)
        if version != view.version or anchor != now:
            e = self.breach(view)
            self._seen = (view.version, now, e)
        if e is not None and not p.reduces:
            raise e


class DailyLossLimit(_AccountLimit):
    """The session's loss, ``start_equity - equity`` (realised and unrealised, net of fees),
    below ``amount`` and below ``pct`` of the start equity (each optional). At or past either,
    every order that does not reduce a position is denied (code ``daily_loss``)."""

    code = "daily_loss"
    daily = True

    def __init__(
        self, amount: Decimal | int | str | None = None, *, pct: Decimal | int | str | None = None
    ) -> None:
        if amount is None and pct is None:
            raise RiskError("amount", None, "give amount, pct or both")
        self.amount = None if amount is None else limit_of("amount", amount)
        self.pct = None if pct is None else limit_of("pct", pct)

    def _anchor(self, view: RiskView) -> Decimal:
        return view.start_equity

    def breach(self, view: RiskView) -> RiskDeniedError | None:
        loss = _sub(view.start_equity, view.equity)
        lim = self.amount
        if self.pct is not None:
            by_pct = _mul(view.start_equity, self.pct)
            lim = by_pct if lim is None else min(lim, by_pct)
        if lim is not None and loss >= lim:
            why = f"the session lost {loss} from {view.start_equity}, the limit is {lim}"
            return _deny(self.code, "loss", loss, why)
        return None

    def __repr__(self) -> str:
        return f"DailyLossLimit(amount={self.amount}, pct={self.pct})"


class MaxDrawdown(_AccountLimit):
    """Equity at most ``pct`` (a fraction) below its peak: ``(peak - equity) / peak``. At or past
    it, every order that does not reduce a position is denied (code ``max_drawdown``)."""

    code = "max_drawdown"

    def __init__(self, pct: Decimal | int | str) -> None:
        self.pct = limit_of("pct", pct)

    def _anchor(self, view: RiskView) -> Decimal:
        return view.peak_equity

    def breach(self, view: RiskView) -> RiskDeniedError | None:
        peak = view.peak_equity
        if peak <= ZERO:
            return None
        dd = _div(_sub(peak, view.equity), peak)
        if dd >= self.pct:
            why = f"equity {view.equity} is {dd:.4%} below its peak {peak}, the limit is {self.pct}"
            return _deny(self.code, "drawdown", dd, why)
        return None

    def __repr__(self) -> str:
        return f"MaxDrawdown({self.pct})"
