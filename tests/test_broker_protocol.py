"""fillforge.broker: one interface for every broker, its async twin, one replace signature, and
the layering (the live broker imports nothing from the simulator)."""

from __future__ import annotations

import ast
import inspect
import pathlib
from decimal import Decimal
from typing import Any, get_type_hints

import pytest

import fillforge
from fillforge import broker as fb
from fillforge.alpaca.broker import AlpacaBroker
from fillforge.errors import OrderValidationError
from fillforge.orders.enums import OrderSide, OrderStatus, OrderType
from fillforge.orders.models import OrderRequest, ReplaceTerms
from fillforge.sim.aio import AsyncAdapter
from fillforge.sim.broker import SimulatedBroker
from fillforge.testing import SimHarness

D = Decimal
_SYNC_IN_ASYNC = {"events"}  # its stream is itself async-iterable
_PACKAGE = pathlib.Path(fillforge.__file__).parent


def _members(cls: type) -> dict[str, Any]:
    return {
        n: getattr(cls, n)
        for n in dir(cls)
        if not n.startswith("_") and inspect.isfunction(getattr(cls, n))
    }


def _params(fn: Any) -> list[tuple[str, Any, Any]]:
    return [(p.name, p.kind, p.default) for p in inspect.signature(fn).parameters.values()]


def test_every_sync_method_has_an_async_twin_with_its_signature() -> None:
    sync, asy = _members(fb.Broker), _members(fb.AsyncBroker)
    assert set(sync) == set(asy)
    for name, fn in sync.items():
        twin = asy[name]
        assert _params(twin) == _params(fn), name  # names, kinds, defaults
        hints, twin_hints = get_type_hints(fn), get_type_hints(twin)
        assert hints == twin_hints, name  # parameter and return types alike
        # An ``async def`` returns Awaitable[its annotation]; ``events`` alone stays sync.
        assert inspect.iscoroutinefunction(twin) is (name not in _SYNC_IN_ASYNC), name


@pytest.mark.parametrize(
    ("impl", "protocol"),
    [(SimulatedBroker, fb.Broker), (AlpacaBroker, fb.Broker), (AsyncAdapter, fb.AsyncBroker)],
)
def test_every_broker_has_the_interface_signatures(impl: type, protocol: type) -> None:
    for name, fn in _members(protocol).items():
        got = getattr(impl, name, None)
        assert got is not None, f"{impl.__name__}.{name} is missing"
        assert _params(got) == _params(fn), f"{impl.__name__}.{name}"
        assert inspect.iscoroutinefunction(got) == inspect.iscoroutinefunction(fn), name


def test_the_keyword_form_has_exactly_the_terms_fields() -> None:
    assert set(fb.ReplaceChanges.__annotations__) == set(ReplaceTerms.model_fields)


def test_replace_terms_takes_one_form() -> None:
    terms = ReplaceTerms(limit_price=D("10.5"))
    assert fb.replace_terms(terms, {}) is terms
    assert fb.replace_terms(None, {"limit_price": D("10.5")}) == terms
    with pytest.raises(OrderValidationError) as e:
        fb.replace_terms(terms, {"qty": D(5)})
    assert e.value.field == "terms"
    with pytest.raises(OrderValidationError) as e:
        fb.replace_terms({"qty": D(5)}, {})  # type: ignore[arg-type]
    assert e.value.field == "terms"
    with pytest.raises(OrderValidationError) as e:
        fb.replace_terms(None, {"qty": D(-1)})
    assert e.value.field == "qty"


def test_replace_with_terms_or_keywords_is_the_same_request(sim: SimHarness) -> None:
    sim.broker.quote("TEST", D("99.00"), D("101.00"))
    results = []
    for form in ("terms", "keywords"):
        o = sim.broker.submit(
            OrderRequest(
                symbol="TEST",
                side=OrderSide.BUY,
                qty=D(10),
                type=OrderType.LIMIT,
                limit_price=D("98.00"),
            )
        )
        sim.broker.run()
        if form == "terms":
            sim.broker.replace(o.id, ReplaceTerms(qty=D(20), limit_price=D("97.50")))
        else:
            sim.broker.replace(o.id, qty=D(20), limit_price=D("97.50"))
        sim.broker.run()
        new = sim.broker.get_order(o.id).replaced_by
        assert new is not None
        n = sim.broker.get_order(new)
        assert sim.broker.get_order(o.id).status is OrderStatus.REPLACED
        results.append((n.order_qty, n.limit_price, n.status))
    assert results[0] == results[1] == (D(20), D("97.50"), OrderStatus.NEW)
    with pytest.raises(OrderValidationError):  # both forms at once: refused, nothing changes
        sim.broker.replace(new, ReplaceTerms(qty=D(5)), limit_price=D(1))
    assert sim.broker.get_order(new).pending_request is None


def _imports(path: pathlib.Path) -> set[str]:
    tree = ast.parse(path.read_text())
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
    return out


def test_the_live_broker_imports_nothing_from_the_simulator() -> None:
    mods = _imports(_PACKAGE / "alpaca" / "broker.py")
    assert not {m for m in mods if m.startswith("fillforge.sim")}


@pytest.mark.parametrize(
    "path", [*sorted((_PACKAGE / "broker").glob("*.py")), _PACKAGE / "time.py"]
)
def test_lower_layers_import_no_broker(path: pathlib.Path) -> None:
    upper = ("fillforge.sim", "fillforge.alpaca", "fillforge.risk", "fillforge.portfolio")
    assert not {m for m in _imports(path) if m.startswith(upper)}


def test_old_import_paths_still_work() -> None:
    from fillforge.sim import account, aio
    from fillforge.sim import broker as sb

    assert sb.Broker is fb.Broker
    assert sb.BrokerClock is fb.BrokerClock
    assert account.Position is fb.Position
    assert account.AccountSnapshot is fb.AccountSnapshot
    assert aio.AsyncBroker is fb.AsyncBroker


def test_simulated_broker_is_a_broker_and_a_clock(sim: SimHarness) -> None:
    from fillforge.time import Clock

    assert isinstance(sim.broker, fb.Broker)
    assert isinstance(sim.broker, Clock)
    assert sim.broker.now_ns() == sim.broker.now()


def test_a_quote_has_a_mid_only_when_two_sided() -> None:
    from decimal import Decimal

    from fillforge.broker import Quote

    q = Quote(
        symbol="X", bid_price="10.01", bid_size=1, ask_price="10.04", ask_size=2, timestamp_ns=0
    )
    assert q.mid == Decimal("10.025")
    one_sided = q.model_copy(update={"ask_price": None, "ask_size": 0})
    assert one_sided.mid is None
    assert "mid" not in q.model_dump()  # a reading of the fields, not a field
