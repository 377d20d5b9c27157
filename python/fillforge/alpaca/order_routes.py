"""The order routes of the Alpaca-compatible server (``/v2/orders``), and Alpaca's answers to a
refusal (:func:`status_of`), shared with the other routes.

The routes parse and answer; the broker does the rest. Its venue profile
(:class:`~fillforge.venues.AlpacaRules`) refuses wash trades and auction orders out of their
windows and converts market buys and buy stops, in :meth:`~fillforge.sim.broker.SimulatedBroker.
submit`, exactly as for a strategy on the broker itself. Every route's work runs on the server's
simulation thread (:meth:`~fillforge.alpaca.server.AlpacaServer.run`), never on the event loop.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from fillforge.alpaca import openapi as api
from fillforge.alpaca import wire
from fillforge.alpaca.operations import body_arg, body_of
from fillforge.errors import (
    DuplicateClientOrderIdError,
    FillforgeError,
    InsufficientBuyingPowerError,
    InsufficientQtyError,
    InvalidTransitionError,
    NotShortableError,
    OrderValidationError,
    SimulationError,
    UnknownOrderIdError,
)
from fillforge.orders.order import Order
from fillforge.venues.rules import AuctionWindowError, WashTradeError

if TYPE_CHECKING:
    from fillforge.alpaca.server import AlpacaServer

__all__ = ["add_order_routes", "answer", "fail", "flag", "status_of"]

_NOT_REPLACEABLE = "unable to replace order in current state"


def status_of(e: FillforgeError) -> tuple[int, dict[str, Any]]:
    """Alpaca's status code and error body for a refusal."""
    if isinstance(e, InsufficientBuyingPowerError):
        return 403, wire.error(
            wire.CODE_FORBIDDEN,
            "insufficient buying power",
            buying_power=str(e.available),
            cost_basis=str(e.needed),
        )
    if isinstance(e, InsufficientQtyError):
        return 403, wire.error(
            wire.CODE_FORBIDDEN,
            f"insufficient qty available for order (requested: {wire.plain(e.requested)}, "
            f"available: {wire.plain(e.available)})",
            available=wire.plain(e.available),
            symbol=e.symbol,
        )
    if isinstance(e, NotShortableError):
        return 403, wire.error(wire.CODE_FORBIDDEN, str(e))
    if isinstance(e, WashTradeError):  # as users report Alpaca's answer: 403, 40310000
        return 403, wire.error(wire.CODE_FORBIDDEN, e.why)
    if isinstance(e, AuctionWindowError):
        return 422, wire.error(wire.CODE_UNPROCESSABLE, e.why)
    if isinstance(e, UnknownOrderIdError):
        return 404, wire.error(wire.CODE_NOT_FOUND, "order not found")
    if isinstance(e, OrderValidationError):
        return 422, wire.error(wire.CODE_INVALID, str(e))
    if isinstance(e, DuplicateClientOrderIdError):
        return 422, wire.error(wire.CODE_UNPROCESSABLE, "client_order_id must be unique")
    if isinstance(e, SimulationError) and e.field == "symbol" and e.why.startswith("not listed"):
        # As Alpaca answers an order for an asset it does not have (alpacahq/Alpaca-API#184).
        return 422, wire.error(wire.CODE_INVALID, f"could not find us_equity '{e.value}'")
    return 422, wire.error(wire.CODE_UNPROCESSABLE, str(e))


def fail(e: FillforgeError) -> JSONResponse:
    status, body = status_of(e)
    return JSONResponse(body, status_code=status)


def flag(v: str | None) -> bool:
    """A boolean query parameter (``true``, ``1``, ``yes``; any case)."""
    return v is not None and v.lower() in ("true", "1", "yes")


async def answer(server: AlpacaServer, fn: Callable[[], Response]) -> Response:
    """``fn()`` on the simulation thread; a refusal it raises in Alpaca's shape."""

    def job() -> Response:
        try:
            return fn()
        except FillforgeError as e:
            return fail(e)

    return await server.run(job)


def _one_of(v: str | None, field: str, allowed: tuple[str, ...]) -> None:
    if v is not None and v not in allowed:
        raise OrderValidationError(field, v, f"expected one of {', '.join(allowed)}")


def _unprocessable(message: str) -> JSONResponse:
    return JSONResponse(wire.error(wire.CODE_UNPROCESSABLE, message), 422)


def _order_operations(server: AlpacaServer) -> None:
    """Register the order routes' operations (:mod:`~fillforge.alpaca.operations`): submit,
    replace, cancel, cancel all."""
    broker, ops = server.broker, server.ops

    def submit(args: dict[str, Any]) -> Response:
        order = broker.submit(wire.order_request(wire.json_object(body_of(args))))
        # Alpaca answers a new order group with its legs.
        return JSONResponse(server.order_json(order, nested=True))

    def replace(args: dict[str, Any]) -> Response:
        order_id = args["id"]
        old = broker.get_order(order_id)
        body = wire.json_object(body_of(args))
        try:
            broker.replace(
                order_id,
                qty=wire.decimal_field(body, "qty"),
                limit_price=wire.decimal_field(body, "limit_price"),
                stop_price=wire.decimal_field(body, "stop_price"),
                trail=wire.decimal_field(body, "trail"),
            )
        except InvalidTransitionError:
            return _unprocessable(_NOT_REPLACEABLE)
        if old.replaced_by is None:
            return _unprocessable(_NOT_REPLACEABLE)
        return JSONResponse(server.order_json(broker.get_order(old.replaced_by)))

    def cancel(args: dict[str, Any]) -> Response:
        o = broker.get_order(args["id"])
        if not o.status.is_open:
            return _unprocessable(f"order is {o.status.alpaca}: not cancelable")
        broker.cancel(o.id)
        return Response(status_code=204)

    def cancel_every(args: dict[str, Any]) -> Response:
        out = []
        for o in broker.orders(open_only=True):
            if not o.status.is_open or o.pending_request is not None:
                continue
            try:
                broker.cancel(o.id)
                out.append({"id": o.id, "status": 200, "body": server.order_json(o)})
            except FillforgeError as e:
                code, body = status_of(e)
                out.append({"id": o.id, "status": code, "body": body})
        return JSONResponse(out, status_code=207)

    ops.register("orders.submit", submit)
    ops.register("orders.replace", replace)
    ops.register("orders.cancel", cancel)
    ops.register("orders.cancel_all", cancel_every)


def add_order_routes(app: FastAPI, server: AlpacaServer) -> None:
    """Register ``/v2/orders`` (submit, list, get, replace, cancel, cancel all) on ``app``, and
    their operations."""
    broker, ops = server.broker, server.ops
    _order_operations(server)

    @app.post(
        "/v2/orders",
        responses=api.answers(api.OrderOut, 403, 413, 422),
        openapi_extra=api.body(api.OrderIn),
    )
    async def submit_order(request: Request) -> Response:
        args = {"body": body_arg(await request.body())}
        return await answer(server, lambda: ops.apply("orders.submit", args))

    @app.get("/v2/orders", responses=api.answers(list[api.OrderOut], 422))
    async def list_orders(
        status: str = "open",
        limit: int = 50,
        after: str | None = None,
        until: str | None = None,
        direction: str = "desc",
        nested: str | None = None,
        side: str | None = None,
        symbols: str | None = None,
    ) -> Response:
        try:
            lo, hi = wire.query_time(after, "after"), wire.query_time(until, "until")
            _one_of(status, "status", ("open", "closed", "all"))
            _one_of(direction, "direction", ("asc", "desc"))
            _one_of(side, "side", ("buy", "sell"))
            if not 1 <= limit <= 500:
                raise OrderValidationError("limit", limit, "expected 1 to 500")
        except FillforgeError as e:
            return fail(e)
        wanted = set(symbols.split(",")) if symbols else None
        nest = flag(nested)

        def keep(o: Order) -> bool:
            if (status == "open" and not o.status.is_open) or (
                status == "closed" and o.status.is_open
            ):
                return False
            if (lo is not None and o.created_ts <= lo) or (hi is not None and o.created_ts >= hi):
                return False
            if side and o.request.side.value != side:
                return False
            if wanted is not None and o.symbol not in wanted:
                return False
            return not (nest and server.is_leg(o))

        def listed() -> Response:
            # Open orders come from the broker's index of them, not a scan of every order.
            kept = [o for o in broker.orders(open_only=status == "open") if keep(o)]
            kept.sort(key=lambda o: o.created_ts, reverse=direction != "asc")
            return JSONResponse([server.order_json(o, nest) for o in kept[:limit]])

        return await answer(server, listed)

    @app.get("/v2/orders:by_client_order_id", responses=api.answers(api.OrderOut, 404, 422))
    async def by_client_id(client_order_id: str) -> Response:
        return await answer(
            server,
            lambda: JSONResponse(server.order_json(broker.get_order_by_client_id(client_order_id))),
        )

    @app.get("/v2/orders/{order_id}", responses=api.answers(api.OrderOut, 404, 422))
    async def get_order(order_id: str, nested: str | None = None) -> Response:
        return await answer(
            server,
            lambda: JSONResponse(server.order_json(broker.get_order(order_id), flag(nested))),
        )

    @app.patch(
        "/v2/orders/{order_id}",
        responses=api.answers(api.OrderOut, 403, 404, 413, 422),
        openapi_extra=api.body(api.ReplaceIn),
    )
    async def replace_order(order_id: str, request: Request) -> Response:
        args = {"id": order_id, "body": body_arg(await request.body())}
        return await answer(server, lambda: ops.apply("orders.replace", args))

    @app.delete(
        "/v2/orders/{order_id}",
        status_code=204,
        responses=api.answers(None, 404, 413, 422, status=204),
    )
    async def cancel_order(order_id: str) -> Response:
        return await answer(server, lambda: ops.apply("orders.cancel", {"id": order_id}))

    @app.delete(
        "/v2/orders",
        status_code=207,
        responses=api.answers(list[api.MultiStatusOut], 413, status=207),
    )
    async def cancel_all() -> Response:
        return await answer(server, lambda: ops.apply("orders.cancel_all", {}))
