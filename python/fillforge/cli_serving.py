"""What every ``fillforge serve ...`` command shares: the ``--host``, ``--port`` and
``--duration`` options, their checks (one line each, before anything starts), and serving until
the duration is over or Ctrl-C."""

from __future__ import annotations

import math
import time
from typing import Annotated

import typer

from fillforge.cli_errors import refuse

__all__ = ["Duration", "Host", "Port", "check_endpoint", "serve_until_stopped"]

Host = Annotated[str, typer.Option(help="Interface to bind (loopback by default).")]
Port = Annotated[int, typer.Option(help="Port; 0 picks a free one.")]
Duration = Annotated[
    float | None, typer.Option(help="Stop after this many seconds (default: Ctrl-C).")
]


def check_endpoint(port: int, duration: float | None, *, stdout: bool = False) -> None:
    """Refuse a port outside [0, 65535] or a duration that is not a finite number of seconds
    >= 0, in one line (``stdout``: on stdout, as ``serve alpaca`` always has)."""
    if not 0 <= port <= 65535:
        raise refuse("--port", port, "must be in [0, 65535] (0 picks a free one)", stdout=stdout)
    if duration is not None and not (math.isfinite(duration) and duration >= 0):
        why = "must be a finite number of seconds >= 0"
        raise refuse("--duration", duration, why, stdout=stdout)


def serve_until_stopped(duration: float | None) -> None:
    """Return after ``duration`` seconds (None: never), or at Ctrl-C."""
    try:
        if duration is None:
            while True:
                time.sleep(3600)
        time.sleep(duration)
    except KeyboardInterrupt:
        pass
