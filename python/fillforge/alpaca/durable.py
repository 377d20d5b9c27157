"""The Alpaca paper server's state in a journal: a kill -9 and a restart lose nothing.

The served simulation is deterministic (the same data, seed and start, and the same requests at
the same simulated times, give the same events byte for byte), and its state lives partly in the
Rust engines, so the journal holds the server's *inputs*, not snapshots of its state:

- ``server.config`` (the first record): the options that shape the simulation (data, quotes,
  walk, cash, calendar...), the seed and the start time a first start chose;
- ``server.op``: every operation a request applied (:mod:`fillforge.alpaca.operations`: orders
  submitted, replaced, canceled, positions closed, the configuration patched, watchlists changed,
  the equity history marked), with the simulated time it ran at, its arguments (the request's
  body, the ids in its path, any id the server chose) and the number of orders before it (a
  replay that diverges is caught there). Written on the simulation thread *before* the operation
  runs;
- ``server.clock``: the simulated time a client could see, appended before every answer (with
  the key and wall time of the request, for the rate windows) and once a second;
- ``server.start``: each (re)start, for the record.

Nothing is shown before it is durable: every HTTP answer, and every ``trade_updates`` frame,
waits for :meth:`ServerJournal.settle`, which makes the journal durable (group-committed fsync)
whenever an operation or an order event happened since the last time. So an acknowledged
operation is never lost, and an id a client saw is never given again.

A restart (:meth:`ServerJournal.restore`, on a server built from the same setup) applies every
journalled operation again at its simulated time, runs the simulation to the last journalled
time, refills the rate windows with the last minute's requests, and serves on from there: the
simulated clock resumes where the journal says it was (the wall time the server was down is not
simulated). See docs/alpaca-durable.md.
"""

from __future__ import annotations

import asyncio
import os
import random
import threading
import time
from collections import deque
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from fillforge.errors import JournalError
from fillforge.journal import Journal, Record
from fillforge.orders.models import OrderEvent
from fillforge.throttle import RateLimiter, SlidingWindow, key_of
from fillforge.time import NS_PER_MINUTE, Clock, WallClock, to_datetime

if TYPE_CHECKING:
    from fillforge.alpaca.server import AlpacaServer

__all__ = [
    "CLOCK",
    "CONFIG",
    "JOURNAL_NAME",
    "OP",
    "START",
    "Restored",
    "ServerJournal",
    "ServerSetup",
    "default_journal_path",
    "open_served",
]

CONFIG: Final = "server.config"
OP: Final = "server.op"
CLOCK: Final = "server.clock"
START: Final = "server.start"
JOURNAL_NAME: Final = "alpaca-paper.journal"
CHECKPOINT_S: Final = 1.0
"""How often (wall seconds) the simulated time is journalled when nothing else journals it."""


def default_journal_path(env: dict[str, str] | None = None) -> Path:
    """Where ``--journal default`` keeps the journal: ``$FILLFORGE_STATE_DIR/alpaca-paper.journal``,
    else under ``$XDG_STATE_HOME/fillforge``, else ``~/.local/state/fillforge`` (the directory is
    created)."""
    e = os.environ if env is None else env
    state = e.get("FILLFORGE_STATE_DIR")
    if state:
        base = Path(state)
    else:
        xdg = e.get("XDG_STATE_HOME")
        base = (Path(xdg) if xdg else Path.home() / ".local" / "state") / "fillforge"
    try:
        base.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise JournalError("path", str(base), f"cannot create the state directory: {err}") from None
    return base / JOURNAL_NAME


def open_served(
    target: str,
    options: dict[str, Any],
    seed: int | None,
    start_ns: int | None,
    *,
    fresh: bool,
    wall: Clock | None = None,
) -> ServerJournal:
    """``fillforge serve alpaca --journal TARGET``'s journal: ``default`` is
    :func:`default_journal_path`; the rest as :meth:`ServerJournal.open` (``fresh``: scripted
    data, whose first start takes the wall clock's time)."""
    path: str | Path = default_journal_path() if target == "default" else target
    setup = ServerSetup(options, seed, start_ns, fresh_start=fresh)
    return ServerJournal.open(path, setup, wall=wall)


@dataclass(frozen=True)
class ServerSetup:
    """What shapes the served simulation. ``options``: the command's options as given (JSON
    values; a restart must give the same). ``seed``, ``start_ns``: None lets a first start
    choose (a fresh seed, the wall clock's time for scripted data) and a restart take the
    journal's; a value given must equal the journal's."""

    options: dict[str, Any]
    seed: int | None = None
    start_ns: int | None = None
    fresh_start: bool = False
    """Whether a first start without ``start_ns`` takes the wall clock's time (scripted data;
    data files start at their first message)."""


@dataclass(frozen=True)
class Restored:
    """What a restart found in the journal and did with it."""

    records: int
    operations: int
    refused: int
    """Operations that were refused again, as they were the first time."""
    clock_ns: int
    """The simulated time the server resumes at."""
    rate_entries: int
    """Requests of the last minute put back in the rate windows."""
    seconds: float
    """How long the replay took (wall time)."""
    cpu_seconds: float
    """The processor time it took (what a loaded machine does not stretch)."""

    def summary(self) -> str:
        if not self.records:
            return "new"
        return (
            f"restored {self.operations:,} operations ({self.refused:,} refused again) from "
            f"{self.records:,} records in {self.seconds:.2f} s ({self.cpu_seconds:.2f} s CPU); "
            f"the clock resumes at "
            f"{to_datetime(self.clock_ns).isoformat()}"
        )


@dataclass
class _Window:
    """The last minute's admitted requests (wall ns, key), oldest first."""

    span_ns: int
    entries: deque[tuple[int, str]] = field(default_factory=deque)

    def add(self, wall: int, key: str) -> None:
        self.entries.append((wall, key))
        while self.entries and self.entries[0][0] <= wall - self.span_ns:
            self.entries.popleft()


class ServerJournal:
    """The journal of one paper server: :meth:`open` it with the setup, build the broker from
    :attr:`setup`, build the server, :meth:`restore` it, serve; :meth:`close` at the end."""

    def __init__(self, journal: Journal, setup: ServerSetup, config_seq: int, wall: Clock) -> None:
        self.journal = journal
        self.setup = setup
        self._config_seq = config_seq
        self._wall = wall
        self._server: AlpacaServer | None = None
        # The last seq that must be durable before an answer goes out (an operation's, or the
        # clock's after an order event), and whether an order event came since the last answer.
        self._needed = 0
        self._needed_lock = threading.Lock()
        self._event = False
        self._stop = threading.Event()
        self._checkpoints: threading.Thread | None = None
        self._last_t = -1

    @classmethod
    def open(
        cls, target: str | os.PathLike[str], setup: ServerSetup, *, wall: Clock | None = None
    ) -> ServerJournal:
        """Open (or create) the journal at ``target`` (a path, or a ``postgresql://`` URL).

        A new journal records ``setup`` (a seed drawn if none is given, the start time taken
        from ``wall`` if ``setup.fresh_start``). An existing one must be a paper server's and
        must have been started with the same options: a difference is a
        :class:`~fillforge.errors.JournalError` naming the option; its seed and start are the
        setup in force (:attr:`setup`)."""
        clock = wall if wall is not None else WallClock()
        journal = Journal.open(target, clock=clock)
        try:
            first = next(iter(journal.records()), None)
            if first is None:
                chosen = _first_setup(setup, clock)
                seq = journal.write_ahead(CONFIG, asdict(chosen))
                return cls(journal, chosen, seq, clock)
            if first.kind != CONFIG:
                why = f"not a paper server's journal: its first record is {first.kind}"
                raise JournalError("path", journal.name, why)
            stored = _setup_from(first.payload, journal.name)
            _check_same(setup, stored, journal.name)
            return cls(journal, stored, first.seq, clock)
        except BaseException:
            journal.close()
            raise

    # ----- restart ------------------------------------------------------------------------------

    def restore(self, server: AlpacaServer) -> Restored:
        """Replay the journal into ``server`` (built from :attr:`setup`, not started yet), then
        journal it from now on. A replay that does not give the journalled state is refused
        with a :class:`~fillforge.errors.JournalError` naming the record."""
        began, cpu = time.perf_counter(), time.process_time()
        broker = server.broker
        final = broker.now()
        limit = server.limiter.limits[0]
        window = _Window(limit.window_ns if isinstance(limit, SlidingWindow) else NS_PER_MINUTE)
        records = operations = refused = 0
        for r in self.journal.records(since=self._config_seq):
            records += 1
            if r.kind == OP:
                t, name, args, orders = _operation(r)
                if t > broker.now():
                    broker.run(until_ns=t)
                if len(broker.manager) != orders:
                    why = (
                        f"the replay diverged before {name}: {len(broker.manager)} orders, "
                        f"the journal says {orders} (another fillforge version or data?)"
                    )
                    raise JournalError("seq", r.seq, why)
                operations += 1
                try:
                    server.ops.replay(name, args)
                except Exception:  # refused again, exactly as it was the first time
                    refused += 1
                final = max(final, t)
            elif r.kind == CLOCK:
                t, wall, key = _clock(r)
                final = max(final, t)
                if key is not None:
                    window.add(wall, key)
        if final > broker.now():
            broker.run(until_ns=final)
        rate = _refill(server.limiter, window, self._wall.now_ns())
        server.resume_clock()
        self._attach(server)
        done = Restored(
            records=records,
            operations=operations,
            refused=refused,
            clock_ns=broker.now(),
            rate_entries=rate,
            seconds=time.perf_counter() - began,
            cpu_seconds=time.process_time() - cpu,
        )
        self.journal.write_ahead(
            START,
            {"wall": self._wall.now_ns(), "t": done.clock_ns, "operations": operations},
        )
        return done

    def _attach(self, server: AlpacaServer) -> None:
        self._server = server
        self._last_t = server.broker.now()
        server.ops.listen(self._on_operation)
        server.broker.subscribe(self._on_event)
        server.journal = self
        self._checkpoints = threading.Thread(
            target=self._checkpoint_loop, name="alpaca-journal-clock", daemon=True
        )
        self._checkpoints.start()

    # ----- while serving --------------------------------------------------------------------------

    def _on_operation(self, name: str, args: dict[str, Any]) -> None:
        """Journal an operation before it runs (on the simulation thread)."""
        assert self._server is not None
        broker = self._server.broker
        seq = self.journal.append(
            OP, {"t": broker.now(), "op": name, "args": args, "orders": len(broker.manager)}
        )
        self._need(seq)

    def _on_event(self, e: OrderEvent) -> None:
        self._event = True  # a fill or a status change a client may see next

    def _need(self, seq: int) -> None:
        with self._needed_lock:
            self._needed = max(self._needed, seq)

    async def settle(self, key: str | None) -> None:
        """Before an answer (``key``: the request's key id, for the rate windows) or a stream
        frame (``key`` None) is sent: journal the simulated time it shows and wait until every
        operation so far (and, after an order event, that time) is durable."""
        assert self._server is not None
        # Under the lock: an answer that finds the event taken by another one waits for the
        # time that one journals for it.
        with self._needed_lock:
            event, self._event = self._event, False  # an event from now on marks it again
            t = self._server.broker.now()
            if key is not None or event:
                payload: dict[str, Any] = {"t": t, "wall": self._wall.now_ns()}
                if key is not None:
                    payload["key"] = key
                self._last_t = max(self._last_t, t)
                seq = self.journal.append(CLOCK, payload)
                if event:
                    self._needed = max(self._needed, seq)
            needed = self._needed
        if self.journal.durable_seq < needed:
            await asyncio.to_thread(self.journal.sync)

    def _checkpoint_loop(self) -> None:
        while not self._stop.wait(CHECKPOINT_S):
            self.checkpoint()

    def checkpoint(self) -> None:
        """Journal the simulated time if it moved since it was last journalled."""
        server = self._server
        if server is None:
            return
        t = server.broker.now()
        if t > self._last_t:
            self._last_t = t
            try:
                self.journal.append(CLOCK, {"t": t, "wall": self._wall.now_ns()})
            except JournalError:  # closed meanwhile
                return

    def close(self) -> None:
        """Journal the time, stop, and close the journal (after the server has stopped)."""
        self._stop.set()
        if self._checkpoints is not None:
            self._checkpoints.join(timeout=5)
        self.checkpoint()
        self.journal.close()

    def __repr__(self) -> str:
        return f"ServerJournal({self.journal.name!r})"


# ----- records -----------------------------------------------------------------------------------


def _operation(r: Record) -> tuple[int, str, dict[str, Any], int]:
    """A ``server.op`` record's time, operation, arguments and order count."""
    try:
        p = r.payload
        args = p["args"]
        if not isinstance(args, dict):
            raise TypeError("args is not an object")
        return int(p["t"]), str(p["op"]), args, int(p["orders"])
    except (KeyError, TypeError, ValueError) as e:
        raise JournalError("seq", r.seq, f"not a server.op record: {e!r}") from None


def _clock(r: Record) -> tuple[int, int, str | None]:
    """A ``server.clock`` record's simulated time, wall time and key (None: a checkpoint)."""
    try:
        p = r.payload
        key = p.get("key")
        return int(p["t"]), int(p["wall"]), None if key is None else str(key)
    except (KeyError, TypeError, ValueError) as e:
        raise JournalError("seq", r.seq, f"not a server.clock record: {e!r}") from None


# ----- the setup ---------------------------------------------------------------------------------


def _first_setup(setup: ServerSetup, wall: Clock) -> ServerSetup:
    seed = setup.seed if setup.seed is not None else random.SystemRandom().getrandbits(63)
    start = setup.start_ns
    if start is None and setup.fresh_start:
        start = wall.now_ns()
    return ServerSetup(dict(setup.options), seed, start, setup.fresh_start)


def _setup_from(payload: dict[str, Any], name: str) -> ServerSetup:
    try:
        return ServerSetup(
            dict(payload["options"]),
            int(payload["seed"]),
            None if payload["start_ns"] is None else int(payload["start_ns"]),
            bool(payload["fresh_start"]),
        )
    except (KeyError, TypeError, ValueError) as e:
        raise JournalError("path", name, f"its server.config record is damaged: {e}") from None


def _check_same(given: ServerSetup, stored: ServerSetup, name: str) -> None:
    """A restart's options must be the journal's (seed and start: when given)."""
    for option in sorted(set(given.options) | set(stored.options)):
        mine, theirs = given.options.get(option), stored.options.get(option)
        if mine != theirs:
            _differs(option, mine, theirs, name)
    if given.seed is not None and given.seed != stored.seed:
        _differs("seed", given.seed, stored.seed, name)
    if given.start_ns is not None and given.start_ns != stored.start_ns:
        _differs("start", given.start_ns, stored.start_ns, name)


def _differs(option: str, mine: object, theirs: object, name: str) -> None:
    why = (
        f"the journal {name} was started with {theirs!r}: restart with the options it was "
        "started with, or give a new journal"
    )
    raise JournalError(f"--{option.replace('_', '-')}", mine, why)


def _refill(limiter: RateLimiter, window: _Window, wall_now: int) -> int:
    """Put the last minute's admitted requests back in ``limiter``'s windows, each as old as it
    is by the wall clock (the limiter's own clock is monotonic); how many."""
    mono_now = limiter.now()
    n = 0
    for wall, key in sorted(window.entries):
        age = wall_now - wall
        if 0 <= age < window.span_ns:
            limiter.core.try_acquire(key_of(key), mono_now - age, 1)
            n += 1
    return n
