"""The parent order spec, its rules and its lifecycle: every refusal is an ExecutionError naming
the field and value; the lifecycle table allows exactly its rows; the public view is read-only;
children's client order ids name their parent; retries are classified and spaced the same way
on every run."""

from __future__ import annotations

import pickle
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fillforge.errors import ExecutionError, InvalidTransitionError, ThrottleError
from fillforge.execution.parent import (
    MAX_PARENT_ID,
    PARENT_TABLE,
    ParentOrder,
    ParentRecord,
    ParentState,
    WorkRules,
    child_client_order_id,
    parent_of,
)
from fillforge.execution.retry import Backoff, is_transient
from fillforge.orders.enums import OrderSide
from fillforge.orders.models import MAX_CLIENT_ORDER_ID, Instrument

D = Decimal


def spec(**kw: Any) -> ParentOrder:
    base: dict[str, Any] = {
        "parent_id": "P1",
        "symbol": "TEST",
        "side": OrderSide.BUY,
        "qty": D(100),
        "start_ns": 1_000,
        "end_ns": 2_000,
    }
    return ParentOrder(**{**base, **kw})


# ----- the spec ------------------------------------------------------------------------------


def test_a_valid_parent_keeps_its_terms() -> None:
    p = spec(decision_price=D("10.01"), decision_ns=900, limit_price=D("10.05"), urgency=D(1))
    assert (p.qty, p.limit_price, p.decision_price, p.policy) == (
        D(100),
        D("10.05"),
        D("10.01"),
        "twap",
    )
    with pytest.raises(Exception, match="frozen"):
        p.qty = D(1)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"end_ns": 1_000}, "end_ns"),
        ({"end_ns": 999}, "end_ns"),
        ({"qty": D(0)}, "qty"),
        ({"qty": D(-5)}, "qty"),
        ({"qty": D("NaN")}, "qty"),
        ({"start_ns": -1}, "start_ns"),
        ({"parent_id": ""}, "parent_id"),
        ({"parent_id": "has-dash"}, "parent_id"),
        ({"parent_id": "x" * (MAX_PARENT_ID + 1)}, "parent_id"),
        ({"urgency": D("1.5")}, "urgency"),
        ({"limit_price": D(0)}, "limit_price"),
        ({"side": "up"}, "side"),
        ({"colour": "red"}, "colour"),
        ({"policy": "yolo"}, "policy"),
    ],
)
def test_bad_terms_are_refused_naming_the_field_and_value(
    changes: dict[str, Any], field: str
) -> None:
    with pytest.raises(ExecutionError) as e:
        spec(**changes)
    assert e.value.field == field
    assert isinstance(e.value, ValueError)
    assert pickle.loads(pickle.dumps(e.value)).field == field


@pytest.mark.parametrize(
    ("changes", "instrument", "field"),
    [
        ({"qty": D(15)}, Instrument(symbol="TEST", lot_size=D(10)), "qty"),
        ({"qty": D(5)}, Instrument(symbol="TEST", min_qty=D(10)), "qty"),
        ({"limit_price": D("10.005")}, Instrument(symbol="TEST"), "limit_price"),
        ({}, Instrument(symbol="OTHER"), "symbol"),
    ],
)
def test_the_instrument_check_refuses_what_is_off_its_grids(
    changes: dict[str, Any], instrument: Instrument, field: str
) -> None:
    p = spec(**changes)
    with pytest.raises(ExecutionError) as e:
        p.check(instrument)
    assert e.value.field == field
    assert e.value.value == getattr(p, field)


def test_on_grid_terms_pass_the_instrument_check() -> None:
    spec(qty=D(30), limit_price=D("10.05")).check(Instrument(symbol="TEST", lot_size=D(10)))


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"partial_threshold": D(0)}, "partial_threshold"),
        ({"partial_threshold": D("1.01")}, "partial_threshold"),
        ({"max_attempts": 0}, "max_attempts"),
        ({"timeout_ns": 0}, "timeout_ns"),
        ({"fallback": "pray"}, "fallback"),
        ({"slippage_limit_bps": D(-1)}, "slippage_limit_bps"),
        ({"at_end": "later"}, "at_end"),
    ],
)
def test_bad_work_rules_are_refused(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(ExecutionError) as e:
        WorkRules(**changes)
    assert e.value.field == field


# ----- the lifecycle -------------------------------------------------------------------------

_ALLOWED = {(ev, str(src)) for ev, sources, _, _ in PARENT_TABLE for src in sources}
_TRIGGERS = sorted({row[0] for row in PARENT_TABLE})


@given(st.lists(st.sampled_from(_TRIGGERS), max_size=8))
def test_the_lifecycle_allows_exactly_its_table(triggers: list[str]) -> None:
    rec = ParentRecord(spec())
    for t in triggers:
        before = rec.state
        if (t, before) in _ALLOWED:
            rec.fire(t, ts=5)
            assert rec.state != before or t == "start"  # every row moves somewhere
        else:
            with pytest.raises(InvalidTransitionError):
                rec.fire(t)
            assert rec.state == before  # a refused trigger changes nothing
        if ParentState(rec.state).is_done:
            assert rec.ended_ns == 5


def test_the_paths_through_the_lifecycle() -> None:
    rec = ParentRecord(spec())
    assert rec.state == ParentState.PENDING
    for t, want in [
        ("start", "working"),
        ("pause", "paused"),
        ("resume", "working"),
        ("complete", "completed"),
    ]:
        rec.fire(t)
        assert rec.state == want
    with pytest.raises(InvalidTransitionError, match="'completed' does not allow event 'resume'"):
        rec.fire("resume")
    cancelled = ParentRecord(spec())
    cancelled.fire("cancel", "changed my mind")
    assert cancelled.view.state is ParentState.CANCELLED
    assert cancelled.view.reason == "changed my mind"


def test_the_parent_view_is_read_only_and_has_no_triggers() -> None:
    rec = ParentRecord(spec())
    view = rec.view
    with pytest.raises(AttributeError, match="read-only"):
        view.state = ParentState.COMPLETED  # type: ignore[misc]
    for trigger in _TRIGGERS:
        assert not hasattr(view, trigger)
    assert view.state is ParentState.PENDING
    assert view.spec.qty == D(100)


# ----- children's ids, retries ---------------------------------------------------------------


@given(
    st.from_regex(r"[A-Za-z0-9_.:]{1,40}", fullmatch=True),
    st.integers(min_value=1, max_value=999_999),
)
def test_a_childs_client_order_id_names_its_parent(parent_id: str, n: int) -> None:
    cid = child_client_order_id(parent_id, n)
    assert parent_of(cid) == parent_id
    assert len(cid) <= MAX_CLIENT_ORDER_ID
    assert cid == child_client_order_id(parent_id, n)  # the same child, the same id


@pytest.mark.parametrize("cid", ["o-1", "P1-c", "P1-cx", "-c3", "plain"])
def test_other_client_order_ids_name_no_parent(cid: str) -> None:
    assert parent_of(cid) is None


class _HttpError(Exception):
    def __init__(self, status_code: int) -> None:
        self.status_code = status_code


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (ConnectionError("reset"), True),
        (TimeoutError(), True),
        (ThrottleError("over the limit"), True),
        (_HttpError(503), True),
        (_HttpError(429), True),
        (_HttpError(422), False),
        (ExecutionError("qty", 1, "no"), False),
        (KeyError("bug"), False),
    ],
)
def test_transient_errors_are_told_from_fatal_ones(error: BaseException, transient: bool) -> None:
    assert is_transient(error) is transient


def test_backoff_doubles_to_its_cap_with_bounded_jitter_the_same_every_run() -> None:
    a, b = Backoff(100, 1_000, seed=7), Backoff(100, 1_000, seed=7)
    delays = [a.delay_ns(k) for k in range(6)]
    assert delays == [b.delay_ns(k) for k in range(6)]
    for k, d in enumerate(delays):
        base = min(100 * 2**k, 1_000)
        assert base <= d <= base + base // 2
