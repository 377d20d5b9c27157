"""Replays of real venue data through the order book, checked against the venue's own record."""

from fillforge.replay.cme import CmeReport, replay_cme
from fillforge.replay.lobster import LobsterMismatch, LobsterReport, replay_lobster
from fillforge.replay.samples import (
    aapl_daily_sample,
    daily_samples,
    goog_daily_sample,
    lobster_sample,
    spy_daily_sample,
)

__all__ = [
    "CmeReport",
    "LobsterMismatch",
    "LobsterReport",
    "aapl_daily_sample",
    "daily_samples",
    "goog_daily_sample",
    "lobster_sample",
    "replay_cme",
    "replay_lobster",
    "spy_daily_sample",
]
