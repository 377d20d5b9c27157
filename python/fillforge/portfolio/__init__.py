"""The portfolio layer: the ledger of cash, positions, P&L, marks and fees
(:class:`~fillforge.portfolio.ledger.Ledger`). It records; the pre-trade checks that refuse
orders are :mod:`fillforge.risk`. Layer 3: above ``broker``/``orders``, below every broker."""

from fillforge.broker.models import AccountSnapshot, Position
from fillforge.portfolio.ledger import Ledger, MarkSource, market_marks

__all__ = ["AccountSnapshot", "Ledger", "MarkSource", "Position", "market_marks"]
