"""Shared test configuration: hypothesis profiles, and the ``client`` fixture.

``ci`` (the default) is deterministic (``derandomize``: the same examples on every run, no example
database) and has no deadline, because timing on a shared CI machine is noise. ``long`` explores
far more random examples; select it with ``HYPOTHESIS_PROFILE=long pytest tests``. Tests that set
their own ``max_examples`` multiply it when that variable says ``long`` (see
``test_book_properties.SCALE``).
"""

import asyncio
import os
from collections.abc import Iterator

import pytest
from alpaca.trading.client import TradingClient
from hypothesis import HealthCheck, settings
from served_helpers import trading_client

from fillforge.alpaca import AlpacaServer

settings.register_profile(
    "ci",
    deadline=None,
    derandomize=True,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "long",
    deadline=None,
    derandomize=False,
    max_examples=5_000,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def pytest_configure(config: pytest.Config) -> None:
    # On a failure, hypothesis' pytest plugin imports libcst to write a patch, and libcst warns
    # that mypy_extensions.TypedDict is deprecated; with ``filterwarnings = error`` that hides the
    # real failure behind an INTERNALERROR.
    config.addinivalue_line(
        "filterwarnings", "ignore:mypy_extensions.TypedDict is deprecated:DeprecationWarning"
    )


@pytest.fixture
def client(alpaca_server: AlpacaServer) -> TradingClient:
    """alpaca-py's TradingClient on the in-process Alpaca server, retries off."""
    return trading_client(alpaca_server)


@pytest.fixture
def own_event_loop() -> Iterator[asyncio.AbstractEventLoop]:
    """A fresh event loop as this thread's for the test, closed after it. ib_async's ``IB()``
    runs on the thread's loop: a transport it leaves closing would otherwise be collected, with a
    ResourceWarning, under whichever later test replaces that loop."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        yield loop
    finally:
        loop.run_until_complete(asyncio.sleep(0))  # closing transports finish closing
        loop.close()
        asyncio.set_event_loop(None)
