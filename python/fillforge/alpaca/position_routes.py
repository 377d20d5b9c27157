"""The position routes of the Alpaca-compatible server (``/v2/positions``).

A close is sized by the broker's venue profile (:meth:`~fillforge.venues.AlpacaRules.
close_request`: all of the position, ``qty`` of it, or ``percentage`` of it rounded down to the
lot) and submitted as any order is, through the same rules, on the simulation thread.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Response
from fastapi.responses import JSONResponse

from fillforge.alpaca import openapi as api
from fillforge.alpaca import wire
from fillforge.alpaca.order_routes import answer, flag, status_of
from fillforge.errors import FillforgeError
from fillforge.orders.order import Order
from fillforge.sim.rules import close_position

if TYPE_CHECKING:
    from fillforge.alpaca.server import AlpacaServer

__all__ = ["add_position_routes"]


def _no_position() -> JSONResponse:
    return JSONResponse(wire.error(wire.CODE_NOT_FOUND, "position does not exist"), 404)


def add_position_routes(app: FastAPI, server: AlpacaServer) -> None:
    """Register ``/v2/positions`` (list, get, close, close all) on ``app``."""
    broker, ops = server.broker, server.ops

    def close(symbol: str, qty: str | None = None, percentage: str | None = None) -> Order | None:
        asked = {"qty": qty, "percentage": percentage}
        return close_position(
            broker,
            symbol,
            qty=wire.decimal_field(asked, "qty"),
            percentage=wire.decimal_field(asked, "percentage"),
        )

    # The operations (fillforge.alpaca.operations): a close, and closing every position.

    def closed(args: dict[str, Any]) -> Response:
        order = close(server.symbol_of(args["symbol"]), args.get("qty"), args.get("percentage"))
        return _no_position() if order is None else JSONResponse(server.order_json(order))

    def close_every(args: dict[str, Any]) -> Response:
        out: list[dict[str, Any]] = []
        if flag(args.get("cancel_orders")):
            for o in broker.orders(open_only=True):
                if o.status.is_open and o.pending_request is None:
                    broker.cancel(o.id)
        for symbol in list(broker.positions()):
            try:
                order = close(symbol)
            except FillforgeError as e:
                code, body = status_of(e)
                out.append({"status": code, "symbol": symbol, "body": body})
                continue
            assert order is not None
            out.append(
                {
                    "order_id": order.id,
                    "status": 200,
                    "symbol": symbol,
                    "body": server.order_json(order),
                }
            )
        return JSONResponse(out, status_code=207)

    ops.register("positions.close", closed)
    ops.register("positions.close_all", close_every)

    @app.get("/v2/positions", responses=api.answers(list[api.PositionOut]))
    async def positions() -> Response:
        def listed() -> Response:
            return JSONResponse(
                [
                    wire.position_json(p, server.exchange, broker.ledger)
                    for p in broker.positions().values()
                ]
            )

        return await answer(server, listed)

    @app.get("/v2/positions/{symbol:path}", responses=api.answers(api.PositionOut, 404))
    async def position(symbol: str) -> Response:
        def one() -> Response:
            p = broker.positions().get(server.symbol_of(symbol))
            if p is None:
                return _no_position()
            return JSONResponse(wire.position_json(p, server.exchange, broker.ledger))

        return await answer(server, one)

    @app.delete(
        "/v2/positions/{symbol:path}",
        responses=api.answers(api.OrderOut, 403, 404, 413, 422),
    )
    async def close_one(
        symbol: str, qty: str | None = None, percentage: str | None = None
    ) -> Response:
        args = {"symbol": symbol, "qty": qty, "percentage": percentage}
        return await answer(server, lambda: ops.apply("positions.close", args))

    @app.delete(
        "/v2/positions",
        status_code=207,
        responses=api.answers(list[api.MultiStatusOut], 413, 422, status=207),
    )
    async def close_all(cancel_orders: str | None = None) -> Response:
        args = {"cancel_orders": cancel_orders}
        return await answer(server, lambda: ops.apply("positions.close_all", args))
