"""Portfolio-wide exposure controls: sector, gross, net, correlation-weighted, and VaR.

Each measures the portfolio as it would be if the order filled: the order's symbol valued at
``after * price`` (:attr:`~fillforge.risk.limits.Proposal.after`, the order's price), every other
symbol at its market value (:class:`~fillforge.risk.limits.RiskView`). Each denies only an order
that makes its measure worse, so an order that brings the portfolio back under a limit passes.
Limits on exposure are multiples of equity (``Decimal(2)``: twice the equity); a non-positive
equity denies every order that adds exposure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal

import numpy as np

from fillforge._exact import to_decimal
from fillforge.errors import MetricsError, RiskDeniedError, RiskError
from fillforge.portfolio._exact import CTX, ZERO
from fillforge.portfolio.var import VarMethod, VarModel
from fillforge.risk.proposal import Proposal, RiskView, limit_of

__all__ = [
    "CorrelationExposure",
    "GrossExposure",
    "NetExposure",
    "PortfolioVaR",
    "SectorExposure",
    "value_after",
]

_add, _sub, _mul, _abs = CTX.add, CTX.subtract, CTX.multiply, CTX.abs


def value_after(p: Proposal, view: RiskView, code: str) -> tuple[Decimal, Decimal]:
    """The order's symbol's market value now and if the order (and the open orders on its
    side) filled, valued at the order's price. No price: denied with ``code``."""
    price = p.price
    if price is None:
        raise RiskDeniedError("price", None, f"{p.symbol}: no price to value the order at", code)
    return view.value.get(p.symbol, ZERO), _mul(p.after, price)


def _over(
    code: str, field: str, measure: Decimal, limit: Decimal, view: RiskView, what: str
) -> RiskDeniedError:
    why = f"{what} {measure} would pass {limit} x the equity {view.equity}"
    return RiskDeniedError(field, measure, why, code)


class GrossExposure:
    """``sum |market value|`` after the order at most ``max_multiple`` x equity."""

    code = "gross_exposure"

    def __init__(self, max_multiple: Decimal | int | str) -> None:
        self.max_multiple = limit_of("max_multiple", max_multiple)

    def check(self, p: Proposal, view: RiskView) -> None:
        if not p.adds_risk:
            return
        old, new = value_after(p, view, self.code)
        gross = _add(_sub(view.gross, _abs(old)), _abs(new))
        if gross > _mul(view.equity, self.max_multiple) or view.equity <= ZERO:
            raise _over(self.code, "gross", gross, self.max_multiple, view, "gross exposure")

    def __repr__(self) -> str:
        return f"GrossExposure({self.max_multiple})"


class NetExposure:
    """``|sum market value|`` (longs less shorts) after the order at most ``max_multiple`` x
    equity; an order that moves the net toward zero always passes."""

    code = "net_exposure"

    def __init__(self, max_multiple: Decimal | int | str) -> None:
        self.max_multiple = limit_of("max_multiple", max_multiple)

    def check(self, p: Proposal, view: RiskView) -> None:
        old, new = value_after(p, view, self.code)
        net = _abs(_add(_sub(view.net, old), new))
        if net <= _abs(view.net):
            return
        if net > _mul(view.equity, self.max_multiple) or view.equity <= ZERO:
            raise _over(self.code, "net", net, self.max_multiple, view, "net exposure")

    def __repr__(self) -> str:
        return f"NetExposure({self.max_multiple})"


class SectorExposure:
    """The gross exposure of the order's sector (``sectors``: symbol -> sector name) after the
    order at most ``limits[sector]`` (else ``default``) x equity. A symbol the map does not name
    is in the sector ``unmapped`` (None: such orders are not judged)."""

    code = "sector_exposure"

    def __init__(
        self,
        sectors: Mapping[str, str],
        limits: Mapping[str, Decimal | int | str] | None = None,
        *,
        default: Decimal | int | str | None = None,
        unmapped: str | None = None,
    ) -> None:
        if not isinstance(sectors, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) and k and v for k, v in sectors.items()
        ):
            raise RiskError("sectors", sectors, "must map symbol to a sector name")
        self.sectors = dict(sectors)
        self.limits = {s: limit_of(f"limits[{s}]", v) for s, v in (limits or {}).items()}
        unknown = sorted(set(self.limits) - set(self.sectors.values()) - {unmapped})
        if unknown:
            raise RiskError("limits", unknown, "no symbol of the sector map is in these sectors")
        self.default = None if default is None else limit_of("default", default)
        self.unmapped = unmapped

    def sector(self, symbol: str) -> str | None:
        return self.sectors.get(symbol, self.unmapped)

    def check(self, p: Proposal, view: RiskView) -> None:
        sector = self.sector(p.symbol)
        if sector is None or not p.adds_risk:
            return
        limit = self.limits.get(sector, self.default)
        if limit is None:
            return
        new = value_after(p, view, self.code)[1]
        total = _abs(new)
        for sym, v in view.value.items():
            if sym != p.symbol and self.sector(sym) == sector:
                total = _add(total, _abs(v))
        if total > _mul(view.equity, limit) or view.equity <= ZERO:
            raise _over(self.code, "sector", total, limit, view, f"sector {sector!r} exposure")

    def __repr__(self) -> str:
        return f"SectorExposure({len(self.sectors)} symbols, {self.limits}, default={self.default})"


def _aligned(returns: Mapping[str, Sequence[float | Decimal]], field: str) -> np.ndarray:
    try:
        cols = [np.asarray([float(x) for x in returns[s]], dtype=float) for s in returns]
    except (TypeError, ValueError) as e:
        raise RiskError(field, "returns", f"must be numbers: {e}") from None
    n = {c.size for c in cols}
    if len(n) > 1 or (cols and cols[0].size < 2):
        raise RiskError(field, sorted(n), "every series needs the same length, at least 2")
    if cols and not all(np.isfinite(c).all() for c in cols):
        raise RiskError(field, "returns", "must be finite (no NaN, no inf)")
    return np.column_stack(cols) if cols else np.empty((0, 0))


class CorrelationExposure:
    """Correlation-weighted exposure to the order's symbol ``s``: ``|sum_j rho(s, j) * v_j|``
    over every symbol ``j`` (``v_j`` its market value after the order, ``rho`` the correlation of
    daily ``returns``, aligned by day) at most ``max_multiple`` x equity. It counts what the
    portfolio already holds that moves with ``s``: two correlated longs add up, a correlated
    short offsets. A symbol without returns is uncorrelated with the others (``rho(s, s) = 1``).
    The weights are estimates (floats); the comparison is in floats."""

    code = "correlation_exposure"

    def __init__(
        self, returns: Mapping[str, Sequence[float | Decimal]], max_multiple: Decimal | int | str
    ) -> None:
        if not isinstance(returns, Mapping):
            raise RiskError("returns", type(returns).__name__, "must map symbol to returns")
        self.max_multiple = limit_of("max_multiple", max_multiple)
        m = _aligned(returns, "returns")
        self.symbols = tuple(returns)
        with np.errstate(invalid="ignore", divide="ignore"):
            rho = np.corrcoef(m, rowvar=False) if m.size else np.empty((0, 0))
        rho = np.nan_to_num(np.atleast_2d(rho))  # a constant series: uncorrelated
        self._rho: dict[str, dict[str, float]] = {
            s: {t: float(rho[i, j]) for j, t in enumerate(self.symbols)}
            for i, s in enumerate(self.symbols)
        }
        for s in self.symbols:
            self._rho[s][s] = 1.0

    def correlation(self, a: str, b: str) -> float:
        if a == b:
            return 1.0
        return self._rho.get(a, {}).get(b, 0.0)

    def measure(self, symbol: str, values: Mapping[str, Decimal]) -> float:
        row = self._rho.get(symbol, {symbol: 1.0})
        return abs(sum(row.get(s, 0.0) * float(v) for s, v in values.items()))

    def check(self, p: Proposal, view: RiskView) -> None:
        new = value_after(p, view, self.code)[1]
        after = {**view.value, p.symbol: new}
        m_after = self.measure(p.symbol, after)
        if m_after <= self.measure(p.symbol, view.value):
            return
        limit = float(view.equity * self.max_multiple)
        if m_after > limit or view.equity <= ZERO:
            measure = to_decimal(round(m_after, 2))
            raise _over(
                self.code, "correlated", measure, self.max_multiple, view, "correlated exposure"
            )

    def __repr__(self) -> str:
        return f"CorrelationExposure({len(self.symbols)} symbols, {self.max_multiple})"


class PortfolioVaR:
    """Does this order push the portfolio's VaR past the limit? The ``confidence`` (0.99),
    ``horizon_days`` (1) VaR of the market values after the order, by
    :class:`~fillforge.portfolio.var.VarModel` (``method`` historical or parametric, from aligned
    daily ``returns``), at most ``amount`` (currency) and ``pct`` of equity (each optional). An
    order that lowers the VaR always passes; an order or a holding in a symbol without returns
    is denied (its risk is unknown). Slower than the other controls (a matrix-vector product and
    a partition per order): measured separately (``benches/bench_risk.py``)."""

    code = "portfolio_var"

    def __init__(
        self,
        returns: Mapping[str, Sequence[float | Decimal]],
        *,
        amount: Decimal | int | str | None = None,
        pct: Decimal | int | str | None = None,
        confidence: float = 0.99,
        method: VarMethod = "historical",
        horizon_days: int = 1,
    ) -> None:
        if amount is None and pct is None:
            raise RiskError("amount", None, "give amount, pct or both")
        self.amount = None if amount is None else limit_of("amount", amount)
        self.pct = None if pct is None else limit_of("pct", pct)
        self.horizon_days = horizon_days
        self._seen: tuple[int, float] = (-1, 0.0)
        try:
            self.model = VarModel(
                returns, confidence=confidence, method=method, horizon_days=horizon_days
            )
        except MetricsError as e:
            raise RiskError(e.field, e.value, e.why) from None

    def _before(self, view: RiskView) -> float:
        """The VaR of the book as it is: asked once per account read (its version)."""
        version, var = self._seen
        if version != view.version:
            var = self.model.var(view.value)
            self._seen = (view.version, var)
        return var

    def limit(self, view: RiskView) -> float:
        lims = [] if self.amount is None else [float(self.amount)]
        if self.pct is not None:
            lims.append(float(view.equity * self.pct))
        return min(lims)

    def check(self, p: Proposal, view: RiskView) -> None:
        new = value_after(p, view, self.code)[1]
        after = {**view.value, p.symbol: new}
        try:
            var_after = self.model.var(after)
            var_before = self._before(view)
        except MetricsError as e:
            raise RiskDeniedError("symbol", e.field, f"VaR unknown: {e.why}", self.code) from None
        if var_after <= var_before:
            return
        limit = self.limit(view)
        if var_after > limit:
            var = to_decimal(round(var_after, 2))
            why = f"the {self.horizon_days}-day VaR would be {var}, over the limit of {limit:.2f}"
            raise RiskDeniedError("var", var, why, self.code)

    def __repr__(self) -> str:
        return f"PortfolioVaR(amount={self.amount}, pct={self.pct}, {self.model.method})"
