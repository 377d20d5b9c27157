"""The Python enums name exactly the codes the compiled core uses."""

from __future__ import annotations

from enum import IntEnum, IntFlag

import pytest

from fillforge import Op, Reason, Side, Status, TimeInForce, _core
from fillforge.codes import AuctionPrint, EngineEvent, FeedFlag, FeedKind
from fillforge.sim import feeds
from fillforge.sim.feeds import empty_feed


@pytest.mark.parametrize(
    ("enum", "core"),
    [
        (Status, _core.STATUS_CODES),
        (Reason, _core.REASON_CODES),
        (Op, _core.OP_CODES),
        (FeedKind, _core.FEED_KIND_CODES),
        (FeedFlag, _core.FEED_FLAG_CODES),
        (AuctionPrint, _core.AUCTION_PRINT_CODES),
        (EngineEvent, _core.EVENT_CODES),
    ],
)
def test_enum_matches_core(enum: type[IntEnum | IntFlag], core: dict[str, int]) -> None:
    """Every Rust variant has a member of the same name and value, and nothing more."""
    assert {m.name: m.value for m in enum} == core


def test_the_simulator_modules_use_the_checked_enums() -> None:
    """One definition of each code: the feed builders re-export the enums of fillforge.codes."""
    assert feeds.FeedKind is FeedKind
    assert feeds.FeedFlag is FeedFlag


def test_feed_kinds_and_event_codes_mean_what_they_say_in_the_engine() -> None:
    """A scripted trade through a resting buy fills it: the kind, the flag and the event code
    named by the enums are the ones the engine acts on and reports."""
    engine = _core.SimEngine(empty_feed())
    engine.submit(1, Side.BUY, 100, 5)
    assert [EngineEvent(e[0]) for e in engine.take_events()] == [EngineEvent.RESTED]
    engine.apply(10, FeedKind.TRADE, FeedFlag.PATH, Side.BUY, 100, 2)
    (event,) = engine.take_events()
    assert (EngineEvent(event[0]), event[1], event[3]) == (EngineEvent.FILL, 1, 2)
    with pytest.raises(_core.ReplayError, match="kind"):
        engine.apply(11, max(FeedKind) + 1, 0, Side.BUY, 100, 2)


def test_side_and_tif_are_accepted_by_the_book() -> None:
    book = _core.OrderBook()
    for i, tif in enumerate(TimeInForce):
        status, *_ = book.submit_limit(i + 1, Side.BUY, 100 - i, 1, tif)
        assert Status(status) in {Status.RESTING, Status.CANCELED}
    assert book.best_bid() is not None
