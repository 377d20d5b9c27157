"""``fillforge serve binance`` in its own process: it prints its base URL, unmodified ccxt trades
against it, and bad flags are one-line refusals (exit 2) before anything starts."""

from __future__ import annotations

import secrets
import subprocess
import sys
from pathlib import Path

import ccxt
import pytest
from child_env import child_env

ROOT = Path(__file__).resolve().parents[1]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in child_env(**extra).items() if not k.startswith("BINANCE_")}
    env.update(extra)
    return env


def _serve(*args: str, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "fillforge", "serve", "binance", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(**env),
    )


def test_serves_the_shipped_sample_to_ccxt() -> None:
    key, secret = secrets.token_hex(8), secrets.token_hex(16)
    proc = _serve("--duration", "60", "--speed", "10", BINANCE_API_KEY=key, BINANCE_SECRET=secret)
    try:
        assert proc.stdout is not None
        base = proc.stdout.readline().strip()
        assert base.startswith("http://127.0.0.1:")
        api = {name: base + path for name, path in (("public", "/api/v3"), ("private", "/api/v3"))}
        urls = {**api, "sapi": base + "/sapi/v1", "fapiPublic": base + "/fapi/v1"}
        urls["dapiPublic"] = base + "/dapi/v1"
        ex = ccxt.binance({"apiKey": key, "secret": secret, "urls": {"api": urls}})
        ex.load_markets()
        assert ex.symbols == ["BTC/USDT"]
        book = ex.fetch_order_book("BTC/USDT")
        bid = book["bids"][0][0]
        assert 9000 < bid < 10_500  # the sample's BTC price on 2020-02-22
        o = ex.create_order("BTC/USDT", "limit", "buy", 0.01, round(bid * 0.9, 2))
        assert o["status"] == "open"
        assert ex.fetch_balance()["used"]["USDT"] > 0
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=20)
    assert secret not in out + err


@pytest.mark.parametrize(
    ("args", "env", "says"),
    [
        ((), {}, "set BINANCE_API_KEY and BINANCE_SECRET"),
        (("--data", "nosuch.csv"), {"BINANCE_API_KEY": "k", "BINANCE_SECRET": "s"}, "no such file"),
        (("--quote", "BTCUSDT=1/2"), {"BINANCE_API_KEY": "k", "BINANCE_SECRET": "s"}, "scripted"),
        (("--cash", "-5"), {"BINANCE_API_KEY": "k", "BINANCE_SECRET": "s"}, "--cash"),
        (("--port", "99999"), {"BINANCE_API_KEY": "k", "BINANCE_SECRET": "s"}, "--port"),
        (
            ("--data", "scripted", "--quote", "BTCUSDT=abc"),
            {"BINANCE_API_KEY": "k", "BINANCE_SECRET": "s"},
            "SYMBOL=BID/ASK[xSIZE]",
        ),
    ],
)
def test_bad_flags_are_one_line_refusals(
    args: tuple[str, ...], env: dict[str, str], says: str
) -> None:
    proc = _serve(*args, "--duration", "1", **env)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert says in out + err
    assert "Traceback" not in out + err
