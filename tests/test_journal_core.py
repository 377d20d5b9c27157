"""The journal's core (issue 18): seqs 1, 2, 3... with no gaps, records round-tripping exactly
(hypothesis over JSON payloads), group commit under threads losing and duplicating nothing, the
single-writer rule across threads and processes, read-only opens, refusals that change nothing,
and numbered migrations. Every test runs on both stores: SQLite (a file) and a real PostgreSQL
server (see postgres_server.py)."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import threading
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from child_env import child_env
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from postgres_server import fresh_journal_url, postgres_server  # noqa: F401

from fillforge.journal import Journal, JournalError, Record
from fillforge.journal.codec import encode_payload
from fillforge.time import SimulatedClock

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(params=["sqlite", "postgres"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "orders.journal")
    return fresh_journal_url(request.getfixturevalue("postgres_server"))


@pytest.fixture
def journal(target: str) -> Any:
    j = Journal.open(target, clock=SimulatedClock(1_000))
    yield j
    j.close()


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=12,
)
payloads = st.dictionaries(st.text(max_size=10), json_values, max_size=6)


@settings(max_examples=80, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batch=st.lists(payloads, min_size=1, max_size=4))
def test_records_round_trip_exactly_with_seqs_in_order(journal: Journal, batch: list[Any]) -> None:
    first = journal.next_seq
    seqs = [journal.append("test.payload", p) for p in batch]
    assert seqs == list(range(first, first + len(batch)))
    assert journal.next_seq == first + len(batch)
    back = list(journal.records(since=first - 1))
    assert [r.seq for r in back] == seqs
    assert [r.payload for r in back] == batch
    assert all(r.kind == "test.payload" for r in back)


@given(p=payloads)
def test_the_encoding_is_deterministic(p: dict[str, Any]) -> None:
    """Same dict, same bytes, whatever the key order: a checksum over them means something."""
    data = encode_payload(p)
    assert encode_payload(dict(reversed(list(p.items())))) == data
    assert encode_payload(json.loads(data)) == data


def test_records_carry_the_clock_the_kind_and_filter_by_kind_and_since(target: str) -> None:
    clock = SimulatedClock(5_000)
    with Journal.open(target, clock=clock) as j:
        assert j.next_seq == 1
        assert j.recovery.kept == 0
        assert j.recovery.ok
        j.append("order.intent", {"qty": "100", "price": "12.34"})
        clock.advance(10)
        j.write_ahead("risk.state", {"halted": False})
        clock.advance(10)
        j.append("order.intent", {"qty": "5"})
        assert j.next_seq == 4
        assert list(j.records()) == [
            Record(1, 5_000, "order.intent", {"qty": "100", "price": "12.34"}),
            Record(2, 5_010, "risk.state", {"halted": False}),
            Record(3, 5_020, "order.intent", {"qty": "5"}),
        ]
        assert [r.seq for r in j.records(kinds=("order.intent",))] == [1, 3]
        assert [r.seq for r in j.records(since=1, kinds=("order.intent",))] == [3]
        assert [r.seq for r in j.records(since=3)] == []
        assert j.counts() == {"order.intent": 2, "risk.state": 1}
    with Journal.open(target) as j:  # reopened: the seqs go on
        assert j.recovery.kept == 3
        assert j.next_seq == 4
        assert j.append("order.intent", {}) == 4


@pytest.mark.parametrize(
    ("kind", "payload", "field"),
    [
        ("order.intent", {"qty": Decimal("1.5")}, "payload"),  # a Decimal must be a str
        ("order.intent", {"price": float("nan")}, "payload"),
        ("order.intent", [1, 2], "payload"),
        ("order.intent", {1j: 2}, "payload"),
        ("", {}, "kind"),
        ("order intent", {}, "kind"),
        (".order", {}, "kind"),
        ("order.{x}", {}, "kind"),
        (7, {}, "kind"),
        (["order.intent"], {}, "kind"),
        ("x" * 201, {}, "kind"),
    ],
)
def test_a_refused_record_changes_nothing(
    journal: Journal, kind: Any, payload: Any, field: str
) -> None:
    journal.write_ahead("order.intent", {"ok": True})
    with pytest.raises(JournalError) as err:
        journal.append(kind, payload)
    assert err.value.field == field
    assert journal.next_seq == 2
    assert [r.seq for r in journal.records()] == [1]


def test_a_payload_that_contains_itself_is_refused(journal: Journal) -> None:
    loop: dict[str, Any] = {"a": 1}
    loop["self"] = loop
    with pytest.raises(JournalError) as err:
        journal.append("test.loop", loop)
    assert err.value.field == "payload"
    assert journal.next_seq == 1


def test_group_commit_under_threads_loses_and_duplicates_nothing(target: str) -> None:
    threads, each = 8, 400
    with Journal.open(target) as j:
        durable_seen: list[tuple[int, int]] = []
        reader_target = target

        def work(t: int) -> None:
            for i in range(each):
                if i % 50 == 0:
                    seq = j.write_ahead("test.burst", {"t": t, "i": i})
                    durable_seen.append((seq, j.durable_seq))
                else:
                    j.append("test.burst", {"t": t, "i": i})

        ts = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
        for th in ts:
            th.start()
        for th in ts:
            th.join()
        j.sync()
        # write_ahead returned only once its record was durable
        assert all(durable >= seq for seq, durable in durable_seen)
        with Journal.open(reader_target, readonly=True) as r:  # another connection sees it all
            got = list(r.records())
    assert [x.seq for x in got] == list(range(1, threads * each + 1))
    pairs = [(x.payload["t"], x.payload["i"]) for x in got]
    assert sorted(pairs) == [(t, i) for t in range(threads) for i in range(each)]
    for t in range(threads):  # each thread's records in the order it appended them
        mine = [i for tt, i in pairs if tt == t]
        assert mine == sorted(mine)


def test_one_writer_at_a_time_readers_any_time(target: str) -> None:
    with Journal.open(target) as j:
        j.write_ahead("test.x", {"n": 1})
        with pytest.raises(JournalError, match="another writer") as err:
            Journal.open(target)
        assert err.value.field == "path"
        with Journal.open(target, readonly=True) as r:
            assert [x.payload for x in r.records()] == [{"n": 1}]
            with pytest.raises(JournalError, match="read-only"):
                r.append("test.x", {})
            assert r.next_seq == 2
        j.write_ahead("test.x", {"n": 2})  # the reader took nothing from the writer
    with Journal.open(target) as j:  # closed: the next writer may open it
        assert j.next_seq == 3


_HOLD = """
import sys, time
from fillforge.journal import Journal
j = Journal.open(sys.argv[1])
j.write_ahead("test.x", {"pid": 1})
print("open", flush=True)
time.sleep(120)
"""


def test_a_writer_in_another_process_holds_the_journal_until_it_dies(target: str) -> None:
    env = child_env()
    child = subprocess.Popen(
        [sys.executable, "-c", _HOLD, target], stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "open"
        with pytest.raises(JournalError, match="another writer"):
            Journal.open(target)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(30)
        assert child.stdout is not None
        child.stdout.close()
    # kill -9 released the lock (the flock goes with the process; PostgreSQL ends the session)
    for _ in range(100):
        try:
            j = Journal.open(target)
            break
        except JournalError:  # PostgreSQL notices the dropped connection within moments
            threading.Event().wait(0.1)
    else:
        pytest.fail("the dead writer's lock was never released")
    with j:
        assert j.next_seq == 2


def test_closed_and_abandoned_journals_refuse_writes(target: str) -> None:
    j = Journal.open(target)
    j.write_ahead("test.x", {})
    j.close()
    j.close()  # idempotent
    with pytest.raises(JournalError, match="closed"):
        j.append("test.x", {})
    j = Journal.open(target)
    for i in range(2_000):
        j.append("test.x", {"i": i})
    j.abandon()  # as kill -9: what was not yet durable may be lost
    with pytest.raises(JournalError):
        j.append("test.x", {})
    with pytest.raises(JournalError, match="abandoned"):
        j.sync()
    with Journal.open(target) as j2:  # whatever landed is a whole prefix, and the seqs go on
        got = list(j2.records())
        assert [r.seq for r in got] == list(range(1, len(got) + 1))
        assert [r.payload for r in got[1:]] == [{"i": i} for i in range(len(got) - 1)]
        assert j2.append("test.x", {}) == len(got) + 1


def _latest(target: str) -> int:
    from fillforge.journal import postgres, sqlite

    return len((postgres if target.startswith("postgresql://") else sqlite).MIGRATIONS)


def test_migrations_from_schema_1_keep_the_records(target: str) -> None:
    with Journal.open(target, schema=1) as j:
        assert j.schema_version == 1
        for i in range(5):
            j.append("test.old", {"i": i})
    with Journal.open(target, schema=2) as j:  # a journal from before snapshots
        assert j.schema_version == 2
        assert j.snapshot("test.state") is None
    with Journal.open(target) as j:  # migrated on open
        assert j.schema_version == _latest(target)
        assert j.recovery.ok
        assert j.recovery.kept == 5
        assert [r.payload for r in j.records()] == [{"i": i} for i in range(5)]
        assert j.append("test.new", {}) == 6
        assert j.save_snapshot("test.state", {"n": 6}) == 6
    with Journal.open(target) as j:  # nothing left to migrate
        assert j.schema_version == _latest(target)
        assert j.snapshot("test.state") == (6, {"n": 6})


def test_a_snapshot_is_kept_beside_the_records_the_last_one_only(target: str) -> None:
    with Journal.open(target) as j:
        with pytest.raises(JournalError, match="no record"):
            j.save_snapshot("test.state", {"n": 0})
        j.append("test.x", {"i": 1})
        assert j.save_snapshot("test.state", {"n": 1}) == 1
        assert j.snapshot("test.state") == (1, {"n": 1})
        j.append("test.x", {"i": 2})
        assert j.save_snapshot("test.state", {"n": 2}) == 2
        assert j.save_snapshot("test.other", {"m": 2}) == 2
        with pytest.raises(JournalError, match="kind"):
            j.save_snapshot("2bad", {})
        with pytest.raises(JournalError, match="payload"):
            j.save_snapshot("test.state", {"x": object()})
        assert j.counts() == {"test.x": 2}  # no record for a snapshot
    with Journal.open(target) as j:
        assert j.snapshot("test.state") == (2, {"n": 2})  # the last one
        assert j.snapshot("test.other") == (2, {"m": 2})
        assert j.snapshot("test.none") is None
    with Journal.open(target, readonly=True) as r:
        assert r.snapshot("test.state") == (2, {"n": 2})


def test_a_schema_newer_than_this_code_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "j"
    Journal.open(path).close()
    with sqlite3.connect(path) as db:
        db.execute("INSERT INTO journal_schema VALUES (99, 'from the future', 0)")
    with pytest.raises(JournalError, match="newer"):
        Journal.open(path)


def test_another_applications_database_is_not_taken_over(tmp_path: Path) -> None:
    path = tmp_path / "app.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)")
    db.close()
    with pytest.raises(JournalError, match="not a fillforge journal"):
        Journal.open(path)
    with sqlite3.connect(path) as db:
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master")}
    db.close()
    assert tables == {"users"}


@pytest.mark.parametrize("what", ["text", "directory", "missing", "empty"])
def test_a_path_that_is_no_journal_gets_one_clear_error(tmp_path: Path, what: str) -> None:
    path = tmp_path / "thing"
    if what == "text":
        path.write_text("hello, not a database\n" * 100)
    elif what == "directory":
        path.mkdir()
    target = "" if what == "empty" else str(path)
    with pytest.raises(JournalError) as err:
        Journal.open(target, readonly=True)
    assert err.value.field == "path"
    if what != "missing":
        with pytest.raises(JournalError):
            Journal.open(target)
    if what == "text":
        assert path.read_text().startswith("hello")  # left as it was


def test_a_bad_postgres_url_gets_one_clear_error() -> None:
    with pytest.raises(JournalError, match="cannot connect") as err:
        Journal.open("postgresql://nobody:secret@127.0.0.1:1/nothing")
    assert "secret" not in str(err.value)  # the password is never printed
    with pytest.raises(JournalError) as err2:
        Journal.open("postgresql://127.0.0.1:1/x?journal=Bad-Name")
    assert err2.value.field == "journal"
