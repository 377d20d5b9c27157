"""A local IB gateway: the TWS API socket protocol on fillforge's simulated exchange.

Unmodified ib_async connects with ``IB().connect('127.0.0.1', gateway.port, clientId)``; orders
rest, match and fill in the venue's engines through
:class:`~fillforge.sim.broker.SimulatedBroker` (the one request-to-engine path), and come back as
``openOrder``, ``orderStatus``, ``execDetails`` and ``commissionReport``. The requests served
are in :mod:`fillforge.ibkr.requests`; the order logic (ids, states, brackets, OCA groups) in
:mod:`fillforge.ibkr.book`; ``docs/ibkr.md`` lists what works and what does not.

An asyncio server runs on its own thread and event loop; every call on the simulation runs on
the simulation thread of :class:`~fillforge.serving.SimServer` (the one the Alpaca and
Binance servers use), whose clock follows the wall clock at ``speed``. A frame the gateway
cannot read is answered with an IB error message (code and text), never a crash; it binds
127.0.0.1 unless told otherwise.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable
from typing import TypeVar

from fillforge.errors import IbkrError, SimulationError
from fillforge.ibkr import messages as m
from fillforge.ibkr.book import Book
from fillforge.ibkr.messages import ContractInfo
from fillforge.ibkr.requests import (
    ORDER_MESSAGES,
    handlers,
    order_job,
    push_account,
    push_position,
)
from fillforge.ibkr.wire import SERVER_VERSION, Framer, client_range, frame
from fillforge.serving import SimServer
from fillforge.sim.broker import SimulatedBroker
from fillforge.time import Clock

__all__ = ["IbGateway", "Session"]

T = TypeVar("T")
_log = logging.getLogger("fillforge.ibkr")
_START_S = 10.0
FIRST_CON_ID = 100_001
"""The conId of the venue's first listed stock (the next ones count up, in listing order)."""
ACCOUNT_EVERY_NS = 250_000_000
"""The least time between two account pushes to a ``reqAccountUpdates`` subscriber."""


class Session:
    """One client connection: its writer, its clientId once ``startApi`` came."""

    def __init__(self, writer: asyncio.StreamWriter, loop: asyncio.AbstractEventLoop) -> None:
        self.writer, self.loop = writer, loop
        self.client_id: int | None = None
        self.version = 0
        self.positions = False  # reqPositions: position updates follow
        self.market: dict[int, list[Callable[[], None]]] = {}  # reqMktData streams: unsubscribes
        self.account_updates = False  # reqAccountUpdates: account and portfolio updates follow
        self._out: list[bytes] = []
        self._lock = threading.Lock()

    def send(self, fields: list[object]) -> None:
        """Queue one message (from any thread; in order). The messages queued before the loop
        gets to them go out in one write (one wake-up of the loop, one send)."""
        data = frame(fields)
        with self._lock:
            first = not self._out
            self._out.append(data)
        if first:
            self.loop.call_soon_threadsafe(self._flush)

    def _flush(self) -> None:
        with self._lock:
            data, self._out = b"".join(self._out), []
        if data and not self.writer.is_closing():
            self.writer.write(data)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.writer.close)


class IbGateway(SimServer[SimulatedBroker]):
    """The gateway around one :class:`SimulatedBroker` (its venue's markets are the stocks it
    lists, conIds from :data:`FIRST_CON_ID` up). ``account`` is the one managed account;
    ``speed`` paces the simulation against the wall clock (None: the caller moves it, with
    :meth:`call`). Use as a context manager, or :meth:`start` / :meth:`stop`."""

    name = "ibkr"
    what = "gateway"

    def __init__(
        self,
        broker: SimulatedBroker,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        account: str = "DU1234567",
        speed: float | None = 1.0,
        wall_clock: Clock | None = None,
    ) -> None:
        super().__init__(broker, host=host, port=port, speed=speed, wall_clock=wall_clock)
        if not account or "," in account:
            raise SimulationError("account", account, "one account code, no commas")
        self.account = account
        self.contracts = {
            s: ContractInfo(FIRST_CON_ID + mk.index, mk.instrument)
            for s, mk in broker.venue.markets.items()
        }
        self.sessions: dict[int, Session] = {}
        self.book = Book(broker, self.contracts, account, self._send)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._thread: threading.Thread | None = None
        self._handlers = handlers(self)
        self.book.filled = self._after_fill
        self._touched: set[str] = set()  # symbols filled since the last account push
        self._account_due = 0

    def __repr__(self) -> str:
        return f"IbGateway({self.host}:{self.port}, account={self.account!r})"

    # ----- running ------------------------------------------------------------------------

    def _listen(self) -> int | None:
        ready = threading.Event()
        loop = asyncio.new_event_loop()
        self._loop = loop

        def serve() -> None:
            asyncio.set_event_loop(loop)
            try:
                self._server = loop.run_until_complete(
                    asyncio.start_server(self._serve, self.host, self.port)
                )
            except OSError as e:
                _log.error("ibkr gateway could not listen: %s", e)
                ready.set()
                return
            ready.set()
            loop.run_forever()

        self._thread = threading.Thread(target=serve, name="ibkr-gateway", daemon=True)
        self._thread.start()
        ready.wait(_START_S)
        if self._server is None:
            return None
        return int(self._server.sockets[0].getsockname()[1])

    def _close(self) -> None:
        loop, server = self._loop, self._server
        if loop is not None and server is not None and loop.is_running():

            async def shut() -> None:
                server.close()
                for s in list(self.sessions.values()):
                    s.writer.close()
                self.sessions.clear()
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(server.wait_closed(), 2)
                loop.stop()

            asyncio.run_coroutine_threadsafe(shut(), loop)
        if self._thread is not None:
            self._thread.join(timeout=10)
        if loop is not None and not loop.is_running():
            loop.close()
        self._loop = self._server = self._thread = None

    def _sync(self) -> None:
        super()._sync()
        self.book.settle()
        if self._touched and self.wall_clock.now_ns() >= self._account_due:
            self._push_accounts()

    def call(self, fn: Callable[[SimulatedBroker], T]) -> T:
        """Run ``fn(broker)`` on the simulation thread, in turn with the requests (scripted
        prices in tests); the orders its fills set off are sent before it returns."""
        return super().call(lambda broker: self._settled(fn(broker)))

    async def run(self, fn: Callable[[], T]) -> T:
        """Await ``fn()`` on the simulation thread (then the follow-up orders it set off)."""
        return await super().run(lambda: self._settled(fn()))

    def _settled(self, out: T) -> T:
        self.book.settle()
        return out

    def drop(self, client_id: int) -> None:
        """Close ``client_id``'s connection from the gateway's side (a network failure, in
        tests): the client sees its peer close."""
        s = self.sessions.pop(client_id, None)
        if s is not None:
            s.close()

    def _after_fill(self, symbol: str) -> None:
        """A fill: its position to every ``reqPositions`` subscriber now; the account's values
        and the portfolio line to ``reqAccountUpdates`` subscribers at most every
        :data:`ACCOUNT_EVERY_NS` (TWS sends account values every few minutes)."""
        for s in list(self.sessions.values()):
            if s.positions:
                push_position(self, s, symbol)
        self._touched.add(symbol)

    def _push_accounts(self) -> None:
        touched, self._touched = self._touched, set()
        self._account_due = self.wall_clock.now_ns() + ACCOUNT_EVERY_NS
        for s in list(self.sessions.values()):
            if s.account_updates:
                push_account(self, s, sorted(touched))

    def _send(self, client_id: int, fields: list[object]) -> None:
        s = self.sessions.get(client_id)
        if s is not None:
            s.send(fields)

    # ----- connections --------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        loop = asyncio.get_running_loop()
        session = Session(writer, loop)
        framer = Framer()
        try:
            while not writer.is_closing():
                data = await reader.read(1 << 16)
                if not data:
                    break
                try:
                    messages = framer.feed(data)
                except IbkrError as e:
                    session.send(m.error(-1, e.code, e.message))
                    break
                orders: list[list[str]] = []  # a run of orders and cancels: one job
                for fields in messages:
                    if session.client_id is not None and fields and fields[0] in ORDER_MESSAGES:
                        orders.append(fields)
                        continue
                    if orders:
                        await self._orders(session, orders)
                        orders = []
                    if not await self._handle(session, fields):
                        return
                if orders:
                    await self._orders(session, orders)
        except (ConnectionError, OSError):
            pass
        finally:
            if session.client_id is not None and self.sessions.get(session.client_id) is session:
                del self.sessions[session.client_id]
            streams = [stop for stops in session.market.values() for stop in stops]
            session.market.clear()
            if streams:
                with contextlib.suppress(Exception):  # the gateway may be stopping
                    await self.run(lambda: [stop() for stop in streams])
            await asyncio.sleep(0)  # let queued writes go out first
            writer.close()

    async def _orders(self, session: Session, batch: list[list[str]]) -> None:
        """A run of ``placeOrder``/``cancelOrder`` messages that came together, carried out in
        turn in one simulation job (one thread hop, not one each); each refusal is answered."""
        jobs: list[tuple[int, Callable[[], None] | IbkrError]] = []
        for fields in batch:
            at = _REQ_ID_AT[int(fields[0])]
            req_id = int(fields[at]) if len(fields) > at and fields[at].isdigit() else -1
            try:
                jobs.append((req_id, order_job(self, session, fields)))
            except IbkrError as e:
                jobs.append((req_id, e))

        def run_all() -> None:
            for req_id, job in jobs:
                try:
                    if isinstance(job, IbkrError):
                        raise job
                    job()
                    self.book.settle()
                except IbkrError as e:
                    session.send(m.error(req_id, e.code, e.message))
                except Exception as e:  # never a crash: the client is told
                    _log.exception("ibkr gateway: an order request failed")
                    session.send(m.error(req_id, 321, f"Error validating request: {e!r}"))

        await self.run(run_all)

    async def _handle(self, session: Session, fields: list[str]) -> bool:
        """One message; False ends the connection."""
        if not session.version:
            try:
                low, high = client_range(fields)
            except IbkrError:
                return False
            if not low <= SERVER_VERSION <= high:
                return False  # TWS closes on a client it cannot serve
            session.version = SERVER_VERSION
            session.send([SERVER_VERSION, m.ib_time(self.wall_clock.now_ns())])
            return True
        req_id = -1
        try:
            msg_id = int(fields[0]) if fields and fields[0] else 0
            if len(fields) > 2 and fields[1:3] and msg_id in _REQ_ID_AT:
                with contextlib.suppress(ValueError):
                    req_id = int(fields[_REQ_ID_AT[msg_id]] or -1)
            if session.client_id is None and msg_id != 71:
                raise IbkrError(504, "Not connected: startApi must come first")
            handler = self._handlers.get(msg_id)
            if handler is None:
                raise IbkrError(505, f"Fatal Error: Unknown message id {fields[:1]}")
            return await handler(session, fields) is not False
        except IbkrError as e:
            session.send(m.error(req_id, e.code, e.message))
        except ValueError as e:
            session.send(m.error(req_id, 320, f"Error reading request: {e}"))
        except Exception as e:  # never a crash: the client is told, the gateway serves on
            _log.exception("ibkr gateway: request %s failed", fields[:1])
            session.send(m.error(req_id, 321, f"Error validating request: {type(e).__name__}"))
        return True


# Where the request id (or order id) sits in the requests that carry one, for error replies.
_REQ_ID_AT = {1: 2, 3: 1, 4: 2, 7: 2, 9: 2, 62: 2, 76: 2}
