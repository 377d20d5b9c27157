"""The Alpaca-compatible server in a process of its own: ``fillforge serve alpaca`` under a
context manager, for test suites and benchmarks that want the server off their interpreter."""

from __future__ import annotations

import contextlib
import os
import queue
import secrets
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO

from fillforge.errors import SimulationError

__all__ = ["ServedAlpaca", "served_alpaca"]


@dataclass
class ServedAlpaca:
    """A running ``fillforge serve alpaca``: what a client needs, and (once it has stopped)
    everything it printed."""

    base_url: str
    stream_url: str
    key_id: str
    secret_key: str = field(repr=False)
    output: list[str] = field(default_factory=list, repr=False)
    pid: int = 0
    """The server process's id (a test's kill -9)."""


@contextlib.contextmanager
def served_alpaca(
    *args: str,
    key_id: str | None = None,
    secret_key: str | None = None,
    start_timeout: float = 30.0,
) -> Iterator[ServedAlpaca]:
    """Run ``fillforge serve alpaca ARGS`` in a subprocess (its own interpreter and GIL) with
    the given key pair, or a fresh random one; yield its URLs and keys; stop it on exit.

    ``args`` are the command's options, e.g. ``("--data", "scripted", "--quote",
    "AAPL=100.00/100.02")``. A server that does not print its URLs within ``start_timeout``
    seconds raises :class:`~fillforge.errors.SimulationError` with what it printed.
    """
    key = key_id or f"PK{secrets.token_hex(8).upper()}"
    secret = secret_key or secrets.token_urlsafe(24)
    env = dict(os.environ, APCA_API_KEY_ID=key, APCA_API_SECRET_KEY=secret)
    cmd = [sys.executable, "-m", "fillforge", "serve", "alpaca", *args]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    output: list[str] = []
    lines: queue.Queue[str | None] = queue.Queue()  # None: its stdout closed
    # Drain both pipes all along: a child blocked on a full pipe would stop answering.
    readers = [
        threading.Thread(target=_drain, args=(pipe, output, sink), daemon=True)
        for pipe, sink in ((proc.stdout, lines), (proc.stderr, None))
    ]
    for r in readers:
        r.start()
    try:
        urls: list[str] = []
        for _ in range(2):
            try:
                line = lines.get(timeout=start_timeout)
            except queue.Empty:
                break
            if line is None:  # it exited before printing its URLs: no need to wait on
                break
            urls.append(line.strip())
        if len(urls) < 2 or not urls[0].startswith("http"):
            proc.kill()
            proc.wait()
            for r in readers:
                r.join(timeout=5)
            said = "".join(output).strip()[-500:]
            raise SimulationError("args", args, f"the server did not start: {said}")
        served = ServedAlpaca(urls[0], urls[1], key, secret, output, proc.pid)
        yield served
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for r in readers:
            r.join(timeout=5)
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()


def _drain(pipe: IO[str] | None, output: list[str], lines: queue.Queue[str | None] | None) -> None:
    if pipe is None:
        return
    for line in pipe:
        output.append(line)
        if lines is not None:
            lines.put(line)
    if lines is not None:
        lines.put(None)
