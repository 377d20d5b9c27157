"""Session gates on a scripted SimulatedBroker (XNYS): the opening gate blocks then admits, the
closing gate reduces (or blocks), an exit passes a closed gate, and the end-of-day flatten fires
at close - N on a normal day and on an early close (2024-11-29), closing only the positions
tagged intraday."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from time_helpers import ny

from fillforge.errors import ExecutionError
from fillforge.execution.gates import Decision, Flattener, GateReason, SessionGates, reduces
from fillforge.execution.parent import ParentOrder, ParentState, WorkRules
from fillforge.execution.worker import ParentWorker
from fillforge.orders.enums import OrderSide, OrderStatus
from fillforge.orders.models import Instrument, OrderRequest
from fillforge.risk.gate import RiskGate
from fillforge.sim.broker import SimulatedBroker
from fillforge.sim.calendar import TradingCalendar
from fillforge.sim.feeds import empty_feed
from fillforge.sim.venue import Venue

D = Decimal
SECOND = 10**9
MINUTE = 60 * SECOND
XNYS = TradingCalendar("XNYS")
MONDAY, TUESDAY = "2026-12-07", "2026-12-08"
BLACK_FRIDAY = "2024-11-29"  # NYSE closes at 13:00


def _broker(start_ns: int, symbols: tuple[str, ...] = ("X",)) -> SimulatedBroker:
    venue = Venue("V", calendar=XNYS)
    for s in symbols:
        venue.add(Instrument(symbol=s, tick_size=D("0.01")), empty_feed())
    b = SimulatedBroker(venue, cash=D(1_000_000), start_ns=start_ns)
    for s in symbols:
        b.quote(s, D("100.00"), D("100.02"), bid_size=D(10_000), ask_size=D(10_000))
    return b


def _buy(symbol: str, qty: Decimal, side: str = "buy") -> OrderRequest:
    return OrderRequest(symbol=symbol, side=side, type="market", qty=qty)  # type: ignore[arg-type]


def _send_admitted(b: SimulatedBroker, gates: SessionGates, qty: Decimal) -> Decision:
    """What a strategy does: ask the gate at the broker's time, send what it admits."""
    d = gates.admit(b.now(), qty, is_exit=False)
    if d.admitted:
        b.submit(_buy("X", d.qty))
    return d


# ----- the gates -------------------------------------------------------------------------------


def test_the_opening_gate_blocks_then_admits() -> None:
    b = _broker(ny(MONDAY, "09:31"))
    gates = SessionGates(XNYS, open_minutes=15)
    d = _send_admitted(b, gates, D(100))
    assert d == Decision(D(0), GateReason.OPENING)
    assert b.orders() == []
    assert b.positions().get("X") is None
    b.run(until_ns=ny(MONDAY, "09:44:59"))
    assert _send_admitted(b, gates, D(100)).reason is GateReason.OPENING
    b.run(until_ns=ny(MONDAY, "09:45"))  # open + 15 min: the gate has opened
    assert _send_admitted(b, gates, D(100)) == Decision(D(100), GateReason.OPEN)
    assert b.positions()["X"].qty == 100


def test_the_closing_gate_reduces_entries_to_the_lot_grid() -> None:
    b = _broker(ny(MONDAY, "15:49"))
    gates = SessionGates(XNYS, close_minutes=10, close_factor=D("0.5"), lot=D(10))
    assert _send_admitted(b, gates, D(130)) == Decision(D(130), GateReason.OPEN)
    b.run(until_ns=ny(MONDAY, "15:50"))
    assert _send_admitted(b, gates, D(130)) == Decision(D(60), GateReason.CLOSING)  # 65 -> 60
    assert _send_admitted(b, gates, D(10)) == Decision(D(0), GateReason.CLOSING)  # 5 -> 0 lots
    assert b.positions()["X"].qty == 190
    b.run(until_ns=ny(MONDAY, "16:00"))
    assert gates.admit(b.now(), D(10), False).reason is GateReason.CLOSED


def test_the_closing_gate_without_a_factor_blocks_entries() -> None:
    gates = SessionGates(XNYS, close_minutes=30)
    assert gates.admit(ny(MONDAY, "15:29"), D(5), False) == Decision(D(5), GateReason.OPEN)
    assert gates.admit(ny(MONDAY, "15:30"), D(5), False) == Decision(D(0), GateReason.CLOSING)
    assert gates.admit(ny(MONDAY, "15:59"), D(5), False).qty == 0


def test_an_early_close_moves_the_closing_gate() -> None:
    gates = SessionGates(XNYS, close_minutes=30)
    assert gates.admit(ny(BLACK_FRIDAY, "12:29"), D(5), False).reason is GateReason.OPEN
    assert gates.admit(ny(BLACK_FRIDAY, "12:30"), D(5), False).reason is GateReason.CLOSING
    assert gates.admit(ny(BLACK_FRIDAY, "13:00"), D(5), False).reason is GateReason.CLOSED
    # the same gates on a normal day, and back (each session's own close)
    assert gates.admit(ny(MONDAY, "12:30"), D(5), False).reason is GateReason.OPEN
    assert gates.admit(ny(MONDAY, "15:30"), D(5), False).reason is GateReason.CLOSING
    assert gates.admit(ny(BLACK_FRIDAY, "12:45"), D(5), False).reason is GateReason.CLOSING


def test_no_entry_outside_a_session_and_gates_off_pass_everything() -> None:
    off = SessionGates(XNYS)
    assert off.admit(ny(MONDAY, "09:30"), D(7), False) == Decision(D(7), GateReason.OPEN)
    assert off.admit(ny(MONDAY, "15:59"), D(7), False).qty == 7
    assert off.admit(ny(MONDAY, "09:29"), D(7), False) == Decision(D(0), GateReason.CLOSED)
    assert off.admit(ny("2026-12-05", "12:00"), D(7), False).reason is GateReason.CLOSED


def test_an_exit_passes_a_closed_gate_on_the_broker() -> None:
    b = _broker(ny(MONDAY, "15:00"))
    b.submit(_buy("X", D(100)))
    b.run(until_ns=ny(TUESDAY, "09:31"))  # the next morning, inside the opening gate
    gates = SessionGates(XNYS, open_minutes=15)
    pos = b.positions()["X"].qty
    assert pos == 100
    sell_all = reduces(pos, OrderSide.SELL, D(100))
    flip = reduces(pos, OrderSide.SELL, D(150))  # opens a short: an entry
    assert (sell_all, flip) == (True, False)
    assert gates.admit(b.now(), D(150), is_exit=flip).qty == 0
    d = gates.admit(b.now(), D(100), is_exit=sell_all)
    assert d == Decision(D(100), GateReason.EXIT)
    b.submit(_buy("X", d.qty, "sell"))
    assert b.positions().get("X") is None or b.positions()["X"].qty == 0
    # outside a session too
    assert gates.admit(ny(TUESDAY, "20:00"), D(1), is_exit=True).reason is GateReason.EXIT


@pytest.mark.parametrize(
    ("pos", "side", "qty", "exit_"),
    [
        (D(100), OrderSide.SELL, D(100), True),
        (D(100), OrderSide.SELL, D(101), False),
        (D(100), OrderSide.BUY, D(1), False),
        (D(-50), OrderSide.BUY, D(50), True),
        (D(-50), OrderSide.BUY, D(51), False),
        (D(-50), OrderSide.SELL, D(1), False),
        (D(0), OrderSide.SELL, D(1), False),
        (D(10), OrderSide.SELL, D(0), False),
    ],
)
def test_reduces_is_reduce_only(pos: Decimal, side: OrderSide, qty: Decimal, exit_: bool) -> None:
    assert reduces(pos, side, qty) is exit_


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"open_minutes": -1}, "open_minutes"),
        ({"close_minutes": -5}, "close_minutes"),
        ({"close_minutes": 5, "close_factor": D(0)}, "close_factor"),
        ({"close_minutes": 5, "close_factor": D("1.5")}, "close_factor"),
        ({"close_minutes": 5, "close_factor": D("-0.1")}, "close_factor"),
        ({"lot": D(0)}, "lot"),
        ({"open_minutes": "ten"}, "open_minutes"),
    ],
)
def test_bad_gate_parameters_are_refused_naming_the_field(
    kwargs: dict[str, object], field: str
) -> None:
    with pytest.raises(ExecutionError) as e:
        SessionGates(XNYS, **kwargs)  # type: ignore[arg-type]
    assert e.value.field == field


def test_bad_admit_arguments_and_calendars_are_refused() -> None:
    gates = SessionGates(XNYS)
    with pytest.raises(ExecutionError) as e:
        gates.admit(ny(MONDAY, "10:00"), D(0), False)
    assert e.value.field == "qty"
    with pytest.raises(ExecutionError) as e:
        SessionGates(object())  # type: ignore[arg-type]
    assert e.value.field == "calendar"


@given(
    qty=st.integers(1, 10**6),
    lot=st.sampled_from([1, 10, 100]),
    factor=st.decimals(D("0.01"), D(1), places=2),
    minute=st.integers(0, 389),
    is_exit=st.booleans(),
)
def test_a_gate_never_admits_more_than_asked_and_keeps_the_lot_grid(
    qty: int, lot: int, factor: Decimal, minute: int, is_exit: bool
) -> None:
    gates = SessionGates(XNYS, open_minutes=15, close_minutes=20, close_factor=factor, lot=D(lot))
    q = D(qty * lot)
    d = gates.admit(ny(MONDAY, "09:30") + minute * MINUTE, q, is_exit)
    assert 0 <= d.qty <= q
    assert d.qty % lot == 0
    if is_exit:
        assert d == Decision(q, GateReason.EXIT)
    elif minute < 15:
        assert d.reason is GateReason.OPENING
        assert d.qty == 0
    elif minute >= 370:
        assert d.reason is GateReason.CLOSING
        assert q * factor - lot < d.qty <= q * factor
    else:
        assert d == Decision(q, GateReason.OPEN)


# ----- the flatten -----------------------------------------------------------------------------


def _fills_at(b: SimulatedBroker, symbol: str) -> list[int]:
    return [f.ts_event for o in b.orders(symbol=symbol) for f in o.fills.values()]


@pytest.mark.parametrize(
    ("day", "close"),
    [(MONDAY, "16:00"), (BLACK_FRIDAY, "13:00")],
    ids=["normal-day", "early-close"],
)
def test_the_flatten_fires_at_close_minus_n_and_closes_only_tagged_positions(
    day: str, close: str
) -> None:
    b = _broker(ny(day, "10:00"), ("X", "Y"))
    b.submit(_buy("X", D(300)))
    b.submit(_buy("Y", D(50)))
    rest = b.submit(
        OrderRequest(symbol="X", side="buy", type="limit", qty=D(10), limit_price=D("90.00"))
    )
    f = Flattener(b, XNYS, 5, tagged=["X"])
    due = f.arm()
    assert due == ny(day, close) - 5 * MINUTE
    assert f.due_ns == due
    b.run(until_ns=due - 1)
    assert f.sent == []
    assert b.positions()["X"].qty == 300
    b.run(until_ns=due + SECOND)
    assert b.positions().get("X") is None or b.positions()["X"].qty == 0
    assert b.positions()["Y"].qty == 50  # untagged: kept
    [order] = f.sent
    assert (order.request.side, order.order_qty) == (OrderSide.SELL, D(300))
    assert b.get_order(order.id).status is OrderStatus.FILLED
    assert b.get_order(rest.id).status is OrderStatus.CANCELED  # could have reopened it
    assert max(_fills_at(b, "X")) == due
    assert f.due_ns is None


def test_the_flatten_armed_before_the_open_is_for_that_session_and_repeats() -> None:
    b = _broker(ny(MONDAY, "07:00"))
    f = Flattener(b, XNYS, 10, tagged=["X"], repeat=True)
    assert f.arm() == ny(MONDAY, "15:50")
    b.run(until_ns=ny(MONDAY, "10:00"))
    b.submit(_buy("X", D(20)))
    b.run(until_ns=ny(MONDAY, "15:51"))
    assert [o.order_qty for o in f.sent] == [D(20)]
    assert f.due_ns == ny(TUESDAY, "15:50")  # armed again for the next session
    b.run(until_ns=ny(TUESDAY, "10:00"))
    b.quote("X", D("100.00"), D("100.02"), bid_size=D(10_000), ask_size=D(10_000))
    b.submit(_buy("X", D(30)))
    b.run(until_ns=ny(TUESDAY, "15:51"))
    assert [o.order_qty for o in f.sent] == [D(20), D(30)]
    assert len({o.client_order_id for o in f.sent}) == 2
    f.disarm()
    assert f.due_ns is None


def test_the_flatten_buys_back_a_short_and_arming_late_fires_at_once() -> None:
    b = _broker(ny(MONDAY, "10:00"))
    b.submit(_buy("X", D(40), "sell"))  # opens a short
    assert b.positions()["X"].qty == -40
    b.run(until_ns=ny(MONDAY, "15:58"))
    f = Flattener(b, XNYS, 5, tagged=["X"])
    assert f.arm() == ny(MONDAY, "15:58")  # past close - 5: now
    b.run(until_ns=ny(MONDAY, "15:58:01"))
    [order] = f.sent
    assert (order.request.side, order.order_qty) == (OrderSide.BUY, D(40))
    assert b.positions().get("X") is None or b.positions()["X"].qty == 0


def test_untag_and_bad_flattener_parameters() -> None:
    b = _broker(ny(MONDAY, "10:00"))
    f = Flattener(b, XNYS, 5, tagged=["X"])
    f.untag("X")
    assert f.tagged == frozenset()
    b.submit(_buy("X", D(5)))
    assert f.flatten() == []
    for bad, field in (
        (lambda: f.untag("X"), "symbol"),
        (lambda: f.tag(""), "symbol"),
        (lambda: Flattener(b, XNYS, -1), "minutes"),
        (lambda: Flattener(b, XNYS, 0), "minutes"),  # at the close a market order waits
        (lambda: Flattener(b, XNYS, 5, name="a b"), "name"),
        (lambda: Flattener(b, None, 5), "calendar"),  # type: ignore[arg-type]
    ):
        with pytest.raises(ExecutionError) as e:
            bad()
        assert e.value.field == field


# ----- exits, the flatten and the kill switch in every gate window ------------------------------

# The gates under test: 15 minutes after the open, 10 before the close at half size. "blocked" has
# no factor, so the closing window refuses entries outright.
HALF = SessionGates(XNYS, open_minutes=15, close_minutes=10, close_factor=D("0.5"), lot=D(1))
BLOCKED = SessionGates(XNYS, open_minutes=15, close_minutes=10)
# (id, day, the time inside the window, the gates, what an entry of 100 gets there)
WINDOWS = [
    ("opening", MONDAY, "09:35", HALF, Decision(D(0), GateReason.OPENING)),
    ("open", MONDAY, "12:00", HALF, Decision(D(100), GateReason.OPEN)),
    ("closing-reduced", MONDAY, "15:55", HALF, Decision(D(50), GateReason.CLOSING)),
    ("closing-blocked", MONDAY, "15:55", BLOCKED, Decision(D(0), GateReason.CLOSING)),
    ("early-close", BLACK_FRIDAY, "12:55", HALF, Decision(D(50), GateReason.CLOSING)),
]
IN_SESSION = [pytest.param(*w[1:], id=w[0]) for w in WINDOWS]
CLOSED = pytest.param(MONDAY, "17:00", HALF, Decision(D(0), GateReason.CLOSED), id="closed")


def _long_then_at(day: str, hhmm: str) -> SimulatedBroker:
    """A broker holding 100 X bought at 09:30 (before any window under test), run to ``hhmm``."""
    b = _broker(ny(day, "09:30"))
    b.submit(_buy("X", D(100)))
    b.run(until_ns=ny(day, hhmm))
    return b


def _position(b: SimulatedBroker, symbol: str = "X") -> Decimal:
    p = b.positions().get(symbol)
    return D(0) if p is None else p.qty


@pytest.mark.parametrize(("day", "hhmm", "gates", "entry"), [*IN_SESSION, CLOSED])
def test_an_exit_passes_every_gate_window_whole(
    day: str, hhmm: str, gates: SessionGates, entry: Decision
) -> None:
    b = _long_then_at(day, hhmm)
    now, pos = b.now(), _position(b)
    assert gates.admit(now, D(100), is_exit=False) == entry  # the window is in force
    for qty in (D(40), D(100)):  # part of the position, or all of it
        assert reduces(pos, OrderSide.SELL, qty)
        assert gates.admit(now, qty, is_exit=True) == Decision(qty, GateReason.EXIT)
    assert not reduces(pos, OrderSide.SELL, D(101))  # one more would open a short: an entry
    assert gates.admit(now, D(101), is_exit=False).reason is entry.reason
    order = b.submit(_buy("X", D(100), "sell"))
    if entry.reason is GateReason.CLOSED:  # the venue holds it for the next open
        assert order.status.is_open
        assert _position(b) == 100
        b.run(until_ns=ny(TUESDAY, "09:30") + SECOND)
    assert b.get_order(order.id).status is OrderStatus.FILLED
    assert _position(b) == 0


@pytest.mark.parametrize(("day", "hhmm", "gates", "entry"), IN_SESSION)
def test_the_end_of_day_flatten_passes_every_gate_window(
    day: str, hhmm: str, gates: SessionGates, entry: Decision
) -> None:
    # The flatten set to fire inside the window (close - minutes = the window's time).
    close = XNYS.session_at(ny(day, hhmm)).close_ns
    minutes = (close - ny(day, hhmm)) // MINUTE
    b = _long_then_at(day, "09:31")
    f = Flattener(b, XNYS, minutes, tagged=["X"])
    assert f.arm() == ny(day, hhmm)
    b.run(until_ns=ny(day, hhmm) - 1)
    pos = _position(b)
    assert gates.admit(ny(day, hhmm), D(100), is_exit=False) == entry
    b.run(until_ns=ny(day, hhmm) + SECOND)
    [order] = f.sent
    side, qty = order.request.side, order.order_qty
    assert reduces(pos, side, qty)  # the flatten only closes: an exit
    assert gates.admit(ny(day, hhmm), qty, is_exit=True) == Decision(qty, GateReason.EXIT)
    assert b.get_order(order.id).status is OrderStatus.FILLED
    assert _position(b) == 0


@pytest.mark.parametrize(("day", "hhmm", "gates", "entry"), [*IN_SESSION, CLOSED])
def test_a_kill_switchs_flattening_orders_are_not_held_by_the_gates(
    day: str, hhmm: str, gates: SessionGates, entry: Decision
) -> None:
    # The kill switch (fillforge.risk) goes straight to the broker, past the risk gate's
    # controls and past these gates: its orders only close, so they are exits in every window.
    b = _long_then_at(day, "09:31")
    resting = OrderRequest(
        symbol="X", side="buy", type="limit", qty=D(10), limit_price=D(90), time_in_force="gtc"
    )
    b.submit(resting)  # an entry still working when the switch fires
    b.run(until_ns=ny(day, hhmm))
    risk = RiskGate(b)
    assert gates.admit(b.now(), D(100), is_exit=False) == entry
    report = risk.kill(flatten=True, reason="test")
    b.run(until_ns=b.now() + SECOND)  # the resting entry's cancel ends, then the flatten goes
    flattening = [o for o in b.orders(symbol="X") if o.request.side is OrderSide.SELL]
    [order] = flattening
    assert report.canceled
    assert reduces(D(100), order.request.side, order.order_qty)
    assert gates.admit(b.now(), order.order_qty, is_exit=True).reason is GateReason.EXIT
    if entry.reason is GateReason.CLOSED:  # accepted, and filled at the next open
        assert order.status.is_open
        b.run(until_ns=ny(TUESDAY, "09:30") + SECOND)
        assert HALF.admit(ny(TUESDAY, "09:30"), D(1), False).reason is GateReason.OPENING
    assert b.get_order(order.id).status is OrderStatus.FILLED
    assert _position(b) == 0


def test_a_kill_switch_stops_a_working_parent_and_flattens_what_it_bought() -> None:
    # A parent worked through a risk gate: after the kill, its children are denied before they
    # reach the broker, three denials in a row fail it, and the flatten closes what it bought.
    b = _broker(ny(MONDAY, "10:00"))
    risk = RiskGate(b)
    spec = ParentOrder(
        parent_id="K1",
        symbol="X",
        side=OrderSide.BUY,
        qty=D(300),
        start_ns=ny(MONDAY, "10:00"),
        end_ns=ny(MONDAY, "10:30"),
    )
    rules = WorkRules(timeout_ns=5 * SECOND, max_attempts=1, fallback="market", max_rejects=3)
    w = ParentWorker(risk, spec, Instrument(symbol="X", tick_size=D("0.01")), rules=rules, slices=3)
    w.start()
    b.run(until_ns=ny(MONDAY, "10:15"))
    assert w.progress().filled == _position(b) == 200  # two slices, each at market after 5 s
    at_broker = len(b.orders())
    risk.kill(flatten=True, reason="test")
    b.run(until_ns=ny(MONDAY, "10:31"))
    assert _position(b) == 0
    [flatten] = b.orders()[at_broker:]  # nothing else reached the broker after the kill
    assert (flatten.request.side, flatten.order_qty) == (OrderSide.SELL, D(200))
    assert w.parent.state is ParentState.FAILED
    assert w.parent.reason is not None
    assert w.parent.reason.startswith("3 children rejected in a row: halted")
    assert [o.status for o in risk.denied()] == [OrderStatus.DENIED] * 3
    assert w.progress().filled + w.progress().leaves == D(300)
