"""The live monitoring page on the Alpaca paper server, in a real headless browser (Debian's
chromium driven by playwright): orders placed through alpaca-py show up without a reload, the
alert banner appears when a rule fires, and the screenshot is not blank."""

from __future__ import annotations

import json
import struct
import threading
import urllib.request
import zlib
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from alpaca.trading.client import TradingClient
from alpaca.trading.requests import LimitOrderRequest, MarketOrderRequest
from browser import chromium
from polling import wait_for
from served_helpers import quote, trading_client

from fillforge.alpaca import AlpacaServer
from fillforge.execution.engine import ExecutionEngine
from fillforge.execution.parent import ParentOrder
from fillforge.monitor import ExecutionMonitor, alerts_config
from fillforge.monitor.page import attach
from fillforge.monitor.serve import MonitorServer
from fillforge.orders.enums import OrderSide
from fillforge.orders.models import Instrument
from fillforge.risk import RiskManager
from fillforge.sim.broker import SimulatedBroker
from fillforge.sim.feeds import empty_feed
from fillforge.sim.venue import Venue
from fillforge.time import NS_PER_SECOND


def png_colors(data: bytes) -> int:
    """How many distinct pixel colors an 8-bit RGB/RGBA PNG holds (rows unfiltered)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width, height, channels = 8, b"", 0, 0, 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, color = struct.unpack(">IIBB", body[:10])
            assert depth == 8
            assert color in (2, 6)
            channels = 3 if color == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw, stride = zlib.decompress(idat), width * channels
    prev, colors, i = bytearray(stride), set(), 0
    for _ in range(height):
        f, row = raw[i], bytearray(raw[i + 1 : i + 1 + stride])
        i += 1 + stride
        for x in range(stride):
            a = row[x - channels] if x >= channels else 0
            b, c = prev[x], prev[x - channels] if x >= channels else 0
            if f == 1:
                row[x] = (row[x] + a) & 255
            elif f == 2:
                row[x] = (row[x] + b) & 255
            elif f == 3:
                row[x] = (row[x] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else b if pb <= pc else c
                row[x] = (row[x] + pred) & 255
        colors.update(bytes(row[x : x + 3]) for x in range(0, stride, channels * 7))
        prev = row
    return len(colors)


@pytest.fixture
def browser() -> Iterator[Any]:
    with chromium() as b:
        yield b


def state(server: AlpacaServer) -> dict[str, Any]:
    with urllib.request.urlopen(server.base_url + "/monitor/state", timeout=10) as r:
        return dict(json.load(r))


def test_the_page_follows_orders_and_shows_the_alert(
    alpaca_server: AlpacaServer, browser: Any, tmp_path: Path
) -> None:
    # Two canceled orders are enough for the fill-rate rule here (the default asks for 10).
    config = alerts_config({"rules": {"fill_rate": {"min_samples": 2}}})
    monitor = attach(alpaca_server, config=config, interval_s=0.1)
    quote(alpaca_server, "100.00", "100.02", size=100_000)
    quote(alpaca_server, "50.00", "50.02", size=100_000, symbol="MSFT")
    client: TradingClient = trading_client(alpaca_server)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(alpaca_server.base_url + "/monitor")
    page.wait_for_selector("#conn.live", timeout=20_000)
    assert page.locator("#alert-banner").is_hidden()

    # Orders placed after the page loaded appear in it without a reload.
    resting = [
        client.submit_order(
            LimitOrderRequest(
                symbol="AAPL", qty=5, side="buy", time_in_force="gtc", limit_price=90 + i
            )
        )
        for i in range(2)
    ]
    client.submit_order(MarketOrderRequest(symbol="MSFT", qty=3, side="buy", time_in_force="day"))
    for o in resting:
        page.wait_for_selector(f"#orders td:text-is('{o.client_order_id}')", timeout=20_000)
    page.wait_for_selector("#positions td:text-is('MSFT')", timeout=20_000)
    assert page.locator("#orders tbody tr").count() == 2

    # Cancel both: 3 of 13 shares filled among the orders that ended: the fill-rate rule fires.
    for o in resting:
        client.cancel_order_by_id(o.id)
    page.wait_for_selector("#alert-banner.on", timeout=20_000)
    banner = page.inner_text("#alert-banner")
    assert "fill_rate" in banner
    page.wait_for_selector("#orders td.empty", timeout=20_000)
    assert [a["name"] for a in monitor.snapshot()["alerts"]["active"]] == ["fill_rate"]
    assert "raised: fill_rate" in page.inner_text("#alerts")

    shot = tmp_path / "monitor.png"
    page.screenshot(path=str(shot), full_page=True)
    assert png_colors(shot.read_bytes()) > 20  # text, tables, the banner: not a blank page


def test_state_and_metrics_routes_on_the_server(alpaca_server: AlpacaServer) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    attach(alpaca_server)
    quote(alpaca_server, "100.00", "100.02", size=100_000)
    client = trading_client(alpaca_server)
    client.submit_order(MarketOrderRequest(symbol="AAPL", qty=10, side="buy", time_in_force="day"))
    # The market order may still be on its way: poll the state until it has filled.
    wait_for(lambda: state(alpaca_server)["totals"]["fills"] == 1, timeout=10)
    with urllib.request.urlopen(alpaca_server.base_url + "/metrics", timeout=10) as r:
        assert r.headers["Content-Type"].startswith("text/plain")
        text = r.read().decode()
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for f in text_string_to_metric_families(text)
        for s in f.samples
    }
    key = (("side", "buy"), ("status", "filled"), ("symbol", "AAPL"))
    assert samples[("fillforge_orders_total", key)] == 1
    assert samples[("fillforge_position_quantity", (("symbol", "AAPL"),))] == 10
    assert samples[("fillforge_fill_rate_ratio", (("window", "3600s"),))] == 1
    # Bought at the ask against a mid 1 cent under it: +1 bp (a cost).
    assert samples[("fillforge_slippage_average_bps", (("window", "3600s"),))] == pytest.approx(
        float(Decimal("0.01") / Decimal("100.01") * 10_000), abs=0.01
    )


def test_attach_refuses_a_server_others_can_reach() -> None:
    from fillforge.alpaca import scripted_broker
    from fillforge.errors import ConfigError

    server = AlpacaServer(scripted_broker(("AAPL",)), key_id="k", secret_key="s", host="0.0.0.0")
    with pytest.raises(ConfigError) as e:
        attach(server)
    assert e.value.field == "host"
    assert "expose=True" in e.value.why
    attach(server, expose=True)  # said so: the routes are added (the server never started)
    app = server.app_routes
    assert (app.url_path_for("page"), app.url_path_for("metrics")) == ("/monitor", "/metrics")


def test_the_page_shows_parents_and_the_trading_state(browser: Any, tmp_path: Path) -> None:
    """A monitor served on its own (MonitorServer) over a simulated broker with an engine and a
    risk manager: the parent's row and progress appear and move, the trading state follows."""
    venue = Venue(calendar=None)
    venue.add(Instrument(symbol="AAA"), empty_feed())
    b = SimulatedBroker(venue, cash=Decimal(1_000_000), start_ns=0)
    b.quote(
        "AAA",
        Decimal("100.00"),
        Decimal("100.02"),
        bid_size=Decimal(1000),
        ask_size=Decimal(1000),
        ts=0,
    )
    lock = threading.Lock()  # the page reads the broker between the test's steps

    def locked(fn: Callable[[], Any]) -> Any:
        with lock:
            return fn()

    engine, risk = ExecutionEngine(b), RiskManager(b)
    monitor = ExecutionMonitor(b, engine=engine, risk=risk, call=locked)
    spec = ParentOrder(
        parent_id="P1",
        symbol="AAA",
        side=OrderSide.BUY,
        qty=Decimal(40),
        start_ns=NS_PER_SECOND,
        end_ns=9 * NS_PER_SECOND,
    )
    with lock:
        engine.submit(spec, Instrument(symbol="AAA"), slices=4)
    with MonitorServer(monitor, interval_s=0.1) as server:
        page = browser.new_page()
        page.goto(server.base_url + "/")  # redirects to /monitor
        page.wait_for_selector("#parents td:text-is('P1')", timeout=20_000)
        page.wait_for_selector("#trading.state-active", timeout=20_000)
        with lock:
            b.run(
                until_ns=10 * NS_PER_SECOND
            )  # the slices rest at the bid; at the end the rest is swept at market
        page.wait_for_selector("#parents td:text-is('40 / 40')", timeout=20_000)
        assert "completed" in page.inner_text("#parents")
        with lock:
            risk.halt("test")
        page.wait_for_selector("#trading.state-halted", timeout=20_000)
        page.screenshot(path=str(tmp_path / "parents.png"))
    monitor.close()
    engine.close()
