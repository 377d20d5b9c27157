"""The gateway's orders and executions on the simulated exchange: IB's order ids, states,
parent/child (bracket) and OCA groups, on one :class:`~fillforge.sim.broker.SimulatedBroker`
whose events it turns into IB's messages.

Everything here runs on the simulation thread (the gateway calls it through its
:class:`~fillforge.serving.Simulation`). An order whose ``transmit`` is off waits in the
gateway until an order with ``transmit`` on names it as parent (or is itself); a child waits
(``PreSubmitted``) until its parent has filled, then works; the children of one parent, and the
members of one OCA group, cancel (OCA type 1) or reduce (types 2 and 3, and a bracket's
children) one another as they fill. Follow-up orders are sent by :meth:`Book.settle`, after
the broker call that filled, never from inside its event callback.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
from collections.abc import Callable
from decimal import Decimal

from fillforge.errors import FillforgeError, IbkrError
from fillforge.ibkr import messages as m
from fillforge.ibkr.messages import ContractInfo, Execution, IbOrder
from fillforge.ibkr.orders import OrderSpec, refusal, to_request
from fillforge.orders.enums import EventKind, LiquiditySide, OrderStatus
from fillforge.orders.models import OrderEvent
from fillforge.sim.broker import SimulatedBroker

__all__ = ["Book"]

Send = Callable[[int, list[object]], None]
_IB_STATUS = {
    OrderStatus.ACCEPTED: "Submitted",
    OrderStatus.NEW: "Submitted",
    OrderStatus.PARTIALLY_FILLED: "Submitted",
    OrderStatus.PENDING_REPLACE: "Submitted",
    OrderStatus.PENDING_CANCEL: "PendingCancel",
    OrderStatus.HELD: "PreSubmitted",
    OrderStatus.FILLED: "Filled",
    OrderStatus.CANCELED: "Cancelled",
    OrderStatus.EXPIRED: "Cancelled",
    OrderStatus.DONE_FOR_DAY: "Cancelled",
    OrderStatus.REJECTED: "Cancelled",
    OrderStatus.DENIED: "Cancelled",
}


class Book:
    """IB orders by ``(clientId, orderId)`` and every execution, on ``broker``. ``send(client_id,
    fields)`` delivers a message to that client's connection, if it has one (messages for a
    client that is away are dropped: it reads its executions back with ``reqExecutions``)."""

    def __init__(
        self,
        broker: SimulatedBroker,
        contracts: dict[str, ContractInfo],
        account: str,
        send: Send,
    ) -> None:
        self.broker = broker
        self.contracts = contracts
        self.by_con_id = {c.con_id: c for c in contracts.values()}
        self.account = account
        self.send = send
        self.orders: dict[tuple[int, int], IbOrder] = {}
        self.executions: list[Execution] = []
        self._by_sim: dict[str, IbOrder] = {}
        self._perm_ids = itertools.count(1_000_001)
        self._exec_ids = itertools.count(1)
        self._todo: list[Callable[[], None]] = []
        self._sending: IbOrder | None = None
        self.filled: Callable[[str], None] | None = None  # told the symbol after each fill
        self.next_order_id = 1
        broker.subscribe(self._on_event)

    # ----- requests -------------------------------------------------------------------------

    def contract(self, con_id: int, symbol: str) -> ContractInfo:
        """The listed stock a request names (by conId, else symbol), else error 200."""
        found = self.by_con_id.get(con_id) if con_id else self.contracts.get(symbol.upper())
        if found is None or (symbol and found.symbol != symbol.upper()):
            raise IbkrError(200, "No security definition has been found for the request")
        return found

    def place(self, client_id: int, spec: OrderSpec) -> None:
        """A new order, or a modify of the client's order with that id."""
        key = (client_id, spec.order_id)
        old = self.orders.get(key)
        if old is not None:
            try:
                return self._modify(old, spec)
            except IbkrError as e:  # the order works on unchanged: IB's validation error
                if e.code == 104:
                    raise
                raise IbkrError(
                    321, f"Error validating request.-'modify' : cause - {e.message}"
                ) from None
        if spec.order_id <= 0:
            raise IbkrError(103, f"Duplicate order id {spec.order_id}")
        info = self.contract(spec.contract.con_id, spec.contract.symbol)
        request = to_request(spec, info.symbol)
        try:
            info.instrument.check(request)
        except FillforgeError as e:
            raise refusal(e) from None
        parent = None
        if spec.parent_id:
            parent = self.orders.get((client_id, spec.parent_id))
            if parent is None or (parent.is_done and parent.status != "Filled"):
                raise IbkrError(201, f"Order rejected - reason:parent {spec.parent_id} unknown")
        o = IbOrder(
            client_id=client_id,
            order_id=spec.order_id,
            perm_id=next(self._perm_ids),
            contract=info,
            action=spec.action,
            total_qty=spec.total_qty,
            order_type=spec.order_type,
            lmt_price=spec.lmt_price,
            aux_price=spec.aux_price,
            tif=spec.tif or "DAY",
            account=spec.account or self.account,
            oca_group=spec.oca_group,
            oca_type=spec.oca_type,
            order_ref=spec.order_ref,
            parent_id=spec.parent_id,
            transmit=spec.transmit,
            outside_rth=spec.outside_rth,
        )
        self.orders[key] = o
        self.next_order_id = max(self.next_order_id, spec.order_id + 1)
        if parent is not None:
            parent.children.append(o.order_id)
        if not spec.transmit:
            o.status = "PreSubmitted" if parent is not None else "PendingSubmit"
            self._tell(o)
            return None
        top = parent if parent is not None and not parent.transmit else o
        if parent is not None and parent.transmit:  # a child of a working parent
            o.status = "PreSubmitted"
            self._tell(o)
            if parent.status == "Filled":
                self._work(o)
            return None
        top.transmit = True
        for child in self._children(top):
            child.transmit = True
            child.status = "PreSubmitted"
            self._tell(child)
        self._work(top)
        return None

    def _work(self, o: IbOrder) -> None:
        """Send ``o`` to the simulated exchange (its remaining quantity)."""
        request = to_request(o, o.contract.symbol, qty=o.total_qty - o.filled)
        self._sending = o  # the events of the submit (a market order fills in it) are o's
        try:
            self.broker.submit(request)
        except FillforgeError as e:
            err = refusal(e)
            self.send(o.client_id, m.error(o.order_id, err.code, err.message))
            self._set(o, "Cancelled")
        finally:
            self._sending = None

    def _modify(self, o: IbOrder, spec: OrderSpec) -> None:
        if o.is_done:
            raise IbkrError(104, f"Can't modify a {o.status.lower()} order")
        qty, lmt, aux = spec.total_qty, spec.lmt_price, spec.aux_price
        if qty <= o.filled:
            raise IbkrError(434, f"The order size cannot be at or below the filled {o.filled}")
        to_request(spec, o.contract.symbol)  # the new terms must make an order
        if o.sim_id is None:  # waiting in the gateway: nothing sent yet
            o.total_qty, o.lmt_price, o.aux_price = qty, lmt, aux
            self._tell(o)
            return
        changes: dict[str, Decimal] = {}
        if qty != o.total_qty:
            changes["qty"] = qty  # the total, fills included (the simulated order carries them)
        if lmt is not None and lmt != o.lmt_price:
            changes["limit_price"] = lmt
        if aux is not None and aux != o.aux_price and "STP" in o.order_type:
            changes["stop_price"] = aux
        if not changes:
            self._tell(o)
            return
        try:
            self.broker.replace(o.sim_id, **changes)  # type: ignore[arg-type]
        except FillforgeError as e:
            raise refusal(e) from None
        o.total_qty = qty
        o.lmt_price = lmt if lmt is not None else o.lmt_price
        o.aux_price = aux if aux is not None else o.aux_price
        if not o.is_done:
            self._tell(o)

    def cancel(self, client_id: int, order_id: int) -> None:
        o = self.orders.get((client_id, order_id))
        if o is None:
            raise IbkrError(10147, f"OrderId {order_id} that needs to be cancelled is not found.")
        if o.is_done:
            raise IbkrError(
                10148,
                f"OrderId {order_id} that needs to be cancelled cannot be cancelled, state: "
                f"{o.status}.",
            )
        self._cancel(o)

    def _cancel(self, o: IbOrder) -> None:
        if o.sim_id is None:
            self._set(o, "Cancelled")
            self.send(o.client_id, m.error(o.order_id, 202, "Order Canceled - reason:"))
            for child in self._children(o):
                if not child.is_done:
                    self._cancel(child)
            return
        with contextlib.suppress(FillforgeError):  # it ended meanwhile: its event says how
            self.broker.cancel(o.sim_id)

    def cancel_all(self) -> None:
        """``reqGlobalCancel``: every open order of every client."""
        for o in list(self.orders.values()):
            if not o.is_done:
                self._cancel(o)

    def open_orders(self, client_id: int | None) -> list[IbOrder]:
        """The open orders of ``client_id`` (None: every client's)."""
        return [
            o
            for o in self.orders.values()
            if not o.is_done and (client_id is None or o.client_id == client_id)
        ]

    # ----- the simulated exchange's events ---------------------------------------------------

    def _on_event(self, e: OrderEvent) -> None:
        o = self._by_sim.get(e.order_id)
        if o is None and self._sending is not None and e.kind is EventKind.CREATED:
            o, self._sending = self._sending, None
            o.sim_id = e.order_id
            self._by_sim[e.order_id] = o
        if o is None or o.sim_id != e.order_id:
            return
        if e.kind is EventKind.REPLACED:
            if e.related_id:
                o.sim_id = e.related_id
                self._by_sim[e.related_id] = o
            return
        if e.fill is not None:
            return self._filled(o, e)
        status = _IB_STATUS.get(e.status)
        if status is None or status == o.status:
            return None
        if e.kind is EventKind.REJECTED:
            reason = e.reason or "rejected by the exchange"
            self.send(o.client_id, m.error(o.order_id, 201, f"Order rejected - reason:{reason}"))
        self._set(o, status)
        if status == "Cancelled":
            if e.kind is EventKind.CANCELED:
                self.send(o.client_id, m.error(o.order_id, 202, "Order Canceled - reason:"))
            self._todo.extend(functools.partial(self._cancel, c) for c in self._children(o))
        return None

    def _filled(self, o: IbOrder, e: OrderEvent) -> None:
        f = e.fill
        assert f is not None
        before = o.filled * o.avg_fill_price
        o.filled += f.qty
        o.avg_fill_price = (before + f.qty * f.price) / o.filled
        o.last_fill_price = f.price
        n = next(self._exec_ids)
        x = Execution(
            exec_id=f"0000{o.perm_id:08x}.{n:08x}.01.01",
            client_id=o.client_id,
            order_id=o.order_id,
            perm_id=o.perm_id,
            contract=o.contract,
            ts_ns=f.ts_event,
            account=o.account,
            side="BOT" if o.action == "BUY" else "SLD",
            shares=f.qty,
            price=f.price,
            cum_qty=o.filled,
            avg_price=o.avg_fill_price,
            order_ref=o.order_ref,
            maker=f.liquidity is LiquiditySide.MAKER,
            commission=f.commission,
        )
        self.executions.append(x)
        if self.filled is not None:
            self.filled(o.contract.symbol)
        self.send(o.client_id, m.exec_details(-1, x))
        self.send(o.client_id, m.commission_report(x))
        self._set(o, "Filled" if o.filled >= o.total_qty else "Submitted", force=True)
        if o.status == "Filled":
            self._todo.extend(functools.partial(self._activate, c) for c in self._children(o))
        for other, reduce in self._linked(o):
            self._todo.append(functools.partial(self._reduce, other, f.qty if reduce else None))

    def _activate(self, child: IbOrder) -> None:
        """A filled parent's child starts working (unless it is waiting for ``transmit`` or
        ended meanwhile)."""
        if child.transmit and child.sim_id is None and not child.is_done:
            self._work(child)

    def _linked(self, o: IbOrder) -> list[tuple[IbOrder, bool]]:
        """The orders a fill of ``o`` cancels or reduces: its bracket siblings (reduced) and its
        OCA group's other members (type 1 cancelled, 2 and 3 reduced)."""
        out: list[tuple[IbOrder, bool]] = []
        if o.parent_id:
            parent = self.orders.get((o.client_id, o.parent_id))
            if parent is not None:
                out += [(c, True) for c in self._children(parent) if c is not o]
        if o.oca_group:
            out += [
                (x, o.oca_type != 1)
                for x in self.orders.values()
                if x.oca_group == o.oca_group and x is not o and x.account == o.account
            ]
        return [(x, r) for x, r in out if not x.is_done]

    def _reduce(self, o: IbOrder, by: Decimal | None) -> None:
        if o.is_done:
            return
        left = Decimal(0) if by is None else o.total_qty - o.filled - by
        if left <= 0:
            return self._cancel(o)
        if o.sim_id is None:
            o.total_qty = o.filled + left
            return self._tell(o)
        try:
            self.broker.replace(o.sim_id, qty=o.filled + left)  # the total, fills included
            o.total_qty = o.filled + left
            self._tell(o)
        except FillforgeError:
            self._cancel(o)
        return None

    def settle(self) -> None:
        """Send the follow-up orders and cancels the last fills call for (children of a filled
        parent, OCA siblings), until none is left."""
        while self._todo:
            todo, self._todo = self._todo, []
            for action in todo:
                action()

    # ----- helpers ------------------------------------------------------------------------

    def _children(self, o: IbOrder) -> list[IbOrder]:
        kids = (self.orders.get((o.client_id, c)) for c in o.children)
        return [k for k in kids if k is not None]

    def _set(self, o: IbOrder, status: str, *, force: bool = False) -> None:
        if status != o.status or force:
            o.status = status
            self._tell(o)

    def _tell(self, o: IbOrder) -> None:
        self.send(o.client_id, m.open_order(o))
        self.send(o.client_id, m.order_status(o))
