"""A Massive (formerly Polygon)-compatible market-data server on the shipped data: aggregates,
trades, quotes and the last quote for the unmodified ``massive`` client with its base URL
overridden (``fillforge serve massive``; docs/market-data.md)."""
