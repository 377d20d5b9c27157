"""What the TCA tests share (no tests here): :class:`Desk`, a journalled simulated broker on one
symbol whose journal keeps the broker's time, with a recorder of the quotes it publishes, and
the journalled parents' snapshots written by hand (the engine's own records, with figures the
test chooses)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from fillforge.analytics import MarketData, MarketRecorder
from fillforge.execution.parent import ParentOrder, ParentSnapshot, ParentState, WorkRules
from fillforge.journal import Journal
from fillforge.journal.broker import JournalledBroker
from fillforge.journal.state import StateWriter
from fillforge.orders.enums import OrderSide, OrderTimeInForce, OrderType
from fillforge.orders.models import Instrument, OrderRequest
from fillforge.orders.order import Order
from fillforge.sim.broker import SimulatedBroker
from fillforge.sim.feeds import empty_feed
from fillforge.sim.fees import FeeModel
from fillforge.sim.latency import LatencyModel
from fillforge.sim.venue import Venue

D = Decimal
S = 1_000_000_000
T0 = 1_700_000_000 * S  # 2023-11-14T22:13:20Z
SYMBOL = "TEST"


class Desk:
    """A :class:`JournalledBroker` over a :class:`SimulatedBroker` (``fees``, ``latency``) with
    the journal at ``target`` stamped in the broker's time."""

    def __init__(
        self,
        target: str | Path,
        *,
        fees: FeeModel | None = None,
        latency: LatencyModel | None = None,
        start_ns: int = T0,
    ) -> None:
        v = Venue("TESTX", calendar=None, fees=fees, latency=latency)
        v.add(Instrument(symbol=SYMBOL), empty_feed())
        self.sim = SimulatedBroker(v, cash=D(100_000_000), start_ns=start_ns)
        self.start_ns = start_ns
        self.journal = Journal.open(target, clock=self.sim)
        self.broker = JournalledBroker(self.sim, self.journal)
        self.state = StateWriter(self.journal)
        self.recorder = MarketRecorder(self.sim, [SYMBOL])

    def quote(self, bid: str, ask: str, size: int = 1_000) -> None:
        self.sim.quote(SYMBOL, D(bid), D(ask), bid_size=D(size), ask_size=D(size))

    def at(self, seconds: float) -> None:
        """Run the simulation to ``seconds`` after the start."""
        self.sim.run(until_ns=self.start_ns + int(seconds * S))

    def order(
        self,
        side: str,
        qty: int | str,
        limit: str | None = None,
        cid: str | None = None,
    ) -> Order:
        return self.broker.submit(
            OrderRequest(
                symbol=SYMBOL,
                side=OrderSide(side),
                type=OrderType.LIMIT if limit else OrderType.MARKET,
                time_in_force=OrderTimeInForce.GTC if limit else OrderTimeInForce.DAY,
                qty=D(qty),
                limit_price=D(limit) if limit else None,
                client_order_id=cid,
            )
        )

    def parent(
        self,
        pid: str,
        side: str,
        qty: int | str,
        *,
        change: str = "started",
        decision_price: str | None = None,
        first_child_mid: str | None = None,
        first_child_s: float | None = None,
        ended_s: float | None = None,
        policy: str = "twap",
        end_s: float = 600,
    ) -> None:
        """Journal parent ``pid``'s snapshot as the engine would at ``change``."""
        spec = ParentOrder(
            parent_id=pid,
            symbol=SYMBOL,
            side=OrderSide(side),
            qty=D(qty),
            start_ns=T0,
            end_ns=T0 + int(end_s * S),
            decision_ns=T0,
            decision_price=D(decision_price) if decision_price else None,
            policy=policy,
        )
        state = {
            "started": ParentState.WORKING,
            "completed": ParentState.COMPLETED,
            "cancelled": ParentState.CANCELLED,
        }[change]
        snap = ParentSnapshot(
            spec=spec,
            rules=WorkRules(),
            state=state,
            plan_ns=T0,
            ended_ns=None if ended_s is None else T0 + int(ended_s * S),
            arrival_price=D(decision_price) if decision_price else None,
            first_child_mid=D(first_child_mid) if first_child_mid else None,
            first_child_ns=None if first_child_s is None else T0 + int(first_child_s * S),
        )
        self.state.parent(pid, change, snap)

    def close(self) -> MarketData:
        """Stop: the market recorded (covering up to now); the journal is closed."""
        self.recorder.close()
        market = self.recorder.market()
        self.broker.detach()
        self.journal.close()
        return market
