"""Interactive Brokers through ib_async: :class:`IbkrBroker` (``docs/ibkr.md``)."""

from fillforge.venues.ibkr.broker import IbkrBroker

__all__ = ["IbkrBroker"]
