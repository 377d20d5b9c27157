"""An ASGI app served by uvicorn from a background thread: the one way the local venue servers
(Alpaca, Binance) and the monitoring page listen; :func:`pump`, the one way their websockets
carry events out while reading what the client sends; and :class:`SimServer`, what the local
venue servers (Alpaca, Binance, the IB gateway) share around their simulated broker: its one
simulation thread (:class:`Simulation`), its clock following the wall clock at ``speed``
(:class:`ServedClock`, a ticker thread), start and stop.

:meth:`BackgroundServer.start` returns once the socket listens (the port it bound, port 0 giving
an ephemeral one), or ``None`` when the server did not start within ten seconds (a port taken, a
host it cannot bind): the caller raises its own typed error. :meth:`BackgroundServer.stop` asks
uvicorn to exit and joins its thread.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, Generic, Protocol, Self, TypeVar

import uvicorn
from starlette.websockets import WebSocket, WebSocketDisconnect

from fillforge.errors import SimulationError
from fillforge.time import Clock, WallClock

__all__ = [
    "DROP",
    "KEEP_ALIVE_S",
    "BackgroundServer",
    "Faults",
    "HttpSimServer",
    "Listeners",
    "ServedClock",
    "SimServer",
    "Simulation",
    "json_frame",
    "post",
    "pump",
]

_T = TypeVar("_T")
DROP = "\0drop"  # the queue item that closes a pumped socket (1012: clients reconnect)

_START_S = 10.0


class BackgroundServer:
    """uvicorn serving ``app`` on ``host``:``port`` in a daemon thread named ``name``."""

    def __init__(self, app: Any, *, name: str, keep_alive_s: int | None = None) -> None:
        self.app, self.name, self.keep_alive_s = app, name, keep_alive_s
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._server is not None

    def start(self, host: str, port: int) -> int | None:
        """Serve; the bound port once it listens, None when it did not start (stopped again)."""
        options: dict[str, Any] = {}
        if self.keep_alive_s is not None:
            options["timeout_keep_alive"] = self.keep_alive_s
        config = uvicorn.Config(
            self.app,
            host=host,
            port=port,
            log_level="warning",
            access_log=False,
            interface="asgi3",
            **options,
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, name=self.name, daemon=True)
        self._server, self._thread = server, thread
        thread.start()
        deadline = time.monotonic() + _START_S
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                return None
            time.sleep(0.005)
        return int(server.servers[0].sockets[0].getsockname()[1])

    def stop(self) -> None:
        """Ask uvicorn to exit and wait for its thread (up to ten seconds)."""
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is not None and thread is not None:
            server.should_exit = True
            thread.join(timeout=_START_S)


async def pump(
    ws: WebSocket,
    queue: asyncio.Queue[str],
    read: Callable[[], Awaitable[_T]],
    on_frame: Callable[[_T], Awaitable[bool]],
    *,
    before_send: Callable[[], Awaitable[bool]] | None = None,
) -> None:
    """Carry an accepted websocket until it ends: every text frame put on ``queue`` is sent
    (:data:`DROP` closes the socket with 1012, "service restart", so clients reconnect; with
    ``before_send``, only when it answers True: it may also wait, as for a journal to settle);
    every frame the client sends is ``read()`` and handed to ``on_frame``, which answers False to
    end the pump (having closed the socket, or not). A client that disconnects ends it quietly;
    what the pump was waiting for is cancelled either way."""
    receive = asyncio.ensure_future(read())
    try:
        while True:
            get = asyncio.ensure_future(queue.get())
            done, _ = await asyncio.wait({receive, get}, return_when=asyncio.FIRST_COMPLETED)
            if get in done:
                frame = get.result()
                if frame == DROP:
                    await ws.close(code=1012)
                    return
                if before_send is None or await before_send():
                    await ws.send_text(frame)
            else:
                get.cancel()
            if receive in done:
                if not await on_frame(receive.result()):
                    return
                receive = asyncio.ensure_future(read())
    except WebSocketDisconnect:
        return
    finally:
        receive.cancel()


def post(loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[str], frame: str) -> None:
    """Put ``frame`` (or :data:`DROP`) on the queue of a socket :func:`pump` carries, from any
    thread; a loop that closed meanwhile gets nothing."""
    with contextlib.suppress(RuntimeError):
        loop.call_soon_threadsafe(queue.put_nowait, frame)


_E = TypeVar("_E", bound=tuple[Any, ...])


class Listeners(Generic[_E]):
    """The sockets a stream's events go to, each an entry ``(loop, queue, ...)`` (the loop and
    queue of the socket's :func:`pump`, then what the stream keeps with them): added and
    discarded on the sockets' loops, read (a snapshot) from the simulation thread."""

    def __init__(self) -> None:
        self._entries: list[_E] = []

    def add(self, entry: _E) -> None:
        if entry not in self._entries:
            self._entries.append(entry)

    def discard(self, entry: _E) -> None:
        with contextlib.suppress(ValueError):
            self._entries.remove(entry)

    def discard_socket(self, queue: asyncio.Queue[str]) -> None:
        """Discard every entry of the socket whose queue is ``queue``."""
        self._entries[:] = [e for e in self._entries if e[1] is not queue]  # in place, as the rest

    @contextlib.contextmanager
    def socket(self) -> Iterator[tuple[asyncio.AbstractEventLoop, asyncio.Queue[str]]]:
        """The loop and a new queue for one socket to :func:`pump` (entered on that loop); at
        the end, whatever entries the socket added are discarded."""
        queue: asyncio.Queue[str] = asyncio.Queue()
        try:
            yield asyncio.get_running_loop(), queue
        finally:
            self.discard_socket(queue)

    def __iter__(self) -> Iterator[_E]:
        return iter(list(self._entries))

    def __len__(self) -> int:
        return len(self._entries)

    def drop(self) -> None:
        """Close every socket with :data:`DROP` (clients reconnect)."""
        for entry in self:
            post(entry[0], entry[1], DROP)


async def json_frame(
    ws: WebSocket, parse_constant: Callable[[str], Any] | None = None
) -> dict[str, Any] | None:
    """The client's next frame, text or binary, as a JSON object; None when it is not one
    (``parse_constant``: what NaN and the infinities become, json's default if None). A closed
    socket raises :class:`WebSocketDisconnect`."""
    message = await ws.receive()
    if message["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(message.get("code", 1000))
    raw = message.get("text")
    if raw is None:
        raw = message.get("bytes") or b""
    try:
        got = json.loads(raw, parse_constant=parse_constant)
    except (ValueError, RecursionError):
        return None
    return got if isinstance(got, dict) else None


class Faults:
    """Faults a local server injects into its next requests, for resilience tests.

    ``fail(status, n, after=True)``: the next ``n`` requests get ``status`` (500, 503, 429...),
    handled first when ``after`` (the order exists, the client only sees the failure) or not at
    all; ``delay(seconds, n)``: the next ``n`` responses come that much later (past a client's
    timeout, the request was still carried out); ``drop_streams()``: close every websocket.
    """

    def __init__(self) -> None:
        self._plan: list[tuple[str, float, bool]] = []
        self.lock = threading.Lock()
        self.injected = 0

    def fail(self, status: int, n: int = 1, *, after: bool = True) -> None:
        with self.lock:
            self._plan += [("fail", status, after)] * n

    def delay(self, seconds: float, n: int = 1) -> None:
        with self.lock:
            self._plan += [("delay", seconds, True)] * n

    def clear(self) -> None:
        with self.lock:
            self._plan.clear()

    def next(self) -> tuple[str, float, bool] | None:
        with self.lock:
            if not self._plan:
                return None
            self.injected += 1
            return self._plan.pop(0)


class Simulation:
    """Every call on the simulation, run on one thread in the order the calls come.

    ``submit(fn)`` queues ``fn`` (a future of its result); ``await run(fn)`` waits for it without
    blocking the event loop; ``call(fn)`` waits for it from any other thread. Each call first runs
    the simulation up to now (``sync``) and holds ``lock`` while it runs, so readers that take the
    lock themselves see a whole step. Before :meth:`start` (and after :meth:`stop`) a call runs at
    once on the caller's thread, under the lock.
    """

    def __init__(self, sync: Callable[[], None], name: str = "sim") -> None:
        self.lock = threading.RLock()
        self._sync, self._name = sync, name
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._ident: int | None = None

    def start(self) -> None:
        if self._pool is None:
            self._pool = concurrent.futures.ThreadPoolExecutor(1, self._name)

    def stop(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)
        self._ident = None  # a later thread may get the old one's ident

    def _job(self, fn: Callable[[], _T]) -> _T:
        self._ident = threading.get_ident()
        with self.lock:
            self._sync()
            return fn()

    def submit(self, fn: Callable[[], _T]) -> concurrent.futures.Future[_T]:
        pool = self._pool
        if pool is not None and threading.get_ident() != self._ident:
            return pool.submit(self._job, fn)
        done: concurrent.futures.Future[_T] = concurrent.futures.Future()
        try:
            done.set_result(self._job(fn))
        except BaseException as e:  # the caller's future carries it, as the pool's would
            done.set_exception(e)
        return done

    async def run(self, fn: Callable[[], _T]) -> _T:
        return await asyncio.wrap_future(self.submit(fn))

    def call(self, fn: Callable[[], _T]) -> _T:
        return self.submit(fn).result()


KEEP_ALIVE_S = 75
"""How long a venue server keeps an idle HTTP connection open for the client's next request.
(uvicorn closes an idle keep-alive connection after 5 s by default; a client that waited about
that long, for a stream event say, then sends on a pooled connection the server is closing and
gets "connection reset". Idle ones are kept as a hosted API does, past any wait a client makes
between two calls.)"""


class ServedClock:
    """The served simulation's time: its start plus the wall time since, times ``speed`` (the
    time :meth:`SimServer._sync` runs the broker to). A :class:`~fillforge.time.Clock`."""

    __slots__ = ("_sim0", "_wall", "_wall0", "speed")

    def __init__(self, wall: Clock, wall0: int, sim0: int, speed: float) -> None:
        self._wall, self._wall0, self._sim0, self.speed = wall, wall0, sim0, speed

    def now_ns(self) -> int:
        return self._sim0 + int((self._wall.now_ns() - self._wall0) * self.speed)

    def __repr__(self) -> str:
        return f"ServedClock(speed={self.speed})"


class Runs(Protocol):
    """The broker a :class:`SimServer` serves: its time, and running it up to a time."""

    def now(self) -> int: ...

    def run(self, max_messages: int | None = None, until_ns: int | None = None) -> int: ...


B = TypeVar("B", bound=Runs)

_TICK_S = 0.02


class SimServer(Generic[B]):
    """A local venue server around one simulated broker: every call on it runs on one simulation
    thread (:attr:`simulation`, whose ``lock`` every call holds), and its clock follows the wall
    clock at ``speed`` (1.0: real time; 60: a minute of data per second) from the broker's time
    at construction: before every call, and every 20 ms in between (a ticker thread), the broker
    runs up to that time. ``speed=None`` leaves the clock to the caller.

    ``start()`` listens (:meth:`_listen`, the subclass's: ``port=0`` gives an ephemeral port)
    and returns once it does, refused with a :class:`SimulationError` naming the port when it
    cannot; ``stop()`` undoes it; a context manager. ``name`` names the threads."""

    name = "sim"
    what = "server"  # what the refusal to start names

    def __init__(
        self, broker: B, *, host: str, port: int, speed: float | None, wall_clock: Clock | None
    ) -> None:
        if speed is not None and not speed > 0:
            raise SimulationError("speed", speed, "a positive factor, or None for a manual clock")
        self.broker = broker
        self.host, self.port = host, port
        self.speed = speed
        self.wall_clock = wall_clock if wall_clock is not None else WallClock()
        self._origin = (self.wall_clock.now_ns(), broker.now())
        self.simulation = Simulation(self._sync, f"{self.name}-sim")
        self.lock = self.simulation.lock  # held by every call on the simulation
        self._serving = False
        self._ticking = threading.Event()
        self._ticker: threading.Thread | None = None

    def _listen(self) -> int | None:
        """Listen on ``host``:``port``; the port bound, or None (having cleaned up) when not."""
        raise NotImplementedError

    def _close(self) -> None:
        """Stop listening (nothing when not listening)."""
        raise NotImplementedError

    def start(self) -> Self:
        self.simulation.start()
        port = self._listen()
        if port is None:
            self._close()
            self.simulation.stop()
            raise SimulationError("port", self.port, f"the {self.what} did not start")
        self.port, self._serving = port, True
        if self.speed is not None:
            self._ticking.set()
            self._ticker = threading.Thread(
                target=self._tick, name=f"{self.name}-clock", daemon=True
            )
            self._ticker.start()
        return self

    def stop(self) -> None:
        self._ticking.clear()
        if self._ticker is not None:
            self._ticker.join(timeout=10)
            self._ticker = None
        self._close()
        self._serving = False
        self.simulation.stop()

    def __enter__(self) -> Self:
        return self if self._serving else self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _tick(self) -> None:
        while self._ticking.is_set():
            self.simulation.call(lambda: None)  # each call runs the clock up to now first
            time.sleep(_TICK_S)

    def sim_clock(self) -> ServedClock:
        """A clock telling the time the served simulation runs to, without a request: what a
        client in this process gives its broker (``AlpacaBroker(clock=...)``) so that its
        timers, and a parent worker on it, run on the data's time at ``speed``. Refused when
        ``speed`` is None (that clock moves only when the caller runs the broker)."""
        if self.speed is None:
            raise SimulationError("speed", None, "a manual clock has no time to tell")
        return ServedClock(self.wall_clock, *self._origin, self.speed)

    def resume_clock(self) -> None:
        """The served clock runs on from the broker's time now (a restored server resumes at
        the journalled time, not where the wall clock would have taken it)."""
        self._origin = (self.wall_clock.now_ns(), self.broker.now())

    def _sync(self) -> None:
        """Run the simulation up to the time the wall clock says it is (on the simulation
        thread, under the lock)."""
        if self.speed is None:
            return
        target = ServedClock(self.wall_clock, *self._origin, self.speed).now_ns()
        if target > self.broker.now():
            self.broker.run(until_ns=target)

    def call(self, fn: Callable[[B], _T]) -> _T:
        """Run ``fn(broker)`` on the simulation thread, in turn with the requests (for scripted
        prices from a test); its result, or what it raised."""
        return self.simulation.call(lambda: fn(self.broker))

    async def run(self, fn: Callable[[], _T]) -> _T:
        """``fn()`` on the simulation thread, awaited without blocking the event loop."""
        return await self.simulation.run(fn)


class HttpSimServer(SimServer[B]):
    """A :class:`SimServer` whose ASGI ``app`` uvicorn serves (:class:`BackgroundServer`, idle
    connections kept :data:`KEEP_ALIVE_S`)."""

    app: Any

    def __init__(
        self, broker: B, *, host: str, port: int, speed: float | None, wall_clock: Clock | None
    ) -> None:
        super().__init__(broker, host=host, port=port, speed=speed, wall_clock=wall_clock)
        self._http: BackgroundServer | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _listen(self) -> int | None:
        self._http = BackgroundServer(
            self.app, name=f"{self.name}-server", keep_alive_s=KEEP_ALIVE_S
        )
        return self._http.start(self.host, self.port)

    def _close(self) -> None:
        http, self._http = self._http, None
        if http is not None:
            http.stop()
