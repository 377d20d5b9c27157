"""A real PostgreSQL server for the tests that need one.

``FILLFORGE_TEST_POSTGRES`` (a ``postgresql://`` URL) when set: CI starts a server with
``.ci/postgres`` and exports it. Otherwise this session starts a throwaway cluster itself with the
same script, wherever PostgreSQL is installed, and stops it at the end; when that fails too the
tests that need it skip, saying why. Each test gets a journal of its own name in it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ENV = "FILLFORGE_TEST_POSTGRES"


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """The server's URL (one per test session and worker)."""
    url = os.environ.get(ENV)
    if url:
        yield url
        return
    script = ROOT / ".ci" / "postgres"
    # Not under pytest's tmp_path: as root the cluster runs as the postgres user, which cannot
    # enter pytest's private directory; mkdtemp's directory is handed to it (and removed).
    where = tempfile.mkdtemp(prefix="fillforge-pg.")
    try:
        started = subprocess.run(
            ["bash", str(script), "start", where], capture_output=True, text=True, timeout=180
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        started = subprocess.CompletedProcess([], 1, "", str(e))
    if started.returncode != 0:
        shutil.rmtree(where, ignore_errors=True)
        why = (started.stderr.strip().splitlines() or ["no output"])[-1]
        pytest.skip(f"no PostgreSQL: {ENV} is unset and .ci/postgres could not start one ({why})")
    try:
        yield started.stdout.strip()
    finally:
        subprocess.run(["bash", str(script), "stop", where], capture_output=True, timeout=120)
        shutil.rmtree(where, ignore_errors=True)


def fresh_journal_url(server: str) -> str:
    """A URL naming a journal no other test uses."""
    sep = "&" if "?" in server else "?"
    return f"{server}{sep}journal=t{uuid.uuid4().hex[:20]}"
