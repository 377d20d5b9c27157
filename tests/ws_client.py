"""The tests' websocket client: websockets' sync client without its keepalive thread.

With a ping interval, websockets' sync client runs a keepalive thread that joins the receiving
thread while ``close()`` joins it too. Two concurrent joins of one thread race in CPython 3.11's
``Thread.join`` (python/cpython#116372): now and then one of them raises
``RuntimeError: release unlocked lock``. The tests' connections are short, so they need no
keepalive; every test connects through here.
"""

from __future__ import annotations

from typing import Any

from websockets.sync.client import ClientConnection, connect


def ws_connect(url: str, **options: Any) -> ClientConnection:
    options.setdefault("ping_interval", None)
    return connect(url, **options)
