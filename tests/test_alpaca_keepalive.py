"""A client's pooled connection outlives a pause: the served account keeps idle HTTP
connections open (uvicorn's default closes them after 5 s, and a request sent as the server
closes one fails with "connection reset by peer", as a CI run once showed after a 5 s wait for
a stream event)."""

from __future__ import annotations

import time

from served_helpers import trading_client

from fillforge.alpaca import AlpacaServer
from fillforge.alpaca.server import KEEP_ALIVE_S


def test_an_idle_pooled_connection_is_still_served_after_uvicorn_s_default(
    alpaca_server: AlpacaServer,
) -> None:
    assert KEEP_ALIVE_S >= 60
    client = trading_client(alpaca_server)
    client.get_account()
    adapter = client._session.get_adapter(alpaca_server.base_url)

    def pooled() -> list[object]:
        pm = adapter.poolmanager
        pools = [pm.pools[k] for k in pm.pools.keys()]  # noqa: SIM118 (no iteration over it)
        return [c.sock for p in pools for c in list(p.pool.queue) if c is not None]

    (sock,) = pooled()  # the one connection the next request will reuse
    time.sleep(5.5)  # past uvicorn's default keep-alive: the server would have closed it
    client.get_account()
    assert pooled() == [sock]  # the same connection, not a new one after the server closed it
