"""``fillforge serve ibkr`` in its own process: it prints host:port, unmodified ib_async trades
against it, it stops on a signal, and bad flags are one-line refusals (exit 2)."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest
from child_env import child_env

pytest.importorskip("ib_async")
# ib_async runs on the main thread's loop: each test has its own (conftest.own_event_loop).
pytestmark = pytest.mark.usefixtures("own_event_loop")


def _serve(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "fillforge", "serve", "ibkr", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=child_env(),
    )


def test_serves_the_shipped_sample_to_ib_async_and_stops() -> None:
    from ib_async import IB, LimitOrder, Stock

    proc = _serve("--duration", "120", "--speed", "10")
    try:
        assert proc.stdout is not None
        host, _, port = proc.stdout.readline().strip().partition(":")
        assert host == "127.0.0.1"
        ib = IB()
        ib.connect(host, int(port), clientId=1, timeout=20)
        try:
            [goog] = ib.qualifyContracts(Stock("GOOG", "SMART", "USD"))
            [ticker] = ib.reqTickers(goog)
            assert 500 < ticker.bid < ticker.ask < 650  # GOOG on 2012-06-21
            trade = ib.placeOrder(goog, LimitOrder("BUY", 1, round(ticker.bid * 0.9, 2)))
            for _ in range(200):
                if trade.orderStatus.status == "Submitted":
                    break
                ib.sleep(0.05)
            assert trade.orderStatus.status == "Submitted"
            assert [t.order.orderId for t in ib.reqAllOpenOrders()] == [trade.order.orderId]
        finally:
            ib.disconnect()
    finally:
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "Traceback" not in err


def test_serves_a_data_file() -> None:
    from ib_async import IB, Stock

    import fillforge

    bars = (
        Path(fillforge.__file__).parent / "data" / "bars" / "AAPL_daily_2016-01-04_2017-12-29.csv"
    )
    proc = _serve("--data", str(bars), "--symbol", "AAPL", "--duration", "60")
    try:
        assert proc.stdout is not None
        host, _, port = proc.stdout.readline().strip().partition(":")
        ib = IB()
        ib.connect(host, int(port), clientId=1, timeout=20)
        try:
            [aapl] = ib.qualifyContracts(Stock("AAPL", "SMART", "USD"))
            [ticker] = ib.reqTickers(aapl)
            assert 90 < ticker.bid < ticker.ask < 120  # AAPL's close on 2016-01-04: 105.35
        finally:
            ib.disconnect()
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("--data", "nosuch.csv"), "no such file"),
        (("--data", "sample", "--data", "scripted"), "stands alone"),
        (("--symbol", "AAPL"), "needs --data PATH"),
        (("--quote", "AAPL=1/2"), "needs --data scripted"),
        (("--data", "scripted", "--quote", "AAPL=abc"), "SYMBOL=BID/ASK[xSIZE]"),
        (("--cash", "-5"), "--cash"),
        (("--port", "99999"), "--port"),
        (("--speed", "0"), "--speed"),
        (("--account", "DU1,DU2"), "--account"),
    ],
)
def test_bad_flags_are_one_line_refusals(args: tuple[str, ...], says: str) -> None:
    proc = _serve(*args, "--duration", "1")
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert says in out + err
    assert "Traceback" not in out + err
