"""Parent orders and the execution algorithms that work them into child orders on any broker.

Layer 5: imports point down only (``broker``, ``orders``, ``time``, ``errors``); nothing below
imports this package.
"""
