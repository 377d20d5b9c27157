"""Damage is detected, not guessed around (issue 18): a changed, removed or swapped record, a
changed checksum, a flipped byte in the file, a torn WAL tail and a truncated database file are
each found by ``verify`` and at start-up; recovery keeps every record before the damage and says
exactly what it dropped; a damaged journal opens for writing only with ``repair=True``, which
cuts it back to its last good record, logs the repair, and the seqs and the chain go on from
there. Record-level damage runs on both stores; file-level damage is SQLite's."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from child_env import child_env
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from postgres_server import fresh_journal_url, postgres_server  # noqa: F401
from typer.testing import CliRunner

from fillforge.cli import app
from fillforge.journal import Journal, JournalError, verify

ROOT = Path(__file__).resolve().parents[1]
N = 20


@pytest.fixture(params=["sqlite", "postgres"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "orders.journal")
    return fresh_journal_url(request.getfixturevalue("postgres_server"))


def _fill(target: str, n: int = N) -> None:
    with Journal.open(target) as j:
        for i in range(1, n + 1):
            j.append("test.rec", {"i": i, "note": f"record number {i:04d}"})


def _tamper(target: str, sql: str, *args: Any) -> None:
    """Run ``sql`` ({t} is the journal table, %s a parameter; statements split by ";") behind
    the journal's back."""
    statements = [x.strip() for x in sql.split(";") if x.strip()]
    if target.startswith("postgresql://"):
        import psycopg

        parts = urlsplit(target)
        name = parse_qs(parts.query)["journal"][0]
        with psycopg.connect(parts._replace(query="").geturl(), autocommit=True) as pg:
            for x in statements:
                pg.execute(x.format(t=f"fillforge_{name}.journal"), args)  # type: ignore[arg-type]
    else:
        with sqlite3.connect(target) as db:
            for x in statements:
                db.execute(x.format(t="journal").replace("%s", "?"), args)
        db.close()


TAMPERING = {
    # what, the SQL, the first seq dropped, a word the problem says
    "a payload changed": (
        "UPDATE {t} SET payload = %s WHERE seq = 7",
        (b'{"i":70}',),
        7,
        "checksum",
    ),
    "a record removed": ("DELETE FROM {t} WHERE seq = 7", (), 7, "missing"),
    "two records swapped": (
        "UPDATE {t} SET seq = -8 WHERE seq = 8; UPDATE {t} SET seq = 8 WHERE seq = 7; "
        "UPDATE {t} SET seq = 7 WHERE seq = -8",
        (),
        7,
        "checksum",
    ),
    "a kind changed": ("UPDATE {t} SET kind = 'test.other' WHERE seq = 12", (), 12, "checksum"),
    "a time changed": ("UPDATE {t} SET ts_ns = ts_ns + 1 WHERE seq = 3", (), 3, "checksum"),
    "the last checksum changed": (
        "UPDATE {t} SET crc = crc + 1 WHERE seq = 20",
        (),
        20,
        "checksum",
    ),
    "the first record removed": ("DELETE FROM {t} WHERE seq = 1", (), 1, "missing"),
}


@pytest.mark.parametrize("what", sorted(TAMPERING))
def test_record_damage_is_found_kept_before_and_repaired(target: str, what: str) -> None:
    sql, args, first_bad, word = TAMPERING[what]
    _fill(target)
    _tamper(target, sql, *args)

    found = verify(target)
    assert not found.ok
    assert found.kept == first_bad - 1
    assert found.dropped == (first_bad, N)
    assert word in found.reason
    assert f"seq {first_bad}" in found.reason

    with pytest.raises(JournalError, match=r"damaged: .*repair=True") as err:
        Journal.open(target)
    assert f"would drop seq {first_bad}..{N}" in str(err.value)

    with Journal.open(target, readonly=True) as r:  # a reader sees the good records only
        assert r.recovery.kept == first_bad - 1
        assert r.recovery.dropped == (first_bad, N)
        assert [x.payload["i"] for x in r.records()] == list(range(1, first_bad))

    with Journal.open(target, repair=True) as j:
        assert j.recovery.repaired
        assert j.recovery.kept == first_bad - 1
        assert j.recovery.dropped == (first_bad, N)
        assert j.next_seq == first_bad
        assert j.write_ahead("test.rec", {"i": "after"}) == first_bad
    assert verify(target).ok
    with Journal.open(target) as j:  # the chain goes on from the last good record
        assert j.recovery.ok
        got = [x.payload["i"] for x in j.records()]
        assert got == [*range(1, first_bad), "after"]


def test_a_damaged_checksum_of_an_intact_record_is_rewritten_not_dropped(target: str) -> None:
    """A stored checksum in the middle changed: the next record's checksum, chained from the
    true one, vouches for the record's content, so nothing is dropped; verify reports it, a
    repair rewrites it. (Opening, which checks the content and each batch's last checksum, lets
    it be.)"""
    _fill(target)
    _tamper(target, "UPDATE {t} SET crc = crc + 1 WHERE seq = 9")
    found = verify(target)
    assert not found.ok
    assert (found.kept, found.dropped) == (N, None)
    assert found.problems[0].startswith("seq 9: its stored checksum is damaged")
    with Journal.open(target) as j:
        assert j.recovery.ok
    with Journal.open(target, repair=True) as j:
        assert j.recovery.repaired
        assert j.recovery.kept == N
        assert j.next_seq == N + 1
    assert verify(target).ok
    with Journal.open(target, readonly=True) as j:
        assert [x.payload["i"] for x in j.records()] == list(range(1, N + 1))


def test_a_flipped_byte_in_the_file_is_found(tmp_path: Path) -> None:
    path = tmp_path / "j"
    _fill(str(path))
    data = bytearray(path.read_bytes())
    at = data.index(b"record number 0013")
    data[at + 3] ^= 0x20
    path.write_bytes(bytes(data))
    found = verify(path)
    assert (found.kept, found.dropped) == (12, (13, N))
    with pytest.raises(JournalError, match="seq 13"):
        Journal.open(path)
    with Journal.open(path, repair=True) as j:
        assert j.next_seq == 13
    with sqlite3.connect(path) as db:  # the repair is logged
        rows = db.execute("SELECT kept, dropped_first, dropped_last, reason FROM journal_repairs")
        ((kept, first, last, reason),) = rows.fetchall()
    db.close()
    assert (kept, first, last) == (12, 13, N)
    assert "checksum" in reason


_KILLED_MID_WAL = """
import os, signal, sys
from fillforge.journal import Journal
j = Journal.open(sys.argv[1])
for i in range(1, 2001):
    j.append("test.rec", {"i": i, "note": "x" * 100})
    if i % 100 == 0:
        j.sync()  # a commit every 100 records: the WAL holds twenty transactions
os.kill(os.getpid(), signal.SIGKILL)
"""


def _killed_writer(path: Path) -> bytes:
    """A journal whose writer was killed: its WAL is left as it was (not checkpointed)."""
    env = child_env()
    done = subprocess.run([sys.executable, "-c", _KILLED_MID_WAL, str(path)], env=env)
    assert done.returncode == -signal.SIGKILL
    wal = Path(f"{path}-wal")
    assert wal.stat().st_size > 0
    return wal.read_bytes()


@pytest.mark.parametrize("how", ["cut mid-frame", "garbage after the last commit"])
def test_a_torn_wal_tail_is_reported_and_left_out(tmp_path: Path, how: str) -> None:
    path = tmp_path / "j"
    wal = _killed_writer(path)
    intact = verify(path)
    assert intact.ok
    assert intact.kept == 2000
    torn = wal[:-1500] if how == "cut mid-frame" else wal + os.urandom(5000)
    Path(f"{path}-wal").write_bytes(torn)

    found = verify(path)
    assert not found.ok
    assert found.problems[-1].startswith("torn tail:")
    kept = found.kept
    assert kept <= 2000
    if how == "garbage after the last commit":
        assert kept == 2000  # nothing of the journal was in the garbage

    with Journal.open(path) as j:  # SQLite left the torn write out: the journal opens, says so
        assert j.recovery.torn.startswith("torn tail:")
        assert j.recovery.ok
        assert j.recovery.kept == kept
        assert [r.payload["i"] for r in j.records()] == list(range(1, kept + 1))
        assert j.write_ahead("test.rec", {"i": "next"}) == kept + 1
    assert verify(path).ok  # the writer checkpointed the torn bytes away


@pytest.mark.parametrize("where", ["the header", "a frame before later commits"])
def test_a_damaged_wal_losing_committed_work_is_refused_and_kept(
    tmp_path: Path, where: str
) -> None:
    """Damage in the WAL that makes SQLite leave out committed transactions (its header, or a
    frame with commits after it) is not a torn tail: opening for writing is refused (and the
    WAL left as it is, so the next open still sees it); a repair keeps the WAL aside."""
    path = tmp_path / "j"
    wal = bytearray(_killed_writer(path))
    at = 4 if where == "the header" else 32 + 24 + 100  # the magic; frame 1's page
    wal[at] ^= 0xFF
    Path(f"{path}-wal").write_bytes(bytes(wal))

    found = verify(path)
    assert not found.ok
    assert found.reason.startswith("damaged WAL:")
    assert found.dropped == (found.kept + 1, None)
    assert found.kept < 2000
    for _ in range(2):  # refused, and refused again: the refusal destroyed nothing
        with pytest.raises(JournalError, match="damaged WAL"):
            Journal.open(path)
        assert Path(f"{path}-wal").read_bytes() == bytes(wal)
    with Journal.open(path, repair=True) as j:
        assert j.recovery.repaired
        kept = j.recovery.kept
        assert j.next_seq == kept + 1
        j.write_ahead("test.rec", {"i": "after"})
    assert Path(f"{path}.damaged-1-wal").read_bytes() == bytes(wal)
    assert verify(path).ok


def _checkpointed(path: Path, n: int) -> None:
    _fill(str(path), n)  # closed: checkpointed into the main file, the WAL removed
    assert not Path(f"{path}-wal").exists()


def test_a_zeroed_page_keeps_the_records_before_it(tmp_path: Path) -> None:
    """A torn page write in the database file: the records before the damaged page are kept,
    the rest reported dropped; the repair keeps the damaged file beside the rebuilt one."""
    path = tmp_path / "j"
    _checkpointed(path, 3_000)
    data = bytearray(path.read_bytes())
    at = data.index(b"record number 1500")
    page = at // 4096 * 4096
    data[page : page + 4096] = bytes(4096)
    path.write_bytes(bytes(data))

    found = verify(path)
    assert not found.ok
    assert 1_000 < found.kept < 1_500
    assert found.dropped is not None
    assert found.dropped[0] == found.kept + 1
    assert any("SQLite" in p or "cannot read" in p for p in found.problems)
    with pytest.raises(JournalError, match="damaged"):
        Journal.open(path)
    with Journal.open(path, repair=True) as j:
        assert j.recovery.kept == found.kept
        assert j.next_seq == found.kept + 1
    assert verify(path).ok
    assert Path(f"{path}.damaged-1").read_bytes() == bytes(data)  # the evidence, as it was
    with Journal.open(path) as j:
        assert [r.payload["i"] for r in j.records()] == list(range(1, found.kept + 1))


def test_a_truncated_database_file_is_found_and_repaired(tmp_path: Path) -> None:
    path = tmp_path / "j"
    _checkpointed(path, 3_000)
    with path.open("r+b") as f:
        f.truncate(path.stat().st_size // 2)
    found = verify(path)
    assert not found.ok
    assert found.kept < 3_000
    with Journal.open(path, readonly=True) as r:  # a reader can look: nothing it cannot check
        assert r.recovery.kept == found.kept
        assert len(list(r.records())) <= found.kept
    with pytest.raises(JournalError, match="damaged"):
        Journal.open(path)
    with Journal.open(path, repair=True) as j:
        assert j.recovery.repaired
        assert j.recovery.kept == found.kept
        assert j.next_seq == found.kept + 1
    assert verify(path).ok
    assert Path(f"{path}.damaged-1").exists()


def test_cli_verify_exits_1_with_one_line_per_problem(tmp_path: Path) -> None:
    path = tmp_path / "j"
    _fill(str(path))
    runner = CliRunner()
    ok = runner.invoke(app, ["journal", "verify", str(path)])
    assert ok.exit_code == 0, ok.output
    assert "ok: 20 records" in ok.output
    _tamper(str(path), "DELETE FROM {t} WHERE seq = 5")
    bad = runner.invoke(app, ["journal", "verify", str(path)])
    assert bad.exit_code == 1
    lines = bad.output.strip().splitlines()
    assert lines[0].startswith("damaged: seq 5 missing")
    assert lines[-1] == "kept: seq 1..4; a repair would drop seq 5..20"
    assert "Traceback" not in bad.output
    js = runner.invoke(app, ["journal", "verify", str(path), "--json"])
    assert js.exit_code == 1
    assert '"kept": 4' in js.output


_PRISTINE: dict[str, bytes] = {}


def _pristine(tmp_path: Path) -> bytes:
    """A checkpointed 300-record journal's bytes (built once per test session)."""
    if "j" not in _PRISTINE:
        path = tmp_path / "pristine"
        _checkpointed(path, 300)
        _PRISTINE["j"] = path.read_bytes()
    return _PRISTINE["j"]


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(where=st.floats(0, 1, exclude_max=True), bit=st.integers(0, 7))
def test_any_flipped_bit_is_found_or_harmless(tmp_path: Path, where: float, bit: int) -> None:
    """Flip one bit anywhere in the file: either verify finds damage (and nothing but a
    JournalError is ever raised), or every record reads back exactly as written. Opening says
    "ok" only when its records are exactly the ones written; a repair leaves an intact prefix."""
    data = bytearray(_pristine(tmp_path))
    data[int(where * len(data))] ^= 1 << bit
    path = tmp_path / f"flipped-{int(where * 1e9)}-{bit}"
    path.write_bytes(bytes(data))
    expected = [{"i": i, "note": f"record number {i:04d}"} for i in range(1, 301)]
    try:
        found = verify(path)
    except JournalError:
        return  # refused as no journal at all (a header SQLite no longer reads): found
    try:
        with Journal.open(path, readonly=True) as r:
            opened_ok = r.recovery.ok
            got = [x.payload for x in r.records()]
    except JournalError:
        assert not found.ok
        return
    assert got == expected[: len(got)]  # whatever is shown is exactly what was written
    if found.ok:
        assert got == expected
    if opened_ok:
        assert got == expected
    # A repair leaves a journal verify finds intact, holding a prefix of what was written (or
    # refuses with a JournalError, when the damage is in the journal's own schema table).
    try:
        with Journal.open(path, repair=True) as j:
            kept = j.recovery.kept
            j.write_ahead("test.rec", {"i": "after"})
    except JournalError:
        return
    assert verify(path).ok
    with Journal.open(path) as j:
        after = [x.payload for x in j.records()]
    assert after == [*expected[:kept], {"i": "after"}]


# What only the fast scan at open can miss if its checks go: values of the wrong type whose
# bytes concatenate the same, and a run of missing records as long as a whole batch. With a
# batch of 3, the 40 records make many batches, checked by several threads.
FAST_SCAN_DAMAGE = {
    "a kind stored as a blob": ("UPDATE journal SET kind = CAST(kind AS BLOB) WHERE seq = 9", 9),
    "a payload stored as text": (
        "UPDATE journal SET payload = CAST(payload AS TEXT) WHERE seq = 17",
        17,
    ),
    "a batch's worth missing": ("DELETE FROM journal WHERE seq BETWEEN 10 AND 16", 10),
    "the last batch missing": ("DELETE FROM journal WHERE seq > 37", 38),
}


@pytest.mark.parametrize("what", sorted(FAST_SCAN_DAMAGE))
def test_the_fast_scan_at_open_finds_what_the_walk_finds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, what: str
) -> None:
    verify_module = sys.modules["fillforge.journal.verify"]  # the name is also its function
    target = str(tmp_path / "orders.journal")
    _fill(target, 40)
    sql, first_bad = FAST_SCAN_DAMAGE[what]  # the head says where the records should end
    with sqlite3.connect(target) as db:
        db.execute(sql)
    db.close()
    monkeypatch.setattr(verify_module, "_BATCH", 3)
    with pytest.raises(JournalError, match=rf"seq {first_bad}"):
        Journal.open(target)
    with Journal.open(target, readonly=True) as r:
        assert r.recovery.kept == first_bad - 1
        assert [x.payload["i"] for x in r.records()] == list(range(1, first_bad))


def test_check_while_reading_opens_at_once_and_appends_only_after_the_check(target: str) -> None:
    _fill(target)
    with Journal.open(target, check_while_reading=True) as j:
        assert [x.payload["i"] for x in j.records()] == list(range(1, N + 1))
        assert j.append("test.rec", {"i": "next"}) == N + 1  # waits for the check
        assert j.recovery.ok
        assert j.recovery.kept == N
    assert verify(target).ok  # the chain went on from the last record the check vouched for
    with Journal.open(target) as j:
        assert [x.payload["i"] for x in j.records()][-2:] == [N, "next"]


@pytest.mark.parametrize("what", sorted(TAMPERING))
def test_check_while_reading_refuses_appends_to_a_damaged_journal(target: str, what: str) -> None:
    sql, args, first_bad, _word = TAMPERING[what]
    _fill(target)
    _tamper(target, sql, *args)
    with Journal.open(target, check_while_reading=True) as j:
        with pytest.raises(JournalError, match=rf"damaged: .*seq {first_bad}.*repair=True"):
            j.append("test.rec", {"i": "after"})
        assert not j.recovery.ok
        assert j.recovery.kept == first_bad - 1
        assert [x.payload["i"] for x in j.records()] == list(range(1, first_bad))
        with pytest.raises(JournalError, match="damaged"):
            j.write_ahead("test.rec", {"i": "after"})
    assert verify(target).dropped == (first_bad, N)  # nothing was written


def test_a_journal_table_that_reads_otherwise_than_its_migration_made_it_is_refused(
    tmp_path: Path,
) -> None:
    """A changed schema (a flipped byte in it can turn ``seq`` from the rowid into a column
    that reads NULL everywhere, and the journal would look empty) is damage, named."""
    target = str(tmp_path / "orders.journal")
    _fill(target, 10)
    with sqlite3.connect(target) as db:
        db.executescript(
            "CREATE TABLE j2 (seq INTEGER PRIMARY KEY, ts_ns, kind, payload, crc);"
            "INSERT INTO j2 SELECT * FROM journal; DROP TABLE journal;"
            "ALTER TABLE j2 RENAME TO journal;"
        )
    db.close()
    for opening in (lambda: verify(target), lambda: Journal.open(target, readonly=True)):
        with pytest.raises(JournalError, match="schema is damaged: table journal"):
            opening()
