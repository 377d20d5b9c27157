"""Simulated venues, brokers and accounts."""
