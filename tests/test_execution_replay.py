"""The same algorithm gives the same children and fills on the served Alpaca paper account (wall
clock at a speed factor) as on SimulatedBroker, both replaying the same market data.

The data is a tape of Tardis quote and trade files, built by :func:`tape`. Both sides build
their broker from it the same way (``fillforge.alpaca.data_broker``, the broker behind
``fillforge serve alpaca --data``, with Alpaca's venue rules). The simulator replays it in
simulated time. The server replays it at ``SPEED`` times the wall clock, and the worker on
``AlpacaBroker`` tells the time by the server's clock (``AlpacaServer.sim_clock``). So both
workers are given one and the same parent, in the data's time.

**Why the comparison is deterministic.** On the served account a child reaches the venue a few
milliseconds of wall time after its decision, and a timeout fires a little late. A child sent
later than its twin on the simulator would see another quote if the market moved in between.
The tape therefore holds every price still around each decision point: quotes change and trades
print only at least ``MARGIN`` seconds of data time (``MARGIN / SPEED`` of wall time) away from
a slice, a timeout or the end. Inside that margin, what each child sees and what fills it is
fixed by the tape. The test says exactly what must be equal: each child's client order id, side,
type, quantity and limit price, in order; its filled quantity and final status; and each fill's
child, quantity and price, in order. Only the times may differ, and each fill must land within
``MARGIN`` of its twin's time.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest
from polling import eventually
from served_helpers import alpaca_broker

from fillforge.alpaca import AlpacaServer, data_broker
from fillforge.broker import Broker
from fillforge.errors import SimulationError
from fillforge.execution.adaptive import AdaptiveMix, AdaptivePricing
from fillforge.execution.parent import ParentOrder, ParentState, WorkRules
from fillforge.execution.worker import ParentWorker
from fillforge.orders.enums import OrderSide
from fillforge.orders.models import Instrument
from fillforge.sim.broker import SimulatedBroker
from fillforge.sim.datafiles import MarketFiles, market_files
from fillforge.time import NS_PER_SECOND, from_iso

D = Decimal
S = NS_PER_SECOND
MS = S // 1000
INST = Instrument(symbol="TEST", tick_size=D("0.01"))
SPEED = 5.0  # seconds of data per second of wall time on the served account
MARGIN = 3  # seconds of data time between a decision point and the nearest market change
T0 = from_iso("2026-11-23T10:00:00-05:00")  # a Monday in the session: the data's first quote
LEAD = 30  # seconds from the data's start to the parent's (6 s of wall time at SPEED): the
# served worker is set up and started before the parent starts, even on a loaded machine
START = T0 + LEAD * S
SLICE = 14  # seconds between the TWAP's slices
TIMEOUT = 6  # seconds a resting child waits before it is cancelled and the fallback runs

# Seconds from the parent's start; a quote is (bid, bid size, ask, ask size), a trade is
# (aggressor side, price, size). Decisions (slices at 0, 14, 28; timeouts near 6, 20, 34;
# the end at 42) are at least MARGIN from every change.
QUOTES: list[tuple[int, str, int, str, int]] = [
    (-LEAD, "100.00", 500, "100.02", 500),
    (10, "100.04", 500, "100.06", 500),
    (24, "100.10", 500, "100.12", 300),
]
TRADES: list[tuple[int, str, str, int]] = [
    (3, "sell", "100.00", 540),  # 500 shown at the bid first, then 40 of a child there
    (17, "sell", "100.04", 700),
]
DECISIONS = [0, TIMEOUT, SLICE, SLICE + TIMEOUT, 2 * SLICE, 2 * SLICE + TIMEOUT, 3 * SLICE]


def test_the_tape_holds_still_around_every_decision_point() -> None:
    changes = [q[0] for q in QUOTES] + [t[0] for t in TRADES]
    assert all(abs(c - d) >= MARGIN for c in changes for d in DECISIONS)


def _us(seconds: int) -> int:
    return (START + seconds * S) // 1000


def tape(directory: Path) -> MarketFiles:
    """The scripted tape as a Tardis quotes file and a trades file."""
    quotes = ["exchange,symbol,timestamp,local_timestamp,ask_amount,ask_price,bid_price,bid_amount"]
    for t, bid, bid_size, ask, ask_size in QUOTES:
        quotes.append(f"tape,TEST,{_us(t)},{_us(t)},{ask_size},{ask},{bid},{bid_size}")
    trades = ["exchange,symbol,timestamp,local_timestamp,id,side,price,amount"]
    for i, (t, side, price, size) in enumerate(TRADES, 1):
        trades.append(f"tape,TEST,{_us(t)},{_us(t)},{i},{side},{price},{size}")
    (directory / "quotes.csv").write_text("\n".join(quotes) + "\n")
    (directory / "trades.csv").write_text("\n".join(trades) + "\n")
    return market_files([directory / "quotes.csv", directory / "trades.csv"])


def venue_broker(files: MarketFiles) -> SimulatedBroker:
    """The broker both sides replay the tape on: the served account's, Alpaca's rules and all."""
    return data_broker(files, INST, start_ns=T0, seed=7)


# ----- the policies -----------------------------------------------------------------------------

Policy = Callable[[Broker], ParentWorker]


def _spec() -> ParentOrder:
    return ParentOrder(
        parent_id="R1",
        symbol="TEST",
        side=OrderSide.BUY,
        qty=D(300),
        start_ns=START,
        end_ns=START + 3 * SLICE * S,
        decision_price=D("100.01"),
        # A market child goes as an immediate-or-cancel limit at this price, not as a market
        # order the venue's rules would turn into a collared limit of their own.
        limit_price=D("100.50"),
    )


RULES = WorkRules(timeout_ns=TIMEOUT * S, max_attempts=1, fallback="market")


def twap(broker: Broker) -> ParentWorker:
    """TWAP in three slices at the near touch, each child cancelled after the timeout and its
    remainder sent at market (at the parent's limit, immediate or cancel)."""
    return ParentWorker(broker, _spec(), INST, rules=RULES, slices=3)


def adaptive_twap(broker: Broker) -> ParentWorker:
    """The same TWAP priced by the adaptive mix: a fresh slice is a third of the parent behind,
    so it improves the bid by a tick, and it crosses once half the parent is behind."""
    pricing = AdaptivePricing(AdaptiveMix(D("0.2"), D("0.5")), INST.tick_size)
    w = ParentWorker(broker, _spec(), INST, rules=RULES, slices=3, pricing=pricing)
    pricing.follow(w.progress)
    return w


# ----- what must be equal -----------------------------------------------------------------------

Child = tuple[str, str, str, str, Decimal, Decimal | None, Decimal, str]
FillRow = tuple[str, Decimal, Decimal]


def outcome(broker: Broker, w: ParentWorker) -> tuple[list[Child], list[FillRow], list[int]]:
    """The children (client order id, side, type, time in force, qty, limit, filled, status) in
    order, the
    fills (child, qty, price) in time order, and the fills' times."""
    kids = broker.manager.children("R1")  # type: ignore[attr-defined]
    assert [o.id for o in kids] == [o.id for o in w.children]
    children = [
        (
            o.client_order_id,
            o.request.side.value,
            o.request.type.value,
            o.request.time_in_force.value,
            o.order_qty,
            o.limit_price,
            o.cum_qty,
            o.status.value,
        )
        for o in kids
    ]
    fills = w.fills
    rows = [(broker.get_order(f.order_id).client_order_id, f.qty, f.price) for f in fills]
    return children, rows, [f.ts_event for f in fills]


def on_simulator(policy: Policy, files: MarketFiles) -> tuple[ParentWorker, SimulatedBroker]:
    sim = venue_broker(files)
    w = policy(sim)
    w.start()
    sim.run(until_ns=START + (3 * SLICE + 5) * S)
    return w, sim


def test_the_served_clock_tells_the_time_the_server_runs_to(tmp_path: Path) -> None:
    files = tape(tmp_path)
    keys = {"key_id": "PKTEST", "secret_key": secrets.token_urlsafe(24)}
    with AlpacaServer(venue_broker(files), speed=SPEED, **keys) as server:
        clock = server.sim_clock()
        before = clock.now_ns()
        ran_to = server.call(lambda b: b.now())  # each call runs the data up to now first
        assert T0 <= before <= ran_to <= clock.now_ns()
        assert clock.speed == SPEED
    manual = AlpacaServer(venue_broker(files), speed=None, **keys)
    with pytest.raises(SimulationError, match="speed"):
        manual.sim_clock()


@pytest.mark.parametrize("policy", [twap, adaptive_twap], ids=["twap", "adaptive_twap"])
def test_the_same_children_and_fills_on_the_served_account_and_the_simulator(
    policy: Policy, tmp_path: Path
) -> None:
    files = tape(tmp_path)
    ws, sim = on_simulator(policy, files)
    want_children, want_fills, want_times = outcome(sim, ws)

    server = AlpacaServer(
        venue_broker(files),
        key_id=f"PK{secrets.token_hex(8).upper()}",
        secret_key=secrets.token_urlsafe(24),
        speed=SPEED,
    )
    with server:
        live = alpaca_broker(server, clock=server.sim_clock())  # the data's time, as replayed
        try:
            live.connect()
            # The broker's timer thread waits in wall seconds as if its clock ran at 1x; a
            # recurring 2 ms timer keeps it re-reading the faster clock.
            live.set_timer("heartbeat", lambda t: None, every_ns=2 * MS)
            assert live.now_ns() < START  # the worker starts before the parent does
            wl = policy(live)
            wl.start()
            eventually(lambda: wl.parent.state.is_done, (3 * SLICE + LEAD) / SPEED + 15)
            got_children, got_fills, got_times = outcome(live, wl)
            state, filled = wl.parent.state, wl.progress().filled
        finally:
            live.close()

    assert ws.parent.state is state is ParentState.COMPLETED
    assert filled == ws.progress().filled == D(300)
    assert got_children == want_children
    assert got_fills == want_fills
    assert all(abs(a - b) < MARGIN * S for a, b in zip(got_times, want_times, strict=True))


def test_the_tape_makes_each_rule_fire_on_the_simulator(tmp_path: Path) -> None:
    # What the comparison above compares: a part-filled child timed out to market (an
    # immediate-or-cancel limit at the parent's limit, filled at the ask), a child filled
    # resting, a child timed out unfilled to market.
    w, sim = on_simulator(twap, tape(tmp_path))
    children, fills, _ = outcome(sim, w)
    assert children == [
        ("R1-c1", "buy", "limit", "day", D(100), D("100.00"), D(40), "canceled"),
        ("R1-c2", "buy", "limit", "ioc", D(60), D("100.50"), D(60), "filled"),
        ("R1-c3", "buy", "limit", "day", D(100), D("100.04"), D(100), "filled"),
        ("R1-c4", "buy", "limit", "day", D(100), D("100.10"), D(0), "canceled"),
        ("R1-c5", "buy", "limit", "ioc", D(100), D("100.50"), D(100), "filled"),
    ]
    assert fills == [
        ("R1-c1", D(40), D("100.00")),
        ("R1-c2", D(60), D("100.02")),
        ("R1-c3", D(100), D("100.04")),
        ("R1-c5", D(100), D("100.12")),
    ]
