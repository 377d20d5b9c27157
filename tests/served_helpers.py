"""The served paper account the tests run against out of process (``fillforge serve alpaca``)."""

from __future__ import annotations

# Scripted quotes for AAPL and MSFT, deep enough to fill any test order at the touch, the clock in
# market hours, and no rate limit a test could reach; add "--duration" (how long it may serve).
SCRIPTED_AAPL_MSFT = (
    "--data",
    "scripted",
    "--quote",
    "AAPL=100.00/100.02x100000",
    "--quote",
    "MSFT=50.00/50.02x100000",
    "--start",
    "2024-06-04T10:00:00-04:00",
    "--rate-limit",
    "100000",
)
