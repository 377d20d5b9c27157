"""Property: whatever operations a paper server applied, in whatever order and at whatever
simulated times, a server restored from its journal after a crash holds the same account: every
order (its JSON), position, the account, the configuration, the watchlists and the equity history
(issue 18). The operations go straight to the server's :class:`~fillforge.alpaca.operations.
Operations`, as its routes send them, without HTTP (the routes are covered by
tests/test_alpaca_durable.py)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from fillforge.alpaca import AlpacaServer, walk_broker, wire
from fillforge.alpaca.durable import ServerJournal, ServerSetup
from fillforge.errors import FillforgeError
from fillforge.sim.walk import WalkConfig
from fillforge.time import from_iso

T0 = from_iso("2024-06-04T10:00:00-04:00", "start")
SECOND = 10**9
OPTIONS = {"data": ["walk"]}
SYMBOLS = ("AAPL", "MSFT")

step = st.one_of(
    st.tuples(st.just("advance"), st.floats(0.01, 20)),
    st.tuples(
        st.just("limit"),
        st.sampled_from(SYMBOLS),
        st.sampled_from(["buy", "sell"]),
        st.integers(1, 30),
        st.integers(-15, 15),
    ),
    st.tuples(
        st.just("market"),
        st.sampled_from(SYMBOLS),
        st.sampled_from(["buy", "sell"]),
        st.integers(1, 30),
    ),
    st.tuples(st.just("cancel"), st.integers(0, 50)),
    st.tuples(st.just("replace"), st.integers(0, 50), st.integers(-5, 5)),
    st.tuples(st.just("cancel_all")),
    st.tuples(st.just("close"), st.sampled_from(SYMBOLS)),
    st.tuples(st.just("configure"), st.sampled_from(["1", "2", "4"]), st.booleans()),
    st.tuples(st.just("watch"), st.integers(0, 3), st.sampled_from(SYMBOLS)),
    st.tuples(st.just("mark")),
)


def build(setup: ServerSetup) -> AlpacaServer:
    assert setup.seed is not None
    walks = {s: WalkConfig(volatility=0.8, rate=10) for s in SYMBOLS}
    broker = walk_broker(walks, end_ns=T0 + 3600 * SECOND, seed=setup.seed, start_ns=T0)
    return AlpacaServer(broker, key_id="PKPROPS", secret_key="props-secret", speed=None)


def apply(server: AlpacaServer, s: tuple[Any, ...], n: int) -> None:
    """One step as the routes would send it (the server picks the ids it journals)."""
    broker, ops = server.broker, server.ops
    orders = [o.id for o in broker.orders()]
    kind = s[0]
    if kind == "advance":
        broker.run(until_ns=broker.now() + int(s[1] * SECOND))
        return
    if kind in ("limit", "market"):
        body: dict[str, Any] = {"symbol": s[1], "side": s[2], "qty": str(s[3]), "type": kind}
        body["time_in_force"] = "gtc" if kind == "limit" else "day"
        if kind == "limit":
            bid = broker.venue.markets[s[1]].best_bid() or Decimal(100)
            body["limit_price"] = str(bid + Decimal(s[4]) / 100)
        name, args = "orders.submit", {"body": json.dumps(body)}
    elif kind == "cancel" and orders:
        name, args = "orders.cancel", {"id": orders[s[1] % len(orders)]}
    elif kind == "replace" and orders:
        o = broker.get_order(orders[s[1] % len(orders)])
        price = (o.limit_price or Decimal(100)) + Decimal(s[2]) / 100
        name, args = "orders.replace", {"id": o.id, "body": json.dumps({"limit_price": str(price)})}
    elif kind == "cancel_all":
        name, args = "orders.cancel_all", {}
    elif kind == "close":
        name, args = "positions.close", {"symbol": s[1], "qty": None, "percentage": None}
    elif kind == "configure":
        body = {"max_margin_multiplier": s[1], "no_shorting": s[2]}
        name, args = "account.configure", {"body": json.dumps(body)}
    elif kind == "watch":
        which = f"list{s[1]}"
        if s[1] == 0:
            name, args = "watchlists.create", {"body": json.dumps({"name": f"w{n}"}), "id": None}
            args["id"] = f"00000000-0000-4000-8000-{n:012d}"
        else:
            name, args = "watchlists.add", {"name": which, "body": json.dumps({"symbol": s[2]})}
    elif kind == "mark":
        name, args = "account.mark", {}
    else:
        return
    with contextlib.suppress(FillforgeError):  # refused: journalled, and refused again on replay
        ops.apply(name, args)


def state(server: AlpacaServer) -> dict[str, Any]:
    broker = server.broker
    account = server.app_routes.state.account
    history = account.history
    return {
        "orders": [server.order_json(o, nested=True) for o in broker.orders()],
        "positions": [
            wire.position_json(p, "X", broker.ledger) for p in broker.positions().values()
        ],
        "account": wire.account_json(broker.account(), 0, broker.ledger),
        "config": account.config.json(),
        "watchlists": [account.watchlist_json(w) for w in account.watchlists.all()],
        "history": (len(history), history.start_ns, history.before(broker.now() + 1)),
        "now": broker.now(),
    }


@settings(max_examples=15)
@given(steps=st.lists(step, min_size=1, max_size=40), seed=st.integers(0, 2**32))
def test_a_restored_server_holds_the_same_account(
    tmp_path_factory: Any, steps: list[tuple[Any, ...]], seed: int
) -> None:
    path: Path = tmp_path_factory.mktemp("journal") / "paper.journal"
    kept = ServerJournal.open(path, ServerSetup(dict(OPTIONS), seed=seed, start_ns=T0))
    server = build(kept.setup)
    kept.restore(server)
    for n, s in enumerate(steps):
        apply(server, s, n)
    asyncio.run(kept.settle("PKPROPS"))  # the last answer: every operation is durable
    kept.journal.sync()  # and the time it showed (an answer without an order change waits
    # for no fsync: its clock record lands with the next group commit, milliseconds later)
    before = state(server)
    kept.journal.abandon()  # the crash

    again = ServerJournal.open(path, ServerSetup(dict(OPTIONS)))
    restored = build(again.setup)
    again.restore(restored)
    assert state(restored) == before
    again.journal.close()
