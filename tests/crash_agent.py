"""The crash-injection matrix's agent (issue 18): a seeded random trader over a
:class:`~fillforge.journal.broker.JournalledBroker`, the market that fills its orders, and the
checks every recovery must pass. Imported by ``tests/test_crash_*.py``; run as a script it is the
agent process of the served matrix (``tests/test_crash_served.py``)::

    FILLFORGE_CRASH_AT=send:17 APCA_API_KEY_ID=... APCA_API_SECRET_KEY=... \\
        python tests/crash_agent.py --journal J --base-url URL --stream-url WS --orders 1000 \\
        --seed 7 --run 3

It opens the journal, connects an ``AlpacaBroker``, reconciles, then trades until the journal
holds ``--orders`` intents; ``FILLFORGE_CRASH_AT`` kills it (SIGKILL) at that pass of that point.
"""

from __future__ import annotations

import argparse
import json
import random
import secrets
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from decimal import Decimal

from fillforge.alpaca import AlpacaServer, scripted_broker
from fillforge.errors import FillforgeError
from fillforge.journal.broker import JournalledBroker
from fillforge.journal.rebuild import OrderBook
from fillforge.orders.enums import OrderSide, OrderTimeInForce, OrderType
from fillforge.orders.models import OrderRequest
from fillforge.orders.order import Order

D = Decimal
TICK = D("0.01")
START_NS = 1_795_446_000 * 10**9  # 2026-11-23T10:00:00-05:00, a Monday in regular hours


def paper_server() -> AlpacaServer:
    """The paper account the recovery tests trade on (start it with ``with``): AAPL and MSFT on
    scripted prices, 1,000,000 in cash, no rate limit an agent could reach, its clock from a
    fixed weekday morning, a fresh random key pair."""
    broker = scripted_broker(("AAPL", "MSFT"), cash=D(1_000_000), start_ns=START_NS)
    return AlpacaServer(
        broker,
        key_id=f"PK{secrets.token_hex(8).upper()}",
        secret_key=secrets.token_urlsafe(24),
        requests_per_minute=1_000_000,
    )


class Crash(BaseException):
    """A simulated kill -9 for the in-process crash tests (a ``CrashHook``'s action raises it):
    not an Exception, so nothing on the way out handles it."""


class Trader:
    """Random orders on ``books`` (symbol: (bid, ask)): marketable limits at the touch, resting
    limits 1-5 ticks away, cancels and replaces of what the journal holds open. The side leans
    against the position, so it stays small."""

    def __init__(
        self, jb: JournalledBroker, rng: random.Random, books: dict[str, tuple[D, D]], top: int
    ) -> None:
        self.jb, self.rng, self.books, self.top = jb, rng, books, top

    def step(self) -> None:
        rng, book = self.rng, self.jb.book
        live = [o.order_id for o in book.open_orders() if o.order_id is not None]
        r = rng.random() if len(live) < 3 * self.top else 0.7  # keep what rests in bounds
        try:
            if r < 0.6 or not live:
                self.jb.submit(self.request())
            elif r < 0.8:
                self.jb.cancel(rng.choice(live))
            else:
                oid = rng.choice(live)
                o = self.jb.book.by_oid[oid]
                bid, ask = self.books[o.symbol]
                k = rng.randint(1, 5)
                price = bid - k * TICK if o.side == "buy" else ask + k * TICK
                self.jb.replace(oid, limit_price=price)
        except FillforgeError:
            pass  # a refusal (an order that ended meanwhile, buying power): journalled

    def request(self) -> OrderRequest:
        rng = self.rng
        symbol = rng.choice(sorted(self.books))
        bid, ask = self.books[symbol]
        pos = self.jb.book.position(symbol)
        buy = rng.random() < min(max(0.5 - float(pos) / (4 * self.top), 0.1), 0.9)
        resting = rng.random() < 0.6
        k = rng.randint(1, 5)
        away = k * TICK
        price = {(True, True): bid - away, (True, False): ask, (False, True): ask + away}.get(
            (buy, resting), bid
        )
        return OrderRequest(
            symbol=symbol,
            side=OrderSide.BUY if buy else OrderSide.SELL,
            type=OrderType.LIMIT,
            time_in_force=OrderTimeInForce.GTC,
            qty=D(rng.randint(1, self.top)),
            limit_price=price,
        )


def prints(
    rng: random.Random, books: dict[str, tuple[D, D]], top: int
) -> Iterable[tuple[str, D, D, OrderSide]]:
    """Trades that hit the resting orders' levels: (symbol, price, qty, aggressor)."""
    symbol = rng.choice(sorted(books))
    bid, ask = books[symbol]
    k = rng.randint(1, 5)
    if rng.random() < 0.5:
        yield symbol, bid - k * TICK, D(rng.randint(1, top)), OrderSide.SELL
    else:
        yield symbol, ask + k * TICK, D(rng.randint(1, top)), OrderSide.BUY


def problems(
    book: OrderBook, venue_orders: list[Order], venue_positions: dict[str, D]
) -> list[str]:
    """Everything that breaks the matrix's promises: an order lost (the venue has it, the
    journal does not), an intent unresolved, an intent sent twice or marked unsent but at the
    venue, a client order id used twice, an order's fills counted other than once, positions
    that differ from the broker's."""
    out: list[str] = []
    originals: dict[str, list[Order]] = defaultdict(list)
    for v in venue_orders:
        o = book.by_oid.get(v.id)
        if o is None:
            out.append(f"lost: venue order {v.id} ({v.client_order_id}) not in the journal")
            continue
        if o.filled != v.cum_qty:
            out.append(f"fills: {v.id} filled {v.cum_qty} at the venue, {o.filled} journalled")
        if v.replaces is None:
            originals[v.client_order_id].append(v)
    for cid, vs in originals.items():
        if len(vs) > 1:
            out.append(f"duplicated: client order id {cid} names {len(vs)} venue orders")
    for o in book.intents:
        if o.is_pending:
            out.append(f"unresolved: intent {o.client_order_id} ({o.status})")
        sent = originals.get(o.client_order_id, [])
        if o.status in ("unsent", "refused") and sent:
            out.append(f"{o.status} but at the venue: {o.client_order_id}")
        if o.order_id is not None and not sent:
            out.append(f"acked but not at the venue: {o.client_order_id} ({o.order_id})")
    ours = {s: q for s, q in book.positions.items() if q}
    theirs = {s: q for s, q in venue_positions.items() if q}
    if ours != theirs:
        out.append(f"positions: journal {ours} != broker {theirs}")
    return out


# ----- the served agent (a subprocess of tests/test_crash_served.py) ------------------------------


def _serve(args: argparse.Namespace) -> int:
    from fillforge.alpaca.broker import AlpacaBroker
    from fillforge.journal import Journal
    from fillforge.journal.broker import CrashHook
    from fillforge.journal.reconcile import reconcile

    hook = CrashHook.from_env()
    journal = Journal.open(args.journal)
    broker = AlpacaBroker(
        url_override=args.base_url,
        stream_url=args.stream_url,
        timeout=30.0,
        requests_per_minute=1_000_000,
    )
    jb = JournalledBroker(broker, journal, crash=hook, checkpoint_every=args.checkpoint_every)
    broker.connect()
    report = reconcile(jb)
    print(json.dumps({"run": args.run, **report.counts()}), flush=True)
    books = {"AAPL": (D("100.00"), D("100.02")), "MSFT": (D("50.00"), D("50.02"))}
    trader = Trader(jb, random.Random(f"{args.seed}-{args.run}"), books, top=10)
    pace: Callable[[], None] = (lambda: time.sleep(args.pause)) if args.pause else (lambda: None)
    while len(jb.book.intents) < args.orders:
        trader.step()
        pace()
    journal.sync()
    broker.close()
    jb.detach()
    journal.close()
    return 0


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--journal", required=True)
    p.add_argument("--base-url", required=True)
    p.add_argument("--stream-url", required=True)
    p.add_argument("--orders", type=int, default=1000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--run", type=int, default=0)
    p.add_argument("--pause", type=float, default=0.0)
    p.add_argument("--checkpoint-every", type=int, default=300)
    return _serve(p.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
