"""A ``placeOrder`` request read into the terms the gateway uses, and those terms as a
fillforge :class:`~fillforge.orders.models.OrderRequest`.

Field positions are ib_async 2.1's ``Client.placeOrder`` at server version 178 for a non-combo
contract (``BAG`` contracts are refused before anything past the contract is read).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from fillforge.errors import FillforgeError, IbkrError
from fillforge.ibkr.wire import Contract, decimal, integer
from fillforge.orders.enums import OrderSide, OrderTimeInForce, OrderType
from fillforge.orders.models import OrderRequest

__all__ = ["OrderSpec", "OrderTerms", "read_place_order", "to_request"]

_TYPES = {
    "MKT": OrderType.MARKET,
    "LMT": OrderType.LIMIT,
    "STP": OrderType.STOP,
    "STP LMT": OrderType.STOP_LIMIT,
}
_TIFS = {
    "": OrderTimeInForce.DAY,
    "DAY": OrderTimeInForce.DAY,
    "GTC": OrderTimeInForce.GTC,
    "IOC": OrderTimeInForce.IOC,
    "FOK": OrderTimeInForce.FOK,
}
_SIDES = {"BUY": OrderSide.BUY, "SELL": OrderSide.SELL}
# positions in the placeOrder message (after the id, the contract's twelve fields at 2..13)
_ACTION, _QTY, _TYPE, _LMT, _AUX, _TIF, _OCA, _ACCOUNT = 16, 17, 18, 19, 20, 21, 22, 23
_REF, _TRANSMIT, _PARENT, _OUTSIDE_RTH, _OCA_TYPE = 26, 27, 28, 33, 46


class OrderTerms(Protocol):
    """The terms :func:`to_request` reads: a client's :class:`OrderSpec`, or the gateway's
    :class:`~fillforge.ibkr.messages.IbOrder` working on them."""

    @property
    def action(self) -> str: ...
    @property
    def total_qty(self) -> Decimal: ...
    @property
    def order_type(self) -> str: ...
    @property
    def lmt_price(self) -> Decimal | None: ...
    @property
    def aux_price(self) -> Decimal | None: ...
    @property
    def tif(self) -> str: ...


@dataclass(frozen=True, slots=True)
class OrderSpec:
    """What a ``placeOrder`` asks for (IB's names and spellings)."""

    order_id: int
    contract: Contract
    action: str
    total_qty: Decimal
    order_type: str
    lmt_price: Decimal | None
    aux_price: Decimal | None
    tif: str
    oca_group: str
    account: str
    order_ref: str
    transmit: bool
    parent_id: int
    outside_rth: bool
    oca_type: int


def _flag(fields: Sequence[str], at: int, default: bool) -> bool:
    raw = fields[at] if len(fields) > at else ""
    return default if raw == "" else raw not in ("0", "false", "False")


def read_place_order(fields: Sequence[str]) -> OrderSpec:
    """The terms of a ``placeOrder``; a frame too short or a field that does not parse raises
    :class:`~fillforge.errors.IbkrError` (320, or 201 for what the gateway does not
    trade)."""
    order_id = integer(fields, 1, "orderId")
    contract = Contract.read(fields, 2)
    if contract.sec_type not in ("STK", ""):
        raise IbkrError(201, f"Order rejected - reason:secType {contract.sec_type} not traded")
    if len(fields) <= _OCA_TYPE:
        raise IbkrError(320, "Error reading request: the placeOrder message is cut short")
    qty = decimal(fields, _QTY, "totalQuantity")
    return OrderSpec(
        order_id=order_id,
        contract=contract,
        action=fields[_ACTION].upper(),
        total_qty=qty if qty is not None else Decimal(0),
        order_type=fields[_TYPE].upper(),
        lmt_price=decimal(fields, _LMT, "lmtPrice"),
        aux_price=decimal(fields, _AUX, "auxPrice"),
        tif=fields[_TIF].upper(),
        oca_group=fields[_OCA],
        account=fields[_ACCOUNT],
        order_ref=fields[_REF],
        transmit=_flag(fields, _TRANSMIT, True),
        parent_id=integer(fields, _PARENT, "parentId"),
        outside_rth=_flag(fields, _OUTSIDE_RTH, False),
        oca_type=integer(fields, _OCA_TYPE, "ocaType"),
    )


def to_request(
    spec: OrderTerms,
    symbol: str,
    *,
    qty: Decimal | None = None,
    lmt_price: Decimal | None = None,
    aux_price: Decimal | None = None,
) -> OrderRequest:
    """The fillforge order for ``spec`` (``qty``/prices override its own, for a modify); what
    IB would refuse raises :class:`IbkrError` with IB's code (201 rejected, 110 off the
    tick grid, 434 a zero size)."""
    side = _SIDES.get(spec.action)
    if side is None:
        raise IbkrError(201, f"Order rejected - reason:action {spec.action!r} is not BUY/SELL")
    kind = _TYPES.get(spec.order_type)
    if kind is None:
        raise IbkrError(
            201, f"Order rejected - reason:order type {spec.order_type!r} is not supported"
        )
    tif = _TIFS.get(spec.tif)
    if tif is None:
        raise IbkrError(201, f"Order rejected - reason:time in force {spec.tif!r} unsupported")
    size = spec.total_qty if qty is None else qty
    if size <= 0:
        raise IbkrError(434, "The order size cannot be zero")
    lmt = spec.lmt_price if lmt_price is None else lmt_price
    aux = spec.aux_price if aux_price is None else aux_price
    try:
        return OrderRequest(
            symbol=symbol,
            side=side,
            type=kind,
            time_in_force=tif,
            qty=size,
            limit_price=lmt if kind in (OrderType.LIMIT, OrderType.STOP_LIMIT) else None,
            stop_price=aux if kind in (OrderType.STOP, OrderType.STOP_LIMIT) else None,
        )
    except FillforgeError as e:
        raise IbkrError(201, f"Order rejected - reason:{e}") from None


def refusal(e: FillforgeError) -> IbkrError:
    """A fillforge refusal as IB's error: 110 for a price off the tick grid, else 201."""
    message = str(e)
    if "tick size" in message:
        return IbkrError(
            110, f"The price does not conform to the minimum price variation: {message}"
        )
    return IbkrError(201, f"Order rejected - reason:{message}")
