"""The OpenAPI description of the Alpaca-compatible server: request bodies, answers and status
codes of every route, in the shapes the routes write (documentation only: each route builds its
JSON itself through :mod:`fillforge.alpaca.wire`, and the tests check the served answers against
these schemas with schemathesis).

``errors(422, 404)`` documents refusals in Alpaca's error shape, ``body(Model)`` a JSON request
body, ``answers(Model, 404)`` a 200 of ``Model`` plus the refusals.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "AccountOut",
    "AlpacaError",
    "AssetOut",
    "CalendarDayOut",
    "ClockOut",
    "MultiStatusOut",
    "OrderIn",
    "OrderOut",
    "PositionOut",
    "QuotesOut",
    "ReplaceIn",
    "answers",
    "body",
    "errors",
]

_WHY = {
    207: "one answer per order or position acted on",
    401: "the key pair is missing or wrong",
    403: "refused: buying power, quantity, shortability, a wash trade or the configuration",
    404: "not found",
    413: "the request body is larger than the server takes",
    422: "invalid input (the message names the field and the value)",
    429: "rate limited (the X-Ratelimit-* headers say when to come back)",
}

Num = str | float | int  # Alpaca takes decimals as JSON numbers or strings


class AlpacaError(BaseModel):
    """Alpaca's error body; some refusals add fields (``buying_power``, ``available``...)."""

    model_config = ConfigDict(extra="allow")
    code: int
    message: str


class _Leg(BaseModel):
    limit_price: Num | None = None
    stop_price: Num | None = None


class OrderIn(BaseModel):
    """``POST /v2/orders``: Alpaca's order request."""

    symbol: str
    side: str = Field(json_schema_extra={"enum": ["buy", "sell"]})
    type: str | None = Field(
        default=None,
        json_schema_extra={"enum": ["market", "limit", "stop", "stop_limit", "trailing_stop"]},
    )
    time_in_force: str | None = Field(
        default=None, json_schema_extra={"enum": ["day", "gtc", "opg", "cls", "ioc", "fok"]}
    )
    qty: Num | None = None
    notional: Num | None = None
    limit_price: Num | None = None
    stop_price: Num | None = None
    trail_price: Num | None = None
    trail_percent: Num | None = None
    extended_hours: bool | None = None
    client_order_id: str | None = Field(default=None, max_length=48)
    order_class: str | None = Field(
        default=None, json_schema_extra={"enum": ["simple", "bracket", "oco", "oto"]}
    )
    take_profit: _Leg | None = None
    stop_loss: _Leg | None = None


class ReplaceIn(BaseModel):
    """``PATCH /v2/orders/{order_id}``: the terms to change."""

    qty: Num | None = None
    time_in_force: str | None = None
    limit_price: Num | None = None
    stop_price: Num | None = None
    trail: Num | None = None
    client_order_id: str | None = None


class OrderOut(BaseModel):
    """Alpaca's ``Order`` entity."""

    id: str
    client_order_id: str
    created_at: str
    updated_at: str
    submitted_at: str
    filled_at: str | None
    expired_at: str | None
    expires_at: str | None
    canceled_at: str | None
    failed_at: str | None
    replaced_at: str | None
    replaced_by: str | None
    replaces: str | None
    asset_id: str
    symbol: str
    asset_class: str
    notional: str | None
    qty: str | None
    filled_qty: str
    filled_avg_price: str | None
    order_class: str
    order_type: str
    type: str
    side: str
    time_in_force: str
    limit_price: str | None
    stop_price: str | None
    status: str
    extended_hours: bool
    legs: list[OrderOut] | None
    trail_percent: str | None
    trail_price: str | None
    hwm: str | None


class PositionOut(BaseModel):
    asset_id: str
    symbol: str
    exchange: str
    asset_class: str
    asset_marginable: bool
    qty: str
    qty_available: str
    avg_entry_price: str
    side: str
    market_value: str
    cost_basis: str
    unrealized_pl: str
    unrealized_plpc: str
    unrealized_intraday_pl: str
    unrealized_intraday_plpc: str
    current_price: str
    lastday_price: str
    change_today: str


class AccountOut(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: str
    account_number: str
    status: str
    currency: str
    buying_power: str
    cash: str
    equity: str
    portfolio_value: str
    long_market_value: str
    short_market_value: str
    multiplier: str
    trading_blocked: bool
    trade_suspended_by_user: bool
    shorting_enabled: bool
    created_at: str


class ClockOut(BaseModel):
    timestamp: str
    is_open: bool
    next_open: str
    next_close: str


class CalendarDayOut(BaseModel):
    date: str
    open: str
    close: str


class AssetOut(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: str
    symbol: str
    exchange: str
    status: str
    tradable: bool
    shortable: bool
    fractionable: bool


class MultiStatusOut(BaseModel):
    """One item of a 207 answer (cancel-all, close-all)."""

    model_config = ConfigDict(extra="allow")
    status: int
    body: dict[str, Any]


class QuotesOut(BaseModel):
    quotes: dict[str, dict[str, Any]]


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """Refusals in Alpaca's error shape, each with what it means here."""
    return {c: {"model": AlpacaError, "description": _WHY[c]} for c in codes}


def answers(model: Any, *codes: int, status: int = 200) -> dict[int | str, dict[str, Any]]:
    """A ``status`` answer of ``model`` (None: no body) and the refusals ``codes``."""
    ok: dict[str, Any] = {"description": _WHY.get(status, "done")}
    if model is not None:
        ok["model"] = model
    return {status: ok, **errors(401, 429, *codes)}


def body(model: type[BaseModel], *, required: bool = True) -> dict[str, Any]:
    """A JSON request body of ``model`` (for routes that read their raw body themselves)."""
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    defs = schema.pop("$defs", {})
    if defs:  # nested models inline: the route's own schema stays self-contained
        schema = _inline(schema, defs)
    return {
        "requestBody": {
            "required": required,
            "content": {"application/json": {"schema": schema}},
        }
    }


def _inline(node: Any, defs: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
            return _inline(defs[ref.rsplit("/", 1)[1]], defs)
        return {k: _inline(v, defs) for k, v in node.items()}
    if isinstance(node, list):
        return [_inline(v, defs) for v in node]
    return node
