"""A local IB gateway on fillforge's simulated exchange: the TWS API socket protocol for the
messages ib_async uses, so unmodified ib_async (``IB().connect('127.0.0.1', port, clientId)``)
trades against a real matching engine offline. See ``docs/ibkr.md``."""

from fillforge.ibkr.gateway import IbGateway
from fillforge.ibkr.paper import data_broker, ib_stock, sample_broker, scripted_broker
from fillforge.ibkr.wire import SERVER_VERSION

__all__ = [
    "SERVER_VERSION",
    "IbGateway",
    "data_broker",
    "ib_stock",
    "sample_broker",
    "scripted_broker",
]
