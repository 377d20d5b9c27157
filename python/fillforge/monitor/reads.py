"""What the monitor reads of a broker that its order events do not carry: the account and
positions, open orders, an :class:`~fillforge.execution.engine.ExecutionEngine`'s parents with
their progress, a :class:`~fillforge.risk.RiskManager`'s trading state. JSON-mode (Decimal as
plain text), as the page and ``/monitor/state`` show them."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from fillforge.broker import Broker

if TYPE_CHECKING:
    from fillforge.execution.engine import ExecutionEngine
    from fillforge.risk.manager import RiskManager

__all__ = ["SHOWN_ORDERS", "parents", "read_account"]

SHOWN_ORDERS = 200
"""The page lists the newest this many open orders (and counts them all)."""


def _text(v: Decimal) -> str:
    """A Decimal as plain text without trailing zeros (``10.000`` -> ``10``, ``0E-11`` -> ``0``)."""
    return format(v.normalize(), "f") if v else "0"


def read_account(
    b: Broker, engine: ExecutionEngine | None = None, risk: RiskManager | None = None
) -> dict[str, Any]:
    """What the page shows of ``b`` (and ``engine``'s parents, ``risk``'s trading state),
    JSON-mode: the account, positions, the newest :data:`SHOWN_ORDERS` open orders and their
    count, parents with progress, the trading state."""
    acct = b.account()
    opened = b.orders(open_only=True)
    positions = [
        {
            "symbol": p.symbol,
            "qty": _text(p.qty),
            "avg_price": _text(p.avg_price),
            "mark": None if p.mark is None else _text(p.mark),
            "market_value": _text(p.market_value),
            "unrealized_pnl": _text(p.unrealized_pnl),
            "realized_pnl": _text(p.realized_pnl),
        }
        for p in acct.positions.values()
    ]
    orders = [
        {
            "id": o.id,
            "client_order_id": o.client_order_id,
            "symbol": o.symbol,
            "side": str(o.request.side),
            "type": str(o.request.type),
            "qty": _text(o.order_qty),
            "filled": _text(o.cum_qty),
            "limit_price": None if o.limit_price is None else _text(o.limit_price),
            "status": str(o.status),
            "parent_id": o.parent_id,
            "created_ns": o.created_ts,
        }
        for o in opened[-SHOWN_ORDERS:]
    ]
    out: dict[str, Any] = {
        "account": {
            "cash": _text(acct.cash),
            "equity": _text(acct.equity),
            "buying_power": _text(acct.buying_power),
            "realized_pnl": _text(acct.realized_pnl),
            "unrealized_pnl": _text(acct.unrealized_pnl),
            "fees_paid": _text(acct.fees_paid),
        },
        "positions": positions,
        "open_orders": orders,
        "open_orders_count": len(opened),
        "parents": [] if engine is None else parents(engine),
        "trading_state": None if risk is None else str(risk.state),
        "killed": None if risk is None else risk.killed,
    }
    return out


def parents(engine: ExecutionEngine) -> list[dict[str, Any]]:
    """``engine``'s parents with their progress, JSON-mode."""
    out = []
    for p in engine.parents():
        g = engine.progress(p.id)
        out.append(
            {
                "id": p.id,
                "symbol": p.spec.symbol,
                "side": str(p.spec.side),
                "policy": str(p.spec.policy),
                "state": str(g.state),
                "qty": _text(g.qty),
                "filled": _text(g.filled),
                "working": _text(g.working),
                "progress": str((g.filled / g.qty).quantize(Decimal("0.0001"))),
                "avg_price": None if g.avg_price is None else _text(g.avg_price),
                "arrival_price": None if g.arrival_price is None else _text(g.arrival_price),
                "slippage_bps": None
                if g.slippage_bps is None
                else str(g.slippage_bps.quantize(Decimal("0.01"))),
                "children": g.children,
                "reason": g.reason,
            }
        )
    return out
