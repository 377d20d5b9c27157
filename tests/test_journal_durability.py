"""Durability (issue 18): a process appends, syncs and says which seq is durable, and keeps
appending until it kills itself with SIGKILL at a random moment. Reopened, the journal holds every
record that was durable, whole, and a gap-free prefix of what was appended after; the next
writer's seqs go on from there. On both stores, several kill points each."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest
from child_env import child_env
from postgres_server import fresh_journal_url, postgres_server  # noqa: F401

from fillforge.journal import Journal, verify

ROOT = Path(__file__).resolve().parents[1]

_CHILD = """
import os, random, signal, sys
from fillforge.journal import Journal
target, seed = sys.argv[1], int(sys.argv[2])
rng = random.Random(seed)
kill_after = rng.randint(1, 4_000)
j = Journal.open(target)
n = j.next_seq - 1
while True:
    for _ in range(rng.randint(1, 300)):
        n += 1
        assert j.append("test.event", {"n": n, "pad": "p" * (n % 97)}) == n
        if n - 1 >= kill_after and rng.random() < 0.01:
            os.kill(os.getpid(), signal.SIGKILL)  # mid-batch: appended, not synced
    if rng.random() < 0.5:
        j.write_ahead("test.event", {"n": n + 1, "pad": ""})
        n += 1
    else:
        j.sync()
    print(n, flush=True)  # everything up to n is durable
    if n >= kill_after:
        os.kill(os.getpid(), signal.SIGKILL)
"""


@pytest.fixture(params=["sqlite", "postgres"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "orders.journal")
    return fresh_journal_url(request.getfixturevalue("postgres_server"))


def _run_until_killed(target: str, seed: int) -> int:
    """The highest seq the child reported durable before it was killed (0: none)."""
    env = child_env()
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, target, str(seed)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == -signal.SIGKILL, done.stderr
    lines = done.stdout.split()
    return int(lines[-1]) if lines else 0


def test_every_synced_record_survives_kill_9(target: str) -> None:
    durable_before = 0
    for seed in range(4):  # four lives of the same journal, each ended by kill -9
        durable = _run_until_killed(target, seed)
        with Journal.open(target) as j:
            assert j.recovery.ok, j.recovery
            kept = j.recovery.kept
            assert kept >= max(durable, durable_before)  # nothing durable was lost
            got = list(j.records())
            assert [r.seq for r in got] == list(range(1, kept + 1))  # no gap, no duplicate
            assert all(r.payload["n"] == r.seq for r in got)  # whole records, in order
            assert all(r.payload["pad"] in ("", "p" * (r.seq % 97)) for r in got)
            durable_before = kept
    if not target.startswith("postgresql://"):
        assert verify(target).ok
